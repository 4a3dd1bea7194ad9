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

use crate::model::attrs::{Attributes, Text, Value};
use crate::model::span::{Span, SpanKind};

use super::super::context::{Call, Context};

/// Every attribute the test reads. Their positions are found once per key set (the decoders'
/// interner shares key sets: a capture has a few dozen), so a lookup is an array read, and the
/// keys a span lacks (most of these, on most spans) cost nothing; scanning a span's keys for
/// each of them was most of the test's work.
const KEYS: [&str; 17] = [
    "messaging.operation.type",
    "messaging.operation",
    "http.request.method",
    "http.method",
    "http.response.header.content-type",
    "http.response.header.content_type",
    "http.request.header.content-type",
    "http.request.header.content_type",
    "rpc.grpc.streaming",
    "rpc.method",
    "url.full",
    "http.url",
    "url.template",
    "http.route",
    "url.path",
    "http.target",
    "url.query",
];
/// Slots of [`KEYS`], newest convention first where a value has two names.
const MESSAGING_OPERATION: [usize; 2] = [0, 1];
const METHOD: [usize; 2] = [2, 3];
const RESPONSE_TYPE: [usize; 2] = [4, 5];
const REQUEST_TYPE: [usize; 2] = [6, 7];
const GRPC_STREAMING: usize = 8;
const RPC_METHOD: usize = 9;
const URL: [usize; 2] = [10, 11];
const ROUTE: [usize; 4] = [12, 13, 14, 15];
const TARGET: usize = 15;
const QUERY: usize = 16;

const ABSENT: u8 = u8::MAX;

/// Where each of [`KEYS`] first sits in a list of keys (first occurrence wins, as
/// `Attributes::get`); [`ABSENT`] when it is not there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slots([u8; KEYS.len()]);

impl Slots {
    fn of(keys: &[Text]) -> Slots {
        let mut pos = [ABSENT; KEYS.len()];
        // A list holds at most `MAX_ATTRIBUTES` (128) keys: every position fits below ABSENT.
        for (i, k) in keys.iter().enumerate().take(ABSENT as usize) {
            if let Some(s) = KEYS.iter().position(|w| *w == k.as_str())
                && pos[s] == ABSENT
            {
                pos[s] = i as u8;
            }
        }
        Slots(pos)
    }
}

/// A span's attributes read by slot of [`KEYS`].
#[derive(Clone, Copy)]
struct Read<'a> {
    attrs: &'a Attributes,
    slots: Slots,
}

impl<'a> Read<'a> {
    /// The value of key `KEYS[slot]`, as `Attributes::get` gives it.
    fn get(&self, slot: usize) -> Option<Value<'a>> {
        match self.slots.0[slot] {
            ABSENT => None,
            p => self.attrs.value_at(p as usize),
        }
    }

    /// The first non-empty string among the slots, as `Attributes::first_str` gives it.
    fn first_str(&self, slots: &[usize]) -> Option<&'a str> {
        slots.iter().find_map(|&s| {
            self.get(s)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        })
    }
}

/// What the words of each route path said, so that a path repeated by many calls is split and
/// compared once, and where the test's keys sit in each key set (`Context::is_long_lived` keeps
/// one per chunk of calls).
#[derive(Debug, Default)]
pub struct RouteMemo {
    paths: HashMap<Box<str>, Option<&'static str>>,
    /// By the key set's address and length (alive as long as the snapshot the calls borrow).
    key_sets: HashMap<(usize, usize), Slots>,
    /// The last key set looked up (consecutive calls mostly share one).
    last: Option<((usize, usize), Slots)>,
}

impl RouteMemo {
    /// The list read through its key set's slots (found now when the key set is new).
    fn read<'a>(&mut self, attrs: &'a Attributes) -> Read<'a> {
        let keys = attrs.keys();
        let id = (keys.as_ptr() as usize, keys.len());
        let slots = match self.last {
            Some((last, slots)) if last == id => slots,
            _ => {
                let slots = *self.key_sets.entry(id).or_insert_with(|| Slots::of(keys));
                self.last = Some((id, slots));
                slots
            }
        };
        Read { attrs, slots }
    }
}

