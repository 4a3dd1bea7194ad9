//! The `caches` section of `faultline report --format text`: one line per dependency whose view
//! has cache lookups (hits, misses, hit ratio and where they came from), after the table.

use super::rows::EdgeRow;

/// The section, empty when no dependency is a cache.
pub fn render(rows: &[EdgeRow]) -> String {
    let caches: Vec<(&EdgeRow, [String; 4])> = rows
        .iter()
        .filter_map(|r| {
            let (h, m) = (r.cache_hits?, r.cache_misses?);
            let ratio = r
                .cache_hit_ratio
                .map_or_else(|| "-".into(), |v| format!("{:.1}", v * 100.0));
            let src = r.cache_source.clone().unwrap_or_default();
            Some((r, [count(h), count(m), ratio, src]))
        })
        .collect();
    if caches.is_empty() {
        return String::new();
    }
    let name = |r: &EdgeRow| format!("{} -> {}", r.caller, r.dependency);
    let w0 = caches
        .iter()
        .map(|(r, _)| name(r).chars().count())
        .max()
        .unwrap_or(0)
        .max("CACHE".len());
    let mut widths = [4usize, 6, 4, 6];
    for (_, cells) in &caches {
        for (w, c) in widths.iter_mut().zip(cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::from("\ncaches\n");
    out.push_str(&format!(
        "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  SOURCE\n",
        "CACHE",
        "HITS",
        "MISSES",
        "HIT%",
        w1 = widths[0],
        w2 = widths[1],
        w3 = widths[2],
    ));
    for (r, c) in caches {
        out.push_str(&format!(
            "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {}\n",
            name(r),
            c[0],
            c[1],
            c[2],
            c[3],
            w1 = widths[0],
            w2 = widths[1],
            w3 = widths[2],
        ));
    }
    out
}

/// Counts are whole numbers from traces and usually from counters; fractions stay visible.
fn count(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::span::SpanKind;
    use crate::report::rows::row;
    use crate::store::{Store, StoreConfig};
    use crate::testkit::span;

    #[test]
    fn traced_lookups_are_listed_with_their_ratio() {
        let mut store = Store::new(StoreConfig::replay(1000));
        let mut spans = Vec::new();
        for i in 0..4u64 {
            spans.push(
                span(
                    i + 1,
                    1,
                    0,
                    "api",
                    "GET",
                    SpanKind::Client,
                    1_000_000_000 + i,
                    1_000,
                )
                .attr("db.system", "redis")
                .attr("server.address", "cache")
                .int("db.response.returned_rows", i64::from(i > 0))
                .build(),
            );
        }
        store.apply(spans, 2_000_000_000);
        store.flush_pending();
        let snap = store.snapshot(None);
        let rows: Vec<EdgeRow> = snap.deps.iter().map(row).collect();
        let r = rows
            .iter()
            .find(|r| r.dependency == "redis cache")
            .expect("row");
        assert_eq!((r.cache_hits, r.cache_misses), (Some(3.0), Some(1.0)));
        assert_eq!(r.cache_hit_ratio, Some(0.75));
        let text = render(&rows);
        assert!(
            text.contains("api -> redis cache     3       1  75.0  traces"),
            "{text}"
        );
    }
}
