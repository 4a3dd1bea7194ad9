//! DESIGN.md's detector invariants, tested metamorphically with the shipped rules over one
//! input that exercises the view-reading detectors (a saturated pool's gauges, a retry storm,
//! a failing edge with a breaker metric that never opens, hung calls seen only by an in-flight
//! gauge, and twins): arrival order, consistent renaming, shifting every timestamp, removing
//! spans, two copies with fresh ids, and the number of threads the detectors run on.

use super::builder::*;
use crate::model::edge::BUCKET_NS;
use crate::model::finding::{Finding, Outcome, Severity};
use crate::model::series::{Labels, SeriesPoint};
use crate::model::span::Span;
use crate::rules::{Engine, LintReport};
use crate::store::{Store, StoreConfig};

const NAMES: &[(&str, &str)] = &[
    ("checkout", "alpha-svc"),
    ("orders-db", "beta-pool"),
    ("payments", "gamma-api"),
    ("inventory", "delta-api"),
];

/// The input: spans and metric points.
fn input() -> (Vec<Span>, Vec<SeriesPoint>) {
    let mut spans = Vec::new();
    let mut pts = Vec::new();
    let pool = [("job", "checkout"), ("pool", "orders-db")];
    let breaker = |t: u64, st: &'static str| {
        ["closed", "open", "half_open"].map(|s| {
            let l = [("job", "checkout"), ("name", "payments"), ("state", s)];
            point(
                "resilience4j_circuitbreaker_state",
                &l,
                t as f64,
                f64::from(u8::from(s == st)),
                false,
            )
        })
    };
    let hung = [("job", "checkout"), ("server_address", "inventory")];
    for t in (0..=480u64).step_by(15) {
        let pending = t.saturating_sub(60) as f64 / 15.0;
        pts.push(point(
            "hikaricp_connections_active",
            &pool,
            t as f64,
            10.0,
            false,
        ));
        pts.push(point(
            "hikaricp_connections_max",
            &pool,
            t as f64,
            10.0,
            false,
        ));
        pts.push(point(
            "hikaricp_connections_pending",
            &pool,
            t as f64,
            pending,
            false,
        ));
        pts.extend(breaker(t, "closed"));
        let in_flight = if t >= 120 { 4.0 } else { 1.0 };
        pts.push(point(
            "http_client_active_requests",
            &hung,
            t as f64,
            in_flight,
            false,
        ));
    }
    // checkout serves requests; each calls payments (failing 503 from minute 3, every call
    // retried once after 100 ms) and, until 2 min, inventory.
    for i in 0..480u64 {
        let t = i + 1;
        let at = i as f64 * 1_000.0;
        spans.push(
            sp(t, 1)
                .server()
                .svc("checkout")
                .inst("c-1")
                .at(at, 400.0)
                .build(),
        );
        let failing = i >= 180;
        for k in 0..2u64 {
            let s = sp(t, 2 + k)
                .parent(1)
                .svc("checkout")
                .inst("c-1")
                .http("POST", "payments", "/charge")
                .at(at + k as f64 * 150.0, 50.0);
            spans.push(
                if failing || k == 0 && i % 4 == 0 {
                    s.status(503)
                } else {
                    s.status(200)
                }
                .build(),
            );
            if !(failing || i % 4 == 0) {
                break;
            }
        }
        if i < 120 {
            spans.push(
                sp(t, 9)
                    .parent(1)
                    .svc("checkout")
                    .inst("c-1")
                    .http("GET", "inventory", "/stock")
                    .at(at + 300.0, 20.0)
                    .status(200)
                    .build(),
            );
        }
    }
    (spans, pts)
}

fn run(spans: Vec<Span>, pts: Vec<SeriesPoint>) -> LintReport {
    let set = match crate::rules::builtin() {
        Ok(s) => s,
        Err(e) => panic!("shipped rules: {e:?}"),
    };
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    store.apply_metrics(pts);
    store.apply(spans, 1);
    store.flush_pending();
    Engine::new(set).run(&store.snapshot(None))
}

