//! BLK-001 (`saturation`): pool, bulkhead and queue saturation, read from the dependency view's
//! gauges (reference §2, BLK-001): utilisation U = used ÷ max and queue depth Q from the gauges a
//! profile maps (HikariCP, resilience4j bulkheads, Hystrix thread pools, Envoy pending requests,
//! HAProxy queues, executors, OTel `db.client.connection.*`), over the view's gauge history so
//! that "sustained" is judged on every sample of the window, and the `overflow` rate (calls a
//! full pool, bulkhead or queue refused).
//!
//! Warn when U ≥ `utilization` for `sustain` or Q > 0 for `queue_sustain`; raise when U = 1
//! while Q grows for `critical_sustain`, when a bounded queue reaches its capacity (it refuses
//! or blocks what comes next), or when any overflow rate is > 0. A Little's-law
//! estimate (L = λ·W from the traces) never triggers it: without gauges the rule reports
//! insufficient data with the estimate as a sizing hint.

use crate::model::finding::{Evidence, EvidenceExt};
use crate::model::view::{DependencyView, GaugeSample};

use super::super::context::{Context, exemplars};
use super::super::dep::{self, Run, covered_ns, longest, secs};
use super::super::params::{ParamDef, ParamKind, Params};
use super::{
    Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided, fmt_ms,
};

/// `saturation` (BLK-001).
pub const SATURATION: DetectorDef = DetectorDef {
    name: "saturation",
    implements: "BLK-001",
    summary: "pools, bulkheads and queues at capacity (utilisation, queue and overflow gauges)",
    params: &[
        ParamDef {
            name: "utilization",
            kind: ParamKind::Ratio,
            default: "0.8",
            doc: "utilisation U that warns when held for `sustain`",
        },
        ParamDef {
            name: "sustain",
            kind: ParamKind::Duration,
            default: "\"5m\"",
            doc: "how long U must hold",
        },
        ParamDef {
            name: "queue_sustain",
            kind: ParamKind::Duration,
            default: "\"1m\"",
            doc: "how long a non-empty queue must last",
        },
        ParamDef {
            name: "critical_sustain",
            kind: ParamKind::Duration,
            default: "\"2m\"",
            doc: "how long U = 1 with a growing queue must last to raise the severity",
        },
        ParamDef {
            name: "hint_min_concurrency",
            kind: ParamKind::Number,
            default: "1.0",
            doc: "without gauges, list edges whose estimated concurrency λ·W reaches this",
        },
    ],
    build,
};

#[derive(Debug)]
struct Saturation {
    utilization: f64,
    sustain: u64,
    queue_sustain: u64,
    critical_sustain: u64,
    hint_min: f64,
}

fn build(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Saturation {
        utilization: p.number("utilization"),
        sustain: p.duration_ns("sustain").max(1),
        queue_sustain: p.duration_ns("queue_sustain").max(1),
        critical_sustain: p.duration_ns("critical_sustain").max(1),
        hint_min: p.number("hint_min_concurrency"),
    }))
}

/// Full: used = max (gauges give integers; allow rounding of a ratio of sums).
const FULL: f64 = 0.999;

fn queued(g: &GaugeSample) -> bool {
    g.queue_depth.is_some_and(|q| q > 0.0)
}

/// What the gauges of one dependency say.
struct Judged {
    high: Option<Run>,
    queue: Option<Run>,
    /// A run of U = 1 with a non-empty queue that lasted `critical_sustain` and ended with more
    /// queued than it began with: (run, depth at its start, depth at its end).
    growing: Option<(Run, f64, f64)>,
    /// The queue reached its capacity: (most queued, capacity then).
    full: Option<(f64, f64)>,
    overflow: Option<f64>,
}

