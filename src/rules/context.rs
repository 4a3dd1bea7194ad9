//! The shared analysis every detector reads: one pass over the snapshot's traces that reads the
//! store's resolution of each CLIENT/PRODUCER span (`store::calls::CallRecord`: its edge, how it
//! ended, its attempt number) — the rules never resolve a call's dependency again — and indexes
//! calls by edge and by parent, and SERVER/CONSUMER spans by service.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use crate::model::classify::Outcome;
use crate::model::dependency::{DepKind, operation};
use crate::model::span::{Span, SpanId, TraceId};
use crate::model::view::DependencyView;
use crate::store::Snapshot;
use crate::store::edges::EdgeId;
use crate::store::trace::Trace;

use super::chains::{self, Chain};
use super::detectors::long_lived::{RouteMemo, long_lived_with};
use super::detectors::requests::Requests;
use super::par;

/// One outbound call (a CLIENT or PRODUCER span) in the window.
#[derive(Clone, Debug)]
pub struct Call {
    /// Index of the trace in `snapshot.traces`.
    pub trace: u32,
    /// Index of the span in its trace.
    pub span: u32,
    /// Calling service.
    pub caller: Arc<str>,
    /// Caller instance (`service.instance.id`, pod, host).
    pub caller_instance: Option<Arc<str>>,
    /// Resolved dependency.
    pub dep: Arc<str>,
    /// Kind of dependency.
    pub kind: DepKind,
    /// Operation (`METHOD route`, rpc method, db operation, span name).
    pub op: Arc<str>,
    /// Parent span id.
    pub parent: SpanId,
    /// Start, Unix ns.
    pub start: u64,
    /// End, Unix ns.
    pub end: u64,
    /// Failed (status ERROR, 5xx, gRPC non-OK).
    pub error: bool,
    /// Timed out (TIMEOUT_RE, 408/504, gRPC 4).
    pub timeout: bool,
    /// HTTP response status code.
    pub http_status: Option<i64>,
    /// `http.request.resend_count`.
    pub resend: Option<i64>,
    /// Index (in `inbound`) of the SERVER/CONSUMER span that answered it, when seen.
    pub answered_by: Option<u32>,
    /// The store's edge id (`Snapshot::edge_keys`).
    pub edge: EdgeId,
    /// How it ended (the store's classification).
    pub outcome: Outcome,
    /// Attempt number in its retry chain, as the store counted it (1 = first or none).
    pub attempt: u16,
    /// Hash of (operation, request path): attempts of one logical call share it.
    pub op_key: u64,
}

impl Call {
    /// Duration in nanoseconds.
    pub fn dur(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
    /// Duration in milliseconds.
    pub fn ms(&self) -> f64 {
        self.dur() as f64 / 1e6
    }
}

/// One inbound span (SERVER or CONSUMER) in the window.
#[derive(Clone, Debug)]
pub struct Inbound {
    /// Trace index.
    pub trace: u32,
    /// Span index in the trace.
    pub span: u32,
    /// Serving service.
    pub service: Arc<str>,
    /// Serving instance.
    pub instance: Option<Arc<str>>,
    /// Start, Unix ns.
    pub start: u64,
    /// End, Unix ns.
    pub end: u64,
    /// Failed.
    pub error: bool,
    /// Index (in `calls`) of the client call it answers, when seen.
    pub caller_call: Option<u32>,
}

/// The analysis context. See the module docs.
#[derive(Debug)]
pub struct Context<'a> {
    /// The snapshot analysed.
    pub snap: &'a Snapshot,
    /// The window, [from, to) Unix ns.
    pub window: (u64, u64),
    /// Outbound calls, ordered by (trace, parent, start, span id) so siblings are contiguous.
    pub calls: Vec<Call>,
    /// Inbound spans, in trace order.
    pub inbound: Vec<Inbound>,
    /// Call indices per edge (caller, dependency), each list in start order.
    pub by_edge: BTreeMap<(Arc<str>, Arc<str>), Vec<u32>>,
    /// Inbound indices per service, each list in start order.
    pub by_service: BTreeMap<Arc<str>, Vec<u32>>,
    threads: usize,
    chains: OnceLock<Vec<Chain>>,
    requests: OnceLock<Requests>,
    long_lived: OnceLock<Vec<bool>>,
}

