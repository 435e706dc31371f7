//! Phase 3: each service's resources and metrics, the rows in every layer, the counters'
//! check, a graceful stop.

use super::*;

/// The end of a run: each service's figures, the rows in every layer, the counters' check and
/// how each service stopped.
pub(crate) struct End {
    pub(crate) stats: Vec<ServiceStats>,
    pub(crate) counts: [i64; 3],
    pub(crate) mismatches: Vec<vault_pg::check::Mismatch>,
    pub(crate) stopped: Vec<String>,
}

impl Bench {
    /// Phase 3: resources, checks, a graceful stop.
    pub(crate) fn finish(&mut self) -> End {
        let stats = self
            .pipeline
            .services
            .iter()
            .map(ServiceStats::read)
            .collect();
        let mut client = self.pipeline.db.client();
        let counts = counts(&mut client);
        let mismatches = vault_pg::check::cdm_mismatches(&mut *client).expect("check");
        let stopped = self
            .pipeline
            .terminate_all(Duration::from_secs(30))
            .into_iter()
            .map(|exit| match exit {
                Some((status, took)) if status.success() => format!("{:.1} s", took.as_secs_f64()),
                Some((status, _)) => status.to_string(),
                None => "killed after 30 s".to_owned(),
            })
            .collect();
        End {
            stats,
            counts,
            mismatches,
            stopped,
        }
    }
}

#[derive(Debug)]
pub(crate) struct ServiceStats {
    pub(crate) name: String,
    /// Its committed batches.
    pub(crate) batch: BatchProfile,
    pub(crate) errors: f64,
    pub(crate) dead_lettered: f64,
    pub(crate) cpu_seconds: f64,
    pub(crate) rss_kib: u64,
    pub(crate) hwm_kib: u64,
}

impl ServiceStats {
    /// Messages per second of batch processing (transaction to offset commit).
    pub(crate) fn busy_rate(&self) -> f64 {
        self.batch.messages / self.batch.seconds.max(1e-9)
    }

    pub(crate) fn read(s: &Service) -> ServiceStats {
        let metrics = s.metrics().unwrap_or_default();
        let samples = exposition::parse(&metrics);
        let sum = |name: &str| -> f64 { exposition::sum(&samples, name).unwrap_or(0.0) };
        let (rss_kib, hwm_kib) = s.memory_kib();
        ServiceStats {
            name: s.kind.name().to_owned(),
            batch: BatchProfile::read(s),
            errors: sum(names::ERRORS),
            dead_lettered: sum(names::DEAD_LETTERED),
            cpu_seconds: s.cpu_seconds(),
            rss_kib,
            hwm_kib,
        }
    }
}
