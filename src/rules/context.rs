//! The shared analysis every detector reads: one pass over the snapshot's traces that reads the
//! store's resolution of each CLIENT/PRODUCER span (`store::calls::CallRecord`: its edge, how it
//! ended, its attempt number) — the rules never resolve a call's dependency again — and indexes
//! calls by edge and by parent, and SERVER/CONSUMER spans by service.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use crate::model::attrs::{Indexed, Positions};
use crate::model::classify::Outcome;
use crate::model::dependency::DepKind;
use crate::model::span::{Span, SpanId, TraceId};
use crate::model::view::DependencyView;
use crate::store::Snapshot;
use crate::store::edges::EdgeId;
use crate::store::trace::Trace;

use super::chains::{self, Chain};
use super::context_rows::{Part, by_edge, by_service};
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
    /// Index of its span's key set in the context's positions (`Context::attrs`).
    pub keys: u32,
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
    /// The known keys' positions per key set of the calls' spans (`Call::keys`).
    positions: Vec<Positions>,
    threads: usize,
    chains: OnceLock<Vec<Chain>>,
    requests: OnceLock<Requests>,
    long_lived: OnceLock<Vec<bool>>,
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
        let (inbound, calls, positions) = Part::join(parts);
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
            positions,
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

    /// The attributes of a call's span, indexed for the keys the store reads (`attrs::KNOWN`):
    /// a lookup of one of those is an array read, any other key a scan, as `Attributes` does.
    pub fn attrs(&self, c: &Call) -> Indexed<'a> {
        let snap: &'a Snapshot = self.snap;
        let a = &snap.traces[c.trace as usize].spans[c.span as usize].attributes;
        match self.positions.get(c.keys as usize) {
            Some(&pos) => Indexed::with_positions(a, pos),
            None => Indexed::new(a),
        }
    }

    /// The span of an inbound entry.
    pub fn inbound_span(&self, s: &Inbound) -> &Span {
        &self.snap.traces[s.trace as usize].spans[s.span as usize]
    }

    /// The trace id of a trace index.
    pub fn trace_id(&self, trace: u32) -> TraceId {
        self.snap.traces[trace as usize].trace_id()
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
