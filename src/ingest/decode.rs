//! OTLP protobuf types → faultline's model. Wire types stop here.
//!
//! Each request gets a small interner, so the attribute keys, span names and repeated values of
//! one batch share their allocations.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pc;

use crate::model::attrs::{
    AttrValue, Attributes, KeySet, KeyValue, MAX_ATTRIBUTES, MAX_VALUE_BYTES,
};
use crate::model::span::{
    Event, Link, Resource, Span, SpanExtras, SpanId, SpanKind, StatusCode, TraceId,
};

/// Most events or links kept per span.
pub const MAX_EVENTS: usize = 128;
/// Deepest nesting of array/map attribute values kept.
const MAX_DEPTH: usize = 8;

/// The spans of one request, plus what was rejected and why.
#[derive(Debug, Default)]
pub struct DecodedSpans {
    /// Valid spans.
    pub spans: Vec<Span>,
    /// Spans rejected (bad ids); OTLP partial success reports these.
    pub rejected: u64,
    /// The first rejection reason, for the partial-success message.
    pub error: Option<String>,
}

/// Shares the allocations of equal strings, and of equal key sequences, within one request.
#[derive(Default)]
struct Interner {
    set: foldhash::HashSet<Arc<str>>,
    keysets: foldhash::HashMap<Vec<Arc<str>>, KeySet>,
    scratch: Vec<Arc<str>>,
}

impl Interner {
    /// The shared key set for these keys, in order.
    fn keys<'a>(&mut self, keys: impl Iterator<Item = &'a str>) -> KeySet {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend(keys.map(|k| self.get(k)));
        let ks = match self.keysets.get(&scratch) {
            Some(ks) => ks.clone(),
            None => {
                let ks: KeySet = Arc::from(scratch.as_slice());
                if self.keysets.len() < 256 {
                    self.keysets.insert(scratch.clone(), ks.clone());
                }
                ks
            }
        };
        self.scratch = scratch;
        ks
    }

    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.set.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        // Bound the per-request table: unique values beyond this are not worth sharing.
        if self.set.len() < 4096 {
            self.set.insert(a.clone());
        }
        a
    }
}

/// Converts a trace export request into model spans, validating ids and bounding sizes.
pub fn decode_traces(req: &ExportTraceServiceRequest) -> DecodedSpans {
    let mut out = DecodedSpans::default();
    let mut it = Interner::default();
    let n: usize = req
        .resource_spans
        .iter()
        .flat_map(|rs| rs.scope_spans.iter())
        .map(|ss| ss.spans.len())
        .sum();
    out.spans.reserve(n);
    for rs in &req.resource_spans {
        let resource = Arc::new(resource(rs.resource.as_ref(), &mut it));
        for ss in &rs.scope_spans {
            let scope = it.get(ss.scope.as_ref().map_or("", |s| s.name.as_str()));
            for s in &ss.spans {
                match span(s, &resource, &scope, &mut it) {
                    Ok(span) => out.spans.push(span),
                    Err(e) => {
                        out.rejected += 1;
                        out.error.get_or_insert(e);
                    }
                }
            }
        }
    }
    out
}

fn resource(
    r: Option<&opentelemetry_proto::tonic::resource::v1::Resource>,
    it: &mut Interner,
) -> Resource {
    let attributes = match r {
        Some(r) => attrs(&r.attributes, r.dropped_attributes_count, it),
        None => Attributes::default(),
    };
    let service_name = it.get(attributes.str("service.name").unwrap_or("unknown_service"));
    let instance = attributes
        .first_str(&["service.instance.id", "k8s.pod.name", "host.name"])
        .map(|s| it.get(s));
    Resource {
        service_name,
        instance,
        attributes,
    }
}

