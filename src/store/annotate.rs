//! Annotations: every change is committed together with its event-log entry before the
//! caller hears it is saved.

use super::{Store, StoreError, now_ms};
use crate::model::{Answer, Content, Extras, Schema};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The rater's work on one item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotation {
    /// `draft`, `done` or `skipped`.
    pub status: String,
    /// Answers by question id.
    pub answers: BTreeMap<String, Answer>,
    /// The justification (or its draft).
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
}

/// An item as cached, with its annotation.
#[derive(Debug, Clone)]
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
    /// The hub's reference answers, for a gold item the rater has labelled and pushed.
    pub reference: Option<crate::hub::api::Calibration>,
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

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

impl Store {
    /// Finds an item by `ITEM` or `BATCH/ITEM`.
    pub fn find_item(&self, spec: &str) -> Result<i64, StoreError> {
        let (batch, item) = match spec.split_once('/') {
            Some((b, i)) if self.batch_exists(b)? => (Some(b), i),
            _ => (None, spec),
        };
        let mut stmt = self
            .conn
            .prepare("SELECT key, batch_id FROM items WHERE item_id = ?1 AND (?2 IS NULL OR batch_id = ?2)")
            .map_err(|e| self.err(e))?;
        let rows: Vec<(i64, String)> = stmt
            .query_map(params![item, batch], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        match rows.as_slice() {
            [] => Err(StoreError::NoItem(
                spec.to_string(),
                batch.map(|b| format!(" batch '{b}'")).unwrap_or_default(),
            )),
            [(key, _)] => Ok(*key),
            many => Err(StoreError::Ambiguous(
                item.to_string(),
                many.iter()
                    .map(|(_, b)| b.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
        }
    }

    fn batch_exists(&self, id: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row("SELECT 1 FROM batches WHERE id = ?1", [id], |_| Ok(()))
            .optional()
            .map(|o| o.is_some())
            .map_err(|e| self.err(e))
    }

    /// Item keys in queue order (batch pull order, then position in the batch).
    pub fn queue(&self) -> Result<Vec<i64>, StoreError> {
        Ok(self.queue_entries()?.into_iter().map(|e| e.0).collect())
    }

    /// Loads an item and its annotation.
    pub fn item(&mut self, key: i64) -> Result<StoredItem, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT i.batch_id, i.item_id, i.seq, i.sha256, i.content, i.extras, b.schema_sha256
                 FROM items i JOIN batches b ON b.id = i.batch_id WHERE i.key = ?1",
                [key],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or_else(|| StoreError::NoItem(format!("#{key}"), String::new()))?;
        let (batch_id, item_id, seq, sha256, content, extras, schema_sha) = row;
        let corrupt = |what: &str, e: serde_json::Error| {
            StoreError::Refused(format!("cached {what} of item '{item_id}' is corrupt: {e}"))
        };
        let content: Content = serde_json::from_str(&content).map_err(|e| corrupt("content", e))?;
        let extras: Extras = serde_json::from_str(&extras).map_err(|e| corrupt("extras", e))?;
        let schema = self.schema(&schema_sha)?;
        let annotation = self.annotation(key)?;
        let reference = self
            .conn
            .prepare_cached("SELECT body FROM calibration WHERE batch_id = ?1 AND item_id = ?2")
            .and_then(|mut s| {
                s.query_row(params![batch_id, item_id], |r| r.get::<_, String>(0))
                    .optional()
            })
            .map_err(|e| self.err(e))?
            .and_then(|b| serde_json::from_str(&b).ok());
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
            reference,
        })
    }

    /// What a write needs to check itself: the item id, its shape, its schema and the
    /// annotation. Unlike [`Store::item`] it does not read the item's text, which can be
    /// megabytes long and would otherwise be parsed on every key that writes.
    fn head(&mut self, key: i64) -> Result<ItemHead, StoreError> {
        let (item_id, pairwise, schema_sha): (String, bool, String) = self
            .conn
            .prepare_cached(
                "SELECT i.item_id, i.pairwise, b.schema_sha256
                 FROM items i JOIN batches b ON b.id = i.batch_id WHERE i.key = ?1",
            )
            .and_then(|mut s| {
                s.query_row([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))?
            .ok_or_else(|| StoreError::NoItem(format!("#{key}"), String::new()))?;
        Ok(ItemHead {
            item_id,
            pairwise,
            schema: self.schema(&schema_sha)?,
            annotation: self.annotation(key)?,
        })
    }

    fn annotation(&self, key: i64) -> Result<Annotation, StoreError> {
        let mut a = self
            .conn
            .query_row(
                "SELECT status, justification, skip_reason, flag_reason, flag_note, active_ms, revision, exported_revision
                 FROM annotations WHERE item = ?1",
                [key],
                |r| {
                    let flag = match (r.get::<_, Option<String>>(3)?, r.get::<_, Option<String>>(4)?) {
                        (Some(reason), note) => Some((reason, note.unwrap_or_default())),
                        _ => None,
                    };
                    Ok(Annotation {
                        status: r.get(0)?,
                        justification: r.get(1)?,
                        skip_reason: r.get(2)?,
                        flag,
                        active_ms: r.get(5)?,
                        revision: r.get(6)?,
                        exported_revision: r.get(7)?,
                        answers: BTreeMap::new(),
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))?
            .unwrap_or_else(|| Annotation {
                status: "draft".into(),
                ..Annotation::default()
            });
        let mut stmt = self
            .conn
            .prepare_cached("SELECT question, value FROM answers WHERE item = ?1")
            .map_err(|e| self.err(e))?;
        let rows: Vec<(String, String)> = stmt
            .query_map([key], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        for (q, v) in rows {
            if let Ok(ans) = serde_json::from_str(&v) {
                a.answers.insert(q, ans);
            }
        }
        Ok(a)
    }

    /// A fresh action number: the events of one user action share it, so undo takes them
    /// together.
    pub fn new_action(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT coalesce(max(action), 0) + 1 FROM events", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    pub(super) fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>, i64) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let cls = |e| super::classify(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(cls)?;
        let now = now_ms();
        let out = f(&tx, now)?;
        tx.commit().map_err(cls)?;
        Ok(out)
    }

    /// Sets (or with `None` clears) one answer, checked against the batch's schema.
    pub fn set_answer(
        &mut self,
        key: i64,
        question: &str,
        answer: Option<&Answer>,
        action: i64,
    ) -> Result<(), StoreError> {
        let item = self.head(key)?;
        let new = match answer {
            Some(a) => Some(
                item.schema
                    .check_answer(question, a)
                    .map_err(|e| StoreError::Refused(format!("item '{}': {e}", item.item_id)))?,
            ),
            None => None,
        };
        let old = item.annotation.answers.get(question).cloned();
        if old == new {
            return Ok(());
        }
        let path = self.path.clone();
        self.write(|tx, now| {
            let cls = |e| super::classify(&path, e);
            touch(tx, key, now).map_err(cls)?;
            let new_json = new
                .as_ref()
                .map(|a| serde_json::to_string(a).unwrap_or_default());
            match &new_json {
                Some(v) => tx.execute(
                    "INSERT INTO answers (item, question, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (item, question) DO UPDATE SET value = excluded.value",
                    params![key, question, v],
                ),
                None => tx.execute(
                    "DELETE FROM answers WHERE item = ?1 AND question = ?2",
                    params![key, question],
                ),
            }
            .map_err(cls)?;
            let old_json = old
                .as_ref()
                .map(|a| serde_json::to_string(a).unwrap_or_default());
            log(
                tx,
                now,
                key,
                action,
                &format!("answer:{question}"),
                old_json.as_deref(),
                new_json.as_deref(),
            )
            .map_err(cls)?;
            reopen(tx, now, key, action).map_err(cls)?;
            Ok(())
        })
    }

    /// Sets the justification, with an event (for a finished edit; see `save_draft`).
    pub fn set_justification(
        &mut self,
        key: i64,
        text: &str,
        action: i64,
    ) -> Result<(), StoreError> {
        let old: Option<String> = self
            .conn
            .query_row(
                "SELECT justification FROM annotations WHERE item = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        if old.as_deref().unwrap_or("") == text {
            return Ok(());
        }
        let path = self.path.clone();
        self.write(|tx, now| {
            let cls = |e| super::classify(&path, e);
            touch(tx, key, now).map_err(cls)?;
            tx.execute(
                "UPDATE annotations SET justification = ?2 WHERE item = ?1",
                params![key, text],
            )
            .map_err(cls)?;
            log(
                tx,
                now,
                key,
                action,
                "justification",
                old.as_deref().map(json_str).as_deref(),
                Some(&json_str(text)),
            )
            .map_err(cls)?;
            reopen(tx, now, key, action).map_err(cls)?;
            Ok(())
        })
    }

    /// Saves a justification draft as it is typed, without an event (the event is written
    /// by `set_justification` when the edit ends).
    pub fn save_draft(&mut self, key: i64, text: &str) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.write(|tx, now| {
            let cls = |e| super::classify(&path, e);
            touch(tx, key, now).map_err(cls)?;
            tx.execute(
                "UPDATE annotations SET justification = ?2 WHERE item = ?1",
                params![key, text],
            )
            .map_err(cls)?;
            Ok(())
        })
    }

    /// Adds active (on-screen, not idle) time to an item.
    pub fn add_active_ms(&mut self, key: i64, ms: i64) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.write(|tx, now| {
            let cls = |e| super::classify(&path, e);
            touch(tx, key, now).map_err(cls)?;
            tx.execute(
                "UPDATE annotations SET active_ms = active_ms + ?2 WHERE item = ?1",
                params![key, ms.max(0)],
            )
            .map_err(cls)?;
            Ok(())
        })
    }

    /// Submits an item: checks the schema's rules, drops answers to questions the answers
    /// no longer ask, and marks it done with a new revision.
    pub fn submit(&mut self, key: i64, action: i64) -> Result<(), StoreError> {
        let item = self.head(key)?;
        let a = &item.annotation;
        let pairwise = item.pairwise;
        let problems = item.schema.problems(pairwise, &a.answers, &a.justification);
        if !problems.is_empty() {
            return Err(StoreError::Incomplete {
                item: item.item_id.clone(),
                problems,
            });
        }
        let asked: Vec<String> = item
            .schema
            .asked(pairwise, &a.answers)
            .map(|q| q.id.clone())
            .collect();
        let stale: Vec<(String, String)> = a
            .answers
            .iter()
            .filter(|(q, _)| !asked.contains(q))
            .map(|(q, v)| (q.clone(), serde_json::to_string(v).unwrap_or_default()))
            .collect();
        let old_status = a.status.clone();
        let path = self.path.clone();
        self.write(|tx, now| {
            let cls = |e| super::classify(&path, e);
            touch(tx, key, now).map_err(cls)?;
            for (q, v) in &stale {
                tx.execute(
                    "DELETE FROM answers WHERE item = ?1 AND question = ?2",
                    params![key, q],
                )
                .map_err(cls)?;
                log(tx, now, key, action, &format!("answer:{q}"), Some(v), None).map_err(cls)?;
            }
            set_status(tx, now, key, action, &old_status, "done").map_err(cls)?;
            Ok(())
        })
    }

    /// Skips an item with a reason (a finished state: it is exported as skipped).
    pub fn skip(&mut self, key: i64, reason: &str, action: i64) -> Result<(), StoreError> {
        if reason.trim().is_empty() {
            return Err(StoreError::Refused("a skip needs a reason".into()));
        }
        let a = self.annotation(key)?;
        let path = self.path.clone();
        self.write(|tx, now| {
            let cls = |e| super::classify(&path, e);
            touch(tx, key, now).map_err(cls)?;
            tx.execute(
                "UPDATE annotations SET skip_reason = ?2 WHERE item = ?1",
                params![key, reason],
            )
            .map_err(cls)?;
            log(
                tx,
                now,
                key,
                action,
                "skip_reason",
                a.skip_reason.as_deref().map(json_str).as_deref(),
                Some(&json_str(reason)),
            )
            .map_err(cls)?;
            set_status(tx, now, key, action, &a.status, "skipped").map_err(cls)?;
            Ok(())
        })
    }

    /// Flags an item for the policy team (reason from the schema), or with `None` unflags it.
    pub fn flag(
        &mut self,
        key: i64,
        flag: Option<(&str, &str)>,
        action: i64,
    ) -> Result<(), StoreError> {
        let item = self.head(key)?;
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
        let to_json = |f: Option<(&str, &str)>| {
            f.map(|(r, n)| serde_json::json!({"reason": r, "note": n}).to_string())
        };
        let old = to_json(
            item.annotation
                .flag
                .as_ref()
                .map(|(r, n)| (r.as_str(), n.as_str())),
        );
        let new = to_json(flag);
        if old == new {
            return Ok(());
        }
        let path = self.path.clone();
        self.write(|tx, now| {
            let cls = |e| super::classify(&path, e);
            touch(tx, key, now).map_err(cls)?;
            tx.execute(
                "UPDATE annotations SET flag_reason = ?2, flag_note = ?3 WHERE item = ?1",
                params![key, flag.map(|f| f.0), flag.map(|f| f.1)],
            )
            .map_err(cls)?;
            log(tx, now, key, action, "flag", old.as_deref(), new.as_deref()).map_err(cls)?;
            reopen(tx, now, key, action).map_err(cls)?;
            Ok(())
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

/// Creates the annotation row if needed and stamps `updated_at`.
pub(super) fn touch(tx: &Transaction<'_>, key: i64, now: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO annotations (item, started_at, updated_at) VALUES (?1, ?2, ?2)
         ON CONFLICT (item) DO UPDATE SET updated_at = excluded.updated_at",
        params![key, now],
    )?;
    Ok(())
}

fn log(
    tx: &Transaction<'_>,
    now: i64,
    key: i64,
    action: i64,
    field: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO events (at, item, action, field, old, new) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![now, key, action, field, old, new])?;
    Ok(())
}

fn set_status(
    tx: &Transaction<'_>,
    now: i64,
    key: i64,
    action: i64,
    old: &str,
    new: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE annotations SET status = ?2, submitted_at = ?3, revision = revision + 1 WHERE item = ?1",
        params![key, new, now],
    )?;
    log(
        tx,
        now,
        key,
        action,
        "status",
        Some(&json_str(old)),
        Some(&json_str(new)),
    )
}

/// A change to a finished item reopens it: it must be submitted again to count (and to be
/// exported again as a new revision).
fn reopen(tx: &Transaction<'_>, now: i64, key: i64, action: i64) -> rusqlite::Result<()> {
    let status: String = tx.query_row(
        "SELECT status FROM annotations WHERE item = ?1",
        [key],
        |r| r.get(0),
    )?;
    if status != "draft" {
        tx.execute(
            "UPDATE annotations SET status = 'draft' WHERE item = ?1",
            [key],
        )?;
        log(
            tx,
            now,
            key,
            action,
            "status",
            Some(&json_str(&status)),
            Some(&json_str("draft")),
        )?;
    }
    Ok(())
}
