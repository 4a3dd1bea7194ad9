//! Dependency edges (caller service → dependency) and their per-time-bucket aggregates.
//!
//! Aggregates are keyed by event time (span start) in fixed buckets so that any window — the
//! last 1/5/15 minutes live, or any [from, to] over a capture — is a merge of whole buckets.
//! Closed buckets are shared (`Arc`) with snapshots; only a bucket that receives a late span is
//! copied on write.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::dependency::DepKind;
use super::sketch::Sketch;

/// Width of one aggregate bucket, in nanoseconds (10 s).
pub const BUCKET_NS: u64 = 10_000_000_000;

/// The start of the bucket holding `t_ns`.
pub fn bucket_of(t_ns: u64) -> u64 {
    t_ns - t_ns % BUCKET_NS
}

/// One edge of the dependency graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EdgeKey {
    /// The calling service (`service.name` of the CLIENT/PRODUCER span).
    pub caller: Arc<str>,
    /// The dependency as resolved (see `model::dependency` and the store).
    pub dependency: Arc<str>,
}

/// One finished call on an edge, as the store records it.
#[derive(Clone, Debug, PartialEq)]
pub struct CallSample {
    /// Span start, Unix nanoseconds (selects the bucket).
    pub start_ns: u64,
    /// Duration in seconds.
    pub duration_secs: f64,
    /// Whether the call failed.
    pub error: bool,
    /// Whether the failure was a timeout.
    pub timeout: bool,
    /// Whether the call was a retry attempt (`http.request.resend_count` > 0 and the like).
    pub retry: bool,
    /// Whether the call was rejected by an open circuit breaker without reaching the dependency
    /// (a fast-fail error matching the reference's `CB_OPEN_RE`).
    pub short_circuit: bool,
    /// A cache lookup that hit (`Some(true)`) or missed (`Some(false)`), see `model::cache`.
    pub cache: Option<bool>,
}

/// Aggregates of the calls whose start falls in one bucket.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BucketStats {
    /// Calls seen.
    pub calls: u64,
    /// Calls that failed.
    pub errors: u64,
    /// Calls that timed out.
    pub timeouts: u64,
    /// Calls that were retry attempts.
    pub retries: u64,
    /// Calls rejected by an open circuit breaker (fast-fail errors).
    pub short_circuits: u64,
    /// Cache lookups that hit (`model::cache`).
    pub cache_hits: u64,
    /// Cache lookups that missed.
    pub cache_misses: u64,
    /// Latency sketch in seconds.
    pub latency: Sketch,
}

impl BucketStats {
    /// Adds one call.
    pub fn record(&mut self, c: &CallSample) {
        self.calls += 1;
        self.errors += u64::from(c.error);
        self.timeouts += u64::from(c.timeout);
        self.retries += u64::from(c.retry);
        self.short_circuits += u64::from(c.short_circuit);
        self.cache_hits += u64::from(c.cache == Some(true));
        self.cache_misses += u64::from(c.cache == Some(false));
        self.latency.insert(c.duration_secs);
    }

    /// Adds another bucket's aggregates (exact: counts add, sketches merge).
    pub fn merge(&mut self, o: &BucketStats) {
        self.calls += o.calls;
        self.errors += o.errors;
        self.timeouts += o.timeouts;
        self.retries += o.retries;
        self.short_circuits += o.short_circuits;
        self.cache_hits += o.cache_hits;
        self.cache_misses += o.cache_misses;
        self.latency.merge(&o.latency);
    }
}

/// Aggregates of an edge over a window, with the derived numbers every consumer shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EdgeSummary {
    /// Merged aggregates.
    pub stats: BucketStats,
    /// Window start (inclusive), Unix nanoseconds.
    pub from_ns: u64,
    /// Window end (exclusive), Unix nanoseconds.
    pub to_ns: u64,
}

impl EdgeSummary {
    /// Failed calls ÷ calls (0 when there were no calls).
    pub fn error_ratio(&self) -> f64 {
        ratio(self.stats.errors, self.stats.calls)
    }
    /// Timed-out calls ÷ calls.
    pub fn timeout_ratio(&self) -> f64 {
        ratio(self.stats.timeouts, self.stats.calls)
    }
    /// Retry attempts ÷ calls.
    pub fn retry_ratio(&self) -> f64 {
        ratio(self.stats.retries, self.stats.calls)
    }
    /// Short-circuited (breaker-rejected) calls ÷ calls.
    pub fn short_circuit_ratio(&self) -> f64 {
        ratio(self.stats.short_circuits, self.stats.calls)
    }
    /// Calls per second over the window.
    pub fn rate(&self) -> f64 {
        let secs = self.to_ns.saturating_sub(self.from_ns) as f64 / 1e9;
        if secs > 0.0 {
            self.stats.calls as f64 / secs
        } else {
            0.0
        }
    }
    /// Latency quantile in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.stats.latency.quantile(q).map(|s| s * 1e3)
    }
    /// Slowest call in milliseconds.
    pub fn max_ms(&self) -> Option<f64> {
        self.stats.latency.max().map(|s| s * 1e3)
    }
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

/// The merge of a window's buckets but the last, with what it was computed for.
#[derive(Clone, Debug, Default)]
pub struct ClosedCache {
    key: Option<(u64, u64, u64)>,
    closed: BucketStats,
}

/// All buckets of one edge.
#[derive(Clone, Debug)]
pub struct EdgeSeries {
    /// Kind of dependency (from the first call that named it).
    pub kind: DepKind,
    /// Buckets by start time (shared with snapshots; copied on write).
    pub buckets: Arc<BTreeMap<u64, Arc<BucketStats>>>,
    /// Earliest call start seen.
    pub first_ns: u64,
    /// Latest call end seen.
    pub last_ns: u64,
    /// Bumped on every change, so cached summaries know when they are stale.
    pub version: u64,
    /// Bumped when a bucket other than the newest changes (a late span, pruning): a cached merge
    /// of all but the newest bucket stays valid until then.
    pub late_version: u64,
}

