//! The dependencies table: the home screen, one row per dependency view (`Snapshot::deps`: trace
//! edges and dependencies seen only in metrics; the successor to the Hystrix tile wall). Only
//! the rows on screen are built, so 10,000 rows cost what 40 do.
//!
//! ```text
//! ┌ Dependencies 14 of 14 ─────────────────────────────────────────────────────────────────────┐
//! │ CALLER → DEPENDENCY   KIND BREAKER       RPS ERR%   P50   P95   P99   QUEUE RTY% TMO% HIT% TREND  ! │
//! │ checkout → payments   http OPEN         12.0   82  50µs 310ms 320ms    ~0.4    0    0    – ▁▁▇██  2 │
//! │ checkout → inventory  http CLOSED       12.0    0  26ms  1.8s  1.8s  37/100    0    0    – ▁█▁▁█  1 │
//! │ frontend → sessions   db   CLOSED~      20.0    0  0.3ms 1ms   2ms     ~0.2    0    0   75 ▁▁▁▁▁    │
//! └───────────────────────────────────── ~ breaker inferred from traces · ~n queue estimated ┘
//! ```
//! Breaker states without `~` come from a breaker metric; queues `n/cap` from gauges; `HIT%` is
//! the cache hit ratio (`view::cache`), `–` for a dependency that is no cache, and the column is
//! there only when some dependency is a cache. Columns
//! drop right-to-left by priority as the terminal narrows; the name column takes the rest.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::{block, widgets};
use crate::analysis::latency;
use crate::tui::app::{Hits, Trend, UiState};
use crate::tui::rows::{self, DepRow, SortKey};
use crate::tui::theme::Theme;

/// A column: header, width, drop priority (higher drops first), sort key.
struct Col {
    name: &'static str,
    width: u16,
    prio: u8,
    key: Option<SortKey>,
    right: bool,
}

const COLS: &[Col] = &[
    Col {
        name: "KIND",
        width: 5,
        prio: 6,
        key: None,
        right: false,
    },
    Col {
        name: "BREAKER",
        width: 12,
        prio: 1,
        key: Some(SortKey::Breaker),
        right: false,
    },
    Col {
        name: "RPS",
        width: 6,
        prio: 2,
        key: Some(SortKey::Rps),
        right: true,
    },
    Col {
        name: "ERR%",
        width: 5,
        prio: 1,
        key: Some(SortKey::Errors),
        right: true,
    },
    Col {
        name: "P50",
        width: 7,
        prio: 5,
        key: Some(SortKey::P50),
        right: true,
    },
    Col {
        name: "P95",
        width: 7,
        prio: 4,
        key: Some(SortKey::P95),
        right: true,
    },
    Col {
        name: "P99",
        width: 7,
        prio: 2,
        key: Some(SortKey::P99),
        right: true,
    },
    Col {
        name: "QUEUE",
        width: 7,
        prio: 7,
        key: Some(SortKey::Queue),
        right: true,
    },
    Col {
        name: "RTY%",
        width: 5,
        prio: 6,
        key: Some(SortKey::Retries),
        right: true,
    },
    Col {
        name: "TMO%",
        width: 5,
        prio: 6,
        key: Some(SortKey::Timeouts),
        right: true,
    },
    Col {
        name: "HIT%",
        width: 5,
        prio: 6,
        key: None,
        right: true,
    },
    Col {
        name: "TREND",
        width: 12,
        prio: 8,
        key: None,
        right: false,
    },
    Col {
        name: "!",
        width: 3,
        prio: 3,
        key: Some(SortKey::Findings),
        right: true,
    },
];

/// Narrowest name column before other columns are dropped.
const MIN_NAME: u16 = 22;

/// The columns that fit in `width` (indices into `COLS`) and the name column's width. `HIT%`
/// is shown only when some dependency is a cache (`caches`).
fn fit_columns(width: u16, caches: bool) -> (Vec<usize>, u16) {
    let mut shown: Vec<usize> = (0..COLS.len())
        .filter(|&i| caches || COLS[i].name != "HIT%")
        .collect();
    loop {
        let used: u16 = shown.iter().map(|&i| COLS[i].width + 1).sum();
        if used + MIN_NAME <= width || shown.is_empty() {
            return (shown.clone(), width.saturating_sub(used).max(8));
        }
        // Drop the highest-priority-number column (rightmost on ties).
        if let Some(pos) = shown
            .iter()
            .enumerate()
            .max_by_key(|(p, i)| (COLS[**i].prio, *p))
            .map(|(p, _)| p)
        {
            shown.remove(pos);
        }
    }
}

