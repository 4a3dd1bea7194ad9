//! The alert engine: evaluates every enabled rule over every dependency in scope at one
//! instant, advances each alert's state (`state`), and reports what changed.
//!
//! Evaluation instants are 10-second bucket boundaries; live, the boundary `T` is evaluated
//! once `now ≥ T + EVAL_DELAY` (spans arrive after their bucket closes: export batching,
//! settling), and boundaries a slow run skipped are evaluated in order. Replaying a capture
//! evaluates every boundary the same way, so a capture gives the same transitions every time.

use std::collections::BTreeMap;
use std::sync::Arc;

use cel::Value;

use crate::model::alert::{AlertBoard, AlertEvent, AlertState, AlertStatus, DeliveryStatus};
use crate::model::edge::{BUCKET_NS, EdgeKey, bucket_of};
use crate::model::view::DependencyView;

use super::baseline::ChunkCache;
use super::compile::{AlertRule, AlertSet};
use super::expr::Outcome;
use super::state::{Timing, Track, Verdict};
use super::vars::{self, Frame};

/// How long after a bucket closes it is evaluated live.
pub const EVAL_DELAY_NS: u64 = 10 * 1_000_000_000;
/// Most boundaries evaluated in one live run (older ones a stalled run missed are skipped).
pub const MAX_CATCH_UP: u64 = 6;
/// How long a resolved alert stays listed (and is re-sent to Alertmanager).
pub const RESOLVED_KEEP_NS: u64 = 15 * 60 * 1_000_000_000;

/// One status change.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertChange {
    /// The alert after the change.
    pub state: AlertState,
    /// Its status before (`None`: inactive).
    pub from: Option<AlertStatus>,
}

/// What one alert keeps besides its state machine.
#[derive(Clone, Debug, Default)]
struct Alert {
    track: Track,
    value: Option<f64>,
    threshold: Option<f64>,
    annotations: Arc<[(Arc<str>, Arc<str>)]>,
}

/// The engine and every alert's state.
#[derive(Debug)]
pub struct Engine {
    rules: Vec<AlertRule>,
    alerts: BTreeMap<(usize, EdgeKey), Alert>,
    cache: ChunkCache,
    last_at: Option<u64>,
    eval_errors: u64,
    origin: String,
}

impl Engine {
    /// An engine over `set` with no alert active.
    pub fn new(set: AlertSet) -> Self {
        Engine {
            rules: set.rules,
            alerts: BTreeMap::new(),
            cache: ChunkCache::default(),
            last_at: None,
            eval_errors: 0,
            origin: set.origin,
        }
    }

    /// The rules.
    pub fn rules(&self) -> &[AlertRule] {
        &self.rules
    }

    /// Where the rules came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Expression evaluations that failed so far with every number known (a type mismatch, a
    /// condition that is not a boolean); counted as "does not hold". An expression that fails
    /// because a number is unknown (no gauge, no calls) is not an error: it does not hold.
    pub fn eval_errors(&self) -> u64 {
        self.eval_errors
    }

    /// The boundaries due for evaluation when the (event-time) clock reads `now_ns`, oldest
    /// first: each once, at most [`MAX_CATCH_UP`].
    pub fn due(&self, now_ns: u64) -> Vec<u64> {
        let newest = bucket_of(now_ns.saturating_sub(EVAL_DELAY_NS));
        let first = match self.last_at {
            Some(last) => last + BUCKET_NS,
            None => newest,
        };
        let first = first.max(newest.saturating_sub((MAX_CATCH_UP - 1) * BUCKET_NS));
        (first..=newest).step_by(BUCKET_NS as usize).collect()
    }

