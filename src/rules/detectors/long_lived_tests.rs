//! Tests of the long-lived test: its key slots against the list, and every reason.

use super::*;
use crate::testkit;

fn client(n: u64, kv: &[(&str, &str)]) -> Span {
    let mut b = testkit::span(1, n, 1, "web", "call", SpanKind::Client, 0, 1);
    for (k, v) in kv {
        b = b.attr(k, v);
    }
    b.build()
}

#[test]
fn slots_read_as_the_list_does() {
    // Repeated keys (first wins), empty strings, other keys between, integers, absent keys.
    let spans = [
        testkit::span(1, 2, 1, "web", "call", SpanKind::Client, 0, 1)
            .attr("custom", "x")
            .attr("url.full", "http://a/one?wait=5")
            .attr("http.route", "")
            .attr("url.full", "http://a/two")
            .int("url.query", 7)
            .flag("rpc.grpc.streaming", false)
            .attr("http.target", "/t?feed=longpoll")
            .build(),
        client(3, &[("rpc.method", "StreamItems"), ("url.path", "/p")]),
        client(4, &[]),
    ];
    let mut memo = RouteMemo::default();
    // Alternating key sets: the one-entry cache must follow the list it is asked about.
    for s in spans.iter().chain(&spans).chain(spans.iter().rev()) {
        let a = memo.read(&s.attributes);
        for (slot, key) in KEYS.iter().enumerate() {
            assert_eq!(a.get(slot), s.attributes.get(key), "{key} of {s:?}");
        }
        assert_eq!(a.first_str(&ROUTE), s.attributes.first_str(&KEYS[12..16]));
    }
}

#[test]
fn every_reason_is_found_through_one_memo() {
    let ct = "http.response.header.content-type";
    let cases: Vec<(Span, Option<i64>, Option<&str>)> = vec![
        (
            client(1, &[("url.full", "http://a/ws")]),
            Some(101),
            Some("protocol switch (101)"),
        ),
        (
            testkit::span(1, 2, 1, "w", "c", SpanKind::Consumer, 0, 1).build(),
            None,
            Some("message consumer"),
        ),
        (
            client(3, &[("messaging.operation", "Receive")]),
            None,
            Some("message consumer"),
        ),
        (
            client(4, &[("http.method", "CONNECT")]),
            None,
            Some("tunnel (CONNECT)"),
        ),
        (
            client(5, &[(ct, "text/event-stream")]),
            None,
            Some("streaming response"),
        ),
        (
            client(6, &[("http.response.header.content_type", "TEXT/CSV")]),
            None,
            Some("export or download"),
        ),
        (
            client(
                7,
                &[("http.request.header.content-type", "multipart/form-data")],
            ),
            None,
            Some("upload"),
        ),
        (
            testkit::span(1, 8, 1, "w", "c", SpanKind::Client, 0, 1)
                .flag("rpc.grpc.streaming", true)
                .build(),
            None,
            Some("gRPC stream"),
        ),
        (
            client(9, &[("rpc.method", "WatchOrders")]),
            None,
            Some("streaming RPC method"),
        ),
        (
            client(10, &[("http.route", "/v1/events/long-poll")]),
            None,
            Some("long-poll or stream route"),
        ),
        (
            client(11, &[("url.full", "https://h/api/exports/1")]),
            None,
            Some("upload or export route"),
        ),
        (
            client(12, &[("url.path", "/orders"), ("url.query", "wait=30")]),
            None,
            Some("long-poll query"),
        ),
        (
            client(13, &[("http.target", "/orders?watch=true")]),
            None,
            Some("long-poll query"),
        ),
        (
            client(
                14,
                &[
                    ("url.full", "http://h/orders/7?x=1"),
                    (ct, "application/json"),
                ],
            ),
            None,
            None,
        ),
        (client(15, &[]), None, None),
    ];
    let mut memo = RouteMemo::default();
    for round in 0..2 {
        for (span, status, want) in &cases {
            assert_eq!(
                span_reason(span, *status, &mut memo),
                *want,
                "{round}: {span:?}"
            );
        }
    }
}
