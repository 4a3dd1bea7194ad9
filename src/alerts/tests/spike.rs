//! The shipped error-spike rule against each dependency's own baseline.

use super::*;

const SPIKE: &str = "DependencyErrorSpike";

#[test]
fn a_constant_30_percent_never_fires_but_1_to_20_percent_does_and_resolves() {
    let always = view("always30", series(&[Load::new(0, 3600, 5, 0.30)], 1));
    let jump = view(
        "jump",
        series(
            &[
                Load::new(0, 2700, 5, 0.01),
                Load::new(2700, 3000, 5, 0.20),
                Load::new(3000, 3600, 5, 0.01),
            ],
            2,
        ),
    );
    let changes = run(shipped(), 0, 3600, &[always, jump]);
    let spike = of(&changes, SPIKE);
    assert!(
        spike.iter().all(|c| c.1 == "jump"),
        "a dependency that always fails 30 % must not alert: {spike:?}"
    );
    let statuses: Vec<AlertStatus> = spike.iter().map(|c| c.2).collect();
    assert_eq!(
        statuses,
        vec![
            AlertStatus::Pending,
            AlertStatus::Firing,
            AlertStatus::Resolved
        ],
        "{spike:?}"
    );
    let (pending, fired, resolved) = (spike[0].0, spike[1].0, spike[2].0);
    // The window sees the spike from its first bucket; `for` is 2 minutes.
    assert!((2710..=2730).contains(&pending), "pending at {pending}");
    assert_eq!(fired, pending + 120, "fires after `for`");
    // The spike leaves the 1-minute window by 3060; `keep_firing_for` adds a minute.
    assert!((3060..=3140).contains(&resolved), "resolved at {resolved}");
}

#[test]
fn a_flapping_error_rate_pages_once() {
    let mut loads = vec![Load::new(0, 2700, 5, 0.01)];
    for i in 0..10 {
        let t = 2700 + i * 60;
        loads.push(Load::new(t, t + 30, 5, 0.4));
        loads.push(Load::new(t + 30, t + 60, 5, 0.01));
    }
    loads.push(Load::new(3300, 3900, 5, 0.01));
    let flap = view("flap", series(&loads, 3));
    let spike = of(&run(shipped(), 0, 3900, &[flap]), SPIKE);
    let fired = spike.iter().filter(|c| c.2 == AlertStatus::Firing).count();
    let resolved = spike
        .iter()
        .filter(|c| c.2 == AlertStatus::Resolved)
        .count();
    assert_eq!((fired, resolved), (1, 1), "{spike:?}");
    let resolved_at = spike.last().map(|c| c.0).unwrap_or(0);
    assert!(
        resolved_at >= 3300,
        "resolved at {resolved_at}, before the flapping ended"
    );
}

#[test]
fn low_traffic_noise_does_not_fire() {
    // One call every 2 s at 5 %: a window rarely holds 5 errors, never for two minutes.
    let quiet = view("quiet", series(&[Load::new(0, 7200, 1, 0.05)], 4));
    let mut q = quiet.clone();
    q.key.dependency = "quiet-2".into();
    let spike = of(&run(shipped(), 0, 7200, &[quiet, q]), SPIKE);
    assert!(
        spike.iter().all(|c| c.2 != AlertStatus::Firing),
        "{spike:?}"
    );
}

#[test]
fn an_incident_longer_than_half_the_baseline_keeps_firing() {
    // The baseline is frozen while the alert is active: 40 minutes at 20 % do not become
    // the new normal.
    let long = view(
        "long",
        series(
            &[Load::new(0, 2700, 5, 0.01), Load::new(2700, 5100, 5, 0.2)],
            5,
        ),
    );
    let spike = of(&run(shipped(), 0, 5100, &[long]), SPIKE);
    let statuses: Vec<AlertStatus> = spike.iter().map(|c| c.2).collect();
    assert_eq!(
        statuses,
        vec![AlertStatus::Pending, AlertStatus::Firing],
        "{spike:?}"
    );
}

#[test]
fn evaluation_is_deterministic() {
    let mk = || {
        view(
            "d",
            series(
                &[
                    Load::new(0, 2700, 7, 0.02),
                    Load::new(2700, 3000, 7, 0.3),
                    Load::new(3000, 3600, 7, 0.02),
                ],
                6,
            ),
        )
    };
    let a = run(shipped(), 0, 3600, &[mk()]);
    let b = run(shipped(), 0, 3600, &[mk()]);
    assert!(!a.is_empty());
    assert_eq!(a, b);
}
