//! OTLP protobuf types → faultline's model. Wire types stop here.
//!
//! Strings go through the thread's interner (`bounds::with_interner`), so attribute keys, span
//! names and repeated values share their allocations across requests, and attribute lists with
//! the same keys one key set. The bounds and the span assembly live in `bounds`, shared with
//! `wire`, which decodes protobuf bytes straight into the same spans.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pc;

use super::bounds::{self, Counted, Interner, MAX_DEPTH, SpanParts};
use crate::model::attrs::{AttrValue, Attributes, AttrsBuilder, KeyValue, MAX_ATTRIBUTES, Text};
use crate::model::span::{Resource, Span, SpanId, TraceId};

pub use super::bounds::MAX_EVENTS;

/// The spans of one request, plus what was rejected and why.
#[derive(Debug, Default, PartialEq)]
pub struct DecodedSpans {
    /// Valid spans.
    pub spans: Vec<Span>,
    /// Spans rejected (bad ids); OTLP partial success reports these.
    pub rejected: u64,
    /// The first rejection reason, for the partial-success message.
    pub error: Option<String>,
}

/// Converts a trace export request into model spans, validating ids and bounding sizes.
pub fn decode_traces(req: &ExportTraceServiceRequest) -> DecodedSpans {
    let mut out = DecodedSpans::default();
    let n: usize = req
        .resource_spans
        .iter()
        .flat_map(|rs| rs.scope_spans.iter())
        .map(|ss| ss.spans.len())
        .sum();
    out.spans.reserve(n);
    bounds::with_interner(|it| decode_into(req, it, &mut out));
    out
}

fn decode_into(req: &ExportTraceServiceRequest, it: &mut Interner, out: &mut DecodedSpans) {
    let mut b = AttrsBuilder::default();
    for rs in &req.resource_spans {
        let resource = Arc::new(resource(rs.resource.as_ref(), it, &mut b));
        for ss in &rs.scope_spans {
            let scope = it.get(ss.scope.as_ref().map_or("", |s| s.name.as_str()));
            for s in &ss.spans {
                match span(s, &resource, &scope, it, &mut b) {
                    Ok(span) => out.spans.push(span),
                    Err(e) => {
                        out.rejected += 1;
                        out.error.get_or_insert(e);
                    }
                }
            }
        }
    }
}

pub(super) fn resource(
    r: Option<&opentelemetry_proto::tonic::resource::v1::Resource>,
    it: &mut Interner,
    b: &mut AttrsBuilder,
) -> Resource {
    let attributes = match r {
        Some(r) => attrs(&r.attributes, r.dropped_attributes_count, it, b),
        None => Attributes::default(),
    };
    bounds::resource(attributes, it)
}

/// The ids of a span, validated: a 16-byte non-zero trace id, an 8-byte non-zero span id, and
/// an empty or 8-byte parent id. The error names the span and the field.
pub fn span_ids(
    s: &opentelemetry_proto::tonic::trace::v1::Span,
) -> Result<(TraceId, SpanId, SpanId), String> {
    bounds::span_ids(&s.name, &s.trace_id, &s.span_id, &s.parent_span_id)
}

/// Removes the spans [`span_ids`] rejects, so a capture holds exactly what was accepted.
pub fn retain_valid_spans(req: &mut ExportTraceServiceRequest) {
    for rs in &mut req.resource_spans {
        for ss in &mut rs.scope_spans {
            ss.spans.retain(|s| span_ids(s).is_ok());
        }
        rs.scope_spans.retain(|ss| !ss.spans.is_empty());
    }
    req.resource_spans.retain(|rs| !rs.scope_spans.is_empty());
}

fn span(
    s: &opentelemetry_proto::tonic::trace::v1::Span,
    resource: &Arc<Resource>,
    scope: &Text,
    it: &mut Interner,
    b: &mut AttrsBuilder,
) -> Result<Span, String> {
    let ids = span_ids(s)?;
    let events = Counted {
        kept: s
            .events
            .iter()
            .take(MAX_EVENTS)
            .map(|e| {
                let a = attrs(&e.attributes, e.dropped_attributes_count, it, b);
                bounds::event(e.time_unix_nano, &e.name, a, it)
            })
            .collect(),
        seen: s.events.len(),
        dropped: s.dropped_events_count,
    };
    let links = Counted {
        kept: s
            .links
            .iter()
            .take(MAX_EVENTS)
            .filter(|l| l.trace_id.len() == 16 && l.span_id.len() == 8)
            .filter_map(|l| {
                let a = attrs(&l.attributes, l.dropped_attributes_count, it, b);
                bounds::link(&l.trace_id, &l.span_id, a)
            })
            .collect(),
        seen: s.links.len(),
        dropped: s.dropped_links_count,
    };
    let parts = SpanParts {
        ids,
        name: &s.name,
        kind: s.kind,
        start_ns: s.start_time_unix_nano,
        end_ns: s.end_time_unix_nano,
        status_code: s.status.as_ref().map_or(0, |st| st.code),
        status_message: s.status.as_ref().map_or("", |st| st.message.as_str()),
        attributes: attrs(&s.attributes, s.dropped_attributes_count, it, b),
        events,
        links,
    };
    Ok(parts.build(resource, scope, it))
}

