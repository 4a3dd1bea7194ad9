//! Log records in the store: joined to their traces and spans in either arrival order, error
//! evidence, the log budget, eviction with traces, and the per-service rings.

use crate::model::span::SpanKind;
use crate::testkit::{self, MS, T0};

use super::store::{Store, StoreConfig};

fn server(trace: u64, id: u64, parent: u64) -> crate::model::span::Span {
    testkit::span(
        trace,
        id,
        parent,
        "web",
        "GET /",
        SpanKind::Server,
        T0,
        10 * MS,
    )
    .build()
}

fn client(trace: u64, id: u64, parent: u64) -> crate::model::span::Span {
    testkit::span(
        trace,
        id,
        parent,
        "web",
        "GET",
        SpanKind::Client,
        T0 + MS,
        5 * MS,
    )
    .attr("server.address", "payments")
    .build()
}

fn info(trace: u64, span: u64, ms: u64) -> crate::model::log::LogRecord {
    testkit::log("web", T0 + ms * MS, 9, &format!("info {ms}"))
        .of(trace, span)
        .build()
}

fn error(trace: u64, span: u64, ms: u64) -> crate::model::log::LogRecord {
    testkit::log("web", T0 + ms * MS, 17, "failed")
        .of(trace, span)
        .build()
}

#[test]
fn records_join_their_spans_in_time_order_whichever_comes_first() {
    let mut s = Store::new(StoreConfig::replay(1000));
    // Logs before their spans (the SDKs export logs as they happen, spans when they end).
    s.apply_logs(vec![info(1, 1, 3), info(1, 1, 1), info(1, 0, 2)], 0);
    s.apply(vec![server(1, 1, 0)], 1);
    s.apply_logs(vec![info(1, 1, 2)], 2);
    let snap = s.snapshot(None);
    assert_eq!(snap.traces.len(), 1);
    let t = snap.trace(&snap.traces[0].trace_id()).map(|t| t.as_ref());
    let Some(t) = t else { panic!("trace kept") };
    let times: Vec<u64> = t
        .logs_of(Some(&1u64.to_be_bytes()))
        .iter()
        .map(|l| (l.time_ns - T0) / MS)
        .collect();
    assert_eq!(times, [1, 2, 3]);
    assert_eq!(t.logs_of(None).len(), 1, "the record without a span id");
    assert_eq!(snap.counters.retained_logs, 4);
}

#[test]
fn an_error_record_makes_its_span_an_error_before_or_after_it() {
    let mut s = Store::new(StoreConfig {
        settle_ns: 0,
        ..StoreConfig::replay(1000)
    });
    // Before: the call is classified as an error (it reaches the edge aggregates).
    s.apply_logs(vec![error(1, 2, 2)], 0);
    s.apply(vec![server(1, 1, 0), client(1, 2, 1)], 1);
    // After: the span and the trace count it.
    s.apply(vec![server(2, 1, 0)], 2);
    s.apply_logs(vec![error(2, 1, 3), error(2, 1, 4), info(2, 1, 5)], 3);
    // An exception record is error evidence whatever its severity.
    s.apply(vec![server(3, 1, 0)], 4);
    s.apply_logs(
        vec![
            testkit::log("web", T0, 9, "caught")
                .of(3, 1)
                .attr("exception.type", "ValueError")
                .build(),
        ],
        5,
    );
    s.flush_pending();
    let snap = s.snapshot(None);
    let t1 = &snap.traces[0];
    assert!(t1.spans[1].is_error() && !t1.spans[0].is_error());
    assert_eq!(t1.error_count(), 1);
    assert_eq!(snap.edges[0].summary.stats.errors, 1, "counted in the edge");
    let t2 = &snap.traces[1];
    assert!(t2.spans[0].is_error());
    assert_eq!(t2.error_count(), 1, "two error records, one error span");
    assert!(snap.traces[2].spans[0].is_error());
}

#[test]
fn log_budget_evicts_whole_traces_with_their_records() {
    let mut s = Store::new(StoreConfig {
        max_logs: 5,
        ..StoreConfig::replay(1000)
    });
    for t in 1..=3u64 {
        s.apply(vec![server(t, 1, 0)], t);
        s.apply_logs(vec![info(t, 1, 1), info(t, 1, 2)], t);
    }
    let snap = s.snapshot(None);
    assert_eq!(
        snap.traces.len(),
        2,
        "the oldest trace went, spans and records"
    );
    assert_eq!(snap.counters.evicted_traces, 1);
    assert_eq!(snap.counters.evicted_logs, 2);
    assert_eq!(snap.counters.retained_logs, 4);
    assert_eq!(snap.counters.retained_spans, 2);
    // The span budget takes the records too.
    let mut s = Store::new(StoreConfig::replay(1));
    s.apply(vec![server(1, 1, 0)], 0);
    s.apply_logs(vec![info(1, 1, 1)], 0);
    s.apply(vec![server(2, 1, 0)], 1);
    let snap = s.snapshot(None);
    assert_eq!(snap.counters.evicted_logs, 1);
    assert_eq!(snap.counters.retained_logs, 0);
}

#[test]
fn retention_evicts_records_with_their_traces() {
    let mut cfg = StoreConfig::replay(1000);
    cfg.retention_ns = Some(100);
    let mut s = Store::new(cfg);
    s.apply_logs(vec![info(1, 1, 1)], 0);
    s.apply_logs(vec![info(2, 1, 1)], 150);
    s.prune(160);
    let snap = s.snapshot(None);
    assert_eq!(snap.traces.len(), 1);
    assert_eq!(snap.counters.retained_logs, 1);
}

#[test]
fn records_without_a_trace_stay_searchable_by_service_and_time_within_their_budget() {
    let mut s = Store::new(StoreConfig {
        max_logs: 4 * 2 * super::logs::CHUNK,
        ..StoreConfig::replay(1000)
    });
    let n = 3 * super::logs::CHUNK as u64;
    let recs = (0..n)
        .map(|i| testkit::log(if i % 2 == 0 { "a" } else { "b" }, T0 + i, 9, "x").build())
        .collect();
    s.apply_logs(recs, 0);
    s.apply_logs(vec![info(1, 0, 0)], 1);
    let snap = s.snapshot(None);
    assert_eq!(
        snap.logs.len(),
        2 * super::logs::CHUNK,
        "a quarter of max_logs"
    );
    assert_eq!(snap.counters.evicted_logs, super::logs::CHUNK as u64);
    let a = snap.logs.search(Some("a"), T0, T0 + n);
    assert!(a.iter().all(|l| l.service() == "a"));
    assert!(a.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
    assert_eq!(a.last().map(|l| l.time_ns), Some(T0 + n - 2));
    // The snapshot search covers the records of traces too.
    assert_eq!(snap.search_logs(Some("web"), T0, T0 + 1).len(), 1);
    assert_eq!(
        snap.search_logs(None, 0, u64::MAX).len(),
        2 * super::logs::CHUNK + 1
    );
}
