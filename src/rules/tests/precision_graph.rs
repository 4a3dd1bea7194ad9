//! Precision on noisy systems (issue 11), graph and data rules: a stray call and shared auth are
//! not cycles (CYC-001), a fan-out is not retry amplification (RTY-003), pagination is not N+1
//! (N1-001, N1-002). Each case beside a control the detector must still flag.

use super::builder::*;
use crate::model::finding::EvidenceExt;
use crate::model::span::Span;

/// `n` requests of `a` calling `b`; in the first `back` of them `b` calls `a` back.
fn pair(a: &str, b: &str, n: u64, back: u64, t0: u64) -> Vec<Span> {
    let mut out = Vec::new();
    for t in 1..=n {
        let (tr, at) = (t0 + t, t as f64 * 1_000.0);
        out.push(sp(tr, 1).svc(a).server().at(at, 100.0).build());
        out.push(
            sp(tr, 2)
                .parent(1)
                .svc(a)
                .http("GET", b, "/x")
                .at(at + 1.0, 90.0)
                .build(),
        );
        out.push(
            sp(tr, 3)
                .parent(2)
                .svc(b)
                .server()
                .at(at + 2.0, 80.0)
                .build(),
        );
        if t <= back {
            out.push(
                sp(tr, 4)
                    .parent(3)
                    .svc(b)
                    .http("GET", a, "/cb")
                    .at(at + 3.0, 50.0)
                    .build(),
            );
            out.push(
                sp(tr, 5)
                    .parent(4)
                    .svc(a)
                    .server()
                    .at(at + 4.0, 40.0)
                    .build(),
            );
        }
    }
    out
}

fn cyc(params: &str) -> String {
    rule("CYC-001", "cyclic-dependency", params)
}

#[test]
fn a_single_stray_call_back_is_not_a_cycle() {
    // orders → catalog 30 times, catalog → orders once (a cache warm-up).
    let r = lint(pair("orders", "catalog", 30, 1, 0), &cyc(""));
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    // The same call-back in 6 requests is a cycle: both directions carry ≥ min_calls (5).
    let r = lint(pair("orders", "catalog", 30, 6, 0), &cyc(""));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(
        h[0].evidence
            .value("min_calls_per_edge")
            .map(|v| v.to_string())
            .as_deref(),
        Some("5")
    );
    // The threshold is a parameter.
    let r = lint(pair("orders", "catalog", 30, 1, 0), &cyc("min_calls = 1"));
    assert_eq!(hits(&r).len(), 1, "{:#?}", r.findings);
}

#[test]
fn shared_auth_and_gateways_are_left_out_by_default() {
    // users → auth on every request; auth looks users up in `users` (a call-back), and the
    // gateway is called by a service it routes to.
    let mut spans = pair("users", "auth", 20, 20, 0);
    spans.extend(pair("api-gateway", "orders", 20, 20, 100));
    let r = lint(spans.clone(), &cyc(""));
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    // Without the default list both are cycles (the shipped list is what hides them).
    let r = lint(spans, &cyc("ignore_services = []"));
    assert_eq!(hits(&r).len(), 2, "{:#?}", r.findings);
}

/// One request of `a` → `b` (outer attempts), where `b` calls `c` for `items` items per
/// attempt. `inner_fail[k]` makes item 1 fail once (then retried) in outer attempt k.
fn fan_out_trace(t: u64, outer: usize, items: u64, inner_fail: &[bool]) -> Vec<Span> {
    let mut out = Vec::new();
    let base = t as f64 * 10_000.0;
    out.push(sp(t, 1).svc("a").server().at(base, 5_000.0).build());
    let mut at = base + 1.0;
    let mut id = 10;
    for k in 0..outer {
        let last = k + 1 == outer;
        let oa = id;
        id += 1;
        let start = at;
        let mut inner_at = start + 1.0;
        let bs = id;
        id += 1;
        let mut inner = Vec::new();
        for item in 1..=items {
            let tries = if item == 1 && inner_fail.get(k).copied().unwrap_or(false) {
                2
            } else {
                1
            };
            for n in 0..tries {
                let ok = n + 1 == tries;
                let s = sp(t, id)
                    .parent(bs)
                    .svc("b")
                    .client()
                    .name("GET /items/{id}")
                    .s("http.request.method", "GET")
                    .s("server.address", "c")
                    .s("url.template", "/items/{id}")
                    .s("url.full", &format!("http://c/items/{item}"))
                    .at(inner_at, 5.0)
                    .status(if ok { 200 } else { 503 });
                id += 1;
                inner.push(s.build());
                inner_at += 5.0 + if ok { 1.0 } else { 40.0 };
            }
        }
        let dur = inner_at - start + 2.0;
        out.push(
            sp(t, oa)
                .parent(1)
                .svc("a")
                .http("POST", "b", "/orders")
                .at(start, dur)
                .status(if last { 200 } else { 503 })
                .build(),
        );
        out.push(
            sp(t, bs)
                .parent(oa)
                .svc("b")
                .server()
                .at(start + 0.5, dur - 1.0)
                .build(),
        );
        out.extend(inner);
        at = start + dur + 50.0;
    }
    out
}

fn amp() -> String {
    rule("RTY-003", "retry-amplification", "")
}

