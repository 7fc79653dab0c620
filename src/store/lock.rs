//! Writing while other processes write: every write is one `BEGIN IMMEDIATE`
//! transaction (so the reads that decide it see what it changes), and a writer that has
//! to wait says so in plain words and keeps waiting while the holder is alive.
//!
//! Long writers (a pull, an export, a migration) announce what they do in a small file
//! beside the cache (`.busy-<pid>.json`); a waiting process reads it to say "waiting for
//! another verdict process: pull of X (pid N)" and to know that the holder is still
//! alive. An unannounced holder (a `sqlite3` shell, say) is waited for up to
//! [`unannounced_wait`] (60 s, or `VERDICT_LOCK_TIMEOUT` seconds), then the write fails
//! with a message saying so.

use rusqlite::{Connection, ErrorCode};
use serde::{Deserialize, Serialize};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long one attempt to take the write lock waits inside SQLite before this module
/// looks at who holds it.
pub const ATTEMPT: Duration = Duration::from_millis(200);
/// The environment variable that sets [`unannounced_wait`], in seconds.
pub const TIMEOUT_ENV: &str = "VERDICT_LOCK_TIMEOUT";

/// How long to wait for a lock holder that did not say who it is: 60 s, or
/// `VERDICT_LOCK_TIMEOUT` seconds.
pub fn unannounced_wait() -> Duration {
    std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(60), Duration::from_secs)
}

/// Told when a write starts waiting (`Some(what we wait for)`, again when that changes)
/// and when the wait is over (`None`).
pub type Waiter = Box<dyn FnMut(Option<&str>)>;

/// The default waiter of command-line tools: one line on stderr when the wait starts
/// or changes, and one when it ends.
pub fn stderr_waiter() -> Waiter {
    let mut waiting = false;
    Box::new(move |what| match what {
        Some(w) => {
            waiting = true;
            crate::errln!("{w}");
        }
        None if waiting => {
            waiting = false;
            crate::errln!("... the other process is done; going on.");
        }
        None => {}
    })
}

/// An open `BEGIN IMMEDIATE` transaction: commit it, or it rolls back when dropped.
pub struct Tx<'a> {
    conn: &'a Connection,
    open: bool,
}

impl Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Tx<'_> {
    /// Commits.
    pub fn commit(mut self) -> rusqlite::Result<()> {
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// True for SQLite's "the database is locked/busy".
pub fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked)
    )
}

/// Why a write gave up waiting.
#[derive(Debug)]
pub enum BeginError {
    /// Not a lock problem.
    Sqlite(rusqlite::Error),
    /// An unannounced holder kept the lock longer than [`unannounced_wait`].
    TooLong(Duration),
}

/// Takes the write lock (`BEGIN IMMEDIATE`), waiting as long as a live verdict process
/// that announced itself holds it, and telling `waiter` what it waits for.
pub fn begin<'a>(
    conn: &'a Connection,
    dir: &Path,
    waiter: &mut Waiter,
) -> Result<Tx<'a>, BeginError> {
    let mut started: Option<Instant> = None;
    let mut unannounced_since: Option<Instant> = None;
    let mut told: Option<String> = None;
    let limit = unannounced_wait();
    loop {
        match conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => break,
            Err(e) if is_busy(&e) => {
                let now = Instant::now();
                started.get_or_insert(now);
                let me = std::process::id();
                let holders: Vec<Announcement> = live_announcements(dir)
                    .into_iter()
                    .filter(|a| a.pid != me)
                    .collect();
                let what = match holders.first() {
                    Some(a) => {
                        unannounced_since = None;
                        format!(
                            "waiting for another verdict process: {} (pid {})...",
                            a.what, a.pid
                        )
                    }
                    None => {
                        let since = *unannounced_since.get_or_insert(now);
                        if now.duration_since(since) >= limit {
                            if told.is_some() {
                                waiter(None);
                            }
                            return Err(BeginError::TooLong(now.duration_since(since)));
                        }
                        "waiting for another process that is writing to the cache...".to_string()
                    }
                };
                if told.as_deref() != Some(what.as_str()) {
                    waiter(Some(&what));
                    told = Some(what);
                }
            }
            Err(e) => return Err(BeginError::Sqlite(e)),
        }
    }
    if told.is_some() {
        waiter(None);
    }
    Ok(Tx { conn, open: true })
}

