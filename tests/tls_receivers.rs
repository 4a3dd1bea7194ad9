//! Both receivers over TLS, with a private CA made by the test (`tls_support`, rcgen):
//! - the real Python OpenTelemetry SDK exports the scenario over gRPC and HTTP with TLS
//!   (`OTEL_EXPORTER_OTLP_CERTIFICATE`), and with a client certificate
//!   (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` / `_CLIENT_KEY`) when faultline verifies clients;
//!   the report on the capture equals the scenario's ground truth;
//! - a client without a certificate is refused when verification is on, and counted;
//! - plain-text clients on the TLS ports (HTTP/1.1 and HTTP/2 prior knowledge, as a plain gRPC
//!   exporter speaks) get an answer saying so, are counted, and the receivers keep serving;
//! - a certificate replaced on disk is served to the next connection; a broken replacement
//!   keeps the previous one.

mod common;
mod tls_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use tls_support::*;

fn tls_args(pki: &Pki, verify_clients: bool) -> Vec<String> {
    let mut v = vec![
        "--tls-cert-file".to_string(),
        pki.server_cert.display().to_string(),
        "--tls-key-file".to_string(),
        pki.server_key.display().to_string(),
    ];
    if verify_clients {
        v.push("--tls-client-ca-file".into());
        v.push(pki.ca_file.display().to_string());
    }
    v
}

fn start(pki: &Pki, verify_clients: bool) -> Recorder {
    let args = tls_args(pki, verify_clients);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Recorder::start_with(&args)
}

/// Runs the Python scenario against `endpoint` with the exporter's standard TLS variables.
fn scenario(
    exporter: &str,
    endpoint: &str,
    truth: &Path,
    env: &[(&str, &Path)],
) -> std::process::Output {
    let mut cmd = Command::new(venv_python());
    cmd.arg(root().join("tests/py/scenario.py"))
        .args([exporter, endpoint])
        .arg(truth)
        .env("NO_PROXY", "*")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        // `requests` lets these override the exporter's own certificate setting.
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_with_timeout(&mut cmd, Duration::from_secs(180))
}

fn sdk_over_tls(exporter: &str, verify_clients: bool) {
    let pki = Pki::new();
    let rec = start(&pki, verify_clients);
    let endpoint = match exporter {
        "grpc" => format!("https://{}", rec.grpc),
        _ => format!("https://{}", rec.http),
    };
    let work = tempfile::tempdir().unwrap();
    let truth_path = work.path().join("truth.json");
    let mut env = vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.ca_file.as_path())];
    if verify_clients {
        env.push((
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            pki.client_cert.as_path(),
        ));
        env.push(("OTEL_EXPORTER_OTLP_CLIENT_KEY", pki.client_key.as_path()));
    }
    let out = scenario(exporter, &endpoint, &truth_path, &env);
    assert!(
        out.status.success(),
        "the Python scenario over TLS ({exporter}, client certs: {verify_clients}) failed: {:?}\n--- scenario stderr\n{}\n--- faultline stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        rec.stderr_so_far()
    );
    let truth = load_truth(&truth_path);
    let stopped = rec.stop();
    stopped.assert_clean();
    assert!(
        stopped.stderr.contains("the receivers speak TLS only"),
        "{}",
        stopped.stderr
    );
    let cap = read_capture(&stopped.out);
    assert_eq!(
        cap.spans as u64, truth.spans,
        "every exported span is in the capture"
    );
    assert_report_matches(&report_json(&[&stopped.out]), &truth);
}

#[test]
fn python_grpc_over_tls() {
    sdk_over_tls("grpc", false);
}

#[test]
fn python_http_over_tls() {
    sdk_over_tls("http", false);
}

#[test]
fn python_grpc_with_client_certificate() {
    sdk_over_tls("grpc", true);
}

#[test]
fn python_http_with_client_certificate() {
    sdk_over_tls("http", true);
}

/// An HTTPS client on rustls (as the SDKs' TLS stacks, it verifies the server with the CA).
fn https_client(pki: &Pki, client_cert: bool) -> reqwest::blocking::Client {
    let cfg = client_config(
        &pki.ca_file,
        client_cert.then_some((pki.client_cert.as_path(), pki.client_key.as_path())),
    );
    reqwest::blocking::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(cfg)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("https client")
}

fn post_empty_traces(client: &reqwest::blocking::Client, addr: SocketAddr) -> Result<u16, String> {
    client
        .post(format!("https://127.0.0.1:{}/v1/traces", addr.port()))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .map(|r| r.status().as_u16())
        .map_err(|e| {
            let mut s = e.to_string();
            let mut c = std::error::Error::source(&e);
            while let Some(x) = c {
                s.push_str(&format!(": {x}"));
                c = x.source();
            }
            s
        })
}

#[test]
fn client_without_certificate_is_refused_when_verification_is_on() {
    let pki = Pki::new();
    let rec = start(&pki, true);
    let err = post_empty_traces(&https_client(&pki, false), rec.http)
        .expect_err("a client without a certificate must be refused");
    assert!(
        err.to_lowercase().contains("certificate") || err.contains("alert"),
        "the refusal should be a TLS alert about the certificate: {err}"
    );
    assert_eq!(
        post_empty_traces(&https_client(&pki, true), rec.http),
        Ok(200)
    );
    let stopped = rec.stop();
    stopped.assert_clean();
    assert!(
        stopped.stderr.contains("failed handshakes")
            && stopped.stderr.contains(", 1 failed handshakes"),
        "the failed handshake is counted:\n{}",
        stopped.stderr
    );
}

