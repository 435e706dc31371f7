//! Any declared Data Vault model (`vault_core::data_vault!`) on PostgreSQL: its DDL, and the
//! loader of its batches. The order model of this project goes through the same code
//! ([`crate::dds`]).
//!
//! * [`ddl`] — the schema, one table per hub, link and satellite (uuid key, the declared
//!   columns `NOT NULL`, a foreign key per reference with its index, `load_dt`, `load_src`), and
//!   for every satellite a `<satellite>_current` view; a historized satellite (one that declares
//!   its effective time) is keyed by `(key, effective time)` and also gets the as-of function
//!   `<satellite>_at(timestamp)` and the view `<satellite>_periods`. A migration to apply as it
//!   is, or to put into the user's own migrations; [`history_upgrade`] brings tables made by an
//!   earlier release (one row per satellite key) to that shape;
//! * [`write()`] — one batch of rows inside the caller's transaction: every table in one statement
//!   (`INSERT … SELECT FROM unnest($1::uuid[], …)`), rows sorted by key so that concurrent
//!   writers take locks in one order, hubs before links before satellites so that foreign keys
//!   hold, insert-only (`ON CONFLICT DO NOTHING`).
//!
//! History: a satellite row is one observation of its parent's value at the
//! effective time the source gives it. Every distinct `(hashdiff, effective time)` is kept, so
//! a value that comes back (A → B → A) is a period of its own, a value that arrives late lands
//! where it belongs in time, and a replay adds nothing. Keeping the observations that repeat
//! the value in force is what makes this exact whatever the arrival order: a late B between
//! two A's splits A's period at the second A, which only the second A's row can tell. The
//! views read the periods out of the observations: `_current` is the newest by effective
//! time, `_at(T)` the newest at or before T, `_periods` folds repeats into runs.
//!
//! The statements are made from the templates in `sql/model/`; identifiers come from the
//! declaration, which [`vault_core::ModelDef::validate`] checks to be plain lower-case names.

use std::collections::HashSet;

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use postgres::types::ToSql;
use postgres::{GenericClient, Transaction};
use uuid::Uuid;
use vault_core::{
    BridgeDef, Column, ColumnDef, DvRow, ModelDef, PitDef, RowSet, RowVisitor, SqlType, Table,
    TableDef, TableKind, Timestamp,
};

use crate::error::{Context, PgError};

/// The DDL of `model` (validated first): schema, tables with keys, foreign keys and indexes,
/// and the views (and as-of functions) of every satellite ([`views`]). Idempotent
/// (`IF NOT EXISTS`, `OR REPLACE`).
pub fn ddl(model: &ModelDef) -> Result<String, PgError> {
    model.validate()?;
    let mut sql = fill(
        include_str!("../sql/model/schema.sql"),
        &[("model", model.name), ("schema", model.schema)],
    );
    for table in model.tables {
        sql.push_str(&table_ddl(model, table));
    }
    for pit in model.pits {
        sql.push_str(&pit_ddl(model, pit));
    }
    for bridge in model.bridges {
        sql.push_str(&bridge_ddl(model, bridge));
    }
    if model.ghost_records {
        for table in model.tables {
            sql.push_str(&ghost_record_sql(model, table));
        }
    }
    sql.push_str(&views_sql(model));
    Ok(sql)
}

/// The key of every ghost record (the nil uuid), as an SQL literal.
const GHOST_KEY: &str = "'00000000-0000-0000-0000-000000000000'";

/// What the reads of `model` (views, as-of functions, refreshes) add to leave its ghost records
/// out, the rows whose `column` is the nil key: `(where_real, and_real)`, a `WHERE` or an
/// `AND` condition. The ghost exists so that a point-in-time table can point at "no row yet"
/// with an equality; it is no row of the business, and no read shows it. Empty when the model
/// has no ghost records (its SQL is then what it was before they existed).
fn real_rows(model: &ModelDef, column: &str) -> (String, String) {
    if !model.ghost_records {
        return (String::new(), String::new());
    }
    (
        format!("\nWHERE {column} <> {GHOST_KEY}"),
        format!(" AND {column} <> {GHOST_KEY}"),
    )
}

/// The insert of one table's ghost record ([`ModelDef::ghost_records`]).
fn ghost_record_sql(model: &ModelDef, table: &TableDef) -> String {
    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    let values: Vec<&str> = table
        .columns
        .iter()
        .map(|c| match c.sql_type {
            _ if c.references.is_some() => GHOST_KEY,
            _ if c.nullable => "NULL",
            SqlType::Uuid => GHOST_KEY,
            SqlType::Boolean => "false",
            SqlType::SmallInt | SqlType::Integer | SqlType::BigInt | SqlType::Double => "0",
            SqlType::Numeric => "0",
            SqlType::Date | SqlType::Timestamp | SqlType::TimestampTz => "'-infinity'",
            SqlType::Json => "'null'",
            // Text, and a named type's text form (an enum needs an `(unknown)` label).
            _ => "'(unknown)'",
        })
        .collect();
    fill(
        include_str!("../sql/model/ghost_record.sql"),
        &[
            ("schema", model.schema),
            ("table", table.name),
            ("columns", &names.join(", ")),
            ("values", &values.join(", ")),
        ],
    )
}

