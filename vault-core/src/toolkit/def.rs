//! What a declared model says about its tables: kinds, columns, SQL types, references, effective times.
//! Plain `const` data (`&'static` slices), so that a model's description costs nothing at run
//! time and an adapter (vault-pg's DDL and loader) can read it without knowing the row types.

/// The kind of a Data Vault table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableKind {
    /// A business entity: its key and business-key columns.
    Hub,
    /// A relation between hubs: its key and one reference per hub.
    Link,
    /// Descriptive attributes of one hub or link, insert-only. A historized satellite (one with
    /// an [`TableDef::effective`] column) keeps one row per distinct value and effective time:
    /// its periods. An insert-once satellite keeps one row per key.
    Satellite,
    /// When a link holds, by its driving key (an effectivity satellite): one row per
    /// observation of the link at an effective time, active or ended. For one driving key at a
    /// time, the newest observation says which link is in force; a link observed later for the
    /// same driving key ends the period of the one before (a product moving to another
    /// category). Columns: the link's key (also this table's key), the driving hub's key,
    /// `is_active`, the effective time.
    Effectivity,
    /// A satellite holding a set of rows per parent at a time (a customer's phone numbers,
    /// by kind): one row per member, distinguished by its dependent-key columns
    /// ([`TableDef::business_key`]); the set in force is every row at the parent's newest
    /// effective time. The source sends the whole set at each change.
    MultiActive,
    /// Reference data keyed by its natural code (a country, a currency, a status list), not by a
    /// hub: the code, its attributes, and, like a satellite, either an effective time (one row
    /// per value and time: its periods by code) or insert-once (one row per code). Its uuid key
    /// is the row's identity: the hashdiff of its attributes under the code, or the code's key.
    Reference,
}

/// The SQL type a column is stored as (what a database adapter maps it to; vault-pg's names in
/// brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SqlType {
    /// A key, a reference or any other UUID (`uuid`).
    Uuid,
    /// Text (`varchar`).
    Text,
    /// A boolean (`boolean`).
    Boolean,
    /// A 16-bit integer (`smallint`).
    SmallInt,
    /// A 32-bit integer (`integer`).
    Integer,
    /// A 64-bit integer (`bigint`).
    BigInt,
    /// A 64-bit float (`double precision`).
    Double,
    /// An exact decimal (`numeric`), carried as its text.
    Numeric,
    /// A calendar date (`date`).
    Date,
    /// A timestamp without zone (`timestamp`).
    Timestamp,
    /// An instant, a timestamp with zone (`timestamptz`).
    TimestampTz,
    /// A JSON document (`jsonb`), carried as its text.
    Json,
    /// A type the database names itself — `citext`, an enum type or a domain of your own
    /// (`library.shelf_code`) — its values carried as text
    /// ([`Column::Text`](super::Column::Text)) and cast to it by the loader. A name only, no
    /// modifier ([`ModelDef::validate`] refuses `varchar(8)`, `char` and `bit`: an explicit
    /// cast to them truncates silently); a length or a range is a domain's check, which a cast
    /// enforces. The type must exist before the model's tables are made (created by you,
    /// before `vault_pg::model::create`). With [`ModelDef::ghost_records`], the ghost row holds
    /// the text `(unknown)` cast to it: an enum needs that label, a domain must accept it.
    Named(&'static str),
}

/// One column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDef {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub sql_type: SqlType,
    /// Whether it may be NULL (its Rust type is an `Option`).
    pub nullable: bool,
    /// The table it references (links: each hub; satellites: the parent), if any.
    pub references: Option<&'static str>,
}

/// One table of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    /// Its name (unqualified; the schema is the model's).
    pub name: &'static str,
    /// Hub, link or satellite.
    pub kind: TableKind,
    /// Every column the rows fill, the primary key first (the loader adds `load_dt` and
    /// `load_src`).
    pub columns: &'static [ColumnDef],
    /// Hubs: the columns the key is derived from (the business key), in order; the hub's other
    /// columns are stored with it but not part of its key. Reference tables: the code.
    /// Multi-active satellites: the dependent key (what tells a set's members apart). Empty for
    /// the other kinds.
    pub business_key: &'static [&'static str],
    /// Satellites: the column holding the effective time of a value, from the source (never
    /// the load clock). A row is one observation of its parent's value at that time, and the
    /// table's identity is `(key, effective)`: the same value at another time is another row,
    /// so A → B → A keeps three periods, and a replay adds nothing. `None`: an insert-once
    /// satellite (its values never change; one row per key). See [`crate::toolkit`].
    pub effective: Option<&'static str>,
}

