//! A trace's spans, shared with snapshots: a one-span trace (most traces of a service that
//! samples per call, and every orphan span) holds its span inline, in the trace's own
//! allocation; longer traces a vector behind its own `Arc` (with the id index, the error count
//! and the time range), so copying a trace a snapshot still holds copies a pointer, not every
//! span. The list also answers the trace's id and time range (from its span when it has one),
//! so the trace itself need not hold them: see `store::trace`.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;

use crate::model::span::{Span, SpanId, TraceId};

/// Spans above which a list keeps an id index instead of scanning.
const INDEX_AT: usize = 32;

/// Two or more spans of a trace, with what finding and counting them needs.
#[derive(Clone, Debug, Default)]
pub struct SpanVec {
    spans: Vec<Span>,
    /// Spans that are errors.
    errors: u32,
    /// Earliest span start, Unix nanoseconds.
    start_ns: u64,
    /// Latest span end, Unix nanoseconds.
    end_ns: u64,
    // Boxed: most traces never build an index, and a bare HashMap would add 40 bytes to each.
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<SpanId, u32>>>,
}

/// A trace's spans in arrival order. Reads as a slice (`iter`, `len`, `[i]`, `get`).
///
/// Every span of the list has the same trace id (the store groups spans by it): the list's
/// [`trace_id`](Self::trace_id) is its first span's, or the one it was made with while empty.
#[derive(Clone, Debug)]
pub enum SpanList {
    /// No span yet (a trace made by log records so far): the trace's id.
    Empty(TraceId),
    /// One span, inline: a one-span trace is one allocation (the tag and the empty list's id
    /// fit beside the span's fields, so the list is no larger than a span).
    One(Span),
    /// Two or more spans.
    Many(Arc<SpanVec>),
}

impl Deref for SpanList {
    type Target = [Span];

    fn deref(&self) -> &[Span] {
        match self {
            SpanList::Empty(_) => &[],
            SpanList::One(s) => std::slice::from_ref(s),
            SpanList::Many(v) => &v.spans,
        }
    }
}

impl SpanList {
    /// An empty list of trace `id`.
    pub fn new(id: TraceId) -> Self {
        SpanList::Empty(id)
    }

    /// The trace id of the spans.
    pub fn trace_id(&self) -> TraceId {
        match self {
            SpanList::Empty(id) => *id,
            SpanList::One(s) => s.trace_id,
            // A `Many` list has at least two spans (it is made from two).
            SpanList::Many(v) => v.spans.first().map_or([0; 16], |s| s.trace_id),
        }
    }

    /// Earliest span start, Unix nanoseconds (`u64::MAX` without spans).
    pub fn start_ns(&self) -> u64 {
        match self {
            SpanList::Empty(_) => u64::MAX,
            SpanList::One(s) => s.start_ns,
            SpanList::Many(v) => v.start_ns,
        }
    }

    /// Latest span end, Unix nanoseconds (0 without spans).
    pub fn end_ns(&self) -> u64 {
        match self {
            SpanList::Empty(_) => 0,
            SpanList::One(s) => s.end_ns,
            SpanList::Many(v) => v.end_ns,
        }
    }

    /// Appends a span (`is_error`: whether it is an error, as [`Span::is_error`] says). Copies
    /// the spans first only while a snapshot still shares them.
    pub fn push(&mut self, span: Span, is_error: bool) {
        let id = span.trace_id;
        match std::mem::replace(self, SpanList::Empty(id)) {
            SpanList::Empty(_) => *self = SpanList::One(span),
            SpanList::One(first) => {
                // Room for a third: a trace that got a second span usually gets more.
                let mut spans = Vec::with_capacity(3);
                let errors = u32::from(first.is_error()) + u32::from(is_error);
                let start_ns = first.start_ns.min(span.start_ns);
                let end_ns = first.end_ns.max(span.end_ns);
                spans.push(first);
                spans.push(span);
                *self = SpanList::Many(Arc::new(SpanVec {
                    spans,
                    errors,
                    start_ns,
                    end_ns,
                    index: None,
                }));
            }
            SpanList::Many(mut v) => {
                let sv = Arc::make_mut(&mut v);
                let i = sv.spans.len() as u32;
                if let Some(ix) = &mut sv.index {
                    ix.insert(span.span_id, i);
                }
                // Grow by half (3, 4, 6, 9, 13, ...) rather than Vec's doubling: most traces
                // are small, a span is about 100 bytes, and a doubling leaves a third unused.
                if sv.spans.len() == sv.spans.capacity() {
                    sv.spans.reserve_exact((sv.spans.len() / 2).max(1));
                }
                sv.errors += u32::from(is_error);
                sv.start_ns = sv.start_ns.min(span.start_ns);
                sv.end_ns = sv.end_ns.max(span.end_ns);
                sv.spans.push(span);
                if sv.index.is_none() && sv.spans.len() > INDEX_AT {
                    let ix: HashMap<SpanId, u32> = sv
                        .spans
                        .iter()
                        .enumerate()
                        .map(|(i, s)| (s.span_id, i as u32))
                        .collect();
                    sv.index = Some(Box::new(ix));
                }
                *self = SpanList::Many(v);
            }
        }
    }

