//! OTLP/JSON trace requests → faultline's model, without the `opentelemetry-proto` tree.
//!
//! `otlp_json` reads a request into mirror types, `opentelemetry-proto` types and then
//! `decode::decode_traces` copies what the model keeps: a `String` or `Vec` for every key, value,
//! id and list, all dropped again. This decoder runs `serde_json` with seeds
//! ([`serde::de::DeserializeSeed`]) that build the spans as the JSON goes by: strings are borrowed
//! from the input (unless escaped), ids decoded into stack buffers, and only what the model keeps
//! is allocated, interned per request through `ingest::bounds`, which also assembles the spans.
//! It is `serde_json` rather than a hand-written lexer: `serde_json`'s own parsing is what is
//! left of the time, and it also gives the same syntax errors, nesting limit and number reading
//! as `otlp_json`.
//!
//! Semantics are exactly those of `otlp_json::parse_traces` followed by `decode_traces`: the same
//! requests are accepted and rejected (the same leniency: hex or base64 ids, enum names or
//! numbers, 64-bit integers as strings or numbers, camelCase or snake_case names, unknown fields
//! ignored; and the same strictness of serde's derive: duplicate fields are errors, a struct may
//! also be an array of its fields in declaration order), and accepted ones give equal spans.
//! `tests.rs` holds both paths to that on generated captures, random and mutated requests;
//! `fuzz/fuzz_targets/otlp_json.rs` fuzzes the same comparison.
//!
//! Field order is free in JSON: spans read before their `resource` (or `scope`) are built with
//! the default one and given the real one when it arrives.

mod attrs;
mod events;
mod request;
mod scalar;
mod spans;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::bounds::{self, Interner};
use super::decode::{DecodedSpans, decode_traces};
use super::otlp_json;
use crate::model::attrs::{AttrsBuilder, Text};
use crate::model::span::Resource;

/// Decodes an OTLP/JSON `ExportTraceServiceRequest` into model spans, as
/// `decode_traces(&otlp_json::parse_traces(bytes)?)` would. Spans with bad ids are rejected one
/// by one (partial success); a malformed request is an error.
///
/// A rejected request is read again by `otlp_json`, whose error is returned, so messages (and
/// their columns) are the ones that path has always given; errors are rare, so this costs
/// nothing in practice.
pub fn decode(bytes: &[u8]) -> Result<DecodedSpans, serde_json::Error> {
    decode_direct(bytes).or_else(|_| reference(bytes))
}

/// The reference path: mirror types → `opentelemetry-proto` → model. The tests and the fuzz
/// target hold [`decode_direct`] to it; on a request the direct decoder rejects, its answer
/// stands (the error to report, or — were the two ever to disagree — the spans).
#[cold]
fn reference(bytes: &[u8]) -> Result<DecodedSpans, serde_json::Error> {
    otlp_json::parse_traces(bytes).map(|r| decode_traces(&r))
}

/// [`decode`] without the second reading of rejected requests: its errors name what this
/// decoder saw, in `serde_json`'s words. For the equivalence tests and the fuzz target.
pub fn decode_direct(bytes: &[u8]) -> Result<DecodedSpans, serde_json::Error> {
    // The thread's interner, shared with `wire` and `decode_traces` (swapped into the context
    // for the request, a spare left in its place).
    bounds::with_interner(|shared| {
        let spare = SPARE.with(|s| s.borrow_mut().take()).unwrap_or_default();
        let mut cx = Cx::new(std::mem::replace(shared, spare));
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let r = request::request(&mut de, &mut cx).and_then(|()| de.end());
        let Cx { it, out, .. } = cx;
        let spare = std::mem::replace(shared, it);
        SPARE.with(|s| *s.borrow_mut() = Some(spare));
        r.map(|()| out)
    })
}

thread_local! {
    /// What stands in for the thread's interner while a request holds it.
    static SPARE: RefCell<Option<Interner>> = const { RefCell::new(None) };
}

/// Decoder state of one request.
pub(super) struct Cx {
    it: Interner,
    out: DecodedSpans,
    /// Scratch for the attribute list being read (reused from list to list).
    keys: Vec<Text>,
    builder: AttrsBuilder,
    /// The resource of the `ResourceSpans` being read, once known.
    resource: Option<Arc<Resource>>,
    /// The scope name of the `ScopeSpans` being read, once known.
    scope: Option<Text>,
}

impl Cx {
    fn new(it: Interner) -> Self {
        Cx {
            it,
            out: DecodedSpans::default(),
            keys: Vec::new(),
            builder: AttrsBuilder::default(),
            resource: None,
            scope: None,
        }
    }
}

