//! A `Span` of a `ScopeSpans` (with its status), read field by field as `otlp_json`'s mirror
//! types read it and assembled by `bounds` as `decode_traces` assembles it; its events and links
//! are read by `events`.

use std::borrow::Cow;
use std::sync::Arc;

use serde::de::{DeserializeSeed, Deserializer};

use super::attrs::{AttrsRead, AttrsSeed};
use super::events::{Events, Links};
use super::scalar::{Enum, Id, IdSeed, Lenient, Opt, Str};
use super::{Cx, Fields, List, Src, read, set};
use crate::ingest::bounds::{self, Counted, SpanParts};
use crate::ingest::otlp_json::{SPAN_KIND, STATUS_CODE, scalar_u32, scalar_u64};
use crate::model::attrs::Attributes;
use crate::model::span::{Event, Link};

/// Each `Span` of a `ScopeSpans`: built into `cx.out.spans`, or counted as rejected.
pub(super) struct SpanSeed<'c>(pub(super) &'c mut Cx);

impl<'de> DeserializeSeed<'de> for &mut SpanSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let mut f = SpanFields::new(&mut *self.0);
        read(d, &mut f)?;
        f.finish();
        Ok(())
    }
}

/// A `Span`'s fields as read.
struct SpanFields<'c, 'de> {
    cx: &'c mut Cx,
    trace_id: Id,
    span_id: Id,
    parent: Id,
    name: Cow<'de, str>,
    kind: i32,
    start_ns: u64,
    end_ns: u64,
    attrs: Option<AttrsRead>,
    dropped_attrs: u32,
    events: Counted<Event>,
    links: Counted<Link>,
    status_code: i32,
    status_message: Cow<'de, str>,
}

impl<'c> SpanFields<'c, '_> {
    fn new(cx: &'c mut Cx) -> Self {
        SpanFields {
            cx,
            trace_id: Id::default(),
            span_id: Id::default(),
            parent: Id::default(),
            name: Cow::Borrowed(""),
            kind: 0,
            start_ns: 0,
            end_ns: 0,
            attrs: None,
            dropped_attrs: 0,
            events: Counted::default(),
            links: Counted::default(),
            status_code: 0,
            status_message: Cow::Borrowed(""),
        }
    }

    /// Builds the span into `cx.out.spans`, or counts it as rejected (bad ids).
    fn finish(self) {
        let cx = self.cx;
        let ids = bounds::span_ids(
            &self.name,
            self.trace_id.bytes(),
            self.span_id.bytes(),
            self.parent.bytes(),
        );
        let ids = match ids {
            Ok(ids) => ids,
            Err(reason) => {
                cx.out.rejected += 1;
                cx.out.error.get_or_insert(reason);
                return;
            }
        };
        let attrs = self.attrs.unwrap_or_else(|| AttrsRead::absent(cx));
        let attributes = attrs.finish(self.dropped_attrs, cx);
        let parts = SpanParts {
            ids,
            name: &self.name,
            kind: self.kind,
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            status_code: self.status_code,
            status_message: &self.status_message,
            attributes,
            events: self.events,
            links: self.links,
        };
        let resource = match &cx.resource {
            Some(r) => r.clone(),
            None => {
                let r = Arc::new(bounds::resource(Attributes::default(), &mut cx.it));
                cx.resource = Some(r.clone());
                r
            }
        };
        let scope = match &cx.scope {
            Some(s) => s.clone(),
            None => {
                let s = cx.it.get("");
                cx.scope = Some(s.clone());
                s
            }
        };
        let span = parts.build(&resource, &scope, &mut cx.it);
        cx.out.spans.push(span);
    }
}

