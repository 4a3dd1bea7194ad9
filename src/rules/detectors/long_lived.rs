//! Calls that are long by design, which the timeout rules (TMO-001, TMO-002) leave out: their
//! duration is the protocol's, not a missing timeout's. Recognised by what the span says, so no
//! configuration is needed (`exclude_operations` remains for the rest):
//!
//! - protocol switches (HTTP 101) and tunnels (`CONNECT`);
//! - streams: server-sent events, NDJSON and other streaming content types, gRPC calls with
//!   more than one message in a direction (`message`/`rpc.message` events), streaming RPC
//!   method names (`Stream*`, `Watch*`, `Subscribe*`, `Listen*`, `Tail*`, `Follow*`);
//! - long-polls: route words `poll`, `longpoll`, `watch`, `subscribe`, `stream`, `sse`,
//!   `websocket`, `changes`, and query parameters `wait=`, `watch=true`, `feed=longpoll`,
//!   `follow=true`, `stream=true`;
//! - uploads and exports: route words `upload`, `export`, `download`, `import`, `backup`,
//!   `dump`; multipart or octet-stream request bodies; file-like response types (octet-stream,
//!   zip, gzip, tar, CSV);
//! - message consumers: CONSUMER spans and any call with a `messaging.*` receive/process/poll
//!   operation (a Kafka poll, an SQS `ReceiveMessage` long-poll).

use foldhash::HashMap;

use crate::model::attrs::Lookup;
use crate::model::span::SpanKind;

use super::super::context::{Call, Context};

/// What the words of each route path said, so that a path repeated by many calls is split and
/// compared once (`Context::is_long_lived` keeps one per chunk of calls).
#[derive(Debug, Default)]
pub struct RouteMemo {
    paths: HashMap<Box<str>, Option<&'static str>>,
}

/// Why a call is long-lived, or `None`.
pub fn long_lived_reason(cx: &Context<'_>, c: &Call) -> Option<&'static str> {
    long_lived_reason_with(cx, c, &mut RouteMemo::default())
}

/// [`long_lived_reason`], remembering route paths in `memo`.
pub fn long_lived_reason_with(
    cx: &Context<'_>,
    c: &Call,
    memo: &mut RouteMemo,
) -> Option<&'static str> {
    if c.http_status == Some(101) {
        return Some("protocol switch (101)");
    }
    let span = cx.span(c);
    let a = &span.attributes;
    if span.kind == SpanKind::Consumer {
        return Some("message consumer");
    }
    if let Some(op) = a.first_str(&["messaging.operation.type", "messaging.operation"])
        && matches!(
            op.to_ascii_lowercase().as_str(),
            "receive" | "process" | "deliver" | "consume" | "poll" | "settle"
        )
    {
        return Some("message consumer");
    }
    if a.first_str(&["http.request.method", "http.method"]) == Some("CONNECT") {
        return Some("tunnel (CONNECT)");
    }
    if let Some(r) = content_type(a) {
        return Some(r);
    }
    if a.get("rpc.grpc.streaming").is_some() || streaming_messages(span.events()) {
        return Some("gRPC stream");
    }
    if let Some(m) = a.str("rpc.method")
        && ["Stream", "Watch", "Subscribe", "Listen", "Tail", "Follow"]
            .iter()
            .any(|p| m.starts_with(p))
    {
        return Some("streaming RPC method");
    }
    route_reason(a, memo)
}

/// Whether a call is long-lived by design (see the module docs).
pub fn long_lived(cx: &Context<'_>, c: &Call) -> bool {
    long_lived_reason(cx, c).is_some()
}

/// [`long_lived`], remembering route paths in `memo`.
pub fn long_lived_with(cx: &Context<'_>, c: &Call, memo: &mut RouteMemo) -> bool {
    long_lived_reason_with(cx, c, memo).is_some()
}

fn header(a: &impl Lookup, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| a.get(k).map(|v| v.to_display().to_ascii_lowercase()))
}

