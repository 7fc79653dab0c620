//! The workstation's view of the cache: the queue, search, and small settings kept across restarts.

use super::{Store, StoreError};
use crate::model::Status;
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
    pub fn changes_since(&self, event: i64) -> Result<(Vec<(i64, Status)>, i64), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT e.item, coalesce(a.status, 'draft') FROM events e
                 LEFT JOIN annotations a ON a.item = e.item WHERE e.id > ?1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([event], |r| {
                Ok((
                    r.get(0)?,
                    super::annotate::stored_status(r.get_ref(1)?.as_str()?),
                ))
            })
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
    pub fn queue_entries(&self) -> Result<Vec<QueueEntry>, StoreError> {
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
                out.push(QueueEntry {
                    key: r.get(0).map_err(|e| self.err(e))?,
                    batch: batch.clone(),
                    id: r.get(1).map_err(|e| self.err(e))?,
                    status: super::annotate::stored_status(
                        r.get_ref(2)
                            .and_then(|v| v.as_str().map_err(Into::into))
                            .map_err(|e| self.err(e))?,
                    ),
                });
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
    /// The last item key the search index holds.
    fn search_indexed_upto(&self) -> Result<i64, StoreError> {
        Ok(self
            .ui_get("search_indexed_upto")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Adds up to `limit` items the search index does not hold yet, in one short write
    /// (the workstation runs it in the background, a chunk at a time, so that no pull
    /// pays for the index and no key waits for it). Returns how many were added.
    pub fn index_for_search(&mut self, limit: usize) -> Result<usize, StoreError> {
        self.write(|w| {
            let upto: i64 = w
                .tx
                .query_row(
                    "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM ui WHERE key = 'search_indexed_upto'), 0)",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| w.cls(e))?;
            let rows: Vec<(i64, String, String, String)> = w
                .tx
                .prepare("SELECT key, item_id, content, extras FROM items WHERE key > ?1 ORDER BY key LIMIT ?2")
                .and_then(|mut s| {
                    s.query_map(rusqlite::params![upto, limit as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .and_then(|rows| rows.collect())
                })
                .map_err(|e| w.cls(e))?;
            let Some(last) = rows.last().map(|r| r.0) else {
                return Ok(0);
            };
            {
                let mut insert = w
                    .tx
                    .prepare_cached("INSERT INTO items_fts (rowid, text) VALUES (?1, ?2)")
                    .map_err(|e| w.cls(e))?;
                for (key, id, content, extras) in &rows {
                    let (Ok(c), Ok(x)) = (
                        serde_json::from_str::<crate::model::Content>(content),
                        serde_json::from_str::<crate::model::Extras>(extras),
                    ) else {
                        continue;
                    };
                    insert
                        .execute(params![key, super::migrations::search_text(id, &c, &x)])
                        .map_err(|e| w.cls(e))?;
                }
            }
            w.tx.execute(
                "INSERT INTO ui (key, value) VALUES ('search_indexed_upto', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [last.to_string()],
            )
            .map_err(|e| w.cls(e))?;
            Ok(rows.len())
        })
    }

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
        // Words as the index tokenizes them (letters and digits; anything else separates),
        // each a term (FTS syntax typed is text), the last a prefix; all must occur.
        let words: Vec<&str> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let mut not_searched = 0;
        let by_text = if words.is_empty() {
            Vec::new()
        } else {
            let upto = self.search_indexed_upto()?;
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
            let mut keys: Vec<i64> = self
                .conn
                .prepare_cached(
                    "SELECT rowid FROM items_fts WHERE items_fts MATCH ?1 ORDER BY rowid",
                )
                .and_then(|mut s| {
                    s.query_map([query.join(" ")], |r| r.get(0))
                        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<i64>>>())
                })
                .map_err(|e| self.err(e))?;
            // Items the index does not hold yet (pulled since the workstation last
            // indexed): read, slower, so that a search does not miss them; when there are
            // many (the index is being built after a large pull), they are left out and
            // the answer says so, rather than keep the rater waiting.
            let left: i64 = self
                .conn
                .query_row("SELECT count(*) FROM items WHERE key > ?1", [upto], |r| {
                    r.get(0)
                })
                .map_err(|e| self.err(e))?;
            if left > SCAN_AT_MOST {
                not_searched = left as usize;
                return Ok(SearchHits {
                    by_id,
                    by_text: keys,
                    not_searched,
                });
            }
            let mut rest = self
                .conn
                .prepare_cached("SELECT key, item_id, content, extras FROM items WHERE key > ?1")
                .map_err(|e| self.err(e))?;
            let mut rows = rest.query([upto]).map_err(|e| self.err(e))?;
            let fold = |s: &str| -> Vec<String> {
                s.split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .map(fold_word)
                    .collect()
            };
            let wanted: Vec<String> = words.iter().map(|w| fold_word(w)).collect();
            while let Some(r) = rows.next().map_err(|e| self.err(e))? {
                let (key, id, content, extras): (i64, String, String, String) = (
                    r.get(0).map_err(|e| self.err(e))?,
                    r.get(1).map_err(|e| self.err(e))?,
                    r.get(2).map_err(|e| self.err(e))?,
                    r.get(3).map_err(|e| self.err(e))?,
                );
                let (Ok(c), Ok(x)) = (
                    serde_json::from_str::<crate::model::Content>(&content),
                    serde_json::from_str::<crate::model::Extras>(&extras),
                ) else {
                    continue;
                };
                let have = fold(&super::migrations::search_text(&id, &c, &x));
                let last = wanted.len() - 1;
                let all = wanted.iter().enumerate().all(|(i, w)| {
                    have.iter().any(|h| {
                        if i == last {
                            h.starts_with(w.as_str())
                        } else {
                            h == w
                        }
                    })
                });
                if all {
                    keys.push(key);
                }
            }
            keys
        };
        Ok(SearchHits {
            by_id,
            by_text,
            not_searched,
        })
    }
}

/// A word as the search index compares it: lower case, accents removed (as the index's
/// `unicode61 remove_diacritics 2` tokenizer does for the Latin letters raters meet).
fn fold_word(w: &str) -> String {
    w.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => 'a',
            'ç' | 'ć' | 'č' => 'c',
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' => 'e',
            'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
            'ñ' | 'ń' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => 'o',
            'ù' | 'ú' | 'û' | 'ü' | 'ū' => 'u',
            'ý' | 'ÿ' => 'y',
            'ś' | 'š' => 's',
            'ź' | 'ż' | 'ž' => 'z',
            'ł' => 'l',
            c => c,
        })
        .collect()
}

/// One item of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// Item key in the cache.
    pub key: i64,
    /// Batch id.
    pub batch: String,
    /// Item id.
    pub id: String,
    /// Where the rater's work on it stands.
    pub status: Status,
}

/// What a queue search found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchHits {
    /// Items whose id is the query exactly.
    pub by_id: Vec<i64>,
    /// Items whose text holds the query's words.
    pub by_text: Vec<i64>,
    /// Items whose text was not searched: the index is still being built after a large
    /// pull (the workstation builds it in the background, a few seconds per 100,000).
    pub not_searched: usize,
}

/// Items not yet in the search index that a search reads one by one at most.
const SCAN_AT_MOST: i64 = 2000;
