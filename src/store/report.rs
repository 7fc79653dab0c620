//! Status counts, and the export transaction that turns finished work into records.

use super::{Store, StoreError};
use crate::clock::{now_ms, rfc3339};
use crate::model::{Answer, BundleBatch, Escalation, GuidelineRef, Record};
use rusqlite::params;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Progress of one batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchStatus {
    /// Batch id.
    pub batch: String,
    /// Schema id.
    pub schema: String,
    /// Items in the batch.
    pub items: u64,
    /// Not yet done or skipped.
    pub todo: u64,
    /// Submitted.
    pub done: u64,
    /// Skipped with a reason.
    pub skipped: u64,
    /// Flagged for the policy team.
    pub flagged: u64,
    /// Finished and exported in their current revision.
    pub exported: u64,
    /// Finished but not yet exported.
    pub to_export: u64,
}

/// A record waiting to be exported.
#[derive(Debug, Clone)]
pub struct PendingRecord {
    /// Item key.
    pub key: i64,
    /// The record.
    pub record: Record,
}

/// Everything one bundle will hold.
#[derive(Debug, Clone)]
pub struct ExportSet {
    /// The records, by batch then position.
    pub records: Vec<PendingRecord>,
    /// The batches they belong to.
    pub batches: Vec<BundleBatch>,
}

/// A bundle as written, for the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Bundle id.
    pub id: String,
    /// Where it is.
    pub path: String,
    /// Hex sha256 of the bundle file.
    pub sha256: String,
}

