//! Window answers for one dependency's mapped series: rates of counters, latest gauges, and
//! latency percentiles from histograms (classic buckets by `histogram_quantile`, exponential
//! buckets exactly through the sketch, summaries as given).

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::histogram::{Bucket, Quantile, histogram_quantile};
use crate::model::profile::{Role, name_unit_factor};
use crate::model::resilience::{
    GaugeSample, LatencySource, MetricLatency, MetricQuantile, PoolInstance, ResilienceView,
};
use crate::model::series::{ClassicHistogram, ExponentialHistogram, PointValue};
use crate::model::sketch::{ExpBuckets, Sketch};
use crate::model::view::STALE_NS;

use super::SeriesId;
use super::history::{SeriesTrack, classic_diff, exponential_diff, number, same_bounds};

/// Quantiles shown.
const QS: [f64; 3] = [0.5, 0.95, 0.99];

/// The signal part of a view (breaker fields are filled by the caller).
pub fn signals(
    signals: &HashMap<(SeriesId, Role), Option<f64>>,
    series: &HashMap<SeriesId, SeriesTrack>,
    (from, to): (u64, u64),
) -> ResilienceView {
    let to_incl = to.saturating_sub(1);
    let mut sums: HashMap<Role, f64> = HashMap::new();
    let mut gauges: Vec<(Role, &SeriesTrack)> = Vec::new();
    let mut classic: Vec<ClassicHistogram> = Vec::new();
    let mut expo: Vec<(ExponentialHistogram, f64)> = Vec::new();
    let mut summaries: Vec<(f64, Vec<(f64, f64)>)> = Vec::new();
    let mut pools: Vec<PoolInstance> = Vec::new();
    for ((id, role), factor) in signals {
        let Some(track) = series.get(id) else {
            continue;
        };
        let factor = factor.unwrap_or_else(|| name_unit_factor(&id.0));
        if matches!(role, Role::CacheHit | Role::CacheMiss) {
            if let Some(n) = increase(track, from, to_incl) {
                *sums.entry(*role).or_default() += n;
            }
            continue;
        }
        if role.is_counter() {
            if let Some(r) = track.rate(from, to_incl) {
                *sums.entry(*role).or_default() += r;
            }
            continue;
        }
        if *role == Role::Latency {
            let Some((a, b)) = track.window(from, to_incl) else {
                continue;
            };
            match (&a.value, &b.value) {
                (PointValue::Histogram(x), PointValue::Histogram(y)) => {
                    let mut d = if std::ptr::eq(a, b) {
                        y.clone()
                    } else {
                        classic_diff(x, y)
                    };
                    for bk in &mut d.buckets {
                        bk.0 *= factor;
                    }
                    classic.push(d);
                }
                (PointValue::Exponential(x), PointValue::Exponential(y)) => {
                    let d = if std::ptr::eq(a, b) {
                        y.clone()
                    } else {
                        exponential_diff(x, y)
                    };
                    expo.push((d, factor));
                }
                (_, PointValue::Summary(s)) => summaries.push((
                    s.count,
                    s.quantiles.iter().map(|(q, v)| (*q, v * factor)).collect(),
                )),
                _ => {}
            }
            continue;
        }
        gauges.push((*role, track));
        if let Some(v) = gauge_at(track, to_incl) {
            *sums.entry(*role).or_default() += v;
            pool_instance(&mut pools, id.1.get("instance").unwrap_or(""), *role, v);
        }
    }
    pools.sort_by(|a, b| a.instance.cmp(&b.instance));
    let now = combine(|r| sums.get(&r).copied());
    let get = |r: Role| sums.get(&r).copied();
    ResilienceView {
        queue_depth: now.queue_depth,
        queue_capacity: now.queue_capacity,
        pool_utilisation: now.pool_utilisation,
        in_flight: now.in_flight,
        retry_rate: get(Role::Retry),
        timeout_rate: get(Role::Timeout),
        rejected_rate: get(Role::Rejected),
        overflow_rate: get(Role::Overflow),
        retry_overflow_rate: get(Role::RetryOverflow),
        gauges: Arc::from(history(&gauges, from, to_incl)),
        latency: latency(expo, classic, summaries),
        pools: Arc::from(pools),
        cache_hits: get(Role::CacheHit),
        cache_misses: get(Role::CacheMiss),
        ..ResilienceView::default()
    }
}

