//! The figures next to the targets.

use super::*;

/// Prints the figures next to the targets; false when orders are missing from a layer or the
/// counters differ from their recomputation.
pub(crate) fn report(
    bench: &Bench,
    opts: &Options,
    backlog: &Backlog,
    after_drain: &[ServiceStats],
    windows: &[Option<Window>; 2],
    end: &End,
) -> bool {
    per_service(bench.total(), after_drain, end);
    println!();
    println!("== result ==");
    drain_rows(opts, backlog, after_drain);
    let same_ok = peer_rows(backlog);
    latency_rows(windows);
    end_rows(bench.total(), end) && same_ok
}

/// One line of the result: what, the figure, the target and whether it was met.
fn row(what: &str, value: String, target: &str, ok: Option<bool>) {
    let verdict = match ok {
        Some(true) => "ok",
        Some(false) => "MISSED",
        None => "",
    };
    println!("{what:<44} {value:>26}  {target:<14} {verdict}");
}

/// Each service's figures, and where a batch's time went during the drain.
fn per_service(total: usize, after_drain: &[ServiceStats], end: &End) {
    let End {
        stats,
        counts,
        stopped,
        ..
    } = end;
    println!();
    println!("== per service ==");
    println!(
        "{:<12} {:>9} {:>5} {:>7} | {:>8} {:>8} {:>7} {:>10} | {:>6} {:>11} {:>10} {:>10} {:>6}",
        "",
        "consumed",
        "DLQ",
        "errors",
        "batches",
        "avg size",
        "avg ms",
        "busy msg/s",
        "CPU s",
        "VmHWM drain",
        "VmRSS end",
        "VmHWM end",
        "stop"
    );
    for ((s, d), stop) in stats.iter().zip(after_drain).zip(stopped) {
        println!(
            "{:<12} {:>9.0} {:>5.0} {:>7.0} | {:>8.0} {:>8.1} {:>7.1} {:>10.0} | {:>6.1} {:>11} {:>10} {:>10} {:>6}",
            s.name,
            s.batch.messages,
            s.dead_lettered,
            s.errors,
            d.batch.batches,
            d.batch.messages / d.batch.batches.max(1.0),
            1000.0 * d.batch.seconds / d.batch.batches.max(1.0),
            d.busy_rate(),
            s.cpu_seconds,
            mib(d.hwm_kib),
            mib(s.rss_kib),
            mib(s.hwm_kib),
            stop
        );
    }
    println!(
        "(middle columns: the backlog drain only; busy msg/s = messages ÷ time inside batches, \
         transaction to offset commit, poll waits excluded; stop = SIGTERM → exit)"
    );
    println!();
    println!("== where a batch's time goes, backlog drain (ms per batch, mean) ==");
    println!("{}", BatchProfile::header());
    for d in after_drain {
        println!("{}", d.batch.row(&d.name));
    }
    println!(
        "rows: stg.order_events {}, dds.h_order {}, cdm.order_ledger {} (expected {total}); \
         load average {}",
        counts[0],
        counts[1],
        counts[2],
        loadavg()
    );
}