impl Store {
    /// Per-batch progress.
    pub fn status(&self) -> Result<Vec<BatchStatus>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT b.id, s.id, count(i.key),
                        coalesce(sum(a.status = 'done'), 0),
                        coalesce(sum(a.status = 'skipped'), 0),
                        coalesce(sum(a.flag_reason IS NOT NULL), 0),
                        coalesce(sum(a.status <> 'draft' AND a.exported_revision = a.revision), 0),
                        coalesce(sum(a.status <> 'draft' AND a.exported_revision < a.revision), 0)
                 FROM batches b
                 JOIN schemas s ON s.sha256 = b.schema_sha256
                 LEFT JOIN items i ON i.batch_id = b.id
                 LEFT JOIN annotations a ON a.item = i.key
                 GROUP BY b.id ORDER BY b.pulled_at, b.id",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([], |r| {
            let items = count(r, 2)?;
            let done = count(r, 3)?;
            let skipped = count(r, 4)?;
            Ok(BatchStatus {
                batch: r.get(0)?,
                schema: r.get(1)?,
                items,
                todo: items - done - skipped,
                done,
                skipped,
                flagged: count(r, 5)?,
                exported: count(r, 6)?,
                to_export: count(r, 7)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }

    /// Looks up an item's cached content hash (for `verify`).
    pub fn item_hash(&self, batch: &str, item: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        self.conn
            .prepare_cached("SELECT sha256 FROM items WHERE batch_id = ?1 AND item_id = ?2")
            .and_then(|mut s| s.query_row(params![batch, item], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    /// The first phase of an export, under the write lock: gathers every finished, not
    /// yet exported annotation, lets `prepare` build (and sign) the bundle in memory, and
    /// records it in the export journal as `writing`, its records marked exported by it
    /// (each remembering the revision exported before). The caller then writes the files and calls
    /// [`Store::export_finish`] (or [`Store::export_abandon`] when writing failed). A
    /// crash between the two phases leaves a `writing` bundle that
    /// [`Store::unfinished_bundles`] names, so that the next start finishes or abandons
    /// it; no record is ever in two bundles at the same revision. With nothing to export,
    /// `prepare` is not called and `None` comes back.
    ///
    /// A skipped record carries no answers and no justification (docs/bundle.md): what
    /// was chosen before the skip is not a judgement.
    pub fn export_begin<P, E: From<StoreError>>(
        &mut self,
        prepare: impl FnOnce(&ExportSet) -> Result<(P, Written), E>,
    ) -> Result<Option<(P, Written, u64)>, E> {
        let path = self.path.clone();
        let cls = |e: rusqlite::Error| E::from(super::classify(&path, e));
        let tx = self.begin()?;
        const PENDING: &str =
            "a.status IN ('done', 'skipped') AND a.revision > a.exported_revision";
        let mut answers: HashMap<i64, BTreeMap<String, Answer>> = HashMap::new();
        {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT n.item, n.question, n.value FROM answers n
                     JOIN annotations a ON a.item = n.item WHERE {PENDING} AND a.status = 'done'"
                ))
                .map_err(cls)?;
            let mut rows = stmt.query([]).map_err(cls)?;
            while let Some(r) = rows.next().map_err(cls)? {
                let key: i64 = r.get(0).map_err(cls)?;
                let q: String = r.get(1).map_err(cls)?;
                let v: String = r.get(2).map_err(cls)?;
                let v: Answer = serde_json::from_str(&v).map_err(|e| {
                    E::from(StoreError::Refused(format!(
                        "stored answer {q} of item #{key} is corrupt: {e}"
                    )))
                })?;
                answers.entry(key).or_default().insert(q, v);
            }
        }
        let mut records = Vec::new();
        let mut per_batch: BTreeMap<String, u64> = BTreeMap::new();
        {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT i.key, i.batch_id, i.item_id, i.sha256, a.status, a.justification,
                            a.skip_reason, a.flag_reason, a.flag_note, a.active_ms, a.started_at,
                            a.submitted_at, a.revision, a.guidelines, b.guidelines, a.flag_section
                     FROM items i INDEXED BY items_queue JOIN annotations a ON a.item = i.key
                     JOIN batches b ON b.id = i.batch_id
                     WHERE {PENDING} ORDER BY i.batch_id, i.seq"
                ))
                .map_err(cls)?;
            let mut rows = stmt.query([]).map_err(cls)?;
            while let Some(r) = rows.next().map_err(cls)? {
                let key: i64 = r.get(0).map_err(cls)?;
                let batch_id: String = r.get(1).map_err(cls)?;
                *per_batch.entry(batch_id.clone()).or_default() += 1;
                let status: String = r.get(4).map_err(cls)?;
                let skipped = status == "skipped";
                let flag_reason: Option<String> = r.get(7).map_err(cls)?;
                let flag_note: Option<String> = r.get(8).map_err(cls)?;
                let flag_section: Option<String> = r.get(15).map_err(cls)?;
                // Named only when it is not the batch's document now.
                let stamped: Option<String> = r.get(13).map_err(cls)?;
                let current: String = r.get(14).map_err(cls)?;
                let guidelines = stamped
                    .filter(|g| *g != current)
                    .and_then(|g| serde_json::from_str::<GuidelineRef>(&g).ok());
                records.push(PendingRecord {
                    key,
                    record: Record {
                        batch_id,
                        item_id: r.get(2).map_err(cls)?,
                        item_sha256: r.get(3).map_err(cls)?,
                        status,
                        answers: answers.remove(&key).unwrap_or_default(),
                        justification: if skipped {
                            String::new()
                        } else {
                            r.get(5).map_err(cls)?
                        },
                        skip_reason: r.get(6).map_err(cls)?,
                        escalation: flag_reason.map(|reason| Escalation {
                            reason,
                            note: flag_note.unwrap_or_default(),
                            section: flag_section.clone(),
                        }),
                        active_ms: r.get::<_, i64>(9).map_err(cls)?.max(0) as u64,
                        started: rfc3339(r.get(10).map_err(cls)?),
                        submitted: rfc3339(
                            r.get::<_, Option<i64>>(11)
                                .map_err(cls)?
                                .unwrap_or_default(),
                        ),
                        revision: r.get::<_, i64>(12).map_err(cls)?.max(0) as u64,
                        guidelines,
                    },
                });
            }
        }
        if records.is_empty() {
            return Ok(None);
        }
        let mut batches = Vec::new();
        for (id, count) in per_batch {
            let (schema_id, schema_sha256, guidelines): (String, String, String) = tx
                .query_row(
                    "SELECT s.id, s.sha256, b.guidelines FROM batches b JOIN schemas s ON s.sha256 = b.schema_sha256 WHERE b.id = ?1",
                    [&id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(cls)?;
            let guidelines: GuidelineRef = serde_json::from_str(&guidelines).map_err(|e| {
                E::from(StoreError::Refused(format!(
                    "stored guidelines of batch {id} are corrupt: {e}"
                )))
            })?;
            batches.push(BundleBatch {
                id,
                schema_id,
                schema_sha256,
                guidelines,
                records: count,
            });
        }
        let set = ExportSet { records, batches };
        let (prepared, written) = prepare(&set)?;
        let n = set.records.len() as u64;
        tx.execute(
            "INSERT INTO bundles (id, path, sha256, created_at, record_count, state) VALUES (?1, ?2, ?3, ?4, ?5, 'writing')",
            params![written.id, written.path, written.sha256, now_ms(), n as i64],
        )
        .map_err(cls)?;
        // Set-based, inside the transaction that gathered the records: PENDING still
        // names exactly them.
        tx.execute(
            &format!(
                "UPDATE annotations AS a SET exported_previous = exported_revision,
                    exported_revision = revision, exported_bundle = ?1 WHERE {PENDING}"
            ),
            [&written.id],
        )
        .map_err(cls)?;
        tx.commit().map_err(cls)?;
        Ok(Some((prepared, written, n)))
    }

    /// The second phase of an export: its files are written and synced.
    pub fn export_finish(&mut self, bundle: &str) -> Result<(), StoreError> {
        self.write(|w| {
            w.tx.execute(
                "UPDATE bundles SET state = 'written' WHERE id = ?1",
                [bundle],
            )
            .map(|_| ())
            .map_err(|e| w.cls(e))
        })
    }

    /// Takes back a bundle whose files could not be (or were not all) written: its
    /// records count as not exported again. (No later export can have taken them since:
    /// every export first finishes or takes back the unfinished ones, under the export
    /// lock.)
    pub fn export_abandon(&mut self, bundle: &str) -> Result<(), StoreError> {
        self.write(|w| {
            w.tx.execute(
                "UPDATE annotations SET exported_revision = exported_previous, exported_bundle = NULL
                 WHERE exported_bundle = ?1",
                [bundle],
            )
            .map_err(|e| w.cls(e))?;
            w.tx.execute("DELETE FROM bundles WHERE id = ?1", [bundle])
                .map_err(|e| w.cls(e))?;
            Ok(())
        })
    }

    /// Bundles whose export was interrupted between its two phases: (id, path, sha256).
    pub fn unfinished_bundles(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, path, sha256 FROM bundles WHERE state = 'writing' ORDER BY created_at",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }

    /// Whether the cache knows a bundle.
    pub fn knows_bundle(&self, id: &str) -> Result<bool, StoreError> {
        use rusqlite::OptionalExtension;
        self.conn
            .query_row("SELECT 1 FROM bundles WHERE id = ?1", [id], |_| Ok(()))
            .optional()
            .map(|o| o.is_some())
            .map_err(|e| self.err(e))
    }

    /// Takes into the journal a signed bundle found in the outbox that the cache does not
    /// know, when every record in it is exactly the cache's current, not yet exported
    /// revision of its item. Returns why not, if it cannot.
    pub fn adopt_bundle(
        &mut self,
        written: &Written,
        records: &[Record],
    ) -> Result<Result<(), String>, StoreError> {
        self.write(|w| {
            let mut found = Vec::with_capacity(records.len());
            for r in records {
                let row: Option<(i64, String, String, i64, i64)> = {
                    use rusqlite::OptionalExtension;
                    w.tx.query_row(
                        "SELECT i.key, i.sha256, coalesce(a.status, 'draft'), coalesce(a.revision, 0),
                                coalesce(a.exported_revision, 0)
                         FROM items i LEFT JOIN annotations a ON a.item = i.key
                         WHERE i.batch_id = ?1 AND i.item_id = ?2",
                        params![r.batch_id, r.item_id],
                        |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?, x.get(3)?, x.get(4)?)),
                    )
                    .optional()
                    .map_err(|e| w.cls(e))?
                };
                let name = format!("{}/{}", r.batch_id, r.item_id);
                let Some((key, sha, status, revision, exported)) = row else {
                    return Ok(Err(format!("record {name} is not an item of this cache")));
                };
                let rev = r.revision as i64;
                if sha != r.item_sha256 || status != r.status || revision != rev {
                    return Ok(Err(format!(
                        "record {name} is {} at revision {rev} in the bundle but {status} at revision {revision} here",
                        r.status
                    )));
                }
                if exported >= rev {
                    return Ok(Err(format!(
                        "record {name} (revision {rev}) is already in another bundle"
                    )));
                }
                found.push((key, rev, exported));
            }
            w.tx.execute(
                "INSERT INTO bundles (id, path, sha256, created_at, record_count, state) VALUES (?1, ?2, ?3, ?4, ?5, 'written')",
                params![written.id, written.path, written.sha256, w.now, found.len() as i64],
            )
            .map_err(|e| w.cls(e))?;
            for (key, rev, previous) in found {
                w.tx.execute(
                    "UPDATE annotations SET exported_previous = ?4, exported_revision = ?2,
                        exported_bundle = ?3 WHERE item = ?1",
                    params![key, rev, written.id, previous],
                )
                .map_err(|e| w.cls(e))?;
            }
            Ok(Ok(()))
        })
    }

    /// Bundles written so far: (id, path, records, pushed).
    pub fn bundles(&self) -> Result<Vec<(String, String, u64, bool)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, path, record_count, pushed_at IS NOT NULL FROM bundles WHERE state = 'written' ORDER BY created_at")
            .map_err(|e| self.err(e))?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, count(r, 2)?, r.get(3)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }
}

