//! Detectors that read the dependency view's gauges: BLK-001 on pool, queue and overflow gauges
//! (HikariCP, resilience4j and Envoy shapes), TMO-001's hung calls on in-flight gauges and
//! metric timeout counters. The breaker rules on breaker metrics are in `detectors_breaker_view`.

use super::builder::*;
use crate::model::finding::{EvidenceExt, Severity};
use crate::model::series::SeriesPoint;
use crate::model::span::Span;

/// HikariCP gauges of pool `orders-db` used by `checkout`, scraped every 15 s for `secs`:
/// `(active, pending)` at each scrape time.
fn hikari(secs: u64, f: impl Fn(u64) -> (f64, f64)) -> Vec<SeriesPoint> {
    let l = [("job", "checkout"), ("pool", "orders-db")];
    let mut out = Vec::new();
    for t in (0..=secs).step_by(15) {
        let (active, pending) = f(t);
        let t = t as f64;
        out.push(point("hikaricp_connections_active", &l, t, active, false));
        out.push(point("hikaricp_connections_max", &l, t, 10.0, false));
        out.push(point("hikaricp_connections_pending", &l, t, pending, false));
    }
    out
}

fn blk() -> String {
    rule("BLK-001", "saturation", "")
}

fn about_pool(f: &crate::model::finding::Finding) -> bool {
    f.caller.as_deref() == Some("checkout") && f.dependency.as_deref() == Some("orders-db")
}

#[test]
fn a_full_pool_with_a_growing_queue_is_raised() {
    // Full from the start; from 60 s on, one more waiter every scrape.
    let pts = hikari(360, |t| (10.0, t.saturating_sub(60) as f64 / 15.0));
    let r = lint_with(Vec::new(), pts, &blk());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    let f = h[0];
    assert!(about_pool(f));
    assert_eq!(f.severity, Severity::Error, "U = 1 with a growing queue");
    assert!(f.message.contains("utilisation ≥ 80%"), "{}", f.message);
    assert!(f.message.contains("queue growing"), "{}", f.message);
    assert_eq!(
        f.evidence.value("pool_utilisation").map(|v| v.to_string()),
        Some("1".into())
    );
    assert_eq!(
        f.evidence.value("queue_depth").map(|v| v.to_string()),
        Some("20".into())
    );
    assert!(f.evidence.value("counted_by").is_some());
}

#[test]
fn an_idle_pool_passes_and_is_judged() {
    let r = lint_with(Vec::new(), hikari(360, |_| (2.0, 0.0)), &blk());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    assert!(undecided(&r).is_empty(), "{:#?}", r.findings);
    assert_eq!(r.coverage[0].checked, 1);
}

#[test]
fn sustained_high_utilisation_warns_and_a_short_burst_does_not() {
    let r = lint_with(Vec::new(), hikari(360, |_| (8.5, 0.0)), &blk());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].severity, Severity::Warning);
    // 85 % for two minutes in six: not sustained.
    let burst = hikari(360, |t| {
        if (120..240).contains(&t) {
            (8.5, 0.0)
        } else {
            (3.0, 0.0)
        }
    });
    let r = lint_with(Vec::new(), burst, &blk());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
}

#[test]
fn a_queue_held_for_a_minute_warns() {
    // resilience4j thread-pool bulkhead: 3 queued for 90 s, half the threads busy.
    let l = [("job", "checkout"), ("name", "inventory")];
    let mut pts = Vec::new();
    for t in (0..=300u64).step_by(15) {
        let q = if (60..150).contains(&t) { 3.0 } else { 0.0 };
        let t = t as f64;
        pts.push(point("resilience4j_bulkhead_queue_depth", &l, t, q, false));
        pts.push(point(
            "resilience4j_bulkhead_queue_capacity",
            &l,
            t,
            100.0,
            false,
        ));
        pts.push(point(
            "resilience4j_bulkhead_active_thread_count",
            &l,
            t,
            5.0,
            false,
        ));
        pts.push(point(
            "resilience4j_bulkhead_max_thread_pool_size",
            &l,
            t,
            10.0,
            false,
        ));
    }
    let r = lint_with(Vec::new(), pts.clone(), &blk());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].severity, Severity::Warning);
    assert!(h[0].message.contains("a queue for"), "{}", h[0].message);
    assert_eq!(
        h[0].evidence.value("queue_capacity").map(|v| v.to_string()),
        Some("100".into())
    );
    // The same queue filling up to its capacity refuses what comes next: raised.
    let full: Vec<SeriesPoint> = pts
        .iter()
        .cloned()
        .map(|mut p| {
            if &*p.name == "resilience4j_bulkhead_queue_depth"
                && matches!(p.value, crate::model::series::PointValue::Number(q) if q > 0.0)
            {
                p.value = crate::model::series::PointValue::Number(100.0);
            }
            p
        })
        .collect();
    let r = lint_with(Vec::new(), full, &blk());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].severity, Severity::Error);
    assert!(
        h[0].message.contains("reached its capacity (100 of 100)"),
        "{}",
        h[0].message
    );
}

/// `n` HTTP calls checkout → payments, one a second, each `ms` long.
fn payments_calls(n: u64, ms: f64) -> Vec<Span> {
    (0..n)
        .map(|i| {
            sp(i + 1, 1)
                .svc("checkout")
                .http("POST", "payments", "/charge")
                .at(i as f64 * 1_000.0, ms)
                .status(200)
                .build()
        })
        .collect()
}

