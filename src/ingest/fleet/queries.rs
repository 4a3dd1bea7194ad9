//! The PromQL the fleet source sends: every answer is aggregated server-side to one series per
//! caller → dependency (`sum by`), over the window at one instant, so what crosses the wire
//! grows with the edges, never with instances, span names or samples.

use super::names::{FleetNames, Histogram};

/// The attributes `model::dependency::peer_name` reads, as span-metrics dimensions carry them
/// (Prometheus label names: dots become `_`), both semantic-convention generations.
pub const PEER_ATTRIBUTES: &[&str] = &[
    "service.peer.name",
    "peer.service",
    "service.peer.namespace",
    "db.system.name",
    "db.system",
    "db.namespace",
    "db.name",
    "messaging.system",
    "messaging.destination.name",
    "messaging.destination",
    "rpc.system.name",
    "rpc.system",
    "rpc.service",
    "server.address",
    "server.port",
    "net.peer.name",
    "net.peer.port",
    "http.host",
];

/// Which query of a round an answer belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Service-graph requests.
    GraphCalls,
    /// Service-graph failed requests.
    GraphErrors,
    /// Service-graph latency quantile (index into [`QUANTILES`]) of a native histogram.
    GraphQuantile(usize),
    /// Service-graph classic bucket rates per edge and `le` (quantiles computed from them).
    GraphBuckets,
    /// Span-metrics client/producer calls.
    SpanCalls,
    /// Span-metrics client/producer calls with status ERROR.
    SpanErrors,
    /// Span-metrics latency quantile of a native histogram.
    SpanQuantile(usize),
    /// Span-metrics classic bucket rates per edge labels and `le`.
    SpanBuckets,
}

/// The percentiles asked for.
pub const QUANTILES: [f64; 3] = [0.5, 0.95, 0.99];

const GRAPH_BY: &str = "client, server, connection_type";
const SPAN_KINDS: &str = "span_kind=~\"SPAN_KIND_CLIENT|SPAN_KIND_PRODUCER\"";

/// Label name of an attribute (Prometheus's translation: anything but `[a-zA-Z0-9_]` is `_`).
pub fn label_of(attr: &str) -> String {
    attr.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn span_by() -> String {
    let mut by = String::from("service_name, service");
    for a in PEER_ATTRIBUTES {
        by.push_str(", ");
        by.push_str(&label_of(a));
    }
    by
}

/// A native histogram's quantiles are asked of the server (`histogram_quantile`, one query
/// each); a classic one's bucket rates come aggregated per edge and `le` in one query, and the
/// three quantiles are computed from them as `histogram_quantile` does
/// (`model::histogram`, which also marks an answer in `+Inf`): a third of the server's work.
fn latency(
    h: &Histogram,
    by: &str,
    filter: &str,
    w: u64,
    buckets: Part,
    quantile: fn(usize) -> Part,
) -> Vec<(Part, String)> {
    if h.native {
        QUANTILES
            .iter()
            .enumerate()
            .map(|(i, q)| {
                (
                    quantile(i),
                    format!(
                        "histogram_quantile({q}, sum by ({by}) (rate({}{filter}[{w}s])))",
                        h.name
                    ),
                )
            })
            .collect()
    } else {
        vec![(
            buckets,
            format!("sum by ({by}, le) (rate({}_bucket{filter}[{w}s]))", h.name),
        )]
    }
}

/// The queries of one round over a window of `w` seconds, each with what it answers.
pub fn round(names: &FleetNames, w: u64) -> Vec<(Part, String)> {
    let w = w.max(1);
    let mut out = Vec::new();
    if let Some(total) = &names.graph_total {
        out.push((
            Part::GraphCalls,
            format!("sum by ({GRAPH_BY}) (increase({total}[{w}s]))"),
        ));
    }
    if let Some(failed) = &names.graph_failed {
        out.push((
            Part::GraphErrors,
            format!("sum by ({GRAPH_BY}) (increase({failed}[{w}s]))"),
        ));
    }
    if let Some(h) = &names.graph_latency {
        out.extend(latency(
            h,
            GRAPH_BY,
            "",
            w,
            Part::GraphBuckets,
            Part::GraphQuantile,
        ));
    }
    let by = span_by();
    if let Some(calls) = &names.span_calls {
        out.push((
            Part::SpanCalls,
            format!("sum by ({by}) (increase({calls}{{{SPAN_KINDS}}}[{w}s]))"),
        ));
        out.push((
            Part::SpanErrors,
            format!(
                "sum by ({by}) (increase({calls}{{{SPAN_KINDS}, status_code=\"STATUS_CODE_ERROR\"}}[{w}s]))"
            ),
        ));
    }
    if let Some(h) = &names.span_latency {
        let filter = format!("{{{SPAN_KINDS}}}");
        out.extend(latency(
            h,
            &by,
            &filter,
            w,
            Part::SpanBuckets,
            Part::SpanQuantile,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::names::resolve;
    use super::*;

    #[test]
    fn aggregates_every_query_server_side() {
        let names = resolve(&[
            "traces_service_graph_request_total",
            "traces_service_graph_request_failed_total",
            "traces_service_graph_request_client_seconds_bucket",
            "traces_span_metrics_calls_total",
            "traces_span_metrics_duration_milliseconds",
        ]);
        let r = round(&names, 300);
        assert_eq!(r.len(), 8);
        assert!(r.iter().all(|(_, q)| q.contains("sum by (")));
        assert_eq!(
            r[0].1,
            "sum by (client, server, connection_type) (increase(traces_service_graph_request_total[300s]))"
        );
        // Classic: one query of bucket rates per edge and `le`.
        assert_eq!(r[2].0, Part::GraphBuckets);
        assert_eq!(
            r[2].1,
            "sum by (client, server, connection_type, le) (rate(traces_service_graph_request_client_seconds_bucket[300s]))"
        );
        // Native: histogram_quantile on the server, no `le`, no `_bucket`.
        assert_eq!(r[7].0, Part::SpanQuantile(2));
        assert!(
            r[7].1
                .starts_with("histogram_quantile(0.99, sum by (service_name")
        );
        assert!(
            r[7].1
                .contains("rate(traces_span_metrics_duration_milliseconds{span_kind")
        );
        assert!(r[7].1.contains("peer_service, service_peer_namespace"));
        assert!(!r[7].1.contains(" le)"));
        assert!(r[4].1.contains("status_code=\"STATUS_CODE_ERROR\""));
    }

    #[test]
    fn label_names_follow_prometheus_translation() {
        assert_eq!(label_of("db.system.name"), "db_system_name");
    }
}
