//! PromQL HTTP API answers → OTLP metric exports. The API carries no metric types, so the
//! profiles say which names are counters; `_bucket` series with `le` (and their `_count`,
//! `_sum`) become classic histograms, series with `quantile` summaries, native histograms
//! exponential histograms (exact: a native schema is an OTLP scale), the rest gauges.

use std::borrow::Cow;
use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{self as pm, metric::Data};
use serde_json::Value;

use crate::ingest::prom_otlp::{families_to_metrics, kv, request};
use crate::ingest::prom_text::{LabelSet, MetricFamily, MetricType, Sample};
use crate::model::profile::{Encoding, ProfileSet, Target};

/// A native histogram sample: `(lower, upper, count)` buckets, with count and sum.
#[derive(Clone, Debug, PartialEq)]
pub struct Native {
    /// Observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// Buckets as the API gives them (boundaries and count).
    pub buckets: Vec<(f64, f64, f64)>,
}

/// One sample value.
#[derive(Clone, Debug, PartialEq)]
pub enum QValue {
    /// A float sample.
    Number(f64),
    /// A native histogram sample.
    Native(Native),
}

/// One series of an answer.
#[derive(Clone, Debug, PartialEq)]
pub struct QSeries {
    /// Labels, `__name__` included.
    pub labels: Vec<(String, String)>,
    /// `(unix seconds, value)` in time order.
    pub samples: Vec<(f64, QValue)>,
}

