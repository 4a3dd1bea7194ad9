use std::sync::Arc;

use super::*;
use crate::model::span::SpanKind;
use crate::testkit::{MS, T0, span};

fn trace_of(spans: Vec<Span>) -> Trace {
    let mut t = Trace::new(spans[0].trace_id);
    for s in spans {
        t.push(s);
    }
    t
}

/// root 0..100 ms; a: 0..30, b: 10..60 (ends last before c starts), c: 60..95; c1 inside c.
fn sample() -> Trace {
    trace_of(vec![
        span(1, 1, 0, "web", "root", SpanKind::Server, T0, 100 * MS).build(),
        span(1, 2, 1, "web", "a", SpanKind::Client, T0, 30 * MS).build(),
        span(1, 3, 1, "web", "b", SpanKind::Client, T0 + 10 * MS, 50 * MS).build(),
        span(1, 4, 1, "web", "c", SpanKind::Client, T0 + 60 * MS, 35 * MS).build(),
        span(
            1,
            5,
            4,
            "api",
            "c1",
            SpanKind::Server,
            T0 + 62 * MS,
            30 * MS,
        )
        .build(),
    ])
}

fn name_of(t: &Trace, i: u32) -> &str {
    &t.spans[i as usize].name
}

#[test]
fn tree_is_depth_first_by_start_with_descendant_counts() {
    let t = sample();
    let tree = TraceTree::build(&t);
    let order: Vec<_> = tree
        .nodes
        .iter()
        .map(|n| (name_of(&t, n.span), n.depth, n.descendants))
        .collect();
    assert_eq!(
        order,
        vec![
            ("root", 0, 4),
            ("a", 1, 0),
            ("b", 1, 0),
            ("c", 1, 1),
            ("c1", 2, 0)
        ]
    );
    let visible = tree.visible(|s| name_of(&t, s) == "c");
    assert_eq!(visible.len(), 4);
    let visible = tree.visible(|s| name_of(&t, s) == "root");
    assert_eq!(visible, vec![0]);
}

#[test]
fn critical_path_follows_last_finishing_children() {
    let t = sample();
    let tree = TraceTree::build(&t);
    let on: Vec<&str> = (0..t.spans.len() as u32)
        .filter(|&i| tree.is_critical(i))
        .map(|i| name_of(&t, i))
        .collect();
    assert_eq!(on, vec!["root", "a", "b", "c", "c1"]);
    // Walking back from 100 ms: root's own 95..100, c (60..95, c1 62..92), b (10..60), a (0..10).
    assert!(
        tree.is_critical(0) && tree.is_critical(2) && tree.is_critical(3) && tree.is_critical(4)
    );
    assert_eq!(tree.critical_ns[4], 30 * MS, "c1 is fully critical");
    assert_eq!(tree.critical_ns[3], 5 * MS, "c's own time outside c1");
    // a ends at 30 but b covers 10..60, so only a's 0..10 is on the path.
    assert_eq!(tree.critical_ns[1], 10 * MS);
    let total: u64 = tree.critical_ns.iter().sum();
    assert_eq!(total, 100 * MS, "the path covers the root exactly once");
}

#[test]
fn parent_cycles_and_missing_parents_do_not_lose_spans() {
    let t = trace_of(vec![
        span(2, 1, 2, "x", "p", SpanKind::Internal, T0, 10 * MS).build(),
        span(2, 2, 1, "x", "q", SpanKind::Internal, T0, 10 * MS).build(),
        span(2, 3, 99, "x", "orphan", SpanKind::Internal, T0, 5 * MS).build(),
    ]);
    let tree = TraceTree::build(&t);
    assert_eq!(tree.nodes.len(), 3);
}

#[test]
fn deep_chains_do_not_overflow_the_stack() {
    let n = 50_000u64;
    let spans = (1..=n)
        .map(|i| {
            span(
                3,
                i,
                i - 1,
                "x",
                "deep",
                SpanKind::Internal,
                T0 + i,
                n * 10 - i * 2,
            )
            .build()
        })
        .collect();
    let tree = TraceTree::build(&trace_of(spans));
    assert_eq!(tree.nodes.len(), n as usize);
    assert_eq!(tree.nodes[0].descendants, n as u32 - 1);
    assert!(tree.is_critical((n - 1) as u32));
}

#[test]
fn edge_calls_and_queries() {
    let snap = crate::testkit::fixture_snapshot();
    let calls = edge_calls(&snap.traces, "checkout", "payments", snap.window, 5);
    assert!(calls.total > 100);
    assert_eq!(calls.recent.len(), 5);
    assert!(calls.slowest[0].duration_ns >= calls.slowest[4].duration_ns);
    assert!(calls.recent[0].start_ns >= calls.recent[1].start_ns);
    let db = edge_calls(
        &snap.traces,
        "checkout",
        "postgresql orders-db/orders",
        snap.window,
        3,
    );
    let _ = db; // named by attributes; presence depends on dependency naming
    let q = TraceQuery {
        errors_only: true,
        min_duration_ns: Some(200 * MS),
        ..Default::default()
    };
    let n = snap.traces.iter().filter(|t| q.matches(t)).count();
    assert!(n > 0 && n < snap.traces.len());
    let q = TraceQuery {
        attributes: vec![("error.type".into(), "CallNotPermittedException".into())],
        ..Default::default()
    };
    assert!(snap.traces.iter().any(|t| q.matches(t)));
    let q = TraceQuery {
        service: Some("INVENT".into()),
        operation: Some("stock".into()),
        ..Default::default()
    };
    assert_eq!(
        snap.traces.iter().filter(|t| q.matches(t)).count(),
        snap.traces.len()
    );
    let id = hex::encode(snap.traces[3].trace_id());
    let q = TraceQuery {
        trace_ids: vec![id],
        ..Default::default()
    };
    assert_eq!(snap.traces.iter().filter(|t| q.matches(t)).count(), 1);
    let _ = Arc::clone(&snap.traces[0]);
}