/// What a long writer announces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// Its process id.
    pub pid: u32,
    /// The process, as [`me`] names it (so that a reused process id is not mistaken
    /// for it).
    #[serde(default)]
    pub owner: String,
    /// What it does, in words ("pull of batch X").
    pub what: String,
    /// Since when (unix ms).
    pub since: i64,
}

/// Removes its announcement when dropped.
#[derive(Debug)]
pub struct Announced {
    path: Option<PathBuf>,
}

impl Drop for Announced {
    fn drop(&mut self) {
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn announcement_path(dir: &Path, pid: u32, n: u64) -> PathBuf {
    dir.join(format!(".busy-{pid}-{n}.json"))
}

/// Announces (best effort) that this process is about to hold the write lock for a while.
pub fn announce(dir: &Path, what: &str) -> Announced {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let pid = std::process::id();
    let a = Announcement {
        pid,
        owner: me(),
        what: what.to_string(),
        since: crate::clock::now_ms(),
    };
    let path = announcement_path(dir, pid, n);
    let ok = serde_json::to_vec(&a)
        .ok()
        .is_some_and(|b| crate::private::write_atomically(&path, &b).is_ok());
    Announced {
        path: ok.then_some(path),
    }
}

/// Announcements of processes that are alive (stale ones, of killed processes, are
/// removed), oldest first.
pub fn live_announcements(dir: &Path) -> Vec<Announcement> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(".busy-") && name.ends_with(".json")) {
            continue;
        }
        let Some(a) = std::fs::read(e.path())
            .ok()
            .and_then(|b| serde_json::from_slice::<Announcement>(&b).ok())
        else {
            continue;
        };
        let live = if a.owner.is_empty() {
            alive(a.pid)
        } else {
            owner_alive(&a.owner)
        };
        if live {
            out.push(a);
        } else {
            let _ = std::fs::remove_file(e.path());
        }
    }
    out.sort_by_key(|a| a.since);
    out
}

/// When a process started (clock ticks since boot, from /proc), so that a process id
/// reused by a later process is not taken for the one that wrote down its id.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22; the command name (field 2) is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// This process, as [`alive`] recognises it: `pid:start`.
pub fn me() -> String {
    let pid = std::process::id();
    format!("{pid}:{}", process_start(pid).unwrap_or(0))
}

/// Whether the process a [`me`] token names is still running (the same process, not a
/// later one with the same id). A bare process id is checked by id only.
pub fn owner_alive(token: &str) -> bool {
    let (pid, start) = match token.split_once(':') {
        Some((p, s)) => (p.parse::<u32>().ok(), s.parse::<u64>().ok()),
        None => (token.parse::<u32>().ok(), None),
    };
    let Some(pid) = pid else { return false };
    if !alive(pid) {
        return false;
    }
    match (start, process_start(pid)) {
        (Some(want), Some(have)) if want != 0 => want == have,
        _ => true,
    }
}

/// Whether the process has ended and waits only to be reaped (Linux: state Z or X).
fn exited(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = stat.get(stat.rfind(')')? + 1..)?.to_string();
            after
                .split_whitespace()
                .next()
                .map(|s| s == "Z" || s == "X")
        })
        .unwrap_or(false)
}

/// Whether a process with this id exists (and has not ended).
pub fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists and may be signalled.
        let r = unsafe { libc::kill(pid, 0) };
        let exists = r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        // A process killed but not yet reaped by its parent (a zombie) still answers
        // signal 0, but it has ended: its drafts and notes are orphans.
        exists && !exited(pid as u32)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_process_that_ended_is_not_alive_even_before_it_is_reaped() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        let start = process_start(pid);
        // Not reaped yet: a zombie, which still answers signal 0.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !exited(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(exited(pid), "the child should have ended");
        assert!(!alive(pid));
        if let Some(start) = start {
            assert!(!owner_alive(&format!("{pid}:{start}")));
        }
        let _ = child.wait();
        assert!(alive(std::process::id()));
        assert!(owner_alive(&me()));
    }
}
