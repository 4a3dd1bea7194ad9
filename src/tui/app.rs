//! UI state and the pure `update(state, action)`: every key, click, snapshot and tick becomes an
//! [`Action`]; `update` changes the state and may return a [`Command`] for the loop to carry out
//! (quit, or a new review window). No I/O here, so every interaction is unit-tested.
//!
//! The state's parts live beside it: each view's state, the review cursor and the frame's mouse
//! regions in `view_state`; installing a snapshot and re-deriving the rows in `rebuild`.

use std::sync::Arc;

use crate::analysis::timeline::Timeline;
use crate::model::edge::EdgeKey;
use crate::model::span::TraceId;
use crate::store::Snapshot;

use super::alerts::AlertsUi;
use super::compare::CompareUi;
use super::keymap::{Cmd, Ctx};
use super::logs::LogsUi;
use super::map::MapUi;
use super::rows::{self, DepFacts, DepOrder, DepRow};

pub use super::update::update;
pub use super::view_state::{
    CALLS_REFRESH_NS, Cursor, DepsUi, DetailUi, Hits, Input, ListNav, Rates, SortColumn, Sources,
    TracesUi, Trend, WaterfallUi,
};

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
}
