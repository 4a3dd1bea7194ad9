//! Store behaviour: out-of-order assembly, edge resolution in both arrival orders, aliases,
//! duplicates, eviction.

use std::sync::Arc;

use crate::model::attrs::{AttrValue, Attributes, KeyValue};
use crate::model::span::{Resource, Span, SpanKind, StatusCode};

use super::store::{Store, StoreConfig};

fn resource(service: &str) -> Arc<Resource> {
    Arc::new(Resource {
        service_name: service.into(),
        instance: None,
        attributes: Attributes::default(),
    })
}

fn span(
    service: &str,
    trace: u8,
    id: u8,
    parent: u8,
    kind: SpanKind,
    ms: u64,
    attrs: &[(&str, &str)],
) -> Span {
    Span {
        trace_id: [trace; 16],
        span_id: [id; 8],
        parent_span_id: [parent; 8],
        kind,
        status: StatusCode::Unset,
        name: "op".into(),
        start_ns: 1_000_000_000_000,
        end_ns: 1_000_000_000_000 + ms * 1_000_000,
        attributes: Attributes::new(
            attrs
                .iter()
                .map(|(k, v)| KeyValue {
                    key: (*k).into(),
                    value: AttrValue::Str((*v).into()),
                })
                .collect(),
            0,
        ),
        resource: resource(service),
        scope: "".into(),
        extras: None,
    }
}

fn deps(store: &mut Store) -> Vec<(String, String, u64)> {
    let snap = store.snapshot(None);
    snap.edges
        .iter()
        .map(|e| {
            (
                e.key.caller.to_string(),
                e.key.dependency.to_string(),
                e.summary.stats.calls,
            )
        })
        .collect()
}

const ADDR: &[(&str, &str)] = &[
    ("server.address", "10.0.0.7"),
    ("http.request.method", "GET"),
];

#[test]
fn child_server_names_the_edge_in_either_order() {
    let mut s = Store::new(StoreConfig::replay(1000));
    // client first, then server
    s.apply(vec![span("web", 1, 1, 0, SpanKind::Client, 10, ADDR)], 1);
    s.apply(vec![span("payments", 1, 2, 1, SpanKind::Server, 8, &[])], 2);
    // server first, then client (another trace)
    s.apply(vec![span("payments", 2, 2, 1, SpanKind::Server, 8, &[])], 3);
    s.apply(vec![span("web", 2, 1, 0, SpanKind::Client, 10, ADDR)], 4);
    assert_eq!(deps(&mut s), vec![("web".into(), "payments".into(), 2)]);
    assert_eq!(s.snapshot(None).counters.pending_calls, 0);
}

#[test]
fn unpaired_calls_wait_for_settle_then_use_learnt_aliases() {
    let mut cfg = StoreConfig::replay(1000);
    cfg.settle_ns = 100;
    let mut s = Store::new(cfg);
    s.apply(
        vec![
            span("web", 1, 1, 0, SpanKind::Client, 10, ADDR),
            span("payments", 1, 2, 1, SpanKind::Server, 8, &[]),
        ],
        0,
    );
    s.apply(vec![span("web", 2, 1, 0, SpanKind::Client, 10, ADDR)], 10);
    s.settle(50);
    assert_eq!(
        deps(&mut s),
        vec![("web".into(), "payments".into(), 1)],
        "still waiting"
    );
    s.settle(200);
    assert_eq!(
        deps(&mut s),
        vec![("web".into(), "payments".into(), 2)],
        "alias 10.0.0.7 -> payments"
    );
    // A db call has no server side: its attributes name it.
    s.apply(
        vec![span(
            "web",
            3,
            1,
            0,
            SpanKind::Client,
            3,
            &[("db.system.name", "postgresql"), ("db.namespace", "orders")],
        )],
        300,
    );
    s.flush_pending();
    assert!(deps(&mut s).contains(&("web".into(), "postgresql orders".into(), 1)));
}

#[test]
fn ambiguous_alias_is_not_applied() {
    let mut s = Store::new(StoreConfig::replay(1000));
    s.apply(
        vec![
            span("web", 1, 1, 0, SpanKind::Client, 10, ADDR),
            span("a", 1, 2, 1, SpanKind::Server, 8, &[]),
        ],
        0,
    );
    s.apply(
        vec![
            span("web", 2, 1, 0, SpanKind::Client, 10, ADDR),
            span("b", 2, 2, 1, SpanKind::Server, 8, &[]),
        ],
        0,
    );
    s.apply(vec![span("web", 3, 1, 0, SpanKind::Client, 10, ADDR)], 0);
    s.flush_pending();
    let d = deps(&mut s);
    assert!(d.contains(&("web".into(), "10.0.0.7".into(), 1)), "{d:?}");
}

#[test]
fn duplicates_are_ignored_and_counted() {
    let mut s = Store::new(StoreConfig::replay(1000));
    let c = span("web", 1, 1, 0, SpanKind::Client, 10, ADDR);
    s.apply(vec![c.clone(), c], 0);
    s.flush_pending();
    let snap = s.snapshot(None);
    assert_eq!(snap.counters.duplicate_spans, 1);
    assert_eq!(snap.edges[0].summary.stats.calls, 1);
}

