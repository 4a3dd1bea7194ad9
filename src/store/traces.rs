//! The retained traces: assembly by trace id, arrival order, eviction of whole traces (oldest
//! arrival first) by span budget and retention, and the list every snapshot shares.
//!
//! Traces live in arrival order in segments shared with snapshots (`trace_list`); an index
//! (`trace_index`) maps a trace id to its arrival number. The loops that walk cold memory in an
//! order known ahead (a batch's trace ids, the traces to evict next, those to free) ask for it
//! a few steps ahead (`prefetch`). Publishing copies one pointer per segment;
//! changing a trace copies its segment (pointers) and the trace itself only while a snapshot
//! still holds them. Evicted segments are freed a little at a time (`reap`), never all at once
//! when a snapshot is dropped, so ingest does not stall behind a burst of frees.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::model::span::TraceId;

use super::prefetch;
use super::trace::Trace;
use super::trace_index::TraceIndex;
use super::trace_list::{SEG, Segment, TraceList, id_key};

/// How many traces ahead eviction and freeing ask for a trace (and its index slot): enough for
/// the loads to arrive in time, few enough that they are still cached when used. Half as far
/// ahead, they ask for what the (by then cached) trace points to: its spans' data.
const AHEAD: u64 = 8;

/// What an eviction removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Traces removed.
    pub traces: u64,
    /// Spans they held.
    pub spans: u64,
    /// Log records they held.
    pub logs: u64,
}

/// The retained traces. See the module docs.
#[derive(Debug, Default)]
pub struct TraceTable {
    /// Arrival number (low 32 bits) of every retained trace, hashed by [`TraceTable::hash`].
    index: TraceIndex,
    /// Segments holding arrival numbers from `(head / SEG) * SEG` on.
    segs: VecDeque<Arc<Segment>>,
    /// Arrival number of the oldest retained trace.
    head: u64,
    /// Arrival number of the next new trace.
    next: u64,
    spans: u64,
    logs: u64,
    /// Evicted segments waiting to be freed.
    graveyard: VecDeque<Arc<Segment>>,
    /// The last published list, reused while nothing changed.
    list: Option<TraceList>,
}

/// Where arrival number `seq` sits: (segment, slot), with `head` the oldest retained.
fn slot_of(head: u64, seq: u64) -> (usize, usize) {
    (
        (seq / SEG as u64 - head / SEG as u64) as usize,
        (seq % SEG as u64) as usize,
    )
}

impl TraceTable {
    /// The index hash of trace `tid` ([`id_key`]). Its segment keeps it, so evicting a trace
    /// finds its entry without reading the trace.
    pub fn hash(&self, tid: &TraceId) -> u64 {
        id_key(tid)
    }

    /// Asks for the index slot a lookup of hash `h` reads, ahead of [`TraceTable::entry`].
    pub fn prefetch(&self, h: u64) {
        self.index.prefetch(h);
    }

    /// The full arrival number of a stored (low 32 bits) one.
    fn seq_of(&self, low: u32) -> u64 {
        self.head + u64::from(low.wrapping_sub(self.head as u32))
    }

    fn find_seq(&self, tid: &TraceId) -> Option<u64> {
        let (segs, head) = (&self.segs, self.head);
        let key = id_key(tid);
        let low = self.index.find(key, |low| {
            let seq = head + u64::from(low.wrapping_sub(head as u32));
            let (k, i) = slot_of(head, seq);
            let s = &segs[k];
            s.ids[i] == key && s.traces[i].trace_id() == *tid
        })?;
        Some(self.seq_of(low))
    }

    fn trace_mut(&mut self, seq: u64) -> &mut Trace {
        self.list = None;
        let (k, i) = slot_of(self.head, seq);
        let seg = Arc::make_mut(&mut self.segs[k]);
        Arc::make_mut(&mut seg.traces[i])
    }

    /// The trace `tid` for writing, created (arriving at `now`) when new. Copies the trace (and
    /// its segment's pointers) if a snapshot still shares it.
    pub fn get_or_insert(&mut self, tid: TraceId, now: u64) -> &mut Trace {
        self.entry(tid, now).1
    }

