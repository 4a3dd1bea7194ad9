//! The context and its shared tables (`requests`, `is_long_lived`, `chains`) are the same
//! whether they are built on one thread or split over several (`rules::par`): enough traces
//! that every thread count here gets several chunks, with answered calls, requests through
//! INTERNAL spans, retried failures, database calls and a stream.

use crate::model::attrs::{KNOWN, Lookup};
use crate::model::span::{Span, SpanKind};
use crate::rules::context::Context;
use crate::store::{Store, StoreConfig};

use super::builder::sp;

/// Trace `t`: a frontend request that calls `api` (answered, sometimes failing with 503 and
/// retried), through an INTERNAL span, and `api` querying its database.
fn trace(t: u64) -> Vec<Span> {
    let ms = t as f64 * 3.0;
    let mut out = vec![
        sp(t, 1)
            .server()
            .svc("front")
            .name("GET /page")
            .at(ms, 50.0)
            .build(),
        sp(t, 2)
            .parent(1)
            .svc("front")
            .name("render")
            .at(ms + 1.0, 45.0)
            .build(),
    ];
    let fails = t.is_multiple_of(7);
    let first = sp(t, 3)
        .parent(2)
        .svc("front")
        .http("GET", "api", "/items")
        .at(ms + 2.0, 5.0);
    out.push(
        if fails {
            first.status(503)
        } else {
            first.status(200)
        }
        .build(),
    );
    out.push(
        sp(t, 4)
            .parent(3)
            .server()
            .svc("api")
            .inst(if t.is_multiple_of(2) {
                "api-a"
            } else {
                "api-b"
            })
            .name("GET /items")
            .at(ms + 2.5, 4.0)
            .build(),
    );
    out.push(
        sp(t, 5)
            .parent(4)
            .client()
            .svc("api")
            .name("SELECT items")
            .s("db.system.name", "postgresql")
            .s("db.operation.name", "SELECT")
            .s("server.address", "api-db")
            .at(ms + 3.0, 1.0)
            .build(),
    );
    if fails {
        out.push(
            sp(t, 6)
                .parent(2)
                .svc("front")
                .http("GET", "api", "/items")
                .at(ms + 20.0, 5.0)
                .status(200)
                .build(),
        );
    }
    if t.is_multiple_of(11) {
        out.push(
            sp(t, 7)
                .parent(1)
                .svc("front")
                .http("GET", "events", "/stream")
                .s("http.response.header.content-type", "text/event-stream")
                .at(ms + 1.0, 40.0)
                .status(200)
                .build(),
        );
    }
    out
}

#[test]
fn the_context_is_the_same_on_any_thread_count() {
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    store.apply((1..=1_500).flat_map(trace).collect(), 1);
    store.flush_pending();
    let snap = store.snapshot(None);
    let one = Context::build(&snap);
    assert!(one.calls.len() > 3_000, "{} calls", one.calls.len());
    assert!(one.inbound.iter().any(|s| s.caller_call.is_some()));
    assert!(one.calls.iter().any(|c| c.answered_by.is_some()));
    assert!(!one.chains().is_empty(), "the 503s are retried");
    assert!(one.requests().of_call.iter().any(Option::is_some));
    let long: Vec<bool> = (0..one.calls.len()).map(|i| one.is_long_lived(i)).collect();
    assert!(long.iter().any(|&l| l), "the event stream is long-lived");
    assert!(one.calls.iter().any(|c| c.kind != one.calls[0].kind));
    let answers = |cx: &Context<'_>| {
        for c in &cx.calls {
            let (ix, a) = (cx.attrs(c), &cx.span(c).attributes);
            for k in KNOWN
                .iter()
                .chain(&["http.response.header.content-type", "nope"])
            {
                assert_eq!(Lookup::get(&ix, k), a.get(k), "{k} of call {c:?}");
            }
        }
    };
    answers(&one);
    assert!(
        one.inbound
            .iter()
            .any(|s| one.inbound_span(s).kind == SpanKind::Server)
    );
    for threads in [2, 3, 8] {
        let many = Context::build_with_threads(&snap, threads);
        let what = |cx: &Context<'_>| {
            (
                format!("{:?}", cx.calls),
                format!("{:?}", cx.inbound),
                format!("{:?}", cx.by_edge),
                format!("{:?}", cx.by_service),
            )
        };
        assert_eq!(what(&many), what(&one), "{threads} threads");
        answers(&many);
        assert_eq!(many.requests().of_call, one.requests().of_call);
        assert_eq!(many.requests().calls, one.requests().calls);
        let chains = |cx: &Context<'_>| format!("{:?}", cx.chains());
        assert_eq!(chains(&many), chains(&one), "{threads} threads: chains");
        let many_long: Vec<bool> = (0..many.calls.len())
            .map(|i| many.is_long_lived(i))
            .collect();
        assert_eq!(many_long, long, "{threads} threads: long-lived");
    }
}
