//! Graceful, bounded shutdown — the one module that decides how a process stops.
//!
//! * The first SIGTERM (Kubernetes) or SIGINT (Ctrl-C) raises a flag that the batch runner checks
//!   between batches and during every wait: the batch in flight is finished, or abandoned
//!   uncommitted (it is read again by the next owner), committed work stays committed.
//! * From that signal on, the whole stop has one deadline (`SHUTDOWN_TIMEOUT_MS`, default 8 s).
//!   Each step of the stop has its own, shorter bound ([`Shutdown::step`]); if the deadline
//!   passes anyway — a broker that accepts connections and answers nothing can hold librdkafka
//!   for minutes — the process logs the step it gave up on and exits. Nothing is lost either way:
//!   offsets are committed only after the warehouse committed.
//! * A second SIGTERM or SIGINT exits at once.
//!
//! [`Shutdown::default`] is a flag without signals or deadline (tests, library callers).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tracing::{error, info, warn};
use vault_core::pipeline::vars;

/// The default of `SHUTDOWN_TIMEOUT_MS`: well within the services' promised 10 s and
/// Kubernetes' default grace period of 30 s.
pub const DEFAULT_TIMEOUT: Duration =
    Duration::from_millis(vars::SHUTDOWN_TIMEOUT_MS.default_count());

#[derive(Debug, Default)]
struct State {
    /// What the process is doing now (for the log line at the deadline).
    step: Mutex<&'static str>,
    /// When the stop was asked for.
    since: Mutex<Option<Instant>>,
}

/// A shared "please stop" flag, with the deadline of the stop.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    flag: Arc<AtomicBool>,
    state: Arc<State>,
    timeout: Option<Duration>,
}

impl Shutdown {
    /// A flag raised by SIGTERM and SIGINT, with the default deadline.
    pub fn on_signals() -> std::io::Result<Self> {
        Self::on_signals_with(DEFAULT_TIMEOUT)
    }

    /// A flag raised by SIGTERM and SIGINT; once raised, the process exits at the latest
    /// `timeout` later, and at once on a second signal.
    pub fn on_signals_with(timeout: Duration) -> std::io::Result<Self> {
        let shutdown = Shutdown {
            timeout: Some(timeout),
            ..Shutdown::default()
        };
        let mut signals = Signals::new([SIGTERM, SIGINT])?;
        let watcher = shutdown.clone();
        std::thread::Builder::new()
            .name("shutdown-signals".into())
            .spawn(move || {
                let mut seen = 0;
                for signal in signals.forever() {
                    seen += 1;
                    let name = if signal == SIGINT {
                        "SIGINT"
                    } else {
                        "SIGTERM"
                    };
                    if seen > 1 {
                        warn!(
                            signal = name,
                            step = watcher.current_step(),
                            "second signal: exiting now"
                        );
                        std::process::exit(128 + signal);
                    }
                    info!(
                        signal = name,
                        timeout_ms = timeout.as_millis() as u64,
                        "stop requested"
                    );
                    watcher.request();
                    watcher.arm_deadline(timeout);
                }
            })?;
        Ok(shutdown)
    }

    /// Whether a stop was asked for.
    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Asks for a stop (tests, fatal errors).
    pub fn request(&self) {
        if let Ok(mut since) = self.state.since.lock() {
            since.get_or_insert_with(Instant::now);
        }
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Records what the process does now; the deadline's log line names it.
    pub fn step(&self, step: &'static str) {
        if let Ok(mut current) = self.state.step.lock() {
            *current = step;
        }
    }

    fn current_step(&self) -> &'static str {
        self.state.step.lock().map(|s| *s).unwrap_or("?")
    }

    /// How much of the stop's deadline is left (`None`: no stop asked for, or no deadline).
    pub fn time_left(&self) -> Option<Duration> {
        let timeout = self.timeout?;
        let since = (*self.state.since.lock().ok()?)?;
        Some(timeout.saturating_sub(since.elapsed()))
    }

    /// A bound for one step of the stop: at most `cap`, and never past the deadline.
    pub fn budget(&self, cap: Duration) -> Duration {
        self.time_left().map_or(cap, |left| left.min(cap))
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

    /// Exits the process once the deadline has passed, naming the step it gave up on.
    fn arm_deadline(&self, timeout: Duration) {
        let watcher = self.clone();
        let spawned = std::thread::Builder::new()
            .name("shutdown-deadline".into())
            .spawn(move || {
                std::thread::sleep(timeout);
                error!(
                    timeout_ms = timeout.as_millis() as u64,
                    gave_up_on = watcher.current_step(),
                    "shutdown deadline reached: exiting without finishing this step \
                     (nothing uncommitted is lost: it is read again by the next owner)"
                );
                std::process::exit(0);
            });
        if let Err(e) = spawned {
            error!(error = %e, "could not start the shutdown deadline thread");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_capped_by_the_deadline() {
        let plain = Shutdown::default();
        assert_eq!(plain.time_left(), None);
        assert_eq!(plain.budget(Duration::from_secs(3)), Duration::from_secs(3));

        let bounded = Shutdown {
            timeout: Some(Duration::from_secs(2)),
            ..Shutdown::default()
        };
        assert_eq!(bounded.time_left(), None, "no stop asked for yet");
        bounded.request();
        assert!(bounded.requested());
        let left = bounded.time_left().expect("a deadline");
        assert!(left <= Duration::from_secs(2) && left > Duration::from_secs(1));
        assert!(bounded.budget(Duration::from_secs(5)) <= Duration::from_secs(2));
        assert_eq!(
            bounded.budget(Duration::from_millis(10)),
            Duration::from_millis(10)
        );
    }

    #[test]
    fn sleep_wakes_on_request() {
        let shutdown = Shutdown::default();
        let other = shutdown.clone();
        let started = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                other.request();
            });
            shutdown.sleep(Duration::from_secs(30));
        });
        assert!(started.elapsed() < Duration::from_secs(5));
        shutdown.step("leaving the group");
        assert_eq!(shutdown.current_step(), "leaving the group");
    }
}
