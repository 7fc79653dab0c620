//! The hub's storage: the only place that speaks SQL for the hub, on SQLite (a file) or
//! PostgreSQL (a URL) through [`super::sql::Conn`]. One SQL text serves both; one
//! migration runner upgrades both.
//!
//! Work is handed out from an index of available work: each item counts its open slots
//! (overlap minus leases), and a partial index holds the items with a slot left, in batch
//! order. A pull reads as many index entries as it leases, whatever the hub holds. On
//! PostgreSQL several hub processes share the database: a pull locks the rater's row (one
//! pull or push per rater at a time) and the items it takes (`FOR NO KEY UPDATE SKIP LOCKED`, so
//! that concurrent pulls take different items instead of waiting), and a slot is only
//! taken by an update that checks it is still open.

use super::api::{Calibration, PullResponse, PushResponse, WireBatch};
use super::review::{Judged, Policy, Role};
use super::sql::{Conn, Dialect, Row, SqlError, Target, Val};
use crate::batch::{ItemsError, OpenBatch};
use crate::clock::{now_ms, rfc3339};
use crate::model::{Answer, Extras, Schema};
use crate::vals;
use minisign::PublicKey;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The schema, one step per version, in the SQL both databases read (see
/// [`super::sql::translate`]). Never edit a step that has shipped: add one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE raters (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    pubkey       TEXT NOT NULL,                 -- minisign public key (base64 line)
    key_id       TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,          -- the token itself is never stored
    created_at   INTEGER NOT NULL
);
CREATE TABLE schemas (sha256 TEXT PRIMARY KEY, id TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE batches (
    id            TEXT PRIMARY KEY,
    schema_sha256 TEXT NOT NULL REFERENCES schemas(sha256),
    guidelines    TEXT NOT NULL,
    overlap       INTEGER NOT NULL,
    loaded_at     INTEGER NOT NULL
);
CREATE TABLE items (
    key      INTEGER PRIMARY KEY,
    batch_id TEXT NOT NULL REFERENCES batches(id),
    item_id  TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    sha256   TEXT NOT NULL,
    content  TEXT NOT NULL,
    extras   TEXT NOT NULL,
    gold     TEXT,                              -- {"answers", "explanation"}; never sent before the rater's record
    UNIQUE (batch_id, item_id)
);
CREATE TABLE leases (
    item       INTEGER NOT NULL REFERENCES items(key),
    rater      INTEGER NOT NULL REFERENCES raters(id),
    leased_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (item, rater)
);
CREATE INDEX leases_rater ON leases(rater);
CREATE TABLE bundles (
    id          TEXT PRIMARY KEY,
    rater       INTEGER NOT NULL REFERENCES raters(id),
    sha256      TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    records     INTEGER NOT NULL
);
CREATE TABLE records (
    item          INTEGER NOT NULL REFERENCES items(key),
    rater         INTEGER NOT NULL REFERENCES raters(id),
    bundle        TEXT NOT NULL REFERENCES bundles(id),
    revision      INTEGER NOT NULL,
    status        TEXT NOT NULL,
    answers       TEXT NOT NULL,
    justification TEXT NOT NULL,
    skip_reason   TEXT,
    escalation    TEXT,
    active_ms     INTEGER NOT NULL,
    submitted     TEXT NOT NULL,
    PRIMARY KEY (item, rater)
);
"#,
    // 2: the index of available work. Batches get a rank (load order), items copy it and
    // count their open slots; a lease is `done` once the rater's record is stored (it is
    // then never reclaimed).
    r#"
ALTER TABLE batches ADD COLUMN batch_rank INTEGER NOT NULL DEFAULT 0;
UPDATE batches SET batch_rank = (SELECT count(*) FROM batches b2
    WHERE b2.loaded_at < batches.loaded_at OR (b2.loaded_at = batches.loaded_at AND b2.id <= batches.id));
ALTER TABLE items ADD COLUMN batch_rank INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN open_slots INTEGER NOT NULL DEFAULT 0;
UPDATE items SET batch_rank = (SELECT b.batch_rank FROM batches b WHERE b.id = items.batch_id);
UPDATE items SET open_slots = (SELECT CASE WHEN b.overlap > count(l.rater) THEN b.overlap - count(l.rater) ELSE 0 END
    FROM batches b LEFT JOIN leases l ON l.item = items.key WHERE b.id = items.batch_id GROUP BY b.overlap)
    WHERE gold IS NULL;
ALTER TABLE leases ADD COLUMN done INTEGER NOT NULL DEFAULT 0;
UPDATE leases SET done = 1 WHERE EXISTS (SELECT 1 FROM records r WHERE r.item = leases.item AND r.rater = leases.rater);
CREATE INDEX items_open ON items(batch_rank, seq) WHERE open_slots > 0 AND gold IS NULL;
CREATE INDEX items_gold ON items(batch_rank, seq) WHERE gold IS NOT NULL;
CREATE INDEX items_batch_seq ON items(batch_id, seq);
CREATE INDEX leases_open ON leases(rater) WHERE done = 0;
CREATE INDEX leases_expiry ON leases(expires_at) WHERE done = 0;
CREATE INDEX records_rater ON records(rater);
"#,
    // 3: a rater's first record of each gold item, kept apart: gold accuracy counts it,
    // and a later revision (say, after calibration showed the reference) never rescores.
    // Hubs upgraded from 2 start from the record they hold (the first, unless revised).
    r#"
CREATE TABLE gold_first (
    item        INTEGER NOT NULL REFERENCES items(key),
    rater       INTEGER NOT NULL REFERENCES raters(id),
    bundle      TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    status      TEXT NOT NULL,
    answers     TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (item, rater)
);
INSERT INTO gold_first (item, rater, bundle, revision, status, answers, received_at)
    SELECT r.item, r.rater, r.bundle, r.revision, r.status, r.answers, b.received_at
    FROM records r JOIN items i ON i.key = r.item JOIN bundles b ON b.id = r.bundle
    WHERE i.gold IS NOT NULL;
INSERT INTO meta (key, value) SELECT 'placement_seed', value FROM meta WHERE key = 'admin_token_sha256';
"#,
    // 4: an admin's resolution of the escalations on an item (with the note that says how).
    r#"
CREATE TABLE escalation_resolutions (
    item        INTEGER PRIMARY KEY REFERENCES items(key),
    resolved_at INTEGER NOT NULL,
    note        TEXT NOT NULL
);
"#,
    // 5: the qualification gate. Qualification items are gold items apart from the work;
    // a rater's result (NULL until every one has a first record) decides whether they get
    // work.
    r#"
ALTER TABLE items ADD COLUMN qualification INTEGER NOT NULL DEFAULT 0;
ALTER TABLE raters ADD COLUMN qualification TEXT;
ALTER TABLE raters ADD COLUMN qualification_detail TEXT;
"#,
    // 6: review and adjudication. A person is a rater or a reviewer; finished items the
    // review policy picks wait in `reviews` (leased to one reviewer at a time); a
    // reviewer's answers are the item's final answers.
    r#"
ALTER TABLE raters ADD COLUMN role TEXT NOT NULL DEFAULT 'rater';
CREATE TABLE reviews (
    item       INTEGER NOT NULL PRIMARY KEY REFERENCES items(key),
    reasons    TEXT NOT NULL,                   -- JSON array of strings
    queued_at  INTEGER NOT NULL,
    reviewer   INTEGER REFERENCES raters(id),   -- leased to
    expires_at INTEGER,
    done       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reviews_open ON reviews(queued_at, item) WHERE done = 0 AND reviewer IS NULL;
CREATE INDEX reviews_leased ON reviews(reviewer) WHERE done = 0;
CREATE TABLE review_skips (
    item     INTEGER NOT NULL REFERENCES items(key),
    reviewer INTEGER NOT NULL REFERENCES raters(id),
    reason   TEXT NOT NULL,
    at       INTEGER NOT NULL,
    PRIMARY KEY (item, reviewer)
);
CREATE TABLE adjudications (
    item          INTEGER NOT NULL PRIMARY KEY REFERENCES items(key),
    reviewer      INTEGER NOT NULL REFERENCES raters(id),
    bundle        TEXT NOT NULL,
    revision      INTEGER NOT NULL,
    answers       TEXT NOT NULL,
    justification TEXT NOT NULL,
    submitted     TEXT NOT NULL,
    received_at   INTEGER NOT NULL
);
"#,
    // 7: the guideline document each record was made under (JSON reference), as its
    // bundle says; agreement is split by it.
    r#"
ALTER TABLE records ADD COLUMN guidelines TEXT;
"#,
    // 8: qualification attempts (a retake starts the next), so that a workstation knows to
    // clear the answers of an earlier attempt.
    r#"
ALTER TABLE raters ADD COLUMN qualification_attempt INTEGER NOT NULL DEFAULT 1;
"#,
    // 9: image files of image items, by the sha256 of their bytes (what the content names
    // and its hash covers), base64 in text (the same column type on both databases). Sent
    // with the items that show them, as data: URLs.
    r#"
CREATE TABLE images (
    sha256     TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    data       TEXT NOT NULL
);
"#,
];

/// A `--db` with a `scheme://` that is not PostgreSQL's is a mistyped URL, not a file.
fn unknown_scheme(target: &Target) -> Result<(), HubError> {
    if let Target::Sqlite(p) = target
        && let Some((scheme, _)) = p.to_str().and_then(|s| s.split_once("://"))
    {
        return Err(refused(format!(
            "'{}://' is not a database verdict knows: give a SQLite file path or a postgres:// URL",
            crate::safe::sanitize_line(scheme)
        )));
    }
    Ok(())
}

fn newer(at: &str, found: i64) -> HubError {
    refused(format!(
        "the hub database {at} has schema version {found}, newer than this verdict's {}; run the newer verdict (this one would not understand it, and changed nothing)",
        MIGRATIONS.len()
    ))
}

/// Advisory lock ids (PostgreSQL) for what one hub process does at a time.
const LOCK_MIGRATE: i64 = 0x7665_7264_6963_7401;
const LOCK_LOAD: i64 = 0x7665_7264_6963_7402;

/// Reclaimed per pull at most, so that one pull after a long pause stays short.
const RECLAIM_PER_PULL: i64 = 2000;

/// Longest lease: ten years.
pub const MAX_LEASE_HOURS: i64 = 24 * 366 * 10;

/// A hub problem, with what to do.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// No hub at the target.
    #[error("no hub database at {0}; create one with: verdict hub init --db {q}", q = super::sql::shell_quote(.0))]
    Missing(String),
    /// A hub already exists.
    #[error("a hub database already exists at {0}")]
    Exists(String),
    /// A refusal a client should read (bad bundle, unknown rater name, ...).
    #[error("{message}")]
    Refused {
        /// Summary.
        message: String,
        /// Each problem.
        problems: Vec<String>,
    },
    /// A request whose records break the batch's schema (HTTP 422).
    #[error("{message}")]
    Invalid {
        /// Summary.
        message: String,
        /// Each problem.
        problems: Vec<String>,
    },
    /// The database was upgraded by another verdict while this process ran.
    #[error("{0}")]
    Stale(String),
    /// A batch file that cannot be loaded.
    #[error("{0}\nNothing of this batch was loaded.")]
    Batch(crate::batch::BatchError),
    /// The database.
    #[error("hub database {at}: {cause}")]
    Database {
        /// The file or the URL (without its password).
        at: String,
        /// The error (not a `source`: its text is already in this one's).
        cause: SqlError,
    },
}

impl HubError {
    fn retryable(&self) -> bool {
        matches!(self, HubError::Database { cause, .. } if cause.retry)
    }
}

/// A rater's qualification: (name, `passed`/`failed`/`exempt`/None, score).
pub type QualificationRow = (String, Option<String>, Option<f64>);

/// A batch's progress: (id, overlap, items, leases, records).
pub type Progress = (String, i64, i64, i64, i64);

/// A registered rater.
#[derive(Debug, Clone)]
pub struct Rater {
    /// Row id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Public key.
    pub pubkey: PublicKey,
    /// Rater or reviewer.
    pub role: Role,
}

/// A connection to a hub's database.
pub struct HubDb {
    conn: Conn,
    target: Target,
    /// (lease hours, gold rate, placement seed): set at init, read once per connection.
    settings: Option<(i64, f64, String)>,
}

impl From<&Path> for Target {
    fn from(p: &Path) -> Target {
        Target::Sqlite(p.to_path_buf())
    }
}
impl From<&PathBuf> for Target {
    fn from(p: &PathBuf) -> Target {
        Target::Sqlite(p.clone())
    }
}
impl From<PathBuf> for Target {
    fn from(p: PathBuf) -> Target {
        Target::Sqlite(p)
    }
}
impl From<&str> for Target {
    fn from(s: &str) -> Target {
        Target::parse(s)
    }
}
impl From<&String> for Target {
    fn from(s: &String) -> Target {
        Target::parse(s)
    }
}
impl From<&Target> for Target {
    fn from(t: &Target) -> Target {
        t.clone()
    }
}

/// Hex sha256 of a token.
pub fn token_hash(token: &str) -> String {
    crate::model::sha256_hex(token.as_bytes())
}

/// A fresh random token (256 bits, hex).
pub fn new_token() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    format!("{}{}", a.simple(), b.simple())
}

fn refused(message: impl Into<String>) -> HubError {
    HubError::Refused {
        message: message.into(),
        problems: Vec::new(),
    }
}

fn schema_version(conn: &mut Conn) -> Result<i64, SqlError> {
    match conn.dialect() {
        Dialect::Sqlite => Ok(conn
            .row("PRAGMA user_version", &[])?
            .map(|r| r.int(0))
            .transpose()?
            .unwrap_or(0)),
        Dialect::Postgres => {
            let exists = conn.int(
                "SELECT count(*) FROM information_schema.tables
                     WHERE table_schema = current_schema() AND table_name = 'verdict_schema'",
                &[],
            )?;
            if exists == 0 {
                return Ok(0);
            }
            Ok(conn
                .row("SELECT version FROM verdict_schema", &[])?
                .map(|r| r.int(0))
                .transpose()?
                .unwrap_or(0))
        }
    }
}

fn set_schema_version(conn: &mut Conn, v: i64) -> Result<(), SqlError> {
    match conn.dialect() {
        Dialect::Sqlite => conn.batch(&format!("PRAGMA user_version = {v}")),
        Dialect::Postgres => {
            conn.batch("CREATE TABLE IF NOT EXISTS verdict_schema (version BIGINT NOT NULL)")?;
            conn.exec("DELETE FROM verdict_schema", &[])?;
            conn.exec(
                "INSERT INTO verdict_schema (version) VALUES (?1)",
                &vals![v],
            )?;
            Ok(())
        }
    }
}

