//! The UI loop: terminal events at `biased` priority, then the stop request (SIGTERM, SIGHUP,
//! SIGINT, from `app::signals`), then snapshots, then a 1 Hz tick; draws after anything that
//! changed the screen. Snapshots come over a `watch` channel, so a busy store never delays a key
//! press, and the store never waits for the UI.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{
    Event, EventStream, KeyCode, KeyEventKind, MouseButton, MouseEventKind,
};
use tokio::sync::watch;
use tokio_stream::StreamExt;

use super::app::{Action, Command, UiState, update};
use super::keymap;
use super::term;
use super::theme::Theme;
use super::view;
use crate::store::Snapshot;

/// Where snapshots come from and where review windows go.
pub struct Feed {
    /// Published snapshots.
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Review only: requests for the snapshot of a window `[from, to)`.
    pub windows: Option<std::sync::mpsc::Sender<(u64, u64)>>,
    /// Review only: a capture still loading. Its progress shows in the header; the state it
    /// yields replaces the loading one (`None`: the load failed, the UI quits).
    pub loading: Option<LoadingFeed>,
}

/// A capture load the UI shows while it runs.
pub struct LoadingFeed {
    /// Progress.
    pub progress: watch::Receiver<super::app::Loading>,
    /// The loaded state.
    pub done: tokio::sync::oneshot::Receiver<Option<UiState>>,
}

/// Maps a terminal event to an action (None: nothing to do, e.g. mouse motion).
pub fn to_action(s: &UiState, ev: Event) -> Option<Action> {
    match ev {
        Event::Key(k) if k.kind != KeyEventKind::Release => {
            if s.input.is_some() {
                return match k.code {
                    KeyCode::Enter => Some(Action::Submit),
                    KeyCode::Esc => Some(Action::Cancel),
                    KeyCode::Backspace => Some(Action::Backspace),
                    KeyCode::Char(c)
                        if !k
                            .modifiers
                            .contains(ratatui::crossterm::event::KeyModifiers::CONTROL) =>
                    {
                        Some(Action::Char(c))
                    }
                    _ => keymap::lookup(k, &[]).map(Action::Cmd),
                };
            }
            keymap::lookup(k, &s.contexts()).map(Action::Cmd)
        }
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollDown => Some(Action::Scroll(3)),
            MouseEventKind::ScrollUp => Some(Action::Scroll(-3)),
            MouseEventKind::Down(MouseButton::Left) => Some(Action::Click(m.column, m.row)),
            _ => None,
        },
        Event::Resize(_, _) => Some(Action::Resize),
        _ => None,
    }
}

/// Resident memory of this process (Linux; None elsewhere).
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Runs the dashboard until the user quits or `stop` resolves (a shutdown signal); the terminal
/// is restored on every way out.
pub async fn run(
    mut state: UiState,
    mut feed: Feed,
    theme: Theme,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    view::widgets::use_local_time();
    let mut guard = term::enter()?;
    let mut stop = std::pin::pin!(stop);
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let started = Instant::now();
    let mut store_open = true;
    let mut dirty = true;
    state.rss_bytes = rss_bytes();
    let (mut progress, mut done) = match feed.loading.take() {
        Some(l) => (Some(l.progress), Some(l.done)),
        None => (None, None),
    };
    loop {
        if dirty {
            let mut hits = Default::default();
            guard
                .terminal
                .draw(|f| hits = view::render(f, &state, &theme))?;
            after_draw(&mut state, hits);
            dirty = false;
        }
        let action = tokio::select! {
            biased;
            ev = events.next() => match ev {
                Some(Ok(ev)) => to_action(&state, ev),
                Some(Err(e)) => return Err(e),
                None => break,
            },
            _ = &mut stop => break,
            loaded = async { done.as_mut()?.await.ok().flatten() }, if done.is_some() => {
                done = None;
                progress = None;
                dirty = true;
                match loaded {
                    Some(s) => state = s,
                    None => break,
                }
                None
            }
            open = async { progress.as_mut()?.changed().await.ok() }, if progress.is_some() => {
                match (open, &progress) {
                    (Some(()), Some(p)) => {
                        state.loading = Some(*p.borrow());
                        dirty = true;
                    }
                    // The loader finished (or failed): `done` says which.
                    _ => progress = None,
                }
                None
            }
            changed = feed.snapshots.changed(), if store_open => match changed {
                Ok(()) => Some(Action::Snapshot(feed.snapshots.borrow_and_update().clone())),
                Err(_) => {
                    store_open = false;
                    None
                }
            },
            _ = tick.tick() => Some(Action::Tick(started.elapsed().as_secs_f64(), rss_bytes())),
        };
        let Some(action) = action else { continue };
        match update(&mut state, action) {
            Some(Command::Quit) => break,
            Some(Command::Window(from, to)) => {
                if let Some(tx) = &feed.windows {
                    let _ = tx.send((from, to));
                }
            }
            None => {}
        }
        dirty = true;
    }
    drop(guard);
    Ok(())
}

/// Stores what the frame drew: mouse regions, and the scroll offset of the current list.
pub fn after_draw(s: &mut UiState, hits: super::app::Hits) {
    use super::app::Screen;
    let off = hits.list_offset;
    if let Some(list) = hits.list {
        s.page = list.height.max(1) as usize;
    }
    match s.screen() {
        Screen::Dependencies => s.deps.nav.offset = off,
        Screen::Traces => s.traces.nav.offset = off,
        Screen::Findings => s.findings.offset = off,
        Screen::Alerts => s.alerts.nav.offset = off,
        Screen::Logs => s.logs.nav.offset = off,
        Screen::Detail(_) => {
            if let Some(d) = &mut s.detail {
                d.nav.offset = off;
            }
        }
        Screen::Waterfall(_) => {
            if let Some(w) = &mut s.waterfall {
                w.nav.offset = off;
            }
        }
        Screen::Compare(..) => s.compare.nav.offset = off,
        Screen::Map => {}
    }
    s.hits = hits;
}
