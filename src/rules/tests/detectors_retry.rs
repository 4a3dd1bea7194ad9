//! RTY-001 to RTY-004, with the reference's false positives: redirect resends, hedged requests,
//! polling loops.

use super::builder::*;
use crate::model::finding::EvidenceExt;
use crate::model::finding::Severity;
use crate::model::span::Span;

/// `chains` logical calls from `caller`, each a root span with attempts whose gaps come from
/// `gap(chain, k)`; all attempts but the last fail with `fail_status`.
fn chains(
    caller: &str,
    dep: &str,
    n: u64,
    attempts: u64,
    fail_status: i64,
    mut gap: impl FnMut(u64, u64) -> f64,
) -> Vec<Span> {
    let mut out = Vec::new();
    for c in 0..n {
        let t = c + 1 + fxhash(caller) * 1000;
        let mut at = c as f64 * 10_000.0;
        out.push(sp(t, 1).svc(caller).at(at, 5_000.0).build());
        for k in 0..attempts {
            let last = k + 1 == attempts;
            let mut a = sp(t, 10 + k)
                .parent(1)
                .svc(caller)
                .http("POST", dep, "/reserve")
                .at(at, 4.0);
            a = if last {
                a.status(200)
            } else {
                a.status(fail_status)
            };
            out.push(a.build());
            at += 4.0 + if last { 0.0 } else { gap(c, k + 1) };
        }
    }
    out
}

fn fxhash(s: &str) -> u64 {
    s.bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
        % 1000
}

fn rty1() -> String {
    rule("RTY-001", "unjittered-retry", "")
}

#[test]
fn fixed_backoff_without_jitter() {
    let mut rng = Rng(42);
    let r = lint(
        chains("a", "b", 25, 3, 503, |_, _| 100.0 + rng.next() * 0.5),
        &rty1(),
    );
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(h[0].message.contains("RTY-001b"), "{}", h[0].message);
    assert_eq!(h[0].operation(), Some("POST /reserve"));
}

#[test]
fn exponential_backoff_without_jitter_and_signature() {
    let r = lint(
        chains("a", "b", 25, 4, 503, |_, k| {
            50.0 * 1.5f64.powi(k as i32 - 1)
        }),
        &rty1(),
    );
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(
        h[0].message.contains("RTY-001c") && h[0].message.contains("×1.50"),
        "{}",
        h[0].message
    );
    assert!(
        h[0].evidence
            .value("signature")
            .is_some_and(|s| s.to_string().contains("resilience4j"))
    );
}

#[test]
fn resilience4j_default_signature() {
    let r = lint(chains("a", "b", 25, 3, 503, |_, _| 500.0), &rty1());
    let h = hits(&r);
    assert!(
        h[0].evidence
            .value("signature")
            .is_some_and(|s| s.to_string().contains("3 attempts, fixed 500 ms"))
    );
}

#[test]
fn jittered_backoff_passes() {
    // Full jitter, AWS style: U(0, 100·2^k).
    let mut rng = Rng(7);
    let r = lint(
        chains("a", "b", 25, 3, 503, |_, k| {
            rng.next() * 100.0 * 2f64.powi(k as i32)
        }),
        &rty1(),
    );
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    assert_eq!(r.coverage[0].checked, 1);
    // gRPC's ±20 % is jitter too.
    let mut rng = Rng(9);
    let r = lint(
        chains("a", "b", 25, 3, 503, |_, _| {
            200.0 * (0.8 + 0.4 * rng.next())
        }),
        &rty1(),
    );
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
}

#[test]
fn immediate_retries_of_overload_are_raised() {
    let r = lint(chains("a", "b", 25, 3, 503, |_, _| 0.5), &rty1());
    let h = hits(&r);
    assert!(h[0].message.contains("RTY-001a"), "{}", h[0].message);
    assert_eq!(h[0].severity, Severity::Error);
}

