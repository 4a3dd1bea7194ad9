//! The recovery herd of RTY-002 (`retry-storm`): when a dependency comes back after an outage
//! (or its callers' breakers close), the requests every caller held back arrive in the same
//! instant.
//!
//! Calls to the dependency are binned at `herd_window`. An outage is a bin with ≥ 3 calls of which
//! ≥ 50 % failed (error, timeout or short-circuit); it starts with the run of bins with failures
//! that leads up to it, after a healthy stretch (up to 30 s, ≥ 10 calls, < 5 % failed); it lasts while bins fail or stay empty (open breakers send
//! nothing). Recovery is the first successful call after the outage's last failure. The arrivals
//! at the dependency in the `herd_window` after recovery — its SERVER spans when it emits them,
//! else its callers' calls — are compared with the pre-incident rate: ≥ `herd_factor` × flags
//! when they come from ≥ `min_instances` caller instances.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Call, Context, exemplars};
use super::{Adjust, Hit, Subject, Undecided};

/// Healthy stretch before an outage that sets the baseline, at most.
const PRE_NS: u64 = 30_000_000_000;

/// The recovery-herd check's settings.
#[derive(Debug)]
pub struct Herd {
    /// Rate after recovery / pre-incident rate that flags.
    pub factor: f64,
    /// Window after recovery, and the bin width.
    pub window_ns: u64,
    /// Caller instances needed in the herd.
    pub min_instances: usize,
}

/// What the check found for one dependency.
#[derive(Debug)]
pub enum HerdResult {
    /// No outage followed by a recovery: nothing to judge.
    NoOutage,
    /// An outage and recovery, without a herd.
    Passed,
    /// An outage and recovery, with too little traffic to judge.
    Undecided(Undecided),
    /// A recovery herd.
    Found(Box<Hit>),
}

fn failed(c: &Call) -> bool {
    c.error || c.timeout || c.outcome.short_circuit
}

/// (onset, last failure, recovery, healthy-stretch start) of the first outage with a recovery.
fn outage(cx: &Context<'_>, idx: &[u32], w: u64) -> Option<(u64, u64, u64, u64)> {
    let start = cx.calls[*idx.first()? as usize].start;
    let mut bins: BTreeMap<u64, (u32, u32)> = BTreeMap::new();
    for &i in idx {
        let c = &cx.calls[i as usize];
        let e = bins.entry((c.start - start) / w).or_default();
        e.0 += 1;
        e.1 += u32::from(failed(c));
    }
    let pre_bins = (PRE_NS / w).max(3);
    for (&b, &(n, f)) in &bins {
        if n < 3 || f * 2 < n {
            continue;
        }
        // The outage began with the run of bins with failures that leads up to this one.
        let mut first = b;
        while first > 0 && bins.get(&(first - 1)).is_some_and(|v| v.1 > 0) {
            first -= 1;
        }
        if first < 3 {
            continue;
        }
        let (pn, pf) = bins
            .range(first.saturating_sub(pre_bins)..first)
            .fold((0, 0), |a, (_, v)| (a.0 + v.0, a.1 + v.1));
        if pn < 10 || pf as f64 >= 0.05 * pn as f64 {
            continue;
        }
        let onset = start + first * w;
        // The outage lasts while bins fail (or are empty); it ends at the first healthy bin.
        let end_bin = bins
            .range(b..)
            .find(|(_, v)| v.1 * 2 < v.0)
            .map(|(k, _)| *k)?;
        let hi = start + (end_bin + 1) * w;
        let in_outage = idx
            .iter()
            .map(|&i| &cx.calls[i as usize])
            .filter(|c| c.start >= onset && c.start < hi);
        let last_fail = in_outage.filter(|c| failed(c)).map(|c| c.start).max()?;
        let recovery = idx
            .iter()
            .map(|&i| &cx.calls[i as usize])
            .filter(|c| c.start > last_fail && !failed(c))
            .map(|c| c.start)
            .min()?;
        let pre_from = onset.saturating_sub(PRE_NS).max(start);
        return Some((onset, last_fail, recovery, pre_from));
    }
    None
}

impl Herd {
    /// Checks one dependency's calls (in start order).
    pub fn run(&self, cx: &Context<'_>, dep: &Arc<str>, idx: &[u32]) -> HerdResult {
        let Some((onset, last_fail, recovery, pre_from)) = outage(cx, idx, self.window_ns) else {
            return HerdResult::NoOutage;
        };
        // Arrival times: the dependency's SERVER spans, else the calls.
        let server_side = cx.is_service(dep);
        let arrivals: Vec<(u64, u32)> = if server_side {
            cx.by_service[dep]
                .iter()
                .map(|&i| (cx.inbound[i as usize].start, cx.inbound[i as usize].trace))
                .collect()
        } else {
            idx.iter()
                .map(|&i| (cx.calls[i as usize].start, cx.calls[i as usize].trace))
                .collect()
        };
        let pre = arrivals
            .iter()
            .filter(|a| a.0 >= pre_from && a.0 < onset)
            .count();
        let pre_s = (onset - pre_from) as f64 / 1e9;
        let herd_end = recovery + self.window_ns;
        let peak: Vec<u32> = arrivals
            .iter()
            .filter(|a| a.0 >= recovery && a.0 < herd_end)
            .map(|a| a.1)
            .collect();
        let instances: BTreeSet<Arc<str>> = idx
            .iter()
            .map(|&i| &cx.calls[i as usize])
            .filter(|c| c.start >= recovery && c.start < herd_end)
            .filter_map(|c| c.caller_instance.clone().or_else(|| Some(c.caller.clone())))
            .collect();
        let subject = Subject::service(dep);
        if pre < 10 || pre_s <= 0.0 {
            return HerdResult::Undecided(Undecided {
                subject,
                missing: format!(
                    "an outage and a recovery, but {pre} arrivals before it to set the baseline (needs 10)"
                ),
                samples: pre as u64,
            });
        }
        let window_s = self.window_ns as f64 / 1e9;
        let base = pre as f64 / pre_s;
        let ratio = peak.len() as f64 / (base * window_s);
        if ratio < self.factor || instances.len() < self.min_instances {
            return HerdResult::Passed;
        }
        let mut ev = Evidence::default();
        ev.add("pattern", "recovery herd");
        ev.add("outage_from_ns", onset);
        ev.add("outage_to_ns", last_fail);
        ev.add("recovery_ns", recovery);
        ev.add("baseline_per_s", base);
        ev.add("arrivals_in_window", peak.len());
        ev.add("window_ms", window_s * 1e3);
        ev.add("rate_ratio", ratio);
        ev.add(
            "arrivals_from",
            if server_side {
                "server spans"
            } else {
                "client calls"
            },
        );
        ev.add(
            "caller_instances",
            instances
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        );
        HerdResult::Found(Box::new(Hit {
            subject,
            adjust: Adjust::Keep,
            message: format!(
                "recovery herd: {} requests from {} caller instances hit {dep} within {:.0} ms of its recovery after a {:.1} s outage, {ratio:.1}× the {base:.1}/s before the outage",
                peak.len(),
                instances.len(),
                window_s * 1e3,
                (last_fail - onset) as f64 / 1e9
            ),
            evidence: ev,
            trace_ids: exemplars(cx, peak.iter().copied(), 5),
            samples: peak.len() as u64,
        }))
    }
}
