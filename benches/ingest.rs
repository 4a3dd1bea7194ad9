//! Ingest at steady state, as a ratio to a one-thread `prost` decode of the same bytes in the
//! same run. Results: docs/performance.md, "Ingest".
//!
//! The bytes are the load generator's own corpus (`tools/otlp-loadgen/src/corpus.rs`, both
//! shapes), and every batch is new data: each replay of the corpus carries fresh ids, as the
//! load generator sends them. The store runs as live: default budget (1M spans) filled before
//! measuring, so it evicts; calls settle, retention prunes and a snapshot is published every
//! 250 ms of wall time.
//!
//! - `decode/*`: the decoders alone (`prost` tree, `wire` to the model), spans dropped.
//! - `steady/*`: `wire` decode + store apply (+ the periodic settle/prune/snapshot), per batch.
//!
//! After criterion, a summary times `prost` decode and the steady-state path on the same batch
//! in turn, batch after batch (so the machine's load moves both alike), and prints the medians
//! and their ratio, per shape.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use faultline::ingest::wire;
use faultline::model::clock::now_unix_ns;
use faultline::store::{Snapshot, Store, StoreConfig};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

#[path = "../tools/otlp-loadgen/src/corpus.rs"]
mod corpus;

// The same allocator as the binary, so the figures are the binary's (baseline included).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 512;
const TICK: Duration = Duration::from_millis(250);

/// A store at steady state fed fresh batches of one corpus.
struct Steady {
    corpus: corpus::Corpus,
    store: Store,
    k: usize,
    last_tick: Instant,
    snap: Option<std::sync::Arc<Snapshot>>,
}

impl Steady {
    /// A store filled past its default budget with this corpus.
    fn new(shape: corpus::Shape) -> Self {
        let mut s = Steady {
            corpus: corpus::Corpus::build(64, BATCH, 1, false, shape),
            store: Store::new(StoreConfig::default()),
            k: 0,
            last_tick: Instant::now(),
            snap: None,
        };
        // `cargo test --all-targets` runs each bench once, in a debug build: fill a little only.
        let benching = std::env::args().any(|a| a == "--bench");
        let fill = if benching || std::env::var("INGEST_COUNT").is_ok() {
            StoreConfig::default().max_spans * 5 / 4
        } else {
            4 * BATCH
        };
        while s.k * BATCH < fill {
            s.step();
        }
        s
    }

    /// The next batch: fresh ids, never seen by the store.
    fn next_body(&mut self) -> bytes::Bytes {
        let n = self.corpus.bodies.len();
        let b = self.corpus.body(self.k % n, (self.k / n) as u64);
        self.k += 1;
        b
    }

    /// One batch through decode + store apply, and the periodic jobs when their time came.
    fn step(&mut self) {
        let body = self.next_body();
        self.apply(&body);
    }

    fn apply(&mut self, body: &[u8]) {
        let now = now_unix_ns();
        if let Ok(d) = wire::decode(body) {
            self.store.apply(d.spans, now);
        }
        if self.last_tick.elapsed() >= TICK {
            self.last_tick = Instant::now();
            self.tick(now);
        }
    }

    /// The periodic jobs, as the live task runs them.
    fn tick(&mut self, now: u64) {
        self.store.settle(now);
        self.store.prune(now);
        // The previous snapshot is dropped here, as the live task replaces it.
        self.snap = Some(std::sync::Arc::new(self.store.snapshot(Some(now))));
    }
}

fn shape_name(s: corpus::Shape) -> &'static str {
    match s {
        corpus::Shape::Spans => "spans",
        corpus::Shape::Traces => "traces",
    }
}

fn bench(c: &mut Criterion) {
    for shape in [corpus::Shape::Traces, corpus::Shape::Spans] {
        let name = shape_name(shape);
        let corpus = corpus::Corpus::build(64, BATCH, 1, false, shape);
        let bodies: Vec<bytes::Bytes> = (0..corpus.bodies.len())
            .map(|i| corpus.body(i, 1))
            .collect();
        let mut g = c.benchmark_group(format!("ingest/{name}"));
        g.throughput(Throughput::Elements(BATCH as u64));
        let mut i = 0usize;
        g.bench_function("decode/prost (baseline)", |b| {
            b.iter(|| {
                i = (i + 1) % bodies.len();
                ExportTraceServiceRequest::decode(&bodies[i][..])
                    .map(|r| r.resource_spans.len())
                    .unwrap_or(0)
            })
        });
        g.bench_function("decode/wire", |b| {
            b.iter(|| {
                i = (i + 1) % bodies.len();
                wire::decode(&bodies[i][..]).map_or(0, |d| d.spans.len())
            })
        });
        let mut steady = Steady::new(shape);
        g.bench_function("steady/wire + store", |b| b.iter(|| steady.step()));
        g.finish();
    }
}

