//! The variables an alert expression reads, computed for one dependency at one evaluation
//! instant `T` (a 10-second bucket boundary) from its view (`model::view::DependencyView`).
//!
//! - **Window** numbers cover the rule's `window`: the whole buckets in `[T − window, T)`.
//! - **Baseline** numbers describe the dependency's own recent past: the baseline period is
//!   `[B − baseline, B)`, where `B = T − window` (frozen at the pending start while an alert is
//!   pending or firing, so an ongoing incident does not become its own baseline). It is cut into
//!   chunks as long as the window, aligned to multiples of the window (so a chunk's statistics
//!   can be reused from one evaluation to the next), starting no earlier than the chunk where
//!   the edge was first seen. Each baseline number is a **median over chunks** — the same
//!   statistic over the same length as the window's, and robust: a spike that fills less than
//!   half the baseline does not move it.
//! - **State** numbers are as of the view's end: the breaker (a metric's state, else inferred
//!   from the traces at `T`), the queue, pool and in-flight gauges.
//!
//! A number that is not known (no calls, no gauge) is CEL `null`; comparing it fails, and a
//! failed expression counts as "does not hold" (like an absent series in PromQL).

use std::sync::Arc;

use cel::Value;

use crate::model::breaker::{self, BreakerState, BreakerView};
use crate::model::cache::CacheSource;
use crate::model::edge::{BucketStats, EdgeSeries};
use crate::model::view::DependencyView;

use super::baseline::{self, ChunkCache};

/// How far back the inferred breaker state looks from `T` (the live view's window).
pub const BREAKER_LOOKBACK_NS: u64 = 5 * 60 * 1_000_000_000;

/// The type of a variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarKind {
    /// A string.
    Str,
    /// An integer.
    Int,
    /// A double (or null when unknown).
    Num,
    /// A boolean.
    Bool,
}

/// Which group computes a variable (groups are computed only when a rule reads them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Names of the dependency.
    Identity,
    /// Counts over the window.
    Window,
    /// Percentiles over the window (merges latency sketches).
    WindowLatency,
    /// Counts over the baseline.
    Baseline,
    /// Percentiles over the baseline (merges latency sketches per chunk).
    BaselineLatency,
    /// Breaker, queue, pool, in-flight.
    State,
}

/// One variable: its name, type, group and meaning (`docs/alerts.md` lists them).
#[derive(Clone, Copy, Debug)]
pub struct VarDef {
    /// Name in expressions and templates.
    pub name: &'static str,
    /// Type.
    pub kind: VarKind,
    /// Group.
    pub group: Group,
    /// Meaning.
    pub doc: &'static str,
}

const fn v(name: &'static str, kind: VarKind, group: Group, doc: &'static str) -> VarDef {
    VarDef {
        name,
        kind,
        group,
        doc,
    }
}

use Group::*;
use VarKind::*;