impl Saturation {
    fn judge(&self, v: &DependencyView, end: u64) -> Judged {
        let g = &v.gauges;
        let high = longest(g, end, |s| {
            s.pool_utilisation.is_some_and(|u| u >= self.utilization)
        });
        let queue = longest(g, end, queued);
        let growing = dep::runs(g, end, |s| {
            s.pool_utilisation.is_some_and(|u| u >= FULL) && queued(s)
        })
        .into_iter()
        .filter(|r| r.len_ns() >= self.critical_sustain)
        .filter_map(|r| {
            let a = g[r.first].queue_depth?;
            let b = g[r.last].queue_depth?;
            (b > a).then_some((r, a, b))
        })
        .max_by(|x, y| (x.2 - x.1).total_cmp(&(y.2 - y.1)));
        let full = g
            .iter()
            .filter_map(|s| Some((s.queue_depth?, s.queue_capacity.filter(|c| *c > 0.0)?)))
            .filter(|(d, c)| d >= c)
            .max_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
        Judged {
            high,
            queue,
            growing,
            full,
            overflow: v.rates.overflow,
        }
    }
}

impl Detector for Saturation {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        let end = cx.window.1;
        for v in cx.snap.deps.iter() {
            let (caller, depn) = (&v.key.caller, &v.key.dependency);
            if !rule.edge(caller, depn, v.kind) {
                continue;
            }
            let subject = Subject::edge(caller, depn);
            let has_gauges = v
                .gauges
                .iter()
                .any(|s| s.pool_utilisation.is_some() || s.queue_depth.is_some());
            if !has_gauges && v.rates.overflow.is_none() {
                let Some(l) = dep::little(v).filter(|l| *l >= self.hint_min) else {
                    continue;
                };
                out.undecided.push(Undecided {
                    subject,
                    missing: format!(
                        "no pool, bulkhead or queue gauge maps this dependency; Little's law estimates {l:.1} calls in flight on average (λ·W from the traces: a sizing hint, not a saturation signal)"
                    ),
                    samples: v.traffic.stats.calls,
                });
                continue;
            }
            let j = self.judge(v, end);
            let warn_u = j.high.filter(|r| r.len_ns() >= self.sustain);
            let warn_q = j.queue.filter(|r| r.len_ns() >= self.queue_sustain);
            let overflowing = j.overflow.is_some_and(|r| r > 0.0);
            let critical = j.growing.is_some() || j.full.is_some() || overflowing;
            if warn_u.is_none() && warn_q.is_none() && !critical {
                // High (or queued) all along, but the history is shorter than `sustain`.
                let covered = covered_ns(&v.gauges, end);
                let all_along =
                    |r: Option<Run>| r.is_some_and(|r| covered > 0 && r.len_ns() >= covered);
                let short = if all_along(j.high) && covered < self.sustain {
                    Some(format!(
                        "utilisation ≥ {:.0}% for all {} of gauge history, needs {}",
                        self.utilization * 100.0,
                        fmt_ms(secs(covered) * 1e3),
                        fmt_ms(self.sustain as f64 / 1e6)
                    ))
                } else if all_along(j.queue) && covered < self.queue_sustain {
                    Some(format!(
                        "a queue for all {} of gauge history, needs {}",
                        fmt_ms(secs(covered) * 1e3),
                        fmt_ms(self.queue_sustain as f64 / 1e6)
                    ))
                } else {
                    None
                };
                match short {
                    Some(missing) => out.undecided.push(Undecided {
                        subject,
                        missing,
                        samples: v.gauges.len() as u64,
                    }),
                    None => out.checked += 1,
                }
                continue;
            }
            out.checked += 1;
            out.hits
                .push(self.hit(cx, v, subject, &j, warn_u, warn_q, critical));
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some(
                "no pool, bulkhead or queue gauges for any dependency in scope (needs a metrics source a profile maps: HikariCP, resilience4j bulkhead, Hystrix thread pool, Envoy pending, HAProxy queue, executor or db.client.connection.* series)".into(),
            );
        }
        out
    }
}

