//! The service map's state: the graph of the dependency rows shown (the Dependencies filter
//! applies), laid out by `analysis::layout`, the cycle and hub marks from the lint findings
//! (CYC-001, FAN-002), and the selection — a node, and one of its edges.
//!
//! Built when a snapshot arrives or the filter changes while the map is shown, never per frame.

use std::collections::{BTreeMap, HashSet};

use crate::analysis::layout::{Layers, layered};
use crate::store::Snapshot;

use super::app::ListNav;
use super::rows::DepRow;

/// The rule whose findings mark cycles.
pub const CYCLE_RULE: &str = "CYC-001";
/// The rule whose findings mark hubs (and fan-out).
pub const HUB_RULE: &str = "FAN-002";

/// A service (or dependency) on the map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapNode {
    /// Its name (the caller or dependency of the rows).
    pub name: String,
    /// In a cycle a CYC-001 finding names.
    pub cycle: bool,
    /// A FAN-002 finding names it (a hub, or requests that fan out widely).
    pub hub: bool,
}

/// An edge: one dependency row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapEdge {
    /// Caller node.
    pub from: usize,
    /// Dependency node.
    pub to: usize,
    /// Index in `Snapshot::deps`.
    pub dep: usize,
    /// Left out of the layering to break a cycle (drawn in the edge list, not as a line).
    pub back: bool,
    /// A CYC-001 finding lists this edge.
    pub cycle: bool,
}

/// The map of one snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapGraph {
    /// Nodes, by name.
    pub nodes: Vec<MapNode>,
    /// Edges, in dependency-row order.
    pub edges: Vec<MapEdge>,
    /// Layers and order within them.
    pub layers: Layers,
    /// Nodes in reading order (layer by layer): the order the selection moves in.
    pub reading: Vec<usize>,
}

impl MapGraph {
    /// The graph of `rows` (the Dependencies rows after the filter) of `snap`.
    pub fn build(snap: &Snapshot, rows: &[DepRow]) -> MapGraph {
        let mut deps: Vec<usize> = rows
            .iter()
            .filter_map(|r| match r {
                DepRow::Edge(i) => Some(*i as usize),
                DepRow::Group { .. } => None,
            })
            .collect();
        deps.sort_unstable();
        let mut names: BTreeMap<&str, usize> = BTreeMap::new();
        for &i in &deps {
            let k = &snap.deps[i].key;
            names.insert(&k.caller, 0);
            names.insert(&k.dependency, 0);
        }
        for (i, v) in names.values_mut().enumerate() {
            *v = i;
        }
        let (cycle_nodes, cycle_edges, hubs) = marks(snap);
        let nodes: Vec<MapNode> = names
            .keys()
            .map(|n| MapNode {
                name: n.to_string(),
                cycle: cycle_nodes.contains(*n),
                hub: hubs.contains(*n),
            })
            .collect();
        let mut edges: Vec<MapEdge> = deps
            .iter()
            .map(|&i| {
                let k = &snap.deps[i].key;
                MapEdge {
                    from: names[&*k.caller],
                    to: names[&*k.dependency],
                    dep: i,
                    back: false,
                    cycle: cycle_edges.contains(&(k.caller.to_string(), k.dependency.to_string())),
                }
            })
            .collect();
        let pairs: Vec<(usize, usize)> = edges.iter().map(|e| (e.from, e.to)).collect();
        let layers = layered(nodes.len(), &pairs);
        for (e, b) in edges.iter_mut().zip(&layers.back) {
            e.back = *b;
        }
        let reading = layers.reading_order();
        MapGraph {
            nodes,
            edges,
            layers,
            reading,
        }
    }

    /// Edges of `node`: its calls first, then the calls it answers.
    pub fn edges_of(&self, node: usize) -> Vec<usize> {
        let out = (0..self.edges.len()).filter(|&e| self.edges[e].from == node);
        let inc = (0..self.edges.len())
            .filter(|&e| self.edges[e].to == node && self.edges[e].from != node);
        out.chain(inc).collect()
    }
}

