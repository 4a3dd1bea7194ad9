//! `faultline compare`: replays one or two captures and compares two traces
//! (`analysis::compare`), printed by `report::compare`.

use std::path::PathBuf;
use std::sync::Arc;

use crate::analysis::compare::compare as compare_traces;
use crate::cli::{CompareArgs, ReportFormat, parse_trace_id};
use crate::report::compare::{render_json, render_text};
use crate::store::StoreConfig;
use crate::store::trace::Trace;

use super::{AppError, load_captures};

/// Where one trace of the comparison comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRef {
    /// The capture file.
    pub file: PathBuf,
    /// The trace id.
    pub id: [u8; 16],
}

/// Reads `FILE TRACE_A TRACE_B` or `FILE_A:TRACE_A FILE_B:TRACE_B`.
pub fn parse_refs(args: &[String]) -> Result<(TraceRef, TraceRef), AppError> {
    let usage = || {
        AppError::Runtime(format!(
            "compare wants FILE TRACE_A TRACE_B or FILE_A:TRACE_A FILE_B:TRACE_B, got {args:?}"
        ))
    };
    let id = |s: &str| parse_trace_id(s).map_err(AppError::Runtime);
    match args {
        [file, a, b] => Ok((
            TraceRef {
                file: file.into(),
                id: id(a)?,
            },
            TraceRef {
                file: file.into(),
                id: id(b)?,
            },
        )),
        [a, b] => {
            let one = |s: &str| -> Result<TraceRef, AppError> {
                let (file, t) = s.rsplit_once(':').ok_or_else(usage)?;
                Ok(TraceRef {
                    file: file.into(),
                    id: id(t)?,
                })
            };
            Ok((one(a)?, one(b)?))
        }
        _ => Err(usage()),
    }
}

fn load_trace(file: &PathBuf, ids: &[[u8; 16]]) -> Result<Vec<Arc<Trace>>, AppError> {
    let mut r = load_captures(std::slice::from_ref(file), StoreConfig::replay(usize::MAX))?;
    r.check_clean()?;
    for w in &r.warnings {
        eprintln!("faultline: warning: {w}");
    }
    let snap = r.snapshot();
    ids.iter()
        .map(|id| {
            snap.trace(id).cloned().ok_or_else(|| {
                AppError::Runtime(format!(
                    "trace {} is not in {} ({} traces)",
                    hex::encode(id),
                    file.display(),
                    snap.traces.len()
                ))
            })
        })
        .collect()
}

/// What `faultline compare` prints; an error (exit 2) when a trace is not in its capture.
pub fn compare(args: CompareArgs) -> Result<String, AppError> {
    let (a, b) = parse_refs(&args.args)?;
    let (ta, tb) = if a.file == b.file {
        let mut v = load_trace(&a.file, &[a.id, b.id])?;
        let tb = v.pop();
        let ta = v.pop();
        match (ta, tb) {
            (Some(x), Some(y)) => (x, y),
            _ => return Err(AppError::Runtime("two traces expected".into())),
        }
    } else {
        let x = load_trace(&a.file, &[a.id])?.remove(0);
        let y = load_trace(&b.file, &[b.id])?.remove(0);
        (x, y)
    };
    let c = compare_traces(&ta, &tb);
    Ok(match args.format {
        ReportFormat::Json => render_json(&c),
        ReportFormat::Text => render_text(&c),
    })
}
