//! CDM (docs/contract.md §6): order reports applied to the ledger and the three datamarts.

use postgres::Transaction;
use vault_core::OrderReport;
use vault_kafka::InMessage;

use crate::runner::{Output, Stage, StageError};

/// Counter datamarts.
#[derive(Debug, Default)]
pub struct CdmStage;

impl Stage for CdmStage {
    const NAME: &'static str = "cdm-service";

    fn process(
        &mut self,
        batch: &[InMessage],
        tx: &mut Transaction<'_>,
        out: &mut Output,
    ) -> Result<(), StageError> {
        let reports: Vec<OrderReport> = out
            .decode(batch, OrderReport::from_json)
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        vault_pg::cdm::apply(tx, &reports)?;
        Ok(())
    }
}
