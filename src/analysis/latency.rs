//! Latency distributions for display: a sketch's fine buckets regrouped into octave bins
//! (1, 2, 4, 8 ms ...), and per-bucket percentile series of an edge.

use crate::model::edge::{EdgeSeries, bucket_of};
use crate::model::sketch::Sketch;

/// One histogram bin: values in `(lower_s, upper_s]` seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bin {
    /// Lower bound, seconds (exclusive).
    pub lower_s: f64,
    /// Upper bound, seconds (inclusive).
    pub upper_s: f64,
    /// Samples in the bin.
    pub count: u64,
}

/// Regroups a sketch into power-of-two bins between its smallest and largest non-empty bucket.
/// Empty bins between them are kept, so the shape (gaps, bimodality) shows.
pub fn octave_bins(sketch: &Sketch) -> Vec<Bin> {
    let mut bins: Vec<Bin> = Vec::new();
    for (lo, hi, count) in sketch.buckets() {
        let mid = (lo * hi).sqrt().max(1e-9);
        let octave = mid.log2().floor();
        let lower = 2f64.powf(octave);
        let upper = lower * 2.0;
        match bins.last_mut() {
            Some(b) if (b.lower_s - lower).abs() < lower * 1e-9 => b.count += count,
            Some(b) => {
                let mut l = b.upper_s;
                while l < lower * (1.0 - 1e-9) {
                    bins.push(Bin {
                        lower_s: l,
                        upper_s: l * 2.0,
                        count: 0,
                    });
                    l *= 2.0;
                }
                bins.push(Bin {
                    lower_s: lower,
                    upper_s: upper,
                    count,
                });
            }
            None => bins.push(Bin {
                lower_s: lower,
                upper_s: upper,
                count,
            }),
        }
    }
    bins
}

/// Per-bucket points over `[from, to)`: `(bucket start, value)` where `value` is computed from the
/// bucket; buckets without calls are skipped.
pub fn per_bucket(
    series: &EdgeSeries,
    from: u64,
    to: u64,
    f: impl Fn(&crate::model::edge::BucketStats) -> Option<f64>,
) -> Vec<(u64, f64)> {
    series
        .buckets
        .range(bucket_of(from)..to)
        .filter(|(_, b)| b.calls > 0)
        .filter_map(|(&at, b)| f(b).map(|v| (at, v)))
        .collect()
}

/// Calls per second over the part of the summary window that has data: a window of 5 minutes
/// over an edge first seen 20 seconds ago divides by 20 seconds, not 300.
pub fn call_rate(series: &EdgeSeries, s: &crate::model::edge::EdgeSummary) -> f64 {
    // Calls counted by metrics (`store::fleet`), not traced: over the whole window they cover.
    if series.buckets.is_empty() {
        return s.rate();
    }
    let from = s.from_ns.max(bucket_of(series.first_ns.min(s.to_ns)));
    let secs = s.to_ns.saturating_sub(from) as f64 / 1e9;
    if secs > 0.0 {
        s.stats.calls as f64 / secs.max(1.0)
    } else {
        0.0
    }
}

/// Latency quantile `q` of one bucket, in milliseconds.
pub fn bucket_quantile_ms(b: &crate::model::edge::BucketStats, q: f64) -> Option<f64> {
    b.latency.quantile(q).map(|s| s * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octave_bins_cover_the_range_with_gaps() {
        let mut s = Sketch::new();
        for _ in 0..10 {
            s.insert(0.0015);
        }
        s.insert(0.0100);
        let bins = octave_bins(&s);
        assert_eq!(bins.iter().map(|b| b.count).sum::<u64>(), 11);
        assert!(bins.len() >= 3, "{bins:?}");
        assert!(bins.iter().any(|b| b.count == 0), "gap bins kept");
        for w in bins.windows(2) {
            assert!((w[0].upper_s - w[1].lower_s).abs() < 1e-12);
        }
    }
}
