//! BLK-002, DEP-001, CTX-001, ARC-001 and the RTY-002 recovery herd: each pattern, its correct
//! twin, and the documented false-positive cases.

use super::builder::*;
use crate::model::finding::EvidenceExt;
use crate::model::span::Span;

/// A request of `caller` (SERVER span `id`) calling `dep` (answered by a SERVER span of `dep`
/// lasting `server_ms`), the client call lasting `client_ms`.
#[allow(clippy::too_many_arguments)]
fn request(
    out: &mut Vec<Span>,
    t: u64,
    caller: &str,
    route: &str,
    dep: &str,
    at: f64,
    client_ms: f64,
    server_ms: f64,
) {
    out.push(
        sp(t, 1)
            .svc(caller)
            .server()
            .name(&format!("GET {route}"))
            .s("http.request.method", "GET")
            .s("http.route", route)
            .at(at, client_ms + 2.0)
            .build(),
    );
    out.push(
        sp(t, 2)
            .parent(1)
            .svc(caller)
            .http("GET", dep, "/x")
            .at(at + 1.0, client_ms)
            .build(),
    );
    out.push(
        sp(t, 3)
            .parent(2)
            .svc(dep)
            .server()
            .at(at + 1.0 + client_ms - server_ms, server_ms)
            .build(),
    );
}

/// Caller `c` calls `slow` (slow from 6 s to 12 s) and `fast` every 200 ms for 20 s. With
/// `shared`, `fast` waits at the caller while `slow` is slow; with `common`, `fast` itself slows.
fn bulkhead(c: &str, slow: &str, fast: &str, shared: bool, common: bool, t0: u64) -> Vec<Span> {
    let mut out = Vec::new();
    let mut rng = Rng(t0 + 7);
    for i in 0..100u64 {
        let at = i as f64 * 200.0;
        let slow_now = (6_000.0..12_000.0).contains(&at);
        let j = rng.next() * 4.0;
        let s = if slow_now { 600.0 + j } else { 10.0 + j };
        request(&mut out, t0 + 2 * i, c, "/recommend", slow, at, s, s - 2.0);
        let (client, server) = match (slow_now, shared, common) {
            (true, true, _) => (300.0 + j, 5.0),
            (true, _, true) => (400.0 + j, 395.0),
            _ => (8.0 + j, 5.0),
        };
        request(
            &mut out,
            t0 + 2 * i + 1,
            c,
            "/price",
            fast,
            at + 50.0,
            client,
            server,
        );
    }
    out
}

#[test]
fn missing_bulkhead_flags_the_slow_edge_with_its_collateral_and_not_the_twin() {
    let mut spans = bulkhead("shop", "reco", "prices", true, false, 1_000);
    spans.extend(bulkhead("iso", "reco2", "prices2", false, false, 5_000));
    let r = lint(spans, &rule("BLK-002", "missing-bulkhead", ""));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    let f = h[0];
    assert_eq!(f.caller.as_deref(), Some("shop"));
    assert_eq!(
        f.dependency.as_deref(),
        Some("reco"),
        "the cause, not the victim"
    );
    let collateral = f
        .evidence
        .value("collateral")
        .map(|v| v.to_string())
        .unwrap_or_default();
    assert!(collateral.contains("prices"), "{collateral}");
    assert!(collateral.contains("endpoint GET /price"), "{collateral}");
    assert!(!f.trace_ids.is_empty());
}

#[test]
fn missing_bulkhead_ignores_a_common_cause() {
    // Both dependencies slowed at their own servers (a shared database, say): not the caller's pool.
    let r = lint(
        bulkhead("shop", "reco", "prices", false, true, 1_000),
        &rule("BLK-002", "missing-bulkhead", ""),
    );
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
}

#[test]
fn missing_bulkhead_without_a_slowdown_is_insufficient_data() {
    let mut spans = Vec::new();
    for i in 0..50u64 {
        request(
            &mut spans,
            1 + i,
            "shop",
            "/a",
            "x",
            i as f64 * 200.0,
            10.0,
            8.0,
        );
    }
    let r = lint(spans, &rule("BLK-002", "missing-bulkhead", ""));
    assert!(hits(&r).is_empty());
    assert_eq!(undecided(&r).len(), 1, "{:#?}", r.findings);
}

