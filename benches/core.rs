//! vault-core benchmarks: `cargo bench -p vault-benches --bench core`.
//!
//! * `keys/*`: one key of typical material, vault's SHA-1 path beside `uuid::Uuid::new_v5`.
//! * `build/order`: every DV row of one parsed order (throughput in orders).
//! * `parse_build/order`: JSON bytes → enriched order → every DV row.
//! * `batch/1000_orders`: deduplicated rows of 1,000 parsed orders.

#![allow(missing_docs)] // criterion_group! generates an undocumented `pub fn`; a bench is no API

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use uuid::Uuid;
use vault_benches::enriched_orders;
use vault_core::orders::{build_order, DvBatch, EnrichedOrder};
use vault_core::{KeySpec, SEED_NAMESPACE};

fn keys(c: &mut Criterion) {
    let mut group = c.benchmark_group("keys");
    let hub = "626a81ce9a8cd1920641e29c";
    let link = ["1371198", "aeca4d08abab78869c20128c"];
    let link_material = link.join("#$#");
    group.bench_function("vault_hub", |b| {
        b.iter(|| KeySpec::SEED.hub(black_box(hub)))
    });
    group.bench_function("uuid_new_v5_hub", |b| {
        b.iter(|| Uuid::new_v5(&SEED_NAMESPACE, black_box(hub).as_bytes()))
    });
    group.bench_function("vault_link", |b| {
        b.iter(|| KeySpec::SEED.link(black_box(&link)))
    });
    group.bench_function("uuid_new_v5_link", |b| {
        b.iter(|| Uuid::new_v5(&SEED_NAMESPACE, black_box(&link_material).as_bytes()))
    });
    group.finish();
}

fn build(c: &mut Criterion) {
    let lines = enriched_orders(1000);
    let orders: Vec<EnrichedOrder> = lines
        .iter()
        .map(|l| EnrichedOrder::from_json(l.as_bytes()).expect("generated order is valid"))
        .collect();

    let mut group = c.benchmark_group("build");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("order", |b| {
        b.iter(|| {
            i = (i + 1) % orders.len();
            build_order(black_box(&orders[i]), KeySpec::SEED)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("parse_build");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("order", |b| {
        b.iter(|| {
            i = (i + 1) % lines.len();
            let order = EnrichedOrder::from_json(black_box(lines[i].as_bytes())).expect("valid");
            let (rows, _) = build_order(&order, KeySpec::SEED);
            rows.len()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Elements(orders.len() as u64));
    group.bench_function("1000_orders", |b| {
        b.iter_batched_ref(
            || DvBatch::new(KeySpec::SEED),
            |batch| {
                for order in &orders {
                    batch.add(order);
                }
                batch.rows().len()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, keys, build);
criterion_main!(benches);
