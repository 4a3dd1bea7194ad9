//! The store proper: applies spans, assembles traces, resolves dependency edges, evicts by
//! retention and span budget, and builds snapshots. Pure and synchronous: the live task and
//! capture replay drive the same code, so a replayed capture gives the same snapshots.
//!
//! Edge resolution waits for evidence. A CLIENT/PRODUCER span is attributed to the service of its
//! SERVER/CONSUMER child as soon as that child is seen (in either order); when no child arrives
//! within the settle time, its own attributes name the dependency, mapped through aliases learnt
//! from earlier pairings (so `payments:8080` becomes `payments` once a pairing showed that).

use std::collections::VecDeque;

use foldhash::{HashMap, HashMapExt, HashSet};
use std::sync::Arc;

use crate::model::dependency::{DepKind, kind_of, peer_name};
use crate::model::edge::{CallSample, ClosedCache, EdgeKey, EdgeSeries, EdgeSummary, bucket_of};
use crate::model::profile::ProfileSet;
use crate::model::series::{SeriesPoint, SourceStatus};
use crate::model::span::{Span, SpanId, TraceId};

use super::metrics::{MetricStore, join_to_edges};
use super::snapshot::{CounterValues, EdgeView, Snapshot};
use super::trace::Trace;

/// Bounds and timing of a store.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Most spans retained; whole traces are evicted oldest first past it.
    pub max_spans: usize,
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
            retention_ns: Some(30 * 60 * 1_000_000_000),
            settle_ns: 2_000_000_000,
            aggregate_retention_ns: Some(6 * 3600 * 1_000_000_000),
            window_ns: Some(5 * 60 * 1_000_000_000),
            profiles: ProfileSet::builtin(),
        }
    }
}

impl StoreConfig {
    /// Settings for replaying captures: keep everything the budget allows, summarise all data.
    pub fn replay(max_spans: usize) -> Self {
        StoreConfig {
            max_spans,
            retention_ns: None,
            aggregate_retention_ns: None,
            window_ns: None,
            ..Self::default()
        }
    }
}

/// A client call waiting for the evidence that names its dependency.
#[derive(Debug)]
struct PendingCall {
    caller: Arc<str>,
    span_name: Arc<str>,
    peer: Option<(String, DepKind)>,
    kind: DepKind,
    sample: CallSample,
}

/// What pairings taught about an attribute-derived peer name.
#[derive(Debug)]
enum Alias {
    Service(Arc<str>),
    Ambiguous,
}

/// A window summary cached with the series version and window it was computed for.
type CachedSummary = (u64, (u64, u64), Arc<EdgeSummary>);

/// The store. See the module docs.
#[derive(Debug)]
pub struct Store {
    cfg: StoreConfig,
    traces: HashMap<TraceId, Arc<Trace>>,
    arrivals: VecDeque<(u64, TraceId)>,
    edges: HashMap<EdgeKey, EdgeSeries>,
    summaries: HashMap<EdgeKey, CachedSummary>,
    closed: HashMap<EdgeKey, ClosedCache>,
    pending: HashMap<(TraceId, SpanId), PendingCall>,
    pending_queue: VecDeque<(u64, TraceId, SpanId)>,
    aliases: HashMap<String, Alias>,
    names: HashSet<Arc<str>>,
    counters: CounterValues,
    first_ns: u64,
    last_ns: u64,
    seq: u64,
    traces_changed: bool,
    trace_list: Arc<[Arc<Trace>]>,
    metrics: MetricStore,
}

