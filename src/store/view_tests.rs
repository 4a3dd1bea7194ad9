//! The per-dependency view over windows: metric state as of the window's end (the review
//! cursor), metrics-only dependencies, trace inference, Little's-law queue estimates.

use crate::ingest::decode_metrics::decode_metrics;
use crate::ingest::prom_otlp::{families_to_metrics, request};
use crate::ingest::prom_text::{Format, parse};
use crate::model::breaker::{BreakerSource, BreakerState};
use crate::model::span::SpanKind;
use crate::model::view::QueueSource;
use crate::store::{Store, StoreConfig};
use crate::testkit::{MS, SEC, SpanBuilder, T0, span};

fn scrape(store: &mut Store, job: &str, t_ns: u64, text: &str) {
    let fams = parse(text, Format::Prometheus004).expect("valid exposition");
    let req = request(job, "127.0.0.1:9000", families_to_metrics(&fams, t_ns));
    store.apply_metrics(decode_metrics(&req, t_ns));
}

fn r4j(state: &str, queue: u32) -> String {
    let mut s = String::from("# TYPE resilience4j_circuitbreaker_state gauge\n");
    for st in ["closed", "open", "half_open", "forced_open", "disabled"] {
        let v = u8::from(st == state);
        s.push_str(&format!(
            "resilience4j_circuitbreaker_state{{name=\"payments\",state=\"{st}\"}} {v}\n"
        ));
    }
    s.push_str("# TYPE resilience4j_bulkhead_queue_depth gauge\n");
    s.push_str(&format!(
        "resilience4j_bulkhead_queue_depth{{name=\"payments\"}} {queue}\n"
    ));
    s.push_str("# TYPE resilience4j_bulkhead_queue_capacity gauge\n");
    s.push_str("resilience4j_bulkhead_queue_capacity{name=\"payments\"} 100\n");
    s
}

/// checkout calls payments every 100 ms for 120 s; the breaker metric says closed until 40 s,
/// open from 40 s, half-open at 70 s, closed from 80 s.
fn incident() -> Store {
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    let mut spans = Vec::new();
    for i in 0..1200u64 {
        let t = T0 + i * 100 * MS;
        spans.push(
            span(
                i + 1,
                1,
                0,
                "checkout",
                "POST /pay",
                SpanKind::Client,
                t,
                20 * MS,
            )
            .attr("peer.service", "payments")
            .build(),
        );
    }
    store.apply(spans, T0);
    store.flush_pending();
    for s in (0..=120).step_by(5) {
        let state = match s {
            0..40 => "closed",
            40..70 => "open",
            70..80 => "half_open",
            _ => "closed",
        };
        scrape(
            &mut store,
            "checkout",
            T0 + s * SEC,
            &r4j(state, (s / 10) as u32),
        );
    }
    store
}

#[test]
fn metric_breaker_is_as_of_the_window_end() {
    let mut store = incident();
    let at = |store: &mut Store, from_s: u64, to_s: u64| {
        let snap = store.snapshot_window(T0 + from_s * SEC, T0 + to_s * SEC);
        snap.dep("checkout", "payments")
            .cloned()
            .expect("payments view")
    };
    let d = at(&mut store, 30, 60);
    assert_eq!(
        d.breaker.state,
        BreakerState::Open,
        "cursor inside the open period"
    );
    assert!(matches!(d.breaker.source, BreakerSource::Metric(ref s) if s.contains("resilience4j")));
    assert_eq!(d.breaker.since_ns, Some(T0 + 40 * SEC));
    assert_eq!(
        d.breaker.transitions.len(),
        1,
        "{:?}",
        d.breaker.transitions
    );
    assert_eq!(d.traffic.stats.calls, 300);
    let q = d.queue.as_ref().expect("queue from the bulkhead gauges");
    assert_eq!(
        (q.depth, q.capacity, &q.source),
        (5.0, Some(100.0), &QueueSource::Metric)
    );
    let d = at(&mut store, 70, 75);
    assert_eq!(d.breaker.state, BreakerState::HalfOpen);
    let d = at(&mut store, 90, 100);
    assert_eq!(d.breaker.state, BreakerState::Closed, "after the recovery");
    assert!(d.breaker.transitions.is_empty());
    let d = at(&mut store, 0, 30);
    assert_eq!(d.breaker.state, BreakerState::Closed, "before the incident");
}

#[test]
fn a_window_before_the_first_sample_knows_no_breaker_state() {
    let mut store = incident();
    let snap = store.snapshot_window(T0 - 60 * SEC, T0 - 30 * SEC);
    if let Some(d) = snap.dep("checkout", "payments") {
        assert_eq!(d.breaker.state, BreakerState::Unknown);
    }
}

