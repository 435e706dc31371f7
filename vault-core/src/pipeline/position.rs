//! Where a consumer stands in one partition: the one position type the Kafka adapter hands
//! out after a batch and the warehouse records in the batch's transaction
//! (contract §7.7).

/// The next offset to read from one partition (the last offset of a batch + 1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The offset after the last message of the batch.
    pub next_offset: i64,
}
