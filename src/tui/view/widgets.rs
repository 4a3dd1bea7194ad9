//! Small formatting helpers shared by the panels: units, times, sparklines, breaker and severity
//! labels. Formatting only; numbers come from the snapshot and `analysis`.

use ratatui::style::Style;
use ratatui::text::Span;

use crate::model::alert::AlertSeverity;
use crate::model::breaker::{BreakerState, BreakerView};
use crate::model::finding::Severity;
use crate::model::resilience::MetricQuantile;
use crate::model::view::Queue;
use crate::tui::theme::Theme;

/// The "no value" mark.
pub const NONE: &str = "–";

/// Milliseconds as `850µs`, `12.3ms`, `245ms`, `1.20s`, `2m05s`.
pub fn ms(v: Option<f64>) -> String {
    let Some(v) = v else { return NONE.into() };
    if !v.is_finite() || v < 0.0 {
        NONE.into()
    } else if v < 1.0 {
        format!("{:.0}µs", v * 1e3)
    } else if v < 100.0 {
        format!("{v:.1}ms")
    } else if v < 1000.0 {
        format!("{v:.0}ms")
    } else if v < 60_000.0 {
        format!("{:.2}s", v / 1e3)
    } else {
        let s = (v / 1e3).round() as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// A percentile as [`ms`], with `≥` when a metric histogram only bounds it from below (the
/// answer lies in the `+Inf` bucket).
pub fn quantile(q: Option<MetricQuantile>) -> String {
    match q {
        Some(q) if q.at_least => format!("≥{}", ms(Some(q.ms))),
        Some(q) => ms(Some(q.ms)),
        None => NONE.into(),
    }
}

/// Nanoseconds as [`ms`].
pub fn ns(v: u64) -> String {
    ms(Some(v as f64 / 1e6))
}

/// A ratio that may be unknown ([`NONE`] then), as [`pct`].
pub fn pct_known(ratio: Option<f64>, calls: u64) -> String {
    ratio.map_or_else(|| NONE.into(), |r| pct(r, calls))
}

/// A ratio as a percentage, `–` when there were no calls.
pub fn pct(ratio: f64, calls: u64) -> String {
    if calls == 0 {
        NONE.into()
    } else if ratio == 0.0 {
        "0".into()
    } else if ratio < 0.001 {
        "<0.1".into()
    } else if ratio < 0.1 {
        format!("{:.1}", ratio * 100.0)
    } else {
        format!("{:.0}", ratio * 100.0)
    }
}

/// A rate: `0.4`, `12.5`, `350`, `4.2k`, `1.3M`.
pub fn rate(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.1}")
    } else if v < 1000.0 {
        format!("{v:.0}")
    } else if v < 1e6 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{:.1}M", v / 1e6)
    }
}

/// A count: `950`, `12.3k`.
pub fn count(v: u64) -> String {
    if v < 10_000 {
        v.to_string()
    } else {
        rate(v as f64)
    }
}

/// Bytes as `812 KiB`, `45 MiB`, `1.2 GiB`.
pub fn bytes(v: u64) -> String {
    let v = v as f64;
    if v < 1024.0 * 1024.0 {
        format!("{:.0} KiB", v / 1024.0)
    } else if v < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.0} MiB", v / 1024.0 / 1024.0)
    } else {
        format!("{:.1} GiB", v / 1024.0 / 1024.0 / 1024.0)
    }
}

static UTC_OFFSET_S: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Shows clock times in the local time zone (the dashboard sets it at start; tests keep UTC).
pub fn use_local_time() {
    let off = chrono::Local::now().offset().local_minus_utc() as i64;
    UTC_OFFSET_S.store(off, std::sync::atomic::Ordering::Relaxed);
}

/// Unix nanoseconds as `HH:MM:SS` (local time when [`use_local_time`] was called, else UTC).
pub fn clock(t_ns: u64) -> String {
    let off = UTC_OFFSET_S.load(std::sync::atomic::Ordering::Relaxed);
    let secs = ((t_ns / 1_000_000_000) as i64 + off).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Unix nanoseconds as `HH:MM:SS.mmm` (UTC).
pub fn clock_ms(t_ns: u64) -> String {
    format!("{}.{:03}", clock(t_ns), (t_ns / 1_000_000) % 1000)
}

/// A duration in nanoseconds as `30s`, `5m`, `1h30m`.
pub fn span_of(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    if s < 120 {
        format!("{s}s")
    } else if s < 7200 {
        format!("{}m", s / 60)
    } else {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    }
}

const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of `values` (the last `width` of them), scaled to their maximum.
pub fn sparkline(values: &[f64], width: usize) -> String {
    sparkline_to(values, width, None)
}

/// A sparkline scaled to `top` when given (a queue's capacity: a full bar is a full queue), else
/// to the values' maximum.
pub fn sparkline_to(values: &[f64], width: usize, top: Option<f64>) -> String {
    let vals = &values[values.len().saturating_sub(width)..];
    let max = top
        .filter(|t| *t > 0.0)
        .unwrap_or_else(|| vals.iter().copied().fold(0.0f64, f64::max));
    let mut s = String::with_capacity(width * 3);
    for _ in vals.len()..width {
        s.push(' ');
    }
    for &v in vals {
        let level = if max <= 0.0 || !v.is_finite() {
            usize::from(v > 0.0)
        } else {
            ((v / max) * 8.0).round().clamp(1.0, 8.0) as usize
        };
        s.push(BARS[if v > 0.0 { level } else { 0 }]);
    }
    s
}

/// The breaker label with its style; inferred states carry a `~` ("inferred from traces").
pub fn breaker(b: &BreakerView, theme: &Theme) -> Span<'static> {
    let style = breaker_style(b.state, theme);
    let mut label = b.state.label();
    if b.inferred() && b.state != BreakerState::Unknown {
        label.push('~');
    }
    Span::styled(label, style)
}

