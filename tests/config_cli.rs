//! The configuration file through the real binary: `config check` lists every problem with its
//! line and key (and so does any command started with the file); `config print` shows where each
//! value came from and masks secrets; the old `--sources` file still loads; shell completions
//! and the man page come from the CLI definition and work in bash and groff.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{FAULTLINE, run_with_timeout};

fn faultline(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(FAULTLINE);
    cmd.args(args)
        .env("XDG_CONFIG_HOME", home.path())
        .env_remove("FAULTLINE_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_with_timeout(&mut cmd, Duration::from_secs(60));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const BAD: &str = r#"colour = "red"

[store]
retention = "10 parsecs"
max_span = 5

[prometheus]
url = 5
interval = "x"

[lint]
format = "yaml"

[[scrape]]
interval = "5s"
bogus = 1
"#;

#[test]
fn bad_file_gives_one_error_per_problem_with_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.toml");
    std::fs::write(&f, BAD).unwrap();
    let path = f.display().to_string();
    let want = [
        (1, "colour: unknown key"),
        (4, "store.retention: invalid value \"10 parsecs\""),
        (5, "store.max_span: unknown key"),
        (8, "prometheus.url: expected a string"),
        (9, "prometheus.interval: invalid value \"x\""),
        (
            12,
            "lint.format: invalid value \"yaml\" (one of: text, json, sarif, markdown)",
        ),
        (14, "scrape[0]: no url"),
        (16, "scrape[0].bogus: unknown key"),
    ];
    for args in [
        vec!["config", "check", path.as_str()],
        vec!["--config", path.as_str(), "report", "x.jsonl"],
    ] {
        let (code, _, err) = faultline(&args, &[]);
        assert_eq!(code, 2, "{args:?}: {err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), want.len(), "one line per problem:\n{err}");
        for (line, (n, text)) in lines.iter().zip(want) {
            let head = format!("faultline: error: {path}:{n}: {text}");
            assert!(line.starts_with(&head), "want {head:?}\n got {line:?}");
        }
    }
    // A good file checks clean; a missing file is named.
    std::fs::write(&f, "[store]\nretention = \"5m\"\n").unwrap();
    let (code, out, _) = faultline(&["config", "check", &path], &[]);
    assert_eq!(
        (code, out.trim_end()),
        (
            0,
            format!("{path}: OK (1 settings, 0 scrape targets)").as_str()
        )
    );
    let (code, _, err) = faultline(
        &["--config", "/nonexistent/faultline.toml", "report", "x"],
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("/nonexistent/faultline.toml: cannot read the file"),
        "{err}"
    );
}

#[test]
fn print_shows_origins_and_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(
        &f,
        "[receivers]\nauth_token = \"receiver-secret\"\n\n[prometheus]\nurl = \"https://mimir.test/prometheus\"\nusername = \"ops\"\npassword = \"prom-secret\"\nheaders = { \"X-Scope-OrgID\" = \"team-a\" }\n\n[[scrape]]\nurl = \"https://10.0.0.7:9404/metrics\"\nbearer_token = \"scrape-secret\"\n",
    )
    .unwrap();
    let path = f.display().to_string();
    let (code, out, err) = faultline(
        &["config", "print"],
        &[
            ("FAULTLINE_CONFIG", &path),
            ("FAULTLINE_PROMETHEUS_USERNAME", "from-env"),
            ("FAULTLINE_SCRAPE_PASSWORD", "env-secret"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    for secret in [
        "receiver-secret",
        "prom-secret",
        "scrape-secret",
        "env-secret",
    ] {
        assert!(!out.contains(secret), "{secret} is printed:\n{out}");
    }
    assert!(
        out.contains(&format!(
            "# configuration file: {path} (from $FAULTLINE_CONFIG)"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("auth_token = \"********\"  # {path}:2")),
        "{out}"
    );
    assert!(
        out.contains("username = \"from-env\"  # env FAULTLINE_PROMETHEUS_USERNAME"),
        "{out}"
    );
    assert!(
        out.contains("password = \"********\"  # env FAULTLINE_SCRAPE_PASSWORD"),
        "{out}"
    );
    assert!(
        out.contains("headers = { \"X-Scope-OrgID\" = \"team-a\" }"),
        "{out}"
    );
    assert!(
        out.contains("otlp_grpc = \"127.0.0.1:4317\"  # default"),
        "{out}"
    );
    assert!(
        out.contains("url = \"https://10.0.0.7:9404/metrics\"\nbearer_token = \"********\""),
        "{out}"
    );
}

#[test]
fn old_sources_file_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("sources.toml");
    std::fs::write(
        &f,
        "profiles = [\"./profiles\"]\n\n[[scrape]]\nurl = \"http://127.0.0.1:9100/metrics\"\njob = \"node\"\nbearer_token_file = \"token\"\nheaders = { \"X-Tenant\" = \"a\" }\n\n[prometheus]\nurl = \"http://127.0.0.1:9090\"\nlookback = \"0s\"\n",
    )
    .unwrap();
    let (code, out, err) = faultline(
        &["config", "print"],
        &[("FAULTLINE_SOURCES", &f.display().to_string())],
    );
    assert_eq!(code, 0, "{err}");
    let d = dir.path().display();
    assert!(
        out.contains(&format!("profiles = [\"{d}/profiles\"]")),
        "{out}"
    );
    assert!(out.contains("url = \"http://127.0.0.1:9090\""), "{out}");
    assert!(
        out.contains(&format!(
            "job = \"node\"\nbearer_token_file = \"{d}/token\""
        )),
        "{out}"
    );
    // Keys a sources file never had are refused there.
    std::fs::write(&f, "[store]\nretention = \"1m\"\n").unwrap();
    let (code, _, err) = faultline(
        &["config", "print"],
        &[("FAULTLINE_SOURCES", &f.display().to_string())],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains(":1: store: not allowed in a --sources file"),
        "{err}"
    );
}

#[test]
fn bash_completion_completes_commands_and_flags() {
    let (code, script, err) = faultline(&["completions", "bash"], &[]);
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("faultline.bash");
    std::fs::write(&f, script).unwrap();
    let complete = |words: &str| {
        let n = words.split_whitespace().count() - 1;
        let prog = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={n}; COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}; _faultline faultline; echo \"${{COMPREPLY[@]}}\"",
            f.display()
        );
        let out = run_with_timeout(
            Command::new("bash").args(["-c", &prog]),
            Duration::from_secs(30),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        complete("faultline rep")
            .split_whitespace()
            .any(|w| w == "report")
    );
    let flags = complete("faultline record --prometheus-ca");
    assert!(
        flags
            .split_whitespace()
            .any(|w| w == "--prometheus-ca-file"),
        "{flags}"
    );
}

#[test]
fn man_page_renders_with_every_command() {
    let (code, page, err) = faultline(&["man"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH faultline 1"),
        "{}",
        &page[..200.min(page.len())]
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("faultline.1");
    std::fs::write(&f, &page).unwrap();
    let out = run_with_timeout(
        Command::new("groff")
            .args(["-man", "-Tutf8"])
            .arg(&f)
            .env("GROFF_NO_SGR", "1"),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "groff (install groff-base: scripts/test-deps.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Bold and underline come as overstrikes (`x\x08x`): keep the last character of each.
    let mut text = String::new();
    for c in String::from_utf8_lossy(&out.stdout).chars() {
        match c {
            '\u{8}' => {
                text.pop();
            }
            '\u{2010}' | '\u{2212}' => text.push('-'),
            c => text.push(c),
        }
    }
    for needle in [
        "faultline-report",
        "faultline-config",
        "--prometheus-ca-file",
        "--tls-client-ca-file",
        "FAULTLINE_CONFIG",
    ] {
        assert!(text.contains(needle), "man page lacks {needle}");
    }
}
