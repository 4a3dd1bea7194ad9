//! Layered layout of a directed graph (the service map): which layer each node sits in, and the
//! order of the nodes inside each layer. Pure, no terminal: the TUI's map view draws it.
//!
//! The steps are Sugiyama's, kept small:
//! 1. **Cycles are broken** by a depth-first search that starts at the entry points (nodes no
//!    edge enters, in index order) and then at any node not reached yet; an edge to a node still
//!    on the search stack closes a cycle and is a *back edge*. Back edges (and self-loops) are
//!    left out of the layering, so what remains is acyclic.
//! 2. **Longest-path layering**: entry points are layer 0 and every node sits one layer below its
//!    deepest caller, so every remaining edge points to a later layer and leaves end up last.
//! 3. **Order within a layer** by barycenter: alternating down and up sweeps place each node at
//!    the mean position of its neighbours in the layers before (or after) it; the order with the
//!    fewest crossings between adjacent layers is kept. Ties keep the previous order, and the
//!    first order is by node index, so the layout is deterministic for the same input.

use std::collections::VecDeque;

/// Sweeps of the barycenter ordering (down and up alternate).
const SWEEPS: usize = 8;

/// Where every node of a graph goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layers {
    /// Per node: its layer (0: the entry points).
    pub layer_of: Vec<usize>,
    /// Per layer: its nodes, in drawing order.
    pub order: Vec<Vec<usize>>,
    /// Per edge of the input: whether it was left out to break a cycle (or is a self-loop).
    pub back: Vec<bool>,
    /// Crossings between adjacent layers in the chosen order.
    pub crossings: usize,
}

impl Layers {
    /// Position of `node` inside its layer.
    pub fn position(&self, node: usize) -> usize {
        let l = self.layer_of.get(node).copied().unwrap_or(0);
        self.order
            .get(l)
            .and_then(|o| o.iter().position(|&n| n == node))
            .unwrap_or(0)
    }

    /// The nodes in drawing order: layer by layer, top to bottom within each.
    pub fn reading_order(&self) -> Vec<usize> {
        self.order.iter().flatten().copied().collect()
    }
}

/// Lays out `n` nodes joined by `edges` (`(from, to)`, indices below `n`; others are ignored).
pub fn layered(n: usize, edges: &[(usize, usize)]) -> Layers {
    let back = break_cycles(n, edges);
    let forward: Vec<(usize, usize)> = edges
        .iter()
        .zip(&back)
        .filter(|(_, b)| !**b)
        .map(|(e, _)| *e)
        .collect();
    let layer_of = longest_path(n, &forward);
    let depth = layer_of.iter().copied().max().map_or(0, |m| m + 1);
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (v, &l) in layer_of.iter().enumerate() {
        order[l].push(v);
    }
    let (order, crossings) = barycenter(&layer_of, order, &forward);
    Layers {
        layer_of,
        order,
        back,
        crossings,
    }
}

fn valid(n: usize, e: &(usize, usize)) -> bool {
    e.0 < n && e.1 < n
}

/// Marks the back edges found by a DFS from the entry points (iterative: no recursion depth).
fn break_cycles(n: usize, edges: &[(usize, usize)]) -> Vec<bool> {
    let mut back = vec![false; edges.len()];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indeg = vec![0usize; n];
    for (i, e) in edges.iter().enumerate() {
        if !valid(n, e) {
            back[i] = true;
            continue;
        }
        if e.0 == e.1 {
            back[i] = true;
            continue;
        }
        out[e.0].push(i);
        indeg[e.1] += 1;
    }
    // 0 unvisited, 1 on the stack, 2 done.
    let mut colour = vec![0u8; n];
    let starts = (0..n).filter(|&v| indeg[v] == 0).chain(0..n);
    for s in starts {
        if colour[s] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(s, 0)];
        colour[s] = 1;
        while let Some(top) = stack.last_mut() {
            let (v, next) = *top;
            if let Some(&ei) = out[v].get(next) {
                top.1 += 1;
                let w = edges[ei].1;
                match colour[w] {
                    0 => {
                        colour[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => back[ei] = true,
                    _ => {}
                }
            } else {
                colour[v] = 2;
                stack.pop();
            }
        }
    }
    back
}

/// Layer of every node: the longest path to it from an entry point (Kahn's order on a DAG).
fn longest_path(n: usize, forward: &[(usize, usize)]) -> Vec<usize> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indeg = vec![0usize; n];
    for &(a, b) in forward {
        out[a].push(b);
        indeg[b] += 1;
    }
    let mut layer = vec![0usize; n];
    let mut queue: VecDeque<usize> = (0..n).filter(|&v| indeg[v] == 0).collect();
    while let Some(v) = queue.pop_front() {
        for &w in &out[v] {
            layer[w] = layer[w].max(layer[v] + 1);
            indeg[w] -= 1;
            if indeg[w] == 0 {
                queue.push_back(w);
            }
        }
    }
    layer
}

