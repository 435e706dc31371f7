//! Graceful shutdown: SIGTERM (Kubernetes) and SIGINT (Ctrl-C) set a flag that the batch runner
//! checks between batches and during waits. The batch in flight is finished (or abandoned
//! uncommitted, to be read again), committed work stays committed, and the process exits well
//! within the pod's grace period.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A shared "please stop" flag.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// A flag raised by SIGTERM and SIGINT.
    pub fn on_signals() -> std::io::Result<Self> {
        let flag = Shutdown::default();
        for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(signal, Arc::clone(&flag.0))?;
        }
        Ok(flag)
    }

    /// Whether a stop was asked for.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Asks for a stop (tests, fatal errors).
    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Sleeps up to `duration`, waking early when a stop is asked for.
    pub fn sleep(&self, duration: Duration) {
        let until = Instant::now() + duration;
        while !self.requested() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }
}
