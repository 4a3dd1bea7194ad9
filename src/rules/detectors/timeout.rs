//! TMO-001 (`missing-timeout`): calls on an edge with an unbounded tail and no sign of any
//! timeout, or calls that never end (in-flight gauges, `hung`). TMO-002 is in
//! `default_timeout`. Calls long by design (long-polls, streams, uploads and exports, message
//! consumers) are left out by their semantics ([`long_lived`]).
//!
//! Timeout evidence (reference §2, TMO-001 step 2): an explicit timeout error on the edge
//! (`error.type`/exception/status message matching TIMEOUT_RE, HTTP 408/504, gRPC 4), or an
//! implicit ceiling: C = median of the top 1 % of durations, and ≥ 60 % of the calls slower than
//! 0.9·max end in error within ±max(2 %, 20 ms) of C.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::dependency::DepKind;
use crate::model::finding::{Evidence, EvidenceExt};

use super::super::context::{Call, Context, exemplars, quantile_sorted};
use super::super::dep;
use super::super::params::{ParamDef, ParamKind, Params};
use super::hung::{self, Hung, Verdict};
use super::{
    Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided, fmt_ms,
};
use crate::rules::compile::{Globs, globs};
use crate::rules::memo::Memo;

pub use super::default_timeout::{DEFAULT, PLATFORM_DEFAULTS};

/// `missing-timeout` (TMO-001).
pub const MISSING: DetectorDef = DetectorDef {
    name: "missing-timeout",
    implements: "TMO-001",
    summary: "calls with an unbounded latency tail and no timeout evidence",
    params: &[
        ParamDef {
            name: "min_calls",
            kind: ParamKind::Count,
            default: "200",
            doc: "calls needed on an edge (or `min_slow` calls above the floor)",
        },
        ParamDef {
            name: "min_slow",
            kind: ParamKind::Count,
            default: "20",
            doc: "calls above the hard floor that suffice instead of `min_calls`",
        },
        ParamDef {
            name: "hard_floor",
            kind: ParamKind::Duration,
            default: "\"30s\"",
            doc: "the slowest call must reach this (HTTP, RPC, messaging)",
        },
        ParamDef {
            name: "db_hard_floor",
            kind: ParamKind::Duration,
            default: "\"10s\"",
            doc: "the floor for database and cache calls",
        },
        ParamDef {
            name: "tail_factor",
            kind: ParamKind::Number,
            default: "10.0",
            doc: "max must reach this multiple of p50",
        },
        ParamDef {
            name: "tail_margin",
            kind: ParamKind::Duration,
            default: "\"5s\"",
            doc: "... and p50 plus this",
        },
        ParamDef {
            name: "exclude_operations",
            kind: ParamKind::TextList,
            default: "[]",
            doc: "operations that are long by design (globs), e.g. exports",
        },
        ParamDef {
            name: "hung_after",
            kind: ParamKind::Duration,
            default: "\"2m\"",
            doc: "in-flight gauge > 0 this long with no call of the edge ending: hung calls",
        },
    ],
    build: build_missing,
};

#[derive(Debug)]
struct Missing {
    min_calls: u64,
    min_slow: u64,
    floor_ms: f64,
    db_floor_ms: f64,
    tail_factor: f64,
    tail_margin_ms: f64,
    exclude: Globs,
    hung_after: u64,
}

fn build_missing(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Missing {
        min_calls: p.count("min_calls"),
        min_slow: p.count("min_slow").max(1),
        floor_ms: p.secs("hard_floor") * 1e3,
        db_floor_ms: p.secs("db_hard_floor") * 1e3,
        tail_factor: p.number("tail_factor"),
        tail_margin_ms: p.secs("tail_margin") * 1e3,
        exclude: globs("params.exclude_operations", p.list("exclude_operations"))?,
        hung_after: p.duration_ns("hung_after").max(1),
    }))
}

pub use super::long_lived::{long_lived, long_lived_reason};

/// An edge, its kind and the calls a timeout rule judges.
pub type EdgeCalls<'c> = ((Arc<str>, Arc<str>), DepKind, Vec<&'c Call>);

