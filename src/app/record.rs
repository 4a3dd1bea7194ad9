//! `faultline record`: the receivers and the store writing a capture (or, with `--out -`, no
//! capture: how ingest throughput is measured), until a signal or `--duration`.

use std::time::Duration;

use super::{AppError, live_alerts, run_for, signals, start_live_hooks};
use crate::cli::RecordArgs;
use crate::ingest::channel::Counters;
use crate::store::{StoreConfig, task};

/// `faultline record`. `--out -` (not in `--help`; docs/performance.md) runs the receivers and
/// the store without a capture writer: how ingest throughput is measured.
pub async fn record(args: RecordArgs) -> Result<(), AppError> {
    // Handlers first: a SIGTERM right after the "listening" lines must stop us cleanly.
    let mut shutdown = signals::Shutdown::install();
    let capture = (args.out.as_os_str() != "-").then_some(args.out.as_path());
    let alerting = if args.alerts.any() || args.rules.is_some() {
        Some(live_alerts(args.rules.as_deref(), &args.alerts, true)?)
    } else {
        None
    };
    let hooks = task::Hooks {
        findings: None,
        alerts: alerting.as_ref().map(|a| a.hook.clone()),
    };
    let live = start_live_hooks(&args.receivers, StoreConfig::default(), capture, hooks).await?;
    eprintln!("faultline: listening otlp-grpc={}", live.grpc_addr);
    eprintln!("faultline: listening otlp-http={}", live.http_addr);
    if live.tls {
        eprintln!("faultline: the receivers speak TLS only");
    }
    match capture {
        Some(path) => eprintln!("faultline: recording to {}", path.display()),
        None => eprintln!("faultline: --out -: not recording (receivers and store only)"),
    }
    for s in &args.receivers.scrape {
        eprintln!("faultline: scraping {s}");
    }
    if let Some(p) = &args.receivers.prometheus {
        eprintln!("faultline: querying {p}");
    }
    // Measurement aid (docs/performance.md, the soak): the store's counters as one JSON line on
    // stderr every FAULTLINE_STATS_MS milliseconds.
    let stats = std::env::var("FAULTLINE_STATS_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(|ms| {
            let mut rx = live.snapshots.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_millis(ms));
                loop {
                    every.tick().await;
                    let snap = rx.borrow_and_update().clone();
                    eprintln!("{}", stats_line(&snap.counters));
                }
            })
        });
    run_for(args.duration, &mut shutdown).await;
    let counters = live.counters.clone();
    if let Some(s) = stats {
        s.abort();
    }
    let tls_counters = live.tls_counters.clone();
    let mut store = live.stop().await?;
    if let Some(a) = alerting {
        a.stop().await;
    }
    if std::env::var_os("FAULTLINE_STATS_MS").is_some() {
        let mut snap = store.snapshot(None);
        crate::store::task::fill_counters(&mut snap, &counters);
        eprintln!("{}", stats_line(&snap.counters));
    }
    for s in store.metrics().sources() {
        let job = if s.job.is_empty() {
            String::new()
        } else {
            format!(" ({})", s.job)
        };
        match (&s.last_error, s.up) {
            (None, _) => eprintln!("faultline: {} {}{job}: up", s.kind, s.url),
            (Some(e), true) => {
                eprintln!("faultline: {} {}{job}: up, with errors: {e}", s.kind, s.url)
            }
            (Some(e), false) => eprintln!("faultline: {} {}{job}: down: {e}", s.kind, s.url),
        }
    }
    let (verb, requests) = match capture {
        Some(_) => ("recorded", Counters::get(&counters.capture_lines)),
        None => ("accepted", Counters::get(&counters.requests)),
    };
    eprintln!(
        "faultline: {verb} {requests} requests ({} spans, {} metric points, {} log records); refused {} when full, {} malformed",
        Counters::get(&counters.spans),
        Counters::get(&counters.metric_points),
        Counters::get(&counters.log_records),
        Counters::get(&counters.refused_full),
        Counters::get(&counters.bad_requests),
    );
    let (plain, failed) = tls_counters.get();
    if plain + failed > 0 {
        eprintln!(
            "faultline: TLS: refused {plain} plain-text connections, {failed} failed handshakes"
        );
    }
    Ok(())
}

/// The counters of a snapshot as one JSON line (`record`'s `FAULTLINE_STATS_MS`).
fn stats_line(c: &crate::store::snapshot::CounterValues) -> String {
    serde_json::json!({
        "stats": true,
        "requests": c.requests,
        "spans": c.spans,
        "refused_full": c.refused_full,
        "duplicate_spans": c.duplicate_spans,
        "retained_spans": c.retained_spans,
        "evicted_spans": c.evicted_spans,
        "evicted_traces": c.evicted_traces,
        "pending_calls": c.pending_calls,
    })
    .to_string()
}
