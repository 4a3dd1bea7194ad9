use super::*;
use crate::model::span::{Span, SpanKind};
use crate::testkit::{MS, T0, span};

fn trace_of(spans: Vec<Span>) -> Trace {
    let mut t = Trace::new(spans[0].trace_id);
    for s in spans {
        t.push(s);
    }
    t
}

/// web GET /buy 0..100 ms → cart (10..30), pay (40..90 → pay-svc 42..88).
fn normal() -> Trace {
    trace_of(vec![
        span(1, 1, 0, "web", "GET /buy", SpanKind::Server, T0, 100 * MS).build(),
        span(
            1,
            2,
            1,
            "web",
            "cart",
            SpanKind::Client,
            T0 + 10 * MS,
            20 * MS,
        )
        .build(),
        span(
            1,
            3,
            1,
            "web",
            "pay",
            SpanKind::Client,
            T0 + 40 * MS,
            50 * MS,
        )
        .build(),
        span(
            1,
            4,
            3,
            "pay",
            "POST /pay",
            SpanKind::Server,
            T0 + 42 * MS,
            46 * MS,
        )
        .build(),
    ])
}

/// The slow one: cart is gone, pay is retried (a second `pay`), and the first pay takes 400 ms.
fn slow() -> Trace {
    let t1 = T0 + 10_000 * MS;
    trace_of(vec![
        span(2, 1, 0, "web", "GET /buy", SpanKind::Server, t1, 700 * MS).build(),
        span(
            2,
            3,
            1,
            "web",
            "pay",
            SpanKind::Client,
            t1 + 40 * MS,
            400 * MS,
        )
        .error("timeout")
        .build(),
        span(
            2,
            4,
            3,
            "pay",
            "POST /pay",
            SpanKind::Server,
            t1 + 42 * MS,
            396 * MS,
        )
        .build(),
        span(
            2,
            5,
            1,
            "web",
            "pay",
            SpanKind::Client,
            t1 + 450 * MS,
            240 * MS,
        )
        .build(),
    ])
}

fn row<'a>(c: &'a Comparison, path: &str) -> &'a SpanDiff {
    c.rows
        .iter()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("no row {path}: {:#?}", c.rows))
}

#[test]
fn spans_match_by_service_and_operation_path() {
    let c = compare(&normal(), &slow());
    let paths: Vec<(&str, Presence, u16)> = c
        .rows
        .iter()
        .map(|r| (r.path.as_str(), r.presence, r.depth))
        .collect();
    assert_eq!(
        paths,
        vec![
            ("web: GET /buy", Presence::Matched, 0),
            ("web: GET /buy › web: cart", Presence::Missing, 1),
            ("web: GET /buy › web: pay", Presence::Matched, 1),
            (
                "web: GET /buy › web: pay › pay: POST /pay",
                Presence::Matched,
                2
            ),
            ("web: GET /buy › web: pay#2", Presence::Added, 1),
        ]
    );
    assert_eq!((c.matched, c.added, c.missing), (3, 1, 1));
    assert_eq!(c.duration_delta_ns(), 600 * MS as i64);
}

#[test]
fn total_and_self_time_deltas() {
    let c = compare(&normal(), &slow());
    let root = row(&c, "web: GET /buy");
    assert_eq!(root.total_delta_ns(), 600 * MS as i64);
    // A: 100 − (20 + 50) = 30 ms own; B: 700 − (400 + 240) = 60 ms own.
    assert_eq!(root.a.as_ref().unwrap().self_ns, 30 * MS);
    assert_eq!(root.b.as_ref().unwrap().self_ns, 60 * MS);
    assert_eq!(root.self_delta_ns(), 30 * MS as i64);
    let pay = row(&c, "web: GET /buy › web: pay");
    assert_eq!(pay.total_delta_ns(), 350 * MS as i64);
    assert_eq!(pay.self_delta_ns(), 0, "4 ms own in both");
    assert!(pay.b.as_ref().unwrap().error);
    let cart = row(&c, "web: GET /buy › web: cart");
    assert_eq!(cart.total_delta_ns(), -(20 * MS as i64));
    assert!(cart.b.is_none());
}

#[test]
fn the_critical_path_moves_to_the_retry() {
    let c = compare(&normal(), &slow());
    let joined: Vec<&str> = c
        .critical_shifts
        .iter()
        .filter(|s| s.shift == Shift::Joined)
        .map(|s| s.path.as_str())
        .collect();
    assert_eq!(joined, vec!["web: GET /buy › web: pay#2"]);
    // The biggest change on the path is the slow pay server span (+350 ms).
    let top = &c.critical_shifts[0];
    assert_eq!(top.path, "web: GET /buy › web: pay › pay: POST /pay");
    assert_eq!(top.shift, Shift::Changed);
    assert_eq!(top.delta_ns, 350 * MS as i64);
    // Cart was on A's path (it ran while nothing else did) and is gone from B: it left.
    let cart = c
        .critical_shifts
        .iter()
        .find(|s| s.path.ends_with("cart"))
        .expect("cart left the path");
    assert_eq!(cart.shift, Shift::Left);
    assert_eq!(cart.delta_ns, -(20 * MS as i64));
}

#[test]
fn a_trace_compared_with_itself_has_no_differences() {
    let c = compare(&slow(), &slow());
    assert_eq!((c.added, c.missing), (0, 0));
    assert!(c.rows.iter().all(|r| r.total_delta_ns() == 0));
    assert!(c.critical_shifts.is_empty());
}

#[test]
fn self_time_merges_overlapping_children() {
    // Children 10..50 and 30..70 overlap: 60 ms covered of 100.
    let t = trace_of(vec![
        span(3, 1, 0, "a", "root", SpanKind::Server, T0, 100 * MS).build(),
        span(3, 2, 1, "a", "x", SpanKind::Client, T0 + 10 * MS, 40 * MS).build(),
        span(3, 3, 1, "a", "y", SpanKind::Client, T0 + 30 * MS, 40 * MS).build(),
    ]);
    assert_eq!(self_times(&t), vec![40 * MS, 40 * MS, 40 * MS]);
}

#[test]
fn durations_and_deltas_read_well() {
    assert_eq!(duration(850_000), "850µs");
    assert_eq!(duration(12_300_000), "12.3ms");
    assert_eq!(duration(1_520_000_000), "1.52s");
    assert_eq!(delta(-20_000_000), "-20.0ms");
    assert_eq!(delta(0), "0");
    assert_eq!(delta(1_200_000_000), "+1.20s");
}
