//! Log records without a trace id: one time-ordered ring per service, bounded, shared with
//! snapshots the way `trace_list` shares traces.
//!
//! A ring is a queue of chunks of up to [`CHUNK`] records, each chunk sorted by time and
//! shared (`Arc`) with the snapshots that hold it. Publishing copies one pointer per chunk; a new
//! record copies the ring's last chunk only when a snapshot still holds it. Past the budget the
//! oldest chunk of all rings (by its earliest record) is dropped whole. Records that carry a
//! trace id live in their trace instead (`store::trace`), and are evicted with it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::model::log::LogRecord;

/// Records per chunk.
pub(crate) const CHUNK: usize = 256;

/// Up to [`CHUNK`] records of one service, sorted by time.
#[derive(Clone, Debug, Default)]
pub struct LogChunk {
    records: Vec<LogRecord>,
}

impl LogChunk {
    /// The records, oldest first.
    pub fn records(&self) -> &[LogRecord] {
        &self.records
    }

    fn first_ns(&self) -> u64 {
        self.records.first().map_or(u64::MAX, |r| r.time_ns)
    }

    fn last_ns(&self) -> u64 {
        self.records.last().map_or(0, |r| r.time_ns)
    }

    /// Inserts at its place by time (after records of the same time).
    fn insert(&mut self, rec: LogRecord) {
        let at = self.records.partition_point(|r| r.time_ns <= rec.time_ns);
        self.records.insert(at, rec);
    }
}

/// The rings of every service. See the module docs.
#[derive(Debug, Default)]
pub struct ServiceLogs {
    rings: BTreeMap<Arc<str>, VecDeque<Arc<LogChunk>>>,
    len: usize,
    published: Option<UntracedLogs>,
}

impl ServiceLogs {
    /// Records kept.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no record is kept.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a record (without a trace id) to its service's ring.
    pub fn push(&mut self, rec: LogRecord) {
        self.published = None;
        self.len += 1;
        let ring = match self.rings.get_mut(rec.service()) {
            Some(r) => r,
            None => self
                .rings
                .entry(rec.resource.service_name.clone())
                .or_default(),
        };
        // A record older than the last chunk's start goes to the latest chunk it fits after,
        // so every chunk stays sorted and chunks stay (nearly) in time order.
        let fits = ring
            .iter()
            .rposition(|c| c.first_ns() <= rec.time_ns)
            .unwrap_or(0);
        let last = ring.len().checked_sub(1);
        let full = ring.get(fits).is_none_or(|c| c.records.len() >= CHUNK);
        if full {
            if last == Some(fits) || last.is_none() {
                ring.push_back(Arc::default());
                let Some(c) = ring.back_mut() else {
                    unreachable!("a chunk was just pushed")
                };
                Arc::make_mut(c).insert(rec);
            } else {
                // An old record for a full middle chunk: the next chunk takes it (still after
                // every record of the full one it is not older than; chunks may overlap).
                Arc::make_mut(&mut ring[fits + 1]).insert(rec);
            }
        } else {
            Arc::make_mut(&mut ring[fits]).insert(rec);
        }
    }

    /// Drops whole chunks, oldest first across services, while more than `max` records are kept;
    /// returns how many records it dropped.
    pub fn enforce_budget(&mut self, max: usize) -> u64 {
        let mut dropped = 0u64;
        while self.len > max {
            let oldest = self
                .rings
                .iter()
                .filter_map(|(s, r)| r.front().map(|c| (c.first_ns(), s.clone())))
                .min_by_key(|(t, _)| *t);
            let Some((_, service)) = oldest else { break };
            let Some(ring) = self.rings.get_mut(&service) else {
                break;
            };
            if let Some(c) = ring.pop_front() {
                self.len -= c.records.len();
                dropped += c.records.len() as u64;
            }
            if ring.is_empty() {
                self.rings.remove(&service);
            }
            self.published = None;
        }
        dropped
    }

    /// The rings as snapshots share them.
    pub fn published(&mut self) -> UntracedLogs {
        if let Some(p) = &self.published {
            return p.clone();
        }
        let p = UntracedLogs {
            services: self
                .rings
                .iter()
                .map(|(s, r)| (s.clone(), r.iter().cloned().collect()))
                .collect(),
        };
        self.published = Some(p.clone());
        p
    }
}

