//! The consumer's client context: librdkafka's rebalance and statistics callbacks, run inside
//! `poll`. It keeps the assignment (and what was revoked mid-batch), the group standing and the
//! lag, and starts newly assigned partitions at the warehouse's positions.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, RebalanceProtocol};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::AssignmentChange;

/// Rebalance bookkeeping shared with the client's callbacks.
#[derive(Debug, Default)]
pub(super) struct Membership {
    pub(super) revoked: Vec<(String, i32)>,
    pub(super) assigned: HashSet<(String, i32)>,
    pub(super) rebalances: u64,
    pub(super) changes: Vec<AssignmentChange>,
}

/// The consumer's standing in its group, from librdkafka's statistics.
#[derive(Debug)]
pub(super) struct GroupStanding {
    /// When the statistics last said "up, steady" (or when the consumer was made).
    pub(super) last_joined: Instant,
    /// When statistics last arrived at all.
    pub(super) last_report: Instant,
    /// `state/join_state` of the last report.
    pub(super) state: String,
    /// Whether the last report said "up, steady".
    pub(super) steady: bool,
}

impl Default for GroupStanding {
    fn default() -> Self {
        GroupStanding {
            last_joined: Instant::now(),
            last_report: Instant::now(),
            state: "starting".into(),
            steady: false,
        }
    }
}

/// Where the consumer reads the positions the warehouse holds: for the partitions asked for,
/// `(topic, partition, next offset)` of those it has. Called inside `poll` when partitions are
/// assigned (contract §7.7).
pub type PositionSource =
    Arc<dyn Fn(&[(String, i32)]) -> Result<Vec<(String, i32, i64)>, String> + Send + Sync>;

/// A partition whose reading starts from the warehouse's position, not the group's committed
/// offset (which was behind: a crash between the two commits, or offsets lost or reset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The group's committed offset (`None`: none, or it could not be read).
    pub committed: Option<i64>,
    /// The warehouse's position, where reading starts.
    pub warehouse: i64,
}

/// Offsets of a partition deleted by the broker (retention) before this group read them: the
/// partition's start, from the warehouse's position or the group's committed offset, is below
/// the partition's first offset, so `from..to` were never read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostOffsets {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Where reading was to start (the first offset lost).
    pub from: i64,
    /// The partition's first offset now (where reading starts instead).
    pub to: i64,
}

impl LostOffsets {
    /// How many offsets were lost.
    pub fn count(&self) -> i64 {
        self.to - self.from
    }
}

/// The client context: records assignments and revocations as they happen inside `poll`, and
/// the consumer lag and group state from librdkafka's periodic statistics (no extra broker
/// requests); on assignment, starts each partition from the warehouse's position when that is
/// ahead of the committed offset.
#[derive(Clone, Default)]
pub struct RebalanceContext {
    pub(super) membership: Arc<Mutex<Membership>>,
    pub(super) lag: Arc<AtomicI64>,
    pub(super) standing: Arc<Mutex<GroupStanding>>,
    pub(super) positions: Option<PositionSource>,
    /// Resumes and failures to read the positions, for the caller's log.
    pub(super) resumes: Arc<Mutex<Vec<Result<Resume, String>>>>,
    /// Offsets deleted upstream before they were read, found on assignment.
    pub(super) lost: Arc<Mutex<Vec<LostOffsets>>>,
    /// Fetch positions librdkafka found deleted while reading and reset to the partition's
    /// first offset (`auto.offset.reset`), from its `OFFSET` warning.
    /// [`super::BatchConsumer::take_lost`] tells a loss.
    pub(super) resets: Arc<Mutex<Vec<OutOfRange>>>,
    /// Every gap this consumer reported, as (topic, partition, from), for its whole life: a gap
    /// found on assignment is what librdkafka's reset then finds again when it fetches there,
    /// and a gap found while reading is found again on a re-assignment before its batch
    /// commits; neither is a second one.
    pub(super) known_gaps: Arc<Mutex<HashSet<(String, i32, i64)>>>,
}

impl std::fmt::Debug for RebalanceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RebalanceContext")
            .field("warehouse_positions", &self.positions.is_some())
            .finish()
    }
}

