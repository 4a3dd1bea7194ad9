//! The demo tells the mission's whole story within two minutes (issue 8, item 6), checked on the
//! demo's own export requests in simulated time — deterministic (seeded) and fast: every 200 ms
//! of the two minutes the `Driver` produces what `faultline demo` sends; the requests go through
//! the receivers' decoders into a live-configured store (5-minute window); a snapshot is taken
//! every second, the rule engine runs on it as the live store task does, and the dashboard is
//! drawn from it on ratatui's test backend. Within the two minutes:
//!
//! - `checkout → payments` shows its breaker OPEN from resilience4j's state gauge (no `~`);
//! - `checkout → inventory` shows the bulkhead queue from its gauges filling toward capacity
//!   (`n/100`, rising);
//! - the findings include TMO-001 on `checkout → inventory` (the slow dependency without a
//!   timeout; not on `frontend → checkout`, which has one), RTY-001 on `checkout → shipping`
//!   (retries every 200 ms), and STA-001 on `cart` (sticky in-memory sessions on two instances).
//!
//! The real binary in a real terminal shows the same over sockets in `tests/tui_tmux.rs`.

use std::sync::Arc;

use faultline::demo::{Driver, EXPORT_EVERY};
use faultline::ingest::decode::decode_traces;
use faultline::ingest::decode_metrics::decode_metrics;
use faultline::model::breaker::{BreakerSource, BreakerState};
use faultline::model::finding::{Finding, Outcome};
use faultline::store::{Snapshot, Store, StoreConfig};
use faultline::tui::app::{Hits, Mode, Sources, UiState};
use faultline::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const T0: u64 = 1_735_732_800_000_000_000;
const SEC: u64 = 1_000_000_000;
const STORY_S: u64 = 120;

/// What the dashboard draws for `snap` (140×36), as text.
fn screen(snap: &Arc<Snapshot>) -> String {
    let state = UiState::new(Mode::Demo, Sources::default(), snap.clone());
    let mut t = Terminal::new(TestBackend::new(140, 36)).expect("terminal");
    let mut hits = Hits::default();
    t.draw(|f| hits = faultline::tui::view::render(f, &state, &Theme::default()))
        .expect("draw");
    let b = t.backend().buffer();
    b.content
        .chunks(b.area.width as usize)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

fn row<'a>(screen: &'a str, name: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(name))
        .unwrap_or_else(|| panic!("no row {name} in\n{screen}"))
}

fn has(findings: &[Finding], rule: &str, caller: Option<&str>, dep: Option<&str>) -> bool {
    findings.iter().any(|f| {
        f.rule == rule
            && f.outcome == Outcome::Finding
            && (caller.is_none() || f.caller.as_deref() == caller)
            && (dep.is_none() || f.dependency.as_deref() == dep)
    })
}

#[test]
fn the_demo_tells_the_whole_story_within_two_minutes() {
    let mut driver = Driver::new(1, T0);
    let mut store = Store::new(StoreConfig::default());
    let engine = faultline::rules::Engine::new(faultline::rules::load(None).expect("rules"));
    let step = EXPORT_EVERY.as_nanos() as u64;
    let mut open_at = None;
    let mut queue: Vec<(u64, f64)> = Vec::new();
    let mut both: Option<Arc<Snapshot>> = None;
    let mut findings: Vec<Finding> = Vec::new();
    let mut first_seen: Vec<(&str, u64)> = Vec::new();
    let mut t = T0;
    while t < T0 + STORY_S * SEC {
        t += step;
        let (traces, metrics) = driver.tick(t);
        if let Some(req) = traces {
            let d = decode_traces(&req);
            assert_eq!(d.rejected, 0);
            store.apply(d.spans, t);
        }
        if let Some(req) = metrics {
            store.apply_metrics(decode_metrics(&req, t));
        }
        if !(t - T0).is_multiple_of(SEC) {
            continue;
        }
        let s = (t - T0) / SEC;
        store.settle(t);
        let snap = Arc::new(store.snapshot(Some(t)));
        let pay = snap
            .dep("checkout", "payments")
            .expect("checkout → payments");
        let open = pay.breaker.state == BreakerState::Open;
        if open && open_at.is_none() {
            assert!(
                matches!(&pay.breaker.source, BreakerSource::Metric(m) if m.contains("resilience4j_circuitbreaker_state")),
                "the breaker's state comes from its metric: {:?}",
                pay.breaker
            );
            open_at = Some(s);
        }
        let inv = snap
            .dep("checkout", "inventory")
            .expect("checkout → inventory");
        if let Some(q) = inv.queue.as_ref().filter(|q| !q.estimated()) {
            assert_eq!(q.capacity, Some(100.0), "{q:?}");
            queue.push((s, q.depth));
            if open && q.depth > 0.0 && both.is_none() {
                both = Some(snap.clone());
            }
        }
        // The live store task runs the rules every 2 s; every 10 s is enough to see when.
        if s.is_multiple_of(10) {
            findings = engine.findings(&snap);
            for (rule, caller, dep) in [
                ("TMO-001", Some("checkout"), Some("inventory")),
                ("RTY-001", Some("checkout"), Some("shipping")),
                ("STA-001", None, None),
            ] {
                if has(&findings, rule, caller, dep) && !first_seen.iter().any(|f| f.0 == rule) {
                    first_seen.push((rule, s));
                }
            }
        }
    }
    let open_at = open_at.expect("the payments breaker opened");
    assert!(open_at <= 20, "OPEN at {open_at} s");

    // The queue fills toward its capacity: a few calls waiting, then most of it.
    let start = queue
        .iter()
        .find(|q| q.1 >= 1.0)
        .unwrap_or_else(|| panic!("the queue never filled: {queue:?}"));
    let high = queue
        .iter()
        .find(|q| q.0 > start.0 && q.1 >= 70.0)
        .unwrap_or_else(|| panic!("the queue did not approach its capacity: {queue:?}"));
    assert!(high.1 <= 100.0, "{high:?}");

    // What the dashboard shows at a moment with the breaker open and the queue filling.
    let snap = both.unwrap_or_else(|| panic!("never open with a queue: {queue:?}"));
    let text = screen(&snap);
    let pay = row(&text, "checkout → payments");
    assert!(
        pay.contains(" OPEN ") && !pay.contains("OPEN~"),
        "OPEN from the metric, no ~:\n{text}"
    );
    let inv = row(&text, "checkout → inventory");
    assert!(inv.contains("/100"), "queue n/100 from the gauges:\n{text}");

    // The three headline findings.
    assert!(
        has(&findings, "TMO-001", Some("checkout"), Some("inventory")),
        "missing timeout on the slow dependency: {first_seen:?}\n{findings:#?}"
    );
    assert!(
        !has(&findings, "TMO-001", Some("frontend"), Some("checkout")),
        "frontend times out after 8 s: no TMO-001 there"
    );
    assert!(
        has(&findings, "RTY-001", Some("checkout"), Some("shipping")),
        "unjittered retry: {first_seen:?}"
    );
    let sta = findings
        .iter()
        .find(|f| f.rule == "STA-001" && f.outcome == Outcome::Finding)
        .unwrap_or_else(|| panic!("stateful handler: {first_seen:?}"));
    assert_eq!(sta.service.as_deref(), Some("cart"), "{sta:?}");
    assert!(sta.message.contains("instance switches"), "{}", sta.message);
    eprintln!(
        "breaker OPEN at {open_at} s; queue {} at {} s, {} at {} s; findings first seen {first_seen:?}",
        start.1, start.0, high.1, high.0
    );
}
