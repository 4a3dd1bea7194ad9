//! One assembled trace: its spans in arrival order, its log records, and the few facts views
//! need often.

use crate::model::log::LogRecord;
use crate::model::span::{Span, SpanId, TraceId};

use super::calls::CallRecord;
use super::span_list::SpanList;
use super::thin_vec::ThinVec;

/// An assembled trace. Spans may arrive in any order, across batches and services.
///
/// Laid out for the one-span trace (every orphan span, and most traces of a service that
/// samples per call): the span inline and empty call and log lists one pointer each, 144 bytes
/// in one allocation (see `one_span_trace_is_one_small_allocation` in the tests).
#[derive(Clone, Debug)]
pub struct Trace {
    /// The trace id.
    pub trace_id: TraceId,
    /// Spans in arrival order ([`SpanList`]): one inline, more behind their own `Arc`, so that
    /// copying a trace a snapshot still holds (to add a call record when a call settles) copies
    /// a pointer, not every span: a trace is written again after it was published far more
    /// often than it gains spans.
    pub spans: SpanList,
    /// Earliest span start, Unix nanoseconds.
    pub start_ns: u64,
    /// Latest span end, Unix nanoseconds.
    pub end_ns: u64,
    /// The store's resolution of each client call whose dependency is known, in resolution
    /// order (see `store::calls::CallRecord`).
    pub calls: ThinVec<CallRecord>,
    /// Log records of the trace in arrival order (with or without a span id; a record may come
    /// before its span, or belong to a span never received). See [`Trace::logs_of`].
    pub logs: ThinVec<LogRecord>,
}

impl Trace {
    /// An empty trace.
    pub fn new(trace_id: TraceId) -> Self {
        Trace {
            trace_id,
            spans: SpanList::Empty,
            start_ns: u64::MAX,
            end_ns: 0,
            calls: ThinVec::new(),
            logs: ThinVec::new(),
        }
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

    /// Adds a span; returns false (and changes nothing) when its id is already present. Error
    /// log records of the span that came first are joined to it (see [`Trace::mark_logged`]).
    pub fn push(&mut self, mut span: Span) -> bool {
        if self.position(&span.span_id).is_some() {
            return false;
        }
        self.mark_logged(&mut span);
        self.start_ns = self.start_ns.min(span.start_ns);
        self.end_ns = self.end_ns.max(span.end_ns);
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
        self.end_ns.saturating_sub(self.start_ns)
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
        // The span list is no larger than a span (its tag in a niche of the span), and a trace
        // with its `Arc` header fits mimalloc's 160-byte class.
        assert_eq!(std::mem::size_of::<SpanList>(), std::mem::size_of::<Span>());
        assert!(
            std::mem::size_of::<Trace>() <= 144,
            "{}",
            std::mem::size_of::<Trace>()
        );
    }

    #[test]
    fn error_count_follows_spans_and_error_logs() {
        let span = |id: u64, status: u16| {
            let s = testkit::span(1, id, 0, "svc", "op", Default::default(), 0, 1);
            if status >= 500 { s.error("boom") } else { s }.build()
        };
        let mut t = Trace::new([0; 16]);
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
}
