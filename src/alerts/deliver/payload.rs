//! What the sinks receive.
//!
//! - **Alertmanager** (`POST /api/v2/alerts`, its `postableAlerts`): every firing alert with
//!   `startsAt` (when it fired) and `endsAt` = evaluation + 4 × the resend interval (as
//!   Prometheus does: if faultline stops re-sending, Alertmanager resolves the alert itself), and
//!   every alert resolved in the last 15 minutes with `endsAt` = when it resolved.
//! - **Webhook**: Alertmanager's own webhook payload (`version: "4"`), so receivers written for
//!   Alertmanager work unchanged; one request per evaluation that fired or resolved something,
//!   holding those alerts.

use serde_json::{Map, Value, json};

use crate::model::alert::{AlertState, AlertStatus};

use super::super::render::time;

/// How often Alertmanager is re-sent the firing alerts.
pub const RESEND_NS: u64 = 60 * 1_000_000_000;

fn map(pairs: &[(std::sync::Arc<str>, std::sync::Arc<str>)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect()
}

/// A time as the bodies carry it: RFC 3339, whole seconds (evaluation instants are whole
/// seconds).
pub fn alertmanager_time(ns: u64) -> String {
    time(ns)
}

/// The Alertmanager v2 body for the alerts listed at `at_ns` (firing and resolved; pending
/// alerts are not sent, as Prometheus does not send them).
pub fn alertmanager(at_ns: u64, states: &[AlertState]) -> Option<Vec<u8>> {
    let alerts: Vec<Value> = states
        .iter()
        .filter_map(|s| {
            let (starts, ends) = match s.status {
                AlertStatus::Firing => (s.fired_ns?, at_ns + 4 * RESEND_NS),
                AlertStatus::Resolved => (s.fired_ns?, s.resolved_ns?),
                AlertStatus::Pending => return None,
            };
            Some(json!({
                "labels": map(&s.labels),
                "annotations": map(&s.annotations),
                "startsAt": alertmanager_time(starts),
                "endsAt": alertmanager_time(ends),
            }))
        })
        .collect();
    if alerts.is_empty() {
        return None;
    }
    serde_json::to_vec(&alerts).ok()
}

/// A stable fingerprint of an alert's labels (FNV-1a over the sorted pairs; Alertmanager's own
/// is a label-set hash too). Hand-written: eight lines, and no hashing crate here promises a
/// value that stays the same across versions.
pub fn fingerprint(s: &AlertState) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in s.labels.iter() {
        for b in k.bytes().chain([0xff]).chain(v.bytes()).chain([0xfe]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn common(
    alerts: &[&AlertState],
    field: impl Fn(&AlertState) -> &[(std::sync::Arc<str>, std::sync::Arc<str>)],
) -> Map<String, Value> {
    let Some(first) = alerts.first() else {
        return Map::new();
    };
    field(first)
        .iter()
        .filter(|(k, v)| {
            alerts[1..]
                .iter()
                .all(|a| field(a).iter().any(|(k2, v2)| k2 == k && v2 == v))
        })
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect()
}

/// The webhook body for the alerts that fired or resolved at one evaluation.
pub fn webhook(changed: &[&AlertState]) -> Option<Vec<u8>> {
    if changed.is_empty() {
        return None;
    }
    let any_firing = changed.iter().any(|s| s.status == AlertStatus::Firing);
    let alerts: Vec<Value> = changed
        .iter()
        .map(|s| {
            json!({
                "status": if s.status == AlertStatus::Firing { "firing" } else { "resolved" },
                "labels": map(&s.labels),
                "annotations": map(&s.annotations),
                "startsAt": s.fired_ns.map(alertmanager_time),
                "endsAt": match s.status {
                    AlertStatus::Firing => "0001-01-01T00:00:00Z".to_string(),
                    _ => s.resolved_ns.map_or_else(String::new, alertmanager_time),
                },
                "generatorURL": "",
                "fingerprint": fingerprint(s),
            })
        })
        .collect();
    let body = json!({
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
        "status": if any_firing { "firing" } else { "resolved" },
        "receiver": "faultline",
        "groupLabels": {},
        "commonLabels": common(changed, |s| &s.labels),
        "commonAnnotations": common(changed, |s| &s.annotations),
        "externalURL": "",
        "alerts": alerts,
    });
    serde_json::to_vec(&body).ok()
}
