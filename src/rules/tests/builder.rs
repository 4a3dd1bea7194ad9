//! Builds spans, snapshots and lint runs for tests.

use std::sync::Arc;

use crate::model::attrs::{AttrValue, Attributes, KeyValue};
use crate::model::finding::{Finding, Outcome};
use crate::model::series::{Labels, PointValue, SeriesKind, SeriesPoint};
use crate::model::span::{Event, Resource, Span, SpanExtras, SpanKind, StatusCode};
use crate::rules::compile::compile_sources;
use crate::rules::{Engine, LintReport};
use crate::store::{Store, StoreConfig};

/// Base time: 2026-01-01T00:00:00Z in ns.
pub const T0: u64 = 1_767_225_600_000_000_000;
/// One millisecond in ns.
pub const MS: u64 = 1_000_000;

/// A span under construction.
#[derive(Clone)]
pub struct Sp {
    pub span: Span,
    attrs: Vec<KeyValue>,
    res_attrs: Vec<KeyValue>,
    events: Vec<Event>,
    status_message: Option<String>,
}

fn kv(k: &str, v: AttrValue) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: v,
    }
}

/// A span of `trace` with id `id` (ids are small numbers for readability).
pub fn sp(trace: u64, id: u64) -> Sp {
    let mut t = [0u8; 16];
    t[8..].copy_from_slice(&trace.max(1).to_be_bytes());
    Sp {
        span: Span {
            trace_id: t,
            span_id: id.to_be_bytes(),
            parent_span_id: [0; 8],
            kind: SpanKind::Internal,
            status: StatusCode::Unset,
            name: "op".into(),
            start_ns: T0,
            end_ns: T0 + MS,
            attributes: Attributes::default(),
            resource: Arc::new(Resource {
                service_name: "svc".into(),
                instance: None,
                attributes: Attributes::default(),
            }),
            scope: "test".into(),
            extras: None,
        },
        attrs: Vec::new(),
        res_attrs: Vec::new(),
        events: Vec::new(),
        status_message: None,
    }
}

impl Sp {
    pub fn parent(mut self, p: u64) -> Sp {
        self.span.parent_span_id = p.to_be_bytes();
        self
    }
    pub fn kind(mut self, k: SpanKind) -> Sp {
        self.span.kind = k;
        self
    }
    pub fn client(self) -> Sp {
        self.kind(SpanKind::Client)
    }
    pub fn server(self) -> Sp {
        self.kind(SpanKind::Server)
    }
    pub fn name(mut self, n: &str) -> Sp {
        self.span.name = n.into();
        self
    }
    pub fn svc(mut self, s: &str) -> Sp {
        let r = Arc::make_mut(&mut self.span.resource);
        r.service_name = s.into();
        self
    }
    pub fn inst(mut self, i: &str) -> Sp {
        Arc::make_mut(&mut self.span.resource).instance = Some(i.into());
        self
    }
    /// Start at `start_ms` after T0, lasting `dur_ms` (fractions allowed).
    pub fn at(mut self, start_ms: f64, dur_ms: f64) -> Sp {
        self.span.start_ns = T0 + (start_ms * MS as f64) as u64;
        self.span.end_ns = self.span.start_ns + (dur_ms * MS as f64) as u64;
        self
    }
    pub fn s(mut self, k: &str, v: &str) -> Sp {
        self.attrs.push(kv(k, AttrValue::Str(v.into())));
        self
    }
    pub fn i(mut self, k: &str, v: i64) -> Sp {
        self.attrs.push(kv(k, AttrValue::Int(v)));
        self
    }
    pub fn error(mut self) -> Sp {
        self.span.status = StatusCode::Error;
        self
    }
    pub fn status_message(mut self, m: &str) -> Sp {
        self.status_message = Some(m.into());
        self
    }
    /// A string resource attribute (besides `service.name` and the instance).
    pub fn res(mut self, k: &str, v: &str) -> Sp {
        self.res_attrs.push(kv(k, AttrValue::Str(v.into())));
        self
    }
    /// A span event with string attributes, at the span's start.
    pub fn event(mut self, name: &str, attrs: &[(&str, &str)]) -> Sp {
        self.events.push(Event {
            time_ns: self.span.start_ns,
            name: name.into(),
            attributes: Attributes::new(
                attrs
                    .iter()
                    .map(|(k, v)| kv(k, AttrValue::Str((*v).into())))
                    .collect(),
                0,
            ),
        });
        self
    }
    /// An HTTP client call to `host` (`server.address`), method and route.
    pub fn http(self, method: &str, host: &str, route: &str) -> Sp {
        self.client()
            .name(&format!("{method} {route}"))
            .s("http.request.method", method)
            .s("server.address", host)
            .s("url.template", route)
            .s("url.full", &format!("http://{host}{route}"))
    }
    /// HTTP status (and ERROR status for ≥ 400 on clients, as the HTTP semconv says).
    pub fn status(mut self, code: i64) -> Sp {
        if code >= 400 {
            self.span.status = StatusCode::Error;
        }
        self.i("http.response.status_code", code)
    }
    pub fn build(mut self) -> Span {
        self.span.attributes = Attributes::new(self.attrs, 0);
        if !self.res_attrs.is_empty() {
            Arc::make_mut(&mut self.span.resource).attributes = Attributes::new(self.res_attrs, 0);
        }
        if !self.events.is_empty() || self.status_message.is_some() {
            self.span.extras = Some(Box::new(SpanExtras {
                events: self.events,
                status_message: self.status_message.map(Into::into),
                ..SpanExtras::default()
            }));
        }
        self.span
    }
}

