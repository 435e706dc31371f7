//! Liveness and readiness, updated by the batch runner and read by the HTTP endpoint.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Liveness and readiness, updated by the batch runner.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
    reason: std::sync::Mutex<String>,
    heartbeat: AtomicU64,
    waiting: std::sync::Mutex<Option<(std::time::Instant, &'static str)>>,
}

/// A wait on a dependency longer than this makes the service not ready, live: the runner is
/// inside a batch and cannot refresh its readiness meanwhile (a broker that died while the
/// batch waited for its acknowledgements, say).
pub const STALLED_AFTER: Duration = Duration::from_secs(5);

impl Health {
    /// Marks the runner alive now.
    pub fn beat(&self) {
        self.heartbeat.store(now_secs(), Ordering::Relaxed);
    }

    /// Ready (partitions assigned, warehouse reachable) or not, with why not.
    pub fn set_ready(&self, ready: bool, reason: &str) {
        self.ready.store(ready, Ordering::Relaxed);
        if let Ok(mut r) = self.reason.lock() {
            reason.clone_into(&mut r);
        }
    }

    /// The runner starts (`Some(what)`, e.g. `kafka: waiting for acknowledgements`) or ends
    /// (`None`) a wait on a dependency.
    pub fn waiting(&self, what: Option<&'static str>) {
        if let Ok(mut waiting) = self.waiting.lock() {
            *waiting = what.map(|w| (std::time::Instant::now(), w));
        }
    }

    /// Whether the service takes traffic, and why not.
    pub fn ready(&self) -> (bool, String) {
        let stalled = self
            .waiting
            .lock()
            .ok()
            .and_then(|w| *w)
            .filter(|(since, _)| since.elapsed() >= STALLED_AFTER);
        if let Some((since, what)) = stalled {
            return (false, format!("{what} for {} s", since.elapsed().as_secs()));
        }
        let reason = self.reason.lock().map(|r| r.clone()).unwrap_or_default();
        (self.ready.load(Ordering::Relaxed), reason)
    }

    /// Whether the runner loop has beaten within `window` (a stuck loop fails liveness).
    pub fn alive(&self, window: Duration) -> bool {
        now_secs().saturating_sub(self.heartbeat.load(Ordering::Relaxed)) <= window.as_secs()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
