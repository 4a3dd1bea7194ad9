//! Wiring of the dashboard commands: `watch` (live receivers), `demo` (live, fed by the built-in
//! simulation) and `review` (captures, with a time cursor). This module starts what feeds the
//! dashboard — receivers and the store task, the demo exporter, the replayed store on its own
//! thread answering cursor windows — and hands `tui::runner` a feed of snapshots; `tui` itself
//! only renders snapshots and handles keys.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

use super::signals::Shutdown;
use super::{AppError, live_alerts, start_live_hooks};
use crate::alerts::Engine as AlertEngine;
use crate::cli::{AlertSinkArgs, DemoArgs, ReviewArgs, StoreArgs, WatchArgs};
use crate::replay;
use crate::store::{Snapshot, StoreConfig, task};
use crate::tui::app::{Loading, Mode, Sources, UiState};
use crate::tui::runner::{self, Feed};
use crate::tui::theme::{Theme, ThemeError};

/// Why a dashboard command stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// Starting receivers or loading captures failed.
    #[error(transparent)]
    App(#[from] AppError),
    /// The theme could not be loaded.
    #[error(transparent)]
    Theme(#[from] ThemeError),
    /// The terminal failed.
    #[error("terminal: {0}")]
    Io(#[from] std::io::Error),
    /// The log file could not be opened.
    #[error("cannot open log file {path}: {source}")]
    Log {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Options every dashboard command shares.
#[derive(Clone, Debug, Default)]
pub struct UiOptions {
    /// Theme file (default: the built-in theme).
    pub theme: Option<PathBuf>,
    /// Log file (default: `faultline.log` in the temp directory).
    pub log_file: Option<PathBuf>,
}

/// Sends `tracing` output to a file, never to the terminal the dashboard draws on.
pub fn init_logging(path: Option<&Path>) -> Result<PathBuf, DashboardError> {
    let path = path.map_or_else(
        || std::env::temp_dir().join("faultline.log"),
        Path::to_path_buf,
    );
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|source| DashboardError::Log {
            path: path.clone(),
            source,
        })?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("FAULTLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second initialisation (tests) keeps the first subscriber; that is fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(path)
}

fn theme(opts: &UiOptions) -> Result<Theme, DashboardError> {
    let no_color = std::env::var("NO_COLOR").ok();
    Ok(Theme::resolve(opts.theme.as_deref(), no_color.as_deref())?)
}

fn store_config(a: &StoreArgs) -> StoreConfig {
    StoreConfig {
        max_spans: a.max_spans,
        max_logs: a.max_logs,
        retention_ns: Some(a.retention.as_nanos().min(u64::MAX as u128) as u64),
        ..StoreConfig::default()
    }
}

async fn run_live(
    mode: Mode,
    args: &WatchArgs,
    seed: Option<u64>,
    opts: &UiOptions,
) -> Result<(), DashboardError> {
    // Handlers before the receivers bind: a signal from then on stops the dashboard cleanly.
    let mut shutdown = Shutdown::install();
    let theme = theme(opts)?;
    // The rule engine runs in the store task every couple of seconds; its findings ride on the
    // snapshots (the findings panel).
    let rules = crate::rules::load(args.rules.as_deref()).map_err(AppError::Rules)?;
    // The alert engine too (the same rules directory's `[[alert]]` tables, else the shipped
    // ones, delivered to `--alertmanager`/`--alert-webhook` when given): its board rides on every
    // snapshot (the header banner, the Alerts view).
    let alerting = live_alerts(args.rules.as_deref(), &args.alerts, false)?;
    let log = init_logging(opts.log_file.as_deref())?;
    let hooks = task::Hooks {
        findings: Some(crate::rules::live_hook(crate::rules::Engine::new(rules))),
        alerts: Some(alerting.hook.clone()),
    };
    let live = start_live_hooks(
        &args.receivers,
        store_config(&args.store),
        args.record.as_deref(),
        hooks,
    )
    .await?;
    tracing::info!(grpc = %live.grpc_addr, http = %live.http_addr, log = %log.display(), "dashboard starting");
    let demo = seed.map(|s| crate::demo::spawn(s, live.grpc_addr, live.http_addr));
    let sources = Sources {
        items: vec![
            ("grpc".into(), live.grpc_addr.to_string(), true),
            ("http".into(), live.http_addr.to_string(), true),
        ],
    };
    let state = UiState::new(mode, sources, live.snapshots.borrow().clone());
    let feed = Feed {
        snapshots: live.snapshots.clone(),
        windows: None,
        loading: None,
    };
    let result = runner::run(state, feed, theme, shutdown.wait()).await;
    if let Some(d) = demo {
        d.stop().await;
    }
    live.stop().await?;
    alerting.stop().await;
    Ok(result?)
}

/// `faultline` / `faultline watch`.
pub async fn watch(args: WatchArgs, opts: UiOptions) -> Result<(), DashboardError> {
    run_live(Mode::Live, &args, None, &opts).await
}

/// `faultline demo`.
pub async fn demo(args: DemoArgs, opts: UiOptions) -> Result<(), DashboardError> {
    let watch_args = WatchArgs {
        receivers: args.receivers,
        store: StoreArgs {
            retention: std::time::Duration::from_secs(30 * 60),
            max_spans: 1_000_000,
            max_logs: 400_000,
        },
        rules: None,
        record: None,
        alerts: AlertSinkArgs::default(),
    };
    run_live(Mode::Demo, &watch_args, Some(args.seed), &opts).await
}

/// `faultline review FILE...`: the dashboard opens at once with a loading gauge; the capture
/// loads on its own thread, which then builds the snapshot of each window the time cursor asks
/// for (latest request wins).
pub async fn review(args: ReviewArgs, opts: UiOptions) -> Result<(), DashboardError> {
    // The dashboard is up while the capture loads: a signal then must restore the terminal.
    let mut shutdown = Shutdown::install();
    let theme = theme(&opts)?;
    let rules = crate::rules::load(args.rules.as_deref()).map_err(AppError::Rules)?;
    let engine = Arc::new(crate::rules::Engine::new(rules));
    // Alert rules load before the dashboard opens: a bad file is an error, not an empty board.
    let mut alert_engine =
        AlertEngine::new(crate::alerts::load(args.rules.as_deref()).map_err(AppError::Rules)?);
    init_logging(opts.log_file.as_deref())?;
    if args.prometheus.is_none() && (args.from.is_some() || args.to.is_some()) {
        return Err(AppError::Runtime(
            "review: --from/--to select the range asked of --prometheus".into(),
        )
        .into());
    }
    // No capture: the range's dependencies from the metrics store, asked for once.
    let fleet = match (&args.prometheus, args.files.is_empty()) {
        (Some(url), true) => {
            let (from, to) = crate::app::fleet::range(args.from, args.to)?;
            let q = crate::ingest::fleet::FleetQuery::new(url);
            Some(crate::app::fleet::table(&q, from, to).await?)
        }
        _ => None,
    };
    let mut sources = Sources {
        items: args
            .files
            .iter()
            .map(|f| ("file".to_string(), f.display().to_string(), true))
            .collect(),
    };
    if let Some(url) = args.prometheus.as_ref().filter(|_| fleet.is_some()) {
        sources
            .items
            .push(("prometheus".to_string(), url.clone(), true));
    }
    // The dashboard opens at once with a loading gauge; the capture loads on a blocking thread
    // and its state replaces the gauge when done.
    let total = replay::total_bytes(&args.files);
    let (progress_tx, progress) = watch::channel(Loading { done: 0, total });
    let (done_tx, done) = tokio::sync::oneshot::channel();
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::default()));
    let (win_tx, win_rx) = std::sync::mpsc::channel::<(u64, u64)>();
    let files = args.files.clone();
    // A plain thread, not `spawn_blocking`: quitting during a long load must not wait for it.
    let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loaded_ok = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (failed_in, loaded_in) = (failed.clone(), loaded_ok.clone());
    let loader = std::thread::spawn(move || {
        let read = std::sync::atomic::AtomicU64::new(0);
        let loaded = replay::load_with_progress(&files, StoreConfig::replay(usize::MAX), &|n| {
            let done = read.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
            progress_tx.send_replace(Loading { done, total });
        });
        let loaded = match loaded {
            Ok(l) => l,
            Err(e) => {
                failed_in.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = done_tx.send(None);
                return Err(AppError::from(e));
            }
        };
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        let mut store = loaded.store;
        if let Some(t) = fleet {
            store.set_fleet(t);
        }
        let mut whole = store.snapshot(None);
        whole.findings = Arc::from(engine.findings(&whole));
        let whole = Arc::new(whole);
        loaded_in.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = done_tx.send(Some(UiState::review(sources, whole.clone())));
        let _ = snap_tx.send(whole.clone());
        // Alerts are replayed once, as `faultline alerts` does, after the dashboard is up; the
        // board (every alert that fired in the capture, with its history) then rides on every
        // snapshot: the timeline marks and the Alerts view read it.
        let board = Arc::new(crate::alerts::replay::review(&mut store, &mut alert_engine).board());
        let build = |store: &mut crate::store::Store, w: (u64, u64)| {
            let mut snap = store.snapshot_window(w.0, w.1);
            snap.findings = Arc::from(engine.findings(&snap));
            snap.alerts = board.clone();
            Arc::new(snap)
        };
        // A window asked for during the replay wins; else the whole capture again, with alerts.
        let mut pending = None;
        while let Ok(newer) = win_rx.try_recv() {
            pending = Some(newer);
        }
        let first = match pending {
            Some(w) => build(&mut store, w),
            None => {
                let mut snap = (*whole).clone();
                snap.alerts = board.clone();
                Arc::new(snap)
            }
        };
        if snap_tx.send(first).is_err() {
            return Ok(());
        }
        // The review store lives on this thread: window changes never block the UI.
        while let Ok(mut w) = win_rx.recv() {
            while let Ok(newer) = win_rx.try_recv() {
                w = newer;
            }
            if snap_tx.send(build(&mut store, w)).is_err() {
                break;
            }
        }
        Ok(())
    });
    let placeholder = Sources {
        items: args
            .files
            .iter()
            .map(|f| ("file".to_string(), f.display().to_string(), true))
            .collect(),
    };
    let mut state = UiState::new(Mode::Review, placeholder, snap_rx.borrow().clone());
    state.loading = Some(Loading { done: 0, total });
    let result = runner::run(
        state,
        Feed {
            snapshots: snap_rx,
            windows: Some(win_tx),
            loading: Some(runner::LoadingFeed { progress, done }),
        },
        theme,
        shutdown.wait(),
    )
    .await;
    // The UI is gone and the window channel closed: a loaded store's thread ends now; a failed
    // load has its error; a load the user quit is left to end with the process.
    let seq = std::sync::atomic::Ordering::SeqCst;
    if failed.load(seq) || loaded_ok.load(seq) {
        loader
            .join()
            .map_err(|_| AppError::Runtime("the capture loader panicked".into()))??;
    }
    Ok(result?)
}
