//! Command-line errors of the metric configuration: a bad user profile or sources file stops
//! `report` / `record` with exit code 2 and a message naming the file and the field.

use std::process::Command;

fn faultline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
}

#[test]
fn bad_profile_names_file_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profiles = dir.path().join("profiles");
    std::fs::create_dir(&profiles).expect("mkdir");
    std::fs::write(
        profiles.join("acme.toml"),
        "name = \"acme\"\ndependency_labels = [\"x\"]\n[[breaker]]\nmetric = \"m\"\nencoding = \"one_hot\"\nstate_label = \"s\"\nstates = { on = \"glowing\" }\n",
    )
    .expect("write");
    let cap = dir.path().join("c.jsonl");
    std::fs::write(&cap, "{\"resourceMetrics\":[]}\n").expect("write");
    let out = faultline()
        .args(["report", "--profiles"])
        .arg(&profiles)
        .arg(&cap)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("acme.toml")
            && err.contains("breaker[0].states.on")
            && err.contains("glowing"),
        "{err}"
    );
}

#[test]
fn user_profile_maps_a_custom_metric_in_a_capture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profiles = dir.path().join("profiles");
    std::fs::create_dir(&profiles).expect("mkdir");
    std::fs::write(
        profiles.join("acme.toml"),
        "name = \"acme\"\ndependency_labels = [\"upstream\"]\n\
         [[breaker]]\nmetric = \"acme_guard_mode\"\nencoding = \"value_map\"\nvalues = { \"0\" = \"closed\", \"7\" = \"open\" }\n",
    )
    .expect("write");
    let line = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web"}}]},"scopeMetrics":[{"metrics":[{"name":"acme.guard.mode","gauge":{"dataPoints":[{"attributes":[{"key":"upstream","value":{"stringValue":"billing"}}],"timeUnixNano":"1700000000000000000","asInt":"7"}]}}]}]}]}"#;
    let cap = dir.path().join("c.jsonl");
    std::fs::write(&cap, format!("{line}\n")).expect("write");
    let out = faultline()
        .args(["report", "--format", "json", "--profiles"])
        .arg(&profiles)
        .arg(&cap)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    let row = rows
        .iter()
        .find(|r| r["dependency"] == "billing")
        .expect("billing row");
    assert_eq!(row["caller"], "web");
    assert_eq!(row["breaker"], "open");
    assert_eq!(row["breaker_source"], "acme:acme_guard_mode");
}

#[test]
fn bad_sources_file_names_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("sources.toml");
    std::fs::write(
        &src,
        "[[scrape]]\nurl = \"http://127.0.0.1:9/metrics\"\ninterval = \"soon\"\n",
    )
    .expect("write");
    let out = faultline()
        .args(["record", "--out"])
        .arg(dir.path().join("c.jsonl"))
        .args([
            "--duration",
            "1s",
            "--otlp-grpc",
            "127.0.0.1:0",
            "--otlp-http",
            "127.0.0.1:0",
            "--sources",
        ])
        .arg(&src)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sources.toml") && err.contains("scrape[0].interval"),
        "{err}"
    );
}
