//! Phase 1: the backlog produced before the services start, then drained; per stage the
//! average and peak rates, the machine's and the warehouse's CPU.

use super::*;

/// The backlog phase's figures.
pub(crate) struct Backlog {
    pub(crate) sent: usize,
    pub(crate) produce_time: Duration,
    pub(crate) drain: Option<Drain>,
    /// The set-based peer on the same orders (run before the services start).
    pub(crate) peer: Option<peer::PeerRun>,
    /// Tables in which the pipeline's warehouse differs from the peer's, after the drain.
    pub(crate) differing: Option<Vec<String>>,
}

impl Bench {
    /// Phase 1: the backlog produced before the services start, then drained.
    pub(crate) fn backlog(&mut self, stop: &Shutdown) -> Backlog {
        let backlog = &self.plan.messages[..self.orders];
        let producer = vault_kafka::Producer::new(&self.source).expect("producer");
        let t = Instant::now();
        let sent = simulate::produce(
            &producer,
            &self.pipeline.topics.source,
            backlog,
            None,
            stop,
            |_| {},
        )
        .expect("produce the backlog");
        let produce_time = t.elapsed();
        interrupted(stop);
        assert_eq!(sent, backlog.len());
        println!(
            "backlog: {sent} orders produced in {produce_time:.2?} ({:.0}/s)",
            sent as f64 / produce_time.as_secs_f64()
        );
        println!(
            "starting the services (logs in {})",
            self.pipeline.dir.display()
        );
        let ids = self.pipeline.spawn_all();
        for _ in 1..self.replicas {
            self.pipeline.spawn_all();
        }
        let drain = drain(&mut self.pipeline, self.orders as i64, stop);
        if self.orders == 0 {
            self.pipeline.wait_ready(&ids, Duration::from_secs(120));
        }
        Backlog {
            sent,
            produce_time,
            drain,
            peer: None,
            differing: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1. the backlog

#[derive(Debug)]
pub(crate) struct Drain {
    pub(crate) seconds: f64,
    pub(crate) stages: [StageRate; 3],
    /// The machine's CPU busy over the drain, in cores (every process: services, servers, bench).
    pub(crate) cores_busy: f64,
    /// CPU seconds spent during the drain, by command (the largest first).
    pub(crate) by_command: Vec<(String, f64)>,
    /// CPU seconds of the warehouse's sessions by `application_name`, at the drain's end.
    pub(crate) by_session: Vec<(String, f64)>,
}

/// CPU seconds used so far by the machine's processes, by command name (`/proc/<pid>/stat`:
/// utime + stime of each live process; the children of a process that exited are not seen).
pub(crate) fn cpu_by_command() -> HashMap<String, f64> {
    let mut by: HashMap<String, f64> = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return by;
    };
    for entry in dir.flatten() {
        let pid = entry.file_name().to_str().and_then(|n| n.parse().ok());
        if let Some((command, seconds)) = pid.and_then(proc_cpu) {
            *by.entry(command).or_default() += seconds;
        }
    }
    by
}

/// (busy, all) CPU time of the machine so far, in clock ticks (`/proc/stat`).
pub(crate) fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    let all: u64 = ticks.iter().take(8).sum();
    (all - idle, all)
}

#[derive(Debug, Default)]
pub(crate) struct StageRate {
    /// Last sample without rows and first sample with all rows (s since services start).
    pub(crate) first: f64,
    pub(crate) done: f64,
    pub(crate) average: f64,
    pub(crate) peak: f64,
}

pub(crate) fn drain(pipeline: &mut Pipeline, orders: i64, stop: &Shutdown) -> Option<Drain> {
    let started = Instant::now();
    let ticks_before = cpu_ticks();
    let commands_before = cpu_by_command();
    if orders == 0 {
        return None;
    }
    let mut client = pipeline.db.client();
    let limit = Duration::from_secs(300 + orders as u64 / 100);
    // Sampled from the services' own metrics (messages of committed batches), so that the
    // measurement puts no load on the warehouse under test; the end is checked in the tables.
    let mut samples: Vec<(f64, [i64; 3])> = vec![(0.0, [0; 3])];
    let mut next = started;
    let mut counting = Duration::ZERO;
    loop {
        next += SAMPLE;
        stop.sleep(next.saturating_duration_since(Instant::now()));
        interrupted(stop);
        let q = Instant::now();
        let mut c = committed(pipeline);
        if c[2] >= orders {
            c = counts(&mut client);
        }
        counting += q.elapsed();
        let t = started.elapsed().as_secs_f64();
        samples.push((t, c));
        if samples.len() % 4 == 1 {
            println!(
                "  t={t:>6.1} s   stg {:>7}   dds {:>7}   cdm {:>7}",
                c[0], c[1], c[2]
            );
        }
        if c[2] >= orders {
            println!(
                "  t={t:>6.1} s   stg {:>7}   dds {:>7}   cdm {:>7}   drained",
                c[0], c[1], c[2]
            );
            break;
        }
        pipeline.ensure_running();
        if started.elapsed() > limit {
            panic!(
                "not drained after {limit:?}: {c:?} of {orders}\n{}",
                pipeline.diagnostics()
            );
        }
    }
    let seconds = samples.last().map_or(0.0, |s| s.0);
    let ticks_after = cpu_ticks();
    let commands_after = cpu_by_command();
    let by_session = warehouse_cpu(&mut client);
    let mut by_command: Vec<(String, f64)> = commands_after
        .iter()
        .map(|(c, after)| {
            (
                c.clone(),
                after - commands_before.get(c).copied().unwrap_or(0.0),
            )
        })
        .filter(|(_, spent)| *spent >= 0.05)
        .collect();
    by_command.sort_by(|a, b| b.1.total_cmp(&a.1));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let cores_busy = cores * (ticks_after.0 - ticks_before.0) as f64
        / (ticks_after.1 - ticks_before.1).max(1) as f64;
    println!(
        "  (a sample of the three services' metrics took {:.1} ms on average)",
        counting.as_secs_f64() * 1e3 / (samples.len() - 1).max(1) as f64
    );
    let stages = [0, 1, 2].map(|k| {
        let first = samples
            .iter()
            .rev()
            .find(|s| s.1[k] == 0)
            .map_or(0.0, |s| s.0);
        let done = samples
            .iter()
            .find(|s| s.1[k] >= orders)
            .map_or(seconds, |s| s.0);
        let peak = samples
            .windows(5)
            .map(|w| (w[4].1[k] - w[0].1[k]) as f64 / (w[4].0 - w[0].0))
            .fold(0.0, f64::max);
        StageRate {
            first,
            done,
            average: orders as f64 / (done - first).max(1e-9),
            peak,
        }
    });
    Some(Drain {
        seconds,
        stages,
        cores_busy,
        by_command,
        by_session,
    })
}