impl HubDb {
    fn err(&self, e: SqlError) -> HubError {
        HubError::Database {
            at: self.target.display(),
            cause: e,
        }
    }

    fn at(&self) -> String {
        self.target.display()
    }

    fn connect(target: &Target) -> Result<HubDb, HubError> {
        let conn = match target {
            Target::Sqlite(path) => {
                // The hub's database holds every rater's labels: private, whatever the
                // umask (its -wal and -shm files take the database file's mode).
                let _ = crate::private::touch(path);
                Conn::sqlite(path)
            }
            Target::Postgres(url) => Conn::postgres(url),
        }
        .map_err(|e| HubError::Database {
            at: target.display(),
            cause: e,
        })?;
        Ok(HubDb {
            conn,
            target: target.clone(),
            settings: None,
        })
    }

    /// Where this hub's data lives.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Whether the connection is gone (for a pool).
    pub fn is_broken(&self) -> bool {
        self.conn.is_broken()
    }

    /// Checks the connection works (for a pool).
    /// (Also fails when the schema is no longer this verdict's, so that a load balancer's
    /// health check takes a process out that would refuse every request.)
    /// Checks only that the connection answers (for the pool).
    pub fn alive(&mut self) -> Result<(), HubError> {
        self.conn.rows("SELECT 1", &[]).map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn ping(&mut self) -> Result<(), HubError> {
        let at = self.at();
        HubDb::check_schema(&mut self.conn, &at)
    }

    /// Brings the schema up to this version's, under a lock that makes a second process
    /// wait and then find the work done, and runs `then` in the same transaction (the
    /// first settings of a new hub). Returns the version found before.
    fn migrate_with(
        &mut self,
        then: impl FnOnce(&mut Conn) -> Result<(), SqlError>,
    ) -> Result<i64, HubError> {
        let at = self.at();
        let e = |cause| HubError::Database {
            at: at.clone(),
            cause,
        };
        let mut tx = self.conn.begin(true).map_err(e)?;
        tx.no_timeouts().map_err(e)?;
        tx.exclusive(LOCK_MIGRATE).map_err(e)?;
        let found = schema_version(&mut tx).map_err(e)?;
        if found > MIGRATIONS.len() as i64 {
            return Err(newer(&at, found));
        }
        for step in &MIGRATIONS[found as usize..] {
            tx.batch(step).map_err(e)?;
        }
        if found < MIGRATIONS.len() as i64 {
            set_schema_version(&mut tx, MIGRATIONS.len() as i64).map_err(e)?;
        }
        then(&mut tx).map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(found)
    }

    /// Creates a hub database; returns it and the admin token (shown once). The schema
    /// and the first settings are one transaction: a crash leaves no half-made hub.
    pub fn init(
        target: impl Into<Target>,
        lease_hours: i64,
        gold_rate: f64,
    ) -> Result<(HubDb, String), HubError> {
        let target = target.into();
        unknown_scheme(&target)?;
        if !(1..=MAX_LEASE_HOURS).contains(&lease_hours) {
            return Err(refused(format!(
                "--lease-hours must be between 1 and {MAX_LEASE_HOURS} (ten years)"
            )));
        }
        if !(0.0..=1.0).contains(&gold_rate) {
            return Err(refused("--gold-rate must be between 0 and 1"));
        }
        if let Target::Sqlite(path) = &target
            && path.exists()
        {
            return Err(HubError::Exists(target.display()));
        }
        let mut db = HubDb::connect(&target)?;
        let v = schema_version(&mut db.conn).map_err(|e| db.err(e))?;
        if v > 0 {
            return Err(HubError::Exists(target.display()));
        }
        let token = new_token();
        let mut created = false;
        let found = db.migrate_with(|tx| {
            if schema_version(tx)? != MIGRATIONS.len() as i64 {
                return Ok(());
            }
            // Only where this transaction made the schema (not another `hub init`'s).
            if tx.row("SELECT 1 FROM meta WHERE key = 'admin_token_sha256'", &[])?.is_some() {
                return Ok(());
            }
            for (k, v) in [
                ("admin_token_sha256", token_hash(&token)),
                ("lease_hours", lease_hours.to_string()),
                ("gold_rate", gold_rate.to_string()),
                ("placement_seed", new_token()),
            ] {
                tx.exec(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &vals![k, v],
                )?;
            }
            created = true;
            Ok(())
        })?;
        if found > 0 || !created {
            // Another `hub init` got there first.
            return Err(HubError::Exists(target.display()));
        }
        Ok((db, token))
    }

    /// Opens an existing hub database of this verdict's schema. An older one is refused
    /// with what to do (`verdict hub migrate`, with every hub process stopped): a hub
    /// process of the older verdict still running would not keep the new bookkeeping.
    pub fn open(target: impl Into<Target>) -> Result<HubDb, HubError> {
        let (db, v) = HubDb::open_any(target)?;
        if v < MIGRATIONS.len() as i64 {
            let at = db.target.display();
            return Err(refused(format!(
                "the hub database {at} has schema version {v}, older than this verdict's {}: stop every hub process (verdict hub serve) using it, then upgrade it once with: verdict hub migrate --db {}",
                MIGRATIONS.len(),
                super::sql::shell_quote(&at)
            )));
        }
        Ok(db)
    }

    /// Opens a hub database and upgrades its schema if it is older (`verdict hub
    /// migrate`); returns the version found.
    pub fn migrate(target: impl Into<Target>) -> Result<(HubDb, i64), HubError> {
        let (mut db, v) = HubDb::open_any(target)?;
        if v == MIGRATIONS.len() as i64 {
            return Ok((db, v));
        }
        let found = db.migrate_with(|_| Ok(()))?;
        Ok((db, found))
    }

    /// The schema version this verdict writes.
    pub fn schema_version() -> i64 {
        MIGRATIONS.len() as i64
    }

    fn open_any(target: impl Into<Target>) -> Result<(HubDb, i64), HubError> {
        let target = target.into();
        unknown_scheme(&target)?;
        if let Target::Sqlite(path) = &target
            && !path.exists()
        {
            return Err(HubError::Missing(target.display()));
        }
        let mut db = HubDb::connect(&target)?;
        let v = schema_version(&mut db.conn).map_err(|e| db.err(e))?;
        if v == 0 {
            let has_tables = match db.conn.dialect() {
                Dialect::Sqlite => db
                    .conn
                    .row("SELECT count(*) FROM sqlite_master", &[])
                    .map_err(|e| db.err(e))?
                    .map(|r| r.int(0))
                    .transpose()
                    .map_err(|e| db.err(e))?
                    .unwrap_or(0),
                Dialect::Postgres => 0,
            };
            if has_tables > 0 {
                return Err(refused(format!(
                    "{} is not a hub database (it has tables, but no hub schema version); give --db a hub database, or a new path to create one with verdict hub init",
                    target.display()
                )));
            }
            return Err(HubError::Missing(target.display()));
        }
        if v > MIGRATIONS.len() as i64 {
            return Err(newer(&target.display(), v));
        }
        Ok((db, v))
    }

    /// Refuses a write when the schema is no longer this verdict's (a newer verdict
    /// upgraded the database while this process ran): this process must stop rather than
    /// write without the new bookkeeping.
    fn check_schema(tx: &mut Conn, at: &str) -> Result<(), HubError> {
        let v = schema_version(tx).map_err(|cause| HubError::Database {
            at: at.to_string(),
            cause,
        })?;
        if v != MIGRATIONS.len() as i64 {
            return Err(HubError::Stale(format!(
                "the hub database {at} is now at schema version {v}, not this verdict's {}: another verdict upgraded it; restart this hub process with that verdict",
                MIGRATIONS.len()
            )));
        }
        Ok(())
    }

    /// Runs `f` again (up to 5 times) when PostgreSQL ended its transaction to break a
    /// deadlock; every other error is returned at once.
    fn retrying<T>(
        &mut self,
        mut f: impl FnMut(&mut HubDb) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        let mut attempt = 0;
        loop {
            match f(self) {
                Err(e) if e.retryable() && attempt < 5 => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(5 << attempt));
                }
                other => return other,
            }
        }
    }

    fn meta(&mut self, key: &str) -> Result<Option<String>, HubError> {
        let row = self
            .conn
            .row("SELECT value FROM meta WHERE key = ?1", &vals![key])
            .map_err(|e| self.err(e))?;
        row.map(|r| r.text(0)).transpose().map_err(|e| self.err(e))
    }

    /// Whether a token is the admin token.
    pub fn is_admin(&mut self, token: &str) -> Result<bool, HubError> {
        Ok(self.meta("admin_token_sha256")?.as_deref() == Some(token_hash(token).as_str()))
    }

    /// Registers a rater; returns the access token (shown once; only its hash is kept).
    pub fn add_rater(&mut self, name: &str, pubkey: &PublicKey) -> Result<String, HubError> {
        self.add_person(name, pubkey, Role::Rater)
    }

    /// Registers a rater or a reviewer; returns the access token (shown once).
    pub fn add_person(
        &mut self,
        name: &str,
        pubkey: &PublicKey,
        role: Role,
    ) -> Result<String, HubError> {
        crate::model::check_rater(name).map_err(refused)?;
        // One key, one rater: bundles dropped in a folder are matched to their rater by
        // the signing key, and a signature must say who did the work.
        let key_id = crate::keys::key_id(pubkey.keynum());
        if let Some(other) = self
            .conn
            .row("SELECT name FROM raters WHERE key_id = ?1", &vals![&key_id])
            .map_err(|e| self.err(e))?
        {
            return Err(refused(format!(
                "key {key_id} is already registered to rater '{}'; each rater signs with their own key (verdict key show makes one)",
                crate::safe::sanitize_line(&other.text(0).map_err(|e| self.err(e))?)
            )));
        }
        let token = new_token();
        let line = pubkey.to_base64();
        let n = self
            .conn
            .exec(
                "INSERT INTO raters (name, pubkey, key_id, token_sha256, created_at, role) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT DO NOTHING",
                &vals![name, line, crate::keys::key_id(pubkey.keynum()), token_hash(&token), now_ms(), role.as_str()],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(refused(format!(
                "a rater named '{name}' is already registered"
            )));
        }
        Ok(token)
    }

    /// The rater a token belongs to.
    pub fn rater_by_token(&mut self, token: &str) -> Result<Option<Rater>, HubError> {
        self.rater_where(
            "SELECT id, name, pubkey, role FROM raters WHERE token_sha256 = ?1",
            &token_hash(token),
        )
    }

    /// Lets a rater take the qualification again: their result, and their leases, records
    /// and first records of the qualification items, are cleared. Returns the result they
    /// had.
    pub fn allow_retake(&mut self, name: &str) -> Result<Option<String>, HubError> {
        let at = self.at();
        let sq = |e: SqlError| HubError::Database {
            at: at.clone(),
            cause: e,
        };
        let mut tx = self.conn.begin(true).map_err(sq)?;
        HubDb::check_schema(&mut tx, &at)?;
        let row = tx
            .row(
                "SELECT id, qualification FROM raters WHERE name = ?1 /*PG: FOR NO KEY UPDATE*/",
                &vals![name],
            )
            .map_err(sq)?;
        let Some(row) = row else {
            return Err(refused(format!("no rater named '{name}' on this hub")));
        };
        let (id, before) = (row.int(0).map_err(sq)?, row.opt_text(1).map_err(sq)?);
        if before.as_deref() == Some("passed") {
            return Err(refused(format!(
                "{name} passed the qualification; a retake would stop their work. Nothing was changed"
            )));
        }
        for sql in [
            "DELETE FROM gold_first WHERE rater = ?1 AND item IN (SELECT key FROM items WHERE qualification = 1)",
            "DELETE FROM records WHERE rater = ?1 AND item IN (SELECT key FROM items WHERE qualification = 1)",
            "DELETE FROM leases WHERE rater = ?1 AND item IN (SELECT key FROM items WHERE qualification = 1)",
            "UPDATE raters SET qualification = NULL, qualification_detail = NULL,
                qualification_attempt = qualification_attempt + 1 WHERE id = ?1",
        ] {
            tx.exec(sql, &vals![id]).map_err(sq)?;
        }
        tx.commit().map_err(sq)?;
        Ok(before)
    }

    /// Each rater's qualification result: (name, `passed`/`failed`/`exempt`/None, score).
    pub fn qualifications(&mut self) -> Result<Vec<QualificationRow>, HubError> {
        let rows = self
            .conn
            .rows(
                "SELECT name, qualification, qualification_detail FROM raters WHERE role = 'rater' ORDER BY name",
                &[],
            )
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                let detail = r.opt_text(2)?;
                let score = detail
                    .and_then(|d| serde_json::from_str::<super::api::Qualification>(&d).ok())
                    .and_then(|q| q.score);
                Ok((r.text(0)?, r.opt_text(1)?, score))
            })
            .collect::<Result<_, SqlError>>()
            .map_err(|e| self.err(e))
    }

    /// The rater whose key has this id (for bundles dropped in a folder).
    pub fn rater_by_key_id(&mut self, key_id: &str) -> Result<Option<Rater>, HubError> {
        self.rater_where(
            "SELECT id, name, pubkey, role FROM raters WHERE key_id = ?1",
            key_id,
        )
    }

    fn rater_where(&mut self, sql: &str, value: &str) -> Result<Option<Rater>, HubError> {
        let row = self.conn.row(sql, &vals![value]).map_err(|e| self.err(e))?;
        let Some(row) = row else { return Ok(None) };
        let (id, name, pk, role) =
            (|| Ok::<_, SqlError>((row.int(0)?, row.text(1)?, row.text(2)?, row.text(3)?)))()
                .map_err(|e| self.err(e))?;
        let pubkey = PublicKey::from_base64(&pk)
            .map_err(|e| refused(format!("stored key of rater {name} is unreadable: {e}")))?;
        Ok(Some(Rater {
            id,
            name,
            pubkey,
            role: Role::parse(&role),
        }))
    }

    /// Loads a batch whose items each need `overlap` distinct raters. With `gold`, every
    /// item must carry `metadata.gold = {"answers": {...}, "explanation": "..."}`; it is
    /// kept apart and never sent to a rater before their own record of the item.
    pub fn load(
        &mut self,
        batch: &mut OpenBatch,
        overlap: u32,
        gold: bool,
    ) -> Result<(String, u64, u64), HubError> {
        self.load_as(batch, overlap, gold, false)
    }

    /// Loads a qualification set: gold items (every one needs `metadata.gold`) that a new
    /// rater answers before any work, and the pass marks: `pass` of the items answered as
    /// the reference on every question, and at least `pass_question` of the items right
    /// on each question.
    pub fn load_qualification(
        &mut self,
        batch: &mut OpenBatch,
        pass: f64,
        pass_question: f64,
    ) -> Result<(String, u64, u64), HubError> {
        if !(0.0..=1.0).contains(&pass) || !(0.0..=1.0).contains(&pass_question) {
            return Err(refused(
                "--pass and --pass-per-question must be between 0 and 1",
            ));
        }
        let out = self.load_as(batch, 1, true, true)?;
        // Raters who have already worked before there was a qualification set are not sent
        // back to it (`exempt`, shown as such in the report); everyone else takes it.
        self.conn
            .exec(
                "UPDATE raters SET qualification = 'exempt' WHERE qualification IS NULL
                 AND EXISTS (SELECT 1 FROM records r JOIN items i ON i.key = r.item
                             WHERE r.rater = raters.id AND i.qualification = 0)",
                &[],
            )
            .map_err(|e| self.err(e))?;
        for (k, v) in [("qual_pass", pass), ("qual_pass_question", pass_question)] {
            self.conn
                .exec(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &vals![k, v.to_string()],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(out)
    }

    fn load_as(
        &mut self,
        batch: &mut OpenBatch,
        overlap: u32,
        gold: bool,
        qualification: bool,
    ) -> Result<(String, u64, u64), HubError> {
        if overlap == 0 {
            return Err(refused("--overlap must be at least 1"));
        }
        let at = self.at();
        let sq = |e: SqlError| HubError::Database {
            at: at.clone(),
            cause: e,
        };
        let header = batch.header.clone();
        let schema_sha = header.schema.hash();
        let mut tx = self.conn.begin(true).map_err(sq)?;
        // A large file may take minutes: no statement or lock timeout for this one.
        tx.no_timeouts().map_err(sq)?;
        // Loads take turns across hub processes: a batch's order and its items' sequence
        // numbers come from what is loaded already.
        tx.exclusive(LOCK_LOAD).map_err(sq)?;
        HubDb::check_schema(&mut tx, &at)?;
        tx.exec(
            "INSERT INTO schemas (sha256, id, body) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            &vals![
                &schema_sha,
                &header.schema.id,
                header.schema.canonical_json()
            ],
        )
        .map_err(sq)?;
        let existing = tx
            .row(
                "SELECT schema_sha256, overlap, batch_rank FROM batches WHERE id = ?1",
                &vals![&header.batch_id],
            )
            .map_err(sq)?;
        let (batch_overlap, rank) = match existing {
            Some(row) => {
                if row.text(0).map_err(sq)? != schema_sha {
                    return Err(refused(format!(
                        "batch '{}' is loaded already with another schema",
                        header.batch_id
                    )));
                }
                (row.int(1).map_err(sq)?, row.int(2).map_err(sq)?)
            }
            None => {
                let rank = tx
                    .row("SELECT coalesce(max(batch_rank), 0) + 1 FROM batches", &[])
                    .map_err(sq)?
                    .map(|r| r.int(0))
                    .transpose()
                    .map_err(sq)?
                    .unwrap_or(1);
                tx.exec(
                    "INSERT INTO batches (id, schema_sha256, guidelines, overlap, loaded_at, batch_rank) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    &vals![
                        &header.batch_id,
                        &schema_sha,
                        guidelines_json(&header.guidelines, header.guideline_text.as_deref()),
                        overlap as i64,
                        now_ms(),
                        rank
                    ],
                )
                .map_err(sq)?;
                (overlap as i64, rank)
            }
        };
        let mut seq: i64 = tx
            .int(
                "SELECT coalesce(max(seq), 0) FROM items WHERE batch_id = ?1",
                &vals![&header.batch_id],
            )
            .map_err(sq)?;
        let (mut added, mut same) = (0u64, 0u64);
        let schema = header.schema.clone();
        let file = batch.path.clone();
        let mut pending: Vec<NewItem> = Vec::with_capacity(LOAD_CHUNK);
        let mut stored_images = std::collections::HashSet::new();
        let result = batch.for_each_item(|p| -> Result<(), HubError> {
            for b in &p.item.images {
                if stored_images.insert(b.image.sha256.clone()) {
                    tx.exec(
                        "INSERT INTO images (sha256, media_type, width, height, data)
                         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (sha256) DO NOTHING",
                        &vals![
                            &b.image.sha256,
                            &b.image.media_type,
                            b.width as i64,
                            b.height as i64,
                            base64::Engine::encode(
                                &base64::engine::general_purpose::STANDARD,
                                &b.bytes
                            )
                        ],
                    )
                    .map_err(sq)?;
                    crate::failpoint::hit("hub:image-stored");
                }
            }
            let mut extras = p.item.extras.clone();
            // An item with metadata.gold is a gold item, whatever batch it is in: loaded
            // into the batch its raters work on, it cannot be told apart by its batch.
            let gold_json = match extras.metadata.remove("gold") {
                Some(g) => Some(check_gold(&schema, &g).map_err(|m| {
                    refused(format!("{}:{}: metadata.gold: {m}", file.display(), p.line))
                })?),
                None if gold => {
                    return Err(refused(format!(
                        "{}:{}: gold item '{}' has no metadata.gold",
                        file.display(),
                        p.line,
                        p.item.id
                    )));
                }
                None => None,
            };
            // Gold items go to every rater; only regular items have slots.
            let slots = if gold_json.is_some() {
                0
            } else {
                batch_overlap
            };
            seq += 1;
            pending.push(NewItem {
                qualification: qualification as i64,
                line: p.line,
                id: p.item.id.clone(),
                seq,
                hash: p.hash.clone(),
                canonical: p.canonical.clone(),
                extras: serde_json::to_string(&extras).unwrap_or_default(),
                gold: gold_json,
                slots,
            });
            if pending.len() == LOAD_CHUNK {
                let (a, s) = insert_items(&mut tx, &header.batch_id, rank, &file, &pending)?;
                added += a;
                same += s;
                pending.clear();
            }
            Ok(())
        });
        match result {
            Ok(()) => {}
            Err(ItemsError::Batch(e)) => return Err(HubError::Batch(e)),
            Err(ItemsError::Sink(e)) => return Err(e),
        }
        let (a, s) = insert_items(&mut tx, &header.batch_id, rank, &file, &pending)?;
        added += a;
        same += s;
        tx.commit().map_err(sq)?;
        if self.conn.dialect() == Dialect::Postgres {
            // Fresh statistics, so that the planner walks the index of available work
            // rather than sorting a table it believes small.
            self.conn
                .batch("ANALYZE items; ANALYZE leases")
                .map_err(|e| self.err(e))?;
        }
        Ok((header.batch_id, added, same))
    }

    /// Leases work to a rater: the rater's open leases, plus new ones up to `max`, each
    /// item never twice to one rater and to at most its batch's overlap of raters; gold
    /// items mixed in at the hub's rate. The cost is that of the leases, not of the hub's
    /// size (see the module's notes).
    pub fn pull(&mut self, rater: &Rater, max: usize) -> Result<PullResponse, HubError> {
        let (lease_hours, gold_rate, seed) = match self.settings.clone() {
            Some(s) => s,
            None => {
                let lease_hours = self
                    .meta("lease_hours")?
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(72)
                    .clamp(1, MAX_LEASE_HOURS);
                let gold_rate = self
                    .meta("gold_rate")?
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0)
                    .clamp(0.0, 1.0);
                // A secret of the hub's that no rater knows (set at init).
                let seed = self.meta("placement_seed")?.unwrap_or_default();
                self.settings = Some((lease_hours, gold_rate, seed.clone()));
                (lease_hours, gold_rate, seed)
            }
        };
        let lease_ms = lease_hours * 3_600_000;
        if rater.role == Role::Reviewer {
            return self.retrying(|db| db.review_pull(rater, max, lease_ms));
        }
        // First without waiting: items other pulls hold are passed over. If that left the
        // rater short (under contention, near the end of the work), a second transaction
        // waits for those items and takes what is still open. Waiting pulls lock in index
        // order; the only other item rows one holds are those its own reclaim gave a slot
        // back to, so a deadlock is rare, and PostgreSQL's answer to one (ending one of
        // the transactions) is retried. (With no work left at all, a pull on PostgreSQL
        // runs both transactions; each finds nothing in the index at once.)
        let (resp, short) =
            self.retrying(|db| db.pull_once(rater, max, lease_ms, gold_rate, &seed, false))?;
        if short && self.conn.dialect() == Dialect::Postgres {
            return Ok(self
                .retrying(|db| db.pull_once(rater, max, lease_ms, gold_rate, &seed, true))?
                .0);
        }
        Ok(resp)
    }

    /// One pull transaction; also says whether fewer regular items were found than asked.
    fn pull_once(
        &mut self,
        rater: &Rater,
        max: usize,
        lease_ms: i64,
        gold_rate: f64,
        seed: &str,
        wait: bool,
    ) -> Result<(PullResponse, bool), HubError> {
        let at = self.at();
        let sq = |e: SqlError| HubError::Database {
            at: at.clone(),
            cause: e,
        };
        let now = now_ms();
        let mut tx = self.conn.begin(true).map_err(sq)?;
        HubDb::check_schema(&mut tx, &at)?;
        // One pull or push per rater at a time, across hub processes.
        tx.rows(
            "SELECT id FROM raters WHERE id = ?1 /*PG: FOR NO KEY UPDATE*/",
            &vals![rater.id],
        )
        .map_err(sq)?;
        // Expired leases without a record go back to the pool (rows another process is
        // reclaiming are left to it).
        let reclaimed = tx
            .rows(
                "DELETE FROM leases WHERE (item, rater) IN (
                    SELECT item, rater FROM leases WHERE expires_at < ?1 AND done = 0
                    ORDER BY item, rater LIMIT ?2 /*PG: FOR UPDATE SKIP LOCKED*/)
                 RETURNING item",
                &vals![now, RECLAIM_PER_PULL],
            )
            .map_err(sq)?;
        let mut freed: Vec<i64> = reclaimed
            .iter()
            .map(|r| r.int(0))
            .collect::<Result<_, _>>()
            .map_err(sq)?;
        freed.sort_unstable();
        for key in freed {
            tx.exec(
                "UPDATE items SET open_slots = open_slots + 1 WHERE key = ?1 AND gold IS NULL",
                &vals![key],
            )
            .map_err(sq)?;
        }
        let open = tx
            .int(
                "SELECT count(*) FROM leases WHERE rater = ?1 AND done = 0",
                &vals![rater.id],
            )
            .map_err(sq)?;
        // The qualification gate: until a rater has passed the hub's qualification set,
        // they get its items (all of them, at once) and nothing else; failed, nothing.
        let gate = qualification_state(&mut tx, rater.id).map_err(sq)?;
        if let Some(None) = &gate {
            tx.exec(
                "INSERT INTO leases (item, rater, leased_at, expires_at, done)
                 SELECT i.key, ?1, ?2, ?3, 0 FROM items i WHERE i.qualification = 1
                 AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.item = i.key AND l.rater = ?1)",
                &vals![rater.id, now, now.saturating_add(lease_ms)],
            )
            .map_err(sq)?;
        }
        let need = if gate.is_some() {
            0
        } else {
            max.saturating_sub(open as usize)
        };
        let gold_n = ((need as f64) * gold_rate).round() as usize;
        let keys = |tx: &mut Conn, sql: &str, limit: usize| -> Result<Vec<i64>, SqlError> {
            if limit == 0 {
                return Ok(Vec::new());
            }
            tx.rows(sql, &vals![rater.id, limit])?
                .iter()
                .map(|r| r.int(0))
                .collect()
        };
        let gold = keys(
            &mut tx,
            "SELECT i.key FROM items i WHERE i.gold IS NOT NULL AND i.qualification = 0
             AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.item = i.key AND l.rater = ?1)
             ORDER BY i.batch_rank, i.seq LIMIT ?2",
            gold_n,
        )
        .map_err(sq)?;
        let wanted = need - gold.len();
        let regular = keys(
            &mut tx,
            if wait {
                "SELECT i.key FROM items i WHERE i.open_slots > 0 AND i.gold IS NULL
                 AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.item = i.key AND l.rater = ?1)
                 ORDER BY i.batch_rank, i.seq LIMIT ?2 /*PG: FOR NO KEY UPDATE OF i*/"
            } else {
                "SELECT i.key FROM items i WHERE i.open_slots > 0 AND i.gold IS NULL
                 AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.item = i.key AND l.rater = ?1)
                 ORDER BY i.batch_rank, i.seq LIMIT ?2 /*PG: FOR NO KEY UPDATE OF i SKIP LOCKED*/"
            },
            wanted,
        )
        .map_err(sq)?;
        let short = regular.len() < wanted;
        let expires = now.saturating_add(lease_ms);
        for key in &gold {
            tx.exec(
                "INSERT INTO leases (item, rater, leased_at, expires_at, done) VALUES (?1, ?2, ?3, ?4, 0)
                 ON CONFLICT DO NOTHING",
                &vals![*key, rater.id, now, expires],
            )
            .map_err(sq)?;
        }
        // Taken only while a slot is still open: the check and the take are one update,
        // on rows this transaction holds; leases go to exactly the items it took.
        for chunk in regular.chunks(IN_CHUNK) {
            let params: Vec<Val> = chunk.iter().map(|k| Val::Int(*k)).collect();
            let taken = tx
                .rows(
                    &format!(
                        "UPDATE items SET open_slots = open_slots - 1
                         WHERE open_slots > 0 AND key IN ({}) RETURNING key",
                        placeholders(1, chunk.len())
                    ),
                    &params,
                )
                .map_err(sq)?;
            if taken.is_empty() {
                continue;
            }
            let keys: Vec<i64> = taken
                .iter()
                .map(|r| r.int(0))
                .collect::<Result<_, _>>()
                .map_err(sq)?;
            let mut params = vals![rater.id, now, expires].to_vec();
            params.extend(keys.iter().map(|k| Val::Int(*k)));
            tx.exec(
                &format!(
                    "INSERT INTO leases (item, rater, leased_at, expires_at, done)
                     SELECT key, ?1, ?2, ?3, 0 FROM items WHERE key IN ({})",
                    placeholders(4, keys.len())
                ),
                &params,
            )
            .map_err(sq)?;
        }
        // Everything open for this rater.
        let rows = tx
            .rows(
                "SELECT b.id, s.body, b.guidelines, i.item_id, i.content, i.extras, i.key, i.seq,
                        CASE WHEN i.gold IS NULL THEN 0 ELSE 1 END, b.batch_rank
                 FROM leases l JOIN items i ON i.key = l.item JOIN batches b ON b.id = i.batch_id
                 JOIN schemas s ON s.sha256 = b.schema_sha256
                 WHERE l.rater = ?1 AND l.done = 0",
                &vals![rater.id],
            )
            .map_err(sq)?;
        let calibration = calibration(&mut tx, rater.id).map_err(sq)?;
        // Said on every pull while the hub has a qualification set: pending, or the result.
        let qualification = qualification_view(&mut tx, rater.id).map_err(sq)?;
        tx.commit().map_err(sq)?;
        // Gold items take uniformly random places among the rater's items of their batch
        // (a hash of a hub secret, the rater and the item: the same place on every pull),
        // so that neither their position nor their load order gives them away. Regular
        // items keep their batch order, spread evenly over [0, 1).
        // Per batch (in load order): regular items by sequence, gold items by place.
        type Placed = (Vec<(i64, Row)>, Vec<(f64, Row)>);
        let mut by_batch: BTreeMap<(i64, String), Placed> = BTreeMap::new();
        for row in rows {
            let (key, seq, is_gold, rank) = (
                row.int(6).map_err(sq)?,
                row.int(7).map_err(sq)?,
                row.int(8).map_err(sq)?,
                row.int(9).map_err(sq)?,
            );
            let slot = by_batch
                .entry((rank, row.text(0).map_err(sq)?))
                .or_default();
            if is_gold == 0 {
                slot.0.push((seq, row));
            } else {
                slot.1.push((unit_hash(seed, rater.id, key), row));
            }
        }
        let mut open: Vec<(String, Row)> = Vec::new();
        for ((_, batch), (mut regular, gold)) in by_batch {
            regular.sort_by_key(|(seq, _)| *seq);
            let n = regular.len().max(1) as f64;
            let mut placed: Vec<(f64, Row)> = regular
                .into_iter()
                .enumerate()
                .map(|(i, (_, row))| ((i as f64 + 0.5) / n, row))
                .chain(gold)
                .collect();
            placed.sort_by(|a, b| a.0.total_cmp(&b.0));
            open.extend(placed.into_iter().map(|(_, row)| (batch.clone(), row)));
        }
        let urls = image_urls(&mut self.conn, open.iter().map(|(_, r)| r)).map_err(sq)?;
        let mut batches: Vec<WireBatch> = Vec::new();
        for (batch, row) in open {
            let item = wire_item(&row, None, &urls).map_err(sq)?;
            wire_push(&mut batches, &batch, &row, item).map_err(sq)?;
        }
        Ok((
            PullResponse {
                batches,
                calibration,
                lease_expires: rfc3339(expires),
                qualification,
            },
            short,
        ))
    }

    /// A reviewer's pull: their open reviews, topped up to `max` from the queue (oldest
    /// first; items they skipped before are left to other reviewers). Each item comes with
    /// every rater's record of it.
    fn review_pull(
        &mut self,
        reviewer: &Rater,
        max: usize,
        lease_ms: i64,
    ) -> Result<PullResponse, HubError> {
        let at = self.at();
        let sq = |e: SqlError| HubError::Database {
            at: at.clone(),
            cause: e,
        };
        let now = now_ms();
        let expires = now.saturating_add(lease_ms);
        let mut tx = self.conn.begin(true).map_err(sq)?;
        HubDb::check_schema(&mut tx, &at)?;
        tx.rows(
            "SELECT id FROM raters WHERE id = ?1 /*PG: FOR NO KEY UPDATE*/",
            &vals![reviewer.id],
        )
        .map_err(sq)?;
        // Reviews whose lease ran out go back to the queue.
        tx.exec(
            "UPDATE reviews SET reviewer = NULL, expires_at = NULL
             WHERE done = 0 AND reviewer IS NOT NULL AND expires_at < ?1",
            &vals![now],
        )
        .map_err(sq)?;
        let open = tx
            .int(
                "SELECT count(*) FROM reviews WHERE reviewer = ?1 AND done = 0",
                &vals![reviewer.id],
            )
            .map_err(sq)?;
        let need = max.saturating_sub(open as usize);
        if need > 0 {
            let picked: Vec<i64> = tx
                .rows(
                    "SELECT r.item FROM reviews r WHERE r.done = 0 AND r.reviewer IS NULL
                     AND NOT EXISTS (SELECT 1 FROM review_skips s WHERE s.item = r.item AND s.reviewer = ?1)
                     ORDER BY r.queued_at, r.item LIMIT ?2 /*PG: FOR NO KEY UPDATE SKIP LOCKED*/",
                    &vals![reviewer.id, need],
                )
                .map_err(sq)?
                .iter()
                .map(|r| r.int(0))
                .collect::<Result<_, _>>()
                .map_err(sq)?;
            for chunk in picked.chunks(IN_CHUNK) {
                let mut params = vals![reviewer.id, expires].to_vec();
                params.extend(chunk.iter().map(|k| Val::Int(*k)));
                tx.exec(
                    &format!(
                        "UPDATE reviews SET reviewer = ?1, expires_at = ?2
                         WHERE reviewer IS NULL AND done = 0 AND item IN ({})",
                        placeholders(3, chunk.len())
                    ),
                    &params,
                )
                .map_err(sq)?;
            }
        }
        // Leases are renewed by every pull.
        tx.exec(
            "UPDATE reviews SET expires_at = ?2 WHERE reviewer = ?1 AND done = 0",
            &vals![reviewer.id, expires],
        )
        .map_err(sq)?;
        let rows = tx
            .rows(
                "SELECT b.id, s.body, b.guidelines, i.item_id, i.content, i.extras, i.key, r.reasons
                 FROM reviews r JOIN items i ON i.key = r.item JOIN batches b ON b.id = i.batch_id
                 JOIN schemas s ON s.sha256 = b.schema_sha256
                 WHERE r.reviewer = ?1 AND r.done = 0
                 ORDER BY b.batch_rank, i.seq",
                &vals![reviewer.id],
            )
            .map_err(sq)?;
        let mut batches: Vec<WireBatch> = Vec::new();
        for row in &rows {
            let key = row.int(6).map_err(sq)?;
            let reasons: Vec<String> =
                serde_json::from_str(&row.text(7).map_err(sq)?).unwrap_or_default();
            let raters = tx
                .rows(
                    "SELECT ra.name, rc.status, rc.answers, rc.justification, rc.skip_reason, rc.escalation
                     FROM records rc JOIN raters ra ON ra.id = rc.rater WHERE rc.item = ?1 ORDER BY ra.name",
                    &vals![key],
                )
                .map_err(sq)?
                .iter()
                .map(|r| {
                    let done = r.text(1)? == "done";
                    Ok(crate::model::RaterAnswer {
                        rater: r.text(0)?,
                        status: crate::model::Status::parse(&r.text(1)?).unwrap_or_default(),
                        answers: if done {
                            serde_json::from_str(&r.text(2)?).unwrap_or_default()
                        } else {
                            BTreeMap::new()
                        },
                        justification: r.text(3)?,
                        skip_reason: r.opt_text(4)?,
                        escalation: r
                            .opt_text(5)?
                            .and_then(|e| serde_json::from_str(&e).ok()),
                    })
                })
                .collect::<Result<Vec<_>, SqlError>>()
                .map_err(sq)?;
            let review = crate::model::Review { reasons, raters };
            let urls = image_urls(&mut tx, std::iter::once(row)).map_err(sq)?;
            let item = wire_item(row, Some(&review), &urls).map_err(sq)?;
            let batch = row.text(0).map_err(sq)?;
            wire_push(&mut batches, &batch, row, item).map_err(sq)?;
        }
        tx.commit().map_err(sq)?;
        Ok(PullResponse {
            batches,
            calibration: Vec::new(),
            lease_expires: rfc3339(expires),
            qualification: None,
        })
    }

    /// Gives a batch a new guideline document (`verdict hub guidelines`): pulls from now
    /// on carry it (the workstation shows raters what changed), and records name the
    /// document they were made under. Returns the reference it replaced.
    pub fn set_guidelines(
        &mut self,
        batch: &str,
        doc: &crate::model::GuidelineRef,
        text: &str,
        force: bool,
    ) -> Result<crate::model::GuidelineRef, HubError> {
        let at = self.at();
        let sq = |e: SqlError| HubError::Database {
            at: at.clone(),
            cause: e,
        };
        let mut tx = self.conn.begin(true).map_err(sq)?;
        HubDb::check_schema(&mut tx, &at)?;
        let Some(row) = tx
            .row(
                "SELECT guidelines FROM batches WHERE id = ?1 /*PG: FOR UPDATE*/",
                &vals![batch],
            )
            .map_err(sq)?
        else {
            return Err(refused(format!("no batch '{batch}' on this hub")));
        };
        let old: crate::model::GuidelineRef = serde_json::from_str(&row.text(0).map_err(sq)?)
            .map_err(|e| {
                refused(format!(
                    "the stored guidelines of batch {batch} are unreadable: {e}"
                ))
            })?;
        if old.sha256 == doc.sha256 {
            return Err(refused(format!(
                "batch {batch} already has this document ({} {}); nothing was changed",
                doc.id, doc.version
            )));
        }
        // Another document, or an older version, is most often the wrong file.
        let numbers =
            |v: &str| -> Option<Vec<u64>> { v.split('.').map(|p| p.trim().parse().ok()).collect() };
        if !force && old.id != doc.id {
            return Err(refused(format!(
                "batch {batch} follows {} {}; this file is another document ({} {}). Nothing was changed; --force replaces it anyway",
                old.id, old.version, doc.id, doc.version
            )));
        }
        if !force
            && let (Some(a), Some(b)) = (numbers(&old.version), numbers(&doc.version))
            && b < a
        {
            return Err(refused(format!(
                "batch {batch} follows {} {}; {} is an older version. Nothing was changed; --force goes back anyway",
                old.id, old.version, doc.version
            )));
        }
        if old.id == doc.id && old.version == doc.version {
            return Err(refused(format!(
                "batch {batch} has another text of {} {}: give the changed document a new version in its front matter, so that records tell the two apart",
                doc.id, doc.version
            )));
        }
        tx.exec(
            "UPDATE batches SET guidelines = ?2 WHERE id = ?1",
            &vals![batch, guidelines_json(doc, Some(text))],
        )
        .map_err(sq)?;
        tx.commit().map_err(sq)?;
        Ok(old)
    }

    /// The review policy (`verdict hub review-policy`).
    pub fn review_policy(&mut self) -> Result<Policy, HubError> {
        Ok(self
            .meta("review_policy")?
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default())
    }

    /// Sets the review policy; it applies to items finished from now on (and to a scan).
    pub fn set_review_policy(&mut self, p: &Policy) -> Result<(), HubError> {
        let text = serde_json::to_string(p).unwrap_or_default();
        self.conn
            .exec(
                "INSERT INTO meta (key, value) VALUES ('review_policy', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &vals![text],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Judges every finished item not yet in the review queue by the current policy (for
    /// items finished before the hub had reviews, or after the policy changed). Returns
    /// how many were queued.
    pub fn review_scan(&mut self) -> Result<usize, HubError> {
        let policy = self.review_policy()?;
        let seed = self.meta("placement_seed")?.unwrap_or_default();
        let schemas: HashMap<String, Option<Schema>> = self
            .batches()?
            .into_iter()
            .map(|b| (b.id, Some(b.schema)))
            .collect();
        let at = self.at();
        let sq = |e: SqlError| HubError::Database {
            at: at.clone(),
            cause: e,
        };
        let keys: Vec<i64> = self
            .conn
            .rows(
                "SELECT i.key FROM items i JOIN batches b ON b.id = i.batch_id
                 WHERE i.gold IS NULL AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.item = i.key)
                 AND (SELECT count(*) FROM records rc WHERE rc.item = i.key) >= b.overlap
                 ORDER BY i.key",
                &[],
            )
            .map_err(sq)?
            .iter()
            .map(|r| r.int(0))
            .collect::<Result<_, _>>()
            .map_err(sq)?;
        let mut queued = 0;
        for chunk in keys.chunks(500) {
            let n = self.retrying(|db| {
                let mut tx = db.conn.begin(true).map_err(sq)?;
                HubDb::check_schema(&mut tx, &at)?;
                let mut n = 0;
                for key in chunk {
                    if queue_for_review(&mut tx, *key, &policy, &schemas, &seed).map_err(sq)? {
                        n += 1;
                    }
                }
                tx.commit().map_err(sq)?;
                Ok(n)
            })?;
            queued += n;
        }
        Ok(queued)
    }

    /// The review queue: (waiting, leased to a reviewer, adjudicated).
    pub fn review_counts(&mut self) -> Result<(i64, i64, i64), HubError> {
        let row = self
            .conn
            .row(
                "SELECT
                    (SELECT count(*) FROM reviews WHERE done = 0 AND reviewer IS NULL),
                    (SELECT count(*) FROM reviews WHERE done = 0 AND reviewer IS NOT NULL),
                    (SELECT count(*) FROM reviews WHERE done = 1)",
                &[],
            )
            .map_err(|e| self.err(e))?;
        let Some(r) = row else { return Ok((0, 0, 0)) };
        (|| Ok::<_, SqlError>((r.int(0)?, r.int(1)?, r.int(2)?)))().map_err(|e| self.err(e))
    }

    /// The review queue, item by item: (batch, item, state, reasons, queued at, who
    /// skipped it). `state` is `waiting`, `with REVIEWER until T` or `adjudicated by
    /// REVIEWER`.
    pub fn review_queue(&mut self) -> Result<Vec<QueueRow>, HubError> {
        let rows = self
            .conn
            .rows(
                "SELECT i.batch_id, i.item_id, r.done, ra.name, r.expires_at, r.reasons, r.queued_at, aa.name,
                        (SELECT count(*) FROM review_skips s WHERE s.item = r.item)
                 FROM reviews r JOIN items i ON i.key = r.item
                 LEFT JOIN raters ra ON ra.id = r.reviewer
                 LEFT JOIN adjudications a ON a.item = r.item LEFT JOIN raters aa ON aa.id = a.reviewer
                 ORDER BY r.done, r.queued_at, r.item",
                &[],
            )
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for r in &rows {
            let row = (|| {
                let state = match (r.int(2)?, r.opt_text(3)?, r.opt_text(7)?) {
                    (1, _, Some(by)) => format!("adjudicated by {by}"),
                    (1, _, None) => "adjudicated".to_string(),
                    (_, Some(who), _) => format!(
                        "with {who} until {}",
                        rfc3339(r.opt_int(4)?.unwrap_or_default())
                    ),
                    _ => "waiting".to_string(),
                };
                let skips = r.int(8)?;
                Ok::<_, SqlError>(QueueRow {
                    batch: r.text(0)?,
                    item: r.text(1)?,
                    state,
                    reasons: serde_json::from_str(&r.text(5)?).unwrap_or_default(),
                    queued: rfc3339(r.int(6)?),
                    skipped_by: skips as usize,
                })
            })()
            .map_err(|e| self.err(e))?;
            out.push(row);
        }
        Ok(out)
    }

    /// Every adjudicated item's final answers.
    pub fn adjudications(&mut self) -> Result<Vec<super::report::AdjudicationRow>, HubError> {
        let rows = self
            .conn
            .rows(
                "SELECT i.batch_id, i.item_id, ra.name, a.answers, a.justification, a.submitted, rv.reasons
                 FROM adjudications a JOIN items i ON i.key = a.item JOIN raters ra ON ra.id = a.reviewer
                 LEFT JOIN reviews rv ON rv.item = a.item
                 ORDER BY i.batch_id, i.seq",
                &[],
            )
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                Ok(super::report::AdjudicationRow {
                    batch: r.text(0)?,
                    item: r.text(1)?,
                    reviewer: r.text(2)?,
                    answers: serde_json::from_str(&r.text(3)?).unwrap_or_default(),
                    reason: r.text(4)?,
                    submitted: r.text(5)?,
                    queued_because: r
                        .opt_text(6)?
                        .and_then(|x| serde_json::from_str(&x).ok())
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<_, SqlError>>()
            .map_err(|e| self.err(e))
    }

    /// Checks a bundle from a rater and stores its records, all or nothing: the signature
    /// against the rater's registered key (with its trusted comment), the manifest against
    /// the records, each item's hash, each record against its batch's schema, and that
    /// each item is leased to this rater. The checks that need no lock (the signature,
    /// hashes, schema) run before the write transaction, so that a large bundle does not
    /// hold up other raters. The same bundle again is acknowledged without storing
    /// anything twice, whichever hub process received the first copy.
    ///
    /// A lease that has expired but not yet been given back to the pool (no pull has
    /// reclaimed it) still counts: no one else holds that slot, so the work is taken.
    pub fn push(
        &mut self,
        rater: &Rater,
        bundle: &[u8],
        signature: &str,
    ) -> Result<PushResponse, HubError> {
        let at = self.at();
        let sq = |e: SqlError| HubError::Database {
            at: at.clone(),
            cause: e,
        };
        // A NUL anywhere in the bundle's text is refused before anything looks it up:
        // PostgreSQL cannot hold one, and both backends answer alike.
        let nul = nul_lines(bundle);
        if !nul.is_empty() {
            return Err(HubError::Invalid {
                message: "the bundle holds text with a NUL character; nothing of it was stored"
                    .into(),
                problems: nul,
            });
        }
        // A bundle pushed with another person's token: say whose the bundle is.
        if let Ok(sig) = minisign::SignatureBox::from_string(signature) {
            let signed_by = crate::keys::key_id(sig.keynum());
            if signed_by != crate::keys::key_id(rater.pubkey.keynum()) {
                let owner = self
                    .rater_by_key_id(&signed_by)?
                    .map(|r| format!("registered to {}", r.name))
                    .unwrap_or_else(|| "not registered on this hub".into());
                return Err(HubError::Refused {
                    message: format!(
                        "this bundle is signed with key {signed_by} ({owner}), but the token is {}'s: push each person's bundles with their own token; nothing was stored",
                        rater.name
                    ),
                    problems: Vec::new(),
                });
            }
        }
        let mut lookup_err = None;
        let mut contents: HashMap<(String, String), String> = HashMap::new();
        let v = {
            let conn = &mut self.conn;
            crate::bundle::verify_bytes(
                bundle,
                Ok(signature.to_string()),
                &rater.pubkey,
                |batch, item| {
                    let row = conn
                        .row(
                            "SELECT sha256, content FROM items WHERE batch_id = ?1 AND item_id = ?2",
                            &vals![batch, item],
                        )
                        .and_then(|r| r.map(|r| Ok((r.text(0)?, r.text(1)?))).transpose());
                    match row {
                        Ok(Some((sha, content))) => {
                            contents.insert((batch.to_string(), item.to_string()), content);
                            Some(sha)
                        }
                        Ok(None) => None,
                        Err(e) => {
                            lookup_err = Some(e);
                            None
                        }
                    }
                },
            )
        };
        if let Some(e) = lookup_err {
            return Err(sq(e));
        }
        let mut problems = v.failures.clone();
        if v.trusted_comment.trim().is_empty() && signature_parses(signature) {
            problems.push(
                "signature: the trusted comment is empty; verdict signs each bundle with one that names it (export the bundle again with verdict export)".into(),
            );
        }
        let Some(manifest) = v.manifest.clone() else {
            return Err(HubError::Refused {
                message: "the bundle was refused".into(),
                problems,
            });
        };
        if !problems.is_empty() {
            return Err(refusal(&manifest.bundle_id, problems));
        }
        // Each record against its batch's schema.
        let mut schemas: HashMap<String, Option<Schema>> = HashMap::new();
        let mut invalid = Vec::new();
        for r in &v.records {
            if !schemas.contains_key(&r.batch_id) {
                let s = self.batch_schema(&r.batch_id)?;
                schemas.insert(r.batch_id.clone(), s);
            }
            let Some(Some(schema)) = schemas.get(&r.batch_id) else {
                continue;
            };
            let pairwise = contents
                .get(&(r.batch_id.clone(), r.item_id.clone()))
                .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
                .and_then(|c| c["responses"].as_array().map(|a| a.len() == 2))
                .unwrap_or(false);
            for p in record_problems(schema, pairwise, r, rater.role == Role::Reviewer) {
                invalid.push(format!("record {}/{}: {p}", r.batch_id, r.item_id));
            }
        }
        if v.not_in_cache > 0 {
            problems.push(format!(
                "{} records name items this hub does not have",
                v.not_in_cache
            ));
        }
        if !problems.is_empty() {
            return Err(refusal(&manifest.bundle_id, problems));
        }
        if !invalid.is_empty() {
            return Err(HubError::Invalid {
                message: format!(
                    "bundle {} breaks its batches' schemas; nothing of it was stored",
                    crate::safe::sanitize_line(&manifest.bundle_id)
                ),
                problems: invalid
                    .iter()
                    .map(|p| crate::safe::sanitize_line(p))
                    .collect(),
            });
        }
        let sha = crate::model::sha256_hex(bundle);
        // Each record names the guideline document it was made under: its own, else its
        // batch's in the manifest.
        let mut records = v.records.clone();
        for r in &mut records {
            if r.guidelines.is_none() {
                r.guidelines = manifest
                    .batches
                    .iter()
                    .find(|b| b.id == r.batch_id)
                    .map(|b| b.guidelines.clone());
            }
        }
        // (Tests hold a push here, checked and not yet storing, to show that it holds up
        // no one.)
        crate::failpoint::pause("hub:push-checked");
        if rater.role == Role::Reviewer {
            return self.retrying(|db| {
                db.store_review_bundle(rater, &records, &manifest.bundle_id, &sha, &schemas)
            });
        }
        let policy = self.review_policy()?;
        let seed = self.meta("placement_seed")?.unwrap_or_default();
        self.retrying(|db| {
            db.store_bundle(
                rater,
                &records,
                &manifest.bundle_id,
                &sha,
                (&policy, &schemas, &seed),
            )
        })
    }

    fn batch_schema(&mut self, batch: &str) -> Result<Option<Schema>, HubError> {
        let row = self
            .conn
            .row(
                "SELECT s.body FROM batches b JOIN schemas s ON s.sha256 = b.schema_sha256 WHERE b.id = ?1",
                &vals![batch],
            )
            .map_err(|e| self.err(e))?;
        let Some(row) = row else { return Ok(None) };
        let body = row.text(0).map_err(|e| self.err(e))?;
        let v: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| refused(e.to_string()))?;
        Schema::from_json(v, &format!("schema of batch {batch}"))
            .map(Some)
            .map_err(|e| refused(e.to_string()))
    }

    fn store_bundle(
        &mut self,
        rater: &Rater,
        records: &[crate::model::Record],
        bundle_id: &str,
        sha: &str,
        (policy, schemas, seed): (&Policy, &HashMap<String, Option<Schema>>, &str),
    ) -> Result<PushResponse, HubError> {
        let at = self.at();
        let sq = |e: SqlError| HubError::Database {
            at: at.clone(),
            cause: e,
        };
        let mut tx = self.conn.begin(true).map_err(sq)?;
        HubDb::check_schema(&mut tx, &at)?;
        let mut problems = Vec::new();
        match received_before(&mut tx, rater.id, bundle_id, sha).map_err(sq)? {
            Some(Ok(replay)) => return Ok(replay),
            Some(Err(conflict)) => problems.push(conflict),
            None => {}
        }
        let mut keys = Vec::with_capacity(records.len());
        for r in records {
            let leased = tx
                .row(
                    "SELECT i.key, CASE WHEN i.gold IS NULL THEN 0 ELSE 1 END
                     FROM items i JOIN leases l ON l.item = i.key AND l.rater = ?3
                     WHERE i.batch_id = ?1 AND i.item_id = ?2 /*PG: FOR NO KEY UPDATE OF l*/",
                    &vals![&r.batch_id, &r.item_id, rater.id],
                )
                .map_err(sq)?;
            match leased {
                Some(k) => keys.push((k.int(0).map_err(sq)?, k.int(1).map_err(sq)? == 1)),
                None => problems.push(format!(
                    "record {}/{}: this item is not leased to you (never leased, or your lease expired and a pull gave the item back to the pool); pull again for work",
                    r.batch_id, r.item_id
                )),
            }
        }
        if !problems.is_empty() {
            return Err(refusal(bundle_id, problems));
        }
        let n = tx
            .exec(
                "INSERT INTO bundles (id, rater, sha256, received_at, records) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO NOTHING",
                &vals![bundle_id, rater.id, sha, now_ms(), records.len()],
            )
            .map_err(sq)?;
        if n == 0 {
            return Err(refusal(
                bundle_id,
                vec![format!(
                    "bundle {bundle_id} was received before with other contents"
                )],
            ));
        }
        let received = now_ms();
        let mut finished: Vec<i64> = keys.iter().filter(|k| !k.1).map(|k| k.0).collect();
        let mut revised: Vec<i64> = Vec::new();
        for (r, (key, gold)) in records.iter().zip(keys) {
            let answers = serde_json::to_string(&r.answers).unwrap_or_default();
            if gold {
                // The first record of a gold item is the one that scores; kept as it came.
                tx.exec(
                    "INSERT INTO gold_first (item, rater, bundle, revision, status, answers, received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                    &vals![key, rater.id, bundle_id, r.revision as i64, &r.status, &answers, received],
                )
                .map_err(sq)?;
            }
            let stored = tx.exec(
                "INSERT INTO records (item, rater, bundle, revision, status, answers, justification, skip_reason, escalation, active_ms, submitted, guidelines)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (item, rater) DO UPDATE SET bundle = excluded.bundle, revision = excluded.revision,
                   status = excluded.status, answers = excluded.answers, justification = excluded.justification,
                   skip_reason = excluded.skip_reason, escalation = excluded.escalation, active_ms = excluded.active_ms,
                   submitted = excluded.submitted, guidelines = excluded.guidelines
                 WHERE excluded.revision > records.revision",
                &vals![
                    key,
                    rater.id,
                    bundle_id,
                    r.revision as i64,
                    &r.status,
                    answers,
                    &r.justification,
                    r.skip_reason.clone(),
                    r.escalation.as_ref().map(|e| serde_json::to_string(e).unwrap_or_default()),
                    r.active_ms as i64,
                    &r.submitted,
                    r.guidelines.as_ref().map(|g| serde_json::to_string(g).unwrap_or_default())
                ],
            )
            .map_err(sq)?;
            if stored > 0 && !gold {
                revised.push(key);
            }
            tx.exec(
                "UPDATE leases SET done = 1 WHERE item = ?1 AND rater = ?2 AND done = 0",
                &vals![key, rater.id],
            )
            .map_err(sq)?;
        }
        // Items this push finished go to the review queue when the policy picks them (in
        // key order: two pushes lock the items they share in the same order).
        finished.sort_unstable();
        finished.dedup();
        for key in finished {
            queue_for_review(&mut tx, key, policy, schemas, seed).map_err(sq)?;
        }
        // A rater who changes a record after a reviewer adjudicated the item sends it
        // back for review: the adjudication stays final until a reviewer answers again.
        revised.sort_unstable();
        revised.dedup();
        for key in revised {
            let Some(row) = tx
                .row(
                    "SELECT rv.reasons FROM reviews rv JOIN adjudications a ON a.item = rv.item
                     WHERE rv.item = ?1 AND rv.done = 1 /*PG: FOR UPDATE OF rv*/",
                    &vals![key],
                )
                .map_err(sq)?
            else {
                continue;
            };
            let mut reasons: Vec<String> =
                serde_json::from_str(&row.text(0).map_err(sq)?).unwrap_or_default();
            let again = format!("{} revised their record after the adjudication", rater.name);
            if !reasons.contains(&again) {
                reasons.push(again);
            }
            tx.exec(
                "UPDATE reviews SET done = 0, reviewer = NULL, expires_at = NULL, reasons = ?2 WHERE item = ?1",
                &vals![key, serde_json::to_string(&reasons).unwrap_or_default()],
            )
            .map_err(sq)?;
        }
        // (Tests hold a push here, its items locked, to show that another push finishing
        // the same item waits for it and then sees its record.)
        crate::failpoint::pause("hub:push-queued");
        settle_qualification(&mut tx, rater.id).map_err(sq)?;
        tx.commit().map_err(sq)?;
        // (Tests crash here: stored, but the answer never sent.)
        crate::failpoint::hit("hub:push-committed");
        Ok(PushResponse {
            bundle_id: bundle_id.to_string(),
            accepted: records.len() as u64,
            duplicate: false,
        })
    }

    /// Stores a reviewer's bundle, all or nothing: each record must be of an item under
    /// review by this reviewer. A submitted record is the item's final answers (and must
    /// give a reason unless it confirms a rater's answers); a skipped one gives the item
    /// back to the queue for another reviewer.
    fn store_review_bundle(
        &mut self,
        reviewer: &Rater,
        records: &[crate::model::Record],
        bundle_id: &str,
        sha: &str,
        schemas: &HashMap<String, Option<Schema>>,
    ) -> Result<PushResponse, HubError> {
        let at = self.at();
        let sq = |e: SqlError| HubError::Database {
            at: at.clone(),
            cause: e,
        };
        let mut tx = self.conn.begin(true).map_err(sq)?;
        HubDb::check_schema(&mut tx, &at)?;
        match received_before(&mut tx, reviewer.id, bundle_id, sha).map_err(sq)? {
            Some(Ok(replay)) => return Ok(replay),
            Some(Err(conflict)) => return Err(refusal(bundle_id, vec![conflict])),
            None => {}
        }
        let mut problems = Vec::new();
        let mut invalid = Vec::new();
        let mut keys = Vec::with_capacity(records.len());
        for r in records {
            let row = tx
                .row(
                    "SELECT rv.item, i.content FROM reviews rv JOIN items i ON i.key = rv.item
                     WHERE i.batch_id = ?1 AND i.item_id = ?2 AND rv.reviewer = ?3 /*PG: FOR NO KEY UPDATE OF rv*/",
                    &vals![&r.batch_id, &r.item_id, reviewer.id],
                )
                .map_err(sq)?;
            let Some(row) = row else {
                problems.push(format!(
                    "record {}/{}: this item is not under review by you (never given to you, or your review lease expired and the item went to another reviewer); pull again for work",
                    r.batch_id, r.item_id
                ));
                continue;
            };
            let key = row.int(0).map_err(sq)?;
            keys.push(key);
            if r.status != "done" {
                continue;
            }
            let pairwise = serde_json::from_str::<serde_json::Value>(&row.text(1).map_err(sq)?)
                .ok()
                .and_then(|c| c["responses"].as_array().map(|a| a.len() == 2))
                .unwrap_or(false);
            let raters = tx
                .rows(
                    "SELECT ra.name, rc.status, rc.answers FROM records rc JOIN raters ra ON ra.id = rc.rater
                     WHERE rc.item = ?1 ORDER BY ra.name",
                    &vals![key],
                )
                .map_err(sq)?
                .iter()
                .map(|x| {
                    Ok(crate::model::RaterAnswer {
                        rater: x.text(0)?,
                        status: crate::model::Status::parse(&x.text(1)?).unwrap_or_default(),
                        answers: serde_json::from_str(&x.text(2)?).unwrap_or_default(),
                        justification: String::new(),
                        skip_reason: None,
                        escalation: None,
                    })
                })
                .collect::<Result<Vec<_>, SqlError>>()
                .map_err(sq)?;
            let review = crate::model::Review {
                reasons: Vec::new(),
                raters,
            };
            if let Some(Some(schema)) = schemas.get(&r.batch_id) {
                for p in review.problems(schema, pairwise, &r.answers, &r.justification) {
                    invalid.push(format!("record {}/{}: {p}", r.batch_id, r.item_id));
                }
            }
        }
        if !problems.is_empty() {
            return Err(refusal(bundle_id, problems));
        }
        if !invalid.is_empty() {
            return Err(HubError::Invalid {
                message: format!(
                    "bundle {} breaks the review rules; nothing of it was stored",
                    crate::safe::sanitize_line(bundle_id)
                ),
                problems: invalid
                    .iter()
                    .map(|p| crate::safe::sanitize_line(p))
                    .collect(),
            });
        }
        tx.exec(
            "INSERT INTO bundles (id, rater, sha256, received_at, records) VALUES (?1, ?2, ?3, ?4, ?5)",
            &vals![bundle_id, reviewer.id, sha, now_ms(), records.len()],
        )
        .map_err(sq)?;
        let received = now_ms();
        for (r, key) in records.iter().zip(keys) {
            if r.status == "done" {
                tx.exec(
                    "INSERT INTO adjudications (item, reviewer, bundle, revision, answers, justification, submitted, received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (item) DO UPDATE SET reviewer = excluded.reviewer, bundle = excluded.bundle,
                       revision = excluded.revision, answers = excluded.answers, justification = excluded.justification,
                       submitted = excluded.submitted, received_at = excluded.received_at
                     WHERE excluded.revision > adjudications.revision OR excluded.reviewer <> adjudications.reviewer",
                    &vals![
                        key,
                        reviewer.id,
                        bundle_id,
                        r.revision as i64,
                        serde_json::to_string(&r.answers).unwrap_or_default(),
                        &r.justification,
                        &r.submitted,
                        received
                    ],
                )
                .map_err(sq)?;
                tx.exec("UPDATE reviews SET done = 1 WHERE item = ?1", &vals![key])
                    .map_err(sq)?;
            } else {
                // A reviewer who cannot decide leaves the item to another (and withdraws
                // an earlier answer of theirs to it).
                tx.exec(
                    "INSERT INTO review_skips (item, reviewer, reason, at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO NOTHING",
                    &vals![
                        key,
                        reviewer.id,
                        r.skip_reason.clone().unwrap_or_default(),
                        received
                    ],
                )
                .map_err(sq)?;
                tx.exec(
                    "DELETE FROM adjudications WHERE item = ?1 AND reviewer = ?2 AND revision < ?3",
                    &vals![key, reviewer.id, r.revision as i64],
                )
                .map_err(sq)?;
                tx.exec(
                    "UPDATE reviews SET reviewer = NULL, expires_at = NULL, done = 0
                     WHERE item = ?1 AND NOT EXISTS (SELECT 1 FROM adjudications a WHERE a.item = ?1)",
                    &vals![key],
                )
                .map_err(sq)?;
            }
        }
        tx.commit().map_err(sq)?;
        Ok(PushResponse {
            bundle_id: bundle_id.to_string(),
            accepted: records.len() as u64,
            duplicate: false,
        })
    }

    /// Per batch: (id, overlap, items, leases, records), for `verdict hub status`.
    pub fn progress(&mut self) -> Result<Vec<Progress>, HubError> {
        let rows = self
            .conn
            .rows(
                "SELECT b.id, b.overlap,
                        (SELECT count(*) FROM items i WHERE i.batch_id = b.id),
                        (SELECT count(*) FROM leases l JOIN items x ON x.key = l.item WHERE x.batch_id = b.id),
                        (SELECT count(*) FROM records r JOIN items x ON x.key = r.item WHERE x.batch_id = b.id)
                 FROM batches b ORDER BY b.batch_rank, b.id",
                &[],
            )
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| Ok((r.text(0)?, r.int(1)?, r.int(2)?, r.int(3)?, r.int(4)?)))
            .collect::<Result<_, SqlError>>()
            .map_err(|e| self.err(e))
    }

    /// How many distinct raters hold a lease on each regular item, with its batch's
    /// overlap and its open slots: (batch, item, overlap, leases, open slots).
    pub fn lease_counts(&mut self) -> Result<Vec<(String, String, i64, i64)>, HubError> {
        let rows = self
            .conn
            .rows(
                "SELECT i.batch_id, i.item_id, b.overlap,
                        (SELECT count(*) FROM leases l WHERE l.item = i.key)
                 FROM items i JOIN batches b ON b.id = i.batch_id
                 WHERE i.gold IS NULL ORDER BY i.batch_id, i.item_id",
                &[],
            )
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?, r.int(2)?, r.int(3)?)))
            .collect::<Result<_, SqlError>>()
            .map_err(|e| self.err(e))
    }

    /// Items whose open-slot count disagrees with overlap minus leases (should be none;
    /// for checks and the load test).
    pub fn slot_mismatches(&mut self) -> Result<i64, HubError> {
        let row = self
            .conn
            .row(
                "SELECT count(*) FROM items i JOIN batches b ON b.id = i.batch_id
                 WHERE i.gold IS NULL
                 AND i.open_slots <> b.overlap - (SELECT count(*) FROM leases l WHERE l.item = i.key)",
                &[],
            )
            .map_err(|e| self.err(e))?;
        row.map(|r| r.int(0))
            .transpose()
            .map_err(|e| self.err(e))
            .map(|n| n.unwrap_or(0))
    }

    /// Records stored: (rater name, batch, item, revision).
    pub fn records(&mut self) -> Result<Vec<(String, String, String, i64)>, HubError> {
        let rows = self
            .conn
            .rows(
                "SELECT ra.name, i.batch_id, i.item_id, r.revision FROM records r
                 JOIN raters ra ON ra.id = r.rater JOIN items i ON i.key = r.item ORDER BY 1, 2, 3",
                &[],
            )
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?, r.text(2)?, r.int(3)?)))
            .collect::<Result<_, SqlError>>()
            .map_err(|e| self.err(e))
    }
}

