//! Trace structure: the span tree in display order, the critical path, the calls a trace makes
//! over one dependency edge, and trace queries (the filters of the traces list).
//!
//! The critical path follows Jaeger's definition: starting at the root's end, walk back in time,
//! always descending into the child that finished last before the cursor; the time no child covers
//! is the parent's own. Spans in that chain bound the trace's latency: shortening any other span
//! does not make the trace faster. It is computed iteratively (no recursion), so hostile traces
//! with very deep nesting or parent cycles cannot overflow the stack.

use std::collections::HashMap;

use crate::model::dependency::peer_name;
use crate::model::span::{Span, SpanId};
use crate::store::trace::Trace;

/// One row of a trace tree: a span and where it sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeNode {
    /// Index of the span in `Trace::spans`.
    pub span: u32,
    /// Nesting depth (roots are 0).
    pub depth: u16,
    /// Number of descendants (the rows hidden when this node is collapsed).
    pub descendants: u32,
}

/// A trace's spans in tree order (depth-first, children by start time), with the critical path.
#[derive(Clone, Debug, Default)]
pub struct TraceTree {
    /// Nodes in display order.
    pub nodes: Vec<TreeNode>,
    /// Per span index: nanoseconds of this span's own time on the critical path.
    pub critical_ns: Vec<u64>,
    /// Per span index: whether the span is on the critical path.
    pub on_path: Vec<bool>,
}

impl TraceTree {
    /// Builds the tree of `trace`. Spans whose parent is missing become roots; spans caught in a
    /// parent cycle are attached as roots too, so every span appears exactly once.
    pub fn build(trace: &Trace) -> Self {
        let spans = &trace.spans;
        let n = spans.len();
        let index: HashMap<SpanId, u32> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id, i as u32))
            .collect();
        let mut children: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut roots: Vec<u32> = Vec::new();
        for (i, s) in spans.iter().enumerate() {
            match index.get(&s.parent_span_id) {
                Some(&p) if s.has_parent() && p as usize != i => {
                    children[p as usize].push(i as u32)
                }
                _ => roots.push(i as u32),
            }
        }
        let by_start = |v: &mut Vec<u32>| {
            v.sort_by_key(|&i| (spans[i as usize].start_ns, spans[i as usize].span_id))
        };
        children.iter_mut().for_each(by_start);
        by_start(&mut roots);

        let mut nodes = Vec::with_capacity(n);
        let mut seen = vec![false; n];
        let mut next_root = 0usize;
        let mut next_orphan = 0usize;
        loop {
            let root = if let Some(r) = roots.get(next_root).copied() {
                next_root += 1;
                r
            } else {
                // Spans in a parent cycle are unreachable from any root; adopt the first one.
                while next_orphan < n && seen[next_orphan] {
                    next_orphan += 1;
                }
                if next_orphan == n {
                    break;
                }
                next_orphan as u32
            };
            if seen[root as usize] {
                continue;
            }
            // Iterative pre-order DFS; descendant counts are filled on the way back up.
            let mut stack: Vec<(u32, u16, usize)> = vec![(root, 0, usize::MAX)];
            while let Some((span, depth, node_ix)) = stack.pop() {
                if node_ix != usize::MAX {
                    let count = nodes.len() - node_ix - 1;
                    let node: &mut TreeNode = &mut nodes[node_ix];
                    node.descendants = count as u32;
                    continue;
                }
                if seen[span as usize] {
                    continue;
                }
                seen[span as usize] = true;
                let ix = nodes.len();
                nodes.push(TreeNode {
                    span,
                    depth,
                    descendants: 0,
                });
                stack.push((span, depth, ix));
                for &c in children[span as usize].iter().rev() {
                    if !seen[c as usize] {
                        stack.push((c, depth.saturating_add(1), usize::MAX));
                    }
                }
            }
        }
        let (critical_ns, on_path) = critical_path(spans, &children, &nodes);
        TraceTree {
            nodes,
            critical_ns,
            on_path,
        }
    }

    /// Whether the span at `span` (index into `Trace::spans`) is on the critical path.
    pub fn is_critical(&self, span: u32) -> bool {
        self.on_path.get(span as usize).copied().unwrap_or(false)
    }

    /// Node positions visible when the spans in `collapsed` hide their subtrees.
    pub fn visible(&self, collapsed: impl Fn(u32) -> bool) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut i = 0usize;
        while i < self.nodes.len() {
            out.push(i as u32);
            let node = &self.nodes[i];
            i += 1;
            if collapsed(node.span) {
                i += node.descendants as usize;
            }
        }
        out
    }
}

