//! Attributes: a `KeyValue` list → the model's list (keys interned, one shared key set), an
//! `AnyValue` → an attribute value, within the bounds `decode_traces` applies. Every entry is
//! read and checked as `otlp_json` reads it, kept or not.

use std::borrow::Cow;

use serde::de::{DeserializeSeed, Deserializer};

use super::scalar::{Bool, Lenient, Opt, Str};
use super::{Cx, Fields, List, Src, read, set};
use crate::ingest::bounds::{self, MAX_DEPTH};
use crate::ingest::otlp_json::{bytes_from_base64, scalar_f64, scalar_i64};
use crate::model::attrs::{
    AttrValue, Attributes, AttrsBuilder, KeySet, KeyValue, MAX_ATTRIBUTES, Text,
};

/// An attribute list as read: the interned keys of its first [`MAX_ATTRIBUTES`] entries as one
/// shared key set, their values (in a builder), and how many entries it had. It becomes the
/// model's list once the struct's `droppedAttributesCount` is known.
pub(super) struct AttrsRead {
    keys: KeySet,
    b: AttrsBuilder,
    seen: usize,
}

impl AttrsRead {
    /// The list of a struct that had no `attributes` field.
    pub(super) fn absent(cx: &mut Cx) -> Self {
        AttrsRead {
            keys: cx.it.key_set(&[]),
            b: std::mem::take(&mut cx.builder),
            seen: 0,
        }
    }

    /// The model list, with the sender's `dropped` count (the builder goes back to `cx`).
    pub(super) fn finish(mut self, dropped: u32, cx: &mut Cx) -> Attributes {
        let attributes = bounds::attributes(self.keys, &mut self.b, self.seen, dropped);
        cx.builder = self.b;
        attributes
    }
}

/// An `attributes` field (`Vec<KeyValue>`).
pub(super) struct AttrsSeed<'c>(pub &'c mut Cx);

impl<'de> DeserializeSeed<'de> for AttrsSeed<'_> {
    type Value = AttrsRead;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<AttrsRead, D::Error> {
        let cx = self.0;
        // The scratch is the context's; a list read while another is pending gets a new one.
        let mut list = AttrList {
            keys: std::mem::take(&mut cx.keys),
            b: std::mem::take(&mut cx.builder),
            seen: 0,
            cx,
        };
        list.keys.clear();
        list.b.clear();
        List(&mut list).deserialize(d)?;
        let AttrList {
            cx,
            mut keys,
            b,
            seen,
        } = list;
        let key_set = cx.it.key_set(&keys);
        keys.clear();
        cx.keys = keys;
        Ok(AttrsRead {
            keys: key_set,
            b,
            seen,
        })
    }
}

struct AttrList<'c> {
    cx: &'c mut Cx,
    keys: Vec<Text>,
    b: AttrsBuilder,
    seen: usize,
}

impl<'de> DeserializeSeed<'de> for &mut AttrList<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let mut f = KvFields::new(&mut *self.cx, 0);
        read(d, &mut f)?;
        if self.seen < MAX_ATTRIBUTES {
            let KvFields { cx, key, value, .. } = f;
            self.keys.push(cx.it.get(&key));
            // As `decode_traces` stores a top-level value: strings and bytes in the list.
            match value {
                Some(Made::Str(s)) => cx.it.value(&s).push(&mut self.b),
                Some(Made::Bytes(v)) => self.b.push_bytes(bounds::bytes_kept(&v)),
                Some(Made::Value(v)) => self.b.push_nested(v),
                None => self.b.push_empty(),
            }
        }
        self.seen += 1;
        Ok(())
    }
}

/// A `KeyValue` whose value sits at nesting `depth` (inside an array or kvlist value).
fn key_value<'de, D: Deserializer<'de>>(
    d: D,
    cx: &mut Cx,
    depth: usize,
) -> Result<KeyValue, D::Error> {
    let mut f = KvFields::new(cx, depth);
    read(d, &mut f)?;
    let KvFields { cx, key, value, .. } = f;
    Ok(KeyValue {
        key: cx.it.get(&key),
        value: value.map_or(AttrValue::Empty, |v| v.owned(cx)),
    })
}

