//! Test-only hooks into the batch flow: where a test makes the process die on purpose, to show
//! what a crash there leaves behind (`services/tests/resume.rs`). The runner calls a [`Hooks`]
//! at those points and knows nothing of failpoints; a service installs [`Failpoint`] only when
//! `VAULT_TEST_FAILPOINT` is set, never in production.

use tracing::error;

/// Points of the batch flow a test may act at. Every method does nothing by default.
pub trait Hooks: Send {
    /// The warehouse committed this process's `batch`-th batch (1 = its first); its offsets are
    /// not committed yet and its dead letters not produced.
    fn after_warehouse_commit(&mut self, batch: u64) {
        let _ = batch;
    }

    /// The broker acknowledged this process's `delivery`-th delivery of dead letters (1 = its
    /// first); the warehouse has not forgotten them yet (the outbox rows stay).
    fn after_dead_letter_delivery(&mut self, delivery: u64) {
        let _ = delivery;
    }
}

/// No hooks: what production runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {}

/// A place where the process aborts (no unwinding, no clean-up: as SIGKILL), named by
/// `VAULT_TEST_FAILPOINT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    /// `after-warehouse-commit:N`: after the warehouse committed the N-th batch and before its
    /// offsets are committed to Kafka.
    AfterWarehouseCommit {
        /// Which batch (1 = the first this process commits).
        batch: u64,
    },
    /// `after-dead-letter-produce:N`: after the broker acknowledged the N-th delivery of dead
    /// letters and before the warehouse forgets them.
    AfterDeadLetterProduce {
        /// Which delivery (1 = the first this process makes).
        delivery: u64,
    },
}

impl std::str::FromStr for Failpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, n) = s.split_once(':').unwrap_or((s, "1"));
        let count: u64 = n
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("batch number {n:?} is not a positive integer"))?;
        match name {
            "after-warehouse-commit" => Ok(Failpoint::AfterWarehouseCommit { batch: count }),
            "after-dead-letter-produce" => {
                Ok(Failpoint::AfterDeadLetterProduce { delivery: count })
            }
            other => Err(format!(
                "unknown failpoint {other:?} (known: after-warehouse-commit[:N], \
                 after-dead-letter-produce[:N])"
            )),
        }
    }
}

impl Hooks for Failpoint {
    fn after_warehouse_commit(&mut self, batch: u64) {
        if *self == (Failpoint::AfterWarehouseCommit { batch }) {
            error!(
                batch,
                before = "the offset commit",
                "VAULT_TEST_FAILPOINT after-warehouse-commit: aborting"
            );
            std::process::abort();
        }
    }

    fn after_dead_letter_delivery(&mut self, delivery: u64) {
        if *self == (Failpoint::AfterDeadLetterProduce { delivery }) {
            error!(
                delivery,
                before = "the warehouse forgets the dead letters",
                "VAULT_TEST_FAILPOINT after-dead-letter-produce: aborting"
            );
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failpoints_parse_with_their_count() {
        assert_eq!(
            "after-warehouse-commit:3".parse(),
            Ok(Failpoint::AfterWarehouseCommit { batch: 3 })
        );
        assert_eq!(
            "after-dead-letter-produce".parse(),
            Ok(Failpoint::AfterDeadLetterProduce { delivery: 1 })
        );
        for bad in [
            "after-warehouse-commit:0",
            "after-warehouse-commit:x",
            "nowhere:1",
        ] {
            assert!(bad.parse::<Failpoint>().is_err(), "{bad}");
        }
        // A hook that does not match goes on.
        Failpoint::AfterWarehouseCommit { batch: 3 }.after_warehouse_commit(2);
        Failpoint::AfterWarehouseCommit { batch: 3 }.after_dead_letter_delivery(3);
        NoHooks.after_warehouse_commit(1);
    }
}
