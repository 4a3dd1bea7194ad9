//! Which dependency a client call belongs to: the one resolution every front end reads.
//!
//! A CLIENT/PRODUCER span waits for evidence. It is attributed to the `service.name` of its
//! SERVER/CONSUMER child as soon as that child is seen (in either order); when no child arrives
//! within the settle time, its own attributes name the dependency, mapped through aliases learnt
//! from earlier pairings (so `payments:8080` becomes `payments` once a pairing showed that; a name
//! answered by two services is left as is).

use std::collections::VecDeque;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt, HashSet};

use crate::model::classify::{Outcome, classify};
use crate::model::retry::ChainSource;

use super::edges::EdgeId;
use crate::model::dependency::{DepKind, kind_of, peer_name};
use crate::model::span::{Span, SpanId, TraceId};

/// A client call waiting for the evidence that names its dependency.
#[derive(Debug)]
struct PendingCall {
    caller: Arc<str>,
    span_name: crate::model::attrs::Text,
    peer: Option<(String, DepKind)>,
    kind: DepKind,
    start_ns: u64,
    end_ns: u64,
    outcome: Outcome,
}

/// A queued call; `call` is taken when a server span answers it before it settles.
#[derive(Debug)]
struct Waiting {
    settle_at: u64,
    key: (TraceId, SpanId),
    call: Option<PendingCall>,
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

/// Pending calls, learnt aliases and the shared dependency names. See the module docs.
#[derive(Debug)]
pub struct Calls {
    /// Position in `queue` (counted from the first call ever queued) of each waiting call.
    pending: HashMap<(TraceId, SpanId), u64>,
    /// Calls in the order they settle (open order: the settle time is a fixed delay). The calls
    /// live here, not in the map, so the map's entries stay small (one is held per bucket of a
    /// table sized for the peak; half a million calls wait at 500k spans/s).
    queue: VecDeque<Waiting>,
    /// Position of `queue`'s front.
    head: u64,
    aliases: HashMap<String, Alias>,
    names: HashSet<Arc<str>>,
}

impl Default for Calls {
    fn default() -> Self {
        Calls {
            pending: HashMap::new(),
            queue: VecDeque::new(),
            head: 0,
            aliases: HashMap::new(),
            names: HashSet::default(),
        }
    }
}

impl Calls {
    /// Opens a call for an outbound span. When its answering service is already known
    /// (`answered_by`), the call resolves at once; otherwise it waits until `settle_at`.
    pub fn open(
        &mut self,
        span: &Span,
        answered_by: Option<Arc<str>>,
        settle_at: u64,
    ) -> Option<Resolved> {
        let peer = peer_name(&span.attributes).map(|p| (p.name, p.kind));
        let call = PendingCall {
            caller: span.resource.service_name.clone(),
            span_name: span.name.clone(),
            kind: peer
                .as_ref()
                .map_or_else(|| kind_of(&span.attributes), |p| p.1),
            peer,
            start_ns: span.start_ns,
            end_ns: span.end_ns,
            outcome: classify(span),
        };
        let key = (span.trace_id, span.span_id);
        match answered_by {
            Some(service) => Some(self.pair(key, call, service)),
            None => {
                let at = self.head + self.queue.len() as u64;
                self.queue.push_back(Waiting {
                    settle_at,
                    key,
                    call: Some(call),
                });
                self.pending.insert(key, at);
                None
            }
        }
    }

    /// Whether the call `(trace, span)` waits for its answer.
    pub fn is_pending(&self, trace: &TraceId, span: &SpanId) -> bool {
        self.pending.contains_key(&(*trace, *span))
    }

    /// A SERVER/CONSUMER span of `service` answered the pending call `(trace, span)`.
    pub fn answer(&mut self, trace: TraceId, span: SpanId, service: Arc<str>) -> Option<Resolved> {
        let at = self.pending.remove(&(trace, span))?;
        let call = self.queue.get_mut((at - self.head) as usize)?.call.take()?;
        Some(self.pair((trace, span), call, service))
    }

    fn pair(&mut self, key: (TraceId, SpanId), call: PendingCall, service: Arc<str>) -> Resolved {
        if let Some((peer, _)) = &call.peer {
            let entry = self
                .aliases
                .entry(peer.clone())
                .or_insert_with(|| Alias::Service(service.clone()));
            if matches!(entry, Alias::Service(s) if *s != service) {
                *entry = Alias::Ambiguous;
            }
        }
        resolved(key, call, service, true)
    }

    /// Names the dependency of a call no server span answered, from its attributes.
    fn unpaired(&mut self, key: (TraceId, SpanId), call: PendingCall) -> Resolved {
        let dependency: Arc<str> = match &call.peer {
            Some((peer, _)) => match self.aliases.get(peer) {
                Some(Alias::Service(s)) => s.clone(),
                _ => self.name(peer),
            },
            None => Arc::from(format!("(unnamed) {}", call.span_name)),
        };
        resolved(key, call, dependency, false)
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

    /// Resolves, through `out`, the calls whose settle time has passed by `now`.
    pub fn settle(&mut self, now: u64, mut out: impl FnMut(Resolved)) {
        while self.queue.front().is_some_and(|w| w.settle_at <= now) {
            let Some(w) = self.queue.pop_front() else {
                break;
            };
            self.head += 1;
            if let Some(call) = w.call {
                self.pending.remove(&w.key);
                out(self.unpaired(w.key, call));
            }
        }
    }

    /// Resolves every waiting call now (end of a replay).
    pub fn flush(&mut self, out: impl FnMut(Resolved)) {
        self.settle(u64::MAX, out);
    }

    /// Calls waiting for their answer.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Drops dependency names nothing holds any more.
    pub fn prune_names(&mut self) {
        self.names.retain(|n| Arc::strong_count(n) > 1);
    }
}

fn resolved(
    (trace_id, span_id): (TraceId, SpanId),
    call: PendingCall,
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
    }
}
