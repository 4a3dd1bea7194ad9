//! UI state and the pure `update(state, action)`: every key, click, snapshot and tick becomes an
//! [`Action`]; `update` changes the state and may return a [`Command`] for the loop to carry out
//! (quit, or a new review window). No I/O here, so every interaction is unit-tested.

use std::collections::HashSet;
use std::sync::Arc;

use ratatui::layout::Rect;

use crate::analysis::timeline::Timeline;
use crate::analysis::traces::{EdgeCalls, TraceQuery, TraceTree};
use crate::model::edge::{BUCKET_NS, EdgeKey};
use crate::model::span::{SpanId, TraceId};
use crate::store::Snapshot;
use crate::store::trace::Trace;

use super::alerts::AlertsUi;
use super::compare::CompareUi;
use super::filter::{DepFilter, parse_trace_query};
use super::keymap::{Cmd, Ctx};
use super::logs::LogsUi;
use super::map::MapUi;
use super::rows::{self, DepFacts, DepOrder, DepRow};

pub use super::update::update;

/// Which front end is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `faultline watch`.
    Live,
    /// `faultline review`: capture files with a time cursor.
    Review,
    /// `faultline demo`: live, fed by the built-in simulation.
    Demo,
}

/// One screen. The first three are the top-level views; the others are drill-ins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Screen {
    /// The dependencies table (home).
    Dependencies,
    /// The traces list.
    Traces,
    /// Rule findings.
    Findings,
    /// Alerts (`a`): the alert board with each alert's history.
    Alerts,
    /// Log records (`L`).
    Logs,
    /// One dependency in detail.
    Detail(EdgeKey),
    /// One trace's waterfall.
    Waterfall(TraceId),
    /// The service map (`m`): a top-level view of the dependency graph, not a numbered tab.
    Map,
    /// Two traces side by side: (A the baseline, B).
    Compare(TraceId, TraceId),
}

impl Screen {
    /// The top-level views in tab order.
    pub const TABS: [Screen; 5] = [
        Screen::Dependencies,
        Screen::Traces,
        Screen::Findings,
        Screen::Logs,
        Screen::Alerts,
    ];
}

/// Selection and scroll position of a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListNav {
    /// Selected row.
    pub selected: usize,
    /// First row shown.
    pub offset: usize,
}

impl ListNav {
    /// Moves the selection by `delta` rows within `len`.
    pub fn move_by(&mut self, delta: isize, len: usize) {
        if len == 0 {
            self.selected = 0;
            return;
        }
        let s = self.selected as isize + delta;
        self.selected = s.clamp(0, len as isize - 1) as usize;
    }

    /// The offset that keeps the selection visible in `height` rows.
    pub fn visible_offset(&self, height: usize) -> usize {
        let h = height.max(1);
        if self.selected < self.offset {
            self.selected
        } else if self.selected >= self.offset + h {
            self.selected + 1 - h
        } else {
            self.offset
        }
    }
}

/// The trend column of the dependencies table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trend {
    /// p99 latency per bucket.
    P99,
    /// Error % per bucket.
    Errors,
}

/// Dependencies table state.
#[derive(Clone, Debug)]
pub struct DepsUi {
    /// Selection.
    pub nav: ListNav,
    /// Sort, grouping and parsed filter.
    pub order: DepOrder,
    /// Filter text as typed.
    pub filter: String,
    /// Trend column.
    pub trend: Trend,
    /// The selected edge, so selection follows it across snapshots once the user has moved
    /// (until then the top row, the worst edge, stays selected).
    pub selected_key: Option<EdgeKey>,
}

/// Traces list state.
#[derive(Clone, Debug, Default)]
pub struct TracesUi {
    /// Selection.
    pub nav: ListNav,
    /// Filter text as typed.
    pub filter: String,
    /// Parsed filter.
    pub query: TraceQuery,
    /// The selected trace, followed across snapshots once the user has moved (until then the
    /// newest trace stays selected).
    pub selected_id: Option<TraceId>,
}

