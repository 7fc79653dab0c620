//! The hub's storage: the only place that speaks SQL for the hub (SQLite today; a
//! PostgreSQL implementation would replace this module behind the same methods).

use super::api::{Calibration, PullResponse, PushResponse, WireBatch};
use crate::batch::{ItemsError, OpenBatch};
use crate::model::{Answer, Extras, Schema};
use crate::store::{now_ms, rfc3339};
use minisign::PublicKey;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MIGRATIONS: &[&str] = &[r#"
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
"#];

/// A hub problem, with what to do.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// No database at the path.
    #[error("no hub database at {0}; create one with: verdict hub init --db {0}")]
    Missing(PathBuf),
    /// A database already exists.
    #[error("a hub database already exists at {0}")]
    Exists(PathBuf),
    /// A refusal a client should read (bad bundle, unknown rater name, ...).
    #[error("{message}")]
    Refused {
        /// Summary.
        message: String,
        /// Each problem.
        problems: Vec<String>,
    },
    /// A batch file that cannot be loaded.
    #[error("{0}\nNothing of this batch was loaded.")]
    Batch(crate::batch::BatchError),
    /// SQLite.
    #[error("hub database {path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
}

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
}

/// The hub database.
pub struct HubDb {
    conn: Connection,
    path: PathBuf,
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

impl HubDb {
    fn err(&self, e: rusqlite::Error) -> HubError {
        HubError::Sqlite {
            path: self.path.clone(),
            source: e,
        }
    }