/// A number in [0, 1) from a hash of the seed, the rater and the item: uniform, the same
/// each time, unpredictable without the seed.
fn unit_hash(seed: &str, rater: i64, item: i64) -> f64 {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{seed}:{rater}:{item}").as_bytes());
    let mut top = [0u8; 8];
    top.copy_from_slice(&h[..8]);
    (u64::from_be_bytes(top) >> 11) as f64 / (1u64 << 53) as f64
}

/// `None` when the gate does not apply to this rater (no qualification set, or passed);
/// `Some(None)` while they have not finished it, `Some(Some("failed"))` when they failed.
fn qualification_state(tx: &mut Conn, rater: i64) -> Result<Option<Option<String>>, SqlError> {
    let sets = tx.int("SELECT count(*) FROM items WHERE qualification = 1", &[])?;
    if sets == 0 {
        return Ok(None);
    }
    let status = tx
        .row(
            "SELECT qualification FROM raters WHERE id = ?1",
            &vals![rater],
        )?
        .map(|r| r.opt_text(0))
        .transpose()?
        .flatten();
    Ok(match status.as_deref() {
        Some("passed" | "exempt") => None,
        _ => Some(status),
    })
}

/// Where the rater stands, for a pull's answer; `None` when the hub has no
/// qualification set.
fn qualification_view(
    tx: &mut Conn,
    rater: i64,
) -> Result<Option<super::api::Qualification>, SqlError> {
    let sets = tx.int("SELECT count(*) FROM items WHERE qualification = 1", &[])?;
    if sets == 0 {
        return Ok(None);
    }
    let (pass, pass_question) = qualification_marks(tx)?;
    let row = tx.row(
        "SELECT qualification, qualification_detail, qualification_attempt FROM raters WHERE id = ?1",
        &vals![rater],
    )?;
    let attempt = match &row {
        Some(r) => r.int(2)?.clamp(0, u32::MAX as i64) as u32,
        None => 0,
    };
    if let Some(row) = row
        && let Some(status) = row.opt_text(0)?
    {
        if let Some(detail) = row.opt_text(1)?
            && let Ok(q) = serde_json::from_str::<super::api::Qualification>(&detail)
        {
            return Ok(Some(super::api::Qualification { attempt, ..q }));
        }
        // `exempt`: no answers to show.
        return Ok(Some(super::api::Qualification {
            attempt,
            status,
            to_answer: 0,
            score: None,
            pass,
            pass_question,
            per_question: BTreeMap::new(),
            missed: Vec::new(),
        }));
    }
    let to_answer = tx.int(
        "SELECT count(*) FROM items i WHERE i.qualification = 1
             AND NOT EXISTS (SELECT 1 FROM gold_first g WHERE g.item = i.key AND g.rater = ?1)",
        &vals![rater],
    )?;
    Ok(Some(super::api::Qualification {
        attempt,
        status: "pending".into(),
        to_answer: to_answer as usize,
        score: None,
        pass,
        pass_question,
        per_question: BTreeMap::new(),
        missed: Vec::new(),
    }))
}

