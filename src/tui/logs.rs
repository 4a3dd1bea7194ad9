//! The Logs view's state: its `/` filter (severity, service, trace, text) and its rows, rebuilt
//! from each snapshot while the view is shown.
//!
//! Filter terms, all of which must match: `sev=warn` (that severity or worse; `error`, `fatal`,
//! `info`, `debug`, `trace`, or a number 1–24), `service=NAME` (substring), `trace=HEX` (prefix
//! of the trace id), `untraced` (records without a trace), and bare words, found (any case) in
//! the body, the exception type or message, or the severity text.

use crate::analysis::traces::contains_ci;
use crate::model::log::{LogRecord, Severity};
use crate::store::Snapshot;

use super::app::ListNav;

/// Most rows the view holds (the newest matching records).
pub const MAX_ROWS: usize = 2000;

/// A parsed Logs filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Lowest severity number shown.
    pub min_severity: u8,
    /// Service contains.
    pub service: Option<String>,
    /// Trace id (hex) starts with.
    pub trace: Option<String>,
    /// Only records without a trace id.
    pub untraced: bool,
    /// Words the record must contain.
    pub words: Vec<String>,
}

impl LogQuery {
    /// Parses the filter text (unknown keys match as plain text).
    pub fn parse(text: &str) -> Self {
        let mut q = LogQuery::default();
        for w in text.split_whitespace() {
            match w.split_once('=') {
                Some(("sev" | "severity" | "level", v)) => {
                    q.min_severity = match v.parse::<u8>() {
                        Ok(n) => n,
                        Err(_) => Severity::parse(v).map_or(0, Severity::min_number),
                    }
                }
                Some(("service" | "svc", v)) => q.service = Some(v.to_owned()),
                Some(("trace" | "id", v)) => q.trace = Some(v.to_ascii_lowercase()),
                _ if w == "untraced" => q.untraced = true,
                _ => q.words.push(w.to_owned()),
            }
        }
        q
    }

    /// Whether `rec` matches every term.
    pub fn matches(&self, rec: &LogRecord) -> bool {
        if rec.severity < self.min_severity {
            return false;
        }
        if let Some(s) = &self.service
            && !contains_ci(rec.service(), s)
        {
            return false;
        }
        if self.untraced && rec.trace_id.is_some() {
            return false;
        }
        if let Some(t) = &self.trace
            && !rec
                .trace_id
                .is_some_and(|id| hex::encode(id).starts_with(t.as_str()))
        {
            return false;
        }
        self.words.iter().all(|w| {
            contains_ci(&rec.body, w)
                || contains_ci(&rec.severity_text, w)
                || rec.exception().is_some_and(|(t, m)| {
                    t.is_some_and(|t| contains_ci(t, w)) || m.is_some_and(|m| contains_ci(m, w))
                })
        })
    }
}

/// Logs view state.
#[derive(Clone, Debug, Default)]
pub struct LogsUi {
    /// Selection.
    pub nav: ListNav,
    /// Filter text as typed.
    pub filter: String,
    /// Parsed filter.
    pub query: LogQuery,
    /// The matching records, newest first (at most [`MAX_ROWS`]).
    pub rows: Vec<LogRecord>,
    /// Records matching in all (more than `rows` holds when capped).
    pub matched: usize,
    /// Records retained in all.
    pub total: usize,
}

impl LogsUi {
    /// Re-filters from `snap` (only records in `window` when given), keeping the selection's
    /// place.
    pub fn rebuild(&mut self, snap: &Snapshot, window: Option<(u64, u64)>) {
        self.query = LogQuery::parse(&self.filter);
        let (from, to) = window.unwrap_or((0, u64::MAX));
        let all = snap.search_logs(None, from, to);
        self.total = all.len();
        let matching: Vec<&LogRecord> = all.into_iter().filter(|r| self.query.matches(r)).collect();
        self.matched = matching.len();
        self.rows = matching.into_iter().rev().take(MAX_ROWS).cloned().collect();
        let len = self.rows.len();
        self.nav.move_by(0, len);
    }

    /// Toggles `sev=error` in the filter.
    pub fn toggle_errors(&mut self) {
        let mut words: Vec<&str> = self.filter.split_whitespace().collect();
        let before = words.len();
        words.retain(|w| !matches!(*w, "sev=error" | "severity=error" | "level=error"));
        if words.len() == before {
            words.push("sev=error");
        }
        self.filter = words.join(" ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    #[test]
    fn severity_service_trace_and_words() {
        let err = testkit::log("payments", 1, 17, "Card DECLINED")
            .of(0xab, 1)
            .attr("exception.type", "ValueError")
            .build();
        let info = testkit::log("web", 2, 9, "ok").build();
        let q = |t: &str| LogQuery::parse(t);
        assert!(q("sev=warn").matches(&err) && !q("sev=warn").matches(&info));
        assert!(q("sev=17").matches(&err) && !q("sev=18").matches(&err));
        assert!(q("service=pay declined").matches(&err));
        assert!(!q("service=pay declined").matches(&info));
        assert!(q("valueerror").matches(&err), "exception type");
        assert!(q("untraced").matches(&info) && !q("untraced").matches(&err));
        assert!(q("trace=000000000000000000000000000000ab").matches(&err));
        assert!(!q("trace=ff").matches(&err));
        let mut ui = LogsUi {
            filter: "x".into(),
            ..Default::default()
        };
        ui.toggle_errors();
        assert_eq!(ui.filter, "x sev=error");
        ui.toggle_errors();
        assert_eq!(ui.filter, "x");
    }
}
