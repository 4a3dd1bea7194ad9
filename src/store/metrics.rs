//! The metric part of the store: maps series through the profiles to (caller, dependency)
//! and keeps what the resilience views need — breaker tracks, and the bounded history of every
//! mapped series. Series no profile maps are counted and dropped, so memory follows what
//! faultline shows, not what the targets expose.
//!
//! Points are applied in time order, one timestamp at a time: breaker states are settled after
//! each timestamp, so a one-hot gauge whose `open` and `closed` series change in the same
//! scrape never shows both, and a PromQL range backfill yields every transition at its time.

mod address;
mod breaker;
mod history;
mod join;
mod view;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::model::edge::EdgeKey;
use crate::model::profile::{Encoding, Matcher, ProfileSet, Role, Target};
use crate::model::resilience::{BreakerState, ResilienceView, Transition};
use crate::model::series::{Labels, PointValue, SeriesKind, SeriesPoint, SourceStatus};
use crate::model::view::STALE_NS;

use breaker::{BreakerTrack, KEY_SEP};
use history::SeriesTrack;

/// Points of one target this close in time belong to the same scrape or export (scrape
/// intervals go down to 100 ms; the points of one collection are stamped within a few ms).
const SAME_COLLECTION_NS: u64 = 20_000_000;

pub use join::join_to_edges;

/// Most transitions kept per dependency.
pub const MAX_TRANSITIONS: usize = 256;

/// Identity of one series: name and labels.
pub type SeriesId = Arc<(Arc<str>, Labels)>;

/// What the store knows of one (caller, dependency) from metrics.
#[derive(Debug, Default)]
struct DepState {
    breakers: HashMap<(usize, Arc<str>), BreakerTrack>,
    signals: HashMap<(SeriesId, Role), Option<f64>>,
    state: Option<BreakerState>,
    source: Option<Arc<str>>,
    since_ns: Option<u64>,
    transitions: VecDeque<Transition>,
    last_ns: u64,
    /// First and latest breaker sample, Unix ns.
    breaker_seen: Option<(u64, u64)>,
    /// A breaker here is rebuilt from transition counters.
    from_events: bool,
    touched: bool,
}

impl DepState {
    /// The breaker state as of `t` (exclusive), with when it began: the latest transition before
    /// `t`, else the state before the first transition; unknown before the first sample and
    /// when the latest sample before `t` is older than the staleness bound.
    fn breaker_at(&self, t: u64) -> (BreakerState, Option<u64>) {
        let Some((first, last)) = self.breaker_seen else {
            return (BreakerState::Unknown, None);
        };
        if first >= t || last.saturating_add(STALE_NS) < t.saturating_sub(1) {
            return (BreakerState::Unknown, None);
        }
        if let Some(tr) = self.transitions.iter().rev().find(|tr| tr.at_ns < t) {
            return (tr.to, Some(tr.at_ns));
        }
        match self.transitions.front() {
            Some(tr) => (tr.from, None),
            None => (self.state.unwrap_or(BreakerState::Unknown), self.since_ns),
        }
    }
}

/// A target's identity: its `job` and `instance` labels.
type Instance = (Option<Arc<str>>, Option<Arc<str>>);

/// A cached set of views: for the store version and window it was built for.
type CachedViews = (u64, (u64, u64), Arc<BTreeMap<EdgeKey, ResilienceView>>);

/// The metric part of the store. See the module docs.
#[derive(Debug)]
pub struct MetricStore {
    profiles: Arc<ProfileSet>,
    names: HashMap<Arc<str>, Arc<[Matcher]>>,
    series: HashMap<SeriesId, SeriesTrack>,
    /// Per `job`/`instance`: the previous and the current sample time.
    instances: HashMap<Instance, (u64, u64)>,
    deps: HashMap<EdgeKey, DepState>,
    sources: BTreeMap<(String, String), SourceStatus>,
    version: u64,
    cache: Option<CachedViews>,
    /// Points of series no profile maps (counted, not kept).
    pub unmapped_points: u64,
    /// Points applied to a mapped series.
    pub mapped_points: u64,
    /// Time range of all points applied, Unix ns (`(u64::MAX, 0)` when none).
    pub range: (u64, u64),
}

