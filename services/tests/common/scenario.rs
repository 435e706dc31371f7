//! What the end-to-end and fault tests share: the simulator's plan as input, and the checks of
//! the dead-letter topics against it.

use std::collections::{BTreeMap, HashMap};

use vault_core::orders::sample::Catalog;
use vault_kafka::Producer;
use vault_services::shutdown::Shutdown;
use vault_services::simulate::{plan, produce, Planned, SimulateOptions};

use super::expected::{diff, Expected};
use vault_testkit::kafka::dlq;
use vault_testkit::pipeline::Pipeline;
use vault_testkit::RedisKeys;

/// The catalog into Redis through the simulator's loader; the keys are deleted at the end.
pub fn load_catalog(catalog: &Catalog) -> RedisKeys {
    let mut redis = RedisKeys::new();
    redis.load_catalog(catalog);
    redis
}

/// A producer to the test's source topic.
pub fn producer(p: &Pipeline) -> Producer {
    Producer::new(
        &p.broker
            .kafka_config("e2e-producer", &p.topics.source, None),
    )
    .expect("a producer")
}

/// Sends every planned message to the source topic (`rate` per second, `None`: at once).
pub fn send(producer: &Producer, topic: &str, messages: &[Planned], rate: Option<f64>) {
    send_until(producer, topic, messages, rate, &Shutdown::default());
}

/// [`send`], stopping early once `stop` is requested (a test that failed meanwhile).
pub fn send_until(
    producer: &Producer,
    topic: &str,
    messages: &[Planned],
    rate: Option<f64>,
    stop: &Shutdown,
) {
    let sent = produce(producer, topic, messages, rate, stop, |_| {})
        .expect("produce the source messages");
    if !stop.requested() {
        assert_eq!(sent, messages.len());
    }
}

/// Stops a background sender when the test thread unwinds (a failed assertion), so that the
/// scope the sender runs in does not wait for it to retry against a broker that is gone.
pub struct StopOnUnwind<'a>(pub &'a Shutdown);

impl Drop for StopOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.request();
        }
    }
}

pub fn count(messages: &[Planned], f: impl Fn(&Planned) -> bool) -> usize {
    messages.iter().filter(|m| f(m)).count()
}

