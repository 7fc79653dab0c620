//! Annotations: every change is committed together with its event-log entry before the
//! caller hears it is saved. Each write is one `BEGIN IMMEDIATE` transaction, and what it
//! reads to decide (the schema, the old value, the item's version) it reads inside it, so
//! two processes writing the same cache cannot interleave between a read and a write.

use super::lock::Tx;
use super::{Store, StoreError};
use crate::clock::now_ms;
use crate::model::{Answer, Content, Extras, Schema, Status};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

/// The rater's work on one item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotation {
    /// Where the work stands.
    pub status: Status,
    /// Answers by question id.
    pub answers: BTreeMap<String, Answer>,
    /// The justification (as last saved; text being typed is a draft, kept apart).
    pub justification: String,
    /// Why it was skipped.
    pub skip_reason: Option<String>,
    /// Escalation reason and note.
    pub flag: Option<(String, String)>,
    /// Active milliseconds.
    pub active_ms: i64,
    /// Submits so far.
    pub revision: i64,
    /// The revision last exported.
    pub exported_revision: i64,
    /// Bumped by every change of the rater's work (not by active time or drafts): a
    /// writer that showed version v refuses to write once it is no longer v.
    pub version: i64,
}

/// An item as cached, with its annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredItem {
    /// Row key.
    pub key: i64,
    /// Batch id.
    pub batch_id: String,
    /// Item id.
    pub item_id: String,
    /// Position in the batch.
    pub seq: i64,
    /// Content hash.
    pub sha256: String,
    /// What is rated.
    pub content: Content,
    /// What is shown beside it.
    pub extras: Extras,
    /// The batch's schema.
    pub schema: Arc<Schema>,
    /// The rater's work so far.
    pub annotation: Annotation,
    /// A justification being typed when the workstation last stopped (not yet saved).
    pub draft: Option<String>,
    /// The hub's reference answers, for a gold item the rater has labelled and pushed.
    pub reference: Option<crate::model::Calibration>,
    /// The images the content names, each once, in reading order.
    pub images: Vec<crate::model::ImageBlob>,
}

/// Who writes: the user action a change belongs to (undo takes an action's changes
/// together) and, for a writer that showed the item to a person, the item version it
/// showed. A write whose `seen` version is no longer the item's is refused with
/// [`StoreError::Changed`]: a keystroke never overwrites what the rater has not seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Act {
    /// The action id (from [`Store::new_action`]), or 0: the first write that logs a
    /// change takes a new id in its own transaction ([`Store::take_action`] tells which),
    /// so that a key costs one commit, not two.
    pub action: i64,
    /// The item version the writer showed, if it showed one.
    pub seen: Option<i64>,
}

impl From<i64> for Act {
    fn from(action: i64) -> Act {
        Act { action, seen: None }
    }
}

impl Act {
    /// The same action, checked against the item version `v`.
    pub fn seen(self, v: i64) -> Act {
        Act {
            seen: Some(v),
            ..self
        }
    }
}

/// The part of an item that writes check against.
struct ItemHead {
    item_id: String,
    pairwise: bool,
    schema: Arc<Schema>,
    annotation: Annotation,
}

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When (unix ms).
    pub at: i64,
    /// The user action it belongs to.
    pub action: i64,
    /// `do`, `undo` or `redo`.
    pub kind: String,
    /// What changed.
    pub field: String,
    /// Old value (JSON), if any.
    pub old: Option<String>,
    /// New value (JSON), if any.
    pub new: Option<String>,
}

pub(super) fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Refuses text a person wrote that holds characters that could act on a terminal or
/// reorder what a reader sees (control characters other than newline and tab, bidi
/// overrides): a justification, a skip reason, a flag note.
pub fn check_text(field: &str, text: &str) -> Result<(), StoreError> {
    if let Some((i, c)) = text
        .chars()
        .enumerate()
        .find(|(_, c)| *c != '\n' && *c != '\t' && crate::safe::is_unsafe(*c))
    {
        return Err(StoreError::Refused(format!(
            "the {field} holds the invisible control character U+{:04X} at character {}: control characters and bidi overrides are not allowed in a {field}; remove it",
            c as u32,
            i + 1
        )));
    }
    Ok(())
}

