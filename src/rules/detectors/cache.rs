//! CACHE-001 (`cache-hit-ratio`) and CACHE-002 (`uncached-read`).
//!
//! `cache-hit-ratio`: a dependency whose view has cache lookups (`DependencyView::cache`: hit/
//! miss counters a profile maps, else traced lookups with a known result) with ≥ `min_gets`
//! lookups in the window and a hit ratio under `min_hit_ratio`: the cache costs a round trip on
//! nearly every read and saves little.
//!
//! `uncached-read`: one service repeats the same slow read — a database read with the identical
//! statement, or an HTTP `GET` of the identical URL — in ≥ `min_repeats` different traces within
//! `within` of each other, each taking ≥ `min_duration` (median), and the service has no cache
//! dependency at all (no view of it with cache lookups). Reads from different traces only, so one
//! request's loop (N+1, N1-001) is not counted again here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::model::cache::{CACHE_SYSTEMS, lookup_result};
use crate::model::dependency::DepKind;
use crate::model::finding::{Evidence, EvidenceExt};
use crate::model::span::Span;

use super::super::context::{Call, Context, exemplars, median};
use super::super::dep;
use super::super::params::{ParamDef, ParamKind, Params};
use super::{BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, Undecided, fmt_ms};

/// `cache-hit-ratio` (CACHE-001).
pub const HIT_RATIO: DetectorDef = DetectorDef {
    name: "cache-hit-ratio",
    implements: "CACHE-001",
    summary: "a cache that rarely hits",
    params: &[
        ParamDef {
            name: "min_hit_ratio",
            kind: ParamKind::Ratio,
            default: "0.5",
            doc: "hit ratio under which a cache is reported",
        },
        ParamDef {
            name: "min_gets",
            kind: ParamKind::Count,
            default: "100",
            doc: "lookups in the window before the ratio is judged",
        },
    ],
    build: build_ratio,
};

/// `uncached-read` (CACHE-002).
pub const UNCACHED: DetectorDef = DetectorDef {
    name: "uncached-read",
    implements: "CACHE-002",
    summary: "an expensive read repeated across requests with no cache in front",
    params: &[
        ParamDef {
            name: "min_repeats",
            kind: ParamKind::Count,
            default: "10",
            doc: "traces repeating the identical read within `within`",
        },
        ParamDef {
            name: "within",
            kind: ParamKind::Duration,
            default: "\"60s\"",
            doc: "how close together the repeats start",
        },
        ParamDef {
            name: "min_duration",
            kind: ParamKind::Duration,
            default: "\"50ms\"",
            doc: "median duration of the read for it to count as expensive",
        },
    ],
    build: build_uncached,
};

#[derive(Debug)]
struct HitRatio {
    min_ratio: f64,
    min_gets: u64,
}

fn build_ratio(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(HitRatio {
        min_ratio: p.number("min_hit_ratio"),
        min_gets: p.count("min_gets"),
    }))
}

impl Detector for HitRatio {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        for v in cx.snap.deps.iter() {
            let (caller, dependency) = (&v.key.caller, &v.key.dependency);
            let Some(c) = v.cache else { continue };
            if !rule.edge(caller, dependency, v.kind) {
                continue;
            }
            let subject = Subject::edge(caller, dependency);
            let gets = c.gets();
            let Some(ratio) = c.hit_ratio().filter(|_| gets >= self.min_gets as f64) else {
                out.undecided.push(Undecided {
                    subject,
                    missing: format!("{gets:.0} lookups, needs {}", self.min_gets),
                    samples: gets as u64,
                });
                continue;
            };
            out.checked += 1;
            if ratio >= self.min_ratio {
                continue;
            }
            let mut ev = Evidence::default();
            ev.add("cache_hits", c.hits);
            ev.add("cache_misses", c.misses);
            ev.add("cache_gets", gets);
            ev.add("cache_hit_ratio", ratio);
            ev.add("min_hit_ratio", self.min_ratio);
            ev.add("cache_source", c.source.as_str());
            dep::cite(&mut ev, v);
            let misses = cx
                .by_edge
                .get(&(caller.clone(), dependency.clone()))
                .into_iter()
                .flatten()
                .map(|&i| &cx.calls[i as usize])
                .filter(|c| lookup_result(cx.span(c)) == Some(false))
                .map(|c| c.trace);
            out.hits.push(Hit {
                subject,
                message: format!(
                    "cache hits {:.1}% of {gets:.0} lookups ({:.0} hits, {:.0} misses, from {}); under {:.0}%",
                    ratio * 100.0,
                    c.hits,
                    c.misses,
                    c.source.as_str(),
                    self.min_ratio * 100.0
                ),
                evidence: ev,
                trace_ids: exemplars(cx, misses, 5),
                samples: gets as u64,
                ..Hit::default()
            });
        }
        if out.checked == 0 && out.undecided.is_empty() {
            out.missing = Some("no cache dependency in scope (no hit/miss counters, no traced lookups with a result)".into());
        }
        out
    }
}

#[derive(Debug)]
struct Uncached {
    min_repeats: u64,
    within_ns: u64,
    min_duration_ns: u64,
}

fn build_uncached(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Uncached {
        min_repeats: p.count("min_repeats").max(2),
        within_ns: p.duration_ns("within"),
        min_duration_ns: p.duration_ns("min_duration"),
    }))
}

/// (caller, dependency, identical statement or URL).
type ReadKey = (Arc<str>, Arc<str>, String);