impl TableDef {
    /// The primary key's column name.
    pub const fn key(&self) -> &'static str {
        self.columns[0].name
    }

    /// Satellites: the reference to the parent hub or link (the first referencing column);
    /// effectivity satellites: the link.
    pub fn parent(&self) -> Option<&'static ColumnDef> {
        match self.kind {
            TableKind::Satellite | TableKind::Effectivity | TableKind::MultiActive => {
                self.columns.iter().find(|c| c.references.is_some())
            }
            _ => None,
        }
    }

    /// Effectivity satellites: the driving key, the hub whose link is tracked (the second
    /// referencing column).
    pub fn driving(&self) -> Option<&'static ColumnDef> {
        match self.kind {
            TableKind::Effectivity => self
                .columns
                .iter()
                .filter(|c| c.references.is_some())
                .nth(1),
            _ => None,
        }
    }

    /// Satellites, multi-active satellites (their dependent key first) and reference tables:
    /// the attribute columns (neither key, nor parent or code, nor effective time), in order:
    /// what a hashdiff is formed from.
    pub fn attributes(&self) -> impl Iterator<Item = &'static ColumnDef> + '_ {
        let parent = self.parent().map(|c| c.name);
        let effective = self.effective;
        let columns: &'static [ColumnDef] = self.columns;
        columns.iter().skip(1).filter(move |c| {
            let code = self.kind == TableKind::Reference && self.business_key.contains(&c.name);
            matches!(
                self.kind,
                TableKind::Satellite | TableKind::Reference | TableKind::MultiActive
            ) && Some(c.name) != parent
                && Some(c.name) != effective
                && !code
        })
    }

    /// Whether this is a satellite that keeps history (it has an effective-time column).
    pub fn is_historized(&self) -> bool {
        self.kind == TableKind::Satellite && self.effective.is_some()
    }

    /// Reference tables: the code column.
    pub fn code(&self) -> Option<&'static ColumnDef> {
        match self.kind {
            TableKind::Reference => {
                let columns: &'static [ColumnDef] = self.columns;
                columns
                    .iter()
                    .find(|c| self.business_key.first() == Some(&c.name))
            }
            _ => None,
        }
    }
}

/// A point-in-time table: for one hub, at each as-of time the adapter is asked to snapshot,
/// which row of each of its satellites was in force (its key and effective time; the ghost
/// record's when the hub had none yet). Derived from the satellites, so it can be rebuilt at
/// any time; BI joins it with equality conditions instead of as-of subqueries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PitDef {
    /// Its name (unqualified; the schema is the model's).
    pub name: &'static str,
    /// The hub it snapshots.
    pub hub: &'static str,
    /// The hub's satellites it covers, in order.
    pub satellites: &'static [&'static str],
}

/// A bridge table: from a hub along a path of links, at each as-of time the adapter is asked
/// to snapshot, every path of links in force then (a link that has an effectivity satellite
/// counts while it is active; one that has none, once it is loaded). Derived, like a
/// [`PitDef`]: BI walks the relationships with equality joins on one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeDef {
    /// Its name (unqualified; the schema is the model's).
    pub name: &'static str,
    /// The hub it starts from.
    pub hub: &'static str,
    /// The links it walks, each to the next hub.
    pub path: &'static [BridgeStep],
}

/// One step of a bridge: a link from the hub before it, and the hub it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeStep {
    /// The link.
    pub link: &'static str,
    /// The hub it reaches.
    pub hub: &'static str,
}

/// A declared model: its tables, hubs first, then links, then satellites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelDef {
    /// The model's name.
    pub name: &'static str,
    /// The database schema its tables live in.
    pub schema: &'static str,
    /// The `load_src` of every row loaded.
    pub load_src: &'static str,
    /// Whether every table holds a ghost record: one row with the nil key (and nil
    /// references, `-infinity` times, each other column's zero or NULL, `load_src` `SYSTEM`),
    /// made with the tables, so that what refers to "no row" (a point-in-time table's entry for
    /// a satellite that had nothing yet) joins with an equality instead of an outer join. The
    /// ghost is no business row: the adapter's views, as-of functions and snapshot refreshes
    /// leave it out.
    pub ghost_records: bool,
    /// Its tables.
    pub tables: &'static [TableDef],
    /// Its point-in-time tables.
    pub pits: &'static [PitDef],
    /// Its bridge tables.
    pub bridges: &'static [BridgeDef],
}

