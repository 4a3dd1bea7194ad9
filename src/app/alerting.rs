//! Alert wiring: the live alert engine with its sinks (`record`; the dashboard when it wires
//! it), and `faultline alerts` over captures.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::alerts::deliver::Sinks;
use crate::alerts::{AlertChange, Engine, Notify, render};
use crate::cli::{AlertFailOn, AlertSinkArgs, AlertsArgs, ReportFormat};
use crate::ingest::http_client::ClientSettings;
use crate::model::alert::{AlertSeverity, AlertStatus};
use crate::model::profile::ProfileSet;
use crate::replay;
use crate::store::StoreConfig;
use crate::store::task::AlertsHook;

use super::{AppError, LintOutcome};

/// How long the sinks may take to deliver what they still hold at shutdown.
pub const DELIVERY_GRACE: Duration = Duration::from_secs(3);

/// The live alert engine: the hook for the store task, and its sinks.
pub struct LiveAlerts {
    /// Give it to `app::start_live_hooks` (`task::Hooks::alerts`).
    pub hook: AlertsHook,
    sinks: Option<Arc<Sinks>>,
}

/// One line for a change, as `record` logs it.
pub fn change_line(c: &AlertChange) -> String {
    let s = &c.state;
    let num = |v: Option<f64>| v.map_or_else(|| "-".into(), crate::alerts::expr::format_num);
    format!(
        "alert {} {} ({}) {} → {}: value {}, threshold {}",
        s.alert,
        s.status,
        s.severity.as_str(),
        s.caller,
        s.dependency,
        num(s.value),
        num(s.threshold)
    )
}

/// Loads the alert rules (`--rules DIR`, else `./rules`, else built-in) and starts the sinks
/// (needs a tokio runtime). With `log`, every change is printed on stderr.
pub fn live_alerts(
    rules: Option<&Path>,
    sinks: &AlertSinkArgs,
    log: bool,
) -> Result<LiveAlerts, AppError> {
    let set = crate::alerts::load(rules).map_err(AppError::Rules)?;
    let n = set.rules.iter().filter(|r| r.spec.enabled).count();
    let origin = set.origin.clone();
    // The metric sources' client: https through rustls with the system's roots.
    let client = |url: &str| {
        crate::ingest::http_client::build(&ClientSettings::default(), url)
            .map_err(|e| e.to_string())
    };
    let started = Sinks::start(&sinks.alertmanager, &sinks.alert_webhook, client)?;
    if log {
        eprintln!("faultline: {n} alert rules from {origin}");
        for s in started.iter().flat_map(|s| s.status()) {
            eprintln!("faultline: sending alerts to {} {}", s.sink, s.url);
        }
    }
    let on_change: Option<crate::alerts::OnChange> = if log {
        Some(Arc::new(|c: &AlertChange| {
            if c.state.status != AlertStatus::Pending {
                eprintln!("faultline: {}", change_line(c));
            }
        }))
    } else {
        None
    };
    let notify = started.clone().map(|s| s as Arc<dyn Notify>);
    Ok(LiveAlerts {
        hook: crate::alerts::live_hook(Engine::new(set), notify, on_change),
        sinks: started,
    })
}

impl LiveAlerts {
    /// Lets the sinks deliver what they hold (at most [`DELIVERY_GRACE`]) and prints how
    /// delivery went.
    pub async fn stop(self) {
        let Some(sinks) = self.sinks else { return };
        sinks.shutdown(DELIVERY_GRACE).await;
        for s in sinks.status() {
            let err = s
                .last_error
                .as_deref()
                .map_or_else(String::new, |e| format!(" (last error: {e})"));
            eprintln!(
                "faultline: {} {}: sent {}, failed {}, dropped {}, unsent {}{err}",
                s.sink, s.url, s.sent, s.failed, s.dropped, s.queued
            );
        }
    }
}

/// `faultline alerts`: replays the files, evaluates the alert rules every 10 s of the
/// capture's time, renders when each alert fired and resolved.
pub fn alerts(args: AlertsArgs) -> Result<LintOutcome, AppError> {
    let set = crate::alerts::load(args.rules.as_deref()).map_err(AppError::Rules)?;
    let origin = set.origin.clone();
    let mut cfg = StoreConfig::replay(usize::MAX);
    if !args.profiles.is_empty() {
        cfg.profiles = Arc::new(ProfileSet::load(&args.profiles)?);
    }
    let mut r = replay::load(&args.files, cfg)?;
    r.check_clean()?;
    for w in &r.warnings {
        eprintln!("faultline: warning: {w}");
    }
    let mut engine = Engine::new(set);
    let review = crate::alerts::replay::review(&mut r.store, &mut engine);
    let output = match args.format {
        ReportFormat::Text => render::text(&review, &origin),
        ReportFormat::Json => render::json(&review),
    };
    let min = match args.fail_on {
        AlertFailOn::Info => Some(AlertSeverity::Info),
        AlertFailOn::Warning => Some(AlertSeverity::Warning),
        AlertFailOn::Critical => Some(AlertSeverity::Critical),
        AlertFailOn::None => None,
    };
    Ok(LintOutcome {
        output,
        exit: u8::from(min.is_some_and(|m| review.intervals.iter().any(|i| i.severity >= m))),
    })
}