#[test]
fn few_chains_are_insufficient_data() {
    let r = lint(chains("a", "b", 8, 3, 503, |_, _| 100.0), &rty1());
    assert!(hits(&r).is_empty());
    assert!(
        undecided(&r)[0]
            .message
            .contains("8 retry chains, needs 20")
    );
}

#[test]
fn polling_loops_are_not_retries() {
    // Same request every 100 ms, answered 200 (or 404 "not yet"): no failed predecessor.
    let mut spans = Vec::new();
    for c in 0..30u64 {
        spans.push(
            sp(c + 1, 1)
                .svc("a")
                .at(c as f64 * 5_000.0, 2_000.0)
                .build(),
        );
        for k in 0..5u64 {
            let st = if k % 2 == 0 { 404 } else { 200 };
            spans.push(
                sp(c + 1, 10 + k)
                    .parent(1)
                    .svc("a")
                    .http("GET", "jobs", "/status")
                    .at(c as f64 * 5_000.0 + k as f64 * 104.0, 4.0)
                    .status(st)
                    .build(),
            );
        }
    }
    let r = lint(spans, &rty1());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    assert!(undecided(&r)[0].message.contains("no retry chains"));
}

#[test]
fn redirect_and_auth_resends_are_not_retry_links() {
    // resend_count 1 after a 302, and after a 401: both increment resend_count by semconv.
    let mut spans = Vec::new();
    for c in 0..30u64 {
        let t = c + 1;
        let base = c as f64 * 5_000.0;
        spans.push(sp(t, 1).svc("a").at(base, 2_000.0).build());
        let first = if c % 2 == 0 { 302 } else { 401 };
        spans.push(
            sp(t, 10)
                .parent(1)
                .svc("a")
                .http("GET", "b", "/x")
                .at(base, 4.0)
                .status(first)
                .build(),
        );
        spans.push(
            sp(t, 11)
                .parent(1)
                .svc("a")
                .http("GET", "b", "/x")
                .at(base + 104.0, 4.0)
                .i("http.request.resend_count", 1)
                .status(200)
                .build(),
        );
    }
    let r = lint(spans, &rty1());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    assert!(undecided(&r)[0].message.contains("no retry chains"));
}

#[test]
fn hedged_requests_overlap_and_are_not_retries() {
    // A second request fired 20 ms into the first (hedge), both to the same endpoint.
    let mut spans = Vec::new();
    for c in 0..30u64 {
        let t = c + 1;
        let base = c as f64 * 5_000.0;
        spans.push(sp(t, 1).svc("a").at(base, 2_000.0).build());
        spans.push(
            sp(t, 10)
                .parent(1)
                .svc("a")
                .http("GET", "b", "/x")
                .at(base, 100.0)
                .status(503)
                .build(),
        );
        spans.push(
            sp(t, 11)
                .parent(1)
                .svc("a")
                .http("GET", "b", "/x")
                .at(base + 20.0, 30.0)
                .status(200)
                .build(),
        );
    }
    let r = lint(spans, &rty1());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
}

#[test]
fn resend_count_chains_are_used() {
    let mut spans = Vec::new();
    for c in 0..25u64 {
        let t = c + 1;
        let base = c as f64 * 5_000.0;
        spans.push(sp(t, 1).svc("a").at(base, 2_000.0).build());
        for k in 0..3u64 {
            let mut s = sp(t, 10 + k)
                .parent(1)
                .svc("a")
                .http("GET", "b", "/x")
                .at(base + k as f64 * 204.0, 4.0);
            if k > 0 {
                s = s.i("http.request.resend_count", k as i64);
            }
            s = if k < 2 { s.status(503) } else { s.status(200) };
            spans.push(s.build());
        }
    }
    let r = lint(spans, &rty1());
    let h = hits(&r);
    assert_eq!(h.len(), 1);
    assert!(
        h[0].evidence
            .value("chain_source")
            .is_some_and(|s| s.to_string().contains("resend_count"))
    );
}