#[test]
fn overflow_is_critical_and_cites_the_edge_view() {
    let l = [("job", "checkout"), ("envoy_cluster_name", "payments")];
    let mut pts = Vec::new();
    for t in (0..=120u64).step_by(10) {
        let t = t as f64;
        pts.push(point(
            "envoy_cluster_upstream_rq_pending_active",
            &l,
            t,
            0.0,
            false,
        ));
        pts.push(point(
            "envoy_cluster_upstream_rq_pending_overflow",
            &l,
            t,
            t * 2.0,
            true,
        ));
    }
    let r = lint_with(payments_calls(120, 20.0), pts, &blk());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    let f = h[0];
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("refused as overflow"), "{}", f.message);
    assert_eq!(
        f.evidence.value("calls").map(|v| v.to_string()),
        Some("120".into())
    );
    assert!(
        !f.trace_ids.is_empty(),
        "traced calls on the edge are exemplars"
    );
}

#[test]
fn littles_law_alone_is_insufficient_data_with_a_sizing_hint() {
    // One call a second lasting 2 s: about two in flight, but no gauge says how many fit.
    let r = lint_with(payments_calls(120, 2_000.0), Vec::new(), &blk());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    let u = undecided(&r);
    assert_eq!(u.len(), 1, "{:#?}", r.findings);
    assert!(u[0].message.contains("Little's law"), "{}", u[0].message);
}

#[test]
fn high_for_all_of_a_short_history_is_insufficient_data() {
    let r = lint_with(Vec::new(), hikari(60, |_| (9.0, 0.0)), &blk());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    let u = undecided(&r);
    assert_eq!(u.len(), 1, "{:#?}", r.findings);
    assert!(u[0].message.contains("needs 300"), "{}", u[0].message);
}

/// api calls pay (20 ms, one a second) for `calls_until` seconds and keeps serving requests
/// that call `other` for 300 s; `http.client.active_requests` for pay is `in_flight(t)`.
fn hung_edge(calls_until: u64, in_flight: impl Fn(u64) -> f64) -> (Vec<Span>, Vec<SeriesPoint>) {
    let mut spans = Vec::new();
    for i in 0..300u64 {
        let t = i + 1;
        let at = i as f64 * 1_000.0;
        spans.push(sp(t, 1).server().svc("api").at(at, 30.0).build());
        let callee = if i < calls_until { "pay" } else { "other" };
        spans.push(
            sp(t, 2)
                .parent(1)
                .svc("api")
                .http("GET", callee, "/x")
                .at(at, 20.0)
                .status(200)
                .build(),
        );
    }
    let l = [("job", "api"), ("server_address", "pay")];
    let pts = (0..=300u64)
        .step_by(15)
        .map(|t| {
            point(
                "http_client_active_requests",
                &l,
                t as f64,
                in_flight(t),
                false,
            )
        })
        .collect();
    (spans, pts)
}

fn tmo() -> String {
    rule("TMO-001", "missing-timeout", "")
}

#[test]
fn calls_in_flight_that_never_end_are_hung_calls() {
    // pay stops answering at 60 s: three calls stay in flight, none ends, no span is exported.
    let (spans, pts) = hung_edge(60, |t| if t >= 60 { 3.0 } else { 1.0 });
    let r = lint_with(spans, pts, &tmo());
    let h: Vec<_> = hits(&r)
        .into_iter()
        .filter(|f| f.dependency.as_deref() == Some("pay"))
        .collect();
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(
        h[0].message.contains("calls that never end"),
        "{}",
        h[0].message
    );
    assert_eq!(
        h[0].evidence.value("in_flight_max").map(|v| v.to_string()),
        Some("3".into())
    );
    assert_eq!(
        h[0].evidence.value("calls").map(|v| v.to_string()),
        Some("60".into()),
        "the view's calls"
    );
}

#[test]
fn calls_in_flight_that_keep_ending_are_not_hung() {
    let (spans, pts) = hung_edge(300, |_| 2.0);
    let r = lint_with(spans, pts, &tmo());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
}

#[test]
fn in_flight_without_any_trace_of_the_caller_is_insufficient_data() {
    let (_, pts) = hung_edge(0, |_| 3.0);
    let r = lint_with(Vec::new(), pts, &tmo());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    let u = undecided(&r);
    assert_eq!(u.len(), 1, "{:#?}", r.findings);
    assert!(
        u[0].message.contains("no traces from api"),
        "{}",
        u[0].message
    );
}

#[test]
fn a_timeout_counter_in_metrics_is_timeout_evidence() {
    // An unbounded tail in the traces, but Envoy counts upstream timeouts for the edge.
    let mut spans = Vec::new();
    for i in 0..203u64 {
        let d = if i >= 200 { 45_000.0 } else { 10.0 };
        spans.push(
            sp(i + 1, 1)
                .svc("api")
                .http("GET", "pay", "/charge")
                .at(i as f64 * 50.0, d)
                .status(200)
                .build(),
        );
    }
    let flagged = lint_with(spans.clone(), Vec::new(), &tmo());
    assert_eq!(hits(&flagged).len(), 1, "{:#?}", flagged.findings);
    let l = [("job", "api"), ("envoy_cluster_name", "pay")];
    let pts = (0..=50u64)
        .step_by(10)
        .map(|t| {
            point(
                "envoy_cluster_upstream_rq_timeout",
                &l,
                t as f64,
                t as f64,
                true,
            )
        })
        .collect();
    let r = lint_with(spans, pts, &tmo());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
}
