//! One assembled trace: its spans in arrival order, its log records, and the few facts views
//! need often.

use std::collections::HashMap;

use crate::model::log::LogRecord;
use crate::model::span::{Span, SpanId, TraceId};

use super::calls::CallRecord;
use super::span_list::SpanList;

/// Spans above which a trace keeps an id index instead of scanning.
const INDEX_AT: usize = 32;

/// An assembled trace. Spans may arrive in any order, across batches and services.
#[derive(Clone, Debug)]
pub struct Trace {
    /// The trace id.
    pub trace_id: TraceId,
    /// Spans in arrival order, behind their own `Arc` ([`SpanList`]), so that copying a trace a
    /// snapshot still holds (to add a call record when a call settles) copies a pointer, not
    /// every span: a trace is written again after it was published far more often than it
    /// gains spans.
    pub spans: SpanList,
    /// Earliest span start, Unix nanoseconds.
    pub start_ns: u64,
    /// Latest span end, Unix nanoseconds.
    pub end_ns: u64,
    /// Spans that are errors.
    pub error_count: u32,
    /// The store's resolution of each client call whose dependency is known, in resolution
    /// order (see `store::calls::CallRecord`).
    pub calls: Vec<CallRecord>,
    /// Log records of the trace in arrival order (with or without a span id; a record may come
    /// before its span, or belong to a span never received). See [`Trace::logs_of`].
    pub logs: Vec<LogRecord>,
    // Boxed: most traces never build an index, and a bare HashMap would add 40 bytes to each.
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<SpanId, u32>>>,
}

impl Trace {
    /// An empty trace.
    pub fn new(trace_id: TraceId) -> Self {
        Trace {
            trace_id,
            spans: SpanList::Empty,
            start_ns: u64::MAX,
            end_ns: 0,
            error_count: 0,
            calls: Vec::new(),
            logs: Vec::new(),
            index: None,
        }
    }

    /// Position of a span by id.
    pub fn position(&self, id: &SpanId) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.get(id).map(|i| *i as usize),
            None => self.spans.iter().position(|s| &s.span_id == id),
        }
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
        self.error_count += u32::from(span.is_error());
        let i = self.spans.len() as u32;
        if let Some(ix) = &mut self.index {
            ix.insert(span.span_id, i);
        }
        // Copies the spans only while a snapshot still shares them.
        self.spans.push(span);
        if self.index.is_none() && self.spans.len() > INDEX_AT {
            let ix: HashMap<SpanId, u32> = self
                .spans
                .iter()
                .enumerate()
                .map(|(i, s)| (s.span_id, i as u32))
                .collect();
            self.index = Some(Box::new(ix));
        }
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
            let s = &mut self.spans.make_mut()[i];
            let was = s.is_error();
            s.add_error_log();
            self.error_count += u32::from(!was);
        }
        if self.logs.len() == self.logs.capacity() {
            self.logs.reserve_exact((self.logs.len() / 2).max(1));
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
            + self.spans.iter().map(Span::mem_bytes).sum::<usize>()
            + self.index.as_ref().map_or(0, |ix| ix.capacity() * 24)
            + self.calls.capacity() * std::mem::size_of::<CallRecord>()
            + self.logs.iter().map(LogRecord::mem_bytes).sum::<usize>()
            + (self.logs.capacity() - self.logs.len()) * std::mem::size_of::<LogRecord>()
    }
}
