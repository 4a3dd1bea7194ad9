//! The two header lines.
//!
//! ```text
//!  faultline LIVE  ● grpc 127.0.0.1:4317 ● http 127.0.0.1:4318  spans/s 1.2k  samples/s 30
//!  refused 0  dropped 0  window 5m  mem 45 MiB
//!  1 Dependencies  2 Traces  3 Findings (2)  a Alerts (1)     sort breaker↓  filter pay  PAUSED
//! ```
//! (one line each when wide enough; the status line wraps nothing, it is cut at the right edge).
//! While an alert fires (in review: at the cursor's end), a banner follows the mode, in the
//! colour of the worst severity (reversed): how many fire, and the worst one:
//! ```text
//!  faultline LIVE  ▲ 2 ALERTS FIRING  DependencyBreakerOpen checkout → payments   ● grpc …
//! ```
//! With a metrics store as source (`--prometheus`), the status line says how many edges its
//! latest answer has and how old it is, and why the latest query failed (the last good answer
//! stays on screen): `metrics 20.0k edges 12s old query failed: timed out after 10s`.
//! While a review capture loads, the status line is a gauge instead:
//! ```text
//!  faultline REVIEW  loading ██████████░░░░░░░░░░  52%  140 MiB of 270 MiB
//! ```

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::widgets;
use crate::tui::app::{Hits, Mode, Screen, UiState};
use crate::tui::theme::Theme;

/// Renders the status line and the tab line.
pub fn render(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme, hits: &mut Hits) {
    let status = Rect { height: 1, ..area };
    let tabs = Rect {
        y: area.y + 1,
        height: 1,
        ..area
    };
    f.render_widget(
        Paragraph::new(status_line(s, theme)).style(theme.header),
        status,
    );
    tab_line(f, tabs, s, theme, hits);
}

/// The metrics store's per-dependency answer: how many edges, how old (live), and why the
/// latest query failed, if it did (the rows shown are then the last good answer's).
fn fleet_status(
    t: &crate::model::fleet::FleetTable,
    now_ns: u64,
    review: bool,
    theme: &Theme,
) -> Vec<Span<'static>> {
    let mut v = vec![Span::styled("  metrics ", theme.dim)];
    match t.age_secs(now_ns) {
        None => v.push(Span::styled("waiting", theme.warn)),
        Some(age) => {
            v.push(Span::styled(
                format!("{} edges", widgets::count(t.rows.len() as u64)),
                theme.text,
            ));
            if !review {
                let stale = t.error.is_some() || age > 60;
                v.push(Span::styled(
                    format!(" {age}s old"),
                    if stale { theme.warn } else { theme.dim },
                ));
            }
        }
    }
    if let Some(e) = &t.error {
        v.push(Span::styled(format!(" query failed: {e}"), theme.bad));
    }
    v
}

fn status_line(s: &UiState, theme: &Theme) -> Line<'static> {
    let snap = &s.snapshot;
    let c = &snap.counters;
    let mode = match s.mode {
        Mode::Live => "LIVE",
        Mode::Review => "REVIEW",
        Mode::Demo => "DEMO",
    };
    let mut v = vec![
        Span::styled(" faultline ", theme.accent),
        Span::styled(
            format!("{mode}{} ", if s.paused { " ⏸" } else { "" }),
            if s.paused { theme.warn } else { theme.ok },
        ),
    ];
    if let Some(l) = s.loading {
        let frac = if l.total == 0 {
            0.0
        } else {
            (l.done as f64 / l.total as f64).clamp(0.0, 1.0)
        };
        let filled = (frac * 20.0).round() as usize;
        v.push(Span::styled(" loading ", theme.dim));
        v.push(Span::styled("█".repeat(filled), theme.accent));
        v.push(Span::styled("░".repeat(20 - filled), theme.dim));
        v.push(Span::styled(
            format!(
                " {:>3.0}%  {} MiB of {} MiB",
                frac * 100.0,
                l.done >> 20,
                l.total >> 20
            ),
            theme.text,
        ));
        return Line::from(v);
    }
    v.extend(banner(s, theme));
    for (label, addr, up) in &s.sources.items {
        v.push(Span::styled(" ●", if *up { theme.ok } else { theme.bad }));
        v.push(Span::styled(format!(" {label} {addr}"), theme.text));
    }
    let kv = |v: &mut Vec<Span<'static>>, k: &str, val: String, style| {
        v.push(Span::styled(format!("  {k} "), theme.dim));
        v.push(Span::styled(val, style));
    };
    if let Some(t) = &snap.fleet {
        v.extend(fleet_status(t, snap.now_ns, s.mode == Mode::Review, theme));
    }
    if s.mode == Mode::Review {
        if let Some(cur) = &s.cursor {
            let (from, to) = cur.window();
            kv(
                &mut v,
                "window",
                format!(
                    "{}–{} ({}) of {}–{}",
                    widgets::clock(from),
                    widgets::clock(to),
                    widgets::span_of(cur.width_ns),
                    widgets::clock(cur.range.0),
                    widgets::clock(cur.range.1)
                ),
                theme.text,
            );
        }
    } else {
        kv(
            &mut v,
            "spans/s",
            widgets::rate(s.rates.spans_per_s),
            theme.text,
        );
        kv(
            &mut v,
            "samples/s",
            widgets::rate(s.rates.points_per_s),
            theme.text,
        );
        let window = snap.window.1.saturating_sub(snap.window.0);
        kv(&mut v, "window", widgets::span_of(window), theme.text);
    }
    let red_if = |n: u64| if n > 0 { theme.bad } else { theme.text };
    kv(
        &mut v,
        "refused",
        widgets::count(c.refused_full),
        red_if(c.refused_full),
    );
    let dropped = c.bad_requests + c.spans_rejected;
    kv(&mut v, "dropped", widgets::count(dropped), red_if(dropped));
    kv(
        &mut v,
        "traces",
        format!(
            "{} ({} spans)",
            widgets::count(snap.traces.len() as u64),
            widgets::count(c.retained_spans)
        ),
        theme.text,
    );
    if let Some(rss) = s.rss_bytes {
        kv(&mut v, "mem", widgets::bytes(rss), theme.text);
    }
    Line::from(v)
}

