//! Tests of the alert engine over synthetic dependencies: baseline-relative error spikes,
//! latency, saturation, breakers, silence, hysteresis and determinism, with the shipped rules.

mod kinds;
mod live;
mod spike;

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::model::alert::AlertStatus;
use crate::model::breaker::BreakerView;
use crate::model::dependency::DepKind;
use crate::model::edge::{CallSample, EdgeKey, EdgeSeries};
use crate::model::view::DependencyView;

use super::compile::{AlertSet, compile_sources};
use super::engine::Engine;

pub const S: u64 = 1_000_000_000;
/// A bucket-aligned start.
pub const T0: u64 = 1_700_000_000 * S;

/// Calls over `[from_s, to_s)` after `T0`, `per_s` a second, each failing with probability
/// `err` (short-circuited when `short`), lasting `lat_ms` (± 20 %).
pub struct Load {
    pub from_s: u64,
    pub to_s: u64,
    pub per_s: u64,
    pub err: f64,
    pub lat_ms: f64,
    pub short: bool,
}

impl Load {
    pub fn new(from_s: u64, to_s: u64, per_s: u64, err: f64) -> Load {
        Load {
            from_s,
            to_s,
            per_s,
            err,
            lat_ms: 20.0,
            short: false,
        }
    }
    pub fn latency(mut self, ms: f64) -> Load {
        self.lat_ms = ms;
        self
    }
}

/// A series with the given loads (seeded: the same every run).
pub fn series(loads: &[Load], seed: u64) -> EdgeSeries {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut s = EdgeSeries::new(DepKind::Http);
    for l in loads {
        let step = S / l.per_s;
        let mut t = T0 + l.from_s * S;
        while t < T0 + l.to_s * S {
            let error = rng.random::<f64>() < l.err;
            let lat = l.lat_ms * (0.8 + 0.4 * rng.random::<f64>());
            s.record(&CallSample {
                start_ns: t,
                duration_secs: lat / 1e3,
                error,
                timeout: false,
                retry: false,
                short_circuit: error && l.short,
                cache: None,
            });
            t += step;
        }
    }
    s
}

/// A view of `checkout → dep` over the series (the variables read the buckets themselves).
pub fn view(dep: &str, series: EdgeSeries) -> DependencyView {
    let key = EdgeKey {
        caller: Arc::from("checkout"),
        dependency: Arc::from(dep),
    };
    DependencyView {
        series,
        ..DependencyView::empty(key, DepKind::Http)
    }
}

pub fn shipped() -> AlertSet {
    super::builtin().unwrap_or_else(|e| panic!("shipped alert rules: {e:?}"))
}

/// One rule file's alerts.
pub fn rules(text: &str) -> AlertSet {
    compile_sources(&[("t.toml".into(), text.into())], "t").unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// (seconds after T0, alert, dependency, status) of every change from `from_s` to `to_s`,
/// evaluating every 10 s with the views `at` gives.
pub fn run_with(
    set: AlertSet,
    from_s: u64,
    to_s: u64,
    mut at: impl FnMut(u64) -> Vec<DependencyView>,
) -> Vec<(u64, String, String, AlertStatus)> {
    let mut e = Engine::new(set);
    let mut out = Vec::new();
    for s in (from_s..=to_s).step_by(10) {
        let t = T0 + s * S;
        let deps = at(t);
        for c in e.evaluate(t, &deps) {
            out.push((
                s,
                c.state.alert.to_string(),
                c.state.dependency.to_string(),
                c.state.status,
            ));
        }
    }
    out
}

/// [`run_with`] over fixed views.
pub fn run(
    set: AlertSet,
    from_s: u64,
    to_s: u64,
    deps: &[DependencyView],
) -> Vec<(u64, String, String, AlertStatus)> {
    run_with(set, from_s, to_s, |_| deps.to_vec())
}

/// The changes of one alert.
pub fn of(
    changes: &[(u64, String, String, AlertStatus)],
    alert: &str,
) -> Vec<(u64, String, AlertStatus)> {
    changes
        .iter()
        .filter(|c| c.1 == alert)
        .map(|c| (c.0, c.2.clone(), c.3))
        .collect()
}
