//! Prometheus text parser: ours vs the `prometheus-parse` crate on the same bytes, in one run.
//!
//! `cargo bench --bench prom_text -- --warm-up-time 1 --measurement-time 3`
//!
//! Inputs are generated text 0.0.4 (the only format `prometheus-parse` reads): counters, one-hot
//! breaker-state gauges, histograms and summaries with realistic label sets, sized to 2,000
//! series and to 400,000 lines, and free of what `prometheus-parse` cannot read (a `}` inside a
//! label value), so both parsers do all the work. `prometheus-parse` takes an iterator of owned lines, so its
//! side includes splitting the body into `String`s: that is the cost of its API.
//! After criterion, a best-of-N timing of each pair prints MiB/s and the ratio.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use faultline::ingest::prom_text::{Format, parse};

const BUCKETS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
const STATES: [&str; 6] = [
    "closed",
    "open",
    "half_open",
    "forced_open",
    "disabled",
    "metrics_only",
];
const SERIES_PER_FAMILY: usize = 50;

/// Appends one family (HELP, TYPE, samples); returns (sample lines, all lines) written.
fn family(out: &mut String, f: usize) -> (usize, usize) {
    let mut samples = 0;
    // `write!` into a String cannot fail; the results are ignored on purpose.
    match f % 4 {
        0 => {
            let name = format!("http_client_requests_{f}_total");
            let _ = writeln!(out, "# HELP {name} Total outbound HTTP requests by target.");
            let _ = writeln!(out, "# TYPE {name} counter");
            for s in 0..SERIES_PER_FAMILY {
                let code = [200, 404, 500, 503][s % 4];
                let _ = writeln!(
                    out,
                    "{name}{{service=\"checkout-{s}\",method=\"GET\",code=\"{code}\",uri=\"/api/v1/items/:id\"}} {}",
                    1000 + s * 7919 + f
                );
                samples += 1;
            }
        }
        1 => {
            let name = format!("resilience4j_circuitbreaker_state_{f}");
            let _ = writeln!(out, "# HELP {name} The states of the circuit breaker");
            let _ = writeln!(out, "# TYPE {name} gauge");
            for s in 0..SERIES_PER_FAMILY {
                let state = STATES[s % STATES.len()];
                let on = u8::from(s % 7 == 0);
                let _ = writeln!(
                    out,
                    "{name}{{application=\"orders\",name=\"backend-{s}\",state=\"{state}\"}} {on}.0"
                );
                samples += 1;
            }
        }
        2 => {
            let name = format!("http_request_duration_seconds_{f}");
            let _ = writeln!(out, "# HELP {name} Request latency.");
            let _ = writeln!(out, "# TYPE {name} histogram");
            for s in 0..SERIES_PER_FAMILY / 5 {
                let mut cum = 0;
                for (i, le) in BUCKETS.iter().enumerate() {
                    cum += (s + 1) * (i + 3);
                    let _ = writeln!(
                        out,
                        "{name}_bucket{{service=\"payments-{s}\",route=\"/pay\",le=\"{le}\"}} {cum}"
                    );
                }
                let _ = writeln!(
                    out,
                    "{name}_sum{{service=\"payments-{s}\",route=\"/pay\"}} {}.{:03}",
                    cum / 3,
                    s * 37 % 1000
                );
                let _ = writeln!(
                    out,
                    "{name}_count{{service=\"payments-{s}\",route=\"/pay\"}} {cum}"
                );
                samples += BUCKETS.len() + 2;
            }
        }
        _ => {
            let name = format!("circuit_perf_{f}");
            let _ = writeln!(out, "# HELP {name} A summary of the dispatch timings");
            let _ = writeln!(out, "# TYPE {name} summary");
            for s in 0..SERIES_PER_FAMILY / 5 {
                for q in ["0.01", "0.05", "0.5", "0.9", "0.95", "0.99", "0.999"] {
                    let _ = writeln!(
                        out,
                        "{name}{{quantile=\"{q}\",name=\"inventory-{s}\",event=\"success\"}} {}.{}",
                        s + 1,
                        q.len()
                    );
                }
                let _ = writeln!(
                    out,
                    "{name}_sum{{name=\"inventory-{s}\",event=\"success\"}} 1234.5"
                );
                let _ = writeln!(
                    out,
                    "{name}_count{{name=\"inventory-{s}\",event=\"success\"}} 987"
                );
                samples += 9;
            }
        }
    }
    (samples, samples + 2)
}