/// Adds one pool gauge's value to its instance's pool (other roles are ignored). A pool that
/// reports only `available` gets `idle` from it: a free slot of a connection pool is an idle
/// connection or one it may open.
fn pool_instance(pools: &mut Vec<PoolInstance>, instance: &str, role: Role, v: f64) {
    if !matches!(
        role,
        Role::PoolUsed | Role::PoolIdle | Role::PoolMax | Role::PoolAvailable
    ) {
        return;
    }
    let i = match pools.iter().position(|p| &*p.instance == instance) {
        Some(i) => i,
        None => {
            pools.push(PoolInstance {
                instance: Arc::from(instance),
                ..PoolInstance::default()
            });
            pools.len() - 1
        }
    };
    let p = &mut pools[i];
    let slot = match role {
        Role::PoolUsed => &mut p.used,
        Role::PoolMax => &mut p.max,
        _ => &mut p.idle,
    };
    *slot = Some(slot.unwrap_or(0.0) + v);
}

/// A counter's increase between its first and last sample inside the window (what a hit
/// ratio is the ratio of; a reset counts from zero). One sample alone is no increase known.
fn increase(track: &SeriesTrack, from: u64, to_incl: u64) -> Option<f64> {
    let (a, b) = track.window(from, to_incl)?;
    if std::ptr::eq(a, b) {
        return None;
    }
    let (x, y) = (number(&a.value)?, number(&b.value)?);
    Some(if y >= x { y - x } else { y })
}

/// A gauge's value at `t`: its latest sample at or before it, no older than the staleness bound
/// (Prometheus's look-back), whether or not inside the window.
fn gauge_at(track: &SeriesTrack, t: u64) -> Option<f64> {
    track
        .latest(t)
        .filter(|p| p.t_ns.saturating_add(STALE_NS) >= t)
        .and_then(|p| number(&p.value))
        .filter(|v| v.is_finite())
}

/// The queue, pool and in-flight figures from the gauges' sums by role (one definition for the
/// window's end and every sample of its history).
fn combine(get: impl Fn(Role) -> Option<f64>) -> GaugeSample {
    let queue_capacity = get(Role::QueueCapacity).or_else(|| {
        get(Role::QueueRemaining).map(|rem| rem + get(Role::QueueDepth).unwrap_or(0.0))
    });
    let max = get(Role::PoolMax)
        .or_else(|| get(Role::PoolAvailable).map(|a| a + get(Role::PoolUsed).unwrap_or(0.0)));
    let used = get(Role::PoolUsed)
        .or_else(|| Some(max? - get(Role::PoolAvailable)?))
        .or_else(|| Some(max? - get(Role::PoolIdle)?));
    let pool_utilisation = match (used, max) {
        (Some(u), Some(m)) if m > 0.0 => Some((u / m).clamp(0.0, 1.0)),
        _ => None,
    };
    GaugeSample {
        t_ns: 0,
        queue_depth: get(Role::QueueDepth),
        queue_capacity,
        pool_utilisation,
        in_flight: get(Role::InFlight),
    }
}

/// The gauges at the window's start and at every sample time inside `[from, to_incl]`: at each
/// time, every gauge's latest fresh sample, summed by role and combined as at the window's
/// end. One cursor per series, so the cost is the points in the window times the gauges.
fn history(gauges: &[(Role, &SeriesTrack)], from: u64, to_incl: u64) -> Vec<GaugeSample> {
    if gauges.is_empty() {
        return Vec::new();
    }
    let mut times: Vec<u64> = vec![from];
    for (_, t) in gauges {
        let start = t.points.partition_point(|p| p.t_ns < from);
        times.extend(
            t.points
                .range(start..)
                .take_while(|p| p.t_ns <= to_incl)
                .map(|p| p.t_ns),
        );
    }
    times.sort_unstable();
    times.dedup();
    let mut cursor = vec![0usize; gauges.len()];
    let mut out = Vec::with_capacity(times.len());
    let mut sums: HashMap<Role, f64> = HashMap::new();
    for t in times {
        sums.clear();
        for ((role, track), c) in gauges.iter().zip(cursor.iter_mut()) {
            while *c < track.points.len() && track.points[*c].t_ns <= t {
                *c += 1;
            }
            let latest = c.checked_sub(1).map(|i| &track.points[i]);
            if let Some(v) = latest
                .filter(|p| p.t_ns.saturating_add(STALE_NS) >= t)
                .and_then(|p| number(&p.value))
                .filter(|v| v.is_finite())
            {
                *sums.entry(*role).or_default() += v;
            }
        }
        if sums.is_empty() {
            continue;
        }
        out.push(GaugeSample {
            t_ns: t,
            ..combine(|r| sums.get(&r).copied())
        });
    }
    out
}

