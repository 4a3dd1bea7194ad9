//! A dependency's cache figures, from `DependencyView::cache` (the number `report` and the
//! CACHE rules read): the `HIT%` cell of the dependencies table, and the cache line of the
//! detail's breaker · queue · pool panel.
//!
//! ```text
//! HIT%   (table cell)   75 · 3.2 (warn under 50%) · – (not a cache)
//! cache  hit 75%  hits 30  misses 10  (traces)  ▃▅▇█▆   (detail line; the strip is the
//!                                                         traced hit ratio per 10 s bucket)
//! ```

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::widgets;
use crate::analysis::latency;
use crate::model::cache::CacheStats;
use crate::model::view::DependencyView;
use crate::tui::theme::Theme;

/// Hit ratios under this are shown as a warning.
const LOW: f64 = 0.5;

/// The hit percentage as the table shows it (`–` when the dependency is no cache).
pub fn hit_pct(c: Option<&CacheStats>) -> String {
    match c.and_then(CacheStats::hit_ratio) {
        None => widgets::NONE.into(),
        Some(r) if r > 0.0 && r < 0.1 => format!("{:.1}", r * 100.0),
        Some(r) => format!("{:.0}", r * 100.0),
    }
}

/// The style of a hit ratio: a warning under 50 %, dim when unknown.
pub fn style(c: Option<&CacheStats>, theme: &Theme) -> Style {
    match c.and_then(CacheStats::hit_ratio) {
        None => theme.dim,
        Some(r) if r < LOW => theme.warn,
        Some(_) => theme.text,
    }
}

/// The detail panel's cache line, `None` when the dependency is no cache.
pub fn line(
    e: &DependencyView,
    from: u64,
    to: u64,
    width: usize,
    theme: &Theme,
) -> Option<Line<'static>> {
    let c = e.cache.as_ref()?;
    let num = |v: f64| {
        if v.fract() == 0.0 && v < 1e15 {
            widgets::count(v as u64)
        } else {
            format!("{v:.1}")
        }
    };
    let mut v = vec![
        Span::styled("cache hit ", theme.dim),
        Span::styled(format!("{}%", hit_pct(Some(c))), style(Some(c), theme)),
        Span::styled("  hits ", theme.dim),
        Span::styled(num(c.hits), theme.text),
        Span::styled("  misses ", theme.dim),
        Span::styled(num(c.misses), theme.text),
        Span::styled(format!("  ({})", c.source.as_str()), theme.dim),
    ];
    let ratios: Vec<f64> = latency::per_bucket(&e.series, from, to, |b| {
        let gets = b.cache_hits + b.cache_misses;
        (gets > 0).then(|| b.cache_hits as f64 / gets as f64)
    })
    .into_iter()
    .map(|p| p.1)
    .collect();
    if !ratios.is_empty() {
        v.push(Span::raw("  "));
        v.push(Span::styled(
            widgets::sparkline_to(&ratios, width.saturating_sub(48).max(4), Some(1.0)),
            theme.span_bar,
        ));
    }
    Some(Line::from(v))
}
