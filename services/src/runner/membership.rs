//! The runner's standing in its consumer group and its readiness: assignment changes and
//! resumes logged, an idle replica reported, a consumer stuck out of its group or a producer
//! without brokers replaced, and `/readyz` refreshed from live checks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{error, info, warn};
use vault_kafka::{AssignmentChange, GroupLag, InMessage};
use vault_pg::Warehouse;

use super::config::LostOffsetsPolicy;

/// Bounds of the steps of a stop (each also within the whole stop's deadline).
const LEAVE_GROUP_MAX: Duration = Duration::from_secs(3);
const FLUSH_MAX: Duration = Duration::from_secs(1);
use super::{Runner, RunnerError, Stage, IDLE_LOG_EVERY, UNJOINED_NOT_READY};

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
    pub(super) fn log_assignment(&mut self) -> Option<RunnerError> {
        let mut stop = None;
        for lost in self.clients.consumer().take_lost() {
            self.metrics.offsets_lost(&lost);
            if self.config.lost_offsets == LostOffsetsPolicy::Stop {
                stop = Some(RunnerError::OffsetsLost(lost));
            }
        }
        let mut resumed = Vec::new();
        for resume in self.clients.consumer().take_resumes() {
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
                    ahead_of_committed = true,
                    "starting from the warehouse's position"
                    );
                }
                Err(e) => {
                    warn!(service = S::NAME, error = %e, next = "start from the committed offsets", "warehouse positions not used on this assignment")
                }
            }
        }
        // The group's offsets catch up with the warehouse at once (lag tools and autoscalers
        // read them), not only after the next batch of each partition.
        if !resumed.is_empty() {
            if let Err(e) = self.clients.consumer().commit(&resumed) {
                warn!(service = S::NAME, error = %e, next = "the next batch commits them", "cannot commit the warehouse's positions as the group's offsets");
            }
        }
        for change in self.clients.consumer().take_assignment_changes() {
            let (what, partitions) = match &change {
                AssignmentChange::Assigned(p) => {
                    // Dead letters a previous owner's committed batches left waiting are
                    // delivered before the next batch.
                    self.letters.look_for_waiting = true;
                    ("partitions assigned", p)
                }
                AssignmentChange::Revoked(p) => ("partitions revoked", p),
            };
            let owned = self.clients.consumer().assignment();
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
        let in_group = self.clients.consumer().in_group();
        let holding_none = self.clients.consumer().assigned_partitions() == 0;
        let idle = holding_none && in_group;
        let became_idle = self.metrics.set_idle(idle);
        if !holding_none {
            self.idle_since = None;
            return;
        }
        let since = *self.idle_since.get_or_insert_with(Instant::now);
        if became_idle || since.elapsed() >= IDLE_LOG_EVERY {
            if in_group {
                info!(service = S::NAME, group = %self.kafka.group, topic = %self.kafka.source_topic, why = "more replicas than partitions", ready = true, "idle: in the group, holding no partitions");
            } else {
                info!(service = S::NAME, group = %self.kafka.group, topic = %self.kafka.source_topic, why = "not a member of the group (yet), or a rebalance under way", "holding no partitions");
            }
            self.idle_since = Some(Instant::now());
        }
    }

    /// Makes the consumer read `batch` again. If seeking is impossible, the consumer rejoins the
    /// group so every partition restarts from its last committed offset: it never goes on past
    /// an uncommitted batch.
    pub(super) fn rewind(&mut self, batch: &[InMessage]) {
        if let Err(e) = self.clients.consumer().rewind(batch) {
            warn!(service = S::NAME, error = %e, next = "rejoin the group, restart from the committed offsets", "rewind failed");
            if let Err(e) = self.clients.consumer().reset_to_committed() {
                error!(service = S::NAME, error = %e, "rejoining the group failed");
            }
        }
    }

    pub(super) fn failed(&self, kind: &str, message: &str, failures: u32) {
        self.health.set_ready(false, &format!("{kind}: {message}"));
        self.metrics.attempt_failed(kind, message, failures);
    }

    /// Replaces a consumer stuck out of its group ([`vault_kafka::ServiceClients::heal_consumer`]), and says
    /// so.
    fn replace_consumer_if_stuck(&mut self) {
        let Some(rejoin) = self.clients.heal_consumer() else {
            return;
        };
        let group = &self.kafka.group;
        warn!(service = S::NAME, group = %group, state = %rejoin.state, seconds = rejoin.out_for.as_secs(), next = "replace the consumer", "out of the consumer group for too long");
        match rejoin.outcome {
            Ok(closed) => {
                self.metrics.consumer_replaced(group);
                if !closed {
                    warn!(
                        service = S::NAME,
                        timeout_s = 2,
                        next = "left to close in the background",
                        "the replaced consumer did not close in time"
                    );
                }
                self.idle_since = Some(Instant::now());
            }
            Err(e) => error!(service = S::NAME, error = %e, "could not create a new consumer"),
        }
    }

    /// After a delivery that timed out, the producer is renewed
    /// ([`vault_kafka::ServiceClients::renew_producer`]). Nothing depends on the old one: the batch was not
    /// committed and is produced again.
    pub(super) fn replace_producer(&mut self) {
        match self.clients.renew_producer() {
            Ok(()) => self.metrics.producer_replaced(),
            Err(e) => error!(service = S::NAME, error = %e, "could not create a new producer"),
        }
    }

    /// The end of a stop: leave the group, flush the producer; each step bounded, so that a
    /// broker that does not answer cannot hold the process past its deadline.
    pub(super) fn stop(self) {
        let shutdown = self.shutdown.clone();
        shutdown.step("leaving the group");
        let budget = shutdown.budget(LEAVE_GROUP_MAX);
        let (consumer, producer) = self.clients.into_parts();
        let owned = partition_list(&consumer.assignment());
        info!(service = S::NAME, timeout_ms = budget.as_millis() as u64, owned = %owned, "stopping: leaving the group");
        if consumer.close(budget) {
            info!(service = S::NAME, group = %self.kafka.group, released = %owned, "left the consumer group");
        } else {
            warn!(
                service = S::NAME,
                timeout_ms = budget.as_millis() as u64,
                why = "the broker did not answer in time",
                effect = "its partitions move once the session times out",
                "gave up on leaving the group"
            );
        }
        shutdown.step("flushing the producer");
        let budget = shutdown.budget(FLUSH_MAX);
        if !producer.close(budget) {
            warn!(
                service = S::NAME,
                timeout_ms = budget.as_millis() as u64,
                effect = "nothing committed depends on it",
                "gave up on flushing the producer"
            );
        }
    }

    /// Readiness from live checks: the warehouse and the stage's dependencies answer, the broker
    /// has not reported an error lately, and the consumer is a member of its group — with or
    /// without partitions: a replica beyond the partition count is ready and idle
    /// (`vault_replica_idle`), so it never blocks a rollout.
    pub(super) fn refresh_health(&mut self) {
        self.replace_consumer_if_stuck();
        self.metrics.standing(
            self.clients.consumer().assigned_partitions(),
            self.clients.consumer().lag(),
            self.group_lag.as_ref().and_then(GroupLag::get),
        );
        self.report_idle();
        let kafka_error = self
            .clients
            .consumer()
            .recent_error(Duration::from_secs(10))
            .map(str::to_owned);
        let verdict = match (self.warehouse.ping(), self.stage.check()) {
            (Err(e), _) => Err(format!("postgres: {e}")),
            (_, Err(e)) => Err(e.to_string()),
            _ => match kafka_error {
                Some(e) => Err(format!("kafka: {e}")),
                None if self
                    .clients
                    .consumer()
                    .unjoined_for()
                    .is_some_and(|(d, _)| d >= UNJOINED_NOT_READY) =>
                {
                    let (d, state) = self.clients.consumer().unjoined_for().unwrap_or_default();
                    Err(format!(
                        "kafka: not in the consumer group for {} s ({state})",
                        d.as_secs()
                    ))
                }
                None if !self.clients.consumer().in_group() => {
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
