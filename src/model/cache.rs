//! Cache hits and misses: what one span says of a cache lookup, and a dependency's hit ratio
//! over a window (from metrics when a profile maps hit/miss counters, else from the spans).
//!
//! A span is a cache lookup with a known result when:
//! - it carries a boolean `cache.hit` (Sentry's cache-module convention, also what an app sets
//!   from the OTel Redis instrumentation's `response_hook`), or
//! - it is a read of a key-value store (`db.system(.name)` `redis`, `memcached`, `valkey`,
//!   `keydb`, `dragonfly`) — `GET`, `MGET`, `HGET`, `HMGET`, `HGETALL`, `GETEX`, `GETDEL`,
//!   memcached `get`/`gets` — with `db.response.returned_rows` (semconv ≥ 1.33): 0 is a miss,
//!   more is a hit.
//!
//! Anything else says nothing (`None`): a write, a lookup with no result recorded. One span is
//! one lookup, so an `MGET` of ten keys is one lookup, a hit when any key was found.

use super::attrs::Lookup;
use super::span::Span;

/// Boolean attributes that say whether a lookup hit (first present wins).
pub const HIT_KEYS: &[&str] = &["cache.hit"];
/// Rows (values) a read returned, newest semantic conventions first.
pub const RETURNED_ROWS_KEYS: &[&str] = &["db.response.returned_rows"];
/// Key-value stores whose reads are cache lookups.
pub const CACHE_SYSTEMS: &[&str] = &["redis", "memcached", "valkey", "keydb", "dragonfly"];
/// Read commands of those stores (upper case).
pub const READ_COMMANDS: &[&str] = &[
    "GET", "MGET", "HGET", "HMGET", "HGETALL", "GETEX", "GETDEL", "GETS", "GAT", "GATS",
];
const DB_SYSTEM: &[&str] = &["db.system.name", "db.system"];
const OPERATION: &[&str] = &["db.operation.name", "db.operation"];
const STATEMENT: &[&str] = &["db.query.text", "db.statement"];

/// Whether a span is a cache lookup that hit (`Some(true)`), missed (`Some(false)`), or says
/// nothing about a cache (`None`). See the module docs.
pub fn lookup_result(span: &Span) -> Option<bool> {
    lookup_result_with(span, &span.attributes)
}

/// [`lookup_result`], reading the span's attributes through `a`.
pub fn lookup_result_with(span: &Span, a: &impl Lookup) -> Option<bool> {
    for k in HIT_KEYS {
        if let Some(v) = a.get(k) {
            if let Some(b) = v.as_bool() {
                return Some(b);
            }
            if let Some(s) = v.as_str() {
                match s.to_ascii_lowercase().as_str() {
                    "true" | "hit" => return Some(true),
                    "false" | "miss" => return Some(false),
                    _ => {}
                }
            }
        }
    }
    let system = a.first_str(DB_SYSTEM)?;
    if !CACHE_SYSTEMS.iter().any(|s| system.eq_ignore_ascii_case(s)) || !is_read(span, a) {
        return None;
    }
    a.first_i64(RETURNED_ROWS_KEYS).map(|n| n > 0)
}

/// Whether a key-value span is a read command: `db.operation(.name)`, else the first word of
/// the statement, else the span name.
fn is_read(span: &Span, a: &impl Lookup) -> bool {
    let op = a
        .first_str(OPERATION)
        .or_else(|| a.first_str(STATEMENT))
        .unwrap_or(&span.name);
    let word = op.split_whitespace().next().unwrap_or("");
    READ_COMMANDS.iter().any(|c| word.eq_ignore_ascii_case(c))
}

/// Where a hit ratio came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheSource {
    /// Hit/miss counters mapped by a profile (redis_exporter, Micrometer, Caffeine, …).
    Metric,
    /// Lookups in the traces with a known result.
    Traces,
}

impl CacheSource {
    /// `metric` or `traces`.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheSource::Metric => "metric",
            CacheSource::Traces => "traces",
        }
    }
}