/// A declaration that does not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// Two tables share a name.
    #[error("model {model}: table {table} is declared twice")]
    DuplicateTable {
        /// The model.
        model: &'static str,
        /// The table.
        table: &'static str,
    },
    /// A column references a table the model does not declare before it.
    #[error("model {model}: {table}.{column} references {target}, which is not a hub or link declared before it")]
    UnknownReference {
        /// The model.
        model: &'static str,
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// What it references.
        target: &'static str,
    },
    /// A schema, table or column name that is not a plain SQL name (`[a-z_][a-z0-9_]*`, at most
    /// 63 bytes): adapters use the names unquoted.
    #[error("model {model}: {name:?} is not a plain lower-case SQL name")]
    Name {
        /// The model.
        model: &'static str,
        /// The name.
        name: &'static str,
    },
    /// A link without two hubs, or a satellite without a parent or without attributes.
    #[error("model {model}: {table}: {why}")]
    Shape {
        /// The model.
        model: &'static str,
        /// The table.
        table: &'static str,
        /// What is wrong.
        why: &'static str,
    },
}

impl TableDef {
    /// Effectivity satellites: whether the driving key is one of the tracked link's hubs.
    fn driving_is_in_link(&self, model: &ModelDef) -> bool {
        let (Some(link), Some(driving)) = (self.parent(), self.driving()) else {
            return false;
        };
        let link = link.references.and_then(|name| model.table(name));
        link.is_some_and(|l| {
            l.columns
                .iter()
                .any(|c| c.references.is_some() && c.references == driving.references)
        })
    }
}

