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

use super::reader::{RECURSION_LIMIT, Reader, Value, WireError, utf8, validate};
use super::schema::{
    ANY_VALUE, ARRAY_VALUE, EVENT, KEY_VALUE, KEY_VALUE_LIST, LINK, REQUEST, RESOURCE,
    RESOURCE_SPANS, SCOPE, SCOPE_SPANS, SPAN, STATUS,
};
use crate::ingest::bounds::{self, Counted, Interner, MAX_DEPTH, MAX_EVENTS, SpanParts};
use crate::ingest::decode::DecodedSpans;
use crate::model::attrs::{AttrValue, KeyValue, MAX_ATTRIBUTES};
use crate::model::span::{Event, Link, Resource, Span};

/// Decoder state of one request.
#[derive(Default)]
pub(super) struct Decoder {
    it: Interner,
    pub(super) out: DecodedSpans,
    /// Attributes of the span (or resource) being decoded, moved out at its end.
    attrs: Vec<KeyValue>,
    /// Attributes of the event or link being decoded.
    inner: Vec<KeyValue>,
}

/// The array or kvlist chunks of one `AnyValue` (more than one only when the member repeats).
struct Chunks<'a> {
    first: &'a [u8],
    more: Vec<&'a [u8]>,
}

impl<'a> Chunks<'a> {
    fn one(first: &'a [u8]) -> Self {
        Chunks {
            first,
            more: Vec::new(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        std::iter::once(self.first).chain(self.more.iter().copied())
    }
}

/// The `oneof` of an `AnyValue` as read so far.
enum Any<'a> {
    None,
    Str(&'a str),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(&'a [u8]),
    Array(Chunks<'a>),
    Kvlist(Chunks<'a>),
    /// `string_value_strindex` (profiles only): an empty value here.
    Strindex,
}

impl Decoder {
    /// Decodes a whole request into `self.out`.
    pub(super) fn request(&mut self, buf: &[u8]) -> Result<(), WireError> {
        let budget = RECURSION_LIMIT;
        let mut r = Reader::new(buf);
        let mut i = 0;
        while let Some((number, value)) = r.field(budget)? {
            match (number, value) {
                (1, Value::Len(body)) => {
                    let inner = r.nest(budget, number)?;
                    self.resource_spans(body, inner)
                        .map_err(|e| e.within("resource_spans", Some(i), &RESOURCE_SPANS))?;
                    i += 1;
                }
                (n, v) => r.rest(&REQUEST, n, v, budget)?,
            }
        }
        Ok(())
    }

    fn resource_spans(&mut self, body: &[u8], budget: u32) -> Result<(), WireError> {
        // Pass 1: the resource, wherever it is, and everything but the scope spans.
        let mut attrs = Counted::default();
        self.attrs.clear();
        let mut r = Reader::new(body);
        while let Some((number, value)) = r.field(budget)? {
            match (number, value) {
                (1, Value::Len(chunk)) => {
                    let inner = r.nest(budget, number)?;
                    self.resource(chunk, inner, &mut attrs)
                        .map_err(|e| e.within("resource", None, &RESOURCE))?;
                }
                // Decoded in pass 2, once the resource is known.
                (2, Value::Len(_)) => {
                    r.nest(budget, number)?;
                }
                (n, v) => r.rest(&RESOURCE_SPANS, n, v, budget)?,
            }
        }
        attrs.kept = self.attrs.drain(..).collect();
        let attributes = bounds::attributes(attrs);
        let resource = Arc::new(bounds::resource(attributes, &mut self.it));
        // Pass 2: the scope spans.
        let mut r = Reader::new(body);
        let mut j = 0;
        while let Some((number, value)) = r.field(budget)? {
            if let (2, Value::Len(body)) = (number, value) {
                let inner = r.nest(budget, number)?;
                self.scope_spans(body, inner, &resource)
                    .map_err(|e| e.within("scope_spans", Some(j), &SCOPE_SPANS))?;
                j += 1;
            }
        }
        Ok(())
    }

    /// One chunk of a `Resource`: attributes go to `self.attrs`.
    fn resource(
        &mut self,
        body: &[u8],
        budget: u32,
        attrs: &mut Counted<KeyValue>,
    ) -> Result<(), WireError> {
        let mut r = Reader::new(body);
        while let Some((number, value)) = r.field(budget)? {
            match (number, value) {
                (1, Value::Len(kv)) => {
                    let inner = r.nest(budget, number)?;
                    if let Some(kv) = self.attribute(kv, inner, attrs.seen)? {
                        self.attrs.push(kv);
                    }
                    attrs.seen += 1;
                }
                (2, Value::Varint(n)) => attrs.dropped = n as u32,
                (n, v) => r.rest(&RESOURCE, n, v, budget)?,
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
        // Pass 1: the scope name and the number of spans.
        let mut name = "";
        let mut spans = 0usize;
        let mut r = Reader::new(body);
        while let Some((number, value)) = r.field(budget)? {
            match (number, value) {
                (1, Value::Len(chunk)) => {
                    let inner = r.nest(budget, number)?;
                    scope_name(chunk, inner, &mut name)
                        .map_err(|e| e.within("scope", None, &SCOPE))?;
                }
                (2, Value::Len(_)) => {
                    r.nest(budget, number)?;
                    spans += 1;
                }
                (n, v) => r.rest(&SCOPE_SPANS, n, v, budget)?,
            }
        }
        let scope = self.it.get(name);
        self.out.spans.reserve(spans);
        // Pass 2: the spans.
        let mut r = Reader::new(body);
        let mut k = 0;
        while let Some((number, value)) = r.field(budget)? {
            if let (2, Value::Len(body)) = (number, value) {
                let inner = r.nest(budget, number)?;
                match self
                    .span(body, inner, resource, &scope)
                    .map_err(|e| e.within("spans", Some(k), &SPAN))?
                {
                    Ok(span) => self.out.spans.push(span),
                    Err(reason) => {
                        self.out.rejected += 1;
                        self.out.error.get_or_insert(reason);
                    }
                }
                k += 1;
            }
        }
        Ok(())
    }

    /// A span, or the reason it is rejected (bad ids).
    fn span(
        &mut self,
        body: &[u8],
        budget: u32,
        resource: &Arc<Resource>,
        scope: &Arc<str>,
    ) -> Result<Result<Span, String>, WireError> {
        let (mut trace_id, mut span_id, mut parent): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
        let mut name = "";
        let mut kind = 0i32;
        let (mut start_ns, mut end_ns) = (0u64, 0u64);
        let (mut status_code, mut status_message) = (0i32, "");
        let mut attrs: Counted<KeyValue> = Counted::default();
        let mut events: Counted<Event> = Counted::default();
        let mut links: Counted<Link> = Counted::default();
        self.attrs.clear();
        let mut r = Reader::new(body);
        while let Some((number, value)) = r.field(budget)? {
            match (number, value) {
                (1, Value::Len(b)) => trace_id = b,
                (2, Value::Len(b)) => span_id = b,
                (4, Value::Len(b)) => parent = b,
                (5, Value::Len(b)) => name = utf8(b, number)?,
                (6, Value::Varint(n)) => kind = n as i32,
                (7, Value::Fixed64(n)) => start_ns = n,
                (8, Value::Fixed64(n)) => end_ns = n,
                (9, Value::Len(b)) => {
                    let inner = r.nest(budget, number)?;
                    if let Some(kv) = self.attribute(b, inner, attrs.seen)? {
                        self.attrs.push(kv);
                    }
                    attrs.seen += 1;
                }
                (10, Value::Varint(n)) => attrs.dropped = n as u32,
                (11, Value::Len(b)) => {
                    let inner = r.nest(budget, number)?;
                    let i = events.seen;
                    events.seen += 1;
                    let within = |e: WireError| e.within("events", Some(i), &EVENT);
                    if i < MAX_EVENTS {
                        events.kept.push(self.event(b, inner).map_err(within)?);
                    } else {
                        validate(&EVENT, b, inner).map_err(within)?;
                    }
                }
                (12, Value::Varint(n)) => events.dropped = n as u32,
                (13, Value::Len(b)) => {
                    let inner = r.nest(budget, number)?;
                    let i = links.seen;
                    links.seen += 1;
                    let within = |e: WireError| e.within("links", Some(i), &LINK);
                    if i < MAX_EVENTS {
                        links.kept.extend(self.link(b, inner).map_err(within)?);
                    } else {
                        validate(&LINK, b, inner).map_err(within)?;
                    }
                }
                (14, Value::Varint(n)) => links.dropped = n as u32,
                (15, Value::Len(b)) => {
                    let inner = r.nest(budget, number)?;
                    status(b, inner, &mut status_code, &mut status_message)
                        .map_err(|e| e.within("status", None, &STATUS))?;
                }
                (n, v) => r.rest(&SPAN, n, v, budget)?,
            }
        }
        let ids = match bounds::span_ids(name, trace_id, span_id, parent) {
            Ok(ids) => ids,
            Err(reason) => return Ok(Err(reason)),
        };
        attrs.kept = self.attrs.drain(..).collect();
        let parts = SpanParts {
            ids,
            name,
            kind,
            start_ns,
            end_ns,
            status_code,
            status_message,
            attributes: bounds::attributes(attrs),
            events,
            links,
        };
        Ok(Ok(parts.build(resource, scope, &mut self.it)))
    }

    fn event(&mut self, body: &[u8], budget: u32) -> Result<Event, WireError> {
        let (mut time_ns, mut name) = (0u64, "");
        let mut attrs = Counted::default();
        self.inner.clear();
        let mut r = Reader::new(body);
        while let Some((number, value)) = r.field(budget)? {
            match (number, value) {
                (1, Value::Fixed64(n)) => time_ns = n,
                (2, Value::Len(b)) => name = utf8(b, number)?,
                (3, Value::Len(b)) => {
                    let inner = r.nest(budget, number)?;
                    if let Some(kv) = self.attribute(b, inner, attrs.seen)? {
                        self.inner.push(kv);
                    }
                    attrs.seen += 1;
                }
                (4, Value::Varint(n)) => attrs.dropped = n as u32,
                (n, v) => r.rest(&EVENT, n, v, budget)?,
            }
        }
        attrs.kept = self.inner.drain(..).collect();
        Ok(bounds::event(
            time_ns,
            name,
            bounds::attributes(attrs),
            &mut self.it,
        ))
    }

    /// A link, or `None` when its ids have the wrong length.
    fn link(&mut self, body: &[u8], budget: u32) -> Result<Option<Link>, WireError> {
        let (mut trace_id, mut span_id): (&[u8], &[u8]) = (&[], &[]);
        let mut attrs = Counted::default();
        self.inner.clear();
        let mut r = Reader::new(body);
        while let Some((number, value)) = r.field(budget)? {
            match (number, value) {
                (1, Value::Len(b)) => trace_id = b,
                (2, Value::Len(b)) => span_id = b,
                (4, Value::Len(b)) => {
                    let inner = r.nest(budget, number)?;
                    if let Some(kv) = self.attribute(b, inner, attrs.seen)? {
                        self.inner.push(kv);
                    }
                    attrs.seen += 1;
                }
                (5, Value::Varint(n)) => attrs.dropped = n as u32,
                (n, v) => r.rest(&LINK, n, v, budget)?,
            }
        }
        attrs.kept = self.inner.drain(..).collect();
        Ok(bounds::link(trace_id, span_id, bounds::attributes(attrs)))
    }

    /// Attribute `index` of a list: decoded while within [`MAX_ATTRIBUTES`], else only
    /// validated.
    fn attribute(
        &mut self,
        body: &[u8],
        budget: u32,
        index: usize,
    ) -> Result<Option<KeyValue>, WireError> {
        let within = |e: WireError| e.within("attributes", Some(index), &KEY_VALUE);
        if index < MAX_ATTRIBUTES {
            self.key_value(body, budget, 0).map(Some).map_err(within)
        } else {
            validate(&KEY_VALUE, body, budget)
                .map(|()| None)
                .map_err(within)
        }
    }

    /// A `KeyValue` whose value sits at nesting `depth` (0 for a top-level attribute).
    fn key_value(&mut self, body: &[u8], budget: u32, depth: usize) -> Result<KeyValue, WireError> {
        let mut key = "";
        let mut any = Any::None;
        let mut any_budget = 0;
        let mut r = Reader::new(body);
        while let Some((number, value)) = r.field(budget)? {
            match (number, value) {
                (1, Value::Len(b)) => key = utf8(b, number)?,
                (2, Value::Len(b)) => {
                    any_budget = r.nest(budget, number)?;
                    self.any_fields(b, any_budget, &mut any)
                        .map_err(|e| e.within("value", None, &ANY_VALUE))?;
                }
                (n, v) => r.rest(&KEY_VALUE, n, v, budget)?,
            }
        }
        let value = self
            .finish(any, any_budget, depth)
            .map_err(|e| e.within("value", None, &ANY_VALUE))?;
        Ok(KeyValue {
            key: self.it.get(key),
            value,
        })
    }

    /// Reads one `AnyValue` chunk into `any` (chunks of a repeated field merge).
    fn any_fields<'a>(
        &mut self,
        body: &'a [u8],
        budget: u32,
        any: &mut Any<'a>,
    ) -> Result<(), WireError> {
        let mut r = Reader::new(body);
        while let Some((number, value)) = r.field(budget)? {
            let next = match (number, value) {
                (1, Value::Len(b)) => Any::Str(utf8(b, number)?),
                (2, Value::Varint(n)) => Any::Bool(n != 0),
                (3, Value::Varint(n)) => Any::Int(n as i64),
                (4, Value::Fixed64(n)) => Any::Double(f64::from_bits(n)),
                (5, Value::Len(b)) => {
                    r.nest(budget, number)?;
                    match any {
                        Any::Array(chunks) => {
                            chunks.more.push(b);
                            continue;
                        }
                        _ => Any::Array(Chunks::one(b)),
                    }
                }
                (6, Value::Len(b)) => {
                    r.nest(budget, number)?;
                    match any {
                        Any::Kvlist(chunks) => {
                            chunks.more.push(b);
                            continue;
                        }
                        _ => Any::Kvlist(Chunks::one(b)),
                    }
                }
                (7, Value::Len(b)) => Any::Bytes(b),
                (8, Value::Varint(_)) => Any::Strindex,
                (n, v) => {
                    r.rest(&ANY_VALUE, n, v, budget)?;
                    continue;
                }
            };
            let old = std::mem::replace(any, next);
            // A replaced array or kvlist is not kept, but prost parsed it: validate it.
            discard(old, budget)?;
        }
        Ok(())
    }

    /// The model value of an `AnyValue` whose fields had nesting budget `budget`.
    fn finish(&mut self, any: Any<'_>, budget: u32, depth: usize) -> Result<AttrValue, WireError> {
        // Array and kvlist chunks were only recorded after `nest` succeeded, so budget ≥ 1.
        let inner = budget.saturating_sub(1);
        Ok(match any {
            Any::None | Any::Strindex => AttrValue::Empty,
            Any::Str(s) => bounds::str_value(s, &mut self.it),
            Any::Bool(b) => AttrValue::Bool(b),
            Any::Int(i) => AttrValue::Int(i),
            Any::Double(d) => AttrValue::Double(d),
            Any::Bytes(b) => bounds::bytes_value(b),
            Any::Array(chunks) if depth < MAX_DEPTH => {
                let mut values = Vec::new();
                for chunk in chunks.iter() {
                    self.array_chunk(chunk, inner, depth, &mut values)
                        .map_err(|e| e.within("array_value", None, &ARRAY_VALUE))?;
                }
                AttrValue::Array(values.into())
            }
            Any::Kvlist(chunks) if depth < MAX_DEPTH => {
                let mut values = Vec::new();
                for chunk in chunks.iter() {
                    self.kvlist_chunk(chunk, inner, depth, &mut values)
                        .map_err(|e| e.within("kvlist_value", None, &KEY_VALUE_LIST))?;
                }
                AttrValue::Map(values.into())
            }
            deep @ (Any::Array(_) | Any::Kvlist(_)) => {
                discard(deep, budget)?;
                AttrValue::Empty
            }
        })
    }

    /// Elements of one `ArrayValue` chunk, appended to `values` (at most [`MAX_ATTRIBUTES`]
    /// kept, the rest validated).
    fn array_chunk(
        &mut self,
        body: &[u8],
        budget: u32,
        depth: usize,
        values: &mut Vec<AttrValue>,
    ) -> Result<(), WireError> {
        let mut r = Reader::new(body);
        let mut i = 0;
        while let Some((number, value)) = r.field(budget)? {
            match (number, value) {
                (1, Value::Len(b)) => {
                    let inner = r.nest(budget, number)?;
                    let within = |e: WireError| e.within("values", Some(i), &ANY_VALUE);
                    if values.len() < MAX_ATTRIBUTES {
                        let mut any = Any::None;
                        self.any_fields(b, inner, &mut any).map_err(within)?;
                        values.push(self.finish(any, inner, depth + 1).map_err(within)?);
                    } else {
                        validate(&ANY_VALUE, b, inner).map_err(within)?;
                    }
                    i += 1;
                }
                (n, v) => r.rest(&ARRAY_VALUE, n, v, budget)?,
            }
        }
        Ok(())
    }

    /// Entries of one `KeyValueList` chunk, appended to `values` (at most [`MAX_ATTRIBUTES`]
    /// kept, the rest validated).
    fn kvlist_chunk(
        &mut self,
        body: &[u8],
        budget: u32,
        depth: usize,
        values: &mut Vec<KeyValue>,
    ) -> Result<(), WireError> {
        let mut r = Reader::new(body);
        let mut i = 0;
        while let Some((number, value)) = r.field(budget)? {
            match (number, value) {
                (1, Value::Len(b)) => {
                    let inner = r.nest(budget, number)?;
                    let within = |e: WireError| e.within("values", Some(i), &KEY_VALUE);
                    if values.len() < MAX_ATTRIBUTES {
                        values.push(self.key_value(b, inner, depth + 1).map_err(within)?);
                    } else {
                        validate(&KEY_VALUE, b, inner).map_err(within)?;
                    }
                    i += 1;
                }
                (n, v) => r.rest(&KEY_VALUE_LIST, n, v, budget)?,
            }
        }
        Ok(())
    }
}

/// Validates array or kvlist chunks that are not kept; `budget` is the `AnyValue`'s.
fn discard(any: Any<'_>, budget: u32) -> Result<(), WireError> {
    let inner = budget.saturating_sub(1);
    match any {
        Any::Array(chunks) => chunks.iter().try_for_each(|c| {
            validate(&ARRAY_VALUE, c, inner)
                .map_err(|e| e.within("array_value", None, &ARRAY_VALUE))
        }),
        Any::Kvlist(chunks) => chunks.iter().try_for_each(|c| {
            validate(&KEY_VALUE_LIST, c, inner)
                .map_err(|e| e.within("kvlist_value", None, &KEY_VALUE_LIST))
        }),
        _ => Ok(()),
    }
}

/// One chunk of an `InstrumentationScope`: its name (the last one wins), the rest validated.
fn scope_name<'a>(body: &'a [u8], budget: u32, name: &mut &'a str) -> Result<(), WireError> {
    let mut r = Reader::new(body);
    while let Some((number, value)) = r.field(budget)? {
        match (number, value) {
            (1, Value::Len(b)) => *name = utf8(b, number)?,
            (n, v) => r.rest(&SCOPE, n, v, budget)?,
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
    let mut r = Reader::new(body);
    while let Some((number, value)) = r.field(budget)? {
        match (number, value) {
            (2, Value::Len(b)) => *message = utf8(b, number)?,
            (3, Value::Varint(n)) => *code = n as i32,
            (n, v) => r.rest(&STATUS, n, v, budget)?,
        }
    }
    Ok(())
}
