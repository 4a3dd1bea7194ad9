//! Latency sketch benchmarks, each against a same-run exact baseline:
//! - insert of 1M values vs pushing them into a `Vec<f64>`;
//! - p50/p95/p99/p99.9 on a sketch merged from 90 sketches vs sorting the exact `Vec` and indexing;
//! - merging 90 sketches (one per 10 s bucket over 15 min) vs concatenating the 90 exact `Vec`s.
//!
//! Before timing, it prints each distribution's relative error vs the exact sorted answer and the
//! memory of sketches holding 1 / 100 / 10 000 samples.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use faultline::model::sketch::Sketch;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal, Pareto};

const N: usize = 1_000_000;
const QS: [f64; 4] = [0.5, 0.95, 0.99, 0.999];
const DISTS: [&str; 4] = ["exponential", "lognormal", "bimodal", "pareto"];

fn samples(dist: &str, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let exp = Exp::new(20.0).expect("valid rate"); // mean 50 ms
    let logn = LogNormal::new(0.02f64.ln(), 1.0).expect("valid"); // median 20 ms
    let fast = LogNormal::new(0.004f64.ln(), 0.3).expect("valid"); // cache hits
    let slow = LogNormal::new(0.4f64.ln(), 0.3).expect("valid"); // misses, 10%
    let pareto = Pareto::new(0.001, 1.1).expect("valid"); // heavy tail from 1 ms
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

fn sketch_of(values: &[f64]) -> Sketch {
    let mut s = Sketch::new();
    values.iter().for_each(|&v| s.insert(v));
    s
}

fn exact(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).saturating_sub(1);
    sorted[rank.min(sorted.len() - 1)]
}

/// The 90 per-bucket sketches of `values` (one per 10 s bucket over 15 minutes).
fn windows(values: &[f64]) -> Vec<Sketch> {
    values
        .chunks(values.len().div_ceil(90))
        .map(sketch_of)
        .collect()
}

fn report_accuracy_and_memory() {
    println!("relative error vs exact (1M samples, sketch merged from 90 windows):");
    for (k, dist) in DISTS.into_iter().enumerate() {
        let values = samples(dist, N, k as u64);
        let mut merged = Sketch::new();
        windows(&values).iter().for_each(|w| merged.merge(w));
        let mut sorted = values;
        sorted.sort_unstable_by(f64::total_cmp);
        let errs: Vec<String> = QS
            .iter()
            .map(|&q| {
                let (est, ex) = (merged.quantile(q).unwrap_or(f64::NAN), exact(&sorted, q));
                format!("p{}={:.4}%", q * 100.0, 100.0 * (est - ex).abs() / ex)
            })
            .collect();
        println!("  {dist:12} scale {} {}", merged.scale(), errs.join(" "));
    }
    println!(
        "memory per sketch (size_of = {} B) + heap:",
        std::mem::size_of::<Sketch>()
    );
    for dist in DISTS {
        let values = samples(dist, 10_000, 99);
        let heap: Vec<String> = [1, 100, 10_000]
            .iter()
            .map(|&n| format!("{n}: {} B", sketch_of(&values[..n]).heap_bytes()))
            .collect();
        println!("  {dist:12} {}", heap.join(", "));
    }
}

fn bench(c: &mut Criterion) {
    // Only under `cargo bench` (--bench); `cargo test --all-targets` just smoke-runs the benches.
    if std::env::args().any(|a| a == "--bench") {
        report_accuracy_and_memory();
    }
    let values = samples("lognormal", N, 1);

    let mut g = c.benchmark_group("insert_1M");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("baseline_vec_push", |b| {
        b.iter(|| {
            let mut v = Vec::new();
            values.iter().for_each(|&x| v.push(x));
            black_box(v)
        })
    });
    for (k, dist) in DISTS.into_iter().enumerate() {
        let values = samples(dist, N, k as u64);
        g.bench_function(format!("sketch_{dist}"), |b| {
            b.iter(|| black_box(sketch_of(black_box(&values))))
        });
    }
    g.finish();

    let mut merged = Sketch::new();
    let wins = windows(&values);
    wins.iter().for_each(|w| merged.merge(w));
    let mut g = c.benchmark_group("quantiles_1M");
    g.sample_size(10);
    g.bench_function("baseline_sort_exact", |b| {
        b.iter_batched(
            || values.clone(),
            |mut v| {
                v.sort_unstable_by(f64::total_cmp);
                QS.map(|q| exact(&v, q))
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("sketch_merged", |b| {
        b.iter(|| QS.map(|q| black_box(&merged).quantile(q)))
    });
    g.finish();

    let chunks: Vec<&[f64]> = values.chunks(N.div_ceil(90)).collect();
    let mut g = c.benchmark_group("merge_90");
    g.bench_function("baseline_concat_exact", |b| {
        b.iter(|| {
            let mut all = Vec::new();
            chunks.iter().for_each(|c| all.extend_from_slice(c));
            black_box(all)
        })
    });
    g.bench_function("sketch_merge", |b| {
        b.iter(|| {
            let mut m = Sketch::new();
            black_box(&wins).iter().for_each(|w| m.merge(w));
            m
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
