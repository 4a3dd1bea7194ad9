//! TMO-001 / TMO-002.

use super::builder::*;
use crate::model::finding::EvidenceExt;
use crate::model::finding::Severity;
use crate::model::span::Span;

/// `n` fast calls api → pay plus `slow` calls of `slow_ms`; each call under its own root SERVER
/// span of api lasting as long as the call.
fn edge(n: u64, slow: u64, slow_ms: f64, slow_error: Option<&str>) -> Vec<Span> {
    let mut out = Vec::new();
    for i in 0..n + slow {
        let t = i + 1;
        let is_slow = i >= n;
        let d = if is_slow {
            slow_ms
        } else {
            10.0 + (i % 7) as f64
        };
        let start = i as f64 * 50.0;
        out.push(sp(t, 1).server().svc("api").at(start, d + 1.0).build());
        let mut c = sp(t, 2)
            .parent(1)
            .svc("api")
            .http("GET", "pay", "/charge")
            .at(start, d);
        c = match (is_slow, slow_error) {
            (true, Some(e)) => c.error().s("error.type", e),
            _ => c.status(200),
        };
        out.push(c.build());
    }
    out
}

#[test]
fn unbounded_tail_without_timeout_is_flagged_with_evidence() {
    let r = lint(
        edge(200, 3, 45_000.0, None),
        &rule("TMO-001", "missing-timeout", ""),
    );
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    let f = h[0];
    assert_eq!(
        (f.caller.as_deref(), f.dependency.as_deref()),
        (Some("api"), Some("pay"))
    );
    assert!(f.message.contains("no effective timeout"), "{}", f.message);
    assert_eq!(
        f.evidence
            .value("timeout_errors")
            .map(|v| v.to_string())
            .as_deref(),
        Some("0")
    );
    assert_eq!(f.trace_ids.len(), 5, "five exemplars, the slowest first");
    let slowest: Vec<String> = (201..=203u64).map(|t| format!("{t:032x}")).collect();
    assert_eq!(
        f.trace_ids[..3],
        slowest[..],
        "the slowest calls' traces first"
    );
    assert_eq!(f.samples, 203);
    // The edge's p99 (45 s) is above the caller's own p99 → raised.
    assert_eq!(f.severity, Severity::Error);
}

#[test]
fn timeout_errors_are_timeout_evidence() {
    let r = lint(
        edge(200, 3, 45_000.0, Some("ReadTimeout")),
        &rule("TMO-001", "missing-timeout", ""),
    );
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    assert_eq!(r.coverage[0].checked, 1);
}

#[test]
fn a_deliberate_long_export_is_silenced_by_exclusion_or_allow() {
    let spans = edge(200, 3, 45_000.0, None);
    let excluded = lint(
        spans.clone(),
        &rule(
            "TMO-001",
            "missing-timeout",
            "exclude_operations = [\"GET /charge\"]",
        ),
    );
    assert!(hits(&excluded).is_empty());
    let toml = rule("TMO-001", "missing-timeout", "")
        + "[[rule.allow]]\ncaller = \"api\"\ndependency = \"pay\"\nreason = \"nightly export\"\n";
    let allowed = lint(spans, &toml);
    assert!(hits(&allowed).is_empty());
    assert_eq!(allowed.suppressed.len(), 1);
    assert_eq!(allowed.suppressed[0].reason, "nightly export");
}

#[test]
fn too_few_calls_is_insufficient_data_not_a_pass() {
    let r = lint(
        edge(50, 2, 45_000.0, None),
        &rule("TMO-001", "missing-timeout", ""),
    );
    assert!(hits(&r).is_empty());
    let u = undecided(&r);
    assert_eq!(u.len(), 1);
    assert!(
        u[0].message.contains("52 calls, needs 200"),
        "{}",
        u[0].message
    );
}

#[test]
fn bounded_tail_passes() {
    let r = lint(
        edge(200, 3, 900.0, None),
        &rule("TMO-001", "missing-timeout", ""),
    );
    assert!(hits(&r).is_empty());
    assert!(undecided(&r).is_empty());
}

#[test]
fn long_lived_streams_are_excluded() {
    let mut spans = Vec::new();
    for i in 0..210u64 {
        let d = if i < 200 { 5.0 } else { 60_000.0 };
        let mut c = sp(i + 1, 2)
            .svc("ui")
            .http("GET", "events", "/stream")
            .at(i as f64 * 10.0, d)
            .status(200);
        if i >= 200 {
            c = c.s("http.response.header.content-type", "text/event-stream");
        }
        spans.push(c.build());
    }
    let r = lint(spans, &rule("TMO-001", "missing-timeout", ""));
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
}

#[test]
fn ceiling_at_envoy_default_is_tmo002_not_tmo001() {
    // 200 fast calls and 8 that Envoy cut at 15 s with 504... as seen by the app, the error is
    // a timeout at 15.0 s.
    let spans = edge(200, 8, 15_000.0, Some("UpstreamTimeout"));
    let rules = rule("TMO-001", "missing-timeout", "") + &rule("TMO-002", "default-timeout", "");
    let r = lint(spans, &rules);
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].rule, "TMO-002");
    assert!(h[0].message.contains("Envoy"), "{}", h[0].message);
    // 15 s is far above the other calls' p99 (≈16 ms): the rule's severity is kept.
    assert_eq!(h[0].severity, Severity::Warning);
}

#[test]
fn implicit_ceiling_without_error_words() {
    // Calls end with a generic error exactly at 2.5 s: a ceiling, so no TMO-001, and 2.5 s is
    // no platform default, so no TMO-002.
    let mut spans = Vec::new();
    for i in 0..230u64 {
        let slow = i >= 200;
        let d = if slow { 2_500.0 + (i % 3) as f64 } else { 12.0 };
        let mut c = sp(i + 1, 2)
            .svc("api")
            .http("GET", "pay", "/x")
            .at(i as f64 * 20.0, d);
        c = if slow { c.error() } else { c.status(200) };
        spans.push(c.build());
    }
    let rules = rule("TMO-001", "missing-timeout", "hard_floor = \"1s\"")
        + &rule("TMO-002", "default-timeout", "");
    let r = lint(spans, &rules);
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    let tmo2 = r
        .coverage
        .iter()
        .find(|c| c.rule == "TMO-002")
        .map(|c| c.checked);
    assert_eq!(tmo2, Some(1));
}