/// A stored status (the table's CHECK allows only the three names; anything else reads
/// as a draft, the state that loses nothing).
pub(super) fn stored_status(s: &str) -> Status {
    Status::parse(s).unwrap_or_default()
}

/// Reads an item's annotation (a default draft when it has none yet).
pub(super) fn annotation(conn: &Connection, key: i64) -> rusqlite::Result<Annotation> {
    let mut a = conn
        .prepare_cached(
            "SELECT status, justification, skip_reason, flag_reason, flag_note, active_ms, revision,
                    exported_revision, version
             FROM annotations WHERE item = ?1",
        )?
        .query_row([key], |r| {
            let flag = match (
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
            ) {
                (Some(reason), note) => Some((reason, note.unwrap_or_default())),
                _ => None,
            };
            Ok(Annotation {
                status: stored_status(r.get_ref(0)?.as_str()?),
                justification: r.get(1)?,
                skip_reason: r.get(2)?,
                flag,
                active_ms: r.get(5)?,
                revision: r.get(6)?,
                exported_revision: r.get(7)?,
                version: r.get(8)?,
                answers: BTreeMap::new(),
            })
        })
        .optional()?
        .unwrap_or_default();
    let mut stmt = conn.prepare_cached("SELECT question, value FROM answers WHERE item = ?1")?;
    let rows: Vec<(String, String)> = stmt
        .query_map([key], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (q, v) in rows {
        if let Ok(ans) = serde_json::from_str(&v) {
            a.answers.insert(q, ans);
        }
    }
    Ok(a)
}

/// The parsed schema stored under a hash, from the session's memo or the cache.
fn schema_of(
    conn: &Connection,
    memo: &mut HashMap<String, Arc<Schema>>,
    sha256: &str,
) -> Result<Arc<Schema>, String> {
    if let Some(s) = memo.get(sha256) {
        return Ok(s.clone());
    }
    let body: String = conn
        .query_row(
            "SELECT body FROM schemas WHERE sha256 = ?1",
            [sha256],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())?;
    let value: serde_json::Value = serde_json::from_str(&body)
        .map_err(|e| format!("stored schema {sha256} is corrupt: {e}"))?;
    let schema = Arc::new(
        Schema::from_json(value, &format!("cached schema {sha256}")).map_err(|e| e.to_string())?,
    );
    memo.insert(sha256.to_string(), schema.clone());
    Ok(schema)
}

/// One write: a `BEGIN IMMEDIATE` transaction and what its helpers need.
pub(super) struct W<'a> {
    pub tx: Tx<'a>,
    pub now: i64,
    path: &'a Path,
    schemas: &'a mut HashMap<String, Arc<Schema>>,
    source: &'static str,
    /// The action id this write took (for an [`Act`] without one).
    taken: Option<i64>,
}