/// Every variable.
#[rustfmt::skip]
pub const VARIABLES: &[VarDef] = &[
    v("caller", Str, Identity, "calling service"),
    v("dependency", Str, Identity, "the dependency"),
    v("kind", Str, Identity, "http, rpc, db, messaging or other"),
    v("calls", Int, Window, "calls in the window"),
    v("errors", Int, Window, "failed calls in the window"),
    v("timeouts", Int, Window, "timed-out calls in the window"),
    v("retries", Int, Window, "retry attempts in the window"),
    v("short_circuits", Int, Window, "calls an open breaker rejected"),
    v("rate", Num, Window, "calls per second over the window"),
    v("error_ratio", Num, Window, "errors ÷ calls (null without calls)"),
    v("timeout_ratio", Num, Window, "timeouts ÷ calls"),
    v("retry_ratio", Num, Window, "retries ÷ calls"),
    v("short_circuit_ratio", Num, Window, "short-circuits ÷ calls"),
    v("cache_hits", Int, Window, "traced cache lookups that hit in the window"),
    v("cache_misses", Int, Window, "traced cache lookups that missed in the window"),
    v("cache_hit_ratio", Num, Window, "hits ÷ lookups: traced in the window, else the view's cache counters (null when neither)"),
    v("p50_ms", Num, WindowLatency, "median latency over the window"),
    v("p95_ms", Num, WindowLatency, "95th percentile latency"),
    v("p99_ms", Num, WindowLatency, "99th percentile latency"),
    v("baseline_calls", Int, Baseline, "calls in the baseline period"),
    v("baseline_rate", Num, Baseline, "median calls per second of the baseline chunks"),
    v("baseline_chunks", Int, Baseline, "window-long chunks in the baseline since the edge was first seen"),
    v("baseline_coverage", Num, Baseline, "share of baseline chunks with calls, 0..1"),
    v("baseline_error_ratio", Num, Baseline, "median error ratio of the baseline chunks"),
    v("error_z", Num, Baseline, "errors above the baseline ratio, in binomial standard deviations"),
    v("baseline_p99_ms", Num, BaselineLatency, "median p99 of the baseline chunks"),
    v("breaker", Str, State, "breaker state at T: closed, open, half_open, ..., unknown"),
    v("breaker_open", Bool, State, "the breaker is open or forced open"),
    v("breaker_inferred", Bool, State, "the breaker state is inferred from fast-fail errors"),
    v("breaker_opens", Int, State, "transitions to open inside the window"),
    v("at_capacity", Bool, State, "an admission limit is reached (Envoy *_open)"),
    v("ejected", Int, State, "hosts ejected by outlier detection"),
    v("ejected_total", Int, State, "hosts in all (0 when unknown)"),
    v("queue_depth", Num, State, "calls queued (gauge, else estimated in flight)"),
    v("queue_capacity", Num, State, "queue capacity (gauge)"),
    v("queue_utilisation", Num, State, "queue depth ÷ capacity"),
    v("queue_estimated", Bool, State, "the queue depth is a Little's-law estimate"),
    v("pool_utilisation", Num, State, "pool or bulkhead used ÷ max, 0..1"),
    v("in_flight", Num, State, "calls in flight (active-request gauges)"),
    v("rejected_rate", Num, State, "rejected calls per second (metric, else short-circuits)"),
    v("overflow_rate", Num, State, "calls per second refused by a full pool, bulkhead or queue (metric)"),
];

/// The definition of a variable.
pub fn find(name: &str) -> Option<&'static VarDef> {
    VARIABLES.iter().find(|d| d.name == name)
}

/// The groups a set of variable names needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Need {
    window_latency: bool,
    baseline: bool,
    baseline_latency: bool,
}

impl Need {
    /// The groups `names` need (unknown names are ignored: compile checks them).
    pub fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> Need {
        let mut n = Need::default();
        for name in names {
            match find(name).map(|d| d.group) {
                Some(WindowLatency) => n.window_latency = true,
                Some(Baseline) => n.baseline = true,
                Some(BaselineLatency) => n.baseline_latency = true,
                _ => {}
            }
        }
        n
    }
}

/// When and over what an evaluation looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The evaluation instant (a bucket boundary).
    pub at: u64,
    /// Window length (a multiple of the bucket).
    pub window: u64,
    /// Baseline length.
    pub baseline: u64,
    /// Where the baseline ends (`at − window`, or frozen).
    pub baseline_end: u64,
}

/// Computed variables: name → value.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    values: Vec<(&'static str, Value)>,
}

impl Vars {
    /// Adds a value (tests and the trial evaluation set variables directly).
    pub fn push(&mut self, name: &'static str, value: Value) {
        self.values.push((name, value));
    }
    fn set(&mut self, name: &'static str, value: Value) {
        self.push(name, value);
    }
    pub(super) fn num(&mut self, name: &'static str, v: Option<f64>) {
        self.set(
            name,
            v.filter(|x| x.is_finite())
                .map_or(Value::Null, Value::Float),
        );
    }
    pub(super) fn int(&mut self, name: &'static str, v: u64) {
        self.set(name, Value::Int(i64::try_from(v).unwrap_or(i64::MAX)));
    }
    fn str(&mut self, name: &'static str, v: &str) {
        self.set(name, Value::String(Arc::new(v.to_string())));
    }

    /// Every (name, value).
    pub fn iter(&self) -> impl Iterator<Item = &(&'static str, Value)> {
        self.values.iter()
    }

