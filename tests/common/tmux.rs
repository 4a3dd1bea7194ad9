//! The real `faultline` binary in a real terminal: a tmux session of 160×48 driven with
//! `send-keys` and read with `capture-pane`. Every wait polls the screen up to a deadline; a
//! missing tmux fails the test with the install hint (it never skips).

use std::process::Command;
use std::time::{Duration, Instant};

/// Panics with the install hint unless tmux runs.
pub fn require_tmux() {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tmux is not installed: run scripts/test-deps.sh (it apt-get installs tmux)"
    );
}

/// A tmux session (160×48) running one shell command, killed when dropped. The pane stays after
/// the command exits (it prints `FAULTLINE-EXITED-<status>`), so a test can read what it left.
pub struct Session {
    /// The session name.
    pub name: String,
}

impl Session {
    /// Starts `cmd` in a new session named after `tag` and this process.
    pub fn start(tag: &str, cmd: &str) -> Session {
        require_tmux();
        let name = format!("faultline-{tag}-{}", std::process::id());
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &name])
            .output();
        let script = format!("{cmd}; echo FAULTLINE-EXITED-$?; sleep 60");
        let st = Command::new("tmux")
            .args(["new-session", "-d", "-s", &name, "-x", "160", "-y", "48"])
            .arg(script)
            .env("TERM", "xterm-256color")
            .status()
            .expect("tmux new-session");
        assert!(st.success(), "tmux new-session failed");
        Session { name }
    }

    /// The visible screen.
    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends tmux key names (`Enter`, `Escape`, `Down`, ...), one at a time.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            let st = Command::new("tmux")
                .args(["send-keys", "-t", &self.name, k])
                .status()
                .expect("send-keys");
            assert!(st.success(), "send-keys {k}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types `text` literally.
    pub fn text(&self, text: &str) {
        let st = Command::new("tmux")
            .args(["send-keys", "-t", &self.name, "-l", text])
            .status()
            .expect("send-keys");
        assert!(st.success(), "send-keys -l {text}");
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Polls the screen until `pred` holds, up to `timeout`; panics with the screen.
    pub fn wait(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Polls the screen until `pred` holds, up to `timeout`; `None` if it never did.
    pub fn poll(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.screen();
            if pred(&s) {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Whether the alternate screen is on (the dashboard is up).
    pub fn alternate_screen(&self) -> bool {
        let out = Command::new("tmux")
            .args(["display-message", "-p", "-t", &self.name, "#{alternate_on}"])
            .output()
            .expect("display-message");
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// Quits with `q` and checks faultline exited 0 and left the alternate screen.
    pub fn quit(&self) {
        self.keys(&["q"]);
        let s = self.wait("faultline to exit", Duration::from_secs(20), |s| {
            s.contains("FAULTLINE-EXITED-")
        });
        assert!(s.contains("FAULTLINE-EXITED-0"), "exit status:\n{s}");
        assert!(!self.alternate_screen(), "alternate screen left");
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .output();
    }
}

/// The cells of the dependencies-table row for `caller → dependency` on a screen (split on
/// whitespace, the table's borders dropped), if the row is there. Only rows inside the table's
/// border count: the header's alert banner names a `caller → dependency` too.
pub fn dep_row(screen: &str, caller: &str, dependency: &str) -> Option<Vec<String>> {
    let edge = format!("│{caller} → {dependency} ");
    screen.lines().find(|l| l.starts_with(&edge)).map(|l| {
        l.split_whitespace()
            .map(|c| c.trim_matches('│').to_owned())
            .filter(|c| !c.is_empty())
            .collect()
    })
}