/// The value of an `AnyValue`, before it is stored: strings and bytes still as read.
enum Made<'de> {
    Str(Cow<'de, str>),
    Bytes(Vec<u8>),
    Value(AttrValue),
}

impl Made<'_> {
    /// The owned model value (nested values).
    fn owned(self, cx: &mut Cx) -> AttrValue {
        match self {
            Made::Str(s) => bounds::str_value(&s, &mut cx.it),
            Made::Bytes(v) => bounds::bytes_value(&v),
            Made::Value(v) => v,
        }
    }
}

struct KvFields<'c, 'de> {
    cx: &'c mut Cx,
    depth: usize,
    key: Cow<'de, str>,
    value: Option<Made<'de>>,
}

impl<'c> KvFields<'c, '_> {
    fn new(cx: &'c mut Cx, depth: usize) -> Self {
        KvFields {
            cx,
            depth,
            key: Cow::Borrowed(""),
            value: None,
        }
    }
}

impl<'de> Fields<'de> for KvFields<'_, 'de> {
    const FIELDS: &'static [&'static str] = &["key", "value"];

    fn index(key: &[u8]) -> Option<usize> {
        match key {
            b"key" => Some(0),
            b"value" => Some(1),
            _ => None,
        }
    }

    fn field<S: Src<'de>>(&mut self, i: usize, src: &mut S) -> Result<bool, S::Error> {
        Ok(match i {
            0 => set(&mut self.key, src.value(Str)?),
            _ => {
                let seed = Opt(AnyValueSeed {
                    cx: &mut *self.cx,
                    depth: self.depth,
                });
                set(&mut self.value, src.value(seed)?)
            }
        })
    }
}

/// An `AnyValue` at nesting `depth`.
struct AnyValueSeed<'c> {
    cx: &'c mut Cx,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for AnyValueSeed<'_> {
    type Value = Made<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let mut f = AnyRead {
            cx: self.cx,
            depth: self.depth,
            string: None,
            boolean: None,
            int: None,
            double: None,
            array: None,
            kvlist: None,
            bytes: None,
        };
        read(d, &mut f)?;
        Ok(f.finish())
    }
}

/// The members of an `AnyValue` as read (each may be present; the first by priority wins).
struct AnyRead<'c, 'de> {
    cx: &'c mut Cx,
    depth: usize,
    string: Option<Cow<'de, str>>,
    boolean: Option<bool>,
    int: Option<i64>,
    double: Option<f64>,
    array: Option<Vec<AttrValue>>,
    kvlist: Option<Vec<KeyValue>>,
    bytes: Option<Cow<'de, str>>,
}

impl<'de> AnyRead<'_, 'de> {
    /// The value: string, bool, int, double, array, kvlist, bytes, in that order of priority
    /// (as `otlp_json` picks the `oneof` member), within the nesting bound.
    fn finish(self) -> Made<'de> {
        let nest = self.depth < MAX_DEPTH;
        Made::Value(if let Some(s) = self.string {
            return Made::Str(s);
        } else if let Some(b) = self.boolean {
            AttrValue::Bool(b)
        } else if let Some(i) = self.int {
            AttrValue::Int(i)
        } else if let Some(d) = self.double {
            AttrValue::Double(d)
        } else if let Some(a) = self.array {
            if nest {
                AttrValue::Array(a.into())
            } else {
                AttrValue::Empty
            }
        } else if let Some(kv) = self.kvlist {
            if nest {
                AttrValue::Map(kv.into())
            } else {
                AttrValue::Empty
            }
        } else if let Some(b) = self.bytes {
            return Made::Bytes(bytes_from_base64(&b));
        } else {
            AttrValue::Empty
        })
    }
}