/// `n` requests of `caller` whose call to `dep` fails every third time; `degrade` answers 200.
fn fallback(caller: &str, dep: &str, degrade: bool, n: u64, t0: u64) -> Vec<Span> {
    let mut out = Vec::new();
    for i in 0..n {
        let t = t0 + i;
        let at = i as f64 * 100.0;
        let fail = i % 3 == 0;
        let mut root = sp(t, 1).svc(caller).server().at(at, 20.0);
        if fail && !degrade {
            root = root.error();
        }
        out.push(root.build());
        let call = sp(t, 2)
            .parent(1)
            .svc(caller)
            .http("GET", dep, "/list")
            .at(at + 1.0, 10.0);
        out.push(call.status(if fail { 503 } else { 200 }).build());
        out.push(
            sp(t, 3)
                .parent(2)
                .svc(dep)
                .server()
                .at(at + 2.0, 8.0)
                .build(),
        );
    }
    out
}

#[test]
fn no_fallback_flags_propagated_failures_and_not_degraded_answers() {
    let mut spans = fallback("checkout", "reviews", false, 90, 1_000);
    spans.extend(fallback("page", "ratings", true, 90, 5_000));
    let r = lint(spans, &rule("DEP-001", "no-fallback", ""));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].caller.as_deref(), Some("checkout"));
    assert_eq!(h[0].dependency.as_deref(), Some("reviews"));
    assert_eq!(
        h[0].evidence
            .value("requests_with_failed_call")
            .map(|v| v.to_string())
            .as_deref(),
        Some("30")
    );
}

#[test]
fn no_fallback_needs_enough_failures_and_ignores_caller_bugs() {
    let r = lint(
        fallback("checkout", "reviews", false, 30, 1),
        &rule("DEP-001", "no-fallback", ""),
    );
    assert!(hits(&r).is_empty());
    assert_eq!(
        undecided(&r).len(),
        1,
        "10 failures < 20: {:#?}",
        r.findings
    );
    // 404s are the caller's bug, not a missing fallback.
    let mut spans = Vec::new();
    for i in 0..60u64 {
        let at = i as f64 * 100.0;
        spans.push(sp(i + 1, 1).svc("c").server().at(at, 20.0).error().build());
        spans.push(
            sp(i + 1, 2)
                .parent(1)
                .svc("c")
                .http("GET", "d", "/x")
                .at(at + 1.0, 5.0)
                .status(404)
                .build(),
        );
        spans.push(
            sp(i + 1, 3)
                .parent(2)
                .svc("d")
                .server()
                .at(at + 2.0, 3.0)
                .build(),
        );
    }
    let r = lint(spans, &rule("DEP-001", "no-fallback", ""));
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
}

/// `n` calls from `caller` to the server at 127.0.0.1:`port` (service `dep`); with `inject`
/// the server span joins the caller's trace, else it starts a new one.
fn propagation(caller: &str, dep: &str, port: i64, inject: bool, n: u64, t0: u64) -> Vec<Span> {
    let mut out = Vec::new();
    for i in 0..n {
        let t = t0 + i;
        let at = i as f64 * 100.0;
        out.push(sp(t, 1).svc(caller).at(at, 20.0).build());
        out.push(
            sp(t, 2)
                .parent(1)
                .svc(caller)
                .http("GET", "127.0.0.1", "/render")
                .i("server.port", port)
                .s("url.full", &format!("http://127.0.0.1:{port}/render?x={i}"))
                .at(at + 1.0, 10.0)
                .status(200)
                .build(),
        );
        let server = sp(if inject { t } else { t + 100_000 }, 3)
            .svc(dep)
            .server()
            .s("server.address", "127.0.0.1")
            .i("server.port", port)
            .s("url.path", "/render")
            .at(at + 2.0, 8.0);
        out.push(if inject { server.parent(2) } else { server }.build());
    }
    out
}

#[test]
fn broken_propagation_ties_new_roots_to_the_calls_and_spares_the_twin() {
    let mut spans = propagation("mailer", "templates", 9001, false, 30, 1_000);
    spans.extend(propagation("notifier", "renderer", 9002, true, 30, 500_000));
    let r = lint(spans, &rule("CTX-001", "broken-propagation", ""));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].caller.as_deref(), Some("mailer"));
    assert_eq!(
        h[0].dependency.as_deref(),
        Some("templates"),
        "named by its server spans' address"
    );
    assert_eq!(
        h[0].evidence
            .value("broken_share")
            .map(|v| v.to_string())
            .as_deref(),
        Some("1")
    );
    let few = lint(
        propagation("mailer", "templates", 9001, false, 5, 1),
        &rule("CTX-001", "broken-propagation", ""),
    );
    assert!(hits(&few).is_empty());
    assert_eq!(undecided(&few).len(), 1, "{:#?}", few.findings);
}