/// Height of the selected edge's preview under the table, when the table leaves room for it.
const PREVIEW: u16 = 14;

/// Renders the table (and, with few edges, a preview of the selected one) into `area`.
pub fn render(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme, hits: &mut Hits) {
    let needed = s.dep_rows.len() as u16 + 3;
    if let Some(i) = s.selected_edge()
        && area.height >= needed.max(8) + PREVIEW
    {
        let table_h = needed.max(8);
        let (top, bottom) = (
            Rect {
                height: table_h,
                ..area
            },
            Rect {
                y: area.y + table_h,
                height: area.height - table_h,
                ..area
            },
        );
        table(f, top, s, theme, hits);
        super::preview::render(f, bottom, s, i, theme);
    } else {
        table(f, area, s, theme, hits);
    }
}

fn table(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme, hits: &mut Hits) {
    let snap = &s.snapshot;
    let title = format!(
        " Dependencies {} of {} ",
        s.dep_rows
            .iter()
            .filter(|r| matches!(r, DepRow::Edge(_)))
            .count(),
        snap.deps.len()
    );
    let mut b = block(title, theme);
    if let Some(legend) = legend(s) {
        b = b.title_bottom(Line::styled(legend, theme.dim).right_aligned());
    }
    let inner = b.inner(area);
    f.render_widget(b, area);
    if snap.deps.is_empty() {
        let msg = match s.mode {
            crate::tui::app::Mode::Review => "No dependency calls in this window.",
            _ => {
                "Waiting for spans… point an OTLP exporter at the addresses above (OTEL_EXPORTER_OTLP_ENDPOINT)."
            }
        };
        f.render_widget(Paragraph::new(msg).style(theme.dim), inner);
        return;
    }
    let (cols, name_w) = fit_columns(inner.width, snap.deps.iter().any(|d| d.cache.is_some()));
    let height = inner.height.saturating_sub(1) as usize;
    let offset = s.deps.nav.visible_offset(height);
    hits.list = Some(Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    });
    hits.list_offset = offset;

    let mut header_cells = vec![Cell::from(Span::styled(
        sort_mark("CALLER → DEPENDENCY", SortKey::Name, s),
        theme.accent,
    ))];
    let mut xs = Vec::new();
    let mut x = inner.x;
    xs.push((x, x + name_w, SortKey::Name));
    x += name_w + 1;
    for &i in &cols {
        let c = &COLS[i];
        let label = match c.key {
            Some(k) => sort_mark(c.name, k, s),
            None if c.name == "TREND" => match s.deps.trend {
                Trend::P99 => "P99 TREND".into(),
                Trend::Errors => "ERR% TREND".into(),
            },
            None => c.name.into(),
        };
        header_cells.push(align(label, c, theme.accent));
        if let Some(k) = c.key {
            xs.push((x, x + c.width, k));
        }
        x += c.width + 1;
    }
    hits.columns = Some((inner.y, xs));

    let rows = s
        .dep_rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(ri, r)| {
            let row = match r {
                DepRow::Group { caller, edges } => Row::new(vec![Cell::from(Span::styled(
                    format!("▾ {caller} ({edges})"),
                    theme.accent,
                ))]),
                DepRow::Edge(i) => edge_row(s, *i as usize, &cols, name_w, theme),
            };
            if ri == s.deps.nav.selected {
                row.style(theme.selected)
            } else {
                row
            }
        });
    let mut widths = vec![Constraint::Length(name_w)];
    widths.extend(cols.iter().map(|&i| Constraint::Length(COLS[i].width)));
    let table = Table::new(rows, widths)
        .header(Row::new(header_cells))
        .column_spacing(1);
    f.render_widget(table, inner);
}

/// The footnote for the `~` marks in the table: which rows were inferred or estimated from
/// traces.
fn legend(s: &UiState) -> Option<&'static str> {
    let m = s.dep_marks;
    match (m.inferred_breaker, m.estimated_queue) {
        (true, true) => Some(" ~ breaker inferred from traces · ~n queue estimated from traces "),
        (true, false) => Some(" ~ breaker inferred from traces "),
        (false, true) => Some(" ~n queue estimated from traces (no queue gauge) "),
        (false, false) => None,
    }
}

