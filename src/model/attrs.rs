//! Attribute values and bounded attribute lists, decoded from OTLP `KeyValue`s.
//!
//! A list ([`Attributes`]) is one heap block: a shared key sequence ([`KeySet`]) and the values
//! packed after it (`blob`). Short or unique strings sit in the block itself; strings seen
//! repeatedly are shared [`Text`]s, stored as one pointer. Lookups hand out borrowed
//! [`Value`]s; [`AttrValue`] is the owned form, for building lists and for nested arrays and
//! maps.

mod blob;
mod known;

use std::sync::Arc;

pub use arcstr::ArcStr as Text;

pub use blob::AttrsBuilder;
pub use known::{Indexed, KNOWN, Lookup, PositionCache, Positions};

/// Most attributes kept on one span, resource, event or link; the rest are counted as dropped.
pub const MAX_ATTRIBUTES: usize = 128;
/// Longest string value kept, in bytes; longer values are cut at a char boundary.
pub const MAX_VALUE_BYTES: usize = 4096;

/// One attribute value, owned (OTLP `AnyValue`).
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// A UTF-8 string.
    Str(Text),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float.
    Double(f64),
    /// A boolean.
    Bool(bool),
    /// Raw bytes.
    Bytes(Arc<[u8]>),
    /// An array of values.
    Array(Arc<[AttrValue]>),
    /// A nested key-value list.
    Map(Arc<[KeyValue]>),
    /// An `AnyValue` with nothing set.
    Empty,
}

impl AttrValue {
    /// The borrowed view of this value.
    pub fn as_value(&self) -> Value<'_> {
        match self {
            AttrValue::Str(s) => Value::Str(s),
            AttrValue::Int(i) => Value::Int(*i),
            AttrValue::Double(d) => Value::Double(*d),
            AttrValue::Bool(b) => Value::Bool(*b),
            AttrValue::Bytes(b) => Value::Bytes(b),
            AttrValue::Array(a) => Value::Array(a),
            AttrValue::Map(m) => Value::Map(m),
            AttrValue::Empty => Value::Empty,
        }
    }

    /// The value as a string slice when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        self.as_value().as_str()
    }

    /// The value as an integer: integers, integral doubles and numeric strings.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_value().as_i64()
    }

    /// A display form (strings unquoted) for keys, labels and reports.
    pub fn to_display(&self) -> String {
        self.as_value().to_display()
    }
}

