//! Attributes: `KeyValue` → model key-value, `AnyValue` → attribute value. An `AnyValue`'s
//! `oneof` is read into [`Any`] (members override each other, array and kvlist chunks of a
//! repeated member concatenate), then becomes the model value within the nesting and size bounds
//! `decode_traces` applies.

use super::error::WireError;
use super::reader::{I64, LEN, Reader, VARINT, key, utf8_error, validate};
use super::schema::{ANY_VALUE, ARRAY_VALUE, KEY_VALUE, KEY_VALUE_LIST};
use super::trace::Decoder;
use crate::ingest::bounds::{self, Interner, MAX_DEPTH, StrValue};
use crate::model::attrs::{AttrValue, KeyValue, MAX_ATTRIBUTES, Text};

/// The array or kvlist chunks of one `AnyValue` (more than one only when the member repeats).
pub(super) struct Chunks<'a> {
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
pub(super) enum Any<'a> {
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

impl Decoder<'_> {
    /// Attribute `index` of a list, appended to the span's (or resource's) list, or to the
    /// event's or link's when `inner`: decoded while within [`MAX_ATTRIBUTES`], else only
    /// validated.
    pub(super) fn attribute(
        &mut self,
        body: &[u8],
        budget: u32,
        index: usize,
        inner: bool,
    ) -> Result<(), WireError> {
        let within = |e: WireError| e.within("attributes", Some(index), &KEY_VALUE);
        if index < MAX_ATTRIBUTES {
            self.attribute_into(body, budget, inner).map_err(within)
        } else {
            validate(&KEY_VALUE, body, budget).map_err(within)
        }
    }

    fn attribute_into(&mut self, body: &[u8], budget: u32, inner: bool) -> Result<(), WireError> {
        let (name, any, any_budget) = self.read_key_value(body, budget)?;
        let key = self.cached_key(name)?;
        let in_value = |e: WireError| e.within("value", None, &ANY_VALUE);
        // The value first (it may need the interner), then the list it goes to.
        enum Made<'b> {
            Str(StrValue<'b>),
            Nested(AttrValue),
            Bool(bool),
            Int(i64),
            Double(f64),
            Bytes(&'b [u8]),
            Empty,
        }
        let made = match any {
            Any::Str(b) => Made::Str(
                self.it
                    .value_utf8(b)
                    .map_err(|e| in_value(utf8_error(b, e, STRING_VALUE)))?,
            ),
            nested @ (Any::Array(_) | Any::Kvlist(_)) => {
                Made::Nested(self.finish(nested, any_budget, 0).map_err(in_value)?)
            }
            Any::Bool(v) => Made::Bool(v),
            Any::Int(i) => Made::Int(i),
            Any::Double(d) => Made::Double(d),
            Any::Bytes(v) => Made::Bytes(bounds::bytes_kept(v)),
            Any::None | Any::Strindex => Made::Empty,
        };
        let list = if inner {
            &mut self.inner
        } else {
            &mut self.attrs
        };
        list.keys.push(key);
        let b = &mut list.b;
        match made {
            Made::Str(v) => v.push(b),
            Made::Nested(v) => b.push_nested(v),
            Made::Bool(v) => b.push_bool(v),
            Made::Int(i) => b.push_int(i),
            Made::Double(d) => b.push_double(d),
            Made::Bytes(v) => b.push_bytes(v),
            Made::Empty => b.push_empty(),
        }
        Ok(())
    }

    /// The interned key for these bytes, through the request's key cache: a request repeats a
    /// few dozen keys on every span, and the cache's slot (picked by length and three bytes)
    /// holding the same bytes answers without hashing and probing the interner. A hit is a
    /// key interned earlier in this request, so the bytes are UTF-8.
    fn cached_key(&mut self, name: &[u8]) -> Result<Text, WireError> {
        let slot = key_slot(name);
        if let Some(t) = &self.keys[slot]
            && bounds::same_bytes(t.as_bytes(), name)
        {
            return Ok(t.clone());
        }
        let t = intern_key(self.it, name)?;
        self.keys[slot] = Some(t.clone());
        Ok(t)
    }

    /// A `KeyValue`'s key bytes and value fields, not yet turned into a model value (the key
    /// is checked to be UTF-8 when it is interned or found interned).
    fn read_key_value<'a>(
        &mut self,
        body: &'a [u8],
        budget: u32,
    ) -> Result<(&'a [u8], Any<'a>, u32), WireError> {
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
        Ok((name, any, any_budget))
    }

    /// A `KeyValue` whose value sits at nesting `depth` (of a kvlist value).
    pub(super) fn key_value(
        &mut self,
        body: &[u8],
        budget: u32,
        depth: usize,
    ) -> Result<KeyValue, WireError> {
        let (name, any, any_budget) = self.read_key_value(body, budget)?;
        let key = intern_key(self.it, name)?;
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
            // A replaced string, array or kvlist is not kept, but prost parsed it: validate it.
            if matches!(old, Any::Str(_) | Any::Array(_) | Any::Kvlist(_)) {
                discard(old, budget)?;
            }
        }
        Ok(())
    }

    /// The model value of an `AnyValue` whose fields had nesting budget `budget`.
    fn finish(&mut self, any: Any<'_>, budget: u32, depth: usize) -> Result<AttrValue, WireError> {
        // Array and kvlist chunks were only recorded after `nest` succeeded, so budget ≥ 1.
        let inner = budget.saturating_sub(1);
        Ok(match any {
            Any::None | Any::Strindex => AttrValue::Empty,
            Any::Str(b) => {
                bounds::str_value_utf8(b, self.it).map_err(|e| utf8_error(b, e, STRING_VALUE))?
            }
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

/// Slots of a request's key cache ([`Decoder::keys`]).
pub(super) const KEY_SLOTS: usize = 256;

/// The key cache slot of a key's bytes: cheap to compute (length, first, middle and last
/// byte), spread enough for the few dozen keys of a request.
#[inline(always)]
fn key_slot(b: &[u8]) -> usize {
    let n = b.len();
    let (first, mid, last) = match b {
        [] => (0, 0, 0),
        _ => (b[0], b[n / 2], b[n - 1]),
    };
    let h = (n as u32)
        .wrapping_mul(0x9e37_79b9)
        .wrapping_add(u32::from(first).wrapping_mul(0x85eb_ca6b))
        .wrapping_add(u32::from(mid).wrapping_mul(0xc2b2_ae35))
        .wrapping_add(u32::from(last).wrapping_mul(0x27d4_eb2f));
    (h >> 24) as usize % KEY_SLOTS
}

/// The interned copy of a `KeyValue`'s key, or the error for a key that is not UTF-8.
fn intern_key(it: &mut Interner, name: &[u8]) -> Result<Text, WireError> {
    it.get_utf8(name)
        .map_err(|e| utf8_error(name, e, KEY_FIELD))
}

/// Field number of `KeyValue.key`.
const KEY_FIELD: u32 = 1;
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
