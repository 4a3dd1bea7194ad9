//! One breaker as its series show it, for every encoding a profile can name: one-hot state
//! gauges, 0/1 flags, value maps, transition-event counters, admission limits, ejections and
//! endpoint states.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::profile::{BreakerDef, Encoding, Part};
use crate::model::resilience::BreakerState;

mod events;

/// Separates the state label value from the series identity in part keys of encodings that
/// sum several series (endpoints, admission, ejection).
pub const KEY_SEP: char = '\u{1}';

/// Longest run of transitions rebuilt from one batch of event counts.
const MAX_REPLAYED: usize = 64;

/// The state of one breaker instance (one profile entry × one `instance`).
#[derive(Clone, Debug)]
pub struct BreakerTrack {
    /// Index of the profile entry.
    pub def: usize,
    /// Latest value per part key (state label value, event name, or series name) with its time.
    parts: HashMap<Arc<str>, (u64, f64)>,
    /// Latest host counts per series (ejection totals).
    totals: HashMap<Arc<str>, f64>,
    /// When the track was first seen.
    first_ns: u64,
    /// For events: increments not yet turned into transitions.
    pending: HashMap<Arc<str>, f64>,
    /// For events: calls that went through since the last settle (`probe_events`): with no
    /// transition counted, evidence that the breaker let them pass.
    probes: f64,
    /// The state as of the last [`BreakerTrack::settle`].
    pub state: BreakerState,
    /// For events: other states the last counts could have ended in, until evidence decides.
    alternatives: Vec<BreakerState>,
}

impl BreakerTrack {
    /// A track first seen at `t_ns`.
    pub fn new(def: usize, t_ns: u64) -> Self {
        BreakerTrack {
            def,
            parts: HashMap::new(),
            totals: HashMap::new(),
            first_ns: t_ns,
            pending: HashMap::new(),
            probes: 0.0,
            state: BreakerState::Unknown,
            alternatives: Vec::new(),
        }
    }

    /// Takes one sample. `key` is what distinguishes the sample within the track (see
    /// [`BreakerDef`]: the state label value, the event name, or the series name); `delta` says
    /// the value is an increment (OTLP delta sums).
    pub fn observe(
        &mut self,
        def: &BreakerDef,
        part: Part,
        key: Arc<str>,
        t_ns: u64,
        v: f64,
        delta: bool,
    ) {
        if !v.is_finite() {
            return;
        }
        if part == Part::Total {
            self.totals.insert(key, v);
            return;
        }
        if def.encoding == Encoding::Events {
            let prev = self.parts.get(&key).map(|p| p.1);
            let inc = match prev {
                _ if delta => v,
                Some(p) if v >= p => v - p,
                Some(_) => v, // counter reset
                // A series that appears after the breaker was first seen started from zero.
                None if t_ns > self.first_ns => v,
                None => 0.0,
            };
            let cum = if delta { prev.unwrap_or(0.0) + v } else { v };
            self.parts.insert(key.clone(), (t_ns, cum));
            if inc > 0.0 && def.probe_events.iter().any(|p| **p == *key) {
                self.probes += inc;
            }
            if inc > 0.0 && def.map.contains_key(&*key) {
                *self.pending.entry(key).or_default() += inc;
            }
            return;
        }
        self.parts.insert(key, (t_ns, v));
    }

