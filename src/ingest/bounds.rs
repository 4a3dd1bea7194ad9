//! What the two OTLP trace decoders share, so they cannot drift apart: the per-request interner,
//! the size bounds, id validation with its rejection messages, and the assembly of a
//! [`Span`] from its decoded parts. `decode` feeds these from the `prost` message tree, `wire`
//! straight from protobuf bytes; both must give the same spans for the same request.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::Arc;

use crate::model::attrs::{
    AttrValue, Attributes, AttrsBuilder, KeySet, MAX_ATTRIBUTES, MAX_VALUE_BYTES, Text,
};
use crate::model::span::{
    Event, Link, Resource, Span, SpanExtras, SpanId, SpanKind, StatusCode, TraceId,
};

/// Most events or links kept per span.
pub const MAX_EVENTS: usize = 128;
/// Deepest nesting of array/map attribute values kept; deeper values become `Empty`.
pub(crate) const MAX_DEPTH: usize = 8;
/// String values up to this many bytes are stored in their attribute list as they are: a
/// shared copy would cost more (a pointer is 8 bytes).
const INLINE_BYTES: usize = 6;
/// String values up to this many bytes are shared once they repeat (methods, hosts, routes,
/// statements); longer ones are mostly unique and stay in their list.
const SHARED_BYTES: usize = 128;
/// Distinct strings the interner keeps before it forgets those nothing else holds.
const INTERNER_CAPACITY: usize = 1 << 16;
/// Distinct attribute key sequences the interner keeps before it forgets unused ones.
const KEYSET_CAPACITY: usize = 4096;
/// Slots of the table of strings seen once (a string seen twice gets shared).
const SEEN_SLOTS: usize = 1 << 14;

/// Shares the allocations of equal strings, and of equal key sequences, across requests. One
/// per thread ([`with_interner`]): receivers decode on the runtime's worker threads, so the
/// table needs no lock, and a string repeated by many requests is allocated once per thread.
/// Bounded: past [`INTERNER_CAPACITY`] strings, those only the table holds are forgotten.
pub(crate) struct Interner {
    set: hashbrown::HashTable<Text>,
    hasher: foldhash::fast::FixedState,
    /// Hashes of values seen once, direct-mapped: a value found here is seen again, and shared.
    seen: Box<[u64]>,
    /// Key sets by the addresses of their (interned) keys: equal key sequences are the same
    /// `Text`s, so comparing addresses is comparing keys. The sets hold their keys, so an
    /// address stays theirs while the entry lives.
    keysets: foldhash::HashMap<Box<[usize]>, KeySet>,
    addrs: Vec<usize>,
    scratch: Vec<Text>,
    /// Service and instance names (`Arc<str>`, as edges key them).
    names: foldhash::HashSet<Arc<str>>,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            set: hashbrown::HashTable::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x5eed_f00d),
            seen: vec![0; SEEN_SLOTS].into_boxed_slice(),
            keysets: Default::default(),
            addrs: Vec::new(),
            scratch: Vec::new(),
            names: Default::default(),
        }
    }
}

thread_local! {
    static INTERNER: RefCell<Interner> = RefCell::new(Interner::default());
}

/// Runs `f` with this thread's interner.
pub(crate) fn with_interner<R>(f: impl FnOnce(&mut Interner) -> R) -> R {
    INTERNER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut it) => f(&mut it),
        // Only reachable by re-entry (a decoder decoding inside a decoder): use a fresh one.
        Err(_) => f(&mut Interner::default()),
    })
}

/// A string attribute value as the interner hands it out: stored in the list, or shared.
pub(crate) enum StrValue<'a> {
    /// Short, or not seen before: stored in the list.
    Inline(&'a str),
    /// Seen before: the shared copy.
    Shared(Text),
}

impl StrValue<'_> {
    /// Appends the value to `b`.
    pub(crate) fn push(self, b: &mut AttrsBuilder) {
        match self {
            StrValue::Inline(s) => b.push_str_inline(s),
            StrValue::Shared(t) => b.push_text(t),
        }
    }
}

impl Interner {
    fn hash(&self, b: &[u8]) -> u64 {
        self.hasher.hash_one(b)
    }

    fn find(&self, h: u64, b: &[u8]) -> Option<&Text> {
        self.set.find(h, |t| same_bytes(t.as_bytes(), b))
    }

