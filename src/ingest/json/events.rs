//! A span's `events` and `links`, read field by field as `otlp_json`'s mirror types read them,
//! kept and counted within the bounds of `bounds` (the same as `decode_traces`).

use std::borrow::Cow;

use serde::de::{DeserializeSeed, Deserializer};

use super::attrs::{AttrsRead, AttrsSeed};
use super::scalar::{Id, IdSeed, Lenient, Str};
use super::{Cx, Fields, Src, read, set};
use crate::ingest::bounds::{self, Counted, MAX_EVENTS};
use crate::ingest::otlp_json::{scalar_u32, scalar_u64};
use crate::model::span::{Event, Link};

/// A span's `events`: the first [`MAX_EVENTS`] kept, all counted.
pub(super) struct Events<'c> {
    pub(super) cx: &'c mut Cx,
    pub(super) acc: Counted<Event>,
}

impl<'de> DeserializeSeed<'de> for &mut Events<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let mut f = EventFields::new(&mut *self.cx);
        read(d, &mut f)?;
        let keep = self.acc.seen < MAX_EVENTS;
        self.acc.seen += 1;
        if keep {
            let cx = f.cx;
            let attrs = f.attrs.unwrap_or_else(|| AttrsRead::absent(cx));
            let attributes = attrs.finish(f.dropped, cx);
            self.acc
                .kept
                .push(bounds::event(f.time_ns, &f.name, attributes, &mut cx.it));
        }
        Ok(())
    }
}

/// An `Event`'s fields as read.
struct EventFields<'c, 'de> {
    cx: &'c mut Cx,
    time_ns: u64,
    name: Cow<'de, str>,
    attrs: Option<AttrsRead>,
    dropped: u32,
}

impl<'c> EventFields<'c, '_> {
    fn new(cx: &'c mut Cx) -> Self {
        EventFields {
            cx,
            time_ns: 0,
            name: Cow::Borrowed(""),
            attrs: None,
            dropped: 0,
        }
    }
}

impl<'de> Fields<'de> for EventFields<'_, 'de> {
    const FIELDS: &'static [&'static str] = &[
        "timeUnixNano",
        "name",
        "attributes",
        "droppedAttributesCount",
    ];

    fn index(key: &[u8]) -> Option<usize> {
        match key {
            b"timeUnixNano" | b"time_unix_nano" => Some(0),
            b"name" => Some(1),
            b"attributes" => Some(2),
            b"droppedAttributesCount" | b"dropped_attributes_count" => Some(3),
            _ => None,
        }
    }

    fn field<S: Src<'de>>(&mut self, i: usize, src: &mut S) -> Result<bool, S::Error> {
        Ok(match i {
            0 => set(
                &mut self.time_ns,
                src.value(Lenient(scalar_u64))?
                    .map(Option::unwrap_or_default),
            ),
            1 => set(&mut self.name, src.value(Str)?),
            2 => set(
                &mut self.attrs,
                src.value(AttrsSeed(&mut *self.cx))?.map(Some),
            ),
            _ => set(
                &mut self.dropped,
                src.value(Lenient(scalar_u32))?
                    .map(Option::unwrap_or_default),
            ),
        })
    }
}

/// A span's `links`: of the first [`MAX_EVENTS`], those with ids of the right length kept; all
/// counted.
pub(super) struct Links<'c> {
    pub(super) cx: &'c mut Cx,
    pub(super) acc: Counted<Link>,
}

impl<'de> DeserializeSeed<'de> for &mut Links<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let mut f = LinkFields::new(&mut *self.cx);
        read(d, &mut f)?;
        let consider = self.acc.seen < MAX_EVENTS;
        self.acc.seen += 1;
        let (trace_id, span_id) = (f.trace_id.bytes(), f.span_id.bytes());
        if consider && trace_id.len() == 16 && span_id.len() == 8 {
            let cx = f.cx;
            let attrs = f.attrs.unwrap_or_else(|| AttrsRead::absent(cx));
            let attributes = attrs.finish(f.dropped, cx);
            self.acc
                .kept
                .extend(bounds::link(trace_id, span_id, attributes));
        }
        Ok(())
    }
}

/// A `Link`'s fields as read.
struct LinkFields<'c> {
    cx: &'c mut Cx,
    trace_id: Id,
    span_id: Id,
    attrs: Option<AttrsRead>,
    dropped: u32,
}

impl<'c> LinkFields<'c> {
    fn new(cx: &'c mut Cx) -> Self {
        LinkFields {
            cx,
            trace_id: Id::default(),
            span_id: Id::default(),
            attrs: None,
            dropped: 0,
        }
    }
}

impl<'de> Fields<'de> for LinkFields<'_> {
    const FIELDS: &'static [&'static str] = &[
        "traceId",
        "spanId",
        "traceState",
        "attributes",
        "droppedAttributesCount",
        "flags",
    ];

    fn index(key: &[u8]) -> Option<usize> {
        match key {
            b"traceId" | b"trace_id" => Some(0),
            b"spanId" | b"span_id" => Some(1),
            b"traceState" | b"trace_state" => Some(2),
            b"attributes" => Some(3),
            b"droppedAttributesCount" | b"dropped_attributes_count" => Some(4),
            b"flags" => Some(5),
            _ => None,
        }
    }

    fn field<S: Src<'de>>(&mut self, i: usize, src: &mut S) -> Result<bool, S::Error> {
        Ok(match i {
            0 => set(&mut self.trace_id, src.value(IdSeed)?),
            1 => set(&mut self.span_id, src.value(IdSeed)?),
            2 => src.value(Str)?.is_some(),
            3 => set(
                &mut self.attrs,
                src.value(AttrsSeed(&mut *self.cx))?.map(Some),
            ),
            4 => set(
                &mut self.dropped,
                src.value(Lenient(scalar_u32))?
                    .map(Option::unwrap_or_default),
            ),
            _ => src.value(Lenient(scalar_u32))?.is_some(),
        })
    }
}
