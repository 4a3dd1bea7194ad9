//! Alert states as a snapshot carries them: what the alert engine (the `alerts` module) decided
//! about each (alert rule, caller, dependency), with its history, and how delivery to the sinks
//! (Alertmanager, webhooks) is going. Plain data, so the store can hold it and every front end
//! can read it without importing the engine.

use std::fmt;
use std::sync::Arc;

/// How urgent an alert is (the `severity` label, Prometheus/Alertmanager conventions); ordered
/// so `Info < Warning < Critical`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertSeverity {
    /// Worth a look.
    Info,
    /// Needs attention soon.
    #[default]
    Warning,
    /// Page someone.
    Critical,
}

impl AlertSeverity {
    /// `info`, `warning` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Info => "info",
            AlertSeverity::Warning => "warning",
            AlertSeverity::Critical => "critical",
        }
    }

    /// Parses `info`, `warning` or `critical`.
    pub fn parse(s: &str) -> Option<AlertSeverity> {
        match s {
            "info" => Some(AlertSeverity::Info),
            "warning" => Some(AlertSeverity::Warning),
            "critical" => Some(AlertSeverity::Critical),
            _ => None,
        }
    }
}

/// Where an alert is in its life: inactive alerts are not listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertStatus {
    /// The condition holds, not yet for the rule's `for` duration.
    Pending,
    /// The condition held for `for`: the alert is sent.
    Firing,
    /// It fired and has cleared (after `keep_firing_for`).
    Resolved,
}

impl AlertStatus {
    /// `pending`, `firing` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Pending => "pending",
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change of an alert's status.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlertEvent {
    /// The evaluation instant, Unix nanoseconds (a 10-second bucket boundary).
    pub at_ns: u64,
    /// The status entered.
    pub status: AlertStatus,
    /// The rule's value at that evaluation, when it has one.
    pub value: Option<f64>,
}

/// One alert: a rule's verdict on one (caller, dependency).
#[derive(Clone, Debug, PartialEq)]
pub struct AlertState {
    /// The rule's name (the `alertname` label).
    pub alert: Arc<str>,
    /// Its severity.
    pub severity: AlertSeverity,
    /// The calling service.
    pub caller: Arc<str>,
    /// The dependency.
    pub dependency: Arc<str>,
    /// Current status.
    pub status: AlertStatus,
    /// When the condition started to hold (the pending start), Unix ns.
    pub active_since_ns: u64,
    /// When it fired, if it did.
    pub fired_ns: Option<u64>,
    /// When it resolved, if it did.
    pub resolved_ns: Option<u64>,
    /// The rule's value at the latest evaluation (e.g. the error ratio).
    pub value: Option<f64>,
    /// The rule's threshold at the latest evaluation (e.g. twice the baseline).
    pub threshold: Option<f64>,
    /// Every label sent to Alertmanager (alertname, severity, caller, dependency and the rule's
    /// own), sorted by name.
    pub labels: Arc<[(Arc<str>, Arc<str>)]>,
    /// Rendered annotations (summary, description, ...), sorted by name.
    pub annotations: Arc<[(Arc<str>, Arc<str>)]>,
    /// Status changes, oldest first (bounded).
    pub history: Arc<[AlertEvent]>,
}

impl AlertState {
    /// When it fired and resolved, from its history: `(fired, resolved)` per firing, oldest
    /// first (`None`: still firing at the end of the history).
    pub fn firing_intervals(&self) -> Vec<(u64, Option<u64>)> {
        let mut out: Vec<(u64, Option<u64>)> = Vec::new();
        for e in self.history.iter() {
            match e.status {
                AlertStatus::Firing => {
                    if !matches!(out.last(), Some((_, None))) {
                        out.push((e.at_ns, None));
                    }
                }
                AlertStatus::Resolved => {
                    if let Some(last) = out.last_mut()
                        && last.1.is_none()
                    {
                        last.1 = Some(e.at_ns);
                    }
                }
                AlertStatus::Pending => {}
            }
        }
        out
    }

    /// Whether it was firing at `at_ns` (from its history).
    pub fn firing_at(&self, at_ns: u64) -> bool {
        self.firing_intervals()
            .iter()
            .any(|&(from, to)| from <= at_ns && to.is_none_or(|to| at_ns < to))
    }

    /// An annotation's rendered text.
    pub fn annotation(&self, name: &str) -> Option<&str> {
        self.annotations
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| &**v)
    }
}

/// How delivery to one sink is going.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryStatus {
    /// `alertmanager` or `webhook`.
    pub sink: &'static str,
    /// Where alerts go.
    pub url: Arc<str>,
    /// Requests the sink accepted.
    pub sent: u64,
    /// Requests that failed (each retry counts).
    pub failed: u64,
    /// Notifications dropped because the queue was full (the oldest go first).
    pub dropped: u64,
    /// Notifications waiting to be sent.
    pub queued: u64,
    /// The last failure, cleared by the next success.
    pub last_error: Option<Arc<str>>,
    /// Wall-clock time of the last accepted request, Unix ns (0: none yet).
    pub last_ok_ns: u64,
}

/// Every alert at one instant, as a snapshot carries it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertBoard {
    /// The latest evaluation instant, Unix ns (0: nothing evaluated yet).
    pub evaluated_ns: u64,
    /// Pending, firing and recently resolved alerts, firing first, then by severity (worst
    /// first), alert name, caller and dependency.
    pub states: Arc<[AlertState]>,
    /// Alert rules loaded.
    pub rules: usize,
    /// Evaluations whose expression failed (an unknown number, a type error): counted as "does
    /// not hold".
    pub eval_errors: u64,
    /// Delivery to each sink.
    pub delivery: Arc<[DeliveryStatus]>,
}

impl AlertBoard {
    /// The alerts firing now.
    pub fn firing(&self) -> impl Iterator<Item = &AlertState> {
        self.states
            .iter()
            .filter(|s| s.status == AlertStatus::Firing)
    }

    /// The worst severity firing now.
    pub fn worst_firing(&self) -> Option<AlertSeverity> {
        self.firing().map(|s| s.severity).max()
    }
}
