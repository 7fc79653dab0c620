//! Undo and redo over the event log, and the audit trail.

use super::annotate::{Event, touch};

use super::{Store, StoreError};
use rusqlite::{Connection, params};

/// What undo or redo changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reverted {
    /// The item it changed (the screen goes back to it).
    pub key: i64,
    /// The action undone or redone.
    pub action: i64,
    /// How many field changes it reverted or re-applied.
    pub changes: usize,
    /// The fields it changed, in the order of the original change, each once
    /// (`status`, `answer:QUESTION`, `justification`, `skip_reason`, `flag`).
    pub fields: Vec<String>,
}

impl Store {
    /// Undoes the most recent action that is not undone yet (linear undo across items,
    /// a submit included), by writing `undo` events that restore the old values.
    pub fn undo(&mut self) -> Result<Option<Reverted>, StoreError> {
        self.revert(true, false)
    }

    /// Redoes the most recently undone action, unless a new action came since.
    pub fn redo(&mut self) -> Result<Option<Reverted>, StoreError> {
        self.revert(false, false)
    }

    /// Undo as the workstation does it: only an action this kind of writer made (see
    /// [`Store::set_source`]). When the most recent action came from elsewhere (a
    /// `verdict label` script), nothing is undone and the error says so: a key in the
    /// workstation never takes back a change the rater did not make or see.
    pub fn undo_own(&mut self) -> Result<Option<Reverted>, StoreError> {
        self.revert(true, true)
    }

    /// Redo as the workstation does it (see [`Store::undo_own`]).
    pub fn redo_own(&mut self) -> Result<Option<Reverted>, StoreError> {
        self.revert(false, true)
    }

