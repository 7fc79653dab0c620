//! Plain data types shared by every layer: items, schemas, answers, bundle records.
//! No I/O lives here.

mod bundle;
mod item;
mod review;
mod schema;

pub use bundle::{BUNDLE_FORMAT, BundleBatch, BundleManifest, Escalation, Record};
pub use item::{
    Content, Extras, ImageBlob, ImageRef, Item, Message, Response, Role, Status, Suggestion,
    content_hash, sha256_hex,
};
pub use review::{Calibration, Missed, Qualification, RaterAnswer, Review, submit_problems};
pub use schema::{
    Answer, AnswerError, Applies, BUILTIN as BUILTIN_SCHEMAS, Choice, Condition, DEFAULT_SCHEMA,
    Justification, Kind, Preset, Question, Reason, Schema, SchemaError,
};

use serde::{Deserialize, Serialize};

/// The guideline document (and version) that applies to a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuidelineRef {
    /// Document id (`verdict-safety`).
    pub id: String,
    /// Document version (`1.0`).
    pub version: String,
    /// Hex sha256 of the document, when known (shipped documents always are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// The median of durations in milliseconds, in seconds (0 for none).
pub fn median_seconds(mut ms: Vec<i64>) -> f64 {
    if ms.is_empty() {
        return 0.0;
    }
    ms.sort_unstable();
    let n = ms.len();
    let m = if n % 2 == 1 {
        ms[n / 2] as f64
    } else {
        (ms[n / 2 - 1] + ms[n / 2]) as f64 / 2.0
    };
    m / 1000.0
}

/// A rater name is 1-64 characters with no control, invisible or direction-changing
/// characters (it is shown in reports and signed into every bundle). The error says so.
pub fn check_rater(name: &str) -> Result<(), String> {
    if name.trim().is_empty()
        || name.chars().count() > 64
        || name
            .chars()
            .any(|c| c.is_control() || crate::safe::invisible(c))
    {
        return Err(format!(
            "rater name '{}' is not usable: 1-64 characters, no control, invisible or direction-changing characters",
            name.escape_debug()
        ));
    }
    Ok(())
}
