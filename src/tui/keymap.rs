//! The one key table: key handling and the `?` help overlay are both generated from [`BINDINGS`].

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for (input-independent; `app::update` gives it meaning per screen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cmd {
    /// Leave faultline.
    Quit,
    /// Show or hide the help overlay.
    Help,
    /// Close the current drill-in (or the overlay, or the filter).
    Back,
    /// Drill into the selection.
    Enter,
    /// Selection up.
    Up,
    /// Selection down.
    Down,
    /// One page up.
    PageUp,
    /// One page down.
    PageDown,
    /// First row.
    Top,
    /// Last row.
    Bottom,
    /// Collapse (waterfall) or previous sort column (tables).
    Left,
    /// Expand (waterfall) or next sort column (tables).
    Right,
    /// Next top-level view.
    NextTab,
    /// Previous top-level view.
    PrevTab,
    /// Top-level view by number (1-based).
    Tab(u8),
    /// Edit the filter of the current list.
    Filter,
    /// Freeze or unfreeze the snapshot.
    Pause,
    /// Sort by the next column.
    SortNext,
    /// Reverse the sort order.
    SortReverse,
    /// Group dependencies by caller.
    Group,
    /// Switch the trend column between p99 and error %.
    Spark,
    /// Collapse or expand the selected subtree.
    Toggle,
    /// Show or hide the span detail panel.
    Details,
    /// Jump from the selected span (or finding) to its dependency.
    JumpToEdge,
    /// Errors-only traces.
    ErrorsOnly,
    /// Move the review window earlier.
    TimeBack,
    /// Move the review window later.
    TimeForward,
    /// Halve the review window.
    Narrow,
    /// Double the review window.
    Widen,
    /// Open the Alerts view.
    Alerts,
    /// Open the selected alert's exemplar traces.
    AlertTraces,
    /// Open the Logs view.
    Logs,
    /// Open (or leave) the service map.
    Map,
    /// Mark the selected trace as the baseline, or compare it with the marked one.
    Compare,
}

/// Where a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctx {
    /// Everywhere.
    Global,
    /// Lists and tables.
    Lists,
    /// The dependencies table.
    Dependencies,
    /// The trace waterfall.
    Waterfall,
    /// The traces list.
    Traces,
    /// `faultline review` only.
    Review,
    /// The Alerts view.
    Alerts,
    /// The Logs view.
    Logs,
    /// The service map.
    Map,
}

impl Ctx {
    /// Heading in the help overlay.
    pub fn title(self) -> &'static str {
        match self {
            Ctx::Global => "Everywhere",
            Ctx::Lists => "Lists",
            Ctx::Dependencies => "Dependencies",
            Ctx::Waterfall => "Waterfall",
            Ctx::Traces => "Traces",
            Ctx::Review => "Review (time cursor)",
            Ctx::Alerts => "Alerts",
            Ctx::Logs => "Logs",
            Ctx::Map => "Service map",
        }
    }
}

/// One key binding.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    /// Keys that trigger it.
    pub keys: &'static [KeyCode],
    /// Label of the keys in the help overlay.
    pub label: &'static str,
    /// What it does.
    pub cmd: Cmd,
    /// Where it applies.
    pub ctx: Ctx,
    /// Help text.
    pub help: &'static str,
}

const fn b(
    keys: &'static [KeyCode],
    label: &'static str,
    cmd: Cmd,
    ctx: Ctx,
    help: &'static str,
) -> Binding {
    Binding {
        keys,
        label,
        cmd,
        ctx,
        help,
    }
}

use KeyCode::{BackTab, Char, Down, End, Enter, Esc, Home, Left, PageDown, PageUp, Right, Tab, Up};

