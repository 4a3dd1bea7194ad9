//! The mirror types' conversion into `opentelemetry-proto`'s types: a field for a field, an
//! `AnyValue` by the first of its value fields that is set.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::resource::v1 as pr;
use opentelemetry_proto::tonic::trace::v1 as pt;

use super::scalar::bytes_from_base64;
use super::{JAnyValue, JKeyValue, JResourceSpans, JSpan, JTraces};

impl JTraces {
    /// The request as `opentelemetry-proto`'s type.
    pub(super) fn into_proto(self) -> ExportTraceServiceRequest {
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
