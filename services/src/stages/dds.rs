//! DDS (docs/contract.md §5): the Data Vault rows of each enriched order, then the order report
//! downstream.

use postgres::Transaction;
use vault_core::{vault_batch, EnrichedOrder, KeySpec, MessageError};

use crate::runner::{Decoded, Output, Stage, StageError};

/// Data Vault loader.
#[derive(Debug, Default)]
pub struct DdsStage {
    keys: KeySpec,
}

impl DdsStage {
    /// A stage deriving keys with `keys` ([`KeySpec::SEED`] for warehouses of the original).
    pub fn new(keys: KeySpec) -> Self {
        DdsStage { keys }
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
        vault_pg::dds::write(tx, rows.rows())?;
        for report in &reports {
            out.send(report.object_id.to_string(), report.to_json()?)?;
        }
        Ok(())
    }
}