/// `n` requests of `caller`, each calling `dep` once per route in `routes`, in order.
fn chatty(caller: &str, dep: &str, routes: &[&str], n: u64, t0: u64) -> Vec<Span> {
    let mut out = Vec::new();
    for i in 0..n {
        let t = t0 + i;
        let at = i as f64 * 200.0;
        out.push(sp(t, 1).svc(caller).server().at(at, 100.0).build());
        for (k, route) in routes.iter().enumerate() {
            let id = 2 + 2 * k as u64;
            let s = at + 1.0 + 10.0 * k as f64;
            out.push(
                sp(t, id)
                    .parent(1)
                    .svc(caller)
                    .http("GET", dep, route)
                    .at(s, 8.0)
                    .build(),
            );
            out.push(
                sp(t, id + 1)
                    .parent(id)
                    .svc(dep)
                    .server()
                    .at(s + 1.0, 6.0)
                    .build(),
            );
        }
    }
    out
}

#[test]
fn lockstep_flags_fixed_fine_grained_sequences_only() {
    let mut spans = chatty(
        "orders",
        "cart",
        &["/cart", "/cart/items", "/cart/total", "/cart/lock"],
        25,
        1_000,
    );
    spans.extend(chatty("wishlist", "summary", &["/summary"], 25, 5_000));
    // The same call repeated is an N+1 (N1-002), not a lockstep protocol.
    spans.extend(chatty(
        "feed",
        "posts",
        &["/post", "/post", "/post", "/post"],
        25,
        9_000,
    ));
    let r = lint(spans, &rule("ARC-001", "lockstep-services", ""));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].caller.as_deref(), Some("orders"));
    assert_eq!(h[0].dependency.as_deref(), Some("cart"));
    assert!(
        h[0].evidence
            .value("sequence")
            .is_some_and(|v| v.to_string().contains("GET /cart/items")),
        "{:?}",
        h[0].evidence
    );
}

/// Four instances of `caller` call `dep` every 500 ms for 10 s; it fails from 10 s to 15 s
/// (one probe per instance per second); then, with `herd`, each instance sends 15 held-back
/// calls within 150 ms of the recovery, else it resumes its pace.
fn recovery(caller: &str, dep: &str, herd: bool, t0: u64) -> Vec<Span> {
    let mut out = Vec::new();
    let mut t = t0;
    let mut push = |out: &mut Vec<Span>, inst: usize, at: f64, fail: bool| {
        t += 1;
        let c = sp(t, 1)
            .svc(caller)
            .inst(&format!("{caller}-{inst}"))
            .http("GET", dep, "/use")
            .at(at, 4.0)
            .status(if fail { 503 } else { 200 });
        out.push(c.build());
        let mut s = sp(t, 2).parent(1).svc(dep).server().at(at + 1.0, 2.0);
        if fail {
            s = s.error();
        }
        out.push(s.build());
    };
    for inst in 0..4 {
        let phase = inst as f64 * 100.0;
        for k in 0..20 {
            push(&mut out, inst, phase + k as f64 * 500.0, false);
        }
        for k in 0..5 {
            push(&mut out, inst, 10_000.0 + phase + k as f64 * 1_000.0, true);
        }
        let back = 15_000.0 + phase;
        if herd {
            for k in 0..15 {
                push(&mut out, inst, back + k as f64 * 10.0, false);
            }
        }
        for k in 0..10 {
            push(&mut out, inst, back + 200.0 + k as f64 * 500.0, false);
        }
    }
    out
}

#[test]
fn recovery_herd_is_found_and_a_paced_recovery_is_not() {
    let herd = lint(
        recovery("meter", "quota", true, 1_000),
        &rule("RTY-002", "retry-storm", ""),
    );
    let h = hits(&herd);
    assert_eq!(h.len(), 1, "{:#?}", herd.findings);
    assert_eq!(h[0].service.as_deref(), Some("quota"));
    assert!(
        h[0].message.starts_with("recovery herd"),
        "{}",
        h[0].message
    );
    let ratio: f64 = h[0]
        .evidence
        .value("rate_ratio")
        .and_then(|v| v.to_string().parse().ok())
        .unwrap_or(0.0);
    assert!(ratio >= 3.0, "{ratio}");
    let paced = lint(
        recovery("viewer", "tiles", false, 1_000),
        &rule("RTY-002", "retry-storm", ""),
    );
    assert!(hits(&paced).is_empty(), "{:#?}", paced.findings);
}
