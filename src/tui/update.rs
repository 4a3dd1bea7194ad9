//! `update(state, action)`: the one place UI state changes. Pure apart from the state itself.

use crate::model::edge::BUCKET_NS;

use super::app::{Action, Command, Cursor, Input, MESSAGE_SECS, Mode, Screen, Trend, UiState};
use super::jump::{alert_traces, enter, fold, jump_to_edge, jump_to_log_span};
use super::keymap::Cmd;
use super::rows::SortKey;

/// Applies `action` to `s`; returns what the loop must do, if anything.
pub fn update(s: &mut UiState, action: Action) -> Option<Command> {
    // A key or click dismisses the footer message (the command may set a new one); snapshots
    // and ticks keep it until it has been shown for `MESSAGE_SECS`.
    if !matches!(
        action,
        Action::Snapshot(_) | Action::Tick(..) | Action::Resize
    ) {
        s.message = None;
        s.message_since = None;
    }
    match action {
        Action::Snapshot(snap) => {
            if s.paused {
                s.latest = Some(snap);
            } else {
                s.apply_snapshot(snap);
            }
            None
        }
        Action::Tick(secs, rss) => {
            expire_message(s, secs);
            let c = &s.snapshot.counters;
            let (spans, points) = (c.spans, c.metric_points);
            s.rates.observe(secs, spans, points);
            s.rss_bytes = rss;
            None
        }
        Action::Resize => None,
        Action::Char(c) => edit_input(s, |t| t.push(c)),
        Action::Backspace => edit_input(s, |t| {
            t.pop();
        }),
        Action::Submit => {
            s.input = None;
            None
        }
        Action::Cancel => {
            if let Some(i) = s.input.take() {
                set_filter(s, &i.target, i.before);
            }
            None
        }
        Action::Scroll(rows) if s.help => {
            scroll_help(s, rows as i64);
            None
        }
        Action::Scroll(rows) => {
            move_selection(s, rows as isize);
            None
        }
        Action::Click(x, y) => click(s, x, y),
        Action::Cmd(cmd) => command(s, cmd),
    }
}

/// Clears a message shown for `MESSAGE_SECS` of ticks; starts the clock on a new one.
fn expire_message(s: &mut UiState, secs: f64) {
    match (&s.message, s.message_since) {
        (None, _) => s.message_since = None,
        (Some(_), None) => s.message_since = Some(secs),
        (Some(_), Some(since)) if secs - since >= MESSAGE_SECS => {
            s.message = None;
            s.message_since = None;
        }
        _ => {}
    }
}

fn edit_input(s: &mut UiState, f: impl FnOnce(&mut String)) -> Option<Command> {
    if let Some(input) = &mut s.input {
        f(&mut input.text);
        let (target, text) = (input.target.clone(), input.text.clone());
        set_filter(s, &target, text);
    }
    None
}

fn set_filter(s: &mut UiState, target: &Screen, text: String) {
    match target {
        Screen::Traces => {
            s.traces.filter = text;
            s.rebuild_traces();
        }
        Screen::Logs => {
            s.logs.filter = text;
            s.rebuild_logs();
        }
        _ => {
            s.deps.filter = text;
            s.rebuild_deps();
        }
    }
}

/// Length of the current list.
fn list_len(s: &UiState) -> usize {
    match s.screen() {
        Screen::Dependencies => s.dep_rows.len(),
        Screen::Traces => s.trace_rows.len(),
        Screen::Findings => s.finding_rows.len(),
        Screen::Alerts => s.alert_board().states.len(),
        Screen::Logs => s.logs.rows.len(),
        Screen::Detail(_) => s
            .detail
            .as_ref()
            .map_or(0, |d| d.calls.recent.len() + d.calls.slowest.len()),
        Screen::Waterfall(_) => s.waterfall.as_ref().map_or(0, |w| w.visible.len()),
        Screen::Map => s.map.graph.reading.len(),
        Screen::Compare(..) => s.compare.len(),
    }
}

fn move_selection(s: &mut UiState, delta: isize) {
    let len = list_len(s);
    match s.screen().clone() {
        Screen::Dependencies => {
            s.deps.nav.move_by(delta, len);
            s.remember_dep();
        }
        Screen::Traces => {
            s.traces.nav.move_by(delta, len);
            s.remember_trace();
        }
        Screen::Findings => s.findings.move_by(delta, len),
        Screen::Alerts => {
            s.alerts.nav.move_by(delta, len);
            s.remember_alert();
        }
        Screen::Logs => {
            s.logs.nav.move_by(delta, len);
            s.logs.remember();
        }
        Screen::Detail(_) => {
            if let Some(d) = &mut s.detail {
                d.nav.move_by(delta, len);
            }
        }
        Screen::Waterfall(_) => {
            if let Some(w) = &mut s.waterfall {
                w.nav.move_by(delta, len);
            }
        }
        Screen::Map => s.map.move_node(delta),
        Screen::Compare(..) => s.compare.nav.move_by(delta, len),
    }
}

