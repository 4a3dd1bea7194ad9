use super::index::{index, lower_boundary};
use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal, Pareto};

/// Relative error bound of the midpoint estimate at `scale`: `sqrt(base) - 1`.
fn bound(scale: i32) -> f64 {
    (0.5 * (-f64::from(scale)).exp2()).exp2() - 1.0
}

/// Sample of nearest rank `ceil(q * n) - 1`, as [`Sketch::quantile`] defines it.
fn exact(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let rank = ((q * n as f64).ceil() as usize)
        .saturating_sub(1)
        .min(n - 1);
    sorted[rank]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn sketch_of(values: &[f64], scale: i32) -> Sketch {
    let mut s = Sketch::with_scale(scale);
    values.iter().for_each(|&v| s.insert(v));
    s
}

/// Checks every quantile in `qs` against the exact answer; returns the worst relative error.
fn check_quantiles(s: &Sketch, sorted: &[f64], qs: &[f64]) -> f64 {
    let mut worst: f64 = 0.0;
    for &q in qs {
        let (est, ex) = (s.quantile(q).unwrap(), exact(sorted, q));
        let err = (est - ex).abs() / ex;
        assert!(
            err <= bound(s.scale()) + 1e-12,
            "q={q}: {est} vs {ex}, err {err}"
        );
        worst = worst.max(err);
    }
    worst
}

fn samples(dist: &str, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let exp = Exp::new(20.0).unwrap(); // mean 50 ms
    let logn = LogNormal::new(0.02f64.ln(), 1.0).unwrap();
    let fast = LogNormal::new(0.004f64.ln(), 0.3).unwrap();
    let slow = LogNormal::new(0.4f64.ln(), 0.3).unwrap();
    let pareto = Pareto::new(0.001, 1.1).unwrap();
    (0..n)
        .map(|_| match dist {
            "exponential" => exp.sample(&mut rng),
            "lognormal" => logn.sample(&mut rng),
            "bimodal" if rng.random_bool(0.9) => fast.sample(&mut rng),
            "bimodal" => slow.sample(&mut rng),
            _ => pareto.sample(&mut rng),
        })
        .collect()
}

const DISTS: [&str; 4] = ["exponential", "lognormal", "bimodal", "pareto"];

#[test]
fn error_bound_holds_for_all_distributions() {
    let grid: Vec<f64> = (0..=1000).map(|k| k as f64 / 1000.0).collect();
    for (k, dist) in DISTS.into_iter().enumerate() {
        let values = samples(dist, 200_000, k as u64);
        let s = sketch_of(&values, Sketch::DEFAULT_SCALE);
        let sorted = sorted(values);
        assert_eq!(s.scale(), 6, "{dist}");
        let worst = check_quantiles(&s, &sorted, &[0.5, 0.9, 0.99, 0.999]);
        assert!(worst <= 0.01);
        check_quantiles(&s, &sorted, &grid);
        assert_eq!(s.quantile(0.0), Some(sorted[0]));
        assert_eq!(s.quantile(1.0), Some(sorted[sorted.len() - 1]));
        assert_eq!(
            (s.min(), s.max()),
            (Some(sorted[0]), sorted.last().copied())
        );
        assert_eq!(s.count(), 200_000);
        assert!(s.buckets().count() <= Sketch::MAX_BUCKETS);
    }
}

#[test]
fn index_is_consistent_with_boundaries_at_every_scale() {
    let mut rng = StdRng::seed_from_u64(7);
    for scale in MIN_SCALE..=MAX_SCALE {
        for _ in 0..20_000 {
            let v = rng.random_range(-690.0..690.0f64).exp();
            let i = index(v, scale);
            assert!(
                lower_boundary(i, scale) < v && v <= lower_boundary(i + 1, scale),
                "{v} {scale}"
            );
        }
        for k in -40..40 {
            let v = lower_boundary(k, scale);
            if !(v.is_normal() && lower_boundary(k + 1, scale).is_finite()) {
                continue;
            }
            assert_eq!(index(v, scale), k - 1, "boundary {k} at {scale}");
            assert_eq!(
                index(v.next_up(), scale),
                k,
                "above boundary {k} at {scale}"
            );
        }
    }
}

#[test]
fn exact_powers_of_two_belong_to_the_bucket_below() {
    for e in -40..40 {
        let v = f64::from(e).exp2();
        for scale in 1..=MAX_SCALE {
            assert_eq!(index(v, scale), (e << scale) - 1);
            assert_eq!(lower_boundary(index(v, scale) + 1, scale), v);
        }
        for scale in MIN_SCALE..=0 {
            assert_eq!(index(v, scale), (e - 1) >> -scale);
        }
    }
    assert_eq!(index(1.0, 0), -1);
    assert_eq!(index(2.0, 0), 0);
    assert_eq!(index(4.0, -1), 0); // bucket 0 at scale -1 is (1, 4]
    let s = sketch_of(&[0.5, 1.0, 2.0], 6);
    let uppers: Vec<f64> = s.buckets().map(|b| b.1).collect();
    assert_eq!(uppers, [0.5, 1.0, 2.0]);
}

#[test]
fn empty_sketch() {
    let s = Sketch::new();
    assert!(s.is_empty());
    assert_eq!((s.count(), s.sum(), s.min(), s.max()), (0, 0.0, None, None));
    assert_eq!(s.quantile(0.5), None);
    assert_eq!(s.buckets().count(), 0);
    assert_eq!(s.heap_bytes(), 0);
    assert_eq!(s, Sketch::default());
    assert_eq!(s.scale(), Sketch::DEFAULT_SCALE);
}

#[test]
fn invalid_inputs_are_ignored() {
    let mut s = Sketch::new();
    for v in [f64::NAN, -1.0, -1e-300, f64::INFINITY, f64::NEG_INFINITY] {
        s.insert(v);
        s.insert_n(v, 10);
    }
    s.insert_n(0.5, 0);
    assert_eq!(s, Sketch::new());
    s.insert(-0.0);
    s.insert(0.0);
    s.insert(1e-10);
    s.insert(f64::MIN_POSITIVE / 4.0); // subnormal
    assert_eq!(s.count(), 4);
    assert_eq!(s.buckets().collect::<Vec<_>>(), [(0.0, 1e-9, 4)]);
    assert_eq!(s.min(), Some(0.0));
    assert!(s.min().unwrap().is_sign_positive());
    s.insert(0.25);
    assert_eq!(s.quantile(f64::NAN), None);
    assert_eq!(s.quantile(-3.0), Some(0.0));
    assert_eq!(s.quantile(7.0), Some(0.25));
    assert_eq!(s.quantile(0.5), Some(0.0)); // zero bucket reports the min
}

#[test]
fn min_max_and_sum_are_exact() {
    let mut s = Sketch::new();
    for v in [0.003, 0.0123456789, 7.25, 0.5] {
        s.insert(v);
    }
    s.insert_n(0.125, 4);
    assert_eq!((s.min(), s.max()), (Some(0.003), Some(7.25)));
    assert_eq!(s.sum(), 0.003 + 0.0123456789 + 7.25 + 0.5 + 0.5);
    assert_eq!(s.count(), 8);
    assert_eq!(s.quantile(0.0), Some(0.003));
    assert_eq!(s.quantile(1.0), Some(7.25));
}

#[test]
fn insert_n_equals_repeated_insert_and_counters_widen() {
    let mut a = Sketch::new();
    let mut b = Sketch::new();
    for (v, n) in [(0.01, 3u64), (0.02, 300), (0.04, 70_000), (0.03, 1)] {
        a.insert_n(v, n);
        (0..n).for_each(|_| b.insert(v));
    }
    assert_eq!(a.count(), 70_304);
    assert_eq!(
        a.buckets().map(|b| b.2).collect::<Vec<_>>(),
        [3, 300, 1, 70_000]
    );
    assert_eq!(
        a.buckets().collect::<Vec<_>>(),
        b.buckets().collect::<Vec<_>>()
    );
    a.insert_n(0.04, 5_000_000_000);
    a.insert_n(0.04, u64::MAX); // saturates, never panics
    assert_eq!(a.buckets().last().map(|b| b.2), Some(u64::MAX));
}

#[test]
fn small_sketches_are_small() {
    let mut s = Sketch::new();
    s.insert(0.05);
    assert_eq!(s.heap_bytes(), 1); // one u8 counter
    s.insert(2.0); // ~5.3 octaves away: two 4-byte sparse pairs beat 340 dense counters
    assert_eq!(s.heap_bytes(), 8);
    s.insert_n(2.0, 70_000); // too many for a u16 sparse count: dense u32
    assert_eq!(s.buckets().map(|b| b.2).collect::<Vec<_>>(), [1, 70_001]);
    assert_eq!(
        s.heap_bytes(),
        4 * (index(2.0, 6) - index(0.05, 6) + 1) as usize
    );
    let values = samples("lognormal", 10_000, 3);
    let s = sketch_of(&values, 6);
    assert!(s.heap_bytes() <= 2 * 1024, "{}", s.heap_bytes());
    assert!(std::mem::size_of::<Sketch>() <= 72);
}

#[test]
fn merge_equals_sketch_of_union() {
    // Dyadic values keep the sums exact whatever the order, so the sketches compare equal.
    let values: Vec<f64> = samples("lognormal", 50_000, 11)
        .iter()
        .map(|v| (v * 65536.0).round() / 65536.0)
        .collect();
    let (left, right) = values.split_at(20_000);
    let mut merged = sketch_of(left, 6);
    merged.merge(&sketch_of(right, 6));
    assert_eq!(merged, sketch_of(&values, 6));
    // Random values: everything but the rounding of the sum.
    for dist in DISTS {
        let values = samples(dist, 100_000, 5);
        let mut merged = Sketch::new();
        for chunk in values.chunks(9_000) {
            merged.merge(&sketch_of(chunk, 6));
        }
        let union = sketch_of(&values, 6);
        assert_eq!(
            merged.buckets().collect::<Vec<_>>(),
            union.buckets().collect::<Vec<_>>()
        );
        assert_eq!(
            (merged.count(), merged.min(), merged.max()),
            (union.count(), union.min(), union.max())
        );
        assert!((merged.sum() - union.sum()).abs() <= 1e-9 * union.sum());
    }
}

#[test]
fn merge_in_place_widens_and_extends() {
    // Dense u8 stores; the middle bucket overflows u8 on merge, and `b` reaches past `a`.
    let grid = |lo: f64, n: usize| (0..n).map(move |k| lo * 1.011f64.powi(k as i32));
    let mut a = Sketch::new();
    let mut b = Sketch::new();
    let mut union = Sketch::new();
    for (s, lo, n) in [(&mut a, 0.01, 60), (&mut b, 0.012, 90)] {
        for v in grid(lo, n) {
            s.insert_n(v, 3);
            union.insert_n(v, 3);
        }
        s.insert_n(0.015, 200);
        union.insert_n(0.015, 200);
    }
    assert!(matches!(a.store, Store::D8(..)) && matches!(b.store, Store::D8(..)));
    a.merge(&b);
    assert!(matches!(a.store, Store::D16(..)));
    let mut c = Sketch::new(); // starts inside `a`, ends past it, no overflow
    for v in grid(0.03, 20) {
        c.insert(v);
        union.insert(v);
    }
    a.merge(&c);
    assert_eq!(
        a.buckets().collect::<Vec<_>>(),
        union.buckets().collect::<Vec<_>>()
    );
    assert_eq!(a.count(), union.count());
}

#[test]
fn merge_across_scales_downscales_exactly() {
    let a = samples("exponential", 30_000, 1);
    let b = samples("bimodal", 30_000, 2);
    let mut merged = sketch_of(&a, 6);
    merged.merge(&sketch_of(&b, 3));
    assert_eq!(merged.scale(), 3);
    let all: Vec<f64> = a.iter().chain(&b).copied().collect();
    let union = sketch_of(&all, 3);
    assert_eq!(
        merged.buckets().collect::<Vec<_>>(),
        union.buckets().collect::<Vec<_>>()
    );
    let mut other_way = sketch_of(&b, 3);
    other_way.merge(&sketch_of(&a, 6));
    assert_eq!(
        other_way.buckets().collect::<Vec<_>>(),
        union.buckets().collect::<Vec<_>>()
    );
    check_quantiles(&merged, &sorted(all), &[0.5, 0.9, 0.99, 0.999]);
    // Merging an empty sketch of lower scale lowers the scale too (result scale = min of both).
    let mut s = sketch_of(&a, 6);
    s.merge(&Sketch::with_scale(4));
    assert_eq!(s, sketch_of(&a, 4));
}

#[test]
fn wide_ranges_lower_the_scale_to_fit() {
    let mut s = Sketch::new();
    let values = [2e-9, 1e-3, 0.2, 50.0, 3600.0, 1e6];
    values.iter().for_each(|&v| s.insert(v));
    assert!(s.scale() < 6);
    let range = s.store.range().unwrap();
    assert!((range.1 - range.0 + 1) as usize <= Sketch::MAX_BUCKETS);
    assert_eq!(s, sketch_of(&values, s.scale()));
    check_quantiles(&s, &sorted(values.to_vec()), &[0.2, 0.4, 0.6, 0.8]);
}

/// The bucket index an OTel SDK computes (the logarithm method), independent of ours.
fn sdk_index(v: f64, scale: i32) -> i32 {
    let (m, e) = (
        v.to_bits() & ((1 << 52) - 1),
        ((v.to_bits() >> 52) as i32) - 1023,
    );
    match (scale > 0, m == 0) {
        (true, true) => (e << scale) - 1,
        (true, false) => (v.ln() * f64::from(scale).exp2() / std::f64::consts::LN_2).floor() as i32,
        (false, _) => (if m == 0 { e - 1 } else { e }) >> -scale,
    }
}

/// An OTLP point as an SDK would export it at `scale`, plus its sum/min/max.
fn otlp_point(values: &[f64], scale: i32) -> (i32, Vec<u64>, u64, f64, f64, f64) {
    let idx: Vec<i32> = values
        .iter()
        .filter(|&&v| v > 0.0)
        .map(|&v| sdk_index(v, scale))
        .collect();
    let (lo, hi) = (*idx.iter().min().unwrap(), *idx.iter().max().unwrap());
    let mut counts = vec![0u64; (hi - lo + 1) as usize];
    idx.iter().for_each(|&i| counts[(i - lo) as usize] += 1);
    let zeros = values.iter().filter(|&&v| v == 0.0).count() as u64;
    let sorted = sorted(values.to_vec());
    (
        lo,
        counts,
        zeros,
        values.iter().sum(),
        sorted[0],
        *sorted.last().unwrap(),
    )
}

#[test]
fn merge_exponential_points_at_several_scales() {
    for (k, scale) in [6, 8, 3].into_iter().enumerate() {
        let mut values = samples(DISTS[k + 1], 100_000, 40 + k as u64);
        values.extend([0.0; 7]);
        let (offset, counts, zero_count, sum, min, max) = otlp_point(&values, scale);
        let point = ExpBuckets {
            scale,
            zero_count,
            zero_threshold: 0.0,
            offset,
            counts: &counts,
            sum: Some(sum),
            min: Some(min),
            max: Some(max),
        };
        let mut s = Sketch::new();
        s.merge_exponential(&point);
        assert_eq!(s.scale(), scale.min(6));
        assert_eq!(
            (s.count(), s.sum(), s.min(), s.max()),
            (values.len() as u64, sum, Some(min), Some(max))
        );
        assert_eq!(s.buckets().next(), Some((0.0, 1e-9, 7)));
        let sorted = sorted(values.clone());
        check_quantiles(&s, &sorted, &[0.5, 0.9, 0.99, 0.999]);
        // Bucket for bucket: the same as inserting the values at that scale.
        assert_eq!(
            s.buckets().collect::<Vec<_>>(),
            sketch_of(&values, scale.min(6))
                .buckets()
                .collect::<Vec<_>>()
        );
        // Merged with live samples too.
        let mut live = sketch_of(&values, 6);
        live.merge_exponential(&point);
        assert_eq!(
            (live.count(), live.scale()),
            (2 * values.len() as u64, scale.min(6))
        );
    }
}

#[test]
fn merge_exponential_without_sum_min_max_and_garbage() {
    let counts = [0, 2, 0, 5, 1, 0];
    let mut point = ExpBuckets {
        scale: 6,
        zero_count: 0,
        zero_threshold: 0.0,
        offset: -640,
        counts: &counts,
        sum: None,
        min: None,
        max: None,
    };
    let mut s = Sketch::new();
    s.merge_exponential(&point);
    assert_eq!(s.count(), 8);
    assert_eq!(s.min(), Some(lower_boundary(-639, 6)));
    assert_eq!(s.max(), Some(lower_boundary(-635, 6)));
    assert!((s.sum() - 8.0 * 2f64.powf(-636.5 / 64.0)).abs() < 0.02 * s.sum());
    for (scale, offset) in [
        (6, i32::MAX),
        (6, i32::MIN),
        (20, i32::MAX - 3),
        (-10, i32::MIN),
        (21, 0),
        (-11, 0),
    ] {
        point = ExpBuckets {
            scale,
            offset,
            zero_threshold: f64::NAN,
            sum: Some(f64::NAN),
            min: Some(-1.0),
            max: Some(f64::INFINITY),
            ..point
        };
        s.merge_exponential(&point);
    }
    assert_eq!(s.count(), 8 * 5);
    assert_eq!(s.buckets().map(|b| b.2).sum::<u64>(), s.count());
    assert!(s.quantile(0.5).is_some() && s.scale() >= MIN_SCALE);
    let empty = ExpBuckets {
        counts: &[],
        zero_count: 0,
        ..point
    };
    let before = s.clone();
    s.merge_exponential(&empty);
    assert_eq!(s, before);
}
