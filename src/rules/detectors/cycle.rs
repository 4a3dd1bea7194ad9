//! CYC-001 (`cyclic-dependency`): cycles in the observed service graph.
//!
//! The synchronous graph has an edge A → B for every CLIENT span of A answered by a SERVER span
//! of B (or named by its attributes after a service B that serves spans); PRODUCER → CONSUMER
//! edges form a separate asynchronous graph. Tarjan's algorithm finds strongly connected
//! components with ≥ 2 services. Per trace, a synchronous call-back (a SERVER span of X with an
//! ancestor SERVER span of X reached through another service) raises the severity: it can
//! deadlock or exhaust thread pools. Self-calls (X → X, usually through a load balancer) are
//! reported separately and only as info.
//!
//! Noise: an edge joins a graph only with ≥ `min_calls` calls, so every edge of a reported cycle
//! (both directions of a pair) carries that many; a single stray call is not a cycle. Shared
//! infrastructure that every service calls and that calls back for its own reasons (gateways,
//! auth and token services, mesh ingress) is left out by `ignore_services`, whose default is
//! [`SHARED_INFRASTRUCTURE`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::model::finding::{Evidence, EvidenceExt};
use crate::model::span::SpanKind;

use super::super::context::{Context, exemplars};
use super::super::params::{ParamDef, ParamKind, Params};
use super::{Adjust, BuildError, Detector, DetectorDef, Hit, Output, RuleCtx, Subject};
use crate::rules::compile::{Globs, globs};
use crate::rules::memo::Memo;

/// The services CYC-001 leaves out by default (globs, case-sensitive as service names are):
/// API gateways, auth/identity/token services, mesh and cluster ingress.
pub const SHARED_INFRASTRUCTURE: &str = "[\"*gateway*\", \"*-gw\", \"gw-*\", \"auth\", \"auth-*\", \"*-auth\", \"*-auth-*\", \"*authn*\", \"*authz*\", \"*oauth*\", \"*identity*\", \"*keycloak*\", \"*token-service*\", \"*ingress*\", \"istio-*\", \"*envoy*\", \"linkerd*\"]";

/// `cyclic-dependency` (CYC-001).
pub const CYCLE: DetectorDef = DetectorDef {
    name: "cyclic-dependency",
    implements: "CYC-001",
    summary: "services that call each other in a cycle (synchronous call-backs first)",
    params: &[
        ParamDef {
            name: "ignore_services",
            kind: ParamKind::TextList,
            default: SHARED_INFRASTRUCTURE,
            doc: "services left out of the graph (gateways, auth and token services, mesh ingress), globs",
        },
        ParamDef {
            name: "min_calls",
            kind: ParamKind::Count,
            default: "5",
            doc: "calls an edge needs to join the graph (each direction of a cycle)",
        },
        ParamDef {
            name: "include_async",
            kind: ParamKind::Flag,
            default: "true",
            doc: "also report cycles through messaging (lower severity)",
        },
        ParamDef {
            name: "report_self_calls",
            kind: ParamKind::Flag,
            default: "true",
            doc: "report X → X calls as info",
        },
    ],
    build,
};

#[derive(Debug)]
struct Cycle {
    ignore: Globs,
    min_calls: u64,
    include_async: bool,
    self_calls: bool,
}

fn build(p: &Params) -> Result<Box<dyn Detector>, Vec<BuildError>> {
    Ok(Box::new(Cycle {
        ignore: globs("params.ignore_services", p.list("ignore_services"))?,
        min_calls: p.count("min_calls").max(1),
        include_async: p.flag("include_async"),
        self_calls: p.flag("report_self_calls"),
    }))
}

/// Call-backs found for a service: (count, exemplar traces, one path).
type Callback = (usize, Vec<u32>, String);

type Graph = BTreeMap<Arc<str>, BTreeMap<Arc<str>, (u64, Vec<u32>)>>;

