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

use super::reader::{
    I64, LEN, RECURSION_LIMIT, Reader, VARINT, WireError, key, utf8_error, validate,
};
use super::schema::{
    ANY_VALUE, ARRAY_VALUE, EVENT, KEY_VALUE, KEY_VALUE_LIST, LINK, REQUEST, RESOURCE,
    RESOURCE_SPANS, SCOPE, SCOPE_SPANS, SPAN, STATUS,
};
use crate::ingest::bounds::{self, Counted, Interner, MAX_DEPTH, MAX_EVENTS, SpanParts};
use crate::ingest::decode::DecodedSpans;
use crate::model::attrs::{AttrValue, KeyValue, MAX_ATTRIBUTES};
use crate::model::span::{Event, Link, Resource, Span};

/// Decoder state of one request.
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
    /// Not yet checked to be UTF-8: interning checks it (or finds it already checked).
    Str(&'a [u8]),
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
    /// A decoder for a request of `len` bytes.
    pub(super) fn new(len: usize) -> Self {
        Decoder {
            // Realistic batches hold about one distinct short string per 128 bytes.
            it: Interner::with_capacity(len / 128),
            out: DecodedSpans::default(),
            attrs: Vec::new(),
            inner: Vec::new(),
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
        let mut attrs = Counted::default();
        self.attrs.clear();
        let mut r = Reader::new(body);
        while let Some(k) = r.key()? {
            match k {
                RESOURCE_ => {
                    let chunk = r.bytes(k)?;
                    let inner = r.nest(budget, k)?;
                    self.resource(chunk, inner, &mut attrs)
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
        attrs.kept = take_exact(&mut self.attrs);
        let attributes = bounds::attributes(attrs);
        let resource = Arc::new(bounds::resource(attributes, &mut self.it));
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
    fn resource(
        &mut self,
        body: &[u8],
        budget: u32,
        attrs: &mut Counted<KeyValue>,
    ) -> Result<(), WireError> {
        const ATTRIBUTES: u32 = key(1, LEN);
        const DROPPED: u32 = key(2, VARINT);
        let mut r = Reader::new(body);
        while let Some(k) = r.key()? {
            match k {
                ATTRIBUTES => {
                    let kv = r.bytes(k)?;
                    let inner = r.nest(budget, k)?;
                    if let Some(kv) = self.attribute(kv, inner, attrs.seen)? {
                        self.attrs.push(kv);
                    }
                    attrs.seen += 1;
                }
                DROPPED => attrs.dropped = r.varint_value(k)? as u32,
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
                    if let Some(kv) = self.attribute(b, inner, attrs.seen)? {
                        self.attrs.push(kv);
                    }
                    attrs.seen += 1;
                }
                DROPPED_ATTRIBUTES => attrs.dropped = r.varint_value(k)? as u32,
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
        attrs.kept = take_exact(&mut self.attrs);
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
                ATTRIBUTES => {
                    let b = r.bytes(k)?;
                    let inner = r.nest(budget, k)?;
                    if let Some(kv) = self.attribute(b, inner, attrs.seen)? {
                        self.inner.push(kv);
                    }
                    attrs.seen += 1;
                }
                DROPPED => attrs.dropped = r.varint_value(k)? as u32,
                _ => r.other(k, &EVENT, budget)?,
            }
        }
        attrs.kept = take_exact(&mut self.inner);
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
                ATTRIBUTES => {
                    let b = r.bytes(k)?;
                    let inner = r.nest(budget, k)?;
                    if let Some(kv) = self.attribute(b, inner, attrs.seen)? {
                        self.inner.push(kv);
                    }
                    attrs.seen += 1;
                }
                DROPPED => attrs.dropped = r.varint_value(k)? as u32,
                _ => r.other(k, &LINK, budget)?,
            }
        }
        attrs.kept = take_exact(&mut self.inner);
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
        const KEY: u32 = key(1, LEN);
        const VALUE: u32 = key(2, LEN);
        // The key is checked to be UTF-8 when it is interned (or found interned).
        let mut name: &[u8] = &[];
        let mut any = Any::None;
        let mut any_budget = 0;
        let mut r = Reader::new(body);
        while let Some(k) = r.key()? {
            match k {
                KEY => {
                    let b = r.bytes(k)?;
                    // A repeated key: the last wins, the replaced one must still be UTF-8.
                    if !name.is_empty() {
                        std::str::from_utf8(name).map_err(|e| utf8_error(name, e, KEY >> 3))?;
                    }
                    name = b;
                }
                VALUE => {
                    let b = r.bytes(k)?;
                    any_budget = r.nest(budget, k)?;
                    self.any_fields(b, any_budget, &mut any)
                        .map_err(|e| e.within("value", None, &ANY_VALUE))?;
                }
                _ => r.other(k, &KEY_VALUE, budget)?,
            }
        }
        let key = self
            .it
            .get_utf8(name)
            .map_err(|e| utf8_error(name, e, KEY >> 3))?;
        let value = self
            .finish(any, any_budget, depth)
            .map_err(|e| e.within("value", None, &ANY_VALUE))?;
        Ok(KeyValue { key, value })
    }

    /// Reads one `AnyValue` chunk into `any` (chunks of a repeated field merge).
    fn any_fields<'a>(
        &mut self,
        body: &'a [u8],
        budget: u32,
        any: &mut Any<'a>,
    ) -> Result<(), WireError> {
        const STRING: u32 = key(1, LEN);
        const BOOL: u32 = key(2, VARINT);
        const INT: u32 = key(3, VARINT);
        const DOUBLE: u32 = key(4, I64);
        const ARRAY: u32 = key(5, LEN);
        const KVLIST: u32 = key(6, LEN);
        const BYTES: u32 = key(7, LEN);
        const STRINDEX: u32 = key(8, VARINT);
        let mut r = Reader::new(body);
        while let Some(k) = r.key()? {
            let next = match k {
                STRING => Any::Str(r.bytes(k)?),
                BOOL => Any::Bool(r.varint_value(k)? != 0),
                INT => Any::Int(r.varint_value(k)? as i64),
                DOUBLE => Any::Double(f64::from_bits(r.fixed64(k)?)),
                ARRAY => {
                    let b = r.bytes(k)?;
                    r.nest(budget, k)?;
                    match any {
                        Any::Array(chunks) => {
                            chunks.more.push(b);
                            continue;
                        }
                        _ => Any::Array(Chunks::one(b)),
                    }
                }
                KVLIST => {
                    let b = r.bytes(k)?;
                    r.nest(budget, k)?;
                    match any {
                        Any::Kvlist(chunks) => {
                            chunks.more.push(b);
                            continue;
                        }
                        _ => Any::Kvlist(Chunks::one(b)),
                    }
                }
                BYTES => Any::Bytes(r.bytes(k)?),
                STRINDEX => {
                    r.varint_value(k)?;
                    Any::Strindex
                }
                _ => {
                    r.other(k, &ANY_VALUE, budget)?;
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
            Any::Str(b) => bounds::str_value_utf8(b, &mut self.it)
                .map_err(|e| utf8_error(b, e, STRING_VALUE))?,
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
        const VALUES: u32 = key(1, LEN);
        let mut r = Reader::new(body);
        let mut i = 0;
        while let Some(k) = r.key()? {
            match k {
                VALUES => {
                    let b = r.bytes(k)?;
                    let inner = r.nest(budget, k)?;
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
                _ => r.other(k, &ARRAY_VALUE, budget)?,
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
        const VALUES: u32 = key(1, LEN);
        let mut r = Reader::new(body);
        let mut i = 0;
        while let Some(k) = r.key()? {
            match k {
                VALUES => {
                    let b = r.bytes(k)?;
                    let inner = r.nest(budget, k)?;
                    let within = |e: WireError| e.within("values", Some(i), &KEY_VALUE);
                    if values.len() < MAX_ATTRIBUTES {
                        values.push(self.key_value(b, inner, depth + 1).map_err(within)?);
                    } else {
                        validate(&KEY_VALUE, b, inner).map_err(within)?;
                    }
                    i += 1;
                }
                _ => r.other(k, &KEY_VALUE_LIST, budget)?,
            }
        }
        Ok(())
    }
}

/// Moves a scratch list into a vector of exactly its length (so the boxed slice the model keeps
/// needs no reallocation), leaving the scratch empty with its capacity.
fn take_exact<T>(scratch: &mut Vec<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(scratch.len());
    out.append(scratch);
    out
}

/// Field number of `AnyValue.string_value`.
const STRING_VALUE: u32 = 1;

/// Validates a replaced `oneof` member that is not kept (a string, or array or kvlist chunks);
/// `budget` is the `AnyValue`'s.
fn discard(any: Any<'_>, budget: u32) -> Result<(), WireError> {
    let inner = budget.saturating_sub(1);
    match any {
        Any::Str(b) => std::str::from_utf8(b)
            .map(drop)
            .map_err(|e| utf8_error(b, e, STRING_VALUE)),
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