impl RebalanceContext {
    /// Moves the offsets of `assignment` to the warehouse's positions where they are ahead of
    /// the group's committed offsets.
    fn resume_from_warehouse(
        &self,
        consumer: &BaseConsumer<Self>,
        assignment: &mut TopicPartitionList,
    ) {
        let Some(source) = &self.positions else {
            return;
        };
        let wanted: Vec<(String, i32)> = assignment
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect();
        let mut log = Vec::new();
        // The group's committed offsets, also to tell whether data was lost below them.
        let committed = consumer
            .committed_offsets(assignment.clone(), Duration::from_secs(10))
            .ok();
        let committed_of = |topic: &str, partition: i32| {
            committed
                .as_ref()
                .and_then(|c| c.find_partition(topic, partition))
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                })
        };
        let mut starts: Vec<(String, i32, Option<i64>)> = wanted
            .iter()
            .map(|(t, p)| (t.clone(), *p, committed_of(t, *p)))
            .collect();
        match source(&wanted) {
            Err(e) => log.push(Err(e)),
            Ok(held) => {
                for (topic, partition, warehouse) in held {
                    let committed = committed_of(&topic, partition);
                    if let Some(start) = starts
                        .iter_mut()
                        .find(|(t, p, _)| *t == topic && *p == partition)
                    {
                        start.2 = Some(start.2.map_or(warehouse, |c| c.max(warehouse)));
                    }
                    if committed.is_some_and(|c| c >= warehouse) {
                        continue;
                    }
                    match assignment.set_partition_offset(
                        &topic,
                        partition,
                        Offset::Offset(warehouse),
                    ) {
                        Ok(()) => log.push(Ok(Resume {
                            topic,
                            partition,
                            committed,
                            warehouse,
                        })),
                        Err(e) => log.push(Err(format!(
                            "start {topic}/{partition} at {warehouse}: {e}"
                        ))),
                    }
                }
            }
        }
        // A start below the partition's first offset: the broker deleted what was not read
        // yet (retention ran while the group was away). librdkafka then starts at the first
        // offset (auto.offset.reset=earliest); the caller says so, counts it, or stops.
        let mut lost = Vec::new();
        for (topic, partition, start) in starts {
            let Some(start) = start else { continue };
            if let Ok((low, _)) =
                consumer.fetch_watermarks(&topic, partition, Duration::from_secs(5))
            {
                if start < low {
                    lost.push(LostOffsets {
                        topic,
                        partition,
                        from: start,
                        to: low,
                    });
                }
            }
        }
        if let Ok(mut known) = self.known_gaps.lock() {
            lost.retain(|l| known.insert((l.topic.clone(), l.partition, l.from)));
        }
        if let Ok(mut found) = self.lost.lock() {
            found.extend(lost);
        }
        if let Ok(mut resumes) = self.resumes.lock() {
            resumes.extend(log);
        }
    }
}

/// A fetch position the broker did not have (below the partition's first offset, or past its
/// end), which librdkafka reset to the first offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OutOfRange {
    pub(super) topic: String,
    pub(super) partition: i32,
    /// The position that was out of range.
    pub(super) at: i64,
    /// The first offset of the partition delivered after the reset (a batch's message past
    /// `at`): where reading went on, hence the end of the gap.
    pub(super) first_after: Option<i64>,
    /// Failed attempts to read the partition's first offset.
    pub(super) attempts: u8,
}

/// The position of a fetch that found its offset deleted, from librdkafka's `OFFSET` warning
/// (librdkafka 2.12: `[thrd:main]: TOPIC [P]: offset reset (at offset N (leader epoch E),
/// broker B) to offset BEGINNING …: fetch failed due to requested offset not available on the
/// broker: Broker: Offset out of range`). `None` for any other text.
pub(super) fn out_of_range_reset(message: &str) -> Option<OutOfRange> {
    if !message.ends_with("Offset out of range") {
        return None;
    }
    let rest = match message.strip_prefix("[thrd:") {
        Some(thread) => thread.split_once("]: ")?.1,
        None => message,
    };
    let (partition, after) = rest.split_once("]: offset reset (at offset ")?;
    let (topic, partition) = partition.rsplit_once(" [")?;
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if topic.is_empty() || !topic.chars().all(legal) {
        return None;
    }
    let digits = after
        .find(|c: char| !c.is_ascii_digit())
        .map_or(after, |end| &after[..end]);
    Some(OutOfRange {
        topic: topic.to_owned(),
        partition: partition.parse().ok()?,
        at: digits.parse().ok()?,
        first_after: None,
        attempts: 0,
    })
}

impl ClientContext for RebalanceContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        if fac == "OFFSET" {
            if let Some(reset) = out_of_range_reset(log_message) {
                if let Ok(mut resets) = self.resets.lock() {
                    resets.push(reset);
                }
            }
        }
        crate::logs::log("consumer", level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        crate::logs::error_report("consumer", &error, reason);
    }

    fn stats(&self, statistics: Statistics) {
        if let (Some(group), Ok(mut standing)) = (&statistics.cgrp, self.standing.lock()) {
            let now = Instant::now();
            standing.last_report = now;
            standing.state = format!("{}/{}", group.state, group.join_state);
            standing.steady = group.state == "up" && group.join_state == "steady";
            if standing.steady {
                standing.last_joined = now;
            }
        }
        let lag: i64 = statistics
            .topics
            .values()
            .flat_map(|t| t.partitions.iter())
            .filter(|(id, p)| **id >= 0 && p.consumer_lag >= 0)
            .map(|(_, p)| p.consumer_lag)
            .sum();
        self.lag.store(lag, Ordering::Relaxed);
    }
}