    /// As [`TraceTable::get_or_insert`], with the trace's arrival number (it names the trace
    /// until it is evicted: see [`TraceTable::by_arrival`]).
    pub fn entry(&mut self, tid: TraceId, now: u64) -> (u64, &mut Trace) {
        let h = self.hash(&tid);
        self.entry_hashed(tid, h, now)
    }

    /// [`TraceTable::entry`] with the trace's [`TraceTable::hash`] computed already (to
    /// [`prefetch`](TraceTable::prefetch) its slot a few spans ahead).
    pub fn entry_hashed(&mut self, tid: TraceId, h: u64, now: u64) -> (u64, &mut Trace) {
        let key = h;
        let (segs, head, next) = (&self.segs, self.head, self.next);
        // One probe finds the trace or the slot a new one takes.
        let found = self.index.find_or_insert(
            h,
            |low| {
                let seq = head + u64::from(low.wrapping_sub(head as u32));
                let (k, i) = slot_of(head, seq);
                let s = &segs[k];
                s.ids[i] == key && s.traces[i].trace_id() == tid
            },
            next as u32,
        );
        if let Some(low) = found {
            let seq = self.seq_of(low);
            return (seq, self.trace_mut(seq));
        }
        let seq = self.next;
        self.next += 1;
        if seq.is_multiple_of(SEG as u64) {
            self.segs.push_back(Arc::new(Segment::new()));
        }
        let seg = match self.segs.back_mut() {
            Some(s) => Arc::make_mut(s),
            None => unreachable!("a segment was just pushed when there was none"),
        };
        seg.ids.push(h);
        seg.arrived.push(now);
        seg.traces.push(Arc::new(Trace::new(tid)));
        (seq, self.trace_mut(seq))
    }

    /// The trace that arrived `seq`-th, while it is retained.
    pub fn by_arrival(&self, seq: u64) -> Option<&Trace> {
        if seq < self.head || seq >= self.next {
            return None;
        }
        let (k, i) = slot_of(self.head, seq);
        self.segs.get(k)?.traces.get(i).map(|t| &**t)
    }

    /// Asks for the trace that arrived `seq`-th (its first two cache lines), ahead of reading it.
    pub fn prefetch_arrival(&self, seq: u64) {
        if seq < self.head || seq >= self.next {
            return;
        }
        let (k, i) = slot_of(self.head, seq);
        if let Some(t) = self.segs.get(k).and_then(|s| s.traces.get(i)) {
            prefetch::value(Arc::as_ptr(t));
        }
    }

    /// The trace that arrived `seq`-th for writing, while it is retained (copied if a snapshot
    /// still shares it, as [`TraceTable::get_or_insert`]).
    pub fn by_arrival_mut(&mut self, seq: u64) -> Option<&mut Trace> {
        if seq < self.head || seq >= self.next {
            return None;
        }
        Some(self.trace_mut(seq))
    }

    /// The trace `tid` for writing, when retained.
    pub fn get_mut(&mut self, tid: &TraceId) -> Option<&mut Trace> {
        let seq = self.find_seq(tid)?;
        Some(self.trace_mut(seq))
    }

    /// The trace `tid`, when retained.
    pub fn get(&self, tid: &TraceId) -> Option<&Arc<Trace>> {
        let (k, i) = slot_of(self.head, self.find_seq(tid)?);
        self.segs[k].traces.get(i)
    }

    /// Counts spans added to retained traces (the budget follows it).
    pub fn add_spans(&mut self, n: u64) {
        self.spans += n;
    }

    /// Spans retained.
    pub fn spans(&self) -> u64 {
        self.spans
    }

    /// Counts log records added to retained traces (the log budget follows it).
    pub fn add_logs(&mut self, n: u64) {
        self.logs += n;
    }

    /// Log records retained in traces.
    pub fn logs(&self) -> u64 {
        self.logs
    }

    /// Traces retained.
    pub fn len(&self) -> usize {
        (self.next - self.head) as usize
    }