/// The calls of each in-scope edge that a timeout rule should judge.
pub fn edges<'c>(
    rule: RuleCtx<'_>,
    cx: &'c Context<'_>,
    exclude: Option<&Globs>,
) -> Vec<EdgeCalls<'c>> {
    let mut out = Vec::new();
    let mut judged_op = Memo::new(|op| rule.op(op) && !exclude.is_some_and(|g| g.matches_some(op)));
    for ((caller, dep), idx) in &cx.by_edge {
        let Some(first) = idx.first() else { continue };
        let kind = cx.calls[*first as usize].kind;
        if !rule.edge(caller, dep, kind) {
            continue;
        }
        let calls: Vec<&Call> = idx
            .iter()
            .filter(|&&i| !cx.is_long_lived(i as usize))
            .map(|&i| &cx.calls[i as usize])
            .filter(|c| judged_op.get(&c.op))
            .collect();
        if !calls.is_empty() {
            out.push(((caller.clone(), dep.clone()), kind, calls));
        }
    }
    out
}

/// What an edge's calls say about timeouts.
#[derive(Debug)]
pub struct TimeoutEvidence {
    /// Calls that timed out (client side: TIMEOUT_RE, gRPC 4).
    pub client_timeouts: usize,
    /// Calls answered 408/504 (a proxy or the server timed out).
    pub proxy_timeouts: usize,
    /// Implicit ceiling C in ms, with the calls near it.
    pub ceiling: Option<(f64, usize)>,
    /// Durations in ms, sorted.
    pub sorted_ms: Vec<f64>,
}

/// Step 2 of TMO-001.
pub fn timeout_evidence(calls: &[&Call]) -> TimeoutEvidence {
    let mut sorted_ms: Vec<f64> = calls.iter().map(|c| c.ms()).collect();
    sorted_ms.sort_by(f64::total_cmp);
    let proxy_timeouts = calls
        .iter()
        .filter(|c| matches!(c.http_status, Some(408 | 504)))
        .count();
    let client_timeouts = calls
        .iter()
        .filter(|c| c.timeout && !matches!(c.http_status, Some(408 | 504)))
        .count();
    TimeoutEvidence {
        client_timeouts,
        proxy_timeouts,
        ceiling: ceiling(calls, &sorted_ms),
        sorted_ms,
    }
}

/// The implicit ceiling: C = median of the top 1 %; ≥ 60 % of the calls ≥ 0.9·max lie within
/// ±max(2 %·C, 20 ms) of C and ended in error; at least 3 such calls.
fn ceiling(calls: &[&Call], sorted_ms: &[f64]) -> Option<(f64, usize)> {
    let n = sorted_ms.len();
    let max = *sorted_ms.last()?;
    let top = (n / 100).max(1);
    let tail = &sorted_ms[n - top..];
    let c = tail[tail.len() / 2];
    let tol = (0.02 * c).max(20.0);
    let slow: Vec<&&Call> = calls.iter().filter(|k| k.ms() >= 0.9 * max).collect();
    let at = slow
        .iter()
        .filter(|k| (k.ms() - c).abs() <= tol && k.error)
        .count();
    (at >= 3 && at as f64 >= 0.6 * slow.len() as f64).then_some((c, at))
}

/// p99 of the caller's own SERVER spans, ms.
fn caller_server_p99(cx: &Context<'_>, caller: &str) -> Option<f64> {
    let idx = cx.by_service.get(caller)?;
    let mut v: Vec<f64> = idx
        .iter()
        .map(|&i| {
            let s = &cx.inbound[i as usize];
            s.end.saturating_sub(s.start) as f64 / 1e6
        })
        .collect();
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, 0.99)
}