fn qualification_marks(tx: &mut Conn) -> Result<(f64, f64), SqlError> {
    let mut get = |k: &str, default: f64| -> Result<f64, SqlError> {
        Ok(tx
            .row("SELECT value FROM meta WHERE key = ?1", &vals![k])?
            .map(|r| r.text(0))
            .transpose()?
            .and_then(|v| v.parse().ok())
            .unwrap_or(default))
    };
    Ok((get("qual_pass", 0.8)?, get("qual_pass_question", 0.0)?))
}

/// Once a rater has a first record of every qualification item, scores them (once: a
/// later revision never changes the result) and keeps the result with the rater.
fn settle_qualification(tx: &mut Conn, rater: i64) -> Result<(), SqlError> {
    if qualification_state(tx, rater)? != Some(None) {
        return Ok(());
    }
    let rows = tx.rows(
        "SELECT i.batch_id, i.item_id, i.gold, g.status, g.answers
         FROM items i LEFT JOIN gold_first g ON g.item = i.key AND g.rater = ?1
         WHERE i.qualification = 1 ORDER BY i.batch_id, i.seq",
        &vals![rater],
    )?;
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        let (Some(status), Some(answers)) = (r.opt_text(3)?, r.opt_text(4)?) else {
            return Ok(()); // not finished yet
        };
        let gold: serde_json::Value =
            serde_json::from_str(&r.opt_text(2)?.unwrap_or_default()).unwrap_or_default();
        items.push(super::qualification::Answered {
            batch_id: r.text(0)?,
            item_id: r.text(1)?,
            reference: serde_json::from_value(gold["answers"].clone()).unwrap_or_default(),
            explanation: gold["explanation"].as_str().unwrap_or_default().to_string(),
            status,
            answers: serde_json::from_str(&answers).unwrap_or_default(),
        });
    }
    let (pass, pass_question) = qualification_marks(tx)?;
    let result = super::qualification::evaluate(&items, pass, pass_question);
    tx.exec(
        "UPDATE raters SET qualification = ?1, qualification_detail = ?2 WHERE id = ?3",
        &vals![
            result.status.clone(),
            serde_json::to_string(&result).unwrap_or_default(),
            rater
        ],
    )?;
    Ok(())
}