/// Orders each layer by barycenters; returns the order with the fewest crossings.
fn barycenter(
    layer_of: &[usize],
    mut order: Vec<Vec<usize>>,
    forward: &[(usize, usize)],
) -> (Vec<Vec<usize>>, usize) {
    let n = layer_of.len();
    let mut best_x = crossings(layer_of, &order, forward);
    let mut best = order.clone();
    if order.len() < 2 || best_x == 0 {
        return (best, best_x);
    }
    // Each node's callers and callees (forward edges only), so a sweep costs O(edges).
    let mut callers: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut callees: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in forward {
        if a < n && b < n {
            callers[b].push(a);
            callees[a].push(b);
        }
    }
    let mut pos = vec![0f64; n];
    for sweep in 0..SWEEPS {
        let down = sweep % 2 == 0;
        let layers: Vec<usize> = if down {
            (1..order.len()).collect()
        } else {
            (0..order.len() - 1).rev().collect()
        };
        for l in layers {
            for o in &order {
                for (i, &v) in o.iter().enumerate() {
                    pos[v] = i as f64;
                }
            }
            let mut keyed: Vec<(f64, usize, usize)> = order[l]
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let (list, before) = if down {
                        (&callers[v], true)
                    } else {
                        (&callees[v], false)
                    };
                    let nbrs = list.iter().filter(|&&u| {
                        if before {
                            layer_of[u] < l
                        } else {
                            layer_of[u] > l
                        }
                    });
                    let (sum, cnt) = nbrs.fold((0.0, 0usize), |(s, c), &u| (s + pos[u], c + 1));
                    let bc = if cnt == 0 { i as f64 } else { sum / cnt as f64 };
                    (bc, i, v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            order[l] = keyed.into_iter().map(|k| k.2).collect();
        }
        let x = crossings(layer_of, &order, forward);
        if x < best_x {
            best_x = x;
            best = order.clone();
            if x == 0 {
                break;
            }
        }
    }
    (best, best_x)
}

/// Crossings among edges joining adjacent layers (longer edges are not counted).
pub fn crossings(layer_of: &[usize], order: &[Vec<usize>], forward: &[(usize, usize)]) -> usize {
    let mut pos = vec![0usize; layer_of.len()];
    for o in order {
        for (i, &v) in o.iter().enumerate() {
            pos[v] = i;
        }
    }
    // Edges between adjacent layers as (upper layer, upper position, lower position); two cross
    // when their positions are in opposite orders. Sorted by layer and upper position, the
    // crossings of one layer pair are the strict inversions of the lower positions: counted by
    // merge sort in O(E log E), so a fleet-sized graph stays cheap.
    let mut adjacent: Vec<(usize, usize, usize)> = forward
        .iter()
        .filter(|&&(a, b)| a < layer_of.len() && b < layer_of.len())
        .filter(|&&(a, b)| layer_of[b] == layer_of[a] + 1)
        .map(|&(a, b)| (layer_of[a], pos[a], pos[b]))
        .collect();
    adjacent.sort_unstable();
    adjacent
        .chunk_by(|e, f| e.0 == f.0)
        .map(|pair| {
            let mut lower: Vec<usize> = pair.iter().map(|e| e.2).collect();
            inversions(&mut lower)
        })
        .sum()
}

/// Pairs i < j with `v[i] > v[j]` (strictly), sorting `v`.
fn inversions(v: &mut [usize]) -> usize {
    if v.len() < 2 {
        return 0;
    }
    let mid = v.len() / 2;
    let mut x = inversions(&mut v[..mid]) + inversions(&mut v[mid..]);
    let mut merged = Vec::with_capacity(v.len());
    let (mut i, mut j) = (0, mid);
    while i < mid && j < v.len() {
        if v[j] < v[i] {
            x += mid - i;
            merged.push(v[j]);
            j += 1;
        } else {
            merged.push(v[i]);
            i += 1;
        }
    }
    merged.extend_from_slice(&v[i..mid]);
    merged.extend_from_slice(&v[j..]);
    v.copy_from_slice(&merged);
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_is_one_node_per_layer_from_the_entry_point() {
        // c → a → b: c is the entry point, b the leaf.
        let l = layered(3, &[(0, 1), (2, 0)]);
        assert_eq!(l.layer_of, vec![1, 2, 0]);
        assert_eq!(l.order, vec![vec![2], vec![0], vec![1]]);
        assert_eq!(l.back, vec![false, false]);
    }

    #[test]
    fn a_node_sits_below_its_deepest_caller() {
        // a → b → c and a → c: c goes to layer 2, not 1.
        let l = layered(3, &[(0, 1), (1, 2), (0, 2)]);
        assert_eq!(l.layer_of, vec![0, 1, 2]);
    }

    #[test]
    fn a_cycle_is_broken_at_one_back_edge_and_every_node_is_placed() {
        // entry → a → b → c → a: the edge c → a closes the cycle.
        let edges = [(0, 1), (1, 2), (2, 3), (3, 1)];
        let l = layered(4, &edges);
        assert_eq!(l.back, vec![false, false, false, true]);
        assert_eq!(l.layer_of, vec![0, 1, 2, 3]);
        // A cycle with no entry point at all still lays out, one edge left out.
        let l = layered(2, &[(0, 1), (1, 0)]);
        assert_eq!(l.back.iter().filter(|b| **b).count(), 1);
        assert_eq!(l.order.iter().map(Vec::len).sum::<usize>(), 2);
    }

    #[test]
    fn self_loops_and_bad_indices_are_left_out() {
        let l = layered(2, &[(0, 0), (0, 1), (5, 1)]);
        assert_eq!(l.back, vec![true, false, true]);
        assert_eq!(l.layer_of, vec![0, 1]);
    }

    #[test]
    fn isolated_nodes_are_entry_points() {
        let l = layered(3, &[(0, 1)]);
        assert_eq!(l.order[0], vec![0, 2]);
        assert_eq!(l.order[1], vec![1]);
    }

    #[test]
    fn barycenter_ordering_removes_a_crossing_the_index_order_has() {
        // a(0) → y(3), b(1) → x(2): by index, x comes first under a and the edges cross.
        let edges = [(0, 3), (1, 2)];
        let layer_of = vec![0, 0, 1, 1];
        let by_index = vec![vec![0, 1], vec![2, 3]];
        assert_eq!(crossings(&layer_of, &by_index, &edges), 1);
        let l = layered(4, &edges);
        assert_eq!(l.crossings, 0);
        assert_eq!(l.order[1], vec![3, 2]);
        assert_eq!(l.position(3), 0);
    }

    #[test]
    fn a_larger_graph_reaches_fewer_crossings_than_its_first_order() {
        // Two entry points whose dependencies interleave in index order.
        let edges = [
            (0, 5),
            (0, 3),
            (1, 2),
            (1, 4),
            (2, 6),
            (5, 6),
            (3, 7),
            (4, 7),
        ];
        let l = layered(8, &edges);
        let first: Vec<Vec<usize>> = {
            let mut o = vec![Vec::new(); l.order.len()];
            for v in 0..8 {
                o[l.layer_of[v]].push(v);
            }
            o
        };
        let before = crossings(&l.layer_of, &first, &edges);
        assert!(before > 0, "the fixture must start with crossings");
        assert!(l.crossings < before, "{} !< {before}", l.crossings);
        assert_eq!(l.reading_order().len(), 8);
    }

    /// The pairwise definition the merge-sort count must equal.
    fn crossings_brute(
        layer_of: &[usize],
        order: &[Vec<usize>],
        forward: &[(usize, usize)],
    ) -> usize {
        let mut pos = vec![0usize; layer_of.len()];
        for o in order {
            for (i, &v) in o.iter().enumerate() {
                pos[v] = i;
            }
        }
        let adj: Vec<(usize, usize, usize)> = forward
            .iter()
            .filter(|&&(a, b)| layer_of[b] == layer_of[a] + 1)
            .map(|&(a, b)| (layer_of[a], pos[a], pos[b]))
            .collect();
        let mut x = 0;
        for (i, e) in adj.iter().enumerate() {
            for f in &adj[i + 1..] {
                if e.0 == f.0 && (e.1 < f.1 && e.2 > f.2 || e.1 > f.1 && e.2 < f.2) {
                    x += 1;
                }
            }
        }
        x
    }

    #[test]
    fn crossings_count_equals_the_pairwise_definition() {
        // Deterministic pseudo-random layered graphs, with repeated edges and shared ends.
        let mut next = crate::testkit::xorshift(0x2545_f491_4f6c_dd1du64);
        for _ in 0..200 {
            let n = 2 + next(30);
            let layer_of: Vec<usize> = (0..n).map(|_| next(4)).collect();
            let mut order = vec![Vec::new(); 4];
            for v in 0..n {
                order[layer_of[v]].push(v);
            }
            for o in &mut order {
                for i in (1..o.len()).rev() {
                    let j = next(i + 1);
                    o.swap(i, j);
                }
            }
            let edges: Vec<(usize, usize)> = (0..next(60)).map(|_| (next(n), next(n))).collect();
            assert_eq!(
                crossings(&layer_of, &order, &edges),
                crossings_brute(&layer_of, &order, &edges)
            );
        }
    }

    #[test]
    fn a_fleet_sized_graph_lays_out() {
        // 2,000 services, 22,000 edges (issue 12's scale): every edge placed, every node in a
        // layer. Before, ordering cost O(edges²) per sweep and froze the map for minutes.
        let n = 2_000;
        let edges: Vec<(usize, usize)> = (0..22_000)
            .map(|i| (i % n, (i * 7 + 1 + i / n) % n))
            .collect();
        let l = layered(n, &edges);
        assert_eq!(l.layer_of.len(), n);
        assert_eq!(l.back.len(), edges.len());
        assert_eq!(l.reading_order().len(), n);
    }
}
