//! A TLS-only, authenticated metrics backend, as in production, with a private CA made by the
//! test (`tls_support`, rcgen):
//! - a real Prometheus serving its API over TLS (`--web.config.file`) and requiring basic auth,
//!   scraping a prometheus_client app with resilience4j series. faultline, configured by one
//!   file (PromQL over TLS with the CA, the user and a password file, a tenant header; OTLP
//!   receivers over TLS), queries it while the Python SDK exports over TLS: the report joins the
//!   breaker state from Prometheus to the traced edge. Without the CA faultline refuses the
//!   server and says why (unknown issuer); with a wrong password it reports HTTP 401.
//! - a real Prometheus requiring client certificates (mTLS) on its `/metrics`: faultline scrapes
//!   it over HTTPS with a client certificate from a `[[scrape]]` table; without one it is
//!   refused, and says so.

mod common;
mod metrics_support;
mod tls_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use metrics_support::{Proc, free_port, http_get, python, require, spawn, wait_for};
use tls_support::{Pki, client_config};

const SECS: Duration = Duration::from_secs(1);

/// Starts Prometheus with `web` as its web config and `scrape` as its scrape configs.
fn prometheus(dir: &Path, port: u16, web: &str, scrape: &str) -> Proc {
    let web_file = dir.join(format!("web-{port}.yml"));
    std::fs::write(&web_file, web).expect("web config");
    let cfg = dir.join(format!("prometheus-{port}.yml"));
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{scrape}"
        ),
    )
    .expect("prometheus.yml");
    spawn(
        "prometheus",
        Command::new(require("prometheus"))
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--web.config.file={}", web_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join(format!("data-{port}")).display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn"),
    )
}

/// An HTTPS client trusting the test CA (and presenting the client certificate when given).
fn https(pki: &Pki, client: bool) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(client_config(
            &pki.ca_file,
            client.then_some((pki.client_cert.as_path(), pki.client_key.as_path())),
        ))
        .timeout(10 * SECS)
        .build()
        .expect("https client")
}

/// `faultline record` to completion (it stops after `--duration`), returning its stderr.
fn record_headless(args: &[&str]) -> String {
    let out = common::run_with_timeout(
        Command::new(common::FAULTLINE)
            .args([
                "record",
                "--otlp-grpc",
                "127.0.0.1:0",
                "--otlp-http",
                "127.0.0.1:0",
            ])
            .args(args)
            .env("XDG_CONFIG_HOME", "/nonexistent"),
        60 * SECS,
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "faultline record failed:\n{err}");
    err
}

fn source_line<'a>(stderr: &'a str, prefix: &str) -> &'a str {
    stderr
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{stderr}"))
}

