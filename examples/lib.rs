//! Examples live beside this file:
//!
//! * `cargo run -q --release --example dds_rows < examples/data/orders.jsonl` — the order
//!   model's Data Vault rows;
//! * `cargo run -q --release --example courier_vault < examples/data/deliveries.jsonl` — a Data
//!   Vault of its own ([`courier`]), declared with the toolkit.

pub mod courier;
