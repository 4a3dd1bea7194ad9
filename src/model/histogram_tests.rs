//! Expected values are PromQL's own, from Prometheus' `promql/promqltest/testdata/histograms.test`
//! (evaluated at 50m, where each bucket holds 10× its per-step increment), re-derived by hand
//! from the algorithm in `promql/quantile.go`.

use super::*;

fn h(pairs: &[(f64, f64)]) -> Vec<Bucket> {
    pairs
        .iter()
        .map(|&(upper_bound, count)| Bucket { upper_bound, count })
        .collect()
}

const INF: f64 = f64::INFINITY;

fn value(q: Quantile) -> f64 {
    match q {
        Quantile::Value(v) => v,
        other => panic!("expected a value, got {other:?}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[track_caller]
fn assert_value(q: f64, buckets: &[Bucket], want: f64) {
    let got = value(histogram_quantile(q, buckets));
    assert!(close(got, want), "q={q}: got {got}, want {want}");
}

/// testhistogram{start="positive"}: le 0.1, .2, 1e0, +Inf → 50, 70, 110, 120.
fn positive() -> Vec<Bucket> {
    h(&[(0.1, 50.0), (0.2, 70.0), (1.0, 110.0), (INF, 120.0)])
}

/// testhistogram{start="negative"}: le -.2, -0.1, 0.3, +Inf → 10, 20, 20, 30.
fn negative() -> Vec<Bucket> {
    h(&[(-0.2, 10.0), (-0.1, 20.0), (0.3, 20.0), (INF, 30.0)])
}

#[test]
fn prometheus_testhistogram_positive() {
    let b = positive();
    assert_value(0.0, &b, 0.0);
    assert_value(0.2, &b, 0.048);
    assert_value(0.5, &b, 0.15);
    assert_value(0.8, &b, 0.72);
    // q=1: the rank is in +Inf; PromQL prints 1, the last finite bound.
    assert_eq!(histogram_quantile(1.0, &b), Quantile::AtLeast(1.0));
}

#[test]
fn prometheus_testhistogram_negative_lowest_bucket_returns_its_bound() {
    let b = negative();
    assert_value(0.0, &b, -0.2);
    assert_value(0.2, &b, -0.2);
    assert_value(0.5, &b, -0.15);
    assert_eq!(histogram_quantile(0.8, &b), Quantile::AtLeast(0.3));
    assert_eq!(histogram_quantile(1.0, &b), Quantile::AtLeast(0.3));
}

#[test]
fn prometheus_testhistogram3_no_observations_in_inf() {
    let pos = h(&[
        (0.0, 0.0),
        (0.1, 50.0),
        (0.2, 70.0),
        (1.0, 110.0),
        (INF, 110.0),
    ]);
    assert_value(0.0, &pos, 0.0);
    assert_value(0.25, &pos, 0.055);
    assert_value(0.5, &pos, 0.125);
    assert_value(0.75, &pos, 0.45);
    assert_value(1.0, &pos, 1.0);
    let neg = h(&[
        (-0.25, 0.0),
        (-0.2, 10.0),
        (-0.1, 20.0),
        (0.3, 20.0),
        (INF, 20.0),
    ]);
    assert_value(0.0, &neg, -0.25);
    assert_value(0.25, &neg, -0.225);
    assert_value(0.5, &neg, -0.2);
    assert_value(0.75, &neg, -0.15);
    assert_value(1.0, &neg, -0.1);
}

#[test]
fn prometheus_testhistogram2_middle_of_buckets() {
    let b = h(&[(0.0, 0.0), (2.0, 1.0), (4.0, 2.0), (6.0, 3.0), (INF, 3.0)]);
    assert_value(1.0 / 6.0, &b, 1.0);
    assert_value(0.5, &b, 3.0);
    assert_value(5.0 / 6.0, &b, 5.0);
}

#[test]
fn prometheus_nonmonotonic_buckets_are_forced_monotonic() {
    let b = h(&[
        (0.1, 20.0),
        (1.0, 10.0),
        (10.0, 50.0),
        (100.0, 40.0),
        (1000.0, 90.0),
        (INF, 80.0),
    ]);
    assert_value(0.01, &b, 0.0045);
    assert_value(0.5, &b, 8.5);
    assert_value(0.99, &b, 979.75);
    let outcome = histogram_quantile_detailed(0.5, &b);
    assert!(outcome.forced_monotonic);
    assert!(!outcome.fixed_precision);
    assert!(!histogram_quantile_detailed(0.5, &positive()).forced_monotonic);
}

#[test]
fn prometheus_mixed_le_representations_are_merged() {
    // le 0.1, 0.2, 2e-1, 2.0e-1, +Inf with one observation rate each, +Inf four.
    let b: Vec<Bucket> = [
        ("0.1", 1.0),
        ("0.2", 1.0),
        ("2e-1", 1.0),
        ("2.0e-1", 1.0),
        ("+Inf", 4.0),
    ]
    .iter()
    .filter_map(|&(le, c)| Bucket::from_le(le, c))
    .collect();
    assert_eq!(b.len(), 5);
    assert_value(0.5, &b, 0.15);
    assert_value(0.75, &b, 0.2);
    assert_eq!(histogram_quantile(1.0, &b), Quantile::AtLeast(0.2));
    // "+inf" and "+Inf" merge into one bucket: fewer than two buckets, NaN in PromQL.
    let one: Vec<Bucket> = [("+inf", 0.0), ("+Inf", 0.0)]
        .iter()
        .filter_map(|&(le, c)| Bucket::from_le(le, c))
        .collect();
    assert_eq!(histogram_quantile(0.5, &one), Quantile::NoData);
}

#[test]
fn quantile_out_of_range_is_infinite_and_nan_q_is_no_data() {
    let b = positive();
    assert_eq!(
        histogram_quantile(-0.1, &b),
        Quantile::Value(f64::NEG_INFINITY)
    );
    assert_eq!(histogram_quantile(1.01, &b), Quantile::Value(f64::INFINITY));
    assert_eq!(histogram_quantile(f64::NAN, &b), Quantile::NoData);
}

#[test]
fn no_data_cases() {
    // No buckets at all.
    assert_eq!(histogram_quantile(0.5, &[]), Quantile::NoData);
    // Only +Inf.
    assert_eq!(histogram_quantile(0.5, &h(&[(INF, 5.0)])), Quantile::NoData);
    // No +Inf bucket.
    assert_eq!(
        histogram_quantile(0.5, &h(&[(0.1, 1.0), (1.0, 5.0)])),
        Quantile::NoData
    );
    // Zero observations (the empty_bucket / const_histogram cases).
    let empty = h(&[(0.1, 0.0), (0.2, 0.0), (INF, 0.0)]);
    assert_eq!(histogram_quantile(0.2, &empty), Quantile::NoData);
    assert_eq!(histogram_quantile(1.0, &empty), Quantile::NoData);
    // q = 0 with an empty first bucket of positive bound: 0/0 in PromQL.
    let b = h(&[(0.1, 0.0), (0.2, 4.0), (INF, 4.0)]);
    assert_eq!(histogram_quantile(0.0, &b), Quantile::NoData);
    assert!(Quantile::NoData.as_promql().is_nan());
}

#[test]
fn two_buckets_and_unsorted_input() {
    // Only one finite bucket plus +Inf.
    let b = h(&[(INF, 10.0), (0.5, 8.0)]);
    assert_value(0.4, &b, 0.25);
    assert_value(0.8, &b, 0.5);
    assert_eq!(histogram_quantile(0.9, &b), Quantile::AtLeast(0.5));
    assert_eq!(Quantile::AtLeast(0.5).as_promql(), 0.5);
}

#[test]
fn precision_noise_is_ignored() {
    let b = h(&[(1.0, 10.0), (2.0, 10.0 - 1e-14), (3.0, 20.0), (INF, 20.0)]);
    let outcome = histogram_quantile_detailed(0.75, &b);
    assert!(outcome.fixed_precision);
    assert!(!outcome.forced_monotonic);
    // rank 15 falls in (2, 3]: 2 + 1 * (5 / 10).
    assert!(close(value(outcome.quantile), 2.5));
}

#[test]
fn nan_bounds_are_ignored_and_nan_counts_do_not_panic() {
    let b = h(&[(f64::NAN, 3.0), (1.0, 5.0), (INF, 10.0)]);
    assert_value(0.25, &b, 0.5);
    let nan_total = h(&[(1.0, 5.0), (INF, f64::NAN)]);
    // rank is NaN: no bucket satisfies count >= rank, so PromQL answers the last finite bound.
    assert_eq!(histogram_quantile(0.5, &nan_total), Quantile::AtLeast(1.0));
}

#[test]
fn from_le_parses_like_prometheus() {
    assert_eq!(
        Bucket::from_le("+Inf", 1.0).map(|b| b.upper_bound),
        Some(INF)
    );
    assert_eq!(
        Bucket::from_le("1e3", 1.0).map(|b| b.upper_bound),
        Some(1000.0)
    );
    assert_eq!(Bucket::from_le(".5", 1.0).map(|b| b.upper_bound), Some(0.5));
    assert_eq!(Bucket::from_le("abc", 1.0), None);
}