/// The views of every satellite of `model`: `<satellite>_current`, per parent the newest row by
/// effective time whatever the arrival order (ties: the later load, then the greater key), or
/// for an insert-once satellite the latest loaded row; and for a historized satellite the
/// function `<satellite>_at(timestamp)` (the value in force at a time) and the view
/// `<satellite>_periods` (`valid_from`, `valid_to` per run of an unchanged value).
pub fn views(model: &ModelDef) -> Result<String, PgError> {
    model.validate()?;
    Ok(views_sql(model))
}

/// Brings the satellites of `model` made by an earlier release (keyed by their hashdiff alone,
/// with no effective-time column) to the shape [`ddl`] makes: the effective-time column
/// (existing rows take `-infinity`: no source time is known of them; they keep their load order
/// among themselves, and what the source sends later supersedes them — their `load_dt` would
/// outrank it), the primary key `(key, effective time)`, the index on
/// `(parent, effective time)` in place of the parent's, and the views. Idempotent; a no-op on
/// tables [`ddl`] made.
pub fn history_upgrade(model: &ModelDef) -> Result<String, PgError> {
    model.validate()?;
    let mut sql = String::new();
    for table in model.tables.iter().filter(|t| t.is_historized()) {
        let (Some(parent), Some(effective)) = (table.parent(), table.effective) else {
            continue;
        };
        sql.push_str(&fill(
            include_str!("../sql/model/upgrade_history.sql"),
            &[
                ("schema", model.schema),
                ("table", table.name),
                ("key", table.key()),
                ("parent", parent.name),
                ("effective", effective),
            ],
        ));
        sql.push_str(&index_sql(model, table, &[parent.name, effective]));
    }
    sql.push_str(&satellite_views_sql(model));
    Ok(sql)
}

/// [`views`] of a validated model.
fn views_sql(model: &ModelDef) -> String {
    let mut sql = satellite_views_sql(model);
    sql.push_str(&pattern_views_sql(model));
    sql
}

/// The views and functions of the effectivity satellites and point-in-time tables of a
/// validated model.
pub(crate) fn pattern_views_sql(model: &ModelDef) -> String {
    let mut sql = String::new();
    for table in model
        .tables
        .iter()
        .filter(|t| t.kind == TableKind::Effectivity)
    {
        let (Some(driving), Some(effective)) = (table.driving(), table.effective) else {
            continue;
        };
        let key = table.key();
        let ascending =
            |alias: &str| format!("{alias}.{effective}, {alias}.load_dt, {alias}.{key}");
        let values = [
            ("schema", model.schema),
            ("table", table.name),
            ("driving", driving.name),
            ("key", key),
            ("effective", effective),
            (
                "order",
                &format!("s.{effective} DESC, s.load_dt DESC, s.{key} DESC") as &str,
            ),
            ("ascending", &ascending("o")),
            ("s_ascending", &ascending("s")),
        ];
        for template in [
            include_str!("../sql/model/effectivity_current_view.sql"),
            include_str!("../sql/model/effectivity_as_of_function.sql"),
            include_str!("../sql/model/effectivity_periods_view.sql"),
        ] {
            sql.push_str(&fill(template, &values));
        }
    }
    for table in model
        .tables
        .iter()
        .filter(|t| t.kind == TableKind::MultiActive)
    {
        let (Some(parent), Some(effective)) = (table.parent(), table.effective) else {
            continue;
        };
        let (_, and_real) = real_rows(model, &format!("s.{}", parent.name));
        let values = [
            ("schema", model.schema),
            ("table", table.name),
            ("parent", parent.name),
            ("key", table.key()),
            ("effective", effective),
            ("and_real", &and_real),
        ];
        for template in [
            include_str!("../sql/model/multi_active_current_view.sql"),
            include_str!("../sql/model/multi_active_as_of_function.sql"),
            include_str!("../sql/model/multi_active_periods_view.sql"),
        ] {
            sql.push_str(&fill(template, &values));
        }
    }
    for pit in model.pits {
        sql.push_str(&pit_refresh_sql(model, pit));
    }
    for bridge in model.bridges {
        sql.push_str(&bridge_refresh_sql(model, bridge));
    }
    sql
}

/// One step of a bridge, resolved: the link's key, its column referencing the hub before it,
/// its column referencing the next hub, that hub's key, and the effectivity satellite that
/// tracks the link (if any).
struct Step {
    link: &'static TableDef,
    from: &'static str,
    to: &'static str,
    hub_key: &'static str,
    effectivity: Option<&'static TableDef>,
}

/// The steps of a bridge of a validated model.
fn bridge_steps(model: &ModelDef, bridge: &BridgeDef) -> Vec<Step> {
    let mut from_hub = bridge.hub;
    let mut steps = Vec::new();
    for step in bridge.path {
        let Some(link) = model.table(step.link) else {
            continue;
        };
        let column = |hub: &str| {
            link.columns
                .iter()
                .find(|c| c.references == Some(hub))
                .map_or("?", |c| c.name)
        };
        let tables: &'static [TableDef] = model.tables;
        steps.push(Step {
            link,
            from: column(from_hub),
            to: column(step.hub),
            hub_key: model.table(step.hub).map_or("?", TableDef::key),
            effectivity: tables.iter().find(|t| {
                t.kind == TableKind::Effectivity
                    && t.parent().and_then(|c| c.references) == Some(link.name)
            }),
        });
        from_hub = step.hub;
    }
    steps
}

/// A bridge's path as its comments show it: `l_a_b → h_b → l_b_c → h_c`.
fn bridge_path(bridge: &BridgeDef) -> String {
    let steps: Vec<String> = bridge
        .path
        .iter()
        .map(|s| format!("{} → {}", s.link, s.hub))
        .collect();
    steps.join(" → ")
}