pub(super) fn go_tab(s: &mut UiState, n: usize) {
    if let Some(tab) = Screen::TABS.get(n) {
        s.stack = vec![tab.clone()];
        s.input = None;
        if *tab == Screen::Traces {
            s.rebuild_traces();
        }
        if *tab == Screen::Logs {
            s.rebuild_logs();
        }
    }
}

/// Scrolls the open help overlay by `rows` lines, within what it had when last drawn.
fn scroll_help(s: &mut UiState, rows: i64) {
    let max = s.hits.help.map_or(0, |(max, _)| i64::from(max));
    s.help_scroll = (i64::from(s.help_scroll) + rows).clamp(0, max) as u16;
}

fn command(s: &mut UiState, cmd: Cmd) -> Option<Command> {
    let page = s.page.max(1) as isize;
    if s.help {
        // The moves scroll the overlay while it is open.
        let help_page = i64::from(s.hits.help.map_or(1, |(_, p)| p.max(1)));
        let rows = match cmd {
            Cmd::Up => Some(-1),
            Cmd::Down => Some(1),
            Cmd::PageUp => Some(-help_page),
            Cmd::PageDown => Some(help_page),
            Cmd::Top => Some(i64::MIN / 2),
            Cmd::Bottom => Some(i64::MAX / 2),
            _ => None,
        };
        if let Some(rows) = rows {
            scroll_help(s, rows);
            return None;
        }
    }
    match cmd {
        Cmd::Quit => {
            s.quit = true;
            return Some(Command::Quit);
        }
        Cmd::Help => {
            s.help = !s.help;
            s.help_scroll = 0;
        }
        Cmd::Back => back(s),
        Cmd::Up => move_selection(s, -1),
        Cmd::Down => move_selection(s, 1),
        Cmd::PageUp => move_selection(s, -page),
        Cmd::PageDown => move_selection(s, page),
        Cmd::Top => move_selection(s, isize::MIN / 2),
        Cmd::Bottom => move_selection(s, isize::MAX / 2),
        Cmd::NextTab | Cmd::PrevTab => {
            let cur = Screen::TABS
                .iter()
                .position(|t| *t == s.stack[0])
                .unwrap_or(0);
            let n = Screen::TABS.len();
            go_tab(
                s,
                if cmd == Cmd::NextTab {
                    (cur + 1) % n
                } else {
                    (cur + n - 1) % n
                },
            );
        }
        Cmd::Tab(n) => go_tab(s, (n as usize).saturating_sub(1)),
        Cmd::Logs => {
            if let Some(i) = Screen::TABS.iter().position(|t| *t == Screen::Logs) {
                go_tab(s, i);
            }
        }
        Cmd::Enter => return enter(s),
        Cmd::Map => super::views_nav::toggle_map(s),
        Cmd::Compare => super::views_nav::mark_or_compare(s),
        Cmd::Left | Cmd::Right if *s.screen() == Screen::Map => s.map.step_edge(cmd == Cmd::Right),
        Cmd::Filter => {
            let target = s.stack[0].clone();
            let before = match target {
                Screen::Dependencies => s.deps.filter.clone(),
                Screen::Traces => s.traces.filter.clone(),
                Screen::Logs => s.logs.filter.clone(),
                Screen::Map => s.deps.filter.clone(),
                _ => return None,
            };
            s.stack.truncate(1);
            s.input = Some(Input {
                target,
                text: before.clone(),
                before,
            });
        }
        Cmd::Pause => {
            s.paused = !s.paused;
            if !s.paused
                && let Some(snap) = s.latest.take()
            {
                s.apply_snapshot(snap);
            }
        }
        Cmd::SortNext | Cmd::Right | Cmd::Left if matches!(s.screen(), Screen::Dependencies) => {
            s.deps.order.sort = s.deps.order.sort.step(cmd != Cmd::Left);
            s.deps.order.descending = s.deps.order.sort != SortKey::Name;
            s.rebuild_deps();
        }
        Cmd::SortReverse => {
            s.deps.order.descending = !s.deps.order.descending;
            s.rebuild_deps();
        }
        Cmd::Group => {
            s.deps.order.group = !s.deps.order.group;
            s.rebuild_deps();
        }
        Cmd::Spark => {
            s.deps.trend = match s.deps.trend {
                Trend::P99 => Trend::Errors,
                Trend::Errors => Trend::P99,
            }
        }
        Cmd::Left | Cmd::Right | Cmd::Toggle => fold(s, cmd),
        Cmd::Details => {
            if let Some(w) = &mut s.waterfall {
                w.details = !w.details;
            }
        }
        Cmd::JumpToEdge if *s.screen() == Screen::Alerts => s.alert_to_dependency(),
        Cmd::Alerts => {
            if let Some(n) = Screen::TABS.iter().position(|t| *t == Screen::Alerts) {
                go_tab(s, n);
            }
        }
        Cmd::AlertTraces => alert_traces(s),
        Cmd::JumpToEdge if *s.screen() == Screen::Logs => jump_to_log_span(s),
        Cmd::JumpToEdge => jump_to_edge(s),
        Cmd::ErrorsOnly if *s.screen() == Screen::Logs => {
            s.logs.toggle_errors();
            s.rebuild_logs();
        }
        Cmd::ErrorsOnly => {
            let mut words: Vec<String> = s
                .traces
                .filter
                .split_whitespace()
                .map(String::from)
                .collect();
            let before = words.len();
            words.retain(|w| !matches!(w.as_str(), "errors" | "error" | "err"));
            if words.len() == before {
                words.push("errors".into());
            }
            s.traces.filter = words.join(" ");
            s.rebuild_traces();
        }
        Cmd::TimeBack | Cmd::TimeForward | Cmd::Narrow | Cmd::Widen => return time(s, cmd),
        Cmd::SortNext => {}
    }
    None
}

