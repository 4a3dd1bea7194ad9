//! Which service-graph and span-metrics series a server holds, resolved from its metric names
//! (`/api/v1/label/__name__/values`) by their documented spellings: the Collector's
//! `servicegraph` connector (`traces_service_graph_request_total`, `_failed_total`,
//! `_client_seconds` / `_server_seconds` histograms, the older `_duration_seconds`), its
//! `spanmetrics` connector (`traces_span_metrics_calls_total`, `traces_span_metrics_duration`
//! in `_milliseconds` — the default unit — or `_seconds`), and Tempo's metrics generator (the
//! same service-graph names; `traces_spanmetrics_calls_total`, `traces_spanmetrics_latency` in
//! seconds). A name matches with any prefix ending in `_` (the Prometheus and remote-write
//! exporters' `namespace` option), and with or without the unit suffix (`add_metric_suffixes:
//! false`). A histogram is classic when `NAME_bucket` exists, native when `NAME` itself does.

/// A latency histogram to take percentiles from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    /// The base name (without `_bucket`).
    pub name: String,
    /// Native histogram (`NAME`), else classic (`NAME_bucket` with `le`).
    pub native: bool,
    /// Multiply the answer by this to get milliseconds.
    pub to_ms: u32,
}

/// The names in use on one server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FleetNames {
    /// Service-graph request counter.
    pub graph_total: Option<String>,
    /// Service-graph failed-request counter.
    pub graph_failed: Option<String>,
    /// Service-graph latency: the client side's (what the caller waited, like a client
    /// span), else the server side's.
    pub graph_latency: Option<Histogram>,
    /// Span-metrics call counter.
    pub span_calls: Option<String>,
    /// Span-metrics duration histogram.
    pub span_latency: Option<Histogram>,
}

impl FleetNames {
    /// Whether anything usable was found.
    pub fn is_empty(&self) -> bool {
        self.graph_total.is_none() && self.span_calls.is_none()
    }

    /// The names in use, for display.
    pub fn list(&self) -> Vec<String> {
        let mut out: Vec<String> = [&self.graph_total, &self.graph_failed, &self.span_calls]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        for h in [&self.graph_latency, &self.span_latency]
            .into_iter()
            .flatten()
        {
            out.push(if h.native {
                h.name.clone()
            } else {
                format!("{}_bucket", h.name)
            });
        }
        out
    }
}

/// `name` is `base`, or `base` behind a namespace prefix (`ns_base`).
fn matches(name: &str, base: &str) -> bool {
    name == base
        || name
            .strip_suffix(base)
            .is_some_and(|p| p.ends_with('_') && p.len() > 1)
}

fn counter(names: &[&str], bases: &[&str]) -> Option<String> {
    bases
        .iter()
        .find_map(|b| names.iter().find(|n| matches(n, b)))
        .map(|n| (*n).to_owned())
}

/// The first of `bases` (each with its unit factor) present as a classic or native histogram.
fn histogram(names: &[&str], bases: &[(&str, u32)]) -> Option<Histogram> {
    for (base, to_ms) in bases {
        for n in names {
            if let Some(stem) = n.strip_suffix("_bucket")
                && matches(stem, base)
            {
                return Some(Histogram {
                    name: stem.to_owned(),
                    native: false,
                    to_ms: *to_ms,
                });
            }
        }
        // A native histogram is listed under its own name, without `_count`/`_sum` companions
        // being required; a counter never carries a histogram's base name.
        if let Some(n) = names.iter().find(|n| matches(n, base)) {
            return Some(Histogram {
                name: (*n).to_owned(),
                native: true,
                to_ms: *to_ms,
            });
        }
    }
    None
}

/// Resolves the names in use from a server's metric names.
pub fn resolve(names: &[&str]) -> FleetNames {
    FleetNames {
        graph_total: counter(names, &["traces_service_graph_request_total"]),
        graph_failed: counter(names, &["traces_service_graph_request_failed_total"]),
        graph_latency: histogram(
            names,
            &[
                ("traces_service_graph_request_client_seconds", 1000),
                ("traces_service_graph_request_server_seconds", 1000),
                ("traces_service_graph_request_duration_seconds", 1000),
                ("traces_service_graph_request_client", 1000),
                ("traces_service_graph_request_server", 1000),
            ],
        ),
        span_calls: counter(
            names,
            &[
                "traces_span_metrics_calls_total",
                "traces_spanmetrics_calls_total",
            ],
        ),
        span_latency: histogram(
            names,
            &[
                ("traces_span_metrics_duration_milliseconds", 1),
                ("traces_span_metrics_duration_seconds", 1000),
                ("traces_span_metrics_duration", 1),
                ("traces_spanmetrics_latency", 1000),
                ("traces_spanmetrics_duration_seconds", 1000),
            ],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_collector_names_classic() {
        let n = resolve(&[
            "traces_service_graph_request_total",
            "traces_service_graph_request_failed_total",
            "traces_service_graph_request_server_seconds_bucket",
            "traces_service_graph_request_client_seconds_bucket",
            "traces_span_metrics_calls_total",
            "traces_span_metrics_duration_milliseconds_bucket",
            "up",
        ]);
        assert_eq!(
            n.graph_total.as_deref(),
            Some("traces_service_graph_request_total")
        );
        let g = n.graph_latency.unwrap();
        assert_eq!(g.name, "traces_service_graph_request_client_seconds");
        assert!(!g.native);
        assert_eq!(g.to_ms, 1000);
        let s = n.span_latency.unwrap();
        assert_eq!(
            (s.name.as_str(), s.to_ms),
            ("traces_span_metrics_duration_milliseconds", 1)
        );
    }

    #[test]
    fn resolves_namespaced_native_and_tempo_names() {
        let n = resolve(&[
            "otel_traces_service_graph_request_total",
            "otel_traces_service_graph_request_server_seconds",
            "traces_spanmetrics_calls_total",
            "traces_spanmetrics_latency_bucket",
        ]);
        assert_eq!(
            n.graph_total.as_deref(),
            Some("otel_traces_service_graph_request_total")
        );
        assert_eq!(n.graph_failed, None);
        let g = n.graph_latency.unwrap();
        assert!(g.native);
        assert_eq!(g.name, "otel_traces_service_graph_request_server_seconds");
        assert_eq!(
            n.span_calls.as_deref(),
            Some("traces_spanmetrics_calls_total")
        );
        assert_eq!(n.span_latency.unwrap().to_ms, 1000);
    }

    #[test]
    fn a_look_alike_is_not_a_match() {
        let n = resolve(&["xtraces_service_graph_request_total", "calls_total"]);
        assert!(n.is_empty());
    }
}
