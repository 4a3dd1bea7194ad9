//! Decode + store apply of realistic 512-span OTLP batches, as a ratio to plain `prost` decode of
//! the same bytes in the same run (the ceiling). Results: docs/performance.md, "Ingest".

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faultline::ingest::decode::decode_traces;
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
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