fn intern(pool: &mut HashMap<String, Arc<str>>, s: String) -> Arc<str> {
    if let Some(a) = pool.get(&s) {
        return a.clone();
    }
    let a: Arc<str> = Arc::from(s.as_str());
    pool.insert(s, a.clone());
    a
}

/// One chunk of traces' inbound spans and calls (`Context::build`): indices into `inbound` and
/// `calls` (`answered_by`, `caller_call`) are the chunk's own until the chunks are joined.
struct Part {
    inbound: Vec<Inbound>,
    calls: Vec<Call>,
}

impl Part {
    /// The inbound spans and calls of the traces `range` of the snapshot inside `window`.
    fn build(snap: &Snapshot, range: std::ops::Range<usize>, window: (u64, u64)) -> Part {
        let first = range.start;
        let traces = || range.clone().map(|i| &snap.traces[i]);
        let in_window = |s: &Span| s.start_ns >= window.0 && s.start_ns < window.1;
        let mut pool: HashMap<String, Arc<str>> = HashMap::new();
        // Sized up front: at a million spans these are tens of megabytes, and growing them by
        // doubling copied every element again and faulted in fresh pages for each copy.
        let n_spans: usize = traces().map(|t| t.spans.len()).sum();
        let n_calls: usize = traces().map(|t| t.calls.len()).sum();
        let mut inbound = Vec::with_capacity(n_spans.saturating_sub(n_calls));
        // Pass 1: inbound spans, keyed by (trace, parent) for pairing.
        let mut inbound_by_parent: HashMap<(u32, SpanId), u32> =
            HashMap::with_capacity(n_spans.saturating_sub(n_calls));
        for (k, t) in traces().enumerate() {
            let ti = (first + k) as u32;
            for (si, s) in t.spans.iter().enumerate() {
                if !s.kind.is_inbound() || !in_window(s) {
                    continue;
                }
                let idx = inbound.len() as u32;
                if s.has_parent() {
                    inbound_by_parent
                        .entry((ti, s.parent_span_id))
                        .or_insert(idx);
                }
                inbound.push(Inbound {
                    trace: ti,
                    span: si as u32,
                    service: s.resource.service_name.clone(),
                    instance: s.resource.instance.clone(),
                    start: s.start_ns,
                    end: s.end_ns,
                    error: s.is_error(),
                    caller_call: None,
                });
            }
        }
        let mut calls = Vec::with_capacity(n_calls);
        for (k, t) in traces().enumerate() {
            let ti = (first + k) as u32;
            for rec in &t.calls {
                let Some(s) = t.spans.get(rec.span as usize) else {
                    continue;
                };
                let Some(key) = snap.edge_keys.get(rec.edge as usize) else {
                    continue;
                };
                if !in_window(s) {
                    continue;
                }
                let op = intern(&mut pool, operation(&s.attributes, &s.name));
                calls.push(Call {
                    trace: ti,
                    span: rec.span,
                    caller: key.caller.clone(),
                    caller_instance: s.resource.instance.clone(),
                    dep: key.dependency.clone(),
                    kind: rec.kind,
                    op,
                    parent: s.parent_span_id,
                    start: s.start_ns,
                    end: s.end_ns,
                    error: rec.outcome.error,
                    timeout: rec.outcome.timeout,
                    http_status: rec.outcome.http_status.map(i64::from),
                    resend: rec.outcome.resend.map(i64::from),
                    answered_by: inbound_by_parent.get(&(ti, s.span_id)).copied(),
                    edge: rec.edge,
                    outcome: rec.outcome,
                    attempt: rec.attempt,
                    op_key: rec.op_key,
                });
            }
        }
        // Siblings in (start, span id) order, as the store orders attempts.
        calls.sort_by_cached_key(|c| {
            let id = snap.traces[c.trace as usize].spans[c.span as usize].span_id;
            (c.trace, c.parent, c.start, id)
        });
        for (ci, c) in calls.iter().enumerate() {
            if let Some(ib) = c.answered_by {
                inbound[ib as usize].caller_call = Some(ci as u32);
            }
        }
        Part { inbound, calls }
    }