/// Where the values of a struct's fields come from: a JSON object, or (as serde's derive also
/// accepts, so `otlp_json` does) an array holding the fields in declaration order.
pub(super) trait Src<'de> {
    /// The deserializer's error.
    type Error: de::Error;
    /// The next field value, read with `seed`; `None` past the end of an array.
    fn value<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Self::Error>;
}

struct MapSrc<'a, A>(&'a mut A);

impl<'de, A: MapAccess<'de>> Src<'de> for MapSrc<'_, A> {
    type Error = A::Error;
    fn value<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_value_seed(seed).map(Some)
    }
}

struct SeqSrc<'a, A>(&'a mut A);

impl<'de, A: SeqAccess<'de>> Src<'de> for SeqSrc<'_, A> {
    type Error = A::Error;
    fn value<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(seed)
    }
}

/// A struct being read, as serde's derive reads one with `#[serde(default)]`: missing fields
/// keep their defaults, unknown ones are skipped, a field given twice is an error.
pub(super) trait Fields<'de>: Sized {
    /// Field names in declaration order (the camelCase ones, as the derive names them).
    const FIELDS: &'static [&'static str];
    /// The field a key names (name or alias), if any.
    fn index(key: &[u8]) -> Option<usize>;
    /// Reads field `i` from `src`; `false` when `src` had no more values.
    fn field<S: Src<'de>>(&mut self, i: usize, src: &mut S) -> Result<bool, S::Error>;
}

/// Reads a struct (a JSON object, or an array of its fields) into `f` (in place: the field
/// states are too large to move around for every value).
pub(super) fn read<'de, D: Deserializer<'de>, F: Fields<'de>>(
    d: D,
    f: &mut F,
) -> Result<(), D::Error> {
    d.deserialize_struct("", F::FIELDS, Struct(f, PhantomData))
}

/// Stores a value read into `slot`; whether there was one.
#[inline]
pub(super) fn set<T>(slot: &mut T, v: Option<T>) -> bool {
    match v {
        Some(v) => {
            *slot = v;
            true
        }
        None => false,
    }
}

struct Struct<'f, 'de, F>(&'f mut F, PhantomData<&'de ()>);

impl<'de, F: Fields<'de>> Visitor<'de> for Struct<'_, 'de, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OTLP/JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = 0u32;
        while let Some(key) = map.next_key_seed(Key(F::index))? {
            let Some(i) = key else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let bit = 1u32 << i;
            if seen & bit != 0 {
                return Err(de::Error::duplicate_field(F::FIELDS[i]));
            }
            seen |= bit;
            self.0.field(i, &mut MapSrc(&mut map))?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for i in 0..F::FIELDS.len() {
            if !self.0.field(i, &mut SeqSrc(&mut seq))? {
                break;
            }
        }
        Ok(())
    }
}

/// An object key: the index of the field it names, `None` for an unknown one.
///
/// Keys are read as raw bytes (escapes decoded, no UTF-8 or control-character check: checking
/// every string was a tenth of the decoding time), which spares the check for the keys that
/// name a field: those are ASCII names, which the strict reading would have given the same way.
/// An unknown key gets the strict reading's checks with [`strict_str`].
struct Key(fn(&[u8]) -> Option<usize>);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        match (self.0)(v) {
            Some(i) => Ok(Some(i)),
            None => strict_str(v).map(|_| None),
        }
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        match (self.0)(v) {
            Some(i) => Ok(Some(i)),
            None => strict_str(v).map(|_| None),
        }
    }
}

/// What [`strict_str`] says when it refuses a control character.
pub(super) const REFUSED_CONTROL: &str = "control character in a field name or id";

/// A string read raw (`deserialize_bytes`), held to what `serde_json`'s strict reading
/// accepts: UTF-8 (a lone surrogate escape decodes to bytes that are not), no control
/// characters. Exact for a string without escapes; one with escapes that decodes to a control
/// character cannot be told from a raw one and is refused (`decode` then hands the request to
/// the reference path; no sender writes such field names).
pub(super) fn strict_str<E: de::Error>(v: &[u8]) -> Result<&str, E> {
    if v.iter().any(|b| *b < 0x20) {
        return Err(E::custom(REFUSED_CONTROL));
    }
    std::str::from_utf8(v).map_err(|_| E::custom("invalid unicode in a string"))
}

/// A JSON array whose elements `&mut E` reads in turn (keeping what it needs).
pub(super) struct List<'e, E>(pub &'e mut E);

impl<'de, E> DeserializeSeed<'de> for List<'_, E>
where
    for<'a> &'a mut E: DeserializeSeed<'de, Value = ()>,
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, E> Visitor<'de> for List<'_, E>
where
    for<'a> &'a mut E: DeserializeSeed<'de, Value = ()>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(&mut *self.0)?.is_some() {}
        Ok(())
    }
}
