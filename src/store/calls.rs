//! Which dependency a client call belongs to: the one resolution every front end reads.
//!
//! A CLIENT/PRODUCER span waits for evidence. It is attributed to the `service.name` of its
//! SERVER/CONSUMER child as soon as that child is seen (in either order); when no child arrives
//! within the settle time, its own attributes name the dependency, mapped through aliases learnt
//! from earlier pairings (so `payments:8080` becomes `payments` once a pairing showed that; a name
//! answered by two services is left as is).

use std::collections::VecDeque;
use std::sync::Arc;

use foldhash::{HashMap, HashSet};

use crate::model::attrs::PositionCache;
use crate::model::cache::lookup_result_with;
use crate::model::classify::{Outcome, classify_with};
use crate::model::retry::ChainSource;

use super::edges::EdgeId;
use crate::model::dependency::{DepKind, kind_of, peer_name_into};
use crate::model::span::{Span, SpanId, TraceId};

/// What a resolution reads of a client span (taken from the span when the call resolves).
#[derive(Debug)]
struct Call {
    caller: Arc<str>,
    span_name: crate::model::attrs::Text,
    /// The kind its attributes name, when they name the peer (the name is in `Calls::peer`).
    peer: Option<DepKind>,
    kind: DepKind,
    start_ns: u64,
    end_ns: u64,
    outcome: Outcome,
    op_key: u64,
    cache: Option<bool>,
}

impl Call {
    /// Everything the store reads of the span's attributes, from one index of them (its key
    /// set's positions from `positions`); the peer's name goes to `peer` (`peer_name_into`).
    fn of(span: &Span, positions: &mut PositionCache, peer: &mut String) -> Self {
        let a = positions.index(&span.attributes);
        let peer = peer_name_into(&a, peer).map(|(kind, _)| kind);
        Call {
            caller: span.resource.service_name.clone(),
            span_name: span.name.clone(),
            kind: peer.unwrap_or_else(|| kind_of(&a)),
            peer,
            start_ns: span.start_ns,
            end_ns: span.end_ns,
            outcome: classify_with(span, &a),
            op_key: super::retries::op_key(&a, &span.name),
            cache: lookup_result_with(span, &a),
        }
    }
}

/// A waiting call: where its span sits in the store (the span itself stays in its trace), and
/// when it settles. 24 bytes; half a million wait at 500k spans/s.
#[derive(Clone, Copy, Debug)]
struct Waiting {
    settle_at: u64,
    /// Arrival number of the trace (see `TraceTable::entry`).
    trace: u64,
    /// Position of the span in the trace.
    span: u32,
}

/// What pairings taught about an attribute-derived peer name.
#[derive(Debug)]
enum Alias {
    Service(Arc<str>),
    Ambiguous,
}

/// A call whose dependency is now known.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// Its trace.
    pub trace_id: TraceId,
    /// Its span.
    pub span_id: SpanId,
    /// The calling service.
    pub caller: Arc<str>,
    /// The dependency.
    pub dependency: Arc<str>,
    /// Kind of dependency.
    pub kind: DepKind,
    /// Whether a SERVER/CONSUMER span answered it (else its attributes named it).
    pub paired: bool,
    /// Start, Unix ns.
    pub start_ns: u64,
    /// End, Unix ns.
    pub end_ns: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Hash of (operation, request path): see [`CallRecord::op_key`].
    pub op_key: u64,
    /// What the span says of a cache lookup (`model::cache::lookup_result`).
    pub cache: Option<bool>,
}

/// The store's resolution of one client call in a trace: which edge it belongs to, how it
/// ended, and whether it retried a sibling. Written once the dependency is known (and its
/// attempt number again when a later sibling changes it); read by every front end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// Index of the CLIENT/PRODUCER span in `Trace::spans`.
    pub span: u32,
    /// The edge: an index into `Snapshot::edge_keys`.
    pub edge: EdgeId,
    /// Kind of dependency.
    pub kind: DepKind,
    /// How the call ended.
    pub outcome: Outcome,
    /// Attempt number within its retry chain (1 = first attempt or no chain).
    pub attempt: u16,
    /// How the chain was recognised, when the call is in one.
    pub chain: Option<ChainSource>,
    /// A SERVER/CONSUMER span answered it (else its attributes named the dependency).
    pub paired: bool,
    /// Hash of (operation, request path): attempts chain only within one.
    pub op_key: u64,
}

impl CallRecord {
    /// Whether the call is a retry: a later attempt of a chain.
    pub fn is_retry(&self) -> bool {
        self.attempt > 1
    }
}

