//! Alert evaluation, against the snapshot the store builds anyway (same run):
//! - baseline: `Store::snapshot_window` over the live 5-minute window (what the store task
//!   publishes four times a second, and what `faultline alerts` builds per step);
//! - the shipped alert rules evaluated at one boundary over that snapshot's dependencies, in
//!   steady state (the baseline chunk cache warm, as after the first evaluation live);
//! - one `faultline alerts` step: the snapshot plus the evaluation.
//!
//! The store holds 100 dependencies with an hour of traffic (two calls a second each, 1 % errors,
//! the last five minutes of one dependency at 30 %), so every baseline covers 45 chunks.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use faultline::alerts::{Engine, builtin};
use faultline::model::edge::{BUCKET_NS, bucket_of};
use faultline::model::span::SpanKind;
use faultline::store::{Store, StoreConfig};
use faultline::testkit::span;

const S: u64 = 1_000_000_000;
const T0: u64 = 1_767_225_600 * S;
const DEPS: u64 = 100;
const SECS: u64 = 3600;

fn store() -> Store {
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    let mut id = 0u64;
    for chunk in 0..SECS / 60 {
        let mut spans = Vec::new();
        for s in chunk * 60..(chunk + 1) * 60 {
            for d in 0..DEPS {
                for k in 0..2u64 {
                    id += 1;
                    let start = T0 + s * S + k * S / 2 + d * 1_000_000;
                    let spike = d == 0 && s >= SECS - 300;
                    let fail = if spike {
                        id % 10 < 3
                    } else {
                        id.is_multiple_of(100)
                    };
                    let mut b = span(
                        id,
                        1,
                        0,
                        &format!("svc-{}", d % 10),
                        "POST /x",
                        SpanKind::Client,
                        start,
                        (5 + id % 40) * 1_000_000,
                    )
                    .attr("peer.service", &format!("dep-{d}"));
                    if fail {
                        b = b.error("Unavailable");
                    }
                    spans.push(b.build());
                }
            }
        }
        store.apply(spans, T0 + chunk * 60 * S);
    }
    store.flush_pending();
    store
}

fn bench(c: &mut Criterion) {
    let mut store = store();
    let end = bucket_of(T0 + SECS * S);
    let window = 5 * 60 * S;
    let mut engine = Engine::new(builtin().expect("shipped alert rules"));
    // Steady state: the boundaries of the last ten minutes evaluated once.
    let mut at = end - 600 * S;
    while at <= end {
        let snap = store.snapshot_window(at - window, at);
        engine.evaluate(at, &snap.deps);
        at += BUCKET_NS;
    }
    let snap = store.snapshot_window(end - window, end);
    println!(
        "{} dependencies, {} alert rules, {} alerts listed",
        snap.deps.len(),
        engine.rules().len(),
        engine.states().len()
    );
    let mut g = c.benchmark_group("alerts");
    g.bench_function("baseline: snapshot_window (5 min)", |b| {
        b.iter(|| black_box(store.snapshot_window(end - window, end)))
    });
    g.bench_function("evaluate the shipped rules at one boundary", |b| {
        b.iter(|| black_box(engine.evaluate(end, &snap.deps)))
    });
    g.bench_function("faultline alerts step: snapshot + evaluate", |b| {
        b.iter(|| {
            let s = store.snapshot_window(end - window, end);
            black_box(engine.evaluate(end, &s.deps))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
