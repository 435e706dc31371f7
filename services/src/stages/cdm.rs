//! CDM (docs/contract.md §6): order reports applied to the ledger and the three datamarts.

use postgres::Transaction;
use vault_core::orders::OrderReport;
use vault_core::pipeline::{stages, MessageError};

use vault_pg::migrate::MigrationReport;
use vault_pg::{PgError, Warehouse};

use crate::runner::{Decoded, Output, Stage, StageError};

/// Counter datamarts.
#[derive(Debug, Default)]
pub struct CdmStage;

impl Stage for CdmStage {
    const NAME: &'static str = stages::CDM.service;
    const ABOUT: &'static str =
        "CDM: applies each order report to the exact counter datamarts (cdm.*).";
    const PRODUCES: bool = stages::CDM.produces();
    type Input<'a> = OrderReport;

    /// The project's migrations: the order model's schemas and the runner's tables.
    fn migrate(&self, warehouse: &Warehouse) -> Result<MigrationReport, PgError> {
        warehouse.migrate()
    }

    fn decode(&self, payload: &[u8]) -> Result<OrderReport, MessageError> {
        OrderReport::from_json(payload)
    }

    fn process(
        &mut self,
        items: Vec<Decoded<OrderReport>>,
        tx: &mut Transaction<'_>,
        _out: &mut Output,
    ) -> Result<(), StageError> {
        let reports: Vec<OrderReport> = items.into_iter().map(|d| d.value).collect();
        vault_pg::cdm::apply(tx, &reports)?;
        Ok(())
    }
}