/// Dependency detail state, rebuilt with each snapshot.
#[derive(Clone, Debug)]
pub struct DetailUi {
    /// The edge.
    pub edge: EdgeKey,
    /// Its index in `Snapshot::deps` (None when it is not in this snapshot).
    pub index: Option<usize>,
    /// Recent and slowest calls (the selectable list: recent, then slowest).
    pub calls: EdgeCalls,
    /// Selection in the calls list.
    pub nav: ListNav,
    /// Event time the calls were gathered at (live, they refresh every [`CALLS_REFRESH_NS`] so
    /// the list does not move under the cursor with every snapshot).
    pub calls_at_ns: u64,
}

/// How often the detail's call lists refresh live.
pub const CALLS_REFRESH_NS: u64 = 5_000_000_000;

/// Waterfall state.
#[derive(Clone, Debug)]
pub struct WaterfallUi {
    /// The trace id.
    pub trace_id: TraceId,
    /// The trace as of this snapshot (None when evicted).
    pub trace: Option<Arc<Trace>>,
    /// Its tree and critical path.
    pub tree: TraceTree,
    /// Visible node positions (collapsed subtrees hidden).
    pub visible: Vec<u32>,
    /// Collapsed spans.
    pub collapsed: HashSet<SpanId>,
    /// Selection among visible rows.
    pub nav: ListNav,
    /// Span details panel shown.
    pub details: bool,
}

/// The `/` filter being edited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// Which list it filters.
    pub target: Screen,
    /// Text so far.
    pub text: String,
    /// The filter before editing (restored on esc).
    pub before: String,
}

/// The review time cursor: the window `[end - width, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Window end, Unix nanoseconds.
    pub end_ns: u64,
    /// Window width, nanoseconds.
    pub width_ns: u64,
    /// The capture's data range [first, last].
    pub range: (u64, u64),
}

impl Cursor {
    /// The whole capture.
    pub fn whole(range: (u64, u64)) -> Cursor {
        let width = (range.1.saturating_sub(range.0) + 1).max(BUCKET_NS);
        Cursor {
            end_ns: range.1.saturating_add(1),
            width_ns: width,
            range,
        }
    }

    /// `[from, to)`.
    pub fn window(&self) -> (u64, u64) {
        (self.end_ns.saturating_sub(self.width_ns), self.end_ns)
    }
}

/// Ingest rates from counter deltas between ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    last: Option<(f64, u64, u64)>,
    /// Spans per second.
    pub spans_per_s: f64,
    /// Metric data points per second.
    pub points_per_s: f64,
}

/// Screen regions the last frame drew, for mouse hits (set by the loop after each draw).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hits {
    /// Tab labels and their view number.
    pub tabs: Vec<(Rect, u8)>,
    /// The rows of the current list (below its header).
    pub list: Option<Rect>,
    /// First row shown in the current list.
    pub list_offset: usize,
    /// Row of the table header, and its sortable columns.
    pub columns: Option<(u16, Vec<SortColumn>)>,
    /// The help overlay when open: its largest scroll offset and its page height, in lines.
    pub help: Option<(u16, u16)>,
}

/// A sortable column header: `(x0, x1, key)`, x1 exclusive.
pub type SortColumn = (u16, u16, rows::SortKey);

/// Where the header's source list comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sources {
    /// `(label, address or file, up)`.
    pub items: Vec<(String, String, bool)>,
}

