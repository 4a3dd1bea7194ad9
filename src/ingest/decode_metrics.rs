//! OTLP metrics → [`SeriesPoint`]s. Wire types stop here, as in `decode` for traces.
//!
//! Names follow the OTel→Prometheus rules (reference §0, [`prometheus_name`]); attribute names
//! are sanitized the same way (`event.name` → `event_name`). The resource's `service.name`
//! (with `service.namespace/` in front when set) becomes the `job` label and
//! `service.instance.id` the `instance` label, unless the point carries those labels itself.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::metrics::v1::{self as pm, metric::Data};

use crate::model::series::{
    ClassicHistogram, ExponentialHistogram, Labels, PointValue, SeriesKind, SeriesPoint,
    SummaryValue, prometheus_name, sanitize,
};

/// OTLP `AGGREGATION_TEMPORALITY_DELTA`.
const DELTA: i32 = 1;
/// Most labels kept per point; the rest are dropped (absurd attribute counts).
const MAX_LABELS: usize = 64;
/// Longest label value kept, in bytes.
const MAX_VALUE: usize = 1024;

/// Decodes every data point of a metrics export. Points without a value or time are skipped;
/// a point without a time gets `now_ns`.
pub fn decode_metrics(req: &ExportMetricsServiceRequest, now_ns: u64) -> Vec<SeriesPoint> {
    let mut out = Vec::new();
    for rm in &req.resource_metrics {
        let mut resource: Vec<(Arc<str>, Arc<str>)> = Vec::new();
        if let Some(r) = &rm.resource {
            let get = |k: &str| {
                r.attributes
                    .iter()
                    .find(|kv| kv.key == k)
                    .and_then(|kv| kv.value.as_ref())
                    .map(value_string)
            };
            if let Some(name) = get("service.name") {
                let job = match get("service.namespace") {
                    Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
                    _ => name,
                };
                resource.push((Arc::from("job"), Arc::from(job)));
            }
            if let Some(id) = get("service.instance.id") {
                resource.push((Arc::from("instance"), Arc::from(id)));
            }
        }
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                decode_metric(m, &resource, now_ns, &mut out);
            }
        }
    }
    out
}

fn decode_metric(
    m: &pm::Metric,
    resource: &[(Arc<str>, Arc<str>)],
    now_ns: u64,
    out: &mut Vec<SeriesPoint>,
) {
    let Some(data) = &m.data else { return };
    let kind = match data {
        Data::Sum(s) if s.is_monotonic => SeriesKind::Counter,
        Data::Sum(_) | Data::Gauge(_) => SeriesKind::Gauge,
        Data::Histogram(_) => SeriesKind::Histogram,
        Data::ExponentialHistogram(_) => SeriesKind::ExponentialHistogram,
        Data::Summary(_) => SeriesKind::Summary,
    };
    let name: Arc<str> = Arc::from(prometheus_name(&m.name, &m.unit, kind));
    let mut push = |attrs: &[pc::KeyValue], start: u64, t: u64, delta: bool, value| {
        out.push(SeriesPoint {
            name: name.clone(),
            kind,
            labels: labels(attrs, resource),
            t_ns: if t == 0 { now_ns } else { t },
            start_ns: (start != 0).then_some(start),
            delta,
            value,
        });
    };
    match data {
        Data::Gauge(g) => {
            for p in &g.data_points {
                if let Some(v) = number(p) {
                    push(
                        &p.attributes,
                        0,
                        p.time_unix_nano,
                        false,
                        PointValue::Number(v),
                    );
                }
            }
        }
        Data::Sum(s) => {
            let delta = s.aggregation_temporality == DELTA;
            for p in &s.data_points {
                if let Some(v) = number(p) {
                    let start = p.start_time_unix_nano;
                    push(
                        &p.attributes,
                        start,
                        p.time_unix_nano,
                        delta,
                        PointValue::Number(v),
                    );
                }
            }
        }
        Data::Histogram(h) => {
            let delta = h.aggregation_temporality == DELTA;
            for p in &h.data_points {
                let start = p.start_time_unix_nano;
                let v = PointValue::Histogram(classic(p));
                push(&p.attributes, start, p.time_unix_nano, delta, v);
            }
        }
        Data::ExponentialHistogram(h) => {
            let delta = h.aggregation_temporality == DELTA;
            for p in &h.data_points {
                let positive = p.positive.as_ref();
                let v = PointValue::Exponential(ExponentialHistogram {
                    scale: p.scale,
                    count: p.count,
                    sum: p.sum,
                    zero_count: p.zero_count,
                    zero_threshold: p.zero_threshold,
                    offset: positive.map_or(0, |b| b.offset),
                    counts: positive
                        .map(|b| b.bucket_counts.clone())
                        .unwrap_or_default(),
                    min: p.min,
                    max: p.max,
                });
                push(
                    &p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    delta,
                    v,
                );
            }
        }
        Data::Summary(s) => {
            for p in &s.data_points {
                let v = PointValue::Summary(SummaryValue {
                    count: p.count as f64,
                    sum: p.sum,
                    quantiles: p
                        .quantile_values
                        .iter()
                        .map(|q| (q.quantile, q.value))
                        .collect(),
                });
                push(
                    &p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    false,
                    v,
                );
            }
        }
    }
}

