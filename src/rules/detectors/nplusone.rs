//! N1-001 / N1-002 (`n-plus-one`): one query or API call per item of a list.
//!
//! `calls = "db"` (N1-001, after Sentry's NPlusOneDBSpanDetector): under one parent, ≥
//! `min_repeats` consecutive, non-overlapping sibling database calls with the same normalized
//! statement (literals → `?`, IN-lists collapsed), no non-database sibling in between, the
//! statement parameterized and not truncated, and Σ duration ≥ `min_total`. Redis and other
//! key-value stores are skipped. Concurrent batches (DataLoader) overlap, so they never match.
//!
//! `calls = "api"` (N1-002): a concurrent burst (≥ `api_min_repeats` GET siblings to the same
//! host and parameterized path, each starting within `burst_gap` of the previous, Σ ≥
//! `api_min_total`; GraphQL, static assets and pagination excluded), or sequential chattiness
//! (the median request of a service calls one dependency ≥ `chatty_per_request` times).
//!
//! Pagination is not N+1: a run of page queries (`OFFSET`, or keyset: `ORDER BY` with `LIMIT`/
//! `FETCH` and a range comparison on the sort key) whose literals advance, when literals are
//! visible, is one paged read; calls whose URL carries a pagination parameter (`page=`,
//! `cursor=`, `after=`, `offset=`, …) are left out of bursts and of the chattiness count.

use std::collections::BTreeMap;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use crate::model::dependency::DepKind;
use crate::model::finding::{Evidence, EvidenceExt};
use crate::store::edges::EdgeId;

use super::super::context::{Call, Context, exemplars, median};
use super::super::dep;
use super::super::params::{ParamDef, ParamKind, Params};
use super::{Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject, fmt_ms};

/// `n-plus-one` (N1-001, N1-002).
pub const N_PLUS_ONE: DetectorDef = DetectorDef {
    name: "n-plus-one",
    implements: "N1-001, N1-002",
    summary: "repeated identical queries or API calls per item (N+1), chatty dependencies",
    params: &[
        ParamDef {
            name: "calls",
            kind: ParamKind::Text,
            default: "\"db\"",
            doc: "\"db\" (N1-001) or \"api\" (N1-002)",
        },
        ParamDef {
            name: "min_repeats",
            kind: ParamKind::Count,
            default: "5",
            doc: "consecutive repeats of one statement (db)",
        },
        ParamDef {
            name: "min_total",
            kind: ParamKind::Duration,
            default: "\"50ms\"",
            doc: "Σ duration of the repeats (db)",
        },
        ParamDef {
            name: "skip_systems",
            kind: ParamKind::TextList,
            default: "[\"redis\", \"memcached\"]",
            doc: "db systems not judged (key-value lookups)",
        },
        ParamDef {
            name: "api_min_repeats",
            kind: ParamKind::Count,
            default: "10",
            doc: "siblings in a burst (api)",
        },
        ParamDef {
            name: "burst_gap",
            kind: ParamKind::Duration,
            default: "\"5ms\"",
            doc: "max start gap inside a burst (api)",
        },
        ParamDef {
            name: "api_min_total",
            kind: ParamKind::Duration,
            default: "\"300ms\"",
            doc: "Σ duration of a burst (api)",
        },
        ParamDef {
            name: "chatty_per_request",
            kind: ParamKind::Count,
            default: "10",
            doc: "median calls to one dependency per request (api)",
        },
        ParamDef {
            name: "min_requests",
            kind: ParamKind::Count,
            default: "20",
            doc: "requests of a service needed for chattiness (api)",
        },
    ],
    build,
};

/// Calls per request, keyed by (trace, SERVER span id).
type CallsPerRequest = HashMap<(u32, [u8; 8]), usize>;

#[derive(Debug)]
struct NPlusOne {
    api: bool,
    min_repeats: usize,
    min_total_ms: f64,
    skip: Vec<String>,
    api_min: usize,
    burst_gap: u64,
    api_total_ms: f64,
    chatty: f64,
    min_requests: usize,
}