impl<'de> Fields<'de> for AnyRead<'_, 'de> {
    const FIELDS: &'static [&'static str] = &[
        "stringValue",
        "boolValue",
        "intValue",
        "doubleValue",
        "arrayValue",
        "kvlistValue",
        "bytesValue",
    ];

    fn index(key: &[u8]) -> Option<usize> {
        match key {
            b"stringValue" | b"string_value" => Some(0),
            b"boolValue" | b"bool_value" => Some(1),
            b"intValue" | b"int_value" => Some(2),
            b"doubleValue" | b"double_value" => Some(3),
            b"arrayValue" | b"array_value" => Some(4),
            b"kvlistValue" | b"kvlist_value" => Some(5),
            b"bytesValue" | b"bytes_value" => Some(6),
            _ => None,
        }
    }

    fn field<S: Src<'de>>(&mut self, i: usize, src: &mut S) -> Result<bool, S::Error> {
        let (cx, depth) = (&mut *self.cx, self.depth);
        Ok(match i {
            0 => set(&mut self.string, src.value(Opt(Str))?),
            1 => set(&mut self.boolean, src.value(Opt(Bool))?),
            2 => set(&mut self.int, src.value(Lenient(scalar_i64))?),
            3 => set(&mut self.double, src.value(Lenient(scalar_f64))?),
            4 => set(&mut self.array, src.value(Opt(ValuesSeed { cx, depth }))?),
            5 => set(&mut self.kvlist, src.value(Opt(KvListSeed { cx, depth }))?),
            _ => set(&mut self.bytes, src.value(Opt(Str))?),
        })
    }
}

/// An `ArrayValue` (`{"values": [AnyValue…]}`) whose elements sit at `depth + 1`: the first
/// [`MAX_ATTRIBUTES`] elements kept.
struct ValuesSeed<'c> {
    cx: &'c mut Cx,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValuesSeed<'_> {
    type Value = Vec<AttrValue>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let mut f = Wrapper(Elements {
            cx: self.cx,
            depth: self.depth + 1,
            kept: Vec::new(),
        });
        read(d, &mut f)?;
        Ok(f.0.kept)
    }
}

/// A `KeyValueList` (`{"values": [KeyValue…]}`) whose values sit at `depth + 1`: the first
/// [`MAX_ATTRIBUTES`] entries kept.
struct KvListSeed<'c> {
    cx: &'c mut Cx,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for KvListSeed<'_> {
    type Value = Vec<KeyValue>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let mut f = Wrapper(Elements {
            cx: self.cx,
            depth: self.depth + 1,
            kept: Vec::new(),
        });
        read(d, &mut f)?;
        Ok(f.0.kept)
    }
}

/// The elements of an `ArrayValue` (`T` = [`AttrValue`]) or `KeyValueList` (`T` =
/// [`KeyValue`]) at nesting `depth`.
struct Elements<'c, T> {
    cx: &'c mut Cx,
    depth: usize,
    kept: Vec<T>,
}

/// `ArrayValue` and `KeyValueList`: a struct with one field, `values`.
struct Wrapper<E>(E);

impl<'de, E> Fields<'de> for Wrapper<E>
where
    for<'a> &'a mut E: DeserializeSeed<'de, Value = ()>,
{
    const FIELDS: &'static [&'static str] = &["values"];

    fn index(key: &[u8]) -> Option<usize> {
        (key == b"values").then_some(0)
    }

    fn field<S: Src<'de>>(&mut self, _: usize, src: &mut S) -> Result<bool, S::Error> {
        Ok(src.value(List(&mut self.0))?.is_some())
    }
}

impl<'de> DeserializeSeed<'de> for &mut Elements<'_, AttrValue> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let seed = AnyValueSeed {
            cx: &mut *self.cx,
            depth: self.depth,
        };
        let v = seed.deserialize(d)?;
        if self.kept.len() < MAX_ATTRIBUTES {
            let v = v.owned(self.cx);
            self.kept.push(v);
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for &mut Elements<'_, KeyValue> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let kv = key_value(d, self.cx, self.depth)?;
        if self.kept.len() < MAX_ATTRIBUTES {
            self.kept.push(kv);
        }
        Ok(())
    }
}