/// Every binding. Context-specific ones come first so they win over global ones on the same key.
pub const BINDINGS: &[Binding] = &[
    b(
        &[Char('h'), Left],
        "h ←",
        Cmd::Left,
        Ctx::Waterfall,
        "collapse subtree / go to parent",
    ),
    b(
        &[Char('l'), Right],
        "l →",
        Cmd::Right,
        Ctx::Waterfall,
        "expand subtree",
    ),
    b(
        &[Char(' ')],
        "space",
        Cmd::Toggle,
        Ctx::Waterfall,
        "collapse or expand",
    ),
    b(
        &[Char('d')],
        "d",
        Cmd::Details,
        Ctx::Waterfall,
        "span details panel",
    ),
    b(
        &[Char('e')],
        "e",
        Cmd::JumpToEdge,
        Ctx::Waterfall,
        "jump to the span's dependency",
    ),
    b(
        &[Char('s')],
        "s",
        Cmd::SortNext,
        Ctx::Dependencies,
        "next sort column",
    ),
    b(
        &[Char('S')],
        "S",
        Cmd::SortReverse,
        Ctx::Dependencies,
        "reverse sort order",
    ),
    b(
        &[Char('h'), Left],
        "h ←",
        Cmd::Left,
        Ctx::Dependencies,
        "sort by previous column",
    ),
    b(
        &[Char('l'), Right],
        "l →",
        Cmd::Right,
        Ctx::Dependencies,
        "sort by next column",
    ),
    b(
        &[Char('g')],
        "g",
        Cmd::Group,
        Ctx::Dependencies,
        "group by caller",
    ),
    b(
        &[Char('t')],
        "t",
        Cmd::Spark,
        Ctx::Dependencies,
        "trend: p99 / error %",
    ),
    b(
        &[Char('x')],
        "x",
        Cmd::ErrorsOnly,
        Ctx::Traces,
        "errors only",
    ),
    b(
        &[Char('c')],
        "c",
        Cmd::Compare,
        Ctx::Traces,
        "mark as A / compare with A",
    ),
    b(
        &[Char('h'), Left],
        "h ←",
        Cmd::Left,
        Ctx::Map,
        "previous edge of the service",
    ),
    b(
        &[Char('l'), Right],
        "l →",
        Cmd::Right,
        Ctx::Map,
        "next edge of the service",
    ),
    b(
        &[Char('e')],
        "e",
        Cmd::JumpToEdge,
        Ctx::Alerts,
        "the alert's dependency (or enter)",
    ),
    b(
        &[Char('t')],
        "t",
        Cmd::AlertTraces,
        Ctx::Alerts,
        "the alert's exemplar traces",
    ),
    b(
        &[Char('e')],
        "e",
        Cmd::JumpToEdge,
        Ctx::Logs,
        "jump to the record's span (or enter)",
    ),
    b(
        &[Char('x')],
        "x",
        Cmd::ErrorsOnly,
        Ctx::Logs,
        "errors only (sev=error)",
    ),
    b(
        &[Char('[')],
        "[",
        Cmd::TimeBack,
        Ctx::Review,
        "move window earlier",
    ),
    b(
        &[Char(']')],
        "]",
        Cmd::TimeForward,
        Ctx::Review,
        "move window later",
    ),
    b(
        &[Char('{')],
        "{",
        Cmd::Narrow,
        Ctx::Review,
        "narrow window (÷2)",
    ),
    b(
        &[Char('}')],
        "}",
        Cmd::Widen,
        Ctx::Review,
        "widen window (×2)",
    ),
    b(
        &[Char('k'), Up],
        "k ↑",
        Cmd::Up,
        Ctx::Lists,
        "select previous",
    ),
    b(
        &[Char('j'), Down],
        "j ↓",
        Cmd::Down,
        Ctx::Lists,
        "select next",
    ),
    b(&[PageUp], "PgUp", Cmd::PageUp, Ctx::Lists, "page up"),
    b(&[PageDown], "PgDn", Cmd::PageDown, Ctx::Lists, "page down"),
    b(&[Home], "Home", Cmd::Top, Ctx::Lists, "first row"),
    b(
        &[End, Char('G')],
        "End G",
        Cmd::Bottom,
        Ctx::Lists,
        "last row",
    ),
    b(&[Enter], "enter", Cmd::Enter, Ctx::Lists, "drill in / open"),
    b(&[Char('/')], "/", Cmd::Filter, Ctx::Lists, "filter"),
    b(&[Char('?')], "?", Cmd::Help, Ctx::Global, "this help"),
    b(&[Tab], "tab", Cmd::NextTab, Ctx::Global, "next view"),
    b(
        &[BackTab],
        "S-tab",
        Cmd::PrevTab,
        Ctx::Global,
        "previous view",
    ),
    b(&[Char('1')], "1", Cmd::Tab(1), Ctx::Global, "dependencies"),
    b(&[Char('2')], "2", Cmd::Tab(2), Ctx::Global, "traces"),
    b(&[Char('3')], "3", Cmd::Tab(3), Ctx::Global, "findings"),
    b(
        &[Char('4'), Char('L')],
        "4 L",
        Cmd::Logs,
        Ctx::Global,
        "logs",
    ),
    b(&[Char('a')], "a", Cmd::Alerts, Ctx::Global, "alerts"),
    b(
        &[Char('m')],
        "m",
        Cmd::Map,
        Ctx::Global,
        "service map (again: the table)",
    ),
    b(&[Esc, Backspace_], "esc", Cmd::Back, Ctx::Global, "back"),
    b(&[Char('p')], "p", Cmd::Pause, Ctx::Global, "pause / resume"),
    b(&[Char('q')], "q", Cmd::Quit, Ctx::Global, "quit"),
];

