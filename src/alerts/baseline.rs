//! The baseline numbers of one dependency (see `vars`): the baseline period `[B − baseline, B)`
//! cut into chunks as long as the window, aligned to multiples of the window (so a chunk's
//! statistics are reused from one evaluation to the next), no earlier than the chunk where the
//! edge was first seen; each number is a median over chunks, robust to a spike that fills less
//! than half the period. Sparse traffic (fewer than [`MIN_CHUNKS`] chunks with
//! [`MIN_CHUNK_CALLS`] calls) falls back to the pooled ratio and p99 of the whole period.

use std::collections::HashMap;

use cel::Value;

use crate::model::edge::{BUCKET_NS, EdgeKey};
use crate::model::view::DependencyView;

use super::vars::{Frame, Vars, ratio, sum};

/// Calls a baseline chunk needs before its error ratio and p99 take part in the medians.
pub const MIN_CHUNK_CALLS: u64 = 10;
/// Baseline chunks with enough calls needed for a median; fewer and the pooled baseline is used.
pub const MIN_CHUNKS: usize = 3;

/// Statistics of one baseline chunk.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Chunk {
    calls: u64,
    errors: u64,
    /// p99 in ms, computed on first use (`None`: not yet).
    p99_ms: Option<Option<f64>>,
}

/// Chunk statistics kept between evaluations, keyed by (edge, window, chunk index). An entry is
/// reused only while the chunk's counts are unchanged (a late span changes them).
#[derive(Debug, Default)]
pub struct ChunkCache {
    map: HashMap<(EdgeKey, u64, u64), Chunk>,
}

impl ChunkCache {
    /// Forgets chunks that end before `before_ns`.
    pub fn prune(&mut self, before_ns: u64) {
        self.map.retain(|(_, w, k), _| (k + 1) * w >= before_ns);
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The median of `xs` (sorted in place); `None` when empty.
pub fn median(xs: &mut [f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

/// Adds the baseline variables to `out` (p99 only with `latency`).
pub fn compute(
    out: &mut Vars,
    view: &DependencyView,
    f: &Frame,
    latency: bool,
    cache: &mut ChunkCache,
) {
    let w = f.window.max(BUCKET_NS);
    let series = &view.series;
    // Whole chunks inside [B − baseline, B), not before the chunk where the edge first appeared.
    let first_seen = if series.first_ns == u64::MAX {
        u64::MAX
    } else {
        series.first_ns / w
    };
    let lo = f
        .baseline_end
        .saturating_sub(f.baseline)
        .div_ceil(w)
        .max(first_seen);
    let hi = f.baseline_end / w;
    let mut chunks: Vec<Chunk> = Vec::new();
    for k in lo..hi {
        let (from, to) = (k * w, (k + 1) * w);
        let s = sum(series, from, to, false);
        let key = (view.key.clone(), w, k);
        let mut c = Chunk {
            calls: s.calls,
            errors: s.errors,
            p99_ms: None,
        };
        if let Some(old) = cache.map.get(&key)
            && old.calls == c.calls
            && old.errors == c.errors
        {
            c.p99_ms = old.p99_ms;
        }
        if latency && c.p99_ms.is_none() && c.calls >= MIN_CHUNK_CALLS {
            let s = sum(series, from, to, true);
            c.p99_ms = Some(s.latency.quantile(0.99).map(|x| x * 1e3));
        }
        cache.map.insert(key, c);
        chunks.push(c);
    }
    let calls: u64 = chunks.iter().map(|c| c.calls).sum();
    let errors: u64 = chunks.iter().map(|c| c.errors).sum();
    out.int("baseline_calls", calls);
    let secs = w as f64 / 1e9;
    let mut rates: Vec<f64> = chunks.iter().map(|c| c.calls as f64 / secs).collect();
    out.num("baseline_rate", median(&mut rates));
    let with_calls = chunks.iter().filter(|c| c.calls > 0).count();
    out.int("baseline_chunks", chunks.len() as u64);
    out.num(
        "baseline_coverage",
        (!chunks.is_empty()).then(|| with_calls as f64 / chunks.len() as f64),
    );
    let full: Vec<&Chunk> = chunks
        .iter()
        .filter(|c| c.calls >= MIN_CHUNK_CALLS)
        .collect();
    let robust = full.len() >= MIN_CHUNKS && full.len() * 2 >= with_calls;
    let base_ratio = if robust {
        let mut r: Vec<f64> = full
            .iter()
            .map(|c| c.errors as f64 / c.calls as f64)
            .collect();
        median(&mut r)
    } else {
        ratio(errors, calls)
    };
    out.num("baseline_error_ratio", base_ratio);
    // How unusual the window's errors are if each call failed with the baseline's probability
    // (floored so a baseline without errors still gives a finite number).
    let (wc, we) = match (out.get("calls"), out.get("errors")) {
        (Some(Value::Int(c)), Some(Value::Int(e))) => (*c as f64, *e as f64),
        _ => (0.0, 0.0),
    };
    let z = base_ratio.filter(|_| wc > 0.0).map(|p| {
        let p = p.max(0.5 / (calls.max(1) as f64)).min(0.999);
        (we - wc * p) / (wc * p * (1.0 - p)).sqrt()
    });
    out.num("error_z", z);
    if latency {
        let mut p99s: Vec<f64> = full.iter().filter_map(|c| c.p99_ms.flatten()).collect();
        let p99 = if p99s.len() >= MIN_CHUNKS {
            median(&mut p99s)
        } else if calls >= MIN_CHUNK_CALLS && lo < hi {
            let s = sum(series, lo * w, hi * w, true);
            s.latency.quantile(0.99).map(|x| x * 1e3)
        } else {
            None
        };
        out.num("baseline_p99_ms", p99);
    }
}