#[test]
fn a_fan_out_of_four_calls_is_not_amplification() {
    // b calls c for 4 items per request; in two requests a retried b once, and b retried one
    // item in the first attempt only: 3 attempts of that item, not the 9 calls to c.
    let mut spans = Vec::new();
    for t in 1..=2 {
        spans.extend(fan_out_trace(t, 2, 4, &[true, false]));
    }
    for t in 3..=40 {
        spans.extend(fan_out_trace(t, 1, 4, &[]));
    }
    let r = lint(spans, &amp());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
}

#[test]
fn nested_attempts_themselves_still_amplify() {
    // a tries b 3 times, and inside each attempt b tries the item twice: 6 attempts of it.
    let mut spans = Vec::new();
    for t in 1..=2 {
        spans.extend(fan_out_trace(t, 3, 4, &[true, true, true]));
    }
    for t in 3..=40 {
        spans.extend(fan_out_trace(t, 1, 4, &[]));
    }
    let r = lint(spans, &amp());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    let ev = &h[0].evidence;
    assert_eq!(
        ev.value("observed_leaf_attempts_max")
            .map(|v| v.to_string())
            .as_deref(),
        Some("6")
    );
    assert_eq!(
        ev.value("inner_calls_per_request_median")
            .map(|v| v.to_string())
            .as_deref(),
        Some("4")
    );
}

/// `traces` requests of `svc` that each run `stmts` as consecutive sibling db calls (10 ms).
fn db_runs(svc: &str, traces: u64, stmts: impl Fn(u64) -> String, n: u64) -> Vec<Span> {
    let mut out = Vec::new();
    for t in 1..=traces {
        let base = t as f64 * 1_000.0;
        out.push(
            sp(t, 1)
                .svc(svc)
                .server()
                .name("GET /list")
                .at(base, 200.0)
                .build(),
        );
        for k in 0..n {
            out.push(
                sp(t, 10 + k)
                    .parent(1)
                    .svc(svc)
                    .client()
                    .name("SELECT products")
                    .s("db.system.name", "postgresql")
                    .s("db.namespace", "shop")
                    .s("server.address", "db")
                    .s("db.query.text", &stmts(k))
                    .at(base + 1.0 + k as f64 * 11.0, 10.0)
                    .build(),
            );
        }
    }
    out
}

fn n1() -> String {
    rule("N1-001", "n-plus-one", "calls = \"db\"")
}

#[test]
fn keyset_and_offset_pagination_are_not_n_plus_one() {
    let keyset = |_| {
        "SELECT id, name FROM products WHERE created > $1 ORDER BY created LIMIT $2".to_string()
    };
    let r = lint(db_runs("catalog", 10, keyset, 8), &n1());
    assert!(hits(&r).is_empty(), "keyset: {:#?}", r.findings);
    let row_value = |_| {
        "SELECT * FROM t WHERE (created, id) > (?, ?) ORDER BY created, id FETCH FIRST 50 ROWS ONLY"
            .to_string()
    };
    let r = lint(db_runs("catalog", 10, row_value, 8), &n1());
    assert!(hits(&r).is_empty(), "row-value keyset: {:#?}", r.findings);
    let offset = |k| {
        format!(
            "SELECT id FROM orders ORDER BY placed_at LIMIT 20 OFFSET {}",
            k * 20
        )
    };
    let r = lint(db_runs("orders", 10, offset, 8), &n1());
    assert!(hits(&r).is_empty(), "offset: {:#?}", r.findings);
}

#[test]
fn repeated_lookups_and_a_repeated_page_are_still_n_plus_one() {
    // A per-item lookup with LIMIT (Rails find_by) is N+1.
    let lookup = |k| format!("SELECT * FROM users WHERE id = {k} LIMIT 1");
    let r = lint(db_runs("orders", 10, lookup, 8), &n1());
    assert_eq!(hits(&r).len(), 1, "{:#?}", r.findings);
    // The same page read 8 times (the offset does not advance) is not pagination.
    let same = |_| "SELECT id FROM orders ORDER BY placed_at LIMIT 20 OFFSET 0".to_string();
    let r = lint(db_runs("orders", 10, same, 8), &n1());
    assert_eq!(hits(&r).len(), 1, "{:#?}", r.findings);
}

#[test]
fn paging_through_an_api_is_not_chatty() {
    // 25 requests, each reading 12 pages of a listing (sequential, page=N).
    let paged = |q: &str| {
        let mut out = Vec::new();
        for t in 1..=25u64 {
            let base = t as f64 * 1_000.0;
            out.push(
                sp(t, 1)
                    .svc("orders")
                    .server()
                    .name("GET /history")
                    .at(base, 200.0)
                    .build(),
            );
            for k in 0..12u64 {
                out.push(
                    sp(t, 10 + k)
                        .parent(1)
                        .svc("orders")
                        .client()
                        .name("GET /products")
                        .s("http.request.method", "GET")
                        .s("server.address", "catalog")
                        .s("url.template", "/products")
                        .s("url.full", &format!("http://catalog/products?{q}={k}"))
                        .at(base + 1.0 + k as f64 * 12.0, 10.0)
                        .status(200)
                        .build(),
                );
            }
        }
        out
    };
    let api = rule("N1-002", "n-plus-one", "calls = \"api\"");
    for q in ["page", "cursor", "after", "offset"] {
        let r = lint(paged(q), &api);
        assert!(hits(&r).is_empty(), "{q}=: {:#?}", r.findings);
    }
    // The same calls without a paging parameter are chatty.
    let r = lint(paged("item"), &api);
    assert_eq!(hits(&r).len(), 1, "{:#?}", r.findings);
}
