//! The local cache: one SQLite file in the data directory (WAL mode, numbered migrations).
//! Only this module and its children speak SQL; nothing here knows the UI.

mod annotate;
mod guidelines;
mod history;
mod import;
pub mod lock;
mod migrations;
mod queue;
mod report;

pub use annotate::{Act, Annotation, Event, StoredItem};
pub use guidelines::GuidelineChange;
pub use history::Reverted;
pub use import::ImportReport;
pub use lock::{Announced, Waiter};
pub use migrations::MIGRATIONS;
pub use queue::{QueueEntry, SearchHits};
pub use report::{BatchStatus, ExportSet, PendingRecord, Written};

use crate::batch::BatchError;
use crate::model::Schema;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The cache file's name inside the data directory.
pub const CACHE_FILE: &str = "cache.sqlite3";

/// What can go wrong with the cache.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory cannot be created or written.
    #[error(
        "cannot use the data directory {path}: {reason}; choose another with --data-dir or VERDICT_DATA_DIR"
    )]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The cache was written by a newer verdict.
    #[error(
        "the cache {path} was written by a newer verdict (cache version {found}; this verdict knows up to {known}); upgrade verdict, or use another --data-dir. The cache was not changed"
    )]
    Newer {
        /// The cache file.
        path: PathBuf,
        /// Its user_version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// The disk is full.
    #[error(
        "the disk holding {path} is full; nothing of this change was saved. Free some space and try again"
    )]
    DiskFull {
        /// The cache file.
        path: PathBuf,
    },
    /// The cache (or its directory) is read-only.
    #[error(
        "the cache {path} is read-only (or its folder is); nothing was changed. Make it writable, or choose another --data-dir"
    )]
    ReadOnly {
        /// The cache file.
        path: PathBuf,
    },
    /// The file is not a verdict cache.
    #[error(
        "{path} is not a verdict cache (not an SQLite database); move it away or choose another --data-dir"
    )]
    NotACache {
        /// The file.
        path: PathBuf,
    },
    /// A batch file is malformed.
    #[error("{0}\nNothing of this batch was imported.")]
    Batch(BatchError),
    /// A re-pulled item's content differs from the cached one.
    #[error(
        "{file}:{line}: item '{item}' of batch '{batch}' changed since it was pulled (content sha256 {old} is now {new}). verdict never overwrites an item: give the changed item a new id, or publish it as a new batch. Nothing of this batch was imported."
    )]
    ItemChanged {
        /// Batch file.
        file: PathBuf,
        /// Line of the item.
        line: u64,
        /// Batch id.
        batch: String,
        /// Item id.
        item: String,
        /// Cached hash.
        old: String,
        /// New hash.
        new: String,
    },
    /// A re-pulled batch names another schema.
    #[error(
        "batch '{batch}' was pulled with schema {old_id} ({old}); this file names {new_id} ({new}). A batch keeps its schema: publish the new schema under a new batch id. Nothing was imported."
    )]
    SchemaChanged {
        /// Batch id.
        batch: String,
        /// Cached schema id.
        old_id: String,
        /// Cached schema hash.
        old: String,
        /// New schema id.
        new_id: String,
        /// New schema hash.
        new: String,
    },
    /// No such item.
    #[error("no item '{0}' in the cache{1}")]
    NoItem(String, String),
    /// Several items answer to what was given (an id in several batches, or `B/X` that
    /// is both item X of batch B and an item whose id is literally `B/X`).
    #[error("'{0}' names more than one item; name one with: {1}")]
    Ambiguous(String, String),
    /// A write the schema forbids.
    #[error("{0}")]
    Refused(String),
    /// Submit refused: the schema's rules are not met.
    #[error("cannot submit item '{item}': {}", problems.join("; "))]
    Incomplete {
        /// Item id.
        item: String,
        /// What is missing.
        problems: Vec<String>,
    },
    /// The item changed since the writer showed it: another process wrote to it.
    #[error(
        "item '{item}' was changed by another verdict process since it was shown (it is now {status}, revision {revision}); nothing was written"
    )]
    Changed {
        /// Item id.
        item: String,
        /// Its status now.
        status: crate::model::Status,
        /// Its revision now.
        revision: i64,
    },
    /// Another program held the cache's write lock too long.
    #[error(
        "the cache {path} has been locked for {secs} s by another program that is not a verdict command saying what it does (a sqlite3 shell with an open transaction?); close it and try again, or wait longer with VERDICT_LOCK_TIMEOUT=SECONDS. Nothing was changed"
    )]
    Locked {
        /// The cache file.
        path: PathBuf,
        /// Seconds waited.
        secs: u64,
    },
    /// Any other SQLite error.
    #[error("cache {path}: {source}")]
    Sqlite {
        /// The cache file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
}