/// A finding without its absolute times (evidence keys ending in `_ns`, the window).
fn shape(f: &Finding) -> String {
    let ev: Vec<String> = f
        .evidence
        .iter()
        .filter(|(k, _)| !k.ends_with("_ns"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "{} {:?} {:?} {:?} {:?} {:?} {} [{}] {:?} {}",
        f.rule,
        f.severity,
        f.outcome,
        f.caller,
        f.dependency,
        f.service,
        f.message,
        ev.join(", "),
        f.trace_ids,
        f.samples
    )
}

fn shapes(r: &LintReport) -> Vec<String> {
    r.findings.iter().map(shape).collect()
}

/// Warnings and errors: rule and subject.
fn warnings(r: &LintReport) -> Vec<String> {
    r.findings
        .iter()
        .filter(|f| f.outcome == Outcome::Finding && f.severity >= Severity::Warning)
        .map(|f| format!("{} {}", f.rule, f.subject()))
        .collect()
}

#[test]
fn the_input_exercises_the_view_rules() {
    let (spans, pts) = input();
    let r = run(spans, pts);
    let w = warnings(&r);
    for rule in ["BLK-001", "RTY-004", "CB-001", "TMO-001"] {
        assert!(
            w.iter().any(|f| f.starts_with(rule)),
            "{rule} not found: {w:#?}\n{:#?}",
            shapes(&r)
        );
    }
}

#[test]
fn arrival_order_changes_nothing() {
    let (spans, pts) = input();
    let base = shapes(&run(spans.clone(), pts.clone()));
    let mut rng = Rng(0x5eed);
    let mut shuffled = spans;
    for i in (1..shuffled.len()).rev() {
        let j = (rng.next() * (i + 1) as f64) as usize;
        shuffled.swap(i, j);
    }
    let mut pts = pts;
    pts.reverse();
    assert_eq!(shapes(&run(shuffled, pts)), base);
}

#[test]
fn shifting_every_timestamp_by_whole_buckets_changes_nothing() {
    // Whole 10-s buckets: the view's buckets (and the breaker states inferred per bucket) are
    // aligned to absolute time, so a shift inside a bucket may move a call across a boundary.
    let (spans, pts) = input();
    let base = run(spans.clone(), pts.clone());
    let shifted = |d: u64| {
        let spans = spans
            .iter()
            .cloned()
            .map(|mut s| {
                s.start_ns += d;
                s.end_ns += d;
                s
            })
            .collect();
        let pts = pts
            .iter()
            .cloned()
            .map(|mut p| {
                p.t_ns += d;
                p
            })
            .collect();
        run(spans, pts)
    };
    assert_eq!(shapes(&shifted(3_600 * 7 * BUCKET_NS / 10)), shapes(&base));
    // Inside a bucket, sub-window figures (the worst 5 minutes, an episode's bins) may move by
    // the calls that cross a boundary; what is found does not.
    assert_eq!(warnings(&shifted(3_700_000_000)), warnings(&base));
}

#[test]
fn renaming_consistently_renames_the_findings() {
    let (spans, pts) = input();
    let rename = |s: &str| {
        let mut out = s.to_string();
        for (a, b) in NAMES {
            out = out.replace(a, b);
        }
        out
    };
    let base: Vec<String> = shapes(&run(spans.clone(), pts.clone()))
        .iter()
        .map(|s| rename(s))
        .collect();
    let spans: Vec<Span> = spans
        .into_iter()
        .map(|mut s| {
            let r = std::sync::Arc::make_mut(&mut s.resource);
            r.service_name = rename(&r.service_name).into();
            let attrs: Vec<crate::model::attrs::KeyValue> = s
                .attributes
                .iter()
                .map(|a| crate::model::attrs::KeyValue {
                    key: a.key.into(),
                    value: match a.value.as_str() {
                        Some(t) => crate::model::attrs::AttrValue::Str(rename(t).as_str().into()),
                        None => a.value.to_owned_value(),
                    },
                })
                .collect();
            s.attributes = crate::model::attrs::Attributes::new(attrs, 0);
            s
        })
        .collect();
    let pts: Vec<SeriesPoint> = pts
        .into_iter()
        .map(|mut p| {
            p.labels = Labels::new(
                p.labels
                    .iter()
                    .map(|(k, v)| {
                        (
                            std::sync::Arc::from(k),
                            std::sync::Arc::from(rename(v).as_str()),
                        )
                    })
                    .collect(),
            );
            p
        })
        .collect();
    let mut renamed = shapes(&run(spans, pts));
    let mut base = base;
    renamed.sort();
    base.sort();
    assert_eq!(renamed, base);
}

#[test]
fn removing_spans_never_creates_a_warning() {
    let (spans, pts) = input();
    let base = warnings(&run(spans.clone(), pts.clone()));
    for keep in [2usize, 3, 5] {
        let fewer: Vec<Span> = spans
            .iter()
            .enumerate()
            .filter(|(i, _)| i % keep != 0)
            .map(|(_, s)| s.clone())
            .collect();
        let after = warnings(&run(fewer, pts.clone()));
        for w in &after {
            assert!(
                base.contains(w),
                "removing every {keep}th span created {w:?}"
            );
        }
    }
}

#[test]
fn two_copies_with_fresh_ids_find_the_same() {
    let (spans, pts) = input();
    let base = run(spans.clone(), pts.clone());
    let mut doubled = spans.clone();
    doubled.extend(spans.into_iter().map(|mut s| {
        s.trace_id[0] ^= 0x80;
        s
    }));
    let twice = run(doubled, pts);
    assert_eq!(warnings(&twice), warnings(&base));
    // Counts double, ratios stay: RTY-004's ratio and calls on the storm edge.
    let rty = |r: &LintReport, k: &str| {
        r.findings
            .iter()
            .find(|f| f.rule == "RTY-004" && f.outcome == Outcome::Finding)
            .and_then(|f| {
                f.evidence
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.to_string())
            })
    };
    assert_eq!(rty(&twice, "retry_ratio"), rty(&base, "retry_ratio"));
    let calls = |r: &LintReport| rty(r, "calls").and_then(|c| c.parse::<u64>().ok());
    assert_eq!(calls(&twice), calls(&base).map(|c| 2 * c));
}

#[test]
fn the_thread_count_changes_nothing() {
    let (spans, pts) = input();
    let set = || match crate::rules::builtin() {
        Ok(s) => s,
        Err(e) => panic!("shipped rules: {e:?}"),
    };
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    store.apply_metrics(pts);
    store.apply(spans, 1);
    store.flush_pending();
    let snap = store.snapshot(None);
    let one = Engine::new(set()).run(&snap);
    assert!(!warnings(&one).is_empty(), "the input finds nothing");
    for threads in [2, 3, 64] {
        let many = Engine::new(set()).with_threads(threads).run(&snap);
        assert_eq!(shapes(&many), shapes(&one), "{threads} threads");
        let cov = |r: &LintReport| format!("{:?}", r.coverage);
        assert_eq!(cov(&many), cov(&one), "{threads} threads: coverage");
    }
}