    /// The shared copy of `s`.
    pub(crate) fn get(&mut self, s: &str) -> Text {
        let h = self.hash(s.as_bytes());
        match self.find(h, s.as_bytes()) {
            Some(t) => t.clone(),
            None => self.insert(h, s),
        }
    }

    /// The shared copy of `b`, or why it is not UTF-8. Bytes already interned skip the check.
    pub(crate) fn get_utf8(&mut self, b: &[u8]) -> Result<Text, std::str::Utf8Error> {
        let h = self.hash(b);
        match self.find(h, b) {
            Some(t) => Ok(t.clone()),
            None => Ok(self.insert(h, utf8(b)?)),
        }
    }

    /// A span or event name: the shared copy when the name repeats, else its own.
    pub(crate) fn name(&mut self, s: &str) -> Text {
        match self.seen_again(s.as_bytes()) {
            Ok(t) => t,
            Err(Some(h)) => self.insert(h, s),
            Err(None) => Text::from(s),
        }
    }

    /// The shared copy of `b` if it is interned or seen before (`Err(Some(hash))`: seen before
    /// but not interned yet; `Err(None)`: first seen now).
    fn seen_again(&mut self, b: &[u8]) -> Result<Text, Option<u64>> {
        let h = self.hash(b);
        if let Some(t) = self.find(h, b) {
            return Ok(t.clone());
        }
        let slot = &mut self.seen[h as usize % SEEN_SLOTS];
        if *slot == h {
            Err(Some(h))
        } else {
            *slot = h;
            Err(None)
        }
    }

    /// A string value from bytes, or why they are not UTF-8: stored in the list when short or
    /// new, shared once it repeats (a shared hit skips the UTF-8 check).
    pub(crate) fn value_utf8<'a>(
        &mut self,
        b: &'a [u8],
    ) -> Result<StrValue<'a>, std::str::Utf8Error> {
        if b.len() <= INLINE_BYTES || b.len() > SHARED_BYTES {
            let s = utf8(b)?;
            return Ok(StrValue::Inline(truncate(s)));
        }
        match self.seen_again(b) {
            Ok(t) => Ok(StrValue::Shared(t)),
            Err(Some(h)) => Ok(StrValue::Shared(self.insert(h, utf8(b)?))),
            Err(None) => Ok(StrValue::Inline(utf8(b)?)),
        }
    }

    /// [`value_utf8`](Self::value_utf8) of a string already checked.
    pub(crate) fn value<'a>(&mut self, s: &'a str) -> StrValue<'a> {
        match self.value_utf8(s.as_bytes()) {
            Ok(StrValue::Shared(t)) => StrValue::Shared(t),
            _ => StrValue::Inline(truncate(s)),
        }
    }

    /// The shared key set for these (interned) keys, in order.
    pub(crate) fn key_set(&mut self, keys: &[Text]) -> KeySet {
        self.addrs.clear();
        self.addrs.extend(keys.iter().map(|k| k.as_ptr() as usize));
        if let Some(ks) = self.keysets.get(self.addrs.as_slice()) {
            return ks.clone();
        }
        if self.keysets.len() >= KEYSET_CAPACITY {
            self.keysets.retain(|_, ks| Arc::strong_count(ks) > 1);
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
        scratch.clear();
        self.scratch = scratch;
        ks
    }

    /// The shared `Arc<str>` of a service or instance name.
    pub(crate) fn arc(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.names.get(s) {
            return a.clone();
        }
        if self.names.len() >= KEYSET_CAPACITY {
            self.names.retain(|a| Arc::strong_count(a) > 1);
        }
        let a: Arc<str> = Arc::from(s);
        if self.names.len() < KEYSET_CAPACITY {
            self.names.insert(a.clone());
        }
        a
    }

    fn insert(&mut self, h: u64, s: &str) -> Text {
        if self.set.len() >= INTERNER_CAPACITY {
            self.forget_unused();
        }
        let t = Text::from(s);
        let hasher = self.hasher.clone();
        self.set
            .insert_unique(h, t.clone(), |t| hasher.hash_one(t.as_bytes()));
        t
    }

    /// Forgets the strings only the table holds (keys of forgotten key sets too); if most are
    /// still in use, forgets them all (their holders keep them: only sharing is lost).
    fn forget_unused(&mut self) {
        self.keysets.retain(|_, ks| Arc::strong_count(ks) > 1);
        self.set
            .retain(|t| Text::strong_count(t).is_some_and(|n| n > 1));
        if self.set.len() > INTERNER_CAPACITY / 2 {
            self.keysets.clear();
            self.set.clear();
        }
    }
}

