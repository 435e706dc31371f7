//! Kafka positions consumed by a batch, recorded in the batch's own transaction, so the
//! warehouse always knows exactly which input it holds (verification, resume, audits).

use postgres::{Client, Transaction};

use crate::error::{Context, PgError};

/// The next offset to read from one partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The offset after the last message of the batch.
    pub next_offset: i64,
}

/// Records positions for `consumer` (a consumer group, say); positions only move forward.
pub fn record(
    tx: &mut Transaction<'_>,
    consumer: &str,
    positions: &[Position],
) -> Result<(), PgError> {
    if positions.is_empty() {
        return Ok(());
    }
    let topics: Vec<&str> = positions.iter().map(|p| p.topic.as_str()).collect();
    let partitions: Vec<i32> = positions.iter().map(|p| p.partition).collect();
    let offsets: Vec<i64> = positions.iter().map(|p| p.next_offset).collect();
    tx.execute(
        include_str!("../sql/positions/record.sql"),
        &[&consumer, &topics, &partitions, &offsets],
    )
    .context("record consumer positions")?;
    Ok(())
}

/// The recorded positions of `consumer`.
pub fn load(client: &mut Client, consumer: &str) -> Result<Vec<Position>, PgError> {
    let rows = client
        .query(include_str!("../sql/positions/load.sql"), &[&consumer])
        .context("load consumer positions")?;
    Ok(rows
        .iter()
        .map(|row| Position {
            topic: row.get(0),
            partition: row.get(1),
            next_offset: row.get(2),
        })
        .collect())
}