// Converts OTLP key-values, keeping at most [`MAX_ATTRIBUTES`]; the key sequence is shared
// with every earlier list of the request that had the same keys.
pub(super) fn attrs(
    kvs: &[pc::KeyValue],
    dropped: u32,
    it: &mut Interner,
    b: &mut AttrsBuilder,
) -> Attributes {
    use pc::any_value::Value;
    let kept = &kvs[..kvs.len().min(MAX_ATTRIBUTES)];
    let keys = it.key_set_of(kept.iter().map(|kv| kv.key.as_str()));
    b.clear();
    for kv in kept {
        match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) => it.value(s).push(b),
            Some(Value::BytesValue(v)) => b.push_bytes(bounds::bytes_kept(v)),
            _ => b.push_nested(value(kv.value.as_ref(), it, 0)),
        }
    }
    bounds::attributes(keys, b, kvs.len(), dropped)
}

pub(super) fn value(v: Option<&pc::AnyValue>, it: &mut Interner, depth: usize) -> AttrValue {
    use pc::any_value::Value;
    let Some(v) = v.and_then(|v| v.value.as_ref()) else {
        return AttrValue::Empty;
    };
    match v {
        Value::StringValue(s) => bounds::str_value(s, it),
        Value::BoolValue(b) => AttrValue::Bool(*b),
        Value::IntValue(i) => AttrValue::Int(*i),
        Value::DoubleValue(d) => AttrValue::Double(*d),
        Value::BytesValue(b) => bounds::bytes_value(b),
        Value::ArrayValue(a) if depth < MAX_DEPTH => AttrValue::Array(
            a.values
                .iter()
                .take(MAX_ATTRIBUTES)
                .map(|v| value(Some(v), it, depth + 1))
                .collect(),
        ),
        Value::KvlistValue(kv) if depth < MAX_DEPTH => AttrValue::Map(
            kv.values
                .iter()
                .take(MAX_ATTRIBUTES)
                .map(|kv| KeyValue {
                    key: it.get(&kv.key),
                    value: value(kv.value.as_ref(), it, depth + 1),
                })
                .collect(),
        ),
        _ => AttrValue::Empty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::span::SpanKind;
    use opentelemetry_proto::tonic::trace::v1 as pt;

    fn req(spans: Vec<pt::Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![pt::ResourceSpans {
                resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                    attributes: vec![pc::KeyValue {
                        key: "service.name".into(),
                        value: Some(pc::AnyValue {
                            value: Some(pc::any_value::Value::StringValue("svc".into())),
                        }),
                        key_strindex: 0,
                    }],
                    ..Default::default()
                }),
                scope_spans: vec![pt::ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn span(trace: u8, id: u8) -> pt::Span {
        pt::Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            name: "op".into(),
            kind: 3,
            start_time_unix_nano: 2_000,
            end_time_unix_nano: 1_000,
            ..Default::default()
        }
    }

    #[test]
    fn rejects_bad_ids_keeps_the_rest() {
        let mut bad = span(1, 2);
        bad.trace_id = vec![1; 5];
        let d = decode_traces(&req(vec![span(1, 1), bad, span(0, 3)]));
        assert_eq!(d.spans.len(), 1);
        assert_eq!(d.rejected, 2);
        assert!(d.error.unwrap_or_default().contains("16 bytes"));
        let s = &d.spans[0];
        assert_eq!(s.service(), "svc");
        assert_eq!(s.kind, SpanKind::Client);
        assert_eq!(s.duration_ns(), 0, "end before start is clamped");
    }

    #[test]
    fn bounds_attributes() {
        let mut s = span(1, 1);
        s.attributes = (0..10_000)
            .map(|i| pc::KeyValue {
                key: format!("k{i}"),
                value: Some(pc::AnyValue {
                    value: Some(pc::any_value::Value::IntValue(i)),
                }),
                key_strindex: 0,
            })
            .collect();
        let d = decode_traces(&req(vec![s]));
        assert_eq!(d.spans[0].attributes.len(), MAX_ATTRIBUTES);
        assert_eq!(
            d.spans[0].attributes.dropped() as usize,
            10_000 - MAX_ATTRIBUTES
        );
    }
}
