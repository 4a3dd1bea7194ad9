//! Requests of a service: which SERVER/CONSUMER span of the calling service each outbound call
//! was made for (its nearest inbound ancestor, reached through INTERNAL spans), shared by the
//! audits that reason per request (`no-fallback`, `lockstep-services`, `missing-bulkhead`).

use foldhash::{HashMap, HashMapExt};

use super::super::context::{Call, Context};
use super::super::par;

/// The request of every call, and the calls of every request.
#[derive(Debug, Default)]
pub struct Requests {
    /// Per call (index in `cx.calls`): the index in `cx.inbound` of its request, when the
    /// caller's inbound span is in the window.
    pub of_call: Vec<Option<u32>>,
    /// Per request (index in `cx.inbound`): its calls, in start order.
    pub calls: HashMap<u32, Vec<u32>>,
}

/// How far up a span tree the search goes (bounds malformed or very deep traces).
const MAX_HOPS: usize = 64;

impl Requests {
    /// Builds the index over the context (the per-call search on the context's threads).
    pub fn build(cx: &Context<'_>) -> Requests {
        let of_call = par::map(&cx.calls, cx.threads(), |_, c| request_of(cx, c));
        let mut calls: HashMap<u32, Vec<u32>> = HashMap::new();
        for (ci, r) in of_call.iter().enumerate() {
            if let Some(r) = r {
                calls.entry(*r).or_default().push(ci as u32);
            }
        }
        for v in calls.values_mut() {
            v.sort_by_key(|&i| (cx.calls[i as usize].start, i));
        }
        Requests { of_call, calls }
    }

    /// The calls a request made (empty when none).
    pub fn calls_of(&self, request: u32) -> &[u32] {
        self.calls.get(&request).map_or(&[], Vec::as_slice)
    }
}

/// The index in `cx.inbound` of the caller's inbound span a call was made for: its nearest
/// SERVER/CONSUMER ancestor, reached through INTERNAL spans, when that is the caller's.
fn request_of(cx: &Context<'_>, c: &Call) -> Option<u32> {
    let t = cx.trace(c.trace);
    let mut parent = c.parent;
    for _ in 0..MAX_HOPS {
        if parent == [0; 8] {
            return None;
        }
        let pi = t.position(&parent)?;
        let p = &t.spans[pi];
        if p.kind.is_inbound() {
            if p.resource.service_name != c.caller {
                return None;
            }
            // `inbound` is in (trace, span) order (`Context::build`).
            let key = (c.trace, pi as u32);
            return cx
                .inbound
                .binary_search_by_key(&key, |ib| (ib.trace, ib.span))
                .ok()
                .map(|i| i as u32);
        }
        if p.kind.is_outbound() {
            return None;
        }
        parent = p.parent_span_id;
    }
    None
}