/// Everything the views read besides the theme.
#[derive(Clone, Debug)]
pub struct UiState {
    /// Front end.
    pub mode: Mode,
    /// Receivers or files.
    pub sources: Sources,
    /// The snapshot on screen.
    pub snapshot: Arc<Snapshot>,
    /// The newest snapshot while paused.
    pub latest: Option<Arc<Snapshot>>,
    /// Findings badges of `snapshot.deps`.
    pub facts: Vec<DepFacts>,
    /// Dependency rows of `snapshot`.
    pub dep_rows: Vec<DepRow>,
    /// The `~` marks among those rows.
    pub dep_marks: rows::Marks,
    /// Trace rows of `snapshot` (indices, newest first).
    pub trace_rows: Vec<u32>,
    /// Finding rows (indices into `snapshot.findings`, most severe first).
    pub finding_rows: Vec<u32>,
    /// Screen stack; never empty, the first is a top-level view.
    pub stack: Vec<Screen>,
    /// Dependencies table.
    pub deps: DepsUi,
    /// Traces list.
    pub traces: TracesUi,
    /// Findings list.
    pub findings: ListNav,
    /// Alerts view.
    pub alerts: AlertsUi,
    /// Logs view.
    pub logs: LogsUi,
    /// Open dependency detail.
    pub detail: Option<DetailUi>,
    /// Open waterfall.
    pub waterfall: Option<WaterfallUi>,
    /// Filter being typed.
    pub input: Option<Input>,
    /// Help overlay shown.
    pub help: bool,
    /// First line of the help overlay shown (clamped to what it has when drawn).
    pub help_scroll: u16,
    /// Snapshot frozen.
    pub paused: bool,
    /// Review time cursor.
    pub cursor: Option<Cursor>,
    /// Review incident timeline.
    pub timeline: Option<Arc<Timeline>>,
    /// Ingest rates.
    pub rates: Rates,
    /// Resident memory of the process.
    pub rss_bytes: Option<u64>,
    /// Set when the user quit.
    pub quit: bool,
    /// A one-line message for the footer: kept until the next key or click, or for
    /// [`MESSAGE_SECS`] of ticks, whichever comes first (snapshots do not clear it).
    pub message: Option<String>,
    /// The tick time (seconds since start) at which the current message was first seen.
    pub message_since: Option<f64>,
    /// Mouse regions of the last frame.
    pub hits: Hits,
    /// Rows per page of the current list (from the last frame).
    pub page: usize,
    /// A capture is still loading (review): shown as a gauge in the header.
    pub loading: Option<Loading>,
    /// The service map.
    pub map: MapUi,
    /// Trace comparison: the mark and the open comparison.
    pub compare: CompareUi,
}

/// How far a capture load has come, in file bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loading {
    /// Bytes read.
    pub done: u64,
    /// Bytes in all files.
    pub total: u64,
}

/// What happened.
#[derive(Clone, Debug)]
pub enum Action {
    /// A bound key.
    Cmd(Cmd),
    /// A character typed into the filter.
    Char(char),
    /// Backspace in the filter.
    Backspace,
    /// Enter in the filter.
    Submit,
    /// Esc in the filter.
    Cancel,
    /// Left click at (column, row).
    Click(u16, u16),
    /// Mouse wheel: rows (negative is up).
    Scroll(i16),
    /// A new snapshot from the store.
    Snapshot(Arc<Snapshot>),
    /// Once a second: monotonic seconds and resident memory.
    Tick(f64, Option<u64>),
    /// The terminal was resized (redraw only).
    Resize,
}

/// How long a footer message stays without a key press, in seconds of ticks.
pub const MESSAGE_SECS: f64 = 5.0;

/// What the loop must do after an update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Restore the terminal and exit.
    Quit,
    /// Build the review snapshot for `[from, to)`.
    Window(u64, u64),
}

