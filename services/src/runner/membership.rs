//! The runner's standing in its consumer group and its readiness: assignment changes and
//! resumes logged, an idle replica reported, a consumer stuck out of its group or a producer
//! without brokers replaced, and `/readyz` refreshed from live checks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{error, info, warn};
use vault_kafka::{AssignmentChange, BatchConsumer, GroupLag, InMessage};
use vault_pg::Warehouse;

use super::config::LostOffsetsPolicy;
use super::{Runner, Stage, IDLE_LOG_EVERY, REJOIN_AFTER, UNJOINED_NOT_READY};

/// Where a consumer of `group` starts: the warehouse's recorded positions
/// (docs/contract.md §7.7), read when partitions are assigned.
pub(super) fn warehouse_positions(
    warehouse: &Warehouse,
    group: &str,
) -> vault_kafka::PositionSource {
    let warehouse = warehouse.clone();
    let group = group.to_owned();
    Arc::new(move |partitions: &[(String, i32)]| {
        let mut client = warehouse.client().map_err(|e| e.to_string())?;
        let held = vault_pg::positions::load_partitions(&mut client, &group, partitions)
            .map_err(|e| e.to_string())?;
        Ok(held
            .into_iter()
            .map(|p| (p.topic, p.partition, p.next_offset))
            .collect())
    })
}

