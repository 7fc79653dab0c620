//! The guideline documents of the cached batches, and the changes pulls brought.

use super::{Store, StoreError};
use crate::clock::now_ms;
use crate::model::GuidelineRef;
use rusqlite::{OptionalExtension, params};

/// A change of a batch's guideline document the rater has not been shown yet.
#[derive(Debug, Clone, PartialEq)]
pub struct GuidelineChange {
    /// The batch.
    pub batch_id: String,
    /// The document before (the earliest unseen change's).
    pub old: GuidelineRef,
    /// The document now.
    pub new: GuidelineRef,
    /// Their texts, where this cache has them (carried by a batch, or shipped).
    pub old_text: Option<String>,
    /// The new text.
    pub new_text: Option<String>,
}

impl GuidelineChange {
    /// What the workstation shows: the versions, then what changed section by section.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![
            format!(
                "The guidelines of batch {} changed: {} {} → {} {}.",
                self.batch_id, self.old.id, self.old.version, self.new.id, self.new.version
            ),
            "Items you submit from now on are judged under the new version (their records say so)."
                .into(),
            String::new(),
        ];
        match (&self.old_text, &self.new_text) {
            (Some(a), Some(b)) => {
                let d = crate::guidelines::section_diff(a, b);
                if d.is_empty() {
                    out.push("The text did not change; only its name or version did.".into());
                }
                out.extend(d);
            }
            _ => out.push(
                "This cache does not hold both texts, so the changes cannot be shown here: read the guidelines panel (g)."
                    .into(),
            ),
        }
        // Batch documents are untrusted text: one safe line each.
        out.iter().map(|l| crate::safe::sanitize_line(l)).collect()
    }
}

impl Store {
    /// The text of a guideline document this cache knows: carried by a batch, or shipped.
    pub fn guideline_text(&self, r: &GuidelineRef) -> Result<Option<String>, StoreError> {
        if let Some(sha) = &r.sha256 {
            let text: Option<String> = self
                .conn
                .query_row(
                    "SELECT text FROM guideline_docs WHERE sha256 = ?1",
                    [sha],
                    |row| row.get(0),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            if text.is_some() {
                return Ok(text);
            }
        }
        Ok(crate::guidelines::find(&r.id, &r.version)
            .filter(|g| r.sha256.is_none() || r.sha256 == g.reference().sha256)
            .map(|g| g.text.to_string()))
    }

    /// A batch's guideline document now, with its text when this cache has it.
    pub fn batch_guidelines(
        &self,
        batch: &str,
    ) -> Result<Option<(GuidelineRef, Option<String>)>, StoreError> {
        let Some(r) = self.batch_guideline_ref(batch)? else {
            return Ok(None);
        };
        let text = self.guideline_text(&r)?;
        Ok(Some((r, text)))
    }

    /// Which guideline document a batch follows now.
    pub fn batch_guideline_ref(&self, batch: &str) -> Result<Option<GuidelineRef>, StoreError> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT guidelines FROM batches WHERE id = ?1",
                [batch],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(json.and_then(|j| serde_json::from_str::<GuidelineRef>(&j).ok()))
    }

    /// The change of a batch's guideline document not yet shown to the rater (several
    /// unseen changes count as one: from the first's old document to the document now).
    pub fn unseen_guideline_change(
        &self,
        batch: &str,
    ) -> Result<Option<GuidelineChange>, StoreError> {
        let first: Option<String> = self
            .conn
            .query_row(
                "SELECT old FROM guideline_changes WHERE batch_id = ?1 AND seen_at IS NULL ORDER BY id LIMIT 1",
                [batch],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some(old) = first.and_then(|j| serde_json::from_str::<GuidelineRef>(&j).ok()) else {
            return Ok(None);
        };
        let Some((new, new_text)) = self.batch_guidelines(batch)? else {
            return Ok(None);
        };
        Ok(Some(GuidelineChange {
            batch_id: batch.to_string(),
            old_text: self.guideline_text(&old)?,
            old,
            new,
            new_text,
        }))
    }

    /// Records that the rater was shown the changes of a batch's guidelines.
    pub fn mark_guidelines_seen(&mut self, batch: &str) -> Result<(), StoreError> {
        self.write(|w| {
            w.tx.execute(
                "UPDATE guideline_changes SET seen_at = ?2 WHERE batch_id = ?1 AND seen_at IS NULL",
                params![batch, now_ms()],
            )
            .map(|_| ())
            .map_err(|e| w.cls(e))
        })
    }
}