impl UiState {
    /// A fresh state over `snapshot`.
    pub fn new(mode: Mode, sources: Sources, snapshot: Arc<Snapshot>) -> UiState {
        let mut s = UiState {
            mode,
            sources,
            snapshot: snapshot.clone(),
            latest: None,
            facts: Vec::new(),
            dep_rows: Vec::new(),
            dep_marks: rows::Marks::default(),
            trace_rows: Vec::new(),
            finding_rows: Vec::new(),
            stack: vec![Screen::Dependencies],
            deps: DepsUi {
                nav: ListNav::default(),
                order: DepOrder::default(),
                filter: String::new(),
                trend: Trend::P99,
                selected_key: None,
            },
            traces: TracesUi::default(),
            findings: ListNav::default(),
            alerts: AlertsUi::default(),
            logs: LogsUi::default(),
            detail: None,
            waterfall: None,
            input: None,
            help: false,
            help_scroll: 0,
            paused: false,
            cursor: None,
            timeline: None,
            rates: Rates::default(),
            rss_bytes: None,
            quit: false,
            message: None,
            message_since: None,
            hits: Hits::default(),
            page: 20,
            loading: None,
            map: MapUi::default(),
            compare: CompareUi::default(),
        };
        s.apply_snapshot(snapshot);
        s
    }

    /// A review state: the time cursor over the whole capture and its timeline.
    pub fn review(sources: Sources, whole: Arc<Snapshot>) -> UiState {
        let mut s = UiState::new(Mode::Review, sources, whole.clone());
        s.cursor = Some(Cursor::whole(whole.range));
        s.timeline = Some(Arc::new(Timeline::build(&whole)));
        s
    }

    /// The screen on top.
    pub fn screen(&self) -> &Screen {
        // The stack is never empty: every pop keeps the first element.
        self.stack.last().unwrap_or(&Screen::Dependencies)
    }

    /// Key contexts active on the current screen.
    pub fn contexts(&self) -> Vec<Ctx> {
        let mut v = Vec::with_capacity(4);
        match self.screen() {
            Screen::Dependencies => v.push(Ctx::Dependencies),
            Screen::Traces => v.push(Ctx::Traces),
            Screen::Waterfall(_) => v.push(Ctx::Waterfall),
            Screen::Alerts => v.push(Ctx::Alerts),
            Screen::Logs => v.push(Ctx::Logs),
            Screen::Map => v.push(Ctx::Map),
            Screen::Findings | Screen::Detail(_) | Screen::Compare(..) => {}
        }
        if self.mode == Mode::Review {
            v.push(Ctx::Review);
        }
        v.extend([Ctx::Lists, Ctx::Global]);
        v
    }

    /// Installs a snapshot and re-derives everything shown from it.
    pub fn apply_snapshot(&mut self, snap: Arc<Snapshot>) {
        self.snapshot = snap;
        self.facts = rows::dep_facts(&self.snapshot);
        self.rebuild_deps();
        // The trace list is only kept current while it is shown (switching to it rebuilds it).
        if self.stack[0] == Screen::Traces {
            self.rebuild_traces();
        }
        // So is the Logs view.
        if self.stack[0] == Screen::Logs {
            self.rebuild_logs();
        }
        self.rebuild_findings();
        self.rebuild_alerts();
        if let Some(old) = self.detail.take() {
            let now = self.snapshot.now_ns;
            let fresh =
                self.mode != Mode::Review && now.abs_diff(old.calls_at_ns) < CALLS_REFRESH_NS;
            self.open_detail_with(old.edge, fresh.then_some((old.calls, old.calls_at_ns)));
            if let Some(d) = &mut self.detail {
                d.nav = old.nav;
                d.nav
                    .move_by(0, d.calls.recent.len() + d.calls.slowest.len());
            }
        }
        if let Some((a, b, _)) = self.compare.open {
            self.compare.open(&self.snapshot, a, b);
        }
        if let Some(w) = &self.waterfall {
            let (id, collapsed, nav, details) = (w.trace_id, w.collapsed.clone(), w.nav, w.details);
            self.open_waterfall(id);
            if let Some(w) = &mut self.waterfall {
                w.collapsed = collapsed;
                w.details = details;
                w.nav = nav;
                w.refresh_visible();
            }
        }
    }