impl Saturation {
    #[allow(clippy::too_many_arguments)]
    fn hit(
        &self,
        cx: &Context<'_>,
        v: &DependencyView,
        subject: Subject,
        j: &Judged,
        warn_u: Option<Run>,
        warn_q: Option<Run>,
        critical: bool,
    ) -> Hit {
        let mut ev = Evidence::default();
        let mut what: Vec<String> = Vec::new();
        if let Some(u) = v.pool_utilisation {
            ev.add("pool_utilisation", u);
        }
        if let Some(h) = j.high {
            ev.add("utilisation_high_s", secs(h.len_ns()));
        }
        if let Some(r) = warn_u {
            what.push(format!(
                "utilisation ≥ {:.0}% for {}",
                self.utilization * 100.0,
                fmt_ms(secs(r.len_ns()) * 1e3)
            ));
        }
        if let Some(q) = v.queue.as_ref().filter(|q| !q.estimated()) {
            ev.add("queue_depth", q.depth);
            if let Some(c) = q.capacity {
                ev.add("queue_capacity", c);
            }
        }
        let max_q = v
            .gauges
            .iter()
            .filter_map(|s| s.queue_depth)
            .fold(None, |m: Option<f64>, q| Some(m.map_or(q, |m| m.max(q))));
        if let Some(m) = max_q {
            ev.add("queue_depth_max", m);
        }
        if let Some(q) = j.queue {
            ev.add("queue_non_empty_s", secs(q.len_ns()));
        }
        if let Some(r) = warn_q {
            what.push(format!(
                "a queue for {} (up to {:.0})",
                fmt_ms(secs(r.len_ns()) * 1e3),
                max_q.unwrap_or(0.0)
            ));
        }
        if let Some((r, a, b)) = j.growing {
            ev.add("full_with_growing_queue_s", secs(r.len_ns()));
            ev.add("queue_growth", format!("{a:.0} → {b:.0}"));
            what.push(format!(
                "full with the queue growing {a:.0} → {b:.0} over {}",
                fmt_ms(secs(r.len_ns()) * 1e3)
            ));
        }
        if let Some((d, c)) = j.full {
            ev.add(
                "queue_full",
                format!("{d:.0} queued of a capacity of {c:.0}"),
            );
            what.push(format!("the queue reached its capacity ({d:.0} of {c:.0})"));
        }
        if let Some(o) = j.overflow {
            ev.add("overflow_per_s", o);
            if o > 0.0 {
                what.push(format!("{o:.2} calls/s refused as overflow"));
            }
        }
        ev.add("gauge_samples", v.gauges.len());
        if let Some(l) = dep::little(v) {
            ev.add("little_law_concurrency", l);
        }
        if let Some(p) = v.latency.p99 {
            ev.add("p99_ms", p.ms);
        }
        dep::cite(&mut ev, v);
        if critical {
            ev.add(
                "escalated",
                "full with a growing queue, a queue at its capacity, or calls refused as overflow",
            );
        }
        // The slowest traced calls while it was saturated: the ones that waited.
        let run = j.growing.map(|g| g.0).or(warn_u).or(warn_q);
        let mut calls: Vec<&crate::rules::context::Call> = cx
            .by_edge
            .get(&(v.key.caller.clone(), v.key.dependency.clone()))
            .map(|idx| idx.iter().map(|&i| &cx.calls[i as usize]).collect())
            .unwrap_or_default();
        if let Some(r) = run {
            calls.retain(|c| c.start >= r.from_ns && c.start < r.to_ns);
        }
        calls.sort_by(|a, b| {
            b.dur()
                .cmp(&a.dur())
                .then(cx.trace_id(a.trace).cmp(&cx.trace_id(b.trace)))
        });
        Hit {
            subject,
            adjust: if critical {
                Adjust::Raise
            } else {
                Adjust::Keep
            },
            message: format!("saturated: {}", what.join("; ")),
            evidence: ev,
            trace_ids: exemplars(cx, calls.iter().map(|c| c.trace), 5),
            samples: v.gauges.len() as u64,
        }
    }
}