fn read_all(mut s: TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    buf
}

#[test]
fn plaintext_clients_are_refused_and_the_receivers_keep_serving() {
    let pki = Pki::new();
    let rec = start(&pki, false);

    // An OTLP/HTTP exporter configured with http:// instead of https://.
    let mut s = TcpStream::connect(rec.http).unwrap();
    s.write_all(
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    )
    .unwrap();
    let answer = String::from_utf8_lossy(&read_all(s)).to_string();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("this port speaks TLS"), "{answer}");

    // A gRPC exporter without TLS: HTTP/2 with prior knowledge.
    let mut s = TcpStream::connect(rec.grpc).unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .unwrap();
    let answer = read_all(s);
    let goaway = answer
        .windows(4)
        .position(|w| w[3] == 0x07 && w[0] == 0)
        .expect("an HTTP/2 GOAWAY frame");
    assert!(goaway >= 9, "after the server's SETTINGS: {answer:?}");
    assert!(
        String::from_utf8_lossy(&answer).contains("this port speaks TLS"),
        "the GOAWAY carries the reason: {answer:?}"
    );

    // The real Python SDK with http:// against the TLS port fails (it does not hang).
    let work = tempfile::tempdir().unwrap();
    let out = run_with_timeout(
        Command::new(venv_python())
            .arg(root().join("tests/py/scenario.py"))
            .args(["http", &format!("http://{}", rec.http)])
            .arg(work.path().join("truth.json"))
            .env("NO_PROXY", "*"),
        Duration::from_secs(120),
    );
    assert!(
        !out.status.success(),
        "a plain-text export must not succeed"
    );

    // The receivers still serve TLS clients.
    assert_eq!(
        post_empty_traces(&https_client(&pki, false), rec.http),
        Ok(200)
    );
    let stopped = rec.stop();
    stopped.assert_clean();
    let line = stopped
        .stderr
        .lines()
        .find(|l| l.contains("plain-text connections"))
        .unwrap_or_else(|| panic!("no TLS summary line:\n{}", stopped.stderr));
    let n: u64 = line
        .split("refused ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    assert!(
        n >= 3,
        "two raw clients and the SDK's connections are counted: {line}"
    );
    assert!(
        stopped
            .stderr
            .contains("refused a plain-text (non-TLS) connection from 127.0.0.1"),
        "each refusal is logged:\n{}",
        stopped.stderr
    );
}

fn pem_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("PEM")
        .to_vec()
}

/// Replaces a file the way a secret mount or cert-manager does: a new file renamed over it.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn certificate_files_are_reloaded_when_they_change() {
    let pki = Pki::new();
    let rec = start(&pki, false);
    let first = std::fs::read_to_string(&pki.server_cert).unwrap();
    let seen = server_certificate(rec.http, client_config(&pki.ca_file, None)).unwrap();
    assert_eq!(seen, pem_der(&first));

    let (cert2, key2) = pki
        .ca
        .issue("localhost", &["127.0.0.1", "localhost"], false);
    replace(&pki.server_key, &key2);
    replace(&pki.server_cert, &cert2);
    let deadline = Instant::now() + Duration::from_secs(20);
    for addr in [rec.http, rec.grpc] {
        loop {
            let got = server_certificate(addr, client_config(&pki.ca_file, None)).unwrap();
            if got == pem_der(&cert2) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{addr} still serves the old certificate; stderr:\n{}",
                rec.stderr_so_far()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // A key that does not load: the receivers keep the certificate they have, and say why.
    replace(&pki.server_key, "not a key\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !rec.stderr_so_far().contains("do not load") {
        assert!(
            Instant::now() < deadline,
            "no reload warning:\n{}",
            rec.stderr_so_far()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let got = server_certificate(rec.http, client_config(&pki.ca_file, None)).unwrap();
    assert_eq!(
        got,
        pem_der(&cert2),
        "the last good certificate is still served"
    );
    rec.stop().assert_clean();
}

#[test]
fn unusable_certificate_files_are_named_at_start() {
    let pki = Pki::new();
    let bad = pki.write("empty.pem", "");
    let out = run_with_timeout(
        Command::new(FAULTLINE)
            .args(["record", "--out", "-", "--duration", "1s"])
            .args(["--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0"])
            .arg("--tls-cert-file")
            .arg(&bad)
            .arg("--tls-key-file")
            .arg(&pki.server_key),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("empty.pem") && err.contains("holds no certificate"),
        "{err}"
    );
    // A certificate with somebody else's key.
    let (_, other_key) = pki.ca.issue("x", &["x.test"], false);
    let wrong = pki.write("wrong.key", &other_key);
    let out = run_with_timeout(
        Command::new(FAULTLINE)
            .args(["record", "--out", "-", "--duration", "1s"])
            .args(["--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0"])
            .arg("--tls-cert-file")
            .arg(&pki.server_cert)
            .arg("--tls-key-file")
            .arg(&wrong),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("do not make a server certificate"), "{err}");
}
