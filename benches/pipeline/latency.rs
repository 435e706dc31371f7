//! Phase 2: latency order-in → counter-visible at the nominal rate, then in a burst.

use super::*;

impl Bench {
    /// Phase 2: latency at the nominal rate, then in a burst.
    pub(crate) fn latency_windows(
        &mut self,
        opts: &Options,
        stop: &Shutdown,
    ) -> [Option<Window>; 2] {
        let acker = Acker::new(&self.source);
        let rest = &self.plan.messages[self.orders..];
        let (nominal, burst) = rest.split_at(self.nominal);
        let topic = self.pipeline.topics.source.clone();
        let nominal = latency(
            &format!(
                "nominal: {} orders at {}/min",
                nominal.len(),
                opts.nominal_per_min
            ),
            nominal,
            opts.nominal_per_min / 60.0,
            &topic,
            &acker,
            &mut self.pipeline,
            stop,
        );
        let burst = latency(
            &format!("burst: {} orders at {}/s", burst.len(), opts.burst_rate),
            burst,
            opts.burst_rate,
            &topic,
            &acker,
            &mut self.pipeline,
            stop,
        );
        [nominal, burst]
    }
}

// ---------------------------------------------------------------------------------------------
// 2. latency

/// Records the wall-clock time of each source message's acknowledgement.
#[derive(Debug, Default)]
pub(crate) struct AckClock {
    pub(crate) acked: Mutex<HashMap<i64, SystemTime>>,
    pub(crate) failed: Mutex<Vec<String>>,
}

impl ClientContext for AckClock {}

impl ProducerContext<NoCustomPartitioner> for AckClock {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, id: usize) {
        let now = SystemTime::now();
        match result {
            Ok(_) => {
                if let Ok(mut acked) = self.acked.lock() {
                    acked.insert(id as i64, now);
                }
            }
            Err((e, _)) => {
                if let Ok(mut failed) = self.failed.lock() {
                    failed.push(format!("order {id}: {e}"));
                }
            }
        }
    }
}

pub(crate) struct Acker(pub(crate) ThreadedProducer<AckClock>);

impl Acker {
    /// A producer with the services' settings (`KafkaConfig::producer_config`).
    pub(crate) fn new(config: &KafkaConfig) -> Acker {
        Acker(
            config
                .producer_config()
                .create_with_context(AckClock::default())
                .expect("latency producer"),
        )
    }

    pub(crate) fn clock(&self) -> &AckClock {
        self.0.context()
    }
}

pub(crate) const HOP_APPLIED: &str = "ack → cdm applied_at";

