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
    /// Keys of the items whose id or rated text contains `text` (ASCII case-insensitive).
    pub fn search(&self, text: &str) -> Result<Vec<i64>, StoreError> {
        // LIKE with the wildcards of the query escaped, so they match themselves.
        let pattern = format!(
            "%{}%",
            text.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let mut stmt = self
            .conn
            .prepare("SELECT key FROM items WHERE item_id LIKE ?1 ESCAPE '\\' OR content LIKE ?1 ESCAPE '\\'")
            .map_err(|e| self.err(e))?;
        stmt.query_map([pattern], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }
}
