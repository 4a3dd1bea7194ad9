//! The life of one alert (rule × caller × dependency): inactive → pending → firing → resolved,
//! with hysteresis.
//!
//! - **Pending** when the expression holds; **firing** once it has held at every evaluation for
//!   `for` (a `for` of 0 fires at once). A pending alert whose expression stops holding goes
//!   back to inactive, and its pending start is forgotten.
//! - A firing alert **clears** when the expression no longer holds *and* its `resolve`
//!   condition (when given) holds — so `resolve` can only make an alert stay longer, e.g. fire
//!   above 20 % and clear below 10 %. A `resolve` that cannot be evaluated (its numbers are
//!   gone) counts as holding: an alert is held by evidence only.
//! - It **resolves** once it has been clear at every evaluation for `keep_firing_for`.
//! - The baseline is frozen at the pending start until the alert is inactive or resolved again
//!   (`vars`), so an incident does not become its own baseline.

use std::collections::VecDeque;

use crate::model::alert::{AlertEvent, AlertStatus};

/// History entries kept per alert.
pub const HISTORY: usize = 32;

/// What the rule says at one evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The expression holds.
    pub holds: bool,
    /// A firing alert may clear (the expression does not hold and `resolve` does).
    pub clear: bool,
}

/// The rule's durations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// `for`, ns.
    pub for_ns: u64,
    /// `keep_firing_for`, ns.
    pub keep_firing_for_ns: u64,
}

/// One alert's state between evaluations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Track {
    /// Current status; `None` is inactive.
    pub status: Option<AlertStatus>,
    /// When the condition started to hold.
    pub active_since: u64,
    /// When it last fired.
    pub fired: Option<u64>,
    /// When it last resolved.
    pub resolved: Option<u64>,
    /// While firing: since when it has been clear.
    pub cleared_since: Option<u64>,
    /// The frozen end of the baseline while pending or firing.
    pub baseline_end: Option<u64>,
    /// Status changes, oldest first.
    pub history: VecDeque<AlertEvent>,
}

impl Track {
    /// Whether the alert is pending or firing.
    pub fn active(&self) -> bool {
        matches!(
            self.status,
            Some(AlertStatus::Pending | AlertStatus::Firing)
        )
    }

    fn enter(&mut self, at: u64, status: AlertStatus, value: Option<f64>) {
        self.status = Some(status);
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(AlertEvent {
            at_ns: at,
            status,
            value,
        });
    }

    /// Advances to the evaluation at `at` with the rule's verdict; `baseline_end` is where the
    /// baseline ended for this evaluation (frozen from here when the alert becomes active).
    /// Returns the status entered when it changed (a pending alert that goes back to inactive
    /// returns `None`: nothing was announced).
    pub fn step(
        &mut self,
        at: u64,
        v: Verdict,
        t: Timing,
        baseline_end: u64,
        value: Option<f64>,
    ) -> Option<AlertStatus> {
        match self.status {
            None | Some(AlertStatus::Resolved) => {
                if !v.holds {
                    return None;
                }
                self.active_since = at;
                self.cleared_since = None;
                self.baseline_end = Some(baseline_end);
                if t.for_ns == 0 {
                    self.fire(at, value)
                } else {
                    self.enter(at, AlertStatus::Pending, value);
                    Some(AlertStatus::Pending)
                }
            }
            Some(AlertStatus::Pending) => {
                if v.holds {
                    if at.saturating_sub(self.active_since) >= t.for_ns {
                        return self.fire(at, value);
                    }
                    return None;
                }
                // Never announced: forget the pending start.
                if self
                    .history
                    .back()
                    .is_some_and(|e| e.status == AlertStatus::Pending)
                {
                    self.history.pop_back();
                }
                self.status = self.resolved.map(|_| AlertStatus::Resolved);
                self.baseline_end = None;
                None
            }
            Some(AlertStatus::Firing) => {
                if !v.clear {
                    self.cleared_since = None;
                    return None;
                }
                let since = *self.cleared_since.get_or_insert(at);
                if at.saturating_sub(since) < t.keep_firing_for_ns {
                    return None;
                }
                self.resolved = Some(at);
                self.cleared_since = None;
                self.baseline_end = None;
                self.enter(at, AlertStatus::Resolved, value);
                Some(AlertStatus::Resolved)
            }
        }
    }

    fn fire(&mut self, at: u64, value: Option<f64>) -> Option<AlertStatus> {
        self.fired = Some(at);
        self.resolved = None;
        self.enter(at, AlertStatus::Firing, value);
        Some(AlertStatus::Firing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn run(t: Timing, holds: &[(bool, bool)]) -> Vec<(u64, AlertStatus)> {
        let mut tr = Track::default();
        let mut out = Vec::new();
        for (i, &(holds, clear)) in holds.iter().enumerate() {
            let at = i as u64 * 10 * S;
            if let Some(s) = tr.step(at, Verdict { holds, clear }, t, at, None) {
                out.push((i as u64, s));
            }
        }
        out
    }

    const Y: (bool, bool) = (true, false);
    const N: (bool, bool) = (false, true);
    /// Not holding, but the resolve condition does not hold either.
    const H: (bool, bool) = (false, false);

    #[test]
    fn fires_after_for_and_resolves_at_once_without_keep() {
        let t = Timing {
            for_ns: 20 * S,
            keep_firing_for_ns: 0,
        };
        use AlertStatus::*;
        assert_eq!(
            run(t, &[N, Y, Y, Y, Y, N, N]),
            vec![(1, Pending), (3, Firing), (5, Resolved)]
        );
        // A blip shorter than `for` never fires.
        assert_eq!(run(t, &[Y, Y, N, Y, N]), vec![(0, Pending), (3, Pending)]);
    }

    #[test]
    fn keep_firing_for_and_resolve_condition_stop_flapping() {
        use AlertStatus::*;
        let t = Timing {
            for_ns: 0,
            keep_firing_for_ns: 30 * S,
        };
        // Flapping every other evaluation: fires once, stays firing.
        assert_eq!(run(t, &[Y, N, Y, N, Y, N, Y]), vec![(0, Firing)]);
        // Clear for 30 s: resolved on the fourth clear evaluation (0, 10, 20, 30 s).
        assert_eq!(
            run(t, &[Y, N, N, N, N, N]),
            vec![(0, Firing), (4, Resolved)]
        );
        // The resolve condition holds the alert while the expression no longer does.
        let t0 = Timing {
            for_ns: 0,
            keep_firing_for_ns: 0,
        };
        assert_eq!(
            run(t0, &[Y, H, H, H, N, Y]),
            vec![(0, Firing), (4, Resolved), (5, Firing)]
        );
    }

    #[test]
    fn the_baseline_is_frozen_while_active() {
        let t = Timing {
            for_ns: 10 * S,
            keep_firing_for_ns: 0,
        };
        let mut tr = Track::default();
        tr.step(
            100,
            Verdict {
                holds: true,
                clear: false,
            },
            t,
            40,
            None,
        );
        assert_eq!(tr.baseline_end, Some(40));
        tr.step(
            200,
            Verdict {
                holds: false,
                clear: true,
            },
            t,
            140,
            None,
        );
        assert_eq!((tr.status, tr.baseline_end), (None, None));
        assert!(
            tr.history.is_empty(),
            "a cancelled pending leaves no history"
        );
    }
}
