//! Answers of one round → one row per caller → dependency. Service-graph rows are keyed by
//! their `client` and `server` labels (the server's `service.name`, as a paired trace names an
//! edge); span-metrics rows by `service_name` (Tempo: `service`) and the dependency
//! `model::dependency::peer_name` gives their peer labels, the name an unpaired client span of
//! the same attributes gets. A span-metrics row whose edge the service graph already has is
//! the same calls seen twice and is dropped.

use std::collections::{BTreeMap, HashSet};

use super::queries::{PEER_ATTRIBUTES, Part, QUANTILES, label_of};
use crate::ingest::prom_query::{QValue, QueryResult};
use crate::model::attrs::{AttrValue, Attributes, KeyValue};
use crate::model::dependency::{DepKind, peer_name};
use crate::model::edge::EdgeKey;
use crate::model::fleet::{FleetOrigin, MetricTraffic};
use crate::model::histogram::{Bucket, Quantile, histogram_quantile};
use crate::model::resilience::{LatencySource, MetricQuantile, normalise_dependency};

/// Unit factors of the two histograms (answer × factor = ms).
#[derive(Clone, Copy, Debug, Default)]
pub struct Units {
    /// Service-graph latency to ms.
    pub graph_ms: f64,
    /// Span-metrics latency to ms.
    pub span_ms: f64,
    /// Service-graph histogram is native.
    pub graph_native: bool,
    /// Span-metrics histogram is native.
    pub span_native: bool,
}

fn label<'a>(labels: &'a [(String, String)], name: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn value(s: &crate::ingest::prom_query::QSeries) -> Option<f64> {
    match s.samples.last()? {
        (_, QValue::Number(v)) if v.is_finite() => Some(*v),
        _ => None,
    }
}

fn graph_key(labels: &[(String, String)]) -> Option<(EdgeKey, DepKind)> {
    let client = label(labels, "client")?;
    let server = label(labels, "server")?;
    let kind = match label(labels, "connection_type") {
        Some("database") => DepKind::Db,
        Some("messaging_system") => DepKind::Messaging,
        _ => DepKind::Other,
    };
    Some((
        EdgeKey {
            caller: client.into(),
            dependency: server.into(),
        },
        kind,
    ))
}

/// The edge a span-metrics series describes: its service and the peer its labels name.
pub fn span_key(labels: &[(String, String)]) -> Option<(EdgeKey, DepKind)> {
    let caller = label(labels, "service_name").or_else(|| label(labels, "service"))?;
    let items: Vec<KeyValue> = PEER_ATTRIBUTES
        .iter()
        .filter_map(|a| {
            let v = label(labels, &label_of(a))?;
            let value = match v.parse::<i64>() {
                Ok(n) if a.ends_with(".port") => AttrValue::Int(n),
                _ => AttrValue::Str(v.into()),
            };
            Some(KeyValue {
                key: (*a).into(),
                value,
            })
        })
        .collect();
    let peer = peer_name(&Attributes::new(items, 0))?;
    Some((
        EdgeKey {
            caller: caller.into(),
            dependency: peer.name.into(),
        },
        peer.kind,
    ))
}

fn blank(key: EdgeKey, kind: DepKind, origin: FleetOrigin) -> MetricTraffic {
    MetricTraffic {
        key,
        kind,
        calls: 0.0,
        errors: 0.0,
        p50: None,
        p95: None,
        p99: None,
        latency_source: None,
        origin,
    }
}

fn set_quantile(row: &mut MetricTraffic, i: usize, ms: f64, native: bool) {
    let slot = match i {
        0 => &mut row.p50,
        1 => &mut row.p95,
        _ => &mut row.p99,
    };
    // Several series of one edge (ports, connection types): the slowest answers.
    if slot.is_none_or(|q| q.ms < ms) {
        *slot = Some(MetricQuantile {
            ms,
            at_least: false,
        });
    }
    row.latency_source = Some(if native {
        LatencySource::Exponential
    } else {
        LatencySource::Histogram
    });
}

/// Quantiles of each edge's summed bucket rates, as `histogram_quantile` computes them; an
/// answer in `+Inf` is marked `at_least`.
fn bucket_quantiles(
    map: &mut BTreeMap<EdgeKey, MetricTraffic>,
    buckets: BTreeMap<EdgeKey, (DepKind, Vec<Bucket>)>,
    to_ms: f64,
    origin: FleetOrigin,
) {
    for (key, (kind, bs)) in buckets {
        let row = map
            .entry(key.clone())
            .or_insert_with(|| blank(key, kind, origin));
        for (i, q) in QUANTILES.iter().enumerate() {
            let (ms, at_least) = match histogram_quantile(*q, &bs) {
                Quantile::Value(v) => (v * to_ms, false),
                Quantile::AtLeast(v) => (v * to_ms, true),
                Quantile::NoData => continue,
            };
            set_quantile(row, i, ms, false);
            if at_least && let Some(slot) = [&mut row.p50, &mut row.p95, &mut row.p99][i].as_mut() {
                slot.at_least = true;
            }
        }
    }
}