impl MetricStore {
    /// An empty metric store mapping through `profiles`.
    pub fn new(profiles: Arc<ProfileSet>) -> Self {
        MetricStore {
            profiles,
            names: HashMap::new(),
            series: HashMap::new(),
            instances: HashMap::new(),
            deps: HashMap::new(),
            sources: BTreeMap::new(),
            version: 0,
            cache: None,
            unmapped_points: 0,
            mapped_points: 0,
            range: (u64::MAX, 0),
        }
    }

    /// The profiles in use.
    pub fn profiles(&self) -> &Arc<ProfileSet> {
        &self.profiles
    }

    /// Applies points in time order, settling breaker states after each timestamp.
    pub fn apply(&mut self, mut points: Vec<SeriesPoint>) {
        points.sort_by_key(|p| p.t_ns);
        let mut i = 0;
        while i < points.len() {
            let t = points[i].t_ns;
            let mut j = i;
            while j < points.len() && points[j].t_ns == t {
                self.apply_point(&points[j]);
                j += 1;
            }
            self.settle(t);
            i = j;
        }
        self.version += 1;
    }

    /// Records the health of a source (scrape target or PromQL server).
    pub fn set_source(&mut self, s: SourceStatus) {
        self.sources.insert((s.kind.to_owned(), s.url.clone()), s);
        self.version += 1;
    }

    /// Source health, by kind and URL.
    pub fn sources(&self) -> Vec<SourceStatus> {
        self.sources.values().cloned().collect()
    }

    fn matchers(&mut self, name: &Arc<str>) -> Arc<[Matcher]> {
        if let Some(m) = self.names.get(name) {
            return m.clone();
        }
        let m: Arc<[Matcher]> = Arc::from(self.profiles.lookup(name));
        // Bound the cache: names beyond this are looked up each time (still correct).
        if self.names.len() < 100_000 {
            self.names.insert(name.clone(), m.clone());
        }
        m
    }