impl Store {
    /// An empty store.
    pub fn new(cfg: StoreConfig) -> Self {
        let metrics = MetricStore::new(cfg.profiles.clone());
        Store {
            metrics,
            cfg,
            traces: HashMap::new(),
            arrivals: VecDeque::new(),
            edges: HashMap::new(),
            summaries: HashMap::new(),
            closed: HashMap::new(),
            pending: HashMap::new(),
            pending_queue: VecDeque::new(),
            aliases: HashMap::new(),
            names: HashSet::default(),
            counters: CounterValues::default(),
            first_ns: u64::MAX,
            last_ns: 0,
            seq: 0,
            traces_changed: false,
            trace_list: Arc::from(Vec::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// Applies decoded spans that arrived at `now` (monotonic or wall-clock nanoseconds).
    pub fn apply(&mut self, spans: Vec<Span>, now: u64) {
        for span in spans {
            self.apply_one(span, now);
        }
        self.enforce_budget();
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

    /// The metric part of the store.
    pub fn metrics(&self) -> &MetricStore {
        &self.metrics
    }

    fn apply_one(&mut self, span: Span, now: u64) {
        let tid = span.trace_id;
        let trace = match self.traces.get_mut(&tid) {
            Some(t) => t,
            None => {
                self.arrivals.push_back((now, tid));
                self.traces
                    .entry(tid)
                    .or_insert_with(|| Arc::new(Trace::new(tid)))
            }
        };
        let trace = Arc::make_mut(trace);
        if trace.position(&span.span_id).is_some() {
            self.counters.duplicate_spans += 1;
            return;
        }
        self.first_ns = self.first_ns.min(span.start_ns);
        self.last_ns = self.last_ns.max(span.end_ns);
        self.traces_changed = true;
        self.counters.retained_spans += 1;

        let mut resolved: Vec<(SpanId, Arc<str>)> = Vec::new();
        if span.kind.is_outbound() {
            let child = trace
                .children(&span.span_id)
                .find(|c| c.kind.is_inbound())
                .map(|c| c.resource.service_name.clone());
            let call = pending_call(&span);
            self.pending.insert((tid, span.span_id), call);
            match child {
                Some(service) => resolved.push((span.span_id, service)),
                None => self.pending_queue.push_back((
                    now.saturating_add(self.cfg.settle_ns),
                    tid,
                    span.span_id,
                )),
            }
        }
        if span.kind.is_inbound()
            && span.has_parent()
            && self.pending.contains_key(&(tid, span.parent_span_id))
        {
            resolved.push((span.parent_span_id, span.resource.service_name.clone()));
        }
        trace.push(span);
        for (client, service) in resolved {
            if let Some(call) = self.pending.remove(&(tid, client)) {
                if let Some((peer, _)) = &call.peer {
                    self.learn_alias(peer.clone(), service.clone());
                }
                self.record(call.caller, service, call.kind, &call.sample);
            }
        }
    }

    fn learn_alias(&mut self, peer: String, service: Arc<str>) {
        let entry = self
            .aliases
            .entry(peer)
            .or_insert_with(|| Alias::Service(service.clone()));
        if matches!(entry, Alias::Service(s) if *s != service) {
            *entry = Alias::Ambiguous;
        }
    }

    fn record(
        &mut self,
        caller: Arc<str>,
        dependency: Arc<str>,
        kind: DepKind,
        sample: &CallSample,
    ) {
        self.edges
            .entry(EdgeKey { caller, dependency })
            .or_insert_with(|| EdgeSeries::new(kind))
            .record(sample);
    }

    /// Names the dependency of a call no server span answered, from its attributes.
    fn resolve_unpaired(&mut self, call: PendingCall) {
        let dependency: Arc<str> = match &call.peer {
            Some((peer, _)) => match self.aliases.get(peer) {
                Some(Alias::Service(s)) => s.clone(),
                _ => self.name(peer),
            },
            None => Arc::from(format!("(unnamed) {}", call.span_name)),
        };
        self.record(call.caller, dependency, call.kind, &call.sample);
    }

    /// The shared allocation of a dependency name.
    fn name(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.names.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.names.insert(a.clone());
        a
    }

    /// Resolves the client calls whose settle time has passed by `now`.
    pub fn settle(&mut self, now: u64) {
        while let Some(&(deadline, tid, sid)) = self.pending_queue.front() {
            if deadline > now {
                break;
            }
            self.pending_queue.pop_front();
            if let Some(call) = self.pending.remove(&(tid, sid)) {
                self.resolve_unpaired(call);
            }
        }
    }

    /// Resolves every waiting client call now (end of a replay).
    pub fn flush_pending(&mut self) {
        while let Some((_, tid, sid)) = self.pending_queue.pop_front() {
            if let Some(call) = self.pending.remove(&(tid, sid)) {
                self.resolve_unpaired(call);
            }
        }
    }

    /// Evicts traces past retention at `now` and edge buckets past the aggregate retention.
    pub fn prune(&mut self, now: u64) {
        if let Some(ret) = self.cfg.retention_ns {
            let cutoff = now.saturating_sub(ret);
            while self.arrivals.front().is_some_and(|(t, _)| *t < cutoff) {
                self.evict_oldest();
            }
        }
        if let Some(ret) = self.cfg.aggregate_retention_ns {
            let cutoff = self.last_ns.saturating_sub(ret);
            for series in self.edges.values_mut() {
                series.prune_before(cutoff);
            }
            self.edges.retain(|_, s| !s.buckets.is_empty());
            self.metrics.prune(cutoff);
        }
        // Names no edge, alias or pending call holds any more.
        self.names.retain(|n| Arc::strong_count(n) > 1);
    }

    fn enforce_budget(&mut self) {
        while self.counters.retained_spans as usize > self.cfg.max_spans
            && !self.arrivals.is_empty()
        {
            self.evict_oldest();
        }
    }

    fn evict_oldest(&mut self) {
        if let Some((_, tid)) = self.arrivals.pop_front()
            && let Some(t) = self.traces.remove(&tid)
        {
            let n = t.spans.len() as u64;
            self.counters.retained_spans -= n;
            self.counters.evicted_spans += n;
            self.counters.evicted_traces += 1;
            self.traces_changed = true;
        }
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
        let mut edges: Vec<EdgeView> = Vec::with_capacity(self.edges.len());
        for (key, series) in &self.edges {
            let cached = self
                .summaries
                .get(key)
                .filter(|(v, w, _)| *v == series.version && *w == window);
            let summary = match cached {
                Some((_, _, s)) => s.clone(),
                None => {
                    let cache = self.closed.entry(key.clone()).or_default();
                    let s = Arc::new(series.summary_cached(window.0, window.1, cache));
                    self.summaries
                        .insert(key.clone(), (series.version, window, s.clone()));
                    s
                }
            };
            edges.push(EdgeView {
                key: key.clone(),
                series: series.clone(),
                summary,
            });
        }
        self.summaries.retain(|k, _| self.edges.contains_key(k));
        self.closed.retain(|k, _| self.edges.contains_key(k));
        edges.sort_by(|a, b| a.key.cmp(&b.key));
        if self.traces_changed {
            let mut list: Vec<Arc<Trace>> = self.traces.values().cloned().collect();
            list.sort_by_key(|t| (t.start_ns, t.trace_id));
            self.trace_list = Arc::from(list);
            self.traces_changed = false;
        }
        let keys: Vec<EdgeKey> = edges.iter().map(|e| e.key.clone()).collect();
        let views = self.metrics.views(window);
        let resilience = if views.is_empty() {
            Arc::default()
        } else {
            Arc::new(join_to_edges(&views, &keys, &self.cfg.profiles.aliases))
        };
        let mut counters = self.counters.clone();
        counters.pending_calls = self.pending.len() as u64;
        Snapshot {
            seq: self.seq,
            now_ns,
            window,
            range: if self.last_ns == 0 {
                (0, 0)
            } else {
                (self.first_ns, self.last_ns)
            },
            edges: Arc::from(edges),
            traces: self.trace_list.clone(),
            findings: Arc::from(Vec::new()),
            counters,
            resilience,
            sources: Arc::from(self.metrics.sources()),
        }
    }
}

/// The call a CLIENT/PRODUCER span describes, with what its attributes say of the peer.
fn pending_call(span: &Span) -> PendingCall {
    let peer = peer_name(&span.attributes).map(|p| (p.name, p.kind));
    PendingCall {
        caller: span.resource.service_name.clone(),
        span_name: span.name.clone(),
        kind: peer
            .as_ref()
            .map_or_else(|| kind_of(&span.attributes), |p| p.1),
        peer,
        sample: CallSample {
            start_ns: span.start_ns,
            duration_secs: span.duration_secs(),
            error: span.is_error(),
            timeout: is_timeout(span),
            retry: span
                .attributes
                .first_i64(&["http.request.resend_count", "http.resend_count"])
                .is_some_and(|n| n > 0),
            short_circuit: is_short_circuit(span),
        },
    }
}

/// Whether a failed span was rejected by an open circuit breaker: its error type, status message
/// or exception event matches the reference's `CB_OPEN_RE` (resilience4j `CallNotPermitted`,
/// Polly `BrokenCircuit`, Hystrix short-circuit, opossum `EOPENBREAKER`, gobreaker `ErrOpenState`).
pub fn is_short_circuit(span: &Span) -> bool {
    if !span.is_error() {
        return false;
    }
    error_texts(span, &["error.type", "exception.type"]).any(mentions_open_breaker)
}

/// The texts that describe a span's failure: the first of `type_keys` present, the status
/// message, and the type or message of each exception event.
fn error_texts<'a>(span: &'a Span, type_keys: &'a [&'a str]) -> impl Iterator<Item = &'a str> + 'a {
    span.attributes
        .first_str(type_keys)
        .into_iter()
        .chain(
            span.extras
                .as_ref()
                .and_then(|e| e.status_message.as_deref()),
        )
        .chain(
            span.events()
                .iter()
                .filter(|e| &*e.name == "exception")
                .flat_map(|e| {
                    e.attributes
                        .first_str(&["exception.type", "exception.message"])
                }),
        )
}

/// The reference's `CB_OPEN_RE`, as case-insensitive substrings.
fn mentions_open_breaker(text: &str) -> bool {
    const WORDS: &[&str] = &[
        "callnotpermitted",
        "brokencircuit",
        "isolatedcircuit",
        "shortcircuit",
        "short-circuit",
        "short circuit",
        "short_circuit",
        "eopenbreaker",
        "breaker is open",
        "erropenstate",
    ];
    let lower = text.to_ascii_lowercase();
    WORDS.iter().any(|w| lower.contains(w))
}

/// Whether a span failed by timing out: HTTP 408/504, gRPC DEADLINE_EXCEEDED (4), or a timeout
/// word in the status message, error type or exception (the reference's TIMEOUT_RE).
pub fn is_timeout(span: &Span) -> bool {
    let a = &span.attributes;
    if matches!(
        a.first_i64(&["http.response.status_code", "http.status_code"]),
        Some(408 | 504)
    ) {
        return true;
    }
    if a.first_i64(&["rpc.grpc.status_code"]) == Some(4) {
        return true;
    }
    error_texts(
        span,
        &["error.type", "exception.type", "rpc.response.status_code"],
    )
    .any(mentions_timeout)
}

/// The reference's `TIMEOUT_RE`, as case-insensitive substrings.
fn mentions_timeout(text: &str) -> bool {
    const WORDS: &[&str] = &[
        "timeout",
        "timed out",
        "timed-out",
        "timedout",
        "deadline",
        "timeoutrejected",
        "taskcanceled",
        "etimedout",
        "esockettimedout",
        "request_timeout",
    ];
    let lower = text.to_ascii_lowercase();
    WORDS.iter().any(|w| lower.contains(w))
}
