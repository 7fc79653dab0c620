//! Helpers shared by the integration tests: a sandbox with its own data and config
//! directories, so no test touches $HOME, and the real binary run inside it.
#![allow(dead_code, clippy::unwrap_used)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};

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