    /// Brings `state` up to date after a batch of samples; returns the states passed through,
    /// in order, ending with the new state (empty when nothing changed).
    pub fn settle(&mut self, def: &BreakerDef) -> Vec<BreakerState> {
        let next = match def.encoding {
            Encoding::Events => return self.settle_events(def),
            Encoding::OneHot => self
                .parts
                .iter()
                .filter(|(_, (_, v))| *v >= 0.5)
                .filter_map(|(k, (t, _))| def.map.get(&**k).map(|s| (*t, s.severity(), *s)))
                .max()
                .map_or(BreakerState::Unknown, |x| x.2),
            Encoding::Flag => match self.parts.values().map(|p| p.1).reduce(f64::max) {
                Some(v) if v >= 0.5 => BreakerState::Open,
                Some(_) => BreakerState::Closed,
                None => BreakerState::Unknown,
            },
            Encoding::ValueMap => self
                .parts
                .values()
                .max_by_key(|p| p.0)
                .and_then(|(_, v)| def.map.get(&v.to_string()).copied())
                .unwrap_or(BreakerState::Unknown),
            Encoding::Admission => {
                if self.parts.values().any(|p| p.1 >= 0.5) {
                    BreakerState::AtCapacity
                } else {
                    BreakerState::Closed
                }
            }
            Encoding::Ejection => {
                let n: f64 = self.parts.values().map(|p| p.1).sum();
                let total: f64 = self.totals.values().sum();
                ejected(n, total)
            }
            Encoding::Endpoints => {
                let n: f64 = self
                    .parts
                    .iter()
                    .filter(|(k, _)| {
                        let state = k.split(KEY_SEP).next().unwrap_or("");
                        def.ejected_values.iter().any(|e| e == state)
                    })
                    .map(|(_, p)| p.1)
                    .sum();
                let total: f64 = self.parts.values().map(|p| p.1).sum();
                ejected(n, total)
            }
        };
        if next == self.state {
            return Vec::new();
        }
        self.state = next;
        vec![next]
    }

    /// Events: the first batch sets the state from the cumulative counts; later increments are
    /// ordered the way the breaker's state machine allows ([`events`]), so several transitions
    /// between two samples are all recorded and the state is the one the counts end in. When
    /// the counts fit more than one end, the first (closed, open, half-open) is taken and the
    /// others kept in `alternatives` until evidence after the sample decides: the next batch's
    /// counts (a close that only fits from open), calls that went through with no transition
    /// counted (`probe_events`: not open), or trace evidence ([`BreakerTrack::resolve`]).
    fn settle_events(&mut self, def: &BreakerDef) -> Vec<BreakerState> {
        let probes = std::mem::take(&mut self.probes);
        let mode = self.mode(def);
        if self.pending.is_empty() {
            if self.state == BreakerState::Unknown {
                // First seen: breakers start closed; the cumulative counts say where it is now.
                let counts = self.counts(def, self.parts.iter().map(|(k, p)| (k, p.1)));
                if counts.total() == 0 || counts.other > 0.0 {
                    return Vec::new();
                }
                let ends = events::ends(mode, counts.known, BreakerState::Closed);
                let Some((&first, rest)) = ends.split_first() else {
                    return Vec::new();
                };
                self.state = first;
                self.alternatives = rest.to_vec();
                return vec![first];
            }
            if probes > 0.0 {
                // Calls went through and no transition was counted: the breaker let them pass.
                return self.resolve(1, 0);
            }
            return Vec::new();
        }
        let pending = std::mem::take(&mut self.pending);
        let counts = self.counts(def, pending.iter().map(|(k, n)| (k, *n)));
        if counts.other == 0.0 {
            let starts = match self.state {
                BreakerState::Unknown => vec![BreakerState::Closed],
                s => std::iter::once(s)
                    .chain(self.alternatives.iter().copied())
                    .collect(),
            };
            for s in starts {
                let Some(from) = events::start_state(mode, s) else {
                    continue;
                };
                let ends = events::ends(mode, counts.known, from);
                let Some((&end, rest)) = ends.split_first() else {
                    continue;
                };
                let Some(steps) = events::walk(
                    mode,
                    def.half_open_implied,
                    counts.known,
                    from,
                    end,
                    MAX_REPLAYED,
                ) else {
                    continue;
                };
                // A start other than the current state corrects an earlier ambiguous choice.
                let mut out = Vec::with_capacity(steps.len() + 1);
                if from != self.state {
                    out.push(from);
                }
                out.extend(steps);
                self.state = end;
                self.alternatives = rest.to_vec();
                return out;
            }
        }
        self.alternatives.clear();
        self.replay_greedy(def, pending)
    }

