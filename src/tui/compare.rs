//! Comparing two traces in the dashboard: `c` on the traces list marks the selected trace as the
//! baseline (A); `c` on another opens the side-by-side comparison of B with A
//! (`analysis::compare`, `tui::view::compare`). `c` on the marked trace again clears the mark.

use crate::analysis::compare::{Comparison, compare};
use crate::model::span::TraceId;
use crate::store::Snapshot;

use super::app::ListNav;

/// Compare state: the mark and the open comparison.
#[derive(Clone, Debug, Default)]
pub struct CompareUi {
    /// The baseline trace marked with `c`.
    pub mark: Option<TraceId>,
    /// The open comparison: (A, B) and the result (`None` when a trace is no longer retained).
    pub open: Option<(TraceId, TraceId, Option<Comparison>)>,
    /// Selection among the comparison's rows.
    pub nav: ListNav,
}

/// What `c` on the traces list did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkOutcome {
    /// The trace is now the baseline.
    Marked,
    /// The mark was cleared (it was this trace).
    Cleared,
    /// A comparison of the trace with the marked one opened.
    Opened(TraceId, TraceId),
}

impl CompareUi {
    /// `c` on trace `id`.
    pub fn press(&mut self, id: TraceId) -> MarkOutcome {
        match self.mark {
            Some(m) if m == id => {
                self.mark = None;
                MarkOutcome::Cleared
            }
            Some(m) => MarkOutcome::Opened(m, id),
            None => {
                self.mark = Some(id);
                MarkOutcome::Marked
            }
        }
    }

    /// Opens (or refreshes, with a new snapshot) the comparison of `b` with `a`.
    pub fn open(&mut self, snap: &Snapshot, a: TraceId, b: TraceId) {
        let c = match (snap.trace(&a), snap.trace(&b)) {
            (Some(x), Some(y)) => Some(compare(x, y)),
            _ => None,
        };
        let n = c.as_ref().map_or(0, |c| c.rows.len());
        self.open = Some((a, b, c));
        self.nav.move_by(0, n);
    }

    /// Rows of the open comparison.
    pub fn len(&self) -> usize {
        self.open
            .as_ref()
            .and_then(|o| o.2.as_ref())
            .map_or(0, |c| c.rows.len())
    }

    /// Whether the open comparison has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_marks_then_opens_and_c_on_the_mark_clears_it() {
        let mut c = CompareUi::default();
        let (a, b) = ([1u8; 16], [2u8; 16]);
        assert_eq!(c.press(a), MarkOutcome::Marked);
        assert_eq!(c.press(a), MarkOutcome::Cleared);
        assert_eq!(c.press(a), MarkOutcome::Marked);
        assert_eq!(c.press(b), MarkOutcome::Opened(a, b));
    }
}
