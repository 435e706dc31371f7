//! `vault watch`: each running stage's counters from its `/metrics` endpoint, redrawn once a
//! second, optionally until the pipeline is drained. Scraping ([`scrape`]), the "drained" rule
//! ([`Progress`]) and the drawing ([`Screen`]) are apart.

use std::io::{IsTerminal, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::exposition::{parse as parse_exposition, sum};
use crate::ops::names;

/// The counters of one stage, summed over label values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageCounters {
    /// Messages consumed: `vault_batch_size_messages_sum` (committed batches).
    pub consumed: f64,
    /// `vault_messages_produced_total`.
    pub produced: f64,
    /// `vault_messages_dead_lettered_total`.
    pub dead_lettered: f64,
    /// `vault_consumer_lag_messages`.
    pub lag: f64,
    /// `vault_errors_total`.
    pub errors: f64,
    /// `vault_process_resident_memory_bytes`.
    pub rss_bytes: f64,
}

/// Reads a stage's `/metrics` (`addr` as `host:port`).
pub fn scrape(addr: &str) -> std::io::Result<StageCounters> {
    let socket = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{addr}: no address")))?;
    let mut stream = TcpStream::connect_timeout(&socket, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: vault\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok(parse(body))
}

/// Sums the samples of the metrics a stage exposes.
pub fn parse(text: &str) -> StageCounters {
    let samples = parse_exposition(text);
    let get = |name| sum(&samples, name).unwrap_or(0.0);
    StageCounters {
        consumed: get(names::BATCH_SIZE_SUM),
        produced: get(names::PRODUCED),
        dead_lettered: get(names::DEAD_LETTERED),
        lag: get(names::CONSUMER_LAG),
        errors: get(names::ERRORS),
        rss_bytes: get(names::RSS),
    }
}

/// What to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchOptions {
    /// `(name, host:port)` of each stage, in pipeline order.
    pub stages: Vec<(String, String)>,
    /// Stop once drained (three rounds in a row).
    pub until_drained: bool,
    /// The first stage must have consumed at least this many messages to be drained.
    pub expect: u64,
    /// Give up after this long.
    pub timeout: Duration,
}

/// How a watch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEnd {
    /// Drained (with `until_drained`).
    Drained,
    /// The timeout passed first.
    TimedOut,
}

/// One round's reading of a stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// Its counters and its consumption rate since the last round.
    Counters(StageCounters, f64),
    /// It could not be scraped.
    Unreachable(String),
}

/// The "drained" rule over rounds of readings: the first stage consumed what was expected,
/// and every later stage consumed at least what the stage before it produced (a live trickle
/// may still be flowing).
#[derive(Debug, Default)]
pub struct Progress {
    previous: Vec<Option<(Instant, StageCounters)>>,
    drained_rounds: u32,
}

impl Progress {
    /// Takes one round of scrapes (in stage order) at `now`; returns the readings.
    pub fn round(
        &mut self,
        now: Instant,
        expect: u64,
        scraped: Vec<Result<StageCounters, String>>,
    ) -> Vec<Reading> {
        self.previous.resize(scraped.len(), None);
        let mut drained = true;
        let mut upstream_produced: Option<f64> = None;
        let mut readings = Vec::new();
        for (i, result) in scraped.into_iter().enumerate() {
            match result {
                Ok(c) => {
                    let rate = self.previous[i].map_or(0.0, |(t, p)| {
                        (c.consumed - p.consumed) / now.duration_since(t).as_secs_f64().max(1e-3)
                    });
                    let behind = match upstream_produced {
                        None => c.consumed < expect as f64,
                        Some(produced) => c.consumed < produced,
                    };
                    drained &= !behind;
                    upstream_produced = Some(c.produced);
                    self.previous[i] = Some((now, c));
                    readings.push(Reading::Counters(c, rate));
                }
                Err(e) => {
                    drained = false;
                    readings.push(Reading::Unreachable(e));
                }
            }
        }
        self.drained_rounds = if drained { self.drained_rounds + 1 } else { 0 };
        readings
    }

    /// Drained for three rounds in a row.
    pub fn drained(&self) -> bool {
        self.drained_rounds >= 3
    }
}

