//! The one-shot commands over capture files or a past range of a metrics store: `report`,
//! `lint` (also `--live` for a while) and `rules`.

use std::sync::Arc;

use super::{AppError, fleet, metric_sources, run_for, signals, start_live};
use crate::cli::{FailOn, LintArgs, LintFormat, ReportArgs, ReportFormat, RulesArgs};
use crate::model::finding::Severity;
use crate::model::profile::ProfileSet;
use crate::replay;
use crate::report;
use crate::store::StoreConfig;

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
    let out = match args.format {
        ReportFormat::Json => report::json::render(&rows) + "\n",
        ReportFormat::Text => report::text::render(&rows, snap.window),
    };
    drop_in_background((r, snap));
    Ok(out)
}

/// Frees what a one-shot command loaded (the store and its snapshot: every span of the
/// capture) on a thread of its own, so that the command returns without waiting for it; when
/// the process exits first, the operating system reclaims the memory instead. On a capture of
/// 100k spans the drop is ≈ 180 M instructions on one thread, after everything else.
fn drop_in_background<T: Send + 'static>(loaded: T) {
    // When no thread can be started, the closure (and `loaded` with it) is dropped here.
    let _ = std::thread::Builder::new()
        .name("faultline-free".into())
        .spawn(move || drop(loaded));
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
    // The replayed store, kept until the findings are rendered and then freed in the background.
    let mut loaded = None;
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
        let snap = r.snapshot();
        loaded = Some(r);
        snap
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
    drop_in_background((loaded, snap));
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