/// The dead-letter topic of STG against the plan: the dead letters, de-duplicated by origin
/// (a redelivery after a crash may dead-letter a message twice, from the same origin), are
/// exactly the planned garbage and unknown-id messages with their reasons, each pointing at its
/// original on the source topic. With `exactly_once`, no origin may appear twice either; with
/// `reasons`, the `vault.reason` header must be the planned reason (the tests about restarts
/// and replicas leave that to `end_to_end_exact`, so as to report their own findings).
/// Returns what is wrong.
pub fn dead_letter_problems(
    p: &Pipeline,
    expected: &Expected,
    exactly_once: bool,
    reasons: bool,
) -> Vec<String> {
    let source: BTreeMap<(i32, i64), Vec<u8>> = p
        .broker
        .read_topic(&p.topics.source)
        .into_iter()
        .map(|r| ((r.partition, r.offset), r.payload))
        .collect();
    let dead = p.broker.read_topic(&dlq(&p.topics.source));
    let mut problems = Vec::new();
    let mut origins: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    let mut letters: BTreeMap<(Vec<u8>, String), usize> = BTreeMap::new();
    for record in &dead {
        let at = format!("dead letter {}/{}", record.partition, record.offset);
        let Some(reason) = record.header("vault.reason") else {
            problems.push(format!("{at}: no vault.reason header"));
            continue;
        };
        if record.header("vault.source.topic").as_deref() != Some(p.topics.source.as_str()) {
            problems.push(format!(
                "{at}: vault.source.topic = {:?}, expected {}",
                record.header("vault.source.topic"),
                p.topics.source
            ));
        }
        let partition = record
            .header("vault.source.partition")
            .and_then(|v| v.parse::<i32>().ok());
        let offset = record
            .header("vault.source.offset")
            .and_then(|v| v.parse::<i64>().ok());
        let (Some(partition), Some(offset)) = (partition, offset) else {
            problems.push(format!(
                "{at}: vault.source.partition/offset missing or not numbers: {:?}",
                record.headers
            ));
            continue;
        };
        match source.get(&(partition, offset)) {
            Some(original) if *original == record.payload => {}
            Some(_) => problems.push(format!(
                "{at}: the source message at {partition}/{offset} has other bytes"
            )),
            None => problems.push(format!("{at}: no source message at {partition}/{offset}")),
        }
        let seen = origins.entry((partition, offset)).or_default();
        *seen += 1;
        if *seen == 1 {
            *letters.entry((record.payload.clone(), reason)).or_default() += 1;
        }
    }
    let redelivered: usize = origins.values().map(|n| n - 1).sum();
    if exactly_once && redelivered > 0 {
        problems.push(format!(
            "{redelivered} dead letter(s) written twice for the same origin"
        ));
    }
    let readable = |m: &BTreeMap<(Vec<u8>, String), usize>| -> BTreeMap<(String, String), usize> {
        m.iter()
            .map(|((bytes, reason), n)| {
                let text: String = String::from_utf8_lossy(bytes).chars().take(80).collect();
                ((reason.clone(), text), *n)
            })
            .collect()
    };
    let planned: BTreeMap<&[u8], &str> = expected
        .dead_letters
        .keys()
        .map(|(bytes, reason)| (bytes.as_slice(), reason.as_str()))
        .collect();
    if !reasons {
        let mut as_planned: BTreeMap<(Vec<u8>, String), usize> = BTreeMap::new();
        for ((bytes, reason), n) in letters {
            let reason = planned
                .get(bytes.as_slice())
                .map_or(reason, |r| (*r).to_owned());
            *as_planned.entry((bytes, reason)).or_default() += n;
        }
        letters = as_planned;
    }
    if letters != expected.dead_letters {
        // The reason STG gave where the plan says another one, per (planned, given) pair.
        let mut other_reason: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (bytes, reason) in letters.keys() {
            if let Some(&plan) = planned.get(bytes.as_slice()) {
                if plan != reason {
                    *other_reason.entry((plan, reason.as_str())).or_default() += 1;
                }
            }
        }
        if !other_reason.is_empty() {
            problems.push(format!(
                "dead-letter reason differs from the plan, (planned, given) → count: \
                 {other_reason:?}"
            ));
        }
        problems.push(
            diff(
                "dead letters (reason, payload) → count",
                &readable(&expected.dead_letters),
                &readable(&letters),
            )
            .unwrap_or_else(|| "dead letters differ in bytes beyond the first 80".to_owned()),
        );
    }
    eprintln!(
        "dead letters: {} on {} ({} redelivered); planned: {:?}",
        dead.len(),
        dlq(&p.topics.source),
        redelivered,
        expected.dead_letters_by_reason()
    );
    problems
        .into_iter()
        .map(|problem| format!("{}: {problem}", dlq(&p.topics.source)))
        .collect()
}

/// [`dead_letter_problems`], asserted.
pub fn verify_dead_letters(p: &Pipeline, expected: &Expected, exactly_once: bool, reasons: bool) {
    let problems = dead_letter_problems(p, expected, exactly_once, reasons);
    assert!(
        problems.is_empty(),
        "dead letters are not as planned:\n  {}\n{}",
        problems.join("\n  "),
        p.diagnostics()
    );
}

/// DDS and CDM refuse nothing of what STG sends them.
pub fn verify_no_downstream_dead_letters(p: &Pipeline) {
    for topic in [dlq(&p.topics.stg), dlq(&p.topics.dds)] {
        let n = p.broker.total_messages(&topic).expect("count dead letters");
        assert_eq!(n, 0, "{topic} holds dead letters\n{}", p.diagnostics());
    }
}

pub fn simulate(
    seed: u64,
    first_id: i64,
    orders: usize,
    bad: f64,
) -> vault_services::simulate::Plan {
    plan(&SimulateOptions {
        seed,
        restaurants: 4,
        users: 200,
        orders,
        duplicates: 0.1,
        cancel_after_close: 0.1,
        unknown: bad,
        garbage: bad,
        first_id,
        ..SimulateOptions::default()
    })
}