/// One attribute value as a list hands it out: borrowed from the list.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// A UTF-8 string.
    Str(&'a str),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float.
    Double(f64),
    /// A boolean.
    Bool(bool),
    /// Raw bytes.
    Bytes(&'a [u8]),
    /// An array of values.
    Array(&'a [AttrValue]),
    /// A nested key-value list.
    Map(&'a [KeyValue]),
    /// An `AnyValue` with nothing set.
    Empty,
}

impl<'a> Value<'a> {
    /// The value as a string slice when it is a string.
    pub fn as_str(self) -> Option<&'a str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an integer: integers, integral doubles and numeric strings.
    pub fn as_i64(self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(i),
            Value::Double(d) if d.fract() == 0.0 && d.is_finite() => Some(d as i64),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a boolean when it is one.
    pub fn as_bool(self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// An owned copy.
    pub fn to_owned_value(self) -> AttrValue {
        match self {
            Value::Str(s) => AttrValue::Str(s.into()),
            Value::Int(i) => AttrValue::Int(i),
            Value::Double(d) => AttrValue::Double(d),
            Value::Bool(b) => AttrValue::Bool(b),
            Value::Bytes(b) => AttrValue::Bytes(b.into()),
            Value::Array(a) => AttrValue::Array(a.into()),
            Value::Map(m) => AttrValue::Map(m.into()),
            Value::Empty => AttrValue::Empty,
        }
    }

    /// A display form (strings unquoted) for keys, labels and reports.
    pub fn to_display(self) -> String {
        match self {
            Value::Str(s) => s.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Double(d) => d.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Bytes(b) => hex::encode(b),
            Value::Array(a) => {
                let parts: Vec<String> = a.iter().map(AttrValue::to_display).collect();
                format!("[{}]", parts.join(","))
            }
            Value::Map(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|kv| format!("{}={}", kv.key, kv.value.to_display()))
                    .collect();
                format!("{{{}}}", parts.join(","))
            }
            Value::Empty => String::new(),
        }
    }
}

/// One attribute, owned: a key and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    /// Attribute name, e.g. `server.address`.
    pub key: Text,
    /// Attribute value.
    pub value: AttrValue,
}

/// The key sequence of an attribute list, shared by every list with the same keys in the same
/// order (spans of one kind from one instrumentation repeat their keys).
pub type KeySet = Arc<[Text]>;

/// One attribute as a list yields it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttrRef<'a> {
    /// Attribute name.
    pub key: &'a str,
    /// Attribute value.
    pub value: Value<'a>,
}

/// An immutable, bounded list of attributes with lookup by key: one pointer, to one heap block
/// (see the module docs). Empty lists allocate nothing.
#[derive(Default)]
pub struct Attributes {
    raw: blob::Raw,
}

impl Attributes {
    /// Where the list's shared block starts (null for an empty list): for a cache prefetch
    /// hint only, never to read through.
    pub fn block_ptr(&self) -> *const u8 {
        self.raw
            .0
            .map_or(std::ptr::null(), |p| p.as_ptr().cast_const())
    }
}

impl Clone for Attributes {
    fn clone(&self) -> Self {
        Attributes {
            raw: self.raw.clone_block(),
        }
    }
}

impl PartialEq for Attributes {
    fn eq(&self, other: &Self) -> bool {
        self.dropped() == other.dropped()
            && self.len() == other.len()
            && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Attributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for a in self.iter() {
            m.entry(&a.key, &a.value);
        }
        m.finish()?;
        if self.dropped() > 0 {
            write!(f, " (+{} dropped)", self.dropped())?;
        }
        Ok(())
    }
}

impl Attributes {
    /// Builds a list, keeping at most [`MAX_ATTRIBUTES`] and counting the rest as dropped.
    pub fn new(mut items: Vec<KeyValue>, already_dropped: u32) -> Self {
        let mut dropped = already_dropped;
        if items.len() > MAX_ATTRIBUTES {
            dropped = dropped.saturating_add((items.len() - MAX_ATTRIBUTES) as u32);
            items.truncate(MAX_ATTRIBUTES);
        }
        let keys: KeySet = items.iter().map(|kv| kv.key.clone()).collect();
        let mut b = AttrsBuilder::default();
        for kv in &items {
            b.push_value(&kv.value);
        }
        b.finish(keys, dropped)
    }

    /// Builds a list from a (shared) key set and its values, which must be as many as the keys
    /// (extra values or keys are cut to the shorter, and both to [`MAX_ATTRIBUTES`]).
    pub fn from_parts(keys: KeySet, values: Vec<AttrValue>, dropped: u32) -> Self {
        let mut b = AttrsBuilder::default();
        for v in values.iter().take(keys.len().min(MAX_ATTRIBUTES)) {
            b.push_value(v);
        }
        let n = b.len();
        let extra = (values.len().max(keys.len()) - n) as u32;
        let keys = if keys.len() == n {
            keys
        } else {
            keys[..n].iter().cloned().collect()
        };
        b.finish(keys, dropped.saturating_add(extra))
    }

    /// The keys, in order.
    #[inline]
    pub fn keys(&self) -> &[Text] {
        self.raw.keys()
    }

    /// The shared key set (`keys` as the `Arc` lists of the same keys share).
    pub fn key_set(&self) -> KeySet {
        self.raw.key_set()
    }

    /// The value of `key`, if present (first occurrence wins).
    #[inline]
    pub fn get(&self, key: &str) -> Option<Value<'_>> {
        let i = self.keys().iter().position(|k| k.as_str() == key)?;
        self.raw.values().nth(i)
    }

    /// The value at position `i` (as [`Attributes::keys`] counts), if there is one.
    #[inline]
    pub fn value_at(&self, i: usize) -> Option<Value<'_>> {
        self.raw.values().nth(i)
    }

    /// The string value of `key`, if present and a non-empty string.
    #[inline]
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The first non-empty string among `keys` (new semantic-convention name first).
    #[inline]
    pub fn first_str(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| self.str(k))
    }

    /// The integer value of the first of `keys` present.
    #[inline]
    pub fn first_i64(&self, keys: &[&str]) -> Option<i64> {
        keys.iter()
            .find_map(|k| self.get(k).and_then(Value::as_i64))
    }

    /// All attributes in order.
    pub fn iter(&self) -> impl Iterator<Item = AttrRef<'_>> {
        self.keys()
            .iter()
            .zip(self.raw.values())
            .map(|(k, v)| AttrRef { key: k, value: v })
    }

    /// Number of attributes kept.
    pub fn len(&self) -> usize {
        self.keys().len()
    }

    /// Whether no attribute is kept.
    pub fn is_empty(&self) -> bool {
        self.keys().is_empty()
    }

    /// Attributes dropped by the sender or by our bound.
    pub fn dropped(&self) -> u32 {
        self.raw.dropped()
    }

    /// Heap bytes of the list's own block (shared key sets and shared strings not counted).
    pub fn heap_bytes(&self) -> usize {
        self.raw.block_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: AttrValue) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: v,
        }
    }

    #[test]
    fn bounds_attribute_count_and_counts_drops() {
        let items = (0..MAX_ATTRIBUTES + 10)
            .map(|i| kv(&format!("k{i}"), AttrValue::Int(i as i64)))
            .collect();
        let a = Attributes::new(items, 2);
        assert_eq!(a.len(), MAX_ATTRIBUTES);
        assert_eq!(a.dropped(), 12);
        assert_eq!(a.get("k127"), Some(Value::Int(127)));
    }

    #[test]
    fn first_str_prefers_earlier_keys_and_skips_empty() {
        let a = Attributes::new(
            vec![
                kv("db.system", AttrValue::Str("mysql".into())),
                kv("db.system.name", AttrValue::Str("".into())),
            ],
            0,
        );
        assert_eq!(a.first_str(&["db.system.name", "db.system"]), Some("mysql"));
        assert_eq!(
            AttrValue::Str(" 42".into()).as_i64(),
            Some(42),
            "numeric strings read as ints"
        );
    }

    #[test]
    fn every_kind_of_value_round_trips_and_clones() {
        let long = "x".repeat(300);
        let values = vec![
            AttrValue::Str("GET".into()),
            AttrValue::Str(long.as_str().into()),
            AttrValue::Int(-7),
            AttrValue::Double(1.5),
            AttrValue::Bool(true),
            AttrValue::Bool(false),
            AttrValue::Bytes(Arc::from(&[1u8, 2, 3][..])),
            AttrValue::Array(Arc::from(vec![
                AttrValue::Int(1),
                AttrValue::Str("a".into()),
            ])),
            AttrValue::Map(Arc::from(vec![kv("k", AttrValue::Int(2))])),
            AttrValue::Empty,
        ];
        let items: Vec<KeyValue> = values
            .iter()
            .enumerate()
            .map(|(i, v)| kv(&format!("k{i}"), v.clone()))
            .collect();
        let a = Attributes::new(items.clone(), 1);
        let b = a.clone();
        drop(a);
        for (i, v) in values.iter().enumerate() {
            assert_eq!(b.get(&format!("k{i}")), Some(v.as_value()), "k{i}");
        }
        assert_eq!(b.dropped(), 1);
        assert_eq!(b, Attributes::new(items, 1));
        assert_eq!(b.iter().count(), values.len());
    }

    #[test]
    fn shared_strings_stay_valid_after_the_original_drops() {
        let shared: Text = Text::from("payments.internal");
        let mut bld = AttrsBuilder::default();
        bld.push_text(shared.clone());
        bld.push_str_inline("10.0.0.1");
        let a = bld.finish(Arc::from(vec![Text::from("a"), Text::from("b")]), 0);
        assert_eq!(Text::strong_count(&shared), Some(2));
        drop(shared);
        assert_eq!(a.str("a"), Some("payments.internal"));
        assert_eq!(a.str("b"), Some("10.0.0.1"));
        let c = a.clone();
        drop(a);
        assert_eq!(c.str("a"), Some("payments.internal"));
    }

    #[test]
    fn a_clone_shares_the_block_and_the_last_owner_frees_it() {
        let shared: Text = Text::from("payments.internal");
        let mut bld = AttrsBuilder::default();
        bld.push_text(shared.clone());
        let a = bld.finish(Arc::from(vec![Text::from("peer")]), 0);
        let b = a.clone();
        let c = b.clone();
        assert_eq!(a.raw.0, c.raw.0, "one block, three owners");
        assert_eq!(
            Text::strong_count(&shared),
            Some(2),
            "the string is not re-counted"
        );
        drop(a);
        drop(c);
        assert_eq!(
            Text::strong_count(&shared),
            Some(2),
            "still owned by the last clone"
        );
        assert_eq!(b.str("peer"), Some("payments.internal"));
        drop(b);
        assert_eq!(
            Text::strong_count(&shared),
            Some(1),
            "released with the block"
        );
    }

    #[test]
    fn dropped_counts_saturate_at_the_block_limit() {
        let a = Attributes::new(vec![kv("k", AttrValue::Int(1))], u32::MAX);
        assert_eq!(a.dropped(), (1 << 24) - 1);
        assert_eq!(a.get("k"), Some(Value::Int(1)));
    }

    #[test]
    fn empty_lists_allocate_nothing_but_keep_drops() {
        assert_eq!(Attributes::default().heap_bytes(), 0);
        let a = Attributes::new(Vec::new(), 3);
        assert!(a.is_empty());
        assert_eq!(a.dropped(), 3);
        assert_eq!(a.get("x"), None);
    }
}