/// Own time on the critical path per span (see the module docs), for every root's tree.
fn critical_path(
    spans: &[Span],
    children: &[Vec<u32>],
    nodes: &[TreeNode],
) -> (Vec<u64>, Vec<bool>) {
    let mut own = vec![0u64; spans.len()];
    // The trace's critical path starts at the root that ends last.
    let Some(root) = nodes
        .iter()
        .filter(|n| n.depth == 0)
        .max_by_key(|n| spans[n.span as usize].end_ns)
        .map(|n| n.span)
    else {
        return (own, vec![false; spans.len()]);
    };
    let mut kids_by_end: Vec<Vec<u32>> = children.to_vec();
    for k in &mut kids_by_end {
        k.sort_by_key(|&i| std::cmp::Reverse(spans[i as usize].end_ns));
    }
    struct Frame {
        span: u32,
        cursor: u64,
        next_kid: usize,
    }
    let mut visited = vec![false; spans.len()];
    let mut stack = vec![Frame {
        span: root,
        cursor: spans[root as usize].end_ns,
        next_kid: 0,
    }];
    visited[root as usize] = true;
    while let Some(top) = stack.last_mut() {
        let kids = &kids_by_end[top.span as usize];
        let mut descend = None;
        while top.next_kid < kids.len() {
            let k = kids[top.next_kid];
            top.next_kid += 1;
            let ks = &spans[k as usize];
            if visited[k as usize] || ks.start_ns >= top.cursor {
                continue;
            }
            let kend = ks.end_ns.min(top.cursor);
            own[top.span as usize] += top.cursor - kend;
            top.cursor = ks.start_ns;
            descend = Some((k, kend));
            break;
        }
        match descend {
            Some((k, kend)) => {
                visited[k as usize] = true;
                stack.push(Frame {
                    span: k,
                    cursor: kend,
                    next_kid: 0,
                });
            }
            None => {
                let f = stack.pop();
                if let Some(f) = f {
                    let start = spans[f.span as usize].start_ns;
                    own[f.span as usize] += f.cursor.saturating_sub(start);
                }
            }
        }
    }
    (own, visited)
}

/// Whether the outbound span `s` of `trace` is a call from `caller` to `dependency` as the store
/// names edges: the service of its server/consumer child, else what its attributes name.
pub fn is_call_on_edge(trace: &Trace, s: &Span, caller: &str, dependency: &str) -> bool {
    if !s.kind.is_outbound() || s.service() != caller {
        return false;
    }
    if let Some(child) = trace.children(&s.span_id).find(|c| c.kind.is_inbound()) {
        return child.service() == dependency;
    }
    match peer_name(&s.attributes) {
        Some(p) => p.name == dependency || dependency.starts_with(&format!("{}:", p.name)),
        None => dependency.strip_prefix("(unnamed) ") == Some(&*s.name),
    }
}

/// One call over an edge found in a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeCall {
    /// Index of the trace in the snapshot's trace list it was found in.
    pub trace: usize,
    /// The trace id (stable across snapshots, unlike the index).
    pub trace_id: crate::model::span::TraceId,
    /// The client span.
    pub span_id: SpanId,
    /// Call start, Unix nanoseconds.
    pub start_ns: u64,
    /// Call duration, nanoseconds.
    pub duration_ns: u64,
    /// Whether the call failed.
    pub error: bool,
}