    /// The chunks one after the other, their indices shifted to the joined vectors'. The chunks
    /// cover consecutive traces, so the joined calls keep the (trace, parent, start, span id)
    /// order.
    fn join(parts: Vec<Part>) -> (Vec<Inbound>, Vec<Call>) {
        if parts.len() == 1 {
            let p = parts.into_iter().next().map(|p| (p.inbound, p.calls));
            return p.unwrap_or_default();
        }
        let mut inbound = Vec::with_capacity(parts.iter().map(|p| p.inbound.len()).sum());
        let mut calls = Vec::with_capacity(parts.iter().map(|p| p.calls.len()).sum());
        for p in parts {
            let (ib_off, call_off) = (inbound.len() as u32, calls.len() as u32);
            inbound.extend(p.inbound.into_iter().map(|mut s| {
                s.caller_call = s.caller_call.map(|c| c + call_off);
                s
            }));
            calls.extend(p.calls.into_iter().map(|mut c| {
                c.answered_by = c.answered_by.map(|i| i + ib_off);
                c
            }));
        }
        (inbound, calls)
    }
}

/// Call indices per edge (caller, dependency), each list in start order.
fn by_edge(calls: &[Call]) -> BTreeMap<(Arc<str>, Arc<str>), Vec<u32>> {
    // Grouped by the store's edge id first (no key clones per call), then keyed by name.
    let mut by_id: HashMap<EdgeId, Vec<u32>> = HashMap::new();
    for (i, c) in calls.iter().enumerate() {
        by_id.entry(c.edge).or_default().push(i as u32);
    }
    let mut by_edge: BTreeMap<(Arc<str>, Arc<str>), Vec<u32>> = BTreeMap::new();
    for idx in by_id.into_values() {
        let Some(&first) = idx.first() else { continue };
        let c = &calls[first as usize];
        by_edge
            .entry((c.caller.clone(), c.dep.clone()))
            .or_default()
            .extend(idx);
    }
    for v in by_edge.values_mut() {
        v.sort_unstable_by_key(|&i| (calls[i as usize].start, i));
    }
    by_edge
}

/// Inbound indices per service, each list in start order.
fn by_service(inbound: &[Inbound]) -> BTreeMap<Arc<str>, Vec<u32>> {
    let mut by_service: BTreeMap<Arc<str>, Vec<u32>> = BTreeMap::new();
    for (i, s) in inbound.iter().enumerate() {
        by_service
            .entry(s.service.clone())
            .or_default()
            .push(i as u32);
    }
    for v in by_service.values_mut() {
        v.sort_unstable_by_key(|&i| (inbound[i as usize].start, i));
    }
    by_service
}

