//! Where `faultline lint`'s time goes on a capture: load, snapshot, the context build, the
//! shared per-request/long-lived/chain tables and each rule's detector, one thread, in order.
//!
//!   cargo run --release --example lint_phases -- CAPTURE.jsonl [THREADS (default 1)]
//!
//! The context and its shared tables are built on THREADS threads, the rules run one after the
//! other on one, so each rule's time is its own. Indicative only on a shared machine: the
//! wall-clock figure of `lint ÷ report` comes from scripts/lint-perf.sh.

use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use faultline::rules::context::Context;
use faultline::rules::detectors::RuleCtx;
use faultline::store::StoreConfig;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: lint_phases CAPTURE.jsonl");
        std::process::exit(2);
    };
    let threads: usize = std::env::args()
        .nth(2)
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let t = Instant::now();
    let mut r = match faultline::replay::load(&[path], StoreConfig::replay(usize::MAX)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lint_phases: {e}");
            std::process::exit(1);
        }
    };
    println!("load            {:8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let snap = r.snapshot();
    println!("snapshot        {:8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let rules = match faultline::rules::load(None) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lint_phases: {e:?}");
            std::process::exit(1);
        }
    };
    let t = Instant::now();
    let cx = Context::build_with_threads(&snap, threads);
    println!(
        "context         {:8.1} ms ({} calls, {} inbound)",
        t.elapsed().as_secs_f64() * 1e3,
        cx.calls.len(),
        cx.inbound.len()
    );
    let t = Instant::now();
    let _ = cx.requests();
    println!("requests        {:8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let _ = cx.is_long_lived(0);
    println!("long_lived      {:8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let _ = cx.chains();
    println!("chains          {:8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let mut total = 0.0;
    for rule in rules.rules.iter().filter(|r| r.spec.enabled) {
        let t = Instant::now();
        let out = rule.detector.run(
            RuleCtx {
                id: rule.id(),
                scope: &rule.scope,
            },
            &cx,
        );
        let ms = t.elapsed().as_secs_f64() * 1e3;
        total += ms;
        println!(
            "{:15} {:8.1} ms ({} hits, {} checked)",
            rule.id(),
            ms,
            out.hits.len(),
            out.checked
        );
    }
    println!("rules total     {total:8.1} ms");
    // A/B of the whole rule run on 2 threads: the context built on 1 thread (its shared tables
    // then also on 1) against the context on 2, alternating, wall and process CPU time.
    if std::env::var_os("LINT_PHASES_AB").is_some() {
        let enabled: Vec<_> = rules.rules.iter().filter(|r| r.spec.enabled).collect();
        for round in 0..5 {
            for cx_threads in [1, 2] {
                let (t, c) = (Instant::now(), cpu_s());
                let cx = Context::build_with_threads(&snap, cx_threads);
                let next = std::sync::atomic::AtomicUsize::new(0);
                std::thread::scope(|s| {
                    for _ in 0..2 {
                        s.spawn(|| {
                            loop {
                                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                let Some(rule) = enabled.get(i) else { break };
                                let _ = rule.detector.run(
                                    RuleCtx {
                                        id: rule.id(),
                                        scope: &rule.scope,
                                    },
                                    &cx,
                                );
                            }
                        });
                    }
                });
                drop(cx);
                println!(
                    "round {round} context on {cx_threads}: wall {:6.1} ms, cpu {:6.1} ms",
                    t.elapsed().as_secs_f64() * 1e3,
                    (cpu_s() - c) * 1e3
                );
            }
        }
    }
}

/// User + system CPU seconds of the process so far.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // Fields 14 and 15 (utime, stime) in clock ticks; `after` starts at field 3.
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}