/// The alert banner: empty unless an alert fires.
pub fn banner(s: &UiState, theme: &Theme) -> Vec<Span<'static>> {
    let firing = s.banner_alerts();
    let Some(worst) = firing.first() else {
        return Vec::new();
    };
    let style = widgets::alert_style(worst.severity, theme)
        .add_modifier(Modifier::REVERSED | Modifier::BOLD);
    let n = firing.len();
    vec![
        Span::raw(" "),
        Span::styled(
            format!(
                " ▲ {n} {} FIRING  {} {} → {} ",
                if n == 1 { "ALERT" } else { "ALERTS" },
                worst.alert,
                worst.caller,
                worst.dependency
            ),
            style,
        ),
        Span::raw(" "),
    ]
}

fn tab_line(f: &mut Frame, area: Rect, s: &UiState, theme: &Theme, hits: &mut Hits) {
    let counted = |name: &str, n: usize| {
        if n > 0 {
            format!("{name} ({n})")
        } else {
            name.to_string()
        }
    };
    let names: Vec<(String, String)> = Screen::TABS
        .iter()
        .enumerate()
        .map(|(i, t)| match t {
            // The service map (`m`) is the dependencies drawn as a graph: it takes their tab.
            Screen::Dependencies if s.stack[0] == Screen::Map => {
                ((i + 1).to_string(), "Map".to_string())
            }
            Screen::Dependencies => ((i + 1).to_string(), "Dependencies".to_string()),
            Screen::Traces => ((i + 1).to_string(), "Traces".to_string()),
            Screen::Findings => (
                (i + 1).to_string(),
                counted("Findings", s.snapshot.findings.len()),
            ),
            Screen::Logs => ((i + 1).to_string(), "Logs".to_string()),
            // `a` opens it (the number keys stay with the first views).
            Screen::Alerts => ("a".into(), counted("Alerts", s.alert_board().states.len())),
            _ => ((i + 1).to_string(), String::new()),
        })
        .collect();
    // Narrow terminals (80 columns) get the short name of the widest tab, so the sort and
    // filter notes on the right still fit beside the tabs.
    let wide: usize = names
        .iter()
        .map(|(k, n)| k.chars().count() + n.chars().count() + 3)
        .sum();
    let names: Vec<(String, String)> = if wide + 24 > area.width as usize {
        names
            .into_iter()
            .map(|(k, n)| match n.as_str() {
                "Dependencies" => (k, "Deps".to_string()),
                _ => (k, n),
            })
            .collect()
    } else {
        names
    };
    let mut x = area.x + 1;
    let mut spans = vec![Span::raw(" ")];
    for (i, (key, name)) in names.iter().enumerate() {
        let label = format!(" {key} {name} ");
        let w = label.chars().count() as u16;
        let active = s.stack[0] == Screen::TABS[i]
            || (s.stack[0] == Screen::Map && Screen::TABS[i] == Screen::Dependencies);
        let style = if active { theme.selected } else { theme.dim };
        hits.tabs.push((Rect::new(x, area.y, w, 1), i as u8 + 1));
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
        x += w + 1;
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
    let mut right: Vec<Span> = Vec::new();
    if matches!(s.screen(), Screen::Dependencies) {
        let o = &s.deps.order;
        right.push(Span::styled(
            format!(
                "sort {}{} ",
                o.sort.label(),
                if o.descending { "↓" } else { "↑" }
            ),
            theme.dim,
        ));
        if o.group {
            right.push(Span::styled("grouped ", theme.dim));
        }
    }
    let filter = match s.stack[0] {
        Screen::Dependencies | Screen::Map => &s.deps.filter,
        Screen::Traces => &s.traces.filter,
        Screen::Logs => &s.logs.filter,
        _ => "",
    };
    if !filter.is_empty() && s.input.is_none() {
        right.push(Span::styled("filter ", theme.dim));
        // Long filters (the trace ids `t` and findings list) must not cover the tabs.
        right.push(Span::styled(
            format!("{} ", widgets::fit(filter, 40)),
            theme.accent,
        ));
    }
    if s.paused {
        right.push(Span::styled(" PAUSED (p resumes) ", theme.warn));
    }
    f.render_widget(
        Paragraph::new(Line::from(right)).alignment(Alignment::Right),
        area,
    );
}
