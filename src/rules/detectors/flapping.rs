//! CB-002 (`breaker-flapping`): a breaker that opens and closes over and over, stays open, or
//! has most hosts ejected — read from the dependency view's breaker (state at the window's end,
//! its source, the transitions inside the window), from a breaker metric or inferred from
//! rejections in the traces: one definition of breaker state (`model::breaker`).

use crate::model::breaker::{BreakerState, BreakerView};
use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Context, exemplars};
use super::super::dep::{self, Breaker};
use super::super::params::{ParamDef, ParamKind, Params};
use super::breaker::breaker_rejection;
use super::{Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, fmt_ms};

/// `breaker-flapping` (CB-002).
pub const FLAPPING: DetectorDef = DetectorDef {
    name: "breaker-flapping",
    implements: "CB-002",
    summary: "breaker open/closed cycles, a breaker stuck open, or most hosts ejected",
    params: &[
        ParamDef {
            name: "cycles",
            kind: ParamKind::Count,
            default: "3",
            doc: "closed→open cycles within `period` that flag",
        },
        ParamDef {
            name: "period",
            kind: ParamKind::Duration,
            default: "\"10m\"",
            doc: "window of the cycle count",
        },
        ParamDef {
            name: "stuck",
            kind: ParamKind::Duration,
            default: "\"10m\"",
            doc: "open this long without closing is stuck",
        },
        ParamDef {
            name: "ejected_share",
            kind: ParamKind::Ratio,
            default: "0.5",
            doc: "share of hosts ejected (outlier detection) that flags",
        },
    ],
    build: build_flapping,
};

#[derive(Debug)]
struct Flapping {
    cycles: usize,
    period: u64,
    stuck: u64,
    ejected_share: f64,
}

fn build_flapping(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Flapping {
        cycles: p.count("cycles").max(1) as usize,
        period: p.duration_ns("period").max(1),
        stuck: p.duration_ns("stuck").max(1),
        ejected_share: p.number("ejected_share"),
    }))
}

impl Detector for Flapping {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        let end = cx.window.1;
        for v in cx.snap.deps.iter() {
            let (caller, depn) = (&v.key.caller, &v.key.dependency);
            let b = &v.breaker;
            if !rule.edge(caller, depn, v.kind) || dep::breaker(b) == Breaker::None {
                continue;
            }
            out.checked += 1;
            let s = states(b, cx.window.0, end);
            let opens = openings(&s);
            let max_cycles = opens
                .iter()
                .map(|&t| {
                    opens
                        .iter()
                        .filter(|&&u| u >= t && u < t + self.period)
                        .count()
                })
                .max()
                .unwrap_or(0);
            let longest = longest_open(&s, end);
            let ejected = match b.state {
                BreakerState::Ejected { ejected, total } if total > 0 => Some((ejected, total))
                    .filter(|_| f64::from(ejected) >= self.ejected_share * f64::from(total)),
                _ => None,
            };
            let flapping = max_cycles >= self.cycles;
            let stuck = longest.is_some_and(|(len, _)| len >= self.stuck);
            if !flapping && !stuck && ejected.is_none() {
                continue;
            }
            let source = dep::breaker(b);
            let inferred = if source == Breaker::Inferred {
                " (inferred)"
            } else {
                ""
            };
            let mut ev = Evidence::default();
            ev.add("state_source", source.source());
            ev.add("state", b.state.to_string());
            ev.add("openings_in_period", max_cycles);
            ev.add("transitions", b.transitions.len());
            if let Some((len, forced)) = longest {
                ev.add("longest_open_s", len as f64 / 1e9);
                if forced {
                    ev.add("forced_open", "held open by an operator (forced_open)");
                }
            }
            dep::cite(&mut ev, v);
            let message = if flapping {
                format!(
                    "breaker flapping{inferred}: opened {max_cycles} times within {}",
                    fmt_ms(self.period as f64 / 1e6)
                )
            } else if stuck {
                format!(
                    "breaker stuck open{inferred} for {}",
                    fmt_ms(longest.map_or(0, |l| l.0) as f64 / 1e6)
                )
            } else {
                let (e, t) = ejected.unwrap_or_default();
                format!("ejection pressure: {e} of {t} hosts ejected")
            };
            let rej: Vec<u32> = cx
                .by_edge
                .get(&(caller.clone(), depn.clone()))
                .map(|idx| {
                    idx.iter()
                        .map(|&i| &cx.calls[i as usize])
                        .filter(|c| breaker_rejection(c))
                        .map(|c| c.trace)
                        .collect()
                })
                .unwrap_or_default();
            out.hits.push(Hit {
                subject: Subject::edge(caller, depn),
                adjust: Adjust::Keep,
                message,
                evidence: ev,
                trace_ids: exemplars(cx, rej, 5),
                samples: v.traffic.stats.calls.max(b.transitions.len() as u64),
            });
        }
        if out.checked == 0 {
            out.missing = Some("no breaker state: no breaker metric maps an edge in scope and no breaker rejections (short-circuit errors) in traces".into());
        }
        out
    }
}

/// The breaker's states over `[from, to)`: the state at `from` and each transition after.
fn states(b: &BreakerView, from: u64, to: u64) -> Vec<(u64, BreakerState)> {
    let first = b.transitions.first().map_or(b.state, |t| t.from);
    let mut out = vec![(from.min(to), first)];
    out.extend(
        b.transitions
            .iter()
            .filter(|t| t.at_ns < to)
            .map(|t| (t.at_ns.max(from), t.to)),
    );
    out
}

/// Times the breaker opened after having closed (open→(half-open)→closed→open is one cycle;
/// a failed half-open trial re-opening is not).
fn openings(states: &[(u64, BreakerState)]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut closed = states
        .first()
        .is_some_and(|s| matches!(s.1, BreakerState::Closed | BreakerState::Unknown));
    for (i, (at, s)) in states.iter().enumerate() {
        if s.is_open() {
            if closed && i > 0 {
                out.push(*at);
            }
            closed = false;
        } else if *s == BreakerState::Closed {
            closed = true;
        }
    }
    out
}

/// The longest time the breaker stayed open without closing (re-openings after failed
/// half-open trials included), and whether it was forced open.
fn longest_open(states: &[(u64, BreakerState)], end: u64) -> Option<(u64, bool)> {
    let mut best: Option<(u64, bool)> = None;
    let mut open_since: Option<(u64, bool)> = None;
    for &(at, s) in states
        .iter()
        .chain(std::iter::once(&(end, BreakerState::Closed)))
    {
        let forced = s == BreakerState::ForcedOpen;
        match open_since {
            None if s.is_open() => open_since = Some((at, forced)),
            Some((since, f)) if s.is_open() => open_since = Some((since, f || forced)),
            // A half-open trial that fails re-opens: still not closed.
            Some(_) if s == BreakerState::HalfOpen => {}
            Some((since, f)) => {
                let len = at.saturating_sub(since);
                if best.is_none_or(|b| len > b.0) {
                    best = Some((len, f));
                }
                open_since = None;
            }
            None => {}
        }
    }
    best
}