/// The table of one bridge (of a validated model).
pub(crate) fn bridge_ddl(model: &ModelDef, bridge: &BridgeDef) -> String {
    let hub_key = model.table(bridge.hub).map_or("?", TableDef::key);
    let steps = bridge_steps(model, bridge);
    let columns: Vec<String> = steps
        .iter()
        .map(|s| {
            format!(
                "    {} uuid NOT NULL,\n    {} uuid NOT NULL,",
                s.link.key(),
                s.hub_key
            )
        })
        .collect();
    let link_keys: Vec<&str> = steps.iter().map(|s| s.link.key()).collect();
    fill(
        include_str!("../sql/model/bridge_table.sql"),
        &[
            ("schema", model.schema),
            ("table", bridge.name),
            ("hub", bridge.hub),
            ("hub_key", hub_key),
            ("path", &bridge_path(bridge)),
            ("columns", &columns.join("\n")),
            ("link_keys", &link_keys.join(", ")),
        ],
    )
}

/// The refresh function of one bridge (of a validated model).
pub(crate) fn bridge_refresh_sql(model: &ModelDef, bridge: &BridgeDef) -> String {
    let hub_key = model.table(bridge.hub).map_or("?", TableDef::key);
    let steps = bridge_steps(model, bridge);
    let (mut names, mut values, mut joins) = (vec![], vec![], vec![]);
    let mut previous = format!("h.{hub_key}");
    for (i, step) in steps.iter().enumerate() {
        let key = step.link.key();
        names.push(format!("{key}, {}", step.hub_key));
        values.push(format!("l{i}.{key}, l{i}.{}", step.to));
        joins.push(format!(
            "JOIN {}.{} AS l{i} ON l{i}.{} = {previous}",
            model.schema, step.link.name, step.from
        ));
        if let Some(es) = step.effectivity {
            joins.push(format!(
                "JOIN {}.{}_at($1) AS e{i} ON e{i}.{} = l{i}.{key}",
                model.schema,
                es.name,
                es.key()
            ));
        }
        previous = format!("l{i}.{}", step.to);
    }
    let (where_real, _) = real_rows(model, &format!("h.{hub_key}"));
    fill(
        include_str!("../sql/model/bridge_refresh_function.sql"),
        &[
            ("schema", model.schema),
            ("table", bridge.name),
            ("hub", bridge.hub),
            ("hub_key", hub_key),
            ("path", &bridge_path(bridge)),
            ("names", &names.join(", ")),
            ("values", &values.join(", ")),
            ("joins", &joins.join("\n")),
            ("where_real", &where_real),
        ],
    )
}

/// The views (and as-of functions) of the satellites of a validated model.
fn satellite_views_sql(model: &ModelDef) -> String {
    let mut sql = String::new();
    // A historized reference table has the views of a satellite whose parent is its code.
    let reference = |t: &TableDef| t.kind == TableKind::Reference && t.effective.is_some();
    for table in model
        .tables
        .iter()
        .filter(|t| t.kind == TableKind::Satellite || reference(t))
    {
        let Some(parent) = table.parent().or_else(|| table.code()) else {
            continue;
        };
        let key = table.key();
        // A satellite's ghost hangs off the ghost hub; a reference table's ghost has a code of
        // its own ("(unknown)") and the nil key.
        let ghost_column = table.parent().map_or(key, |p| p.name);
        let (where_real, and_real) = real_rows(model, &format!("s.{ghost_column}"));
        let Some(effective) = table.effective else {
            sql.push_str(&fill(
                include_str!("../sql/model/current_view.sql"),
                &[
                    ("schema", model.schema),
                    ("table", table.name),
                    ("parent", parent.name),
                    ("where_real", &where_real),
                    (
                        "rule",
                        "the latest loaded row (an insert-once satellite: its values do not change)",
                    ),
                    ("order", &format!("s.load_dt DESC, s.{key} DESC")),
                ],
            ));
            continue;
        };
        let newest = format!("s.{effective} DESC, s.load_dt DESC, s.{key} DESC");
        let ascending =
            |alias: &str| format!("{alias}.{effective}, {alias}.load_dt, {alias}.{key}");
        let attributes: Vec<String> = table
            .attributes()
            .map(|c| format!("o.{}", c.name))
            .collect();
        let values = [
            ("schema", model.schema),
            ("table", table.name),
            ("parent", parent.name),
            ("key", key),
            ("effective", effective),
            (
                "rule",
                &format!("the newest period by {effective}, whatever the arrival order") as &str,
            ),
            ("order", &newest),
            ("ascending", &ascending("o")),
            ("s_ascending", &ascending("s")),
            ("attributes", &attributes.join(", ")),
            ("where_real", &where_real),
            ("inner_where_real", &where_real.replace('\n', "\n    ")),
            ("and_real", &and_real),
        ];
        sql.push_str(&fill(
            include_str!("../sql/model/current_view.sql"),
            &values,
        ));
        sql.push_str(&fill(
            include_str!("../sql/model/as_of_function.sql"),
            &values,
        ));
        sql.push_str(&fill(
            include_str!("../sql/model/periods_view.sql"),
            &values,
        ));
    }
    sql
}