impl W<'_> {
    /// Turns an SQLite error into one a person can act on.
    pub fn cls(&self, e: rusqlite::Error) -> StoreError {
        super::classify(self.path, e)
    }

    fn head(&mut self, key: i64) -> Result<ItemHead, StoreError> {
        let (item_id, pairwise, schema_sha): (String, bool, String) = self
            .tx
            .prepare_cached(
                "SELECT i.item_id, i.pairwise, b.schema_sha256
                 FROM items i JOIN batches b ON b.id = i.batch_id WHERE i.key = ?1",
            )
            .and_then(|mut s| {
                s.query_row([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .map_err(|e| self.cls(e))?
            .ok_or_else(|| StoreError::NoItem(format!("#{key}"), String::new()))?;
        let schema = schema_of(&self.tx, self.schemas, &schema_sha).map_err(StoreError::Refused)?;
        let annotation = annotation(&self.tx, key).map_err(|e| self.cls(e))?;
        Ok(ItemHead {
            item_id,
            pairwise,
            schema,
            annotation,
        })
    }

    /// The action id the changes of `act` are logged under: its own, else one taken
    /// now from the database (once per write).
    fn action(&mut self, act: Act) -> Result<i64, StoreError> {
        if act.action != 0 {
            return Ok(act.action);
        }
        if let Some(a) = self.taken {
            return Ok(a);
        }
        self.tx
            .prepare_cached("INSERT INTO actions (at, source) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![self.now, self.source]))
            .map_err(|e| self.cls(e))?;
        let a = self.tx.last_insert_rowid();
        self.taken = Some(a);
        Ok(a)
    }

    /// Refuses the write when the writer showed another version of the item.
    fn expect(&self, head: &ItemHead, act: Act) -> Result<(), StoreError> {
        match act.seen {
            Some(v) if v != head.annotation.version => Err(StoreError::Changed {
                item: head.item_id.clone(),
                status: head.annotation.status,
                revision: head.annotation.revision,
            }),
            _ => Ok(()),
        }
    }

    /// Creates the annotation row if needed and stamps `updated_at`.
    pub fn touch(&self, key: i64) -> Result<(), StoreError> {
        touch(&self.tx, key, self.now).map_err(|e| self.cls(e))
    }

    /// Marks a change of the rater's work (see [`Annotation::version`]).
    pub fn bump(&self, key: i64) -> Result<(), StoreError> {
        self.touch(key)?;
        self.tx
            .prepare_cached("UPDATE annotations SET version = version + 1 WHERE item = ?1")
            .and_then(|mut s| s.execute([key]))
            .map(|_| ())
            .map_err(|e| self.cls(e))
    }

    fn log(
        &self,
        key: i64,
        action: i64,
        field: &str,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Result<(), StoreError> {
        self.log_as("do", key, action, field, old, new)
    }

    /// Writes one event of the log: `kind` is `do`, `undo` or `redo`.
    pub fn log_as(
        &self,
        kind: &str,
        key: i64,
        action: i64,
        field: &str,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO events (at, item, action, kind, field, old, new) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| s.execute(params![self.now, key, action, kind, field, old, new]))
            .map(|_| ())
            .map_err(|e| self.cls(e))
    }

    /// Removes an answer, logging it (the old value) as part of `action`.
    fn drop_answer(&self, key: i64, action: i64, q: &str, v: &Answer) -> Result<(), StoreError> {
        self.tx
            .execute(
                "DELETE FROM answers WHERE item = ?1 AND question = ?2",
                params![key, q],
            )
            .map_err(|e| self.cls(e))?;
        let v = serde_json::to_string(v).unwrap_or_default();
        self.log(key, action, &format!("answer:{q}"), Some(&v), None)
    }

    /// Records the guideline document in force now (the batch's) as the one this
    /// submit was made under: its exported record names it.
    fn stamp_guidelines(&self, key: i64) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE annotations SET guidelines =
                    (SELECT b.guidelines FROM items i JOIN batches b ON b.id = i.batch_id WHERE i.key = ?1)
                 WHERE item = ?1",
                [key],
            )
            .map_err(|e| self.cls(e))?;
        Ok(())
    }

    fn set_status(
        &self,
        key: i64,
        action: i64,
        old: Status,
        new: Status,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE annotations SET status = ?2, submitted_at = ?3, revision = revision + 1 WHERE item = ?1",
                params![key, new.as_str(), self.now],
            )
            .map_err(|e| self.cls(e))?;
        self.log(
            key,
            action,
            "status",
            Some(&json_str(old.as_str())),
            Some(&json_str(new.as_str())),
        )
    }

    /// A change to a finished item reopens it: it must be submitted again to count (and
    /// to be exported again as a new revision).
    fn reopen(&self, key: i64, action: i64) -> Result<(), StoreError> {
        let status: String = self
            .tx
            .query_row(
                "SELECT status FROM annotations WHERE item = ?1",
                [key],
                |r| r.get(0),
            )
            .map_err(|e| self.cls(e))?;
        if status != "draft" {
            self.tx
                .execute(
                    "UPDATE annotations SET status = 'draft' WHERE item = ?1",
                    [key],
                )
                .map_err(|e| self.cls(e))?;
            self.log(
                key,
                action,
                "status",
                Some(&json_str(&status)),
                Some(&json_str("draft")),
            )?;
        }
        Ok(())
    }

    /// The annotation as this transaction leaves it.
    fn annotation(&self, key: i64) -> Result<Annotation, StoreError> {
        annotation(&self.tx, key).map_err(|e| self.cls(e))
    }
}

/// Creates the annotation row if needed and stamps `updated_at`.
pub(super) fn touch(tx: &Connection, key: i64, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO annotations (item, started_at, updated_at) VALUES (?1, ?2, ?2)
         ON CONFLICT (item) DO UPDATE SET updated_at = excluded.updated_at",
    )?
    .execute(params![key, now])?;
    Ok(())
}

