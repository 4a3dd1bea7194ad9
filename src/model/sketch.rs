//! A mergeable latency sketch: an exponential-bucket histogram of durations in seconds.
//!
//! The buckets are those of OTLP `ExponentialHistogram` (base-2 family): at scale `s`, bucket `i`
//! covers `(base^i, base^(i+1)]` with `base = 2^(2^-s)`. It is written by hand rather than taken
//! from a DDSketch or HDR histogram crate because it must merge bucket-for-bucket, exactly, with
//! the exponential histograms that OTel SDKs export (`*.duration` in seconds); those crates use
//! other bucket boundaries, so merging would re-bucket and add error.
//!
//! Accuracy: a quantile is answered with the geometric midpoint of the bucket holding the sample
//! of that rank, so its relative error is at most `sqrt(base) - 1`: 0.543% at the default scale 6,
//! 1.09% at scale 5, 2.2% at scale 4. Exact min and max are kept; estimates are clamped to them.
//!
//! Memory: non-empty buckets are stored as sorted `(index - lowest, count)` u16 pairs (4 bytes
//! each) while that is smaller, else as dense counters over `[lowest, highest]` index, 1 to 8
//! bytes wide as the largest count needs. The span is bounded by [`Sketch::MAX_BUCKETS`] (2048
//! buckets: 32 octaves, 1 ns to 4.3 s, or 1 µs to 71 min, at scale 6). A wider range lowers the
//! scale until it fits, as the OTel SDK does, which doubles the error bound per step (1.09% at
//! scale 5). Values at or below 1 ns go to a zero bucket instead.

mod index;
mod store;
#[cfg(test)]
mod tests;

use index::{MAX_SCALE, MIN_SCALE};
use store::Store;

/// A mergeable histogram of durations in seconds with ≤ 1% relative quantile error at scale 6.
///
/// Equality is logical: same scale, count, sum, min, max and bucket counts, whatever the internal
/// representation.
#[derive(Clone, Debug)]
pub struct Sketch {
    scale: i32,
    count: u64,
    zero_count: u64,
    sum: f64,
    min: f64,
    max: f64,
    store: Store,
}

/// One OTLP exponential histogram data point, borrowed from the decoded message.
///
/// Only the positive buckets are read: durations are never negative, so the negative side of the
/// point is ignored (it has no field here).
#[derive(Clone, Copy, Debug)]
pub struct ExpBuckets<'a> {
    /// OTLP `scale`; points outside OTLP's `[-10, 20]` are ignored.
    pub scale: i32,
    /// OTLP `zero_count`: values within `zero_threshold` of zero.
    pub zero_count: u64,
    /// OTLP `zero_threshold`.
    pub zero_threshold: f64,
    /// OTLP `positive.offset`: the index of `counts[0]`.
    pub offset: i32,
    /// OTLP `positive.bucket_counts`.
    pub counts: &'a [u64],
    /// OTLP `sum`, if present.
    pub sum: Option<f64>,
    /// OTLP `min`, if present.
    pub min: Option<f64>,
    /// OTLP `max`, if present.
    pub max: Option<f64>,
}

/// `i >> d`, rounding toward negative infinity, for any `d`.
fn shr(i: i32, d: u32) -> i32 {
    i.checked_shr(d).unwrap_or(if i < 0 { -1 } else { 0 })
}

impl Default for Sketch {
    fn default() -> Self {
        Self::new()
    }
}

impl PartialEq for Sketch {
    fn eq(&self, o: &Self) -> bool {
        self.scale == o.scale
            && self.count == o.count
            && self.zero_count == o.zero_count
            && self.sum == o.sum
            && self.min == o.min
            && self.max == o.max
            && self.store.iter().eq(o.store.iter())
    }
}

impl Sketch {
    /// Default scale: `base = 2^(1/64)`, quantile relative error ≤ 0.543%.
    pub const DEFAULT_SCALE: i32 = 6;
    /// Values at or below this (1 ns, in seconds) are counted in the zero bucket.
    pub const ZERO_THRESHOLD: f64 = 1e-9;
    /// Most buckets between the lowest and highest non-empty one; wider ranges lower the scale.
    pub const MAX_BUCKETS: usize = 2048;

    /// An empty sketch at [`Sketch::DEFAULT_SCALE`].
    pub fn new() -> Self {
        Self::with_scale(Self::DEFAULT_SCALE)
    }

    /// An empty sketch at `scale`, clamped to OTLP's `[-10, 20]`.
    pub fn with_scale(scale: i32) -> Self {
        Sketch {
            scale: scale.clamp(MIN_SCALE, MAX_SCALE),
            count: 0,
            zero_count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            store: Store::default(),
        }
    }