/// Runs [`ddl`] on `client` (in one transaction when `client` is one).
pub fn create(client: &mut impl GenericClient, model: &ModelDef) -> Result<(), PgError> {
    let sql = ddl(model)?;
    client
        .batch_execute(&sql)
        .context(format!("create the tables of model {}", model.name))
}

pub(crate) fn table_ddl(model: &ModelDef, table: &TableDef) -> String {
    let mut columns = Vec::with_capacity(table.columns.len());
    for column in table.columns {
        let line = match column.references {
            Some(target) => {
                let target_key = model.table(target).map_or("?", TableDef::key);
                format!(
                    "    {} uuid NOT NULL REFERENCES {}.{target} ({target_key}),",
                    column.name, model.schema
                )
            }
            None => format!(
                "    {} {}{},",
                column.name,
                column_type(column.sql_type),
                if column.nullable { "" } else { " NOT NULL" }
            ),
        };
        columns.push(line);
    }
    let key = table.key();
    let (kind, identity) = match (table.kind, table.effective) {
        (TableKind::Hub, _) => (
            "hub",
            format!("keyed by {key}"),
        ),
        (TableKind::Link, _) => (
            "link",
            format!("keyed by {key}"),
        ),
        (TableKind::Satellite, Some(effective)) => (
            "satellite",
            format!(
                "one row per value ({}) and effective time ({effective})",
                key
            ),
        ),
        (TableKind::Satellite, None) => (
            "satellite",
            format!("insert-once, keyed by {}", key),
        ),
        (TableKind::Reference, Some(effective)) => (
            "reference table",
            format!(
                "by its code, one row per value ({}) and effective time ({effective})",
                key
            ),
        ),
        (TableKind::Reference, None) => (
            "reference table",
            format!("insert-once, one row per code (keyed by {})", key),
        ),
        (TableKind::MultiActive, Some(effective)) => (
            "multi-active satellite",
            format!(
                "one row per member of a set ({}: the hashdiff of its dependent key and attributes) and effective time ({effective})",
                key
            ),
        ),
        (TableKind::Effectivity, Some(effective)) => (
            "effectivity satellite",
            format!(
                "one row per observation of a link ({}) at an effective time ({effective}), active or ended",
                key
            ),
        ),
        // TableKind is non-exhaustive; validate() refuses the shapes not handled here.
        _ => (
            "table",
            format!("keyed by {key}"),
        ),
    };
    let primary_key = primary_key(table);
    let mut sql = fill(
        include_str!("../sql/model/table.sql"),
        &[
            ("kind", kind),
            ("identity", &identity),
            ("schema", model.schema),
            ("table", table.name),
            ("primary_key", &primary_key),
            ("columns", &columns.join("\n")),
        ],
    );
    if let Some(code) = table.code() {
        // Lookups by code (and a historized table's periods of a code in time order).
        match table.effective {
            Some(effective) => sql.push_str(&index_sql(model, table, &[code.name, effective])),
            None => sql.push_str(&index_sql(model, table, &[code.name])),
        }
    }
    for column in table.columns.iter().filter(|c| c.references.is_some()) {
        if table.kind == TableKind::Effectivity && column.name == table.key() {
            continue; // the primary key (key, effective time) serves the link's foreign key
        }
        // A historized satellite reads its parent's periods in time order (an effectivity
        // satellite its driving key's): one index serves that and the foreign key.
        match table.effective {
            Some(effective) => sql.push_str(&index_sql(model, table, &[column.name, effective])),
            None => sql.push_str(&index_sql(model, table, &[column.name])),
        }
    }
    sql
}

/// The columns a point-in-time table keeps of one satellite: its key, and its effective time
/// (the load time of an insert-once satellite).
fn pit_columns(satellite: &TableDef) -> (String, String) {
    let time = satellite.effective.unwrap_or("load_dt");
    (
        satellite.key().to_owned(),
        format!("{}_{time}", satellite.name),
    )
}

/// The table of one point-in-time table (of a validated model).
pub(crate) fn pit_ddl(model: &ModelDef, pit: &PitDef) -> String {
    let hub_key = model.table(pit.hub).map_or("?", TableDef::key);
    let mut columns = Vec::new();
    for satellite in pit.satellites.iter().filter_map(|name| model.table(name)) {
        let (key, time) = pit_columns(satellite);
        columns.push(format!(
            "    {key} uuid NOT NULL,\n    {time} timestamp NOT NULL,"
        ));
    }
    fill(
        include_str!("../sql/model/pit_table.sql"),
        &[
            ("schema", model.schema),
            ("table", pit.name),
            ("hub", pit.hub),
            ("hub_key", hub_key),
            ("satellites", &pit.satellites.join(", ")),
            ("columns", &columns.join("\n")),
        ],
    )
}

