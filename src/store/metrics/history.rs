//! The bounded history of one mapped series: counters as reset-corrected cumulative values,
//! histograms as cumulative buckets, gauges and summaries as they came. Windows are answered
//! from it: a counter's rate, a gauge's latest value, a histogram's observations in the window.

use std::collections::VecDeque;

use crate::model::series::{ClassicHistogram, ExponentialHistogram, PointValue, SeriesPoint};

/// Most points kept per series; past it every other old point is dropped (the history thins
/// out instead of ending, so long windows still have a first point).
pub const MAX_POINTS: usize = 720;

/// One stored point.
#[derive(Clone, Debug)]
pub struct Stored {
    /// Sample time, Unix ns.
    pub t_ns: u64,
    /// The value, made cumulative (deltas accumulated, counter resets corrected).
    pub value: PointValue,
}

/// History of one series.
#[derive(Clone, Debug, Default)]
pub struct SeriesTrack {
    /// Points, oldest first.
    pub points: VecDeque<Stored>,
    /// Start time of the cumulative series, to tell a reset.
    start_ns: Option<u64>,
    /// Raw value of the last counter point (before the reset offset).
    last_raw: Option<f64>,
    /// Added to counter values after resets.
    offset: f64,
}

impl SeriesTrack {
    /// Adds a point; `counter` makes numbers reset-corrected cumulative values (also for series
    /// a source typed as gauges: PromQL results carry no type). Returns false when the point is
    /// not newer than the last (a PromQL server that has not scraped since, a replayed record).
    pub fn push(&mut self, p: &SeriesPoint, counter: bool) -> bool {
        if self.points.back().is_some_and(|l| p.t_ns <= l.t_ns) {
            return false;
        }
        let reset_by_start = match (self.start_ns, p.start_ns) {
            (Some(a), Some(b)) => b > a,
            _ => false,
        };
        if p.start_ns.is_some() {
            self.start_ns = p.start_ns;
        }
        let value = match &p.value {
            PointValue::Number(v) => {
                let prev = self.points.back().and_then(|l| number(&l.value));
                let cum = if p.delta {
                    prev.unwrap_or(0.0) + v
                } else if counter {
                    if let Some(last) = self.last_raw
                        && (*v < last || reset_by_start)
                    {
                        self.offset += last;
                    }
                    self.last_raw = Some(*v);
                    self.offset + v
                } else {
                    *v
                };
                PointValue::Number(cum)
            }
            PointValue::Histogram(h) if p.delta => {
                let mut h = h.clone();
                if let Some(PointValue::Histogram(prev)) = self.points.back().map(|l| &l.value)
                    && same_bounds(prev, &h)
                {
                    h.count += prev.count;
                    h.sum += prev.sum;
                    for (b, pb) in h.buckets.iter_mut().zip(&prev.buckets) {
                        b.1 += pb.1;
                    }
                }
                PointValue::Histogram(h)
            }
            PointValue::Exponential(e) if p.delta => {
                let mut e = e.clone();
                if let Some(PointValue::Exponential(prev)) = self.points.back().map(|l| &l.value) {
                    e = add_exponential(prev, &e);
                }
                PointValue::Exponential(e)
            }
            other => other.clone(),
        };
        self.points.push_back(Stored {
            t_ns: p.t_ns,
            value,
        });
        if self.points.len() > MAX_POINTS {
            self.thin();
        }
        true
    }

    fn thin(&mut self) {
        let keep_recent = MAX_POINTS / 2;
        let old = self.points.len() - keep_recent;
        let mut i = 0usize;
        self.points.retain(|_| {
            i += 1;
            i > old || i % 2 == 1
        });
    }

    /// Drops points before `cutoff_ns`, keeping the newest; true when none are left.
    pub fn prune_before(&mut self, cutoff_ns: u64) -> bool {
        while self.points.len() > 1 && self.points.front().is_some_and(|p| p.t_ns < cutoff_ns) {
            self.points.pop_front();
        }
        self.points.back().is_none_or(|p| p.t_ns < cutoff_ns)
    }

    /// The last point at or before `to_ns`.
    pub fn latest(&self, to_ns: u64) -> Option<&Stored> {
        self.points.iter().rev().find(|p| p.t_ns <= to_ns)
    }

