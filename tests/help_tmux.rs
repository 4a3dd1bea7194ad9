//! The `?` help overlay on the real binary in tmux at 80×24 (`faultline demo`): it fits the
//! screen (its border and title on screen), scrolls with PgDn / End, and across its pages shows
//! every binding of the key table (`keymap::help_sections`) whole — long help wrapped, never
//! cut — then `esc` closes it.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use common::FAULTLINE as BIN;
use common::tmux::Session;

const WAIT: Duration = Duration::from_secs(30);

/// The lines the overlay shows (first, last, of how many), from its title.
type Range = (usize, usize, usize);

/// The overlay of a screen: its range, and its inner lines.
fn overlay(screen: &str) -> Option<(Range, Vec<Vec<char>>)> {
    let lines: Vec<&str> = screen.lines().collect();
    let top = lines.iter().position(|l| l.contains("┌ Keys"))?;
    let title = lines[top];
    let bottom = top + lines[top..].iter().position(|l| l.contains('└'))?;
    let left = title.chars().position(|c| c == '┌')?;
    let inner: Vec<Vec<char>> = lines[top + 1..bottom]
        .iter()
        .map(|l| {
            let cs: Vec<char> = l.chars().collect();
            let right = cs.iter().rposition(|&c| c == '│').unwrap_or(cs.len());
            cs.get(left + 1..right)
                .map(<[char]>::to_vec)
                .unwrap_or_default()
        })
        .collect();
    let range = if title.contains("esc closes") && title.contains(" of ") {
        // " Keys a–b of t · ..."
        let nums: Vec<usize> = title
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .filter_map(|n| n.parse().ok())
            .collect();
        (nums[0], nums[1], nums[2])
    } else {
        (1, inner.len(), inner.len())
    };
    Some((range, inner))
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn help_overlay_fits_80x24_and_scrolls_through_every_binding() {
    let log = std::env::temp_dir().join(format!("faultline-help-{}.log", std::process::id()));
    let s = Session::start(
        "help",
        &format!(
            "{BIN} demo --otlp-grpc 127.0.0.1:0 --otlp-http 127.0.0.1:0 --log-file {}",
            log.display()
        ),
    );
    let st = Command::new("tmux")
        .args(["resize-window", "-t", &s.name, "-x", "80", "-y", "24"])
        .status()
        .expect("tmux resize-window");
    assert!(st.success(), "tmux resize-window");
    s.wait("the dashboard at 80×24", WAIT, |t| {
        t.contains("1 Deps") && t.lines().count() <= 24
    });
    s.text("?");
    let first = s.wait("the overlay", WAIT, |t| overlay(t).is_some());
    let ((a, b, total), _) = overlay(&first).expect("overlay");
    assert_eq!(a, 1, "{first}");
    assert!(b < total, "at 80×24 the keys do not fit one page:\n{first}");
    assert!(first.contains("j k scroll"), "{first}");
    // Page through, keeping every line by its number (the last page may overlap).
    let mut cols: [BTreeMap<usize, String>; 2] = Default::default();
    let mut screen = first;
    for _ in 0..20 {
        let ((a, b, total), inner) = overlay(&screen).expect("overlay");
        for (i, l) in inner.iter().enumerate() {
            let half = l.len() / 2;
            cols[0].insert(a + i, l[..half].iter().collect());
            cols[1].insert(a + i, l[half..].iter().collect());
        }
        if b >= total {
            break;
        }
        s.keys(&["NPage"]);
        screen = s.wait("the next page", WAIT, |t| {
            overlay(t).is_some_and(|((a2, _, _), _)| a2 > a)
        });
    }
    let text = cols
        .iter()
        .map(|c| c.values().cloned().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" ");
    let text = norm(&text);
    for (title, keys) in faultline::tui::keymap::help_sections() {
        assert!(text.contains(title), "section {title} missing:\n{text}");
        for (k, h) in keys {
            assert!(
                text.contains(&norm(&format!("{k} {h}"))),
                "{k}: {h:?} not shown whole:\n{text}"
            );
        }
    }
    // Home goes back to the top, End to the bottom; esc closes.
    s.keys(&["Home"]);
    s.wait("the first page", WAIT, |t| {
        overlay(t).is_some_and(|((a, _, _), _)| a == 1)
    });
    s.keys(&["End"]);
    s.wait("the last page", WAIT, |t| {
        overlay(t).is_some_and(|((_, b, total), _)| b == total)
    });
    s.keys(&["Escape"]);
    s.wait("the overlay closed", WAIT, |t| overlay(t).is_none());
    s.quit();
    let _ = std::fs::remove_file(&log);
}