/// The refresh function of one point-in-time table (of a validated model).
fn pit_refresh_sql(model: &ModelDef, pit: &PitDef) -> String {
    let hub_key = model.table(pit.hub).map_or("?", TableDef::key);
    let (mut names, mut values, mut laterals, mut any) = (vec![], vec![], vec![], vec![]);
    for (i, satellite) in pit
        .satellites
        .iter()
        .filter_map(|name| model.table(name))
        .enumerate()
    {
        let Some(parent) = satellite.parent() else {
            continue;
        };
        let alias = format!("s{i}");
        let (key, time) = pit_columns(satellite);
        names.push(format!("{key}, {time}"));
        values.push(format!(
            "COALESCE({alias}.key, {GHOST_KEY}), COALESCE({alias}.effective, '-infinity')"
        ));
        any.push(format!("{alias}.key IS NOT NULL"));
        let effective = satellite.effective.unwrap_or("load_dt");
        let skey = satellite.key();
        laterals.push(fill(
            include_str!("../sql/model/pit_lateral.sql"),
            &[
                ("schema", model.schema),
                ("satellite", satellite.name),
                ("key", skey),
                ("effective", effective),
                ("parent", parent.name),
                ("hub_key", hub_key),
                (
                    "order",
                    &format!("s.{effective} DESC, s.load_dt DESC, s.{skey} DESC"),
                ),
                ("alias", &alias),
            ],
        ));
    }
    // The ghost hub is no business key: its row would point at the ghosts of every satellite.
    let any = match real_rows(model, &format!("h.{hub_key}")) {
        (_, and_real) if !and_real.is_empty() => format!("({}){and_real}", any.join(" OR ")),
        _ => any.join(" OR "),
    };
    fill(
        include_str!("../sql/model/pit_refresh_function.sql"),
        &[
            ("schema", model.schema),
            ("table", pit.name),
            ("hub", pit.hub),
            ("hub_key", hub_key),
            ("names", &names.join(", ")),
            ("values", &values.join(",\n       ")),
            ("laterals", laterals.join("").trim_end()),
            ("any", &any),
        ],
    )
}

/// What a snapshot table derives: a point-in-time table's hub rows, or a bridge's paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    /// A point-in-time table ([`PitDef`]).
    Pit,
    /// A bridge table ([`BridgeDef`]).
    Bridge,
}

/// A table of a model rebuilt per snapshot time by its `<table>_refresh(as_of)` function: a
/// point-in-time or a bridge table ([`snapshot_tables`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotTable {
    /// Its name (unqualified; the schema is the model's).
    pub name: &'static str,
    /// What it derives.
    pub kind: SnapshotKind,
}

/// The point-in-time tables of `model`, then its bridges, in their declared order.
pub fn snapshot_tables(model: &ModelDef) -> Vec<SnapshotTable> {
    let pits = model.pits.iter().map(|p| SnapshotTable {
        name: p.name,
        kind: SnapshotKind::Pit,
    });
    let bridges = model.bridges.iter().map(|b| SnapshotTable {
        name: b.name,
        kind: SnapshotKind::Bridge,
    });
    pits.chain(bridges).collect()
}

/// What [`refresh_snapshot`] did to one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refreshed {
    /// Rows of the snapshot at the time asked for.
    pub rows: u64,
    /// Rows of older snapshots deleted (`keep_from`).
    pub pruned: u64,
}

/// Rebuilds the snapshot of `table` at `as_of` inside the caller's transaction (its function
/// `<table>_refresh`: the rows already there for that time are replaced, so running it again is
/// harmless), after locking the table against a concurrent refresh; then, with `keep_from`,
/// deletes the snapshots older than that time.
pub fn refresh_snapshot(
    tx: &mut Transaction<'_>,
    model: &ModelDef,
    table: &SnapshotTable,
    as_of: NaiveDateTime,
    keep_from: Option<NaiveDateTime>,
) -> Result<Refreshed, PgError> {
    let values = [("schema", model.schema), ("table", table.name)];
    let what = |doing: &str| format!("{doing} {}.{}", model.schema, table.name);
    tx.batch_execute(&fill(
        include_str!("../sql/model/snapshot_lock.sql"),
        &values,
    ))
    .context(what("lock"))?;
    let row = tx
        .query_one(
            fill(include_str!("../sql/model/snapshot_refresh.sql"), &values).as_str(),
            &[&as_of],
        )
        .context(what("refresh"))?;
    let rows: i64 = row.try_get(0).context(what("read the rows written by"))?;
    let pruned = match keep_from {
        Some(before) => tx
            .execute(
                fill(include_str!("../sql/model/snapshot_prune.sql"), &values).as_str(),
                &[&before],
            )
            .context(what("prune the old snapshots of"))?,
        None => 0,
    };
    Ok(Refreshed {
        rows: u64::try_from(rows).unwrap_or(0),
        pruned,
    })
}

/// A table's primary key: its key, and the effective time of a table that keeps history by it
/// (every insert relies on it: `ON CONFLICT DO NOTHING`).
fn primary_key(table: &TableDef) -> String {
    match table.effective {
        Some(effective) => format!("{}, {effective}", table.key()),
        None => table.key().to_owned(),
    }
}

/// `CREATE INDEX IF NOT EXISTS <table>_<columns>_idx` on `columns`.
fn index_sql(model: &ModelDef, table: &TableDef, columns: &[&str]) -> String {
    fill(
        include_str!("../sql/model/index.sql"),
        &[
            ("name", &format!("{}_{}_idx", table.name, columns.join("_"))),
            ("schema", model.schema),
            ("table", table.name),
            ("columns", &columns.join(", ")),
        ],
    )
}

fn column_type(sql_type: SqlType) -> &'static str {
    match sql_type {
        SqlType::Uuid => "uuid",
        SqlType::Text => "varchar",
        SqlType::Boolean => "boolean",
        SqlType::SmallInt => "smallint",
        SqlType::Integer => "integer",
        SqlType::BigInt => "bigint",
        SqlType::Double => "double precision",
        SqlType::Numeric => "numeric",
        SqlType::Date => "date",
        SqlType::Timestamp => "timestamp",
        SqlType::TimestampTz => "timestamptz",
        SqlType::Json => "jsonb",
        SqlType::Named(name) => name,
        // SqlType is non-exhaustive: a kind this adapter does not know is stored as text.
        _ => "varchar",
    }
}