    /// Whether no trace is retained.
    pub fn is_empty(&self) -> bool {
        self.next == self.head
    }

    /// Evicts oldest traces (with their log records) while more than `max_spans` spans or
    /// `max_logs` log records are retained; `on_evict` sees each before it goes.
    pub fn enforce_budget(
        &mut self,
        max_spans: usize,
        max_logs: usize,
        mut on_evict: impl FnMut(&Trace),
    ) -> Evicted {
        let mut out = Evicted::default();
        while (self.spans as usize > max_spans || self.logs as usize > max_logs) && !self.is_empty()
        {
            self.evict_oldest(&mut out, &mut on_evict);
        }
        out
    }

    /// Evicts traces that arrived before `cutoff`; `on_evict` sees each before it goes.
    pub fn evict_arrived_before(
        &mut self,
        cutoff: u64,
        mut on_evict: impl FnMut(&Trace),
    ) -> Evicted {
        let mut out = Evicted::default();
        while !self.is_empty() {
            let (k, i) = slot_of(self.head, self.head);
            if self.segs[k].arrived[i] >= cutoff {
                break;
            }
            self.evict_oldest(&mut out, &mut on_evict);
        }
        out
    }

    fn evict_oldest(&mut self, out: &mut Evicted, on_evict: &mut impl FnMut(&Trace)) {
        let seq = self.head;
        self.prefetch_eviction(seq + AHEAD);
        self.prefetch_spans_of(seq + AHEAD / 2);
        if let Some(t) = self.by_arrival(seq + 1) {
            t.prefetch_attributes();
        }
        let (k, i) = slot_of(seq, seq);
        let t = &self.segs[k].traces[i];
        on_evict(t);
        let n = t.spans.len() as u64;
        let logs = t.logs.len() as u64;
        let h = self.segs[k].ids[i];
        self.index.remove(h, seq as u32);
        self.spans -= n;
        self.logs -= logs;
        out.spans += n;
        out.logs += logs;
        out.traces += 1;
        self.head += 1;
        self.list = None;
        // A segment leaves once all its traces are evicted (a partly evicted one is left whole:
        // the store no longer reads the evicted part).
        if self.head.is_multiple_of(SEG as u64)
            && let Some(s) = self.segs.pop_front()
        {
            self.graveyard.push_back(s);
        }
    }

    /// Asks for what evicting the trace that arrived `seq`-th reads: its index slot and the
    /// trace itself (its spans' headers when it has one span).
    fn prefetch_eviction(&self, seq: u64) {
        if seq >= self.next {
            return;
        }
        let (k, i) = slot_of(self.head, seq);
        if let Some(&key) = self.segs.get(k).and_then(|s| s.ids.get(i)) {
            self.index.prefetch(key);
        }
        self.prefetch_arrival(seq);
    }

    /// Asks for the spans' data of the trace that arrived `seq`-th (see [`Trace::prefetch_spans`]).
    pub fn prefetch_spans_of(&self, seq: u64) {
        if let Some(t) = self.by_arrival(seq) {
            t.prefetch_spans();
        }
    }

    /// Frees up to about `traces` evicted traces that no snapshot holds any more; returns how
    /// many it freed. The store calls it a little per batch, so frees never come in one burst.
    pub fn reap(&mut self, traces: usize) -> usize {
        let mut freed = 0;
        while freed < traces {
            let Some(front) = self.graveyard.front_mut() else {
                break;
            };
            let Some(seg) = Arc::get_mut(front) else {
                // Still in a published snapshot; later segments were evicted after it.
                break;
            };
            let take = (traces - freed).min(seg.traces.len());
            let keep = seg.traces.len() - take;
            // Last first, asking a few traces ahead for what the next drops read.
            while seg.traces.len() > keep {
                let last = seg.traces.len() - 1;
                let (far, near) = (AHEAD as usize, AHEAD as usize / 2);
                if let Some(t) = seg.traces.get(last.saturating_sub(far).max(keep)) {
                    prefetch::value(Arc::as_ptr(t));
                }
                if let Some(t) = seg.traces.get(last.saturating_sub(near).max(keep)) {
                    t.prefetch_spans();
                }
                if let Some(t) = seg.traces.get(last.saturating_sub(1).max(keep)) {
                    t.prefetch_attributes();
                }
                seg.traces.pop();
            }
            freed += take;
            if seg.traces.is_empty() {
                self.graveyard.pop_front();
            }
        }
        freed
    }

