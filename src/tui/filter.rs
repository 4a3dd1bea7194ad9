//! The `/` filter language. Space-separated terms, all of which must match:
//!
//! - dependencies: bare words match caller or dependency (substring, any case); `service=`/
//!   `caller=`, `dependency=`/`dep=`, `kind=` (http, rpc, db, messaging, other) and `state=`
//!   (open, half_open, closed, at_capacity, ejected, unknown; `half-open` works too).
//! - traces: `service=`, `op=`/`operation=`, `min=200ms` (or `>200ms`), `errors`, `id=a,b`,
//!   any other `key=value` matches a span or resource attribute, bare words the root's service or
//!   operation.

use crate::analysis::traces::{TraceQuery, contains_ci};
use crate::model::breaker::BreakerState;

/// One term of a dependency filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DepTerm {
    /// Caller or dependency contains.
    Text(String),
    /// Caller contains.
    Caller(String),
    /// Dependency contains.
    Dependency(String),
    /// Kind equals.
    Kind(String),
    /// Breaker state key equals.
    State(String),
}

/// A parsed dependency filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DepFilter {
    /// Terms, all of which must match.
    pub terms: Vec<DepTerm>,
}

impl DepFilter {
    /// Parses the filter text (unknown keys match as plain text).
    pub fn parse(text: &str) -> Self {
        let terms = text
            .split_whitespace()
            .map(|w| match w.split_once('=') {
                Some(("service" | "caller" | "svc", v)) => DepTerm::Caller(v.into()),
                Some(("dependency" | "dep", v)) => DepTerm::Dependency(v.into()),
                Some(("kind", v)) => DepTerm::Kind(v.to_ascii_lowercase()),
                Some(("state" | "breaker", v)) => {
                    DepTerm::State(v.to_ascii_lowercase().replace('-', "_"))
                }
                _ => DepTerm::Text(w.into()),
            })
            .collect();
        DepFilter { terms }
    }

    /// Whether the filter restricts nothing.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether an edge with these facts matches every term.
    pub fn matches(&self, caller: &str, dependency: &str, kind: &str, state: BreakerState) -> bool {
        self.terms.iter().all(|t| match t {
            DepTerm::Text(s) => contains_ci(caller, s) || contains_ci(dependency, s),
            DepTerm::Caller(s) => contains_ci(caller, s),
            DepTerm::Dependency(s) => contains_ci(dependency, s),
            DepTerm::Kind(k) => kind == k,
            DepTerm::State(k) => {
                state.as_str() == k || (k == "open" && state == BreakerState::ForcedOpen)
            }
        })
    }
}

/// Parses a traces filter into a query.
pub fn parse_trace_query(text: &str) -> TraceQuery {
    let mut q = TraceQuery::default();
    let mut words: Vec<&str> = Vec::new();
    for w in text.split_whitespace() {
        if let Some(d) = w.strip_prefix('>') {
            q.min_duration_ns = parse_ns(d).or(q.min_duration_ns);
            continue;
        }
        match w.split_once('=') {
            Some(("service" | "svc", v)) => q.service = Some(v.into()),
            Some(("op" | "operation" | "name", v)) => q.operation = Some(v.into()),
            Some(("min" | "duration" | "dur", v)) => q.min_duration_ns = parse_ns(v),
            Some(("id" | "trace" | "trace_id", v)) => {
                q.trace_ids = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            }
            Some(("errors" | "error", v)) => q.errors_only = !matches!(v, "false" | "0" | "no"),
            Some((k, v)) if !k.is_empty() => q.attributes.push((k.into(), v.into())),
            _ if matches!(w, "errors" | "error" | "err") => q.errors_only = true,
            _ => words.push(w),
        }
    }
    if !words.is_empty() {
        q.text = Some(words.join(" "));
    }
    q
}

/// `200ms`, `1.5s`, `2m`, or a bare number of milliseconds.
fn parse_ns(s: &str) -> Option<u64> {
    if let Ok(ms) = s.parse::<f64>() {
        return (ms >= 0.0).then_some((ms * 1e6) as u64);
    }
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let mult = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        _ => return None,
    };
    (v >= 0.0).then_some((v * mult) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_terms() {
        let f = DepFilter::parse("pay kind=http state=open");
        assert!(f.matches("checkout", "payments", "http", BreakerState::Open));
        assert!(!f.matches("checkout", "payments", "http", BreakerState::Closed));
        assert!(!f.matches("checkout", "inventory", "http", BreakerState::Open));
        let f = DepFilter::parse("service=CHECK dep=inv state=half-open");
        assert!(f.matches("checkout", "inventory", "db", BreakerState::HalfOpen));
        assert!(DepFilter::parse("  ").is_empty());
    }

    #[test]
    fn trace_terms() {
        let q =
            parse_trace_query("service=checkout op=charge min=250ms errors http.route=/pay slow");
        assert_eq!(q.service.as_deref(), Some("checkout"));
        assert_eq!(q.operation.as_deref(), Some("charge"));
        assert_eq!(q.min_duration_ns, Some(250_000_000));
        assert!(q.errors_only);
        assert_eq!(q.attributes, vec![("http.route".into(), "/pay".into())]);
        assert_eq!(q.text.as_deref(), Some("slow"));
        assert_eq!(
            parse_trace_query(">1.5s").min_duration_ns,
            Some(1_500_000_000)
        );
        assert_eq!(
            parse_trace_query("min=40").min_duration_ns,
            Some(40_000_000)
        );
        assert_eq!(parse_trace_query("id=ab,cd").trace_ids, vec!["ab", "cd"]);
    }
}