    /// Evaluates every rule at `at` over `deps` (sorted by key, as `Snapshot::deps` is);
    /// returns the changes in (rule, caller, dependency) order.
    pub fn evaluate(&mut self, at: u64, deps: &[DependencyView]) -> Vec<AlertChange> {
        self.last_at = Some(at);
        let mut changes = Vec::new();
        for (ri, rule) in self.rules.iter().enumerate() {
            if !rule.spec.enabled {
                continue;
            }
            let timing = Timing {
                for_ns: rule.spec.for_ns,
                keep_firing_for_ns: rule.spec.keep_firing_for_ns,
            };
            for view in deps {
                let key = (ri, view.key.clone());
                let existing = self.alerts.get(&key);
                if !rule
                    .scope
                    .matches(&view.key.caller, &view.key.dependency, view.kind)
                {
                    continue;
                }
                let frame = Frame {
                    at,
                    window: rule.spec.window_ns,
                    baseline: rule.spec.baseline_ns,
                    baseline_end: existing
                        .and_then(|a| a.track.baseline_end)
                        .unwrap_or(at.saturating_sub(rule.spec.window_ns)),
                };
                let vars = vars::compute(view, &frame, rule.need, &mut self.cache);
                let holds = match rule.expr.eval(&vars) {
                    Outcome::Bool(b) => b,
                    Outcome::Unknown => false,
                    Outcome::Num(_) | Outcome::Failed(_) => {
                        self.eval_errors += 1;
                        false
                    }
                };
                let was_active = existing.is_some_and(|a| a.track.active());
                if !holds && !was_active {
                    continue;
                }
                let clear = !holds
                    && rule
                        .resolve
                        .as_ref()
                        .is_none_or(|r| r.eval(&vars) != Outcome::Bool(false));
                let num = |e: &Option<super::expr::Expr>| match e.as_ref().map(|e| e.eval(&vars)) {
                    Some(Outcome::Num(x)) => Some(x),
                    _ => None,
                };
                let (value, threshold) = (num(&rule.value), num(&rule.threshold));
                let alert = self.alerts.entry(key.clone()).or_default();
                let from = alert.track.status;
                let entered = alert.track.step(
                    at,
                    Verdict { holds, clear },
                    timing,
                    frame.baseline_end,
                    value,
                );
                alert.value = value;
                alert.threshold = threshold;
                if alert.track.active() || entered.is_some() {
                    alert.annotations = render(rule, &vars, value, threshold);
                }
                if entered.is_some() {
                    changes.push(AlertChange {
                        state: state_of(rule, &key.1, alert),
                        from,
                    });
                }
            }
        }
        // Alerts whose dependency left the snapshot or the scope no longer hold.
        let seen: Vec<(usize, EdgeKey)> = self
            .alerts
            .iter()
            .filter(|(_, a)| a.track.active())
            .map(|(k, _)| k.clone())
            .collect();
        for key in seen {
            let (ri, ref ek) = key;
            let rule = &self.rules[ri];
            let present = deps
                .binary_search_by(|d| d.key.cmp(ek))
                .ok()
                .is_some_and(|i| {
                    let d = &deps[i];
                    rule.spec.enabled
                        && rule.scope.matches(&d.key.caller, &d.key.dependency, d.kind)
                });
            if present {
                continue;
            }
            let timing = Timing {
                for_ns: rule.spec.for_ns,
                keep_firing_for_ns: rule.spec.keep_firing_for_ns,
            };
            if let Some(alert) = self.alerts.get_mut(&key) {
                let from = alert.track.status;
                let v = Verdict {
                    holds: false,
                    clear: true,
                };
                if alert.track.step(at, v, timing, at, None).is_some() {
                    changes.push(AlertChange {
                        state: state_of(rule, ek, alert),
                        from,
                    });
                }
            }
        }
        self.alerts.retain(|_, a| match a.track.status {
            None => false,
            Some(AlertStatus::Resolved) => a
                .track
                .resolved
                .is_some_and(|r| at.saturating_sub(r) < RESOLVED_KEEP_NS),
            _ => true,
        });
        let oldest = self
            .rules
            .iter()
            .map(|r| r.spec.window_ns + r.spec.baseline_ns)
            .max()
            .unwrap_or(0);
        self.cache.prune(at.saturating_sub(oldest + BUCKET_NS));
        changes
    }

    /// Every listed alert (pending, firing, recently resolved), firing first, then pending,
    /// then resolved; within each, worst severity first, then by name, caller, dependency.
    pub fn states(&self) -> Vec<AlertState> {
        let mut out: Vec<AlertState> = self
            .alerts
            .iter()
            .filter(|(_, a)| a.track.status.is_some())
            .map(|((ri, key), a)| state_of(&self.rules[*ri], key, a))
            .collect();
        out.sort_by(|a, b| {
            let rank = |s: AlertStatus| match s {
                AlertStatus::Firing => 0,
                AlertStatus::Pending => 1,
                AlertStatus::Resolved => 2,
            };
            rank(a.status)
                .cmp(&rank(b.status))
                .then(b.severity.cmp(&a.severity))
                .then_with(|| a.alert.cmp(&b.alert))
                .then_with(|| a.caller.cmp(&b.caller))
                .then_with(|| a.dependency.cmp(&b.dependency))
        });
        out
    }

    /// The board a snapshot carries.
    pub fn board(&self, delivery: Vec<DeliveryStatus>) -> AlertBoard {
        AlertBoard {
            evaluated_ns: self.last_at.unwrap_or(0),
            states: Arc::from(self.states()),
            rules: self.rules.iter().filter(|r| r.spec.enabled).count(),
            eval_errors: self.eval_errors,
            delivery: Arc::from(delivery),
        }
    }
}

fn render(
    rule: &AlertRule,
    vars: &vars::Vars,
    value: Option<f64>,
    threshold: Option<f64>,
) -> Arc<[(Arc<str>, Arc<str>)]> {
    let num = |x: Option<f64>| x.map_or(Value::Null, Value::Float);
    let extras = [
        ("alert", Value::String(Arc::new(rule.spec.name.clone()))),
        (
            "severity",
            Value::String(Arc::new(rule.spec.severity.as_str().to_string())),
        ),
        ("value", num(value)),
        ("threshold", num(threshold)),
    ];
    rule.annotations
        .iter()
        .map(|(k, t)| (Arc::from(k.as_str()), Arc::from(t.render(vars, &extras))))
        .collect()
}

fn state_of(rule: &AlertRule, key: &EdgeKey, a: &Alert) -> AlertState {
    let mut labels: Vec<(Arc<str>, Arc<str>)> = vec![
        (Arc::from("alertname"), Arc::from(rule.spec.name.as_str())),
        (Arc::from("caller"), key.caller.clone()),
        (Arc::from("dependency"), key.dependency.clone()),
        (
            Arc::from("severity"),
            Arc::from(rule.spec.severity.as_str()),
        ),
    ];
    labels.extend(
        rule.spec
            .labels
            .iter()
            .map(|(k, v)| (Arc::from(k.as_str()), Arc::from(v.as_str()))),
    );
    labels.sort();
    let history: Vec<AlertEvent> = a.track.history.iter().copied().collect();
    AlertState {
        alert: Arc::from(rule.spec.name.as_str()),
        severity: rule.spec.severity,
        caller: key.caller.clone(),
        dependency: key.dependency.clone(),
        status: a.track.status.unwrap_or(AlertStatus::Resolved),
        active_since_ns: a.track.active_since,
        fired_ns: a.track.fired,
        resolved_ns: a.track.resolved,
        value: a.value,
        threshold: a.threshold,
        labels: Arc::from(labels),
        annotations: a.annotations.clone(),
        history: Arc::from(history),
    }
}