/// The style of a breaker state.
pub fn breaker_style(state: BreakerState, theme: &Theme) -> Style {
    match state {
        BreakerState::Closed => theme.closed,
        BreakerState::Open | BreakerState::ForcedOpen => theme.open,
        BreakerState::HalfOpen => theme.half_open,
        BreakerState::AtCapacity => theme.at_capacity,
        BreakerState::Ejected { .. } => theme.ejected,
        BreakerState::Disabled | BreakerState::Unknown => theme.dim,
    }
}

/// The style of a severity.
pub fn severity_style(s: Severity, theme: &Theme) -> Style {
    match s {
        Severity::Error => theme.bad,
        Severity::Warning => theme.warn,
        Severity::Info => theme.info,
    }
}

/// The style of an alert's severity (critical as errors, warning as warnings).
pub fn alert_style(s: AlertSeverity, theme: &Theme) -> Style {
    match s {
        AlertSeverity::Critical => theme.bad,
        AlertSeverity::Warning => theme.warn,
        AlertSeverity::Info => theme.info,
    }
}

/// Queue depth from gauges as `12` or `12/100` (capacity); an estimate from traces (Little's
/// law) as `~2.0`; `–` when unknown.
pub fn queue(q: Option<&Queue>) -> String {
    match q {
        None => NONE.into(),
        Some(q) if q.estimated() => {
            if q.depth < 10.0 {
                format!("~{:.1}", q.depth)
            } else {
                format!("~{:.0}", q.depth)
            }
        }
        Some(Queue {
            depth,
            capacity: Some(c),
            ..
        }) => format!("{depth:.0}/{c:.0}"),
        Some(q) => format!("{:.0}", q.depth),
    }
}

/// Whether a metric queue is at least 80 % full.
pub fn queue_full(q: Option<&Queue>) -> bool {
    q.is_some_and(|q| !q.estimated() && q.capacity.is_some_and(|c| c > 0.0 && q.depth >= c * 0.8))
}

/// Cuts `s` to at most `w` characters, marking the cut with `…`.
pub fn fit(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else if w == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(w - 1).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(ms(Some(0.25)), "250µs");
        assert_eq!(ms(Some(12.34)), "12.3ms");
        assert_eq!(ms(Some(1234.0)), "1.23s");
        assert_eq!(ms(Some(125_000.0)), "2m05s");
        assert_eq!(ms(None), "–");
        assert_eq!(pct(0.0, 0), "–");
        assert_eq!(pct(0.456, 10), "46");
        assert_eq!(pct(0.0123, 10), "1.2");
        assert_eq!(rate(4200.0), "4.2k");
        assert_eq!(clock(crate::testkit::T0 + 61_000_000_000), "12:01:01");
        assert_eq!(span_of(300_000_000_000), "5m");
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 4.0], 5), "  ▂▄█");
        assert_eq!(
            sparkline_to(&[0.0, 25.0, 50.0, 100.0], 4, Some(100.0)),
            " ▂▄█"
        );
        assert_eq!(sparkline_to(&[0.0, 5.0], 2, Some(100.0)), " ▁");
        assert_eq!(fit("checkout", 5), "chec…");
        let q = |ms, at_least| Some(MetricQuantile { ms, at_least });
        assert_eq!(quantile(q(2500.0, true)), "≥2.50s");
        assert_eq!(quantile(q(12.0, false)), "12.0ms");
        use crate::model::view::QueueSource;
        let metric = Queue {
            depth: 7.0,
            capacity: Some(100.0),
            source: QueueSource::Metric,
        };
        assert_eq!(queue(Some(&metric)), "7/100");
        assert!(!queue_full(Some(&metric)));
        let est = Queue {
            depth: 2.04,
            capacity: None,
            source: QueueSource::Estimated,
        };
        assert_eq!(queue(Some(&est)), "~2.0");
        assert_eq!(queue(None), "–");
    }
}