/// `a == b`, without a call to `memcmp` for the short strings (up to 32 bytes) that keys and
/// most values are: two or four overlapping 8-byte loads per side.
#[inline(always)]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 8)
            .and_then(|w| w.first_chunk::<8>())
            .map(|w| u64::from_le_bytes(*w))
    };
    match n {
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        17..=32 => {
            word(a, 0) == word(b, 0)
                && word(a, 8) == word(b, 8)
                && word(a, n - 16) == word(b, n - 16)
                && word(a, n - 8) == word(b, n - 8)
        }
        _ => a == b,
    }
}

/// `std::str::from_utf8` with a fast path for ASCII, which most strings of a request are:
/// `is_ascii` reads a word at a time where `from_utf8` goes byte by byte on the short,
/// unaligned strings of keys and values. Same answer, same error (non-ASCII bytes take the
/// `std` check).
#[inline]
pub(crate) fn utf8(b: &[u8]) -> Result<&str, std::str::Utf8Error> {
    if b.is_ascii() {
        // SAFETY: ASCII bytes are UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(b) });
    }
    std::str::from_utf8(b)
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

/// A string attribute value, owned (nested values): shared when it repeats.
pub(crate) fn str_value(s: &str, it: &mut Interner) -> AttrValue {
    match it.value(s) {
        StrValue::Shared(t) => AttrValue::Str(t),
        StrValue::Inline(s) => AttrValue::Str(Text::from(s)),
    }
}

/// [`str_value`] from bytes, or why they are not UTF-8.
pub(crate) fn str_value_utf8(
    b: &[u8],
    it: &mut Interner,
) -> Result<AttrValue, std::str::Utf8Error> {
    Ok(match it.value_utf8(b)? {
        StrValue::Shared(t) => AttrValue::Str(t),
        StrValue::Inline(s) => AttrValue::Str(Text::from(s)),
    })
}

/// A bytes attribute value, cut to [`MAX_VALUE_BYTES`].
pub(crate) fn bytes_value(b: &[u8]) -> AttrValue {
    AttrValue::Bytes(Arc::from(&b[..b.len().min(MAX_VALUE_BYTES)]))
}

/// The bytes of a bytes attribute value as kept.
pub(crate) fn bytes_kept(b: &[u8]) -> &[u8] {
    &b[..b.len().min(MAX_VALUE_BYTES)]
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

/// An attribute list: the values appended to `b` (at most [`MAX_ATTRIBUTES`], one per key of
/// `keys`) out of `seen` attributes; the rest, and the sender's `dropped`, count as dropped.
pub(crate) fn attributes(
    keys: KeySet,
    b: &mut AttrsBuilder,
    seen: usize,
    dropped: u32,
) -> Attributes {
    let over = u32::try_from(seen.saturating_sub(MAX_ATTRIBUTES)).unwrap_or(u32::MAX);
    b.finish(keys, dropped.saturating_add(over))
}

/// The resource of a batch: `service.name` (`unknown_service` when absent, as the SDKs
/// default) and the instance (`service.instance.id`, then `k8s.pod.name`, then `host.name`).
pub(crate) fn resource(attributes: Attributes, it: &mut Interner) -> Resource {
    let service_name = it.arc(attributes.str("service.name").unwrap_or("unknown_service"));
    let instance = attributes
        .first_str(&["service.instance.id", "k8s.pod.name", "host.name"])
        .map(|s| it.arc(s));
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
        name: it.name(name),
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
    pub(crate) fn build(self, resource: &Arc<Resource>, scope: &Text, it: &mut Interner) -> Span {
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
                error_logs: 0,
            }))
        };
        let (trace_id, span_id, parent_span_id) = self.ids;
        Span {
            trace_id,
            span_id,
            parent_span_id,
            kind: SpanKind::from_proto(self.kind),
            status: StatusCode::from_proto(self.status_code),
            name: it.name(self.name),
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