/// Strongly connected components (Tarjan), each sorted, in sorted order.
pub fn scc(
    nodes: &BTreeSet<Arc<str>>,
    adj: &BTreeMap<Arc<str>, BTreeSet<Arc<str>>>,
) -> Vec<Vec<Arc<str>>> {
    struct St<'a> {
        adj: &'a BTreeMap<Arc<str>, BTreeSet<Arc<str>>>,
        index: BTreeMap<Arc<str>, usize>,
        low: BTreeMap<Arc<str>, usize>,
        on: BTreeSet<Arc<str>>,
        stack: Vec<Arc<str>>,
        next: usize,
        out: Vec<Vec<Arc<str>>>,
    }
    fn visit(st: &mut St<'_>, v: &Arc<str>) {
        st.index.insert(v.clone(), st.next);
        st.low.insert(v.clone(), st.next);
        st.next += 1;
        st.stack.push(v.clone());
        st.on.insert(v.clone());
        let succ: Vec<Arc<str>> = st
            .adj
            .get(v)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for w in succ {
            if !st.index.contains_key(&w) {
                visit(st, &w);
                let lw = st.low[&w];
                let lv = st.low[v];
                st.low.insert(v.clone(), lv.min(lw));
            } else if st.on.contains(&w) {
                let iw = st.index[&w];
                let lv = st.low[v];
                st.low.insert(v.clone(), lv.min(iw));
            }
        }
        if st.low[v] == st.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = st.stack.pop() {
                st.on.remove(&w);
                let done = &w == v;
                comp.push(w);
                if done {
                    break;
                }
            }
            comp.sort();
            st.out.push(comp);
        }
    }
    let mut st = St {
        adj,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        on: BTreeSet::new(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in nodes {
        if !st.index.contains_key(v) {
            visit(&mut st, v);
        }
    }
    let mut out: Vec<Vec<Arc<str>>> = st.out.into_iter().filter(|c| c.len() >= 2).collect();
    out.sort();
    out
}

impl Detector for Cycle {
    fn run(&self, rule: RuleCtx<'_>, cx: &Context<'_>) -> Output {
        let mut out = Output::default();
        let mut sync: Graph = BTreeMap::new();
        let mut asyn: Graph = BTreeMap::new();
        let mut ignored = Memo::new(|s| self.ignore.matches_some(s));
        for c in &cx.calls {
            if !cx.is_service(&c.dep) || ignored.get(&c.caller) || ignored.get(&c.dep) {
                continue;
            }
            if !rule.edge(&c.caller, &c.dep, c.kind) {
                continue;
            }
            let g = if cx.span(c).kind == SpanKind::Producer {
                &mut asyn
            } else {
                &mut sync
            };
            let e = g
                .entry(c.caller.clone())
                .or_default()
                .entry(c.dep.clone())
                .or_default();
            e.0 += 1;
            if e.1.len() < 5 && !e.1.contains(&c.trace) {
                e.1.push(c.trace);
            }
        }
        // Per-trace synchronous call-backs: SERVER span of X under a SERVER span of X via another service.
        let mut callbacks: BTreeMap<Arc<str>, Callback> = BTreeMap::new();
        for ib in &cx.inbound {
            let s = cx.inbound_span(ib);
            if s.kind != SpanKind::Server || ignored.get(&ib.service) {
                continue;
            }
            let t = cx.trace(ib.trace);
            let mut path: Vec<&str> = vec![&ib.service];
            let mut parent = s.parent_span_id;
            let mut hops = 0;
            let mut via_other = false;
            while parent != [0; 8] && hops < 512 {
                hops += 1;
                let Some(p) = t.get(&parent) else { break };
                if p.kind == SpanKind::Server {
                    if p.resource.service_name == ib.service {
                        if via_other {
                            path.push(&ib.service);
                            path.reverse();
                            let e = callbacks.entry(ib.service.clone()).or_insert((
                                0,
                                Vec::new(),
                                path.join(" → "),
                            ));
                            e.0 += 1;
                            if e.1.len() < 5 && !e.1.contains(&ib.trace) {
                                e.1.push(ib.trace);
                            }
                        }
                        break;
                    }
                    via_other = true;
                    if path.last().copied() != Some(p.service()) {
                        path.push(p.service());
                    }
                }
                parent = p.parent_span_id;
            }
        }
        // Edges with fewer than `min_calls` calls are noise (a stray call, a one-off admin
        // request): they neither close a cycle nor count as a call-back path.
        let mut stray = 0usize;
        for g in [&mut sync, &mut asyn] {
            for m in g.values_mut() {
                let before = m.len();
                m.retain(|_, (n, _)| *n >= self.min_calls);
                stray += before - m.len();
            }
        }
        let mut nodes = BTreeSet::new();
        for (a, m) in &sync {
            nodes.insert(a.clone());
            nodes.extend(m.keys().cloned());
        }
        out.checked = nodes.len();
        for (graph, is_async) in [(&sync, false), (&asyn, true)] {
            if is_async && !self.include_async {
                continue;
            }
            let mut ns = BTreeSet::new();
            let mut adj: BTreeMap<Arc<str>, BTreeSet<Arc<str>>> = BTreeMap::new();
            for (a, m) in graph {
                ns.insert(a.clone());
                for b in m.keys() {
                    ns.insert(b.clone());
                    if a != b {
                        adj.entry(a.clone()).or_default().insert(b.clone());
                    }
                }
            }
            for comp in scc(&ns, &adj) {
                let set: BTreeSet<&Arc<str>> = comp.iter().collect();
                let mut ev = Evidence::default();
                let mut traces = Vec::new();
                let mut calls = 0u64;
                let mut edges = 0usize;
                for a in &comp {
                    for (b, (n, tr)) in graph.get(a).into_iter().flatten() {
                        if set.contains(b) && a != b {
                            ev.add(&format!("{a} → {b}"), format!("{n} calls"));
                            edges += 1;
                            calls += n;
                            traces.extend(tr.iter().copied());
                        }
                    }
                }
                let cb: Vec<(&Arc<str>, &Callback)> =
                    callbacks.iter().filter(|(s, _)| set.contains(s)).collect();
                let cb_n: usize = cb.iter().map(|(_, v)| v.0).sum();
                if !is_async {
                    ev.add("synchronous_callbacks", cb_n);
                    if let Some((_, v)) = cb.first() {
                        ev.add("callback_path", v.2.as_str());
                        let mut t = v.1.clone();
                        t.extend(traces);
                        traces = t;
                    }
                }
                ev.add("cycle_edges", edges);
                ev.add("min_calls_per_edge", self.min_calls);
                ev.add("edges_below_min_calls", stray);
                let names: Vec<&str> = comp.iter().map(|s| &**s).collect();
                out.hits.push(Hit {
                    subject: Subject::service(&comp[0]),
                    adjust: if is_async {
                        Adjust::Lower
                    } else if cb_n > 0 {
                        Adjust::Raise
                    } else {
                        Adjust::Keep
                    },
                    message: format!(
                        "{} cycle between {} services: {}{}",
                        if is_async {
                            "asynchronous (messaging)"
                        } else {
                            "synchronous"
                        },
                        comp.len(),
                        names.join(", "),
                        if cb_n > 0 {
                            format!("; {cb_n} synchronous call-back(s) within one request")
                        } else {
                            String::new()
                        }
                    ),
                    evidence: ev,
                    trace_ids: exemplars(cx, traces, 5),
                    samples: calls,
                });
            }
        }
        if self.self_calls {
            for (a, m) in &sync {
                if let Some((n, tr)) = m.get(a) {
                    let mut ev = Evidence::default();
                    ev.add("self_calls", *n);
                    out.hits.push(Hit {
                        subject: Subject::edge(a, a),
                        adjust: Adjust::Info,
                        message: format!("{a} calls itself ({n} calls), usually through a load balancer: a cycle of one"),
                        evidence: ev,
                        trace_ids: exemplars(cx, tr.iter().copied(), 5),
                        samples: *n,
                    });
                }
            }
        }
        if nodes.is_empty() {
            out.missing = Some(
                "no service-to-service calls (CLIENT spans answered by a SERVER span) in scope"
                    .into(),
            );
        }
        out
    }
}