/// Percentiles from the window's histograms: exponential first (exact), then classic, then
/// summaries. `expo` pairs each histogram with its unit in seconds.
fn latency(
    expo: Vec<(ExponentialHistogram, f64)>,
    classic: Vec<ClassicHistogram>,
    summaries: Vec<(f64, Vec<(f64, f64)>)>,
) -> Option<MetricLatency> {
    if !expo.is_empty() {
        let mut sk = Sketch::new();
        for (e, factor) in &expo {
            if *factor != 1.0 {
                // Not in seconds: re-bucketed through the bucket midpoints, scaled (≤ 1 bucket
                // width of error instead of exact).
                let base = 2f64.powf(2f64.powi(-e.scale));
                for (i, c) in e.counts.iter().enumerate() {
                    let lo = base.powi(e.offset + i as i32);
                    sk.insert_n(lo * (1.0 + base) / 2.0 * *factor, *c);
                }
                sk.insert_n(0.0, e.zero_count);
                continue;
            }
            sk.merge_exponential(&ExpBuckets {
                scale: e.scale,
                zero_count: e.zero_count,
                zero_threshold: e.zero_threshold,
                offset: e.offset,
                counts: &e.counts,
                sum: e.sum,
                min: e.min,
                max: e.max,
            });
        }
        if sk.count() > 0 {
            let q = |q: f64| {
                sk.quantile(q).map(|s| MetricQuantile {
                    ms: s * 1e3,
                    at_least: false,
                })
            };
            return Some(MetricLatency {
                source: LatencySource::Exponential,
                count: sk.count() as f64,
                p50: q(QS[0]),
                p95: q(QS[1]),
                p99: q(QS[2]),
            });
        }
    }
    if !classic.is_empty() {
        // Sum the histograms that share the bounds of the busiest one (PromQL sums by `le`).
        let busiest = classic
            .iter()
            .max_by(|a, b| a.count.total_cmp(&b.count))?
            .clone();
        let mut total = busiest.clone();
        total.buckets.iter_mut().for_each(|b| b.1 = 0.0);
        total.count = 0.0;
        for h in classic.iter().filter(|h| same_bounds(h, &busiest)) {
            total.count += h.count;
            for (t, b) in total.buckets.iter_mut().zip(&h.buckets) {
                t.1 += b.1;
            }
        }
        if total.count <= 0.0 {
            return None;
        }
        let buckets: Vec<Bucket> = total
            .buckets
            .iter()
            .map(|(ub, c)| Bucket {
                upper_bound: *ub,
                count: *c,
            })
            .collect();
        let q = |q: f64| match histogram_quantile(q, &buckets) {
            Quantile::Value(v) => Some(MetricQuantile {
                ms: v * 1e3,
                at_least: false,
            }),
            Quantile::AtLeast(v) => Some(MetricQuantile {
                ms: v * 1e3,
                at_least: true,
            }),
            Quantile::NoData => None,
        };
        return Some(MetricLatency {
            source: LatencySource::Histogram,
            count: total.count,
            p50: q(QS[0]),
            p95: q(QS[1]),
            p99: q(QS[2]),
        });
    }
    let (count, qs) = summaries.into_iter().max_by(|a, b| a.0.total_cmp(&b.0))?;
    let q = |want: f64| {
        qs.iter()
            .find(|(q, v)| (q - want).abs() < 1e-9 && v.is_finite())
            .map(|(_, v)| MetricQuantile {
                ms: v * 1e3,
                at_least: false,
            })
    };
    let (p50, p95, p99) = (q(QS[0]), q(QS[1]), q(QS[2]));
    if p50.is_none() && p95.is_none() && p99.is_none() {
        return None;
    }
    Some(MetricLatency {
        source: LatencySource::Summary,
        count,
        p50,
        p95,
        p99,
    })
}
