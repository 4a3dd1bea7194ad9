//! The other shipped alerts: latency against its baseline, saturation, breakers, silence; and
//! hysteresis, annotations and scope of user rules.

use crate::model::breaker::{BreakerSource, BreakerState};
use crate::model::view::{Queue, QueueSource};

use super::*;

#[test]
fn p99_degradation_against_its_baseline() {
    let slow = view(
        "slow",
        series(
            &[
                Load::new(0, 2700, 5, 0.0).latency(20.0),
                Load::new(2700, 3300, 5, 0.0).latency(300.0),
                Load::new(3300, 3900, 5, 0.0).latency(20.0),
            ],
            7,
        ),
    );
    // Always slow is its own normal.
    let steady = view(
        "steady",
        series(&[Load::new(0, 3900, 5, 0.0).latency(300.0)], 8),
    );
    let lat = of(
        &run(shipped(), 0, 3900, &[slow, steady]),
        "DependencyLatencyDegraded",
    );
    let s: Vec<(String, AlertStatus)> = lat.iter().map(|c| (c.1.clone(), c.2)).collect();
    assert_eq!(
        s,
        vec![
            ("slow".into(), AlertStatus::Pending),
            ("slow".into(), AlertStatus::Firing),
            ("slow".into(), AlertStatus::Resolved)
        ],
        "{lat:?}"
    );
    assert_eq!(lat[1].0, lat[0].0 + 180);
}

#[test]
fn queue_near_capacity_fires_and_clears_below_the_resolve_threshold() {
    let base = view("db", series(&[Load::new(0, 600, 2, 0.0)], 9));
    let depth = |s: u64| match s {
        0..120 => 10.0,
        120..300 => 95.0,
        // Between the resolve (70 %) and fire (90 %) thresholds: stays firing.
        300..400 => 80.0,
        _ => 20.0,
    };
    let changes = run_with(shipped(), 0, 600, |t| {
        let mut v = base.clone();
        v.queue = Some(Queue {
            depth: depth((t - T0) / S),
            capacity: Some(100.0),
            source: QueueSource::Metric,
        });
        vec![v]
    });
    let q = of(&changes, "DependencyQueueSaturated");
    let s: Vec<(u64, AlertStatus)> = q.iter().map(|c| (c.0, c.2)).collect();
    // Pending at 130 (the first evaluation seeing 95), firing a minute later; clear from 400,
    // resolved after `keep_firing_for` (1m).
    assert_eq!(
        s,
        vec![
            (120, AlertStatus::Pending),
            (180, AlertStatus::Firing),
            (460, AlertStatus::Resolved)
        ]
    );
}

#[test]
fn breaker_open_from_metrics_or_inferred_from_fast_fails() {
    // Inferred: from 600 s every call is rejected at once.
    let mut inferred_loads = vec![Load::new(0, 600, 5, 0.0)];
    let mut open = Load::new(600, 700, 5, 1.0);
    open.short = true;
    inferred_loads.push(open);
    inferred_loads.push(Load::new(700, 1200, 5, 0.0));
    let inferred = view("inferred", series(&inferred_loads, 10));
    // Metric: the view's breaker (a resilience4j gauge, say).
    let mut metric = view("metric", series(&[Load::new(0, 1200, 5, 0.0)], 11));
    metric.breaker = BreakerView {
        state: BreakerState::Open,
        source: BreakerSource::Metric(Arc::from("resilience4j")),
        since_ns: Some(T0),
        transitions: Vec::new(),
    };
    let b = of(
        &run(shipped(), 0, 1200, &[inferred, metric]),
        "DependencyBreakerOpen",
    );
    let inf: Vec<(u64, AlertStatus)> = b
        .iter()
        .filter(|c| c.1 == "inferred")
        .map(|c| (c.0, c.2))
        .collect();
    assert_eq!(inf.first().map(|c| c.1), Some(AlertStatus::Firing), "{b:?}");
    assert!((610..=620).contains(&inf[0].0), "{inf:?}");
    assert_eq!(
        inf.last().map(|c| c.1),
        Some(AlertStatus::Resolved),
        "{inf:?}"
    );
    assert!(
        b.iter()
            .any(|c| c.1 == "metric" && c.2 == AlertStatus::Firing && c.0 == 0),
        "{b:?}"
    );
}

#[test]
fn a_dependency_going_silent_after_steady_traffic() {
    let quiet = view(
        "quiet",
        series(
            &[Load::new(0, 2400, 1, 0.0), Load::new(3000, 3600, 1, 0.0)],
            12,
        ),
    );
    // Sparse from the start: one call a minute is not steady traffic.
    let sparse = view("sparse", {
        let mut s = series(&[], 0);
        for m in 0..40 {
            s.record(&CallSample {
                start_ns: T0 + m * 60 * S,
                duration_secs: 0.01,
                error: false,
                timeout: false,
                retry: false,
                short_circuit: false,
                cache: None,
            });
        }
        s
    });
    // Young: five minutes of traffic is not yet steady.
    let young = view("young", series(&[Load::new(2100, 2400, 2, 0.0)], 16));
    let s = of(
        &run(shipped(), 0, 3600, &[quiet, sparse, young]),
        "DependencySilent",
    );
    let got: Vec<(u64, String, AlertStatus)> = s.clone();
    assert!(got.iter().all(|c| c.1 == "quiet"), "{got:?}");
    let st: Vec<(u64, AlertStatus)> = got.iter().map(|c| (c.0, c.2)).collect();
    // No call in [T−1m, T) from 2460; pending then, firing a minute later; traffic again at
    // 3000 shows in the window at 3010.
    assert_eq!(
        st,
        vec![
            (2460, AlertStatus::Pending),
            (2520, AlertStatus::Firing),
            (3040, AlertStatus::Resolved)
        ]
    );
}