impl ConsumerContext for RebalanceContext {
    /// librdkafka's rebalance, as rdkafka's default does it, plus the warehouse's positions on
    /// assignment (they must be set before the partitions are assigned: a seek afterwards could
    /// race the first fetch).
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.resume_from_warehouse(consumer, tpl);
                let assigned = if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                };
                if let Err(e) = assigned {
                    if let Ok(mut resumes) = self.resumes.lock() {
                        resumes.push(Err(format!("assign: {e}")));
                    }
                }
                self.post_rebalance(consumer, &Rebalance::Assign(tpl));
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.pre_rebalance(consumer, &Rebalance::Revoke(tpl));
                let unassigned = if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                };
                if let Err(e) = unassigned {
                    if let Ok(mut resumes) = self.resumes.lock() {
                        resumes.push(Err(format!("unassign: {e}")));
                    }
                }
            }
            other => {
                let code: RDKafkaErrorCode = other.into();
                if let Ok(mut resumes) = self.resumes.lock() {
                    resumes.push(Err(format!("rebalance error: {code}")));
                }
                // As rdkafka's default: drop the assignment, the group assigns again.
                let _ = consumer.unassign();
            }
        }
    }

    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            if let Ok(mut m) = self.membership.lock() {
                let mut revoked = Vec::new();
                for e in list.elements() {
                    let tp = (e.topic().to_owned(), e.partition());
                    m.assigned.remove(&tp);
                    m.revoked.push(tp.clone());
                    revoked.push(tp);
                }
                revoked.sort();
                m.changes.push(AssignmentChange::Revoked(revoked));
                m.rebalances += 1;
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            if let Ok(mut m) = self.membership.lock() {
                let mut assigned = Vec::new();
                for e in list.elements() {
                    let tp = (e.topic().to_owned(), e.partition());
                    m.assigned.insert(tp.clone());
                    assigned.push(tp);
                }
                assigned.sort();
                m.changes.push(AssignmentChange::Assigned(assigned));
                m.rebalances += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{out_of_range_reset, OutOfRange};

    fn reset(topic: &str, partition: i32, at: i64) -> Option<OutOfRange> {
        Some(OutOfRange {
            topic: topic.to_owned(),
            partition,
            at,
            first_after: None,
            attempts: 0,
        })
    }

    #[test]
    fn librdkafka_s_out_of_range_reset_names_the_partition_and_the_position() {
        // As librdkafka 2.12 logged it in services/tests/resume.rs.
        let line = "[thrd:main]: e2e_lost_1.orders [3]: offset reset (at offset 51 (leader epoch 0), broker 1) to offset BEGINNING (leader epoch -1): fetch failed due to requested offset not available on the broker: Broker: Offset out of range";
        assert_eq!(out_of_range_reset(line), reset("e2e_lost_1.orders", 3, 51));
        let no_epoch = "my-topic [0]: offset reset (at offset 7, broker 2) to offset BEGINNING: fetch failed: Broker: Offset out of range";
        assert_eq!(out_of_range_reset(no_epoch), reset("my-topic", 0, 7));
    }

    #[test]
    fn other_offset_lines_are_no_reset() {
        for text in [
            "",
            "[thrd:main]: t [0]: offset reset (at offset 5, broker 1) to offset END: no previously committed offset available: Local: No offset stored",
            "[thrd:main]: t [0]: offset reset (at offset INVALID, broker 1) to offset BEGINNING: Broker: Offset out of range",
            "[thrd:main]: t [x]: offset reset (at offset 5, broker 1) to offset BEGINNING: Broker: Offset out of range",
            "[thrd:main]: a b [0]: offset reset (at offset 5, broker 1) to offset BEGINNING: Broker: Offset out of range",
            "[thrd:main]:  [0]: offset reset (at offset 5, broker 1) to offset BEGINNING: Broker: Offset out of range",
            "[thrd:main]: t [0]: offset reset (at offset 99999999999999999999, broker 1) to offset BEGINNING: Broker: Offset out of range",
            "[thrd:main Broker: Offset out of range",
            "[thrd:é]: é [0]: offset reset (at offset 5ü Broker: Offset out of range",
        ] {
            assert_eq!(out_of_range_reset(text), None, "{text:?}");
        }
    }
}
