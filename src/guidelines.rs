//! The rating guideline documents shipped in guidelines/, found by id and version.

use crate::model::{GuidelineRef, sha256_hex};

/// Shipped guideline documents (Markdown with a `---` front matter naming id and version).
const SHIPPED: &[&str] = &[include_str!("../guidelines/verdict-safety.md")];

/// A shipped guideline document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guideline {
    /// Document id.
    pub id: String,
    /// Document version.
    pub version: String,
    /// The Markdown text, front matter included.
    pub text: &'static str,
}

impl Guideline {
    /// The reference a batch records: id, version and the document's sha256.
    pub fn reference(&self) -> GuidelineRef {
        GuidelineRef {
            id: self.id.clone(),
            version: self.version.clone(),
            sha256: Some(sha256_hex(self.text.as_bytes())),
        }
    }
}

fn front_matter(text: &'static str) -> Option<Guideline> {
    let body = text.strip_prefix("---\n")?;
    let end = body.find("\n---")?;
    let mut id = None;
    let mut version = None;
    for line in body[..end].lines() {
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim().trim_matches('"').to_string();
            match k.trim() {
                "id" => id = Some(v),
                "version" => version = Some(v),
                _ => {}
            }
        }
    }
    Some(Guideline {
        id: id?,
        version: version?,
        text,
    })
}

/// Every shipped document.
pub fn shipped() -> Vec<Guideline> {
    SHIPPED.iter().filter_map(|t| front_matter(t)).collect()
}

/// The shipped document with this id and version.
pub fn find(id: &str, version: &str) -> Option<Guideline> {
    shipped()
        .into_iter()
        .find(|g| g.id == id && g.version == version)
}

/// The document a batch without a manifest (or without a `guidelines` entry) gets.
pub fn default_reference() -> GuidelineRef {
    shipped()
        .into_iter()
        .next()
        .map(|g| g.reference())
        .unwrap_or(GuidelineRef {
            id: "verdict-safety".into(),
            version: "unknown".into(),
            sha256: None,
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_document_names_itself() {
        let all = super::shipped();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].id, "verdict-safety");
        let r = super::default_reference();
        assert_eq!(r.sha256.as_deref().map(str::len), Some(64));
        assert!(super::find(&r.id, &r.version).is_some());
    }
}
