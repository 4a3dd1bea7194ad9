//! Attribute values and bounded attribute lists, decoded from OTLP `KeyValue`s.

use std::sync::Arc;

/// Most attributes kept on one span, resource, event or link; the rest are counted as dropped.
pub const MAX_ATTRIBUTES: usize = 128;
/// Longest string value kept, in bytes; longer values are cut at a char boundary.
pub const MAX_VALUE_BYTES: usize = 4096;

/// One attribute value (OTLP `AnyValue`).
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// A UTF-8 string.
    Str(Arc<str>),
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
    /// The value as a string slice when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an integer: integers, integral doubles and numeric strings.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttrValue::Int(i) => Some(*i),
            AttrValue::Double(d) if d.fract() == 0.0 && d.is_finite() => Some(*d as i64),
            AttrValue::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A display form (strings unquoted) for keys, labels and reports.
    pub fn to_display(&self) -> String {
        match self {
            AttrValue::Str(s) => s.to_string(),
            AttrValue::Int(i) => i.to_string(),
            AttrValue::Double(d) => d.to_string(),
            AttrValue::Bool(b) => b.to_string(),
            AttrValue::Bytes(b) => hex::encode(b),
            AttrValue::Array(a) => {
                let parts: Vec<String> = a.iter().map(AttrValue::to_display).collect();
                format!("[{}]", parts.join(","))
            }
            AttrValue::Map(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|kv| format!("{}={}", kv.key, kv.value.to_display()))
                    .collect();
                format!("{{{}}}", parts.join(","))
            }
            AttrValue::Empty => String::new(),
        }
    }
}

/// One attribute: an interned key and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    /// Attribute name, e.g. `server.address`.
    pub key: Arc<str>,
    /// Attribute value.
    pub value: AttrValue,
}

/// The key sequence of an attribute list, shared by every list with the same keys in the same
/// order (spans of one kind from one instrumentation repeat their keys).
pub type KeySet = Arc<[Arc<str>]>;

/// One attribute as a list yields it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttrRef<'a> {
    /// Attribute name.
    pub key: &'a str,
    /// Attribute value.
    pub value: &'a AttrValue,
}

/// An immutable, bounded list of attributes with lookup by key. Keys and values are stored apart
/// so lists with the same keys share one key array (24 bytes a value instead of 40 a pair).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributes {
    keys: Option<KeySet>,
    values: Box<[AttrValue]>,
    dropped: u32,
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
        let values = items.into_iter().map(|kv| kv.value).collect();
        Self::from_parts(keys, values, dropped)
    }

    /// Builds a list from a (shared) key set and its values, which must be as many as the keys
    /// (extra values or keys are cut to the shorter, and both to [`MAX_ATTRIBUTES`]).
    pub fn from_parts(keys: KeySet, mut values: Vec<AttrValue>, dropped: u32) -> Self {
        let n = keys.len().min(values.len()).min(MAX_ATTRIBUTES);
        let dropped = dropped.saturating_add((values.len().max(keys.len()) - n) as u32);
        values.truncate(n);
        let keys = if keys.len() == n {
            keys
        } else {
            keys[..n].iter().cloned().collect()
        };
        Attributes {
            keys: (n > 0).then_some(keys),
            values: values.into_boxed_slice(),
            dropped,
        }
    }

    fn keys(&self) -> &[Arc<str>] {
        self.keys.as_deref().unwrap_or(&[])
    }

    /// The value of `key`, if present (first occurrence wins).
    pub fn get(&self, key: &str) -> Option<&AttrValue> {
        self.keys()
            .iter()
            .position(|k| &**k == key)
            .map(|i| &self.values[i])
    }

    /// The string value of `key`, if present and a non-empty string.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key)
            .and_then(AttrValue::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The first non-empty string among `keys` (new semantic-convention name first).
    pub fn first_str(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| self.str(k))
    }

    /// The integer value of the first of `keys` present.
    pub fn first_i64(&self, keys: &[&str]) -> Option<i64> {
        keys.iter()
            .find_map(|k| self.get(k).and_then(AttrValue::as_i64))
    }

    /// All attributes in order.
    pub fn iter(&self) -> impl Iterator<Item = AttrRef<'_>> {
        self.keys()
            .iter()
            .zip(self.values.iter())
            .map(|(k, v)| AttrRef { key: k, value: v })
    }

    /// Number of attributes kept.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no attribute is kept.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Attributes dropped by the sender or by our bound.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Approximate heap bytes held (shared key sets and interned strings are not counted).
    pub fn heap_bytes(&self) -> usize {
        self.values.len() * std::mem::size_of::<AttrValue>()
            + self
                .values
                .iter()
                .map(|v| match v {
                    AttrValue::Str(s) => s.len() + 16,
                    AttrValue::Bytes(b) => b.len() + 16,
                    AttrValue::Array(a) => a.len() * 24 + 16,
                    AttrValue::Map(m) => m.len() * 48 + 16,
                    _ => 0,
                })
                .sum::<usize>()
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
}
