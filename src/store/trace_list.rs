//! The retained traces as a snapshot shares them: in arrival order, in fixed-size segments that
//! the store and every snapshot share (`Arc`), so publishing copies one pointer per segment and
//! the store copies a segment only when it changes one a snapshot still holds.

use std::sync::Arc;

use crate::model::span::TraceId;

use super::trace::Trace;

/// Traces per segment.
pub(crate) const SEG: usize = 1024;

/// Up to [`SEG`] consecutive traces (by arrival) and what finding them needs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Segment {
    /// The traces, in arrival order.
    pub(crate) traces: Vec<Arc<Trace>>,
    /// A hash of each trace id ([`id_key`]), so a lookup by id scans a dense array, and the
    /// index finds a trace's entry without reading the trace.
    pub(crate) ids: Vec<u64>,
    /// Arrival of each trace (store time, ns).
    pub(crate) arrived: Vec<u64>,
}

/// The hash of a trace id that segments keep and the store's index is keyed by. Of all 16
/// bytes: ids are random in W3C, but not every sender randomises the same half (64-bit ids
/// leave the high half zero; a generator may vary only one half).
pub(crate) fn id_key(tid: &TraceId) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x7ace).hash_one(u128::from_le_bytes(*tid))
}

impl Segment {
    /// An empty segment.
    pub(crate) fn new() -> Self {
        Segment {
            traces: Vec::with_capacity(SEG),
            ids: Vec::with_capacity(SEG),
            arrived: Vec::with_capacity(SEG),
        }
    }
}

/// Retained traces in arrival order (oldest first), shared with the store. Cheap to clone.
///
/// Reads: [`len`](Self::len), [`get`](Self::get) (and `[i]`), [`iter`](Self::iter), and
/// [`find`](Self::find) / [`position`](Self::position) by trace id (a scan of 8 bytes per trace:
/// about a millisecond per million traces).
#[derive(Clone, Debug, Default)]
pub struct TraceList {
    segs: Arc<[Arc<Segment>]>,
    /// Index of the first trace in `segs[0]`.
    first: usize,
    len: usize,
}

impl TraceList {
    /// A list over `segs`, starting at `first` in the first segment, `len` traces long.
    pub(crate) fn new(segs: Arc<[Arc<Segment>]>, first: usize, len: usize) -> Self {
        TraceList { segs, first, len }
    }

    /// Number of traces.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no trace.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `i`-th trace by arrival (0 is the oldest retained).
    pub fn get(&self, i: usize) -> Option<&Arc<Trace>> {
        if i >= self.len {
            return None;
        }
        let at = self.first + i;
        self.segs.get(at / SEG)?.traces.get(at % SEG)
    }

    /// All traces, oldest arrival first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Arc<Trace>> + '_ {
        let (from, to) = (self.first, self.first + self.len);
        self.segs.iter().enumerate().flat_map(move |(k, s)| {
            let base = k * SEG;
            let lo = from.saturating_sub(base).min(s.traces.len());
            let hi = to.saturating_sub(base).min(s.traces.len());
            s.traces[lo..hi.max(lo)].iter()
        })
    }

    /// The position of the trace `id`.
    pub fn position(&self, id: &TraceId) -> Option<usize> {
        let key = id_key(id);
        let mut base = 0usize;
        for s in self.segs.iter() {
            for (j, k) in s.ids.iter().enumerate() {
                let at = base + j;
                if *k == key && at >= self.first && at < self.first + self.len {
                    let t = &s.traces[j];
                    if t.trace_id() == *id {
                        return Some(at - self.first);
                    }
                }
            }
            base += SEG;
        }
        None
    }

    /// The trace `id`, when retained.
    pub fn find(&self, id: &TraceId) -> Option<&Arc<Trace>> {
        self.position(id).and_then(|i| self.get(i))
    }
}

impl std::ops::Index<usize> for TraceList {
    type Output = Arc<Trace>;

    fn index(&self, i: usize) -> &Arc<Trace> {
        match self.get(i) {
            Some(t) => t,
            None => panic!("trace index {i} out of range (len {})", self.len),
        }
    }
}

impl<'a> IntoIterator for &'a TraceList {
    type Item = &'a Arc<Trace>;
    type IntoIter = Box<dyn DoubleEndedIterator<Item = &'a Arc<Trace>> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl FromIterator<Arc<Trace>> for TraceList {
    /// A list of these traces in this order (tests and fixtures).
    fn from_iter<I: IntoIterator<Item = Arc<Trace>>>(iter: I) -> Self {
        let mut segs: Vec<Arc<Segment>> = Vec::new();
        let mut cur = Segment::new();
        let mut len = 0;
        for t in iter {
            if cur.traces.len() == SEG {
                segs.push(Arc::new(std::mem::replace(&mut cur, Segment::new())));
            }
            cur.ids.push(id_key(&t.trace_id()));
            cur.arrived.push(0);
            cur.traces.push(t);
            len += 1;
        }
        if !cur.traces.is_empty() {
            segs.push(Arc::new(cur));
        }
        TraceList::new(Arc::from(segs), 0, len)
    }
}

#[cfg(test)]
mod tests {
    use super::id_key;

    #[test]
    fn the_id_key_depends_on_both_halves_of_the_id() {
        // Senders that vary only the high half (a load generator, X-Ray-style time prefixes) or
        // only the low half (64-bit ids) must still spread over the index.
        let base = [0x5au8; 16];
        let mut keys = std::collections::HashSet::new();
        for i in 0..16 {
            let mut a = base;
            a[i] ^= 1;
            assert!(keys.insert(id_key(&a)), "byte {i} must change the key");
        }
        assert!(keys.insert(id_key(&base)));
    }
}
