//! Phase 0: the pipeline without services, the plan, the dictionaries; and the set-based peer
//! on the backlog's orders, compared with the pipeline's warehouse after the drain.

use super::*;
use vault_core::pipeline::vars;

/// What a run works on: the pipeline (database, topics, groups, the services once started),
/// the simulator's plan split into the three phases' orders, and the dictionaries in Redis.
pub(crate) struct Bench {
    pub(crate) pipeline: Pipeline,
    pub(crate) plan: Plan,
    pub(crate) orders: usize,
    pub(crate) nominal: usize,
    /// Replicas of each service.
    pub(crate) replicas: usize,
    pub(crate) source: KafkaConfig,
    pub(crate) _dictionaries: RedisKeys,
    /// The peer's own warehouse.
    pub(crate) peer_db: TestDb,
}

impl Bench {
    /// Phase 0: the pipeline without services, the plan, the dictionaries.
    pub(crate) fn prepare(opts: &Options) -> Bench {
        let seed = seed_or_fresh(opts.seed);
        let (pipeline, run) = bench_pipeline("bench", opts.keep_db);
        let total = opts.orders + opts.nominal + opts.burst();
        let plan = simulate::plan(&SimulateOptions {
            seed,
            orders: total,
            ..SimulateOptions::default()
        });
        assert_eq!(
            plan.messages.len(),
            total,
            "one message per order (no duplicates, no garbage)"
        );
        let mut dictionaries = RedisKeys::new();
        dictionaries.load_catalog(&plan.catalog);
        let source = pipeline
            .broker
            .kafka_config("bench-source", &pipeline.topics.source, None);
        let setting = |var: &vars::Var| {
            std::env::var(var.name).unwrap_or_else(|_| {
                format!("{} (default)", var.default_value().unwrap_or_default())
            })
        };
        println!(
            "pipeline benchmark, run {run}: {} backlog orders, {} at {}/min, {} at {}/s; seed {seed}",
            opts.orders,
            opts.nominal,
            opts.nominal_per_min,
            opts.burst(),
            opts.burst_rate
        );
        println!(
            "BATCH_MAX={} BATCH_WAIT_MS={} KAFKA_EXTRA_CONFIG={:?}, {PARTITIONS} partitions, \
             database {}, load average {}",
            setting(&vars::BATCH_MAX),
            setting(&vars::BATCH_WAIT_MS),
            std::env::var("KAFKA_EXTRA_CONFIG").unwrap_or_default(),
            pipeline.db.name,
            loadavg()
        );
        Bench {
            pipeline,
            plan,
            orders: opts.orders,
            nominal: opts.nominal,
            replicas: opts.replicas,
            source,
            _dictionaries: dictionaries,
            peer_db: TestDb::new("bench_peer"),
        }
    }

    /// The set-based peer on the backlog's orders, enriched as STG enriches them.
    pub(crate) fn peer(&mut self) -> Option<peer::PeerRun> {
        if self.orders == 0 {
            return None;
        }
        let enriched: Vec<Vec<u8>> = self.plan.messages[..self.orders]
            .iter()
            .map(|m| match m {
                Planned::Order(o) => self
                    .plan
                    .catalog
                    .enrich(o)
                    .expect("the plan's orders enrich")
                    .to_json()
                    .expect("encode"),
                _ => unreachable!("the bench plans valid orders only"),
            })
            .collect();
        println!(
            "peer: COPY {} enriched orders, INSERT … SELECT per table, GROUP BY datamarts …",
            enriched.len()
        );
        let run = peer::run(&self.peer_db, &enriched);
        println!(
            "peer: {:.1} s (COPY {:.1} s, Data Vault {:.1} s, datamarts {:.1} s)",
            run.total().as_secs_f64(),
            run.copy.as_secs_f64(),
            run.vault.as_secs_f64(),
            run.marts.as_secs_f64()
        );
        Some(run)
    }

    /// After the drain: whether the pipeline's warehouse holds what the peer's does, table by
    /// table (`None` without a backlog).
    pub(crate) fn same_as_peer(&self) -> Option<Vec<String>> {
        if self.orders == 0 {
            return None;
        }
        let ours = peer::fingerprint(&mut self.pipeline.db.client());
        let theirs = peer::fingerprint(&mut self.peer_db.client());
        Some(
            ours.iter()
                .zip(&theirs)
                .filter(|(a, b)| a != b)
                .map(|(a, b)| {
                    format!(
                        "{}: pipeline {} rows, peer {} rows (or other values)",
                        a.0, a.1, b.1
                    )
                })
                .collect(),
        )
    }

    pub(crate) fn total(&self) -> usize {
        self.plan.messages.len()
    }
}
