//! Importing a batch: one transaction per batch, all or nothing.

use super::{Store, StoreError};
use crate::batch::{ItemsError, OpenBatch, Parsed};
use crate::clock::now_ms;
use rusqlite::{OptionalExtension, params};

/// What a pull of one batch changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The batch id.
    pub batch_id: String,
    /// True when the batch was not in the cache before.
    pub new_batch: bool,
    /// Items added.
    pub added: u64,
    /// Items already cached with the same content.
    pub unchanged: u64,
    /// The batch's new guideline document, when this pull changed it.
    pub guidelines_changed: Option<crate::model::GuidelineRef>,
}

impl Store {
    /// Imports a batch in one transaction: on any error (a malformed item, a changed item,
    /// a full disk) nothing of it is kept. `progress` receives bytes read so far.
    pub fn import(
        &mut self,
        batch: &mut OpenBatch,
        origin: &str,
        mut progress: impl FnMut(u64),
    ) -> Result<ImportReport, StoreError> {
        let path = self.path.clone();
        let cls = |e: rusqlite::Error| super::classify(&path, e);
        let header = batch.header.clone();
        let schema_sha = header.schema.hash();
        let dir = self.dir.clone();
        let tx = self.begin()?;
        // A pull holds the write lock for as long as it reads the file: say so, so that
        // a `label` or the workstation waiting for it can tell the rater what it waits for.
        let _note = super::lock::announce(
            &dir,
            &format!(
                "pull of batch {} from {}",
                header.batch_id,
                batch.path.display()
            ),
        );
        crate::failpoint::pause("import:locked");
        tx.execute(
            "INSERT OR IGNORE INTO schemas (sha256, id, body) VALUES (?1, ?2, ?3)",
            params![schema_sha, header.schema.id, header.schema.canonical_json()],
        )
        .map_err(cls)?;
        let guidelines = serde_json::to_string(&header.guidelines).unwrap_or_default();
        if let (Some(text), Some(sha)) = (&header.guideline_text, &header.guidelines.sha256) {
            tx.execute(
                "INSERT OR IGNORE INTO guideline_docs (sha256, id, version, text) VALUES (?1, ?2, ?3, ?4)",
                params![sha, header.guidelines.id, header.guidelines.version, text],
            )
            .map_err(cls)?;
        }
        let existing: Option<(String, String)> = tx
            .query_row(
                "SELECT schema_sha256, guidelines FROM batches WHERE id = ?1",
                [&header.batch_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(cls)?;
        let new_batch = existing.is_none();
        // A pull that brings another version of the batch's guideline document: the
        // batch takes it (records submitted from now on name it), and the change is kept
        // for the workstation to show, once.
        let mut guidelines_changed = None;
        if let Some((_, old)) = &existing
            && serde_json::from_str::<crate::model::GuidelineRef>(old)
                .ok()
                .as_ref()
                != Some(&header.guidelines)
        {
            tx.execute(
                "UPDATE batches SET guidelines = ?2, manifest = ?3 WHERE id = ?1",
                params![header.batch_id, guidelines, header.manifest.to_string()],
            )
            .map_err(cls)?;
            tx.execute(
                "INSERT INTO guideline_changes (batch_id, old, new, changed_at) VALUES (?1, ?2, ?3, ?4)",
                params![header.batch_id, old, guidelines, now_ms()],
            )
            .map_err(cls)?;
            guidelines_changed = Some(header.guidelines.clone());
        }
        match existing.map(|e| e.0) {
            Some(old) if old != schema_sha => {
                let old_id: String = tx
                    .query_row("SELECT id FROM schemas WHERE sha256 = ?1", [&old], |r| {
                        r.get(0)
                    })
                    .map_err(cls)?;
                return Err(StoreError::SchemaChanged {
                    batch: header.batch_id.clone(),
                    old_id,
                    old,
                    new_id: header.schema.id.clone(),
                    new: schema_sha,
                });
            }
            Some(_) => {}
            None => {
                tx.execute(
                    "INSERT INTO batches (id, schema_sha256, guidelines, manifest, origin, pulled_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        header.batch_id,
                        schema_sha,
                        guidelines,
                        header.manifest.to_string(),
                        origin,
                        now_ms()
                    ],
                )
                .map_err(cls)?;
            }
        }
        let mut seq: i64 = tx
            .query_row(
                "SELECT coalesce(max(seq), 0) FROM items WHERE batch_id = ?1",
                [&header.batch_id],
                |r| r.get(0),
            )
            .map_err(cls)?;
        let mut added = 0u64;
        let mut unchanged = 0u64;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO items (batch_id, item_id, seq, sha256, pairwise, content, extras)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (batch_id, item_id) DO NOTHING",
                )
                .map_err(cls)?;
            let mut image = tx
                .prepare(
                    "INSERT INTO images (sha256, media_type, width, height, bytes)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (sha256) DO NOTHING",
                )
                .map_err(cls)?;
            let mut cached = tx
                .prepare(
                    "SELECT sha256, extras, key FROM items WHERE batch_id = ?1 AND item_id = ?2",
                )
                .map_err(cls)?;
            // An item a reviewer adjudicated comes back when a rater revised their record:
            // it brings the raters' records now, and the reviewer's earlier answer is
            // reopened (one `pull` action in the log) to be confirmed or changed.
            let mut review_again = Vec::new();
            let file = batch.path.clone();
            // Two cores, two stages: a reader thread parses, checks and hashes items while
            // this thread inserts them. Dropping the receiver (on an insert error) stops
            // the reader at its next send.
            let (result, read) = std::thread::scope(|scope| {
                let (sender, receiver) = std::sync::mpsc::sync_channel::<Parsed>(512);
                let reader =
                    scope.spawn(move || batch.for_each_item(|p| sender.send(p).map_err(|_| ())));
                let mut insert_one = |p: Parsed| -> Result<(), StoreError> {
                    for b in &p.item.images {
                        image
                            .execute(params![
                                b.image.sha256,
                                b.image.media_type,
                                b.width,
                                b.height,
                                &b.bytes[..]
                            ])
                            .map_err(cls)?;
                        crate::failpoint::hit("import:image-stored");
                    }
                    let n = insert
                        .execute(params![
                            header.batch_id,
                            p.item.id,
                            seq + 1,
                            p.hash,
                            p.item.content.is_pairwise(),
                            p.canonical,
                            p.extras
                        ])
                        .map_err(cls)?;
                    if n == 1 {
                        seq += 1;
                        added += 1;
                    } else {
                        let (old, old_extras, key): (String, String, i64) = cached
                            .query_row(params![header.batch_id, p.item.id], |r| {
                                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                            })
                            .map_err(cls)?;
                        if p.extras != old_extras && p.item.extras.review.is_some() {
                            review_again.push((key, p.extras.clone()));
                        }
                        if old != p.hash {
                            return Err(StoreError::ItemChanged {
                                file: file.clone(),
                                line: p.line,
                                batch: header.batch_id.clone(),
                                item: p.item.id.clone(),
                                old,
                                new: p.hash,
                            });
                        }
                        unchanged += 1;
                    }
                    progress(p.offset);
                    Ok(())
                };
                let mut result = Ok(());
                for p in receiver.iter() {
                    if let Err(e) = insert_one(p) {
                        result = Err(e);
                        break;
                    }
                }
                drop(receiver);
                let read = reader.join();
                (result, read)
            });
            match read {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(Err(ItemsError::Batch(e))) => return Err(StoreError::Batch(e)),
                // The reader stopped because the inserter did: its error says why.
                Ok(Err(ItemsError::Sink(()))) | Ok(Ok(())) => result?,
            }
            let mut action = None;
            for (key, extras) in review_again {
                tx.execute(
                    "UPDATE items SET extras = ?2 WHERE key = ?1",
                    params![key, extras],
                )
                .map_err(cls)?;
                let status: Option<String> = tx
                    .query_row(
                        "SELECT status FROM annotations WHERE item = ?1",
                        [key],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(cls)?;
                let Some(status) = status.filter(|s| s != "draft") else {
                    continue;
                };
                let now = now_ms();
                let a = match action {
                    Some(a) => a,
                    None => {
                        tx.execute(
                            "INSERT INTO actions (at, source) VALUES (?1, 'pull')",
                            [now],
                        )
                        .map_err(cls)?;
                        let a = tx.last_insert_rowid();
                        action = Some(a);
                        a
                    }
                };
                tx.execute(
                    "UPDATE annotations SET status = 'draft', version = version + 1, updated_at = ?2 WHERE item = ?1",
                    params![key, now],
                )
                .map_err(cls)?;
                tx.execute(
                    "INSERT INTO events (at, item, action, field, old, new) VALUES (?1, ?2, ?3, 'status', ?4, ?5)",
                    params![
                        now,
                        key,
                        a,
                        serde_json::Value::String(status).to_string(),
                        serde_json::Value::String("draft".into()).to_string()
                    ],
                )
                .map_err(cls)?;
            }
        }
        tx.commit().map_err(cls)?;
        Ok(ImportReport {
            batch_id: header.batch_id,
            new_batch,
            added,
            unchanged,
            guidelines_changed,
        })
    }
}