    fn apply_point(&mut self, p: &SeriesPoint) {
        if &*p.name == "up" {
            self.scrape_health(p);
        }
        // Every point of a scrape (its `up` too, mapped or not) marks when the target was
        // scraped: a series or breaker that first appears later started from zero then.
        let inst = (
            p.labels.get("job").map(Arc::from),
            p.labels.get("instance").map(Arc::from),
        );
        let times = self.instances.entry(inst).or_insert((0, p.t_ns));
        if p.t_ns > times.1 {
            *times = (times.1, p.t_ns);
        }
        // The target's previous scrape, when it is a distinct one: points of one scrape or
        // export may carry times a few milliseconds apart, and those are the same collection.
        let prev_scrape = times.0;
        let earlier_scrape =
            (prev_scrape > 0 && prev_scrape + SAME_COLLECTION_NS < p.t_ns).then_some(prev_scrape);
        let matchers = self.matchers(&p.name);
        if matchers.is_empty() {
            self.unmapped_points += 1;
            return;
        }
        let counter = p.kind == SeriesKind::Counter
            || matchers.iter().any(|m| match m.target {
                Target::Signal(role, _) => role.is_counter(),
                Target::Breaker(i, _) => self.profiles.breakers[i].encoding == Encoding::Events,
            });
        let id: SeriesId = Arc::new((p.name.clone(), p.labels.clone()));
        let track = self.series.entry(id.clone()).or_insert_with(|| {
            let mut t = SeriesTrack::default();
            // A cumulative series that appears in a later scrape of a target started from zero
            // since the previous scrape (client libraries create labelled series on first
            // use). A delta series' first point holds observations of its own interval, which
            // the window must count: it starts from a zero just before.
            let zero_at = if p.delta {
                Some(
                    p.start_ns
                        .filter(|s| *s < p.t_ns)
                        .unwrap_or(p.t_ns.saturating_sub(1)),
                )
            } else {
                earlier_scrape
            };
            if let Some(at) = zero_at
                && let Some(value) = zero_of(&p.value, counter || p.delta)
            {
                let mut zero = p.clone();
                zero.t_ns = at;
                zero.value = value;
                t.push(&zero, counter);
            }
            t
        });
        if !track.push(p, counter) {
            return;
        }
        self.mapped_points += 1;
        self.range = (self.range.0.min(p.t_ns), self.range.1.max(p.t_ns));
        for m in matchers.iter() {
            if !m.accepts(&p.labels) {
                continue;
            }
            let Some(dep) = m.dependency(&p.labels) else {
                continue;
            };
            let dep = self.profiles.aliases.get(dep).map_or(dep, String::as_str);
            let caller = m
                .caller(&p.labels)
                .or_else(|| p.labels.get("job"))
                .unwrap_or("(unknown)");
            let key = EdgeKey {
                caller: Arc::from(caller),
                dependency: Arc::from(dep),
            };
            let d = self.deps.entry(key).or_default();
            d.last_ns = d.last_ns.max(p.t_ns);
            match m.target {
                Target::Signal(role, factor) => {
                    d.signals.insert((id.clone(), role), factor);
                }
                Target::Breaker(idx, part) => {
                    let def = &self.profiles.breakers[idx];
                    let PointValue::Number(v) = p.value else {
                        continue;
                    };
                    let series_key = || series_key(p);
                    let key: Arc<str> = match (def.encoding, &def.label) {
                        (Encoding::OneHot | Encoding::Events, Some(l)) => match p.labels.get(l) {
                            Some(v) => Arc::from(v),
                            None => continue,
                        },
                        (Encoding::Endpoints, Some(l)) => match p.labels.get(l) {
                            Some(v) => Arc::from(format!("{v}{KEY_SEP}{}", series_key())),
                            None => continue,
                        },
                        _ => Arc::from(series_key()),
                    };
                    let inst: Arc<str> = Arc::from(p.labels.get("instance").unwrap_or(""));
                    d.breaker_seen = Some(match d.breaker_seen {
                        Some((a, b)) => (a.min(p.t_ns), b.max(p.t_ns)),
                        None => (p.t_ns, p.t_ns),
                    });
                    d.from_events |= def.encoding == Encoding::Events;
                    // Like a series, a breaker whose counters first appear in a later scrape of
                    // a target started from zero at the previous scrape (opossum-prometheus
                    // creates each event's series on its first event): its first increments are
                    // transitions, not a history to infer a state from.
                    let since = earlier_scrape.unwrap_or(p.t_ns);
                    d.breakers
                        .entry((idx, inst))
                        .or_insert_with(|| BreakerTrack::new(idx, since))
                        .observe(def, part, key, p.t_ns, v, p.delta);
                    d.touched = true;
                }
            }
        }
    }

    /// The synthetic `up` series a scrape writes: target health, also when replayed.
    fn scrape_health(&mut self, p: &SeriesPoint) {
        let (Some(url), PointValue::Number(v)) = (p.labels.get("instance"), &p.value) else {
            return;
        };
        let k = ("scrape".to_owned(), url.to_owned());
        let entry = self.sources.entry(k).or_insert_with(|| SourceStatus {
            kind: "scrape",
            url: url.to_owned(),
            job: p.labels.get("job").unwrap_or("").to_owned(),
            up: false,
            last_error: None,
            at_ns: 0,
            duration_ms: 0,
        });
        if p.t_ns >= entry.at_ns {
            entry.up = *v >= 1.0;
            entry.at_ns = p.t_ns;
        }
    }