/// The cache.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    dir: PathBuf,
    schemas: HashMap<String, Arc<Schema>>,
    waiter: Waiter,
    source: &'static str,
    /// The action id the last write took for an [`Act`] without one.
    taken: Option<i64>,
}

impl Store {
    /// Opens (creating and migrating as needed) the cache in `data_dir`. Safe to run from
    /// several processes at once on a data dir with no cache yet.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let dir_err = |e: std::io::Error| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            reason: e.to_string(),
        };
        crate::private::create_dir(data_dir).map_err(dir_err)?;
        crate::private::tighten(data_dir, true);
        let path = data_dir.join(CACHE_FILE);
        // A private file before SQLite opens it: its -wal and -shm files take its mode.
        match crate::private::touch(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(classify(
                    &path,
                    rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                        None,
                    ),
                ));
            }
            Err(e) => return Err(dir_err(e)),
        }
        for suffix in ["-wal", "-shm"] {
            let mut p = path.as_os_str().to_os_string();
            p.push(suffix);
            crate::private::tighten(Path::new(&p), false);
        }
        let conn = Connection::open(&path).map_err(|e| classify(&path, e))?;
        let mut store = Store::over(conn, path, data_dir);
        store.init()?;
        Ok(store)
    }

    fn over(conn: Connection, path: PathBuf, dir: &Path) -> Store {
        Store {
            conn,
            path,
            dir: dir.to_path_buf(),
            schemas: HashMap::new(),
            waiter: lock::stderr_waiter(),
            source: "verdict",
            taken: None,
        }
    }

    /// Opens an existing cache without creating or migrating anything (for `verify`).
    pub fn open_existing(data_dir: &Path) -> Result<Option<Store>, StoreError> {
        let path = data_dir.join(CACHE_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| classify(&path, e))?;
        conn.busy_timeout(lock::ATTEMPT)
            .map_err(|e| classify(&path, e))?;
        let store = Store::over(conn, path, data_dir);
        store.check_version()?;
        Ok(Some(store))
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Who is told when a write has to wait for another process (default: a line on
    /// stderr).
    pub fn set_waiter(&mut self, waiter: Waiter) {
        self.waiter = waiter;
    }

    /// The name the event log gives the actions of this process (`label`, `workstation`).
    pub fn set_source(&mut self, source: &'static str) {
        self.source = source;
    }

    /// Announces that this process will hold the write lock for a while (`what` in
    /// words), so that others waiting say what they wait for; ends when dropped.
    pub fn announce(&self, what: &str) -> Announced {
        lock::announce(&self.dir, what)
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> StoreError {
        classify(&self.path, e)
    }

    /// Takes the write lock, waiting (and saying so) while another process holds it.
    pub(crate) fn begin(&mut self) -> Result<lock::Tx<'_>, StoreError> {
        let Store {
            conn,
            path,
            dir,
            waiter,
            ..
        } = self;
        lock::begin(conn, dir, waiter).map_err(|e| begin_error(path, e))
    }

    fn check_version(&self) -> Result<i64, StoreError> {
        let v: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let known = MIGRATIONS.len() as i64;
        if v > known {
            return Err(StoreError::Newer {
                path: self.path.clone(),
                found: v,
                known,
            });
        }
        Ok(v)
    }

    fn init(&mut self) -> Result<(), StoreError> {
        // Before anything else, so that even the first reads wait for a concurrent
        // first-time set-up instead of failing with "database is locked".
        self.conn
            .busy_timeout(lock::ATTEMPT)
            .map_err(|e| self.err(e))?;
        // Look at the version before anything writes: a newer cache is left untouched.
        let version = self.retry_busy(|s| s.check_version())?;
        let mode: String = self.retry_busy(|s| {
            s.conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(|e| s.err(e))
        })?;
        if mode != "wal" {
            return Err(StoreError::ReadOnly {
                path: self.path.clone(),
            });
        }
        // NORMAL in WAL mode: a committed change survives the process being killed; only an
        // OS crash or power cut can lose the last commits.
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(|e| self.err(e))?;
        if version == MIGRATIONS.len() as i64 {
            return Ok(());
        }
        // Migrate under the write lock, reading the version again inside it: of several
        // processes opening a new cache at once, one migrates and the others find it done.
        let _note = self.announce("setting up or upgrading the cache");
        let path = self.path.clone();
        let tx = self.begin()?;
        let cls = |e| classify(&path, e);
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(cls)?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::Newer {
                path: path.clone(),
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).map_err(cls)?;
            migrations::after(i + 1, &tx, crate::clock::now_ms()).map_err(cls)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(cls)?;
        }
        tx.commit().map_err(cls)?;
        Ok(())
    }

    /// Runs a read (or a pragma) again while another process holds a lock it needs,
    /// for as long as [`Store::begin`] would wait.
    fn retry_busy<T>(
        &mut self,
        mut f: impl FnMut(&Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let start = std::time::Instant::now();
        let mut told = false;
        loop {
            match f(self) {
                Err(StoreError::Sqlite { source, .. })
                    if lock::is_busy(&source)
                        && (start.elapsed() < lock::unannounced_wait()
                            || !lock::live_announcements(&self.dir).is_empty()) =>
                {
                    if !told {
                        told = true;
                        (self.waiter)(Some(
                            "waiting for another verdict process that is setting up the cache...",
                        ));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => {
                    if told {
                        (self.waiter)(None);
                    }
                    return other;
                }
            }
        }
    }
}

/// Why taking the write lock failed, for a person.
fn begin_error(path: &Path, e: lock::BeginError) -> StoreError {
    match e {
        lock::BeginError::Sqlite(e) => classify(path, e),
        lock::BeginError::TooLong(d) => StoreError::Locked {
            path: path.to_path_buf(),
            secs: d.as_secs(),
        },
    }
}

/// Turns an SQLite error into one a person can act on.
fn classify(path: &Path, e: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => StoreError::DiskFull { path },
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly { path },
        Some(ErrorCode::CannotOpen) | Some(ErrorCode::PermissionDenied) => {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let reason = match write_probe(&dir) {
                Err(io) => format!("it cannot be written ({io})"),
                Ok(()) => format!("cannot open {} ({e})", path.display()),
            };
            StoreError::DataDir { path: dir, reason }
        }
        Some(ErrorCode::NotADatabase) => StoreError::NotACache { path },
        Some(ErrorCode::SystemIoFailure) if is_enospc(&e) => StoreError::DiskFull { path },
        _ => StoreError::Sqlite { path, source: e },
    }
}

/// Tries to create (and remove) a file in `dir`, to tell a read-only folder from other
/// reasons SQLite could not open the cache.
fn write_probe(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".verdict-write-probe-{}", std::process::id()));
    std::fs::File::create(&probe)?;
    std::fs::remove_file(&probe)
}

fn is_enospc(e: &rusqlite::Error) -> bool {
    e.to_string().contains("full")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_migrations_apply_to_an_empty_database() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let v: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(store);
        // Opening again applies nothing and keeps the version.
        let again = Store::open(dir.path()).unwrap();
        let v2: i64 = again
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v2, v);
    }

    #[test]
    fn a_newer_cache_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CACHE_FILE);
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE future(x); PRAGMA user_version = 99;")
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let e = Store::open(dir.path()).err().unwrap();
        assert!(matches!(e, StoreError::Newer { found: 99, .. }), "{e}");
        assert!(e.to_string().contains("newer verdict"));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(!dir.path().join("cache.sqlite3-wal").exists());
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CACHE_FILE), b"hello, this is not a database at all, no no no no no no no no no no no no no no no no no no no no no no no no no no no").unwrap();
        let e = Store::open(dir.path()).err().unwrap();
        assert!(matches!(e, StoreError::NotACache { .. }), "{e}");
    }
}