#[allow(non_upper_case_globals)]
const Backspace_: KeyCode = KeyCode::Backspace;

/// The command bound to `key` in the active contexts (Ctrl-C always quits).
pub fn lookup(key: KeyEvent, active: &[Ctx]) -> Option<Cmd> {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return matches!(key.code, Char('c') | Char('d')).then_some(Cmd::Quit);
    }
    if key.modifiers.contains(KeyModifiers::ALT) {
        return None;
    }
    BINDINGS
        .iter()
        .filter(|b| active.contains(&b.ctx))
        .find(|b| b.keys.contains(&key.code))
        .map(|b| b.cmd)
}

/// Help lines `(context title, [(keys, help)])` in table order, one section per context.
pub fn help_sections() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let order = [
        Ctx::Global,
        Ctx::Lists,
        Ctx::Dependencies,
        Ctx::Traces,
        Ctx::Map,
        Ctx::Waterfall,
        Ctx::Alerts,
        Ctx::Logs,
        Ctx::Review,
    ];
    order
        .iter()
        .map(|c| {
            (
                c.title(),
                BINDINGS
                    .iter()
                    .filter(|b| b.ctx == *c)
                    .map(|b| (b.label, b.help))
                    .collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn context_bindings_win_and_globals_apply() {
        let wf = [Ctx::Waterfall, Ctx::Lists, Ctx::Global];
        assert_eq!(lookup(key(Char('h')), &wf), Some(Cmd::Left));
        assert_eq!(lookup(key(Char('j')), &wf), Some(Cmd::Down));
        assert_eq!(lookup(key(Char('q')), &wf), Some(Cmd::Quit));
        assert_eq!(
            lookup(key(Char('[')), &wf),
            None,
            "review keys only in review"
        );
        assert_eq!(
            lookup(KeyEvent::new(Char('c'), KeyModifiers::CONTROL), &[]),
            Some(Cmd::Quit)
        );
    }

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        for (i, a) in BINDINGS.iter().enumerate() {
            for b in &BINDINGS[i + 1..] {
                if a.ctx == b.ctx {
                    assert!(
                        !a.keys.iter().any(|k| b.keys.contains(k)),
                        "{:?} and {:?} share a key in {:?}",
                        a.cmd,
                        b.cmd,
                        a.ctx
                    );
                }
            }
        }
        let sections = help_sections();
        assert_eq!(
            sections.iter().map(|s| s.1.len()).sum::<usize>(),
            BINDINGS.len()
        );
    }
}