#[test]
fn queue_is_estimated_by_littles_law_without_gauges() {
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    // 10 calls a second, 200 ms each: 2 in flight on average.
    let spans = (0..600u64)
        .map(|i| {
            span(
                i + 1,
                1,
                0,
                "web",
                "GET",
                SpanKind::Client,
                T0 + i * 100 * MS,
                200 * MS,
            )
            .attr("peer.service", "search")
            .build()
        })
        .collect();
    store.apply(spans, T0);
    store.flush_pending();
    let snap = store.snapshot_window(T0, T0 + 60 * SEC);
    let d = snap.dep("web", "search").expect("view");
    let q = d.queue.as_ref().expect("estimated queue");
    assert_eq!(q.source, QueueSource::Estimated);
    assert!((q.depth - 2.0).abs() < 0.05, "{}", q.depth);
    assert_eq!(d.breaker.state, BreakerState::Unknown, "no breaker seen");
    assert_eq!(d.breaker.source, BreakerSource::None);
}

#[test]
fn a_dependency_only_metrics_describe_has_a_view() {
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    scrape(&mut store, "orders", T0, &r4j("open", 7));
    let snap = store.snapshot(None);
    let d = snap.dep("orders", "payments").expect("metrics-only view");
    assert_eq!(d.breaker.state, BreakerState::Open);
    assert_eq!(d.traffic.stats.calls, 0);
    assert_eq!(d.queue.as_ref().map(|q| q.depth), Some(7.0));
    assert!(d.has_metrics());
}

/// Trace `t`: a server span, then attempts to payments failing with 503 until the last.
fn retried_call(t: u64, attempts: u64) -> Vec<crate::model::span::Span> {
    let t0 = T0 + t * SEC;
    let mut spans = vec![span(t, 1, 0, "checkout", "POST /buy", SpanKind::Server, t0, SEC).build()];
    for k in 0..attempts {
        let status = if k + 1 == attempts { 200 } else { 503 };
        spans.push(
            span(
                t,
                10 + k,
                1,
                "checkout",
                "POST",
                SpanKind::Client,
                t0 + k * 100 * MS,
                20 * MS,
            )
            .attr("peer.service", "payments")
            .attr("http.request.method", "POST")
            .attr("url.full", "http://payments:8080/pay?x=1")
            .int("http.response.status_code", status)
            .build(),
        );
    }
    spans
}

/// Applies `spans` one per batch (as separate exports would deliver them), settles every call,
/// and returns checkout → payments' (calls, errors, retries), after checking that the retries
/// recorded in the traces agree with the aggregate.
fn payments_retries(spans: Vec<crate::model::span::Span>) -> (u64, u64, u64) {
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    for s in spans {
        store.apply(vec![s], T0);
    }
    store.flush_pending();
    let snap = store.snapshot(None);
    let d = snap.dep("checkout", "payments").expect("view");
    let recorded: usize = snap
        .traces
        .iter()
        .map(|t| t.calls.iter().filter(|c| c.is_retry()).count())
        .sum();
    assert_eq!(
        recorded as u64, d.traffic.stats.retries,
        "records and aggregates agree"
    );
    let st = &d.traffic.stats;
    (st.calls, st.errors, st.retries)
}

#[test]
fn retries_inferred_from_failed_siblings_count_in_any_arrival_order() {
    let mut forward = Vec::new();
    for t in 1..=10 {
        forward.extend(retried_call(t, 3));
    }
    let mut backward = forward.clone();
    backward.reverse();
    assert_eq!(payments_retries(forward), (30, 20, 20));
    assert_eq!(payments_retries(backward), (30, 20, 20));
}

#[test]
fn a_call_between_two_attempts_breaks_their_link_in_any_arrival_order() {
    // Two attempts to payments (the first fails with 503), and between them a call to
    // another dependency: by the inferred-chain rule no other sibling may start between two
    // attempts, so there is no retry, whichever span arrives last.
    let mut spans = retried_call(1, 2);
    let t0 = T0 + SEC;
    spans.push(
        span(
            1,
            30,
            1,
            "checkout",
            "GET",
            SpanKind::Client,
            t0 + 50 * MS,
            10 * MS,
        )
        .attr("peer.service", "stock")
        .attr("http.request.method", "GET")
        .attr("url.full", "http://stock/items")
        .int("http.response.status_code", 200)
        .build(),
    );
    let mut backward = spans.clone();
    backward.reverse();
    assert_eq!(payments_retries(spans), (2, 1, 0), "forward");
    assert_eq!(payments_retries(backward), (2, 1, 0), "backward");
}

#[test]
fn a_loop_over_items_is_not_a_retry() {
    let t0 = T0;
    let mut spans = vec![span(1, 1, 0, "batch", "run", SpanKind::Server, t0, SEC).build()];
    // Successive POSTs of different items after failures, each to another route.
    for k in 0..4u64 {
        spans.push(
            span(
                1,
                10 + k,
                1,
                "batch",
                "POST",
                SpanKind::Client,
                t0 + k * 100 * MS,
                20 * MS,
            )
            .attr("peer.service", "ledger")
            .attr("http.request.method", "POST")
            .attr("url.template", &format!("/items/{k}"))
            .int("http.response.status_code", 503)
            .build(),
        );
    }
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    store.apply(spans, T0);
    store.flush_pending();
    let snap = store.snapshot(None);
    assert_eq!(
        snap.dep("batch", "ledger")
            .expect("view")
            .traffic
            .stats
            .retries,
        0
    );
}

