//! The layers hold: each module of the library imports only the layers below it, nothing outside
//! the dashboard touches the terminal, and the dashboard (`tui`) only renders snapshots: the
//! wiring that feeds it lives in `app`. The compiler does not enforce this inside one
//! crate, so this test reads the sources: every `crate::<module>` path and every `ratatui` /
//! `crossterm` mention in a layer's non-test code must be allowed for that layer.
//!
//! Test code (`#[cfg(test)]` modules, `tests.rs`, `*_tests.rs`, `tests/` folders) may reach
//! further, e.g. store tests parse real Prometheus expositions with `ingest`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each layer and the modules it may import (itself included).
const LAYERS: &[(&str, &[&str])] = &[
    ("model", &["model"]),
    ("ingest", &["model", "ingest"]),
    ("store", &["model", "store"]),
    ("analysis", &["model", "store", "analysis"]),
    ("rules", &["model", "store", "analysis", "rules"]),
    ("report", &["model", "store", "analysis", "rules", "report"]),
    ("alerts", &["model", "store", "analysis", "rules", "alerts"]),
    // The simulated system only builds OTLP requests.
    ("demo", &["model", "demo"]),
    // The dashboard renders snapshots and handles keys; `app::dashboard` wires what feeds it.
    ("tui", &["model", "store", "analysis", "tui"]),
];

/// Layers that may use the terminal crates.
const TERMINAL_OK: &[&str] = &["tui"];

const TERMINAL_CRATES: &[&str] = &["ratatui", "crossterm"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if name != "tests" {
                sources(&p, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" && !name.ends_with("_tests.rs") {
            out.push(p);
        }
    }
}

/// The text of a source file before its first `#[cfg(test)]`.
fn non_test_code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The top-level modules named by `crate::<module>` paths (in `use` lines, paths in code, and
/// comments alike: a conservative reading).
fn crate_modules(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        let m: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !m.is_empty() {
            out.insert(m);
        }
    }
    out
}

#[test]
fn every_layer_imports_only_the_layers_below_it() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for (layer, allowed) in LAYERS {
        let mut files = Vec::new();
        sources(&src.join(layer), &mut files);
        let single = src.join(format!("{layer}.rs"));
        if single.exists() {
            files.push(single);
        }
        assert!(!files.is_empty(), "no sources for layer {layer}");
        for f in files {
            let code = non_test_code(&f);
            for m in crate_modules(&code) {
                if !allowed.contains(&m.as_str()) {
                    problems.push(format!("{}: imports crate::{m}", f.display()));
                }
            }
            for t in TERMINAL_CRATES {
                if !TERMINAL_OK.contains(layer) && code.contains(&format!("{t}::")) {
                    problems.push(format!("{}: uses {t} (terminal code)", f.display()));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "imports against the layers (docs/architecture.md):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_imports() {
    let code = "use crate::store::Snapshot;\nfn f() { crate::tui::run(); }\nmy_crate::x();";
    let got: Vec<String> = crate_modules(code).into_iter().collect();
    assert_eq!(got, vec!["store".to_string(), "tui".to_string()]);
}
