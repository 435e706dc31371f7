//! STG (docs/contract.md §4): keep the raw order, enrich it from Redis, publish it downstream.

use postgres::Transaction;
use vault_core::orders::{raw_payload, EnrichError, SourceOrder};
use vault_core::pipeline::{stages, MessageError};
use vault_pg::stg::{self, StgEvent};
use vault_redis::{DictionaryError, RedisDictionary};

use vault_pg::migrate::MigrationReport;
use vault_pg::{PgError, Warehouse};

use crate::runner::{Decoded, Output, Stage, StageError};

/// Raw layer + enrichment.
#[derive(Debug)]
pub struct StgStage {
    dictionary: RedisDictionary,
}

impl StgStage {
    /// A stage enriching from `dictionary`.
    pub fn new(dictionary: RedisDictionary) -> Self {
        StgStage { dictionary }
    }
}

/// Whatever ails Redis (down, a wrong password, a TLS mismatch) is no fault of the message:
/// the batch waits, with backoff and not ready, instead of dead-lettering every order.
/// Unusable entries are per order (`invalid_dictionary_entry`).
fn redis(err: DictionaryError) -> StageError {
    StageError::dependency(REDIS, true, err)
}

/// Each order of the batch enriched from the dictionaries and encoded for downstream, or why it
/// cannot be enriched.
fn enrich_and_encode(
    dictionary: &mut RedisDictionary,
    orders: &[SourceOrder],
) -> Result<Vec<Result<Vec<u8>, EnrichError>>, StageError> {
    let enriched = dictionary.enrich_batch(orders).map_err(redis)?;
    enriched
        .into_iter()
        .map(|result| match result {
            Ok(order) => Ok(Ok(order.to_json()?)),
            Err(err) => Ok(Err(err)),
        })
        .collect()
}

/// The `kind` of a Redis failure (`vault_errors_total`).
const REDIS: &str = "redis";

impl Stage for StgStage {
    const NAME: &'static str = stages::STG.service;
    const ABOUT: &'static str =
        "STG: keeps each source order (stg.order_events), enriches it from \
the Redis dictionaries and publishes it downstream.";
    const PRODUCES: bool = stages::STG.produces();
    const DEPENDENCIES: &'static [&'static str] = &[REDIS];
    /// The order and its raw payload as stored in `stg.order_events`.
    type Input<'a> = (SourceOrder, &'a str);

    /// The project's migrations: the order model's schemas and the runner's tables.
    fn migrate(&self, warehouse: &Warehouse) -> Result<MigrationReport, PgError> {
        warehouse.migrate()
    }

    fn decode<'a>(&self, payload: &'a [u8]) -> Result<(SourceOrder, &'a str), MessageError> {
        Ok((SourceOrder::from_json(payload)?, raw_payload(payload)?))
    }

    fn process(
        &mut self,
        items: Vec<Decoded<(SourceOrder, &str)>>,
        tx: &mut Transaction<'_>,
        out: &mut Output,
    ) -> Result<(), StageError> {
        let mut indices = Vec::with_capacity(items.len());
        let mut orders = Vec::with_capacity(items.len());
        let mut payloads = Vec::with_capacity(items.len());
        for Decoded {
            index,
            value: (order, payload),
        } in items
        {
            indices.push(index);
            orders.push(order);
            payloads.push(payload);
        }
        // The raw layer first: it keeps every order, also those the dictionaries do not know
        // yet or hold a broken entry for (docs/contract.md §4).
        let events: Vec<StgEvent<'_>> = orders
            .iter()
            .zip(&payloads)
            .map(|(order, payload)| StgEvent::new(order, payload))
            .collect();
        stg::upsert(tx, &events)?;
        // Then downstream, only once the write went through: a batch the warehouse refuses
        // sends nothing (the runner awaits every acknowledgement before the commit). Every
        // order is enriched and encoded before the first is sent, so that the batch leaves in
        // one burst: the producer does not linger, and what is enqueued while its first
        // request travels goes in the next (vault_kafka's producer settings).
        let enriched = enrich_and_encode(&mut self.dictionary, &orders)?;
        for ((index, order), result) in indices.into_iter().zip(&orders).zip(enriched) {
            match result {
                Ok(payload) => out.send(order.object_id.to_string(), payload)?,
                Err(err) => out.reject(index, err.dead_letter_reason(), err.to_string()),
            }
        }
        Ok(())
    }

    fn check(&mut self) -> Result<(), StageError> {
        self.dictionary.ping().map_err(redis)
    }
}
