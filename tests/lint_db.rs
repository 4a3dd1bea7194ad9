//! The database audits (DB-001 read replicas, DB-002 connection pooling) on a real PostgreSQL:
//! the test starts its own throwaway primary (initdb/pg_ctl from /usr/lib/postgresql/*/bin, run
//! as the `postgres` user because postgres refuses root, on 127.0.0.1 on a free port,
//! `max_connections = 25`) and a streaming replica of it (`pg_basebackup -R`), then runs
//! tests/py/db_scenario/scenario.py: services, one process per instance, with psycopg 3, its
//! OpenTelemetry instrumentation and psycopg_pool, exporting traces and the pools' OTel gauges
//! (`db.client.connection.count`/`.max`) over OTLP to `faultline record`. `faultline lint`
//! with rules/data.toml (`max_connections` set to the cluster's 25, the rule's parameter) must
//! find every planted problem and flag no twin; precision and recall per rule are printed.
//!
//! Needs the `postgresql` package and the venv (scripts/test-deps.sh); a missing one fails.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

const HINT: &str = "run scripts/test-deps.sh (it installs the Debian `postgresql` package and the Python venv with psycopg)";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The newest /usr/lib/postgresql/N/bin.
fn pg_bin() -> PathBuf {
    let mut bins: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap_or_else(|e| panic!("/usr/lib/postgresql: {e}: {HINT}"))
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    bins.sort();
    bins.pop()
        .unwrap_or_else(|| panic!("no /usr/lib/postgresql/*/bin/initdb: {HINT}"))
        .1
}

/// Runs a PostgreSQL binary as the `postgres` user; panics with its output on failure.
fn as_postgres(bin: &Path, args: &[&str]) {
    let out = run_with_timeout(
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin)
            .args(args),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}\n{}",
        bin.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A primary and its streaming replica in a temporary directory, stopped on drop.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    primary: u16,
    replica: u16,
}

impl Cluster {
    fn start() -> Cluster {
        let bin = pg_bin();
        let dir = tempfile::Builder::new()
            .prefix("faultline-pg")
            .tempdir()
            .expect("tempdir");
        let chown = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .expect("chown");
        assert!(chown.success(), "chown the data directory to postgres");
        let top = dir.path().to_path_buf();
        let d = |name: &str| top.join(name).to_string_lossy().into_owned();
        let (primary, replica) = (free_port(), free_port());
        as_postgres(
            &bin.join("initdb"),
            &["-D", &d("primary"), "-A", "trust", "-U", "postgres", "-N"],
        );
        let conf = |data: &str, port: u16| {
            let path = Path::new(data).join("postgresql.conf");
            let mut text = std::fs::read_to_string(&path).expect("postgresql.conf");
            text.push_str(&format!(
                "\nlisten_addresses = '127.0.0.1'\nport = {port}\nmax_connections = 25\n\
                 unix_socket_directories = '{}'\nfsync = off\n",
                top.display()
            ));
            std::fs::write(&path, text).expect("write postgresql.conf");
        };
        conf(&d("primary"), primary);
        let c = Cluster {
            bin,
            dir,
            primary,
            replica,
        };
        let log = d("primary.log");
        as_postgres(
            &c.bin.join("pg_ctl"),
            &["-D", &d("primary"), "-l", &log, "-w", "start"],
        );
        as_postgres(
            &c.bin.join("pg_basebackup"),
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary.to_string(),
                "-U",
                "postgres",
                "-D",
                &d("replica"),
                "-R",
                "-X",
                "stream",
            ],
        );
        conf(&d("replica"), replica);
        let log = d("replica.log");
        as_postgres(
            &c.bin.join("pg_ctl"),
            &["-D", &d("replica"), "-l", &log, "-w", "start"],
        );
        c
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for data in ["replica", "primary"] {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.path().join(data))
                .args(["-m", "immediate", "-w", "stop"])
                .output();
        }
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Whether a finding is about (caller, database): the dependency is the database's name or a
/// store name ending in it (`postgresql 127.0.0.1/shop`).
fn about(f: &Value, caller: &str, db: &str) -> bool {
    let dep = s(f, "dependency");
    s(f, "caller") == caller && (dep == db || dep.ends_with(&format!("/{db}")))
}