/// Nodes in cycles, edges in cycles, and hubs, from the snapshot's findings.
fn marks(snap: &Snapshot) -> (HashSet<String>, HashSet<(String, String)>, HashSet<String>) {
    let mut nodes = HashSet::new();
    let mut edges = HashSet::new();
    let mut hubs = HashSet::new();
    for f in snap.findings.iter() {
        if f.rule == CYCLE_RULE {
            // The detector lists every edge of the cycle as evidence `a → b`; a self-call is
            // the finding's edge itself.
            for (k, _) in &f.evidence {
                if let Some((a, b)) = k.split_once(" → ") {
                    nodes.insert(a.to_string());
                    nodes.insert(b.to_string());
                    edges.insert((a.to_string(), b.to_string()));
                }
            }
            if let (Some(a), Some(b)) = (&f.caller, &f.dependency) {
                nodes.insert(a.clone());
                nodes.insert(b.clone());
                edges.insert((a.clone(), b.clone()));
            }
            if let Some(s) = &f.service {
                nodes.insert(s.clone());
            }
        } else if f.rule == HUB_RULE
            && let Some(s) = &f.service
        {
            hubs.insert(s.clone());
        }
    }
    (nodes, edges, hubs)
}

/// Map view state.
#[derive(Clone, Debug, Default)]
pub struct MapUi {
    /// The graph.
    pub graph: MapGraph,
    /// Selected node, as a position in `graph.reading`.
    pub nav: ListNav,
    /// Selected edge among the node's edges (`MapGraph::edges_of`).
    pub edge: usize,
    /// The selected node's name, followed across snapshots.
    pub selected: Option<String>,
}

impl MapUi {
    /// Rebuilds the graph, keeping the selected node (by name) and edge.
    pub fn rebuild(&mut self, snap: &Snapshot, rows: &[DepRow]) {
        self.graph = MapGraph::build(snap, rows);
        if let Some(name) = &self.selected
            && let Some(p) = self
                .graph
                .reading
                .iter()
                .position(|&n| self.graph.nodes[n].name == *name)
        {
            self.nav.selected = p;
        }
        self.nav.move_by(0, self.graph.reading.len());
        let n = self.node().map_or(0, |n| self.graph.edges_of(n).len());
        self.edge = self.edge.min(n.saturating_sub(1));
    }

    /// The selected node.
    pub fn node(&self) -> Option<usize> {
        self.graph.reading.get(self.nav.selected).copied()
    }

    /// Moves the node selection.
    pub fn move_node(&mut self, delta: isize) {
        self.nav.move_by(delta, self.graph.reading.len());
        self.edge = 0;
        self.selected = self.node().map(|n| self.graph.nodes[n].name.clone());
    }

    /// Steps through the selected node's edges (wrapping).
    pub fn step_edge(&mut self, forward: bool) {
        let n = self.node().map_or(0, |n| self.graph.edges_of(n).len());
        if n == 0 {
            return;
        }
        self.edge = if forward {
            (self.edge + 1) % n
        } else {
            (self.edge + n - 1) % n
        };
    }

    /// The selected edge (index into `graph.edges`).
    pub fn selected_edge(&self) -> Option<usize> {
        let n = self.node()?;
        self.graph.edges_of(n).get(self.edge).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::fixture_snapshot;

    #[test]
    fn the_map_of_the_fixture_has_every_row_as_an_edge_and_lays_out_callers_first() {
        let snap = fixture_snapshot();
        let rows: Vec<DepRow> = (0..snap.deps.len() as u32).map(DepRow::Edge).collect();
        let g = MapGraph::build(&snap, &rows);
        assert_eq!(g.edges.len(), snap.deps.len());
        assert!(!g.edges.is_empty());
        for e in g.edges.iter().filter(|e| !e.back) {
            assert!(
                g.layers.layer_of[e.from] < g.layers.layer_of[e.to],
                "{} → {}",
                g.nodes[e.from].name,
                g.nodes[e.to].name
            );
        }
        let mut ui = MapUi::default();
        ui.rebuild(&snap, &rows);
        let first = ui.node().expect("a node");
        assert_eq!(
            g.layers.layer_of[first], 0,
            "the selection starts at an entry point"
        );
        ui.move_node(1);
        let name = ui.selected.clone();
        ui.rebuild(&snap, &rows);
        assert_eq!(ui.node().map(|n| ui.graph.nodes[n].name.clone()), name);
    }
}