/// Why a call is long-lived, or `None`.
pub fn long_lived_reason(cx: &Context<'_>, c: &Call) -> Option<&'static str> {
    long_lived_reason_with(cx, c, &mut RouteMemo::default())
}

/// [`long_lived_reason`], remembering route paths and key sets in `memo`.
pub fn long_lived_reason_with(
    cx: &Context<'_>,
    c: &Call,
    memo: &mut RouteMemo,
) -> Option<&'static str> {
    span_reason(cx.span(c), c.http_status, memo)
}

/// Why the call of `span` (its HTTP status `http_status`) is long-lived, or `None`.
fn span_reason(
    span: &Span,
    http_status: Option<i64>,
    memo: &mut RouteMemo,
) -> Option<&'static str> {
    if http_status == Some(101) {
        return Some("protocol switch (101)");
    }
    if span.kind == SpanKind::Consumer {
        return Some("message consumer");
    }
    let a = memo.read(&span.attributes);
    if let Some(op) = a.first_str(&MESSAGING_OPERATION)
        && matches!(
            op.to_ascii_lowercase().as_str(),
            "receive" | "process" | "deliver" | "consume" | "poll" | "settle"
        )
    {
        return Some("message consumer");
    }
    if a.first_str(&METHOD) == Some("CONNECT") {
        return Some("tunnel (CONNECT)");
    }
    if let Some(r) = content_type(&a) {
        return Some(r);
    }
    if a.get(GRPC_STREAMING).is_some() || streaming_messages(span.events()) {
        return Some("gRPC stream");
    }
    if let Some(m) = a.first_str(&[RPC_METHOD])
        && ["Stream", "Watch", "Subscribe", "Listen", "Tail", "Follow"]
            .iter()
            .any(|p| m.starts_with(p))
    {
        return Some("streaming RPC method");
    }
    route_reason(&a, &mut memo.paths)
}

/// Whether a call is long-lived by design (see the module docs).
pub fn long_lived(cx: &Context<'_>, c: &Call) -> bool {
    long_lived_reason(cx, c).is_some()
}

/// [`long_lived`], remembering route paths and key sets in `memo`.
pub fn long_lived_with(cx: &Context<'_>, c: &Call, memo: &mut RouteMemo) -> bool {
    long_lived_reason_with(cx, c, memo).is_some()
}

fn header(a: &Read<'_>, slots: &[usize]) -> Option<String> {
    slots
        .iter()
        .find_map(|&s| a.get(s).map(|v| v.to_display().to_ascii_lowercase()))
}

fn content_type(a: &Read<'_>) -> Option<&'static str> {
    if let Some(t) = header(a, &RESPONSE_TYPE) {
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
    if let Some(t) = header(a, &REQUEST_TYPE)
        && (t.contains("multipart/") || t.contains("application/octet-stream"))
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

fn route_reason(
    a: &Read<'_>,
    paths: &mut HashMap<Box<str>, Option<&'static str>>,
) -> Option<&'static str> {
    // Borrowed throughout, compared ignoring ASCII case: this runs once for every call.
    let url: Option<&str> = a
        .first_str(&URL)
        .map(|u| u.split_once("://").map_or(u, |(_, r)| r));
    let route: &str = a
        .first_str(&ROUTE)
        .or_else(|| url.map(|r| r.find('/').map_or("/", |i| &r[i..])))?;
    let path = route.split(['?', '#']).next().unwrap_or("");
    // Looked up by the borrowed path: only a path not seen before is copied.
    let by_path = match paths.get(path) {
        Some(&r) => r,
        None => *paths.entry(path.into()).or_insert(path_reason(path)),
    };
    if by_path.is_some() {
        return by_path;
    }
    let query: &str = a
        .first_str(&[QUERY])
        .or_else(|| {
            url.or(a.first_str(&[TARGET]))
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

#[cfg(test)]
#[path = "long_lived_tests.rs"]
mod tests;
