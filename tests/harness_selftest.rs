//! The comparison the SDK tests rely on must fail on every kind of mismatch, so an SDK test
//! cannot pass vacuously.

mod common;

use common::*;

fn truth() -> Truth {
    serde_json::from_value(serde_json::json!({
        "scenario": "selftest", "traces": 1, "spans": 2,
        "edges": [
            {"edge": "a", "caller": "web", "dependency": "api", "match": "exact", "contains": ["api"],
             "kind": "http", "calls": 100, "errors": 5, "p50_ms": 10.0, "p95_ms": 50.0, "p99_ms": 90.0, "max_ms": 120.0},
            {"edge": "b", "caller": "api", "dependency": null, "match": "contains", "contains": ["postgresql", "db-1"],
             "kind": "db", "calls": 40, "errors": 0, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0, "max_ms": 4.0}
        ]
    }))
    .unwrap()
}

fn rows() -> Vec<Row> {
    let row = |caller: &str, dep: &str, kind: &str, calls, errors, q: [f64; 4]| Row {
        caller: caller.into(),
        dependency: dep.into(),
        kind: kind.into(),
        calls,
        errors,
        error_ratio: errors as f64 / calls as f64,
        timeouts: Some(0),
        retries: Some(0),
        retry_ratio: Some(0.0),
        timeout_ratio: Some(0.0),
        short_circuits: Some(0),
        p50_ms: q[0],
        p95_ms: q[1],
        p99_ms: q[2],
        max_ms: q[3],
        latency_source: Some("traces".into()),
        latency_at_least: Vec::new(),
        breaker: "unknown".into(),
        breaker_detail: "unknown".into(),
        breaker_source: None,
        breaker_since: None,
        queue_depth: None,
        queue_capacity: None,
        queue_source: None,
        in_flight: None,
        pool_utilisation: None,
        retry_rate: None,
        timeout_rate: None,
        rejected_rate: None,
        breaker_transitions: Vec::new(),
        cache_hits: None,
        cache_misses: None,
        cache_hit_ratio: None,
        cache_source: None,
    };
    vec![
        row(
            "api",
            "postgresql db-1:5432/app",
            "db",
            40,
            0,
            [1.005, 2.0, 2.98, 4.0],
        ),
        row("web", "api", "http", 100, 5, [10.09, 49.6, 90.5, 120.0]),
    ]
}

fn fails(mutate: impl FnOnce(&mut Vec<Row>)) -> bool {
    let mut r = rows();
    mutate(&mut r);
    std::panic::catch_unwind(|| assert_report_matches(&r, &truth())).is_err()
}

#[test]
fn matching_rows_pass() {
    assert_report_matches(&rows(), &truth());
}

#[test]
fn every_mismatch_fails() {
    assert!(fails(|r| r[1].calls += 1), "calls off by one");
    assert!(fails(|r| r[1].errors -= 1), "errors off by one");
    assert!(fails(|r| r[1].error_ratio = 0.5), "error ratio");
    assert!(fails(|r| r[1].kind = "rpc".into()), "kind");
    assert!(fails(|r| r[1].p99_ms = 90.0 * 1.02), "p99 2% high");
    assert!(fails(|r| r[1].p50_ms = 10.0 * 0.98), "p50 2% low");
    assert!(fails(|r| r[1].p95_ms = 51.0), "p95 2% high");
    assert!(fails(|r| r[1].max_ms = 100.0), "max");
    assert!(
        fails(|r| r[1].dependency = "api-gateway".into()),
        "exact dependency name"
    );
    assert!(
        fails(|r| r[0].dependency = "mysql db-1".into()),
        "contains dependency name"
    );
    assert!(
        fails(|r| {
            r.remove(0);
        }),
        "missing edge"
    );
    assert!(
        fails(|r| {
            let extra = r[1].clone();
            r.push(Row {
                caller: "web".into(),
                dependency: "cdn".into(),
                ..extra
            })
        }),
        "extra edge"
    );
    assert!(
        fails(|r| {
            let dup = r[1].clone();
            r.push(dup)
        }),
        "duplicate edge"
    );
}