#[test]
fn evicts_whole_traces_oldest_first_and_keeps_aggregates() {
    let mut s = Store::new(StoreConfig::replay(4));
    for t in 1..=3u8 {
        s.apply(
            vec![
                span("web", t, 1, 0, SpanKind::Client, 10, ADDR),
                span("payments", t, 2, 1, SpanKind::Server, 8, &[]),
            ],
            u64::from(t),
        );
    }
    let snap = s.snapshot(None);
    assert_eq!(snap.traces.len(), 2);
    assert_eq!(snap.traces[0].trace_id(), [2; 16]);
    assert_eq!(snap.counters.evicted_traces, 1);
    assert_eq!(snap.counters.retained_spans, 4);
    assert_eq!(
        snap.edges[0].summary.stats.calls, 3,
        "aggregates outlive raw spans"
    );
}

#[test]
fn retention_evicts_by_arrival_time() {
    let mut cfg = StoreConfig::replay(1000);
    cfg.retention_ns = Some(100);
    let mut s = Store::new(cfg);
    s.apply(vec![span("web", 1, 1, 0, SpanKind::Internal, 1, &[])], 0);
    s.apply(vec![span("web", 2, 1, 0, SpanKind::Internal, 1, &[])], 150);
    s.prune(160);
    assert_eq!(s.snapshot(None).traces.len(), 1);
}

#[test]
fn out_of_order_spans_assemble_one_trace() {
    let mut s = Store::new(StoreConfig::replay(1000));
    s.apply(vec![span("c", 1, 3, 2, SpanKind::Internal, 1, &[])], 0);
    s.apply(vec![span("b", 1, 2, 1, SpanKind::Server, 5, &[])], 1);
    s.apply(vec![span("a", 1, 1, 0, SpanKind::Server, 9, &[])], 2);
    let snap = s.snapshot(None);
    assert_eq!(snap.traces.len(), 1);
    let t = &snap.traces[0];
    assert_eq!(t.spans.len(), 3);
    assert_eq!(t.root().map(|r| r.service()), Some("a"));
    assert_eq!(t.children(&[2; 8]).count(), 1);
}

#[test]
fn overdue_calls_settle_as_the_next_batch_is_applied() {
    let mut cfg = StoreConfig::replay(1000);
    cfg.settle_ns = 100;
    let mut s = Store::new(cfg);
    s.apply(vec![span("web", 1, 1, 0, SpanKind::Client, 10, ADDR)], 0);
    s.apply(vec![span("web", 2, 1, 0, SpanKind::Client, 10, ADDR)], 50);
    // Both calls are overdue at 500; the batch answers the second one. No tick (`settle`) runs:
    // applying the batch pairs the answer first, then settles the first call, which the alias
    // just learnt names.
    s.apply(
        vec![span("payments", 2, 2, 1, SpanKind::Server, 8, &[])],
        500,
    );
    let snap = s.snapshot(None);
    assert_eq!(
        snap.counters.pending_calls, 0,
        "nothing waits past its settle time"
    );
    assert_eq!(
        deps(&mut s),
        vec![("web".into(), "payments".into(), 2)],
        "the answered call paired, the other settled through the alias"
    );
}

#[test]
fn a_call_whose_trace_is_evicted_before_it_settles_is_counted_once() {
    // Budget of one span: the second trace evicts the first while its call still waits.
    let mut s = Store::new(StoreConfig::replay(1));
    s.apply(vec![span("web", 1, 1, 0, SpanKind::Client, 10, ADDR)], 0);
    assert_eq!(s.snapshot(None).counters.pending_calls, 1);
    s.apply(vec![span("web", 2, 1, 0, SpanKind::Internal, 1, &[])], 1);
    assert_eq!(
        s.snapshot(None).counters.pending_calls,
        0,
        "resolved as its trace left"
    );
    assert_eq!(
        deps(&mut s),
        vec![("web".into(), "10.0.0.7".into(), 1)],
        "named by its attributes, as settling would have"
    );
    // Its settle time passes and its answer comes (a new trace of the same id): neither counts
    // it again.
    s.apply(
        vec![span("payments", 1, 2, 1, SpanKind::Server, 8, &[])],
        10_000_000_000,
    );
    s.flush_pending();
    assert_eq!(deps(&mut s), vec![("web".into(), "10.0.0.7".into(), 1)]);
}

#[test]
fn pending_calls_count_the_calls_still_waiting() {
    let mut cfg = StoreConfig::replay(1000);
    cfg.settle_ns = 100;
    let mut s = Store::new(cfg);
    s.apply(
        vec![
            span("web", 1, 1, 0, SpanKind::Client, 10, ADDR),
            span("web", 1, 3, 0, SpanKind::Client, 10, ADDR),
            span("payments", 1, 2, 1, SpanKind::Server, 8, &[]),
        ],
        0,
    );
    assert_eq!(s.snapshot(None).counters.pending_calls, 1, "span 3 waits");
    // A second answer to the answered call changes nothing.
    s.apply(
        vec![span("payments", 1, 4, 1, SpanKind::Server, 8, &[])],
        10,
    );
    assert_eq!(s.snapshot(None).counters.pending_calls, 1);
    s.apply(
        vec![span("payments", 1, 5, 3, SpanKind::Server, 8, &[])],
        20,
    );
    assert_eq!(s.snapshot(None).counters.pending_calls, 0);
    s.settle(1_000);
    assert_eq!(
        deps(&mut s),
        vec![("web".into(), "payments".into(), 2)],
        "each call once, both paired"
    );
}