/// The backlog's production and drain: time, CPU, per stage rates.
fn drain_rows(opts: &Options, backlog: &Backlog, after_drain: &[ServiceStats]) {
    let (sent, produce_time, drain) = (backlog.sent, backlog.produce_time, &backlog.drain);
    row(
        "backlog produced (before the services)",
        format!(
            "{:.1} s, {:.0}/s",
            produce_time.as_secs_f64(),
            sent as f64 / produce_time.as_secs_f64()
        ),
        "",
        None,
    );
    match &drain {
        Some(d) => {
            row(
                &format!("drain of {} orders (services start → cdm)", opts.orders),
                format!("{:.1} s", d.seconds),
                "< 60 s",
                Some(d.seconds < DRAIN_TARGET_S),
            );
            row(
                "  machine CPU busy during the drain",
                format!("{:.2} cores", d.cores_busy),
                "",
                None,
            );
            let listing = |spent: &[(String, f64)]| -> String {
                let items: Vec<String> = spent
                    .iter()
                    .take(8)
                    .map(|(name, seconds)| format!("{name} {seconds:.1}"))
                    .collect();
                items.join(", ")
            };
            println!(
                "  CPU seconds in the drain by command: {}",
                listing(&d.by_command)
            );
            println!(
                "  PostgreSQL CPU seconds by session: {}",
                listing(&d.by_session)
            );
            for (i, stage) in ["STG", "DDS", "CDM"].iter().enumerate() {
                let s = &d.stages[i];
                row(
                    &format!("{stage} orders/s (avg over active span; peak 2 s)"),
                    format!("{:.0}; {:.0}", s.average, s.peak),
                    if i == 1 { "≥ 5000" } else { "" },
                    (i == 1).then_some(s.average >= DDS_TARGET_RATE),
                );
                if i == 1 {
                    row(
                        "  DDS busy rate (msgs ÷ Σ batch time, drain)",
                        format!("{:.0}", after_drain[1].busy_rate()),
                        "",
                        None,
                    );
                }
                row(
                    &format!("  {stage} active span (since services start)"),
                    format!("{:.1}–{:.1} s", s.first, s.done),
                    "",
                    None,
                );
            }
        }
        None => row("drain", "no backlog".into(), "", None),
    }
}

/// The set-based peer against the pipeline: time and content; false when the warehouses
/// differ.
fn peer_rows(backlog: &Backlog) -> bool {
    let (peer, same, drain) = (&backlog.peer, &backlog.differing, &backlog.drain);
    if let (Some(peer), Some(d)) = (peer, drain) {
        let ratio = peer.total().as_secs_f64() / d.seconds;
        row(
            "set-based peer in PostgreSQL (same orders)",
            format!("{:.1} s", peer.total().as_secs_f64()),
            "",
            None,
        );
        row(
            "peer time / pipeline time",
            format!("{ratio:.2}"),
            "≥ 1.0 (aim 2)",
            Some(ratio >= 1.0),
        );
    }
    let mut same_ok = true;
    if let Some(differ) = same {
        same_ok = differ.is_empty();
        row(
            "pipeline's warehouse = peer's (17 tables)",
            format!("{} differing", differ.len()),
            "none",
            Some(same_ok),
        );
        for d in differ {
            println!("  {d}");
        }
    }
    same_ok
}

/// Latency per hop in each window.
fn latency_rows(windows: &[Option<Window>; 2]) {
    let [nominal, burst] = windows;
    for (window, target) in [(&nominal, true), (&burst, false)] {
        let Some(w) = window else { continue };
        println!("{}", w.label);
        for (name, samples) in &w.hops {
            let q = Quantiles::of(samples);
            let is_target = target && *name == HOP_APPLIED;
            row(
                &format!("  {name} p50/p99/max ms"),
                q.to_string(),
                if is_target { "p99 < 1000 ms" } else { "" },
                is_target.then_some(q.p99 < P99_TARGET_MS),
            );
        }
    }
}

/// Memory, completeness and the counters' check; false when orders are missing or the
/// counters differ.
fn end_rows(total: usize, end: &End) -> bool {
    let End {
        stats,
        counts,
        mismatches,
        ..
    } = end;
    for s in stats {
        row(
            &format!("peak RSS (VmHWM) {}", s.name),
            format!("{:.1} MiB", s.hwm_kib as f64 / 1024.0),
            "≤ 64 MiB",
            Some((s.hwm_kib as f64 / 1024.0) <= RSS_TARGET_MIB),
        );
    }
    row(
        "all orders in every layer",
        format!("{}/{}/{} of {total}", counts[0], counts[1], counts[2]),
        "",
        Some(counts.iter().all(|c| *c == total as i64)),
    );
    row(
        "cdm_mismatches (counters = recomputation)",
        format!("{} mismatching", mismatches.len()),
        "none",
        Some(mismatches.is_empty()),
    );
    if !mismatches.is_empty() {
        for m in mismatches.iter().take(5) {
            println!("  {m:?}");
        }
    }
    mismatches.is_empty() && counts.iter().all(|c| *c == total as i64)
}
