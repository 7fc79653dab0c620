//! The records of a signed export bundle (format: docs/bundle.md).

use super::Answer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `format` value of every bundle manifest this version writes.
pub const BUNDLE_FORMAT: &str = "verdict-bundle/1";

/// What a batch contributes to a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleBatch {
    /// Batch id.
    pub id: String,
    /// Schema id.
    pub schema_id: String,
    /// Hex sha256 of the schema's canonical JSON.
    pub schema_sha256: String,
    /// Guideline document id and version.
    pub guidelines: super::GuidelineRef,
    /// Records of this batch in the bundle.
    pub records: u64,
}

/// The first line of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleManifest {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// Unique bundle id (UUID v4).
    pub bundle_id: String,
    /// The rater's name.
    pub rater: String,
    /// The signing key's minisign key id (16 upper-case hex digits).
    pub key_id: String,
    /// When the bundle was written (RFC 3339, UTC).
    pub created: String,
    /// `verdict x.y.z`.
    pub tool: String,
    /// The batches the records belong to.
    pub batches: Vec<BundleBatch>,
    /// Number of record lines that follow.
    pub record_count: u64,
}

/// An escalation to the policy team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// One of the schema's escalation reasons.
    pub reason: String,
    /// The rater's note.
    pub note: String,
    /// The guideline section the rater was reading when they flagged it (the panel
    /// follows the chosen harm category), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
}

/// One annotation, as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Batch id.
    pub batch_id: String,
    /// Item id within the batch.
    pub item_id: String,
    /// The item's content hash at annotation time.
    pub item_sha256: String,
    /// `done` or `skipped`.
    pub status: String,
    /// Every answer, by question id.
    pub answers: BTreeMap<String, Answer>,
    /// The written justification (may be empty when not required).
    pub justification: String,
    /// Why the item was skipped, for `skipped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// Escalation, when flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    /// Milliseconds the item was on screen while the rater was active.
    pub active_ms: u64,
    /// First change (RFC 3339).
    pub started: String,
    /// Last submit (RFC 3339).
    pub submitted: String,
    /// How many times it was submitted (1 for the first).
    pub revision: u64,
    /// The guideline document it was submitted under, when that is not the one its
    /// batch names in the manifest (the batch's document changed since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidelines: Option<super::GuidelineRef>,
}
