//! Seeds for JSON scalars, each accepting exactly what the matching `otlp_json` field accepts:
//! strings (borrowed when unescaped), optional strings and booleans, lenient numbers and enums
//! (through `otlp_json`'s own conversions), and ids.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

use super::strict_str;
use crate::ingest::otlp_json::{self, EnumNames, Scalar};

/// A JSON string (serde's `String`), borrowed from the input unless it had escapes.
pub(super) struct Str;

impl<'de> DeserializeSeed<'de> for Str {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Str {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        std::str::from_utf8(v)
            .map(|s| Cow::Owned(s.to_owned()))
            .map_err(|_| de::Error::invalid_value(de::Unexpected::Bytes(v), &self))
    }
}

/// A JSON boolean.
pub(super) struct Bool;

impl<'de> DeserializeSeed<'de> for Bool {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_bool(self)
    }
}

impl<'de> Visitor<'de> for Bool {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
}

/// `Option<T>` (serde's): `null` is `None`, anything else is read by the inner seed.
pub(super) struct Opt<S>(pub S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Opt<S> {
    type Value = Option<S::Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Opt<S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an optional value")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(d).map(Some)
    }
}

/// A lenient number (`otlp_json`'s `Option<NumOrStr>`): `null`, a JSON number or a string,
/// converted by one of `otlp_json`'s `scalar_*` functions. `None` for `null`.
pub(super) struct Lenient<T>(pub fn(Scalar<'_>) -> Result<T, String>);

impl<'de, T> DeserializeSeed<'de> for Lenient<T> {
    type Value = Option<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, T> Visitor<'de> for Lenient<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, or a string holding one")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(Num(self.0)).map(Some)
    }
}

/// The value of a [`Lenient`]: what serde's untagged `NumOrStr { U(u64), I(i64), F(f64),
/// S(String) }` would hold, tried in that order, converted.
struct Num<T>(fn(Scalar<'_>) -> Result<T, String>);

impl<T> Num<T> {
    fn convert<E: de::Error>(self, v: Scalar<'_>) -> Result<T, E> {
        (self.0)(v).map_err(E::custom)
    }
}

impl<'de, T> Visitor<'de> for Num<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, or a string holding one")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.convert(Scalar::U(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        // Serde's `u64` accepts a non-negative `i64`, so the untagged enum's `U` would take it.
        match u64::try_from(v) {
            Ok(u) => self.convert(Scalar::U(u)),
            Err(_) => self.convert(Scalar::I(v)),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        self.convert(Scalar::F(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        self.convert(Scalar::S(v))
    }
}

/// An enum (`otlp_json`'s `Option<EnumRepr { N(i64), S(String) }>`): a number or a name; 0 for
/// `null`.
pub(super) struct Enum(pub &'static EnumNames);

impl<'de> DeserializeSeed<'de> for Enum {
    type Value = i32;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<i32, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Enum {
    type Value = i32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an enum number or name")
    }

    fn visit_none<E: de::Error>(self) -> Result<i32, E> {
        Ok(0)
    }

    fn visit_unit<E: de::Error>(self) -> Result<i32, E> {
        Ok(0)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<i32, D::Error> {
        d.deserialize_any(EnumValue(self.0))
    }
}

struct EnumValue(&'static EnumNames);

impl<'de> Visitor<'de> for EnumValue {
    type Value = i32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an enum number or name")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i32, E> {
        // Serde's `i64` takes a `u64` up to `i64::MAX`; past it no variant matches.
        let n = i64::try_from(v).map_err(|_| E::custom(format!("enum value {v} out of range")))?;
        otlp_json::enum_from(Ok(n), self.0).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i32, E> {
        otlp_json::enum_from(Ok(v), self.0).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i32, E> {
        otlp_json::enum_from(Err(v), self.0).map_err(E::custom)
    }
}

/// Id bytes as read: up to 16 in place (every valid trace or span id), more on the heap.
#[derive(Default)]
pub(super) struct Id {
    small: [u8; 16],
    len: u8,
    heap: Option<Vec<u8>>,
}

impl Id {
    /// The bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        match &self.heap {
            Some(v) => v,
            None => &self.small[..usize::from(self.len)],
        }
    }

    /// Hex of up to 16 bytes, decoded in place (every valid trace or span id).
    fn hex(v: &[u8]) -> Option<Id> {
        let mut id = Id::default();
        let n = v.len() / 2;
        (v.len().is_multiple_of(2)
            && n <= id.small.len()
            && hex::decode_to_slice(v, &mut id.small[..n]).is_ok())
        .then(|| {
            id.len = n as u8;
            id
        })
    }
}

/// A trace, span or parent id (`otlp_json`'s `id_bytes`): `null` or a hex (else base64)
/// string.
pub(super) struct IdSeed;

impl<'de> DeserializeSeed<'de> for IdSeed {
    type Value = Id;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Id, D::Error> {
        Ok(d.deserialize_option(Opt(IdStr))?.unwrap_or_default())
    }
}

struct IdStr;

impl<'de> DeserializeSeed<'de> for IdStr {
    type Value = Id;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Id, D::Error> {
        // Raw bytes: hex ids need no UTF-8 check (see `Key` in the parent module).
        d.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for IdStr {
    type Value = Id;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a hex or base64 id")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Id, E> {
        // Hex is ASCII: the strict reading would have given the same string.
        if let Some(id) = Id::hex(v) {
            return Ok(id);
        }
        // Anything else as `otlp_json` reads it. A control character, escaped or not, is
        // neither hex nor base64, so refusing it here is what the reference ends up doing.
        let s = strict_str(v)?;
        Ok(Id {
            heap: Some(otlp_json::id_from_str(s).map_err(E::custom)?),
            ..Id::default()
        })
    }
}
