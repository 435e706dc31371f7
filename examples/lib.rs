//! Examples live beside this file:
//!
//! * `cargo run -q --release --example dds_rows < examples/data/orders.jsonl` — the order
//!   model's Data Vault rows;
//! * `cargo run -q --release --example courier_vault < examples/data/deliveries.jsonl` — a Data
//!   Vault of its own ([`courier`]), declared with the toolkit;
//! * `cargo run --release --example tpch_vault -- --sf 0.01` — the TPC-H schema as a Data Vault
//!   ([`tpch`]), loaded through the toolkit and by set-based SQL, compared and timed.

pub mod courier;
pub mod tpch;
