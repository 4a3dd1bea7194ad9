//! One assembled trace: its spans in arrival order, its log records, and the few facts views
//! need often.

use crate::model::log::LogRecord;
use crate::model::span::{Span, SpanId, TraceId};

use std::sync::Arc;

use super::calls::CallRecord;
use super::span_list::SpanList;
use super::thin_vec::{ThinList, ThinVec};

/// An assembled trace. Spans may arrive in any order, across batches and services.
///
/// Laid out for the one-span trace (every orphan span, and most traces of a service that
/// samples per call): the span inline and empty call and log lists one pointer each, 112 bytes
/// in one allocation, 128 with its `Arc` header: one mimalloc size class (see
/// `one_span_trace_is_one_small_allocation` in the tests). The trace id and the time range are
/// read from the spans ([`Trace::trace_id`], [`Trace::start_ns`], [`Trace::end_ns`]): a
/// one-span trace holding them again would cost 32 bytes and the next size class (160).
#[derive(Clone, Debug)]
pub struct Trace {
    /// Spans in arrival order ([`SpanList`]): one inline, more behind their own `Arc`, so that
    /// copying a trace a snapshot still holds (to add a call record when a call settles) copies
    /// a pointer, not every span: a trace is written again after it was published far more
    /// often than it gains spans.
    pub spans: SpanList,
    /// The store's resolution of each client call whose dependency is known, in resolution
    /// order (see `store::calls::CallRecord`).
    pub calls: ThinList<CallRecord>,
    /// Log records of the trace in arrival order (with or without a span id; a record may come
    /// before its span, or belong to a span never received). See [`Trace::logs_of`].
    pub logs: ThinVec<LogRecord>,
}

/// Most spans of a trace whose attribute blocks [`Trace::prefetch_attributes`] asks for.
const PREFETCH_SPANS: usize = 16;

impl Trace {
    /// An empty trace.
    pub fn new(trace_id: TraceId) -> Self {
        Trace {
            spans: SpanList::new(trace_id),
            calls: ThinList::new(),
            logs: ThinVec::new(),
        }
    }

    /// Asks for what reading this trace's spans touches after the trace itself: a one-span
    /// trace's attribute block, a longer trace's span vector. Call it once the trace is cached
    /// (the second step of a prefetch ahead of eviction, settling or freeing).
    pub(crate) fn prefetch_spans(&self) {
        match &self.spans {
            SpanList::One(s) => super::prefetch::value(s.attributes.block_ptr()),
            SpanList::Many(v) => super::prefetch::value(Arc::as_ptr(v)),
            SpanList::Empty(_) => {}
        }
    }

    /// Asks for every span's attribute block: the last prefetch step before the trace is
    /// evicted or freed, once its spans are cached (a freed span reads its block's count, an
    /// evicted waiting call its attributes). The blocks then load side by side, not one after
    /// the other as each span is reached.
    pub(crate) fn prefetch_attributes(&self) {
        // The first few: a long trace's blocks would not all stay cached until they are read,
        // and walking all its spans here would read them twice.
        for s in self.spans.iter().take(PREFETCH_SPANS) {
            super::prefetch::line(s.attributes.block_ptr());
        }
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.spans.trace_id()
    }

    /// Earliest span start, Unix nanoseconds (`u64::MAX` while the trace has no span).
    pub fn start_ns(&self) -> u64 {
        self.spans.start_ns()
    }

    /// Latest span end, Unix nanoseconds (0 while the trace has no span).
    pub fn end_ns(&self) -> u64 {
        self.spans.end_ns()
    }

    /// Spans that are errors.
    pub fn error_count(&self) -> u32 {
        self.spans.errors()
    }

    /// Position of a span by id.
    pub fn position(&self, id: &SpanId) -> Option<usize> {
        self.spans.position(id)
    }

    /// A span by id.
    pub fn get(&self, id: &SpanId) -> Option<&Span> {
        self.position(id).map(|i| &self.spans[i])
    }

    /// Adds a span of this trace (its trace id is the trace's); returns false (and changes
    /// nothing) when its id is already present. Error log records of the span that came first
    /// are joined to it (see [`Trace::mark_logged`]).
    pub fn push(&mut self, mut span: Span) -> bool {
        debug_assert_eq!(span.trace_id, self.trace_id(), "a span of another trace");
        if self.position(&span.span_id).is_some() {
            return false;
        }
        self.mark_logged(&mut span);
        let is_error = span.is_error();
        // Copies the spans only while a snapshot still shares them.
        self.spans.push(span, is_error);
        true
    }

    /// Counts the error-evidence log records of `span` already in the trace into it, so a
    /// record that arrived before its span still makes it an error (the store calls this before
    /// it classifies the span's call).
    pub fn mark_logged(&self, span: &mut Span) {
        if span.error_logged() {
            return;
        }
        let n = self
            .logs
            .iter()
            .filter(|l| l.is_of_span(&span.span_id) && l.is_error())
            .count();
        for _ in 0..n {
            span.add_error_log();
        }
    }

    /// Adds a log record of this trace. When it is error evidence for a span already here, the
    /// span counts it (and the trace's error count follows).
    pub fn push_log(&mut self, log: LogRecord) {
        if log.is_error()
            && let Some(id) = log.span_id
            && let Some(i) = self.position(&id)
        {
            self.spans.add_error_log(i);
        }
        self.logs.push(log);
    }