/// Generated exposition with at least `min_samples` samples and `min_lines` lines.
fn exposition(min_samples: usize, min_lines: usize) -> (String, usize) {
    let (mut out, mut samples, mut lines, mut f) = (String::new(), 0, 0, 0);
    while samples < min_samples || lines < min_lines {
        let (s, l) = family(&mut out, f);
        samples += s;
        lines += l;
        f += 1;
    }
    (out, samples)
}

fn ours(text: &str) -> usize {
    match parse(text, Format::Prometheus004) {
        Ok(families) => families.iter().map(|f| f.samples.len()).sum(),
        Err(e) => panic!("generated exposition failed to parse: {e}"),
    }
}

fn theirs(text: &str) -> usize {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    match prometheus_parse::Scrape::parse(lines) {
        Ok(scrape) => scrape.samples.len(),
        Err(e) => panic!("prometheus-parse failed: {e}"),
    }
}

fn inputs() -> Vec<(&'static str, String)> {
    let (small, small_n) = exposition(2_000, 0);
    let (large, _) = exposition(0, 400_000);
    assert!(small_n >= 2_000);
    assert_eq!(ours(&small), small_n);
    // Fair comparison: prometheus-parse must understand every line too (it silently ignores
    // lines its regex cannot match, e.g. a `}` inside a label value).
    for line in small.lines() {
        let info = prometheus_parse::LineInfo::parse(line);
        assert!(
            info != prometheus_parse::LineInfo::Ignored,
            "prometheus-parse ignores {line:?}"
        );
    }
    vec![("2k_series", small), ("400k_lines", large)]
}

fn bench(c: &mut Criterion, inputs: &[(&'static str, String)]) {
    for (label, text) in inputs {
        let mut group = c.benchmark_group(format!("prom_text/{label}"));
        group.throughput(Throughput::Bytes(text.len() as u64));
        if text.len() > 1 << 20 {
            group.sample_size(10);
        }
        group.bench_with_input(BenchmarkId::new("faultline", label), text, |b, t| {
            b.iter(|| ours(black_box(t)))
        });
        group.bench_with_input(BenchmarkId::new("prometheus-parse", label), text, |b, t| {
            b.iter(|| theirs(black_box(t)))
        });
        group.finish();
    }
}

/// Best-of-`rounds` wall time of `f`, rounds alternating with the other parser's by the caller.
fn best(f: impl Fn() -> usize, rounds: usize) -> Duration {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .min()
        .unwrap_or(Duration::MAX)
}

fn summary(inputs: &[(&'static str, String)]) {
    println!("\nsummary (best of N, same bytes, same run):");
    println!("input        bytes       faultline MiB/s  prometheus-parse MiB/s  ratio");
    for (label, text) in inputs {
        let rounds = if text.len() > 1 << 20 { 5 } else { 50 };
        let mib = text.len() as f64 / (1024.0 * 1024.0);
        let (mut a, mut b) = (Duration::MAX, Duration::MAX);
        for _ in 0..2 {
            a = a.min(best(|| ours(text), rounds));
            b = b.min(best(|| theirs(text), rounds));
        }
        let (ours_mibs, theirs_mibs) = (mib / a.as_secs_f64(), mib / b.as_secs_f64());
        println!(
            "{label:<12} {:<11} {ours_mibs:<16.1} {theirs_mibs:<23.1} {:.1}x",
            text.len(),
            ours_mibs / theirs_mibs
        );
    }
}

fn main() {
    let inputs = inputs();
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &inputs);
    c.final_summary();
    // Under `--profile-time` (profilers) or `--list`, only the selected benchmark should run.
    // Only under `cargo bench` (which passes --bench): `cargo test --all-targets` runs benches
    // once as a smoke test and must not spend minutes on the summary in a debug build.
    let benching = std::env::args().any(|a| a == "--bench");
    if benching && !std::env::args().any(|a| a == "--profile-time" || a == "--list") {
        summary(&inputs);
    }
}