/// The table of one round, as text lines (a header, then a line per stage).
pub fn lines(elapsed: Duration, stages: &[(String, String)], readings: &[Reading]) -> Vec<String> {
    let mut lines = vec![format!(
        "{:>7.1}s  {:<6} {:>10} {:>10} {:>13} {:>8} {:>10} {:>8}",
        elapsed.as_secs_f64(),
        "stage",
        "consumed",
        "produced",
        "dead-lettered",
        "lag",
        "orders/s",
        "RSS MiB"
    )];
    for ((name, addr), reading) in stages.iter().zip(readings) {
        lines.push(match reading {
            Reading::Counters(c, rate) => format!(
                "          {:<6} {:>10} {:>10} {:>13} {:>8} {:>10.0} {:>8.1}",
                name,
                c.consumed,
                c.produced,
                c.dead_lettered,
                c.lag,
                rate,
                c.rss_bytes / 1048576.0
            ),
            Reading::Unreachable(e) => format!("          {name:<6} unreachable at {addr}: {e}"),
        });
    }
    lines
}

/// Where the table goes: redrawn in place on a terminal (stderr), else printed every 5 s.
#[derive(Debug)]
pub struct Screen {
    tty: bool,
    drawn: usize,
    last_print: Option<Instant>,
}

impl Screen {
    /// A screen on stderr if it is a terminal.
    pub fn new() -> Self {
        Screen {
            tty: std::io::stderr().is_terminal(),
            drawn: 0,
            last_print: None,
        }
    }

    /// Shows one round.
    pub fn show(&mut self, lines: &[String], out: &mut dyn Write) -> std::io::Result<()> {
        if self.tty {
            let mut err = std::io::stderr().lock();
            if self.drawn > 0 {
                write!(err, "\x1b[{}A", self.drawn)?;
            }
            for line in lines {
                writeln!(err, "\x1b[2K{line}")?;
            }
            self.drawn = lines.len();
        } else if self
            .last_print
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(5))
        {
            self.last_print = Some(Instant::now());
            writeln!(out, "{}", lines.join("\n"))?;
        }
        Ok(())
    }
}

impl Default for Screen {
    fn default() -> Self {
        Self::new()
    }
}

/// Watches until drained (with `until_drained`) or the timeout; one round a second.
pub fn watch(options: &WatchOptions, out: &mut dyn Write) -> std::io::Result<WatchEnd> {
    let started = Instant::now();
    let mut progress = Progress::default();
    let mut screen = Screen::new();
    loop {
        let scraped = options
            .stages
            .iter()
            .map(|(_, addr)| scrape(addr).map_err(|e| e.to_string()))
            .collect();
        let readings = progress.round(Instant::now(), options.expect, scraped);
        screen.show(&lines(started.elapsed(), &options.stages, &readings), out)?;
        if options.until_drained && progress.drained() {
            writeln!(
                out,
                "drained after {:.1} s",
                started.elapsed().as_secs_f64()
            )?;
            return Ok(WatchEnd::Drained);
        }
        if started.elapsed() >= options.timeout {
            writeln!(out, "not drained after {} s", options.timeout.as_secs())?;
            return Ok(WatchEnd::TimedOut);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_labelled_samples() {
        let text = "# HELP x\nvault_batch_size_messages_sum{service=\"stg-service\"} 10\n\
                    vault_messages_dead_lettered_total{reason=\"invalid_json\",service=\"s\"} 2\n\
                    vault_messages_dead_lettered_total{reason=\"unknown_user\",service=\"s\"} 3\n\
                    vault_consumer_lag_messages{service=\"s\"} 7\nother 1\n";
        let c = parse(text);
        assert_eq!(
            (c.consumed, c.dead_lettered, c.lag, c.produced),
            (10.0, 5.0, 7.0, 0.0)
        );
    }

    fn counters(consumed: f64, produced: f64) -> Result<StageCounters, String> {
        Ok(StageCounters {
            consumed,
            produced,
            ..StageCounters::default()
        })
    }

    #[test]
    fn drained_once_every_stage_caught_up_three_rounds_in_a_row() {
        let mut p = Progress::default();
        let t = Instant::now();
        // The first stage has not consumed the expected 100 yet.
        p.round(t, 100, vec![counters(90.0, 90.0), counters(90.0, 90.0)]);
        assert!(!p.drained());
        for k in 1..=3 {
            let r = p.round(
                t + Duration::from_secs(k),
                100,
                vec![counters(100.0, 98.0), counters(98.0, 98.0)],
            );
            assert_eq!(p.drained(), k == 3);
            if k == 1 {
                assert_eq!(
                    r[0],
                    Reading::Counters(counters(100.0, 98.0).unwrap_or_default(), 10.0)
                );
            }
        }
        // The second stage falls behind what the first produced: not drained any more.
        p.round(
            t + Duration::from_secs(5),
            100,
            vec![counters(120.0, 120.0), counters(98.0, 98.0)],
        );
        assert!(!p.drained());
        // An unreachable stage is never drained.
        p.round(t, 0, vec![counters(1.0, 1.0), Err("refused".into())]);
        assert!(!p.drained());
    }
}
