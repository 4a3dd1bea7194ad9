//! CACHE-001 (a cache that rarely hits: traced Redis lookups, Micrometer counters) and CACHE-002
//! (an expensive read repeated across requests with no cache in front).

use super::builder::*;
use crate::model::finding::EvidenceExt;
use crate::model::span::Span;

/// `n` Redis GETs by `api` in separate traces, the first `hits` of them found.
fn redis_gets(n: u64, hits: u64) -> Vec<Span> {
    (0..n)
        .map(|i| {
            sp(100 + i, 1)
                .client()
                .svc("api")
                .name("GET")
                .s("db.system", "redis")
                .s("server.address", "cache-1")
                .s("db.statement", "GET user:?")
                .i("db.response.returned_rows", i64::from(i < hits))
                .at(i as f64 * 100.0, 1.0)
                .build()
        })
        .collect()
}

fn cache001() -> String {
    rule(
        "CACHE-001",
        "cache-hit-ratio",
        "min_hit_ratio = 0.5\nmin_gets = 100",
    )
}

#[test]
fn a_traced_cache_that_rarely_hits_is_found_with_its_counts() {
    let r = lint(redis_gets(200, 40), &cache001());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    let f = h[0];
    assert_eq!(f.dependency.as_deref(), Some("redis cache-1"));
    assert!(f.message.contains("20.0% of 200 lookups"), "{}", f.message);
    assert_eq!(
        f.evidence.value("cache_misses").map(|v| v.to_string()),
        Some("160".into())
    );
    assert_eq!(
        f.evidence.value("cache_source").map(|v| v.to_string()),
        Some("traces".into())
    );
    assert!(!f.trace_ids.is_empty(), "exemplars are traces of misses");
}

#[test]
fn a_cache_that_hits_passes_and_too_few_lookups_are_undecided() {
    let r = lint(redis_gets(200, 180), &cache001());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    let r = lint(redis_gets(50, 0), &cache001());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    let u = undecided(&r);
    assert_eq!(u.len(), 1, "{:#?}", r.findings);
    assert!(
        u[0].message.contains("50 lookups, needs 100"),
        "{}",
        u[0].message
    );
}

#[test]
fn micrometer_counters_judge_an_in_process_cache_without_spans() {
    let l = |r: &'static str| [("job", "shop"), ("cache", "prices"), ("result", r)];
    let mut pts = Vec::new();
    for (i, t) in [0.0, 15.0, 30.0].into_iter().enumerate() {
        let i = i as f64;
        pts.push(point("cache_gets_total", &l("hit"), t, 10.0 * i, true));
        pts.push(point("cache_gets_total", &l("miss"), t, 200.0 * i, true));
    }
    let r = lint_with(Vec::new(), pts, &cache001());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].caller.as_deref(), Some("shop"));
    assert_eq!(h[0].dependency.as_deref(), Some("prices"));
    assert_eq!(
        h[0].evidence.value("cache_source").map(|v| v.to_string()),
        Some("metric".into())
    );
    assert!(h[0].message.contains("of 420 lookups"), "{}", h[0].message);
}

/// `n` requests of `api`, each reading `stmt` from postgres once, `gap_ms` apart, `dur_ms` each.
fn reads(n: u64, gap_ms: f64, dur_ms: f64, stmt: &str) -> Vec<Span> {
    (0..n)
        .map(|i| {
            sp(500 + i, 1)
                .client()
                .svc("api")
                .name("SELECT")
                .s("db.system.name", "postgresql")
                .s("server.address", "pg")
                .s("db.query.text", stmt)
                .at(i as f64 * gap_ms, dur_ms)
                .build()
        })
        .collect()
}

fn cache002() -> String {
    rule(
        "CACHE-002",
        "uncached-read",
        "min_repeats = 10\nwithin = \"60s\"\nmin_duration = \"50ms\"",
    )
}

const STMT: &str = "SELECT * FROM prices WHERE region = 'eu'";

#[test]
fn a_slow_read_repeated_across_requests_without_a_cache_is_found() {
    let r = lint(reads(12, 1000.0, 120.0, STMT), &cache002());
    let h = hits(&r);
    assert_eq!(h.len(), 1, "{:#?}", r.findings);
    assert_eq!(h[0].caller.as_deref(), Some("api"));
    assert_eq!(
        h[0].evidence.value("repeats").map(|v| v.to_string()),
        Some("12".into())
    );
    assert_eq!(
        h[0].evidence.value("read").map(|v| v.to_string()),
        Some(STMT.into())
    );
}

#[test]
fn fast_sparse_or_varying_reads_and_writes_pass() {
    // Fast.
    assert!(hits(&lint(reads(12, 1000.0, 5.0, STMT), &cache002())).is_empty());
    // Spread out: 12 reads 10 s apart never put 10 in one minute.
    assert!(hits(&lint(reads(12, 10_000.0, 120.0, STMT), &cache002())).is_empty());
    // Writes.
    let w = "UPDATE prices SET v = 1 WHERE region = 'eu'";
    assert!(hits(&lint(reads(12, 1000.0, 120.0, w), &cache002())).is_empty());
    // Different statements.
    let mut spans = Vec::new();
    for i in 0..12u64 {
        spans.extend(
            reads(
                1,
                0.0,
                120.0,
                &format!("SELECT * FROM prices WHERE id = {i}"),
            )
            .into_iter()
            .map(|mut s| {
                s.trace_id[0] = i as u8 + 1;
                s
            }),
        );
    }
    assert!(hits(&lint(spans, &cache002())).is_empty());
}

#[test]
fn repeats_inside_one_request_are_n_plus_one_not_this() {
    let spans: Vec<Span> = (0..12u64)
        .map(|i| {
            sp(9, 10 + i)
                .client()
                .svc("api")
                .s("db.system", "postgresql")
                .s("db.statement", STMT)
                .at(i as f64 * 130.0, 120.0)
                .build()
        })
        .collect();
    assert!(hits(&lint(spans, &cache002())).is_empty());
}

#[test]
fn a_caller_with_a_cache_is_undecided_not_found() {
    let mut spans = reads(12, 1000.0, 120.0, STMT);
    spans.extend(redis_gets(5, 1));
    let r = lint(spans, &cache002());
    assert!(hits(&r).is_empty(), "{:#?}", r.findings);
    let u = undecided(&r);
    assert_eq!(u.len(), 1, "{:#?}", r.findings);
    assert!(
        u[0].message.contains("has a cache dependency"),
        "{}",
        u[0].message
    );
}
