//! What the two OTLP trace decoders share, so they cannot drift apart: the per-request interner,
//! the size bounds, id validation with its rejection messages, and the assembly of a
//! [`Span`] from its decoded parts. `decode` feeds these from the `prost` message tree, `wire`
//! straight from protobuf bytes; both must give the same spans for the same request.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::model::attrs::{AttrValue, Attributes, KeySet, MAX_ATTRIBUTES, MAX_VALUE_BYTES};
use crate::model::span::{
    Event, Link, Resource, Span, SpanExtras, SpanId, SpanKind, StatusCode, TraceId,
};

/// Most events or links kept per span.
pub const MAX_EVENTS: usize = 128;
/// Deepest nesting of array/map attribute values kept; deeper values become `Empty`.
pub(crate) const MAX_DEPTH: usize = 8;
/// String values up to this many bytes are interned (methods, hosts, codes repeat); longer ones
/// are mostly unique and get their own allocation.
const SHORT_VALUE_BYTES: usize = 32;
/// Most distinct strings one request's interner remembers.
const INTERNER_CAPACITY: usize = 4096;
/// Most distinct attribute key sequences one request's interner remembers.
const KEYSET_CAPACITY: usize = 256;

/// Shares the allocations of equal strings, and of equal key sequences, within one request.
#[derive(Default)]
pub(crate) struct Interner {
    set: foldhash::HashSet<Interned>,
    /// Key sets by the addresses of their (interned) keys: equal key sequences of one request
    /// are the same `Arc`s, so comparing addresses is comparing keys. The sets hold the `Arc`s,
    /// so an address stays theirs while the table lives.
    keysets: foldhash::HashMap<Box<[usize]>, KeySet>,
    addrs: Vec<usize>,
    scratch: Vec<Arc<str>>,
}

/// An interned string, hashed and compared as bytes, so that a lookup can start from bytes not
/// yet checked to be UTF-8 (a hit is a string that was checked when it was interned).
#[derive(PartialEq, Eq)]
struct Interned(Arc<str>);

impl Hash for Interned {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.as_bytes().hash(state);
    }
}

