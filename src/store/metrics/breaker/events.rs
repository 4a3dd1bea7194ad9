//! The state a breaker is in when a source gives only transition counters (opossum-prometheus,
//! Polly): counters say how many times each transition happened between two samples, never in
//! which order, so several transitions in one interval can end in more than one state.
//!
//! The state machine (closed → open → half-open → closed or open) bounds the orders. Counting
//! each transition as an edge, a sequence from state `s` to state `e` exists exactly when every
//! state's edges balance (in − out = [e] − [s]) and `s` has an edge to leave by; [`ends`] lists
//! the end states that pass, [`walk`] rebuilds one sequence to a chosen end. When more than one
//! end passes, the caller picks the first (closed before open before half-open: an incident's
//! re-opens come before its close, and a half-open is transient) and keeps the others until
//! evidence after the sample decides. Hand-written: no crate models breaker state machines.
//!
//! Two shapes of source:
//! - [`Mode::Counted`]: half-open is counted (Polly's `OnCircuitHalfOpened`). Edges C→O and
//!   H→O (opens), O→H (half-opens), H→C (closes).
//! - [`Mode::Hidden`]: half-open is not counted (opossum-prometheus adds listeners only for the
//!   events that had some when the breaker was registered, and opossum has none on `halfOpen`).
//!   Half-open folds into open: edges C→O (open), O→O (a failed trial: re-open), O→C (close).
//!   The end is closed or open, never half-open: nothing counted says it lasts.

use crate::model::resilience::BreakerState::{self, Closed, HalfOpen, Open};

/// Whether the source counts half-open transitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Half-open transitions are counted.
    Counted,
    /// Half-open transitions are not counted; open → closed passes through half-open unseen.
    Hidden,
}

/// Transitions counted in one batch, by the state they lead to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Transitions to open.
    pub open: u64,
    /// Transitions to half-open.
    pub half_open: u64,
    /// Transitions to closed.
    pub close: u64,
}

impl Counts {
    fn total(&self) -> u64 {
        self.open + self.half_open + self.close
    }

    fn take(mut self, to: BreakerState) -> Option<Counts> {
        let n = match to {
            Open => &mut self.open,
            HalfOpen => &mut self.half_open,
            _ => &mut self.close,
        };
        *n = n.checked_sub(1)?;
        Some(self)
    }
}

fn ind(a: BreakerState, b: BreakerState) -> i64 {
    i64::from(a == b)
}

/// Where a sequence of the counted transitions can start from, in a mode: hidden half-open is
/// open. `None` for states outside the three-state machine.
pub fn start_state(mode: Mode, s: BreakerState) -> Option<BreakerState> {
    match (mode, s) {
        (Mode::Hidden, HalfOpen) => Some(Open),
        (_, Closed | Open | HalfOpen) => Some(s),
        _ => None,
    }
}

/// Whether the counted transitions can be ordered into a sequence from `s` to `e`.
pub fn feasible(mode: Mode, c: Counts, s: BreakerState, e: BreakerState) -> bool {
    let (o, h, cl) = (c.open as i64, c.half_open as i64, c.close as i64);
    // Transitions leaving closed (closed → open) follow from closed's balance.
    let from_closed = cl - (ind(e, Closed) - ind(s, Closed));
    // The other opens leave half-open (counted) or open itself (hidden re-open).
    let reopen = o - from_closed;
    if from_closed < 0 || reopen < 0 {
        return false;
    }
    let out_of_start = match mode {
        Mode::Counted => {
            if o - h != ind(e, Open) - ind(s, Open)
                || h - reopen - cl != ind(e, HalfOpen) - ind(s, HalfOpen)
            {
                return false;
            }
            match s {
                Closed => from_closed,
                Open => h,
                _ => reopen + cl,
            }
        }
        Mode::Hidden => {
            if h != 0 || s == HalfOpen || e == HalfOpen {
                return false;
            }
            match s {
                Closed => from_closed,
                _ => reopen + cl,
            }
        }
    };
    c.total() == 0 && s == e || c.total() > 0 && out_of_start > 0
}

/// The states the counted transitions can end in from `s`, closed before open before
/// half-open (empty when no order fits: counts lost to a reset or a missed sample).
pub fn ends(mode: Mode, c: Counts, s: BreakerState) -> Vec<BreakerState> {
    [Closed, Open, HalfOpen]
        .into_iter()
        .filter(|e| feasible(mode, c, s, *e))
        .collect()
}

/// Most transitions walked one by one; larger batches (a counter reset read as an increment)
/// jump to the end.
const MAX_WALK: u64 = 4096;

