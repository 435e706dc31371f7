//! STG service: `order-service_orders` → `stg.order_events` + Redis enrichment → `stg-service-orders`.

use std::process::ExitCode;

use vault_services::service::{self, StartError};
use vault_services::stages::StgStage;
use vault_services::{CacheConfig, RedisConfig, RedisDictionary};

fn main() -> ExitCode {
    service::main(|env| {
        let redis = RedisConfig::from_env(env)?;
        let cache = CacheConfig::from_env(env)?;
        let dictionary = RedisDictionary::new(&redis, cache).map_err(StartError::stage)?;
        Ok(StgStage::new(dictionary))
    })
}