fn count(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(r.get::<_, i64>(i)?.max(0) as u64)
}

impl Store {
    /// Records that the hub acknowledged a bundle (or that it was dropped for ingest).
    pub fn mark_pushed(&mut self, id: &str) -> Result<(), StoreError> {
        self.write(|w| {
            w.tx.execute(
                "UPDATE bundles SET pushed_at = ?2 WHERE id = ?1",
                params![id, w.now],
            )
            .map(|_| ())
            .map_err(|e| w.cls(e))
        })
    }

    /// Keeps the hub's reference answers for gold items the rater labelled (all or none).
    /// Every finished item: (submitted at, active ms, pairwise, status), oldest first.
    pub fn finished_work(&self) -> Result<Vec<(i64, i64, bool, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT a.submitted_at, a.active_ms, i.pairwise, a.status FROM annotations a
                 JOIN items i ON i.key = a.item
                 WHERE a.status IN ('done', 'skipped') AND a.submitted_at IS NOT NULL
                 ORDER BY a.submitted_at",
            )
            .map_err(|e| self.err(e))?;
        st.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0, r.get(3)?))
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }

    pub fn save_calibration(
        &mut self,
        items: &[crate::model::Calibration],
    ) -> Result<(), StoreError> {
        self.write(|w| {
            for c in items {
                let v = serde_json::to_string(c).unwrap_or_default();
                w.tx.execute(
                    "INSERT INTO calibration (batch_id, item_id, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT (batch_id, item_id) DO UPDATE SET body = excluded.body",
                    params![c.batch_id, c.item_id, v],
                )
                .map_err(|e| w.cls(e))?;
            }
            Ok(())
        })
    }
}
