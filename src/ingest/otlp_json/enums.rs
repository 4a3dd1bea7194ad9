//! OTLP enums (`SpanKind`, `Status.StatusCode`) as numbers or names; `enum_from` is shared with
//! `ingest::json`.

use serde::Deserialize;
use serde::de::{self, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum EnumRepr {
    N(i64),
    S(String),
}

/// An enum value as sent: a number, or a name with or without its prefix (any case), or a string
/// holding the number.
pub(crate) fn enum_from(n: Result<i64, &str>, e: &EnumNames) -> Result<i32, String> {
    match n {
        Ok(n) => i32::try_from(n).map_err(|_| format!("enum value {n} out of range")),
        Err(s) => {
            let short = s.strip_prefix(e.prefix).unwrap_or(s);
            e.names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(short))
                .map(|p| p as i32)
                .or_else(|| s.parse().ok())
                .ok_or_else(|| format!("unknown enum value \"{s}\""))
        }
    }
}

/// The names of an OTLP enum's values, by number, and their common prefix.
pub(crate) struct EnumNames {
    prefix: &'static str,
    names: &'static [&'static str],
}

/// `SpanKind`.
pub(crate) const SPAN_KIND: EnumNames = EnumNames {
    prefix: "SPAN_KIND_",
    names: &[
        "UNSPECIFIED",
        "INTERNAL",
        "SERVER",
        "CLIENT",
        "PRODUCER",
        "CONSUMER",
    ],
};

/// `Status.StatusCode`.
pub(crate) const STATUS_CODE: EnumNames = EnumNames {
    prefix: "STATUS_CODE_",
    names: &["UNSET", "OK", "ERROR"],
};

/// An enum field; `null` is 0.
fn enum_value<'de, D: Deserializer<'de>>(d: D, e: &EnumNames) -> Result<i32, D::Error> {
    match Option::<EnumRepr>::deserialize(d)? {
        None => Ok(0),
        Some(EnumRepr::N(n)) => enum_from(Ok(n), e).map_err(de::Error::custom),
        Some(EnumRepr::S(s)) => enum_from(Err(&s), e).map_err(de::Error::custom),
    }
}

/// Serde `deserialize_with` for a span's `kind`.
pub(super) fn span_kind<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    enum_value(d, &SPAN_KIND)
}

/// Serde `deserialize_with` for a status's `code`.
pub(super) fn status_code<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    enum_value(d, &STATUS_CODE)
}
