//! `ExportTraceServiceRequest` bytes → model spans, one pass per message.
//!
//! Field order is free on the wire, so what a message's children need from it is found first:
//! `ResourceSpans` and `ScopeSpans` are read twice (resource or scope, then the spans), every
//! other message once, collecting its fields and building the model value at its end.
//! Singular embedded messages that occur more than once are merged, as protobuf (and `prost`)
//! merge them: their chunks are read in order into the same state (`Resource` attributes
//! append, `Status` fields and `AnyValue`'s `oneof` take the last value, array and kvlist chunks
//! of the same `oneof` member concatenate).

use std::sync::Arc;

use super::error::WireError;
use super::reader::{I64, LEN, RECURSION_LIMIT, Reader, VARINT, key, validate};
use super::schema::{
    EVENT, LINK, REQUEST, RESOURCE, RESOURCE_SPANS, SCOPE, SCOPE_SPANS, SPAN, STATUS,
};
use super::value::KEY_SLOTS;
use crate::ingest::bounds::{self, Counted, Interner, MAX_EVENTS, SpanParts};
use crate::ingest::decode::DecodedSpans;
use crate::model::attrs::{Attributes, AttrsBuilder, KeySet, Text};
use crate::model::span::{Event, Link, Resource, Span};

/// Decoder state of one request.
pub(super) struct Decoder<'i> {
    /// This thread's interner (shared across requests).
    pub(super) it: &'i mut Interner,
    pub(super) out: DecodedSpans,
    /// Attributes of the span (or resource) being decoded, moved out at its end.
    pub(super) attrs: AttrList,
    /// Attributes of the event or link being decoded.
    pub(super) inner: AttrList,
    /// Keys of this request's attributes, by `value::key_slot`: interned keys found again
    /// without hashing.
    pub(super) keys: Box<[Option<Text>; KEY_SLOTS]>,
}

impl<'i> Decoder<'i> {
    /// A decoder using the interner `it`.
    pub(super) fn new(it: &'i mut Interner) -> Self {
        Decoder {
            it,
            out: DecodedSpans::default(),
            attrs: AttrList::default(),
            inner: AttrList::default(),
            keys: Box::new([const { None }; KEY_SLOTS]),
        }
    }

    /// Decodes a whole request into `self.out`.
    pub(super) fn request(&mut self, buf: &[u8]) -> Result<(), WireError> {
        let budget = RECURSION_LIMIT;
        const RESOURCE_SPANS_: u32 = key(1, LEN);
        let mut r = Reader::new(buf);
        let mut i = 0;
        while let Some(k) = r.key()? {
            match k {
                RESOURCE_SPANS_ => {
                    let body = r.bytes(k)?;
                    let inner = r.nest(budget, k)?;
                    self.resource_spans(body, inner)
                        .map_err(|e| e.within("resource_spans", Some(i), &RESOURCE_SPANS))?;
                    i += 1;
                }
                _ => r.other(k, &REQUEST, budget)?,
            }
        }
        Ok(())
    }

    fn resource_spans(&mut self, body: &[u8], budget: u32) -> Result<(), WireError> {
        const RESOURCE_: u32 = key(1, LEN);
        const SCOPE_SPANS_: u32 = key(2, LEN);
        // Pass 1: the resource, wherever it is, and everything but the scope spans.
        self.attrs.clear();
        let mut r = Reader::new(body);
        while let Some(k) = r.key()? {
            match k {
                RESOURCE_ => {
                    let chunk = r.bytes(k)?;
                    let inner = r.nest(budget, k)?;
                    self.resource(chunk, inner)
                        .map_err(|e| e.within("resource", None, &RESOURCE))?;
                }
                // Decoded in pass 2, once the resource is known.
                SCOPE_SPANS_ => {
                    r.bytes(k)?;
                    r.nest(budget, k)?;
                }
                _ => r.other(k, &RESOURCE_SPANS, budget)?,
            }
        }
        let attributes = self.attrs.finish(self.it);
        let resource = Arc::new(bounds::resource(attributes, self.it));
        // Pass 2: the scope spans.
        let mut r = Reader::new(body);
        let mut j = 0;
        while let Some(k) = r.key()? {
            if k == SCOPE_SPANS_ {
                let body = r.bytes(k)?;
                let inner = r.nest(budget, k)?;
                self.scope_spans(body, inner, &resource)
                    .map_err(|e| e.within("scope_spans", Some(j), &SCOPE_SPANS))?;
                j += 1;
            } else {
                r.other(k, &RESOURCE_SPANS, budget)?;
            }
        }
        Ok(())
    }

