//! Kafka positions consumed by a batch, recorded in the batch's own transaction, so the
//! warehouse always knows exactly which input it holds (verification, resume, audits).

use postgres::{Client, Transaction};

use crate::error::{Context, PgError};

pub use vault_core::pipeline::Position;

/// Records positions for `consumer` (a consumer group, say); positions only move forward.
/// Returns the positions recorded before for these partitions: a message of the batch below
/// one of them was already applied (and is applied again, idempotently).
pub fn record(
    tx: &mut Transaction<'_>,
    consumer: &str,
    positions: &[Position],
) -> Result<Vec<Position>, PgError> {
    if positions.is_empty() {
        return Ok(Vec::new());
    }
    let topics: Vec<&str> = positions.iter().map(|p| p.topic.as_str()).collect();
    let partitions: Vec<i32> = positions.iter().map(|p| p.partition).collect();
    let offsets: Vec<i64> = positions.iter().map(|p| p.next_offset).collect();
    let rows = tx
        .query(
            include_str!("../sql/positions/record.sql"),
            &[&consumer, &topics, &partitions, &offsets],
        )
        .context("record consumer positions")?;
    rows.iter().map(position).collect()
}

/// The recorded positions of `consumer` for `partitions` (topic, partition).
pub fn load_partitions(
    client: &mut Client,
    consumer: &str,
    partitions: &[(String, i32)],
) -> Result<Vec<Position>, PgError> {
    let topics: Vec<&str> = partitions.iter().map(|(t, _)| t.as_str()).collect();
    let numbers: Vec<i32> = partitions.iter().map(|(_, p)| *p).collect();
    let rows = client
        .query(
            include_str!("../sql/positions/load_partitions.sql"),
            &[&consumer, &topics, &numbers],
        )
        .context("load consumer positions")?;
    rows.iter().map(position).collect()
}

fn position(row: &postgres::Row) -> Result<Position, PgError> {
    Ok(Position {
        topic: row.try_get(0).context("read a position's topic")?,
        partition: row.try_get(1).context("read a position's partition")?,
        next_offset: row.try_get(2).context("read a position's offset")?,
    })
}

/// The recorded positions of `consumer`.
pub fn load(client: &mut Client, consumer: &str) -> Result<Vec<Position>, PgError> {
    let rows = client
        .query(include_str!("../sql/positions/load.sql"), &[&consumer])
        .context("load consumer positions")?;
    rows.iter().map(position).collect()
}

/// A recorded position with its consumer group and when it last moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The consumer group.
    pub consumer: String,
    /// The position.
    pub position: Position,
    /// When it last moved (as PostgreSQL prints a `timestamptz`).
    pub updated_at: String,
}

/// Every recorded position (of `consumer` only, when given).
pub fn all(client: &mut Client, consumer: Option<&str>) -> Result<Vec<Recorded>, PgError> {
    let rows = client
        .query(include_str!("../sql/positions/all.sql"), &[&consumer])
        .context("list consumer positions")?;
    rows.iter()
        .map(|row| {
            Ok(Recorded {
                consumer: row.try_get(0).context("read a position's consumer")?,
                position: Position {
                    topic: row.try_get(1).context("read a position's topic")?,
                    partition: row.try_get(2).context("read a position's partition")?,
                    next_offset: row.try_get(3).context("read a position's offset")?,
                },
                updated_at: row.try_get(4).context("read a position's time")?,
            })
        })
        .collect()
}

/// Forgets the positions of `consumer` (on `topic` only, when given); returns how many.
pub fn reset(client: &mut Client, consumer: &str, topic: Option<&str>) -> Result<u64, PgError> {
    client
        .execute(
            include_str!("../sql/positions/reset.sql"),
            &[&consumer, &topic],
        )
        .context("reset consumer positions")
}
