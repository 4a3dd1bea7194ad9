//! Bucket counts of one sketch, kept as small as the data allows: sorted `(index - lowest, count)`
//! pairs of u16 (4 bytes) while that is smaller, else a dense run of counters over `[lo, hi]`
//! whose width (u8, u16, u32, u64) is the narrowest that holds the largest count. Updates that fit
//! happen in place; any other change (new bucket, wider counter, other scale) rebuilds the store
//! from a dense accumulator over the joint range and picks the smaller representation again.

/// Size in bytes of one sparse entry.
const SPARSE_ENTRY: usize = std::mem::size_of::<(u16, u16)>();

/// A dense counter type.
pub(super) trait Counter: Copy + Default + Into<u64> + TryFrom<u64> {}
impl Counter for u8 {}
impl Counter for u16 {}
impl Counter for u32 {}
impl Counter for u64 {}

/// The bucket counts; see the module comment. Dense variants hold the counters of bucket indices
/// `offset..offset + len`. Boxed slices (allocated exactly, never grown in place) keep this at 24
/// bytes.
#[derive(Clone, Debug)]
pub(super) enum Store {
    Sparse(i32, Box<[(u16, u16)]>),
    D8(i32, Box<[u8]>),
    D16(i32, Box<[u16]>),
    D32(i32, Box<[u32]>),
    D64(i32, Box<[u64]>),
}

impl Default for Store {
    fn default() -> Self {
        Store::Sparse(0, Box::default())
    }
}

#[inline]
fn dense_add<T: Counter>(offset: i32, counts: &mut [T], index: i32, n: u64) -> bool {
    let pos = usize::try_from(i64::from(index) - i64::from(offset)).ok();
    let Some(slot) = pos.and_then(|p| counts.get_mut(p)) else {
        return false;
    };
    match (*slot).into().checked_add(n).map(T::try_from) {
        Some(Ok(v)) => {
            *slot = v;
            true
        }
        _ => false,
    }
}

fn dense_range<T>(offset: i32, counts: &[T]) -> Option<(i32, i32)> {
    let len = i32::try_from(counts.len()).ok()?;
    (len > 0).then(|| (offset, offset.saturating_add(len - 1)))
}

/// Adds the counters `src` (of indices from `src_offset`) into `dst` (from `dst_offset`) while
/// they fit; returns the first index not added, `None` when all were.
fn add_slice<T: Counter, U: Counter>(
    dst_offset: i32,
    dst: &mut [T],
    src_offset: i32,
    src: &[U],
) -> Option<i32> {
    let start = usize::try_from(i64::from(src_offset) - i64::from(dst_offset)).ok();
    let Some(dst) = start.and_then(|s| dst.get_mut(s..)) else {
        return Some(src_offset);
    };
    for (k, (a, &b)) in dst.iter_mut().zip(src).enumerate() {
        match T::try_from((*a).into().saturating_add(b.into())) {
            Ok(v) => *a = v,
            Err(_) => return Some(src_offset.saturating_add(k as i32)),
        }
    }
    // Counters of `src` past the end of `dst`, if any, remain.
    (src.len() > dst.len()).then(|| src_offset.saturating_add(dst.len() as i32))
}

/// [`add_slice`] from any store into a dense one; other stores go bucket by bucket.
fn add_into<T: Counter>(dst_offset: i32, dst: &mut [T], src: &Store) -> Option<i32> {
    match src {
        Store::D8(o, c) => add_slice(dst_offset, dst, *o, c),
        Store::D16(o, c) => add_slice(dst_offset, dst, *o, c),
        Store::D32(o, c) => add_slice(dst_offset, dst, *o, c),
        Store::D64(o, c) => add_slice(dst_offset, dst, *o, c),
        Store::Sparse(..) => src
            .iter()
            .find_map(|(i, c)| (!dense_add(dst_offset, dst, i, c)).then_some(i)),
    }
}

impl Store {
    /// Adds `n` to bucket `index` in place if that needs no new bucket and no wider counter.
    /// Returns false when the caller must rebuild (see [`Store::from_counts`]).
    #[inline]
    pub(super) fn try_add(&mut self, index: i32, n: u64) -> bool {
        match self {
            Store::Sparse(base, v) => {
                let Ok(rel) = u16::try_from(i64::from(index) - i64::from(*base)) else {
                    return false;
                };
                let Ok(pos) = v.binary_search_by_key(&rel, |e| e.0) else {
                    return false;
                };
                let Some(entry) = v.get_mut(pos) else {
                    return false;
                };
                match u64::from(entry.1).checked_add(n).map(u16::try_from) {
                    Some(Ok(c)) => {
                        entry.1 = c;
                        true
                    }
                    _ => false,
                }
            }
            Store::D8(o, c) => dense_add(*o, c, index, n),
            Store::D16(o, c) => dense_add(*o, c, index, n),
            Store::D32(o, c) => dense_add(*o, c, index, n),
            Store::D64(o, c) => dense_add(*o, c, index, n),
        }
    }

    /// Adds every bucket of `src` (at the same scale) in place, in index order, while they fit.
    /// Returns the first index not added (the caller rebuilds with the rest), `None` when done.
    pub(super) fn add_in_place(&mut self, src: &Store) -> Option<i32> {
        match self {
            Store::D8(o, c) => add_into(*o, c, src),
            Store::D16(o, c) => add_into(*o, c, src),
            Store::D32(o, c) => add_into(*o, c, src),
            Store::D64(o, c) => add_into(*o, c, src),
            Store::Sparse(..) => src
                .iter()
                .find_map(|(i, c)| (!self.try_add(i, c)).then_some(i)),
        }
    }