impl Detector for Missing {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        let mut hung: BTreeMap<(Arc<str>, Arc<str>), Hung> = BTreeMap::new();
        for (key, verdict) in hung::judge(rule, cx, self.hung_after) {
            match verdict {
                Verdict::Hung(h) => {
                    hung.insert(key, h);
                }
                Verdict::Undecided(u) => out.undecided.push(u),
                Verdict::Fine => {}
            }
        }
        for ((caller, dep), kind, calls) in edges(rule, cx, Some(&self.exclude)) {
            let subject = Subject::edge(&caller, &dep);
            let ev = timeout_evidence(&calls);
            let n = calls.len() as u64;
            // Timeout counters of the dependency's metrics (Envoy rq_timeout, resilience4j
            // TimeLimiter, Hystrix/opossum timeout events, Linkerd REQUEST_TIMEOUT) are explicit
            // timeout evidence too.
            let metric_timeouts = cx
                .dep(&caller, &dep)
                .and_then(|v| v.rates.timeout)
                .is_some_and(|r| r > 0.0);
            if ev.client_timeouts + ev.proxy_timeouts > 0 || ev.ceiling.is_some() || metric_timeouts
            {
                out.checked += 1;
                continue;
            }
            let s = &ev.sorted_ms;
            let (Some(p50), Some(p99), Some(p999)) = (
                quantile_sorted(s, 0.5),
                quantile_sorted(s, 0.99),
                quantile_sorted(s, 0.999),
            ) else {
                continue;
            };
            let max = s[s.len() - 1];
            let floor = if kind == DepKind::Db {
                self.db_floor_ms
            } else {
                self.floor_ms
            };
            let slow = s.iter().filter(|&&d| d >= floor).count() as u64;
            let unbounded =
                max >= (self.tail_factor * p50).max(p50 + self.tail_margin_ms) && max >= floor;
            if n < self.min_calls && slow < self.min_slow {
                out.undecided.push(Undecided {
                    subject,
                    missing: format!(
                        "{n} calls, needs {} (or {} calls ≥ {}){}",
                        self.min_calls,
                        self.min_slow,
                        fmt_ms(floor),
                        if unbounded {
                            format!("; slowest {} and no timeout seen", fmt_ms(max))
                        } else {
                            String::new()
                        }
                    ),
                    samples: n,
                });
                continue;
            }
            out.checked += 1;
            if !unbounded {
                continue;
            }
            let server_p99 = caller_server_p99(cx, &caller);
            // The calls run inside the caller's requests, so "exceeds the caller's p99" is read as
            // "makes up ≥ 90 % of it": the edge dominates the caller's latency.
            let dominates = server_p99.is_some_and(|sp| p99 >= 0.9 * sp);
            let mut slowest: Vec<&&Call> = calls.iter().collect();
            slowest.sort_by(|a, b| {
                b.dur()
                    .cmp(&a.dur())
                    .then(cx.trace_id(a.trace).cmp(&cx.trace_id(b.trace)))
            });
            let mut evidence = Evidence::default();
            evidence.add("judged_calls", n);
            evidence.add("p50_ms", p50);
            evidence.add("p99_ms", p99);
            evidence.add("p999_ms", p999);
            evidence.add("max_ms", max);
            evidence.add("calls_above_floor", slow);
            evidence.add("floor_ms", floor);
            evidence.add("timeout_errors", 0u64);
            evidence.add("ceiling", "none");
            if let Some(sp) = server_p99 {
                evidence.add("caller_server_p99_ms", sp);
            }
            let saturated = hung::caller_saturated(cx, &caller);
            if dominates {
                evidence.add(
                    "escalated",
                    "the edge's p99 is at or above the caller's own p99",
                );
            } else if saturated {
                evidence.add("escalated", "the caller's pool is saturated (BLK-001)");
            }
            if let Some(h) = hung.remove(&(caller.clone(), dep.clone())) {
                hung::add_evidence(&mut evidence, &h);
            }
            if let Some(v) = cx.dep(&caller, &dep) {
                dep::cite(&mut evidence, v);
            }
            out.hits.push(Hit {
                subject,
                adjust: if dominates || saturated {
                    Adjust::Raise
                } else {
                    Adjust::Keep
                },
                message: format!(
                    "no effective timeout: slowest call {} (p50 {}, p99 {}), {} call(s) ≥ {}, and no timeout error or latency ceiling in {n} calls",
                    fmt_ms(max), fmt_ms(p50), fmt_ms(p99), slow, fmt_ms(floor)
                ),
                evidence,
                trace_ids: exemplars(cx, slowest.iter().map(|c| c.trace), 5),
                samples: n,
            });
        }
        for ((caller, dep), h) in hung {
            let Some(v) = cx.dep(&caller, &dep) else {
                continue;
            };
            out.checked += 1;
            out.hits
                .push(hung::hit(v, &h, hung::caller_saturated(cx, &caller)));
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some("no client calls in scope".into());
        }
        out
    }
}
