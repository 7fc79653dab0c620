//! The hub's HTTP/JSON API types, shared by the server and the workstation's client.
//! Reference: docs/hub-api.md.

use crate::model::Answer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `POST /v1/pull`: ask for work.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullRequest {
    /// At most this many items leased (the rater's open leases count).
    pub max: usize,
}

/// A batch as sent to a rater: a manifest and items in the batch format.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireBatch {
    /// The manifest (schema inline, guidelines with their hash).
    pub manifest: serde_json::Value,
    /// Items, each one JSONL line of the batch format.
    pub items: Vec<serde_json::Value>,
}

/// The reference answers of a gold item (defined with the model: the cache keeps them).
pub use crate::model::Calibration;

/// The answer to a pull.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullResponse {
    /// The rater's open leases, grouped by batch.
    pub batches: Vec<WireBatch>,
    /// Reference answers for gold items the rater has finished.
    pub calibration: Vec<Calibration>,
    /// When the leases given now expire (RFC 3339).
    pub lease_expires: String,
    /// Where the rater stands with the hub's qualification set, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualification: Option<Qualification>,
}

/// A rater's qualification: `pending` (answer the qualification items first: no other
/// work until then), `passed` or `failed` (no work; `missed` says why).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Qualification {
    /// `pending`, `passed` or `failed`.
    pub status: String,
    /// Which attempt this is (1, then one more for each retake an admin allows; 0 from
    /// a hub that does not count them). A workstation that answered an earlier attempt
    /// clears those answers for the retake.
    #[serde(default)]
    pub attempt: u32,
    /// Qualification items not yet answered (pending).
    #[serde(default)]
    pub to_answer: usize,
    /// Share of qualification items answered as the reference on every question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The pass mark for `score`.
    pub pass: f64,
    /// The pass mark for each question's share right.
    pub pass_question: f64,
    /// Per question: the share of items answered as the reference.
    #[serde(default)]
    pub per_question: BTreeMap<String, f64>,
    /// Each answer that differed from the reference, with the reason.
    #[serde(default)]
    pub missed: Vec<Missed>,
}

/// One answer of a qualification item that differed from the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Missed {
    /// Batch id.
    pub batch_id: String,
    /// Item id.
    pub item_id: String,
    /// The question.
    pub question: String,
    /// The rater's answer (none: skipped or unanswered).
    pub yours: Option<Answer>,
    /// The reference.
    pub reference: Answer,
    /// Why the reference is right.
    pub explanation: String,
}

/// `POST /v1/push`: a signed bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushRequest {
    /// The bundle file's text.
    pub bundle: String,
    /// Its `.minisig` text.
    pub signature: String,
}

/// The acknowledgement of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// The bundle id.
    pub bundle_id: String,
    /// Records stored.
    pub accepted: u64,
    /// True when this bundle had already been received (nothing stored twice).
    pub duplicate: bool,
}

/// Every error answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiError {
    /// What went wrong, for a person.
    pub error: String,
    /// Each problem found (a refused bundle lists them all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}
