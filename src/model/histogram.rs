//! Quantiles of classic (cumulative `le`-bucket) histograms, computed exactly as PromQL's
//! `histogram_quantile` does for classic buckets (`BucketQuantile` in Prometheus'
//! `promql/quantile.go`), except that the answers PromQL gives as a bare number are typed:
//! NaN becomes [`Quantile::NoData`], and an answer in the `+Inf` bucket becomes
//! [`Quantile::AtLeast`] ("≥ last finite bound") instead of passing silently for that bound.

/// One cumulative bucket: `count` observations were `<= upper_bound` (the `le` label).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// The bucket's upper bound; `f64::INFINITY` for `le="+Inf"`.
    pub upper_bound: f64,
    /// Cumulative count of observations at or below `upper_bound`.
    pub count: f64,
}

impl Bucket {
    /// A bucket from the text of an `le` label (`"0.25"`, `"+Inf"`, `"1e3"`, any case of
    /// `inf`), as Prometheus reads it; `None` if `le` is not a number.
    pub fn from_le(le: &str, count: f64) -> Option<Bucket> {
        let upper_bound = le.parse::<f64>().ok()?;
        Some(Bucket { upper_bound, count })
    }
}

/// A quantile estimated from classic buckets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantile {
    /// The interpolated value. Also `-Inf` for q < 0 and `+Inf` for q > 1, as PromQL answers.
    Value(f64),
    /// The rank falls in the `+Inf` bucket: the true value is at least this bound (the last
    /// finite upper bound), which is what PromQL returns as a plain number.
    AtLeast(f64),
    /// No answer (PromQL's NaN): q is NaN, no observations, fewer than two buckets, no `+Inf`
    /// bucket, or the interpolation is undefined (e.g. q = 0 over an empty first bucket).
    NoData,
}

impl Quantile {
    /// The number PromQL would show: the value, the bound for [`Quantile::AtLeast`], NaN for
    /// [`Quantile::NoData`].
    pub fn as_promql(self) -> f64 {
        match self {
            Quantile::Value(v) | Quantile::AtLeast(v) => v,
            Quantile::NoData => f64::NAN,
        }
    }
}

/// A quantile and the corrections PromQL applied to the buckets to get it (PromQL reports
/// them as info annotations).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantileOutcome {
    /// The estimate.
    pub quantile: Quantile,
    /// Some cumulative count was lower than a previous one and was raised to it.
    pub forced_monotonic: bool,
    /// Some counts differed from their neighbour by a relative 1e-12 or less (float noise)
    /// and were made equal.
    pub fixed_precision: bool,
}

/// Relative tolerance under which neighbouring bucket counts count as equal (Prometheus'
/// `smallDeltaTolerance`).
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// The `q`-quantile (0 ≤ q ≤ 1) of a classic histogram, as PromQL's `histogram_quantile`.
/// Buckets may come in any order; equal bounds are merged; buckets with a NaN bound are
/// ignored.
pub fn histogram_quantile(q: f64, buckets: &[Bucket]) -> Quantile {
    histogram_quantile_detailed(q, buckets).quantile
}

/// [`histogram_quantile`], also telling which corrections were applied to the buckets.
pub fn histogram_quantile_detailed(q: f64, buckets: &[Bucket]) -> QuantileOutcome {
    let outcome = |quantile| QuantileOutcome {
        quantile,
        forced_monotonic: false,
        fixed_precision: false,
    };
    if q.is_nan() {
        return outcome(Quantile::NoData);
    }
    if q < 0.0 {
        return outcome(Quantile::Value(f64::NEG_INFINITY));
    }
    if q > 1.0 {
        return outcome(Quantile::Value(f64::INFINITY));
    }
    let mut b: Vec<Bucket> = buckets
        .iter()
        .copied()
        .filter(|b| !b.upper_bound.is_nan())
        .collect();
    // Go's sort is not stable and this one is; equal bounds are merged right after anyway.
    b.sort_by(|x, y| x.upper_bound.total_cmp(&y.upper_bound));
    if b.last()
        .is_none_or(|last| last.upper_bound != f64::INFINITY)
    {
        return outcome(Quantile::NoData);
    }
    coalesce(&mut b);
    let (forced_monotonic, fixed_precision) = ensure_monotonic(&mut b, SMALL_DELTA_TOLERANCE);
    let with = |quantile| QuantileOutcome {
        quantile,
        forced_monotonic,
        fixed_precision,
    };
    let n = b.len();
    if n < 2 {
        return with(Quantile::NoData);
    }
    let observations = b[n - 1].count;
    if observations == 0.0 {
        return with(Quantile::NoData);
    }
    let mut rank = q * observations;
    let i = go_search(n - 1, |i| b[i].count >= rank);
    if i == n - 1 {
        return with(Quantile::AtLeast(b[n - 2].upper_bound));
    }
    if i == 0 && b[0].upper_bound <= 0.0 {
        return with(Quantile::Value(b[0].upper_bound));
    }
    let mut start = 0.0;
    let end = b[i].upper_bound;
    let mut count = b[i].count;
    if i > 0 {
        start = b[i - 1].upper_bound;
        count -= b[i - 1].count;
        rank -= b[i - 1].count;
    }
    let v = start + (end - start) * (rank / count);
    with(if v.is_nan() {
        Quantile::NoData
    } else {
        Quantile::Value(v)
    })
}

/// Go's `sort.Search`: the smallest i in [0, n) with `f(i)`, or n. Reproduced probe for probe
/// so that non-monotonic inputs (NaN counts) land where Prometheus lands.
fn go_search(n: usize, f: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if f(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Merges buckets with the same upper bound, adding their counts. Input sorted by bound.
fn coalesce(b: &mut Vec<Bucket>) {
    b.dedup_by(|next, kept| {
        if next.upper_bound == kept.upper_bound {
            kept.count += next.count;
            true
        } else {
            false
        }
    });
}

/// Prometheus' `ensureMonotonicAndIgnoreSmallDeltas`: first makes counts that differ by float
/// noise equal, then raises every count that dropped below an earlier one to that level.
fn ensure_monotonic(b: &mut [Bucket], tolerance: f64) -> (bool, bool) {
    let (mut forced, mut fixed) = (false, false);
    let Some(first) = b.first() else {
        return (false, false);
    };
    let mut prev = first.count;
    for bucket in b.iter_mut().skip(1) {
        let curr = bucket.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, tolerance) {
            bucket.count = prev;
            fixed = true;
            continue;
        }
        if curr < prev {
            bucket.count = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    (forced, fixed)
}

/// Prometheus' `almost.Equal`: relative comparison, NaN equal to NaN.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

#[cfg(test)]
#[path = "histogram_tests.rs"]
mod tests;
