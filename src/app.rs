//! Wiring: starts receivers, the store task and the capture writer; picks the front end; shuts
//! down in order (receivers stop accepting, the store drains, the capture flushes). The
//! dashboard commands are wired in `dashboard`; `signals` turns SIGINT/SIGTERM/SIGHUP into the
//! one shutdown request every long-running command waits on; `trace` prints one trace.

mod compare;
pub mod dashboard;
pub mod signals;
mod trace;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::cli::sources::{SourcesError, metric_sources, receiver_config};
use crate::cli::{
    FailOn, LintArgs, LintFormat, ReceiverArgs, RecordArgs, ReportArgs, ReportFormat, RulesArgs,
};

mod alerting;
pub mod fleet;
use crate::ingest::channel::{Counters, DEFAULT_CAPACITY, Ingest};
use crate::ingest::server_tls::{ReloadingConfig, TlsCounters, TlsIncoming};
use crate::ingest::{otlp_grpc, otlp_http, prom_query, prom_scrape, recorder};
use crate::model::finding::Severity;
use crate::model::profile::{ProfileError, ProfileSet};
use crate::replay;
use crate::report;
use crate::store::{Snapshot, Store, StoreConfig, task};
pub use alerting::{LiveAlerts, alerts, live_alerts};
pub use compare::{TraceRef, compare, parse_refs};
pub use trace::trace;

