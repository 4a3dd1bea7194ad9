//! The simulation's own properties: determinism, and each part of the story in its spans and
//! gauges (the story as faultline sees it is `tests/demo_story.rs`).

use super::*;

const T: u64 = 1_735_732_800_000_000_000;

fn run(seed: u64, seconds: u64) -> (Sim, Vec<SimSpan>) {
    let mut s = Sim::new(seed, T);
    let spans = (1..=seconds).flat_map(|i| s.step(T + i * SEC)).collect();
    (s, spans)
}

#[test]
fn same_seed_same_spans_and_different_seed_differs() {
    let a = run(7, 30).1;
    assert_eq!(a, run(7, 30).1);
    assert_ne!(a, run(8, 30).1);
    assert!(a.len() > 30 * 20 * 8, "{} spans", a.len());
}

#[test]
fn spans_are_released_when_they_end() {
    let mut s = Sim::new(3, T);
    for i in 1..=60 {
        let now = T + i * SEC;
        assert!(s.step(now).iter().all(|x| x.end <= now));
    }
}

#[test]
fn the_breaker_rejects_calls_only_while_open_or_half_open() {
    let (_, spans) = run(1, CYCLE_S);
    let rejected: Vec<u64> = spans
        .iter()
        .filter(|x| {
            x.attrs
                .iter()
                .any(|a| a.1 == Val::S("CallNotPermittedException".into()))
        })
        .map(|x| (x.start - T) / SEC)
        .collect();
    assert!(rejected.len() > 300);
    assert!(rejected.iter().all(|&e| (14..44).contains(&e)));
    assert!(
        spans
            .iter()
            .any(|x| x.attrs.iter().any(|a| a.0 == "http.request.resend_count"))
    );
}

#[test]
fn inventory_hangs_and_the_bulkhead_queue_fills_then_drains() {
    let mut s = Sim::new(1, T);
    let mut depth = Vec::new();
    let mut spans = Vec::new();
    for i in 1..=CYCLE_S {
        spans.extend(s.step(T + i * SEC));
        depth.push(s.gauges(T + i * SEC).queue_depth);
    }
    let peak = *depth.iter().max().unwrap();
    assert!(
        peak >= BULKHEAD_QUEUE as u64 / 2,
        "the queue fills toward its capacity: {depth:?}"
    );
    assert!(depth[..20].iter().all(|&d| d == 0), "{depth:?}");
    assert_eq!(depth[CYCLE_S as usize - 1], 0, "drained: {depth:?}");
    let hung = spans
        .iter()
        .filter(|x| x.service == "inventory" && x.end - x.start >= 30 * SEC)
        .count();
    assert!(hung > 5, "hung inventory calls: {hung}");
}

#[test]
fn sessions_stick_to_a_cart_instance_and_fail_elsewhere() {
    let (_, spans) = run(1, 60);
    let cart: Vec<&SimSpan> = spans
        .iter()
        .filter(|x| x.service == "cart" && x.name == "GET /cart")
        .collect();
    assert!(cart.iter().any(|x| x.instance == 1) && cart.iter().any(|x| x.instance == 2));
    let status = |x: &SimSpan| {
        x.attrs
            .iter()
            .find(|a| a.0 == "http.response.status_code")
            .map(|a| a.1.clone())
    };
    let lost = cart
        .iter()
        .filter(|x| status(x) == Some(Val::I(401)))
        .count();
    assert!(
        lost > 20 && lost < cart.len() / 5,
        "{lost} of {}",
        cart.len()
    );
    let frontends: std::collections::BTreeSet<u8> = spans
        .iter()
        .filter(|x| x.service == "frontend")
        .map(|x| x.instance)
        .collect();
    assert_eq!(frontends.len(), 2);
}
