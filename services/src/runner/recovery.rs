//! What the runner does when a batch fails: a batch the warehouse refused for a message's data
//! is tried message by message, and the message refused alone is dead-lettered by itself; any
//! other failure makes the replica not ready, rewinds the batch and backs off.

use vault_kafka::InMessage;

use super::{Runner, Stage, StageError};

impl<S: Stage> Runner<S> {
    /// After a failed attempt: not ready, counted, the batch rewound, a backoff. A commit whose
    /// answer was lost (the connection cut while it was sent) may have gone through: its dead
    /// letters then wait in the warehouse, and the retry, finding the batch's positions
    /// recorded, does not decide them again. They are delivered before the next attempt.
    pub(super) fn retry_later(&mut self, batch: &[InMessage], err: &StageError, failures: u32) {
        self.failed(err.kind(), &err.to_string(), failures);
        self.letters.look_for_waiting = true;
        if err.is_delivery_timeout() {
            self.replace_producer();
        }
        self.rewind(batch);
        self.shutdown.sleep(self.backoff.backoff(failures));
    }

    /// The batch; if the warehouse refused it for a message's data, each message alone.
    pub(super) fn attempt_or_isolate(&mut self, batch: &[InMessage]) -> Result<(), StageError> {
        match self.attempt(batch) {
            Err(err) if err.blames_message() => {
                self.metrics.batch_refused(&err, batch.len());
                self.isolate(batch)
            }
            other => other,
        }
    }

    /// After a failure that blames a message's data: each message alone; the one the warehouse
    /// refuses alone for its data goes to the dead-letter topic by itself. Any other failure on
    /// the way (the warehouse gone read-only meanwhile, say) ends the pass: the caller retries
    /// the whole batch.
    fn isolate(&mut self, batch: &[InMessage]) -> Result<(), StageError> {
        for message in batch {
            match self.attempt(std::slice::from_ref(message)) {
                Ok(()) => {}
                // The caller rewinds to the batch start; what was done is replayed idempotently.
                Err(err) if !err.blames_message() => return Err(err),
                Err(err) => {
                    let reason = err.reject_reason();
                    self.metrics
                        .refused_for_good(reason.as_str(), &err, message);
                    self.refuse(message, reason, err.to_string())?;
                }
            }
        }
        Ok(())
    }
}