    /// The log records of span `id` (`None`: those without a span id), in time order.
    pub fn logs_of(&self, id: Option<&SpanId>) -> Vec<&LogRecord> {
        let mut v: Vec<&LogRecord> = self
            .logs
            .iter()
            .filter(|l| l.span_id.as_ref() == id)
            .collect();
        v.sort_by_key(|l| l.time_ns);
        v
    }

    /// The children of a span.
    pub fn children<'a>(&'a self, id: &'a SpanId) -> impl Iterator<Item = &'a Span> + 'a {
        self.spans.iter().filter(move |s| &s.parent_span_id == id)
    }

    /// The root: the span without a parent, else the earliest span whose parent is missing.
    pub fn root(&self) -> Option<&Span> {
        self.spans.iter().find(|s| !s.has_parent()).or_else(|| {
            self.spans
                .iter()
                .filter(|s| self.position(&s.parent_span_id).is_none())
                .min_by_key(|s| s.start_ns)
        })
    }

    /// Duration from the earliest start to the latest end, in nanoseconds.
    pub fn duration_ns(&self) -> u64 {
        self.end_ns().saturating_sub(self.start_ns())
    }

    /// Approximate bytes held by the trace.
    pub fn mem_bytes(&self) -> usize {
        std::mem::size_of::<Trace>()
            + self.spans.overhead_bytes()
            + self.spans.spans_bytes()
            + self.calls.heap_bytes()
            + self.logs.iter().map(LogRecord::mem_bytes).sum::<usize>()
            + (self.logs.capacity() - self.logs.len()) * std::mem::size_of::<LogRecord>()
            + if self.logs.is_empty() {
                0
            } else {
                std::mem::size_of::<Vec<LogRecord>>()
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    #[test]
    fn one_span_trace_is_one_small_allocation() {
        // The span list is no larger than a span (its tag and the empty list's id beside the
        // span's fields), and a trace with its `Arc` header fits mimalloc's 128-byte class.
        assert_eq!(std::mem::size_of::<SpanList>(), std::mem::size_of::<Span>());
        assert!(
            std::mem::size_of::<Trace>() <= 112,
            "{}",
            std::mem::size_of::<Trace>()
        );
        // A trace's one call record is one allocation of a record's size.
        let mut calls = ThinList::new();
        calls.push(CallRecord {
            span: 0,
            edge: 0,
            kind: crate::model::dependency::DepKind::Http,
            outcome: Default::default(),
            attempt: 1,
            chain: None,
            paired: false,
            op_key: 0,
        });
        assert_eq!(calls.heap_bytes(), std::mem::size_of::<CallRecord>());
    }

    #[test]
    fn error_count_follows_spans_and_error_logs() {
        let span = |id: u64, status: u16| {
            let s = testkit::span(1, id, 0, "svc", "op", Default::default(), 0, 1);
            if status >= 500 { s.error("boom") } else { s }.build()
        };
        let mut t = Trace::new(span(1, 0).trace_id);
        assert_eq!(t.error_count(), 0);
        t.push(span(1, 500));
        assert_eq!(t.error_count(), 1);
        t.push(span(2, 200));
        t.push(span(3, 200));
        assert_eq!(t.error_count(), 1);
        assert!(!t.push(span(2, 500)), "a duplicate id changes nothing");
        assert_eq!(t.error_count(), 1);
        for id in 4..=40 {
            t.push(span(id, 200));
        }
        assert_eq!(
            t.position(&span(40, 0).span_id),
            Some(39),
            "found through the index"
        );
        assert_eq!(
            t.get(&span(17, 0).span_id).map(|s| s.span_id),
            Some(span(17, 0).span_id)
        );
    }

    #[test]
    fn id_and_time_range_come_from_the_spans() {
        let span = |id: u64, start: u64, end: u64| {
            testkit::span(
                7,
                id,
                0,
                "svc",
                "op",
                Default::default(),
                start,
                end - start,
            )
            .build()
        };
        let tid = span(1, 0, 0).trace_id;
        // A trace made by a log record: its id, no time range yet.
        let mut t = Trace::new(tid);
        assert_eq!(t.trace_id(), tid);
        assert_eq!(
            (t.start_ns(), t.end_ns(), t.duration_ns()),
            (u64::MAX, 0, 0)
        );
        t.push(span(1, 500, 900));
        assert_eq!((t.trace_id(), t.start_ns(), t.end_ns()), (tid, 500, 900));
        let one = t.clone();
        t.push(span(2, 300, 600));
        assert_eq!((t.trace_id(), t.start_ns(), t.end_ns()), (tid, 300, 900));
        t.push(span(3, 400, 1_500));
        assert_eq!(
            (t.start_ns(), t.end_ns(), t.duration_ns()),
            (300, 1_500, 1_200)
        );
        // A duplicate changes nothing, and a copy taken before is unchanged.
        assert!(!t.push(span(3, 1, 9_000)));
        assert_eq!((t.start_ns(), t.end_ns()), (300, 1_500));
        assert_eq!(
            (one.start_ns(), one.end_ns(), one.spans.len()),
            (500, 900, 1)
        );
    }
}
