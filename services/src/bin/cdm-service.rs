//! CDM service: `dds-service-orders` → exact counter datamarts (`cdm.*`).

use std::process::ExitCode;

use vault_services::service;
use vault_services::stages::CdmStage;

fn main() -> ExitCode {
    service::main(|_| Ok(CdmStage))
}
