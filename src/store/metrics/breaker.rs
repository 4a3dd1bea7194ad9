//! One breaker as its series show it, for every encoding a profile can name: one-hot state
//! gauges, 0/1 flags, value maps, transition-event counters, admission limits, ejections and
//! endpoint states.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::profile::{BreakerDef, Encoding, Part};
use crate::model::resilience::BreakerState;

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
    /// For events: calls that went through since the last settle (`probe_events`).
    probes: f64,
    /// The state as of the last [`BreakerTrack::settle`].
    pub state: BreakerState,
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
    /// replayed in the order a breaker's state machine allows (closed → open → half-open →
    /// closed or open), so several transitions between two scrapes are all recorded.
    fn settle_events(&mut self, def: &BreakerDef) -> Vec<BreakerState> {
        let probes = std::mem::take(&mut self.probes);
        if self.pending.is_empty() && probes > 0.0 && self.state == BreakerState::Open {
            // Calls went through while open, and no transition was counted: half-open.
            self.state = BreakerState::HalfOpen;
            return vec![BreakerState::HalfOpen];
        }
        if self.pending.is_empty() {
            if self.state == BreakerState::Unknown {
                let initial = initial_from_counts(def, &self.parts);
                if initial != BreakerState::Unknown {
                    self.state = initial;
                    return vec![initial];
                }
            }
            return Vec::new();
        }
        let mut left: Vec<(BreakerState, f64)> = self
            .pending
            .drain()
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

/// The state cumulative event counts imply when first seen: more opens than half-opens means
/// open; otherwise closed if it ever cycled, unknown if there were no transitions at all.
fn initial_from_counts(def: &BreakerDef, parts: &HashMap<Arc<str>, (u64, f64)>) -> BreakerState {
    let count = |want: BreakerState| -> f64 {
        parts
            .iter()
            .filter(|(k, _)| def.map.get(&***k) == Some(&want))
            .map(|(_, p)| p.1)
            .sum()
    };
    let (open, half, closed) = (
        count(BreakerState::Open),
        count(BreakerState::HalfOpen),
        count(BreakerState::Closed),
    );
    if open > half {
        BreakerState::Open
    } else if closed > 0.0 || half > 0.0 {
        BreakerState::Closed
    } else {
        BreakerState::Unknown
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