    /// One chunk of a `Resource`: attributes go to `self.attrs`.
    fn resource(&mut self, body: &[u8], budget: u32) -> Result<(), WireError> {
        const ATTRIBUTES: u32 = key(1, LEN);
        const DROPPED: u32 = key(2, VARINT);
        let mut r = Reader::new(body);
        while let Some(k) = r.key()? {
            match k {
                ATTRIBUTES => {
                    let kv = r.bytes(k)?;
                    let inner = r.nest(budget, k)?;
                    let i = self.attrs.next();
                    self.attribute(kv, inner, i, false)?;
                }
                DROPPED => self.attrs.dropped = r.varint_value(k)? as u32,
                _ => r.other(k, &RESOURCE, budget)?,
            }
        }
        Ok(())
    }

    fn scope_spans(
        &mut self,
        body: &[u8],
        budget: u32,
        resource: &Arc<Resource>,
    ) -> Result<(), WireError> {
        const SCOPE_: u32 = key(1, LEN);
        const SPANS: u32 = key(2, LEN);
        // Pass 1: the scope name and the number of spans.
        let mut name = "";
        let mut spans = 0usize;
        let mut r = Reader::new(body);
        while let Some(k) = r.key()? {
            match k {
                SCOPE_ => {
                    let chunk = r.bytes(k)?;
                    let inner = r.nest(budget, k)?;
                    scope_name(chunk, inner, &mut name)
                        .map_err(|e| e.within("scope", None, &SCOPE))?;
                }
                SPANS => {
                    r.bytes(k)?;
                    r.nest(budget, k)?;
                    spans += 1;
                }
                _ => r.other(k, &SCOPE_SPANS, budget)?,
            }
        }
        let scope = self.it.get(name);
        self.out.spans.reserve(spans);
        // Pass 2: the spans.
        let mut r = Reader::new(body);
        let mut i = 0;
        while let Some(k) = r.key()? {
            if k != SPANS {
                r.other(k, &SCOPE_SPANS, budget)?;
                continue;
            }
            let body = r.bytes(k)?;
            let inner = r.nest(budget, k)?;
            match self
                .span(body, inner, resource, &scope)
                .map_err(|e| e.within("spans", Some(i), &SPAN))?
            {
                Ok(span) => self.out.spans.push(span),
                Err(reason) => {
                    self.out.rejected += 1;
                    self.out.error.get_or_insert(reason);
                }
            }
            i += 1;
        }
        Ok(())
    }

