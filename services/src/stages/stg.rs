//! STG (docs/contract.md §4): keep the raw order, enrich it from Redis, publish it downstream.

use postgres::Transaction;
use vault_core::{raw_payload, SourceOrder};
use vault_kafka::InMessage;
use vault_pg::stg::{self, StgEvent};

use crate::runner::{Output, Stage, StageError};
use vault_redis::RedisDictionary;

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

impl Stage for StgStage {
    const NAME: &'static str = "stg-service";

    fn process(
        &mut self,
        batch: &[InMessage],
        tx: &mut Transaction<'_>,
        out: &mut Output,
    ) -> Result<(), StageError> {
        let decoded = out.decode(batch, |bytes| {
            Ok((SourceOrder::from_json(bytes)?, raw_payload(bytes)?))
        });
        let mut indices = Vec::with_capacity(decoded.len());
        let mut orders = Vec::with_capacity(decoded.len());
        let mut payloads = Vec::with_capacity(decoded.len());
        for (index, (order, payload)) in decoded {
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
        // sends nothing (the runner awaits every acknowledgement before the commit).
        let enriched = self.dictionary.enrich_batch(&orders)?;
        for ((index, order), result) in indices.into_iter().zip(&orders).zip(enriched) {
            match result {
                Ok(enriched) => out.send(order.object_id.to_string(), enriched.to_json()?)?,
                Err(err) => out.reject(index, err.reason(), err.to_string()),
            }
        }
        Ok(())
    }

    fn check(&mut self) -> Result<(), StageError> {
        Ok(self.dictionary.ping()?)
    }
}
