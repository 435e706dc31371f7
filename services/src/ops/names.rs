//! The names of the metrics the services export, as scraped (with the `vault_` namespace): the
//! one place `vault watch`, the tests, the benches, the dashboard and the alerts take them from.
//!
//! No counter repeats what a histogram gives: the messages of committed batches are
//! [`BATCH_SIZE_SUM`], the committed batches [`BATCH_SIZE_COUNT`].

/// Messages produced downstream (not dead letters).
pub const PRODUCED: &str = "vault_messages_produced_total";
/// Messages dead-lettered, by `reason`.
pub const DEAD_LETTERED: &str = "vault_messages_dead_lettered_total";
/// Downstream messages produced again after a failed attempt.
pub const RESENT: &str = "vault_messages_resent_total";
/// Messages applied again that the warehouse already held.
pub const REAPPLIED: &str = "vault_messages_reapplied_total";
/// Messages per committed batch (histogram).
pub const BATCH_SIZE: &str = "vault_batch_size_messages";
/// Messages of every committed batch: the messages consumed (the batch-size histogram's sum).
pub const BATCH_SIZE_SUM: &str = "vault_batch_size_messages_sum";
/// Batches committed (the batch-size histogram's count).
pub const BATCH_SIZE_COUNT: &str = "vault_batch_size_messages_count";
/// Batch duration (histogram).
pub const BATCH_DURATION: &str = "vault_batch_duration_seconds";
/// Time of each step of a committed batch, by `step` (histogram; `ops::Step`).
pub const BATCH_STEP: &str = "vault_batch_step_seconds";
/// Lag of the partitions this replica owns.
pub const CONSUMER_LAG: &str = "vault_consumer_lag_messages";
/// Lag of the whole consumer group.
pub const GROUP_LAG: &str = "vault_group_lag_messages";
/// Partitions owned.
pub const ASSIGNED: &str = "vault_assigned_partitions";
/// 1 while ready.
pub const READY: &str = "vault_ready";
/// 1 while in the group with no partitions.
pub const IDLE: &str = "vault_replica_idle";
/// Offsets of the source topic deleted by the broker (retention) before they were read.
pub const OFFSETS_LOST: &str = "vault_offsets_lost_total";
/// Failed batch attempts, by `kind`.
pub const ERRORS: &str = "vault_errors_total";
/// 1, labelled with the build's `version` and git `revision` (`crate::build_info`).
pub const BUILD_INFO: &str = "vault_build_info";
/// Resident memory of the process.
pub const RSS: &str = "vault_process_resident_memory_bytes";

/// A name as registered (the registry adds the `vault_` namespace).
pub(crate) fn local(name: &'static str) -> &'static str {
    name.strip_prefix("vault_").unwrap_or(name)
}