impl Store {
    /// Finds an item by `ITEM` or `BATCH/ITEM` (see [`Store::find_item_in`]).
    pub fn find_item(&self, spec: &str) -> Result<i64, StoreError> {
        self.find_item_in(None, spec)
    }

    /// Finds an item. With a batch, `item` is the item id exactly as written. Without
    /// one, `item` is an item id, or `BATCH/ITEM`; when both readings name an item (an
    /// id may itself hold a `/`), or the id is in several batches, the error lists them
    /// and says how to name one (`--batch`).
    pub fn find_item_in(&self, batch: Option<&str>, item: &str) -> Result<i64, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT key, batch_id, item_id FROM items WHERE item_id = ?1 AND (?2 IS NULL OR batch_id = ?2)",
            )
            .map_err(|e| self.err(e))?;
        let mut found: Vec<(i64, String, String)> = stmt
            .query_map(params![item, batch], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        if batch.is_none() {
            // `b/x` may also mean item x of batch b (at every '/', since ids may hold one).
            for (i, _) in item.match_indices('/') {
                let (b, rest) = (&item[..i], &item[i + 1..]);
                let more: Vec<(i64, String, String)> = stmt
                    .query_map(params![rest, b], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .and_then(|rows| rows.collect())
                    .map_err(|e| self.err(e))?;
                found.extend(more);
            }
        }
        found.sort();
        found.dedup();
        match found.as_slice() {
            [] => Err(StoreError::NoItem(
                item.to_string(),
                batch.map(|b| format!(" batch '{b}'")).unwrap_or_default(),
            )),
            [(key, _, _)] => Ok(*key),
            many => Err(StoreError::Ambiguous(
                item.to_string(),
                many.iter()
                    .map(|(_, b, i)| format!("--batch '{b}' '{i}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
        }
    }

    /// Item keys in queue order (batch pull order, then position in the batch).
    pub fn queue(&self) -> Result<Vec<i64>, StoreError> {
        Ok(self.queue_entries()?.into_iter().map(|e| e.key).collect())
    }

    /// Loads an item, its annotation and any unsaved justification draft.
    pub fn item(&mut self, key: i64) -> Result<StoredItem, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT i.batch_id, i.item_id, i.seq, i.sha256, i.content, i.extras, b.schema_sha256
                 FROM items i JOIN batches b ON b.id = i.batch_id WHERE i.key = ?1",
            )
            .and_then(|mut s| {
                s.query_row([key], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                })
                .optional()
            })
            .map_err(|e| self.err(e))?
            .ok_or_else(|| StoreError::NoItem(format!("#{key}"), String::new()))?;
        let (batch_id, item_id, seq, sha256, content, extras, schema_sha) = row;
        let corrupt = |what: &str, e: serde_json::Error| {
            StoreError::Refused(format!("cached {what} of item '{item_id}' is corrupt: {e}"))
        };
        let content: Content = serde_json::from_str(&content).map_err(|e| corrupt("content", e))?;
        let extras: Extras = serde_json::from_str(&extras).map_err(|e| corrupt("extras", e))?;
        let schema = self.schema(&schema_sha)?;
        let annotation = annotation(&self.conn, key).map_err(|e| self.err(e))?;
        let draft = self.draft(key)?;
        let reference = self
            .conn
            .prepare_cached("SELECT body FROM calibration WHERE batch_id = ?1 AND item_id = ?2")
            .and_then(|mut s| {
                s.query_row(params![batch_id, item_id], |r| r.get::<_, String>(0))
                    .optional()
            })
            .map_err(|e| self.err(e))?
            .and_then(|b| serde_json::from_str(&b).ok());
        let images = self.images(&content)?;
        Ok(StoredItem {
            key,
            batch_id,
            item_id,
            seq,
            sha256,
            content,
            extras,
            schema,
            annotation,
            draft,
            reference,
            images,
        })
    }

    /// The cached bytes of each image the content names, each once, in reading order.
    /// An image the cache lacks is an error (a pull stores an item's images with it).
    pub fn images(&self, content: &Content) -> Result<Vec<crate::model::ImageBlob>, StoreError> {
        let mut out: Vec<crate::model::ImageBlob> = Vec::new();
        for r in content.images() {
            if out.iter().any(|b| &b.image == r) {
                continue;
            }
            let row = self
                .conn
                .prepare_cached(
                    "SELECT media_type, width, height, bytes FROM images WHERE sha256 = ?1",
                )
                .and_then(|mut s| {
                    s.query_row([&r.sha256], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, u32>(1)?,
                            row.get::<_, u32>(2)?,
                            row.get::<_, Vec<u8>>(3)?,
                        ))
                    })
                    .optional()
                })
                .map_err(|e| self.err(e))?;
            let Some((media_type, width, height, bytes)) = row else {
                return Err(StoreError::Refused(format!(
                    "the cache lacks the image {} that an item names; pull its batch again",
                    r.sha256
                )));
            };
            out.push(crate::model::ImageBlob {
                image: crate::model::ImageRef {
                    media_type,
                    sha256: r.sha256.clone(),
                },
                width,
                height,
                bytes: bytes.into(),
            });
        }
        Ok(out)
    }

    /// An item's annotation as stored now.
    pub fn annotation(&self, key: i64) -> Result<Annotation, StoreError> {
        annotation(&self.conn, key).map_err(|e| self.err(e))
    }

    /// The schema stored under this hash (parsed once per session).
    pub fn schema(&mut self, sha256: &str) -> Result<Arc<Schema>, StoreError> {
        schema_of(&self.conn, &mut self.schemas, sha256).map_err(StoreError::Refused)
    }

    /// The schema of a cached batch.
    pub fn batch_schema(&mut self, batch: &str) -> Result<Option<Arc<Schema>>, StoreError> {
        let sha: Option<String> = self
            .conn
            .query_row(
                "SELECT schema_sha256 FROM batches WHERE id = ?1",
                [batch],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        sha.map(|s| self.schema(&s)).transpose()
    }

    /// The schemas of the cached batches.
    pub fn batch_schemas(&mut self) -> Result<Vec<Arc<Schema>>, StoreError> {
        let shas: Vec<String> = self
            .conn
            .prepare("SELECT DISTINCT schema_sha256 FROM batches ORDER BY schema_sha256")
            .and_then(|mut s| {
                s.query_map([], |r| r.get(0))
                    .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            })
            .map_err(|e| self.err(e))?;
        shas.iter().map(|s| self.schema(s)).collect()
    }

    /// A fresh action number from the database (never reused, whichever process asks):
    /// the events of one user action share it, so undo takes them together.
    pub fn new_action(&mut self) -> Result<i64, StoreError> {
        let id = self.write(|w| w.action(Act::from(0)))?;
        self.taken = None;
        Ok(id)
    }

    /// The action id the last write took for an [`Act`] without one (see
    /// [`Act::action`]); `None` when it took none.
    pub fn take_action(&mut self) -> Option<i64> {
        self.taken.take()
    }

    /// Runs `f` in one write transaction (waiting for the lock as [`Store::begin`] does)
    /// and commits what it did; nothing of it is kept when `f` fails.
    pub(super) fn write<T>(
        &mut self,
        f: impl FnOnce(&mut W<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Store {
            conn,
            path,
            dir,
            schemas,
            waiter,
            source,
            taken,
        } = self;
        let tx = super::lock::begin(conn, dir, waiter).map_err(|e| super::begin_error(path, e))?;
        let mut w = W {
            tx,
            now: now_ms(),
            path,
            schemas,
            source,
            taken: None,
        };
        let out = f(&mut w)?;
        let W {
            tx,
            path,
            taken: took,
            ..
        } = w;
        tx.commit().map_err(|e| super::classify(path, e))?;
        *taken = took;
        Ok(out)
    }

    /// Sets (or with `None` clears) one answer, checked against the batch's schema.
    /// Returns the annotation as stored after the change.
    pub fn set_answer(
        &mut self,
        key: i64,
        question: &str,
        answer: Option<&Answer>,
        act: impl Into<Act>,
    ) -> Result<Annotation, StoreError> {
        let act = act.into();
        self.write(|w| {
            let item = w.head(key)?;
            w.expect(&item, act)?;
            let new =
                match answer {
                    Some(a) => Some(item.schema.check_answer(question, a).map_err(|e| {
                        StoreError::Refused(format!("item '{}': {e}", item.item_id))
                    })?),
                    None => None,
                };
            let old = item.annotation.answers.get(question).cloned();
            if old == new {
                return Ok(item.annotation);
            }
            let action = w.action(act)?;
            w.bump(key)?;
            let new_json = new
                .as_ref()
                .map(|a| serde_json::to_string(a).unwrap_or_default());
            match &new_json {
                Some(v) => w.tx.execute(
                    "INSERT INTO answers (item, question, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (item, question) DO UPDATE SET value = excluded.value",
                    params![key, question, v],
                ),
                None => w.tx.execute(
                    "DELETE FROM answers WHERE item = ?1 AND question = ?2",
                    params![key, question],
                ),
            }
            .map_err(|e| w.cls(e))?;
            let old_json = old
                .as_ref()
                .map(|a| serde_json::to_string(a).unwrap_or_default());
            w.log(
                key,
                action,
                &format!("answer:{question}"),
                old_json.as_deref(),
                new_json.as_deref(),
            )?;
            w.reopen(key, action)?;
            w.annotation(key)
        })
    }

    /// Sets the justification: one event holding the old and the new text (a finished
    /// edit; the keystrokes before it are a draft, see [`Store::save_draft`]). A change
    /// reopens a finished item. Any draft of the item is dropped.
    pub fn set_justification(
        &mut self,
        key: i64,
        text: &str,
        act: impl Into<Act>,
    ) -> Result<Annotation, StoreError> {
        let act = act.into();
        check_text("justification", text)?;
        self.write(|w| {
            let item = w.head(key)?;
            w.expect(&item, act)?;
            w.tx.execute("DELETE FROM drafts WHERE item = ?1", [key])
                .map_err(|e| w.cls(e))?;
            let old = item.annotation.justification.clone();
            if old == text {
                return Ok(item.annotation);
            }
            let action = w.action(act)?;
            w.bump(key)?;
            w.tx.execute(
                "UPDATE annotations SET justification = ?2 WHERE item = ?1",
                params![key, text],
            )
            .map_err(|e| w.cls(e))?;
            w.log(
                key,
                action,
                "justification",
                Some(&json_str(&old)),
                Some(&json_str(text)),
            )?;
            w.reopen(key, action)?;
            w.annotation(key)
        })
    }

    /// Keeps the justification being typed, so that a crash loses at most the last
    /// keystroke. A draft is not the justification: nothing exports it, no event records
    /// it, and it does not change the item's version.
    pub fn save_draft(&mut self, key: i64, text: &str) -> Result<(), StoreError> {
        self.write(|w| {
            w.tx.prepare_cached(
                "INSERT INTO drafts (item, text, owner, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (item) DO UPDATE SET text = excluded.text, owner = excluded.owner,
                    updated_at = excluded.updated_at",
            )
            .and_then(|mut s| s.execute(params![key, text, super::lock::me(), w.now]))
            .map(|_| ())
            .map_err(|e| w.cls(e))
        })
    }

    /// The unsaved justification draft of an item that this process, or one that is no
    /// longer running (killed, the machine off), was typing. A draft another running
    /// workstation is typing is not this one's to restore or save.
    pub fn draft(&self, key: i64) -> Result<Option<String>, StoreError> {
        let row: Option<(String, String)> = self
            .conn
            .prepare_cached("SELECT text, owner FROM drafts WHERE item = ?1")
            .and_then(|mut s| {
                s.query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))?;
        Ok(row.and_then(|(text, owner)| {
            (owner == super::lock::me() || !super::lock::owner_alive(&owner)).then_some(text)
        }))
    }

    /// Adds active (on-screen, not idle) time to an item.
    pub fn add_active_ms(&mut self, key: i64, ms: i64) -> Result<(), StoreError> {
        self.write(|w| {
            w.touch(key)?;
            w.tx.execute(
                "UPDATE annotations SET active_ms = active_ms + ?2 WHERE item = ?1",
                params![key, ms.max(0)],
            )
            .map(|_| ())
            .map_err(|e| w.cls(e))
        })
    }

    /// Submits an item: checks the schema's rules, drops answers to questions the answers
    /// no longer ask, and marks it done with a new revision.
    pub fn submit(&mut self, key: i64, act: impl Into<Act>) -> Result<Annotation, StoreError> {
        let act = act.into();
        self.write(|w| {
            let item = w.head(key)?;
            w.expect(&item, act)?;
            let a = &item.annotation;
            // Only an item under review has one (SQLite reads it out of the JSON).
            let review: Option<String> =
                w.tx.query_row(
                    "SELECT json_extract(extras, '$.review') FROM items WHERE key = ?1",
                    [key],
                    |r| r.get(0),
                )
                .map_err(|e| w.cls(e))?;
            let review = review.and_then(|r| serde_json::from_str::<crate::model::Review>(&r).ok());
            let problems = crate::model::submit_problems(
                &item.schema,
                review.as_ref(),
                item.pairwise,
                &a.answers,
                &a.justification,
            );
            if !problems.is_empty() {
                return Err(StoreError::Incomplete {
                    item: item.item_id.clone(),
                    problems,
                });
            }
            let asked: Vec<String> = item
                .schema
                .asked(item.pairwise, &a.answers)
                .map(|q| q.id.clone())
                .collect();
            let action = w.action(act)?;
            w.bump(key)?;
            for (q, v) in a.answers.iter().filter(|(q, _)| !asked.contains(q)) {
                w.drop_answer(key, action, q, v)?;
            }
            w.set_status(key, action, a.status, Status::Done)?;
            w.stamp_guidelines(key)?;
            w.annotation(key)
        })
    }

    /// Skips an item with a reason (a finished state: it is exported as skipped, without
    /// answers; see docs/bundle.md).
    pub fn skip(
        &mut self,
        key: i64,
        reason: &str,
        act: impl Into<Act>,
    ) -> Result<Annotation, StoreError> {
        let act = act.into();
        if reason.trim().is_empty() {
            return Err(StoreError::Refused("a skip needs a reason".into()));
        }
        check_text("skip reason", reason)?;
        self.write(|w| {
            let item = w.head(key)?;
            w.expect(&item, act)?;
            let a = &item.annotation;
            let action = w.action(act)?;
            w.bump(key)?;
            w.tx.execute(
                "UPDATE annotations SET skip_reason = ?2 WHERE item = ?1",
                params![key, reason],
            )
            .map_err(|e| w.cls(e))?;
            w.log(
                key,
                action,
                "skip_reason",
                a.skip_reason.as_deref().map(json_str).as_deref(),
                Some(&json_str(reason)),
            )?;
            w.set_status(key, action, a.status, Status::Skipped)?;
            w.stamp_guidelines(key)?;
            w.annotation(key)
        })
    }

    /// A qualification retake an admin allowed: each of these items that the cache holds
    /// answered is cleared and reopened (answers, justification, skip and flag, each
    /// change an event of one `retake` action, so the earlier attempt stays in the log),
    /// and the reference answers the hub sent for them after the first attempt are
    /// dropped (a retake with the references in hand would measure nothing). Returns how
    /// many items were reopened.
    pub fn retake(&mut self, items: &[(String, String)]) -> Result<usize, StoreError> {
        let before = self.source;
        self.source = "retake";
        let result = self.write(|w| {
            let mut n = 0;
            for (batch, item) in items {
                w.tx.execute(
                    "DELETE FROM calibration WHERE batch_id = ?1 AND item_id = ?2",
                    params![batch, item],
                )
                .map_err(|e| w.cls(e))?;
                let key: Option<i64> = w
                    .tx
                    .query_row(
                        "SELECT key FROM items WHERE batch_id = ?1 AND item_id = ?2",
                        params![batch, item],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(|e| w.cls(e))?;
                let Some(key) = key else { continue };
                let a = w.head(key)?.annotation;
                if a.status == Status::Draft
                    && a.answers.is_empty()
                    && a.justification.is_empty()
                    && a.flag.is_none()
                {
                    continue;
                }
                let action = w.action(Act::from(0))?;
                w.bump(key)?;
                for (q, v) in &a.answers {
                    w.drop_answer(key, action, q, v)?;
                }
                w.tx.execute(
                    "UPDATE annotations SET justification = '', skip_reason = NULL, flag_reason = NULL, flag_note = NULL, flag_section = NULL WHERE item = ?1",
                    [key],
                )
                .map_err(|e| w.cls(e))?;
                if !a.justification.is_empty() {
                    w.log(
                        key,
                        action,
                        "justification",
                        Some(&json_str(&a.justification)),
                        Some(&json_str("")),
                    )?;
                }
                if let Some(r) = &a.skip_reason {
                    w.log(key, action, "skip_reason", Some(&json_str(r)), None)?;
                }
                if let Some((r, note)) = &a.flag {
                    let old = serde_json::json!({"reason": r, "note": note}).to_string();
                    w.log(key, action, "flag", Some(&old), None)?;
                }
                w.reopen(key, action)?;
                n += 1;
            }
            Ok(n)
        });
        self.source = before;
        result
    }

    /// Flags an item for the policy team (reason from the schema), or with `None` unflags it.
    pub fn flag(
        &mut self,
        key: i64,
        flag: Option<(&str, &str)>,
        act: impl Into<Act>,
    ) -> Result<Annotation, StoreError> {
        self.flag_in(key, flag, None, act)
    }

    /// [`Store::flag`], naming the guideline section the rater was reading.
    pub fn flag_in(
        &mut self,
        key: i64,
        flag: Option<(&str, &str)>,
        section: Option<&str>,
        act: impl Into<Act>,
    ) -> Result<Annotation, StoreError> {
        let act = act.into();
        let section = flag.and(section);
        if let Some(s) = section {
            check_text("flag section", s)?;
        }
        if let Some((_, note)) = flag {
            check_text("flag note", note)?;
        }
        self.write(|w| {
            let item = w.head(key)?;
            w.expect(&item, act)?;
            if let Some((reason, _)) = flag
                && !item
                    .schema
                    .escalation_reasons
                    .iter()
                    .any(|r| r.value == reason)
            {
                return Err(StoreError::Refused(format!(
                    "'{reason}' is not an escalation reason of schema {} (reasons: {})",
                    item.schema.id,
                    item.schema
                        .escalation_reasons
                        .iter()
                        .map(|r| r.value.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            let to_json = |f: Option<(&str, &str)>, section: Option<&str>| {
                f.map(|(r, n)| {
                    let mut v = serde_json::json!({"reason": r, "note": n});
                    if let Some(s) = section {
                        v["section"] = serde_json::json!(s);
                    }
                    v.to_string()
                })
            };
            let old_section: Option<String> = w
                .tx
                .query_row(
                    "SELECT flag_section FROM annotations WHERE item = ?1",
                    [key],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| w.cls(e))?
                .flatten();
            let old = to_json(
                item.annotation
                    .flag
                    .as_ref()
                    .map(|(r, n)| (r.as_str(), n.as_str())),
                old_section.as_deref(),
            );
            let new = to_json(flag, section);
            if old == new {
                return Ok(item.annotation);
            }
            let action = w.action(act)?;
            w.bump(key)?;
            w.tx.execute(
                "UPDATE annotations SET flag_reason = ?2, flag_note = ?3, flag_section = ?4 WHERE item = ?1",
                params![key, flag.map(|f| f.0), flag.map(|f| f.1), section],
            )
            .map_err(|e| w.cls(e))?;
            w.log(key, action, "flag", old.as_deref(), new.as_deref())?;
            // A flag is about the item, not a change of judgement: a finished item stays
            // finished (no second submit), and its record, now flagged, is exported again
            // as a new revision.
            w.tx.execute(
                "UPDATE annotations SET revision = revision + 1 WHERE item = ?1 AND status <> 'draft'",
                [key],
            )
            .map_err(|e| w.cls(e))?;
            w.annotation(key)
        })
    }

    /// The event log of one item, oldest first.
    pub fn events(&self, key: i64) -> Result<Vec<Event>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT at, action, kind, field, old, new FROM events WHERE item = ?1 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([key], |r| {
            Ok(Event {
                at: r.get(0)?,
                action: r.get(1)?,
                kind: r.get(2)?,
                field: r.get(3)?,
                old: r.get(4)?,
                new: r.get(5)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }
}
