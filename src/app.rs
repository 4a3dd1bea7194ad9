//! Wiring: starts receivers, the store task and the capture writer; picks the front end; shuts
//! down in order (receivers stop accepting, the store drains, the capture flushes). The
//! dashboard commands are wired in `dashboard`, `record` in `record`, the one-shot `report`,
//! `lint` and `rules` in `batch`; `signals` turns SIGINT/SIGTERM/SIGHUP into the
//! one shutdown request every long-running command waits on; `trace` prints one trace.

mod batch;
mod compare;
pub mod dashboard;
mod record;
pub mod signals;
mod trace;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::cli::ReceiverArgs;
use crate::cli::sources::{SourcesError, metric_sources, receiver_config};

mod alerting;
pub mod fleet;
use crate::ingest::channel::{Counters, DEFAULT_CAPACITY, Ingest};
use crate::ingest::server_tls::{ReloadingConfig, TlsCounters, TlsIncoming};
use crate::ingest::{otlp_grpc, otlp_http, prom_query, prom_scrape, recorder};
use crate::model::profile::{ProfileError, ProfileSet};
use crate::replay;
use crate::store::{Snapshot, Store, StoreConfig, task};
pub use alerting::{LiveAlerts, alerts, live_alerts};
pub use batch::{LintOutcome, lint, load_captures, report, rules};
pub use compare::{TraceRef, compare, parse_refs};
pub use record::record;
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
