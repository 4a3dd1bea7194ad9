//! A trace's spans, shared with snapshots: a one-span trace (most traces of a service that
//! samples per call, and every orphan span) holds its span in one allocation; longer traces a
//! vector behind its own `Arc`, so copying a trace a snapshot still holds copies a pointer.

use std::ops::Deref;
use std::sync::Arc;

use crate::model::span::Span;

/// A trace's spans in arrival order. Reads as a slice (`iter`, `len`, `[i]`, `get`).
#[derive(Clone, Debug, Default)]
pub enum SpanList {
    /// No span yet (a trace made by log records so far).
    #[default]
    Empty,
    /// One span: 112 bytes in one allocation, against 144 in two for a vector of one.
    One(Arc<Span>),
    /// Two or more spans.
    Many(Arc<Vec<Span>>),
}

impl Deref for SpanList {
    type Target = [Span];

    fn deref(&self) -> &[Span] {
        match self {
            SpanList::Empty => &[],
            SpanList::One(s) => std::slice::from_ref(&**s),
            SpanList::Many(v) => v,
        }
    }
}

impl SpanList {
    /// Appends a span. Copies the spans first only while a snapshot still shares them.
    pub fn push(&mut self, span: Span) {
        match std::mem::take(self) {
            SpanList::Empty => *self = SpanList::One(Arc::new(span)),
            SpanList::One(first) => {
                let first = Arc::try_unwrap(first).unwrap_or_else(|a| (*a).clone());
                // Room for a third: a trace that got a second span usually gets more.
                let mut v = Vec::with_capacity(3);
                v.push(first);
                v.push(span);
                *self = SpanList::Many(Arc::new(v));
            }
            SpanList::Many(mut v) => {
                let spans = Arc::make_mut(&mut v);
                // Grow by half (3, 4, 6, 9, 13, ...) rather than Vec's doubling: most traces
                // are small, a span is about 100 bytes, and a doubling leaves a third unused.
                if spans.len() == spans.capacity() {
                    spans.reserve_exact((spans.len() / 2).max(1));
                }
                spans.push(span);
                *self = SpanList::Many(v);
            }
        }
    }

    /// The spans for writing in place; copied first only while a snapshot still shares them.
    pub fn make_mut(&mut self) -> &mut [Span] {
        match self {
            SpanList::Empty => &mut [],
            SpanList::One(s) => std::slice::from_mut(Arc::make_mut(s)),
            SpanList::Many(v) => Arc::make_mut(v).as_mut_slice(),
        }
    }

    /// Bytes the list holds beyond its spans' own (allocation headers, unused capacity).
    pub fn overhead_bytes(&self) -> usize {
        let arc = 2 * std::mem::size_of::<usize>();
        match self {
            SpanList::Empty => 0,
            SpanList::One(_) => arc,
            SpanList::Many(v) => {
                arc + std::mem::size_of::<Vec<Span>>()
                    + (v.capacity() - v.len()) * std::mem::size_of::<Span>()
            }
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
        let mut l = SpanList::default();
        assert!(l.is_empty());
        for id in 1..=5 {
            l.push(span(id));
            assert_eq!(l.len(), id as usize);
        }
        assert!(matches!(l, SpanList::Many(_)));
        let ids: Vec<u8> = l.iter().map(|s| s.span_id[7]).collect();
        assert_eq!(ids, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_shared_list_is_copied_on_write_and_the_copy_is_unchanged() {
        let mut l = SpanList::default();
        l.push(span(1));
        let one = l.clone();
        l.push(span(2));
        assert_eq!((one.len(), l.len()), (1, 2));
        let two = l.clone();
        l.make_mut()[0].end_ns = 99;
        l.push(span(3));
        assert_eq!(two.len(), 2);
        assert_eq!(two[0].end_ns, one[0].end_ns);
        assert_eq!(l[0].end_ns, 99);
        let mut single = one.clone();
        single.make_mut()[0].end_ns = 7;
        assert_eq!((one[0].end_ns, single[0].end_ns), (1, 7));
    }
}