/// The states passed through from `s` to `e` using every counted transition (ending with `e`;
/// empty when `s == e` and nothing was counted), at most `max` of them (then the last is `e`).
/// Trials that fail re-open before the close (an incident's shape). `implied`: in hidden mode,
/// record the half-open every re-open and close passed through. `None` when no order fits.
pub fn walk(
    mode: Mode,
    implied: bool,
    mut c: Counts,
    s: BreakerState,
    e: BreakerState,
    max: usize,
) -> Option<Vec<BreakerState>> {
    if !feasible(mode, c, s, e) {
        return None;
    }
    let mut out = Vec::new();
    if c.total() > MAX_WALK {
        if s != e {
            out.push(e);
        }
        return Some(out);
    }
    let mut cur = s;
    while c.total() > 0 {
        let options: &[BreakerState] = match (mode, cur) {
            (_, Closed) => &[Open],
            (Mode::Counted, Open) => &[HalfOpen],
            (Mode::Counted, _) | (Mode::Hidden, _) => &[Open, Closed],
        };
        let (next, rest) = options.iter().find_map(|n| {
            let rest = c.take(*n)?;
            feasible(mode, rest, *n, e).then_some((*n, rest))
        })?;
        if mode == Mode::Hidden && cur == Open && implied {
            out.push(HalfOpen);
        }
        out.push(next);
        c = rest;
        cur = next;
    }
    if out.len() > max {
        out.truncate(max.saturating_sub(1));
        out.push(e);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(open: u64, half_open: u64, close: u64) -> Counts {
        Counts {
            open,
            half_open,
            close,
        }
    }

    #[test]
    fn hidden_half_open_re_opens_then_closes() {
        // Open at the last sample; two failed trials and a good one since: closed, or (closed
        // then opened twice) open. Closed comes first; both are kept.
        assert_eq!(ends(Mode::Hidden, n(2, 0, 1), Open), vec![Closed, Open]);
        assert_eq!(
            walk(Mode::Hidden, true, n(2, 0, 1), Open, Closed, 64),
            Some(vec![HalfOpen, Open, HalfOpen, Open, HalfOpen, Closed])
        );
        // As many closes as opens from closed: closed, nothing else fits.
        assert_eq!(ends(Mode::Hidden, n(3, 0, 3), Closed), vec![Closed]);
        // Opens only: open.
        assert_eq!(ends(Mode::Hidden, n(4, 0, 0), Closed), vec![Open]);
        // A close from closed with no open cannot happen.
        assert!(ends(Mode::Hidden, n(0, 0, 1), Closed).is_empty());
        assert_eq!(ends(Mode::Hidden, n(0, 0, 1), Open), vec![Closed]);
    }

    #[test]
    fn counted_half_open_balances() {
        // open, half-open, close from closed: closed only.
        assert_eq!(ends(Mode::Counted, n(1, 1, 1), Closed), vec![Closed]);
        assert_eq!(
            walk(Mode::Counted, true, n(1, 1, 1), Closed, Closed, 64),
            Some(vec![Open, HalfOpen, Closed])
        );
        // First seen with 3 opens, 2 half-opens, 1 close: open only.
        assert_eq!(ends(Mode::Counted, n(3, 2, 1), Closed), vec![Open]);
        // A half-open that nothing followed is the state.
        assert_eq!(ends(Mode::Counted, n(1, 1, 0), Closed), vec![HalfOpen]);
        // Two trials, one failed: closed, or half-open again.
        assert_eq!(
            ends(Mode::Counted, n(2, 2, 1), Closed),
            vec![Closed, HalfOpen]
        );
        assert_eq!(
            walk(Mode::Counted, true, n(2, 2, 1), Closed, Closed, 64),
            Some(vec![Open, HalfOpen, Open, HalfOpen, Closed])
        );
    }

    #[test]
    fn long_walks_are_bounded_and_end_at_the_end() {
        let w = walk(Mode::Hidden, true, n(40, 0, 1), Open, Closed, 8).expect("fits");
        assert_eq!(w.len(), 8);
        assert_eq!(w.last(), Some(&Closed));
        let w = walk(Mode::Hidden, true, n(1 << 20, 0, 1), Open, Closed, 8).expect("fits");
        assert_eq!(w, vec![Closed]);
    }

    /// Every sequence of up to 7 counted transitions from every start, in both modes: the end
    /// it reached is among [`ends`], every end [`ends`] lists is reached by some sequence with
    /// the same counts, and [`walk`] rebuilds a legal sequence with exactly those counts.
    #[test]
    fn ends_and_walks_match_brute_force() {
        fn next(mode: Mode, s: BreakerState) -> Vec<BreakerState> {
            match (mode, s) {
                (_, Closed) => vec![Open],
                (Mode::Counted, Open) => vec![HalfOpen],
                (Mode::Counted, _) => vec![Open, Closed],
                (Mode::Hidden, _) => vec![Open, Closed],
            }
        }
        fn count(seq: &[BreakerState]) -> Counts {
            let mut c = Counts::default();
            for s in seq {
                match s {
                    Open => c.open += 1,
                    HalfOpen => c.half_open += 1,
                    _ => c.close += 1,
                }
            }
            c
        }
        for mode in [Mode::Counted, Mode::Hidden] {
            let starts: &[BreakerState] = match mode {
                Mode::Counted => &[Closed, Open, HalfOpen],
                Mode::Hidden => &[Closed, Open],
            };
            for &start in starts {
                // (counts, end) pairs reachable, by breadth-first enumeration.
                let mut reached: Vec<(Counts, BreakerState)> = vec![(Counts::default(), start)];
                let mut frontier = vec![(Vec::<BreakerState>::new(), start)];
                for _ in 0..7 {
                    let mut more = Vec::new();
                    for (seq, cur) in &frontier {
                        for n in next(mode, *cur) {
                            let mut s = seq.clone();
                            s.push(n);
                            reached.push((count(&s), n));
                            more.push((s, n));
                        }
                    }
                    frontier = more;
                }
                for (c, end) in &reached {
                    let e = ends(mode, *c, start);
                    assert!(
                        e.contains(end),
                        "{mode:?} {start:?} {c:?}: {end:?} not in {e:?}"
                    );
                    for cand in e {
                        assert!(
                            reached.contains(&(*c, cand)),
                            "{mode:?} {start:?} {c:?}: {cand:?} listed but unreachable"
                        );
                        let w = walk(mode, false, *c, start, cand, 64).expect("a walk");
                        assert_eq!(count(&w), *c, "{mode:?} {start:?} → {cand:?}: {w:?}");
                        assert_eq!(w.last().copied().unwrap_or(start), cand);
                        let mut cur = start;
                        for s in &w {
                            assert!(next(mode, cur).contains(s), "illegal step in {w:?}");
                            cur = *s;
                        }
                    }
                }
            }
        }
    }
}
