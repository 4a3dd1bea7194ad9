//! Detectors that read the dependency view's metrics: BLK-001 on pool, queue and overflow
//! gauges (HikariCP, resilience4j and Envoy shapes).

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
    let burst = hikari(360, |t| if (120..240).contains(&t) { (8.5, 0.0) } else { (3.0, 0.0) });
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
        pts.push(point("resilience4j_bulkhead_queue_capacity", &l, t, 100.0, false));
        pts.push(point("resilience4j_bulkhead_active_thread_count", &l, t, 5.0, false));
        pts.push(point("resilience4j_bulkhead_max_thread_pool_size", &l, t, 10.0, false));
    }
    let r = lint_with(Vec::new(), pts, &blk());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].severity, Severity::Warning);
    assert!(h[0].message.contains("a queue for"), "{}", h[0].message);
    assert_eq!(
        h[0].evidence.value("queue_capacity").map(|v| v.to_string()),
        Some("100".into())
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
        pts.push(point("envoy_cluster_upstream_rq_pending_active", &l, t, 0.0, false));
        pts.push(point("envoy_cluster_upstream_rq_pending_overflow", &l, t, t * 2.0, true));
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
    assert!(!f.trace_ids.is_empty(), "traced calls on the edge are exemplars");
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