#[test]
fn grpc_attempt_spans() {
    let mut spans = Vec::new();
    for c in 0..25u64 {
        let t = c + 1;
        let base = c as f64 * 5_000.0;
        spans.push(
            sp(t, 1)
                .svc("a")
                .client()
                .name("Sent.shop.Cart.Add")
                .s("rpc.system", "grpc")
                .s("rpc.service", "shop.Cart")
                .s("rpc.method", "Add")
                .at(base, 2_000.0)
                .build(),
        );
        for k in 0..3u64 {
            let mut s = sp(t, 10 + k)
                .parent(1)
                .svc("a")
                .client()
                .name("Attempt.shop.Cart.Add")
                .s("rpc.system", "grpc")
                .s("rpc.service", "shop.Cart")
                .s("rpc.method", "Add")
                .i("previous-rpc-attempts", k as i64)
                .at(base + k as f64 * 304.0, 4.0);
            s = s.i("rpc.grpc.status_code", if k < 2 { 14 } else { 0 });
            spans.push(s.build());
        }
    }
    let r = lint(spans, &rty1());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(
        h[0].evidence
            .value("chain_source")
            .is_some_and(|s| s.to_string().contains("grpc"))
    );
}

#[test]
fn retry_budget_over_ten_percent() {
    // 60 logical calls, 20 of them retried once: 20 retries of 80 calls (the view's ratio).
    let mut spans = chains("a", "b", 20, 2, 503, |_, _| 100.0);
    for c in 0..40u64 {
        let t = 90_000 + c;
        spans.push(sp(t, 1).svc("a").at(c as f64 * 5_000.0 + 1.0, 10.0).build());
        spans.push(
            sp(t, 2)
                .parent(1)
                .svc("a")
                .http("POST", "b", "/reserve")
                .at(c as f64 * 5_000.0 + 1.0, 4.0)
                .status(200)
                .build(),
        );
    }
    let r = lint(spans, &rule("RTY-004", "retry-budget", ""));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(h[0].message.contains("25%"), "{}", h[0].message);
    assert_eq!(
        h[0].evidence.value("retry_ratio").map(|v| v.to_string()),
        Some("0.25".into()),
        "the view's retries ÷ calls"
    );
    assert_eq!(h[0].severity, Severity::Warning, "under the storm ratio");
    let ok = lint(
        chains("a", "b", 60, 1, 503, |_, _| 0.0),
        &rule("RTY-004", "retry-budget", ""),
    );
    assert!(hits(&ok).is_empty());
}

/// Every one of 60 logical calls a → b retried once (a storm: half the calls are retries), and
/// 60 health checks each retried twice.
fn storm() -> Vec<Span> {
    let mut spans = chains("a", "b", 60, 2, 503, |_, _| 100.0);
    for c in 0..60u64 {
        let t = 70_000 + c;
        let at = c as f64 * 10_000.0 + 5.0;
        spans.push(sp(t, 1).svc("a").at(at, 500.0).build());
        for k in 0..3u64 {
            let a = sp(t, 2 + k)
                .parent(1)
                .svc("a")
                .http("GET", "b", "/healthz")
                .at(at + k as f64 * 104.0, 4.0);
            spans.push(if k == 2 { a.status(200) } else { a.status(503) }.build());
        }
    }
    spans
}

#[test]
fn a_retry_storm_without_budget_metrics_is_raised_and_health_checks_are_excluded() {
    let r = lint(storm(), &rule("RTY-004", "retry-budget", ""));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].severity, Severity::Error);
    assert!(h[0].message.contains("no retry budget"), "{}", h[0].message);
    // Judged without the health checks: 60 retries of 120 calls; cited with them, as the
    // dashboard counts: 180 retries of 300 calls.
    let ev = |k: &str| h[0].evidence.value(k).map(|v| v.to_string());
    assert_eq!(ev("worst_window_retry_ratio"), Some("0.5".into()));
    assert_eq!(ev("retries"), Some("180".into()));
    assert_eq!(ev("calls"), Some("300".into()));
    assert_eq!(ev("excluded_calls"), Some("180".into()));
}

