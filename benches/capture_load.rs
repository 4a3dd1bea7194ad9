//! Loading a capture file, as a ratio to a one-thread `serde_json` decode of the same file into
//! `opentelemetry-proto` types (the baseline), in the same run. The capture is
//! `benches/common/capture_gen.rs`'s (the one `scripts/capture-perf.sh` times end to end), written
//! to a temp file once; every path reads it from the page cache line by line.
//!
//! Paths: the baseline; `serde_json` parsing into `IgnoredAny` (the floor of any `serde_json`
//! reader); `json::decode_direct` alone (no store); the old load (`otlp_json` tree +
//! `decode_traces` + store apply, one thread); the new load on one thread and with the default
//! workers; and `report` end to end (new load, snapshot, rows, JSON). Results:
//! docs/performance.md, "Capture load".
//!
//!     cargo bench --bench capture_load -- --warm-up-time 1 --measurement-time 10
//!
//! `CAPTURE_SPANS` sets the size (default 100,000 spans, about 75 MB). After criterion, a
//! summary runs every path in turn, round after round (so the machine's load moves them alike),
//! and prints the medians and their ratios to the baseline.

use std::hint::black_box;
use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use faultline::ingest::capture::ReadOptions;
use faultline::ingest::json;
use faultline::replay;
use faultline::store::StoreConfig;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

#[path = "common/capture_gen.rs"]
mod capture_gen;

// The same allocator as the binary, so the figures are the binary's (baseline included).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Every line of `path`, in order, to `f`.
fn each_line(path: &Path, mut f: impl FnMut(&[u8])) {
    let file = std::fs::File::open(path).expect("capture opens");
    let mut r = std::io::BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    while r.read_until(b'\n', &mut line).expect("capture reads") > 0 {
        f(&line);
        line.clear();
    }
}

const PATHS: [&str; 7] = [
    "serde_json -> opentelemetry-proto, 1 thread (baseline)",
    "serde_json -> IgnoredAny, 1 thread (parse floor)",
    "json::decode_direct, 1 thread (no store)",
    "old load: otlp_json + decode_traces + store, 1 thread",
    "new load: json + store, 1 thread",
    "new load: json + store, default workers",
    "report end to end (new load)",
];

/// Runs path `i` once on `path`; returns a number that depends on the work (kept alive).
fn run(i: usize, path: &Path) -> usize {
    let load = |opts: ReadOptions| {
        let r = replay::load_with(&[path], StoreConfig::replay(usize::MAX), opts, &|_| {})
            .expect("capture loads");
        r.check_clean().expect("clean capture");
        r
    };
    match i {
        0 => {
            let mut n = 0;
            each_line(path, |l| {
                let req: ExportTraceServiceRequest =
                    serde_json::from_slice(l).expect("baseline decodes");
                n += req.resource_spans.len();
                drop(black_box(req));
            });
            n
        }
        1 => {
            let mut n = 0;
            each_line(path, |l| {
                serde_json::from_slice::<serde::de::IgnoredAny>(l).expect("parses");
                n += l.len();
            });
            n
        }
        2 => {
            let mut n = 0;
            each_line(path, |l| {
                let d = json::decode_direct(l).expect("decodes");
                n += d.spans.len();
                drop(black_box(d));
            });
            n
        }
        3 => {
            load(ReadOptions {
                workers: 0,
                direct: false,
            })
            .records
        }
        4 => {
            load(ReadOptions {
                workers: 0,
                direct: true,
            })
            .records
        }
        5 => load(ReadOptions::default()).records,
        _ => {
            let mut r = load(ReadOptions::default());
            let snap = r.snapshot();
            let rows = faultline::report::edge_rows(&snap);
            faultline::report::json::render(&rows).len()
        }
    }
}

fn bench(c: &mut Criterion, path: &Path, spans: u64) {
    let mut g = c.benchmark_group("capture_load");
    g.throughput(Throughput::Elements(spans));
    g.sample_size(10);
    for (i, name) in PATHS.iter().enumerate() {
        g.bench_function(*name, |b| b.iter(|| run(i, path)));
    }
    g.finish();
}

/// Median time of each path, run in turn `rounds` times.
fn summary(path: &Path, spans: u64, rounds: usize) {
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); PATHS.len()];
    for _ in 0..rounds {
        for (i, t) in times.iter_mut().enumerate() {
            let start = Instant::now();
            black_box(run(i, path));
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
    let workers = ReadOptions::default().workers;
    println!(
        "\nsummary ({spans} spans, median of {rounds} rounds, paths in turn, same file, same run; \
         default workers = {workers}):"
    );
    println!(
        "{:<56} {:>9} {:>12} {:>16}",
        "path", "s", "spans/s", "time ÷ baseline"
    );
    for (name, m) in PATHS.iter().zip(&medians) {
        println!(
            "{name:<56} {m:>9.3} {:>12.0} {:>15.2}x",
            spans as f64 / m,
            m / medians[0]
        );
    }
}

fn main() {
    // Under `cargo test --all-targets` (no --bench) this runs once as a smoke test, in a debug
    // build: keep the capture small there.
    let benching = std::env::args().any(|a| a == "--bench");
    let target: u64 = std::env::var("CAPTURE_SPANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 100_000 } else { 3_000 });
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("capture.jsonl");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).expect("create capture"));
    let (spans, traces) = capture_gen::write_capture(&mut w, target).expect("write capture");
    drop(w);
    let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    eprintln!("capture: {spans} spans in {traces} traces, {bytes} bytes");
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &path, spans);
    c.final_summary();
    if benching && !std::env::args().any(|a| a == "--profile-time" || a == "--list") {
        summary(&path, spans, 5);
    }
}