/// A cache's lookups over a window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CacheStats {
    /// Lookups that found the value (counter increase, or traced lookups).
    pub hits: f64,
    /// Lookups that did not.
    pub misses: f64,
    /// Where the counts came from.
    pub source: CacheSource,
}

impl CacheStats {
    /// Lookups: hits + misses.
    pub fn gets(&self) -> f64 {
        self.hits + self.misses
    }

    /// Hits ÷ lookups, `None` when there were none.
    pub fn hit_ratio(&self) -> Option<f64> {
        let g = self.gets();
        (g > 0.0).then(|| self.hits / g)
    }
}

/// A dependency's cache figures: the metric counters' increases when a profile maps a hit or
/// miss counter to it (a cache's own count covers every client, traced or not), else the traced
/// lookups with a known result; `None` when neither says anything.
pub fn combine(traced: (u64, u64), metric: (Option<f64>, Option<f64>)) -> Option<CacheStats> {
    if metric.0.is_some() || metric.1.is_some() {
        return Some(CacheStats {
            hits: metric.0.unwrap_or(0.0),
            misses: metric.1.unwrap_or(0.0),
            source: CacheSource::Metric,
        });
    }
    (traced.0 + traced.1 > 0).then_some(CacheStats {
        hits: traced.0 as f64,
        misses: traced.1 as f64,
        source: CacheSource::Traces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::span::SpanKind;
    use crate::testkit::{SpanBuilder, span};

    fn client(name: &str) -> SpanBuilder {
        span(1, 2, 1, "api", name, SpanKind::Client, 1_000, 1_000)
    }

    #[test]
    fn explicit_attribute_wins() {
        let s = client("cache.get").flag("cache.hit", false).build();
        assert_eq!(lookup_result(&s), Some(false));
        let s = client("cache.get").attr("cache.hit", "HIT").build();
        assert_eq!(lookup_result(&s), Some(true));
    }

    #[test]
    fn redis_reads_by_returned_rows_both_generations() {
        let old = client("GET")
            .attr("db.system", "redis")
            .attr("db.statement", "GET user:1")
            .int("db.response.returned_rows", 0)
            .build();
        assert_eq!(lookup_result(&old), Some(false));
        let new = client("MGET")
            .attr("db.system.name", "redis")
            .attr("db.operation.name", "MGET")
            .int("db.response.returned_rows", 2)
            .build();
        assert_eq!(lookup_result(&new), Some(true));
    }

    #[test]
    fn writes_and_unknown_results_say_nothing() {
        let set = client("SET")
            .attr("db.system", "redis")
            .int("db.response.returned_rows", 0)
            .build();
        assert_eq!(lookup_result(&set), None);
        let get = client("GET").attr("db.system", "redis").build();
        assert_eq!(lookup_result(&get), None);
        let sql = client("GET")
            .attr("db.system", "postgresql")
            .int("db.response.returned_rows", 0)
            .build();
        assert_eq!(lookup_result(&sql), None);
    }

    #[test]
    fn metrics_win_over_traces() {
        let m = combine((5, 5), (Some(9.0), None)).expect("metric");
        assert_eq!(
            (m.hits, m.misses, m.source),
            (9.0, 0.0, CacheSource::Metric)
        );
        let t = combine((3, 1), (None, None)).expect("traces");
        assert_eq!(
            (t.hits, t.misses, t.source),
            (3.0, 1.0, CacheSource::Traces)
        );
        assert_eq!(combine((0, 0), (None, None)), None);
    }

    #[test]
    fn ratio() {
        let c = CacheStats {
            hits: 3.0,
            misses: 1.0,
            source: CacheSource::Traces,
        };
        assert_eq!(c.hit_ratio(), Some(0.75));
        assert_eq!(c.gets(), 4.0);
        let none = CacheStats {
            hits: 0.0,
            misses: 0.0,
            ..c
        };
        assert_eq!(none.hit_ratio(), None);
    }
}
