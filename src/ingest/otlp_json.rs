//! OTLP/JSON → OTLP protobuf types, leniently.
//!
//! `opentelemetry-proto`'s serde derive is strict in ways real senders are not (enum names such as
//! `"SPAN_KIND_CLIENT"`, base64 ids from proto3-JSON encoders, snake_case field names, `NaN` doubles
//! as strings), so traces are read through these mirror types, written by hand for that leniency.
//! What OTLP/JSON allows that is accepted here: hex (or base64) ids, enums as integers or names,
//! 64-bit integers as strings or numbers, lowerCamelCase or original field names, unknown fields.
//! Metrics and logs go through the crate's own serde, which accepts what the SDKs and Collector
//! send.

mod enums;
mod scalar;
mod to_proto;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde::Deserialize;

pub(crate) use enums::{EnumNames, SPAN_KIND, STATUS_CODE, enum_from};
use enums::{span_kind, status_code};
pub(crate) use scalar::{
    Scalar, bytes_from_base64, id_from_str, scalar_f64, scalar_i64, scalar_u32, scalar_u64,
};
use scalar::{id_bytes, num_u32, num_u64, opt_f64, opt_i64};

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

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1 as pc;

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
