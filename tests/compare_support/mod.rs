//! A capture recorded from the real OpenTelemetry Python SDK (tests/py/compare_scenario.py) by
//! the real `faultline record`: the normal and slow checkout traces and the wide gateway trace.
//! Shared by tests/compare_cli.rs and tests/views_tmux.rs.

use std::collections::HashMap;
use std::process::Command;

use crate::common::{Recorder, Stopped, root, run_scenario, venv_python};

/// The capture (kept alive by `stopped.dir`) and the trace ids by name (`normal`, `slow`, `wide`).
pub struct CompareCapture {
    /// The stopped recorder: its capture file and directory.
    pub stopped: Stopped,
    /// Trace ids (hex) by request name.
    pub ids: HashMap<String, String>,
}

/// Runs the scenario against a fresh recorder and stops it.
pub fn record() -> CompareCapture {
    let py = venv_python();
    let rec = Recorder::start();
    let work = tempfile::tempdir().unwrap();
    let truth = work.path().join("ids.json");
    run_scenario(
        Command::new(&py)
            .arg(root().join("tests/py/compare_scenario.py"))
            .arg(rec.grpc.to_string())
            .arg(&truth),
        "compare_scenario.py",
        &rec,
    );
    let ids: HashMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(&truth).unwrap()).unwrap();
    let stopped = rec.stop();
    stopped.assert_clean();
    CompareCapture { stopped, ids }
}
