//! RTY-004 (`retry-budget`): retry attempts over the per-client retry budget (10 % of logical
//! calls, the SRE book's figure) in the worst sustained window; over 50 % is a retry storm.

use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Context, exemplars};
use super::super::params::{ParamDef, ParamKind, Params};
use super::{Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided};
use crate::rules::chains::attempt_numbers;
use crate::rules::compile::{Globs, globs};

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
            doc: "retries ÷ logical calls that flags (SRE book budget)",
        },
        ParamDef {
            name: "critical_ratio",
            kind: ParamKind::Ratio,
            default: "0.5",
            doc: "ratio that raises the severity: a storm",
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
            doc: "logical calls needed in that window",
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

impl Detector for Budget {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        let k = attempt_numbers(cx);
        for ((caller, dep), idx) in &cx.by_edge {
            let Some(&first) = idx.first() else { continue };
            if !rule.edge(caller, dep, cx.calls[first as usize].kind) {
                continue;
            }
            // (start, is_retry) of the counted calls, in start order.
            let calls: Vec<(u64, bool, u32)> = idx
                .iter()
                .map(|&i| (&cx.calls[i as usize], i))
                .filter(|(c, _)| rule.op(&c.op) && !self.exclude.matches_some(&c.op))
                .map(|(c, i)| (c.start, k[i as usize] > 1, c.trace))
                .collect();
            if calls.is_empty() {
                continue;
            }
            let subject = Subject::edge(caller, dep);
            // Worst window of `sustain` (sliding by a tenth of it), or the whole span when shorter.
            let span = calls[calls.len() - 1].0 - calls[0].0;
            let w = self.sustain_ns.min(span.max(1));
            let step = (w / 10).max(1);
            let mut best: Option<(f64, u64, u64, u64)> = None; // (ratio, logical, retries, from)
            let mut lo = 0usize;
            let mut hi = 0usize;
            let mut t = calls[0].0;
            loop {
                while lo < calls.len() && calls[lo].0 < t {
                    lo += 1;
                }
                while hi < calls.len() && calls[hi].0 <= t + w {
                    hi += 1;
                }
                let retries = calls[lo..hi].iter().filter(|c| c.1).count() as u64;
                let logical = (hi - lo) as u64 - retries;
                if logical >= self.min_calls {
                    let r = retries as f64 / logical as f64;
                    if best.is_none_or(|b| r > b.0) {
                        best = Some((r, logical, retries, t));
                    }
                }
                if t + w >= calls[calls.len() - 1].0 {
                    break;
                }
                t += step;
            }
            let Some((ratio, logical, retries, from)) = best else {
                let retries = calls.iter().filter(|c| c.1).count();
                out.undecided.push(Undecided {
                    subject,
                    missing: format!(
                        "{} logical calls in the busiest window, needs {}",
                        calls.len() - retries,
                        self.min_calls
                    ),
                    samples: calls.len() as u64,
                });
                continue;
            };
            out.checked += 1;
            if ratio <= self.max_ratio {
                continue;
            }
            let critical = ratio > self.critical_ratio;
            let mut ev = Evidence::default();
            ev.add("retry_ratio", ratio);
            ev.add("retries", retries);
            ev.add("logical_calls", logical);
            ev.add("window_s", w as f64 / 1e9);
            ev.add("window_start_ns", from);
            ev.add("budget", self.max_ratio);
            ev.add("retry_budget_metrics", "none seen");
            let msg = format!(
                "retry ratio {:.0}% ({} retries for {} logical calls) exceeds the {:.0}% budget{}",
                ratio * 100.0,
                retries,
                logical,
                self.max_ratio * 100.0,
                if critical {
                    "; a retry storm with no retry budget evident"
                } else {
                    ""
                }
            );
            let traces: Vec<u32> = calls.iter().filter(|c| c.1).map(|c| c.2).collect();
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
                samples: logical + retries,
            });
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some("no client calls in scope".into());
        }
        out
    }
}