    /// A span, or the reason it is rejected (bad ids).
    fn span(
        &mut self,
        body: &[u8],
        budget: u32,
        resource: &Arc<Resource>,
        scope: &Text,
    ) -> Result<Result<Span, String>, WireError> {
        let (mut trace_id, mut span_id, mut parent): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
        let mut name = "";
        let mut kind = 0i32;
        let (mut start_ns, mut end_ns) = (0u64, 0u64);
        let (mut status_code, mut status_message) = (0i32, "");
        let mut events: Counted<Event> = Counted::default();
        let mut links: Counted<Link> = Counted::default();
        const TRACE_ID: u32 = key(1, LEN);
        const SPAN_ID: u32 = key(2, LEN);
        const PARENT: u32 = key(4, LEN);
        const NAME: u32 = key(5, LEN);
        const KIND: u32 = key(6, VARINT);
        const START: u32 = key(7, I64);
        const END: u32 = key(8, I64);
        const ATTRIBUTES: u32 = key(9, LEN);
        const DROPPED_ATTRIBUTES: u32 = key(10, VARINT);
        const EVENTS: u32 = key(11, LEN);
        const DROPPED_EVENTS: u32 = key(12, VARINT);
        const LINKS: u32 = key(13, LEN);
        const DROPPED_LINKS: u32 = key(14, VARINT);
        const STATUS_: u32 = key(15, LEN);
        self.attrs.clear();
        let mut r = Reader::new(body);
        while let Some(k) = r.key()? {
            match k {
                TRACE_ID => trace_id = r.bytes(k)?,
                SPAN_ID => span_id = r.bytes(k)?,
                PARENT => parent = r.bytes(k)?,
                NAME => name = r.str(k)?,
                KIND => kind = r.varint_value(k)? as i32,
                START => start_ns = r.fixed64(k)?,
                END => end_ns = r.fixed64(k)?,
                ATTRIBUTES => {
                    let b = r.bytes(k)?;
                    let inner = r.nest(budget, k)?;
                    let i = self.attrs.next();
                    self.attribute(b, inner, i, false)?;
                }
                DROPPED_ATTRIBUTES => self.attrs.dropped = r.varint_value(k)? as u32,
                EVENTS => {
                    let b = r.bytes(k)?;
                    let inner = r.nest(budget, k)?;
                    let i = events.seen;
                    events.seen += 1;
                    let within = |e: WireError| e.within("events", Some(i), &EVENT);
                    if i < MAX_EVENTS {
                        events.kept.push(self.event(b, inner).map_err(within)?);
                    } else {
                        validate(&EVENT, b, inner).map_err(within)?;
                    }
                }
                DROPPED_EVENTS => events.dropped = r.varint_value(k)? as u32,
                LINKS => {
                    let b = r.bytes(k)?;
                    let inner = r.nest(budget, k)?;
                    let i = links.seen;
                    links.seen += 1;
                    let within = |e: WireError| e.within("links", Some(i), &LINK);
                    if i < MAX_EVENTS {
                        links.kept.extend(self.link(b, inner).map_err(within)?);
                    } else {
                        validate(&LINK, b, inner).map_err(within)?;
                    }
                }
                DROPPED_LINKS => links.dropped = r.varint_value(k)? as u32,
                STATUS_ => {
                    let b = r.bytes(k)?;
                    let inner = r.nest(budget, k)?;
                    status(b, inner, &mut status_code, &mut status_message)
                        .map_err(|e| e.within("status", None, &STATUS))?;
                }
                _ => r.other(k, &SPAN, budget)?,
            }
        }
        let ids = match bounds::span_ids(name, trace_id, span_id, parent) {
            Ok(ids) => ids,
            Err(reason) => return Ok(Err(reason)),
        };
        let attributes = self.attrs.finish(self.it);
        let parts = SpanParts {
            ids,
            name,
            kind,
            start_ns,
            end_ns,
            status_code,
            status_message,
            attributes,
            events,
            links,
        };
        Ok(Ok(parts.build(resource, scope, self.it)))
    }

    fn event(&mut self, body: &[u8], budget: u32) -> Result<Event, WireError> {
        let (mut time_ns, mut name) = (0u64, "");
        const TIME: u32 = key(1, I64);
        const NAME: u32 = key(2, LEN);
        const ATTRIBUTES: u32 = key(3, LEN);
        const DROPPED: u32 = key(4, VARINT);
        self.inner.clear();
        let mut r = Reader::new(body);
        while let Some(k) = r.key()? {
            match k {
                TIME => time_ns = r.fixed64(k)?,
                NAME => name = r.str(k)?,
                ATTRIBUTES => self.inner_attribute(&mut r, k, budget)?,
                DROPPED => self.inner.dropped = r.varint_value(k)? as u32,
                _ => r.other(k, &EVENT, budget)?,
            }
        }
        let attributes = self.inner.finish(self.it);
        Ok(bounds::event(time_ns, name, attributes, self.it))
    }