/// Keys per `IN (...)` list.
const IN_CHUNK: usize = 100;

/// `?first, ?first+1, ...`: `n` parameters.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Items inserted per statement when loading.
const LOAD_CHUNK: usize = 200;

struct NewItem {
    qualification: i64,
    line: u64,
    id: String,
    seq: i64,
    hash: String,
    canonical: String,
    extras: String,
    gold: Option<String>,
    slots: i64,
}

/// Inserts items, many per statement; an item loaded before must be unchanged. Returns
/// (added, already there).
fn insert_items(
    tx: &mut Conn,
    batch: &str,
    rank: i64,
    file: &Path,
    items: &[NewItem],
) -> Result<(u64, u64), HubError> {
    if items.is_empty() {
        return Ok((0, 0));
    }
    let sq = |e: SqlError| HubError::Database {
        at: file.display().to_string(),
        cause: e,
    };
    let mut sql = String::from(
        "INSERT INTO items (batch_id, item_id, seq, sha256, content, extras, gold, batch_rank, open_slots, qualification) VALUES ",
    );
    let mut params = Vec::with_capacity(items.len() * 10);
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&placeholders(i * 10 + 1, 10));
        sql.push(')');
        params.extend(vals![
            batch,
            &it.id,
            it.seq,
            &it.hash,
            &it.canonical,
            &it.extras,
            it.gold.clone(),
            rank,
            it.slots,
            it.qualification
        ]);
    }
    sql.push_str(" ON CONFLICT (batch_id, item_id) DO NOTHING RETURNING item_id");
    let inserted: std::collections::HashSet<String> = tx
        .rows(&sql, &params)
        .map_err(sq)?
        .iter()
        .map(|r| r.text(0))
        .collect::<Result<_, _>>()
        .map_err(sq)?;
    let mut same = 0;
    for it in items.iter().filter(|it| !inserted.contains(&it.id)) {
        let old = tx
            .row(
                "SELECT sha256 FROM items WHERE batch_id = ?1 AND item_id = ?2",
                &vals![batch, &it.id],
            )
            .map_err(sq)?
            .map(|r| r.text(0))
            .transpose()
            .map_err(sq)?;
        if old.as_deref() != Some(it.hash.as_str()) {
            return Err(refused(format!(
                "{}:{}: item '{}' changed since it was loaded; give it a new id",
                file.display(),
                it.line,
                it.id
            )));
        }
        same += 1;
    }
    Ok((inserted.len() as u64, same))
}