/// The ids of a span, validated: a 16-byte non-zero trace id, an 8-byte non-zero span id, and
/// an empty or 8-byte parent id. The error names the span and the field.
pub fn span_ids(
    s: &opentelemetry_proto::tonic::trace::v1::Span,
) -> Result<(TraceId, SpanId, SpanId), String> {
    let trace_id: TraceId = s.trace_id.as_slice().try_into().map_err(|_| {
        format!(
            "span \"{}\": traceId must be 16 bytes, got {}",
            s.name,
            s.trace_id.len()
        )
    })?;
    if trace_id == [0; 16] {
        return Err(format!("span \"{}\": traceId is all zero", s.name));
    }
    let span_id: SpanId = s.span_id.as_slice().try_into().map_err(|_| {
        format!(
            "span \"{}\": spanId must be 8 bytes, got {}",
            s.name,
            s.span_id.len()
        )
    })?;
    if span_id == [0; 8] {
        return Err(format!("span \"{}\": spanId is all zero", s.name));
    }
    let parent_span_id: SpanId = match s.parent_span_id.len() {
        0 => [0; 8],
        _ => s.parent_span_id.as_slice().try_into().map_err(|_| {
            format!(
                "span \"{}\": parentSpanId must be 8 bytes, got {}",
                s.name,
                s.parent_span_id.len()
            )
        })?,
    };
    Ok((trace_id, span_id, parent_span_id))
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
    scope: &Arc<str>,
    it: &mut Interner,
) -> Result<Span, String> {
    let (trace_id, span_id, parent_span_id) = span_ids(s)?;
    let (status, message) = match &s.status {
        Some(st) => (
            StatusCode::from_proto(st.code),
            (!st.message.is_empty()).then(|| truncate(&st.message).into()),
        ),
        None => (StatusCode::Unset, None),
    };
    let extras = if s.events.is_empty() && s.links.is_empty() && message.is_none() {
        None
    } else {
        Some(Box::new(SpanExtras {
            events: s
                .events
                .iter()
                .take(MAX_EVENTS)
                .map(|e| Event {
                    time_ns: e.time_unix_nano,
                    name: it.get(&e.name),
                    attributes: attrs(&e.attributes, e.dropped_attributes_count, it),
                })
                .collect(),
            links: s
                .links
                .iter()
                .take(MAX_EVENTS)
                .filter_map(|l| {
                    Some(Link {
                        trace_id: l.trace_id.as_slice().try_into().ok()?,
                        span_id: l.span_id.as_slice().try_into().ok()?,
                        attributes: attrs(&l.attributes, l.dropped_attributes_count, it),
                    })
                })
                .collect(),
            status_message: message,
            dropped_events: s.dropped_events_count
                + s.events.len().saturating_sub(MAX_EVENTS) as u32,
            dropped_links: s.dropped_links_count + s.links.len().saturating_sub(MAX_EVENTS) as u32,
        }))
    };
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        kind: SpanKind::from_proto(s.kind),
        status,
        name: it.get(&s.name),
        start_ns: s.start_time_unix_nano,
        // A span that ends before it starts (clock skew between threads) is clamped to 0 length.
        end_ns: s.end_time_unix_nano.max(s.start_time_unix_nano),
        attributes: attrs(&s.attributes, s.dropped_attributes_count, it),
        resource: resource.clone(),
        scope: scope.clone(),
        extras,
    })
}

// Converts OTLP key-values, keeping at most [`MAX_ATTRIBUTES`]; the key sequence is shared
// with every earlier list of the request that had the same keys.
fn attrs(kvs: &[pc::KeyValue], dropped: u32, it: &mut Interner) -> Attributes {
    let kept = &kvs[..kvs.len().min(MAX_ATTRIBUTES)];
    let keys = it.keys(kept.iter().map(|kv| kv.key.as_str()));
    let values = kept
        .iter()
        .map(|kv| value(kv.value.as_ref(), it, 0))
        .collect();
    let over = kvs.len().saturating_sub(MAX_ATTRIBUTES) as u32;
    Attributes::from_parts(keys, values, dropped.saturating_add(over))
}

fn value(v: Option<&pc::AnyValue>, it: &mut Interner, depth: usize) -> AttrValue {
    use pc::any_value::Value;
    let Some(v) = v.and_then(|v| v.value.as_ref()) else {
        return AttrValue::Empty;
    };
    match v {
        // Short values repeat (methods, hosts, codes): share them. Long ones are mostly unique.
        Value::StringValue(s) if s.len() <= 32 => AttrValue::Str(it.get(s)),
        Value::StringValue(s) => AttrValue::Str(Arc::from(truncate(s))),
        Value::BoolValue(b) => AttrValue::Bool(*b),
        Value::IntValue(i) => AttrValue::Int(*i),
        Value::DoubleValue(d) => AttrValue::Double(*d),
        Value::BytesValue(b) => AttrValue::Bytes(Arc::from(&b[..b.len().min(MAX_VALUE_BYTES)])),
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

/// Cuts a string to at most [`MAX_VALUE_BYTES`] at a char boundary.
fn truncate(s: &str) -> &str {
    if s.len() <= MAX_VALUE_BYTES {
        return s;
    }
    let mut end = MAX_VALUE_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
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