    /// Reads one `KeyValue` of an event or link into the scratch list `self.inner`.
    fn inner_attribute(
        &mut self,
        r: &mut Reader<'_>,
        k: u32,
        budget: u32,
    ) -> Result<(), WireError> {
        let b = r.bytes(k)?;
        let inner = r.nest(budget, k)?;
        let i = self.inner.next();
        self.attribute(b, inner, i, true)
    }

    /// A link, or `None` when its ids have the wrong length.
    fn link(&mut self, body: &[u8], budget: u32) -> Result<Option<Link>, WireError> {
        let (mut trace_id, mut span_id): (&[u8], &[u8]) = (&[], &[]);
        const TRACE_ID: u32 = key(1, LEN);
        const SPAN_ID: u32 = key(2, LEN);
        const ATTRIBUTES: u32 = key(4, LEN);
        const DROPPED: u32 = key(5, VARINT);
        self.inner.clear();
        let mut r = Reader::new(body);
        while let Some(k) = r.key()? {
            match k {
                TRACE_ID => trace_id = r.bytes(k)?,
                SPAN_ID => span_id = r.bytes(k)?,
                ATTRIBUTES => self.inner_attribute(&mut r, k, budget)?,
                DROPPED => self.inner.dropped = r.varint_value(k)? as u32,
                _ => r.other(k, &LINK, budget)?,
            }
        }
        let attributes = self.inner.finish(self.it);
        Ok(bounds::link(trace_id, span_id, attributes))
    }
}

/// The attributes of one span, resource, event or link as they are read (scratch space reused
/// from list to list).
#[derive(Default)]
pub(super) struct AttrList {
    pub(super) keys: Vec<Text>,
    pub(super) b: AttrsBuilder,
    /// The key set of the previous list finished: reused whole when the next list has the
    /// same keys (senders repeat a span type's key order), without the interner's lookup.
    pub(super) prev: KeySet,
    /// Attributes read, kept or not.
    seen: usize,
    /// The sender's `dropped_attributes_count`.
    dropped: u32,
}

impl AttrList {
    fn clear(&mut self) {
        self.keys.clear();
        self.b.clear();
        self.seen = 0;
        self.dropped = 0;
    }

    /// The index of the next attribute read.
    fn next(&mut self) -> usize {
        self.seen += 1;
        self.seen - 1
    }

    /// The model list (key set shared through the interner), leaving the scratch empty.
    fn finish(&mut self, it: &mut Interner) -> Attributes {
        // The same `Text`s (by address) in the same order: the same key set.
        let same = self.keys.len() == self.prev.len()
            && self
                .keys
                .iter()
                .zip(self.prev.iter())
                .all(|(a, b)| a.as_ptr() == b.as_ptr());
        let keys = if same {
            self.prev.clone()
        } else {
            let keys = it.key_set(&self.keys);
            self.prev = keys.clone();
            keys
        };
        let attributes = bounds::attributes(keys, &mut self.b, self.seen, self.dropped);
        self.clear();
        attributes
    }
}

/// One chunk of an `InstrumentationScope`: its name (the last one wins), the rest validated.
fn scope_name<'a>(body: &'a [u8], budget: u32, name: &mut &'a str) -> Result<(), WireError> {
    const NAME: u32 = key(1, LEN);
    let mut r = Reader::new(body);
    while let Some(k) = r.key()? {
        match k {
            NAME => *name = r.str(k)?,
            _ => r.other(k, &SCOPE, budget)?,
        }
    }
    Ok(())
}

/// One chunk of a `Status`: code and message (the last of each wins).
fn status<'a>(
    body: &'a [u8],
    budget: u32,
    code: &mut i32,
    message: &mut &'a str,
) -> Result<(), WireError> {
    const MESSAGE: u32 = key(2, LEN);
    const CODE: u32 = key(3, VARINT);
    let mut r = Reader::new(body);
    while let Some(k) = r.key()? {
        match k {
            MESSAGE => *message = r.str(k)?,
            CODE => *code = r.varint_value(k)? as i32,
            _ => r.other(k, &STATUS, budget)?,
        }
    }
    Ok(())
}
