//! Comparing two traces: a baseline `A` (a normal request) and `B` (the one under
//! investigation, e.g. a slow request of the same operation, from the same or another capture).
//!
//! Spans are matched by **service and operation path**: the chain of `service: span name` from
//! the root down to the span, plus its occurrence among siblings with that same path in start
//! order (the second `GET /stock` under a parent matches the second one, so an extra retry shows
//! as *added*). A span only in `B` is *added*, one only in `A` *missing*. For each span the
//! comparison gives its **total** time (duration), its **self** time (duration not covered by
//! any child, the union of the children clipped to the span) and its time on the **critical
//! path** (`analysis::traces`, Jaeger's definition); the critical-path shifts list the spans
//! that left the path, joined it, or whose time on it changed most.

use std::collections::HashMap;

use serde::Serialize;

use crate::store::trace::Trace;

use super::traces::TraceTree;

/// How many critical-path changes the comparison keeps (largest first).
pub const MAX_SHIFTS: usize = 10;

/// Whether a span was found in both traces, or in one only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// In both.
    Matched,
    /// Only in `B`.
    Added,
    /// Only in `A`.
    Missing,
}

impl Presence {
    /// One-character mark: ` `, `+`, `-`.
    pub fn mark(self) -> char {
        match self {
            Presence::Matched => ' ',
            Presence::Added => '+',
            Presence::Missing => '-',
        }
    }
}

/// One span's times in one trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpanTimes {
    /// Span id (hex).
    pub span_id: String,
    /// Start, nanoseconds after the trace's start.
    pub offset_ns: u64,
    /// Duration.
    pub total_ns: u64,
    /// Duration no child covers.
    pub self_ns: u64,
    /// Own time on the critical path.
    pub critical_ns: u64,
    /// Whether the span is on the critical path.
    pub on_path: bool,
    /// Whether the span failed.
    pub error: bool,
}

/// One row of the comparison: a span position in the merged tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpanDiff {
    /// The operation path (`service: name › service: name`), with `#n` for the n-th repeat.
    pub path: String,
    /// Service.
    pub service: String,
    /// Span name.
    pub name: String,
    /// Nesting depth in the merged tree (roots are 0).
    pub depth: u16,
    /// Matched, added or missing.
    pub presence: Presence,
    /// In `A`.
    pub a: Option<SpanTimes>,
    /// In `B`.
    pub b: Option<SpanTimes>,
}

impl SpanDiff {
    /// `B − A` total time (nanoseconds; a missing side counts as 0).
    pub fn total_delta_ns(&self) -> i64 {
        side(&self.b, |t| t.total_ns) - side(&self.a, |t| t.total_ns)
    }

    /// `B − A` self time.
    pub fn self_delta_ns(&self) -> i64 {
        side(&self.b, |t| t.self_ns) - side(&self.a, |t| t.self_ns)
    }

    /// `B − A` time on the critical path.
    pub fn critical_delta_ns(&self) -> i64 {
        side(&self.b, |t| t.critical_ns) - side(&self.a, |t| t.critical_ns)
    }
}

fn side(t: &Option<SpanTimes>, f: impl Fn(&SpanTimes) -> u64) -> i64 {
    t.as_ref().map_or(0, |t| f(t).min(i64::MAX as u64) as i64)
}

/// How a span's place on the critical path changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shift {
    /// On `B`'s path, not on `A`'s.
    Joined,
    /// On `A`'s path, not on `B`'s.
    Left,
    /// On both; its time on the path changed.
    Changed,
}

/// One change of the critical path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PathShift {
    /// Index into [`Comparison::rows`].
    pub row: usize,
    /// The operation path.
    pub path: String,
    /// What changed.
    pub shift: Shift,
    /// `B − A` time on the critical path, nanoseconds.
    pub delta_ns: i64,
}

/// One trace as compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceSide {
    /// Trace id (hex).
    pub trace_id: String,
    /// Root `service: name`.
    pub root: String,
    /// Start, Unix nanoseconds.
    pub start_ns: u64,
    /// Duration.
    pub duration_ns: u64,
    /// Spans.
    pub spans: usize,
    /// Failed spans.
    pub errors: u32,
}