/// Runs the rules in `toml` over the spans.
pub fn lint(spans: Vec<Span>, toml: &str) -> LintReport {
    let set = match compile_sources(&[("test.toml".to_string(), toml.to_string())], "test") {
        Ok(s) => s,
        Err(e) => panic!("rules do not compile: {e:?}"),
    };
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    store.apply(spans, 1);
    store.flush_pending();
    let snap = store.snapshot(None);
    Engine::new(set).run(&snap)
}

/// A metric point `t_s` seconds after T0 with labels (give `job`: it names the caller).
pub fn point(name: &str, labels: &[(&str, &str)], t_s: f64, v: f64, counter: bool) -> SeriesPoint {
    SeriesPoint {
        name: Arc::from(name),
        kind: if counter {
            SeriesKind::Counter
        } else {
            SeriesKind::Gauge
        },
        labels: Labels::new(
            labels
                .iter()
                .map(|(k, v)| (Arc::from(*k), Arc::from(*v)))
                .collect(),
        ),
        t_ns: T0 + (t_s * 1e9) as u64,
        start_ns: None,
        delta: false,
        value: PointValue::Number(v),
    }
}

/// Runs the rules in `toml` over spans and metric points (replayed as a capture is).
pub fn lint_with(spans: Vec<Span>, points: Vec<SeriesPoint>, toml: &str) -> LintReport {
    let set = match compile_sources(&[("test.toml".to_string(), toml.to_string())], "test") {
        Ok(s) => s,
        Err(e) => panic!("rules do not compile: {e:?}"),
    };
    let mut store = Store::new(StoreConfig::replay(usize::MAX));
    store.apply_metrics(points);
    store.apply(spans, 1);
    store.flush_pending();
    let snap = store.snapshot(None);
    Engine::new(set).run(&snap)
}

/// A one-rule file.
pub fn rule(id: &str, detector: &str, params: &str) -> String {
    format!(
        "[[rule]]\nid = \"{id}\"\ndetector = \"{detector}\"\nseverity = \"warning\"\nremediation = \"fix it\"\n[rule.params]\n{params}\n"
    )
}

/// Findings (not insufficient data).
pub fn hits(r: &LintReport) -> Vec<&Finding> {
    r.findings
        .iter()
        .filter(|f| f.outcome == Outcome::Finding)
        .collect()
}

/// Insufficient-data results.
pub fn undecided(r: &LintReport) -> Vec<&Finding> {
    r.findings
        .iter()
        .filter(|f| f.outcome == Outcome::InsufficientData)
        .collect()
}

/// Deterministic pseudo-random numbers in [0, 1) (xorshift).
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}