/// A decoded `vector` or `matrix` answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryResult {
    /// The series.
    pub series: Vec<QSeries>,
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn native(v: &Value) -> Option<Native> {
    let buckets = v
        .get("buckets")
        .and_then(Value::as_array)
        .map(|bs| {
            bs.iter()
                .filter_map(|b| {
                    let b = b.as_array()?;
                    Some((num(b.get(1)?)?, num(b.get(2)?)?, num(b.get(3)?)?))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Native {
        count: num(v.get("count")?)?,
        sum: v.get("sum").and_then(num).unwrap_or(0.0),
        buckets,
    })
}

/// One `[t, v]` pair of an answer (`hist`: `v` is a native histogram object).
pub(super) fn sample(pair: &Value, hist: bool) -> Option<(f64, QValue)> {
    let a = pair.as_array()?;
    let t = num(a.first()?)?;
    let v = a.get(1)?;
    Some((
        t,
        if hist {
            QValue::Native(native(v)?)
        } else {
            QValue::Number(num(v)?)
        },
    ))
}

fn label<'a>(labels: &'a [(String, String)], name: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Whether the profiles read `name` as a counter.
fn is_counter(profiles: &ProfileSet, name: &str) -> bool {
    profiles.lookup(name).iter().any(|m| match m.target {
        Target::Signal(role, _) => role.is_counter(),
        Target::Breaker(i, _) => profiles.breakers[i].encoding == Encoding::Events,
    })
}

/// The answer as export requests, one per (job, instance). With `range`, classic histogram and
/// summary series are left out (a look-back fills breaker history and rates, not percentiles).
pub fn to_requests(
    r: &QueryResult,
    profiles: &ProfileSet,
    range: bool,
) -> Vec<ExportMetricsServiceRequest> {
    type Group = (BTreeMap<String, MetricFamily<'static>>, Vec<pm::Metric>);
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    let hist_bases: std::collections::HashSet<String> = r
        .series
        .iter()
        .filter(|s| label(&s.labels, "le").is_some())
        .filter_map(|s| {
            label(&s.labels, "__name__")?
                .strip_suffix("_bucket")
                .map(str::to_owned)
        })
        .collect();
    for s in &r.series {
        let Some(name) = label(&s.labels, "__name__") else {
            continue;
        };
        let job = label(&s.labels, "job").unwrap_or("prometheus").to_owned();
        let instance = label(&s.labels, "instance").unwrap_or("").to_owned();
        let rest: Vec<(String, String)> = s
            .labels
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "__name__" | "job" | "instance"))
            .cloned()
            .collect();
        let (fams, natives) = groups.entry((job, instance)).or_default();
        let base_of = |suffix: &str| {
            name.strip_suffix(suffix)
                .filter(|b| hist_bases.contains(*b))
        };
        let (family, kind) =
            if let Some(b) = base_of("_bucket").or(base_of("_count")).or(base_of("_sum")) {
                (b.to_owned(), MetricType::Histogram)
            } else if label(&s.labels, "quantile").is_some() {
                (name.to_owned(), MetricType::Summary)
            } else if let Some(b) = name
                .strip_suffix("_count")
                .or(name.strip_suffix("_sum"))
                .filter(|b| {
                    r.series.iter().any(|o| {
                        label(&o.labels, "__name__") == Some(b)
                            && label(&o.labels, "quantile").is_some()
                    })
                })
            {
                (b.to_owned(), MetricType::Summary)
            } else if is_counter(profiles, name) {
                (name.to_owned(), MetricType::Counter)
            } else {
                (name.to_owned(), MetricType::Gauge)
            };
        if range && matches!(kind, MetricType::Histogram | MetricType::Summary) {
            continue;
        }
        let f = fams.entry(family.clone()).or_insert_with(|| MetricFamily {
            name: Cow::Owned(family),
            help: None,
            unit: None,
            kind,
            samples: Vec::new(),
        });
        for (t, v) in &s.samples {
            let ts_ms = (t * 1e3).round() as i64;
            match v {
                QValue::Number(x) => f.samples.push(Sample {
                    name: Cow::Owned(name.to_owned()),
                    labels: LabelSet::from_pairs(
                        rest.iter()
                            .map(|(k, v)| (Cow::Owned(k.clone()), Cow::Owned(v.clone())))
                            .collect(),
                    ),
                    value: *x,
                    timestamp_ms: Some(ts_ms),
                    exemplar: None,
                }),
                QValue::Native(h) => {
                    if let Some(m) = native_metric(name, &rest, (t * 1e9) as u64, h) {
                        natives.push(m);
                    }
                }
            }
        }
    }
    groups
        .into_iter()
        .map(|((job, instance), (fams, natives))| {
            let fams: Vec<MetricFamily> = fams.into_values().collect();
            let mut metrics = families_to_metrics(&fams, 0);
            metrics.extend(natives);
            request(&job, &instance, metrics)
        })
        .collect()
}

/// A native histogram as an OTLP exponential histogram. The schema is read from a bucket's
/// width (upper/lower = 2^(2^-schema)); Prometheus bucket i covers (b^(i-1), b^i], OTLP index k
/// covers (b^k, b^(k+1)], so k = i − 1. Zero and negative buckets go to the zero count.
fn native_metric(
    name: &str,
    labels: &[(String, String)],
    t_ns: u64,
    h: &Native,
) -> Option<pm::Metric> {
    let positive: Vec<&(f64, f64, f64)> = h
        .buckets
        .iter()
        .filter(|b| b.0 > 0.0 && b.1 > b.0)
        .collect();
    let first = positive.first()?;
    let scale = (-(first.1 / first.0).log2().log2()).round() as i32;
    let factor = 2f64.powi(scale);
    let index = |upper: f64| (upper.log2() * factor).round() as i64 - 1;
    let lo = positive.iter().map(|b| index(b.1)).min()?;
    let hi = positive.iter().map(|b| index(b.1)).max()?;
    if hi - lo > 1 << 16 {
        return None;
    }
    let mut counts = vec![0u64; (hi - lo + 1) as usize];
    for b in &positive {
        counts[(index(b.1) - lo) as usize] += b.2.max(0.0) as u64;
    }
    let zero: f64 = h.buckets.iter().filter(|b| b.0 <= 0.0).map(|b| b.2).sum();
    let attributes = labels.iter().map(|(k, v)| kv(k, v)).collect();
    Some(pm::Metric {
        name: name.to_owned(),
        data: Some(Data::ExponentialHistogram(pm::ExponentialHistogram {
            data_points: vec![pm::ExponentialHistogramDataPoint {
                attributes,
                time_unix_nano: t_ns,
                count: h.count.max(0.0) as u64,
                sum: Some(h.sum),
                scale,
                zero_count: zero.max(0.0) as u64,
                positive: Some(pm::exponential_histogram_data_point::Buckets {
                    offset: lo as i32,
                    bucket_counts: counts,
                }),
                ..Default::default()
            }],
            aggregation_temporality: 2,
        })),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::prom_query::parse_response;

    #[test]
    fn api_errors_come_back_as_messages() {
        let e = parse_response(
            r#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#,
        )
        .expect_err("error");
        assert_eq!(e, "bad_data: parse error at char 3");
        assert!(parse_response("<html>").is_err());
    }

    #[test]
    fn vectors_become_typed_otlp() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
          {"metric":{"__name__":"resilience4j_circuitbreaker_state","job":"checkout","instance":"a:1","name":"payments","state":"open"},"value":[1700000000.5,"1"]},
          {"metric":{"__name__":"resilience4j_circuitbreaker_not_permitted_calls_total","job":"checkout","instance":"a:1","name":"payments","kind":"not_permitted"},"value":[1700000000.5,"7"]},
          {"metric":{"__name__":"lat_bucket","job":"checkout","instance":"a:1","le":"0.1"},"value":[1700000000.5,"3"]},
          {"metric":{"__name__":"lat_bucket","job":"checkout","instance":"a:1","le":"+Inf"},"value":[1700000000.5,"4"]},
          {"metric":{"__name__":"lat_count","job":"checkout","instance":"a:1"},"value":[1700000000.5,"4"]}
        ]}}"#;
        let r = parse_response(body).expect("parses");
        let reqs = to_requests(&r, &ProfileSet::builtin(), false);
        assert_eq!(reqs.len(), 1);
        let metrics = &reqs[0].resource_metrics[0].scope_metrics[0].metrics;
        let kind = |n: &str| {
            metrics
                .iter()
                .find(|m| m.name == n)
                .and_then(|m| m.data.as_ref())
                .map(|d| match d {
                    Data::Gauge(_) => "gauge",
                    Data::Sum(_) => "sum",
                    Data::Histogram(_) => "histogram",
                    _ => "other",
                })
        };
        assert_eq!(kind("resilience4j_circuitbreaker_state"), Some("gauge"));
        assert_eq!(
            kind("resilience4j_circuitbreaker_not_permitted_calls_total"),
            Some("sum")
        );
        assert_eq!(kind("lat"), Some("histogram"));
    }

    #[test]
    fn native_histograms_keep_their_schema() {
        let b = 2f64.powf(0.125); // schema 3
        let h = Native {
            count: 3.0,
            sum: 1.0,
            buckets: vec![(1.0, b, 2.0), (b, b * b, 1.0)],
        };
        let m = native_metric("x", &[], 1, &h).expect("converts");
        let Some(Data::ExponentialHistogram(e)) = m.data else {
            panic!("not exponential")
        };
        let p = &e.data_points[0];
        assert_eq!(p.scale, 3);
        let pos = p.positive.as_ref().expect("positive");
        assert_eq!((pos.offset, pos.bucket_counts.clone()), (0, vec![2, 1]));
    }
}
