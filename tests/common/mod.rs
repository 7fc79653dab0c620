//! Helpers shared by the integration tests: a sandbox with its own data and config
//! directories, so no test touches $HOME, and the real binary run inside it.
#![allow(dead_code, clippy::unwrap_used)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};

pub mod http;
pub mod hubdb;
pub mod tmux;

/// Waits (up to 30 s) until a killed process has ended: a process killed inside a system
/// call finishes it first, and its open files stay open until then.
pub fn wait_until_gone(pid: u32) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while verdict::store::lock::alive(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "process {pid} still runs 30 s after SIGKILL"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A throwaway data + config directory pair.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the sandbox and returns its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// The real `verdict` binary with this sandbox's directories.
    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("verdict").unwrap();
        c.env("VERDICT_DATA_DIR", self.data())
            .env("VERDICT_CONFIG_DIR", self.config())
            .env("VERDICT_RATER", "test-rater")
            .env_remove("VERDICT_PASSPHRASE");
        c
    }

    /// Runs verdict with these arguments and returns (success, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = self.cmd().args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs verdict and insists it succeeds; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "verdict {args:?} failed:\n{out}\n{err}");
        out
    }

    /// Runs verdict and insists it fails; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(!ok, "verdict {args:?} should have failed:\n{out}\n{err}");
        err
    }

    /// The workstation on this sandbox's cache, in this process (160x45, default keys).
    pub fn workstation(&self) -> verdict::tui::app::App {
        verdict::tui::app::App::new(
            verdict::store::Store::open(&self.data()).unwrap(),
            verdict::tui::keymap::Keymap::load(None).unwrap(),
            verdict::tui::state::Settings::default(),
            (160, 45),
        )
        .unwrap()
    }

    /// Runs `verdict export`, insists it wrote `n` records, and returns the bundle's text.
    pub fn export_records(&self, n: usize) -> String {
        let out = self.ok(&["export"]);
        let prefix = format!("Wrote {n} record{} to ", if n == 1 { "" } else { "s" });
        let path = out
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("{out}"));
        std::fs::read_to_string(path).unwrap()
    }

    /// `verdict status --json` as JSON.
    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).unwrap()
    }

    /// The status row of one batch.
    pub fn batch_status(&self, batch: &str) -> Option<serde_json::Value> {
        self.status()["batches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["batch"] == batch)
            .cloned()
    }

    /// Everything in the cache's tables, as text, to compare before and after a failure.
    pub fn dump(&self) -> String {
        let path = self.data().join("cache.sqlite3");
        if !path.exists() {
            return "<no cache>".into();
        }
        let c = rusqlite::Connection::open(&path).unwrap();
        let mut out = String::new();
        for table in [
            "schemas",
            "batches",
            "items",
            "annotations",
            "answers",
            "events",
            "bundles",
            "images",
        ] {
            let mut stmt = c
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
                .unwrap();
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    let mut s = String::new();
                    for i in 0..n {
                        let v: rusqlite::types::Value = r.get(i)?;
                        s.push_str(&format!("{v:?}|"));
                    }
                    Ok(s)
                })
                .unwrap();
            for r in rows {
                out.push_str(table);
                out.push(':');
                out.push_str(&r.unwrap());
                out.push('\n');
            }
        }
        out
    }
}

/// The repository's fixture folder.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The shared public data (../shared/data beside the repository).
pub fn shared_data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel)
}

