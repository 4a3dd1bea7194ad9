//! The state of each view and of the frame, held by `UiState`: list navigation, the
//! dependencies table, traces list, dependency detail and waterfall, the `/` filter being typed,
//! the review time cursor, ingest rates, the last frame's mouse regions and the header's sources.

use std::collections::HashSet;
use std::sync::Arc;

use ratatui::layout::Rect;

use crate::analysis::traces::{EdgeCalls, TraceQuery, TraceTree};
use crate::model::edge::{BUCKET_NS, EdgeKey};
use crate::model::span::{SpanId, TraceId};
use crate::store::trace::Trace;

use super::app::Screen;
use super::rows::{self, DepOrder};

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
