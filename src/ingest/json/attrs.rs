//! Attributes: a `KeyValue` list → the model's list (keys interned, one shared key set), an
//! `AnyValue` → an attribute value, within the bounds `decode_traces` applies. Every entry is
//! read and checked as `otlp_json` reads it, kept or not.

use std::borrow::Cow;
use std::sync::Arc;

use serde::de::{DeserializeSeed, Deserializer};

use super::scalar::{Bool, Lenient, Opt, Str};
use super::{Cx, Fields, List, Src, read, set};
use crate::ingest::bounds::{self, MAX_DEPTH};
use crate::ingest::otlp_json::{bytes_from_base64, scalar_f64, scalar_i64};
use crate::model::attrs::{AttrValue, Attributes, KeySet, KeyValue, MAX_ATTRIBUTES};

/// An attribute list as read: the interned keys of its first [`MAX_ATTRIBUTES`] entries as one
/// shared key set, their values, and how many entries it had.
pub(super) struct AttrsRead {
    keys: KeySet,
    values: Vec<AttrValue>,
    seen: usize,
}

impl AttrsRead {
    /// The list of a struct that had no `attributes` field.
    pub(super) fn absent(cx: &mut Cx) -> Self {
        AttrsRead {
            keys: cx.it.key_set(&[]),
            values: Vec::new(),
            seen: 0,
        }
    }

    /// The model list, with the sender's `dropped` count.
    pub(super) fn finish(self, dropped: u32) -> Attributes {
        bounds::attributes(self.keys, self.values, self.seen, dropped)
    }
}

/// An `attributes` field (`Vec<KeyValue>`).
pub(super) struct AttrsSeed<'c>(pub &'c mut Cx);

impl<'de> DeserializeSeed<'de> for AttrsSeed<'_> {
    type Value = AttrsRead;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<AttrsRead, D::Error> {
        let cx = self.0;
        // The scratch vectors are the context's; a nested list (none in OTLP) would get new ones.
        let mut list = AttrList {
            keys: std::mem::take(&mut cx.keys),
            values: std::mem::take(&mut cx.values),
            seen: 0,
            cx,
        };
        list.keys.clear();
        list.values.clear();
        List(&mut list).deserialize(d)?;
        let AttrList {
            cx,
            mut keys,
            mut values,
            seen,
        } = list;
        let key_set = cx.it.key_set(&keys);
        // Exactly as long as it is, so the boxed slice the model keeps needs no reallocation.
        let mut kept = Vec::with_capacity(values.len());
        kept.append(&mut values);
        keys.clear();
        cx.keys = keys;
        cx.values = values;
        Ok(AttrsRead {
            keys: key_set,
            values: kept,
            seen,
        })
    }
}

struct AttrList<'c> {
    cx: &'c mut Cx,
    keys: Vec<Arc<str>>,
    values: Vec<AttrValue>,
    seen: usize,
}

impl<'de> DeserializeSeed<'de> for &mut AttrList<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let kv = key_value(d, self.cx, 0)?;
        if self.seen < MAX_ATTRIBUTES {
            self.keys.push(kv.key);
            self.values.push(kv.value);
        }
        self.seen += 1;
        Ok(())
    }
}

/// A `KeyValue` whose value sits at nesting `depth` (0 for a top-level attribute).
fn key_value<'de, D: Deserializer<'de>>(
    d: D,
    cx: &mut Cx,
    depth: usize,
) -> Result<KeyValue, D::Error> {
    let mut f = KvFields {
        cx,
        depth,
        key: Cow::Borrowed(""),
        value: None,
    };
    read(d, &mut f)?;
    Ok(KeyValue {
        key: f.cx.it.get(&f.key),
        value: f.value.unwrap_or(AttrValue::Empty),
    })
}

struct KvFields<'c, 'de> {
    cx: &'c mut Cx,
    depth: usize,
    key: Cow<'de, str>,
    value: Option<AttrValue>,
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
    type Value = AttrValue;
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

impl AnyRead<'_, '_> {
    /// The model value: string, bool, int, double, array, kvlist, bytes, in that order of
    /// priority (as `otlp_json` picks the `oneof` member), within the nesting bound.
    fn finish(self) -> AttrValue {
        let nest = self.depth < MAX_DEPTH;
        if let Some(s) = self.string {
            bounds::str_value(&s, &mut self.cx.it)
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
            bounds::bytes_value(&bytes_from_base64(&b))
        } else {
            AttrValue::Empty
        }
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