/// Median per-batch time of `prost` decode and of the steady-state path, timed in turn on the
/// same batch, `batches` times.
fn summary(shape: corpus::Shape, batches: usize) {
    let mut steady = Steady::new(shape);
    let (mut base, mut path) = (Vec::new(), Vec::new());
    for _ in 0..batches {
        let body = steady.next_body();
        let t = Instant::now();
        drop(black_box(ExportTraceServiceRequest::decode(&body[..])));
        base.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        steady.apply(&body);
        path.push(t.elapsed().as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let (mb, mp) = (median(&mut base), median(&mut path));
    let (ab, ap) = (mean(&base), mean(&path));
    let c = &steady.store.snapshot(None).counters;
    println!(
        "{:<7} prost decode {:>9.0} spans/s | wire + store {:>9.0} spans/s | ratio median {:.2}x, mean {:.2}x | retained {} evicted {} pending calls {}",
        shape_name(shape),
        BATCH as f64 / mb,
        BATCH as f64 / mp,
        mb / mp,
        ab / ap,
        c.retained_spans,
        c.evicted_spans,
        c.pending_calls,
    );
}

/// `INGEST_COUNT=prost|wire SHAPE BATCHES`: one path alone over `BATCHES` fresh batches (after
/// one warm-up round of the corpus through the same path), no criterion, no timing: for
/// instruction counts, e.g.
/// `valgrind --tool=callgrind --toggle-collect='*count_path*' target/release/deps/ingest-* traces 200`
/// with `INGEST_COUNT=wire` set. The ratio of the two paths' counts is load-independent.
///
/// `INGEST_COUNT=steady`: the store filled past its budget first, then `BATCHES` batches of
/// decode + apply with the periodic jobs every [`COUNT_TICK`] batches instead of every 250 ms
/// (wall time means nothing under a profiler); collect with `--toggle-collect='*count_steady*'`.
fn count(path: &str) {
    let args: Vec<String> = std::env::args().collect();
    let shape = match args.get(1).map(String::as_str) {
        Some("spans") => corpus::Shape::Spans,
        _ => corpus::Shape::Traces,
    };
    let batches = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    if path == "steady" {
        let mut steady = Steady::new(shape);
        let spans = count_steady(&mut steady, batches);
        let c = &steady.store.snapshot(None).counters;
        println!(
            "steady {}: {batches} batches, {spans} spans; retained {} evicted {} pending calls {}",
            shape_name(shape),
            c.retained_spans,
            c.evicted_spans,
            c.pending_calls
        );
        return;
    }
    let corpus = corpus::Corpus::build(64, BATCH, 1, false, shape);
    let n = corpus.bodies.len();
    let warm: Vec<bytes::Bytes> = (0..n).map(|i| corpus.body(i, 0)).collect();
    let bodies: Vec<bytes::Bytes> = (0..batches)
        .map(|k| corpus.body(k % n, 1 + (k / n) as u64))
        .collect();
    count_path(path, &warm);
    let spans = count_path(path, &bodies);
    println!(
        "{path} {}: {batches} batches, {spans} spans",
        shape_name(shape)
    );
}

/// Batches between the periodic jobs in `INGEST_COUNT=steady`: about 250 ms of spans at this
/// machine's receiver capacity (≈ 300k spans/s).
const COUNT_TICK: usize = 150;

/// `batches` fresh batches through decode + apply at steady state; the number of spans sent.
#[inline(never)]
fn count_steady(steady: &mut Steady, batches: usize) -> usize {
    for k in 0..batches {
        let body = steady.next_body();
        if let Ok(d) = wire::decode(&body) {
            steady.store.apply(d.spans, now_unix_ns());
        }
        if k % COUNT_TICK == COUNT_TICK - 1 {
            steady.tick(now_unix_ns());
        }
    }
    batches * BATCH
}

/// Decodes every body with `path`, the spans dropped; the number decoded.
#[inline(never)]
fn count_path(path: &str, bodies: &[bytes::Bytes]) -> usize {
    bodies
        .iter()
        .map(|b| match path {
            "prost" => ExportTraceServiceRequest::decode(&b[..]).map_or(0, |r| {
                black_box(r)
                    .resource_spans
                    .iter()
                    .flat_map(|rs| &rs.scope_spans)
                    .map(|ss| ss.spans.len())
                    .sum()
            }),
            _ => wire::decode(&b[..]).map_or(0, |d| black_box(d).spans.len()),
        })
        .sum()
}

fn main() {
    if let Ok(path) = std::env::var("INGEST_COUNT") {
        return count(&path);
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    // Under `--profile-time` (profilers) or `--list`, only the selected benchmark should run.
    // Only under `cargo bench` (which passes --bench): `cargo test --all-targets` runs benches
    // once as a smoke test and must not spend minutes on the summary in a debug build.
    let benching = std::env::args().any(|a| a == "--bench");
    if benching && !std::env::args().any(|a| a == "--profile-time" || a == "--list") {
        println!(
            "\nsummary (per {BATCH}-span batch, interleaved, same bytes, same run; mean includes the periodic jobs):"
        );
        for shape in [corpus::Shape::Traces, corpus::Shape::Spans] {
            summary(shape, 4000);
        }
    }
}