    fn revert(&mut self, undo: bool, own: bool) -> Result<Option<Reverted>, StoreError> {
        let me = self.source;
        self.write(|w| {
            let Some(action) = target(&w.tx, undo).map_err(|e| w.cls(e))? else {
                return Ok(None);
            };
            if own {
                let source: String = w
                    .tx
                    .query_row(
                        "SELECT coalesce((SELECT source FROM actions WHERE id = ?1), 'verdict')",
                        [action],
                        |r| r.get(0),
                    )
                    .map_err(|e| w.cls(e))?;
                // 'verdict': made before sources were recorded, by whichever tool.
                if source != me && source != "verdict" {
                    return Err(StoreError::Refused(format!(
                        "the last change on this cache was made by `verdict {source}`, not here, so {} does not take it back; use `verdict {}` if you mean to",
                        if undo { "undo" } else { "redo" },
                        if undo { "undo" } else { "redo" }
                    )));
                }
            }
            // The original change, in order: undo walks it backwards restoring `old`,
            // redo walks it forwards re-applying `new`.
            let mut changes: Vec<(i64, String, Option<String>, Option<String>)> = w
                .tx
                .prepare_cached("SELECT item, field, old, new FROM events WHERE action = ?1 AND kind = 'do' ORDER BY id")
                .and_then(|mut stmt| {
                    stmt.query_map([action], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                        .and_then(|rows| rows.collect())
                })
                .map_err(|e| w.cls(e))?;
            if undo {
                changes.reverse();
            }
            let kind = if undo { "undo" } else { "redo" };
            let mut key = 0;
            let mut items = std::collections::BTreeSet::new();
            for (item, field, old, new) in &changes {
                let (from, to) = if undo { (new, old) } else { (old, new) };
                apply(&w.tx, *item, field, to.as_deref(), w.now).map_err(|e| w.cls(e))?;
                w.log_as(kind, *item, action, field, from.as_deref(), to.as_deref())?;
                key = *item;
                items.insert(*item);
            }
            // Undo and redo change the rater's work like any other write: a workstation
            // that shows one of these items sees it changed.
            for item in items {
                w.bump(item)?;
            }
            let mut fields: Vec<String> = Vec::new();
            for (_, field, _, _) in &changes {
                if !fields.contains(field) {
                    fields.push(field.clone());
                }
            }
            if undo {
                fields.reverse();
            }
            Ok(Some(Reverted {
                key,
                action,
                changes: changes.len(),
                fields,
            }))
        })
    }
}

/// The action undo (or redo) applies to: walking the log from the newest event, the first
/// action whose latest event is a `do`/`redo` (for undo) or an `undo` (for redo). For redo,
/// meeting a fresh `do` first means the redo history was cut by a new action.
fn target(tx: &Connection, undo: bool) -> rusqlite::Result<Option<i64>> {
    let mut stmt = tx.prepare_cached("SELECT action, kind FROM events ORDER BY id DESC")?;
    let mut rows = stmt.query([])?;
    let mut seen = std::collections::HashSet::new();
    while let Some(r) = rows.next()? {
        let action: i64 = r.get(0)?;
        if !seen.insert(action) {
            continue;
        }
        let kind: String = r.get(1)?;
        match (undo, kind.as_str()) {
            (true, "do" | "redo") => return Ok(Some(action)),
            (false, "undo") => return Ok(Some(action)),
            (false, "do") => return Ok(None),
            _ => {}
        }
    }
    Ok(None)
}

/// Sets one logged field of an item to a value from the event log.
fn apply(
    tx: &Connection,
    key: i64,
    field: &str,
    value: Option<&str>,
    now: i64,
) -> rusqlite::Result<()> {
    touch(tx, key, now)?;
    let text = |v: Option<&str>| -> Option<String> {
        v.and_then(|j| serde_json::from_str::<String>(j).ok())
    };
    if let Some(q) = field.strip_prefix("answer:") {
        match value {
            Some(v) => tx.execute(
                "INSERT INTO answers (item, question, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (item, question) DO UPDATE SET value = excluded.value",
                params![key, q, v],
            )?,
            None => tx.execute(
                "DELETE FROM answers WHERE item = ?1 AND question = ?2",
                params![key, q],
            )?,
        };
        return Ok(());
    }
    match field {
        "justification" => {
            tx.execute(
                "UPDATE annotations SET justification = ?2 WHERE item = ?1",
                params![key, text(value).unwrap_or_default()],
            )?;
        }
        "status" => {
            // Back to finished from a draft is a submit again: a new revision, so that
            // what the item holds now is exported (it may differ from what was exported
            // at the old revision number).
            let status = text(value).unwrap_or_else(|| "draft".into());
            tx.execute(
                "UPDATE annotations SET
                    revision = revision + (status = 'draft' AND ?2 <> 'draft'),
                    submitted_at = CASE WHEN status = 'draft' AND ?2 <> 'draft' THEN ?3 ELSE submitted_at END,
                    status = ?2
                 WHERE item = ?1",
                params![key, status, now],
            )?;
        }
        "skip_reason" => {
            tx.execute(
                "UPDATE annotations SET skip_reason = ?2 WHERE item = ?1",
                params![key, text(value)],
            )?;
        }
        "flag" => {
            let v: Option<serde_json::Value> = value.and_then(|j| serde_json::from_str(j).ok());
            let get = |k: &str| v.as_ref().and_then(|v| v[k].as_str().map(str::to_string));
            tx.execute(
                "UPDATE annotations SET flag_reason = ?2, flag_note = ?3, flag_section = ?4 WHERE item = ?1",
                params![key, get("reason"), get("note"), get("section")],
            )?;
            // As a flag itself: a finished item's record changed, to be exported again.
            tx.execute(
                "UPDATE annotations SET revision = revision + 1 WHERE item = ?1 AND status <> 'draft'",
                [key],
            )?;
        }
        _ => {}
    }
    Ok(())
}

impl Store {
    /// The audit trail, newest first: (batch id, item id, event), for one item or all.
    pub fn audit(
        &self,
        key: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(String, String, Event)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT i.batch_id, i.item_id, e.at, e.action, e.kind, e.field, e.old, e.new
                 FROM events e JOIN items i ON i.key = e.item
                 WHERE ?1 IS NULL OR e.item = ?1 ORDER BY e.id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map(params![key, limit as i64], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                Event {
                    at: r.get(2)?,
                    action: r.get(3)?,
                    kind: r.get(4)?,
                    field: r.get(5)?,
                    old: r.get(6)?,
                    new: r.get(7)?,
                },
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }
}