fn signature_parses(signature: &str) -> bool {
    minisign::SignatureBox::from_string(signature).is_ok()
}

fn refusal(bundle_id: &str, problems: Vec<String>) -> HubError {
    // Each problem is one line, whatever ids from the bundle it quotes.
    HubError::Refused {
        message: format!(
            "bundle {} was refused; nothing of it was stored",
            crate::safe::sanitize_line(bundle_id)
        ),
        problems: problems
            .iter()
            .map(|p| crate::safe::sanitize_line(p))
            .collect(),
    }
}

/// Locks the pushing person's row (one pull or push per person at a time, across hub
/// processes) and says whether the bundle id was received before: the same bytes from
/// the same person (a replay: acknowledged again, nothing stored twice), or other
/// contents (refused). `None`: a new bundle.
fn received_before(
    tx: &mut Conn,
    who: i64,
    bundle_id: &str,
    sha: &str,
) -> Result<Option<Result<PushResponse, String>>, SqlError> {
    tx.rows(
        "SELECT id FROM raters WHERE id = ?1 /*PG: FOR NO KEY UPDATE*/",
        &vals![who],
    )?;
    let Some(row) = tx.row(
        "SELECT rater, sha256 FROM bundles WHERE id = ?1",
        &vals![bundle_id],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(if row.int(0)? == who && row.text(1)? == sha {
        Ok(PushResponse {
            bundle_id: bundle_id.to_string(),
            accepted: 0,
            duplicate: true,
        })
    } else {
        Err(format!(
            "bundle {bundle_id} was received before with other contents"
        ))
    }))
}

