//! DDS (docs/contract.md §5): the Data Vault rows of each enriched order, then the order report
//! downstream.

use postgres::Transaction;
use vault_core::orders::{vault_batch, EnrichedOrder};
use vault_core::pipeline::{stages, vars, ConfigError, Env, MessageError};
use vault_core::KeySpec;
use vault_pg::model::KnownKeys;

use vault_pg::migrate::MigrationReport;
use vault_pg::{PgError, Warehouse};

use crate::runner::{Decoded, Output, Stage, StageError};

/// Data Vault loader.
#[derive(Debug)]
pub struct DdsStage {
    keys: KeySpec,
    /// The keys this replica has written (and seen committed): rows already in the warehouse
    /// are not sent again (users, products, categories, restaurants and their satellites recur
    /// in almost every batch).
    known: KnownKeys,
}

/// Keys per generation of the known-key cache of [`DdsStage::new`] (two generations; ~33 bytes a
/// slot): the default `DDS_KNOWN_KEYS` declares.
pub const KNOWN_KEYS: usize = vars::DDS_KNOWN_KEYS.default_count() as usize;

impl Default for DdsStage {
    fn default() -> Self {
        DdsStage::new(KeySpec::default())
    }
}

impl DdsStage {
    /// A stage deriving keys with `keys` ([`KeySpec::SEED`] for warehouses of the original).
    pub fn new(keys: KeySpec) -> Self {
        DdsStage::with_known_keys(keys, KNOWN_KEYS)
    }

    /// The same with a known-key cache of `per_generation` keys per generation (0: none; every
    /// row is sent, and the warehouse skips those it has).
    pub fn with_known_keys(keys: KeySpec, per_generation: usize) -> Self {
        DdsStage {
            keys,
            known: KnownKeys::new(per_generation),
        }
    }

    /// The stage as `DDS_KNOWN_KEYS` sizes its cache (default [`KNOWN_KEYS`]).
    pub fn from_env<F: Fn(&str) -> Option<String>>(
        keys: KeySpec,
        env: &Env<F>,
    ) -> Result<Self, ConfigError> {
        let per_generation = env.value(&vars::DDS_KNOWN_KEYS)?;
        Ok(DdsStage::with_known_keys(keys, per_generation))
    }

    /// Keys per generation of its known-key cache.
    pub fn known_keys_capacity(&self) -> usize {
        self.known.capacity()
    }
}

impl Stage for DdsStage {
    const NAME: &'static str = stages::DDS.service;
    const ABOUT: &'static str =
        "DDS: writes the Data Vault rows (dds.*) of each enriched order and \
publishes the order report downstream.";
    const PRODUCES: bool = stages::DDS.produces();
    type Input<'a> = EnrichedOrder;

    /// The project's migrations: the order model's schemas and the runner's tables.
    fn migrate(&self, warehouse: &Warehouse) -> Result<MigrationReport, PgError> {
        warehouse.migrate()
    }

    fn decode(&self, payload: &[u8]) -> Result<EnrichedOrder, MessageError> {
        EnrichedOrder::from_json(payload)
    }

    fn process(
        &mut self,
        items: Vec<Decoded<EnrichedOrder>>,
        tx: &mut Transaction<'_>,
        out: &mut Output,
    ) -> Result<(), StageError> {
        let orders: Vec<EnrichedOrder> = items.into_iter().map(|d| d.value).collect();
        let (rows, reports) = vault_batch(self.keys, &orders, crate::clock::sent_dttm());
        // The Data Vault first; reports go out only once the write went through, so a batch
        // the warehouse refuses sends nothing (the runner awaits every acknowledgement before
        // the transaction commits). All are encoded before the first is sent: the batch
        // leaves in one burst (see StgStage::process).
        vault_pg::model::write_skipping_known(tx, rows.rows(), &mut self.known)?;
        let encoded = reports
            .iter()
            .map(|report| Ok((report.object_id.to_string(), report.to_json()?)))
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        for (key, payload) in encoded {
            out.send(key, payload)?;
        }
        Ok(())
    }

    fn committed(&mut self) {
        self.known.committed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vault_core::pipeline::env_from_pairs;

    #[test]
    fn dds_known_keys_sizes_the_cache() {
        let sized = |pairs: &[(&str, &str)]| {
            DdsStage::from_env(KeySpec::SEED, &env_from_pairs(pairs))
                .map(|stage| stage.known_keys_capacity())
        };
        assert_eq!(sized(&[]), Ok(KNOWN_KEYS));
        assert_eq!(sized(&[("DDS_KNOWN_KEYS", "250000")]), Ok(250_000));
        assert_eq!(sized(&[("DDS_KNOWN_KEYS", "0")]), Ok(0));
        let err = sized(&[("DDS_KNOWN_KEYS", "lots")]).expect_err("not a number");
        assert!(err.to_string().contains("DDS_KNOWN_KEYS=\"lots\""), "{err}");
    }
}
