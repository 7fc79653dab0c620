//! The hub's HTTP/JSON API types, shared by the server and the workstation's client.
//! Reference: docs/hub-api.md.

pub use crate::model::{Missed, Qualification};
use serde::{Deserialize, Serialize};

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
