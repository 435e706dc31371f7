//! Examples live beside this file; run `cargo run -q --release --example dds_rows < examples/data/orders.jsonl`.
