//! Versioned migrations: `migrations/NNNN_name.sql`, applied in order in one transaction,
//! recorded in `vault.schema_migrations` with a checksum, under an advisory lock so that replicas
//! starting together are safe (one applies, the others wait and find nothing left to do).

use postgres::Client;
use sha1::{Digest, Sha1};

use crate::error::{Context, PgError};

/// One migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Order of application.
    pub version: i32,
    /// Short name (the file name's rest).
    pub name: &'static str,
    /// The SQL.
    pub sql: &'static str,
}

/// Every migration of this build, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "cdm_recompute_views",
        sql: include_str!("../migrations/0002_cdm_recompute_views.sql"),
    },
    Migration {
        version: 3,
        name: "columns_for_existing_warehouses",
        sql: include_str!("../migrations/0003_columns_for_existing_warehouses.sql"),
    },
    Migration {
        version: 4,
        name: "widen_order_ids",
        sql: include_str!("../migrations/0004_widen_order_ids.sql"),
    },
    Migration {
        version: 5,
        name: "satellite_current_views",
        sql: include_str!("../migrations/0005_satellite_current_views.sql"),
    },
    Migration {
        version: 6,
        name: "satellite_history",
        sql: include_str!("../migrations/0006_satellite_history.sql"),
    },
    Migration {
        version: 7,
        name: "dead_letter_outbox",
        sql: include_str!("../migrations/0007_dead_letter_outbox.sql"),
    },
    Migration {
        version: 8,
        name: "bi_views",
        sql: include_str!("../migrations/0008_bi_views.sql"),
    },
    Migration {
        version: 9,
        name: "dv_patterns",
        sql: include_str!("../migrations/0009_dv_patterns.sql"),
    },
    Migration {
        version: 10,
        name: "restaurant_category_days",
        sql: include_str!("../migrations/0010_restaurant_category_days.sql"),
    },
    Migration {
        version: 11,
        name: "bi_snapshots",
        sql: include_str!("../migrations/0011_bi_snapshots.sql"),
    },
];

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MigrationReport {
    /// Versions applied by this run.
    pub applied: Vec<i32>,
    /// Versions found already applied.
    pub already_applied: Vec<i32>,
    /// Whether the role `vault_bi` exists (and was granted read access to schema `bi`); a
    /// migration user that may not create roles leaves it to an administrator.
    pub bi_role: bool,
    /// Whether this run changed the daily datamart's time zone (`CDM_DAY_TIME_ZONE`) and so
    /// rebuilt `cdm.restaurant_category_days` from the ledger in it.
    pub day_time_zone_changed: bool,
    /// Whether this run adopted a warehouse of the original services (their tables brought to
    /// vault's shape first, the CDM ledger and counters rebuilt from the Data Vault after).
    pub adopted_original: bool,
}

impl Migration {
    /// SHA-1 of the SQL text, hex.
    pub fn checksum(&self) -> String {
        Sha1::digest(self.sql.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Applies every pending migration of [`MIGRATIONS`], then records `day_time_zone`
/// (`CDM_DAY_TIME_ZONE`) as the daily datamart's time zone, re-bucketing the mart when it
/// changes.
pub fn migrate(client: &mut Client, day_time_zone: &str) -> Result<MigrationReport, PgError> {
    let mut tx = client.transaction().context("begin migration")?;
    tx.execute(include_str!("../sql/migrate/lock.sql"), &[])
        .context("take the migration lock")?;
    // A warehouse of the original services (docs/contract.md §8) is brought to the shape the
    // migrations build on before the first one runs; the applied migrations stay as they are.
    let found = tx
        .query_one(include_str!("../sql/migrate/pre_vault.sql"), &[])
        .context("look for a warehouse of the original services")?;
    let pre_vault: bool = found.try_get(0).context("read pre_vault")?;
    let has_dds: bool = found.try_get(1).context("read has_dds")?;
    if pre_vault {
        tx.batch_execute(include_str!("../sql/migrate/adopt_original.sql"))
            .context("adopt the warehouse of the original services")?;
    }
    tx.batch_execute(include_str!("../sql/migrate/bootstrap.sql"))
        .context("create vault.schema_migrations")?;
    let applied = tx
        .query(include_str!("../sql/migrate/applied.sql"), &[])
        .context("read vault.schema_migrations")?;

    let mut report = MigrationReport::default();
    for row in &applied {
        let version: i32 = row.try_get(0).context("read vault.schema_migrations")?;
        let checksum: String = row.try_get(2).context("read vault.schema_migrations")?;
        let known = MIGRATIONS
            .iter()
            .find(|m| m.version == version)
            .ok_or(PgError::UnknownMigration(version))?;
        if known.checksum() != checksum {
            return Err(PgError::MigrationChanged {
                version,
                name: known.name.to_owned(),
                applied: checksum,
                current: known.checksum(),
            });
        }
        report.already_applied.push(version);
    }
    for migration in MIGRATIONS {
        if report.already_applied.contains(&migration.version) {
            continue;
        }
        tx.batch_execute(migration.sql).context(format!(
            "apply migration {} ({})",
            migration.version, migration.name
        ))?;
        tx.execute(
            include_str!("../sql/migrate/record.sql"),
            &[&migration.version, &migration.name, &migration.checksum()],
        )
        .context("record the migration")?;
        report.applied.push(migration.version);
    }
    if pre_vault && has_dds {
        tx.batch_execute(include_str!("../sql/migrate/rebuild_cdm.sql"))
            .context("rebuild the CDM ledger and counters from the Data Vault")?;
    }
    report.adopted_original = pre_vault;
    report.day_time_zone_changed = set_day_time_zone(&mut tx, day_time_zone)?;
    tx.batch_execute(include_str!("../sql/migrate/bi_access.sql"))
        .context("grant the role vault_bi read access to schema bi")?;
    report.bi_role = tx
        .query_one(include_str!("../sql/migrate/bi_role.sql"), &[])
        .and_then(|row| row.try_get(0))
        .context("look for the role vault_bi")?;
    tx.commit().context("commit migrations")?;
    Ok(report)
}

/// Records the daily datamart's time zone; when it differs from the recorded one, rebuilds the
/// mart from the ledger, with the CDM appliers held off (they write the ledger first).
fn set_day_time_zone(tx: &mut postgres::Transaction<'_>, zone: &str) -> Result<bool, PgError> {
    tx.execute(include_str!("../sql/migrate/check_time_zone.sql"), &[&zone])
        .context(format!(
            "check CDM_DAY_TIME_ZONE={zone:?} (a time zone name the server knows)"
        ))?;
    let stored: String = tx
        .query_one(include_str!("../sql/migrate/day_time_zone.sql"), &[])
        .and_then(|row| row.try_get(0))
        .context("read cdm.daily_settings")?;
    if stored == zone {
        return Ok(false);
    }
    tx.batch_execute(include_str!("../sql/migrate/lock_ledger.sql"))
        .context("hold off the CDM appliers")?;
    tx.execute(
        include_str!("../sql/migrate/set_day_time_zone.sql"),
        &[&zone],
    )
    .context("record CDM_DAY_TIME_ZONE in cdm.daily_settings")?;
    tx.batch_execute(include_str!("../sql/migrate/rebuild_days.sql"))
        .context("re-bucket cdm.restaurant_category_days")?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_increasing_and_checksums_stable() {
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version);
        }
        assert_eq!(MIGRATIONS[0].checksum().len(), 40);
        assert_eq!(MIGRATIONS[0].checksum(), MIGRATIONS[0].checksum());
    }
}