/// The array type a column's values are bound as (numerics and JSON travel as their exact
/// text and are cast in SQL).
fn array_type(sql_type: SqlType) -> &'static str {
    match sql_type {
        SqlType::Uuid => "uuid[]",
        SqlType::Boolean => "boolean[]",
        SqlType::SmallInt => "smallint[]",
        SqlType::Integer => "integer[]",
        SqlType::BigInt => "bigint[]",
        SqlType::Double => "double precision[]",
        SqlType::Date => "date[]",
        SqlType::Timestamp => "timestamp[]",
        SqlType::TimestampTz => "timestamptz[]",
        _ => "text[]",
    }
}

/// The insert statement of one table of `model`: one array parameter per column, then
/// `load_src`.
pub fn insert_sql(model: &ModelDef, table: &TableDef) -> String {
    insert_statement(model, table, false)
}

/// [`insert_sql`] with one record source per row: the last parameter is a `text[]` of them, in
/// the rows' order.
pub fn insert_sourced_sql(model: &ModelDef, table: &TableDef) -> String {
    insert_statement(model, table, true)
}

fn insert_statement(model: &ModelDef, table: &TableDef, per_row_source: bool) -> String {
    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    let values: Vec<String> = table
        .columns
        .iter()
        .map(|c| match c.sql_type {
            SqlType::Numeric => format!("t.{}::numeric", c.name),
            SqlType::Json => format!("t.{}::jsonb", c.name),
            SqlType::Named(name) => format!("t.{}::{name}", c.name),
            _ => format!("t.{}", c.name),
        })
        .collect();
    let mut arrays: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::{}", i + 1, array_type(c.sql_type)))
        .collect();
    let mut aliases = names.clone();
    let source_param = format!("${}", table.columns.len() + 1);
    let (load_src, source_rule) = if per_row_source {
        arrays.push(format!("{source_param}::text[]"));
        aliases.push("load_src");
        ("t.load_src".to_owned(), "each row's own")
    } else {
        (source_param, "one for the batch")
    };
    let primary_key = primary_key(table);
    fill(
        include_str!("../sql/model/insert.sql"),
        &[
            ("schema", model.schema),
            ("table", table.name),
            ("columns", &names.join(", ")),
            ("aliases", &aliases.join(", ")),
            ("values", &values.join(", ")),
            ("arrays", &arrays.join(", ")),
            ("load_src", &load_src),
            ("source_rule", source_rule),
            ("primary_key", &primary_key),
        ],
    )
}

/// Writes one batch of de-duplicated rows of any model, inside the caller's transaction: hubs,
/// then links, then satellites, one statement per table. Returns the number of rows newly
/// inserted.
pub fn write<S: RowSet>(tx: &mut Transaction<'_>, rows: &S) -> Result<u64, PgError> {
    write_inner(tx, rows, None)
}

/// [`write()`], leaving out the rows whose identity (key, and a satellite's effective time)
/// `known` holds (they are in the warehouse already). The identities written are remembered in
/// `known` as pending: the caller says [`KnownKeys::committed`] once the transaction has
/// committed, or [`KnownKeys::clear`] when it did not (or when anything went wrong).
pub fn write_skipping_known<S: RowSet>(
    tx: &mut Transaction<'_>,
    rows: &S,
    known: &mut KnownKeys,
) -> Result<u64, PgError> {
    known.pending.clear();
    // Identities name a table by its index in the model: a cache handed another model's rows
    // starts over rather than mistake them for this one's.
    let model = (S::MODEL.schema, S::MODEL.name);
    if known.model != Some(model) {
        known.clear();
        known.model = Some(model);
    }
    let result = write_inner(tx, rows, Some(known));
    if result.is_err() {
        known.clear();
    }
    result
}

fn write_inner<S: RowSet>(
    tx: &mut Transaction<'_>,
    rows: &S,
    known: Option<&mut KnownKeys>,
) -> Result<u64, PgError> {
    let mut writer = TableWriter {
        model: S::MODEL,
        tx,
        written: 0,
        error: None,
        known,
    };
    rows.visit(&mut writer);
    match writer.error {
        Some(err) => Err(err),
        None => Ok(writer.written),
    }
}

/// A bounded in-process set of the row identities known to be in the warehouse (every table
/// is insert-only and an identity fixes the row: a row that is there needs no statement). One
/// cache serves one model (handed another's rows, it starts over). Two generations of at most `capacity` keys each: when the newer is
/// full it becomes the older and the oldest is dropped; a key found in the older is moved to
/// the newer, so what keeps coming back (users, products, categories) stays.
#[derive(Debug, Default)]
pub struct KnownKeys {
    capacity: usize,
    newer: HashSet<Identity>,
    older: HashSet<Identity>,
    pending: Vec<Identity>,
    skipped: u64,
    /// The model (schema, name) whose identities it holds.
    model: Option<(&'static str, &'static str)>,
}

impl KnownKeys {
    /// An empty set holding up to `2 × capacity` keys (0: nothing is ever skipped).
    pub fn new(capacity: usize) -> Self {
        KnownKeys {
            capacity,
            newer: generation(capacity),
            ..KnownKeys::default()
        }
    }

    fn contains(&mut self, identity: Identity) -> bool {
        if self.newer.contains(&identity) {
            return true;
        }
        if self.older.remove(&identity) {
            self.insert(identity);
            return true;
        }
        false
    }

