//! `vault replay`: the backfill with a progress bar and its summary.

use std::io::{self, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vault_core::pipeline::Env;
use vault_pg::{PgConfig, Warehouse};

use super::{one_line, CliError, ReplayArgs, Verdict};
use crate::replay::{replay, Progress, ReplayOptions, ReplaySummary};
use vault_redis::{CacheConfig, RedisConfig, RedisDictionary};

pub(super) fn run_replay<F: Fn(&str) -> Option<String>>(
    args: &ReplayArgs,
    env: &Env<F>,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    // All configuration first, so that a bad variable stops us before any work.
    let pg = PgConfig::from_env(env)?;
    let redis = RedisConfig::from_env(env)?;
    let warehouse = Warehouse::new(&pg)?;
    let mut dictionary = RedisDictionary::new(&redis, CacheConfig::default())?;
    let options = ReplayOptions {
        page_size: args.page_size,
        ..ReplayOptions::default()
    };

    let bar = progress_bar(args.no_progress);
    let result = replay(&warehouse, &mut dictionary, &options, |p: Progress| {
        bar.set_length(p.total);
        bar.set_position(p.done);
        if p.skipped > 0 {
            bar.set_message(format!("{} skipped", p.skipped));
        }
    });
    bar.finish_and_clear();
    let summary = result?;
    print_summary(&summary, out)?;

    let skipped = summary.skipped_total();
    if skipped > 0 && !args.allow_skipped {
        writeln!(
            out,
            "{skipped} raw order(s) were not replayed (see above); fix them, or pass \
             --allow-skipped to accept"
        )?;
        return Ok(Verdict::Problems);
    }
    Ok(Verdict::Clean)
}

pub(super) fn progress_bar(hidden: bool) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.enable_steady_tick(Duration::from_millis(250));
    let template = "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} orders \
                    ({per_sec}, eta {eta}) {msg}";
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn print_summary(s: &ReplaySummary, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "replayed {} of {} raw orders in {:.1} s ({:.0} orders/s, {} pages)",
        s.replayed,
        s.read,
        s.elapsed.as_secs_f64(),
        s.rate(),
        s.pages
    )?;
    writeln!(out, "dds: {} rows written", s.rows_written)?;
    writeln!(
        out,
        "cdm: {} new, {} updated, {} duplicate, {} stale; {} counter rows changed",
        s.cdm.new, s.cdm.updated, s.cdm.duplicate, s.cdm.stale, s.cdm.counters_changed
    )?;
    writeln!(
        out,
        "dictionary: {} MGET(s) for {} keys, {} cache hits",
        s.dictionary.mgets, s.dictionary.keys_fetched, s.dictionary.cache_hits
    )?;
    if s.retries > 0 {
        writeln!(out, "retries of transient faults: {}", s.retries)?;
    }
    if s.skipped.is_empty() {
        writeln!(out, "skipped: none")?;
    } else {
        let reasons: Vec<String> = s
            .skipped
            .iter()
            .map(|(reason, n)| format!("{reason} {n}"))
            .collect();
        writeln!(
            out,
            "skipped: {} ({})",
            s.skipped_total(),
            reasons.join(", ")
        )?;
        for example in &s.examples {
            writeln!(
                out,
                "  object_id {}: {}: {}",
                example.object_id,
                example.reason,
                one_line(&example.detail)
            )?;
        }
    }
    Ok(())
}
