//! The database audits on constructed spans and gauges: DB-001 (read replicas) across both
//! semantic-convention generations, statements, Redis and MongoDB commands, with its twins (reads
//! on a replica address, a balanced workload, too few calls, reads with no writes); DB-002
//! (connection pooling) from client ports and from pool gauges (OTel semconv, HikariCP).

use super::builder::*;
use crate::model::finding::{EvidenceExt, Finding};
use crate::model::series::SeriesPoint;
use crate::model::span::Span;

/// One request (trace `t`) of `svc` with a database call carrying `attrs`.
fn db_call(t: u64, svc: &str, inst: &str, attrs: &[(&str, &str)], port: Option<i64>) -> Vec<Span> {
    let at = t as f64 * 10.0;
    let root = sp(t, 1)
        .server()
        .svc(svc)
        .inst(inst)
        .name("GET /x")
        .at(at, 5.0)
        .build();
    let mut c = sp(t, 2)
        .parent(1)
        .client()
        .svc(svc)
        .inst(inst)
        .at(at + 1.0, 1.0);
    for (k, v) in attrs {
        c = c.s(k, v);
    }
    if let Some(p) = port {
        c = c.i("network.local.port", p);
    }
    vec![root, c.build()]
}

/// New-generation attributes of a PostgreSQL call.
fn pg_new<'a>(addr: &'a str, db: &'a str, op: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("db.system.name", "postgresql"),
        ("server.address", addr),
        ("server.port", "5432"),
        ("db.namespace", db),
        ("db.operation.name", op),
    ]
}

/// Old-generation attributes with only a statement (as psycopg's instrumentation writes).
fn pg_old<'a>(addr: &'a str, db: &'a str, stmt: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("db.system", "postgresql"),
        ("net.peer.name", addr),
        ("db.name", db),
        ("db.statement", stmt),
    ]
}

fn db001() -> String {
    rule("DB-001", "read-replica", "min_calls = 100")
}

fn about<'a>(r: &'a [&'a Finding], caller: &str) -> Vec<&'a Finding> {
    r.iter()
        .copied()
        .filter(|f| f.caller.as_deref() == Some(caller))
        .collect()
}

/// The attributes of call `t` of a 20:1 workload, in the new or the old generation.
fn workload(new: bool, t: u64) -> Vec<(&'static str, &'static str)> {
    let write = t.is_multiple_of(21);
    if new {
        pg_new("db-1", "shop", if write { "UPDATE" } else { "SELECT" })
    } else {
        pg_old(
            "db-1",
            "shop",
            if write {
                "UPDATE items SET qty = qty + 1 WHERE id = %s"
            } else {
                "/* app */ SELECT * FROM items WHERE id = %s"
            },
        )
    }
}

#[test]
fn read_heavy_primary_is_advised_a_replica_in_both_generations() {
    for new in [true, false] {
        let mut spans = Vec::new();
        for t in 1..=210u64 {
            spans.extend(db_call(t, "orders", "o-1", &workload(new, t), None));
        }
        let r = lint(spans, &db001());
        let h = hits(&r);
        assert_eq!(h.len(), 1, "new generation: {new}: {:#?}", r.findings);
        let f = h[0];
        assert_eq!(f.caller.as_deref(), Some("orders"));
        assert!(f.message.contains("20:1"), "{}", f.message);
        assert_eq!(
            f.evidence.value("reads").map(|v| v.to_string()),
            Some("200".into())
        );
        assert_eq!(
            f.evidence.value("writes").map(|v| v.to_string()),
            Some("10".into())
        );
        assert!(!f.trace_ids.is_empty());
    }
}

#[test]
fn reads_on_a_replica_address_pass() {
    let mut spans = Vec::new();
    for t in 1..=210u64 {
        let (addr, op) = if t.is_multiple_of(21) {
            ("db-primary", "INSERT")
        } else {
            ("db-replica", "SELECT")
        };
        spans.extend(db_call(
            t,
            "catalog",
            "c-1",
            &pg_new(addr, "catalog", op),
            None,
        ));
    }
    let r = lint(spans, &db001());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    assert!(undecided(&r).is_empty(), "{:#?}", r.findings);
}

#[test]
fn replicas_that_take_few_reads_are_a_lower_finding() {
    let mut spans = Vec::new();
    for t in 1..=220 {
        let (addr, op) = match t % 22 {
            0 => ("db-primary", "INSERT"),
            1 => ("db-replica", "SELECT"),
            _ => ("db-primary", "SELECT"),
        };
        spans.extend(db_call(
            t,
            "catalog",
            "c-1",
            &pg_new(addr, "catalog", op),
            None,
        ));
    }
    let r = lint(spans, &db001());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].severity, crate::model::finding::Severity::Info);
    assert!(
        h[0].message.contains("replicas take only"),
        "{}",
        h[0].message
    );
}