/// One service's ring as published: its chunks, oldest first.
type PublishedRing = (Arc<str>, Arc<[Arc<LogChunk>]>);

/// Log records without a trace id as a snapshot holds them: per service, shared with the store.
/// Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct UntracedLogs {
    services: Arc<[PublishedRing]>,
}

impl UntracedLogs {
    /// The services that have records, sorted.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(|(s, _)| &**s)
    }

    /// Records kept.
    pub fn len(&self) -> usize {
        self.services
            .iter()
            .flat_map(|(_, r)| r.iter())
            .map(|c| c.records.len())
            .sum()
    }

    /// Whether no record is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records of `service` (every service when `None`) with a time in `[from_ns, to_ns)`,
    /// in time order.
    pub fn search(&self, service: Option<&str>, from_ns: u64, to_ns: u64) -> Vec<&LogRecord> {
        let mut out: Vec<&LogRecord> = self.in_range(service, from_ns, to_ns).collect();
        out.sort_by_key(|r| r.time_ns);
        out
    }

    /// [`search`](Self::search) without the sort: each ring's records in its chunk order.
    pub fn in_range(
        &self,
        service: Option<&str>,
        from_ns: u64,
        to_ns: u64,
    ) -> impl Iterator<Item = &LogRecord> + '_ {
        let service = service.map(str::to_owned);
        self.services
            .iter()
            .filter(move |(s, _)| service.as_deref().is_none_or(|want| &**s == want))
            .flat_map(|(_, r)| r.iter())
            .filter(move |c| c.first_ns() < to_ns && c.last_ns() >= from_ns)
            .flat_map(move |c| {
                let lo = c.records.partition_point(|r| r.time_ns < from_ns);
                let hi = c.records.partition_point(|r| r.time_ns < to_ns);
                c.records[lo..hi.max(lo)].iter()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    fn add(l: &mut ServiceLogs, service: &str, t: u64) {
        l.push(testkit::log(service, t, 9, &format!("{service}@{t}")).build());
    }

    #[test]
    fn search_is_by_service_and_time_in_time_order() {
        let mut l = ServiceLogs::default();
        for t in [5u64, 1, 3, 2, 4] {
            add(&mut l, "a", t);
        }
        add(&mut l, "b", 2);
        let p = l.published();
        let times = |v: Vec<&LogRecord>| v.iter().map(|r| r.time_ns).collect::<Vec<_>>();
        assert_eq!(times(p.search(Some("a"), 0, u64::MAX)), [1, 2, 3, 4, 5]);
        assert_eq!(times(p.search(Some("a"), 2, 4)), [2, 3]);
        assert_eq!(times(p.search(None, 2, 3)), [2, 2]);
        assert!(p.search(Some("c"), 0, u64::MAX).is_empty());
        assert_eq!(p.services().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn budget_drops_the_oldest_chunks_first_and_snapshots_keep_theirs() {
        let mut l = ServiceLogs::default();
        for t in 0..(3 * CHUNK as u64) {
            add(&mut l, "old", t);
        }
        for t in 0..(CHUNK as u64) {
            add(&mut l, "new", 1_000_000 + t);
        }
        let before = l.published();
        assert_eq!(l.enforce_budget(2 * CHUNK), 2 * CHUNK as u64);
        assert_eq!(l.len(), 2 * CHUNK);
        let p = l.published();
        assert_eq!(
            p.search(Some("old"), 0, u64::MAX)[0].time_ns,
            2 * CHUNK as u64
        );
        assert_eq!(p.search(Some("new"), 0, u64::MAX).len(), CHUNK);
        assert_eq!(before.len(), 4 * CHUNK, "an old snapshot keeps what it had");
        // Publishing again without a change shares everything.
        assert!(Arc::ptr_eq(&p.services, &l.published().services));
    }

    #[test]
    fn a_record_after_publishing_leaves_the_snapshot_alone() {
        let mut l = ServiceLogs::default();
        add(&mut l, "a", 1);
        let snap = l.published();
        add(&mut l, "a", 2);
        assert_eq!(snap.len(), 1);
        assert_eq!(l.published().len(), 2);
    }
}