impl<'de> Fields<'de> for SpanFields<'_, 'de> {
    const FIELDS: &'static [&'static str] = &[
        "traceId",
        "spanId",
        "traceState",
        "parentSpanId",
        "flags",
        "name",
        "kind",
        "startTimeUnixNano",
        "endTimeUnixNano",
        "attributes",
        "droppedAttributesCount",
        "events",
        "droppedEventsCount",
        "links",
        "droppedLinksCount",
        "status",
    ];

    fn index(key: &[u8]) -> Option<usize> {
        match key {
            b"traceId" | b"trace_id" => Some(0),
            b"spanId" | b"span_id" => Some(1),
            b"traceState" | b"trace_state" => Some(2),
            b"parentSpanId" | b"parent_span_id" => Some(3),
            b"flags" => Some(4),
            b"name" => Some(5),
            b"kind" => Some(6),
            b"startTimeUnixNano" | b"start_time_unix_nano" => Some(7),
            b"endTimeUnixNano" | b"end_time_unix_nano" => Some(8),
            b"attributes" => Some(9),
            b"droppedAttributesCount" | b"dropped_attributes_count" => Some(10),
            b"events" => Some(11),
            b"droppedEventsCount" | b"dropped_events_count" => Some(12),
            b"links" => Some(13),
            b"droppedLinksCount" | b"dropped_links_count" => Some(14),
            b"status" => Some(15),
            _ => None,
        }
    }

    fn field<S: Src<'de>>(&mut self, i: usize, src: &mut S) -> Result<bool, S::Error> {
        let cx = &mut *self.cx;
        let u64_ = |v: Option<Option<u64>>| v.map(Option::unwrap_or_default);
        let u32_ = |v: Option<Option<u32>>| v.map(Option::unwrap_or_default);
        Ok(match i {
            0 => set(&mut self.trace_id, src.value(IdSeed)?),
            1 => set(&mut self.span_id, src.value(IdSeed)?),
            2 => src.value(Str)?.is_some(),
            3 => set(&mut self.parent, src.value(IdSeed)?),
            4 => src.value(Lenient(scalar_u32))?.is_some(),
            5 => set(&mut self.name, src.value(Str)?),
            6 => set(&mut self.kind, src.value(Enum(&SPAN_KIND))?),
            7 => set(&mut self.start_ns, u64_(src.value(Lenient(scalar_u64))?)),
            8 => set(&mut self.end_ns, u64_(src.value(Lenient(scalar_u64))?)),
            9 => set(&mut self.attrs, src.value(AttrsSeed(cx))?.map(Some)),
            10 => set(
                &mut self.dropped_attrs,
                u32_(src.value(Lenient(scalar_u32))?),
            ),
            11 => {
                let mut events = Events {
                    cx,
                    acc: Counted::default(),
                };
                let present = src.value(List(&mut events))?.is_some();
                self.events.kept = events.acc.kept;
                self.events.seen = events.acc.seen;
                present
            }
            12 => set(
                &mut self.events.dropped,
                u32_(src.value(Lenient(scalar_u32))?),
            ),
            13 => {
                let mut links = Links {
                    cx,
                    acc: Counted::default(),
                };
                let present = src.value(List(&mut links))?.is_some();
                self.links.kept = links.acc.kept;
                self.links.seen = links.acc.seen;
                present
            }
            14 => set(
                &mut self.links.dropped,
                u32_(src.value(Lenient(scalar_u32))?),
            ),
            _ => match src.value(Opt(StatusSeed))? {
                None => false,
                Some(status) => {
                    let (code, message) = status.unwrap_or_default();
                    self.status_code = code;
                    self.status_message = message;
                    true
                }
            },
        })
    }
}

/// A `Status`: code and message.
struct StatusSeed;

impl<'de> DeserializeSeed<'de> for StatusSeed {
    type Value = (i32, Cow<'de, str>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let mut f = Status(0, Cow::Borrowed(""));
        read(d, &mut f)?;
        Ok((f.0, f.1))
    }
}

/// A `Status`'s code and message as read.
struct Status<'de>(i32, Cow<'de, str>);

impl<'de> Fields<'de> for Status<'de> {
    // Declaration order of `otlp_json`'s `JStatus` (no camelCase renaming there).
    const FIELDS: &'static [&'static str] = &["message", "code"];

    fn index(key: &[u8]) -> Option<usize> {
        match key {
            b"message" => Some(0),
            b"code" => Some(1),
            _ => None,
        }
    }

    fn field<S: Src<'de>>(&mut self, i: usize, src: &mut S) -> Result<bool, S::Error> {
        Ok(match i {
            0 => set(&mut self.1, src.value(Str)?),
            _ => set(&mut self.0, src.value(Enum(&STATUS_CODE))?),
        })
    }
}
