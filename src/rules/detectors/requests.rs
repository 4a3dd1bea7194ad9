//! Requests of a service: which SERVER/CONSUMER span of the calling service each outbound call
//! was made for (its nearest inbound ancestor, reached through INTERNAL spans), shared by the
//! audits that reason per request (`no-fallback`, `lockstep-services`, `missing-bulkhead`).

use std::collections::HashMap;

use super::super::context::Context;

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
    /// Builds the index over the context.
    pub fn build(cx: &Context<'_>) -> Requests {
        let mut by_span: HashMap<(u32, u32), u32> = HashMap::with_capacity(cx.inbound.len());
        for (i, ib) in cx.inbound.iter().enumerate() {
            by_span.insert((ib.trace, ib.span), i as u32);
        }
        let mut of_call = Vec::with_capacity(cx.calls.len());
        let mut calls: HashMap<u32, Vec<u32>> = HashMap::new();
        for (ci, c) in cx.calls.iter().enumerate() {
            let t = cx.trace(c.trace);
            let mut parent = c.parent;
            let mut found = None;
            for _ in 0..MAX_HOPS {
                if parent == [0; 8] {
                    break;
                }
                let Some(pi) = t.position(&parent) else { break };
                let p = &t.spans[pi];
                if p.kind.is_inbound() {
                    if p.resource.service_name == c.caller {
                        found = by_span.get(&(c.trace, pi as u32)).copied();
                    }
                    break;
                }
                if p.kind.is_outbound() {
                    break;
                }
                parent = p.parent_span_id;
            }
            if let Some(r) = found {
                calls.entry(r).or_default().push(ci as u32);
            }
            of_call.push(found);
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
