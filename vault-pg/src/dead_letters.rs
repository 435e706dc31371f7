//! The dead-letter outbox: dead letters become final with the batch that decided them
//! (the operations guide, "Dead letters become final with their batch"). A batch records its dead
//! letters in its own transaction ([`record`]); after it commits, they are taken under a row
//! lock ([`take`]), produced, and removed once acknowledged ([`done`]), in one transaction
//! that holds the lock throughout. What a crash leaves behind is taken by the next owner of
//! the partition, which first looks on the dead-letter topic from [`Waiting::dlq_from`] on.

use postgres::Transaction;

use crate::error::{Context, PgError};

/// A dead letter decided by a batch, as it is to be produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The source topic of the message.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// The dead-letter topic.
    pub dlq_topic: String,
    /// The dead-letter topic's end offsets, per partition, from before the first produce of
    /// this dead letter: a search for it on the topic starts there.
    pub dlq_from: Vec<i64>,
    /// The record's key.
    pub key: Option<Vec<u8>>,
    /// The record's value.
    pub payload: Vec<u8>,
    /// The record's headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The reason code (for the metric and the log).
    pub reason: String,
}

/// Records the dead letters a batch decided, in the batch's transaction, for `consumer` (the
/// consumer group). One already recorded for the same message is kept.
pub fn record(
    tx: &mut Transaction<'_>,
    consumer: &str,
    letters: &[Waiting],
) -> Result<(), PgError> {
    if letters.is_empty() {
        return Ok(());
    }
    let statement = tx
        .prepare(include_str!("../sql/dead_letters/insert.sql"))
        .context("prepare recording dead letters")?;
    for letter in letters {
        let names: Vec<&str> = letter.headers.iter().map(|(n, _)| n.as_str()).collect();
        let values: Vec<&[u8]> = letter.headers.iter().map(|(_, v)| v.as_slice()).collect();
        tx.execute(
            &statement,
            &[
                &consumer,
                &letter.topic,
                &letter.partition,
                &letter.offset,
                &letter.dlq_topic,
                &letter.dlq_from,
                &letter.key,
                &letter.payload,
                &names,
                &values,
                &letter.reason,
            ],
        )
        .context("record a dead letter")?;
    }
    Ok(())
}

/// Where to take waiting dead letters from: source positions (topic, partition, offset), or a
/// whole partition when the offset is `None`.
pub type Place = (String, i32, Option<i64>);

/// The waiting dead letters of `consumer` at `places`, locked until `tx` ends.
pub fn take(
    tx: &mut Transaction<'_>,
    consumer: &str,
    places: &[Place],
) -> Result<Vec<Waiting>, PgError> {
    if places.is_empty() {
        return Ok(Vec::new());
    }
    let topics: Vec<&str> = places.iter().map(|(t, _, _)| t.as_str()).collect();
    let partitions: Vec<i32> = places.iter().map(|(_, p, _)| *p).collect();
    let offsets: Vec<Option<i64>> = places.iter().map(|(_, _, o)| *o).collect();
    tx.batch_execute(include_str!("../sql/dead_letters/lock_timeout.sql"))
        .context("bound the wait for waiting dead letters")?;
    let rows = tx
        .query(
            include_str!("../sql/dead_letters/lock.sql"),
            &[&consumer, &topics, &partitions, &offsets],
        )
        .context("take waiting dead letters")?;
    rows.iter()
        .map(|row| {
            let read = "read a waiting dead letter";
            let names: Vec<String> = row.try_get(7).context(read)?;
            let values: Vec<Vec<u8>> = row.try_get(8).context(read)?;
            if names.len() != values.len() {
                return Err(PgError::Stored(format!(
                    "vault.dead_letter_outbox: {} header names, {} values",
                    names.len(),
                    values.len()
                )));
            }
            Ok(Waiting {
                topic: row.try_get(0).context(read)?,
                partition: row.try_get(1).context(read)?,
                offset: row.try_get(2).context(read)?,
                dlq_topic: row.try_get(3).context(read)?,
                dlq_from: row.try_get(4).context(read)?,
                key: row.try_get(5).context(read)?,
                payload: row.try_get(6).context(read)?,
                headers: names.into_iter().zip(values).collect(),
                reason: row.try_get(9).context(read)?,
            })
        })
        .collect()
}

/// Removes dead letters that are on their topic now (acknowledged, or found there).
pub fn done(tx: &mut Transaction<'_>, consumer: &str, letters: &[Waiting]) -> Result<(), PgError> {
    if letters.is_empty() {
        return Ok(());
    }
    let topics: Vec<&str> = letters.iter().map(|l| l.topic.as_str()).collect();
    let partitions: Vec<i32> = letters.iter().map(|l| l.partition).collect();
    let offsets: Vec<i64> = letters.iter().map(|l| l.offset).collect();
    tx.execute(
        include_str!("../sql/dead_letters/delete.sql"),
        &[&consumer, &topics, &partitions, &offsets],
    )
    .context("remove delivered dead letters")?;
    Ok(())
}