fn back(s: &mut UiState) {
    if s.help {
        s.help = false;
    } else if s.stack.len() > 1 {
        match s.stack.pop() {
            Some(Screen::Waterfall(_)) => s.waterfall = None,
            Some(Screen::Detail(_)) => s.detail = None,
            Some(Screen::Compare(..)) => s.compare.open = None,
            _ => {}
        }
    } else {
        match s.screen() {
            Screen::Dependencies | Screen::Map if !s.deps.filter.is_empty() => {
                s.deps.filter.clear();
                s.rebuild_deps();
            }
            Screen::Traces if !s.traces.filter.is_empty() => {
                s.traces.filter.clear();
                s.rebuild_traces();
            }
            Screen::Logs if !s.logs.filter.is_empty() => {
                s.logs.filter.clear();
                s.rebuild_logs();
            }
            _ => {}
        }
    }
}

fn time(s: &mut UiState, cmd: Cmd) -> Option<Command> {
    if s.mode != Mode::Review {
        return None;
    }
    let c = s.cursor.as_mut()?;
    let full = (c.range.1.saturating_sub(c.range.0) + 1).max(BUCKET_NS);
    let step = (c.width_ns / 10).max(BUCKET_NS);
    match cmd {
        Cmd::TimeBack => c.end_ns = c.end_ns.saturating_sub(step),
        Cmd::TimeForward => c.end_ns = c.end_ns.saturating_add(step),
        Cmd::Narrow => c.width_ns = (c.width_ns / 2).max(BUCKET_NS),
        Cmd::Widen => c.width_ns = (c.width_ns.saturating_mul(2)).min(full),
        _ => {}
    }
    // Keep the window over the capture: its end between first data + width and last data.
    let lo = c.range.0.saturating_add(c.width_ns);
    let hi = c.range.1.saturating_add(1);
    c.end_ns = c.end_ns.clamp(lo.min(hi), hi);
    let (from, to) = c.window();
    Some(Command::Window(from, to))
}

fn click(s: &mut UiState, x: u16, y: u16) -> Option<Command> {
    let inside =
        |r: &ratatui::layout::Rect| x >= r.x && x < r.right() && y >= r.y && y < r.bottom();
    if let Some((_, n)) = s.hits.tabs.iter().find(|(r, _)| inside(r)) {
        go_tab(s, *n as usize - 1);
        return None;
    }
    if let Some((row, cols)) = &s.hits.columns
        && *row == y
        && let Some((_, _, key)) = cols.iter().find(|(x0, x1, _)| x >= *x0 && x < *x1)
    {
        if s.deps.order.sort == *key {
            s.deps.order.descending = !s.deps.order.descending;
        } else {
            s.deps.order.sort = *key;
            s.deps.order.descending = *key != SortKey::Name;
        }
        s.rebuild_deps();
        return None;
    }
    if let Some(list) = s.hits.list
        && inside(&list)
    {
        let row = s.hits.list_offset + (y - list.y) as usize;
        if row < list_len(s) {
            let current = match s.screen() {
                Screen::Dependencies => s.deps.nav.selected,
                Screen::Traces => s.traces.nav.selected,
                Screen::Findings => s.findings.selected,
                Screen::Alerts => s.alerts.nav.selected,
                Screen::Logs => s.logs.nav.selected,
                Screen::Detail(_) => s.detail.as_ref().map_or(0, |d| d.nav.selected),
                Screen::Waterfall(_) => s.waterfall.as_ref().map_or(0, |w| w.nav.selected),
                Screen::Map => s.map.nav.selected,
                Screen::Compare(..) => s.compare.nav.selected,
            };
            if row == current {
                return enter(s);
            }
            move_selection(s, row as isize - current as isize);
        }
    }
    None
}

/// Sets the review window cursor (used by tests and the review loop at start).
pub fn set_cursor(s: &mut UiState, cursor: Cursor) {
    s.cursor = Some(cursor);
}

#[cfg(test)]
#[path = "update_tests.rs"]
pub(crate) mod tests;