fn content_type(a: &impl Lookup) -> Option<&'static str> {
    if let Some(t) = header(
        a,
        &[
            "http.response.header.content-type",
            "http.response.header.content_type",
        ],
    ) {
        const STREAMS: &[&str] = &[
            "text/event-stream",
            "application/x-ndjson",
            "application/jsonl",
            "application/stream+json",
            "multipart/x-mixed-replace",
        ];
        if STREAMS.iter().any(|s| t.contains(s)) {
            return Some("streaming response");
        }
        const FILES: &[&str] = &[
            "application/octet-stream",
            "application/zip",
            "application/gzip",
            "application/x-tar",
            "text/csv",
        ];
        if FILES.iter().any(|s| t.contains(s)) {
            return Some("export or download");
        }
    }
    if let Some(t) = header(
        a,
        &[
            "http.request.header.content-type",
            "http.request.header.content_type",
        ],
    ) && (t.contains("multipart/") || t.contains("application/octet-stream"))
    {
        return Some("upload");
    }
    None
}

/// More than one message in a direction on one RPC: a stream (otelgrpc `message` events with
/// `message.type`, or `rpc.message` events with `rpc.message.type`).
fn streaming_messages(events: &[crate::model::span::Event]) -> bool {
    let (mut sent, mut received) = (0, 0);
    for e in events {
        if &*e.name != "message" && &*e.name != "rpc.message" {
            continue;
        }
        match e
            .attributes
            .first_str(&["message.type", "rpc.message.type"])
        {
            Some("SENT") => sent += 1,
            Some("RECEIVED") => received += 1,
            _ => {}
        }
    }
    sent > 1 || received > 1
}

const LONG_POLL_WORDS: &[&str] = &[
    "poll",
    "longpoll",
    "long-poll",
    "watch",
    "subscribe",
    "subscriptions",
    "stream",
    "streams",
    "sse",
    "websocket",
    "ws",
    "_changes",
];

const TRANSFER_WORDS: &[&str] = &[
    "upload",
    "uploads",
    "export",
    "exports",
    "download",
    "downloads",
    "import",
    "imports",
    "backup",
    "dump",
];

/// Whether `w` is one of `words` (all lowercase), ignoring ASCII case.
fn is_word(words: &[&str], w: &str) -> bool {
    words.iter().any(|k| k.eq_ignore_ascii_case(w))
}

fn route_reason(a: &impl Lookup, memo: &mut RouteMemo) -> Option<&'static str> {
    // Borrowed throughout, compared ignoring ASCII case: this runs once for every call.
    let url: Option<&str> = a
        .first_str(&["url.full", "http.url"])
        .map(|u| u.split_once("://").map_or(u, |(_, r)| r));
    let route: &str = a
        .first_str(&["url.template", "http.route", "url.path", "http.target"])
        .or_else(|| url.map(|r| r.find('/').map_or("/", |i| &r[i..])))?;
    let path = route.split(['?', '#']).next().unwrap_or("");
    // Looked up by the borrowed path: only a path not seen before is copied.
    let by_path = match memo.paths.get(path) {
        Some(&r) => r,
        None => *memo.paths.entry(path.into()).or_insert(path_reason(path)),
    };
    if by_path.is_some() {
        return by_path;
    }
    let query: &str = a
        .first_str(&["url.query"])
        .or_else(|| {
            url.or(a.first_str(&["http.target"]))
                .and_then(|u| u.split_once('?').map(|(_, q)| q))
        })
        .unwrap_or_default();
    let long_poll_query = query.split('&').any(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let is = |want: &[&str]| is_word(want, v);
        if is_word(&["wait", "waittimeseconds"], k) {
            !v.is_empty()
        } else if is_word(&["watch", "follow", "stream"], k) {
            is(&["true", "1"])
        } else if k.eq_ignore_ascii_case("feed") {
            is(&["longpoll", "continuous", "eventsource"])
        } else {
            false
        }
    });
    long_poll_query.then_some("long-poll query")
}

/// What the words of a route path say: a long-poll or stream, an upload or export, or nothing.
fn path_reason(path: &str) -> Option<&'static str> {
    let words = || {
        path.split(['/', '.', ':'])
            .flat_map(|s| {
                // `/events/long-poll` keeps its word; `/events-stream` splits into two.
                std::iter::once(s).chain(s.split(['-', '_']))
            })
            .filter(|w| !w.is_empty())
    };
    if words().any(|w| is_word(LONG_POLL_WORDS, w)) {
        return Some("long-poll or stream route");
    }
    if words().any(|w| is_word(TRANSFER_WORDS, w)) {
        return Some("upload or export route");
    }
    None
}
