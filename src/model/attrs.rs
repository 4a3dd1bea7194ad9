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

/// An immutable, bounded list of attributes with lookup by key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributes {
    items: Box<[KeyValue]>,
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
        Attributes {
            items: items.into_boxed_slice(),
            dropped,
        }
    }

    /// The value of `key`, if present (first occurrence wins).
    pub fn get(&self, key: &str) -> Option<&AttrValue> {
        self.items
            .iter()
            .find(|kv| &*kv.key == key)
            .map(|kv| &kv.value)
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
    pub fn iter(&self) -> impl Iterator<Item = &KeyValue> {
        self.items.iter()
    }

    /// Number of attributes kept.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no attribute is kept.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Attributes dropped by the sender or by our bound.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Approximate heap bytes held (keys are interned and not counted).
    pub fn heap_bytes(&self) -> usize {
        self.items.len() * std::mem::size_of::<KeyValue>()
            + self
                .items
                .iter()
                .map(|kv| match &kv.value {
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
