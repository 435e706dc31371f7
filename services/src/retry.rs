//! Bounded retries with exponential backoff for transient faults (a server restarting, a lost
//! connection). Faults that need a person are returned at once.

use std::time::Duration;

/// How often and how patiently to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (at least 1; default 6).
    pub max_attempts: u32,
    /// Wait before the second attempt (default 250 ms); doubled after each failure.
    pub initial_backoff: Duration,
    /// The longest wait between attempts (default 10 s).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// An operation that failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed<E> {
    /// The last error.
    pub error: E,
    /// Attempts made (1 when the error was not retryable).
    pub attempts: u32,
}

impl RetryPolicy {
    /// No retries: one attempt.
    pub const ONCE: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
    };

    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// Runs `op` until it succeeds, fails with an error `retryable` says no to, or
    /// `max_attempts` are used up. `on_retry(attempt, error, wait)` is told before each wait.
    pub fn run<T, E>(
        &self,
        mut op: impl FnMut() -> Result<T, E>,
        retryable: impl Fn(&E) -> bool,
        mut on_retry: impl FnMut(u32, &E, Duration),
    ) -> Result<T, Failed<E>> {
        let max = self.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            match op() {
                Ok(value) => return Ok(value),
                Err(error) if attempt < max && retryable(&error) => {
                    let wait = self.backoff(attempt);
                    on_retry(attempt, &error, wait);
                    std::thread::sleep(wait);
                    attempt += 1;
                }
                Err(error) => {
                    return Err(Failed {
                        error,
                        attempts: attempt,
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_millis(250));
        assert_eq!(p.backoff(2), Duration::from_millis(500));
        assert_eq!(p.backoff(3), Duration::from_secs(1));
        assert_eq!(p.backoff(10), Duration::from_secs(10));
        assert_eq!(p.backoff(1000), Duration::from_secs(10));
    }

    #[test]
    fn retries_transient_errors_until_success() {
        let mut calls = 0;
        let mut retries = Vec::new();
        let result = fast(5).run(
            || {
                calls += 1;
                if calls < 3 {
                    Err("transient")
                } else {
                    Ok(calls)
                }
            },
            |_| true,
            |attempt, _, _| retries.push(attempt),
        );
        assert_eq!(result, Ok(3));
        assert_eq!(retries, [1, 2]);
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let mut calls = 0;
        let result: Result<(), _> = fast(4).run(
            || {
                calls += 1;
                Err("down")
            },
            |_| true,
            |_, _, _| {},
        );
        assert_eq!(
            result,
            Err(Failed {
                error: "down",
                attempts: 4
            })
        );
        assert_eq!(calls, 4);
    }

    #[test]
    fn permanent_errors_are_not_retried() {
        let mut calls = 0;
        let result: Result<(), _> = fast(4).run(
            || {
                calls += 1;
                Err("bad data")
            },
            |_| false,
            |_, _, _| {},
        );
        assert_eq!(result.map_err(|f| f.attempts), Err(1));
        assert_eq!(calls, 1);
    }
}
