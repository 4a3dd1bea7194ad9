//! The store proper: applies spans and metric points, and builds snapshots. Pure and
//! synchronous: the live task and capture replay drive the same code, so a replayed capture
//! gives the same snapshots. Its parts: `traces` (retained traces with their log records,
//! eviction), `logs` (records without a trace id), `calls` (which dependency a call belongs
//! to), `edges` (bucketed aggregates) and `metrics`.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::edge::{CallSample, EdgeKey, bucket_of};
use crate::model::fleet::FleetTable;
use crate::model::log::LogRecord;
use crate::model::profile::ProfileSet;
use crate::model::resilience::ResilienceView;
use crate::model::series::{SeriesPoint, SourceStatus};
use crate::model::span::Span;

use super::calls::{CallRecord, Calls, Resolved};
use super::edges::EdgeTable;
use super::logs::ServiceLogs;
use super::metrics::{MetricStore, join_to_edges};
use super::retries;
use super::snapshot::{CounterValues, Snapshot};
use super::trace::Trace;
use super::traces::{Evicted, TraceTable};

/// Bounds and timing of a store.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Most spans retained; whole traces are evicted oldest first past it.
    pub max_spans: usize,
    /// Most log records retained in traces; whole traces (spans and records) are evicted oldest
    /// first past it. Records without a trace id are kept apart, up to a quarter of it more
    /// ([`StoreConfig::max_untraced_logs`]).
    pub max_logs: usize,
    /// Raw traces older than this (by arrival) are evicted; `None` keeps them (capture replay).
    pub retention_ns: Option<u64>,
    /// How long a client span waits for its server side before its attributes name the edge.
    pub settle_ns: u64,
    /// Edge buckets older than this before the newest data are dropped; `None` keeps all.
    pub aggregate_retention_ns: Option<u64>,
    /// The summary window: the last `window_ns` before "now"; `None` covers all data.
    pub window_ns: Option<u64>,
    /// Metric mapping profiles (shipped ones plus the user's).
    pub profiles: Arc<ProfileSet>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_spans: 1_000_000,
            max_logs: 400_000,
            retention_ns: Some(30 * 60 * 1_000_000_000),
            settle_ns: 2_000_000_000,
            aggregate_retention_ns: Some(6 * 3600 * 1_000_000_000),
            window_ns: Some(5 * 60 * 1_000_000_000),
            profiles: ProfileSet::builtin(),
        }
    }
}

impl StoreConfig {
    /// Most log records without a trace id retained (per-service rings, oldest dropped first).
    pub fn max_untraced_logs(&self) -> usize {
        self.max_logs / 4
    }

    /// Settings for replaying captures: keep everything the budget allows (as many log records
    /// as spans), summarise all data.
    pub fn replay(max_spans: usize) -> Self {
        StoreConfig {
            max_spans,
            max_logs: max_spans,
            retention_ns: None,
            aggregate_retention_ns: None,
            window_ns: None,
            ..Self::default()
        }
    }
}

/// The store. See the module docs.
#[derive(Debug)]
pub struct Store {
    cfg: StoreConfig,
    traces: TraceTable,
    calls: Calls,
    edges: EdgeTable,
    logs: ServiceLogs,
    counters: CounterValues,
    first_ns: u64,
    last_ns: u64,
    seq: u64,
    metrics: MetricStore,
    /// The latest service-graph / span-metrics answer (`store::fleet`).
    fleet: Option<Arc<FleetTable>>,
    /// The index hashes of the batch being applied (kept to reuse its allocation).
    hashes: Vec<u64>,
}

/// How many spans (or settling calls) ahead `apply` and `settle` ask for the memory they will
/// read: the loads need about a span's work to arrive.
const PREFETCH_AHEAD: usize = 4;

