//! Retries counted one way: when a client call is recorded in its trace, the attempt chains of
//! its sibling group (same trace and parent, `model::retry`) are recomputed, so a call that
//! arrives before or after the attempt it retries is counted the same. The changes to earlier
//! siblings' attempt numbers are returned so the edge aggregates follow them.

use std::hash::{BuildHasher, Hash, Hasher};

use crate::model::attrs::Lookup;
use crate::model::dependency::operation_parts;
use crate::model::retry::{
    Attempt, ChainSource, attempt_numbers, chains, identify_items, request_path_of,
};

use super::calls::CallRecord;
use super::edges::EdgeId;
use super::trace::Trace;

/// A retry count to move: `delta` retries on `edge` in the bucket of `start_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryChange {
    /// The edge.
    pub edge: EdgeId,
    /// The call's start, Unix ns.
    pub start_ns: u64,
    /// +1 or −1.
    pub delta: i64,
}

/// The key that attempts of one logical call share besides the edge: a hash of the operation
/// and the request path.
pub fn op_key(a: &impl Lookup, span_name: &str) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(0).build_hasher();
    // The operation is hashed as one string (equal operations, equal keys, however they were
    // put together), built on the stack when it fits (it nearly always does: no allocation).
    let parts = operation_parts(a, span_name);
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut buf = [0u8; 256];
    if len <= buf.len() {
        let mut at = 0;
        for p in parts {
            buf[at..at + p.len()].copy_from_slice(p.as_bytes());
            at += p.len();
        }
        h.write(&buf[..len]);
    } else {
        h.write(parts.concat().as_bytes());
    }
    // The terminator `str`'s `Hash` writes: the key is that of the joined string.
    h.write_u8(0xff);
    request_path_of(a).hash(&mut h);
    h.finish()
}

/// Adds `rec` to the trace's call records and recomputes the attempt numbers of its sibling
/// group. Returns the record as stored (its attempt number set) and the retry counts earlier
/// siblings gained or lost.
pub fn record(trace: &mut Trace, rec: CallRecord) -> (CallRecord, Vec<RetryChange>) {
    let Some(parent) = trace.spans.get(rec.span as usize).map(|s| s.parent_span_id) else {
        return (rec, Vec::new());
    };
    // Grows by half (at least one; `ThinList`): most traces make a few calls.
    let push = |trace: &mut Trace, rec: CallRecord| trace.calls.push(rec);
    let sibling = |c: &CallRecord| {
        trace
            .spans
            .get(c.span as usize)
            .is_some_and(|s| s.parent_span_id == parent)
    };
    // Attempts chain only within one key (`model::retry::chains`): a call whose key no sibling
    // shares starts no chain, so the group need not be worked out again — unless the group
    // has an inferred chain, whose links this call breaks if it started between two attempts
    // (no other sibling may start between them).
    if !trace.calls.iter().any(|c| {
        sibling(c)
            && ((c.edge == rec.edge && c.op_key == rec.op_key)
                || c.chain == Some(ChainSource::Inferred))
    }) {
        push(trace, rec);
        return (rec, Vec::new());
    }
    // The sibling group: recorded calls with the same parent, plus the new one, in
    // (start, span id) order.
    let mut group: Vec<usize> = trace
        .calls
        .iter()
        .enumerate()
        .filter(|(_, c)| sibling(c))
        .map(|(i, _)| i)
        .collect();
    push(trace, rec);
    let new_at = trace.calls.len() - 1;
    group.push(new_at);
    if group.len() == 1 {
        return (rec, Vec::new());
    }
    // Records point at spans of this trace (`span` is a position in `spans`, and spans are
    // never removed from a trace), so indexing holds.
    let span_of = |i: usize| &trace.spans[trace.calls[i].span as usize];
    group.sort_by_key(|&i| (span_of(i).start_ns, span_of(i).span_id));
    let starts: Vec<u64> = group.iter().map(|&i| span_of(i).start_ns).collect();
    let mut attempts: Vec<Attempt<(EdgeId, u64)>> = group
        .iter()
        .map(|&i| {
            let c = &trace.calls[i];
            let s = span_of(i);
            Attempt::of(
                (c.edge, c.op_key),
                &s.attributes,
                s.start_ns,
                s.end_ns,
                c.outcome,
            )
        })
        .collect();
    identify_items(&mut attempts, |g| &span_of(group[g]).attributes);
    let numbers = attempt_numbers(&attempts);
    let mut sources = vec![None; group.len()];
    for ch in chains(&attempts) {
        for &a in &ch.attempts {
            sources[a as usize] = Some(ch.source);
        }
    }
    let mut changes = Vec::new();
    for (g, &i) in group.iter().enumerate() {
        let start_ns = starts[g];
        let c = &mut trace.calls[i];
        let was_retry = c.is_retry();
        c.attempt = numbers[g];
        c.chain = sources[g];
        if i != new_at && was_retry != c.is_retry() {
            changes.push(RetryChange {
                edge: c.edge,
                start_ns,
                delta: if c.is_retry() { 1 } else { -1 },
            });
        }
    }
    (trace.calls[new_at], changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::attrs::Indexed;
    use crate::model::dependency::operation;
    use crate::model::span::SpanKind;
    use crate::testkit;

    /// The key as the joined operation string and the request path hash it.
    fn reference(a: &impl Lookup, name: &str) -> u64 {
        let mut h = foldhash::fast::FixedState::with_seed(0).build_hasher();
        operation(a, name).hash(&mut h);
        request_path_of(a).hash(&mut h);
        h.finish()
    }

    #[test]
    fn the_op_key_is_that_of_the_joined_operation_short_or_long() {
        let long = format!("/{}", "segment/".repeat(60));
        for (method, route) in [("GET", "/orders/{id}"), ("POST", long.as_str())] {
            let s = testkit::span(1, 2, 1, "web", "call", SpanKind::Client, 0, 1)
                .attr("http.request.method", method)
                .attr("http.route", route)
                .attr("url.full", "http://orders/orders/7")
                .build();
            let key = op_key(&Indexed::new(&s.attributes), &s.name);
            assert_eq!(key, reference(&s.attributes, &s.name), "{method} {route}");
        }
        // Different operations, different keys.
        let a = testkit::span(1, 2, 1, "web", "GET /a", SpanKind::Client, 0, 1).build();
        let b = testkit::span(1, 3, 1, "web", "GET /b", SpanKind::Client, 0, 1).build();
        assert_ne!(
            op_key(&a.attributes, &a.name),
            op_key(&b.attributes, &b.name)
        );
    }
}
