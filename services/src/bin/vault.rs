//! `vault`: the operator CLI (its commands: `vault --help`). Wiring only: see
//! `vault_services::cli`.

use std::process::ExitCode;

use clap::Parser;
use vault_services::cli::{self, Cli};

fn main() -> ExitCode {
    let args = Cli::parse();
    cli::init_logging();
    cli::main(&args)
}