/// Builds the rows, sorted by key, from the answers of one round.
pub fn build(answers: &[(Part, QueryResult)], units: Units) -> Vec<MetricTraffic> {
    let mut graph: BTreeMap<EdgeKey, MetricTraffic> = BTreeMap::new();
    let mut span: BTreeMap<EdgeKey, MetricTraffic> = BTreeMap::new();
    let mut graph_buckets: BTreeMap<EdgeKey, (DepKind, Vec<Bucket>)> = BTreeMap::new();
    let mut span_buckets: BTreeMap<EdgeKey, (DepKind, Vec<Bucket>)> = BTreeMap::new();
    for (part, result) in answers {
        if matches!(part, Part::GraphBuckets | Part::SpanBuckets) {
            let graph_side = *part == Part::GraphBuckets;
            for s in &result.series {
                let (Some(v), Some(le)) = (value(s), label(&s.labels, "le")) else {
                    continue;
                };
                let found = if graph_side {
                    graph_key(&s.labels)
                } else {
                    span_key(&s.labels)
                };
                let (Some((key, kind)), Some(b)) = (found, Bucket::from_le(le, v)) else {
                    continue;
                };
                let map = if graph_side {
                    &mut graph_buckets
                } else {
                    &mut span_buckets
                };
                // Series of one edge (ports, connection types) sum per bound.
                map.entry(key)
                    .or_insert_with(|| (kind, Vec::new()))
                    .1
                    .push(b);
            }
            continue;
        }
        for s in &result.series {
            let Some(v) = value(s) else { continue };
            let is_graph = matches!(
                part,
                Part::GraphCalls | Part::GraphErrors | Part::GraphQuantile(_)
            );
            let (map, found, origin) = if is_graph {
                (&mut graph, graph_key(&s.labels), FleetOrigin::ServiceGraph)
            } else {
                (&mut span, span_key(&s.labels), FleetOrigin::SpanMetrics)
            };
            let Some((key, kind)) = found else { continue };
            let row = map
                .entry(key.clone())
                .or_insert_with(|| blank(key, kind, origin));
            match part {
                Part::GraphCalls | Part::SpanCalls => row.calls += v,
                Part::GraphErrors | Part::SpanErrors => row.errors += v,
                Part::GraphQuantile(i) => {
                    set_quantile(row, *i, v * units.graph_ms, units.graph_native)
                }
                Part::SpanQuantile(i) => {
                    set_quantile(row, *i, v * units.span_ms, units.span_native)
                }
                Part::GraphBuckets | Part::SpanBuckets => {}
            }
        }
    }
    bucket_quantiles(
        &mut graph,
        graph_buckets,
        units.graph_ms,
        FleetOrigin::ServiceGraph,
    );
    bucket_quantiles(
        &mut span,
        span_buckets,
        units.span_ms,
        FleetOrigin::SpanMetrics,
    );
    let seen: HashSet<(String, String)> = graph
        .keys()
        .map(|k| (k.caller.to_string(), normalise_dependency(&k.dependency)))
        .collect();
    for (key, row) in span {
        if !seen.contains(&(
            key.caller.to_string(),
            normalise_dependency(&key.dependency),
        )) {
            graph.insert(key, row);
        }
    }
    graph
        .into_values()
        .filter(|r| r.calls > 0.0 || r.p50.is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::prom_query::QSeries;

    fn series(labels: &[(&str, &str)], v: f64) -> QSeries {
        QSeries {
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            samples: vec![(1.0, QValue::Number(v))],
        }
    }

    #[test]
    fn names_span_metric_edges_as_unpaired_spans_are_named() {
        let (k, kind) = span_key(&[
            ("service_name".into(), "checkout".into()),
            ("db_system".into(), "postgresql".into()),
            ("server_address".into(), "orders-db".into()),
            ("db_name".into(), "orders".into()),
        ])
        .unwrap();
        assert_eq!(&*k.dependency, "postgresql orders-db/orders");
        assert_eq!(kind, DepKind::Db);
        let (k, _) = span_key(&[
            ("service".into(), "web".into()),
            ("server_address".into(), "api.internal".into()),
            ("server_port".into(), "8443".into()),
        ])
        .unwrap();
        assert_eq!((&*k.caller, &*k.dependency), ("web", "api.internal:8443"));
    }

    #[test]
    fn merges_parts_and_drops_span_rows_the_graph_has() {
        let g = |v| QueryResult {
            series: vec![series(&[("client", "a"), ("server", "b")], v)],
        };
        let s = QueryResult {
            series: vec![
                series(&[("service_name", "a"), ("peer_service", "B")], 7.0),
                series(&[("service_name", "a"), ("peer_service", "c")], 3.0),
            ],
        };
        let rows = build(
            &[
                (Part::GraphCalls, g(100.0)),
                (Part::GraphErrors, g(4.0)),
                (Part::GraphQuantile(1), g(0.25)),
                (
                    Part::SpanBuckets,
                    QueryResult {
                        series: vec![
                            series(
                                &[("service_name", "a"), ("peer_service", "c"), ("le", "10")],
                                0.0,
                            ),
                            series(
                                &[("service_name", "a"), ("peer_service", "c"), ("le", "20")],
                                2.0,
                            ),
                            series(
                                &[("service_name", "a"), ("peer_service", "c"), ("le", "+Inf")],
                                4.0,
                            ),
                        ],
                    },
                ),
                (Part::SpanCalls, s),
            ],
            Units {
                graph_ms: 1000.0,
                span_ms: 1.0,
                ..Units::default()
            },
        );
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].calls, rows[0].errors), (100.0, 4.0));
        assert_eq!(rows[0].p95.unwrap().ms, 250.0);
        assert_eq!(rows[0].latency_source, Some(LatencySource::Histogram));
        assert_eq!(&*rows[1].key.dependency, "c");
        // Half the observations in (10, 20], half above the last bound.
        assert_eq!(rows[1].p50.unwrap().ms, 20.0);
        assert!(rows[1].p99.unwrap().at_least);
        assert_eq!(rows[1].origin, FleetOrigin::SpanMetrics);
    }
}
