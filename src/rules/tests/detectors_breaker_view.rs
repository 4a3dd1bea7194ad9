//! The breaker rules on the dependency view's breaker (metric or inferred): CB-001 vs CB-001b,
//! CB-002 from metric transitions and ejections, the CEL `breaker` variable.

use super::builder::*;
use crate::model::finding::EvidenceExt;
use crate::model::series::SeriesPoint;
use crate::model::span::Span;

/// resilience4j's one-hot state gauge of breaker `b` in caller `a`, scraped every 15 s for
/// `secs`, in `state(t)`.
fn r4j_state(secs: u64, state: impl Fn(u64) -> &'static str) -> Vec<SeriesPoint> {
    let mut out = Vec::new();
    for t in (0..=secs).step_by(15) {
        let now = state(t);
        for st in ["closed", "open", "half_open", "forced_open", "disabled"] {
            let l = [("job", "a"), ("name", "b"), ("state", st)];
            let v = if st == now { 1.0 } else { 0.0 };
            out.push(point(
                "resilience4j_circuitbreaker_state",
                &l,
                t as f64,
                v,
                false,
            ));
        }
    }
    out
}

/// Calls a → b, 30 a minute for `minutes`: 503s from minute `fail_from` on (slow, never
/// rejected); breaker rejections (fast, CallNotPermitted) during minute `rejecting`.
fn failing(minutes: u64, fail_from: u64, rejecting: Option<u64>) -> Vec<Span> {
    let mut out = Vec::new();
    for m in 0..minutes {
        for j in 0..30u64 {
            let at = (m * 60_000 + j * 2_000) as f64;
            let s = sp(m * 100 + j + 1, 1).svc("a").http("GET", "b", "/x");
            out.push(if rejecting == Some(m) && j % 2 == 0 {
                s.at(at, 0.2)
                    .error()
                    .s("error.type", "CallNotPermittedException")
                    .build()
            } else if m >= fail_from {
                s.at(at, 50.0).status(503).build()
            } else {
                s.at(at, 20.0).status(200).build()
            });
        }
    }
    out
}

fn cb1() -> String {
    rule("CB-001", "missing-circuit-breaker", "")
}

#[test]
fn a_breaker_metric_that_never_opened_is_cb001b() {
    let r = lint_with(failing(8, 3, None), r4j_state(480, |_| "closed"), &cb1());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(h[0].message.contains("CB-001b"), "{}", h[0].message);
    let telemetry = h[0]
        .evidence
        .value("breaker_telemetry")
        .map(|v| v.to_string());
    assert!(
        telemetry
            .as_deref()
            .is_some_and(|t| t.contains("resilience4j")),
        "{telemetry:?}"
    );
    assert_eq!(
        h[0].evidence.value("breaker").map(|v| v.to_string()),
        Some("closed".into())
    );
}

#[test]
fn a_breaker_metric_that_opened_during_the_episode_acted() {
    // The breaker opened at 4 min (the app served a fallback, so the traces show no rejection).
    let pts = r4j_state(480, |t| if t >= 240 { "open" } else { "closed" });
    let r = lint_with(failing(8, 3, None), pts, &cb1());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
}

#[test]
fn an_inferred_breaker_counts_as_present_and_an_admission_limit_does_not() {
    // Rejections in minute 0 show a breaker; it did not act during the episode.
    let r = lint_with(failing(8, 3, Some(0)), Vec::new(), &cb1());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(h[0].message.contains("CB-001b"), "{}", h[0].message);
    // Envoy's admission gauge is not an error breaker.
    let l = [("job", "a"), ("envoy_cluster_name", "b")];
    let pts = (0..=480u64)
        .step_by(15)
        .map(|t| {
            point(
                "envoy_cluster_circuit_breakers_default_rq_open",
                &l,
                t as f64,
                0.0,
                false,
            )
        })
        .collect();
    let r = lint_with(failing(8, 3, None), pts, &cb1());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(
        h[0].message.contains("CB-001 no circuit breaker"),
        "{}",
        h[0].message
    );
    let telemetry = h[0]
        .evidence
        .value("breaker_telemetry")
        .map(|v| v.to_string());
    assert!(
        telemetry
            .as_deref()
            .is_some_and(|t| t.contains("admission")),
        "{telemetry:?}"
    );
}

fn cb2() -> String {
    rule("CB-002", "breaker-flapping", "")
}

#[test]
fn flapping_and_stuck_from_breaker_metrics() {
    // Open for 30 s of every minute, for 10 minutes: 10 openings, each after a close.
    let flap = r4j_state(600, |t| if t % 60 < 30 { "open" } else { "closed" });
    let r = lint_with(failing(10, 99, None), flap, &cb2());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(h[0].message.contains("flapping"), "{}", h[0].message);
    assert!(!h[0].message.contains("inferred"), "{}", h[0].message);
    assert_eq!(
        h[0].evidence.value("state_source").map(|v| v.to_string()),
        Some("resilience4j:resilience4j_circuitbreaker_state".into())
    );
    // Open from 1 min on, half-open trials failing every 2 min: stuck, not flapping.
    let stuck = r4j_state(900, |t| match t {
        0..60 => "closed",
        t if t % 120 == 0 => "half_open",
        _ => "open",
    });
    let r = lint_with(failing(15, 99, None), stuck, &cb2());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(h[0].message.contains("stuck open"), "{}", h[0].message);
    // Closed throughout: judged, nothing found.
    let r = lint_with(failing(10, 99, None), r4j_state(600, |_| "closed"), &cb2());
    assert!(
        hits(&r).is_empty() && undecided(&r).is_empty(),
        "{:#?}",
        r.findings
    );
}

#[test]
fn most_hosts_ejected_is_ejection_pressure() {
    let l = [("job", "a"), ("envoy_cluster_name", "b")];
    let mut pts = Vec::new();
    for t in (0..=120u64).step_by(15) {
        let ejected = if t >= 60 { 3.0 } else { 0.0 };
        pts.push(point(
            "envoy_cluster_outlier_detection_ejections_active",
            &l,
            t as f64,
            ejected,
            false,
        ));
        pts.push(point(
            "envoy_cluster_membership_total",
            &l,
            t as f64,
            4.0,
            false,
        ));
    }
    let r = lint_with(failing(2, 99, None), pts, &cb2());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(
        h[0].message.contains("3 of 4 hosts ejected"),
        "{}",
        h[0].message
    );
}

#[test]
fn the_cel_breaker_variable_is_the_views_state() {
    let pts = r4j_state(480, |t| if t >= 240 { "open" } else { "closed" });
    let r = lint_with(
        failing(8, 3, None),
        pts,
        &rule(
            "THR-1",
            "threshold",
            "condition = 'breaker == \"open\" && breaker_source.startsWith(\"resilience4j\")'",
        ),
    );
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(
        h[0].evidence.value("breaker").map(|v| v.to_string()),
        Some("open".into())
    );
}
