//! The configuration reference checked in is the one `vault config` makes from the variables'
//! declarations (vault_core::pipeline::vars): docs/configuration.md's tables, the chart's
//! values.schema.json `config` definition and deploy/ci/variables.json; and from the stages'
//! (vault_core::pipeline::stages): deploy/ci/stages.json. A difference fails with the one line
//! that regenerates them (`VAULT_BLESS=1 cargo test -p vault-services --test config`), which
//! rewrites the generated parts in place. No server needed.

use std::path::{Path, PathBuf};

use vault_core::pipeline::vars::Group;
use vault_services::cli::config::{self, MARKDOWN_END, REGENERATE};
use vault_services::cli::pretty;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn bless() -> bool {
    std::env::var_os("VAULT_BLESS").is_some_and(|v| v == "1")
}

/// Compares `path` with `expected`; rewrites it when blessing; returns the difference found.
fn check(path: &Path, current: &str, expected: &str) -> Option<String> {
    if current == expected {
        return None;
    }
    if bless() {
        std::fs::write(path, expected)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return None;
    }
    Some(format!(
        "{} is not what `vault config` makes from the declarations: run {REGENERATE}",
        path.display()
    ))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `text` with the part between `begin` and `end` (lines of their own) replaced by `body`.
fn splice(text: &str, begin: &str, end: &str, body: &str) -> Result<String, String> {
    let start = text
        .find(begin)
        .ok_or_else(|| format!("no line {begin:?}"))?
        + begin.len();
    let stop = start
        + text[start..]
            .find(end)
            .ok_or_else(|| format!("no {end:?} after {begin:?}"))?;
    Ok(format!("{}\n{body}{}", &text[..start], &text[stop..]))
}

#[test]
fn configuration_md_tables_are_generated() {
    let path = root().join("docs/configuration.md");
    let current = read(&path);
    let mut expected = current.clone();
    for group in Group::ALL {
        expected = splice(
            &expected,
            &config::markdown_begin(group),
            MARKDOWN_END,
            &config::markdown_section(group),
        )
        .unwrap_or_else(|e| panic!("docs/configuration.md: {e}"));
    }
    if let Some(problem) = check(&path, &current, &expected) {
        panic!("{problem}");
    }
}

#[test]
fn values_schema_config_is_generated() {
    let path = root().join("deploy/helm/streamvault/values.schema.json");
    let current = read(&path);
    // The `config` definition: from its line under "definitions" to the first line that closes
    // it at the same indentation.
    let definitions = current
        .find("\n  \"definitions\": {\n")
        .expect("a definitions object");
    let begin = "\n    \"config\": {\n";
    let start = definitions
        + current[definitions..]
            .find(begin)
            .expect("a config definition");
    let stop = start + 1 + current[start + 1..].find("\n    }").expect("its end") + "\n    }".len();
    let generated = pretty(&config::json_schema());
    let body = generated.trim_end().replace('\n', "\n    ");
    let expected = format!(
        "{}\n    \"config\": {}{}",
        &current[..start],
        body,
        &current[stop..]
    );
    let parsed: Result<serde_json::Value, _> = serde_json::from_str(&expected);
    assert!(parsed.is_ok(), "the spliced schema is no JSON: {parsed:?}");
    if let Some(problem) = check(&path, &current, &expected) {
        panic!("{problem}");
    }
}

/// A checked-in file that is one of `vault config`'s JSON outputs as it prints it.
fn json_file_is_generated(relative: &str, generated: &serde_json::Value) {
    let path = root().join(relative);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if let Some(problem) = check(&path, &current, &pretty(generated)) {
        panic!("{problem}");
    }
}

#[test]
fn deploy_check_list_is_generated() {
    json_file_is_generated("deploy/ci/variables.json", &config::json_list());
}

#[test]
fn deploy_check_stages_are_generated() {
    json_file_is_generated("deploy/ci/stages.json", &config::stages_json());
}

/// `vault config` prints the same as the library makes, without any variable set.
#[test]
fn the_command_prints_it() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_vault"))
        .args(["config", "--json-schema"])
        .env_clear()
        .output()
        .expect("vault runs");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        pretty(&config::json_schema())
    );
}