/// Two traces compared span by span.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// The baseline.
    pub a: TraceSide,
    /// The trace compared with it.
    pub b: TraceSide,
    /// Spans of both, in merged tree order (children by earliest start).
    pub rows: Vec<SpanDiff>,
    /// Spans in both.
    pub matched: usize,
    /// Spans only in `B`.
    pub added: usize,
    /// Spans only in `A`.
    pub missing: usize,
    /// Where the critical path moved, largest change first (at most [`MAX_SHIFTS`]).
    pub critical_shifts: Vec<PathShift>,
}

impl Comparison {
    /// `B − A` trace duration, nanoseconds.
    pub fn duration_delta_ns(&self) -> i64 {
        self.b.duration_ns as i64 - self.a.duration_ns as i64
    }
}

/// One span of one trace, keyed by its path.
struct Keyed {
    key: String,
    parent: String,
    service: String,
    name: String,
    times: SpanTimes,
}

/// Compares baseline `a` with `b`.
pub fn compare(a: &Trace, b: &Trace) -> Comparison {
    let ka = keyed(a);
    let kb = keyed(b);
    let mut rows_by_key: HashMap<&str, (Option<&Keyed>, Option<&Keyed>)> = HashMap::new();
    for k in &ka {
        rows_by_key.entry(&k.key).or_default().0 = Some(k);
    }
    for k in &kb {
        rows_by_key.entry(&k.key).or_default().1 = Some(k);
    }
    // Children of each path, ordered by their earliest offset in either trace.
    let mut children: HashMap<&str, Vec<(&str, u64)>> = HashMap::new();
    for (key, (x, y)) in &rows_by_key {
        let any = x.or(*y);
        let Some(any) = any else { continue };
        let offset = [x, y]
            .iter()
            .filter_map(|k| k.map(|k| k.times.offset_ns))
            .min()
            .unwrap_or(0);
        children
            .entry(any.parent.as_str())
            .or_default()
            .push((key, offset));
    }
    for v in children.values_mut() {
        v.sort_by(|p, q| p.1.cmp(&q.1).then(p.0.cmp(q.0)));
    }
    let mut rows = Vec::with_capacity(rows_by_key.len());
    let mut stack: Vec<(&str, u16)> = children
        .get("")
        .map(|v| v.iter().rev().map(|(k, _)| (*k, 0u16)).collect())
        .unwrap_or_default();
    while let Some((key, depth)) = stack.pop() {
        let Some((x, y)) = rows_by_key.get(key) else {
            continue;
        };
        let Some(any) = x.or(*y) else { continue };
        let presence = match (x, y) {
            (Some(_), Some(_)) => Presence::Matched,
            (None, _) => Presence::Added,
            (_, None) => Presence::Missing,
        };
        rows.push(SpanDiff {
            path: key.replace('\u{1f}', ": ").replace('\u{1e}', " › "),
            service: any.service.clone(),
            name: any.name.clone(),
            depth,
            presence,
            a: x.map(|k| k.times.clone()),
            b: y.map(|k| k.times.clone()),
        });
        if let Some(kids) = children.get(key) {
            for (k, _) in kids.iter().rev() {
                stack.push((k, depth.saturating_add(1)));
            }
        }
    }
    let count = |p: Presence| rows.iter().filter(|r| r.presence == p).count();
    let (matched, added, missing) = (
        count(Presence::Matched),
        count(Presence::Added),
        count(Presence::Missing),
    );
    let critical_shifts = shifts(&rows);
    Comparison {
        a: side_of(a),
        b: side_of(b),
        rows,
        matched,
        added,
        missing,
        critical_shifts,
    }
}

fn shifts(rows: &[SpanDiff]) -> Vec<PathShift> {
    let on = |t: &Option<SpanTimes>| t.as_ref().is_some_and(|t| t.on_path);
    let mut out: Vec<PathShift> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let shift = match (on(&r.a), on(&r.b)) {
                (false, true) => Shift::Joined,
                (true, false) => Shift::Left,
                (true, true) if r.critical_delta_ns() != 0 => Shift::Changed,
                _ => return None,
            };
            Some(PathShift {
                row: i,
                path: r.path.clone(),
                shift,
                delta_ns: r.critical_delta_ns(),
            })
        })
        .collect();
    out.sort_by(|p, q| {
        q.delta_ns
            .unsigned_abs()
            .cmp(&p.delta_ns.unsigned_abs())
            .then(p.row.cmp(&q.row))
    });
    out.truncate(MAX_SHIFTS);
    out
}

