//! STA-001, with HTTP/2 connection pinning as the false positive to avoid; CB-001, CB-002.

use super::builder::*;
use crate::model::finding::EvidenceExt;
use crate::model::span::Span;

/// `keys` sessions, each making `n` requests 5 s apart to service `acc` through caller
/// instances `web-1`/`web-2` (alternating). `route(key, i)` picks the serving instance;
/// `fails(key, i, switched)` whether the request fails with 401.
fn sessions(
    keys: u64,
    n: u64,
    mut route: impl FnMut(u64, u64) -> &'static str,
    mut fails: impl FnMut(bool) -> bool,
    h2_single_caller: bool,
) -> Vec<Span> {
    let mut out = Vec::new();
    let mut t = 0u64;
    for k in 0..keys {
        let mut prev: Option<&str> = None;
        for i in 0..n {
            t += 1;
            let inst = route(k, i);
            let switched = prev.is_some_and(|p| p != inst);
            prev = Some(inst);
            let caller = if h2_single_caller || i % 2 == 0 {
                "web-1"
            } else {
                "web-2"
            };
            let at = (i * 5_000 + k * 37) as f64;
            out.push(
                sp(t, 1)
                    .svc("web")
                    .inst(caller)
                    .http("GET", "acc", "/profile")
                    .at(at, 5.0)
                    .build(),
            );
            let mut s = sp(t, 2)
                .parent(1)
                .svc("acc")
                .inst(inst)
                .server()
                .name("GET /profile")
                .s("session.id", &format!("s{k}"))
                .s("client.address", "10.0.0.1")
                .i(
                    "client.port",
                    if h2_single_caller {
                        40_000
                    } else {
                        40_000 + (t % 50) as i64
                    },
                );
            if h2_single_caller {
                s = s.s("network.protocol.version", "2");
            }
            s = s.at(at + 0.5, 4.0);
            s = if fails(switched) {
                s.status(401)
            } else {
                s.status(200)
            };
            out.push(s.build());
            if fails(switched) {
                out.push(
                    sp(t, 3)
                        .parent(1)
                        .svc("web")
                        .inst(caller)
                        .http("POST", "acc", "/login")
                        .at(at + 5.0, 3.0)
                        .status(200)
                        .build(),
                );
            }
        }
    }
    out
}

fn sta() -> String {
    rule("STA-001", "stateful-handler", "")
}

#[test]
fn sticky_sessions_with_state_loss_on_switch() {
    // Keys hash to one of two instances; halfway, a third instance takes a third of the keys.
    let r = lint(
        sessions(
            30,
            12,
            |k, i| {
                if i >= 6 && k % 3 == 0 {
                    "acc-3"
                } else if k % 2 == 0 {
                    "acc-1"
                } else {
                    "acc-2"
                }
            },
            |sw| sw,
            false,
        ),
        &sta(),
    );
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].service.as_deref(), Some("acc"));
    assert!(
        h[0].message.contains("in-instance state"),
        "{}",
        h[0].message
    );
    assert!(
        h[0].evidence
            .value("switches")
            .is_some_and(|v| v.to_string() == "10")
    );
}

#[test]
fn sticky_without_state_loss_is_info() {
    let r = lint(
        sessions(
            30,
            12,
            |k, _| if k % 2 == 0 { "acc-1" } else { "acc-2" },
            |_| false,
            false,
        ),
        &sta(),
    );
    let h = hits(&r);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].severity, crate::model::finding::Severity::Info);
    assert!(h[0].message.contains("sticky sessions"));
}

#[test]
fn stateless_round_robin_passes() {
    let r = lint(
        sessions(
            30,
            12,
            |k, i| if (k + i) % 2 == 0 { "acc-1" } else { "acc-2" },
            |_| false,
            false,
        ),
        &sta(),
    );
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    assert_eq!(r.coverage[0].checked, 1);
}

#[test]
fn http2_connection_pinning_is_not_stickiness() {
    // Every key from one caller instance over one HTTP/2 connection: the L4 balancer pinned the
    // connection, so affinity says nothing about the handler.
    let r = lint(
        sessions(
            30,
            12,
            |k, _| if k % 2 == 0 { "acc-1" } else { "acc-2" },
            |_| false,
            true,
        ),
        &sta(),
    );
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    let u = undecided(&r);
    assert_eq!(u.len(), 1);
    assert!(
        u[0].message.contains("single caller connection"),
        "{}",
        u[0].message
    );
}

#[test]
fn single_instance_services_are_not_judged() {
    let r = lint(sessions(30, 12, |_, _| "acc-1", |_| false, false), &sta());
    assert!(hits(&r).is_empty());
    assert!(undecided(&r)[0].message.contains("≥ 2 instances"));
}

/// Calls a → b, 30 per minute for `minutes`; failing from minute `fail_from` on, with
/// `rejected` calls short-circuited by a breaker.
fn failing_edge(minutes: u64, fail_from: u64, rejected: bool) -> Vec<Span> {
    let mut out = Vec::new();
    for m in 0..minutes {
        for j in 0..30u64 {
            let t = m * 100 + j + 1;
            let at = (m * 60_000 + j * 2_000) as f64;
            let failing = m >= fail_from;
            let mut s = sp(t, 1).svc("a").http("GET", "b", "/x");
            s = if failing && rejected && j % 2 == 0 {
                s.at(at, 0.2)
                    .error()
                    .s("error.type", "CallNotPermittedException")
            } else if failing {
                s.at(at, 50.0).status(503)
            } else {
                s.at(at, 20.0).status(200)
            };
            out.push(s.build());
        }
    }
    out
}

#[test]
fn missing_breaker_during_a_failure_episode() {
    let r = lint(
        failing_edge(8, 3, false),
        &rule("CB-001", "missing-circuit-breaker", ""),
    );
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(
        h[0].message.contains("CB-001 no circuit breaker"),
        "{}",
        h[0].message
    );
    let with_breaker = lint(
        failing_edge(8, 3, true),
        &rule("CB-001", "missing-circuit-breaker", ""),
    );
    assert!(
        hits(&with_breaker).is_empty(),
        "{:#?}",
        with_breaker.findings
    );
    let short = lint(
        failing_edge(4, 3, false),
        &rule("CB-001", "missing-circuit-breaker", ""),
    );
    assert!(
        hits(&short).is_empty(),
        "a 1-minute episode is below the 3-minute threshold"
    );
}

#[test]
fn flapping_breaker_inferred_from_rejections() {
    // Alternating 20-s periods of rejections and successes: opens 5 times in 10 minutes.
    let mut spans = Vec::new();
    for i in 0..300u64 {
        let at = (i * 2_000) as f64;
        let open = (i / 10) % 3 == 0;
        let s = sp(i + 1, 1).svc("a").http("GET", "b", "/x");
        spans.push(if open {
            s.at(at, 0.2)
                .error()
                .status_message("circuit breaker is open")
                .build()
        } else {
            s.at(at, 20.0).status(200).build()
        });
    }
    let r = lint(spans, &rule("CB-002", "breaker-flapping", ""));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(h[0].message.contains("flapping"));
    let none = lint(
        failing_edge(3, 9, false),
        &rule("CB-002", "breaker-flapping", ""),
    );
    assert!(undecided(&none)[0].message.contains("no breaker state"));
}