/// Waiting calls, learnt aliases and the shared dependency names. See the module docs.
///
/// A waiting call is not copied here: the queue holds where its span is (trace arrival number,
/// position), and whether it still waits is read from the trace (a CLIENT/PRODUCER span without
/// a call record). The store resolves a call when its answer comes, when it settles, or when its
/// trace is evicted first (named by its attributes then, as it would have been at settle time).
#[derive(Debug, Default)]
pub struct Calls {
    /// Calls in the order they settle (open order: the settle time is a fixed delay), including
    /// ones answered or evicted since (skipped when they come up).
    queue: VecDeque<Waiting>,
    /// Calls still waiting.
    waiting: usize,
    aliases: HashMap<String, Alias>,
    names: HashSet<Arc<str>>,
    /// Known keys' positions per key set, for `Call::of`.
    positions: PositionCache,
    /// The peer name `Call::of` read last (one buffer reused).
    peer: String,
}

impl Calls {
    /// The call of outbound span `span` (of trace `trace_id`), answered by a SERVER/CONSUMER span
    /// of `service`. `waited`: the call was waiting (see [`Calls::wait`]).
    pub fn answer(
        &mut self,
        trace_id: TraceId,
        span: &Span,
        service: Arc<str>,
        waited: bool,
    ) -> Resolved {
        self.waiting -= usize::from(waited && self.waiting > 0);
        let call = Call::of(span, &mut self.positions, &mut self.peer);
        if call.peer.is_some() {
            let peer = self.peer.as_str();
            // Looked up before inserting: the name is only copied the first time it is seen.
            match self.aliases.get_mut(peer) {
                Some(entry) => {
                    if matches!(entry, Alias::Service(s) if *s != service) {
                        *entry = Alias::Ambiguous;
                    }
                }
                None => {
                    self.aliases
                        .insert(peer.to_owned(), Alias::Service(service.clone()));
                }
            }
        }
        resolved((trace_id, span.span_id), call, service, true)
    }

    /// The outbound span at position `span` of the trace that arrived `trace`-th waits for its
    /// answer until `settle_at`.
    pub fn wait(&mut self, trace: u64, span: u32, settle_at: u64) {
        self.queue.push_back(Waiting {
            settle_at,
            trace,
            span,
        });
        self.waiting += 1;
    }

    /// The next call whose settle time has passed by `now`, as (trace arrival number, span
    /// position); it may have been answered or evicted since (the store checks).
    pub fn next_due(&mut self, now: u64) -> Option<(u64, u32)> {
        let w = self.queue.front().filter(|w| w.settle_at <= now)?;
        let due = (w.trace, w.span);
        self.queue.pop_front();
        Some(due)
    }

    /// The call that comes due `n` calls after the next one, if it is due by `now` (to ask for
    /// its trace ahead).
    pub fn due_after(&self, n: usize, now: u64) -> Option<(u64, u32)> {
        let w = self.queue.get(n).filter(|w| w.settle_at <= now)?;
        Some((w.trace, w.span))
    }

    /// The waiting call of outbound span `span` (of trace `trace_id`) that no server span
    /// answered: its dependency is named from its attributes, through the aliases learnt.
    pub fn unanswered(&mut self, trace_id: TraceId, span: &Span) -> Resolved {
        self.waiting -= usize::from(self.waiting > 0);
        let call = Call::of(span, &mut self.positions, &mut self.peer);
        let dependency: Arc<str> = match call.peer {
            Some(_) => match self.aliases.get(self.peer.as_str()) {
                Some(Alias::Service(s)) => s.clone(),
                _ => {
                    let peer = std::mem::take(&mut self.peer);
                    let name = self.name(&peer);
                    self.peer = peer;
                    name
                }
            },
            None => Arc::from(format!("(unnamed) {}", call.span_name)),
        };
        resolved((trace_id, span.span_id), call, dependency, false)
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

    /// Calls waiting for their answer.
    pub fn pending(&self) -> usize {
        self.waiting
    }

    /// Drops dependency names nothing holds any more.
    pub fn prune_names(&mut self) {
        self.names.retain(|n| Arc::strong_count(n) > 1);
    }
}

fn resolved(
    (trace_id, span_id): (TraceId, SpanId),
    call: Call,
    dependency: Arc<str>,
    paired: bool,
) -> Resolved {
    Resolved {
        trace_id,
        span_id,
        caller: call.caller,
        dependency,
        kind: call.kind,
        paired,
        start_ns: call.start_ns,
        end_ns: call.end_ns,
        outcome: call.outcome,
        op_key: call.op_key,
        cache: call.cache,
    }
}
