//! Alerts: rules as data (`[[alert]]` tables in `rules/*.toml`, `rules/alerts.toml` shipped),
//! shaped like Prometheus alerting rules — a CEL expression over each dependency's view and its
//! own trailing baseline, `for`, `keep_firing_for`, labels, annotations, scope globs — evaluated
//! every 10 s, with states pending → firing → resolved. See `docs/alerts.md`.
//!
//! - [`spec`]: the `[[alert]]` schema, checked field by field.
//! - [`vars`]: the variables of one dependency at one instant (window, baseline, state);
//!   [`baseline`]: the trailing baseline (medians of window-long chunks).
//! - [`expr`]: CEL expressions and annotation templates.
//! - [`compile`]: specs → runnable rules; the built-in set.
//! - [`state`]: one alert's state machine, with hysteresis.
//! - [`engine`]: evaluates every rule at an instant, keeps every alert.
//! - [`replay`], [`render`]: `faultline alerts` over a capture.
//! - [`deliver`]: Alertmanager (v2 API) and webhook sinks, on their own task.
//!
//! Layer: imports `model`, `store`, `analysis` and `rules` (for the shared globs and errors),
//! never the front ends.

pub mod baseline;
pub mod compile;
pub mod deliver;
pub mod engine;
pub mod expr;
pub mod render;
pub mod replay;
pub mod spec;
pub mod state;
pub mod vars;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

pub use compile::{AlertRule, AlertSet, builtin, load, load_dir};
pub use engine::{AlertChange, Engine};

use crate::model::alert::{AlertState, DeliveryStatus};
use crate::store::task::AlertsHook;

/// Where alert changes go (the delivery sinks). Called on the engine's thread: it must not block.
pub trait Notify: Send + Sync {
    /// After an evaluation at `at_ns`: what changed, and every listed alert now.
    fn offer(&self, at_ns: u64, changes: &[AlertChange], states: &[AlertState]);
    /// How delivery is going, per sink.
    fn status(&self) -> Vec<DeliveryStatus>;
}

/// Called with every change (`faultline record` logs them).
pub type OnChange = Arc<dyn Fn(&AlertChange) + Send + Sync>;

/// A hook for the store task (`app::start_live_hooks`) that evaluates `engine` at every due
/// boundary of each snapshot it is given, hands changes to `notify`, and returns the board.
/// `on_change` sees every change too (`faultline record` logs them).
pub fn live_hook(
    engine: Engine,
    notify: Option<Arc<dyn Notify>>,
    on_change: Option<OnChange>,
) -> AlertsHook {
    let engine = Mutex::new(engine);
    Arc::new(move |snap| {
        // A panic inside an evaluation leaves the engine as it was before that boundary.
        let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
        for at in e.due(snap.now_ns) {
            let changes = e.evaluate(at, &snap.deps);
            if let Some(f) = &on_change {
                changes.iter().for_each(|c| f(c));
            }
            if let Some(n) = &notify {
                n.offer(at, &changes, &e.states());
            }
        }
        e.board(notify.as_ref().map(|n| n.status()).unwrap_or_default())
    })
}

/// `faultline rules list`, alert part: every alert rule with its expression, durations, labels.
pub fn describe(set: &AlertSet) -> String {
    let ns = |n: u64| humantime::format_duration(std::time::Duration::from_nanos(n)).to_string();
    let mut out = format!(
        "\nalert rules from {} ({} rules)\n",
        set.origin,
        set.rules.len()
    );
    for r in &set.rules {
        let s = &r.spec;
        out.push_str(&format!(
            "\n{}  {}{}\n  expr: {}\n  for {}, keep firing for {}, window {}, baseline {}\n  file: {}:{}\n",
            s.name,
            s.severity.as_str(),
            if s.enabled { "" } else { "  (disabled)" },
            s.expr.split_whitespace().collect::<Vec<_>>().join(" "),
            ns(s.for_ns),
            ns(s.keep_firing_for_ns),
            ns(s.window_ns),
            ns(s.baseline_ns),
            s.file,
            s.line
        ));
        if let Some(x) = &s.resolve {
            out.push_str(&format!("  resolve: {x}\n"));
        }
        for (k, v) in &s.labels {
            out.push_str(&format!("  label {k}={v}\n"));
        }
    }
    out
}
