//! `vault report --out DIR` on a loaded warehouse, the page opened in headless Chromium (Debian's
//! `chromium`; `scripts/test` installs it when missing): it renders its four charts — each
//! canvas holds drawn pixels — with no error, from the one file alone, and a screenshot is kept
//! in the test's target directory (`report/vault-report.png`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vault_core::orders::sample::{Catalog, Rng};
use vault_core::Timestamp;
use vault_testkit::{require_env, TestDb};

/// Chromium's binary, or a failure saying how to get it.
fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(out) = Command::new("which").arg(name).output() {
            if out.status.success() {
                return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            }
        }
    }
    panic!("headless Chromium is needed: apt-get install chromium (scripts/test installs it)");
}

/// Chromium headless on `page` with `args`, a profile of its own, no network.
fn headless(page: &Path, profile: &Path, args: &[&str]) -> Output {
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            // The page must need nothing from outside.
            "--proxy-server=127.0.0.1:9",
            "--virtual-time-budget=10000",
            "--window-size=1280,2200",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium")
}

#[test]
fn the_report_renders_its_charts_in_headless_chromium() {
    require_env("PG_WAREHOUSE_HOST");
    let db = TestDb::new("report");
    // Three weeks of orders, 2 % of them cancelled after closing.
    let mut rng = Rng::new(2025);
    let catalog = Catalog::generate(&mut rng, 5, 60);
    let start = Timestamp::parse("2024-09-01 08:00:00").expect("timestamp");
    let mut versions = Vec::new();
    for i in 0..400 {
        let placed = start.plus(chrono::Duration::minutes(73 * i));
        versions.extend(catalog.order_history(&mut rng, 70_000 + i, placed, 0.02));
    }
    versions.sort_by_key(|v| (v.payload.update_ts, v.object_id));
    db.write_like_services(&catalog, &versions);

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report");
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_vault"))
        .args(["report", "--out"])
        .arg(&dir)
        .env("PG_WAREHOUSE_DBNAME", &db.name)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run vault report");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "vault report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = dir.join(vault_services::cli::REPORT_FILE);
    assert_eq!(stdout.trim(), page.display().to_string(), "prints its path");
    let html = std::fs::read_to_string(&page).expect("the report");
    assert!(html.contains("\"top_dishes\""), "the data is in the page");

    let profile = dir.join("chromium-profile");
    let dom = headless(&page, &profile, &["--dump-dom"]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(dom.status.success(), "chromium --dump-dom: {log}");
    let body = dom_text
        .lines()
        .find(|l| l.trim_start().starts_with("<body"))
        .unwrap_or("no <body>");
    assert!(
        body.contains(r#"data-charts="4""#) && body.contains(r#"data-painted="4""#),
        "the four charts are drawn: {body}\n{log}"
    );
    assert!(!body.contains("data-errors="), "page errors: {body}");
    let console_errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console_errors.is_empty(), "console: {console_errors:?}");
    // The freshness table has a row per layer, each with the warehouse's orders.
    assert_eq!(dom_text.matches("<td>stg</td>").count(), 1);
    assert_eq!(dom_text.matches("<td>cdm</td>").count(), 1);

    let png = dir.join("vault-report.png");
    let shot = headless(
        &page,
        &profile,
        &[&format!("--screenshot={}", png.display())],
    );
    assert!(
        shot.status.success(),
        "chromium --screenshot: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let size = std::fs::metadata(&png).expect("the screenshot").len();
    assert!(
        size > 50_000,
        "a screenshot of drawn charts, not a blank page: {size} bytes"
    );
}
