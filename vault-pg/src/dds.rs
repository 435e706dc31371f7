//! The order model's Data Vault writer: [`crate::model::write`] on `vault_core::orders::DvRows` —
//! every table of a batch in one statement each (`unnest` over one array per column,
//! `ON CONFLICT DO NOTHING`; satellites keep one row per value and effective time), inside the
//! caller's transaction.

use postgres::Transaction;
use vault_core::orders::DvRows;

use crate::error::PgError;

/// Writes a batch of deduplicated rows (from [`vault_core::orders::DvBatch`]); hubs first, then links and
/// satellites, so foreign keys hold. Returns the number of rows newly inserted.
pub fn write(tx: &mut Transaction<'_>, rows: &DvRows<'_>) -> Result<u64, PgError> {
    crate::model::write(tx, rows)
}

#[cfg(test)]
mod tests {
    use vault_core::{RowSet, TableDef, TableKind};

    use crate::model::insert_sql;

    /// Comment lines dropped, whitespace collapsed.
    fn normalized(sql: &str) -> String {
        sql.lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .flat_map(str::split_whitespace)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The statements the generic loader makes for the order model are the hand-written ones
    /// it replaced (kept in `tests/fixtures/dds_insert/`), table by table.
    #[test]
    fn the_order_models_statements_are_the_hand_written_ones() {
        let model = DvRows::MODEL;
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dds_insert");
        // The original services' 14 tables (the effectivity satellites came later).
        let tables: Vec<&TableDef> = model
            .tables
            .iter()
            .filter(|t| t.kind != TableKind::Effectivity)
            .collect();
        assert_eq!(tables.len(), 14);
        for table in tables {
            let path = dir.join(format!("{}.sql", table.name));
            let written = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                normalized(&insert_sql(&model, table)),
                normalized(&written),
                "{}",
                table.name
            );
        }
    }

    /// Migration 0006 is the generated history upgrade of the order model, after its header:
    /// the order warehouse's satellites, views and as-of functions are what the toolkit makes
    /// for any model.
    #[test]
    fn the_history_migration_is_the_generated_one() {
        let generated = crate::model::history_upgrade(&DvRows::MODEL).expect("valid model");
        let migration = include_str!("../migrations/0006_satellite_history.sql");
        let body = migration
            .split_once(MIGRATION_HEADER_END)
            .map_or(migration, |(_, body)| body);
        assert_eq!(
            body, generated,
            "regenerate the migration's body:\n{generated}"
        );
    }

    /// Migration 0009 holds the generated DDL of the order model's effectivity satellites, its
    /// point-in-time and bridge tables, and their views and functions.
    #[test]
    fn the_patterns_migration_is_the_generated_ddl() {
        let model = DvRows::MODEL;
        let migration = include_str!("../migrations/0009_dv_patterns.sql");
        let mut generated: Vec<String> = model
            .tables
            .iter()
            .filter(|t| t.kind == TableKind::Effectivity)
            .map(|t| crate::model::table_ddl(&model, t))
            .collect();
        generated.extend(model.pits.iter().map(|p| crate::model::pit_ddl(&model, p)));
        generated.extend(
            model
                .bridges
                .iter()
                .map(|b| crate::model::bridge_ddl(&model, b)),
        );
        generated.push(crate::model::pattern_views_sql(&model));
        for piece in generated {
            assert!(
                migration.contains(&piece),
                "regenerate migration 0009; missing:\n{piece}"
            );
        }
    }

    const MIGRATION_HEADER_END: &str = "-- (generated: vault_pg::model::history_upgrade)\n";

    use vault_core::orders::DvRows;
}
