//! Re-send bookkeeping: which source messages a failed attempt had already produced
//! downstream, so that their next successful attempt counts them as re-sent
//! (`vault_messages_resent_total`).

use std::collections::BTreeMap;

use vault_kafka::{positions, InMessage};

/// Per source partition, the highest offset whose downstream messages a failed attempt
/// produced.
#[derive(Debug, Default)]
pub(super) struct Unconfirmed(BTreeMap<(String, i32), i64>);

impl Unconfirmed {
    /// An attempt at `batch` failed after producing downstream.
    pub(super) fn produced_by_failed(&mut self, batch: &[InMessage]) {
        for p in positions(batch) {
            let slot = self.0.entry((p.topic, p.partition)).or_insert(-1);
            *slot = (*slot).max(p.next_offset - 1);
        }
    }

    /// `batch` committed: how many of its messages a failed attempt had produced already (the
    /// partitions it covers are forgotten).
    pub(super) fn committed(&mut self, batch: &[InMessage]) -> usize {
        if self.0.is_empty() {
            return 0;
        }
        let resent = batch
            .iter()
            .filter(|m| {
                self.0
                    .get(&(m.topic.clone(), m.partition))
                    .is_some_and(|&upto| m.offset <= upto)
            })
            .count();
        for p in positions(batch) {
            let key = (p.topic, p.partition);
            if self.0.get(&key).is_some_and(|&upto| upto < p.next_offset) {
                self.0.remove(&key);
            }
        }
        resent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(partition: i32, offsets: std::ops::Range<i64>) -> Vec<InMessage> {
        offsets
            .map(|offset| InMessage {
                topic: "t".into(),
                partition,
                offset,
                key: None,
                payload: Vec::new(),
                headers: Vec::new(),
                timestamp_ms: None,
            })
            .collect()
    }

    /// What a failed attempt produced counts as re-sent once, when a later batch commits it.
    #[test]
    fn counts_what_a_failed_attempt_had_produced_once() {
        let mut unconfirmed = Unconfirmed::default();
        assert_eq!(unconfirmed.committed(&batch(0, 0..5)), 0);
        unconfirmed.produced_by_failed(&batch(0, 5..10));
        assert_eq!(
            unconfirmed.committed(&batch(1, 5..10)),
            0,
            "another partition"
        );
        assert_eq!(unconfirmed.committed(&batch(0, 5..8)), 3, "part of it");
        assert_eq!(unconfirmed.committed(&batch(0, 8..12)), 2, "the rest");
        assert_eq!(unconfirmed.committed(&batch(0, 8..12)), 0, "forgotten");
    }
}