const STATEMENT: &[&str] = &["db.query.text", "db.statement"];
const DB_OPERATION: &[&str] = &["db.operation.name", "db.operation"];
const DB_SYSTEM: &[&str] = &["db.system.name", "db.system"];
const URL: &[&str] = &["url.full", "http.url"];
const METHOD: &[&str] = &["http.request.method", "http.method"];
/// Database operations (first word of the statement, or `db.operation`) that read.
const READS: &[&str] = &[
    "select",
    "find",
    "get",
    "query",
    "scan",
    "aggregate",
    "count",
];

/// The identity of a read: its identical statement or URL. `None` for writes, cache stores
/// themselves, and calls without a statement or URL.
fn read_key(kind: DepKind, span: &Span) -> Option<String> {
    let a = &span.attributes;
    match kind {
        DepKind::Db => {
            let system = a.first_str(DB_SYSTEM).unwrap_or("");
            if CACHE_SYSTEMS.iter().any(|s| system.eq_ignore_ascii_case(s)) {
                return None;
            }
            let stmt = a.first_str(STATEMENT)?;
            let op = a
                .first_str(DB_OPERATION)
                .or_else(|| stmt.split_whitespace().next())?;
            READS
                .iter()
                .any(|r| op.eq_ignore_ascii_case(r))
                .then(|| stmt.trim().to_string())
        }
        DepKind::Http => {
            let method = a.first_str(METHOD).unwrap_or("GET");
            (method.eq_ignore_ascii_case("GET"))
                .then(|| a.first_str(URL).map(str::to_string))
                .flatten()
        }
        _ => None,
    }
}

impl Detector for Uncached {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        // Callers that already use a cache: their repeated reads may be the cache's misses.
        let cached: BTreeSet<&Arc<str>> = cx
            .snap
            .deps
            .iter()
            .filter(|v| v.cache.is_some())
            .map(|v| &v.key.caller)
            .collect();
        let mut groups: BTreeMap<ReadKey, Vec<&Call>> = BTreeMap::new();
        for c in &cx.calls {
            if !rule.edge(&c.caller, &c.dep, c.kind) || c.error {
                continue;
            }
            if let Some(k) = read_key(c.kind, cx.span(c)) {
                groups
                    .entry((c.caller.clone(), c.dep.clone(), k))
                    .or_default()
                    .push(c);
            }
        }
        for ((caller, dependency, read), mut calls) in groups {
            // One read per trace: repeats inside one request are N+1 (N1-001), not this.
            calls.sort_by_key(|c| (c.start, c.trace));
            let mut seen = BTreeSet::new();
            calls.retain(|c| seen.insert(c.trace));
            if (calls.len() as u64) < self.min_repeats {
                continue;
            }
            out.checked += 1;
            let Some((lo, hi)) = densest(&calls, self.within_ns, self.min_repeats as usize) else {
                continue;
            };
            let burst = &calls[lo..hi];
            let mut ms: Vec<f64> = burst.iter().map(|c| c.ms()).collect();
            let med = median(&mut ms).unwrap_or(0.0);
            if med * 1e6 < self.min_duration_ns as f64 {
                continue;
            }
            if cached.contains(&caller) {
                out.undecided.push(Undecided {
                    subject: Subject::edge(&caller, &dependency),
                    missing: format!(
                        "{} repeats of one read, but {caller} has a cache dependency: they may be its misses",
                        burst.len()
                    ),
                    samples: burst.len() as u64,
                });
                continue;
            }
            let span_s = burst
                .last()
                .map_or(0, |l| l.start.saturating_sub(burst[0].start))
                as f64
                / 1e9;
            let mut ev = Evidence::default();
            ev.add("read", read.as_str());
            ev.add("repeats", burst.len() as u64);
            ev.add("within_s", span_s);
            ev.add("median_ms", med);
            ev.add("total_ms", burst.iter().map(|c| c.ms()).sum::<f64>());
            ev.add("cache_dependencies_of_caller", 0u64);
            if let Some(v) = cx.dep(&caller, &dependency) {
                dep::cite(&mut ev, v);
            }
            out.hits.push(Hit {
                subject: Subject::edge(&caller, &dependency),
                message: format!(
                    "the same read repeated by {} requests in {span_s:.0} s, {} each (median), and {caller} has no cache: {}",
                    burst.len(),
                    fmt_ms(med),
                    truncate(&read, 80)
                ),
                evidence: ev,
                trace_ids: exemplars(cx, burst.iter().map(|c| c.trace), 5),
                samples: burst.len() as u64,
                ..Hit::default()
            });
        }
        if out.checked == 0 {
            out.missing = Some(format!(
                "no read repeated in {} traces (database reads with a statement, HTTP GETs with a URL)",
                self.min_repeats
            ));
        }
        out
    }
}

/// The largest run of `calls` (sorted by start) starting within `within_ns` of its first, when
/// it holds at least `min` calls: `(from, to)` indices, `to` exclusive.
fn densest(calls: &[&Call], within_ns: u64, min: usize) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    let mut lo = 0;
    for hi in 0..calls.len() {
        while calls[hi].start.saturating_sub(calls[lo].start) > within_ns {
            lo += 1;
        }
        if hi + 1 - lo >= min && best.is_none_or(|(a, b)| hi + 1 - lo > b - a) {
            best = Some((lo, hi + 1));
        }
    }
    best
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).collect::<String>() + "…"
    }
}