/// Downstream holds each valid source message exactly once: one enriched order on the STG
/// topic and one report on the DDS topic per valid order message the source topic holds (the
/// source topic itself is counted, so a retried produce of the test's own is accounted for).
pub fn downstream_problems(p: &Pipeline, messages: &[Planned]) -> Vec<String> {
    let forwarded: HashMap<Vec<u8>, bool> = messages
        .iter()
        .map(|m| match m {
            Planned::Order(o) => (serde_json::to_vec(o).expect("order JSON"), true),
            Planned::Unknown(o, _) => (serde_json::to_vec(o).expect("order JSON"), false),
            Planned::Garbage(bytes, _) => (bytes.clone(), false),
        })
        .collect();
    let source = p.broker.read_topic(&p.topics.source);
    let valid = source
        .iter()
        .filter(|r| forwarded.get(&r.payload) == Some(&true))
        .count() as i64;
    let mut problems = Vec::new();
    for (what, topic) in [("STG", &p.topics.stg), ("DDS", &p.topics.dds)] {
        match p.broker.total_messages(topic) {
            Ok(n) if n == valid => {}
            Ok(n) => problems.push(format!(
                "{topic} ({what} output) holds {n} message(s), expected {valid}: one per valid \
                 source message ({} more: duplicates)",
                n - valid
            )),
            Err(e) => problems.push(e),
        }
    }
    problems
}

/// Fails (with the diagnostics) unless downstream is exactly once ([`downstream_problems`]).
pub fn assert_downstream_exactly_once(p: &Pipeline, messages: &[Planned]) {
    let problems = downstream_problems(p, messages);
    assert!(
        problems.is_empty(),
        "downstream is not exactly once:\n  {}\n{}",
        problems.join("\n  "),
        p.diagnostics()
    );
}

/// One assignment change a replica logged (`partitions assigned` / `partitions revoked`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentEvent {
    /// `partitions assigned` or `partitions revoked`.
    pub what: String,
    /// The partitions handed over or taken away.
    pub partitions: std::collections::BTreeSet<i32>,
    /// What the replica owned after the change.
    pub owned: std::collections::BTreeSet<i32>,
}

/// The partitions of a runner's `topic[0,2]` list (one topic; `none` is empty).
fn partition_set(list: &str) -> std::collections::BTreeSet<i32> {
    list.split_once('[')
        .and_then(|(_, rest)| rest.strip_suffix(']'))
        .map(|inner| inner.split(',').filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}

/// The assignment changes in a service log from byte `from` on, oldest first.
pub fn assignment_events(log: &std::path::Path, from: usize) -> Vec<AssignmentEvent> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.get(from..)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|v| {
            let fields = v.get("fields")?;
            let what = fields.get("message")?.as_str()?;
            if what != "partitions assigned" && what != "partitions revoked" {
                return None;
            }
            Some(AssignmentEvent {
                what: what.to_owned(),
                partitions: partition_set(fields.get("partitions")?.as_str()?),
                owned: partition_set(fields.get("owned")?.as_str()?),
            })
        })
        .collect()
}

/// What a replica said it owns at its last assignment change (nothing: none logged yet).
pub fn owned_now(log: &std::path::Path) -> std::collections::BTreeSet<i32> {
    assignment_events(log, 0)
        .pop()
        .map(|e| e.owned)
        .unwrap_or_default()
}

/// The size of a log now (where [`assignment_events`] starts for what comes next).
pub fn log_len(log: &std::path::Path) -> usize {
    std::fs::metadata(log)
        .map(|m| m.len() as usize)
        .unwrap_or(0)
}

/// For `span` from `since`, keeps the services `ids` running and notes, for each, the first
/// `/readyz` 503 and its body (`event` says since what, in the log line).
pub fn watch_not_ready(
    p: &mut Pipeline,
    ids: &[usize],
    since: std::time::Instant,
    span: std::time::Duration,
    event: &str,
    not_ready: &mut BTreeMap<usize, String>,
) {
    while since.elapsed() < span {
        p.ensure_running();
        for &i in ids {
            if let Ok((503, body)) = p.services[i].get("/readyz") {
                not_ready.entry(i).or_insert_with(|| {
                    eprintln!(
                        "{}: /readyz 503 {:.1} s after {event}: {}",
                        p.services[i].name,
                        since.elapsed().as_secs_f64(),
                        body.trim()
                    );
                    body
                });
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// Every service of `ids` answered `/readyz` 503 at least once ([`watch_not_ready`]) `during`
/// the fault.
pub fn assert_each_was_not_ready(
    p: &Pipeline,
    ids: &[usize],
    not_ready: &BTreeMap<usize, String>,
    during: &str,
) {
    let missing: Vec<&str> = ids
        .iter()
        .filter(|i| !not_ready.contains_key(i))
        .map(|&i| p.services[i].name.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "not reported on /readyz {during}: {missing:?}\n{}",
        p.diagnostics()
    );
}