/// `topic[0,1,3]` lists, one per topic.
pub(super) fn partition_list(partitions: &[(String, i32)]) -> String {
    let mut by_topic: std::collections::BTreeMap<&str, Vec<i32>> = Default::default();
    for (topic, partition) in partitions {
        by_topic.entry(topic).or_default().push(*partition);
    }
    if by_topic.is_empty() {
        return "none".to_owned();
    }
    by_topic
        .into_iter()
        .map(|(topic, mut ps)| {
            ps.sort_unstable();
            let list: Vec<String> = ps.iter().map(i32::to_string).collect();
            format!("{topic}[{}]", list.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl<S: Stage> Runner<S> {
    /// Logs every assignment change and every resume from the warehouse's positions, and
    /// counts offsets deleted upstream before they were read; with `KAFKA_LOST_OFFSETS=stop`
    /// returns why the service must stop (before anything past the gap is processed).
    pub(super) fn log_assignment(&mut self) -> Option<String> {
        let mut stop = None;
        for lost in self.consumer.take_lost() {
            self.metrics.offsets_lost(&lost);
            if self.config.lost_offsets == LostOffsetsPolicy::Stop {
                stop = Some(format!(
                    "{}/{}: offsets {}..{} were deleted upstream before they were read \
                     (KAFKA_LOST_OFFSETS=stop)",
                    lost.topic, lost.partition, lost.from, lost.to
                ));
            }
        }
        let mut resumed = Vec::new();
        for resume in self.consumer.take_resumes() {
            match resume {
                Ok(r) => {
                    resumed.push(vault_kafka::Position {
                        topic: r.topic.clone(),
                        partition: r.partition,
                        next_offset: r.warehouse,
                    });
                    info!(
                    service = S::NAME,
                    topic = %r.topic,
                    partition = r.partition,
                    committed = ?r.committed,
                    warehouse = r.warehouse,
                    "starting from the warehouse's position (ahead of the committed offset)"
                    );
                }
                Err(e) => {
                    warn!(service = S::NAME, error = %e, "warehouse positions not used on this assignment: starting from the committed offsets")
                }
            }
        }
        // The group's offsets catch up with the warehouse at once (lag tools and autoscalers
        // read them), not only after the next batch of each partition.
        if !resumed.is_empty() {
            if let Err(e) = self.consumer.commit(&resumed) {
                warn!(service = S::NAME, error = %e, "could not commit the warehouse's positions as the group's offsets; the next batch does");
            }
        }
        for change in self.consumer.take_assignment_changes() {
            let (what, partitions) = match &change {
                AssignmentChange::Assigned(p) => {
                    // Dead letters a previous owner's committed batches left waiting are
                    // delivered before the next batch.
                    self.look_for_waiting = true;
                    ("partitions assigned", p)
                }
                AssignmentChange::Revoked(p) => ("partitions revoked", p),
            };
            let owned = self.consumer.assignment();
            self.metrics.assignment_changed(
                what,
                &self.kafka.group,
                &partition_list(partitions),
                &partition_list(&owned),
                owned.len(),
            );
        }
        stop
    }

    /// `vault_replica_idle`, and the line that says a replica holds no partitions: at once when
    /// it becomes idle in its group, then once a minute while it holds none.
    fn report_idle(&mut self) {
        let in_group = self.consumer.in_group();
        let holding_none = self.consumer.assigned_partitions() == 0;
        let idle = holding_none && in_group;
        let became_idle = self.metrics.set_idle(idle);
        if !holding_none {
            self.idle_since = None;
            return;
        }
        let since = *self.idle_since.get_or_insert_with(Instant::now);
        if became_idle || since.elapsed() >= IDLE_LOG_EVERY {
            if in_group {
                info!(service = S::NAME, group = %self.kafka.group, topic = %self.kafka.source_topic, "idle: in the group, holding no partitions (more replicas than partitions); ready");
            } else {
                info!(service = S::NAME, group = %self.kafka.group, topic = %self.kafka.source_topic, "holding no partitions: not a member of the group (yet), or a rebalance under way");
            }
            self.idle_since = Some(Instant::now());
        }
    }

    /// Makes the consumer read `batch` again. If seeking is impossible, the consumer rejoins the
    /// group so every partition restarts from its last committed offset: it never goes on past
    /// an uncommitted batch.
    pub(super) fn rewind(&mut self, batch: &[InMessage]) {
        if let Err(e) = self.consumer.rewind(batch) {
            warn!(service = S::NAME, error = %e, "rewind failed; rejoining the group to restart from the committed offsets");
            if let Err(e) = self.consumer.reset_to_committed() {
                error!(service = S::NAME, error = %e, "rejoining the group failed");
            }
        }
    }

    pub(super) fn failed(&self, kind: &str, message: &str, failures: u32) {
        self.health.set_ready(false, &format!("{kind}: {message}"));
        self.metrics.attempt_failed(kind, message, failures);
    }

    /// librdkafka can stay out of its group after a broker came back from a freeze (seen on
    /// Kafka 4.4 with librdkafka 2.12: the coordinator is never looked up again, and the replica
    /// holds no partitions for ever). A consumer that has not been a steady member for this long
    /// is replaced by a new one, which joins afresh; nothing is lost (uncommitted work is read
    /// again).
    fn replace_consumer_if_stuck(&mut self) {
        let Some((out, state)) = self.consumer.unjoined_for() else {
            return;
        };
        if out < REJOIN_AFTER {
            return;
        }
        warn!(service = S::NAME, group = %self.kafka.group, state = %state, seconds = out.as_secs(), "not a member of the consumer group for too long: replacing the consumer");
        match BatchConsumer::with_positions(
            &self.kafka,
            warehouse_positions(&self.warehouse, &self.kafka.group),
        ) {
            Ok(fresh) => {
                let stale = std::mem::replace(&mut self.consumer, fresh);
                self.metrics.consumer_replaced(&self.kafka.group);
                if !stale.close(Duration::from_secs(2)) {
                    warn!(service = S::NAME, "the replaced consumer did not close in 2 s; left to close in the background");
                }
                self.idle_since = Some(Instant::now());
            }
            Err(e) => error!(service = S::NAME, error = %e, "could not create a new consumer"),
        }
    }

    /// After a delivery that timed out (`message.timeout.ms`: the broker gave no answer for a
    /// minute), the producer is replaced by a new one: librdkafka 2.12 was seen to keep a
    /// producer without any broker connection after a broker came back from a freeze. Nothing
    /// depends on the old one: the batch was not committed and is produced again.
    pub(super) fn replace_producer(&mut self) {
        match self.producer.renew() {
            Ok(()) => self.metrics.producer_replaced(),
            Err(e) => error!(service = S::NAME, error = %e, "could not create a new producer"),
        }
    }

    /// Readiness from live checks: the warehouse and the stage's dependencies answer, the broker
    /// has not reported an error lately, and the consumer is a member of its group — with or
    /// without partitions: a replica beyond the partition count is ready and idle
    /// (`vault_replica_idle`), so it never blocks a rollout.
    pub(super) fn refresh_health(&mut self) {
        self.replace_consumer_if_stuck();
        self.metrics.standing(
            self.consumer.assigned_partitions(),
            self.consumer.lag(),
            self.group_lag.as_ref().and_then(GroupLag::get),
        );
        self.report_idle();
        let kafka_error = self
            .consumer
            .recent_error(Duration::from_secs(10))
            .map(str::to_owned);
        let verdict = match (self.warehouse.ping(), self.stage.check()) {
            (Err(e), _) => Err(format!("postgres: {e}")),
            (_, Err(e)) => Err(e.to_string()),
            _ => match kafka_error {
                Some(e) => Err(format!("kafka: {e}")),
                None if self
                    .consumer
                    .unjoined_for()
                    .is_some_and(|(d, _)| d >= UNJOINED_NOT_READY) =>
                {
                    let (d, state) = self.consumer.unjoined_for().unwrap_or_default();
                    Err(format!(
                        "kafka: not in the consumer group for {} s ({state})",
                        d.as_secs()
                    ))
                }
                None if !self.consumer.in_group() => {
                    Err("kafka: not a member of the consumer group yet".to_owned())
                }
                None => Ok(()),
            },
        };
        match verdict {
            Ok(()) => self.health.set_ready(true, ""),
            Err(why) => self.health.set_ready(false, &why),
        }
    }
}