    fn insert(&mut self, entry: Identity) {
        if self.capacity == 0 {
            return;
        }
        if self.newer.len() >= self.capacity {
            // The oldest generation goes first; the new one is made at its full size at once
            // (a set grown by doubling holds its old and new tables together at each step).
            drop(std::mem::take(&mut self.older));
            self.older = std::mem::replace(&mut self.newer, generation(self.capacity));
        }
        self.newer.insert(entry);
    }

    /// The transaction of the last write committed: its keys are known from now on.
    pub fn committed(&mut self) {
        for entry in std::mem::take(&mut self.pending) {
            self.insert(entry);
        }
    }

    /// Forgets every key (the warehouse may have changed behind this process: a failed write,
    /// a restore).
    pub fn clear(&mut self) {
        self.newer.clear();
        self.older.clear();
        self.pending.clear();
    }

    /// Keys per generation at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Rows left out so far because their key was known.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.newer.len() + self.older.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An empty generation with room for `capacity` identities, when the memory is there (else it
/// grows as it fills: a `DDS_KNOWN_KEYS` too large for the machine is not a crash at start).
fn generation(capacity: usize) -> HashSet<Identity> {
    let mut set = HashSet::new();
    let _ = set.try_reserve(capacity);
    set
}

/// A row's identity in [`KnownKeys`]: its table (its index in the model's tables), key and
/// effective time ([`DvRow::identity`]). 32 bytes, where the table's name made it 48: the cache is most of
/// dds-service's memory after its batch (measured in the performance notes).
type Identity = (u16, Uuid, Option<Timestamp>);

/// `{name}` → value, in a template.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

struct TableWriter<'t, 'c, 'k> {
    model: ModelDef,
    tx: &'t mut Transaction<'c>,
    written: u64,
    error: Option<PgError>,
    known: Option<&'k mut KnownKeys>,
}

impl RowVisitor for TableWriter<'_, '_, '_> {
    fn table<R: DvRow>(&mut self, rows: &[R]) {
        self.write_rows(rows.iter().map(|row| (row, None)).collect());
    }

    fn table_of<R: DvRow>(&mut self, table: &Table<R>) {
        if !table.has_record_sources() {
            return self.table(table);
        }
        let rows = table
            .iter()
            .enumerate()
            .map(|(i, row)| (row, table.record_source(i)))
            .collect();
        self.write_rows(rows);
    }
}

impl TableWriter<'_, '_, '_> {
    /// Inserts rows (each with its own record source, if any) not known to be there.
    fn write_rows<R: DvRow>(&mut self, mut rows: Vec<(&R, Option<&str>)>) {
        if self.error.is_some() || rows.is_empty() {
            return;
        }
        // The table's index in the model names it in the cache (a table the model does not
        // list, or past u16::MAX of them, is simply not cached).
        let table = self
            .model
            .tables
            .iter()
            .position(|t| t.name == R::TABLE)
            .and_then(|i| u16::try_from(i).ok());
        if let (Some(known), Some(table)) = (self.known.as_deref_mut(), table) {
            let identity = |row: &R| {
                let (key, effective) = row.identity();
                (table, key, effective)
            };
            let before = rows.len();
            rows.retain(|(row, _)| !known.contains(identity(row)));
            known.skipped += (before - rows.len()) as u64;
            known
                .pending
                .extend(rows.iter().map(|(row, _)| identity(row)));
            if rows.is_empty() {
                return;
            }
        }
        match insert_table(&self.model, self.tx, rows) {
            Ok(n) => self.written += n,
            Err(err) => self.error = Some(err),
        }
    }
}

fn insert_table<R: DvRow>(
    model: &ModelDef,
    tx: &mut Transaction<'_>,
    mut rows: Vec<(&R, Option<&str>)>,
) -> Result<u64, PgError> {
    // Rows sorted by identity: concurrent writers then take index locks in one order (no
    // deadlocks between replicas inserting the same hubs).
    rows.sort_unstable_by_key(|(row, _)| row.identity());
    let per_row = rows.iter().any(|(_, source)| source.is_some());
    let sources: Vec<&str> = if per_row {
        rows.iter()
            .map(|(_, source)| source.unwrap_or(model.load_src))
            .collect()
    } else {
        Vec::new()
    };
    let arrays = ColumnArrays::of(rows.into_iter().map(|(row, _)| row).collect())?;
    let mut params: Vec<&(dyn ToSql + Sync)> = arrays.0.iter().map(ColumnArray::param).collect();
    let load_src = model.load_src;
    let sql = if per_row {
        params.push(&sources);
        insert_sourced_sql(model, &R::DEF)
    } else {
        params.push(&load_src);
        insert_sql(model, &R::DEF)
    };
    tx.execute(sql.as_str(), &params)
        .context(format!("insert into {}.{}", model.schema, R::TABLE))
}

/// The rows of one table as one array per column, ready to bind.
struct ColumnArrays<'a>(Vec<ColumnArray<'a>>);

/// One column's values, of the array type of its declared [`SqlType`] (`None`: NULL).
enum ColumnArray<'a> {
    Uuid(Vec<Option<Uuid>>),
    Text(Vec<Option<Cow<'a, str>>>),
    Boolean(Vec<Option<bool>>),
    SmallInt(Vec<Option<i16>>),
    Integer(Vec<Option<i32>>),
    BigInt(Vec<Option<i64>>),
    Double(Vec<Option<f64>>),
    Date(Vec<Option<NaiveDate>>),
    Timestamp(Vec<Option<NaiveDateTime>>),
    TimestampTz(Vec<Option<DateTime<Utc>>>),
}

