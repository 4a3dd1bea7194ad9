//! The service map (`m`): the dependency graph in layers from entry points (left) to leaves
//! (right), laid out by `analysis::layout`, with the selected node's edges listed under it.
//!
//! ```text
//! ┌ Service map 9 services · 11 edges · filter checkout ─────────────────────────────────┐
//! │                  ┌────────┐      ┌─────────┐                                          │
//! │ ┌────────┐ ━━━━━━┥checkout├══┳══▶│payments↻│   boxes: ↻ in a cycle (CYC-001),          │
//! │ │frontend│       └────────┘  ┗━━▶│inventory│          ✱ hub / fan-out (FAN-002)        │
//! │ └────────┘ ───────▶[cart]        └─────────┘   lines: ─ ━ ═ by rate, coloured by the  │
//! │                                                breaker, else by error %               │
//! │ checkout: → payments OPEN 12.0/s err 82% p99 320ms   ← frontend CLOSED 20.0/s ...     │
//! └ ↑↓ node · ←→ edge · enter detail · ─ <10% of the top rate ━ <50% ═ more ───────────────┘
//! ```
//! Boxes are three rows when they fit, one row (`[name]`) when not; when even that does not
//! fit (too many services in a layer, or too many layers for the width) the map falls back to
//! a list: every service in layer order with its calls under it. Edges that close a cycle are
//! not drawn as lines (they are listed, marked `↻`). Lines are drawn cell by cell from
//! direction bits so crossing and merging lines join (`┼ ┳ ╬`); a cell takes the thickest and
//! worst-coloured edge through it.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::map_canvas::{Canvas, Cell, glyph};
use super::{block, widgets};
use crate::model::breaker::BreakerState;
use crate::model::view::DependencyView;
use crate::tui::app::{Hits, UiState};
use crate::tui::map::{MapGraph, MapUi};
use crate::tui::theme::Theme;

/// Columns between layers (room for the channel and the arrow).
const GAP: u16 = 5;
/// Narrowest box label before the map gives up for the list.
const MIN_LABEL: usize = 6;

/// Renders the map (or its fallback list) into `area`.
pub fn render(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme, _hits: &mut Hits) {
    let m = &s.map;
    let g = &m.graph;
    let mut title = format!(
        " Service map {} services · {} edges ",
        g.nodes.len(),
        g.edges.len()
    );
    if !s.deps.filter.is_empty() {
        title.push_str(&format!("· filter {} ", widgets::fit(&s.deps.filter, 30)));
    }
    let b = block(title, theme).title_bottom(Line::from(vec![
        Span::styled(" ─ ", theme.dim),
        Span::styled("<10% of top rate ", theme.dim),
        Span::styled("━ ", theme.dim),
        Span::styled("<50% ", theme.dim),
        Span::styled("═ ", theme.dim),
        Span::styled("more · ↻ cycle ✱ hub ", theme.dim),
    ]));
    let inner = b.inner(area);
    f.render_widget(b, area);
    if g.nodes.is_empty() {
        let msg = if s.deps.filter.is_empty() {
            "No dependencies seen yet."
        } else {
            "No dependency matches the filter (esc clears it)."
        };
        f.render_widget(Paragraph::new(msg).style(theme.dim), inner);
        return;
    }
    let panel_h = m
        .node()
        .map_or(1, |n| g.edges_of(n).len().clamp(1, 4) as u16 + 1)
        .min(inner.height / 3);
    let graph_area = Rect {
        height: inner.height.saturating_sub(panel_h),
        ..inner
    };
    let panel = Rect {
        y: inner.y + graph_area.height,
        height: panel_h,
        ..inner
    };
    match plan(g, graph_area) {
        Some(p) => {
            draw_graph(f.buffer_mut(), &p, s, theme);
            edge_panel(f, panel, s, theme);
        }
        None => fallback(f, inner, s, theme),
    }
}

/// Where everything goes: per node its box, and whether boxes are three rows.
struct Plan {
    boxes: Vec<Rect>,
    label: usize,
    tall: bool,
}

/// Places the boxes, or `None` when the graph does not fit `area`.
fn plan(g: &MapGraph, area: Rect) -> Option<Plan> {
    let layers = &g.layers.order;
    let n_layers = layers.len().max(1) as u16;
    let widest = g
        .nodes
        .iter()
        .map(|n| n.name.chars().count() + usize::from(n.cycle) + usize::from(n.hub))
        .max()
        .unwrap_or(1);
    let room = area.width.saturating_sub(GAP * (n_layers - 1)) / n_layers;
    let label = widest.min(room.saturating_sub(2) as usize);
    if label < MIN_LABEL.min(widest) {
        return None;
    }
    let most = layers.iter().map(Vec::len).max().unwrap_or(1) as u16;
    let fits = |h: u16| most * h + most.saturating_sub(1) <= area.height;
    let tall = fits(3);
    if !tall && !fits(1) {
        return None;
    }
    let h = if tall { 3 } else { 1 };
    let w = label as u16 + 2;
    let mut boxes = vec![Rect::default(); g.nodes.len()];
    for (l, nodes) in layers.iter().enumerate() {
        let count = nodes.len() as u16;
        let used = count * h + count.saturating_sub(1);
        let step = if count > 1 {
            (area.height - h) / (count - 1)
        } else {
            0
        };
        let top = if count > 1 {
            area.y
        } else {
            area.y + (area.height.saturating_sub(used)) / 2
        };
        let x = area.x + l as u16 * (w + GAP);
        for (i, &v) in nodes.iter().enumerate() {
            let y = top + i as u16 * step.max(h + 1);
            boxes[v] = Rect::new(x, y, w, h);
        }
    }
    Some(Plan { boxes, label, tall })
}