#[test]
fn prometheus_over_tls_with_basic_auth_from_one_config_file() {
    let pki = Pki::new();
    let app = spawn(
        "python metrics app",
        Command::new(python())
            .arg(metrics_support::repo().join("tests/py-metrics/app.py"))
            .arg("metrics"),
    );
    let app_port = app.wait_json("ready line", 20 * SECS, |v| v["ready"] == true)["port"].clone();
    let hash = bcrypt::hash("s3cret", 4).expect("bcrypt");
    let port = free_port();
    let web = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  ops: {hash}\n",
        pki.server_cert.display(),
        pki.server_key.display()
    );
    let _prom = prometheus(
        pki.dir(),
        port,
        &web,
        &format!(
            "  - job_name: checkout\n    static_configs:\n      - targets: ['127.0.0.1:{app_port}']\n"
        ),
    );
    let url = format!("https://127.0.0.1:{port}");
    // The breaker opens before faultline starts: its start-up range query must see it.
    http_get(&format!("http://127.0.0.1:{app_port}/state?state=open"));
    let client = https(&pki, false);
    wait_for(
        "Prometheus (TLS, basic auth) to have the open breaker",
        40 * SECS,
        || {
            let r = client
            .get(format!(
                "{url}/api/v1/query?query=resilience4j_circuitbreaker_state%7Bstate%3D%22open%22%7D"
            ))
            .basic_auth("ops", Some("s3cret"))
            .send()
            .ok()?;
            let body = r.text().ok()?;
            body.contains("\"1\"").then_some(())
        },
    );
    // Without credentials Prometheus refuses: the auth is real.
    let anon = client
        .get(format!("{url}/api/v1/query?query=up"))
        .send()
        .expect("https");
    assert_eq!(anon.status().as_u16(), 401);

    std::fs::write(pki.dir().join("prom.pass"), "s3cret\n").expect("password file");
    let config = pki.write(
        "faultline.toml",
        &format!(
            r#"# production-style: TLS everywhere, credentials from a file
[receivers]
tls_cert_file = "server.pem"
tls_key_file = "server.key"

[prometheus]
url = "{url}"
ca_file = "ca.pem"
username = "ops"
password_file = "prom.pass"
headers = {{ "X-Scope-OrgID" = "team-a" }}
interval = "1s"
lookback = "1m"
"#
        ),
    );
    let config_arg = config.display().to_string();
    let rec = common::Recorder::start_with(&["--config", &config_arg]);
    let work = tempfile::tempdir().unwrap();
    let truth_path = work.path().join("truth.json");
    let out = common::run_with_timeout(
        Command::new(common::venv_python())
            .arg(common::root().join("tests/py/scenario.py"))
            .args(["grpc", &format!("https://{}", rec.grpc)])
            .arg(&truth_path)
            .env("OTEL_EXPORTER_OTLP_CERTIFICATE", &pki.ca_file)
            .env("NO_PROXY", "*"),
        180 * SECS,
    );
    assert!(
        out.status.success(),
        "the Python scenario over TLS failed:\n{}\n--- faultline\n{}",
        String::from_utf8_lossy(&out.stderr),
        rec.stderr_so_far()
    );
    let truth = common::load_truth(&truth_path);
    let stopped = rec.stop();
    stopped.assert_clean();
    let line = source_line(&stopped.stderr, &format!("faultline: promql {url}"));
    assert!(line.ends_with(": up"), "{line}");

    let rows = metrics_support::report_json(&stopped.out);
    let r = metrics_support::row(&rows, "checkout", "payments");
    assert_eq!(
        r["breaker"], "open",
        "the breaker comes from Prometheus over TLS: {r:#}"
    );
    let edge = truth
        .edges
        .iter()
        .find(|e| e.caller == "checkout" && e.dependency.as_deref() == Some("payments"))
        .expect("truth edge checkout -> payments");
    assert_eq!(
        r["calls"], edge.calls,
        "the calls come from the SDK over TLS: {r:#}"
    );

    // Without the CA: refused, and the message names the certificate problem.
    let err = record_headless(&[
        "--out",
        "-",
        "--duration",
        "3s",
        "--prometheus",
        &url,
        "--prometheus-interval",
        "1s",
        "--prometheus-username",
        "ops",
        "--prometheus-password",
        "s3cret",
    ]);
    let line = source_line(&err, &format!("faultline: promql {url}"));
    assert!(
        line.contains("down")
            && line.contains("not signed by a trusted CA")
            && line.contains("unknown issuer"),
        "{line}"
    );
    // With the CA and a wrong password: the server's answer.
    let err = record_headless(&[
        "--out",
        "-",
        "--duration",
        "3s",
        "--prometheus",
        &url,
        "--prometheus-interval",
        "1s",
        "--prometheus-ca-file",
        &pki.ca_file.display().to_string(),
        "--prometheus-username",
        "ops",
        "--prometheus-password",
        "wrong",
    ]);
    let line = source_line(&err, &format!("faultline: promql {url}"));
    assert!(line.contains("down") && line.contains("HTTP 401"), "{line}");
    // insecure_skip_verify connects, and says it did not verify.
    let err = record_headless(&[
        "--out",
        "-",
        "--duration",
        "3s",
        "--prometheus",
        &url,
        "--prometheus-interval",
        "1s",
        "--prometheus-insecure-skip-verify",
        "--prometheus-username",
        "ops",
        "--prometheus-password",
        "s3cret",
    ]);
    assert!(
        source_line(&err, &format!("faultline: promql {url}")).ends_with(": up"),
        "{err}"
    );
    assert!(err.contains("NOT verified"), "{err}");
}

#[test]
fn scrape_over_https_with_client_certificate() {
    let pki = Pki::new();
    let port = free_port();
    let web = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
        pki.server_cert.display(),
        pki.server_key.display(),
        pki.ca_file.display()
    );
    let _prom = prometheus(pki.dir(), port, &web, "  []\n");
    let with_cert = https(&pki, true);
    let target = format!("https://127.0.0.1:{port}/metrics");
    wait_for("Prometheus (mTLS) to serve /metrics", 40 * SECS, || {
        let r = with_cert.get(&target).send().ok()?;
        (r.status().as_u16() == 200).then_some(())
    });
    // Without a client certificate the server itself refuses.
    assert!(https(&pki, false).get(&target).send().is_err());

    let config: PathBuf = pki.write(
        "scrape.toml",
        &format!(
            "[scrape_defaults]\nall_series = true\n\n[[scrape]]\nurl = \"{target}\"\njob = \"prom\"\ninterval = \"1s\"\nca_file = \"ca.pem\"\ncert_file = \"client.pem\"\nkey_file = \"client.key\"\n"
        ),
    );
    let cap = pki.dir().join("scrape.jsonl");
    let err = record_headless(&[
        "--config",
        &config.display().to_string(),
        "--out",
        &cap.display().to_string(),
        "--duration",
        "3s",
    ]);
    let line = source_line(&err, &format!("faultline: scrape 127.0.0.1:{port} (prom)"));
    assert!(line.ends_with(": up"), "{line}");
    let c = common::read_capture(&cap);
    assert!(
        c.metric_names.iter().any(|m| m == "prometheus_build_info"),
        "Prometheus' own series were scraped over mTLS: {:?}",
        c.metric_names
    );

    // The same target without a client certificate: down, and the reason says it.
    let err = record_headless(&[
        "--out",
        "-",
        "--duration",
        "3s",
        "--scrape",
        &target,
        "--scrape-interval",
        "1s",
        "--scrape-ca-file",
        &pki.ca_file.display().to_string(),
    ]);
    let line = source_line(&err, &format!("faultline: scrape 127.0.0.1:{port}"));
    assert!(
        line.contains("down") && line.contains("client certificate"),
        "{line}"
    );
}