    /// Records one duration in seconds. NaN, negative and infinite values are ignored: they are
    /// counted nowhere and change nothing. Values ≤ 1 ns go to the zero bucket.
    #[inline]
    pub fn insert(&mut self, seconds: f64) {
        self.insert_n(seconds, 1);
    }

    /// Records the same duration `n` times; same rules as [`Sketch::insert`].
    #[inline]
    pub fn insert_n(&mut self, seconds: f64, n: u64) {
        if n == 0 || !(0.0..f64::INFINITY).contains(&seconds) {
            return;
        }
        let v = seconds + 0.0; // -0.0 becomes 0.0
        self.count = self.count.saturating_add(n);
        self.sum += v * n as f64;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if v <= Self::ZERO_THRESHOLD {
            self.zero_count = self.zero_count.saturating_add(n);
            return;
        }
        let i = index::index(v, self.scale);
        if !self.store.try_add(i, n) {
            self.absorb(std::iter::once((i, n)), self.scale);
        }
    }

    /// Adds every sample of `other`. Exact: the result equals the sketch of both sample sets at the
    /// smaller of the two scales (lower, further, only if the joint range exceeds
    /// [`Sketch::MAX_BUCKETS`]).
    pub fn merge(&mut self, other: &Sketch) {
        self.count = self.count.saturating_add(other.count);
        self.zero_count = self.zero_count.saturating_add(other.zero_count);
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        if self.scale == other.scale {
            // In place while the buckets fit; one rebuild with the rest otherwise.
            if let Some(stop) = self.store.add_in_place(&other.store) {
                self.absorb(other.store.iter().filter(move |e| e.0 >= stop), other.scale);
            }
        } else {
            self.absorb(other.store.iter(), other.scale);
        }
    }

    /// Adds an OTLP exponential histogram data point, bucket for bucket (the negative side is not
    /// read: see [`ExpBuckets`]). The scale becomes the smaller of both, as in [`Sketch::merge`].
    ///
    /// The point's zero bucket is added to this zero bucket, and its buckets lying wholly at or
    /// below 1 ns are too. Without `sum`, the bucket midpoints give an estimate; without `min` /
    /// `max`, the edges of the outermost non-empty buckets stand in. Points with a scale outside
    /// `[-10, 20]` are ignored; bucket indices beyond `f64::MAX` count in the last finite bucket.
    pub fn merge_exponential(&mut self, h: &ExpBuckets<'_>) {
        let s = h.scale;
        if !(MIN_SCALE..=MAX_SCALE).contains(&s) {
            return;
        }
        let floor = index::index(Self::ZERO_THRESHOLD, s);
        let ceil = i64::from(index::index(f64::MAX, s));
        let offset = i64::from(h.offset);
        let all = h
            .counts
            .iter()
            .enumerate()
            .filter(|e| *e.1 > 0)
            .map(move |(k, &c)| {
                let i = (offset + k as i64).clamp(i64::from(floor) - 1, ceil);
                (i as i32, c) // within [floor - 1, ceil]: fits i32
            });
        let buckets = all.clone().filter(move |e| e.0 >= floor);
        let given = |x: Option<f64>| x.filter(|x| (0.0..f64::INFINITY).contains(x));
        let estimate_sum = given(h.sum).is_none();
        let (mut below, mut total, mut est_sum) = (h.zero_count, h.zero_count, 0.0);
        let (mut first, mut last) = (None, None);
        for (i, c) in all {
            total = total.saturating_add(c);
            if i < floor {
                below = below.saturating_add(c);
            } else {
                first = first.or(Some(i));
                last = Some(i);
                if estimate_sum {
                    est_sum += c as f64 * index::midpoint(i, s);
                }
            }
        }
        if total == 0 {
            return;
        }
        let fallback_min = match first {
            Some(i) if below == 0 => index::lower_boundary(i, s),
            _ => 0.0,
        };
        let fallback_max = match last {
            Some(i) => index::lower_boundary(i.saturating_add(1), s),
            None => given(Some(h.zero_threshold)).unwrap_or(0.0),
        };
        self.count = self.count.saturating_add(total);
        self.zero_count = self.zero_count.saturating_add(below);
        self.sum += given(h.sum).unwrap_or(est_sum);
        self.min = self.min.min(given(h.min).unwrap_or(fallback_min));
        self.max = self.max.max(given(h.max).unwrap_or(fallback_max));
        self.add_buckets(buckets, s);
    }

    /// Adds buckets `(index, count)` at `scale`: in place while they fit (same
    /// scale, existing buckets, wide enough counters), else through [`Sketch::absorb`].
    fn add_buckets<I: Iterator<Item = (i32, u64)> + Clone>(&mut self, mut buckets: I, scale: i32) {
        if self.scale != scale {
            return self.absorb(buckets, scale);
        }
        while let Some((i, c)) = buckets.next() {
            if !self.store.try_add(i, c) {
                return self.absorb(std::iter::once((i, c)).chain(buckets), scale);
            }
        }
    }