fn number(p: &pm::NumberDataPoint) -> Option<f64> {
    match p.value? {
        pm::number_data_point::Value::AsDouble(v) => Some(v),
        pm::number_data_point::Value::AsInt(v) => Some(v as f64),
    }
}

/// OTLP explicit buckets (per-bucket counts, bounds without `+Inf`) → cumulative `le` buckets.
fn classic(p: &pm::HistogramDataPoint) -> ClassicHistogram {
    let mut buckets = Vec::with_capacity(p.bucket_counts.len());
    let mut cum = 0u64;
    for (i, c) in p.bucket_counts.iter().enumerate() {
        cum = cum.saturating_add(*c);
        let bound = p.explicit_bounds.get(i).copied().unwrap_or(f64::INFINITY);
        buckets.push((bound, cum as f64));
    }
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        buckets.push((f64::INFINITY, p.count as f64));
    }
    ClassicHistogram {
        count: p.count as f64,
        sum: p.sum.unwrap_or(0.0),
        buckets,
    }
}

fn labels(attrs: &[pc::KeyValue], resource: &[(Arc<str>, Arc<str>)]) -> Labels {
    let mut pairs: Vec<(Arc<str>, Arc<str>)> = attrs
        .iter()
        .take(MAX_LABELS)
        .filter_map(|kv| {
            let v = value_string(kv.value.as_ref()?);
            Some((Arc::from(sanitize(&kv.key)), Arc::from(v)))
        })
        .collect();
    pairs.retain(|(_, v)| !v.is_empty());
    let mut l = Labels::new(pairs);
    for (k, v) in resource {
        l.insert_missing(k, v.clone());
    }
    l
}

/// An attribute value as a label value (arrays and maps as compact JSON-like text), bounded.
fn value_string(v: &pc::AnyValue) -> String {
    use pc::any_value::Value;
    let mut s = match &v.value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BytesValue(b)) => hex::encode(b),
        Some(Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(value_string).collect();
            format!("[{}]", items.join(","))
        }
        Some(Value::KvlistValue(kv)) => {
            let items: Vec<String> = kv
                .values
                .iter()
                .map(|kv| {
                    format!(
                        "{}={}",
                        kv.key,
                        kv.value.as_ref().map(value_string).unwrap_or_default()
                    )
                })
                .collect();
            format!("{{{}}}", items.join(","))
        }
        _ => String::new(),
    };
    if s.len() > MAX_VALUE {
        let mut cut = MAX_VALUE;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn kv(k: &str, v: &str) -> pc::KeyValue {
        crate::ingest::prom_otlp::kv(k, v)
    }

    fn req(metric: pm::Metric) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![pm::ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", "checkout"),
                        kv("service.instance.id", "i-1"),
                    ],
                    ..Default::default()
                }),
                scope_metrics: vec![pm::ScopeMetrics {
                    metrics: vec![metric],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn polly_events_counter_translates() {
        let m = pm::Metric {
            name: "resilience.polly.strategy.events".into(),
            unit: "{event}".into(),
            data: Some(Data::Sum(pm::Sum {
                data_points: vec![pm::NumberDataPoint {
                    attributes: vec![
                        kv("event.name", "OnCircuitOpened"),
                        kv("pipeline.name", "payments"),
                    ],
                    time_unix_nano: 5,
                    start_time_unix_nano: 1,
                    value: Some(pm::number_data_point::Value::AsInt(2)),
                    ..Default::default()
                }],
                aggregation_temporality: 2,
                is_monotonic: true,
            })),
            ..Default::default()
        };
        let pts = decode_metrics(&req(m), 99);
        assert_eq!(pts.len(), 1);
        let p = &pts[0];
        assert_eq!(&*p.name, "resilience_polly_strategy_events_total");
        assert_eq!(p.kind, SeriesKind::Counter);
        assert_eq!(p.labels.get("event_name"), Some("OnCircuitOpened"));
        assert_eq!(p.labels.get("job"), Some("checkout"));
        assert_eq!(p.labels.get("instance"), Some("i-1"));
        assert_eq!(p.value, PointValue::Number(2.0));
        assert_eq!((p.t_ns, p.start_ns, p.delta), (5, Some(1), false));
    }

    #[test]
    fn histogram_buckets_become_cumulative() {
        let m = pm::Metric {
            name: "http.client.request.duration".into(),
            unit: "s".into(),
            data: Some(Data::Histogram(pm::Histogram {
                data_points: vec![pm::HistogramDataPoint {
                    count: 6,
                    sum: Some(1.0),
                    bucket_counts: vec![1, 2, 3],
                    explicit_bounds: vec![0.1, 0.5],
                    ..Default::default()
                }],
                aggregation_temporality: 1,
            })),
            ..Default::default()
        };
        let pts = decode_metrics(&req(m), 42);
        let p = &pts[0];
        assert_eq!(&*p.name, "http_client_request_duration_seconds");
        assert!(p.delta);
        assert_eq!(p.t_ns, 42);
        let PointValue::Histogram(h) = &p.value else {
            panic!("not a histogram")
        };
        assert_eq!(
            h.buckets,
            vec![(0.1, 1.0), (0.5, 3.0), (f64::INFINITY, 6.0)]
        );
    }
}