#[test]
fn user_rules_scope_labels_and_annotations() {
    let set = rules(
        r#"
[[alert]]
name = "HighErrors"
expr = "error_ratio > 0.5"
value = "error_ratio"
threshold = "0.5"
[alert.labels]
severity = "info"
team = "pay"
[alert.annotations]
summary = "{caller} → {dependency} {value:%} > {threshold:%} ({errors}/{calls})"
[alert.scope]
dependency = ["pay*"]
"#,
    );
    let pay = view("payments", series(&[Load::new(0, 120, 5, 0.9)], 13));
    let other = view("other", series(&[Load::new(0, 120, 5, 0.9)], 14));
    let mut e = Engine::new(set);
    let c = e.evaluate(T0 + 70 * S, &[other, pay]);
    assert_eq!(c.len(), 1, "{c:?}");
    let s = &c[0].state;
    assert_eq!(
        (&*s.dependency, s.status, s.severity.as_str()),
        ("payments", AlertStatus::Firing, "info")
    );
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(
        labels,
        [
            "alertname=HighErrors",
            "caller=checkout",
            "dependency=payments",
            "severity=info",
            "team=pay"
        ]
    );
    let summary = s.annotation("summary").unwrap_or_default();
    assert!(
        summary.starts_with("checkout → payments 9") && summary.contains("> 50.0% ("),
        "{summary}"
    );
    assert_eq!(e.states().len(), 1);
    assert_eq!(
        e.board(Vec::new()).worst_firing(),
        Some(crate::model::alert::AlertSeverity::Info)
    );
}

#[test]
fn unknown_numbers_do_not_hold_and_runtime_errors_are_counted() {
    // No pool gauge: `pool_utilisation` is null, comparing it fails: does not hold, no error.
    // An integer division by zero with every number known is an error of the rule.
    let set = rules(
        r#"
[[alert]]
name = "P"
expr = "pool_utilisation > 0.5 || at_capacity"
[alert.labels]
severity = "warning"
[[alert]]
name = "D"
expr = "100 / (calls - 60) > 1"
[alert.labels]
severity = "warning"
"#,
    );
    let v = view("x", series(&[Load::new(0, 60, 1, 0.0)], 15));
    let mut e = Engine::new(set);
    assert!(e.evaluate(T0 + 60 * S, &[v]).is_empty());
    assert_eq!(e.eval_errors(), 1);
}

#[test]
fn cache_hit_ratio_from_traced_lookups_or_the_cache_counters() {
    let set = rules(
        r#"
[[alert]]
name = "CacheCold"
expr = "cache_hit_ratio < 0.5"
value = "cache_hit_ratio"
[alert.labels]
severity = "warning"
[alert.annotations]
summary = "{dependency}: {cache_hits} hits, {cache_misses} misses"
"#,
    );
    // 60 s of lookups, one a second: a hit every fourth (25 %), then every lookup hits.
    let lookups = |hit: &dyn Fn(u64) -> bool| {
        let mut s = series(&[], 0);
        for i in 0..60 {
            s.record(&CallSample {
                start_ns: T0 + i * S,
                duration_secs: 0.001,
                error: false,
                timeout: false,
                retry: false,
                short_circuit: false,
                cache: Some(hit(i)),
            });
        }
        s
    };
    let cold = view("redis", lookups(&|i| i % 4 == 0));
    let warm = view("memcached", lookups(&|_| true));
    // No traced lookups, but a profile maps the cache's own counters: 10 hits, 90 misses.
    let mut metric = view("valkey", series(&[Load::new(0, 60, 1, 0.0)], 21));
    metric.cache = Some(crate::model::cache::CacheStats {
        hits: 10.0,
        misses: 90.0,
        source: crate::model::cache::CacheSource::Metric,
    });
    // Calls but no lookups: the ratio is unknown and does not hold.
    let none = view("http", series(&[Load::new(0, 60, 1, 0.0)], 22));
    let mut e = Engine::new(set);
    // Sorted by key, as `Snapshot::deps` is.
    let c = e.evaluate(T0 + 60 * S, &[none, warm, cold, metric]);
    let changes: Vec<(&str, AlertStatus, String)> = c
        .iter()
        .map(|c| {
            (
                &*c.state.dependency,
                c.state.status,
                c.state
                    .annotation("summary")
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            (
                "redis",
                AlertStatus::Firing,
                "redis: 15 hits, 45 misses".to_string()
            ),
            (
                "valkey",
                AlertStatus::Firing,
                "valkey: 0 hits, 0 misses".to_string()
            )
        ],
        "{c:?}"
    );
    assert_eq!(e.eval_errors(), 0);
}
