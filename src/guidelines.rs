//! The rating guideline documents shipped in guidelines/, found by id and version.

use crate::model::{GuidelineRef, sha256_hex};

/// Shipped guideline documents (Markdown with a `---` front matter naming id and version).
const SHIPPED: &[&str] = &[
    include_str!("../guidelines/verdict-safety.md"),
    include_str!("../guidelines/verdict-images.md"),
];

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
    let (id, version) = id_and_version(text)?;
    Some(Guideline { id, version, text })
}

/// The id and version a document's front matter names (`---` lines around `id:` and
/// `version:`).
pub fn id_and_version(text: &str) -> Option<(String, String)> {
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
    Some((id?, version?))
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

/// The document a batch of this schema without a `guidelines` entry gets: the shipped
/// document written for the schema (`image-eval-v1`: `verdict-images`), else the default.
pub fn default_for(schema: &str) -> GuidelineRef {
    let id = match schema {
        "image-eval-v1" => "verdict-images",
        _ => return default_reference(),
    };
    shipped()
        .into_iter()
        .find(|g| g.id == id)
        .map(|g| g.reference())
        .unwrap_or_else(default_reference)
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

/// A section of a guideline document: its heading path ("Severity › Anchors") and its
/// lines up to the next heading.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    heading: String,
    body: Vec<String>,
}

/// The document's sections, front matter left out; text before the first heading is the
/// section "(introduction)". Headings inside code fences are text.
fn sections(text: &str) -> Vec<Section> {
    let body = text
        .strip_prefix("---\n")
        .and_then(|b| b.find("\n---").map(|end| &b[end + 4..]))
        .unwrap_or(text);
    let mut out = vec![Section {
        heading: "(introduction)".into(),
        body: Vec::new(),
    }];
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut fenced = false;
    // A single level-1 heading is the document's title: not part of the section names.
    let titles = body.lines().filter(|l| l.starts_with("# ")).count();
    for line in body.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        let level = line.chars().take_while(|c| *c == '#').count();
        if !fenced && (1..=6).contains(&level) && line[level..].starts_with(' ') {
            let title = line[level..].trim().to_string();
            path.retain(|(l, _)| *l < level);
            path.push((level, title));
            let named: Vec<&(usize, String)> = path
                .iter()
                .filter(|(l, _)| !(titles == 1 && *l == 1 && level > 1))
                .collect();
            out.push(Section {
                heading: named
                    .iter()
                    .map(|(_, t)| t.as_str())
                    .collect::<Vec<_>>()
                    .join(" › "),
                body: Vec::new(),
            });
        } else if let Some(s) = out.last_mut() {
            s.body.push(line.to_string());
        }
    }
    for s in &mut out {
        while s.body.last().is_some_and(|l| l.trim().is_empty()) {
            s.body.pop();
        }
        while s.body.first().is_some_and(|l| l.trim().is_empty()) {
            s.body.remove(0);
        }
    }
    out.retain(|s| s.heading != "(introduction)" || !s.body.is_empty());
    out
}

/// Lines of changed text shown per section at most (the rest is counted).
const SHOWN_PER_SECTION: usize = 12;

/// What changed between two versions of a guideline document, section by section:
/// sections added (with their first lines), removed, and changed (the lines taken out
/// and put in). Plain text lines; the caller makes them safe to draw.
pub fn section_diff(old: &str, new: &str) -> Vec<String> {
    let (a, b) = (sections(old), sections(new));
    let mut out = Vec::new();
    let excerpt = |lines: &[String], prefix: &str, out: &mut Vec<String>| {
        let shown: Vec<&String> = lines.iter().filter(|l| !l.trim().is_empty()).collect();
        for l in shown.iter().take(SHOWN_PER_SECTION) {
            out.push(format!("    {prefix} {l}"));
        }
        if shown.len() > SHOWN_PER_SECTION {
            out.push(format!(
                "    … {} more lines",
                shown.len() - SHOWN_PER_SECTION
            ));
        }
    };
    for s in &b {
        match a.iter().find(|x| x.heading == s.heading) {
            None => {
                out.push(format!("Added: {}", s.heading));
                excerpt(&s.body, "+", &mut out);
            }
            Some(o) if o.body != s.body => {
                out.push(format!("Changed: {}", s.heading));
                let (old_text, new_text) = (o.body.join("\n"), s.body.join("\n"));
                let diff = similar::TextDiff::from_lines(&old_text, &new_text);
                let mut changed = Vec::new();
                for c in diff.iter_all_changes() {
                    let sign = match c.tag() {
                        similar::ChangeTag::Delete => "-",
                        similar::ChangeTag::Insert => "+",
                        similar::ChangeTag::Equal => continue,
                    };
                    let line = c.value().trim_end_matches('\n');
                    if !line.trim().is_empty() {
                        changed.push((sign, line.to_string()));
                    }
                }
                for (sign, l) in changed.iter().take(SHOWN_PER_SECTION) {
                    out.push(format!("    {sign} {l}"));
                }
                if changed.len() > SHOWN_PER_SECTION {
                    out.push(format!(
                        "    … {} more changed lines",
                        changed.len() - SHOWN_PER_SECTION
                    ));
                }
            }
            Some(_) => {}
        }
    }
    for o in &a {
        if !b.iter().any(|x| x.heading == o.heading) {
            out.push(format!("Removed: {}", o.heading));
            excerpt(&o.body, "-", &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn section_diff_names_added_removed_and_changed_sections() {
        let old = "---\nid: g\nversion: 1\n---\n# Severity\n\nUse 0-4.\n\n## Anchors\n\n0 none\n1 minor\n\n# Fiction\n\nOld rule.\n";
        let new = "---\nid: g\nversion: 2\n---\n# Severity\n\nUse 0-4.\n\n## Anchors\n\n0 none\n1 minor, little uplift\n\n# Roleplay\n\nNew rule.\n";
        assert_eq!(
            super::section_diff(old, new),
            [
                "Changed: Severity › Anchors",
                "    - 1 minor",
                "    + 1 minor, little uplift",
                "Added: Roleplay",
                "    + New rule.",
                "Removed: Fiction",
                "    - Old rule.",
            ]
        );
        assert!(super::section_diff(old, old).is_empty());
        // A heading in a code fence is text.
        let fenced = "# A\n```\n# not a heading\n```\n";
        assert_eq!(super::sections(fenced).len(), 1);
    }

    #[test]
    fn the_shipped_documents_name_themselves() {
        let all = super::shipped();
        let ids: Vec<&str> = all.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["verdict-safety", "verdict-images"]);
        let r = super::default_reference();
        assert_eq!(r.id, "verdict-safety");
        assert_eq!(r.sha256.as_deref().map(str::len), Some(64));
        assert!(super::find(&r.id, &r.version).is_some());
        // A batch of the image schema gets the image guidelines; any other, the default.
        assert_eq!(super::default_for("image-eval-v1").id, "verdict-images");
        assert_eq!(super::default_for("llama-guard-3").id, "verdict-safety");
    }
}