/// A batch's guideline reference as the hub keeps it (and sends it with a pull): with the
/// document's text when the batch carried one.
fn guidelines_json(g: &crate::model::GuidelineRef, text: Option<&str>) -> String {
    let mut v = serde_json::to_value(g).unwrap_or_default();
    if let Some(t) = text {
        v["text"] = serde_json::Value::String(t.to_string());
    }
    v.to_string()
}

/// The `data:` URL of each image the content of these item rows (column 4) names.
fn image_urls<'r>(
    conn: &mut Conn,
    rows: impl Iterator<Item = &'r Row>,
) -> Result<HashMap<String, String>, SqlError> {
    let mut shas = std::collections::BTreeSet::new();
    for row in rows {
        let text = row.text(4)?;
        if !text.contains("\"images\"") {
            continue;
        }
        if let Ok(c) = serde_json::from_str::<crate::model::Content>(&text) {
            shas.extend(c.images().map(|r| r.sha256.clone()));
        }
    }
    let shas: Vec<String> = shas.into_iter().collect();
    let mut out = HashMap::new();
    for chunk in shas.chunks(IN_CHUNK) {
        let params: Vec<Val> = chunk.iter().map(|s| Val::Text(s.clone())).collect();
        let rows = conn.rows(
            &format!(
                "SELECT sha256, media_type, data FROM images WHERE sha256 IN ({})",
                placeholders(1, chunk.len())
            ),
            &params,
        )?;
        for r in rows {
            out.insert(
                r.text(0)?,
                format!("data:{};base64,{}", r.text(1)?, r.text(2)?),
            );
        }
    }
    Ok(out)
}

/// Stored content in the batch format: each turn's and response's images as parts whose
/// `url` is a `data:` URL (the workstation is offline later; a path would mean nothing).
fn wire_content(
    content: &serde_json::Value,
    urls: &HashMap<String, String>,
) -> (serde_json::Value, serde_json::Value) {
    use serde_json::{Value, json};
    let url = |r: &Value| -> String {
        let sha = r["sha256"].as_str().unwrap_or_default();
        urls.get(sha).cloned().unwrap_or_default()
    };
    let mut messages = content["conversation"].clone();
    for m in messages.as_array_mut().into_iter().flatten() {
        if let Some(Value::Array(images)) = m.as_object_mut().and_then(|o| o.remove("images")) {
            let mut parts = vec![json!({"type": "text", "text": m["content"]})];
            parts.extend(
                images
                    .iter()
                    .map(|i| json!({"type": "image", "url": url(i)})),
            );
            m["content"] = Value::Array(parts);
        }
    }
    let mut responses = content["responses"].clone();
    for r in responses.as_array_mut().into_iter().flatten() {
        if let Some(Value::Array(images)) = r.get("images").cloned() {
            r["images"] = Value::Array(images.iter().map(|i| json!({"url": url(i)})).collect());
        }
    }
    (messages, responses)
}

/// An item row (batch id, schema, guidelines, item id, content, extras in columns 0-5) in
/// the batch format, with the review for a reviewer.
fn wire_item(
    row: &Row,
    review: Option<&crate::model::Review>,
    urls: &HashMap<String, String>,
) -> Result<serde_json::Value, SqlError> {
    let content: serde_json::Value = serde_json::from_str(&row.text(4)?).unwrap_or_default();
    let extras: Extras = serde_json::from_str(&row.text(5)?).unwrap_or_default();
    let (messages, responses) = wire_content(&content, urls);
    let mut item = serde_json::json!({
        "id": row.text(3)?,
        "messages": messages,
        "responses": responses,
    });
    if !extras.metadata.is_empty() {
        item["metadata"] = serde_json::Value::Object(extras.metadata);
    }
    if !extras.suggestions.is_empty() {
        item["suggestions"] = serde_json::to_value(&extras.suggestions).unwrap_or_default();
    }
    if let Some(w) = extras.content_warning {
        item["content_warning"] = serde_json::Value::String(w);
    }
    if let Some(r) = review {
        item["review"] = serde_json::to_value(r).unwrap_or_default();
    }
    Ok(item)
}

/// Adds an item to the last wire batch, starting a new one (with its manifest) when the
/// batch changes.
fn wire_push(
    batches: &mut Vec<WireBatch>,
    batch: &str,
    row: &Row,
    item: serde_json::Value,
) -> Result<(), SqlError> {
    if batches
        .last()
        .is_none_or(|b| b.manifest["batch_id"] != batch)
    {
        let schema: serde_json::Value = serde_json::from_str(&row.text(1)?).unwrap_or_default();
        let guidelines: serde_json::Value = serde_json::from_str(&row.text(2)?).unwrap_or_default();
        batches.push(WireBatch {
            manifest: serde_json::json!({
                "format": crate::batch::BATCH_FORMAT,
                "batch_id": batch,
                "schema": schema,
                "guidelines": guidelines,
            }),
            items: Vec::new(),
        });
    }
    if let Some(b) = batches.last_mut() {
        b.items.push(item);
    }
    Ok(())
}

/// Puts a finished item in the review queue when the policy picks it (and it is not
/// there already). The item's row is locked first, so that of two pushes finishing the
/// same item at once on PostgreSQL the second sees the first's record. Returns whether
/// it was queued.
fn queue_for_review(
    tx: &mut Conn,
    key: i64,
    policy: &Policy,
    schemas: &HashMap<String, Option<Schema>>,
    seed: &str,
) -> Result<bool, SqlError> {
    let Some(item) = tx.row(
        "SELECT i.batch_id, b.overlap FROM items i JOIN batches b ON b.id = i.batch_id
         WHERE i.key = ?1 AND i.gold IS NULL /*PG: FOR NO KEY UPDATE OF i*/",
        &vals![key],
    )?
    else {
        return Ok(false);
    };
    let (batch, overlap) = (item.text(0)?, item.int(1)?);
    if tx
        .row("SELECT 1 FROM reviews WHERE item = ?1", &vals![key])?
        .is_some()
    {
        return Ok(false);
    }
    let records: Vec<Judged> = tx
        .rows(
            "SELECT status, answers, escalation FROM records WHERE item = ?1",
            &vals![key],
        )?
        .iter()
        .map(|r| {
            Ok(Judged {
                status: r.text(0)?,
                answers: serde_json::from_str(&r.text(1)?).unwrap_or_default(),
                flag: r
                    .opt_text(2)?
                    .and_then(|e| serde_json::from_str::<crate::model::Escalation>(&e).ok())
                    .map(|e| e.reason),
            })
        })
        .collect::<Result<_, SqlError>>()?;
    if (records.len() as i64) < overlap {
        return Ok(false);
    }
    let Some(Some(schema)) = schemas.get(&batch) else {
        return Ok(false);
    };
    let reasons = super::review::reasons(policy, schema, &records, unit_hash(seed, 0, key));
    if reasons.is_empty() {
        return Ok(false);
    }
    tx.exec(
        "INSERT INTO reviews (item, reasons, queued_at, done) VALUES (?1, ?2, ?3, 0)
         ON CONFLICT DO NOTHING",
        &vals![
            key,
            serde_json::to_string(&reasons).unwrap_or_default(),
            now_ms()
        ],
    )?;
    Ok(true)
}