fn build(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    let api = match p.text("calls") {
        "db" => false,
        "api" => true,
        other => {
            return Err(vec![(
                "params.calls".into(),
                format!("expected \"db\" or \"api\", got \"{other}\""),
            )]);
        }
    };
    Ok(Box::new(NPlusOne {
        api,
        min_repeats: p.count("min_repeats").max(2) as usize,
        min_total_ms: p.secs("min_total") * 1e3,
        skip: p
            .list("skip_systems")
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect(),
        api_min: p.count("api_min_repeats").max(2) as usize,
        burst_gap: p.duration_ns("burst_gap"),
        api_total_ms: p.secs("api_min_total") * 1e3,
        chatty: p.count("chatty_per_request") as f64,
        min_requests: p.count("min_requests").max(1) as usize,
    }))
}

/// Normalizes a statement: string and number literals → `?`, `IN (?, ?, …)` → `IN (?)`,
/// whitespace collapsed.
pub fn normalize_sql(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    let mut prev_word = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            for d in chars.by_ref() {
                if d == '\'' {
                    break;
                }
            }
            out.push('?');
            prev_word = false;
        } else if c.is_ascii_digit() && !prev_word {
            while chars
                .peek()
                .is_some_and(|d| d.is_ascii_alphanumeric() || *d == '.')
            {
                chars.next();
            }
            out.push('?');
        } else if c.is_whitespace() {
            if !out.ends_with(' ') {
                out.push(' ');
            }
            prev_word = false;
        } else {
            prev_word = c.is_alphanumeric() || c == '_' || c == '$' || c == ':';
            out.push(c);
        }
    }
    // Collapse IN-lists of placeholders.
    let mut s = out.trim().to_string();
    while let Some(i) = s.find("?, ?").or_else(|| s.find("?,?")) {
        let j = if s[i..].starts_with("?, ?") {
            i + 4
        } else {
            i + 3
        };
        s.replace_range(i..j, "?");
    }
    s
}

/// Whether a normalized statement takes parameters and is complete.
fn parameterized(s: &str) -> bool {
    let placeholder = s.contains('?')
        || s.contains("%s")
        || s.split(|c: char| !(c.is_alphanumeric() || c == '$' || c == ':' || c == '_'))
            .any(|w| (w.starts_with('$') || w.starts_with(':')) && w.len() > 1);
    placeholder && !s.ends_with("...") && !s.ends_with('…')
}

/// Whether a normalized statement reads one page of an ordered result: `OFFSET`, or keyset
/// pagination (`ORDER BY` with `LIMIT`/`FETCH`/`TOP` and a range comparison to a parameter).
pub fn page_query(normalized: &str) -> bool {
    let u = normalized.to_ascii_uppercase();
    let has = |w: &str| {
        u.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|t| t == w)
    };
    if has("OFFSET") {
        return true;
    }
    let limited = has("LIMIT") || has("FETCH") || has("TOP");
    let ordered = u.contains("ORDER BY");
    let compact: String = u.chars().filter(|c| !c.is_whitespace()).collect();
    // A comparison `>`/`<` (not `<>`) against a placeholder, or a row value `(a, b) > (?)`.
    let range = ["?", "(?", "$", ":", "%s"].iter().any(|param| {
        [">", ">=", "<", "<="].iter().any(|op| {
            let pat = format!("{op}{param}");
            compact
                .match_indices(&pat)
                .any(|(i, _)| !(op.starts_with('>') && compact[..i].ends_with('<')))
        })
    });
    limited && ordered && range
}

/// Whether a run of raw statements pages: successive statements differ (the offset or the
/// cursor advances), or their literals are not visible.
fn pages(raw: &[Option<&str>]) -> bool {
    raw.windows(2).all(|w| match (w[0], w[1]) {
        (Some(a), Some(b)) => a != b || !literals_visible(a),
        _ => true,
    })
}

/// Whether a raw statement shows literal values (normalizing adds placeholders).
fn literals_visible(raw: &str) -> bool {
    normalize_sql(raw).matches('?').count() > raw.matches('?').count()
}

/// Replaces numeric, UUID-like and long hex path segments with `{id}`; returns the pattern and
/// whether anything was replaced.
pub fn parameterize_path(path: &str) -> (String, bool) {
    let mut changed = false;
    let segs: Vec<String> = path
        .split('/')
        .map(|seg| {
            let id = !seg.is_empty()
                && (seg.chars().all(|c| c.is_ascii_digit())
                    || (seg.len() >= 8
                        && seg.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
                        && seg.chars().any(|c| c.is_ascii_digit())));
            if id {
                changed = true;
                "{id}".to_string()
            } else {
                seg.to_string()
            }
        })
        .collect();
    (segs.join("/"), changed)
}

