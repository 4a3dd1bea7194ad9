//! CYC-001, FAN-002, N1-001/002, policy, threshold.

use super::builder::*;
use crate::model::finding::EvidenceExt;
use crate::model::finding::Severity;
use crate::model::span::Span;

/// a → b → a within one request (a synchronous call-back), over `n` traces.
fn callback(n: u64) -> Vec<Span> {
    let mut out = Vec::new();
    for t in 1..=n {
        let at = t as f64 * 1_000.0;
        out.push(sp(t, 1).svc("a").server().at(at, 100.0).build());
        out.push(
            sp(t, 2)
                .parent(1)
                .svc("a")
                .http("GET", "b", "/x")
                .at(at + 1.0, 90.0)
                .build(),
        );
        out.push(
            sp(t, 3)
                .parent(2)
                .svc("b")
                .server()
                .at(at + 2.0, 80.0)
                .build(),
        );
        out.push(
            sp(t, 4)
                .parent(3)
                .svc("b")
                .http("GET", "a", "/cb")
                .at(at + 3.0, 50.0)
                .build(),
        );
        out.push(
            sp(t, 5)
                .parent(4)
                .svc("a")
                .server()
                .at(at + 4.0, 40.0)
                .build(),
        );
    }
    out
}

#[test]
fn synchronous_callback_cycle_is_raised() {
    let r = lint(callback(5), &rule("CYC-001", "cyclic-dependency", ""));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].severity, Severity::Error);
    assert!(h[0].message.contains("a, b"), "{}", h[0].message);
    assert_eq!(
        h[0].evidence
            .value("callback_path")
            .map(|v| v.to_string())
            .as_deref(),
        Some("a → b → a")
    );
    let ignored = lint(
        callback(5),
        &rule("CYC-001", "cyclic-dependency", "ignore_services = [\"b\"]"),
    );
    assert!(hits(&ignored).is_empty());
}

#[test]
fn fan_out_per_request() {
    let mut spans = Vec::new();
    for t in 1..=25u64 {
        spans.push(
            sp(t, 1)
                .svc("agg")
                .server()
                .at(t as f64 * 1_000.0, 500.0)
                .build(),
        );
        for d in 0..12u64 {
            spans.push(
                sp(t, 10 + d)
                    .parent(1)
                    .svc("agg")
                    .http("GET", &format!("dep{d}"), "/x")
                    .at(t as f64 * 1_000.0 + d as f64, 10.0)
                    .build(),
            );
        }
    }
    let r = lint(spans, &rule("FAN-002", "fan-out", ""));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(h[0].message.contains("12 dependencies"), "{}", h[0].message);
}

fn db(t: u64, id: u64, parent: u64, at: f64, dur: f64, sql: &str) -> Span {
    sp(t, id)
        .parent(parent)
        .svc("shop")
        .client()
        .name("SELECT")
        .s("db.system.name", "postgresql")
        .s("db.namespace", "shop")
        .s("server.address", "pg")
        .s("db.query.text", sql)
        .at(at, dur)
        .build()
}

#[test]
fn n_plus_one_queries_and_the_dataloader_twin() {
    let mut spans = vec![
        sp(1, 1).svc("shop").server().at(0.0, 1_000.0).build(),
        db(1, 2, 1, 1.0, 5.0, "SELECT id FROM orders WHERE user_id = 7"),
    ];
    for i in 0..8u64 {
        spans.push(db(
            1,
            10 + i,
            1,
            10.0 + i as f64 * 12.0,
            10.0,
            &format!("SELECT * FROM items WHERE order_id = {i}"),
        ));
    }
    // DataLoader-style: the same 8 queries concurrently (overlapping) are not N+1.
    spans.push(sp(2, 1).svc("shop").server().at(0.0, 1_000.0).build());
    for i in 0..8u64 {
        spans.push(db(
            2,
            10 + i,
            1,
            10.0 + i as f64 * 0.5,
            10.0,
            &format!("SELECT * FROM items WHERE order_id = {i}"),
        ));
    }
    let r = lint(spans, &rule("N1-001", "n-plus-one", "calls = \"db\""));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].trace_ids.len(), 1);
    assert!(
        h[0].message
            .contains("SELECT * FROM items WHERE order_id = ?"),
        "{}",
        h[0].message
    );
    assert!(h[0].message.contains("8×"));
}

#[test]
fn n_plus_one_api_burst_but_not_pagination() {
    let mut spans = vec![
        sp(1, 1).svc("bff").server().at(0.0, 1_000.0).build(),
        sp(2, 1).svc("bff").server().at(0.0, 1_000.0).build(),
    ];
    for i in 0..12u64 {
        let get = |t: u64, url: String| {
            sp(t, 10 + i)
                .parent(1)
                .svc("bff")
                .client()
                .name("GET")
                .s("http.request.method", "GET")
                .s("server.address", "users")
                .s("url.full", &url)
                .at(1.0 + i as f64, 40.0)
                .build()
        };
        spans.push(get(1, format!("http://users/users/{}", 100 + i)));
        spans.push(get(2, format!("http://users/users?page={i}")));
    }
    let r = lint(spans, &rule("N1-002", "n-plus-one", "calls = \"api\""));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(h[0].message.contains("/users/{id}"), "{}", h[0].message);
}

#[test]
fn policy_deny_and_layers() {
    let spans = vec![
        sp(1, 1)
            .svc("web-shop")
            .http("GET", "postgres-main", "/q")
            .build(),
        sp(2, 1)
            .svc("orders-store")
            .http("GET", "orders-api", "/x")
            .build(),
        sp(3, 1)
            .svc("orders-api")
            .http("GET", "orders-store", "/y")
            .build(),
    ];
    let params = "deny = [{ from = \"web-*\", to = \"postgres*\", reason = \"only through the API\" }]\nlayers = [[\"web-*\"], [\"*-api\"], [\"*-store\", \"postgres*\"]]";
    let r = lint(spans, &rule("POL-1", "policy", params));
    let h = hits(&r);
    assert_eq!(h.len(), 2, "{:#?}", r.findings);
    assert!(
        h.iter().any(
            |f| f.message.contains("denied edge") && f.message.contains("only through the API")
        )
    );
    assert!(
        h.iter().any(|f| f.message.contains("layering violation")
            && f.caller.as_deref() == Some("orders-store"))
    );
}

#[test]
fn threshold_condition_in_cel() {
    let mut spans = Vec::new();
    for i in 0..40u64 {
        spans.push(
            sp(i + 1, 1)
                .svc("a")
                .http("GET", "slow", "/x")
                .at(i as f64 * 100.0, 900.0)
                .status(200)
                .build(),
        );
        spans.push(
            sp(i + 1, 2)
                .svc("a")
                .http("GET", "fast", "/x")
                .at(i as f64 * 100.0, 9.0)
                .status(200)
                .build(),
        );
    }
    let r = lint(
        spans,
        &rule(
            "THR-1",
            "threshold",
            "condition = 'p99_ms > 800.0 && breaker != \"closed\" && kind == \"http\"'",
        ),
    );
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].dependency.as_deref(), Some("slow"));
    assert!(h[0].evidence.value("p99_ms").is_some());
}