fn side_of(t: &Trace) -> TraceSide {
    TraceSide {
        trace_id: hex::encode(t.trace_id()),
        root: t
            .root()
            .map(|r| format!("{}: {}", r.service(), r.name))
            .unwrap_or_default(),
        start_ns: t.start_ns(),
        duration_ns: t.duration_ns(),
        spans: t.spans.len(),
        errors: t.error_count(),
    }
}

/// Every span of `t` with its path key (`\u{1e}` between levels, `\u{1f}` between service and
/// name, `#n` for repeats) and its times.
fn keyed(t: &Trace) -> Vec<Keyed> {
    let tree = TraceTree::build(t);
    let spans = &t.spans;
    let self_ns = self_times(t);
    let mut out: Vec<Keyed> = Vec::with_capacity(spans.len());
    // Keys of the ancestors of the current node, by depth.
    let mut path: Vec<String> = Vec::new();
    let mut seen: HashMap<String, u32> = HashMap::new();
    for node in &tree.nodes {
        let s = &spans[node.span as usize];
        path.truncate(node.depth as usize);
        let parent = path.last().cloned().unwrap_or_default();
        let base = format!(
            "{parent}{}{}\u{1f}{}",
            if parent.is_empty() { "" } else { "\u{1e}" },
            s.service(),
            s.name
        );
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        let key = if *n > 1 { format!("{base}#{n}") } else { base };
        path.push(key.clone());
        out.push(Keyed {
            key,
            parent,
            service: s.service().to_string(),
            name: s.name.to_string(),
            times: SpanTimes {
                span_id: hex::encode(s.span_id),
                offset_ns: s.start_ns.saturating_sub(t.start_ns()),
                total_ns: s.duration_ns(),
                self_ns: self_ns[node.span as usize],
                critical_ns: tree.critical_ns[node.span as usize],
                on_path: tree.is_critical(node.span),
                error: s.is_error(),
            },
        });
    }
    out
}

/// Per span: its duration minus the union of its children's intervals clipped to it.
pub fn self_times(t: &Trace) -> Vec<u64> {
    let spans = &t.spans;
    let index: HashMap<_, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id, i))
        .collect();
    let mut kids: Vec<Vec<(u64, u64)>> = vec![Vec::new(); spans.len()];
    for (i, s) in spans.iter().enumerate() {
        if let Some(&p) = index.get(&s.parent_span_id)
            && s.has_parent()
            && p != i
        {
            let ps = &spans[p];
            let (a, b) = (s.start_ns.max(ps.start_ns), s.end_ns.min(ps.end_ns));
            if a < b {
                kids[p].push((a, b));
            }
        }
    }
    spans
        .iter()
        .zip(kids.iter_mut())
        .map(|(s, k)| {
            k.sort_unstable();
            let mut covered = 0u64;
            let mut cur: Option<(u64, u64)> = None;
            for &(a, b) in k.iter() {
                match &mut cur {
                    Some((_, e)) if a <= *e => *e = (*e).max(b),
                    _ => {
                        if let Some((x, y)) = cur {
                            covered += y - x;
                        }
                        cur = Some((a, b));
                    }
                }
            }
            if let Some((x, y)) = cur {
                covered += y - x;
            }
            s.duration_ns().saturating_sub(covered)
        })
        .collect()
}

/// A duration for people: `850µs`, `12.3ms`, `1.52s`.
pub fn duration(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    if ms < 1.0 {
        format!("{}µs", ns / 1000)
    } else if ms < 1000.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{:.2}s", ms / 1000.0)
    }
}

/// A signed difference: `+1.20s`, `-20.0ms`, `0`.
pub fn delta(ns: i64) -> String {
    match ns.signum() {
        0 => "0".into(),
        1 => format!("+{}", duration(ns.unsigned_abs())),
        _ => format!("-{}", duration(ns.unsigned_abs())),
    }
}

/// `◆` when on B's critical path, `◇` when on A's only, else a space.
pub fn path_mark(r: &SpanDiff) -> char {
    let on = |t: &Option<SpanTimes>| t.as_ref().is_some_and(|t| t.on_path);
    if on(&r.b) {
        '◆'
    } else if on(&r.a) {
        '◇'
    } else {
        ' '
    }
}

/// The word of a shift: `joined`, `left`, `changed`.
pub fn shift_word(s: Shift) -> &'static str {
    match s {
        Shift::Joined => "joined",
        Shift::Left => "left",
        Shift::Changed => "changed",
    }
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
