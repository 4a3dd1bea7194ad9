//! The CPU cost of scraping 50 targets every 5 s, minus the network: one round is, for each
//! target, parse (lenient) → Prometheus families to OTLP → decode into series points → apply to
//! the store; then the 20 snapshots the store task publishes in 5 s (4 per second). With
//! `record`, each target's request is also serialized as a capture line. The budget is 5 % of
//! one core: 250 ms of CPU per 5-second round.
//!
//! `cargo bench --bench metrics_scrape -- --warm-up-time 1 --measurement-time 5`
//!
//! Targets are the real expositions in tests/fixtures/prom/real (opossum, prometheus_client with
//! resilience4j/Hystrix shapes, HAProxy, Prometheus itself) with their dependency names made
//! unique per target, plus every fifth target a generated 2,000-series JVM-style exposition
//! with 20 resilience4j breakers.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::Criterion;
use faultline::ingest::decode_metrics::decode_metrics;
use faultline::ingest::prom_otlp::{families_to_metrics, request};
use faultline::ingest::prom_text::{detect_format, parse_lenient};
use faultline::store::{Store, StoreConfig};

const TARGETS: usize = 50;
const ROUND: Duration = Duration::from_secs(5);
const SNAPSHOTS_PER_ROUND: usize = 20;

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/prom/real")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A Spring-Boot-like exposition: JVM and HTTP noise plus 20 resilience4j breakers.
fn jvm(i: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# TYPE resilience4j_circuitbreaker_state gauge");
    for b in 0..20 {
        for st in [
            "closed",
            "open",
            "half_open",
            "forced_open",
            "disabled",
            "metrics_only",
        ] {
            let v = u8::from(st == "closed");
            let _ = writeln!(
                s,
                "resilience4j_circuitbreaker_state{{application=\"app{i}\",name=\"dep-{i}-{b}\",state=\"{st}\"}} {v}.0"
            );
        }
    }
    let _ = writeln!(
        s,
        "# TYPE resilience4j_circuitbreaker_not_permitted_calls_total counter"
    );
    for b in 0..20 {
        let _ = writeln!(
            s,
            "resilience4j_circuitbreaker_not_permitted_calls_total{{kind=\"not_permitted\",name=\"dep-{i}-{b}\"}} {}.0",
            b * 3
        );
    }
    let _ = writeln!(s, "# TYPE http_server_requests_seconds histogram");
    for u in 0..40 {
        for le in [
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0",
            "+Inf",
        ] {
            let _ = writeln!(
                s,
                "http_server_requests_seconds_bucket{{method=\"GET\",status=\"200\",uri=\"/api/{u}\",le=\"{le}\"}} {}",
                u * 10
            );
        }
        let _ = writeln!(
            s,
            "http_server_requests_seconds_count{{method=\"GET\",status=\"200\",uri=\"/api/{u}\"}} {}",
            u * 10
        );
        let _ = writeln!(
            s,
            "http_server_requests_seconds_sum{{method=\"GET\",status=\"200\",uri=\"/api/{u}\"}} {}.5",
            u
        );
    }
    let _ = writeln!(s, "# TYPE jvm_memory_used_bytes gauge");
    for a in 0..1300 {
        let _ = writeln!(
            s,
            "jvm_memory_used_bytes{{area=\"heap\",id=\"pool-{a}\"}} {}",
            a * 1024
        );
    }
    s
}

fn targets() -> Vec<(String, String)> {
    let real = [
        fixture("opossum-prometheus.txt"),
        fixture("prometheus-client-r4j-hystrix.txt"),
        fixture("haproxy-promex.txt"),
        fixture("prometheus-self.txt"),
    ];
    (0..TARGETS)
        .map(|i| {
            let body = if i % 5 == 4 {
                jvm(i)
            } else {
                real[i % 4]
                    .replace("inventory", &format!("inventory-{i}"))
                    .replace("payments", &format!("payments-{i}"))
                    .replace("\"slow\"", &format!("\"slow-{i}\""))
            };
            (format!("svc-{i}"), body)
        })
        .collect()
}

/// One 5-second round at time `t_ns`; returns the capture bytes written (if recording).
fn round(store: &mut Store, targets: &[(String, String)], t_ns: u64, record: bool) -> usize {
    let mut bytes = 0;
    for (job, body) in targets {
        let (fams, _) = parse_lenient(body, detect_format(Some("text/plain; version=0.0.4"), body));
        let req = request(job, "127.0.0.1:9100", families_to_metrics(&fams, t_ns));
        if record {
            bytes += serde_json::to_vec(&req).map_or(0, |v| v.len());
        }
        store.apply_metrics(decode_metrics(&req, t_ns));
    }
    for k in 0..SNAPSHOTS_PER_ROUND {
        black_box(store.snapshot(Some(t_ns + k as u64 * 250_000_000)));
    }
    bytes
}

fn bench(c: &mut Criterion) {
    let targets = targets();
    let lines: usize = targets.iter().map(|t| t.1.lines().count()).sum();
    let mut g = c.benchmark_group("scrape_50_targets_round");
    g.sample_size(10);
    for record in [false, true] {
        let name = if record {
            "parse_apply_snapshot_record"
        } else {
            "parse_apply_snapshot"
        };
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut store = Store::new(StoreConfig::default());
                let mut t = 1_700_000_000_000_000_000u64;
                // Warm: a first round creates every series.
                round(&mut store, &targets, t, record);
                let start = Instant::now();
                for _ in 0..iters {
                    t += ROUND.as_nanos() as u64;
                    black_box(round(&mut store, &targets, t, record));
                }
                start.elapsed()
            })
        });
    }
    g.finish();

    // Summary against the budget: best of 10 rounds after a 60-round (5-minute) history.
    for record in [false, true] {
        let mut store = Store::new(StoreConfig::default());
        let mut t = 1_700_000_000_000_000_000u64;
        let mut bytes = 0;
        for _ in 0..60 {
            t += ROUND.as_nanos() as u64;
            bytes = round(&mut store, &targets, t, record);
        }
        let best = (0..10)
            .map(|_| {
                t += ROUND.as_nanos() as u64;
                let s = Instant::now();
                black_box(round(&mut store, &targets, t, record));
                s.elapsed()
            })
            .min()
            .unwrap_or_default();
        let share = best.as_secs_f64() / ROUND.as_secs_f64() * 100.0;
        println!(
            "metrics_scrape: 50 targets ({lines} lines), record={record}: {:.1} ms per 5 s round = {share:.2} % of one core (budget 5 %){}",
            best.as_secs_f64() * 1e3,
            if record {
                format!(", {:.1} KiB of capture per round", bytes as f64 / 1024.0)
            } else {
                String::new()
            }
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
