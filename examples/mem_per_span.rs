//! Resident memory per retained span: RSS delta over ~1 M spans ÷ their protobuf wire bytes.
//! Run: `cargo run --release --example mem_per_span`. Results: docs/performance.md, "Memory".
//!
//! Two shapes: the load generator's corpus as is (every span its own trace: the worst case for
//! per-trace overhead) and the same spans grouped 16 to a trace (closer to real traces).

use faultline::store::{Store, StoreConfig};
use prost::Message;

#[path = "../benches/common/corpus.rs"]
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

fn run(group: usize) {
    const BATCHES: usize = 2000;
    let mut rng = corpus::Rng(0x5eed);
    let services = ["frontend", "checkout", "payments", "inventory"];
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    let before = rss_bytes();
    let mut wire = 0usize;
    let mut spans = 0usize;
    for i in 0..BATCHES {
        let mut req = corpus::build_batch(512, services[i % services.len()], &mut rng);
        if group > 1 {
            for (j, s) in req.resource_spans[0].scope_spans[0]
                .spans
                .iter_mut()
                .enumerate()
            {
                let t = (i * 512 + j) / group;
                s.trace_id = (t as u128 + 1).to_be_bytes().to_vec();
            }
        }
        let bytes = req.encode_to_vec();
        wire += bytes.len();
        // The receivers' path: protobuf bytes straight to model spans (ingest::wire).
        let Ok(d) = faultline::ingest::wire::decode(&bytes) else {
            continue;
        };
        spans += d.spans.len();
        store.apply(d.spans, i as u64);
    }
    store.flush_pending();
    let snap = store.snapshot(None);
    let after = rss_bytes();
    let counted: usize = snap.traces.iter().map(|t| t.mem_bytes()).sum();
    let delta = after.saturating_sub(before) as f64;
    println!(
        "spans/trace={group:>2}  spans={spans}  traces={}  wire={:.0} B/span  rss={:.0} B/span  ratio={:.2}x  (counted {:.0} B/span)",
        snap.traces.len(),
        wire as f64 / spans as f64,
        delta / spans as f64,
        delta / wire as f64,
        counted as f64 / spans as f64
    );
}

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "1".into());
    run(arg.parse().unwrap_or(1));
}
