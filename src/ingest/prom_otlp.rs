//! Prometheus metric families → an OTLP metrics export, so scrapes and PromQL answers take the
//! receivers' path: decoded by `decode_metrics` into the series model, and written to the
//! capture as ordinary OTLP/JSON metric lines (`faultline report` on the capture then sees what
//! was seen live).
//!
//! Mapping: counters → monotonic cumulative `Sum` (start time from `_created`), gauges,
//! untyped, info and state sets → `Gauge` (one metric per sample name), classic histograms →
//! `Histogram` (cumulative `le` buckets to per-bucket counts), summaries → `Summary`. Names stay
//! Prometheus names and the unit is left empty, so the OTel→Prometheus translation in
//! `decode_metrics` gives them back unchanged (a counter gains `_total` if it had none). NaN
//! and infinite sample values carry nothing faultline uses and JSON cannot hold them: skipped.

use std::borrow::Cow;
use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::metrics::v1::{self as pm, metric::Data};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::prom_text::{LabelSet, MetricFamily, MetricType, Sample};

/// OTLP `AGGREGATION_TEMPORALITY_CUMULATIVE`.
const CUMULATIVE: i32 = 2;

/// A string attribute.
pub fn kv(key: &str, value: &str) -> pc::KeyValue {
    pc::KeyValue {
        key: key.to_owned(),
        value: Some(pc::AnyValue {
            value: Some(pc::any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

/// One resource's metrics as an export request, `service.name` = `job` and
/// `service.instance.id` = `instance`.
pub fn request(job: &str, instance: &str, metrics: Vec<pm::Metric>) -> ExportMetricsServiceRequest {
    let mut attributes = vec![kv("service.name", job)];
    if !instance.is_empty() {
        attributes.push(kv("service.instance.id", instance));
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![pm::ResourceMetrics {
            resource: Some(Resource {
                attributes,
                ..Default::default()
            }),
            scope_metrics: vec![pm::ScopeMetrics {
                scope: Some(pc::InstrumentationScope {
                    name: "faultline".into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A gauge metric with one point.
pub fn gauge(name: &str, attrs: Vec<pc::KeyValue>, t_ns: u64, v: f64) -> pm::Metric {
    pm::Metric {
        name: name.to_owned(),
        data: Some(Data::Gauge(pm::Gauge {
            data_points: vec![number_point(attrs, 0, t_ns, v)],
        })),
        ..Default::default()
    }
}

fn number_point(attributes: Vec<pc::KeyValue>, start: u64, t: u64, v: f64) -> pm::NumberDataPoint {
    pm::NumberDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: t,
        value: Some(pm::number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

/// The families of one exposition as OTLP metrics; samples without a timestamp get `t_ns`.
pub fn families_to_metrics(families: &[MetricFamily], t_ns: u64) -> Vec<pm::Metric> {
    let mut out = Vec::new();
    for f in families {
        match f.kind {
            MetricType::Counter => counter(f, t_ns, &mut out),
            MetricType::Histogram => histogram(f, t_ns, &mut out),
            MetricType::Summary => summary(f, t_ns, &mut out),
            _ => gauges(f, t_ns, &mut out),
        }
    }
    out
}

fn when(s: &Sample, t_ns: u64) -> u64 {
    match s.timestamp_ms {
        Some(ms) if ms > 0 => (ms as u64).saturating_mul(1_000_000),
        _ => t_ns,
    }
}

fn attrs(labels: &LabelSet<'_>, skip: &str) -> Vec<pc::KeyValue> {
    labels
        .iter()
        .filter(|(k, _)| *k != skip)
        .map(|(k, v)| kv(k, v))
        .collect()
}

/// Labels without `skip`, sorted: the identity of a histogram or summary point.
fn group_key(labels: &LabelSet<'_>, skip: &str) -> Vec<(String, String)> {
    let mut k: Vec<(String, String)> = labels
        .iter()
        .filter(|(n, _)| *n != skip)
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    k.sort();
    k
}

fn counter(f: &MetricFamily, t_ns: u64, out: &mut Vec<pm::Metric>) {
    let created: BTreeMap<Vec<(String, String)>, u64> = f
        .samples
        .iter()
        .filter(|s| s.name.ends_with("_created") && s.value.is_finite() && s.value > 0.0)
        .map(|s| (group_key(&s.labels, ""), (s.value * 1e9) as u64))
        .collect();
    let points: Vec<pm::NumberDataPoint> = f
        .samples
        .iter()
        .filter(|s| !s.name.ends_with("_created") && s.value.is_finite())
        .map(|s| {
            let start = created.get(&group_key(&s.labels, "")).copied().unwrap_or(0);
            number_point(attrs(&s.labels, ""), start, when(s, t_ns), s.value)
        })
        .collect();
    if points.is_empty() {
        return;
    }
    out.push(pm::Metric {
        name: f.name.to_string(),
        description: f.help.as_deref().unwrap_or_default().to_owned(),
        data: Some(Data::Sum(pm::Sum {
            data_points: points,
            aggregation_temporality: CUMULATIVE,
            is_monotonic: true,
        })),
        ..Default::default()
    });
}

fn gauges(f: &MetricFamily, t_ns: u64, out: &mut Vec<pm::Metric>) {
    let mut by_name: BTreeMap<&str, Vec<pm::NumberDataPoint>> = BTreeMap::new();
    for s in f.samples.iter().filter(|s| s.value.is_finite()) {
        by_name.entry(&s.name).or_default().push(number_point(
            attrs(&s.labels, ""),
            0,
            when(s, t_ns),
            s.value,
        ));
    }
    for (name, data_points) in by_name {
        out.push(pm::Metric {
            name: name.to_owned(),
            description: f.help.as_deref().unwrap_or_default().to_owned(),
            data: Some(Data::Gauge(pm::Gauge { data_points })),
            ..Default::default()
        });
    }
}

#[derive(Default)]
struct Acc {
    labels: LabelSet<'static>,
    buckets: Vec<(f64, f64)>,
    quantiles: Vec<(f64, f64)>,
    count: Option<f64>,
    sum: Option<f64>,
    created: u64,
    t: u64,
}

fn accumulate(f: &MetricFamily, split: &str, t_ns: u64) -> BTreeMap<Vec<(String, String)>, Acc> {
    let mut groups: BTreeMap<Vec<(String, String)>, Acc> = BTreeMap::new();
    for s in &f.samples {
        let acc = groups.entry(group_key(&s.labels, split)).or_default();
        if acc.labels.is_empty() {
            acc.labels = LabelSet::from_pairs(
                s.labels
                    .iter()
                    .filter(|(k, _)| *k != split)
                    .map(|(k, v)| (Cow::Owned(k.to_owned()), Cow::Owned(v.to_owned())))
                    .collect(),
            );
        }
        acc.t = acc.t.max(when(s, t_ns));
        let suffix = s.name.strip_prefix(&*f.name).unwrap_or("");
        match suffix {
            "_bucket" => {
                if let Some(le) = s.label("le").and_then(|v| v.trim().parse::<f64>().ok()) {
                    acc.buckets.push((le, s.value));
                }
            }
            "_count" => acc.count = Some(s.value),
            "_sum" => acc.sum = Some(s.value),
            "_created" if s.value.is_finite() && s.value > 0.0 => {
                acc.created = (s.value * 1e9) as u64
            }
            "" => {
                if let Some(q) = s
                    .label("quantile")
                    .and_then(|v| v.trim().parse::<f64>().ok())
                {
                    acc.quantiles.push((q, s.value));
                }
            }
            _ => {}
        }
    }
    groups
}

fn histogram(f: &MetricFamily, t_ns: u64, out: &mut Vec<pm::Metric>) {
    let mut points = Vec::new();
    for (_, mut acc) in accumulate(f, "le", t_ns) {
        acc.buckets.retain(|b| !b.0.is_nan() && b.1.is_finite());
        acc.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        if acc.buckets.is_empty() {
            continue;
        }
        let total = acc
            .count
            .filter(|c| c.is_finite())
            .or_else(|| acc.buckets.last().map(|b| b.1))
            .unwrap_or(0.0);
        let mut explicit_bounds = Vec::new();
        let mut bucket_counts = Vec::new();
        let mut prev = 0.0;
        for (le, cum) in &acc.buckets {
            if le.is_infinite() {
                continue;
            }
            explicit_bounds.push(*le);
            bucket_counts.push((cum - prev).max(0.0) as u64);
            prev = cum.max(prev);
        }
        bucket_counts.push((total - prev).max(0.0) as u64);
        points.push(pm::HistogramDataPoint {
            attributes: attrs(&acc.labels, ""),
            start_time_unix_nano: acc.created,
            time_unix_nano: acc.t,
            count: total.max(0.0) as u64,
            sum: acc.sum.filter(|s| s.is_finite()),
            bucket_counts,
            explicit_bounds,
            ..Default::default()
        });
    }
    if !points.is_empty() {
        out.push(pm::Metric {
            name: f.name.to_string(),
            description: f.help.as_deref().unwrap_or_default().to_owned(),
            data: Some(Data::Histogram(pm::Histogram {
                data_points: points,
                aggregation_temporality: CUMULATIVE,
            })),
            ..Default::default()
        });
    }
}

fn summary(f: &MetricFamily, t_ns: u64, out: &mut Vec<pm::Metric>) {
    let mut points = Vec::new();
    for (_, acc) in accumulate(f, "quantile", t_ns) {
        points.push(pm::SummaryDataPoint {
            attributes: attrs(&acc.labels, ""),
            start_time_unix_nano: acc.created,
            time_unix_nano: acc.t,
            count: acc.count.filter(|c| c.is_finite()).unwrap_or(0.0).max(0.0) as u64,
            sum: acc.sum.filter(|s| s.is_finite()).unwrap_or(0.0),
            quantile_values: acc
                .quantiles
                .iter()
                .filter(|(_, v)| v.is_finite())
                .map(|(q, v)| pm::summary_data_point::ValueAtQuantile {
                    quantile: *q,
                    value: *v,
                })
                .collect(),
            ..Default::default()
        });
    }
    if !points.is_empty() {
        out.push(pm::Metric {
            name: f.name.to_string(),
            description: f.help.as_deref().unwrap_or_default().to_owned(),
            data: Some(Data::Summary(pm::Summary {
                data_points: points,
            })),
            ..Default::default()
        });
    }
}
