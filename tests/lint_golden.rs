//! `faultline lint` on the synthetic capture of `benches/common/capture_gen.rs` (the one
//! `scripts/lint-perf.sh` times), 20,001 spans: the text report (findings, insufficient data and
//! every rule's judged/findings/undecided counts) and the JSON findings equal the goldens in
//! `tests/fixtures/lint_golden/`, which were written by the rule code before its one-pass
//! rework (issue 9). A change to the shared context or a detector that alters what is judged
//! or found shows up here as a diff.
//!
//! To regenerate after an intended change of findings: `FAULTLINE_BLESS=1 cargo test --test
//! lint_golden`, and say why in the commit.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../benches/common/capture_gen.rs"]
mod capture_gen;

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");
const SPANS: u64 = 20_000;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lint_golden")
        .join(name)
}

/// Runs `lint` on the capture in `format` with the built-in rules (run from the capture's
/// directory, which has no `rules/`); exit 0 (nothing at `error`) is part of the golden.
fn lint(capture: &Path, format: &str) -> String {
    let out = Command::new(FAULTLINE)
        .args(["lint", "--format", format])
        .arg(capture)
        .current_dir(capture.parent().expect("capture in a directory"))
        .env_remove("FAULTLINE_RULES")
        .output()
        .expect("run faultline lint");
    assert_eq!(
        out.status.code(),
        Some(0),
        "lint --format {format} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn check(got: &str, name: &str) {
    let path = golden(name);
    if std::env::var_os("FAULTLINE_BLESS").is_some() {
        std::fs::write(&path, got).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path).expect("read golden");
    if got != want {
        let diff: Vec<String> = want
            .lines()
            .zip(got.lines())
            .enumerate()
            .filter(|(_, (w, g))| w != g)
            .take(10)
            .map(|(i, (w, g))| format!("line {}:\n  want: {w}\n  got:  {g}", i + 1))
            .collect();
        panic!(
            "lint output differs from {} ({} vs {} lines):\n{}",
            path.display(),
            want.lines().count(),
            got.lines().count(),
            diff.join("\n")
        );
    }
}

#[test]
fn lint_of_the_generated_capture_equals_the_golden() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cap = dir.path().join("capture.jsonl");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&cap).expect("create capture"));
    let (spans, traces) = capture_gen::write_capture(&mut w, SPANS).expect("write capture");
    drop(w);
    assert!(
        spans >= SPANS && traces > 1_000,
        "{spans} spans, {traces} traces"
    );
    let text = lint(&cap, "text");
    // The capture reaches the per-statement N+1 path (thousands of judged sibling groups).
    assert!(text.contains("N1-001    n-plus-one"), "{text}");
    check(&text, "gen_capture_20k.txt");
    check(&lint(&cap, "json"), "gen_capture_20k.json");
}