impl<'a> Context<'a> {
    /// Builds the context over the snapshot's retained traces inside its window, on the
    /// caller's thread.
    pub fn build(snap: &'a Snapshot) -> Context<'a> {
        Context::build_with_threads(snap, 1)
    }

    /// [`Context::build`] on up to `threads` threads (chunks of traces, joined in order), which
    /// the shared tables computed later (`requests`, `is_long_lived`, `chains`) also use. The
    /// context is the same for any count.
    pub fn build_with_threads(snap: &'a Snapshot, threads: usize) -> Context<'a> {
        let window = if snap.window.1 > snap.window.0 {
            snap.window
        } else {
            (snap.range.0, snap.range.1.saturating_add(1))
        };
        let threads = threads.max(1);
        let parts = par::ranges(snap.traces.len(), threads, |r| Part::build(snap, r, window));
        let (inbound, calls) = Part::join(parts);
        let (by_edge, by_service) = if threads > 1 {
            std::thread::scope(|s| {
                let edges = s.spawn(|| by_edge(&calls));
                let services = by_service(&inbound);
                // A panic in the index panics the lint, as it would on one thread.
                let edges = edges
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                (edges, services)
            })
        } else {
            (by_edge(&calls), by_service(&inbound))
        };
        Context {
            snap,
            window,
            calls,
            inbound,
            by_edge,
            by_service,
            threads,
            chains: OnceLock::new(),
            requests: OnceLock::new(),
            long_lived: OnceLock::new(),
        }
    }

    /// Threads the context's shared tables are computed on.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Which request each call was made for (computed once, shared by the per-request audits).
    pub fn requests(&self) -> &Requests {
        self.requests.get_or_init(|| Requests::build(self))
    }

    /// Whether call `i` (index in `calls`) is long-lived by design (a stream, long-poll, upload,
    /// consumer: `detectors::long_lived`); computed once for every call, shared by the timeout
    /// rules.
    pub fn is_long_lived(&self, i: usize) -> bool {
        self.long_lived
            .get_or_init(|| {
                let parts = par::chunks(&self.calls, self.threads, |_, calls| {
                    let mut memo = RouteMemo::default();
                    calls
                        .iter()
                        .map(|c| long_lived_with(self, c, &mut memo))
                        .collect()
                });
                par::concat(parts)
            })
            .get(i)
            .copied()
            .unwrap_or(false)
    }

    /// Retry attempt chains (computed once, shared by the retry detectors).
    pub fn chains(&self) -> &[Chain] {
        self.chains.get_or_init(|| chains::chains(self))
    }

    /// The trace of a call or inbound span.
    pub fn trace(&self, trace: u32) -> &Trace {
        &self.snap.traces[trace as usize]
    }

    /// The span of a call.
    pub fn span(&self, c: &Call) -> &Span {
        &self.snap.traces[c.trace as usize].spans[c.span as usize]
    }

    /// The span of an inbound entry.
    pub fn inbound_span(&self, s: &Inbound) -> &Span {
        &self.snap.traces[s.trace as usize].spans[s.span as usize]
    }

    /// The trace id of a trace index.
    pub fn trace_id(&self, trace: u32) -> TraceId {
        self.snap.traces[trace as usize].trace_id
    }

    /// Contiguous runs of sibling calls (same trace and parent), in start order.
    pub fn sibling_groups(&self) -> impl Iterator<Item = &[Call]> {
        self.calls
            .chunk_by(|a, b| a.trace == b.trace && a.parent == b.parent)
    }

    /// The position in `calls` of the first element of a sibling group slice.
    pub fn offset_of(&self, group: &[Call]) -> usize {
        // Groups are sub-slices of `self.calls`, so the pointer difference is the index.
        (group.as_ptr() as usize - self.calls.as_ptr() as usize) / std::mem::size_of::<Call>()
    }

    /// The store's view of the dependency for the snapshot's window: the numbers a finding
    /// about the edge cites (`rules::dep`).
    pub fn dep(&self, caller: &str, dependency: &str) -> Option<&DependencyView> {
        self.snap.dep(caller, dependency)
    }

    /// Whether the dependency is a service that serves inbound spans.
    pub fn is_service(&self, name: &str) -> bool {
        self.by_service.contains_key(name)
    }
}

/// Hex of up to `n` distinct trace ids, in the given order.
pub fn exemplars(cx: &Context<'_>, traces: impl IntoIterator<Item = u32>, n: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in traces {
        let h = hex::encode(cx.trace_id(t));
        if !out.contains(&h) {
            out.push(h);
            if out.len() == n {
                break;
            }
        }
    }
    out
}

/// Median of a slice (sorted in place); `None` when empty.
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Nearest-rank quantile of a sorted slice.
pub fn quantile_sorted(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

/// Robust spread: 1.4826 × median absolute deviation.
pub fn robust_spread(v: &[f64]) -> Option<f64> {
    let mut w = v.to_vec();
    let m = median(&mut w)?;
    let mut dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    median(&mut dev).map(|mad| 1.4826 * mad)
}