    /// Adds buckets `(index, count)` at `extra_scale` to the store by rebuilding it: the result is
    /// at the smaller scale, lowered further until its range fits [`Sketch::MAX_BUCKETS`].
    fn absorb<I: Iterator<Item = (i32, u64)> + Clone>(&mut self, extra: I, extra_scale: i32) {
        let own_scale = self.scale;
        let scale = own_scale.min(extra_scale);
        let (d_own, d_extra) = ((own_scale - scale) as u32, (extra_scale - scale) as u32);
        let mut range = self
            .store
            .range()
            .map(|(l, h)| (shr(l, d_own), shr(h, d_own)));
        for (i, _) in extra.clone().filter(|e| e.1 > 0) {
            let j = shr(i, d_extra);
            range = Some(range.map_or((j, j), |(l, h)| (l.min(j), h.max(j))));
        }
        let Some((lo, hi)) = range else {
            self.scale = scale;
            return;
        };
        let span = |d| i64::from(shr(hi, d)) - i64::from(shr(lo, d)) + 1;
        let mut d = 0;
        while span(d) > Self::MAX_BUCKETS as i64 && scale - (d as i32) > MIN_SCALE {
            d += 1;
        }
        // Accumulate both at the final scale into one dense run over the joint range.
        let (lo, d_own, d_extra) = (shr(lo, d), d_own + d, d_extra + d);
        let mut acc = vec![0u64; usize::try_from(span(d)).unwrap_or(0)];
        let own = self.store.iter().map(|(i, c)| (shr(i, d_own), c));
        for (i, c) in own.chain(extra.map(|(i, c)| (shr(i, d_extra), c))) {
            // Always in range: the joint range covers every bucket.
            if let Some(slot) = usize::try_from(i64::from(i) - i64::from(lo))
                .ok()
                .and_then(|k| acc.get_mut(k))
            {
                *slot = slot.saturating_add(c);
            }
        }
        self.store = Store::from_counts(lo, &acc);
        self.scale = scale - d as i32;
    }

    /// The `q`-quantile in seconds, `None` when empty (or `q` is NaN). `q` is clamped to `[0, 1]`.
    ///
    /// Nearest rank: the answer estimates the sample of 0-based rank `ceil(q * count) - 1`, with a
    /// relative error ≤ `sqrt(base) - 1` (0.543% at scale 6). Rank 0 (`q = 0`) returns the exact
    /// min, the last rank (`q = 1`) the exact max. Samples in the zero bucket are reported as the
    /// min (≤ 1 ns).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || q.is_nan() {
            return None;
        }
        let n = self.count;
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64)
            .saturating_sub(1)
            .min(n - 1);
        if rank == 0 {
            return Some(self.min);
        }
        if rank == n - 1 {
            return Some(self.max);
        }
        let mut seen = self.zero_count;
        let mut estimate = if rank < seen { 0.0 } else { self.max };
        if rank >= seen {
            for (i, c) in self.store.iter() {
                seen = seen.saturating_add(c);
                if rank < seen {
                    estimate = index::midpoint(i, self.scale);
                    break;
                }
            }
        }
        Some(estimate.max(self.min).min(self.max))
    }

    /// Number of samples recorded (zero bucket included).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Sum of the samples in seconds (0 when empty; estimated for OTLP points without a sum).
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Smallest sample, exact; `None` when empty.
    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    /// Largest sample, exact; `None` when empty.
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }

    /// Current scale: [`Sketch::DEFAULT_SCALE`] unless lowered by a merge or a wide range.
    pub fn scale(&self) -> i32 {
        self.scale
    }

    /// Whether no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Non-empty buckets as `(lower, upper, count)` in seconds, ascending; a bucket holds values in
    /// `(lower, upper]`. The zero bucket, if non-empty, comes first as `(0, 1e-9, count)`.
    pub fn buckets(&self) -> impl Iterator<Item = (f64, f64, u64)> + '_ {
        let zero = (self.zero_count > 0).then_some((0.0, Self::ZERO_THRESHOLD, self.zero_count));
        let s = self.scale;
        zero.into_iter().chain(self.store.iter().map(move |(i, c)| {
            (
                index::lower_boundary(i, s),
                index::lower_boundary(i.saturating_add(1), s),
                c,
            )
        }))
    }

    /// Heap bytes held by the sketch (allocated capacity; excludes `size_of::<Sketch>()` and the
    /// allocator's own overhead). Zero when empty.
    pub fn heap_bytes(&self) -> usize {
        self.store.heap_bytes()
    }
}