/// The audit invariant: for every item, the value each field has after the last event
/// that touched it (do, undo or redo all record the value they leave in `new`) is the
/// value stored now, and an item without events holds no work. Returns what differs
/// (empty when the log and the state agree), and checks SQLite's own integrity.
pub fn log_disagrees_with_state(data: &Path) -> Vec<String> {
    use std::collections::BTreeMap;
    let c = rusqlite::Connection::open(data.join("cache.sqlite3")).unwrap();
    let integrity: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    let mut problems = Vec::new();
    if integrity != "ok" {
        problems.push(format!("integrity_check: {integrity}"));
    }
    // (item, field) -> value after the last event.
    let mut logged: BTreeMap<(i64, String), Option<String>> = BTreeMap::new();
    let mut stmt = c
        .prepare("SELECT item, field, new FROM events ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    for row in rows {
        let (item, field, new): (i64, String, Option<String>) = row.unwrap();
        logged.insert((item, field), new);
    }
    let text = |s: Option<String>| s.map(|s| serde_json::Value::String(s).to_string());
    let mut stored: BTreeMap<(i64, String), Option<String>> = BTreeMap::new();
    let mut stmt = c
        .prepare("SELECT item, status, justification, skip_reason, flag_reason, flag_note FROM annotations")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .unwrap();
    for row in rows {
        let (item, status, justification, skip, flag, note) = row.unwrap();
        stored.insert((item, "status".into()), text(Some(status)));
        stored.insert((item, "justification".into()), text(Some(justification)));
        stored.insert((item, "skip_reason".into()), text(skip));
        stored.insert(
            (item, "flag".into()),
            flag.map(|r| {
                serde_json::json!({"reason": r, "note": note.unwrap_or_default()}).to_string()
            }),
        );
    }
    let mut stmt = c
        .prepare("SELECT item, question, value FROM answers")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    for row in rows {
        let (item, q, v): (i64, String, String) = row.unwrap();
        stored.insert((item, format!("answer:{q}")), Some(v));
    }
    // What a field holds when no event ever touched it.
    let initial = |field: &str| -> Option<String> {
        match field {
            "status" => text(Some("draft".into())),
            "justification" => text(Some(String::new())),
            _ => None,
        }
    };
    let mut keys: Vec<&(i64, String)> = logged.keys().chain(stored.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let want = logged.get(k).cloned().unwrap_or_else(|| initial(&k.1));
        let have = stored.get(k).cloned().unwrap_or_else(|| initial(&k.1));
        // JSON text of answers may differ in spacing only if written by different code.
        let norm = |v: &Option<String>| {
            v.as_deref()
                .map(|s| serde_json::from_str::<serde_json::Value>(s).unwrap_or_default())
        };
        if norm(&want) != norm(&have) {
            problems.push(format!(
                "item #{} {}: the log says {want:?}, the cache holds {have:?}",
                k.0, k.1
            ));
        }
    }
    problems
}

/// Bytes of output a terminal would act on: C0 controls other than newline and tab, DEL,
/// C1 controls, bidi overrides.
pub fn terminal_unsafe(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| *c != '\n' && *c != '\t' && verdict::safe::is_unsafe(*c))
        .collect()
}

/// A PNG of four coloured quadrants (red, green / blue, white), `w` by `h` pixels, with a
/// `seed` in the last pixel so that two seeds are two different images.
pub fn quadrants_png(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        if x == w - 1 && y == h - 1 {
            return image::Rgb([seed, seed, seed]);
        }
        match (x < w / 2, y < h / 2) {
            (true, true) => image::Rgb([255, 0, 0]),
            (false, true) => image::Rgb([0, 255, 0]),
            (true, false) => image::Rgb([0, 0, 255]),
            (false, false) => image::Rgb([255, 255, 255]),
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// The same picture as a JPEG.
pub fn quadrants_jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::DynamicImage::ImageRgb8(
        image::load_from_memory(&quadrants_png(w, h, 0))
            .unwrap()
            .to_rgb8(),
    );
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// Draws the workstation at a size into a buffer, with the clock frozen so that snapshots
/// are stable.
pub fn frozen_frame(app: &mut verdict::tui::app::App, w: u16, h: u16) -> ratatui::buffer::Buffer {
    let s = &mut app.state;
    s.now_ms = 1_000_000;
    s.active_since_ms = 1_000_000;
    s.session.started_ms = 1_000_000 - 3_600_000;
    s.size = (w, h);
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| app.draw(f)).unwrap();
    t.backend().buffer().clone()
}