#[test]
fn database_audits_find_the_planted_problems_on_a_real_postgres_and_no_twin() {
    let py = venv_python();
    let ok = Command::new(&py)
        .args([
            "-c",
            "import psycopg, psycopg_pool, opentelemetry.instrumentation.psycopg",
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "the venv lacks psycopg, psycopg_pool or opentelemetry-instrumentation-psycopg: {HINT}"
    );
    let cluster = Cluster::start();
    let rec = Recorder::start();
    let work = tempfile::tempdir().expect("tempdir");
    let truth_path = work.path().join("truth.json");
    let out = run_with_timeout(
        Command::new(&py)
            .arg(root().join("tests/py/db_scenario/scenario.py"))
            .arg(format!("http://{}", rec.http))
            .arg(cluster.primary.to_string())
            .arg(cluster.replica.to_string())
            .arg(&truth_path)
            .env("NO_PROXY", "*")
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY"),
        Duration::from_secs(100),
    );
    assert!(
        out.status.success(),
        "the database scenario failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stopped = rec.stop();
    assert!(stopped.status.success(), "record: {}", stopped.stderr);
    drop(cluster);

    // The shipped rules, with the connection limit the cluster was started with.
    let rules = work.path().join("rules");
    std::fs::create_dir(&rules).expect("rules dir");
    let data = std::fs::read_to_string(root().join("rules/data.toml")).expect("rules/data.toml");
    assert!(
        data.contains("max_connections = 100"),
        "rules/data.toml changed shape"
    );
    std::fs::write(
        rules.join("data.toml"),
        data.replace("max_connections = 100", "max_connections = 25"),
    )
    .expect("write rules");
    let lint = run_with_timeout(
        Command::new(FAULTLINE)
            .arg("lint")
            .arg(&stopped.out)
            .arg("--rules")
            .arg(&rules)
            .args(["--format", "json"]),
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&lint.stdout);
    let findings: Vec<Value> = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "lint json: {e}\n{stdout}\n{}",
            String::from_utf8_lossy(&lint.stderr)
        )
    });
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(&truth_path).expect("truth")).expect("json");
    let mut failures = Vec::new();
    for rule in ["DB-001", "DB-002"] {
        let of_rule: Vec<&Value> = findings
            .iter()
            .filter(|f| s(f, "rule") == rule && s(f, "outcome") == "finding")
            .collect();
        let pair = |p: &Value| {
            (
                p[0].as_str().unwrap_or("").to_string(),
                p[1].as_str().unwrap_or("").to_string(),
            )
        };
        let planted: Vec<(String, String)> = truth[rule]["planted"]
            .as_array()
            .expect("planted")
            .iter()
            .map(pair)
            .collect();
        let twins: Vec<(String, String)> = truth[rule]["twins"]
            .as_array()
            .expect("twins")
            .iter()
            .map(pair)
            .collect();
        let found = planted
            .iter()
            .filter(|(c, d)| of_rule.iter().any(|f| about(f, c, d)))
            .count();
        let true_pos = of_rule
            .iter()
            .filter(|f| planted.iter().any(|(c, d)| about(f, c, d)))
            .count();
        let precision = if of_rule.is_empty() {
            1.0
        } else {
            true_pos as f64 / of_rule.len() as f64
        };
        let recall = found as f64 / planted.len() as f64;
        println!(
            "{rule}: precision {precision:.2} ({true_pos}/{} findings), recall {recall:.2} ({found}/{} planted)",
            of_rule.len(),
            planted.len()
        );
        for f in &of_rule {
            println!(
                "  {} → {}: {}",
                s(f, "caller"),
                s(f, "dependency"),
                s(f, "message")
            );
        }
        for (c, d) in &planted {
            if !of_rule.iter().any(|f| about(f, c, d)) {
                failures.push(format!("{rule} missed the planted {c} → {d}"));
            }
        }
        for (c, d) in &twins {
            if of_rule.iter().any(|f| about(f, c, d)) {
                failures.push(format!("{rule} flagged the twin {c} → {d}"));
            }
        }
        for f in &of_rule {
            if !planted.iter().any(|(c, d)| about(f, c, d)) {
                failures.push(format!(
                    "{rule} flagged something not planted: {} → {}: {}",
                    s(f, "caller"),
                    s(f, "dependency"),
                    s(f, "message")
                ));
            }
            let traces = f.get("trace_ids").and_then(Value::as_array);
            if traces.is_none_or(|t| t.is_empty()) {
                failures.push(format!("{rule} finding without exemplar traces: {f}"));
            }
        }
    }
    // The twins were judged, not passed over for want of data.
    for (rule, twin) in [("DB-001", "catalog"), ("DB-002", "orders")] {
        for f in findings
            .iter()
            .filter(|f| s(f, "rule") == rule && s(f, "outcome") == "insufficient_data")
        {
            if f["evidence"].to_string().contains(twin) {
                failures.push(format!("{rule} could not judge the twin {twin}: {f}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\nall findings:\n{stdout}",
        failures.join("\n")
    );
}
