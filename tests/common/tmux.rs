//! The real binary in a real terminal (tmux): start it, send keys, read the screen,
//! kill it. Waits for the screen to settle instead of sleeping blindly.
#![allow(dead_code, clippy::unwrap_used)]

use super::Sandbox;
use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    pub socket: String,
    pub session: String,
}

impl Tmux {
    pub fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    pub fn start(s: &Sandbox, name: &str) -> Tmux {
        Tmux::start_with(s, name, &[("VERDICT_RATER", Some("e2e-rater"))])
    }

    /// Starts the workstation with these environment variables set (Some) or unset (None)
    /// besides the sandbox's directories.
    pub fn start_with(s: &Sandbox, name: &str, vars: &[(&str, Option<&str>)]) -> Tmux {
        let t = Tmux {
            socket: format!("verdict-e2e-{}-{name}", std::process::id()),
            session: "v".into(),
        };
        let bin = assert_cmd::cargo::cargo_bin("verdict");
        let vars: String = vars
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}='{v}' "),
                None => format!("-u {k} "),
            })
            .collect();
        let script = format!(
            "exec env -u NO_COLOR -u VERDICT_RATER {vars}VERDICT_DATA_DIR='{}' VERDICT_CONFIG_DIR='{}' TERM=xterm-256color '{}'",
            s.data().display(),
            s.config().display(),
            bin.display()
        );
        let ok = t
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                &t.session,
                "-x",
                "120",
                "-y",
                "40",
                &script,
            ])
            .status()
            .expect("tmux is needed for the end-to-end test: apt-get install tmux");
        assert!(ok.success());
        t.cmd()
            .args(["set-option", "-t", &t.session, "remain-on-exit", "on"])
            .status()
            .unwrap();
        t
    }

    pub fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-S", "-100", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen with its colours and attributes (as escape sequences).
    pub fn screen_styled(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-e", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text` (the screen settles; no blind sleeps).
    pub fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            if start.elapsed() > Duration::from_secs(15) {
                panic!("timed out waiting for {text:?}; the screen shows:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// Sends one key, named as in the keymap, and gives the program a moment.
    pub fn key(&self, name: &str) {
        self.key_now(name);
        std::thread::sleep(Duration::from_millis(60));
    }

    /// Sends one key and returns at once (for a kill right behind it).
    pub fn key_now(&self, name: &str) {
        let mut c = self.cmd();
        c.args(["send-keys", "-t", &self.session]);
        match tmux_key(name) {
            Some(k) => c.arg(k),
            None => c.args(["-l", name]),
        };
        assert!(c.status().unwrap().success());
    }

    /// Types literal text.
    pub fn text(&self, s: &str) {
        assert!(
            self.cmd()
                .args(["send-keys", "-t", &self.session, "-l", s])
                .status()
                .unwrap()
                .success()
        );
        std::thread::sleep(Duration::from_millis(60));
    }

    pub fn resize(&self, w: u16, h: u16) {
        let ok = self
            .cmd()
            .args([
                "resize-window",
                "-t",
                &self.session,
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
            ])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    pub fn pane_pid(&self) -> String {
        let out = self
            .cmd()
            .args(["display-message", "-p", "-t", &self.session, "#{pane_pid}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// A keymap key name as tmux's send-keys names it (None: send it literally).
pub fn tmux_key(name: &str) -> Option<String> {
    let (prefix, rest) = if let Some(r) = name.strip_prefix("ctrl-") {
        ("C-", r)
    } else if let Some(r) = name.strip_prefix("alt-") {
        ("M-", r)
    } else {
        ("", name)
    };
    let named = match rest {
        "enter" => "Enter",
        "space" => "Space",
        "esc" => "Escape",
        "tab" => "Tab",
        "backtab" => "BTab",
        "up" => "Up",
        "down" => "Down",
        "left" => "Left",
        "right" => "Right",
        "pageup" => "PPage",
        "pagedown" => "NPage",
        "home" => "Home",
        "end" => "End",
        "backspace" => "BSpace",
        f if f.starts_with('f') && f.len() > 1 && f[1..].parse::<u8>().is_ok() => {
            return Some(format!("{prefix}F{}", &f[1..]));
        }
        _ if prefix.is_empty() => return None,
        other => other,
    };
    Some(format!("{prefix}{named}"))
}

/// action -> its first key, from `verdict keys`.
pub fn keys(s: &Sandbox) -> HashMap<String, String> {
    let text = s.ok(&["keys"]);
    let table: toml::Table = toml::from_str(&text).unwrap();
    table
        .into_iter()
        .map(|(action, v)| (action, v["keys"][0].as_str().unwrap().to_string()))
        .collect()
}
