//! Alerts over a capture (`faultline alerts`): the engine evaluated at every 10-second boundary
//! of the capture's time, each over the view as of that instant (`Store::snapshot_window`), as
//! it would have run live. The result is when each alert fired and resolved.

use crate::model::alert::{AlertSeverity, AlertStatus};
use crate::model::edge::{BUCKET_NS, bucket_of};
use crate::store::Store;

use super::engine::Engine;

/// The window of the views the state variables come from (the live dashboard's window).
pub const VIEW_WINDOW_NS: u64 = 5 * 60 * 1_000_000_000;

/// One time an alert fired.
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    /// The alertname.
    pub alert: String,
    /// Its severity.
    pub severity: AlertSeverity,
    /// Calling service.
    pub caller: String,
    /// Dependency.
    pub dependency: String,
    /// `Firing` when still firing at the capture's end, else `Resolved`.
    pub status: AlertStatus,
    /// When the condition started to hold.
    pub pending_ns: u64,
    /// When it fired.
    pub from_ns: u64,
    /// When it resolved.
    pub to_ns: Option<u64>,
    /// The rule's value when it fired.
    pub value: Option<f64>,
    /// The rule's threshold when it fired.
    pub threshold: Option<f64>,
    /// The highest value while it fired.
    pub peak: Option<f64>,
    /// The `summary` annotation when it fired.
    pub summary: Option<String>,
}

/// What a replay gave.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Review {
    /// Every firing interval, by start, then alert, caller, dependency.
    pub intervals: Vec<Interval>,
    /// First and last evaluation instants.
    pub span: (u64, u64),
    /// Evaluations (instants).
    pub steps: usize,
    /// Rules evaluated.
    pub rules: usize,
    /// Expression evaluations that failed.
    pub eval_errors: u64,
}

/// Evaluates `engine` over the whole of `store` (a replayed capture), boundary by boundary.
pub fn review(store: &mut Store, engine: &mut Engine) -> Review {
    let range = store.snapshot(None).range;
    let mut out = Review {
        rules: engine.rules().iter().filter(|r| r.spec.enabled).count(),
        ..Review::default()
    };
    if range == (0, 0) {
        return out;
    }
    let first = bucket_of(range.0) + BUCKET_NS;
    let last = bucket_of(range.1) + BUCKET_NS;
    out.span = (first, last);
    let mut open: Vec<usize> = Vec::new();
    for at in (first..=last).step_by(BUCKET_NS as usize) {
        out.steps += 1;
        let snap = store.snapshot_window(at.saturating_sub(VIEW_WINDOW_NS), at);
        for c in engine.evaluate(at, &snap.deps) {
            let s = &c.state;
            let same = |i: &Interval| {
                i.alert == *s.alert && i.caller == *s.caller && i.dependency == *s.dependency
            };
            match s.status {
                AlertStatus::Firing => {
                    out.intervals.push(Interval {
                        alert: s.alert.to_string(),
                        severity: s.severity,
                        caller: s.caller.to_string(),
                        dependency: s.dependency.to_string(),
                        status: AlertStatus::Firing,
                        pending_ns: s.active_since_ns,
                        from_ns: at,
                        to_ns: None,
                        value: s.value,
                        threshold: s.threshold,
                        peak: s.value,
                        summary: s.annotation("summary").map(str::to_string),
                    });
                    open.push(out.intervals.len() - 1);
                }
                AlertStatus::Resolved => {
                    if let Some(pos) = open.iter().position(|&i| same(&out.intervals[i])) {
                        let i = open.remove(pos);
                        out.intervals[i].status = AlertStatus::Resolved;
                        out.intervals[i].to_ns = Some(at);
                    }
                }
                AlertStatus::Pending => {}
            }
        }
        // Peaks of the intervals still firing.
        for s in engine.states() {
            if s.status != AlertStatus::Firing {
                continue;
            }
            if let Some(&i) = open.iter().find(|&&i| {
                let iv = &out.intervals[i];
                iv.alert == *s.alert && iv.caller == *s.caller && iv.dependency == *s.dependency
            }) && let Some(v) = s.value
            {
                let p = &mut out.intervals[i].peak;
                *p = Some(p.map_or(v, |p| p.max(v)));
            }
        }
    }
    out.eval_errors = engine.eval_errors();
    out.intervals.sort_by(|a, b| {
        (a.from_ns, &a.alert, &a.caller, &a.dependency).cmp(&(
            b.from_ns,
            &b.alert,
            &b.caller,
            &b.dependency,
        ))
    });
    out
}
