//! The index from trace id to arrival number: open addressing with linear probing, one `u64`
//! a slot, written by hand for what a general hash table does not offer here:
//!
//! - **prefetch**: at a million retained traces the index is far larger than the caches, so
//!   every probe is a cache miss. The store knows the next batch's trace ids and the next
//!   traces to evict before it reaches them, and asks for their slots ahead ([`prefetch`]), so
//!   the misses overlap instead of stalling one after the other. `hashbrown` exposes neither its
//!   slot addresses nor a prefetch.
//! - **one line a probe**: a slot holds the arrival number's low 32 bits beside 31 bits of the
//!   hash (the tag), so a probe reads one cache line; `hashbrown` reads its control bytes and its
//!   bucket from two.
//! - **removal by value**: an evicted trace is removed by its hash and arrival number, both
//!   known without reading the trace (the hash comes from the id bytes its segment keeps).
//!
//! Deletion shifts later entries of the probe run back (no tombstones), so probe runs stay as
//! short as the load allows (at most 0.7, then the table doubles).
//!
//! [`prefetch`]: TraceIndex::prefetch

/// An empty slot. A full one has the top bit set (see [`slot`]), so it is never zero.
const EMPTY: u64 = 0;
/// The table doubles past this load (numerator / 10).
const MAX_LOAD_TENTHS: usize = 7;
/// Slots of a new table.
const MIN_SLOTS: usize = 1024;

/// A slot's value: the hash's high half (top bit set: full) and the arrival number's low half.
fn slot(h: u64, low: u32) -> u64 {
    ((h | (1 << 63)) & !0xffff_ffff) | u64::from(low)
}

/// Where a slot's entry would sit with no collision.
fn home(v: u64, mask: usize) -> usize {
    (v >> 32) as usize & mask
}

/// The index. See the module docs.
#[derive(Debug)]
pub(crate) struct TraceIndex {
    slots: Box<[u64]>,
    mask: usize,
    len: usize,
}

impl Default for TraceIndex {
    fn default() -> Self {
        TraceIndex {
            slots: vec![EMPTY; MIN_SLOTS].into_boxed_slice(),
            mask: MIN_SLOTS - 1,
            len: 0,
        }
    }
}

impl TraceIndex {
    /// Entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Asks the CPU to load the slot where a lookup of hash `h` starts (no effect on what the
    /// index holds; a no-op where the target has no prefetch instruction).
    #[inline]
    pub(crate) fn prefetch(&self, h: u64) {
        let at = home(slot(h, 0), self.mask);
        // `at <= mask < slots.len()`, so the pointer is inside the table.
        super::prefetch::line(self.slots.as_ptr().wrapping_add(at));
    }

