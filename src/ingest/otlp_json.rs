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
        v.bytes_value.map(|b| {
            Value::BytesValue(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .unwrap_or_default(),
            )
        })
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

fn num_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Option::<NumOrStr>::deserialize(d)? {
        None => Ok(0),
        Some(NumOrStr::U(u)) => Ok(u),
        Some(NumOrStr::I(i)) => {
            u64::try_from(i).map_err(|_| de::Error::custom(format!("negative value {i}")))
        }
        Some(NumOrStr::F(f)) if f >= 0.0 && f.fract() == 0.0 => Ok(f as u64),
        Some(NumOrStr::F(f)) => Err(de::Error::custom(format!(
            "expected an unsigned integer, got {f}"
        ))),
        Some(NumOrStr::S(s)) if s.is_empty() => Ok(0),
        Some(NumOrStr::S(s)) => s
            .trim()
            .parse()
            .map_err(|_| de::Error::custom(format!("expected an unsigned integer, got \"{s}\""))),
    }
}

fn num_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = num_u64(d)?;
    u32::try_from(v).map_err(|_| de::Error::custom(format!("{v} does not fit in 32 bits")))
}

fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<NumOrStr>::deserialize(d)? {
        None => Ok(None),
        Some(NumOrStr::U(u)) => i64::try_from(u)
            .map(Some)
            .map_err(|_| de::Error::custom(format!("{u} does not fit in int64"))),
        Some(NumOrStr::I(i)) => Ok(Some(i)),
        Some(NumOrStr::F(f)) if f.fract() == 0.0 => Ok(Some(f as i64)),
        Some(NumOrStr::F(f)) => Err(de::Error::custom(format!("expected an integer, got {f}"))),
        Some(NumOrStr::S(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("expected an integer, got \"{s}\""))),
    }
}

fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match Option::<NumOrStr>::deserialize(d)? {
        None => Ok(None),
        Some(NumOrStr::U(u)) => Ok(Some(u as f64)),
        Some(NumOrStr::I(i)) => Ok(Some(i as f64)),
        Some(NumOrStr::F(f)) => Ok(Some(f)),
        Some(NumOrStr::S(s)) => match s.as_str() {
            "NaN" => Ok(Some(f64::NAN)),
            "Infinity" => Ok(Some(f64::INFINITY)),
            "-Infinity" => Ok(Some(f64::NEG_INFINITY)),
            t => t
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| de::Error::custom(format!("expected a number, got \"{s}\""))),
        },
    }
}

/// Trace and span ids: hex per OTLP/JSON; base64 (proto3 JSON's bytes mapping) also accepted
/// when the hex reading fails.
fn id_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s = Option::<String>::deserialize(d)?.unwrap_or_default();
    if s.is_empty() {
        return Ok(Vec::new());
    }
    if let Ok(b) = hex::decode(&s) {
        return Ok(b);
    }
    base64::engine::general_purpose::STANDARD
        .decode(&s)
        .map_err(|_| de::Error::custom(format!("id \"{s}\" is neither hex nor base64")))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EnumRepr {
    N(i64),
    S(String),
}

fn enum_value<'de, D: Deserializer<'de>>(
    d: D,
    prefix: &str,
    names: &[&str],
) -> Result<i32, D::Error> {
    match Option::<EnumRepr>::deserialize(d)? {
        None => Ok(0),
        Some(EnumRepr::N(n)) => {
            i32::try_from(n).map_err(|_| de::Error::custom(format!("enum value {n} out of range")))
        }
        Some(EnumRepr::S(s)) => {
            let short = s.strip_prefix(prefix).unwrap_or(&s);
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(short))
                .map(|p| p as i32)
                .or_else(|| s.parse().ok())
                .ok_or_else(|| de::Error::custom(format!("unknown enum value \"{s}\"")))
        }
    }
}

fn span_kind<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    enum_value(
        d,
        "SPAN_KIND_",
        &[
            "UNSPECIFIED",
            "INTERNAL",
            "SERVER",
            "CLIENT",
            "PRODUCER",
            "CONSUMER",
        ],
    )
}

fn status_code<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    enum_value(d, "STATUS_CODE_", &["UNSET", "OK", "ERROR"])
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
