//! The simulation's spans and gauges as OTLP export requests, one resource per service, as an
//! OpenTelemetry SDK would send them.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};

use super::sim::{Gauges, Phase, SimSpan, Val};

fn kv(key: &str, v: &Val) -> KeyValue {
    let value = match v {
        Val::S(s) => any_value::Value::StringValue(s.clone()),
        Val::I(i) => any_value::Value::IntValue(*i),
    };
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn resource(service: &str, instance: u8) -> Resource {
    Resource {
        attributes: vec![
            kv("service.name", &Val::S(service.into())),
            kv("service.namespace", &Val::S("faultline-demo".into())),
            kv(
                "service.instance.id",
                &Val::S(format!("{service}-{instance}")),
            ),
            kv("telemetry.sdk.name", &Val::S("faultline-demo".into())),
        ],
        ..Default::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "faultline.demo".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    }
}

/// Spans grouped into one request, one `ResourceSpans` per service instance (in name order).
pub fn traces(spans: &[SimSpan]) -> ExportTraceServiceRequest {
    let mut by_service: BTreeMap<(&str, u8), Vec<Span>> = BTreeMap::new();
    for s in spans {
        by_service
            .entry((s.service, s.instance))
            .or_default()
            .push(Span {
                trace_id: s.trace.to_vec(),
                span_id: s.id.to_vec(),
                parent_span_id: if s.parent == [0; 8] {
                    Vec::new()
                } else {
                    s.parent.to_vec()
                },
                name: s.name.clone(),
                kind: s.kind,
                start_time_unix_nano: s.start,
                end_time_unix_nano: s.end,
                attributes: s.attrs.iter().map(|(k, v)| kv(k, v)).collect(),
                status: s.error.as_ref().map(|m| Status {
                    message: m.clone(),
                    code: status::StatusCode::Error as i32,
                }),
                ..Default::default()
            });
    }
    ExportTraceServiceRequest {
        resource_spans: by_service
            .into_iter()
            .map(|((svc, instance), spans)| ResourceSpans {
                resource: Some(resource(svc, instance)),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope()),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

fn point(t: u64, start: u64, attrs: Vec<KeyValue>, v: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: start,
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

fn gauge(name: &str, unit: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: points,
        })),
        ..Default::default()
    }
}

fn counter(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

/// checkout's metrics at `t`, as Micrometer's OTLP registry and the OTel HTTP client
/// instrumentation name them: the one-hot breaker state gauge for `payments` and its
/// not-permitted counter; the thread-pool bulkhead for `inventory` (queue depth and capacity,
/// active and maximum threads, rejections); and the HTTP client's active requests to
/// `inventory` (an up-down counter: calls in flight).
pub fn metrics(g: &Gauges, t: u64, start: u64) -> ExportMetricsServiceRequest {
    let name = |n: &str| kv("name", &Val::S(n.into()));
    let current = match g.phase {
        Phase::Open => "open",
        Phase::HalfOpen => "half_open",
        Phase::Healthy | Phase::Failing => "closed",
    };
    let states = ["closed", "open", "half_open"]
        .iter()
        .map(|s| {
            let v = if *s == current { 1.0 } else { 0.0 };
            point(
                t,
                start,
                vec![name("payments"), kv("state", &Val::S((*s).into()))],
                v,
            )
        })
        .collect();
    let inventory = |v: u64| vec![point(t, start, vec![name("inventory")], v as f64)];
    let metrics = vec![
        gauge("resilience4j.circuitbreaker.state", "", states),
        counter(
            "resilience4j.circuitbreaker.not.permitted.calls",
            vec![point(
                t,
                start,
                vec![
                    name("payments"),
                    kv("kind", &Val::S("not_permitted".into())),
                ],
                g.not_permitted as f64,
            )],
        ),
        gauge(
            "resilience4j.bulkhead.queue.depth",
            "",
            inventory(g.queue_depth),
        ),
        gauge(
            "resilience4j.bulkhead.queue.capacity",
            "",
            inventory(g.queue_capacity),
        ),
        gauge(
            "resilience4j.bulkhead.active.thread.count",
            "",
            inventory(g.active_threads),
        ),
        gauge(
            "resilience4j.bulkhead.max.thread.pool.size",
            "",
            inventory(g.max_threads),
        ),
        counter(
            "resilience4j.bulkhead.rejected.calls",
            inventory(g.bulkhead_rejected),
        ),
        Metric {
            name: "http.client.active_requests".into(),
            unit: "{request}".into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: vec![point(
                    t,
                    start,
                    vec![
                        kv("server.address", &Val::S("inventory".into())),
                        kv("http.request.method", &Val::S("GET".into())),
                    ],
                    g.active_threads as f64,
                )],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: false,
            })),
            ..Default::default()
        },
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource("checkout", 1)),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::sim::Sim;
    use crate::ingest::decode::decode_traces;

    #[test]
    fn requests_decode_into_model_spans() {
        let t0 = 1_735_732_800_000_000_000u64;
        let mut sim = Sim::new(3, t0);
        let spans = sim.step(t0 + 2_000_000_000);
        let req = traces(&spans);
        let d = decode_traces(&req);
        assert_eq!(d.rejected, 0);
        assert_eq!(d.spans.len(), spans.len());
        let m = metrics(&sim.gauges(t0), t0, t0);
        assert_eq!(m.resource_metrics[0].scope_metrics[0].metrics.len(), 8);
    }
}