    /// The arrival number (low 32 bits) of the entry with hash `h` for which `eq` holds; if
    /// there is none, inserts `new` under `h` and returns `None`. One probe run either way.
    pub(crate) fn find_or_insert(
        &mut self,
        h: u64,
        mut eq: impl FnMut(u32) -> bool,
        new: u32,
    ) -> Option<u32> {
        if (self.len + 1) * 10 > self.slots.len() * MAX_LOAD_TENTHS {
            self.grow();
        }
        let want = slot(h, 0);
        let mut i = home(want, self.mask);
        loop {
            let v = self.slots[i];
            if v == EMPTY {
                self.slots[i] = slot(h, new);
                self.len += 1;
                return None;
            }
            if v & !0xffff_ffff == want && eq(v as u32) {
                return Some(v as u32);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The arrival number (low 32 bits) of the entry with hash `h` for which `eq` holds.
    pub(crate) fn find(&self, h: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let want = slot(h, 0);
        let mut i = home(want, self.mask);
        loop {
            let v = self.slots[i];
            if v == EMPTY {
                return None;
            }
            if v & !0xffff_ffff == want && eq(v as u32) {
                return Some(v as u32);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Removes the entry inserted as (`h`, `low`); returns whether it was there.
    pub(crate) fn remove(&mut self, h: u64, low: u32) -> bool {
        let want = slot(h, low);
        let mut i = home(want, self.mask);
        loop {
            let v = self.slots[i];
            if v == EMPTY {
                return false;
            }
            if v == want {
                break;
            }
            i = (i + 1) & self.mask;
        }
        self.len -= 1;
        // Backward shift: move later entries of the run into the hole when their home allows,
        // so lookups never cross an empty slot their entry lies beyond.
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let v = self.slots[j];
            if v == EMPTY {
                self.slots[i] = EMPTY;
                return true;
            }
            // The entry may fill the hole unless its home lies cyclically in (i, j].
            let k = home(v, self.mask);
            let stays = if i <= j {
                i < k && k <= j
            } else {
                i < k || k <= j
            };
            if !stays {
                self.slots[i] = v;
                i = j;
            }
        }
    }

    fn grow(&mut self) {
        let n = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; n].into_boxed_slice());
        self.mask = n - 1;
        for v in old.iter().copied().filter(|&v| v != EMPTY) {
            let mut i = home(v, self.mask);
            while self.slots[i] != EMPTY {
                i = (i + 1) & self.mask;
            }
            self.slots[i] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, VecDeque};

    /// A deterministic generator (xorshift), so failures reproduce.
    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn agrees_with_a_map_through_inserts_removals_and_growth() {
        // Hashes from a small range, so runs collide, wrap around the table's end and are
        // shifted back by removals; the map says what must be found.
        let mut next = rng(0x1d);
        let mut ix = TraceIndex::default();
        let mut model: HashMap<u32, u64> = HashMap::new();
        let mut order: VecDeque<u32> = VecDeque::new();
        for round in 0..60_000u32 {
            let h = (next() % 4096) << 32 | (next() & 0xffff_ffff);
            let h = if round % 7 == 0 {
                u64::MAX - (next() % 8)
            } else {
                h
            };
            assert_eq!(ix.find_or_insert(h, |_| false, round), None);
            model.insert(round, h);
            order.push_back(round);
            if order.len() > 3000 {
                // Remove an old one and a random one, as eviction and a duplicate would.
                let a = order.pop_front().expect("not empty");
                let at = (next() as usize) % order.len();
                let b = order.swap_remove_back(at).expect("in range");
                for r in [a, b] {
                    let h = model.remove(&r).expect("in the model");
                    assert!(ix.remove(h, r), "entry {r} must be removable");
                    assert!(!ix.remove(h, r), "entry {r} is gone");
                }
            }
            if round % 997 == 0 {
                for (&r, &h) in &model {
                    assert_eq!(ix.find(h, |low| low == r), Some(r), "entry {r}");
                }
            }
        }
        assert_eq!(ix.len(), model.len());
        for (&r, &h) in &model {
            assert_eq!(ix.find(h, |low| low == r), Some(r));
        }
    }

    #[test]
    fn find_or_insert_finds_an_equal_entry_instead_of_adding_one() {
        let mut ix = TraceIndex::default();
        assert_eq!(ix.find_or_insert(42, |_| false, 7), None);
        // Same hash, but `eq` says it is another trace: a second entry.
        assert_eq!(ix.find_or_insert(42, |_| false, 8), None);
        assert_eq!(ix.find_or_insert(42, |low| low == 8, 9), Some(8));
        assert_eq!(ix.len(), 2);
        assert_eq!(ix.find(42, |low| low == 7), Some(7));
        // Another hash (its high half is what the index keeps) finds nothing.
        assert_eq!(ix.find(43 << 32, |_| true), None);
    }

    #[test]
    fn arrival_number_zero_and_hash_zero_are_entries_not_empty_slots() {
        let mut ix = TraceIndex::default();
        assert_eq!(ix.find_or_insert(0, |_| false, 0), None);
        assert_eq!(ix.find(0, |low| low == 0), Some(0));
        assert!(ix.remove(0, 0));
        assert_eq!(ix.find(0, |_| true), None);
    }
}
