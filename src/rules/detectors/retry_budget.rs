//! RTY-004 (`retry-budget`): retries over the per-client retry budget (10 %, the SRE book's
//! figure) in the worst sustained window, read from the dependency view: retries ÷ calls as the
//! store counts them (attempt chains) — the dashboard's and `report`'s retry ratio — over
//! sub-windows of the view's buckets. Budget metrics say whether a budget exists and bites:
//! the view's `retry_overflow` rate (Envoy `upstream_rq_retry_overflow`, Linkerd
//! `retry_overflow`), with its metric retry rate alongside.

use std::collections::BTreeMap;

use crate::model::edge::{BUCKET_NS, bucket_of};
use crate::model::finding::{Evidence, EvidenceExt};
use crate::model::view::DependencyView;

use super::super::context::{Context, exemplars};
use super::super::dep::{self, secs};
use super::super::params::{ParamDef, ParamKind, Params};
use super::{
    Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided, fmt_ms,
};
use crate::rules::compile::{Globs, globs};
use crate::rules::memo::Memo;

/// `retry-budget` (RTY-004).
pub const BUDGET: DetectorDef = DetectorDef {
    name: "retry-budget",
    implements: "RTY-004",
    summary: "retry attempts over the per-client retry budget (10 %), or a retry storm",
    params: &[
        ParamDef {
            name: "max_ratio",
            kind: ParamKind::Ratio,
            default: "0.10",
            doc: "retries ÷ calls that flags (SRE book budget)",
        },
        ParamDef {
            name: "critical_ratio",
            kind: ParamKind::Ratio,
            default: "0.33",
            doc: "retries ÷ calls that raises the severity when no budget bites: a storm (0.33 = the reference's 0.5 retries per logical call)",
        },
        ParamDef {
            name: "sustain",
            kind: ParamKind::Duration,
            default: "\"5m\"",
            doc: "the ratio must hold over a window this long (the whole capture when shorter)",
        },
        ParamDef {
            name: "min_calls",
            kind: ParamKind::Count,
            default: "50",
            doc: "calls (attempts) needed in that window",
        },
        ParamDef {
            name: "exclude_operations",
            kind: ParamKind::TextList,
            default: "[\"*health*\", \"*ready*\", \"*live*\"]",
            doc: "operations not counted (health checks)",
        },
    ],
    build: build_budget,
};

#[derive(Debug)]
struct Budget {
    max_ratio: f64,
    critical_ratio: f64,
    sustain_ns: u64,
    min_calls: u64,
    exclude: Globs,
}

fn build_budget(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Budget {
        max_ratio: p.number("max_ratio"),
        critical_ratio: p.number("critical_ratio"),
        sustain_ns: p.duration_ns("sustain").max(1_000_000_000),
        min_calls: p.count("min_calls").max(1),
        exclude: globs("params.exclude_operations", p.list("exclude_operations"))?,
    }))
}

/// The worst sub-window: its start, length, calls and retries.
#[derive(Clone, Copy, Debug)]
struct Worst {
    from: u64,
    len: u64,
    calls: u64,
    retries: u64,
}

impl Worst {
    fn ratio(&self) -> f64 {
        self.retries as f64 / self.calls.max(1) as f64
    }
}

impl Budget {
    /// The worst window of `sustain` (sliding by a bucket; the whole window when shorter) over
    /// the view's buckets, minus the excluded operations' calls and retries per bucket.
    fn worst(
        &self,
        v: &DependencyView,
        window: (u64, u64),
        excluded: &BTreeMap<u64, (u64, u64)>,
    ) -> (Option<Worst>, u64) {
        let buckets: Vec<(u64, u64, u64)> = v
            .series
            .buckets
            .range(bucket_of(window.0)..window.1)
            .map(|(&at, b)| {
                let (xc, xr) = excluded.get(&at).copied().unwrap_or_default();
                (at, b.calls.saturating_sub(xc), b.retries.saturating_sub(xr))
            })
            .collect();
        let span = window.1.saturating_sub(window.0);
        let first = bucket_of(window.0);
        let last = bucket_of(window.1.saturating_sub(1));
        // Whole buckets: the whole window when it is no longer than `sustain`.
        let (len, width) = if span <= self.sustain_ns {
            (span, (last - first) / BUCKET_NS + 1)
        } else {
            (self.sustain_ns, self.sustain_ns.div_ceil(BUCKET_NS).max(1))
        };
        let mut best: Option<Worst> = None;
        let mut busiest = 0u64;
        let (mut lo, mut hi, mut c, mut r) = (0usize, 0usize, 0u64, 0u64);
        let mut start = first;
        loop {
            let end = start + width * BUCKET_NS;
            while hi < buckets.len() && buckets[hi].0 < end {
                c += buckets[hi].1;
                r += buckets[hi].2;
                hi += 1;
            }
            while lo < hi && buckets[lo].0 < start {
                c -= buckets[lo].1;
                r -= buckets[lo].2;
                lo += 1;
            }
            busiest = busiest.max(c);
            let w = Worst {
                from: start.max(window.0),
                len,
                calls: c,
                retries: r,
            };
            if c >= self.min_calls && best.is_none_or(|b| w.ratio() > b.ratio()) {
                best = Some(w);
            }
            if end > last {
                break;
            }
            start += BUCKET_NS;
        }
        (best, busiest)
    }
}

