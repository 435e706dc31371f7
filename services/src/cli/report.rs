//! `vault report --out DIR`: one self-contained HTML page of the datamarts, from the views of
//! schema `bi` (`vault_pg::bi::report_json`). The charts are drawn by Chart.js and its matrix
//! plugin (the heat map), vendored under `services/assets/vendor/` and inlined into the page,
//! so that viewing it needs no network.

use std::io::Write;
use std::path::Path;

use vault_core::pipeline::Env;

use super::{warehouse, CliError, ReportArgs, Verdict};

/// The file `vault report` writes into its `--out` directory.
pub const REPORT_FILE: &str = "vault-report.html";

const TEMPLATE: &str = include_str!("../../assets/report.html");
const CHART_JS: &str = include_str!("../../assets/vendor/chart.js-4.6.1/chart.umd.min.js");
const MATRIX_JS: &str =
    include_str!("../../assets/vendor/chartjs-chart-matrix-2.1.1/chartjs-chart-matrix.min.js");

pub(super) fn report<F: Fn(&str) -> Option<String>>(
    args: &ReportArgs,
    env: &Env<F>,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let warehouse = warehouse(env)?;
    let data = vault_pg::bi::report_json(&mut *warehouse.client()?, args.limit)?;
    let path = write_report(&args.out, &render_report(&data))?;
    writeln!(out, "{}", path.display())?;
    Ok(Verdict::Clean)
}

fn write_report(dir: &Path, html: &str) -> Result<std::path::PathBuf, CliError> {
    let failed = |path: &Path| {
        let path = path.display().to_string();
        move |source| CliError::Report { path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed(dir))?;
    let path = dir.join(REPORT_FILE);
    std::fs::write(&path, html).map_err(failed(&path))?;
    Ok(path)
}

/// The page for the report's data (the JSON of `vault_pg::bi::report_json`): the template with
/// the two scripts and the data in place. The data goes into a `<script type="application/json">`
/// with every `<` escaped, so that no name in it can end the element.
pub fn render_report(data_json: &str) -> String {
    let data = data_json.replace('<', "\\u003c");
    let mut html = String::with_capacity(TEMPLATE.len() + CHART_JS.len() + data.len() + 8192);
    let mut rest = TEMPLATE;
    for (marker, value) in [
        ("/*DATA*/", data.as_str()),
        ("/*CHART_JS*/", CHART_JS),
        ("/*MATRIX_JS*/", MATRIX_JS),
    ] {
        // The template holds each marker once, in this order (a test renders it).
        if let Some((before, after)) = rest.split_once(marker) {
            html.push_str(before);
            html.push_str(value);
            rest = after;
        }
    }
    html.push_str(rest);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_marker_is_filled_and_no_name_ends_the_data_element() {
        let html = render_report(r#"{"name": "</script><script>alert(1)</script>"}"#);
        for marker in ["/*DATA*/", "/*CHART_JS*/", "/*MATRIX_JS*/"] {
            assert!(!html.contains(marker), "{marker} left in the page");
        }
        assert!(html.contains(r#""\u003c/script>\u003cscript>alert(1)\u003c/script>""#));
        assert!(html.contains("Chart.js v4.6.1"));
        assert!(html.contains("chartjs-chart-matrix"));
        // Scripts: the data, Chart.js, the plugin, the page's own; no other element is opened.
        assert_eq!(html.matches("<script").count(), 4);
        assert!(
            !html.contains("<script src") && !html.contains("<link"),
            "nothing loaded"
        );
    }
}