    /// Re-sorts and re-filters the dependency rows, keeping the selected edge selected.
    pub fn rebuild_deps(&mut self) {
        self.deps.order.filter = DepFilter::parse(&self.deps.filter);
        self.dep_rows = rows::dep_rows(&self.snapshot, &self.facts, &self.deps.order);
        self.dep_marks = rows::Marks::of(&self.snapshot, &self.dep_rows);
        let key = self.deps.selected_key.clone();
        if let Some(k) = key
            && let Some(i) = self.dep_rows.iter().position(|r| match r {
                DepRow::Edge(i) => self.snapshot.deps[*i as usize].key == k,
                DepRow::Group { .. } => false,
            })
        {
            self.deps.nav.selected = i;
        }
        let len = self.dep_rows.len();
        self.deps.nav.move_by(0, len);
        if self.stack[0] == Screen::Map {
            self.map.rebuild(&self.snapshot, &self.dep_rows);
        }
    }

    /// Records which edge the user selected (moving to the top row unpins: it keeps showing the
    /// worst edge as the order changes).
    pub fn remember_dep(&mut self) {
        if self.deps.nav.selected == 0 {
            self.deps.selected_key = None;
        } else if let Some(DepRow::Edge(i)) = self.dep_rows.get(self.deps.nav.selected) {
            self.deps.selected_key = Some(self.snapshot.deps[*i as usize].key.clone());
        }
    }

    /// The index in `Snapshot::deps` of the selected dependency row.
    pub fn selected_edge(&self) -> Option<usize> {
        match self.dep_rows.get(self.deps.nav.selected) {
            Some(DepRow::Edge(i)) => Some(*i as usize),
            _ => None,
        }
    }

    /// Re-filters the trace list, keeping the selected trace selected.
    pub fn rebuild_traces(&mut self) {
        self.traces.query = parse_trace_query(&self.traces.filter);
        let window = (self.mode == Mode::Review).then_some(self.snapshot.window);
        self.trace_rows = rows::trace_rows(&self.snapshot, &self.traces.query, window);
        if let Some(id) = self.traces.selected_id
            && let Some(i) = self
                .trace_rows
                .iter()
                .position(|&t| self.snapshot.traces[t as usize].trace_id() == id)
        {
            self.traces.nav.selected = i;
        }
        let len = self.trace_rows.len();
        self.traces.nav.move_by(0, len);
    }

    /// Re-filters the Logs view (in review, the records inside the cursor window).
    pub fn rebuild_logs(&mut self) {
        let window = (self.mode == Mode::Review).then_some(self.snapshot.window);
        self.logs.rebuild(&self.snapshot, window);
    }

    /// Records which trace is selected (the top row is not pinned: it follows the newest trace).
    pub fn remember_trace(&mut self) {
        if self.traces.nav.selected == 0 {
            self.traces.selected_id = None;
        } else if let Some(&t) = self.trace_rows.get(self.traces.nav.selected) {
            self.traces.selected_id = Some(self.snapshot.traces[t as usize].trace_id());
        }
    }

    fn rebuild_findings(&mut self) {
        let f = &self.snapshot.findings;
        let mut idx: Vec<u32> = (0..f.len() as u32).collect();
        idx.sort_by(|&a, &b| {
            f[b as usize]
                .severity
                .cmp(&f[a as usize].severity)
                .then(a.cmp(&b))
        });
        self.finding_rows = idx;
        let len = self.finding_rows.len();
        self.findings.move_by(0, len);
    }
}

impl Rates {
    /// Updates from counters at monotonic time `secs`.
    pub fn observe(&mut self, secs: f64, spans: u64, points: u64) {
        if let Some((t0, s0, p0)) = self.last {
            let dt = secs - t0;
            if dt > 0.0 {
                self.spans_per_s = spans.saturating_sub(s0) as f64 / dt;
                self.points_per_s = points.saturating_sub(p0) as f64 / dt;
            }
        }
        self.last = Some((secs, spans, points));
    }
}