    /// Lowest and highest non-empty bucket index.
    pub(super) fn range(&self) -> Option<(i32, i32)> {
        match self {
            Store::Sparse(b, v) => Some((
                b.saturating_add(v.first()?.0.into()),
                b.saturating_add(v.last()?.0.into()),
            )),
            Store::D8(o, c) => dense_range(*o, c),
            Store::D16(o, c) => dense_range(*o, c),
            Store::D32(o, c) => dense_range(*o, c),
            Store::D64(o, c) => dense_range(*o, c),
        }
    }

    /// Non-empty buckets `(index, count)` in increasing index order.
    pub(super) fn iter(&self) -> Iter<'_> {
        match self {
            Store::Sparse(b, v) => Iter::Sparse(*b, v.iter()),
            Store::D8(o, c) => Iter::D8(DenseIter {
                next: *o,
                counts: c.iter(),
            }),
            Store::D16(o, c) => Iter::D16(DenseIter {
                next: *o,
                counts: c.iter(),
            }),
            Store::D32(o, c) => Iter::D32(DenseIter {
                next: *o,
                counts: c.iter(),
            }),
            Store::D64(o, c) => Iter::D64(DenseIter {
                next: *o,
                counts: c.iter(),
            }),
        }
    }

    /// Heap bytes held (exact: boxed slices).
    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            Store::Sparse(_, v) => std::mem::size_of_val::<[_]>(v),
            Store::D8(_, c) => std::mem::size_of_val::<[_]>(c),
            Store::D16(_, c) => std::mem::size_of_val::<[_]>(c),
            Store::D32(_, c) => std::mem::size_of_val::<[_]>(c),
            Store::D64(_, c) => std::mem::size_of_val::<[_]>(c),
        }
    }

    /// Builds the smaller store holding `counts[k]` in bucket `lo + k` (zeros are empty buckets).
    /// Allocations are exact.
    pub(super) fn from_counts(lo: i32, counts: &[u64]) -> Store {
        let nonzero = || (0i32..).zip(counts).filter(|e| *e.1 > 0);
        let (Some((first, _)), Some((last, _))) = (nonzero().next(), nonzero().last()) else {
            return Store::default();
        };
        let counts = counts
            .get(first as usize..=last as usize)
            .unwrap_or_default();
        let lo = lo.saturating_add(first);
        let (nnz, max) = counts
            .iter()
            .fold((0, 0), |(n, m), &c| (n + usize::from(c > 0), m.max(c)));
        let width = match max {
            0..=0xff => 1,
            0x100..=0xffff => 2,
            0x1_0000..=0xffff_ffff => 4,
            _ => 8,
        };
        let span = counts.len();
        let sparse_bytes = if width <= 2 && span <= 1 << 16 {
            nnz * SPARSE_ENTRY
        } else {
            usize::MAX
        };
        if sparse_bytes < span.saturating_mul(width) {
            // Cannot saturate: offsets fit u16 (span) and so do counts (width).
            let narrow = |(k, &c): (u32, &u64)| {
                (
                    u16::try_from(k).unwrap_or(u16::MAX),
                    u16::try_from(c).unwrap_or(u16::MAX),
                )
            };
            let mut v = Vec::with_capacity(nnz);
            v.extend((0u32..).zip(counts).filter(|e| *e.1 > 0).map(narrow));
            return Store::Sparse(lo, v.into_boxed_slice());
        }
        match width {
            1 => Store::D8(lo, narrow(counts)),
            2 => Store::D16(lo, narrow(counts)),
            4 => Store::D32(lo, narrow(counts)),
            _ => Store::D64(lo, counts.into()),
        }
    }
}

/// `counts` as counters of type `T`, which the caller checked can hold the largest.
fn narrow<T: Counter>(counts: &[u64]) -> Box<[T]> {
    counts
        .iter()
        .map(|&c| T::try_from(c).unwrap_or_default())
        .collect()
}

/// Non-empty buckets of a dense store.
#[derive(Clone, Debug)]
pub(super) struct DenseIter<'a, T> {
    next: i32,
    counts: std::slice::Iter<'a, T>,
}

impl<T: Counter> Iterator for DenseIter<'_, T> {
    type Item = (i32, u64);
    #[inline]
    fn next(&mut self) -> Option<(i32, u64)> {
        for &c in self.counts.by_ref() {
            let i = self.next;
            self.next = self.next.wrapping_add(1);
            let c: u64 = c.into();
            if c != 0 {
                return Some((i, c));
            }
        }
        None
    }
}

/// Iterator over the non-empty buckets of a [`Store`], in increasing index order.
#[derive(Clone, Debug)]
pub(super) enum Iter<'a> {
    Sparse(i32, std::slice::Iter<'a, (u16, u16)>),
    D8(DenseIter<'a, u8>),
    D16(DenseIter<'a, u16>),
    D32(DenseIter<'a, u32>),
    D64(DenseIter<'a, u64>),
}

impl Iterator for Iter<'_> {
    type Item = (i32, u64);
    #[inline]
    fn next(&mut self) -> Option<(i32, u64)> {
        match self {
            Iter::Sparse(b, it) => it
                .next()
                .map(|&(i, c)| (b.saturating_add(i.into()), u64::from(c))),
            Iter::D8(it) => it.next(),
            Iter::D16(it) => it.next(),
            Iter::D32(it) => it.next(),
            Iter::D64(it) => it.next(),
        }
    }
}
