//! OTLP/JSON → OTLP protobuf types, leniently.
//!
//! `opentelemetry-proto`'s serde derive is strict in ways real senders are not (enum names such as
//! `"SPAN_KIND_CLIENT"`, base64 ids from proto3-JSON encoders, snake_case field names, `NaN` doubles
//! as strings), so traces are read through these mirror types, written by hand for that leniency.
//! What OTLP/JSON allows that is accepted here: hex (or base64) ids, enums as integers or names,
//! 64-bit integers as strings or numbers, lowerCamelCase or original field names, unknown fields.
//! Metrics and logs go through the crate's own serde, which accepts what the SDKs and Collector
//! send.

use base64::Engine;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::resource::v1 as pr;
use opentelemetry_proto::tonic::trace::v1 as pt;
use serde::Deserialize;
use serde::de::{self, Deserializer};

/// Parses an OTLP/JSON `ExportTraceServiceRequest` (also a Collector `file` exporter line).
pub fn parse_traces(bytes: &[u8]) -> Result<ExportTraceServiceRequest, serde_json::Error> {
    let req: JTraces = serde_json::from_slice(bytes)?;
    Ok(req.into_proto())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JTraces {
    #[serde(alias = "resource_spans")]
    #[serde(rename = "resourceSpans")]
    resource_spans: Vec<JResourceSpans>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JResourceSpans {
    resource: Option<JResource>,
    #[serde(alias = "scope_spans", alias = "instrumentationLibrarySpans")]
    scope_spans: Vec<JScopeSpans>,
    #[serde(alias = "schema_url")]
    schema_url: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JResource {
    attributes: Vec<JKeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "num_u32")]
    dropped_attributes_count: u32,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JScopeSpans {
    #[serde(alias = "instrumentationLibrary")]
    scope: Option<JScope>,
    spans: Vec<JSpan>,
    #[serde(alias = "schema_url")]
    schema_url: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JScope {
    name: String,
    version: String,
    attributes: Vec<JKeyValue>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JSpan {
    #[serde(alias = "trace_id", deserialize_with = "id_bytes")]
    trace_id: Vec<u8>,
    #[serde(alias = "span_id", deserialize_with = "id_bytes")]
    span_id: Vec<u8>,
    #[serde(alias = "trace_state")]
    trace_state: String,
    #[serde(alias = "parent_span_id", deserialize_with = "id_bytes")]
    parent_span_id: Vec<u8>,
    #[serde(deserialize_with = "num_u32")]
    flags: u32,
    name: String,
    #[serde(deserialize_with = "span_kind")]
    kind: i32,
    #[serde(alias = "start_time_unix_nano", deserialize_with = "num_u64")]
    start_time_unix_nano: u64,
    #[serde(alias = "end_time_unix_nano", deserialize_with = "num_u64")]
    end_time_unix_nano: u64,
    attributes: Vec<JKeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "num_u32")]
    dropped_attributes_count: u32,
    events: Vec<JEvent>,
    #[serde(alias = "dropped_events_count", deserialize_with = "num_u32")]
    dropped_events_count: u32,
    links: Vec<JLink>,
    #[serde(alias = "dropped_links_count", deserialize_with = "num_u32")]
    dropped_links_count: u32,
    status: Option<JStatus>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JEvent {
    #[serde(alias = "time_unix_nano", deserialize_with = "num_u64")]
    time_unix_nano: u64,
    name: String,
    attributes: Vec<JKeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "num_u32")]
    dropped_attributes_count: u32,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JLink {
    #[serde(alias = "trace_id", deserialize_with = "id_bytes")]
    trace_id: Vec<u8>,
    #[serde(alias = "span_id", deserialize_with = "id_bytes")]
    span_id: Vec<u8>,
    #[serde(alias = "trace_state")]
    trace_state: String,
    attributes: Vec<JKeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "num_u32")]
    dropped_attributes_count: u32,
    #[serde(deserialize_with = "num_u32")]
    flags: u32,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JStatus {
    message: String,
    #[serde(deserialize_with = "status_code")]
    code: i32,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JKeyValue {
    key: String,
    value: Option<JAnyValue>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JAnyValue {
    #[serde(alias = "string_value")]
    string_value: Option<String>,
    #[serde(alias = "bool_value")]
    bool_value: Option<bool>,
    #[serde(alias = "int_value", deserialize_with = "opt_i64")]
    int_value: Option<i64>,
    #[serde(alias = "double_value", deserialize_with = "opt_f64")]
    double_value: Option<f64>,
    #[serde(alias = "array_value")]
    array_value: Option<JArray>,
    #[serde(alias = "kvlist_value")]
    kvlist_value: Option<JKvList>,
    #[serde(alias = "bytes_value")]
    bytes_value: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JArray {
    values: Vec<JAnyValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JKvList {
    values: Vec<JKeyValue>,
}

impl JTraces {
    fn into_proto(self) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: self
                .resource_spans
                .into_iter()
                .map(JResourceSpans::into_proto)
                .collect(),
        }
    }
}

impl JResourceSpans {
    fn into_proto(self) -> pt::ResourceSpans {
        pt::ResourceSpans {
            resource: self.resource.map(|r| pr::Resource {
                attributes: kvs(r.attributes),
                dropped_attributes_count: r.dropped_attributes_count,
                entity_refs: Vec::new(),
            }),
            scope_spans: self
                .scope_spans
                .into_iter()
                .map(|ss| pt::ScopeSpans {
                    scope: ss.scope.map(|s| pc::InstrumentationScope {
                        name: s.name,
                        version: s.version,
                        attributes: kvs(s.attributes),
                        dropped_attributes_count: 0,
                    }),
                    spans: ss.spans.into_iter().map(JSpan::into_proto).collect(),
                    schema_url: ss.schema_url,
                })
                .collect(),
            schema_url: self.schema_url,
        }
    }
}

impl JSpan {
    fn into_proto(self) -> pt::Span {
        pt::Span {
            trace_id: self.trace_id,
            span_id: self.span_id,
            trace_state: self.trace_state,
            parent_span_id: self.parent_span_id,
            flags: self.flags,
            name: self.name,
            kind: self.kind,
            start_time_unix_nano: self.start_time_unix_nano,
            end_time_unix_nano: self.end_time_unix_nano,
            attributes: kvs(self.attributes),
            dropped_attributes_count: self.dropped_attributes_count,
            events: self
                .events
                .into_iter()
                .map(|e| pt::span::Event {
                    time_unix_nano: e.time_unix_nano,
                    name: e.name,
                    attributes: kvs(e.attributes),
                    dropped_attributes_count: e.dropped_attributes_count,
                })
                .collect(),
            dropped_events_count: self.dropped_events_count,
            links: self
                .links
                .into_iter()
                .map(|l| pt::span::Link {
                    trace_id: l.trace_id,
                    span_id: l.span_id,
                    trace_state: l.trace_state,
                    attributes: kvs(l.attributes),
                    dropped_attributes_count: l.dropped_attributes_count,
                    flags: l.flags,
                })
                .collect(),
            dropped_links_count: self.dropped_links_count,
            status: self.status.map(|s| pt::Status {
                message: s.message,
                code: s.code,
            }),
        }
    }
}

fn kvs(v: Vec<JKeyValue>) -> Vec<pc::KeyValue> {
    v.into_iter()
        .map(|kv| pc::KeyValue {
            key: kv.key,
            value: kv.value.map(any),
            key_strindex: 0,
        })
        .collect()
}

fn any(v: JAnyValue) -> pc::AnyValue {
    use pc::any_value::Value;
    let value = if let Some(s) = v.string_value {
        Some(Value::StringValue(s))
    } else if let Some(b) = v.bool_value {
        Some(Value::BoolValue(b))
    } else if let Some(i) = v.int_value {
        Some(Value::IntValue(i))
    } else if let Some(d) = v.double_value {
        Some(Value::DoubleValue(d))
    } else if let Some(a) = v.array_value {
        Some(Value::ArrayValue(pc::ArrayValue {
            values: a.values.into_iter().map(any).collect(),
        }))
    } else if let Some(kv) = v.kvlist_value {
        Some(Value::KvlistValue(pc::KeyValueList {
            values: kvs(kv.values),
        }))
    } else {
        v.bytes_value
            .map(|b| Value::BytesValue(bytes_from_base64(&b)))
    };
    pc::AnyValue { value }
}

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

fn num_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Option::<NumOrStr>::deserialize(d)? {
        None => Ok(0),
        Some(n) => scalar_u64(n.scalar()).map_err(de::Error::custom),
    }
}

fn num_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match Option::<NumOrStr>::deserialize(d)? {
        None => Ok(0),
        Some(n) => scalar_u32(n.scalar()).map_err(de::Error::custom),
    }
}

fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<NumOrStr>::deserialize(d)? {
        None => Ok(None),
        Some(n) => scalar_i64(n.scalar()).map(Some).map_err(de::Error::custom),
    }
}

fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
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

fn id_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s = Option::<String>::deserialize(d)?.unwrap_or_default();
    id_from_str(&s).map_err(de::Error::custom)
}

/// A `bytesValue`: base64, or empty when it is not base64.
pub(crate) fn bytes_from_base64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_default()
}

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

fn enum_value<'de, D: Deserializer<'de>>(d: D, e: &EnumNames) -> Result<i32, D::Error> {
    match Option::<EnumRepr>::deserialize(d)? {
        None => Ok(0),
        Some(EnumRepr::N(n)) => enum_from(Ok(n), e).map_err(de::Error::custom),
        Some(EnumRepr::S(s)) => enum_from(Err(&s), e).map_err(de::Error::custom),
    }
}

fn span_kind<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    enum_value(d, &SPAN_KIND)
}

fn status_code<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    enum_value(d, &STATUS_CODE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_strings_and_snake_case() {
        let j = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},
          "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
          "parent_span_id":"","name":"GET","kind":"SPAN_KIND_CLIENT","startTimeUnixNano":"1000","end_time_unix_nano":2000,
          "attributes":[{"key":"n","value":{"intValue":"42"}},{"key":"d","value":{"doubleValue":"NaN"}}],
          "status":{"code":"STATUS_CODE_ERROR"}, "unknownField": 1}]}]}]}"#;
        let r = parse_traces(j).expect("parses");
        let s = &r.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(s.kind, 3);
        assert_eq!(s.trace_id.len(), 16);
        assert_eq!(s.end_time_unix_nano, 2000);
        assert_eq!(s.status.as_ref().map(|s| s.code), Some(2));
        assert_eq!(
            s.attributes[0].value.as_ref().and_then(|v| v.value.clone()),
            Some(pc::any_value::Value::IntValue(42))
        );
    }

    #[test]
    fn wrong_types_are_errors_naming_the_problem() {
        let e = parse_traces(
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"soon"}]}]}]}"#,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("soon"), "{e}");
        assert!(parse_traces(br#"{"resourceSpans":{}}"#).is_err());
    }
}
