//! Scalars as OTLP/JSON senders write them: numbers or strings holding them, ids in hex or
//! base64, `bytesValue` in base64; the conversions are shared with `ingest::json`.

use base64::Engine;
use serde::Deserialize;
use serde::de::{self, Deserializer};

/// A JSON scalar that may be a number or a string holding one.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrStr {
    U(u64),
    I(i64),
    F(f64),
    S(String),
}

impl NumOrStr {
    fn scalar(&self) -> Scalar<'_> {
        match self {
            NumOrStr::U(u) => Scalar::U(*u),
            NumOrStr::I(i) => Scalar::I(*i),
            NumOrStr::F(f) => Scalar::F(*f),
            NumOrStr::S(s) => Scalar::S(s),
        }
    }
}

/// A JSON number as `serde_json` delivers it (`U` for non-negative integers, `I` for negative
/// ones, `F` otherwise), or a string holding one. Shared with `ingest::json`, so both readers
/// convert scalars with the same code.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scalar<'a> {
    /// A non-negative integer.
    U(u64),
    /// A negative integer.
    I(i64),
    /// Any other number.
    F(f64),
    /// A string.
    S(&'a str),
}

/// An unsigned 64-bit field (times, counts).
pub(crate) fn scalar_u64(v: Scalar<'_>) -> Result<u64, String> {
    match v {
        Scalar::U(u) => Ok(u),
        Scalar::I(i) => u64::try_from(i).map_err(|_| format!("negative value {i}")),
        Scalar::F(f) if f >= 0.0 && f.fract() == 0.0 => Ok(f as u64),
        Scalar::F(f) => Err(format!("expected an unsigned integer, got {f}")),
        Scalar::S("") => Ok(0),
        Scalar::S(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("expected an unsigned integer, got \"{s}\"")),
    }
}

/// An unsigned 32-bit field (dropped counts, flags).
pub(crate) fn scalar_u32(v: Scalar<'_>) -> Result<u32, String> {
    let v = scalar_u64(v)?;
    u32::try_from(v).map_err(|_| format!("{v} does not fit in 32 bits"))
}

/// An `intValue`.
pub(crate) fn scalar_i64(v: Scalar<'_>) -> Result<i64, String> {
    match v {
        Scalar::U(u) => i64::try_from(u).map_err(|_| format!("{u} does not fit in int64")),
        Scalar::I(i) => Ok(i),
        Scalar::F(f) if f.fract() == 0.0 => Ok(f as i64),
        Scalar::F(f) => Err(format!("expected an integer, got {f}")),
        Scalar::S(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("expected an integer, got \"{s}\"")),
    }
}

/// A `doubleValue` (`NaN`, `Infinity` and `-Infinity` as proto3 JSON writes them).
pub(crate) fn scalar_f64(v: Scalar<'_>) -> Result<f64, String> {
    match v {
        Scalar::U(u) => Ok(u as f64),
        Scalar::I(i) => Ok(i as f64),
        Scalar::F(f) => Ok(f),
        Scalar::S("NaN") => Ok(f64::NAN),
        Scalar::S("Infinity") => Ok(f64::INFINITY),
        Scalar::S("-Infinity") => Ok(f64::NEG_INFINITY),
        Scalar::S(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("expected a number, got \"{s}\"")),
    }
}

/// Serde `deserialize_with` for an unsigned 64-bit field; `null` is 0.
pub(super) fn num_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Option::<NumOrStr>::deserialize(d)? {
        None => Ok(0),
        Some(n) => scalar_u64(n.scalar()).map_err(de::Error::custom),
    }
}

/// Serde `deserialize_with` for an unsigned 32-bit field; `null` is 0.
pub(super) fn num_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match Option::<NumOrStr>::deserialize(d)? {
        None => Ok(0),
        Some(n) => scalar_u32(n.scalar()).map_err(de::Error::custom),
    }
}

/// Serde `deserialize_with` for an `intValue`.
pub(super) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<NumOrStr>::deserialize(d)? {
        None => Ok(None),
        Some(n) => scalar_i64(n.scalar()).map(Some).map_err(de::Error::custom),
    }
}

/// Serde `deserialize_with` for a `doubleValue`.
pub(super) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match Option::<NumOrStr>::deserialize(d)? {
        None => Ok(None),
        Some(n) => scalar_f64(n.scalar()).map(Some).map_err(de::Error::custom),
    }
}

/// Trace and span ids: hex per OTLP/JSON; base64 (proto3 JSON's bytes mapping) also accepted
/// when the hex reading fails. Empty is empty.
pub(crate) fn id_from_str(s: &str) -> Result<Vec<u8>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    if let Ok(b) = hex::decode(s) {
        return Ok(b);
    }
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| format!("id \"{s}\" is neither hex nor base64"))
}

/// Serde `deserialize_with` for a trace or span id (see [`id_from_str`]).
pub(super) fn id_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s = Option::<String>::deserialize(d)?.unwrap_or_default();
    id_from_str(&s).map_err(de::Error::custom)
}

/// A `bytesValue`: base64, or empty when it is not base64.
pub(crate) fn bytes_from_base64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_default()
}