/// Whether `name` is a type's name for [`SqlType::Named`]: `[schema.]name` of letters, digits
/// and `_`, or one of PostgreSQL's built-in names of several words (`double precision`,
/// `timestamp with time zone`, …); not `char`, `character` or `bit`, to which an explicit cast
/// truncates (one character, one bit).
fn named_type(name: &str) -> bool {
    const WORDS: [&str; 10] = [
        "double",
        "precision",
        "character",
        "varying",
        "bit",
        "timestamp",
        "time",
        "with",
        "without",
        "zone",
    ];
    let lower = name.to_ascii_lowercase();
    if matches!(lower.as_str(), "char" | "character" | "bit" | "bpchar") {
        return false;
    }
    if name.contains(' ') {
        return lower.split(' ').all(|word| WORDS.contains(&word));
    }
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() <= 2
        && parts.iter().all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

impl ModelDef {
    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&'static TableDef> {
        let tables: &'static [TableDef] = self.tables;
        tables.iter().find(|t| t.name == name)
    }

    /// Checks the declaration: unique table names; every reference to a hub (links) or to a
    /// hub or link (satellites) declared before it; links join at least two hubs; satellites
    /// have a parent and at least one attribute, and their effective-time column is a
    /// timestamp.
    pub fn validate(&self) -> Result<(), ModelError> {
        let model = self.name;
        let plain = |name: &'static str| {
            let ok = !name.is_empty()
                && name.len() <= 63
                && !name.as_bytes()[0].is_ascii_digit()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if ok {
                Ok(())
            } else {
                Err(ModelError::Name { model, name })
            }
        };
        plain(self.schema)?;
        for (i, table) in self.tables.iter().enumerate() {
            plain(table.name)?;
            for column in table.columns {
                plain(column.name)?;
                if let SqlType::Named(name) = column.sql_type {
                    // Spliced into DDL and casts: a type name, nothing else. No modifier: an
                    // explicit cast to `varchar(8)` truncates silently (a domain checks), and
                    // so does one to `char` or `bit` (one character or bit).
                    if !(name.len() <= 127 && named_type(name)) {
                        return Err(ModelError::Shape {
                            model,
                            table: table.name,
                            why: "a named SQL type is a type's name ([schema.]name, or a built-in name of several words), without modifiers, and not char or bit: a length or a range is a domain's check",
                        });
                    }
                }
            }
            if self.tables[..i].iter().any(|t| t.name == table.name) {
                return Err(ModelError::DuplicateTable {
                    model,
                    table: table.name,
                });
            }
            let shape = |why| ModelError::Shape {
                model,
                table: table.name,
                why,
            };
            if table.columns.first().map(|c| c.sql_type) != Some(SqlType::Uuid) {
                return Err(shape("the first column must be its uuid key"));
            }
            for column in table.columns {
                let Some(target) = column.references else {
                    continue;
                };
                let first = std::ptr::eq(column, &table.columns[0]);
                let allowed = |t: &TableDef| match table.kind {
                    TableKind::Link => t.kind == TableKind::Hub,
                    TableKind::Effectivity if first => t.kind == TableKind::Link,
                    TableKind::Effectivity => t.kind == TableKind::Hub,
                    _ => matches!(t.kind, TableKind::Hub | TableKind::Link),
                };
                if !self.tables[..i]
                    .iter()
                    .any(|t| t.name == target && allowed(t))
                {
                    return Err(ModelError::UnknownReference {
                        model,
                        table: table.name,
                        column: column.name,
                        target,
                    });
                }
            }
            if let Some(effective) = table.effective {
                let ok = table.columns.iter().any(|c| {
                    c.name == effective && c.sql_type == SqlType::Timestamp && !c.nullable
                });
                let historized = matches!(
                    table.kind,
                    TableKind::Satellite
                        | TableKind::Effectivity
                        | TableKind::Reference
                        | TableKind::MultiActive
                );
                if !historized || !ok {
                    return Err(shape(
                        "the effective-time column is a timestamp (not an Option) of a satellite",
                    ));
                }
            }
            let references = table
                .columns
                .iter()
                .filter(|c| c.references.is_some())
                .count();
            match table.kind {
                TableKind::Hub | TableKind::Reference if references > 0 => {
                    return Err(shape("a hub or reference table references no other table"))
                }
                TableKind::Reference
                    if table.code().is_none() || table.attributes().next().is_none() =>
                {
                    return Err(shape("a reference table has a code and at least one attribute"))
                }
                TableKind::Link if references < 2 => {
                    return Err(shape("a link joins at least two hubs"))
                }
                TableKind::Satellite | TableKind::MultiActive if references != 1 => {
                    return Err(shape("a satellite has exactly one parent"))
                }
                TableKind::MultiActive
                    if table.effective.is_none() || table.business_key.is_empty() =>
                {
                    return Err(shape(
                        "a multi-active satellite has a dependent key and an effective time",
                    ))
                }
                TableKind::Satellite if table.attributes().next().is_none() => {
                    return Err(shape("a satellite has at least one attribute"))
                }
                TableKind::Effectivity
                    if references != 2 || table.effective.is_none() || !table.driving_is_in_link(self) =>
                {
                    return Err(shape(
                        "an effectivity satellite tracks one link by one of the link's hubs, at an effective time",
                    ))
                }
                _ => {}
            }
        }
        for bridge in self.bridges {
            plain(bridge.name)?;
            let shape = |why| ModelError::Shape {
                model,
                table: bridge.name,
                why,
            };
            let taken = self.tables.iter().any(|t| t.name == bridge.name)
                || self.pits.iter().any(|p| p.name == bridge.name)
                || self
                    .bridges
                    .iter()
                    .filter(|b| b.name == bridge.name)
                    .count()
                    > 1;
            if taken {
                return Err(ModelError::DuplicateTable {
                    model,
                    table: bridge.name,
                });
            }
            let is = |name: &str, kind| self.table(name).is_some_and(|t| t.kind == kind);
            if !is(bridge.hub, TableKind::Hub) || bridge.path.is_empty() {
                return Err(shape(
                    "a bridge starts from a declared hub and walks at least one link",
                ));
            }
            let mut hubs = vec![bridge.hub];
            for step in bridge.path {
                let from = hubs.last().copied().unwrap_or(bridge.hub);
                let joins = self.table(step.link).is_some_and(|l| {
                    l.kind == TableKind::Link
                        && l.columns.iter().any(|c| c.references == Some(from))
                        && l.columns.iter().any(|c| c.references == Some(step.hub))
                });
                if !joins || !is(step.hub, TableKind::Hub) || hubs.contains(&step.hub) {
                    return Err(shape(
                        "each link of a bridge joins the hub before it to a hub not yet on the path",
                    ));
                }
                hubs.push(step.hub);
            }
        }
        for pit in self.pits {
            plain(pit.name)?;
            let shape = |why| ModelError::Shape {
                model,
                table: pit.name,
                why,
            };
            if self.tables.iter().any(|t| t.name == pit.name)
                || self.pits.iter().filter(|p| p.name == pit.name).count() > 1
            {
                return Err(ModelError::DuplicateTable {
                    model,
                    table: pit.name,
                });
            }
            let hub = self.table(pit.hub).filter(|t| t.kind == TableKind::Hub);
            let Some(hub) = hub else {
                return Err(shape("a point-in-time table snapshots a declared hub"));
            };
            if pit.satellites.is_empty() {
                return Err(shape("a point-in-time table covers at least one satellite"));
            }
            for name in pit.satellites {
                let of_hub = self.table(name).is_some_and(|s| {
                    s.kind == TableKind::Satellite
                        && s.parent().and_then(|c| c.references) == Some(hub.name)
                });
                if !of_hub {
                    return Err(shape("a point-in-time table covers satellites of its hub"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod named_type_tests {
    use super::named_type;

    #[test]
    fn a_named_type_is_a_name_and_not_one_a_cast_truncates_to() {
        for name in [
            "citext",
            "library.shelf_code",
            "double precision",
            "character varying",
            "timestamp with time zone",
        ] {
            assert!(named_type(name), "{name}");
        }
        for name in [
            "",
            "varchar(8)",
            "char",
            "CHARACTER",
            "bit",
            "bpchar",
            "text unique",
            "text references x",
            "a.b.c",
            ".x",
            "x.",
            "text; drop table x",
            "\"char\"",
        ] {
            assert!(!named_type(name), "{name}");
        }
    }
}
