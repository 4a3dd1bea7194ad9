//! Building the context's rows (`Context::build`): the inbound spans and calls of a chunk of
//! consecutive traces, their joining in trace order, and the by-edge and by-service indices.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::sync::Arc;

use crate::model::attrs::{Indexed, Positions};
use crate::model::dependency::operation_parts;
use crate::model::span::{Span, SpanId};
use crate::store::Snapshot;
use crate::store::edges::EdgeId;

use super::context::{Call, Inbound};

/// The shared name equal to `s`, added to `pool` when new (looked up without allocating).
fn intern(pool: &mut HashSet<Arc<str>>, s: &str) -> Arc<str> {
    if let Some(a) = pool.get(s) {
        return a.clone();
    }
    let a: Arc<str> = Arc::from(s);
    pool.insert(a.clone());
    a
}

/// Distinct key positions in order of first appearance: the same table, and the same
/// `Call::keys`, whatever the chunks (equal positions answer every lookup alike).
#[derive(Default)]
struct PositionTable {
    rows: Vec<Positions>,
    index: HashMap<Positions, u32>,
}

impl PositionTable {
    /// The row of `p`, added when new.
    fn add(&mut self, p: Positions) -> u32 {
        *self.index.entry(p).or_insert_with(|| {
            self.rows.push(p);
            (self.rows.len() - 1) as u32
        })
    }
}

/// One chunk of traces' inbound spans and calls (`Context::build`): indices into `inbound` and
/// `calls` (`answered_by`, `caller_call`) are the chunk's own until the chunks are joined.
pub(super) struct Part {
    /// Inbound spans of the chunk.
    pub(super) inbound: Vec<Inbound>,
    /// Calls of the chunk, in (trace, parent, start, span id) order.
    pub(super) calls: Vec<Call>,
    /// The known keys' positions of each key set of the calls' spans (`Call::keys`), once each.
    pub(super) positions: Vec<Positions>,
}

impl Part {
    /// The inbound spans and calls of the traces `range` of the snapshot inside `window`.
    pub(super) fn build(
        snap: &Snapshot,
        range: std::ops::Range<usize>,
        window: (u64, u64),
    ) -> Part {
        let first = range.start;
        let traces = || range.clone().map(|i| &snap.traces[i]);
        let in_window = |s: &Span| s.start_ns >= window.0 && s.start_ns < window.1;
        let mut pool: HashSet<Arc<str>> = HashSet::new();
        // Key sets are shared by the decoders' interner: their positions are found once each,
        // keyed by the key set's address (alive as long as the snapshot the calls borrow).
        let mut positions = PositionTable::default();
        let mut key_sets: HashMap<(usize, usize), u32> = HashMap::new();
        let mut op = String::new();
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
            let from = calls.len();
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
                let keys = s.attributes.keys();
                let set = *key_sets
                    .entry((keys.as_ptr() as usize, keys.len()))
                    .or_insert_with(|| positions.add(Positions::of(keys)));
                let ix = Indexed::with_positions(&s.attributes, positions.rows[set as usize]);
                op.clear();
                for part in operation_parts(&ix, &s.name) {
                    op.push_str(part);
                }
                calls.push(Call {
                    trace: ti,
                    span: rec.span,
                    caller: key.caller.clone(),
                    caller_instance: s.resource.instance.clone(),
                    dep: key.dependency.clone(),
                    kind: rec.kind,
                    op: intern(&mut pool, &op),
                    keys: set,
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
            // Siblings in (start, span id) order, as the store orders attempts. Traces come in
            // order, so sorting each trace's calls (stable, like the whole list) sorts the list.
            calls[from..].sort_by_key(|c| (c.parent, c.start, t.spans[c.span as usize].span_id));
        }
        for (ci, c) in calls.iter().enumerate() {
            if let Some(ib) = c.answered_by {
                inbound[ib as usize].caller_call = Some(ci as u32);
            }
        }
        Part {
            inbound,
            calls,
            positions: positions.rows,
        }
    }

    /// The chunks one after the other, their indices shifted to the joined vectors'. The chunks
    /// cover consecutive traces, so the joined calls keep the (trace, parent, start, span id)
    /// order.
    pub(super) fn join(parts: Vec<Part>) -> (Vec<Inbound>, Vec<Call>, Vec<Positions>) {
        if parts.len() == 1 {
            let p = parts
                .into_iter()
                .next()
                .map(|p| (p.inbound, p.calls, p.positions));
            return p.unwrap_or_default();
        }
        let mut inbound = Vec::with_capacity(parts.iter().map(|p| p.inbound.len()).sum());
        let mut calls = Vec::with_capacity(parts.iter().map(|p| p.calls.len()).sum());
        let mut positions = PositionTable::default();
        for p in parts {
            let (ib_off, call_off) = (inbound.len() as u32, calls.len() as u32);
            let sets: Vec<u32> = p.positions.into_iter().map(|r| positions.add(r)).collect();
            inbound.extend(p.inbound.into_iter().map(|mut s| {
                s.caller_call = s.caller_call.map(|c| c + call_off);
                s
            }));
            calls.extend(p.calls.into_iter().map(|mut c| {
                c.answered_by = c.answered_by.map(|i| i + ib_off);
                c.keys = sets.get(c.keys as usize).copied().unwrap_or(c.keys);
                c
            }));
        }
        (inbound, calls, positions.rows)
    }
}

/// Call indices per edge (caller, dependency), each list in start order.
pub(super) fn by_edge(calls: &[Call]) -> BTreeMap<(Arc<str>, Arc<str>), Vec<u32>> {
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
pub(super) fn by_service(inbound: &[Inbound]) -> BTreeMap<Arc<str>, Vec<u32>> {
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
