//! `faultline trace`: replays capture files and prints one trace with its spans and logs.

use crate::cli::{ReportFormat, TraceArgs};
use crate::report::trace::{TraceDoc, render_json, render_text};
use crate::store::StoreConfig;

use super::{AppError, load_captures};

/// What `faultline trace` prints; an error (exit 2) when the trace is not in the captures.
pub fn trace(args: TraceArgs) -> Result<String, AppError> {
    let mut r = load_captures(&args.files, StoreConfig::replay(usize::MAX))?;
    r.check_clean()?;
    for w in &r.warnings {
        eprintln!("faultline: warning: {w}");
    }
    let snap = r.snapshot();
    let id = hex::encode(args.trace_id);
    let Some(t) = snap.trace(&args.trace_id) else {
        let files: Vec<String> = args.files.iter().map(|f| f.display().to_string()).collect();
        return Err(AppError::Runtime(format!(
            "trace {id} is not in {} ({} traces, {} log records)",
            files.join(", "),
            snap.traces.len(),
            snap.counters.log_records
        )));
    };
    let doc = TraceDoc::of(t);
    Ok(match args.format {
        ReportFormat::Json => render_json(&doc),
        ReportFormat::Text => render_text(&doc),
    })
}