/// Line thickness of an edge: 0 light, 1 heavy, 2 double, by its share of the top rate.
fn thickness(rate: f64, top: f64) -> u8 {
    if top <= 0.0 || rate < top * 0.1 {
        0
    } else if rate < top * 0.5 {
        1
    } else {
        2
    }
}

/// Colour rank (higher wins a shared cell) and style of an edge.
fn edge_style(d: &DependencyView, theme: &Theme) -> (u8, Style) {
    match d.breaker.state {
        BreakerState::Open | BreakerState::ForcedOpen => return (5, theme.open),
        BreakerState::HalfOpen => return (4, theme.half_open),
        BreakerState::AtCapacity | BreakerState::Ejected { .. } => return (4, theme.at_capacity),
        _ => {}
    }
    let t = &d.traffic.stats;
    if t.calls == 0 {
        return (0, theme.dim);
    }
    let err = d.traffic.error_ratio();
    if err >= 0.05 {
        (3, theme.bad)
    } else if err >= 0.01 {
        (2, theme.warn)
    } else {
        (1, theme.ok)
    }
}

fn draw_graph(buf: &mut Buffer, p: &Plan, s: &UiState, theme: &Theme) {
    let m: &MapUi = &s.map;
    let g = &m.graph;
    let area = p.boxes.iter().fold(Rect::default(), |acc, r| {
        if acc.area() == 0 { *r } else { acc.union(*r) }
    });
    let area = Rect {
        width: area.width + GAP,
        ..area
    };
    let mut canvas = Canvas {
        area,
        cells: vec![Cell::default(); area.area() as usize],
    };
    let top = g
        .edges
        .iter()
        .map(|e| s.snapshot.deps[e.dep].traffic.rate())
        .fold(0.0, f64::max);
    let sel = m.node();
    let sel_edge = m.selected_edge();
    let mut arrows: Vec<(u16, u16, Style)> = Vec::new();
    let order: Vec<usize> = {
        // The selected node's edges last, so they are drawn on top.
        let mut v: Vec<usize> = (0..g.edges.len()).collect();
        v.sort_by_key(|&e| Some(g.edges[e].from) == sel || Some(g.edges[e].to) == sel);
        v
    };
    for ei in order {
        let e = &g.edges[ei];
        if e.back || e.from == e.to {
            continue;
        }
        let d = &s.snapshot.deps[e.dep];
        let (rank, style) = edge_style(d, theme);
        let bold = Some(e.from) == sel || Some(e.to) == sel;
        let c = Cell {
            bits: 0,
            thick: thickness(d.traffic.rate(), top),
            rank: if Some(ei) == sel_edge { 9 } else { rank },
            style: if bold {
                style.add_modifier(Modifier::BOLD)
            } else {
                style
            },
            bold,
        };
        let (a, b) = (p.boxes[e.from], p.boxes[e.to]);
        let ya = a.y + a.height / 2;
        let yb = b.y + b.height / 2;
        let x0 = a.right();
        let xc = x0 + GAP / 2;
        let x1 = b.x.saturating_sub(2);
        canvas.hline(x0, xc, ya, &c);
        canvas.vline(xc, ya, yb, &c);
        canvas.hline(xc, x1, yb, &c);
        arrows.push((b.x.saturating_sub(1), yb, c.style));
    }
    for (i, cell) in canvas.cells.iter().enumerate() {
        if cell.bits == 0 {
            continue;
        }
        let x = area.x + (i % area.width as usize) as u16;
        let y = area.y + (i / area.width as usize) as u16;
        if let Some(bc) = buf.cell_mut((x, y)) {
            bc.set_char(glyph(cell.bits, cell.thick))
                .set_style(cell.style);
        }
    }
    for (x, y, st) in arrows {
        if let Some(bc) = buf.cell_mut((x, y)) {
            bc.set_char('▶').set_style(st);
        }
    }
    let target = sel_edge.map(|e| {
        let e = &g.edges[e];
        if Some(e.from) == sel { e.to } else { e.from }
    });
    for (v, r) in p.boxes.iter().enumerate() {
        let node = &g.nodes[v];
        let mut name = widgets::fit(
            &node.name,
            p.label - usize::from(node.cycle) - usize::from(node.hub),
        );
        if node.cycle {
            name.push('↻');
        }
        if node.hub {
            name.push('✱');
        }
        let style = if Some(v) == sel {
            theme.selected
        } else if Some(v) == target {
            theme.accent.add_modifier(Modifier::REVERSED)
        } else if node.cycle {
            theme.warn
        } else {
            theme.text
        };
        let frame = if Some(v) == sel {
            theme.accent
        } else {
            theme.dim
        };
        let w = p.label + 2;
        if p.tall {
            buf.set_string(r.x, r.y, format!("┌{}┐", "─".repeat(w - 2)), frame);
            buf.set_string(r.x, r.y + 1, "│", frame);
            buf.set_string(r.x + 1, r.y + 1, format!("{name:<0$}", p.label), style);
            buf.set_string(r.x + w as u16 - 1, r.y + 1, "│", frame);
            buf.set_string(r.x, r.y + 2, format!("└{}┘", "─".repeat(w - 2)), frame);
        } else {
            buf.set_string(r.x, r.y, "[", frame);
            buf.set_string(r.x + 1, r.y, format!("{name:<0$}", p.label), style);
            buf.set_string(r.x + w as u16 - 1, r.y, "]", frame);
        }
    }
}