impl<'a> ColumnArrays<'a> {
    /// The columns of `sorted`, in its order. A value of another kind than its column's
    /// declared type, or a NULL in a column that is not nullable, is an error.
    fn of<R: DvRow>(sorted: Vec<&'a R>) -> Result<Self, PgError> {
        let count = sorted.len();
        let columns: &'static [ColumnDef] = R::DEF.columns;
        let mut arrays: Vec<ColumnArray<'a>> = columns
            .iter()
            .map(|c| ColumnArray::new(c.sql_type, count))
            .collect();
        let mut wrong: Option<PgError> = None;
        for row in sorted {
            let mut i = 0;
            row.visit_columns(&mut |value| {
                let (Some(column), Some(array)) = (columns.get(i), arrays.get_mut(i)) else {
                    return;
                };
                i += 1;
                if wrong.is_some() {
                    return;
                }
                let found = match (&value, column.nullable) {
                    (Column::Null, false) => Some("NULL".to_owned()),
                    _ => array.push(value).err(),
                };
                if let Some(found) = found {
                    wrong = Some(PgError::Value {
                        table: R::TABLE,
                        column: column.name,
                        declared: column.sql_type,
                        found,
                    });
                }
            });
        }
        match wrong {
            Some(err) => Err(err),
            None => Ok(ColumnArrays(arrays)),
        }
    }
}

impl<'a> ColumnArray<'a> {
    fn new(sql_type: SqlType, capacity: usize) -> Self {
        match sql_type {
            SqlType::Uuid => ColumnArray::Uuid(Vec::with_capacity(capacity)),
            SqlType::Boolean => ColumnArray::Boolean(Vec::with_capacity(capacity)),
            SqlType::SmallInt => ColumnArray::SmallInt(Vec::with_capacity(capacity)),
            SqlType::Integer => ColumnArray::Integer(Vec::with_capacity(capacity)),
            SqlType::BigInt => ColumnArray::BigInt(Vec::with_capacity(capacity)),
            SqlType::Double => ColumnArray::Double(Vec::with_capacity(capacity)),
            SqlType::Date => ColumnArray::Date(Vec::with_capacity(capacity)),
            SqlType::Timestamp => ColumnArray::Timestamp(Vec::with_capacity(capacity)),
            SqlType::TimestampTz => ColumnArray::TimestampTz(Vec::with_capacity(capacity)),
            // Text, exact decimals and JSON travel as text (cast in SQL).
            _ => ColumnArray::Text(Vec::with_capacity(capacity)),
        }
    }

    /// Adds a value; a value of another kind is refused with its description.
    fn push(&mut self, value: Column<'a>) -> Result<(), String> {
        match (self, value) {
            (ColumnArray::Uuid(v), Column::Uuid(x)) => v.push(Some(x)),
            (ColumnArray::Uuid(v), Column::Null) => v.push(None),
            (ColumnArray::Text(v), Column::Text(x) | Column::Numeric(x) | Column::Json(x)) => {
                v.push(Some(x))
            }
            (ColumnArray::Text(v), Column::Null) => v.push(None),
            (ColumnArray::Boolean(v), Column::Boolean(x)) => v.push(Some(x)),
            (ColumnArray::Boolean(v), Column::Null) => v.push(None),
            (ColumnArray::SmallInt(v), Column::SmallInt(x)) => v.push(Some(x)),
            (ColumnArray::SmallInt(v), Column::Null) => v.push(None),
            (ColumnArray::Integer(v), Column::Integer(x)) => v.push(Some(x)),
            (ColumnArray::Integer(v), Column::Null) => v.push(None),
            (ColumnArray::BigInt(v), Column::BigInt(x)) => v.push(Some(x)),
            (ColumnArray::BigInt(v), Column::Null) => v.push(None),
            (ColumnArray::Double(v), Column::Double(x)) => v.push(Some(x)),
            (ColumnArray::Double(v), Column::Null) => v.push(None),
            (ColumnArray::Date(v), Column::Date(x)) => v.push(Some(x)),
            (ColumnArray::Date(v), Column::Null) => v.push(None),
            (ColumnArray::Timestamp(v), Column::Timestamp(x)) => v.push(Some(x.naive())),
            (ColumnArray::Timestamp(v), Column::Null) => v.push(None),
            (ColumnArray::TimestampTz(v), Column::TimestampTz(x)) => v.push(Some(x)),
            (ColumnArray::TimestampTz(v), Column::Null) => v.push(None),
            (_, other) => {
                return Err(other
                    .sql_type()
                    .map_or_else(|| "NULL".to_owned(), |t| format!("{t:?}")))
            }
        }
        Ok(())
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            ColumnArray::Uuid(v) => v,
            ColumnArray::Text(v) => v,
            ColumnArray::Boolean(v) => v,
            ColumnArray::SmallInt(v) => v,
            ColumnArray::Integer(v) => v,
            ColumnArray::BigInt(v) => v,
            ColumnArray::Double(v) => v,
            ColumnArray::Date(v) => v,
            ColumnArray::Timestamp(v) => v,
            ColumnArray::TimestampTz(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_known_identity_takes_32_bytes() {
        assert_eq!(size_of::<super::Identity>(), 32);
    }
}
