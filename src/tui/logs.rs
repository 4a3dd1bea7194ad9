//! The Logs view's state: its `/` filter (severity, service, trace, text) and its rows, rebuilt
//! from each snapshot while the view is shown.
//!
//! Filter terms, all of which must match: `sev=warn` (that severity or worse; `error`, `fatal`,
//! `info`, `debug`, `trace`, or a number 1–24), `service=NAME` (substring), `trace=HEX` (prefix
//! of the trace id), `untraced` (records without a trace), and bare words, found (any case) in
//! the body, the exception type or message, or the severity text.

use crate::analysis::traces::contains_ci;
use crate::model::attrs::Text;
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
    /// Records retained in all (in the review window).
    pub total: usize,
    /// The selected record (time and body), followed across snapshots once the user has moved
    /// (until then the newest record stays selected).
    pub pinned: Option<(u64, Text)>,
}

impl LogsUi {
    /// Re-filters from `snap` (only records in `window` when given), keeping the selection's
    /// place.
    pub fn rebuild(&mut self, snap: &Snapshot, window: Option<(u64, u64)>) {
        self.query = LogQuery::parse(&self.filter);
        let (from, to) = window.unwrap_or((0, u64::MAX));
        let mut total = 0usize;
        let q = &self.query;
        let mut matching: Vec<&LogRecord> = snap
            .logs_in_range(from, to)
            .filter(|r| {
                total += 1;
                q.matches(r)
            })
            .collect();
        self.total = total;
        self.matched = matching.len();
        // Only the newest rows are sorted and copied: a large store costs a selection, not a
        // sort of every record, per snapshot.
        if matching.len() > MAX_ROWS {
            let cut = matching.len() - MAX_ROWS;
            matching.select_nth_unstable_by_key(cut, |r| r.time_ns);
            matching.drain(..cut);
        }
        matching.sort_by_key(|r| std::cmp::Reverse(r.time_ns));
        self.rows = matching.into_iter().cloned().collect();
        if let Some((t, body)) = &self.pinned
            && let Some(i) = self
                .rows
                .iter()
                .position(|r| r.time_ns == *t && r.body == *body)
        {
            self.nav.selected = i;
        }
        let len = self.rows.len();
        self.nav.move_by(0, len);
    }

    /// Records which record is selected (the top row is not pinned: it follows the newest).
    pub fn remember(&mut self) {
        self.pinned = match self.nav.selected {
            0 => None,
            i => self.rows.get(i).map(|r| (r.time_ns, r.body.clone())),
        };
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

    #[test]
    fn rows_are_the_newest_matching_and_a_moved_selection_follows_its_record() {
        use crate::store::{Store, StoreConfig};
        let mut store = Store::new(StoreConfig::replay(usize::MAX));
        let n = MAX_ROWS as u64 + 100;
        // Out of time order on purpose: rows are by time, not arrival.
        let recs = (0..n)
            .map(|i| testkit::log("a", (i * 7919) % n, 9, &format!("r{}", (i * 7919) % n)).build())
            .collect();
        store.apply_logs(recs, 0);
        let mut ui = LogsUi::default();
        ui.rebuild(&store.snapshot(None), None);
        assert_eq!(
            (ui.total, ui.matched, ui.rows.len()),
            (n as usize, n as usize, MAX_ROWS)
        );
        assert_eq!(ui.rows[0].time_ns, n - 1, "newest first");
        assert_eq!(ui.rows[MAX_ROWS - 1].time_ns, n - MAX_ROWS as u64);
        ui.nav.move_by(3, ui.rows.len());
        ui.remember();
        store.apply_logs(vec![testkit::log("a", n + 5, 9, "newer").build()], 1);
        ui.rebuild(&store.snapshot(None), None);
        assert_eq!(
            ui.rows[ui.nav.selected].time_ns,
            n - 4,
            "the same record stays selected"
        );
    }
}