impl EdgeSeries {
    /// An empty series for a dependency of `kind`.
    pub fn new(kind: DepKind) -> Self {
        EdgeSeries {
            kind,
            buckets: Arc::default(),
            first_ns: u64::MAX,
            last_ns: 0,
            version: 0,
            late_version: 0,
        }
    }

    /// Records one call in its bucket.
    pub fn record(&mut self, c: &CallSample) {
        let key = bucket_of(c.start_ns);
        if self
            .buckets
            .last_key_value()
            .is_some_and(|(newest, _)| key < *newest)
        {
            self.late_version += 1;
        }
        let b = Arc::make_mut(&mut self.buckets)
            .entry(bucket_of(c.start_ns))
            .or_default();
        Arc::make_mut(b).record(c);
        self.first_ns = self.first_ns.min(c.start_ns);
        let end = c.start_ns.saturating_add((c.duration_secs * 1e9) as u64);
        self.last_ns = self.last_ns.max(end);
        self.version += 1;
    }

    /// Merges the buckets overlapping `[from_ns, to_ns)` (whole buckets).
    pub fn summary(&self, from_ns: u64, to_ns: u64) -> EdgeSummary {
        let mut stats = BucketStats::default();
        for (_, b) in self.buckets.range(bucket_of(from_ns)..to_ns) {
            stats.merge(b);
        }
        EdgeSummary {
            stats,
            from_ns,
            to_ns,
        }
    }

    /// Like [`EdgeSeries::summary`], reusing `cache` (the merge of every bucket in the window but
    /// the last) while no older bucket changed, so a snapshot of an active edge costs one merge.
    pub fn summary_cached(&self, from_ns: u64, to_ns: u64, cache: &mut ClosedCache) -> EdgeSummary {
        let from = bucket_of(from_ns);
        let Some((&last, last_stats)) = self.buckets.range(from..to_ns).next_back() else {
            return EdgeSummary {
                stats: BucketStats::default(),
                from_ns,
                to_ns,
            };
        };
        let key = (self.late_version, from, last);
        if cache.key != Some(key) {
            let mut closed = BucketStats::default();
            for (_, b) in self.buckets.range(from..last) {
                closed.merge(b);
            }
            *cache = ClosedCache {
                key: Some(key),
                closed,
            };
        }
        let mut stats = cache.closed.clone();
        stats.merge(last_stats);
        EdgeSummary {
            stats,
            from_ns,
            to_ns,
        }
    }

    /// Adds `delta` retries to the bucket of a call that started at `start_ns` (a later sibling
    /// showed it was, or was not, a retry). A bucket already pruned is left alone.
    pub fn add_retries(&mut self, start_ns: u64, delta: i64) {
        let key = bucket_of(start_ns);
        if !self.buckets.contains_key(&key) {
            return;
        }
        if self
            .buckets
            .last_key_value()
            .is_some_and(|(newest, _)| key < *newest)
        {
            self.late_version += 1;
        }
        if let Some(b) = Arc::make_mut(&mut self.buckets).get_mut(&key) {
            let b = Arc::make_mut(b);
            b.retries = b.retries.saturating_add_signed(delta);
        }
        self.version += 1;
    }

    /// Drops buckets that ended before `cutoff_ns`; returns how many were dropped.
    pub fn prune_before(&mut self, cutoff_ns: u64) -> usize {
        if self
            .buckets
            .first_key_value()
            .is_none_or(|(k, _)| *k >= bucket_of(cutoff_ns))
        {
            return 0;
        }
        let map = Arc::make_mut(&mut self.buckets);
        let keep = map.split_off(&bucket_of(cutoff_ns));
        let dropped = std::mem::replace(map, keep).len();
        if dropped > 0 {
            self.version += 1;
            self.late_version += 1;
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(start_s: u64, ms: f64, error: bool) -> CallSample {
        CallSample {
            start_ns: start_s * 1_000_000_000,
            duration_secs: ms / 1e3,
            error,
            timeout: false,
            retry: false,
            short_circuit: false,
            cache: None,
        }
    }

    #[test]
    fn windows_merge_whole_buckets() {
        let mut s = EdgeSeries::new(DepKind::Http);
        s.record(&call(5, 10.0, false));
        s.record(&call(15, 20.0, true));
        s.record(&call(25, 30.0, false));
        assert_eq!(s.buckets.len(), 3);
        let all = s.summary(0, 30_000_000_000);
        assert_eq!(all.stats.calls, 3);
        assert_eq!(all.stats.errors, 1);
        let later = s.summary(10_000_000_000, 30_000_000_000);
        assert_eq!(later.stats.calls, 2);
        assert!((later.max_ms().unwrap_or(0.0) - 30.0).abs() < 0.01);
        let mut cache = ClosedCache::default();
        assert_eq!(
            s.summary_cached(10_000_000_000, 30_000_000_000, &mut cache),
            later
        );
        s.record(&call(26, 40.0, false));
        assert_eq!(
            s.summary_cached(10_000_000_000, 30_000_000_000, &mut cache)
                .stats
                .calls,
            3
        );
        s.record(&call(12, 40.0, false));
        assert_eq!(
            s.summary_cached(10_000_000_000, 30_000_000_000, &mut cache),
            s.summary(10_000_000_000, 30_000_000_000),
            "a late span into an older bucket invalidates the cache"
        );
        assert_eq!(s.prune_before(20_000_000_000), 2);
        assert_eq!(s.summary(0, u64::MAX).stats.calls, 2);
    }
}