    /// Position of a span by id.
    pub fn position(&self, id: &SpanId) -> Option<usize> {
        match self {
            SpanList::Many(v) => match &v.index {
                Some(ix) => ix.get(id).map(|i| *i as usize),
                None => v.spans.iter().position(|s| &s.span_id == id),
            },
            _ => self.iter().position(|s| &s.span_id == id),
        }
    }

    /// Spans that are errors.
    pub fn errors(&self) -> u32 {
        match self {
            SpanList::Empty(_) => 0,
            SpanList::One(s) => u32::from(s.is_error()),
            SpanList::Many(v) => v.errors,
        }
    }

    /// Counts an error-evidence log record into span `i` (see [`Span::add_error_log`]), and the
    /// span into the error count when that makes it an error. Copies the spans first only while
    /// a snapshot still shares them; does nothing when `i` is out of range.
    pub fn add_error_log(&mut self, i: usize) {
        match self {
            SpanList::Empty(_) => {}
            SpanList::One(s) => {
                if i == 0 {
                    s.add_error_log();
                }
            }
            SpanList::Many(v) => {
                let sv = Arc::make_mut(v);
                if let Some(s) = sv.spans.get_mut(i) {
                    let was = s.is_error();
                    s.add_error_log();
                    sv.errors += u32::from(!was);
                }
            }
        }
    }

    /// Bytes the list holds beyond its spans' own (allocation headers, index, unused capacity);
    /// an inline span counts as the trace's.
    pub fn overhead_bytes(&self) -> usize {
        let arc = 2 * std::mem::size_of::<usize>();
        match self {
            SpanList::Empty(_) | SpanList::One(_) => 0,
            SpanList::Many(v) => {
                arc + std::mem::size_of::<SpanVec>()
                    + (v.spans.capacity() - v.spans.len()) * std::mem::size_of::<Span>()
                    + v.index.as_ref().map_or(0, |ix| ix.capacity() * 24)
            }
        }
    }

    /// Bytes of the spans' own heap plus, when not inline, the spans themselves.
    pub fn spans_bytes(&self) -> usize {
        let all: usize = self.iter().map(Span::mem_bytes).sum();
        match self {
            SpanList::One(_) => all - std::mem::size_of::<Span>(),
            _ => all,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    fn span(id: u64) -> Span {
        testkit::span(1, id, 0, "svc", "op", Default::default(), 0, 1).build()
    }

    #[test]
    fn grows_from_one_to_many_in_order() {
        let mut l = SpanList::new([0; 16]);
        assert!(l.is_empty());
        for id in 1..=5 {
            l.push(span(id), false);
            assert_eq!(l.len(), id as usize);
        }
        assert!(matches!(l, SpanList::Many(_)));
        let ids: Vec<u8> = l.iter().map(|s| s.span_id[7]).collect();
        assert_eq!(ids, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_shared_list_is_copied_on_write_and_the_copy_is_unchanged() {
        let mut l = SpanList::new([0; 16]);
        l.push(span(1), false);
        let one = l.clone();
        l.push(span(2), false);
        assert_eq!((one.len(), l.len()), (1, 2));
        let two = l.clone();
        l.add_error_log(0);
        l.push(span(3), false);
        assert_eq!(two.len(), 2);
        assert_eq!((two.errors(), l.errors()), (0, 1));
        assert!(!two[0].error_logged() && l[0].error_logged());
        let mut single = one.clone();
        single.add_error_log(0);
        assert_eq!((one.errors(), single.errors()), (0, 1));
    }
}