#[test]
fn balanced_workloads_few_calls_and_read_only_databases_are_not_flagged() {
    // 1:1 reads and writes.
    let mut spans = Vec::new();
    for t in 1..=200u64 {
        let op = if t.is_multiple_of(2) {
            "UPDATE"
        } else {
            "SELECT"
        };
        spans.extend(db_call(
            t,
            "billing",
            "b-1",
            &pg_new("db-1", "ledger", op),
            None,
        ));
    }
    // 20:1 but only 42 calls.
    for t in 1001..=1042u64 {
        let op = if t.is_multiple_of(21) {
            "UPDATE"
        } else {
            "SELECT"
        };
        spans.extend(db_call(t, "tiny", "t-1", &pg_new("db-2", "tiny", op), None));
    }
    // Reads only: a primary or a replica, nobody can tell.
    for t in 2001..=2150 {
        spans.extend(db_call(
            t,
            "reporting",
            "r-1",
            &pg_new("db-3", "dw", "SELECT"),
            None,
        ));
    }
    // Transaction control is neither.
    for t in 3001..=3200 {
        spans.extend(db_call(
            t,
            "tx",
            "x-1",
            &pg_new("db-4", "tx", "BEGIN"),
            None,
        ));
    }
    let r = lint(spans, &db001());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    let u = undecided(&r);
    assert_eq!(u.len(), 1, "{:#?}", r.findings);
    let text = format!("{:?}", u[0].evidence);
    assert!(text.contains("42 reads and writes"), "{text}");
    assert!(
        text.contains("cannot tell a primary from a replica"),
        "{text}"
    );
}

#[test]
fn redis_and_mongodb_commands_are_classified() {
    let mut spans = Vec::new();
    for t in 1..=120u64 {
        let op = if t.is_multiple_of(12) { "SET" } else { "GET" };
        spans.extend(db_call(
            t,
            "cache-user",
            "u-1",
            &[
                ("db.system", "redis"),
                ("net.peer.name", "redis-1"),
                ("db.statement", op),
            ],
            None,
        ));
    }
    for t in 1001..=1120u64 {
        let op = if t.is_multiple_of(2) {
            "insert"
        } else {
            "find"
        };
        spans.extend(db_call(
            t,
            "docs",
            "d-1",
            &[
                ("db.system.name", "mongodb"),
                ("server.address", "mongo-1"),
                ("db.namespace", "docs"),
                ("db.operation.name", op),
            ],
            None,
        ));
    }
    let r = lint(spans, &db001());
    let h = hits(&r);
    assert_eq!(about(&h, "cache-user").len(), 1, "{:#?}", r.findings);
    assert!(about(&h, "docs").is_empty(), "{:#?}", r.findings);
}

fn db002(limit: u64) -> String {
    rule(
        "DB-002",
        "connection-pooling",
        &format!("max_connections = {limit}"),
    )
}

#[test]
fn a_connection_per_call_is_unpooled_and_a_pool_is_not() {
    let mut spans = Vec::new();
    for t in 1..=80 {
        // A new ephemeral port per call.
        spans.extend(db_call(
            t,
            "reports",
            "r-1",
            &pg_new("db-1", "reports", "SELECT"),
            Some(40000 + t as i64),
        ));
    }
    for t in 1001..=1080 {
        // Four pooled connections.
        spans.extend(db_call(
            t,
            "orders",
            "o-1",
            &pg_new("db-1", "shop", "SELECT"),
            Some(50000 + (t % 4) as i64),
        ));
    }
    let r = lint(spans, &db002(100));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].caller.as_deref(), Some("reports"));
    assert!(
        h[0].message.contains("new connection per call"),
        "{}",
        h[0].message
    );
    assert_eq!(
        h[0].evidence
            .value("distinct_client_ports")
            .map(|v| v.to_string()),
        Some("80".into())
    );
}