/// Errors that end a command; `main` prints them and exits 2.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The capture could not be written.
    #[error(transparent)]
    Record(#[from] recorder::RecordError),
    /// A capture could not be replayed.
    #[error(transparent)]
    Replay(#[from] replay::ReplayError),
    /// A metric mapping profile could not be loaded.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The metric sources file could not be used.
    #[error(transparent)]
    Sources(#[from] SourcesError),
    /// Rule files are invalid (one line per problem).
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Rules(Vec<crate::rules::RuleError>),
    /// An alert sink cannot be used.
    #[error(transparent)]
    Deliver(#[from] crate::alerts::deliver::DeliverError),
    /// The receivers' TLS files cannot be used (names the file).
    #[error("receiver TLS: {0}")]
    Tls(String),
    /// The configuration file has problems (one line each).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigErrors),
    /// Something else went wrong at run time.
    #[error("{0}")]
    Runtime(String),
}

/// Running receivers and the store behind them.
pub struct Live {
    /// Address the gRPC receiver bound.
    pub grpc_addr: SocketAddr,
    /// Address the HTTP receiver bound.
    pub http_addr: SocketAddr,
    /// The receivers speak TLS.
    pub tls: bool,
    /// Snapshots as the store publishes them.
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Shared counters.
    pub counters: Arc<Counters>,
    /// TLS refusals and failed handshakes (zero without TLS).
    pub tls_counters: Arc<TlsCounters>,
    shutdown: watch::Sender<bool>,
    drain: watch::Sender<bool>,
    servers: Vec<tokio::task::JoinHandle<Result<(), String>>>,
    sources: Vec<tokio::task::JoinHandle<()>>,
    store: tokio::task::JoinHandle<Store>,
    writer: Option<recorder::WriterHandle>,
}

fn warn_if_exposed(what: &str, addr: SocketAddr, tls: bool) {
    if !addr.ip().is_loopback() {
        let plain = if tls {
            ""
        } else {
            " in plain text (tls_cert_file and tls_key_file turn TLS on)"
        };
        eprintln!(
            "faultline: warning: {what} listens on {addr}, reachable from other hosts{plain}"
        );
    }
}

/// Binds both receivers, starts the store task, the metric sources (`--scrape`,
/// `--prometheus`, `--sources`) and (with `record`) the capture writer. Profiles from
/// `--profiles` (and the sources file) replace `cfg.profiles`.
pub async fn start_live(
    args: &ReceiverArgs,
    cfg: StoreConfig,
    record: Option<&std::path::Path>,
) -> Result<Live, AppError> {
    start_live_with(args, cfg, record, None).await
}

/// [`start_live`], with a findings hook (see [`crate::rules::live_hook`]) that the store task
/// runs every couple of seconds to attach findings to the snapshots it publishes.
pub async fn start_live_with(
    args: &ReceiverArgs,
    cfg: StoreConfig,
    record: Option<&std::path::Path>,
    findings: Option<task::FindingsHook>,
) -> Result<Live, AppError> {
    let hooks = task::Hooks {
        findings,
        alerts: None,
    };
    start_live_hooks(args, cfg, record, hooks).await
}

/// [`start_live`], with the hooks the store task runs over its snapshots: the rule engine
/// (findings) and the alert engine ([`live_alerts`]).
pub async fn start_live_hooks(
    args: &ReceiverArgs,
    mut cfg: StoreConfig,
    record: Option<&std::path::Path>,
    hooks: task::Hooks,
) -> Result<Live, AppError> {
    let metric_sources = metric_sources(args)?;
    let rc = receiver_config(args)?;
    if !metric_sources.profile_dirs.is_empty() {
        cfg.profiles = Arc::new(ProfileSet::load(&metric_sources.profile_dirs)?);
    }
    let profiles = cfg.profiles.clone();
    // Certificates load before anything binds: a bad file is named and nothing starts.
    let tls = match &rc.tls {
        Some(t) => Some((
            ReloadingConfig::load(t, &[b"h2"]).map_err(AppError::Tls)?,
            ReloadingConfig::load(t, &[b"h2", b"http/1.1"]).map_err(AppError::Tls)?,
        )),
        None => None,
    };
    let (grpc_l, grpc_addr) =
        otlp_grpc::bind(rc.otlp_grpc)
            .await
            .map_err(|source| AppError::Bind {
                addr: rc.otlp_grpc,
                source,
            })?;
    let (http_l, http_addr) =
        otlp_grpc::bind(rc.otlp_http)
            .await
            .map_err(|source| AppError::Bind {
                addr: rc.otlp_http,
                source,
            })?;
    warn_if_exposed("otlp-grpc", grpc_addr, tls.is_some());
    warn_if_exposed("otlp-http", http_addr, tls.is_some());
    let counters = Arc::new(Counters::default());
    let tls_counters = Arc::new(TlsCounters::default());
    let (drain, drain_rx) = watch::channel(false);
    let (writer_tx, writer) = match record {
        Some(path) => {
            let (tx, handle) = recorder::start(path, counters.clone(), drain_rx.clone())?;
            (Some(tx), Some(handle))
        }
        None => (None, None),
    };
    let (tx, rx) = mpsc::channel(DEFAULT_CAPACITY);
    let ingest = Ingest::new(tx, writer_tx, counters.clone());
    let (snap_tx, snapshots) = watch::channel(Arc::new(Snapshot::default()));
    let store = tokio::spawn(task::run_with_hooks(
        Store::new(cfg),
        rx,
        counters.clone(),
        snap_tx,
        drain_rx,
        hooks,
    ));
    let (shutdown, shut_rx) = watch::channel(false);
    let until = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let keep = (!args.scrape_all_series).then(|| profiles.clone());
    let mut sources =
        prom_scrape::spawn(metric_sources.scrape, ingest.clone(), shut_rx.clone(), keep)
            .map_err(|e| AppError::Runtime(e.to_string()))?;
    if let Some(q) = metric_sources.prometheus {
        // Per-dependency traffic from service-graph / span-metrics series, beside the
        // profiles' breaker and queue series.
        sources.push(
            crate::ingest::fleet::spawn(
                crate::ingest::fleet::FleetQuery::from(&q),
                ingest.clone(),
                shut_rx.clone(),
            )
            .map_err(|e| AppError::Runtime(e.to_string()))?,
        );
        sources.push(
            prom_query::spawn(q, profiles, ingest.clone(), shut_rx.clone())
                .map_err(|e| AppError::Runtime(e.to_string()))?,
        );
    }
    let grpc = otlp_grpc::GrpcReceiver::new(ingest.clone(), rc.auth_token.clone());
    let http = otlp_http::HttpReceiver::new(ingest, rc.auth_token.clone());
    let grpc_stop = until(shut_rx.clone());
    let http_stop = until(shut_rx);
    let servers = match tls.clone() {
        None => vec![
            tokio::spawn(async move {
                otlp_grpc::serve(grpc_l, grpc, grpc_stop)
                    .await
                    .map_err(|e| format!("otlp-grpc: {e}"))
            }),
            tokio::spawn(async move {
                otlp_http::serve(http_l, http, http_stop)
                    .await
                    .map_err(|e| format!("otlp-http: {e}"))
            }),
        ],
        Some((grpc_tls, http_tls)) => {
            let bind = |addr, source| AppError::Bind { addr, source };
            let grpc_in = TlsIncoming::start(grpc_l, grpc_tls, tls_counters.clone(), "otlp-grpc")
                .map_err(|e| bind(grpc_addr, e))?;
            let http_in = TlsIncoming::start(http_l, http_tls, tls_counters.clone(), "otlp-http")
                .map_err(|e| bind(http_addr, e))?;
            vec![
                tokio::spawn(async move {
                    otlp_grpc::serve_tls(grpc_in, grpc, grpc_stop)
                        .await
                        .map_err(|e| format!("otlp-grpc: {e}"))
                }),
                tokio::spawn(async move {
                    otlp_http::serve_tls(http_in, http, http_stop)
                        .await
                        .map_err(|e| format!("otlp-http: {e}"))
                }),
            ]
        }
    };
    Ok(Live {
        grpc_addr,
        http_addr,
        tls: rc.tls.is_some(),
        snapshots,
        counters,
        tls_counters,
        shutdown,
        drain,
        servers,
        sources,
        store,
        writer,
    })
}

impl Live {
    /// Stops accepting, lets the store drain and the capture flush; returns the final store.
    pub async fn stop(self) -> Result<Store, AppError> {
        let _ = self.shutdown.send(true);
        for s in self.sources {
            if let Err(e) = s.await {
                eprintln!("faultline: metric source task failed: {e}");
            }
        }
        // Graceful shutdown waits for open requests; a client that stalls mid-request must not
        // keep faultline alive, so after the grace period the servers are aborted. Requests that
        // were acknowledged are already in the channels and still drain below.
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        for mut s in self.servers {
            match tokio::time::timeout_at(deadline, &mut s).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => eprintln!("faultline: {e}"),
                Ok(Err(e)) => eprintln!("faultline: receiver task failed: {e}"),
                Err(_) => {
                    s.abort();
                    let _ = s.await;
                }
            }
        }
        // Receivers are stopped; connections that stalled may still hold senders, so close the
        // channels explicitly: the store and writer drain what was acknowledged, then finish.
        let _ = self.drain.send(true);
        let store = self
            .store
            .await
            .map_err(|e| AppError::Runtime(format!("store task failed: {e}")))?;
        if let Some(w) = self.writer {
            w.await
                .map_err(|e| AppError::Runtime(format!("capture writer failed: {e}")))??;
        }
        Ok(store)
    }
}

/// Waits for `duration` (forever without one) or a shutdown request, whichever comes first.
async fn run_for(duration: Option<Duration>, shutdown: &mut signals::Shutdown) {
    match duration {
        Some(d) => {
            tokio::select! {
                _ = tokio::time::sleep(d) => {},
                _ = shutdown.wait() => {},
            }
        }
        None => shutdown.wait().await,
    }
}

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

/// `faultline report`.
pub fn report(args: ReportArgs) -> Result<String, AppError> {
    if let Some(url) = args.prometheus.as_ref().filter(|_| args.files.is_empty()) {
        let (from, to) = fleet::range(args.from, args.to)?;
        let q = crate::ingest::fleet::FleetQuery::new(url);
        // `report` is synchronous; inside the binary's runtime it borrows it.
        let snap = match tokio::runtime::Handle::try_current() {
            Ok(h) => tokio::task::block_in_place(|| h.block_on(fleet::snapshot(&q, from, to)))?,
            Err(_) => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| AppError::Runtime(format!("runtime: {e}")))?
                .block_on(fleet::snapshot(&q, from, to))?,
        };
        let rows = report::edge_rows(&snap);
        return Ok(match args.format {
            ReportFormat::Json => report::json::render(&rows) + "\n",
            ReportFormat::Text => report::text::render(&rows, snap.window),
        });
    }
    let mut cfg = StoreConfig::replay(usize::MAX);
    cfg.window_ns = args.window.map(|d| d.as_nanos() as u64);
    if !args.profiles.is_empty() {
        cfg.profiles = Arc::new(ProfileSet::load(&args.profiles)?);
    }
    let mut r = load_captures(&args.files, cfg)?;
    r.check_clean()?;
    for w in &r.warnings {
        eprintln!("faultline: warning: {w}");
    }
    let snap = match (args.from, args.to) {
        (None, None) => r.snapshot(),
        (from, to) => {
            let range = r.store.snapshot(None).range;
            let from_ns = from.map_or(range.0, |t| t.resolve(range));
            let to_ns = to.map_or(range.1.saturating_add(1), |t| t.resolve(range));
            if to_ns <= from_ns {
                return Err(AppError::Runtime(format!(
                    "report: --to ({}) is not after --from ({})",
                    report::text::time(to_ns),
                    report::text::time(from_ns)
                )));
            }
            r.store.snapshot_window(from_ns, to_ns)
        }
    };
    let rows = report::edge_rows(&snap);
    Ok(match args.format {
        ReportFormat::Json => report::json::render(&rows) + "\n",
        ReportFormat::Text => report::text::render(&rows, snap.window),
    })
}

/// Captures at least this large get a progress bar (smaller ones load in well under a second).
pub const PROGRESS_MIN_BYTES: u64 = 8 << 20;

/// Replays capture files, with a progress bar on stderr when stderr is a terminal and the files
/// are large; quiet otherwise (CI, pipes).
pub fn load_captures(
    files: &[std::path::PathBuf],
    cfg: StoreConfig,
) -> Result<replay::Replay, AppError> {
    use std::io::IsTerminal;
    let total = replay::total_bytes(files);
    if !std::io::stderr().is_terminal() || total < PROGRESS_MIN_BYTES {
        return Ok(replay::load(files, cfg)?);
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "faultline: loading {msg} [{bar:30}] {bytes}/{total_bytes} ({eta} left)",
        )
        // The template is a constant; it parses (and a test loads a large capture with it).
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(match files {
        [one] => one.display().to_string(),
        many => format!("{} files", many.len()),
    });
    let result = replay::load_with_progress(files, cfg, &|n| bar.inc(n));
    bar.finish_and_clear();
    Ok(result?)
}

/// What `faultline lint` prints, and its exit code (0 clean, 1 findings at `--fail-on`, never
/// with `--fail-on none`).
#[derive(Debug)]
pub struct LintOutcome {
    /// The rendered report.
    pub output: String,
    /// 0 or 1.
    pub exit: u8,
}

/// `faultline lint`: replays the files (or listens for `--duration`), runs the rules, renders.
pub async fn lint(args: LintArgs) -> Result<LintOutcome, AppError> {
    let rules = crate::rules::load(args.rules.as_deref()).map_err(AppError::Rules)?;
    let snap = if args.live {
        if !args.files.is_empty() {
            return Err(AppError::Runtime(
                "lint --live takes no capture files".into(),
            ));
        }
        let mut shutdown = signals::Shutdown::install();
        let live = start_live(&args.receivers, StoreConfig::default(), None).await?;
        eprintln!("faultline: listening otlp-grpc={}", live.grpc_addr);
        eprintln!("faultline: listening otlp-http={}", live.http_addr);
        run_for(args.duration, &mut shutdown).await;
        let mut store = live.stop().await?;
        store.snapshot(None)
    } else if args.files.is_empty()
        && let Some(q) = metric_sources(&args.receivers)?.prometheus
    {
        // No capture: the range's dependencies from the metrics store.
        let (from, to) = fleet::range(args.from, args.to)?;
        fleet::snapshot(&crate::ingest::fleet::FleetQuery::from(&q), from, to).await?
    } else {
        if args.files.is_empty() {
            return Err(AppError::Runtime(
                "lint needs capture files, --live to listen, or --prometheus URL".into(),
            ));
        }
        if args.from.is_some() || args.to.is_some() {
            return Err(AppError::Runtime(
                "lint: --from/--to select the range asked of --prometheus, with no capture files"
                    .into(),
            ));
        }
        let mut r = load_captures(&args.files, StoreConfig::replay(usize::MAX))?;
        r.check_clean()?;
        for w in &r.warnings {
            eprintln!("faultline: warning: {w}");
        }
        r.snapshot()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let engine = crate::rules::Engine::new(rules).with_threads(threads);
    let report = engine.run(&snap);
    let output = match args.format {
        LintFormat::Text => report::lint::text::render(&report),
        LintFormat::Json => report::lint::json::render(&report),
        LintFormat::Sarif => report::lint::sarif::render(&report, &engine.rules),
        LintFormat::Markdown => report::lint::markdown::render(&report),
    };
    let min = match args.fail_on {
        FailOn::Info => Some(Severity::Info),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Error => Some(Severity::Error),
        FailOn::None => None,
    };
    Ok(LintOutcome {
        output,
        exit: u8::from(min.is_some_and(|m| report.count_at_least(m) > 0)),
    })
}

/// `faultline rules list|check`: the lint rules, then the alert rules.
pub fn rules(args: RulesArgs) -> Result<String, AppError> {
    let lint = crate::rules::load(args.rules.as_deref());
    let alert = crate::alerts::load(args.rules.as_deref());
    let (set, alert) = match (lint, alert) {
        (Ok(l), Ok(a)) => (l, a),
        (l, a) => {
            let mut errors = l.err().unwrap_or_default();
            errors.extend(a.err().unwrap_or_default());
            return Err(AppError::Rules(errors));
        }
    };
    Ok(match args.action.as_str() {
        "check" => format!(
            "{}: {} rules OK ({} enabled)\n{}: {} alert rules OK ({} enabled)\n",
            set.origin,
            set.rules.len(),
            set.rules.iter().filter(|r| r.spec.enabled).count(),
            alert.origin,
            alert.rules.len(),
            alert.rules.iter().filter(|r| r.spec.enabled).count()
        ),
        _ => crate::rules::describe(&set) + &crate::alerts::describe(&alert),
    })
}

/// Logging of the headless commands: warnings (`FAULTLINE_LOG` sets the filter) to stderr, or to
/// `--log-file`.
pub fn init_stderr_logging(file: Option<&std::path::Path>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FAULTLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .without_time();
    let opened = file.map(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
    });
    let _ = match opened {
        Some(Ok(f)) => builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(f))
            .try_init(),
        Some(Err(e)) => {
            eprintln!("faultline: warning: cannot open the log file: {e}; logging to stderr");
            builder.with_writer(std::io::stderr).try_init()
        }
        None => builder.with_writer(std::io::stderr).try_init(),
    };
}

/// How long open requests may take to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