const PAGINATION: &[&str] = &[
    "page",
    "offset",
    "cursor",
    "limit",
    "after",
    "before",
    "start",
    "pagetoken",
    "page_token",
    "next",
];

/// Whether a URL's query carries a pagination parameter.
pub fn paginated_url(url: &str) -> bool {
    url.split_once('?').is_some_and(|(_, q)| {
        q.split(['&', '#']).any(|kv| {
            PAGINATION.contains(
                &kv.split('=')
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase()
                    .as_str(),
            )
        })
    })
}

impl NPlusOne {
    /// The raw statement of a database call whose system is judged.
    fn raw_statement<'c>(&self, cx: &'c Context<'_>, c: &Call) -> Option<&'c str> {
        let a = cx.attrs(c);
        if let Some(sys) = a.first_str_of(&["db.system.name", "db.system"])
            && self.skip.iter().any(|s| s.eq_ignore_ascii_case(sys))
        {
            return None;
        }
        a.first_str_of(&["db.query.text", "db.statement"])
    }

    /// Whether the rule judges call `c` (an in-scope database call).
    fn judged_db(rule: RuleCtx<'_>, c: &Call) -> bool {
        c.kind == DepKind::Db && rule.edge(&c.caller, &c.dep, c.kind)
    }

    fn run_db(&self, rule: RuleCtx<'_>, cx: &Context<'_>, out: &mut Output) {
        // (caller, dependency, parent op, statement) → (traces, max repeats, total ms)
        type Key = (Arc<str>, Arc<str>, String, String);
        let mut found: BTreeMap<Key, (Vec<u32>, usize, f64, Option<String>)> = BTreeMap::new();
        let mut judged = 0usize;
        let mut paged_runs = 0usize;
        for group in cx.sibling_groups() {
            // A group shorter than `min_repeats` holds no run: it only counts as judged.
            if group.len() < self.min_repeats {
                if group
                    .iter()
                    .any(|c| Self::judged_db(rule, c) && self.raw_statement(cx, c).is_some())
                {
                    judged += 1;
                }
                continue;
            }
            let stmts: Vec<Option<String>> = group
                .iter()
                .map(|c| {
                    Self::judged_db(rule, c)
                        .then(|| self.raw_statement(cx, c).map(normalize_sql))
                        .flatten()
                })
                .collect();
            if stmts.iter().all(Option::is_none) {
                continue;
            }
            judged += 1;
            let mut i = 0;
            while i < group.len() {
                let Some(s) = &stmts[i] else {
                    i += 1;
                    continue;
                };
                let mut j = i + 1;
                while j < group.len()
                    && stmts[j].as_ref() == Some(s)
                    && group[j].start >= group[j - 1].end
                {
                    j += 1;
                }
                let n = j - i;
                // Shorter runs are neither counted as paged nor reported: skip the statement work.
                if n < self.min_repeats {
                    i = j;
                    continue;
                }
                let total: f64 = group[i..j].iter().map(Call::ms).sum();
                let raw: Vec<Option<&str>> = group[i..j]
                    .iter()
                    .map(|c| cx.attrs(c).first_str_of(&["db.query.text", "db.statement"]))
                    .collect();
                let paged = page_query(s) && pages(&raw);
                if paged {
                    paged_runs += 1;
                }
                if total >= self.min_total_ms && parameterized(s) && !paged {
                    let c = &group[i];
                    let t = cx.trace(c.trace);
                    let parent = t
                        .get(&c.parent)
                        .map_or_else(|| "(root)".to_string(), |p| p.name.to_string());
                    let source = (i > 0).then(|| stmts[i - 1].clone()).flatten();
                    let e = found
                        .entry((c.caller.clone(), c.dep.clone(), parent, s.clone()))
                        .or_insert((Vec::new(), 0, 0.0, source));
                    e.0.push(c.trace);
                    e.1 = e.1.max(n);
                    e.2 = e.2.max(total);
                }
                i = j;
            }
        }
        out.checked += judged;
        for ((caller, dep, parent, stmt), (traces, max_n, max_ms, source)) in found {
            let mut ev = Evidence::default();
            ev.add("parent", parent.as_str());
            ev.add("repeated_statement", stmt.as_str());
            if let Some(s) = &source {
                ev.add("source_statement", s.as_str());
            }
            ev.add("max_repeats", max_n);
            ev.add("max_total_ms", max_ms);
            ev.add("traces", traces.len());
            ev.add("paged_runs_left_out", paged_runs);
            if let Some(v) = cx.dep(&caller, &dep) {
                dep::cite(&mut ev, v);
            }
            out.hits.push(Hit {
                subject: Subject::edge(&caller, &dep),
                adjust: Adjust::Keep,
                message: format!(
                    "N+1 queries under \"{parent}\": `{stmt}` run {max_n}× in a row ({}) in {} trace(s); batch it or join",
                    fmt_ms(max_ms),
                    traces.len()
                ),
                evidence: ev,
                trace_ids: exemplars(cx, traces.iter().copied(), 5),
                samples: traces.len() as u64,
            });
        }
        if judged == 0 {
            out.missing = Some("no database calls with db.query.text/db.statement in scope".into());
        }
    }