#[test]
fn pooled_connections_seen_in_ports_count_against_the_limit() {
    let mut spans = Vec::new();
    for inst in 0..3u64 {
        for t in 1..=60 {
            let port = 50000 + inst as i64 * 100 + (t % 10) as i64;
            let id = inst * 1000 + t;
            spans.extend(db_call(
                id,
                "billing",
                &format!("b-{inst}"),
                &pg_new("db-1", "ledger", "SELECT"),
                Some(port),
            ));
        }
    }
    let r = lint(spans.clone(), &db002(25));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(
        h[0].message
            .contains("3 client instance(s) hold 30 connections"),
        "{}",
        h[0].message
    );
    let r = lint(spans, &db002(30));
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
}

/// OTel semconv pool gauges of `pool` from `instances` instances of `job`, each of size `max`.
fn otel_pools(job: &str, pool: &str, instances: usize, max: f64) -> Vec<SeriesPoint> {
    let mut out = Vec::new();
    for i in 0..instances {
        let inst = format!("{job}-{i}");
        for t in [0.0, 15.0] {
            for (state, v) in [("used", 1.0), ("idle", 1.0)] {
                out.push(point(
                    "db_client_connection_count",
                    &[
                        ("job", job),
                        ("instance", &inst),
                        ("db_client_connection_pool_name", pool),
                        ("db_client_connection_state", state),
                    ],
                    t,
                    v,
                    false,
                ));
            }
            out.push(point(
                "db_client_connection_max",
                &[
                    ("job", job),
                    ("instance", &inst),
                    ("db_client_connection_pool_name", pool),
                ],
                t,
                max,
                false,
            ));
        }
    }
    out
}

#[test]
fn pool_gauges_times_instances_over_the_limit_are_found() {
    let mut pts = otel_pools("billing", "ledger", 3, 10.0);
    pts.extend(otel_pools("orders", "shop", 2, 4.0));
    let r = lint_with(Vec::new(), pts, &db002(25));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    let f = h[0];
    assert_eq!(f.caller.as_deref(), Some("billing"));
    assert_eq!(f.dependency.as_deref(), Some("ledger"));
    assert!(
        f.message.contains("3 instance(s)") && f.message.contains("30 connections"),
        "{}",
        f.message
    );
    assert_eq!(
        f.evidence.value("open_connections").map(|v| v.to_string()),
        Some("6".into())
    );
}

#[test]
fn hikaricp_pools_of_two_services_on_one_database_add_up() {
    let mut pts = Vec::new();
    for (job, inst) in [("a", "a-1"), ("a", "a-2"), ("b", "b-1")] {
        for t in [0.0, 15.0] {
            let l = [("job", job), ("instance", inst), ("pool", "orders-db")];
            pts.push(point("hikaricp_connections_active", &l, t, 3.0, false));
            pts.push(point("hikaricp_connections_idle", &l, t, 2.0, false));
            pts.push(point("hikaricp_connections_max", &l, t, 40.0, false));
        }
    }
    let r = lint_with(Vec::new(), pts.clone(), &db002(100));
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert!(h[0].message.contains("120 connections"), "{}", h[0].message);
    let r = lint_with(Vec::new(), pts, &db002(120));
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
}

#[test]
fn without_ports_or_gauges_it_says_what_is_missing() {
    let mut spans = Vec::new();
    for t in 1..=60 {
        spans.extend(db_call(
            t,
            "orders",
            "o-1",
            &pg_new("db-1", "shop", "SELECT"),
            None,
        ));
    }
    let r = lint(spans, &db002(100));
    assert!(hits(&r).is_empty());
    let u = undecided(&r);
    assert_eq!(u.len(), 1, "{:#?}", r.findings);
    assert!(
        u[0].message.contains("no connection-pool gauges"),
        "{}",
        u[0].message
    );
}
