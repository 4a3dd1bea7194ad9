//! Immutable snapshots of the store, published every tick and read by the TUI, `report` and
//! `lint`. Cloning is cheap: bucket maps and traces are shared (`Arc`) with the store, which
//! copies on write.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::alert::AlertBoard;
use crate::model::edge::{EdgeKey, EdgeSeries, EdgeSummary};
use crate::model::finding::Finding;
use crate::model::resilience::ResilienceView;
use crate::model::series::SourceStatus;
use crate::model::view::DependencyView;

use super::logs::UntracedLogs;
use super::trace::Trace;
use super::trace_list::TraceList;
use crate::model::log::LogRecord;
use crate::model::span::TraceId;

/// Counter values at snapshot time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CounterValues {
    /// Requests accepted by the receivers (or records read from captures).
    pub requests: u64,
    /// Spans accepted.
    pub spans: u64,
    /// Spans rejected as invalid.
    pub spans_rejected: u64,
    /// Metric data points accepted.
    pub metric_points: u64,
    /// Log records accepted.
    pub log_records: u64,
    /// Requests refused because faultline was full (the sender retries).
    pub refused_full: u64,
    /// Requests refused as malformed.
    pub bad_requests: u64,
    /// Capture lines written.
    pub capture_lines: u64,
    /// Duplicate spans ignored.
    pub duplicate_spans: u64,
    /// Traces evicted by retention or `--max-spans`.
    pub evicted_traces: u64,
    /// Spans evicted with them (their edge aggregates are kept).
    pub evicted_spans: u64,
    /// Spans retained now.
    pub retained_spans: u64,
    /// Client spans waiting for their server side to name the dependency.
    pub pending_calls: u64,
    /// Log records retained now (in traces and per service).
    pub retained_logs: u64,
    /// Log records evicted (with their traces, or from the per-service rings).
    pub evicted_logs: u64,
}

/// One edge as of the snapshot.
#[derive(Clone, Debug)]
pub struct EdgeView {
    /// Caller and dependency.
    pub key: EdgeKey,
    /// All buckets (shared with the store).
    pub series: EdgeSeries,
    /// Aggregates over the snapshot's window.
    pub summary: Arc<EdgeSummary>,
}

/// The state of everything at one instant.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Increases with every snapshot.
    pub seq: u64,
    /// Event-time "now", Unix nanoseconds: the wall clock live, the capture's end in review.
    pub now_ns: u64,
    /// The window the summaries cover, [from, to).
    pub window: (u64, u64),
    /// The time range of all data seen, [first, last].
    pub range: (u64, u64),
    /// One view per dependency (trace edges and metrics-only dependencies), sorted by (caller,
    /// dependency): what every front end reads.
    pub deps: Arc<[DependencyView]>,
    /// Every edge key by id: `CallRecord::edge` indexes it.
    pub edge_keys: Arc<[EdgeKey]>,
    /// Edges sorted by (caller, dependency).
    pub edges: Arc<[EdgeView]>,
    /// Retained traces in arrival order, oldest first (shared with the store; see
    /// [`TraceList`]). Front ends sort what they show themselves.
    pub traces: TraceList,
    /// Log records without a trace id, per service in time order (shared with the store). The
    /// records of a trace are in the trace ([`Trace::logs`]).
    pub logs: UntracedLogs,
    /// Rule findings (filled by the rule engine).
    pub findings: Arc<[Finding]>,
    /// Alert states and delivery (filled by the alert engine, the `alerts` module).
    pub alerts: Arc<AlertBoard>,
    /// Counters.
    pub counters: CounterValues,
    /// What metrics say per (caller, dependency), keyed like `edges` where they joined a trace
    /// edge; keys with no edge are dependencies seen only in metrics.
    pub resilience: Arc<BTreeMap<EdgeKey, ResilienceView>>,
    /// Health of the metric sources (scrape targets, PromQL servers).
    pub sources: Arc<[SourceStatus]>,
    /// The latest service-graph / span-metrics answer with its age and last error (`None`
    /// without a fleet source).
    pub fleet: Option<Arc<crate::model::fleet::FleetTable>>,
}

impl Snapshot {
    /// The retained trace `id` with its spans and log records.
    pub fn trace(&self, id: &TraceId) -> Option<&Arc<Trace>> {
        self.traces.find(id)
    }

    /// Every log record retained (in traces and per service) of `service` (all when `None`)
    /// with a time in `[from_ns, to_ns)`, in time order. Scans every trace: for views and
    /// reports, not for a hot path.
    pub fn search_logs(&self, service: Option<&str>, from_ns: u64, to_ns: u64) -> Vec<&LogRecord> {
        let mut out: Vec<&LogRecord> = self
            .logs_in_range(from_ns, to_ns)
            .filter(|l| service.is_none_or(|s| l.service() == s))
            .collect();
        out.sort_by_key(|l| l.time_ns);
        out
    }

    /// Every log record retained with a time in `[from_ns, to_ns)`, in no particular order
    /// (those without a trace, then those of each trace).
    pub fn logs_in_range(&self, from_ns: u64, to_ns: u64) -> impl Iterator<Item = &LogRecord> {
        self.logs.in_range(None, from_ns, to_ns).chain(
            self.traces
                .iter()
                .flat_map(|t| t.logs.iter())
                .filter(move |l| (from_ns..to_ns).contains(&l.time_ns)),
        )
    }

    /// The view of the dependency with this caller and dependency.
    pub fn dep(&self, caller: &str, dependency: &str) -> Option<&DependencyView> {
        self.deps
            .binary_search_by(|d| (&*d.key.caller, &*d.key.dependency).cmp(&(caller, dependency)))
            .ok()
            .map(|i| &self.deps[i])
    }

    /// The edge with this caller and dependency.
    pub fn edge(&self, caller: &str, dependency: &str) -> Option<&EdgeView> {
        self.edges
            .binary_search_by(|e| (&*e.key.caller, &*e.key.dependency).cmp(&(caller, dependency)))
            .ok()
            .map(|i| &self.edges[i])
    }

    /// What metrics say about this caller and dependency.
    pub fn resilience(&self, caller: &str, dependency: &str) -> Option<&ResilienceView> {
        self.resilience.get(&EdgeKey {
            caller: Arc::from(caller),
            dependency: Arc::from(dependency),
        })
    }
}
