//! The workstation's view of the cache: the queue, search, and small settings kept across restarts.

use super::{Store, StoreError};
use rusqlite::{OptionalExtension, params};

impl Store {
    /// A workstation setting kept across restarts.
    pub fn ui_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM ui WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Keeps a workstation setting.
    pub fn ui_set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.write(|w| {
            w.tx.prepare_cached(
                "INSERT INTO ui (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut s| s.execute(params![key, value]))
            .map(|_| ())
            .map_err(|e| w.cls(e))
        })
    }

    /// SQLite's `data_version`: it changes when another connection (another process)
    /// commits to the cache, and only then.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// The id of the newest event (0 for none).
    pub fn last_event(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// The item of the newest event (the last change made to the cache), if any.
    pub fn last_event_item(&self) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT item FROM events ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Items changed by events after `event` (key and status now), and the newest event.
    pub fn changes_since(&self, event: i64) -> Result<(Vec<(i64, String)>, i64), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT e.item, coalesce(a.status, 'draft') FROM events e
                 LEFT JOIN annotations a ON a.item = e.item WHERE e.id > ?1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([event], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        Ok((rows, self.last_event()?.max(event)))
    }

    /// How many items the cache holds.
    pub fn item_count(&self) -> Result<usize, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM items", [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as usize)
            .map_err(|e| self.err(e))
    }

    /// Every item's (key, batch id, item id, status) in queue order, for the workstation:
    /// batches in pull order, each read along the covering index in item order.
    pub fn queue_entries(&self) -> Result<Vec<(i64, String, String, String)>, StoreError> {
        let mut batches = self
            .conn
            .prepare("SELECT id FROM batches ORDER BY pulled_at, id")
            .map_err(|e| self.err(e))?;
        let ids: Vec<String> = batches
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT i.key, i.item_id, coalesce(a.status, 'draft')
                 FROM items i INDEXED BY items_queue LEFT JOIN annotations a ON a.item = i.key
                 WHERE i.batch_id = ?1 ORDER BY i.seq",
            )
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for batch in ids {
            let mut rows = stmt.query([&batch]).map_err(|e| self.err(e))?;
            while let Some(r) = rows.next().map_err(|e| self.err(e))? {
                out.push((
                    r.get(0).map_err(|e| self.err(e))?,
                    batch.clone(),
                    r.get(1).map_err(|e| self.err(e))?,
                    r.get(2).map_err(|e| self.err(e))?,
                ));
            }
        }
        Ok(out)
    }

    /// Finished annotations not yet exported.
    pub fn unexported(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM annotations WHERE status IN ('done', 'skipped') AND revision > exported_revision",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err(e))
    }
}

impl Store {
    /// Items matching a search: those whose id is `text` exactly (or `BATCH/ITEM`), then
    /// those whose text (conversation, responses, metadata values) holds every word of
    /// it, the last word as a prefix (case- and accent-insensitive, from the full-text
    /// index built at pull time).
    pub fn search(&self, text: &str) -> Result<SearchHits, StoreError> {
        let text = text.trim();
        let mut by_id: Vec<i64> = self
            .conn
            .prepare_cached(
                "SELECT key FROM items WHERE item_id = ?1 OR batch_id || '/' || item_id = ?1 ORDER BY batch_id, seq",
            )
            .and_then(|mut s| {
                s.query_map([text], |r| r.get(0))
                    .and_then(|rows| rows.collect::<rusqlite::Result<Vec<i64>>>())
            })
            .map_err(|e| self.err(e))?;
        by_id.dedup();
        let words: Vec<String> = text
            .split_whitespace()
            .map(|w| w.replace('"', ""))
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .collect();
        let by_text = if words.is_empty() {
            Vec::new()
        } else {
            // Each word a quoted phrase (FTS syntax in a query is text), the last a prefix.
            let last = words.len() - 1;
            let query: Vec<String> = words
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    if i == last {
                        format!("\"{w}\"*")
                    } else {
                        format!("\"{w}\"")
                    }
                })
                .collect();
            self.conn
                .prepare_cached(
                    "SELECT rowid FROM items_fts WHERE items_fts MATCH ?1 ORDER BY rowid",
                )
                .and_then(|mut s| {
                    s.query_map([query.join(" ")], |r| r.get(0))
                        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<i64>>>())
                })
                .map_err(|e| self.err(e))?
        };
        Ok(SearchHits { by_id, by_text })
    }
}

/// What a queue search found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchHits {
    /// Items whose id is the query exactly.
    pub by_id: Vec<i64>,
    /// Items whose text holds the query's words.
    pub by_text: Vec<i64>,
}
