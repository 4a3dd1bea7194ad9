//! Resident memory per retained span, at steady state: the store at its default budget of 1M
//! spans, full and evicting, calls settling and snapshots publishing as live, fed the load
//! generator's own corpus (`tools/otlp-loadgen`, fresh ids on every replay). Prints the RSS
//! growth over the empty process divided by the protobuf bytes of the spans retained, twice: as
//! the fill ends (2 s of calls still waiting for an answer) and once every call has settled
//! (each then holds its call record).
//!
//! Run: `cargo run --release --example mem_per_span -- traces` (or `spans`). Results:
//! docs/performance.md, "Memory per retained span".
//!
//! `mem_per_span record [ARGS]` runs the real receiver instead (`faultline record ARGS`, in this
//! process, so the counting allocator sees it) and prints its live allocations by size every
//! 5 s on stderr: where the receiver's bytes go when it is fed by `tools/otlp-loadgen`.

use faultline::store::{Store, StoreConfig};

#[path = "../tools/otlp-loadgen/src/corpus.rs"]
mod corpus;

#[global_allocator]
static GLOBAL: sizes::Counting = sizes::Counting;

/// `--sizes`: live allocations by requested size at the end (where the bytes go), counted around
/// mimalloc. Off by default (the counting costs two atomic operations per allocation).
mod sizes {
    use std::alloc::{GlobalAlloc, Layout};
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};

    /// Sizes counted one by one; larger ones share the last slot.
    const MAX: usize = 4096;
    pub static ON: AtomicBool = AtomicBool::new(false);
    static LIVE: [AtomicI64; MAX + 1] = [const { AtomicI64::new(0) }; MAX + 1];
    static LIVE_BYTES_BIG: AtomicI64 = AtomicI64::new(0);

    pub struct Counting;

    fn count(size: usize, d: i64) {
        if ON.load(Relaxed) {
            LIVE[size.min(MAX)].fetch_add(d, Relaxed);
            if size >= MAX {
                LIVE_BYTES_BIG.fetch_add(d * size as i64, Relaxed);
            }
        }
    }

    // SAFETY: forwards every call to mimalloc unchanged; the counting touches only atomics.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            count(l.size(), 1);
            unsafe { mimalloc::MiMalloc.alloc(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            count(l.size(), -1);
            unsafe { mimalloc::MiMalloc.dealloc(p, l) }
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            count(l.size(), 1);
            unsafe { mimalloc::MiMalloc.alloc_zeroed(l) }
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
            count(l.size(), -1);
            count(new, 1);
            unsafe { mimalloc::MiMalloc.realloc(p, l, new) }
        }
    }

    /// Prints the sizes holding the most bytes, per retained span (`spans` 1e6: per million).
    pub fn print(spans: f64) {
        let mut rows: Vec<(usize, i64)> = (1..MAX)
            .map(|s| (s, LIVE[s].load(Relaxed)))
            .filter(|r| r.1 > 0)
            .collect();
        rows.sort_by_key(|&(s, n)| -(s as i64 * n));
        let total: i64 =
            rows.iter().map(|&(s, n)| s as i64 * n).sum::<i64>() + LIVE_BYTES_BIG.load(Relaxed);
        println!(
            "live bytes (requested) per span: {:.1}",
            total as f64 / spans
        );
        for (s, n) in rows.iter().take(16) {
            println!(
                "  size {s:>5}: {n:>9} live, {:>6.1} B/span",
                (*s as i64 * n) as f64 / spans
            );
        }
        println!(
            "  >= {MAX} B: {:.1} B/span",
            LIVE_BYTES_BIG.load(Relaxed) as f64 / spans
        );
    }
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// `record [ARGS]`: `faultline record ARGS` in this process, live allocations by size (bytes per
/// million retained spans, i.e. per span at the default budget when full) every 5 s.
fn record() {
    use clap::Parser;
    let args = ["faultline".to_string(), "record".to_string()]
        .into_iter()
        .chain(std::env::args().skip(2));
    let cli = faultline::cli::Cli::parse_from(args);
    let Some(faultline::cli::Command::Record(args)) = cli.command else {
        unreachable!("parsed as record")
    };
    sizes::ON.store(true, std::sync::atomic::Ordering::Relaxed);
    std::thread::spawn(|| {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(5));
            eprintln!("rss {:.1} MB", rss_bytes() as f64 / 1e6);
            sizes::print(1e6);
        }
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Err(e) = rt.block_on(faultline::app::record(args)) {
        eprintln!("record: {e}");
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("record") {
        return record();
    }
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
    let by_size = std::env::args().any(|a| a == "--sizes");
    let cfg = StoreConfig::default();
    let budget = cfg.max_spans;
    let mut store = Store::new(cfg);
    let before = rss_bytes();
    sizes::ON.store(by_size, std::sync::atomic::Ordering::Relaxed);
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
    // Measured twice: as the fill ends (at this rate, 2 s of calls still wait: half the spans
    // on `spans`), then once every call has settled, as in a receiver going at a tenth of this
    // rate (its calls then hold their call records: the steady state that costs more). The
    // settle time passes in snapshot ticks, as live: a call settling copies its trace when a
    // snapshot still holds it, and the copy lives until the next snapshot.
    let settle_ns = store.config().settle_ns;
    for (when, ticks) in [("fill end", 0), ("settled", settle_ns / 250_000_000 + 1)] {
        for _ in 0..ticks {
            now += 250_000_000;
            store.settle(now);
            store.prune(now);
            snap = store.snapshot(Some(now));
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
            "{when}: shape={shape:?} budget={budget} applied={applied} retained={retained} traces={} \
             pending_calls={} wire={wire_per_span:.0} B/span rss={:.0} B/span ratio={:.2}x \
             (counted by mem_bytes: {:.0} B/span)",
            snap.traces.len(),
            snap.counters.pending_calls,
            delta / retained as f64,
            delta / (retained as f64 * wire_per_span),
            counted as f64 / retained as f64
        );
        if by_size {
            sizes::print(retained as f64);
        }
    }
}
