//! TMO-001's hung-call path (reference §2, TMO-001 step 4a): a span is exported only when its
//! call ends, so a call that never returns leaves no client span; only the in-flight gauges see
//! it (`http.client.active_requests`, Envoy `upstream_rq_active`; the view's `in_flight`). Calls
//! hang when the dependency view's in-flight history stays > 0 for `hung_after` while no traced
//! call of the edge ends in that time.

use std::sync::Arc;

use crate::model::finding::{Evidence, EvidenceExt};
use crate::model::view::DependencyView;

use super::super::context::Context;
use super::super::dep::{self, Run, secs};
use super::{Adjust, Hit, RuleCtx, Subject, Undecided, fmt_ms};

/// An edge: (caller, dependency).
pub type EdgeId = (Arc<str>, Arc<str>);

/// Hung calls on one dependency.
#[derive(Clone, Copy, Debug)]
pub struct Hung {
    /// The stretch during which calls were in flight and none ended.
    pub run: Run,
    /// Most calls in flight during it.
    pub max_in_flight: f64,
}

/// What the in-flight gauges say of one dependency in scope.
pub enum Verdict {
    /// Calls hung.
    Hung(Hung),
    /// In flight for long with nothing traced to tell hung calls from busy ones.
    Undecided(Undecided),
    /// Judged: no hung calls.
    Fine,
}

/// The verdict for every dependency in scope with an in-flight history, keyed by edge.
pub fn judge(rule: RuleCtx<'_>, cx: &Context<'_>, hung_after: u64) -> Vec<(EdgeId, Verdict)> {
    let end = cx.window.1;
    let mut out = Vec::new();
    for v in cx.snap.deps.iter() {
        let (caller, dependency) = (&v.key.caller, &v.key.dependency);
        if !rule.edge(caller, dependency, v.kind) || !v.gauges.iter().any(|g| g.in_flight.is_some())
        {
            continue;
        }
        let key = (caller.clone(), dependency.clone());
        let calls = cx.by_edge.get(&key);
        // Runs of calls in flight with no call of the edge ending inside.
        let ends: Vec<u64> = calls
            .map(|idx| idx.iter().map(|&i| cx.calls[i as usize].end).collect())
            .unwrap_or_default();
        let stuck = dep::runs(&v.gauges, end, |g| g.in_flight.is_some_and(|n| n > 0.0))
            .into_iter()
            .flat_map(|r| quiet_parts(r, &ends))
            .filter(|r| r.len_ns() >= hung_after)
            .max_by_key(Run::len_ns);
        let Some(run) = stuck else {
            out.push((key, Verdict::Fine));
            continue;
        };
        let max_in_flight = v.gauges[run.first..=run.last]
            .iter()
            .filter_map(|g| g.in_flight)
            .fold(0.0, f64::max);
        // Without any trace from the caller, nothing tells hung calls from untraced busy ones.
        let caller_traced =
            cx.by_service.contains_key(caller) || cx.by_edge.keys().any(|(c, _)| c == caller);
        let verdict = if caller_traced {
            Verdict::Hung(Hung { run, max_in_flight })
        } else {
            Verdict::Undecided(Undecided {
                subject: Subject::edge(caller, dependency),
                missing: format!(
                    "{max_in_flight:.0} call(s) in flight for {} with none ending, but no traces from {caller} to tell hung calls from untraced ones",
                    fmt_ms(secs(run.len_ns()) * 1e3)
                ),
                samples: v.gauges.len() as u64,
            })
        };
        out.push((key, verdict));
    }
    out
}

/// The parts of `r` between the ends of traced calls (`ends` unsorted): a call that ends
/// inside the run shows the edge was not stuck at that moment.
fn quiet_parts(r: Run, ends: &[u64]) -> Vec<Run> {
    let mut inside: Vec<u64> = ends
        .iter()
        .copied()
        .filter(|e| *e >= r.from_ns && *e < r.to_ns)
        .collect();
    inside.sort_unstable();
    let mut out = Vec::new();
    let mut from = r.from_ns;
    for e in inside.into_iter().chain(std::iter::once(r.to_ns)) {
        if e > from {
            out.push(Run {
                from_ns: from,
                to_ns: e,
                ..r
            });
        }
        from = e;
    }
    out
}

/// Adds what the gauges showed to a finding's evidence.
pub fn add_evidence(ev: &mut Evidence, h: &Hung) {
    ev.add("in_flight_max", h.max_in_flight);
    ev.add("in_flight_without_completion_s", secs(h.run.len_ns()));
    ev.add("in_flight_from_ns", h.run.from_ns);
    ev.add(
        "in_flight_source",
        "in-flight gauges (http.client.active_requests, Envoy upstream_rq_active): calls that never end export no span",
    );
}

/// The finding for hung calls alone (no unbounded tail in the traces).
pub fn hit(v: &DependencyView, h: &Hung, raise: bool) -> Hit {
    let mut ev = Evidence::default();
    add_evidence(&mut ev, h);
    dep::cite(&mut ev, v);
    Hit {
        subject: Subject::edge(&v.key.caller, &v.key.dependency),
        adjust: if raise { Adjust::Raise } else { Adjust::Keep },
        message: format!(
            "calls that never end: {:.0} call(s) in flight for {} and none of the edge's calls ended (in-flight gauges; hung calls export no span)",
            h.max_in_flight,
            fmt_ms(secs(h.run.len_ns()) * 1e3)
        ),
        evidence: ev,
        trace_ids: Vec::new(),
        samples: v.gauges.len() as u64,
    }
}

/// Whether the caller also shows pool saturation (reference TMO-001 step 5): one of its
/// dependencies' pools is full at the window's end, or refuses calls as overflow.
pub fn caller_saturated(cx: &Context<'_>, caller: &str) -> bool {
    cx.snap.deps.iter().any(|d| {
        &*d.key.caller == caller
            && (d.pool_utilisation.is_some_and(|u| u >= 0.999)
                || d.rates.overflow.is_some_and(|o| o > 0.0))
    })
}
