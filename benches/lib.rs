//! Shared fixtures of the benchmarks (see `core.rs`).