impl Store {
    /// An empty store.
    pub fn new(cfg: StoreConfig) -> Self {
        let metrics = MetricStore::new(cfg.profiles.clone());
        Store {
            metrics,
            cfg,
            traces: TraceTable::default(),
            calls: Calls::default(),
            edges: EdgeTable::default(),
            logs: ServiceLogs::default(),
            counters: CounterValues::default(),
            first_ns: u64::MAX,
            last_ns: 0,
            seq: 0,
            fleet: None,
            hashes: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// Applies decoded spans that arrived at `now` (monotonic or wall-clock nanoseconds).
    pub fn apply(&mut self, spans: Vec<Span>, now: u64) {
        let n = spans.len();
        // Each span's index slot is asked for a few spans ahead: at a million retained traces
        // every probe misses the caches, and this way the misses overlap.
        let mut hashes = std::mem::take(&mut self.hashes);
        hashes.clear();
        hashes.extend(spans.iter().map(|s| self.traces.hash(&s.trace_id)));
        for &h in hashes.iter().take(PREFETCH_AHEAD) {
            self.traces.prefetch(h);
        }
        for (k, span) in spans.into_iter().enumerate() {
            if let Some(&h) = hashes.get(k + PREFETCH_AHEAD) {
                self.traces.prefetch(h);
            }
            self.apply_one(span, hashes[k], now);
        }
        self.hashes = hashes;
        self.enforce_budgets(n);
        // Calls whose answer is overdue settle as batches come, a little each time, rather than
        // all at the next tick (after this batch's spans, so an answer in it still pairs).
        self.settle(now);
    }

    fn enforce_budgets(&mut self, batch: usize) {
        let mut orphans = Vec::new();
        let calls = &mut self.calls;
        let ev = self
            .traces
            .enforce_budget(self.cfg.max_spans, self.cfg.max_logs, |t| {
                resolve_evicted(calls, t, &mut orphans)
            });
        self.count_evicted(ev);
        self.record_orphans(orphans);
        // Free evicted traces as fast as they come, a batch's worth at a time.
        self.traces
            .reap(2 * (ev.traces as usize).max(batch).max(64));
    }

    /// Applies decoded log records that arrived at `now`: a record with a trace id joins its
    /// trace (created when not seen yet, so a record may come before its spans), one without
    /// goes to its service's ring. An error record of a span already recorded marks the span
    /// an error; its call's aggregates were counted when it arrived and are not changed.
    pub fn apply_logs(&mut self, logs: Vec<LogRecord>, now: u64) {
        let n = logs.len();
        for log in logs {
            if log.time_ns > 0 {
                self.first_ns = self.first_ns.min(log.time_ns);
                self.last_ns = self.last_ns.max(log.time_ns);
            }
            match log.trace_id {
                Some(tid) => {
                    self.traces.get_or_insert(tid, now).push_log(log);
                    self.traces.add_logs(1);
                }
                None => self.logs.push(log),
            }
        }
        let dropped = self.logs.enforce_budget(self.cfg.max_untraced_logs());
        self.counters.evicted_logs += dropped;
        self.enforce_budgets(n);
    }

    /// Applies decoded metric points (any source: OTLP, scrape, PromQL, capture).
    pub fn apply_metrics(&mut self, points: Vec<SeriesPoint>) {
        self.counters.metric_points += points.len() as u64;
        self.metrics.apply(points);
        let (first, last) = self.metrics.range;
        if last > 0 {
            self.first_ns = self.first_ns.min(first);
            self.last_ns = self.last_ns.max(last);
        }
    }

    /// Records the health of a metric source.
    pub fn set_source(&mut self, status: SourceStatus) {
        self.metrics.set_source(status);
    }

    /// Keeps the latest per-dependency traffic from the metrics store (`ingest::fleet`).
    pub fn set_fleet(&mut self, table: Arc<FleetTable>) {
        if table.answered_ns > 0 {
            self.first_ns = self.first_ns.min(table.window.0);
            self.last_ns = self.last_ns.max(table.window.1);
        }
        self.fleet = Some(table);
    }

    /// The metric part of the store.
    pub fn metrics(&self) -> &MetricStore {
        &self.metrics
    }

    fn apply_one(&mut self, span: Span, hash: u64, now: u64) {
        let tid = span.trace_id;
        let (seq, trace) = self.traces.entry_hashed(tid, hash, now);
        if trace.position(&span.span_id).is_some() {
            self.counters.duplicate_spans += 1;
            return;
        }
        // Error records of the span that came before it count before its call is classified.
        let mut span = span;
        trace.mark_logged(&mut span);
        self.first_ns = self.first_ns.min(span.start_ns);
        self.last_ns = self.last_ns.max(span.end_ns);
        self.counters.retained_spans += 1;
        // Resolved calls with where their span sits: (arrival number, position). At most two:
        // the span's own call, and the call of its parent that it answers (on the stack: a
        // vector allocated for every call).
        let mut resolved: [Option<(Resolved, (u64, u32))>; 2] = [None, None];
        if span.kind.is_outbound() {
            let answered_by = trace
                .children(&span.span_id)
                .find(|c| c.kind.is_inbound())
                .map(|c| c.resource.service_name.clone());
            // The span goes at the end of its trace (below).
            let at = (seq, trace.spans.len() as u32);
            match answered_by {
                Some(service) => {
                    resolved[0] = Some((self.calls.answer(tid, &span, service, false), at))
                }
                None => self
                    .calls
                    .wait(seq, at.1, now.saturating_add(self.cfg.settle_ns)),
            }
        }
        if span.kind.is_inbound()
            && span.has_parent()
            && let Some(p) = trace.position(&span.parent_span_id)
            && waits(trace, p)
        {
            let service = span.resource.service_name.clone();
            resolved[1] = Some((
                self.calls.answer(tid, &trace.spans[p], service, true),
                (seq, p as u32),
            ));
        }
        trace.push(span);
        self.traces.add_spans(1);
        for (r, at) in resolved.into_iter().flatten() {
            self.record(r, Some(at));
        }
    }

    /// Records calls resolved because their trace was evicted (so only in the edges).
    fn record_orphans(&mut self, resolved: Vec<Resolved>) {
        for r in resolved {
            self.record(r, None);
        }
    }

    /// Records a resolved call: in its trace (the call record every front end reads, with its
    /// attempt number among its siblings) and in its edge's aggregates. `at`: where its span
    /// sits, as (trace arrival number, position), while its trace is retained (found by arrival
    /// number, so no second lookup by trace id).
    fn record(&mut self, r: Resolved, at: Option<(u64, u32)>) {
        let edge = self.edges.id(r.caller, r.dependency);
        let mut retry = r.outcome.resend.is_some_and(|n| n > 0);
        if let Some((seq, i)) = at
            && let Some(trace) = self.traces.by_arrival_mut(seq)
            && let i = i as usize
            && trace.spans.get(i).is_some_and(|s| s.span_id == r.span_id)
        {
            let rec = CallRecord {
                span: i as u32,
                edge,
                kind: r.kind,
                outcome: r.outcome,
                attempt: 1,
                chain: None,
                paired: r.paired,
                op_key: r.op_key,
            };
            let (rec, changes) = retries::record(trace, rec);
            retry = rec.is_retry();
            for c in changes {
                self.edges.add_retries(c.edge, c.start_ns, c.delta);
            }
        }
        let sample = CallSample {
            start_ns: r.start_ns,
            duration_secs: r.end_ns.saturating_sub(r.start_ns) as f64 / 1e9,
            error: r.outcome.error,
            timeout: r.outcome.timeout,
            retry,
            short_circuit: r.outcome.short_circuit,
            cache: r.cache,
        };
        self.edges.record(edge, r.kind, &sample);
    }

    /// Resolves the client calls whose settle time has passed by `now`.
    pub fn settle(&mut self, now: u64) {
        while let Some((seq, i)) = self.calls.next_due(now) {
            if let Some((ahead, _)) = self.calls.due_after(PREFETCH_AHEAD, now) {
                self.traces.prefetch_arrival(ahead);
            }
            if let Some((ahead, _)) = self.calls.due_after(PREFETCH_AHEAD / 2, now) {
                self.traces.prefetch_spans_of(ahead);
            }
            // Gone: resolved when its trace was evicted. Recorded: answered since.
            let Some(trace) = self.traces.by_arrival(seq) else {
                continue;
            };
            if !waits(trace, i as usize) {
                continue;
            }
            let r = self
                .calls
                .unanswered(trace.trace_id(), &trace.spans[i as usize]);
            self.record(r, Some((seq, i)));
        }
    }

    /// Resolves every waiting client call now (end of a replay).
    pub fn flush_pending(&mut self) {
        self.settle(u64::MAX);
    }

    /// Evicts traces past retention at `now` and edge buckets past the aggregate retention.
    pub fn prune(&mut self, now: u64) {
        if let Some(ret) = self.cfg.retention_ns {
            let mut orphans = Vec::new();
            let calls = &mut self.calls;
            let ev = self
                .traces
                .evict_arrived_before(now.saturating_sub(ret), |t| {
                    resolve_evicted(calls, t, &mut orphans)
                });
            self.count_evicted(ev);
            self.record_orphans(orphans);
        }
        if let Some(ret) = self.cfg.aggregate_retention_ns {
            let cutoff = self.last_ns.saturating_sub(ret);
            self.edges.prune_before(cutoff);
            self.metrics.prune(cutoff);
        }
        self.calls.prune_names();
    }

    fn count_evicted(&mut self, ev: Evicted) {
        self.counters.retained_spans -= ev.spans;
        self.counters.evicted_spans += ev.spans;
        self.counters.evicted_logs += ev.logs;
        self.counters.evicted_traces += ev.traces;
    }

    /// Counts a duplicate or other store-level event into the snapshot counters.
    pub fn counters_mut(&mut self) -> &mut CounterValues {
        &mut self.counters
    }

    /// The window summaries cover at event time `now_ns`.
    fn window(&self, now_ns: u64) -> (u64, u64) {
        match self.cfg.window_ns {
            // From a bucket boundary, so the window moves once a bucket and caches stay valid.
            Some(w) => (
                bucket_of(now_ns.saturating_sub(w)),
                now_ns.saturating_add(1),
            ),
            None if self.last_ns == 0 => (0, 0),
            None => (self.first_ns, self.last_ns.saturating_add(1)),
        }
    }

    /// Builds an immutable snapshot. `now_ns` is event-time now (`None`: the newest data seen).
    pub fn snapshot(&mut self, now_ns: Option<u64>) -> Snapshot {
        let now_ns = now_ns.unwrap_or(self.last_ns);
        let window = self.window(now_ns);
        self.snapshot_at(now_ns, window)
    }

    /// Builds a snapshot whose summaries cover the explicit window `[from_ns, to_ns)`, with "now"
    /// at its end: the state as it was at `to_ns` (the review time cursor).
    pub fn snapshot_window(&mut self, from_ns: u64, to_ns: u64) -> Snapshot {
        let to_ns = to_ns.max(from_ns);
        self.snapshot_at(to_ns, (from_ns, to_ns))
    }

    fn snapshot_at(&mut self, now_ns: u64, window: (u64, u64)) -> Snapshot {
        self.seq += 1;
        let edges = self.edges.views(window);
        let mut keys: Vec<EdgeKey> = edges.iter().map(|e| e.key.clone()).collect();
        keys.extend(super::fleet::keys(self.fleet.as_deref()));
        let views = self.metrics.views(window);
        let resilience: Arc<BTreeMap<EdgeKey, ResilienceView>> = if views.is_empty() {
            Arc::default()
        } else {
            Arc::new(join_to_edges(&views, &keys, &self.cfg.profiles.aliases))
        };
        let deps = super::view::build(&edges, &resilience, window);
        let deps = super::fleet::merge(deps, self.fleet.as_deref());
        let mut counters = self.counters.clone();
        counters.pending_calls = self.calls.pending() as u64;
        counters.retained_logs = self.traces.logs() + self.logs.len() as u64;
        Snapshot {
            seq: self.seq,
            now_ns,
            window,
            range: if self.last_ns == 0 {
                (0, 0)
            } else {
                (self.first_ns, self.last_ns)
            },
            deps: Arc::from(deps),
            edge_keys: self.edges.keys(),
            edges: Arc::from(edges),
            traces: self.traces.published(),
            logs: self.logs.published(),
            findings: Arc::from(Vec::new()),
            alerts: Arc::default(),
            counters,
            resilience,
            sources: Arc::from(self.metrics.sources()),
            fleet: self.fleet.clone(),
        }
    }
}

/// Whether the span at position `i` of `trace` is a call still waiting for its answer: an
/// outbound span whose call has no record yet (every outbound span is recorded when its call
/// resolves).
fn waits(trace: &Trace, i: usize) -> bool {
    trace.spans.get(i).is_some_and(|s| s.kind.is_outbound())
        && !trace.calls.iter().any(|c| c.span as usize == i)
}

/// Resolves the waiting calls of a trace being evicted from their attributes (their answer can
/// no longer pair with them), as settling would have.
fn resolve_evicted(calls: &mut Calls, t: &Trace, out: &mut Vec<Resolved>) {
    if calls.pending() == 0 {
        return;
    }
    for (i, s) in t.spans.iter().enumerate() {
        if waits(t, i) {
            out.push(calls.unanswered(t.trace_id(), s));
        }
    }
}
