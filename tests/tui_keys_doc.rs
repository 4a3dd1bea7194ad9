//! `docs/tui.md`'s key table says it is generated from the same table as the `?` overlay
//! (`src/tui/keymap.rs`). This test holds it to that, both ways: every key the table lists for a
//! context is bound there, and every key bound in a context (including the Ctrl keys `lookup`
//! handles before the table) is listed for it.

use std::collections::BTreeSet;

use faultline::tui::keymap::{BINDINGS, Ctx, lookup};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// One key: its code and whether Ctrl is held.
type Key = (KeyCode, bool);

/// The context a "where" cell names.
fn ctx(cell: &str, line: usize) -> Ctx {
    match cell {
        "everywhere" => Ctx::Global,
        "lists" => Ctx::Lists,
        "dependencies" => Ctx::Dependencies,
        "traces" => Ctx::Traces,
        "waterfall" => Ctx::Waterfall,
        "review" => Ctx::Review,
        "alerts" => Ctx::Alerts,
        "logs" => Ctx::Logs,
        "service map" => Ctx::Map,
        other => panic!("docs/tui.md line {line}: unknown context {other:?} in the key table"),
    }
}

/// The key a token of a "keys" cell names.
fn key(token: &str, line: usize) -> Key {
    let named = match token {
        "tab" => Some(KeyCode::Tab),
        "S-tab" => Some(KeyCode::BackTab),
        "esc" => Some(KeyCode::Esc),
        "backspace" => Some(KeyCode::Backspace),
        "enter" => Some(KeyCode::Enter),
        "space" => Some(KeyCode::Char(' ')),
        "PgUp" => Some(KeyCode::PageUp),
        "PgDn" => Some(KeyCode::PageDown),
        "Home" => Some(KeyCode::Home),
        "End" => Some(KeyCode::End),
        "↑" => Some(KeyCode::Up),
        "↓" => Some(KeyCode::Down),
        "←" => Some(KeyCode::Left),
        "→" => Some(KeyCode::Right),
        _ => None,
    };
    if let Some(code) = named {
        return (code, false);
    }
    if let Some(c) = token.strip_prefix("ctrl-")
        && let [ch] = c.chars().collect::<Vec<_>>()[..]
    {
        return (KeyCode::Char(ch), true);
    }
    match token.chars().collect::<Vec<_>>()[..] {
        [ch] => (KeyCode::Char(ch), false),
        _ => panic!("docs/tui.md line {line}: unknown key {token:?} in the key table"),
    }
}

/// The keys of a "keys" cell: backticked tokens are keys (`/` too); outside backticks, words are
/// keys and `/` and `,` separate alternatives.
fn keys(cell: &str, line: usize) -> Vec<Key> {
    let mut out = Vec::new();
    for (i, part) in cell.split('`').enumerate() {
        let tokens: Vec<&str> = if i % 2 == 1 {
            part.split_whitespace().collect()
        } else {
            part.split(|c: char| c.is_whitespace() || c == ',' || c == '/')
                .filter(|t| !t.is_empty())
                .collect()
        };
        out.extend(tokens.into_iter().map(|t| key(t, line)));
    }
    out
}

/// (context, key) pairs of the table under `## Keys` in docs/tui.md.
fn documented() -> BTreeSet<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/tui.md");
    let text = std::fs::read_to_string(path).expect("read docs/tui.md");
    let mut in_keys = false;
    let mut rows = 0;
    let mut out = BTreeSet::new();
    for (n, l) in text.lines().enumerate() {
        if l.starts_with("## ") {
            in_keys = l.trim() == "## Keys";
            continue;
        }
        if !in_keys || !l.starts_with('|') {
            continue;
        }
        let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(
            cells.len(),
            3,
            "docs/tui.md line {}: a key table row has keys | where | does",
            n + 1
        );
        if cells[0] == "keys" || cells[0].starts_with("---") {
            continue;
        }
        rows += 1;
        let c = ctx(cells[1], n + 1);
        for k in keys(cells[0], n + 1) {
            out.insert(pair(c, k));
        }
    }
    assert!(rows > 5, "no key table under `## Keys` in docs/tui.md");
    out
}

fn pair(c: Ctx, (code, ctrl): Key) -> (String, String) {
    let k = if ctrl {
        format!("ctrl-{code:?}")
    } else {
        format!("{code:?}")
    };
    (format!("{c:?}"), k)
}

/// (context, key) pairs the key map binds: the table, and the Ctrl keys `lookup` answers.
fn bound() -> BTreeSet<(String, String)> {
    let mut out: BTreeSet<_> = BINDINGS
        .iter()
        .flat_map(|b| b.keys.iter().map(|k| pair(b.ctx, (*k, false))))
        .collect();
    for ch in ('a'..='z').chain('0'..='9') {
        let ev = KeyEvent::new(KeyCode::Char(ch), KeyModifiers::CONTROL);
        if lookup(ev, &[Ctx::Global]).is_some() {
            out.insert(pair(Ctx::Global, (KeyCode::Char(ch), true)));
        }
    }
    out
}

#[test]
fn docs_key_table_matches_the_key_map() {
    let (docs, map) = (documented(), bound());
    let missing: Vec<_> = map.difference(&docs).collect();
    let extra: Vec<_> = docs.difference(&map).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/tui.md's key table drifted from src/tui/keymap.rs\n  \
         bound but not documented (context, key): {missing:?}\n  \
         documented but not bound there: {extra:?}"
    );
}

#[test]
fn the_parser_reads_every_shape_of_keys_cell() {
    let k = |s: &str| keys(s, 0);
    assert_eq!(
        k("`j` `k` / `↓` `↑`, PgUp PgDn, Home End `G`"),
        vec![
            (KeyCode::Char('j'), false),
            (KeyCode::Char('k'), false),
            (KeyCode::Down, false),
            (KeyCode::Up, false),
            (KeyCode::PageUp, false),
            (KeyCode::PageDown, false),
            (KeyCode::Home, false),
            (KeyCode::End, false),
            (KeyCode::Char('G'), false),
        ]
    );
    assert_eq!(
        k("`/`, `q`, `ctrl-c`"),
        vec![
            (KeyCode::Char('/'), false),
            (KeyCode::Char('q'), false),
            (KeyCode::Char('c'), true)
        ]
    );
}