/// Trace 1 of `batch`: four failed POSTs to `ledger` on one route, one after the other, each
/// with the attributes `item(k)` gives; the store's retry count.
fn loop_retries(item: impl Fn(u64, SpanBuilder) -> SpanBuilder) -> u64 {
    let t0 = T0;
    let mut spans = vec![span(1, 1, 0, "batch", "run", SpanKind::Server, t0, SEC).build()];
    for k in 0..4u64 {
        let s = span(
            1,
            10 + k,
            1,
            "batch",
            "POST",
            SpanKind::Client,
            t0 + k * 100 * MS,
            20 * MS,
        )
        .attr("peer.service", "ledger")
        .attr("http.request.method", "POST")
        .attr("http.route", "/items")
        .int("http.response.status_code", 503);
        spans.push(item(k, s).build());
    }
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    store.apply(spans, T0);
    store.flush_pending();
    let snap = store.snapshot(None);
    snap.dep("batch", "ledger")
        .expect("view")
        .traffic
        .stats
        .retries
}

#[test]
fn a_loop_over_items_on_one_route_is_not_a_retry() {
    // Ids in the URL (path or query) under one route, both conventions.
    assert_eq!(
        loop_retries(|k, s| s.attr("url.full", &format!("http://ledger/items/{k}"))),
        0
    );
    assert_eq!(
        loop_retries(|k, s| s.attr("http.url", &format!("http://ledger/items?id={k}"))),
        0
    );
    // One URL, different bodies or statements.
    assert_eq!(
        loop_retries(|k, s| s.int("http.request.body.size", 100 + k as i64)),
        0
    );
    assert_eq!(
        loop_retries(|k, s| s.attr("db.statement", &format!("INSERT INTO t VALUES ({k})"))),
        0
    );
    // The same item every time is retried: three retries after the first attempt.
    assert_eq!(
        loop_retries(|_, s| s.attr("url.full", "http://ledger/items/1")),
        3
    );
}

fn opossum(counts: &[(&str, u32)]) -> String {
    let mut s = String::from("# TYPE circuit counter\n");
    for (event, n) in counts {
        s.push_str(&format!(
            "circuit{{name=\"inventory\",event=\"{event}\"}} {n}\n"
        ));
    }
    s
}

/// shop → inventory: calls every 100 ms for 60 s; rejected by the open breaker (EOPENBREAKER)
/// from 5 s to 15 s, then `after` (true: passing, false: rejected again) from 20 s on. The
/// counters say only open + halfOpen at 15 s.
fn half_open_by_counters(passing_after: bool) -> Store {
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    let spans = (0..600u64)
        .map(|i| {
            let t = T0 + i * 100 * MS;
            let rejected = (50..150).contains(&i) || (!passing_after && i >= 200);
            let b = span(i + 1, 1, 0, "shop", "GET", SpanKind::Client, t, 2 * MS)
                .attr("peer.service", "inventory");
            if rejected { b.error("EOPENBREAKER") } else { b }.build()
        })
        .collect();
    store.apply(spans, T0);
    store.flush_pending();
    scrape(
        &mut store,
        "shop",
        T0,
        &opossum(&[("fire", 0), ("open", 0), ("halfOpen", 0)]),
    );
    scrape(
        &mut store,
        "shop",
        T0 + 15 * SEC,
        &opossum(&[("fire", 150), ("open", 1), ("halfOpen", 1)]),
    );
    store
}

#[test]
fn traces_after_the_sample_settle_a_counter_half_open() {
    let mut store = half_open_by_counters(true);
    let snap = store.snapshot_window(T0, T0 + 60 * SEC);
    let d = snap.dep("shop", "inventory").expect("view");
    assert_eq!(d.breaker.state, BreakerState::Closed, "{:?}", d.breaker);
    assert!(d.breaker.from_metric(), "the source stays the metric");
    assert_eq!(
        d.breaker.transitions.last().map(|t| (t.from, t.to)),
        Some((BreakerState::HalfOpen, BreakerState::Closed))
    );
    let mut store = half_open_by_counters(false);
    let snap = store.snapshot_window(T0, T0 + 60 * SEC);
    let d = snap.dep("shop", "inventory").expect("view");
    assert_eq!(d.breaker.state, BreakerState::Open, "{:?}", d.breaker);
    // Without traces after the sample, the counters' half-open stands.
    let snap = store.snapshot_window(T0, T0 + 16 * SEC);
    let d = snap.dep("shop", "inventory").expect("view");
    assert_eq!(d.breaker.state, BreakerState::HalfOpen, "{:?}", d.breaker);
}
