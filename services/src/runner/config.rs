//! The runner's own settings (`BATCH_*`, `HTTP_PORT`, `SHUTDOWN_TIMEOUT_MS`,
//! `KAFKA_LOST_OFFSETS`).

use std::time::Duration;

use vault_core::pipeline::{vars, ConfigError, Env};

/// Batching and HTTP settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerConfig {
    /// `BATCH_MAX` (default 1000): messages per batch at most.
    pub batch_max: usize,
    /// `BATCH_WAIT_MS` (default 200): the longest idle wait for a first message, and the
    /// longest a batch stays open while data keeps arriving (it closes as soon as nothing more
    /// is buffered).
    pub batch_wait: Duration,
    /// `HTTP_PORT` (default 5000): health and metrics.
    pub http_port: u16,
    /// `SHUTDOWN_TIMEOUT_MS` (default 8000): the bound of a stop, from SIGTERM to exit.
    pub shutdown_timeout: Duration,
    /// `KAFKA_LOST_OFFSETS` (default `skip`): what a replica does when the broker deleted
    /// offsets of a partition it takes before they were read.
    pub lost_offsets: LostOffsetsPolicy,
}

/// What to do about offsets deleted upstream (retention) before they were read. Either way the
/// loss is logged (one ERROR per partition, with the range) and counted
/// (`vault_offsets_lost_total`, alert `VaultOffsetsLost`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostOffsetsPolicy {
    /// `skip`: go on from the partition's first offset (what is there is still loaded).
    Skip,
    /// `stop`: stop the service (exit 1) before it reads anything past the gap, for a person to
    /// decide (restore the topic, or move the positions with `vault positions`).
    Stop,
}

impl std::str::FromStr for LostOffsetsPolicy {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "skip" => Ok(LostOffsetsPolicy::Skip),
            "stop" => Ok(LostOffsetsPolicy::Stop),
            _ => Err("expected skip or stop"),
        }
    }
}

impl RunnerConfig {
    /// Reads the variables.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let batch_max: usize = env.value(&vars::BATCH_MAX)?;
        if batch_max == 0 {
            return Err(ConfigError::Invalid {
                name: vars::BATCH_MAX.name.into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        let shutdown_ms: u64 = env.value(&vars::SHUTDOWN_TIMEOUT_MS)?;
        if shutdown_ms < 1000 {
            return Err(ConfigError::Invalid {
                name: vars::SHUTDOWN_TIMEOUT_MS.name.into(),
                value: shutdown_ms.to_string(),
                reason: "must be at least 1000 (a clean stop needs a moment to leave the group)"
                    .into(),
            });
        }
        Ok(RunnerConfig {
            batch_max,
            batch_wait: Duration::from_millis(env.value(&vars::BATCH_WAIT_MS)?),
            http_port: env.value(&vars::HTTP_PORT)?,
            lost_offsets: env.value(&vars::KAFKA_LOST_OFFSETS)?,
            shutdown_timeout: Duration::from_millis(shutdown_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vault_core::pipeline::env_from_pairs;

    #[test]
    fn defaults_are_the_declared_ones() {
        let config = RunnerConfig::from_env(&env_from_pairs(&[])).expect("defaults");
        assert_eq!(config.shutdown_timeout, crate::shutdown::DEFAULT_TIMEOUT);
        assert_eq!((config.batch_max, config.http_port), (1000, 5000));
    }
}