fn sort_mark(name: &str, key: SortKey, s: &UiState) -> String {
    if s.deps.order.sort == key {
        format!(
            "{name}{}",
            if s.deps.order.descending {
                "↓"
            } else {
                "↑"
            }
        )
    } else {
        name.into()
    }
}

fn align<'a>(text: String, c: &Col, style: Style) -> Cell<'a> {
    let t = if c.right {
        format!("{text:>w$}", w = c.width as usize)
    } else {
        text
    };
    Cell::from(Span::styled(t, style))
}

fn edge_row<'a>(s: &'a UiState, i: usize, cols: &[usize], name_w: u16, theme: &Theme) -> Row<'a> {
    let d = &s.snapshot.deps[i];
    let facts = s.facts.get(i).copied().unwrap_or_default();
    let sum = &d.traffic;
    let calls = sum.stats.calls;
    let name = if s.deps.order.group {
        format!("  → {}", d.key.dependency)
    } else {
        format!("{} → {}", d.key.caller, d.key.dependency)
    };
    let mut cells = vec![Cell::from(widgets::fit(&name, name_w as usize))];
    for &ci in cols {
        let c = &COLS[ci];
        let cell = match c.name {
            "KIND" => align(kind_label(d.kind).into(), c, theme.dim),
            "BREAKER" => Cell::from(widgets::breaker(&d.breaker, theme)),
            "RPS" if calls == 0 => align(widgets::NONE.into(), c, theme.dim),
            "RPS" => align(widgets::rate(rows::call_rate(d)), c, theme.text),
            "ERR%" => {
                let r = sum.error_ratio();
                let style = if r >= 0.05 {
                    theme.bad
                } else if r > 0.0 {
                    theme.warn
                } else {
                    theme.text
                };
                align(widgets::pct(r, calls), c, style)
            }
            "P50" => align(widgets::quantile(d.latency.p50), c, theme.text),
            "P95" => align(widgets::quantile(d.latency.p95), c, theme.text),
            "P99" => align(widgets::quantile(d.latency.p99), c, theme.text),
            "QUEUE" => {
                let q = d.queue.as_ref();
                let style = if widgets::queue_full(q) {
                    theme.bad
                } else if q.is_none_or(|q| q.estimated()) {
                    theme.dim
                } else {
                    theme.text
                };
                align(widgets::queue(q), c, style)
            }
            // Unknown (`–`) for calls counted from metrics: they carry no retries or timeouts.
            "RTY%" => align(widgets::pct_known(d.retry_ratio(), calls), c, theme.text),
            "TMO%" => align(widgets::pct_known(d.timeout_ratio(), calls), c, theme.text),
            "HIT%" => align(
                super::cache::hit_pct(d.cache.as_ref()),
                c,
                super::cache::style(d.cache.as_ref(), theme),
            ),
            "TREND" => Cell::from(Span::styled(trend(s, i, c.width as usize), theme.span_bar)),
            _ => match facts.severity {
                Some(sev) => align(
                    facts.findings.to_string(),
                    c,
                    widgets::severity_style(sev, theme),
                ),
                None => Cell::from(""),
            },
        };
        cells.push(cell);
    }
    Row::new(cells)
}

/// The trend sparkline of dependency `i` over the window's buckets.
fn trend(s: &UiState, i: usize, width: usize) -> String {
    let d = &s.snapshot.deps[i];
    let (from, to) = s.snapshot.window;
    let points = match s.deps.trend {
        Trend::P99 => latency::per_bucket(&d.series, from, to, |b| {
            latency::bucket_quantile_ms(b, 0.99)
        }),
        Trend::Errors => latency::per_bucket(&d.series, from, to, |b| {
            Some(b.errors as f64 / b.calls as f64)
        }),
    };
    let values: Vec<f64> = points.iter().map(|p| p.1).collect();
    widgets::sparkline(&values, width)
}

fn kind_label(k: crate::model::dependency::DepKind) -> &'static str {
    use crate::model::dependency::DepKind;
    match k {
        DepKind::Messaging => "msg",
        DepKind::Other => "other",
        k => k.as_str(),
    }
}