    /// Settles the breakers of dependencies touched at `t_ns` and records transitions.
    fn settle(&mut self, t_ns: u64) {
        for d in self.deps.values_mut().filter(|d| d.touched) {
            d.touched = false;
            let mut changed: Vec<Vec<BreakerState>> = Vec::new();
            for track in d.breakers.values_mut() {
                let steps = track.settle(&self.profiles.breakers[track.def]);
                if !steps.is_empty() {
                    changed.push(steps);
                }
            }
            let worst = d
                .breakers
                .values()
                .filter(|t| t.state != BreakerState::Unknown)
                .max_by_key(|t| t.state.severity())
                .or_else(|| d.breakers.values().next());
            let Some(worst) = worst else { continue };
            let combined = worst.state;
            d.source = Some(self.profiles.breakers[worst.def].source.clone());
            let mut steps: Vec<BreakerState> = match changed.as_slice() {
                [one] if one.len() > 1 => one[..one.len() - 1].to_vec(),
                _ => Vec::new(),
            };
            steps.push(combined);
            for s in steps {
                match d.state {
                    None | Some(BreakerState::Unknown) => d.state = Some(s),
                    Some(cur) if cur.as_str() == s.as_str() => d.state = Some(s),
                    Some(cur) => {
                        if d.transitions.len() == MAX_TRANSITIONS {
                            d.transitions.pop_front();
                        }
                        d.transitions.push_back(Transition {
                            at_ns: t_ns,
                            from: cur,
                            to: s,
                        });
                        d.state = Some(s);
                        d.since_ns = Some(t_ns);
                    }
                }
            }
        }
    }

    /// Drops series history before `cutoff_ns` and series with nothing newer.
    pub fn prune(&mut self, cutoff_ns: u64) {
        let before = self.series.len();
        self.series.retain(|_, s| !s.prune_before(cutoff_ns));
        if self.series.len() != before {
            for d in self.deps.values_mut() {
                d.signals.retain(|(id, _), _| self.series.contains_key(id));
            }
            self.version += 1;
        }
    }

    /// The resilience views of every (caller, dependency) over `[from, to)`, as of its end (the
    /// breaker state then, the transitions inside the window), cached until the store changes
    /// or the window moves.
    pub fn views(&mut self, window: (u64, u64)) -> Arc<BTreeMap<EdgeKey, ResilienceView>> {
        if let Some((v, w, views)) = &self.cache
            && *v == self.version
            && *w == window
        {
            return views.clone();
        }
        let mut out = BTreeMap::new();
        for (key, d) in &self.deps {
            let mut view = view::signals(&d.signals, &self.series, window);
            let (state, since) = d.breaker_at(window.1);
            view.breaker = state;
            view.breaker_source = d.source.as_ref().map(|s| s.to_string());
            view.breaker_from_events = d.from_events;
            view.since_ns = since;
            view.transitions = d
                .transitions
                .iter()
                .filter(|t| t.at_ns >= window.0 && t.at_ns < window.1)
                .copied()
                .collect();
            view.last_ns = d.last_ns;
            out.insert(key.clone(), view);
        }
        let views = Arc::new(out);
        self.cache = Some((self.version, window, views.clone()));
        views
    }
}

/// The zero a cumulative series started from: counters, histograms (same bounds), exponential
/// histograms; `None` for gauges and summaries.
fn zero_of(v: &PointValue, counter: bool) -> Option<PointValue> {
    Some(match v {
        PointValue::Number(_) if counter => PointValue::Number(0.0),
        PointValue::Histogram(h) => PointValue::Histogram(crate::model::series::ClassicHistogram {
            count: 0.0,
            sum: 0.0,
            buckets: h.buckets.iter().map(|b| (b.0, 0.0)).collect(),
        }),
        PointValue::Exponential(e) => {
            PointValue::Exponential(crate::model::series::ExponentialHistogram {
                count: 0,
                sum: Some(0.0),
                zero_count: 0,
                counts: Vec::new(),
                min: None,
                max: None,
                ..e.clone()
            })
        }
        _ => return None,
    })
}

/// A point's series identity without `instance` (one breaker track per instance already).
fn series_key(p: &SeriesPoint) -> String {
    let mut s = String::from(&*p.name);
    for (k, v) in p.labels.iter().filter(|(k, _)| *k != "instance") {
        s.push('\u{2}');
        s.push_str(k);
        s.push('=');
        s.push_str(v);
    }
    s
}

#[cfg(test)]
mod cache_tests;
#[cfg(test)]
mod gauge_tests;
#[cfg(test)]
mod tests;