    fn connect(path: &Path) -> Result<HubDb, HubError> {
        // The hub's database holds every rater's labels: private, whatever the umask (its
        // -wal and -shm files take the database file's mode).
        let _ = crate::private::touch(path);
        let conn = Connection::open(path).map_err(|e| HubError::Sqlite {
            path: path.to_path_buf(),
            source: e,
        })?;
        let db = HubDb {
            conn,
            path: path.to_path_buf(),
        };
        db.conn
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
            )
            .map_err(|e| db.err(e))?;
        db.conn
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| db.err(e))?;
        Ok(db)
    }

    /// Creates a hub database; returns it and the admin token (shown once).
    pub fn init(
        path: &Path,
        lease_hours: i64,
        gold_rate: f64,
    ) -> Result<(HubDb, String), HubError> {
        if path.exists() {
            return Err(HubError::Exists(path.to_path_buf()));
        }
        let mut db = HubDb::connect(path)?;
        let tx = db.conn.transaction().map_err(|e| HubError::Sqlite {
            path: path.to_path_buf(),
            source: e,
        })?;
        let token = new_token();
        let run = || -> rusqlite::Result<()> {
            tx.execute_batch(MIGRATIONS[0])?;
            tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
            for (k, v) in [
                ("admin_token_sha256", token_hash(&token)),
                ("lease_hours", lease_hours.to_string()),
                ("gold_rate", gold_rate.to_string()),
            ] {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                    params![k, v],
                )?;
            }
            Ok(())
        };
        run().map_err(|e| HubError::Sqlite {
            path: path.to_path_buf(),
            source: e,
        })?;
        tx.commit().map_err(|e| HubError::Sqlite {
            path: path.to_path_buf(),
            source: e,
        })?;
        Ok((db, token))
    }

    /// Opens an existing hub database.
    pub fn open(path: &Path) -> Result<HubDb, HubError> {
        if !path.exists() {
            return Err(HubError::Missing(path.to_path_buf()));
        }
        let db = HubDb::connect(path)?;
        let v: i64 = db
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| db.err(e))?;
        if v as usize != MIGRATIONS.len() {
            return Err(refused(format!(
                "{} is not a hub database of this verdict (version {v}); create one with verdict hub init",
                path.display()
            )));
        }
        Ok(db)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, HubError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Whether a token is the admin token.
    pub fn is_admin(&self, token: &str) -> Result<bool, HubError> {
        Ok(self.meta("admin_token_sha256")?.as_deref() == Some(token_hash(token).as_str()))
    }

    /// Registers a rater; returns the access token (shown once; only its hash is kept).
    pub fn add_rater(&mut self, name: &str, pubkey: &PublicKey) -> Result<String, HubError> {
        crate::config::check_rater(name).map_err(|e| refused(e.to_string()))?;
        let token = new_token();
        let line = pubkey.to_base64();
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO raters (name, pubkey, key_id, token_sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, line, crate::keys::key_id(pubkey.keynum()), token_hash(&token), now_ms()],
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
    pub fn rater_by_token(&self, token: &str) -> Result<Option<Rater>, HubError> {
        self.rater_where("token_sha256", &token_hash(token))
    }

    /// The rater whose key has this id (for bundles dropped in a folder).
    pub fn rater_by_key_id(&self, key_id: &str) -> Result<Option<Rater>, HubError> {
        self.rater_where("key_id", key_id)
    }

    fn rater_where(&self, column: &str, value: &str) -> Result<Option<Rater>, HubError> {
        let sql = match column {
            "key_id" => "SELECT id, name, pubkey FROM raters WHERE key_id = ?1",
            _ => "SELECT id, name, pubkey FROM raters WHERE token_sha256 = ?1",
        };
        let row: Option<(i64, String, String)> = self
            .conn
            .query_row(sql, [value], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .map_err(|e| self.err(e))?;
        match row {
            None => Ok(None),
            Some((id, name, pk)) => {
                let pubkey = PublicKey::from_base64(&pk).map_err(|e| {
                    refused(format!("stored key of rater {name} is unreadable: {e}"))
                })?;
                Ok(Some(Rater { id, name, pubkey }))
            }
        }
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
        if overlap == 0 {
            return Err(refused("--overlap must be at least 1"));
        }
        let path = self.path.clone();
        let sq = |e: rusqlite::Error| HubError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let header = batch.header.clone();
        let schema_sha = header.schema.hash();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sq)?;
        tx.execute(
            "INSERT OR IGNORE INTO schemas (sha256, id, body) VALUES (?1, ?2, ?3)",
            params![schema_sha, header.schema.id, header.schema.canonical_json()],
        )
        .map_err(sq)?;
        let existing: Option<String> = tx
            .query_row(
                "SELECT schema_sha256 FROM batches WHERE id = ?1",
                [&header.batch_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sq)?;
        if existing.as_deref().is_some_and(|s| s != schema_sha) {
            return Err(refused(format!(
                "batch '{}' is loaded already with another schema",
                header.batch_id
            )));
        }
        if existing.is_none() {
            tx.execute(
                "INSERT INTO batches (id, schema_sha256, guidelines, overlap, loaded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    header.batch_id,
                    schema_sha,
                    serde_json::to_string(&header.guidelines).unwrap_or_default(),
                    overlap,
                    now_ms()
                ],
            )
            .map_err(sq)?;
        }
        let mut seq: i64 = tx
            .query_row(
                "SELECT coalesce(max(seq), 0) FROM items WHERE batch_id = ?1",
                [&header.batch_id],
                |r| r.get(0),
            )
            .map_err(sq)?;
        let (mut added, mut same) = (0u64, 0u64);
        let schema = header.schema.clone();
        let file = batch.path.clone();
        let result = batch.for_each_item(|p| -> Result<(), HubError> {
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
            let extras = serde_json::to_string(&extras).unwrap_or_default();
            let n = tx
                .execute(
                    "INSERT INTO items (batch_id, item_id, seq, sha256, content, extras, gold) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (batch_id, item_id) DO NOTHING",
                    params![header.batch_id, p.item.id, seq + 1, p.hash, p.canonical, extras, gold_json],
                )
                .map_err(sq)?;
            if n == 1 {
                seq += 1;
                added += 1;
            } else {
                let old: String = tx
                    .query_row(
                        "SELECT sha256 FROM items WHERE batch_id = ?1 AND item_id = ?2",
                        params![header.batch_id, p.item.id],
                        |r| r.get(0),
                    )
                    .map_err(sq)?;
                if old != p.hash {
                    return Err(refused(format!(
                        "{}:{}: item '{}' changed since it was loaded; give it a new id",
                        file.display(),
                        p.line,
                        p.item.id
                    )));
                }
                same += 1;
            }
            Ok(())
        });
        match result {
            Ok(()) => {}
            Err(ItemsError::Batch(e)) => return Err(HubError::Batch(e)),
            Err(ItemsError::Sink(e)) => return Err(e),
        }
        tx.commit().map_err(sq)?;
        Ok((header.batch_id, added, same))
    }

    /// Leases work to a rater, in one immediate transaction so that concurrent pulls never
    /// over-assign an item: the rater's open leases, plus new ones up to `max`, each item
    /// never twice to one rater and to at most its batch's overlap of raters; gold items
    /// mixed in at the hub's rate.
    pub fn pull(&mut self, rater: &Rater, max: usize) -> Result<PullResponse, HubError> {
        let path = self.path.clone();
        let sq = |e: rusqlite::Error| HubError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let lease_ms = self
            .meta("lease_hours")?
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(72)
            * 3_600_000;
        let gold_rate = self
            .meta("gold_rate")?
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        let now = now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sq)?;
        // Expired leases without a record go back to the pool.
        tx.execute(
            "DELETE FROM leases WHERE expires_at < ?1
             AND NOT EXISTS (SELECT 1 FROM records r WHERE r.item = leases.item AND r.rater = leases.rater)",
            [now],
        )
        .map_err(sq)?;
        let open: i64 = tx
            .query_row(
                "SELECT count(*) FROM leases l WHERE l.rater = ?1
                 AND NOT EXISTS (SELECT 1 FROM records r WHERE r.item = l.item AND r.rater = l.rater)",
                [rater.id],
                |r| r.get(0),
            )
            .map_err(sq)?;
        let need = max.saturating_sub(open as usize);
        let gold_n = ((need as f64) * gold_rate).round() as usize;
        let pick = |sql: &str, limit: usize| -> rusqlite::Result<Vec<i64>> {
            let mut stmt = tx.prepare(sql)?;
            let rows = stmt.query_map(params![rater.id, limit as i64], |r| r.get(0))?;
            rows.collect()
        };
        let gold = pick(
            "SELECT i.key FROM items i WHERE i.gold IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.item = i.key AND l.rater = ?1)
             ORDER BY i.batch_id, i.seq LIMIT ?2",
            gold_n,
        )
        .map_err(sq)?;
        let regular = pick(
            "SELECT i.key FROM items i JOIN batches b ON b.id = i.batch_id WHERE i.gold IS NULL
             AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.item = i.key AND l.rater = ?1)
             AND (SELECT count(*) FROM leases l WHERE l.item = i.key) < b.overlap
             ORDER BY b.loaded_at, b.id, i.seq LIMIT ?2",
            need - gold.len(),
        )
        .map_err(sq)?;
        let expires = now + lease_ms;
        for key in gold.iter().chain(regular.iter()) {
            tx.execute(
                "INSERT INTO leases (item, rater, leased_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![key, rater.id, now, expires],
            )
            .map_err(sq)?;
        }
        // Everything open for this rater, by batch, in batch order.
        let mut stmt = tx
            .prepare(
                "SELECT b.id, s.body, b.guidelines, i.item_id, i.content, i.extras
                 FROM leases l JOIN items i ON i.key = l.item JOIN batches b ON b.id = i.batch_id
                 JOIN schemas s ON s.sha256 = b.schema_sha256
                 WHERE l.rater = ?1 AND NOT EXISTS (SELECT 1 FROM records r WHERE r.item = l.item AND r.rater = l.rater)
                 ORDER BY b.loaded_at, b.id,
                   -- Gold items take a pseudo-random place among the others, so that their
                   -- position (loaded last) does not give them away.
                   CASE WHEN i.gold IS NULL THEN i.seq
                        ELSE ((i.key * 2654435761 + ?1 * 40503) % (SELECT max(seq) FROM items x WHERE x.batch_id = b.id)) + 0.5
                   END",
            )
            .map_err(sq)?;
        let rows: Vec<(String, String, String, String, String, String)> = stmt
            .query_map([rater.id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .and_then(|rows| rows.collect())
            .map_err(sq)?;
        drop(stmt);
        let mut batches: Vec<WireBatch> = Vec::new();
        for (batch, schema, guidelines, item_id, content, extras) in rows {
            if batches
                .last()
                .is_none_or(|b| b.manifest["batch_id"] != batch.as_str())
            {
                let schema: serde_json::Value = serde_json::from_str(&schema).unwrap_or_default();
                let guidelines: serde_json::Value =
                    serde_json::from_str(&guidelines).unwrap_or_default();
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
            let content: serde_json::Value = serde_json::from_str(&content).unwrap_or_default();
            let extras: Extras = serde_json::from_str(&extras).unwrap_or_default();
            let mut item = serde_json::json!({
                "id": item_id,
                "messages": content["conversation"],
                "responses": content["responses"],
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
            if let Some(b) = batches.last_mut() {
                b.items.push(item);
            }
        }
        let calibration = calibration(&tx, rater.id).map_err(sq)?;
        tx.commit().map_err(sq)?;
        Ok(PullResponse {
            batches,
            calibration,
            lease_expires: rfc3339(expires),
        })
    }

    /// Checks a bundle from a rater and stores its records, all or nothing: the signature
    /// against the rater's registered key, the manifest against the records, each item's
    /// hash, and that each item was leased to this rater. The same bundle again is
    /// acknowledged without storing anything twice.
    pub fn push(
        &mut self,
        rater: &Rater,
        bundle: &[u8],
        signature: &str,
    ) -> Result<PushResponse, HubError> {
        let path = self.path.clone();
        let sq = |e: rusqlite::Error| HubError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let mut lookup_err = None;
        let v = {
            let conn = &self.conn;
            crate::bundle::verify_bytes(
                bundle,
                Ok(signature.to_string()),
                &rater.pubkey,
                |batch, item| {
                    conn.query_row(
                        "SELECT sha256 FROM items WHERE batch_id = ?1 AND item_id = ?2",
                        params![batch, item],
                        |r| r.get(0),
                    )
                    .optional()
                    .unwrap_or_else(|e| {
                        lookup_err = Some(e);
                        None
                    })
                },
            )
        };
        if let Some(e) = lookup_err {
            return Err(sq(e));
        }
        let mut problems = v.failures.clone();
        let Some(manifest) = v.manifest.clone() else {
            return Err(HubError::Refused {
                message: "the bundle was refused".into(),
                problems,
            });
        };
        let sha = crate::model::sha256_hex(bundle);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sq)?;
        let seen: Option<(i64, String)> = tx
            .query_row(
                "SELECT rater, sha256 FROM bundles WHERE id = ?1",
                [&manifest.bundle_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sq)?;
        if let Some((by, old_sha)) = seen {
            if by == rater.id && old_sha == sha && problems.is_empty() {
                return Ok(PushResponse {
                    bundle_id: manifest.bundle_id,
                    accepted: 0,
                    duplicate: true,
                });
            }
            problems.push(format!(
                "bundle {} was received before with other contents",
                manifest.bundle_id
            ));
        }
        let mut keys = Vec::with_capacity(v.records.len());
        for r in &v.records {
            let leased: Option<i64> = tx
                .query_row(
                    "SELECT i.key FROM items i JOIN leases l ON l.item = i.key AND l.rater = ?3
                     WHERE i.batch_id = ?1 AND i.item_id = ?2",
                    params![r.batch_id, r.item_id, rater.id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sq)?;
            match leased {
                Some(k) => keys.push(k),
                None => problems.push(format!(
                    "record {}/{}: this item is not leased to you",
                    r.batch_id, r.item_id
                )),
            }
        }
        if v.not_in_cache > 0 {
            problems.push(format!(
                "{} records name items this hub does not have",
                v.not_in_cache
            ));
        }
        if !problems.is_empty() {
            // Each problem is one line, whatever ids from the bundle it quotes.
            return Err(HubError::Refused {
                message: format!(
                    "bundle {} was refused; nothing of it was stored",
                    crate::safe::sanitize_line(&manifest.bundle_id)
                ),
                problems: problems
                    .iter()
                    .map(|p| crate::safe::sanitize_line(p))
                    .collect(),
            });
        }
        tx.execute(
            "INSERT INTO bundles (id, rater, sha256, received_at, records) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![manifest.bundle_id, rater.id, sha, now_ms(), v.records.len() as i64],
        )
        .map_err(sq)?;
        for (r, key) in v.records.iter().zip(keys) {
            tx.execute(
                "INSERT INTO records (item, rater, bundle, revision, status, answers, justification, skip_reason, escalation, active_ms, submitted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (item, rater) DO UPDATE SET bundle = excluded.bundle, revision = excluded.revision,
                   status = excluded.status, answers = excluded.answers, justification = excluded.justification,
                   skip_reason = excluded.skip_reason, escalation = excluded.escalation, active_ms = excluded.active_ms,
                   submitted = excluded.submitted
                 WHERE excluded.revision > records.revision",
                params![
                    key,
                    rater.id,
                    manifest.bundle_id,
                    r.revision as i64,
                    r.status,
                    serde_json::to_string(&r.answers).unwrap_or_default(),
                    r.justification,
                    r.skip_reason,
                    r.escalation.as_ref().map(|e| serde_json::to_string(e).unwrap_or_default()),
                    r.active_ms as i64,
                    r.submitted
                ],
            )
            .map_err(sq)?;
        }
        tx.commit().map_err(sq)?;
        Ok(PushResponse {
            bundle_id: manifest.bundle_id,
            accepted: v.records.len() as u64,
            duplicate: false,
        })
    }

    /// Per batch: (id, overlap, items, leases, records), for `verdict hub status`.
    pub fn progress(&self) -> Result<Vec<Progress>, HubError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT b.id, b.overlap, count(i.key),
                        (SELECT count(*) FROM leases l JOIN items x ON x.key = l.item WHERE x.batch_id = b.id),
                        (SELECT count(*) FROM records r JOIN items x ON x.key = r.item WHERE x.batch_id = b.id)
                 FROM batches b LEFT JOIN items i ON i.batch_id = b.id GROUP BY b.id ORDER BY b.loaded_at, b.id",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }

    /// How many distinct raters hold a lease on each item (for checks and the load test).
    pub fn lease_counts(&self) -> Result<Vec<(String, String, i64, i64)>, HubError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT i.batch_id, i.item_id, b.overlap, count(l.rater) FROM items i JOIN batches b ON b.id = i.batch_id
                 LEFT JOIN leases l ON l.item = i.key WHERE i.gold IS NULL GROUP BY i.key",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }

    /// Records stored: (rater name, batch, item, revision).
    pub fn records(&self) -> Result<Vec<(String, String, String, i64)>, HubError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT ra.name, i.batch_id, i.item_id, r.revision FROM records r
                 JOIN raters ra ON ra.id = r.rater JOIN items i ON i.key = r.item ORDER BY 1, 2, 3",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }
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

fn calibration(tx: &rusqlite::Transaction<'_>, rater: i64) -> rusqlite::Result<Vec<Calibration>> {
    let mut stmt = tx.prepare(
        "SELECT i.batch_id, i.item_id, i.gold FROM records r JOIN items i ON i.key = r.item
         WHERE r.rater = ?1 AND i.gold IS NOT NULL ORDER BY i.batch_id, i.seq",
    )?;
    let rows: Vec<(String, String, String)> = stmt
        .query_map([rater], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(batch_id, item_id, gold)| {
            let g: serde_json::Value = serde_json::from_str(&gold).ok()?;
            Some(Calibration {
                batch_id,
                item_id,
                answers: serde_json::from_value(g["answers"].clone()).ok()?,
                explanation: g["explanation"].as_str()?.to_string(),
            })
        })
        .collect())
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
    /// Every stored record, by batch, item and rater.
    pub fn all_records(&self) -> Result<Vec<RecordRow>, HubError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT ra.name, i.batch_id, i.item_id, i.sha256, i.gold, r.status, r.answers, r.justification,
                        r.skip_reason, r.escalation, r.active_ms
                 FROM records r JOIN raters ra ON ra.id = r.rater JOIN items i ON i.key = r.item
                 ORDER BY i.batch_id, i.seq, ra.name",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let gold: Option<String> = r.get(4)?;
                let answers: String = r.get(6)?;
                let escalation: Option<String> = r.get(9)?;
                Ok(RecordRow {
                    rater: r.get(0)?,
                    batch: r.get(1)?,
                    item: r.get(2)?,
                    sha256: r.get(3)?,
                    gold: gold.and_then(|g| {
                        serde_json::from_str::<serde_json::Value>(&g)
                            .ok()
                            .and_then(|v| serde_json::from_value(v["answers"].clone()).ok())
                    }),
                    status: r.get(5)?,
                    answers: serde_json::from_str(&answers).unwrap_or_default(),
                    justification: r.get(7)?,
                    skip_reason: r.get(8)?,
                    escalation: escalation.and_then(|e| serde_json::from_str(&e).ok()),
                    active_ms: r.get(10)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Every batch with its schema and item counts.
    pub fn batches(&self) -> Result<Vec<BatchRow>, HubError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT b.id, b.overlap, s.body,
                        (SELECT count(*) FROM items i WHERE i.batch_id = b.id),
                        (SELECT count(*) FROM items i WHERE i.batch_id = b.id AND i.gold IS NOT NULL)
                 FROM batches b JOIN schemas s ON s.sha256 = b.schema_sha256 ORDER BY b.loaded_at, b.id",
            )
            .map_err(|e| self.err(e))?;
        let raw: Vec<(String, i64, String, i64, i64)> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .and_then(|rows| rows.collect())
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
