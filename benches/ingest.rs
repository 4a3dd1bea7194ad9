//! Decode + store apply of realistic 512-span OTLP batches, as a ratio to plain `prost` decode of
//! the same bytes in the same run (the ceiling): through the `prost` tree (`decode_traces`) and
//! straight from the bytes (`wire::decode`, what the receivers use). Results:
//! docs/performance.md, "Ingest".
//!
//! After criterion, a summary times every path on the same batch in turn, batch after batch
//! (so the machine's load moves all of them alike), and prints the medians and their ratios to
//! `prost` decode.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use faultline::ingest::decode::decode_traces;
use faultline::ingest::wire;
use faultline::store::{Store, StoreConfig};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

#[path = "common/corpus.rs"]
mod corpus;

const BATCH: usize = 512;

// The same allocator as the binary, so the figures are the binary's (baseline included).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    let bodies = corpus::encoded_batches(64, BATCH, 7);
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    eprintln!(
        "corpus: {} batches, {:.0} bytes/span",
        bodies.len(),
        bytes as f64 / (bodies.len() * BATCH) as f64
    );
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut i = 0usize;
    g.bench_function("prost_decode (baseline)", |b| {
        b.iter(|| {
            i = (i + 1) % bodies.len();
            ExportTraceServiceRequest::decode(bodies[i].as_slice())
                .map(|r| r.resource_spans.len())
                .unwrap_or(0)
        })
    });
    // Steady state: the store holds up to 200k spans and evicts, as it does live.
    let mut store = Store::new(StoreConfig {
        max_spans: 200_000,
        ..StoreConfig::default()
    });
    let mut now = 0u64;
    g.bench_function("decode + store apply", |b| {
        b.iter(|| {
            i = (i + 1) % bodies.len();
            now += 1_000_000;
            let req = ExportTraceServiceRequest::decode(bodies[i].as_slice()).unwrap_or_default();
            let d = decode_traces(&req);
            store.apply(d.spans, now);
            store.settle(now);
        })
    });
    let mut store = Store::new(StoreConfig {
        max_spans: 200_000,
        ..StoreConfig::default()
    });
    g.bench_function("wire decode + store apply", |b| {
        b.iter(|| {
            i = (i + 1) % bodies.len();
            now += 1_000_000;
            let d = wire::decode(bodies[i].as_slice()).unwrap_or_default();
            store.apply(d.spans, now);
            store.settle(now);
        })
    });
    // The decoders alone (spans dropped), to tell decode cost from store cost.
    g.bench_function("prost + decode_traces (no store)", |b| {
        b.iter(|| {
            i = (i + 1) % bodies.len();
            let req = ExportTraceServiceRequest::decode(bodies[i].as_slice()).unwrap_or_default();
            decode_traces(&req).spans.len()
        })
    });
    g.bench_function("wire decode (no store)", |b| {
        b.iter(|| {
            i = (i + 1) % bodies.len();
            wire::decode(bodies[i].as_slice()).map_or(0, |d| d.spans.len())
        })
    });
    g.finish();
}

/// Median per-batch time of each path, timed in turn on the same batch, `rounds` times over the
/// corpus.
fn summary(rounds: usize) {
    let bodies = corpus::encoded_batches(64, BATCH, 7);
    let store = || {
        Store::new(StoreConfig {
            max_spans: 200_000,
            ..StoreConfig::default()
        })
    };
    let (mut old_store, mut wire_store) = (store(), store());
    let names = [
        "prost_decode (baseline)",
        "prost + decode_traces",
        "wire decode",
        "decode + store apply",
        "wire decode + store apply",
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut now = 0u64;
    for k in 0..rounds * bodies.len() {
        let b = bodies[k % bodies.len()].as_slice();
        now += 1_000_000;
        for (path, t) in times.iter_mut().enumerate() {
            let start = Instant::now();
            match path {
                0 => drop(black_box(ExportTraceServiceRequest::decode(b))),
                1 => {
                    let req = ExportTraceServiceRequest::decode(b).unwrap_or_default();
                    drop(black_box(decode_traces(&req)));
                }
                2 => drop(black_box(wire::decode(b))),
                3 => {
                    let req = ExportTraceServiceRequest::decode(b).unwrap_or_default();
                    old_store.apply(decode_traces(&req).spans, now);
                    old_store.settle(now);
                }
                _ => {
                    wire_store.apply(wire::decode(b).unwrap_or_default().spans, now);
                    wire_store.settle(now);
                }
            }
            t.push(start.elapsed().as_secs_f64());
        }
    }
    let medians: Vec<f64> = times
        .iter_mut()
        .map(|t| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        })
        .collect();
    println!("\nsummary (median per {BATCH}-span batch, paths interleaved, same bytes, same run):");
    println!("path                        spans/s      ratio to prost decode");
    for (name, m) in names.iter().zip(&medians) {
        println!(
            "{name:<27} {:<12.0} {:.2}x",
            BATCH as f64 / m,
            medians[0] / m
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    // Under `--profile-time` (profilers) or `--list`, only the selected benchmark should run.
    // Only under `cargo bench` (which passes --bench): `cargo test --all-targets` runs benches
    // once as a smoke test and must not spend minutes on the summary in a debug build.
    let benching = std::env::args().any(|a| a == "--bench");
    if benching && !std::env::args().any(|a| a == "--profile-time" || a == "--list") {
        summary(8);
    }
}