    /// Evicted traces not freed yet.
    pub fn dying(&self) -> usize {
        self.graveyard.iter().map(|s| s.traces.len()).sum()
    }

    /// The retained traces as snapshots share them, in arrival order.
    pub fn published(&mut self) -> TraceList {
        if let Some(l) = &self.list {
            return l.clone();
        }
        let segs: Arc<[Arc<Segment>]> = self.segs.iter().cloned().collect();
        let first = (self.head % SEG as u64) as usize;
        let l = TraceList::new(segs, if self.is_empty() { 0 } else { first }, self.len());
        self.list = Some(l.clone());
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    fn tid(i: u64) -> TraceId {
        (u128::from(i) + 1).to_be_bytes()
    }

    fn add(t: &mut TraceTable, i: u64, now: u64) {
        let span = testkit::span(i + 1, 1, 0, "svc", "op", Default::default(), now, 1).build();
        t.get_or_insert(tid(i), now).push(span);
        t.add_spans(1);
    }

    #[test]
    fn evicts_across_segments_and_finds_what_is_left() {
        let mut t = TraceTable::default();
        let n = 3 * SEG as u64 + 17;
        for i in 0..n {
            add(&mut t, i, i);
        }
        let before = t.published();
        assert_eq!(
            t.enforce_budget(SEG + 5, usize::MAX, |_| {}).traces,
            n - SEG as u64 - 5
        );
        assert_eq!(t.len(), SEG + 5);
        let l = t.published();
        assert_eq!(l.len(), SEG + 5);
        assert_eq!(l.iter().count(), SEG + 5);
        assert_eq!(l.iter().rev().count(), SEG + 5);
        assert_eq!(l[0].trace_id(), tid(n - SEG as u64 - 5));
        assert_eq!(l.get(SEG + 4).map(|x| x.trace_id()), Some(tid(n - 1)));
        assert_eq!(l.position(&tid(n - 3)), Some(SEG + 2));
        assert!(l.find(&tid(3)).is_none(), "evicted");
        assert!(t.get(&tid(3)).is_none());
        assert!(t.get(&tid(n - 2)).is_some());
        // The old snapshot still reads every trace it had.
        assert_eq!(before.len(), n as usize);
        assert_eq!(before.find(&tid(3)).map(|x| x.trace_id()), Some(tid(3)));
        // Its segments are freed once it is gone, a bounded number at a time.
        assert_eq!(t.reap(usize::MAX), 0, "the old snapshot holds them");
        drop(before);
        drop(l);
        assert_eq!(t.reap(100), 100);
        assert!(t.reap(usize::MAX) > 0);
        assert_eq!(t.dying(), 0);
    }

    #[test]
    fn a_change_after_publishing_copies_on_write() {
        let mut t = TraceTable::default();
        add(&mut t, 1, 0);
        let snap = t.published();
        let span = testkit::span(2, 2, 1, "svc", "op", Default::default(), 0, 1).build();
        t.get_mut(&tid(1)).map(|x| x.push(span));
        assert_eq!(snap[0].spans.len(), 1, "the snapshot keeps what it had");
        assert_eq!(t.published()[0].spans.len(), 2);
    }

    #[test]
    fn retention_evicts_by_arrival_and_refills() {
        let mut t = TraceTable::default();
        for i in 0..10 {
            add(&mut t, i, i * 100);
        }
        assert_eq!(t.evict_arrived_before(1_000, |_| {}).traces, 10);
        assert!(t.is_empty() && t.published().is_empty());
        add(&mut t, 42, 5_000);
        assert_eq!(t.published()[0].trace_id(), tid(42));
        assert!(t.get(&tid(42)).is_some());
    }
}
