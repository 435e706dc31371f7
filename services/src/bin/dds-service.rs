//! DDS service: `stg-service-orders` → Data Vault (`dds.*`) → `dds-service-orders`.

use std::process::ExitCode;

use vault_core::KeySpec;
use vault_services::service;
use vault_services::stages::DdsStage;

fn main() -> ExitCode {
    service::main(|env| Ok(DdsStage::from_env(KeySpec::SEED, env)?))
}