#[test]
fn a_biting_retry_budget_is_named_and_not_raised() {
    let l = [("job", "a"), ("envoy_cluster_name", "b")];
    let pts = (0..=600u64)
        .step_by(15)
        .map(|t| {
            point(
                "envoy_cluster_upstream_rq_retry_overflow",
                &l,
                t as f64,
                t as f64 / 3.0,
                true,
            )
        })
        .collect();
    let r = lint_with(storm(), pts, &rule("RTY-004", "retry-budget", ""));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(
        h[0].severity,
        Severity::Warning,
        "the budget limits the storm"
    );
    assert!(
        h[0].message.contains("present and biting"),
        "{}",
        h[0].message
    );
}

#[test]
fn nested_retries_across_layers() {
    // a retries b (3 attempts); inside each a→b attempt, b retries c 3 times.
    let mut spans = Vec::new();
    for c in 0..6u64 {
        let t = c + 1;
        let base = c as f64 * 60_000.0;
        spans.push(sp(t, 1).svc("a").server().at(base, 30_000.0).build());
        for k in 0..3u64 {
            let at = base + k as f64 * 2_000.0;
            let cid = 100 + k * 10;
            spans.push(
                sp(t, cid)
                    .parent(1)
                    .svc("a")
                    .http("GET", "b", "/x")
                    .at(at, 1_500.0)
                    .status(if k < 2 { 503 } else { 200 })
                    .build(),
            );
            spans.push(
                sp(t, cid + 1)
                    .parent(cid)
                    .svc("b")
                    .server()
                    .at(at + 1.0, 1_400.0)
                    .status(if k < 2 { 503 } else { 200 })
                    .build(),
            );
            for j in 0..3u64 {
                spans.push(
                    sp(t, cid + 2 + j)
                        .parent(cid + 1)
                        .svc("b")
                        .http("GET", "c", "/y")
                        .at(at + 2.0 + j as f64 * 300.0, 10.0)
                        .status(if j < 2 || k < 2 { 503 } else { 200 })
                        .build(),
                );
            }
        }
    }
    let r = lint(spans, &rule("RTY-003", "retry-amplification", ""));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(
        (h[0].caller.as_deref(), h[0].dependency.as_deref()),
        (Some("a"), Some("c"))
    );
    assert!(h[0].message.contains("up to 9×"), "{}", h[0].message);
}

#[test]
fn grpc_attempts_chain_without_a_failure_in_the_context() {
    // Two successful gRPC attempt spans of one call (a hedge-free re-send): nothing failed, so
    // only their ordinals can link them (`chains::may_chain` must look at the key sets).
    let build = |ordinals: bool| {
        let mut spans = vec![
            sp(1, 1)
                .svc("a")
                .server()
                .name("GET /cart")
                .at(0.0, 500.0)
                .build(),
        ];
        for k in 0..2u64 {
            let mut s = sp(1, 10 + k)
                .parent(1)
                .svc("a")
                .client()
                .name("Attempt.shop.Cart.Add")
                .s("rpc.system", "grpc")
                .s("rpc.service", "shop.Cart")
                .s("rpc.method", "Add")
                .i("rpc.grpc.status_code", 0)
                .at(1.0 + k as f64 * 100.0, 4.0);
            if ordinals {
                s = s.i("previous-rpc-attempts", k as i64);
            }
            spans.push(s.build());
        }
        let mut store = crate::store::Store::new(crate::store::StoreConfig::replay(usize::MAX));
        store.apply(spans, 1);
        store.flush_pending();
        store.snapshot(None)
    };
    let snap = build(true);
    let cx = crate::rules::context::Context::build(&snap);
    let sources: Vec<_> = cx.chains().iter().map(|c| c.source).collect();
    assert_eq!(
        sources,
        vec![crate::rules::chains::ChainSource::GrpcAttempts]
    );
    let snap = build(false);
    assert!(
        crate::rules::context::Context::build(&snap)
            .chains()
            .is_empty()
    );
}