    /// One value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}

/// Computes the variables of `need`'s groups (identity, window and state always).
pub fn compute(view: &DependencyView, frame: &Frame, need: Need, cache: &mut ChunkCache) -> Vars {
    let mut out = Vars::default();
    out.str("caller", &view.key.caller);
    out.str("dependency", &view.key.dependency);
    out.str("kind", view.kind.as_str());
    window(&mut out, view, frame, need.window_latency);
    if need.baseline || need.baseline_latency {
        baseline::compute(&mut out, view, frame, need.baseline_latency, cache);
    }
    state(&mut out, view, frame);
    out
}

pub(super) fn sum(series: &EdgeSeries, from: u64, to: u64, latency: bool) -> BucketStats {
    let mut s = BucketStats::default();
    for (_, b) in series.buckets.range(from..to) {
        if latency {
            s.merge(b);
        } else {
            s.calls += b.calls;
            s.errors += b.errors;
            s.timeouts += b.timeouts;
            s.retries += b.retries;
            s.short_circuits += b.short_circuits;
            s.cache_hits += b.cache_hits;
            s.cache_misses += b.cache_misses;
        }
    }
    s
}

pub(super) fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

fn window(out: &mut Vars, view: &DependencyView, f: &Frame, latency: bool) {
    let s = sum(&view.series, f.at.saturating_sub(f.window), f.at, latency);
    out.int("calls", s.calls);
    out.int("errors", s.errors);
    out.int("timeouts", s.timeouts);
    out.int("retries", s.retries);
    out.int("short_circuits", s.short_circuits);
    out.num("rate", Some(s.calls as f64 / (f.window as f64 / 1e9)));
    out.num("error_ratio", ratio(s.errors, s.calls));
    out.num("timeout_ratio", ratio(s.timeouts, s.calls));
    out.num("retry_ratio", ratio(s.retries, s.calls));
    out.num("short_circuit_ratio", ratio(s.short_circuits, s.calls));
    out.int("cache_hits", s.cache_hits);
    out.int("cache_misses", s.cache_misses);
    // Traced lookups in the window, else a profile-mapped hit/miss counter as of the view's
    // end (metric counters are not kept per bucket).
    let metric = view
        .cache
        .filter(|c| c.source == CacheSource::Metric)
        .and_then(|c| c.hit_ratio());
    out.num(
        "cache_hit_ratio",
        ratio(s.cache_hits, s.cache_hits + s.cache_misses).or(metric),
    );
    if latency {
        let q = |p: f64| s.latency.quantile(p).map(|x| x * 1e3);
        out.num("p50_ms", q(0.50));
        out.num("p95_ms", q(0.95));
        out.num("p99_ms", q(0.99));
    }
}

/// The breaker at `T`: a metric's state from the view, else inferred from the traces up to `T`.
fn breaker_at(view: &DependencyView, f: &Frame) -> BreakerView {
    if view.breaker.from_metric() {
        return view.breaker.clone();
    }
    breaker::infer(&view.series, f.at.saturating_sub(BREAKER_LOOKBACK_NS), f.at)
}

fn state(out: &mut Vars, view: &DependencyView, f: &Frame) {
    let b = breaker_at(view, f);
    out.str("breaker", b.state.as_str());
    out.set("breaker_open", Value::Bool(b.state.is_open()));
    out.set("breaker_inferred", Value::Bool(b.inferred()));
    let from = f.at.saturating_sub(f.window);
    let opens = b
        .transitions
        .iter()
        .filter(|t| t.to.is_open() && t.at_ns >= from && t.at_ns < f.at.max(from + 1))
        .count();
    out.int("breaker_opens", opens as u64);
    out.set(
        "at_capacity",
        Value::Bool(b.state == BreakerState::AtCapacity),
    );
    let (ej, total) = match b.state {
        BreakerState::Ejected { ejected, total } => (ejected, total),
        _ => (0, 0),
    };
    out.int("ejected", u64::from(ej));
    out.int("ejected_total", u64::from(total));
    let q = view.queue.as_ref();
    out.num("queue_depth", q.map(|q| q.depth));
    out.num("queue_capacity", q.and_then(|q| q.capacity));
    out.num(
        "queue_utilisation",
        q.and_then(|q| q.capacity.filter(|c| *c > 0.0).map(|c| q.depth / c)),
    );
    out.set(
        "queue_estimated",
        Value::Bool(q.is_some_and(|q| q.estimated())),
    );
    out.num("pool_utilisation", view.pool_utilisation);
    out.num("in_flight", view.in_flight);
    let short = match out.get("short_circuits") {
        Some(Value::Int(n)) => *n as f64,
        _ => 0.0,
    };
    let rejected = view
        .rates
        .rejected
        .or_else(|| (short > 0.0).then(|| short / (f.window as f64 / 1e9)));
    out.num("rejected_rate", rejected.or(Some(0.0)));
    out.num("overflow_rate", view.rates.overflow);
}