/// What is wrong with a record under its batch's schema: its status, each answer (a
/// known question, a known option, the right shape), what a submit needs (required
/// answers, the justification when required), the skip reason and the escalation reason.
fn record_problems(
    schema: &Schema,
    pairwise: bool,
    r: &crate::model::Record,
    review: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for (q, a) in &r.answers {
        if let Err(e) = schema.check_answer(q, a) {
            out.push(e.to_string());
        }
    }
    match r.status.as_str() {
        "done" => {
            if out.is_empty() {
                if review {
                    // A reviewer's reason is checked against the raters' answers when
                    // the bundle is stored.
                    out.extend(schema.unanswered(pairwise, &r.answers));
                } else {
                    out.extend(schema.problems(pairwise, &r.answers, &r.justification));
                }
            }
        }
        "skipped" => {
            if r.skip_reason.as_deref().is_none_or(|s| s.trim().is_empty()) {
                out.push("a skipped record needs a skip_reason".into());
            }
        }
        other => out.push(format!("status '{other}' is not one of: done, skipped")),
    }
    if let Some(e) = &r.escalation
        && !schema
            .escalation_reasons
            .iter()
            .any(|x| x.value == e.reason)
    {
        out.push(format!(
            "escalation reason '{}' is not one of: {}",
            e.reason,
            schema
                .escalation_reasons
                .iter()
                .map(|x| x.value.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if r.revision == 0 || r.revision > i64::MAX as u64 {
        out.push(format!(
            "revision {} is not between 1 and {}",
            r.revision,
            i64::MAX
        ));
    }
    if r.active_ms > i64::MAX as u64 {
        out.push(format!("active_ms {} is out of range", r.active_ms));
    }
    out
}

/// The lines of a bundle (1-based) with a NUL character in any of their strings or keys.
/// PostgreSQL cannot hold one; both backends refuse it alike, before any lookup.
fn nul_lines(bundle: &[u8]) -> Vec<String> {
    fn has_nul(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(a) => a.iter().any(has_nul),
            serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    let Ok(text) = std::str::from_utf8(bundle) else {
        return Vec::new(); // (the verification says what is wrong)
    };
    text.split_terminator('\n')
        .enumerate()
        // JSON holds a NUL only as an escape; only lines with one are parsed again.
        .filter(|(_, line)| line.contains("\\u0000"))
        .filter(|(_, line)| {
            serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| has_nul(&v))
        })
        .map(|(i, _)| format!("line {}: a text holds a NUL character (\\u0000)", i + 1))
        .collect()
}

fn check_gold(schema: &Schema, g: &serde_json::Value) -> Result<String, String> {
    let answers: BTreeMap<String, Answer> =
        serde_json::from_value(g["answers"].clone()).map_err(|e| {
            format!("expected {{\"answers\": {{question: answer}}, \"explanation\": \"...\"}}: {e}")
        })?;
    if answers.is_empty() {
        return Err("no answers".into());
    }
    let mut checked = BTreeMap::new();
    for (q, a) in &answers {
        checked.insert(
            q.clone(),
            schema.check_answer(q, a).map_err(|e| e.to_string())?,
        );
    }
    let explanation = g["explanation"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_string();
    if explanation.is_empty() {
        return Err("a gold item needs an explanation".into());
    }
    Ok(serde_json::json!({"answers": checked, "explanation": explanation}).to_string())
}

fn calibration(tx: &mut Conn, rater: i64) -> Result<Vec<Calibration>, SqlError> {
    let rows = tx.rows(
        "SELECT i.batch_id, i.item_id, i.gold FROM records r JOIN items i ON i.key = r.item
         WHERE r.rater = ?1 AND i.gold IS NOT NULL ORDER BY i.batch_id, i.seq",
        &vals![rater],
    )?;
    let mut out = Vec::new();
    for r in rows {
        let (batch_id, item_id, gold) = (r.text(0)?, r.text(1)?, r.text(2)?);
        let Ok(g) = serde_json::from_str::<serde_json::Value>(&gold) else {
            continue;
        };
        let (Ok(answers), Some(explanation)) = (
            serde_json::from_value(g["answers"].clone()),
            g["explanation"].as_str(),
        ) else {
            continue;
        };
        out.push(Calibration {
            batch_id,
            item_id,
            answers,
            explanation: explanation.to_string(),
        });
    }
    Ok(out)
}

/// One stored record, as the report and the export read it.
#[derive(Debug, Clone)]
pub struct RecordRow {
    /// Rater name.
    pub rater: String,
    /// Batch id.
    pub batch: String,
    /// Item id.
    pub item: String,
    /// Item content hash.
    pub sha256: String,
    /// The gold reference, for gold items.
    pub gold: Option<BTreeMap<String, Answer>>,
    /// For a gold item, the rater's first record of it as received: (status, answers).
    /// Gold accuracy counts this one; a later revision never rescores.
    pub first: Option<(String, BTreeMap<String, Answer>)>,
    /// `done` or `skipped`.
    pub status: String,
    /// Answers.
    pub answers: BTreeMap<String, Answer>,
    /// Justification.
    pub justification: String,
    /// Skip reason.
    pub skip_reason: Option<String>,
    /// Escalation JSON.
    pub escalation: Option<serde_json::Value>,
    /// Active time.
    pub active_ms: i64,
    /// When the rater's workstation stamped it submitted (RFC 3339).
    pub submitted: String,
    /// The guideline document (`id version`) the record was made under, when known (not
    /// for records stored before hubs kept it).
    pub guidelines: Option<String>,
}

/// One item of the review queue (`verdict hub reviews`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueueRow {
    /// Batch id.
    pub batch: String,
    /// Item id.
    pub item: String,
    /// `waiting`, `with REVIEWER until T`, `adjudicated by REVIEWER`.
    pub state: String,
    /// Why it is reviewed.
    pub reasons: Vec<String>,
    /// When it was queued (RFC 3339).
    pub queued: String,
    /// Reviewers who skipped it (each gets it no more).
    pub skipped_by: usize,
}

/// A batch as the report sees it.
#[derive(Debug, Clone)]
pub struct BatchRow {
    /// Batch id.
    pub id: String,
    /// Raters wanted per item.
    pub overlap: i64,
    /// Its schema.
    pub schema: Schema,
    /// Items (gold included).
    pub items: i64,
    /// Gold items.
    pub gold_items: i64,
}

impl HubDb {
    /// Every escalation raised in a stored record, with its item's context and whether an
    /// admin resolved it.
    pub fn escalations(&mut self) -> Result<Vec<super::escalations::Escalation>, HubError> {
        let rows = self
            .conn
            .rows(
                "SELECT i.batch_id, i.item_id, ra.name, r.escalation, r.answers, coalesce(r.guidelines, b.guidelines), s.body,
                        r.submitted, x.resolved_at, x.note
                 FROM records r JOIN raters ra ON ra.id = r.rater JOIN items i ON i.key = r.item
                 JOIN batches b ON b.id = i.batch_id JOIN schemas s ON s.sha256 = b.schema_sha256
                 LEFT JOIN escalation_resolutions x ON x.item = r.item
                 WHERE r.escalation IS NOT NULL
                 ORDER BY r.submitted, i.batch_id, i.item_id, ra.name",
                &[],
            )
            .map_err(|e| self.err(e))?;
        let mut labels: HashMap<String, BTreeMap<String, String>> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let decode = || -> Result<_, SqlError> {
                Ok((
                    r.text(0)?,
                    r.text(1)?,
                    r.text(2)?,
                    r.text(3)?,
                    r.text(4)?,
                    r.text(5)?,
                    r.text(6)?,
                    r.text(7)?,
                    r.at(8).map(|v| match v {
                        Val::Int(i) => Some(*i),
                        _ => None,
                    })?,
                    r.opt_text(9)?,
                ))
            };
            let (batch, item, rater, esc, answers, guidelines, schema, submitted, at, note) =
                decode().map_err(|e| self.err(e))?;
            let esc: crate::model::Escalation = match serde_json::from_str(&esc) {
                Ok(e) => e,
                Err(_) => continue,
            };
            let answers: BTreeMap<String, Answer> =
                serde_json::from_str(&answers).unwrap_or_default();
            let g: crate::model::GuidelineRef =
                serde_json::from_str(&guidelines).unwrap_or_else(|_| crate::model::GuidelineRef {
                    id: "?".into(),
                    version: "?".into(),
                    sha256: None,
                });
            let reason_labels = labels.entry(schema.clone()).or_insert_with(|| {
                serde_json::from_str::<serde_json::Value>(&schema)
                    .ok()
                    .and_then(|v| Schema::from_json(v, "hub").ok())
                    .map(|s| {
                        s.escalation_reasons
                            .into_iter()
                            .map(|x| (x.value, x.label))
                            .collect()
                    })
                    .unwrap_or_default()
            });
            out.push(super::escalations::Escalation {
                reason_label: reason_labels
                    .get(&esc.reason)
                    .cloned()
                    .unwrap_or_else(|| esc.reason.clone()),
                batch,
                item,
                rater,
                reason: esc.reason,
                note: esc.note,
                harm: answers
                    .get("harm")
                    .map(|a| a.values().iter().map(|v| v.to_string()).collect())
                    .unwrap_or_default(),
                guidelines: format!("{} {}", g.id, g.version),
                section: esc.section.unwrap_or_else(|| "(not given)".into()),
                submitted,
                resolved: at.map(|at| super::escalations::Resolution {
                    at: rfc3339(at),
                    note: note.unwrap_or_default(),
                }),
            });
        }
        Ok(out)
    }

    /// Marks the escalations on an item resolved, with a note (say, the guideline version
    /// that settled it). A second resolution is refused unless `replace`. Refused when
    /// the item has no escalation.
    pub fn resolve_escalation(
        &mut self,
        batch: &str,
        item: &str,
        note: &str,
        replace: bool,
    ) -> Result<usize, HubError> {
        let note = note.trim();
        if note.is_empty() || note.contains('\0') {
            return Err(refused(
                "give a note that says how it was resolved (for example: fixed in guidelines 1.1)",
            ));
        }
        let at = self.at();
        let sq = |e: SqlError| HubError::Database {
            at: at.clone(),
            cause: e,
        };
        let mut tx = self.conn.begin(true).map_err(sq)?;
        HubDb::check_schema(&mut tx, &at)?;
        let row = tx
            .row(
                "SELECT i.key, (SELECT count(*) FROM records r WHERE r.item = i.key AND r.escalation IS NOT NULL)
                 FROM items i WHERE i.batch_id = ?1 AND i.item_id = ?2",
                &vals![batch, item],
            )
            .map_err(sq)?;
        let Some(row) = row else {
            return Err(refused(format!("no item {batch}/{item} on this hub")));
        };
        let (key, flags) = (row.int(0).map_err(sq)?, row.int(1).map_err(sq)?);
        if flags == 0 {
            return Err(refused(format!("item {batch}/{item} has no escalation")));
        }
        // A resolution is the policy team's record: a second one replaces it only when
        // asked to, never by a slip.
        if !replace
            && let Some(old) = tx
                .row(
                    "SELECT resolved_at, note FROM escalation_resolutions WHERE item = ?1",
                    &vals![key],
                )
                .map_err(sq)?
        {
            return Err(refused(format!(
                "item {batch}/{item} was resolved on {} with the note '{}'; nothing was changed (--replace replaces that resolution)",
                rfc3339(old.int(0).map_err(sq)?),
                crate::safe::sanitize_line(&old.text(1).map_err(sq)?)
            )));
        }
        tx.exec(
            "INSERT INTO escalation_resolutions (item, resolved_at, note) VALUES (?1, ?2, ?3)
             ON CONFLICT (item) DO UPDATE SET resolved_at = excluded.resolved_at, note = excluded.note",
            &vals![key, now_ms(), note],
        )
        .map_err(sq)?;
        tx.commit().map_err(sq)?;
        Ok(flags as usize)
    }

    /// Every stored record, by batch, item and rater.
    pub fn all_records(&mut self) -> Result<Vec<RecordRow>, HubError> {
        self.record_rows("", &[])
    }

    fn record_rows(&mut self, filter: &str, params: &[Val]) -> Result<Vec<RecordRow>, HubError> {
        let sql = format!(
            "SELECT ra.name, i.batch_id, i.item_id, i.sha256, i.gold, r.status, r.answers, r.justification,
                    r.skip_reason, r.escalation, r.active_ms, g.status, g.answers, r.guidelines,
                    r.submitted
             FROM records r JOIN raters ra ON ra.id = r.rater JOIN items i ON i.key = r.item
             LEFT JOIN gold_first g ON g.item = r.item AND g.rater = r.rater
             {filter}
             ORDER BY i.batch_id, i.seq, ra.name"
        );
        let rows = self.conn.rows(&sql, params).map_err(|e| self.err(e))?;
        let decode = |r: &Row| -> Result<RecordRow, SqlError> {
            let gold = r.opt_text(4)?;
            let answers = r.text(6)?;
            let escalation = r.opt_text(9)?;
            Ok(RecordRow {
                rater: r.text(0)?,
                batch: r.text(1)?,
                item: r.text(2)?,
                sha256: r.text(3)?,
                gold: gold.and_then(|g| {
                    serde_json::from_str::<serde_json::Value>(&g)
                        .ok()
                        .and_then(|v| serde_json::from_value(v["answers"].clone()).ok())
                }),
                status: r.text(5)?,
                answers: serde_json::from_str(&answers).unwrap_or_default(),
                justification: r.text(7)?,
                skip_reason: r.opt_text(8)?,
                escalation: escalation.and_then(|e| serde_json::from_str(&e).ok()),
                active_ms: r.int(10)?,
                submitted: r.text(14)?,
                guidelines: r
                    .opt_text(13)?
                    .and_then(|g| serde_json::from_str::<crate::model::GuidelineRef>(&g).ok())
                    .map(|g| format!("{} {}", g.id, g.version)),
                first: match (r.opt_text(11)?, r.opt_text(12)?) {
                    (Some(status), Some(answers)) => {
                        Some((status, serde_json::from_str(&answers).unwrap_or_default()))
                    }
                    _ => None,
                },
            })
        };
        rows.iter()
            .map(decode)
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// What the hub reports about this rater (and nothing about anyone else): from the
    /// records of the items they worked on.
    pub fn my_figures(&mut self, rater: &Rater) -> Result<super::report::MyFigures, HubError> {
        let rows = self.record_rows(
            "WHERE r.item IN (SELECT item FROM records WHERE rater = ?1)",
            &vals![rater.id],
        )?;
        let batches = self.batches()?;
        let adjudications = self.adjudications()?;
        let mut f = super::report::my_figures(&batches, &rows, &adjudications, &rater.name);
        if let Some((_, status, score)) = self
            .qualifications()?
            .into_iter()
            .find(|(n, _, _)| *n == rater.name)
        {
            f.figures.qualification = status;
            f.figures.qualification_score = score;
        }
        Ok(f)
    }

    /// Every item as loaded, for the exports in other tools' formats: (batch, item, content,
    /// extras, the batch's schema), in load order.
    pub fn export_items(&mut self) -> Result<Vec<super::interop::ExportItem>, HubError> {
        let rows = self
            .conn
            .rows(
                "SELECT i.batch_id, i.item_id, i.content, i.extras, s.body, i.key
                 FROM items i JOIN batches b ON b.id = i.batch_id
                 JOIN schemas s ON s.sha256 = b.schema_sha256
                 ORDER BY i.batch_rank, i.batch_id, i.seq",
                &[],
            )
            .map_err(|e| self.err(e))?;
        let mut schemas: HashMap<String, Schema> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let t = |i| r.text(i).map_err(|e| refused(e.to_string()));
            let body = t(4)?;
            if !schemas.contains_key(&body) {
                let v: serde_json::Value =
                    serde_json::from_str(&body).map_err(|e| refused(e.to_string()))?;
                let schema =
                    Schema::from_json(v, "hub schema").map_err(|e| refused(e.to_string()))?;
                schemas.insert(body.clone(), schema);
            }
            out.push(super::interop::ExportItem {
                batch: t(0)?,
                item: t(1)?,
                content: serde_json::from_str(&t(2)?).map_err(|e| refused(e.to_string()))?,
                extras: serde_json::from_str(&t(3)?).unwrap_or_default(),
                schema: schemas[&body].clone(),
                key: r.int(5).map_err(|e| refused(e.to_string()))?,
            });
        }
        Ok(out)
    }

    /// What the metrics need to know of every item: its prompt, the model of each
    /// response, and its metadata (`hub metrics`, `hub compare`).
    pub fn item_facts(&mut self) -> Result<Vec<super::metrics::ItemFacts>, HubError> {
        let rows = self
            .conn
            .rows(
                "SELECT batch_id, item_id, content, extras FROM items ORDER BY batch_rank, batch_id, seq",
                &[],
            )
            .map_err(|e| self.err(e))?;
        let raw: Vec<(String, String, String, String)> = rows
            .iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?, r.text(2)?, r.text(3)?)))
            .collect::<Result<_, SqlError>>()
            .map_err(|e| self.err(e))?;
        raw.into_iter()
            .map(|(batch, item, content, extras)| {
                let content: crate::model::Content =
                    serde_json::from_str(&content).map_err(|e| refused(e.to_string()))?;
                let extras: crate::model::Extras =
                    serde_json::from_str(&extras).unwrap_or_default();
                Ok(super::metrics::ItemFacts::new(
                    batch,
                    item,
                    &content,
                    extras.metadata,
                ))
            })
            .collect()
    }

    /// Every stored record's submission time (RFC 3339, as the rater's workstation
    /// stamped it), for throughput over time.
    pub fn submitted_times(&mut self) -> Result<Vec<String>, HubError> {
        let rows = self
            .conn
            .rows("SELECT submitted FROM records ORDER BY submitted", &[])
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| r.text(0))
            .collect::<Result<_, SqlError>>()
            .map_err(|e| self.err(e))
    }

    /// Every batch with its schema and item counts.
    pub fn batches(&mut self) -> Result<Vec<BatchRow>, HubError> {
        let rows = self
            .conn
            .rows(
                "SELECT b.id, b.overlap, s.body,
                        (SELECT count(*) FROM items i WHERE i.batch_id = b.id),
                        (SELECT count(*) FROM items i WHERE i.batch_id = b.id AND i.gold IS NOT NULL)
                 FROM batches b JOIN schemas s ON s.sha256 = b.schema_sha256 ORDER BY b.batch_rank, b.id",
                &[],
            )
            .map_err(|e| self.err(e))?;
        let raw: Vec<(String, i64, String, i64, i64)> = rows
            .iter()
            .map(|r| Ok((r.text(0)?, r.int(1)?, r.text(2)?, r.int(3)?, r.int(4)?)))
            .collect::<Result<_, SqlError>>()
            .map_err(|e| self.err(e))?;
        raw.into_iter()
            .map(|(id, overlap, body, items, gold_items)| {
                let v: serde_json::Value =
                    serde_json::from_str(&body).map_err(|e| refused(e.to_string()))?;
                let schema = Schema::from_json(v, &format!("schema of batch {id}"))
                    .map_err(|e| refused(e.to_string()))?;
                Ok(BatchRow {
                    id,
                    overlap,
                    schema,
                    items,
                    gold_items,
                })
            })
            .collect()
    }
}