/// One edge as a line of text: `→ payments OPEN 12.0/s err 82% p99 320ms`.
fn edge_line<'a>(
    s: &UiState,
    ei: usize,
    outgoing: bool,
    selected: bool,
    theme: &Theme,
) -> Line<'a> {
    let g = &s.map.graph;
    let e = &g.edges[ei];
    let d = &s.snapshot.deps[e.dep];
    let other = if outgoing {
        &g.nodes[e.to]
    } else {
        &g.nodes[e.from]
    };
    let (_, style) = edge_style(d, theme);
    let t = &d.traffic.stats;
    let mut spans = vec![
        Span::styled(
            format!(
                "{} {}{} ",
                if outgoing { "→" } else { "←" },
                other.name,
                if e.back || e.cycle { " ↻" } else { "" }
            ),
            if selected { theme.selected } else { theme.text },
        ),
        widgets::breaker(&d.breaker, theme),
        Span::styled(format!(" {}/s", widgets::rate(d.traffic.rate())), style),
        Span::styled(
            format!(" err {}%", widgets::pct(d.traffic.error_ratio(), t.calls)),
            style,
        ),
        Span::styled(
            format!(" p99 {}", widgets::quantile(d.latency.p99)),
            theme.dim,
        ),
    ];
    if selected {
        spans.push(Span::styled("  enter: detail", theme.dim));
    }
    Line::from(spans)
}

fn edge_panel(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme) {
    let m = &s.map;
    let Some(n) = m.node() else { return };
    let g = &m.graph;
    let edges = g.edges_of(n);
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{}: ", g.nodes[n].name), theme.accent),
        Span::styled(
            format!(
                "{} edge{} · ←→ choose · enter opens its detail",
                edges.len(),
                if edges.len() == 1 { "" } else { "s" }
            ),
            theme.dim,
        ),
    ])];
    let room = area.height.saturating_sub(1) as usize;
    let skip = m.edge.saturating_sub(room.saturating_sub(1));
    for (i, &ei) in edges.iter().enumerate().skip(skip).take(room) {
        lines.push(edge_line(s, ei, g.edges[ei].from == n, i == m.edge, theme));
    }
    f.render_widget(Paragraph::new(lines), area);
}

/// The list the map falls back to: every service in layer order, its calls under it.
fn fallback(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme) {
    let m = &s.map;
    let g = &m.graph;
    let mut lines: Vec<Line> = vec![Line::from(Span::styled(
        "The map does not fit here: services by layer, their calls under them (↑↓ ←→ enter)",
        theme.dim,
    ))];
    let mut sel_line = 0;
    for (pos, &v) in g.reading.iter().enumerate() {
        let node = &g.nodes[v];
        let selected = pos == m.nav.selected;
        if selected {
            sel_line = lines.len();
        }
        let mut marks = String::new();
        if node.cycle {
            marks.push_str(" ↻ cycle");
        }
        if node.hub {
            marks.push_str(" ✱ hub");
        }
        lines.push(Line::from(vec![
            Span::styled(format!("L{} ", g.layers.layer_of[v]), theme.dim),
            Span::styled(
                node.name.clone(),
                if selected {
                    theme.selected
                } else {
                    theme.accent
                },
            ),
            Span::styled(marks, theme.warn),
        ]));
        let edges = g.edges_of(v);
        for (i, &ei) in edges.iter().enumerate() {
            let outgoing = g.edges[ei].from == v;
            if !outgoing && !selected {
                continue;
            }
            if selected && i == m.edge {
                sel_line = lines.len();
            }
            let mut l = edge_line(s, ei, outgoing, selected && i == m.edge, theme);
            l.spans.insert(0, Span::raw("    "));
            lines.push(l);
        }
    }
    let h = area.height as usize;
    let scroll = sel_line.saturating_sub(h.saturating_sub(2));
    f.render_widget(Paragraph::new(lines).scroll((scroll as u16, 0)), area);
}
