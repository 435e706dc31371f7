//! DDS (docs/contract.md §5): the Data Vault rows of each enriched order, then the order report
//! downstream.

use postgres::Transaction;
use vault_core::{vault_batch, EnrichedOrder, KeySpec};
use vault_kafka::InMessage;

use crate::runner::{Output, Stage, StageError};

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

    fn process(
        &mut self,
        batch: &[InMessage],
        tx: &mut Transaction<'_>,
        out: &mut Output,
    ) -> Result<(), StageError> {
        let orders: Vec<EnrichedOrder> = out
            .decode(batch, EnrichedOrder::from_json)
            .into_iter()
            .map(|(_, o)| o)
            .collect();
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