    /// Hook for evidence from outside the breaker's own series (trace calls on the edge after
    /// the last sample): `passed` calls went through, `short_circuited` were rejected by the
    /// breaker. Settles an ambiguous state: only passing calls mean closed, only rejected ones
    /// mean open, when the counts allowed that end; otherwise nothing changes. Returns the
    /// states passed through, as [`BreakerTrack::settle`] does.
    pub fn resolve(&mut self, passed: u64, short_circuited: u64) -> Vec<BreakerState> {
        let want = match (passed > 0, short_circuited > 0) {
            (true, false) => BreakerState::Closed,
            (false, true) => BreakerState::Open,
            _ => return Vec::new(),
        };
        if self.alternatives.is_empty() {
            return Vec::new();
        }
        let candidates = std::mem::take(&mut self.alternatives);
        if self.state == want || !candidates.contains(&want) {
            return Vec::new();
        }
        self.state = want;
        vec![want]
    }

    /// Whether this source counts half-open: it does when a half-open series has been seen, or
    /// when the profile does not say open → closed passes through an uncounted half-open.
    fn mode(&self, def: &BreakerDef) -> events::Mode {
        let half_seen = self
            .parts
            .keys()
            .any(|k| def.map.get(&**k) == Some(&BreakerState::HalfOpen));
        if half_seen
            || (!def.half_open_implied && def.map.values().any(|s| *s == BreakerState::HalfOpen))
        {
            events::Mode::Counted
        } else {
            events::Mode::Hidden
        }
    }

    /// Counts per target state of `(event, n)` pairs; events mapped outside the three-state
    /// machine (forced open, disabled) are summed in `other`.
    fn counts<'a>(
        &self,
        def: &BreakerDef,
        items: impl Iterator<Item = (&'a Arc<str>, f64)>,
    ) -> Tallies {
        let mut t = Tallies::default();
        for (k, n) in items {
            let n = n.round().max(0.0);
            match def.map.get(&**k) {
                Some(BreakerState::Open) => t.known.open += n as u64,
                Some(BreakerState::HalfOpen) => t.known.half_open += n as u64,
                Some(BreakerState::Closed) => t.known.close += n as u64,
                Some(_) => t.other += n,
                None => {}
            }
        }
        t
    }

    /// Counts no three-state order fits (lost samples, other states): replays the increments
    /// greedily in the order a breaker's state machine makes likely.
    fn replay_greedy(
        &mut self,
        def: &BreakerDef,
        pending: HashMap<Arc<str>, f64>,
    ) -> Vec<BreakerState> {
        let mut left: Vec<(BreakerState, f64)> = pending
            .into_iter()
            .filter_map(|(k, n)| def.map.get(&*k).map(|s| (*s, n.round())))
            .collect();
        let mut out = Vec::new();
        // Before the first event the breaker was closed: that is where breakers start.
        let mut cur = match self.state {
            BreakerState::Unknown => BreakerState::Closed,
            s => s,
        };
        if self.state == BreakerState::Unknown {
            out.push(cur);
        }
        while out.len() < MAX_REPLAYED {
            let pick = successors(cur)
                .iter()
                .find_map(|s| left.iter().position(|(t, n)| t == s && *n >= 1.0))
                .or_else(|| left.iter().position(|(t, n)| *t != cur && *n >= 1.0));
            let Some(i) = pick else { break };
            left[i].1 -= 1.0;
            let next = left[i].0;
            if def.half_open_implied && cur == BreakerState::Open && next == BreakerState::Closed {
                out.push(BreakerState::HalfOpen);
            }
            cur = next;
            out.push(cur);
        }
        self.state = cur;
        out
    }
}

/// Event counts of one batch: the three-state machine's, and the rest.
#[derive(Default)]
struct Tallies {
    known: events::Counts,
    other: f64,
}

impl Tallies {
    fn total(&self) -> u64 {
        self.known.open + self.known.half_open + self.known.close
    }
}

/// Next states in the order a breaker's state machine makes likely.
fn successors(s: BreakerState) -> &'static [BreakerState] {
    use BreakerState::*;
    match s {
        Closed => &[Open, ForcedOpen, Disabled],
        Open => &[HalfOpen, Closed],
        HalfOpen => &[Closed, Open],
        ForcedOpen | Disabled => &[Closed, Open],
        _ => &[Closed, Open, HalfOpen],
    }
}

