//! Alerts over a capture (`faultline alerts`): the engine evaluated at every 10-second boundary
//! of the capture's time, each over the view as of that instant (`Store::snapshot_window`), as
//! it would have run live. The result is when each alert fired and resolved.

use std::sync::Arc;

use crate::model::alert::{AlertBoard, AlertEvent, AlertSeverity, AlertState, AlertStatus};
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

impl Review {
    /// The replay as a board (what `faultline review` shows): one state per (alert, caller,
    /// dependency) that fired, its history every pending start, firing and resolution of the
    /// capture; the status, times, value and threshold those of its last firing. Ordered as the
    /// live board is: firing first, then by severity (worst first), alert, caller, dependency.
    pub fn board(&self) -> AlertBoard {
        let mut states: Vec<AlertState> = Vec::new();
        let mut by_start: Vec<&Interval> = self.intervals.iter().collect();
        by_start.sort_by_key(|i| (i.from_ns, i.pending_ns));
        for i in by_start {
            let mut events = vec![
                AlertEvent {
                    at_ns: i.pending_ns,
                    status: AlertStatus::Pending,
                    value: None,
                },
                AlertEvent {
                    at_ns: i.from_ns,
                    status: AlertStatus::Firing,
                    value: i.value,
                },
            ];
            if let Some(to) = i.to_ns {
                events.push(AlertEvent {
                    at_ns: to,
                    status: AlertStatus::Resolved,
                    value: None,
                });
            }
            if i.pending_ns == i.from_ns {
                events.remove(0);
            }
            let annotations: Arc<[(Arc<str>, Arc<str>)]> = match &i.summary {
                Some(s) => Arc::from(vec![(Arc::from("summary"), Arc::from(s.as_str()))]),
                None => Arc::from(Vec::new()),
            };
            let pos = states.iter().position(|s| {
                *s.alert == *i.alert && *s.caller == *i.caller && *s.dependency == *i.dependency
            });
            let pos = pos.unwrap_or_else(|| {
                states.push(empty_state(i));
                states.len() - 1
            });
            let state = &mut states[pos];
            let mut history = state.history.to_vec();
            history.extend(events);
            state.history = Arc::from(history);
            state.status = i.status;
            state.active_since_ns = i.pending_ns;
            state.fired_ns = Some(i.from_ns);
            state.resolved_ns = i.to_ns;
            state.value = i.value;
            state.threshold = i.threshold;
            state.annotations = annotations;
        }
        let rank = |s: AlertStatus| match s {
            AlertStatus::Firing => 0,
            AlertStatus::Pending => 1,
            AlertStatus::Resolved => 2,
        };
        states.sort_by(|a, b| {
            rank(a.status)
                .cmp(&rank(b.status))
                .then(b.severity.cmp(&a.severity))
                .then_with(|| a.alert.cmp(&b.alert))
                .then_with(|| a.caller.cmp(&b.caller))
                .then_with(|| a.dependency.cmp(&b.dependency))
        });
        AlertBoard {
            evaluated_ns: self.span.1,
            states: Arc::from(states),
            rules: self.rules,
            eval_errors: self.eval_errors,
            delivery: Arc::from(Vec::new()),
        }
    }
}

/// A state for `i`'s (alert, caller, dependency) with its labels and no history yet.
fn empty_state(i: &Interval) -> AlertState {
    let (alert, caller, dep): (Arc<str>, Arc<str>, Arc<str>) = (
        i.alert.as_str().into(),
        i.caller.as_str().into(),
        i.dependency.as_str().into(),
    );
    let labels: Vec<(Arc<str>, Arc<str>)> = vec![
        ("alertname".into(), alert.clone()),
        ("caller".into(), caller.clone()),
        ("dependency".into(), dep.clone()),
        ("severity".into(), i.severity.as_str().into()),
    ];
    AlertState {
        alert,
        severity: i.severity,
        caller,
        dependency: dep,
        status: i.status,
        active_since_ns: i.pending_ns,
        fired_ns: None,
        resolved_ns: None,
        value: None,
        threshold: None,
        labels: Arc::from(labels),
        annotations: Arc::from(Vec::new()),
        history: Arc::from(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(alert: &str, dep: &str, sev: AlertSeverity, p: u64, f: u64, t: Option<u64>) -> Interval {
        Interval {
            alert: alert.into(),
            severity: sev,
            caller: "checkout".into(),
            dependency: dep.into(),
            status: if t.is_some() {
                AlertStatus::Resolved
            } else {
                AlertStatus::Firing
            },
            pending_ns: p,
            from_ns: f,
            to_ns: t,
            value: Some(f as f64),
            threshold: Some(0.5),
            peak: None,
            summary: Some(format!("{alert} at {f}")),
        }
    }

    #[test]
    fn the_board_of_a_replay_has_every_firing_in_each_alerts_history() {
        let review = Review {
            intervals: vec![
                iv("Q", "inventory", AlertSeverity::Warning, 5, 10, Some(20)),
                iv("B", "payments", AlertSeverity::Critical, 30, 30, Some(40)),
                iv("Q", "inventory", AlertSeverity::Warning, 45, 50, None),
            ],
            span: (10, 60),
            steps: 6,
            rules: 9,
            eval_errors: 0,
        };
        let board = review.board();
        assert_eq!(board.rules, 9);
        assert_eq!(board.evaluated_ns, 60);
        let names: Vec<(&str, AlertStatus)> =
            board.states.iter().map(|s| (&*s.alert, s.status)).collect();
        assert_eq!(
            names,
            [("Q", AlertStatus::Firing), ("B", AlertStatus::Resolved)],
            "firing first"
        );
        let q = &board.states[0];
        let h: Vec<(u64, AlertStatus)> = q.history.iter().map(|e| (e.at_ns, e.status)).collect();
        use AlertStatus::{Firing, Pending, Resolved};
        assert_eq!(
            h,
            [
                (5, Pending),
                (10, Firing),
                (20, Resolved),
                (45, Pending),
                (50, Firing)
            ]
        );
        assert_eq!(q.firing_intervals(), [(10, Some(20)), (50, None)]);
        assert!(q.firing_at(15) && !q.firing_at(25) && q.firing_at(1000));
        assert_eq!(
            (q.fired_ns, q.resolved_ns, q.active_since_ns),
            (Some(50), None, 45)
        );
        assert_eq!(q.annotation("summary"), Some("Q at 50"));
        let b = &board.states[1];
        assert_eq!(
            b.history.iter().map(|e| e.status).collect::<Vec<_>>(),
            [Firing, Resolved],
            "no pending step when it fired at once"
        );
        assert!(
            b.labels
                .iter()
                .any(|(k, v)| &**k == "severity" && &**v == "critical")
        );
    }
}