#[derive(Debug)]
pub(crate) struct Window {
    pub(crate) label: String,
    pub(crate) hops: Vec<(&'static str, Vec<f64>)>,
}

pub(crate) fn latency(
    label: &str,
    orders: &[Planned],
    per_second: f64,
    topic: &str,
    acker: &Acker,
    pipeline: &mut Pipeline,
    stop: &Shutdown,
) -> Option<Window> {
    if orders.is_empty() {
        return None;
    }
    let warehouse: Warehouse = pipeline.db.warehouse.clone();
    println!(
        "latency, {label} (~{:.0} s) …",
        (orders.len() - 1) as f64 / per_second
    );
    let ids: Vec<i64> = orders
        .iter()
        .map(|m| match m {
            Planned::Order(o) | Planned::Unknown(o, _) => o.object_id,
            Planned::Garbage(..) => unreachable!("no garbage planned"),
        })
        .collect();
    let keys: HashMap<i64, Uuid> = ids
        .iter()
        .map(|id| (*id, KeySpec::SEED.hub(&id.to_string())))
        .collect();
    let clock = acker.clock();
    if let Ok(mut a) = clock.acked.lock() {
        a.clear();
    }

    // Who sees each ledger row first: a poll every 50 ms over the acknowledged, unseen orders.
    let done = Arc::new(AtomicBool::new(false));
    let visible: HashMap<i64, SystemTime> = std::thread::scope(|scope| {
        let poller = {
            let done = Arc::clone(&done);
            let keys = &keys;
            let mut client = warehouse.client().expect("client");
            scope.spawn(move || {
                let mut seen: HashMap<i64, SystemTime> = HashMap::new();
                loop {
                    let finished = done.load(Ordering::Relaxed);
                    let pending: Vec<Uuid> = clock
                        .acked
                        .lock()
                        .map(|a| {
                            a.keys()
                                .filter(|id| !seen.contains_key(id))
                                .map(|id| keys[id])
                                .collect()
                        })
                        .unwrap_or_default();
                    if finished || (pending.is_empty() && seen.len() == keys.len()) {
                        return seen;
                    }
                    let at = SystemTime::now();
                    if !pending.is_empty() {
                        let rows = client
                            .query(
                                "SELECT h.order_id FROM cdm.order_ledger l \
                                 JOIN dds.h_order h ON h.h_order_pk = l.order_id \
                                 WHERE l.order_id = ANY($1)",
                                &[&pending],
                            )
                            .expect("poll the ledger");
                        for row in rows {
                            seen.insert(row.get(0), at);
                        }
                    }
                    std::thread::sleep(POLL);
                }
            })
        };

        // Stops the poller however this closure ends (a panic included).
        let _stop_poller = StopOnDrop(Arc::clone(&done));
        let started = Instant::now();
        for (i, message) in orders.iter().enumerate() {
            let due = started + Duration::from_secs_f64(i as f64 / per_second);
            stop.sleep(due.saturating_duration_since(Instant::now()));
            if stop.requested() {
                break;
            }
            let record = message.record(topic);
            let key = record.key.unwrap_or_default();
            let mut base = BaseRecord::with_opaque_to(topic, ids[i] as usize)
                .key(&key[..])
                .payload(&record.payload[..]);
            loop {
                match acker.0.send(base) {
                    Ok(()) => break,
                    Err((e, back))
                        if e.rdkafka_error_code()
                            == Some(rdkafka::types::RDKafkaErrorCode::QueueFull) =>
                    {
                        base = back;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err((e, _)) => panic!("produce order {}: {e}", ids[i]),
                }
            }
        }
        let _ = acker.0.flush(Duration::from_secs(30));
        let send_time = started.elapsed();
        // Wait for the last order to be visible (or give up after 120 s).
        let until = Instant::now() + Duration::from_secs(120);
        while Instant::now() < until && !stop.requested() {
            let rows: i64 = warehouse
                .client()
                .expect("client")
                .query_one(
                    "SELECT count(*) FROM cdm.order_ledger WHERE order_id = ANY($1)",
                    &[&keys.values().copied().collect::<Vec<Uuid>>()],
                )
                .expect("count")
                .get(0);
            if rows == keys.len() as i64 {
                break;
            }
            pipeline.ensure_running();
            std::thread::sleep(Duration::from_millis(200));
        }
        // Give the poller a last round.
        std::thread::sleep(2 * POLL);
        done.store(true, Ordering::Relaxed);
        let visible = poller.join().expect("poller");
        println!(
            "  sent in {:.1} s; {} of {} visible",
            send_time.as_secs_f64(),
            visible.len(),
            orders.len()
        );
        visible
    });
    interrupted(stop);
    if let Ok(failed) = clock.failed.lock() {
        assert!(failed.is_empty(), "deliveries failed: {failed:?}");
    }
    let acked = clock.acked.lock().map(|a| a.clone()).unwrap_or_default();

    let mut client = warehouse.client().expect("client");
    let pks: Vec<Uuid> = ids.iter().map(|id| keys[id]).collect();
    let rows = client
        .query(
            "SELECT t.id, s.load_dt, h.load_dt, l.applied_at \
             FROM unnest($1::bigint[], $2::uuid[]) AS t (id, pk) \
             LEFT JOIN stg.order_events s ON s.object_id = t.id \
             LEFT JOIN dds.h_order h ON h.h_order_pk = t.pk \
             LEFT JOIN cdm.order_ledger l ON l.order_id = t.pk",
            &[&ids, &pks],
        )
        .expect("timestamps");
    let ms =
        |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_microseconds().unwrap_or(0) as f64 / 1e3;
    let mut hops: Vec<(&'static str, Vec<f64>)> = vec![
        ("ack → stg tx start", Vec::new()),
        ("stg → dds tx start", Vec::new()),
        ("dds → cdm tx start", Vec::new()),
        (HOP_APPLIED, Vec::new()),
        ("ack → seen by 50 ms poll", Vec::new()),
    ];
    let mut missing = 0;
    for row in rows {
        let id: i64 = row.get(0);
        let stg: Option<NaiveDateTime> = row.get(1);
        let dds: Option<NaiveDateTime> = row.get(2);
        let cdm: Option<DateTime<Utc>> = row.get(3);
        let (Some(ack), Some(stg), Some(dds), Some(cdm)) = (acked.get(&id), stg, dds, cdm) else {
            missing += 1;
            continue;
        };
        let ack = DateTime::<Utc>::from(*ack);
        let (stg, dds) = (stg.and_utc(), dds.and_utc());
        hops[0].1.push(ms(ack, stg));
        hops[1].1.push(ms(stg, dds));
        hops[2].1.push(ms(dds, cdm));
        hops[3].1.push(ms(ack, cdm));
        if let Some(seen) = visible.get(&id) {
            hops[4].1.push(ms(ack, DateTime::<Utc>::from(*seen)));
        }
    }
    if missing > 0 {
        println!("  {missing} orders did not arrive in every layer (left out)");
    }
    Some(Window {
        label: format!(
            "latency, {label} ({} measured; nearest-rank percentiles)",
            hops[3].1.len()
        ),
        hops,
    })
}

pub(crate) struct StopOnDrop(pub(crate) Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[derive(Debug)]
pub(crate) struct Quantiles {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

impl Quantiles {
    /// Nearest-rank percentiles.
    pub(crate) fn of(samples: &[f64]) -> Quantiles {
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1)) - 1;
            v.get(i).copied().unwrap_or(f64::NAN)
        };
        Quantiles {
            p50: rank(0.50),
            p99: rank(0.99),
            max: v.last().copied().unwrap_or(f64::NAN),
        }
    }
}

impl std::fmt::Display for Quantiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.0} / {:.0} / {:.0}", self.p50, self.p99, self.max)
    }
}
