//! Resident memory per retained span, at steady state: the store at its default budget of 1M
//! spans, full and evicting, calls settling and snapshots publishing as live, fed the load
//! generator's own corpus (`tools/otlp-loadgen`, fresh ids on every replay). Prints the RSS
//! growth over the empty process divided by the protobuf bytes of the spans retained.
//!
//! Run: `cargo run --release --example mem_per_span -- traces` (or `spans`). Results:
//! docs/performance.md, "Memory per retained span".

use faultline::store::{Store, StoreConfig};

#[path = "../tools/otlp-loadgen/src/corpus.rs"]
mod corpus;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let shape = match std::env::args().nth(1).as_deref() {
        Some("traces") => corpus::Shape::Traces,
        _ => corpus::Shape::Spans,
    };
    // Two budgets' worth: the second million replaces the first, so what is measured is the
    // store full and evicting, not filling.
    let fill: u64 = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let c = corpus::Corpus::build(64, 512, 1, false, shape);
    let wire_per_span = c.total_bytes() as f64 / (c.bodies.len() * c.spans_per_batch) as f64;
    let cfg = StoreConfig::default();
    let budget = cfg.max_spans;
    let mut store = Store::new(cfg);
    let before = rss_bytes();
    // Store time: 1 ms per request (512 spans), so calls settle (2 s) and snapshots publish
    // (every 250 ms) as they would at ~500k spans/s.
    let mut now = faultline::model::clock::now_unix_ns();
    let mut k = 0usize;
    let mut applied = 0u64;
    let mut snap = store.snapshot(Some(now));
    while applied < fill {
        let i = k % c.bodies.len();
        let body = c.body(i, (k / c.bodies.len()) as u64);
        k += 1;
        now += 1_000_000;
        let Ok(d) = faultline::ingest::wire::decode(&body) else {
            continue;
        };
        applied += d.spans.len() as u64;
        store.apply(d.spans, now);
        if k.is_multiple_of(250) {
            store.settle(now);
            store.prune(now);
            snap = store.snapshot(Some(now));
        }
    }
    store.settle(now);
    store.prune(now);
    snap = {
        drop(snap);
        store.snapshot(Some(now))
    };
    let after = rss_bytes();
    let retained = snap.counters.retained_spans;
    let counted: usize = snap.traces.iter().map(|t| t.mem_bytes()).sum();
    let delta = after.saturating_sub(before) as f64;
    println!(
        "shape={shape:?} budget={budget} applied={applied} retained={retained} traces={} pending_calls={} \
         wire={wire_per_span:.0} B/span rss={:.0} B/span ratio={:.2}x (counted by mem_bytes: {:.0} B/span)",
        snap.traces.len(),
        snap.counters.pending_calls,
        delta / retained as f64,
        delta / (retained as f64 * wire_per_span),
        counted as f64 / retained as f64
    );
}