impl Borrow<[u8]> for Interned {
    fn borrow(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl Interner {
    /// An interner sized for about `n` distinct strings (no regrowth while filling).
    pub(crate) fn with_capacity(n: usize) -> Self {
        Interner {
            set: foldhash::HashSet::with_capacity_and_hasher(
                n.min(INTERNER_CAPACITY),
                Default::default(),
            ),
            ..Default::default()
        }
    }

    /// The shared copy of `s`.
    pub(crate) fn get(&mut self, s: &str) -> Arc<str> {
        match self.set.get(s.as_bytes()) {
            Some(a) => a.0.clone(),
            None => self.insert(s),
        }
    }

    /// The shared copy of `b`, or why it is not UTF-8. Bytes already interned skip the check.
    pub(crate) fn get_utf8(&mut self, b: &[u8]) -> Result<Arc<str>, std::str::Utf8Error> {
        match self.set.get(b) {
            Some(a) => Ok(a.0.clone()),
            None => Ok(self.insert(std::str::from_utf8(b)?)),
        }
    }

    /// The shared key set for these (interned) keys, in order.
    pub(crate) fn key_set(&mut self, keys: &[Arc<str>]) -> KeySet {
        self.addrs.clear();
        self.addrs
            .extend(keys.iter().map(|k| Arc::as_ptr(k).cast::<u8>() as usize));
        if let Some(ks) = self.keysets.get(self.addrs.as_slice()) {
            return ks.clone();
        }
        let ks: KeySet = Arc::from(keys);
        if self.keysets.len() < KEYSET_CAPACITY {
            self.keysets
                .insert(self.addrs.as_slice().into(), ks.clone());
        }
        ks
    }

    /// The shared key set for these keys, in order.
    pub(crate) fn key_set_of<'a>(&mut self, keys: impl Iterator<Item = &'a str>) -> KeySet {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend(keys.map(|k| self.get(k)));
        let ks = self.key_set(&scratch);
        self.scratch = scratch;
        ks
    }

    fn insert(&mut self, s: &str) -> Arc<str> {
        let a: Arc<str> = Arc::from(s);
        // Bound the per-request table: unique values beyond this are not worth sharing.
        if self.set.len() < INTERNER_CAPACITY {
            self.set.insert(Interned(a.clone()));
        }
        a
    }
}

/// Cuts a string to at most [`MAX_VALUE_BYTES`] at a char boundary.
pub(crate) fn truncate(s: &str) -> &str {
    if s.len() <= MAX_VALUE_BYTES {
        return s;
    }
    let mut end = MAX_VALUE_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A string attribute value: short ones interned, long ones truncated.
pub(crate) fn str_value(s: &str, it: &mut Interner) -> AttrValue {
    if s.len() <= SHORT_VALUE_BYTES {
        AttrValue::Str(it.get(s))
    } else {
        AttrValue::Str(Arc::from(truncate(s)))
    }
}

/// [`str_value`] from bytes, or why they are not UTF-8 (short values found interned skip the
/// check).
pub(crate) fn str_value_utf8(
    b: &[u8],
    it: &mut Interner,
) -> Result<AttrValue, std::str::Utf8Error> {
    if b.len() <= SHORT_VALUE_BYTES {
        it.get_utf8(b).map(AttrValue::Str)
    } else {
        std::str::from_utf8(b).map(|s| AttrValue::Str(Arc::from(truncate(s))))
    }
}

/// A bytes attribute value, cut to [`MAX_VALUE_BYTES`].
pub(crate) fn bytes_value(b: &[u8]) -> AttrValue {
    AttrValue::Bytes(Arc::from(&b[..b.len().min(MAX_VALUE_BYTES)]))
}

/// Items of a repeated field as decoded: those kept (within the bound), how many the request
/// held in all, and how many the sender says it dropped.
#[derive(Debug)]
pub(crate) struct Counted<T> {
    /// Kept items (at most the bound; links with bad ids are left out too).
    pub kept: Vec<T>,
    /// Items in the request, kept or not.
    pub seen: usize,
    /// The sender's `dropped_*_count`.
    pub dropped: u32,
}

impl<T> Default for Counted<T> {
    fn default() -> Self {
        Counted {
            kept: Vec::new(),
            seen: 0,
            dropped: 0,
        }
    }
}

impl<T> Counted<T> {
    /// The sender's drops plus ours (items past `bound`).
    fn total_dropped(&self, bound: usize) -> u32 {
        let over = self.seen.saturating_sub(bound);
        self.dropped
            .saturating_add(u32::try_from(over).unwrap_or(u32::MAX))
    }
}

/// An attribute list: the values of the first [`MAX_ATTRIBUTES`] of `seen` attributes under
/// their (shared) key set; the rest, and the sender's `dropped`, count as dropped.
pub(crate) fn attributes(
    keys: KeySet,
    values: Vec<AttrValue>,
    seen: usize,
    dropped: u32,
) -> Attributes {
    let over = u32::try_from(seen.saturating_sub(MAX_ATTRIBUTES)).unwrap_or(u32::MAX);
    Attributes::from_parts(keys, values, dropped.saturating_add(over))
}

/// The resource of a batch: `service.name` (`unknown_service` when absent, as the SDKs
/// default) and the instance (`service.instance.id`, then `k8s.pod.name`, then `host.name`).
pub(crate) fn resource(attributes: Attributes, it: &mut Interner) -> Resource {
    let service_name = it.get(attributes.str("service.name").unwrap_or("unknown_service"));
    let instance = attributes
        .first_str(&["service.instance.id", "k8s.pod.name", "host.name"])
        .map(|s| it.get(s));
    Resource {
        service_name,
        instance,
        attributes,
    }
}

/// Validated ids of a span: trace and span ids of the right length and not all zero, the parent
/// empty (a root) or 8 bytes. The error is the partial-success message.
pub(crate) fn span_ids(
    name: &str,
    trace_id: &[u8],
    span_id: &[u8],
    parent_span_id: &[u8],
) -> Result<(TraceId, SpanId, SpanId), String> {
    let trace: TraceId = trace_id.try_into().map_err(|_| {
        format!(
            "span \"{name}\": traceId must be 16 bytes, got {}",
            trace_id.len()
        )
    })?;
    if trace == [0; 16] {
        return Err(format!("span \"{name}\": traceId is all zero"));
    }
    let span: SpanId = span_id.try_into().map_err(|_| {
        format!(
            "span \"{name}\": spanId must be 8 bytes, got {}",
            span_id.len()
        )
    })?;
    if span == [0; 8] {
        return Err(format!("span \"{name}\": spanId is all zero"));
    }
    let parent: SpanId = match parent_span_id.len() {
        0 => [0; 8],
        _ => parent_span_id.try_into().map_err(|_| {
            format!(
                "span \"{name}\": parentSpanId must be 8 bytes, got {}",
                parent_span_id.len()
            )
        })?,
    };
    Ok((trace, span, parent))
}

/// A link, or `None` when its ids have the wrong length (such links are dropped silently).
pub(crate) fn link(trace_id: &[u8], span_id: &[u8], attributes: Attributes) -> Option<Link> {
    Some(Link {
        trace_id: trace_id.try_into().ok()?,
        span_id: span_id.try_into().ok()?,
        attributes,
    })
}

/// An event.
pub(crate) fn event(time_ns: u64, name: &str, attributes: Attributes, it: &mut Interner) -> Event {
    Event {
        time_ns,
        name: it.get(name),
        attributes,
    }
}

/// A span's decoded parts, ids already validated.
pub(crate) struct SpanParts<'a> {
    /// Trace, span and parent ids.
    pub ids: (TraceId, SpanId, SpanId),
    /// Span name.
    pub name: &'a str,
    /// OTLP span kind.
    pub kind: i32,
    /// Start, Unix ns.
    pub start_ns: u64,
    /// End, Unix ns (clamped to the start here).
    pub end_ns: u64,
    /// OTLP status code (0 when no status).
    pub status_code: i32,
    /// Status message ("" when none).
    pub status_message: &'a str,
    /// Span attributes.
    pub attributes: Attributes,
    /// Events, at most [`MAX_EVENTS`] kept.
    pub events: Counted<Event>,
    /// Links, at most [`MAX_EVENTS`] considered.
    pub links: Counted<Link>,
}

impl SpanParts<'_> {
    /// The model span.
    pub(crate) fn build(
        self,
        resource: &Arc<Resource>,
        scope: &Arc<str>,
        it: &mut Interner,
    ) -> Span {
        let message: Option<Box<str>> =
            (!self.status_message.is_empty()).then(|| truncate(self.status_message).into());
        let extras = if self.events.seen == 0 && self.links.seen == 0 && message.is_none() {
            None
        } else {
            let dropped_events = self.events.total_dropped(MAX_EVENTS);
            let dropped_links = self.links.total_dropped(MAX_EVENTS);
            Some(Box::new(SpanExtras {
                events: self.events.kept,
                links: self.links.kept,
                status_message: message,
                dropped_events,
                dropped_links,
            }))
        };
        let (trace_id, span_id, parent_span_id) = self.ids;
        Span {
            trace_id,
            span_id,
            parent_span_id,
            kind: SpanKind::from_proto(self.kind),
            status: StatusCode::from_proto(self.status_code),
            name: it.get(self.name),
            start_ns: self.start_ns,
            // A span that ends before it starts (clock skew between threads) is clamped to 0 length.
            end_ns: self.end_ns.max(self.start_ns),
            attributes: self.attributes,
            resource: resource.clone(),
            scope: scope.clone(),
            extras,
        }
    }
}