fn ejected(n: f64, total: f64) -> BreakerState {
    if n >= 1.0 {
        BreakerState::Ejected {
            ejected: n.round().min(u32::MAX as f64) as u32,
            total: total.round().clamp(0.0, u32::MAX as f64) as u32,
        }
    } else {
        BreakerState::Closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::{Part, ProfileSet};
    use BreakerState::*;

    const S: u64 = 1_000_000_000;

    /// The builtin opossum-prometheus entry (no `halfOpen` counted).
    fn opossum() -> BreakerDef {
        ProfileSet::builtin()
            .breakers
            .iter()
            .find(|b| &*b.source == "opossum:*circuit")
            .expect("builtin opossum profile")
            .clone()
    }

    /// One sample of cumulative event counts at `t` seconds; the states passed through.
    fn sample(
        track: &mut BreakerTrack,
        def: &BreakerDef,
        t: u64,
        counts: &[(&str, f64)],
    ) -> Vec<BreakerState> {
        for (ev, v) in counts {
            track.observe(def, Part::Main, Arc::from(*ev), t * S, *v, false);
        }
        track.settle(def)
    }

    #[test]
    fn several_transitions_between_samples_ending_closed_settle_closed() {
        let def = opossum();
        let mut t = BreakerTrack::new(0, S);
        sample(&mut t, &def, 1, &[("fire", 10.0), ("success", 10.0)]);
        assert_eq!(t.state, Unknown);
        assert_eq!(
            sample(&mut t, &def, 2, &[("open", 1.0), ("failure", 5.0)]),
            vec![Closed, Open]
        );
        // Between two samples: three failed trials re-opened it, the fourth closed it, calls
        // passed after. opossum-prometheus counts open and close, not halfOpen.
        let steps = sample(
            &mut t,
            &def,
            3,
            &[
                ("open", 4.0),
                ("close", 1.0),
                ("failure", 8.0),
                ("success", 15.0),
            ],
        );
        assert_eq!(t.state, Closed, "{steps:?}");
        assert_eq!(steps.first(), Some(&HalfOpen));
        assert_eq!(steps.iter().filter(|s| **s == Open).count(), 3);
        assert_eq!(steps.last(), Some(&Closed));
        // Only passing calls after: still closed, never a transient half-open.
        assert!(sample(&mut t, &def, 4, &[("success", 40.0)]).is_empty());
        assert_eq!(t.state, Closed);
    }

    #[test]
    fn first_seen_counts_without_half_open_settle_closed() {
        let def = opossum();
        let mut t = BreakerTrack::new(0, S);
        sample(&mut t, &def, 1, &[("open", 3.0), ("close", 3.0)]);
        assert_eq!(t.state, Closed);
        let mut t = BreakerTrack::new(0, S);
        sample(&mut t, &def, 1, &[("open", 3.0), ("close", 2.0)]);
        assert_eq!(t.state, Closed, "ambiguous: closed first, open kept");
        assert!(sample(&mut t, &def, 2, &[("reject", 9.0)]).is_empty());
        assert_eq!(t.resolve(0, 9), vec![Open], "short-circuited calls decide");
    }

    #[test]
    fn the_next_counts_correct_an_ambiguous_end() {
        let def = opossum();
        let mut t = BreakerTrack::new(0, S);
        sample(&mut t, &def, 1, &[("fire", 1.0)]);
        sample(&mut t, &def, 2, &[("open", 1.0)]);
        // One re-open and one close: closed (then open kept as the other end).
        sample(&mut t, &def, 3, &[("open", 2.0), ("close", 1.0)]);
        assert_eq!(t.state, Closed);
        // A close alone only fits from open: it was open after all.
        assert_eq!(
            sample(&mut t, &def, 4, &[("open", 2.0), ("close", 2.0)]),
            vec![Open, HalfOpen, Closed]
        );
        assert_eq!(t.state, Closed);
    }
}
