//! DDS (docs/contract.md §5): the Data Vault rows of each enriched order, then the order report
//! downstream.

use postgres::Transaction;
use vault_core::{vault_batch, EnrichedOrder, KeySpec, MessageError};
use vault_pg::model::KnownKeys;

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

/// Keys per generation of the known-key cache (two generations; ~40 bytes a key).
pub const KNOWN_KEYS: usize = 100_000;

impl Default for DdsStage {
    fn default() -> Self {
        DdsStage::new(KeySpec::default())
    }
}

impl DdsStage {
    /// A stage deriving keys with `keys` ([`KeySpec::SEED`] for warehouses of the original).
    pub fn new(keys: KeySpec) -> Self {
        DdsStage {
            keys,
            known: KnownKeys::new(KNOWN_KEYS),
        }
    }
}

impl Stage for DdsStage {
    const NAME: &'static str = "dds-service";
    const PRODUCES: bool = true;
    type Input<'a> = EnrichedOrder;

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
        // the transaction commits).
        vault_pg::model::write_skipping_known(tx, rows.rows(), &mut self.known)?;
        for report in &reports {
            out.send(report.object_id.to_string(), report.to_json()?)?;
        }
        Ok(())
    }

    fn committed(&mut self) {
        self.known.committed();
    }
}