    fn run_api(&self, rule: RuleCtx<'_>, cx: &Context<'_>, out: &mut Output) {
        type Key = (Arc<str>, Arc<str>, String);
        let mut bursts: BTreeMap<Key, (Vec<u32>, usize, Vec<String>)> = BTreeMap::new();
        let mut judged = 0usize;
        for group in cx.sibling_groups() {
            // Borrowed from the spans: most groups are too small to judge, and most runs too.
            let http: Vec<(&Call, &str, &str)> = group
                .iter()
                .filter(|c| c.kind == DepKind::Http && rule.edge(&c.caller, &c.dep, c.kind))
                .filter_map(|c| {
                    let a = cx.attrs(c);
                    let method = a.first_str_of(&["http.request.method", "http.method"])?;
                    let url = a
                        .first_str_of(&["url.full", "http.url"])
                        .or_else(|| a.first_str_of(&["url.path", "http.target"]))?;
                    (method == "GET").then_some((c, url))
                })
                .map(|(c, url)| {
                    let rest = url.split_once("://").map_or(url, |(_, r)| r);
                    let path_q = rest.find('/').map_or("/", |i| &rest[i..]);
                    let (path, query) = path_q.split_once('?').unwrap_or((path_q, ""));
                    (c, path, query)
                })
                .collect();
            if http.len() < self.api_min {
                continue;
            }
            judged += 1;
            let pats: Vec<String> = http.iter().map(|h| parameterize_path(h.1).0).collect();
            let mut i = 0;
            while i < http.len() {
                let (c0, _, _) = &http[i];
                let pat = &pats[i];
                let mut j = i + 1;
                while j < http.len()
                    && http[j].0.dep == c0.dep
                    && pats[j] == *pat
                    && http[j].0.start.saturating_sub(http[j - 1].0.start) <= self.burst_gap
                {
                    j += 1;
                }
                let run = &http[i..j];
                let total: f64 = run.iter().map(|r| r.0.ms()).sum();
                // The rest only matters for a run long and slow enough to report.
                if run.len() < self.api_min || total < self.api_total_ms {
                    i = j;
                    continue;
                }
                let varying: Vec<String> = run
                    .iter()
                    .map(|r| {
                        if r.2.is_empty() {
                            r.1.to_string()
                        } else {
                            format!("{}?{}", r.1, r.2)
                        }
                    })
                    .collect();
                let distinct = {
                    let mut v = varying.clone();
                    v.sort();
                    v.dedup();
                    v.len()
                };
                let lower = pat.to_ascii_lowercase();
                let excluded = lower.contains("graphql")
                    || [
                        ".js", ".css", ".png", ".jpg", ".svg", ".ico", ".woff", ".woff2", ".map",
                    ]
                    .iter()
                    .any(|x| lower.ends_with(x))
                    || run.iter().any(|r| {
                        r.2.split('&').any(|kv| {
                            PAGINATION.contains(
                                &kv.split('=')
                                    .next()
                                    .unwrap_or("")
                                    .to_ascii_lowercase()
                                    .as_str(),
                            )
                        })
                    });
                if run.len() >= self.api_min
                    && total >= self.api_total_ms
                    && distinct > 1
                    && !excluded
                {
                    let e = bursts
                        .entry((c0.caller.clone(), c0.dep.clone(), format!("GET {pat}")))
                        .or_insert((Vec::new(), 0, Vec::new()));
                    e.0.push(c0.trace);
                    e.1 = e.1.max(run.len());
                    if e.2.is_empty() {
                        e.2 = varying.into_iter().take(3).collect();
                    }
                }
                i = j;
            }
        }
        for ((caller, dep, pat), (traces, n, examples)) in bursts {
            let mut ev = Evidence::default();
            ev.add("pattern", pat.as_str());
            ev.add("calls_per_request_max", n);
            ev.add("traces", traces.len());
            ev.add("examples", examples.join(" "));
            if let Some(v) = cx.dep(&caller, &dep) {
                dep::cite(&mut ev, v);
            }
            out.hits.push(Hit {
                subject: Subject::edge(&caller, &dep),
                adjust: Adjust::Keep,
                message: format!("N+1 API calls: {n} concurrent `{pat}` calls per request in {} trace(s); use a batch endpoint", traces.len()),
                evidence: ev,
                trace_ids: exemplars(cx, traces, 5),
                samples: n as u64,
            });
        }
        // Sequential chattiness: calls per request to one dependency.
        // Counted per store edge first (no name clones or string compares per call), then
        // merged by name below: several edge ids can carry one (caller, dependency) pair.
        let mut per_edge: HashMap<EdgeId, (&Call, CallsPerRequest)> = HashMap::new();
        let mut reqs: BTreeMap<Arc<str>, usize> = BTreeMap::new();
        for ib in &cx.inbound {
            *reqs.entry(ib.service.clone()).or_default() += 1;
        }
        for c in &cx.calls {
            if !rule.edge(&c.caller, &c.dep, c.kind) {
                continue;
            }
            // Pages of one listing are one read, not chattiness.
            let a = cx.attrs(c);
            if a.first_str_of(&["url.full", "http.url", "http.target"])
                .is_some_and(paginated_url)
                || a.first_str_of(&["url.query"])
                    .is_some_and(|q| paginated_url(&format!("?{q}")))
            {
                continue;
            }
            // The nearest inbound ancestor of the caller's service.
            let t = cx.trace(c.trace);
            let mut parent = c.parent;
            let mut hops = 0;
            while parent != [0; 8] && hops < 64 {
                hops += 1;
                let Some(p) = t.get(&parent) else { break };
                if p.kind.is_inbound() {
                    if p.resource.service_name == c.caller {
                        *per_edge
                            .entry(c.edge)
                            .or_insert_with(|| (c, CallsPerRequest::default()))
                            .1
                            .entry((c.trace, p.span_id))
                            .or_default() += 1;
                    }
                    break;
                }
                parent = p.parent_span_id;
            }
        }
        let mut per_req: BTreeMap<(Arc<str>, Arc<str>), CallsPerRequest> = BTreeMap::new();
        for (c, m) in per_edge.into_values() {
            let all = per_req
                .entry((c.caller.clone(), c.dep.clone()))
                .or_default();
            for (request, n) in m {
                *all.entry(request).or_default() += n;
            }
        }
        for ((caller, dep), m) in per_req {
            let total = reqs.get(&caller).copied().unwrap_or(0);
            if total < self.min_requests {
                continue;
            }
            judged += 1;
            let mut counts: Vec<f64> = m.values().map(|&n| n as f64).collect();
            counts.extend(std::iter::repeat_n(0.0, total.saturating_sub(m.len())));
            let p50 = median(&mut counts).unwrap_or(0.0);
            if p50 >= self.chatty {
                let mut ev = Evidence::default();
                ev.add("median_calls_per_request", p50);
                ev.add("requests", total);
                if let Some(v) = cx.dep(&caller, &dep) {
                    dep::cite(&mut ev, v);
                }
                let mut top: Vec<(&(u32, [u8; 8]), &usize)> = m.iter().collect();
                top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                out.hits.push(Hit {
                    subject: Subject::edge(&caller, &dep),
                    adjust: Adjust::Lower,
                    message: format!("chatty dependency: the median request of {caller} calls {dep} {p50:.0} times"),
                    evidence: ev,
                    trace_ids: exemplars(cx, top.iter().map(|(k, _)| k.0), 5),
                    samples: total as u64,
                });
            }
        }
        out.checked += judged;
        if judged == 0 {
            out.missing = Some(format!(
                "no parent span with ≥ {} GET calls and no service with {} requests in scope",
                self.api_min, self.min_requests
            ));
        }
    }
}

impl Detector for NPlusOne {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        if self.api {
            self.run_api(rule, cx, &mut out);
        } else {
            self.run_db(rule, cx, &mut out);
        }
        out
    }
}