/// The most recent and the slowest calls over an edge, among traces starting in `[from, to)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EdgeCalls {
    /// Newest first.
    pub recent: Vec<EdgeCall>,
    /// Slowest first.
    pub slowest: Vec<EdgeCall>,
    /// Calls seen in total.
    pub total: usize,
}

/// Scans `traces` (arrival order, as snapshots hold them) for calls over `caller → dependency`.
pub fn edge_calls(
    traces: &crate::store::TraceList,
    caller: &str,
    dependency: &str,
    window: (u64, u64),
    keep: usize,
) -> EdgeCalls {
    let mut all: Vec<EdgeCall> = Vec::new();
    for (ti, t) in traces.iter().enumerate() {
        if t.end_ns() < window.0 || t.start_ns() >= window.1 {
            continue;
        }
        for s in t.spans.iter() {
            if is_call_on_edge(t, s, caller, dependency) {
                all.push(EdgeCall {
                    trace: ti,
                    trace_id: t.trace_id(),
                    span_id: s.span_id,
                    start_ns: s.start_ns,
                    duration_ns: s.duration_ns(),
                    error: s.is_error(),
                });
            }
        }
    }
    let total = all.len();
    let mut recent = all.clone();
    recent.sort_by_key(|c| std::cmp::Reverse(c.start_ns));
    recent.truncate(keep);
    all.sort_by_key(|c| std::cmp::Reverse(c.duration_ns));
    all.truncate(keep);
    EdgeCalls {
        recent,
        slowest: all,
        total,
    }
}

/// A query over traces: the traces list's filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceQuery {
    /// Some span's service contains this.
    pub service: Option<String>,
    /// Some span's name contains this.
    pub operation: Option<String>,
    /// Trace duration at least this.
    pub min_duration_ns: Option<u64>,
    /// Only traces with an error span.
    pub errors_only: bool,
    /// Some span (or its resource) has these attributes with these display values.
    pub attributes: Vec<(String, String)>,
    /// Trace id (hex) is one of these.
    pub trace_ids: Vec<String>,
    /// Free text: the root's service or operation contains it.
    pub text: Option<String>,
}

impl TraceQuery {
    /// Whether the query restricts nothing.
    pub fn is_empty(&self) -> bool {
        *self == TraceQuery::default()
    }

    /// Whether `t` matches every part of the query.
    pub fn matches(&self, t: &Trace) -> bool {
        if self.errors_only && t.error_count() == 0 {
            return false;
        }
        if self.min_duration_ns.is_some_and(|m| t.duration_ns() < m) {
            return false;
        }
        if !self.trace_ids.is_empty() {
            let id = hex::encode(t.trace_id());
            if !self.trace_ids.iter().any(|x| x.eq_ignore_ascii_case(&id)) {
                return false;
            }
        }
        if let Some(svc) = &self.service
            && !t.spans.iter().any(|s| contains_ci(s.service(), svc))
        {
            return false;
        }
        if let Some(op) = &self.operation
            && !t.spans.iter().any(|s| contains_ci(&s.name, op))
        {
            return false;
        }
        for (k, v) in &self.attributes {
            let hit = t.spans.iter().any(|s| {
                s.attributes
                    .get(k)
                    .or_else(|| s.resource.attributes.get(k))
                    .is_some_and(|a| a.to_display() == *v)
            });
            if !hit {
                return false;
            }
        }
        if let Some(text) = &self.text {
            let Some(root) = t.root() else { return false };
            if !contains_ci(root.service(), text) && !contains_ci(&root.name, text) {
                return false;
            }
        }
        true
    }
}

/// Case-insensitive substring test (ASCII folding).
pub fn contains_ci(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let n = needle.as_bytes();
    hay.as_bytes()
        .windows(n.len())
        .any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
#[path = "traces_tests.rs"]
mod tests;
