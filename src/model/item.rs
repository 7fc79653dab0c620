//! An item to rate: a conversation and one or two responses, and its content hash.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Who speaks a message of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The system prompt.
    System,
    /// The person talking to the model (or the red-teamer).
    User,
    /// The model, in earlier turns.
    Assistant,
}

impl Role {
    /// Parses the wire name (`system`, `user`, `assistant`).
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "system" => Some(Role::System),
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// An image of a message or a response, as the content (and so its hash) names it: by
/// the sha256 of its bytes, which travel beside the item (the cache's and the hub's image
/// tables). Field order is the canonical order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageRef {
    /// `image/png`, `image/jpeg` or `image/webp`, as the bytes themselves say.
    pub media_type: String,
    /// Hex sha256 of the image file's bytes.
    pub sha256: String,
}

/// An image's bytes, checked: a whole PNG, JPEG or WebP file within the size limits.
#[derive(Clone, PartialEq, Eq)]
pub struct ImageBlob {
    /// What the content names it by.
    pub image: ImageRef,
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
    /// The file's bytes.
    pub bytes: std::sync::Arc<[u8]>,
}

impl std::fmt::Debug for ImageBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ImageBlob({} {}x{} {} bytes {})",
            self.image.media_type,
            self.width,
            self.height,
            self.bytes.len(),
            &self.image.sha256[..self.image.sha256.len().min(12)]
        )
    }
}

/// One turn of the conversation that led to the response(s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// What was said (untrusted model or user text).
    pub content: String,
    /// Images the turn carries, in order, after its text (absent from the canonical form
    /// when there are none, so a text item's hash is what it always was).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageRef>,
    /// Who said it.
    pub role: Role,
}

/// A response to be rated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// Images the response is or carries (a text-to-image model's output), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageRef>,
    /// The model that wrote it, when the batch says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The response text (untrusted); may be empty when the response is an image.
    pub text: String,
}

impl Message {
    /// A text-only turn.
    pub fn text(role: Role, content: impl Into<String>) -> Message {
        Message {
            content: content.into(),
            images: Vec::new(),
            role,
        }
    }
}

impl Response {
    /// A text-only response.
    pub fn text(model: Option<String>, text: impl Into<String>) -> Response {
        Response {
            images: Vec::new(),
            model,
            text: text.into(),
        }
    }
}

/// A model's pre-label for one question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The suggested answer, in the same shape as an answer to that question.
    pub value: crate::model::Answer,
    /// The suggesting agent's confidence, 0..=1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Who made the suggestion (a classifier name, a model id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// The part of an item that is rated, and so hashed. Field order is the canonical order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    /// The conversation; a batch's `prompt` is one `user` message.
    pub conversation: Vec<Message>,
    /// One response (rate it) or two (compare them).
    pub responses: Vec<Response>,
}

/// Everything about an item that is shown but not rated, so not hashed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Extras {
    /// Free JSON from the batch (source, language, tags, unknown fields).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Model pre-labels, per question id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub suggestions: BTreeMap<String, Suggestion>,
    /// Graphic content: the screen masks the item until the rater reveals it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_warning: Option<String>,
    /// For a reviewer: why the item is under review and what each rater said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<crate::model::Review>,
}

/// One item of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Unique within its batch.
    pub id: String,
    /// What is rated.
    pub content: Content,
    /// What is shown beside it.
    pub extras: Extras,
    /// The bytes of every image the content names, once each.
    pub images: Vec<ImageBlob>,
}

impl Content {
    /// The canonical form: compact JSON, keys in lexicographic order, strings escaped as
    /// RFC 8785 (JCS) does. Equal to Python's
    /// `json.dumps(c, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`.
    pub fn canonical_json(&self) -> String {
        // Struct fields are declared in lexicographic order (conversation < responses,
        // content < role, model < text), and serde_json writes no whitespace, so the
        // derived serialisation is already canonical.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// True when there are two responses to compare.
    pub fn is_pairwise(&self) -> bool {
        self.responses.len() == 2
    }

    /// Every image the content names, in reading order (the conversation's, then each
    /// response's), repeats included.
    pub fn images(&self) -> impl Iterator<Item = &ImageRef> {
        self.conversation
            .iter()
            .flat_map(|m| m.images.iter())
            .chain(self.responses.iter().flat_map(|r| r.images.iter()))
    }
}

/// Hex sha256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The item's content hash: hex sha256 of [`Content::canonical_json`].
pub fn content_hash(canonical: &[u8]) -> String {
    sha256_hex(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_is_sorted_and_compact() {
        let c = Content {
            conversation: vec![Message::text(Role::User, "héllo \"q\"\n\u{1b}[31m")],
            responses: vec![Response::text(Some("m".into()), "ok")],
        };
        let s = c.canonical_json();
        assert_eq!(
            s,
            r#"{"conversation":[{"content":"héllo \"q\"\n\u001b[31m","role":"user"}],"responses":[{"model":"m","text":"ok"}]}"#
        );
    }
}

/// Where a rater's work on an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not finished (never submitted, or reopened by a change).
    #[default]
    Draft,
    /// Submitted.
    Done,
    /// Skipped, with a reason.
    Skipped,
}

impl Status {
    /// The stored and exported name: `draft`, `done` or `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Done => "done",
            Status::Skipped => "skipped",
        }
    }

    /// The status a stored name stands for.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "draft" => Some(Status::Draft),
            "done" => Some(Status::Done),
            "skipped" => Some(Status::Skipped),
            _ => None,
        }
    }

    /// Submitted or skipped.
    pub fn finished(self) -> bool {
        self != Status::Draft
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Status {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