    /// First and last points in `[from, to]` (the same point when only one is there).
    pub fn window(&self, from_ns: u64, to_ns: u64) -> Option<(&Stored, &Stored)> {
        let first = self
            .points
            .iter()
            .find(|p| p.t_ns >= from_ns && p.t_ns <= to_ns)?;
        let last = self.latest(to_ns)?;
        Some((first, last))
    }

    /// Increase per second of a counter over the window; `None` with fewer than two points.
    pub fn rate(&self, from_ns: u64, to_ns: u64) -> Option<f64> {
        let (a, b) = self.window(from_ns, to_ns)?;
        let dt = b.t_ns.checked_sub(a.t_ns).filter(|d| *d > 0)? as f64 / 1e9;
        let inc = number(&b.value)? - number(&a.value)?;
        Some(inc.max(0.0) / dt)
    }
}

/// The number in a counter or gauge value.
pub fn number(v: &PointValue) -> Option<f64> {
    match v {
        PointValue::Number(n) => Some(*n),
        _ => None,
    }
}

/// Whether two histograms have the same bucket bounds.
pub fn same_bounds(a: &ClassicHistogram, b: &ClassicHistogram) -> bool {
    a.buckets.len() == b.buckets.len() && a.buckets.iter().zip(&b.buckets).all(|(x, y)| x.0 == y.0)
}

/// `b − a` of two cumulative histograms with the same bounds (`b` alone after a reset).
pub fn classic_diff(a: &ClassicHistogram, b: &ClassicHistogram) -> ClassicHistogram {
    if !same_bounds(a, b) || b.count < a.count {
        return b.clone();
    }
    ClassicHistogram {
        count: b.count - a.count,
        sum: b.sum - a.sum,
        buckets: b
            .buckets
            .iter()
            .zip(&a.buckets)
            .map(|(x, y)| (x.0, (x.1 - y.1).max(0.0)))
            .collect(),
    }
}

/// Bucket counts of an exponential histogram re-based to `offset` over `len` buckets.
fn rebase(e: &ExponentialHistogram, offset: i32, len: usize) -> Vec<u64> {
    let mut out = vec![0u64; len];
    for (i, c) in e.counts.iter().enumerate() {
        let idx = (e.offset as i64 + i as i64 - offset as i64) as usize;
        if let Some(slot) = out.get_mut(idx) {
            *slot += c;
        }
    }
    out
}

/// The span of indices covered by two exponential histograms at the same scale.
fn span(a: &ExponentialHistogram, b: &ExponentialHistogram) -> (i32, usize) {
    let lo = a.offset.min(b.offset);
    let hi = (a.offset as i64 + a.counts.len() as i64).max(b.offset as i64 + b.counts.len() as i64);
    (lo, (hi - lo as i64).max(0) as usize)
}

/// `a + b` at the same scale (else `b`).
pub fn add_exponential(a: &ExponentialHistogram, b: &ExponentialHistogram) -> ExponentialHistogram {
    if a.scale != b.scale {
        return b.clone();
    }
    let (lo, len) = span(a, b);
    let (x, y) = (rebase(a, lo, len), rebase(b, lo, len));
    ExponentialHistogram {
        scale: b.scale,
        count: a.count + b.count,
        sum: a.sum.zip(b.sum).map(|(p, q)| p + q),
        zero_count: a.zero_count + b.zero_count,
        zero_threshold: b.zero_threshold,
        offset: lo,
        counts: x.iter().zip(&y).map(|(p, q)| p + q).collect(),
        min: None,
        max: None,
    }
}

/// `b − a` of two cumulative exponential histograms (`b` alone after a reset or a scale change).
pub fn exponential_diff(
    a: &ExponentialHistogram,
    b: &ExponentialHistogram,
) -> ExponentialHistogram {
    if a.scale != b.scale || b.count < a.count {
        return b.clone();
    }
    let (lo, len) = span(a, b);
    let (x, y) = (rebase(a, lo, len), rebase(b, lo, len));
    if x.iter().zip(&y).any(|(p, q)| q < p) {
        return b.clone();
    }
    ExponentialHistogram {
        scale: b.scale,
        count: b.count - a.count,
        sum: a.sum.zip(b.sum).map(|(p, q)| q - p),
        zero_count: b.zero_count.saturating_sub(a.zero_count),
        zero_threshold: b.zero_threshold,
        offset: lo,
        counts: x.iter().zip(&y).map(|(p, q)| q - p).collect(),
        min: None,
        max: None,
    }
}