impl Detector for Budget {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        let mut judged_op = Memo::new(|op| rule.op(op) && !self.exclude.matches_some(op));
        for v in cx.snap.deps.iter() {
            let (caller, depn) = (&v.key.caller, &v.key.dependency);
            if !rule.edge(caller, depn, v.kind) {
                continue;
            }
            let subject = Subject::edge(caller, depn);
            let t = &v.traffic.stats;
            if t.calls == 0 {
                if let Some(r) = v.rates.retry.filter(|r| *r > 0.0) {
                    out.undecided.push(Undecided {
                        subject,
                        missing: format!(
                            "metrics show {r:.2} retries/s but no traced calls to divide by (no request count)"
                        ),
                        samples: 0,
                    });
                }
                continue;
            }
            // Calls and retries of excluded operations (health checks), per bucket, from the
            // store's call records (the same attempt numbers the view counts).
            let idx = cx.by_edge.get(&(caller.clone(), depn.clone()));
            let mut excluded: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
            let mut in_scope: Vec<&crate::rules::context::Call> = Vec::new();
            for c in idx.into_iter().flatten().map(|&i| &cx.calls[i as usize]) {
                if judged_op.get(&c.op) {
                    in_scope.push(c);
                } else {
                    let e = excluded.entry(bucket_of(c.start)).or_default();
                    e.0 += 1;
                    e.1 += u64::from(c.attempt > 1);
                }
            }
            let (worst, busiest) = self.worst(v, cx.window, &excluded);
            let Some(w) = worst else {
                out.undecided.push(Undecided {
                    subject,
                    missing: format!(
                        "{busiest} calls in the busiest {} window, needs {}",
                        fmt_ms(
                            secs(self.sustain_ns.min(cx.window.1.saturating_sub(cx.window.0)))
                                * 1e3
                        ),
                        self.min_calls
                    ),
                    samples: t.calls,
                });
                continue;
            };
            out.checked += 1;
            let ratio = w.ratio();
            if ratio <= self.max_ratio {
                continue;
            }
            // Budget metrics: a retry_overflow series means a budget (or retry limit) exists;
            // a rate above zero means it is biting.
            let budget = match v.rates.retry_overflow {
                Some(r) if r > 0.0 => Budget_::Biting(r),
                Some(_) => Budget_::Present,
                None => Budget_::None,
            };
            let critical = ratio > self.critical_ratio && !matches!(budget, Budget_::Biting(_));
            let mut ev = Evidence::default();
            ev.add("worst_window_retry_ratio", ratio);
            ev.add("worst_window_retries", w.retries);
            ev.add("worst_window_calls", w.calls);
            ev.add("window_s", secs(w.len));
            ev.add("window_start_ns", w.from);
            ev.add("budget", self.max_ratio);
            ev.add(
                "retry_budget_metrics",
                match budget {
                    Budget_::Biting(r) => {
                        format!("present and biting: {r:.2} retries/s stopped by the budget")
                    }
                    Budget_::Present => {
                        "present, not biting (retry_overflow counter at 0)".to_string()
                    }
                    Budget_::None => {
                        "none: no retry_overflow series maps this dependency".to_string()
                    }
                },
            );
            if let Some(r) = v.rates.retry {
                ev.add("metric_retry_per_s", r);
            }
            let (xc, xr) = excluded
                .values()
                .fold((0, 0), |a, e| (a.0 + e.0, a.1 + e.1));
            if xc > 0 {
                ev.add("excluded_calls", xc);
                ev.add("excluded_retries", xr);
            }
            dep::cite(&mut ev, v);
            let msg = format!(
                "retries are {:.0}% of calls ({} of {}) over the worst {}, over the {:.0}% budget; {:.0}% over the window ({} retries of {} calls){}",
                ratio * 100.0,
                w.retries,
                w.calls,
                fmt_ms(secs(w.len) * 1e3),
                self.max_ratio * 100.0,
                v.traffic.retry_ratio() * 100.0,
                t.retries,
                t.calls,
                match budget {
                    Budget_::Biting(_) => "; a retry budget is present and biting",
                    _ if critical => "; a retry storm with no retry budget",
                    _ => "",
                }
            );
            let traces: Vec<u32> = in_scope
                .iter()
                .filter(|c| c.attempt > 1 && c.start >= w.from && c.start < w.from + w.len)
                .map(|c| c.trace)
                .collect();
            out.hits.push(Hit {
                subject,
                adjust: if critical {
                    Adjust::Raise
                } else {
                    Adjust::Keep
                },
                message: msg,
                evidence: ev,
                trace_ids: exemplars(cx, traces, 5),
                samples: w.calls,
            });
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some("no client calls in scope".into());
        }
        out
    }
}

/// What the budget metrics say.
enum Budget_ {
    /// Retries stopped per second.
    Biting(f64),
    Present,
    None,
}
