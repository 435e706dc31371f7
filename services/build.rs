//! Build script: the git revision the binaries report (`--version`, the start log line and
//! `vault_build_info`). `VAULT_GIT_REVISION` set at build time wins (the image build passes it:
//! the Docker build context has no `.git`); otherwise `git rev-parse` of the checkout; otherwise
//! `unknown`. A checkout's uncommitted changes are not detected (that would rebuild on every
//! edit).

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=VAULT_GIT_REVISION");
    let from_env = std::env::var("VAULT_GIT_REVISION")
        .ok()
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    let revision = match from_env {
        Some(revision) => revision,
        None => {
            // Rebuild when HEAD moves: HEAD itself (a checkout), the branch it points to (a
            // commit) and packed-refs (a branch packed away). Paths from git, so that a worktree
            // works too.
            let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watched.push(branch);
            }
            let here = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
            for name in watched {
                if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
                    let path = here.join(path);
                    if path.exists() {
                        println!("cargo:rerun-if-changed={}", path.display());
                    }
                }
            }
            git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned())
        }
    };
    println!("cargo:rustc-env=VAULT_GIT_REVISION={revision}");
}
