//! What this build is: the package version and the git revision it was built from (the build
//! script's `VAULT_GIT_REVISION`: set at build time, else `git rev-parse`, else `unknown`).
//! Every binary's `--version`, each service's start line and the `vault_build_info` gauge take
//! them from here.

/// The version of the `vault-services` package (the workspace's version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git revision the binaries were built from (12 hex digits), or `unknown`.
pub const REVISION: &str = env!("VAULT_GIT_REVISION");

/// What `--version` prints after the program's name: `0.1.0 (revision 0123456789ab)`.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("VAULT_GIT_REVISION"),
    ")"
);
