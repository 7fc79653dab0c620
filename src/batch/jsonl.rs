//! JSONL batches: an optional `{"manifest": {...}}` first line, then one item a line.

use super::{BATCH_FORMAT, BatchError, Header, ItemContext, Warning, strip_bom, utf8};
use crate::guidelines;
use crate::model::{
    Content, DEFAULT_SCHEMA, Extras, GuidelineRef, ImageBlob, ImageRef, Item, Message, Response,
    Role, Schema, Suggestion,
};
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;

const ITEM_FIELDS: &[&str] = &[
    "id",
    "prompt",
    "messages",
    "responses",
    "metadata",
    "suggestions",
    "content_warning",
    "review",
];
const MANIFEST_FIELDS: &[&str] = &[
    "format",
    "batch_id",
    "schema",
    "guidelines",
    "description",
    "created",
    "source",
];

/// One line of a JSONL file: 1-based number, bytes without the newline, offset after it.
type Line = (u64, Vec<u8>, u64);

/// The lines of a JSONL file, a BOM removed from the first.
fn lines(path: &Path) -> Result<impl Iterator<Item = Result<Line, BatchError>>, BatchError> {
    let f = std::fs::File::open(path)
        .map_err(|e| BatchError::at(path, None, None, format!("cannot open: {e}")))?;
    let mut reader = BufReader::with_capacity(1 << 20, f);
    let mut n = 0u64;
    let mut offset = 0u64;
    let path = path.to_path_buf();
    Ok(std::iter::from_fn(move || {
        let mut buf = Vec::new();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(len) => {
                n += 1;
                offset += len as u64;
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                if n == 1 {
                    let stripped = strip_bom(&buf).len();
                    buf.drain(..buf.len() - stripped);
                }
                Some(Ok((n, buf, offset)))
            }
            Err(e) => Some(Err(BatchError::at(
                &path,
                Some(n + 1),
                None,
                format!("cannot read: {e}"),
            ))),
        }
    }))
}

/// A JSON value read with one rule more than serde_json's: an object may not name a key
/// twice. (JSON parsers disagree on which copy wins, so `{"id": "x", "id": "y"}` would
/// be one item here and another to the tool that wrote it.)
pub(super) struct Strict(pub(super) Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        use serde::de::Error;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(A::Error::custom(format!(
                    "the key \"{}\" appears twice in one object; JSON readers disagree on which one counts, so remove one",
                    key.escape_debug()
                )));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

fn parse_line(path: &Path, line: u64, bytes: &[u8]) -> Result<Map<String, Value>, BatchError> {
    let text = utf8(path, line, bytes)?;
    match serde_json::from_str::<Strict>(text).map(|s| s.0) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(BatchError::at(
            path,
            Some(line),
            None,
            "a line must be one JSON object",
        )),
        Err(e) => Err(BatchError::at(
            path,
            Some(line),
            None,
            if line == 1 && text.trim_start().starts_with('[') {
                format!(
                    "not valid JSON ({e}); a JSON Lines batch holds one object a line, and this starts a list: a Label Studio file (a JSON list of tasks) is read when its name ends in .json"
                )
            } else {
                format!("not valid JSON ({e})")
            },
        )),
    }
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// Reads the manifest line, if the first non-blank line is one.
pub(super) fn read_manifest(
    path: &Path,
    warnings: &mut Vec<Warning>,
) -> Result<Option<Header>, BatchError> {
    for entry in lines(path)? {
        let (line, bytes, _) = entry?;
        if is_blank(&bytes) {
            continue;
        }
        let mut obj = parse_line(path, line, &bytes)?;
        let Some(m) = obj.remove("manifest") else {
            return Ok(None);
        };
        if !obj.is_empty() {
            return Err(BatchError::at(
                path,
                Some(line),
                None,
                format!(
                    "the manifest line also holds {}: the manifest line holds only \"manifest\"; put the first item on a line of its own",
                    field_list(obj.keys())
                ),
            ));
        }
        return manifest(path, line, m, warnings).map(Some);
    }
    Ok(None)
}

fn manifest(
    path: &Path,
    line: u64,
    m: Value,
    warnings: &mut Vec<Warning>,
) -> Result<Header, BatchError> {
    let err = |field: &str, msg: String| BatchError::at(path, Some(line), Some(field), msg);
    let Value::Object(obj) = &m else {
        return Err(err("manifest", "the manifest must be a JSON object".into()));
    };
    for k in obj.keys() {
        if !MANIFEST_FIELDS.contains(&k.as_str()) {
            warnings.push(Warning {
                line,
                message: format!(
                    "unknown manifest field '{}' ignored (known: {})",
                    crate::safe::sanitize_line(k),
                    MANIFEST_FIELDS.join(", ")
                ),
            });
        }
    }
    if let Some(f) = obj.get("format") {
        match f.as_str() {
            Some(BATCH_FORMAT) => {}
            Some(other) if other.starts_with("verdict-batch/") => {
                return Err(err(
                    "manifest.format",
                    format!(
                        "'{other}' is a newer batch format than this verdict reads ({BATCH_FORMAT}); upgrade verdict"
                    ),
                ));
            }
            _ => {
                return Err(err(
                    "manifest.format",
                    format!("must be \"{BATCH_FORMAT}\""),
                ));
            }
        }
    }
    let batch_id = match obj.get("batch_id") {
        Some(Value::String(s)) if valid_batch_id(s) => s.clone(),
        Some(Value::String(_)) => {
            return Err(err(
                "manifest.batch_id",
                "a batch id is 1-128 characters of letters, digits, '.', '_' and '-', starting with a letter or digit".into(),
            ));
        }
        Some(_) => return Err(err("manifest.batch_id", "must be a string".into())),
        None => {
            return Err(err(
                "manifest.batch_id",
                "missing: the manifest must name its batch".into(),
            ));
        }
    };
    let origin = format!("{}:{line}: manifest.schema", path.display());
    let schema = match obj.get("schema") {
        None => Schema::builtin(DEFAULT_SCHEMA),
        Some(Value::String(id)) => Schema::builtin(id),
        Some(v @ Value::Object(_)) => Schema::from_json(v.clone(), &origin),
        Some(_) => {
            return Err(err(
                "manifest.schema",
                "must be a shipped schema id or an inline schema object".into(),
            ));
        }
    }
    .map_err(|e| err("manifest.schema", e.to_string()))?;
    let mut guideline_text = None;
    let guidelines = match obj.get("guidelines") {
        None => guidelines::default_for(&schema.id),
        // The document itself, carried by the batch: its hash is computed here (a given
        // one must match), and it stands whatever verdict ships.
        Some(Value::Object(g)) if g.contains_key("text") => {
            let Some(Value::String(text)) = g.get("text") else {
                return Err(err(
                    "manifest.guidelines.text",
                    "must be a string: the document's Markdown".into(),
                ));
            };
            let field = |k: &str| match g.get(k) {
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
                _ => Err(err(
                    &format!("manifest.guidelines.{k}"),
                    "missing: a document carried with the batch needs an id and a version".into(),
                )),
            };
            let (id, version) = (field("id")?, field("version")?);
            if text.len() > 1 << 20 {
                return Err(err(
                    "manifest.guidelines.text",
                    "is larger than 1 MiB".into(),
                ));
            }
            if text.contains('\0') {
                return Err(err(
                    "manifest.guidelines.text",
                    "holds a NUL character".into(),
                ));
            }
            let sha = crate::model::sha256_hex(text.as_bytes());
            if let Some(given) = g.get("sha256").and_then(Value::as_str)
                && given != sha
            {
                return Err(err(
                    "manifest.guidelines.sha256",
                    format!("does not match the text carried with it (its sha256 is {sha})"),
                ));
            }
            guideline_text = Some(text.clone());
            GuidelineRef {
                id,
                version,
                sha256: Some(sha),
            }
        }
        Some(v) => {
            let given: GuidelineRef = serde_json::from_value(v.clone()).map_err(|e| {
                err(
                    "manifest.guidelines",
                    format!("expected {{\"id\", \"version\"}}: {e}"),
                )
            })?;
            match guidelines::find(&given.id, &given.version) {
                Some(doc) => {
                    let shipped = doc.reference();
                    if given.sha256.is_some() && given.sha256 != shipped.sha256 {
                        return Err(err(
                            "manifest.guidelines.sha256",
                            format!(
                                "does not match the shipped document {} {}; the batch was written against a different text",
                                given.id, given.version
                            ),
                        ));
                    }
                    shipped
                }
                None => given,
            }
        }
    };
    Ok(Header {
        batch_id,
        schema,
        guidelines,
        guideline_text,
        manifest: m,
        derived: false,
    })
}

/// A batch id: 1-128 characters of ASCII letters, digits, '.', '_' and '-', starting
/// with a letter or digit (so never `.` or `..`: ids name files of the cache's folders).
pub fn valid_batch_id(s: &str) -> bool {
    s.len() <= 128
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Names of fields for a message: at most ten, each cut to 40 characters, sanitised,
/// with the count of the rest (a line with 100,000 unknown fields gives one short line).
fn field_list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&String> = names.collect();
    let mut shown: Vec<String> = names
        .iter()
        .take(10)
        .map(|n| {
            let mut t: String = n.chars().take(40).collect();
            if n.chars().count() > 40 {
                t.push('…');
            }
            format!("'{}'", crate::safe::sanitize_line(&t))
        })
        .collect();
    if names.len() > 10 {
        shown.push(format!("and {} more", names.len() - 10));
    }
    shown.join(", ")
}

/// Reads every item line after the manifest.
pub(super) fn read_items<E>(
    ctx: &ItemContext<'_>,
    warnings: &mut Vec<Warning>,
    emit: &mut impl FnMut(u64, u64, Item) -> Result<(), super::ItemsError<E>>,
) -> Result<(), super::ItemsError<E>> {
    let mut first = true;
    for entry in lines(ctx.path)? {
        let (line, bytes, offset) = entry?;
        if is_blank(&bytes) {
            continue;
        }
        let obj = parse_line(ctx.path, line, &bytes)?;
        if first {
            first = false;
            if obj.contains_key("manifest") {
                continue;
            }
        } else if obj.contains_key("manifest") {
            return Err(BatchError::at(
                ctx.path,
                Some(line),
                Some("manifest"),
                "a manifest may only be the first line",
            )
            .into());
        }
        let item = item(ctx, line, obj, warnings)?;
        emit(line, offset, item)?;
    }
    Ok(())
}

fn string(ctx: &ItemContext<'_>, line: u64, field: &str, v: &Value) -> Result<String, BatchError> {
    match v {
        Value::String(s) => {
            ctx.text(line, field, s)?;
            Ok(s.clone())
        }
        _ => Err(BatchError::at(
            ctx.path,
            Some(line),
            Some(field),
            "must be a string",
        )),
    }
}

/// The images an item has read so far, each once, and what was noticed on the way.
#[derive(Default)]
struct Blobs {
    images: Vec<ImageBlob>,
    notes: Vec<String>,
}

/// One image part (`{"type": "image", "path"|"url": ...}`, `{"type": "image_url",
/// "image_url": {"url": ...}}`, or in a response's `images`, just `{"path"|"url": ...}`).
fn image_part(
    ctx: &ItemContext<'_>,
    line: u64,
    at: &str,
    obj: &Map<String, Value>,
    blobs: &mut Blobs,
) -> Result<ImageRef, BatchError> {
    let err = |f: &str, m: &str| BatchError::at(ctx.path, Some(line), Some(f), m);
    let s = |k: &str| -> Result<Option<&str>, BatchError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(v)) => Ok(Some(v.as_str())),
            Some(_) => Err(err(&format!("{at}.{k}"), "must be a string")),
        }
    };
    let (path, url) = match obj.get("image_url") {
        Some(Value::String(u)) => (None, Some(u.as_str())),
        Some(Value::Object(o)) => match o.get("url") {
            Some(Value::String(u)) => (None, Some(u.as_str())),
            _ => {
                return Err(err(
                    &format!("{at}.image_url.url"),
                    "missing: the image's data: URL",
                ));
            }
        },
        Some(_) => {
            return Err(err(
                &format!("{at}.image_url"),
                "must be {\"url\": \"data:...\"}",
            ));
        }
        None => (s("path")?, s("url")?),
    };
    let blob = ctx.image(line, at, path, url)?;
    let r = blob.image.clone();
    for k in obj.keys() {
        if !["type", "path", "url", "image_url"].contains(&k.as_str()) {
            blobs.notes.push(format!(
                "field '{}' ignored: an image part has only type and path, url or image_url",
                crate::safe::sanitize_line(&format!("{at}.{k}"))
            ));
        }
    }
    if !blobs.images.iter().any(|b| b.image == r) {
        blobs.images.push(blob);
    }
    Ok(r)
}

/// A field that is a string, or an array of parts (strings, `{"type": "text", "text"}`,
/// image parts): its text (the text parts joined by a blank line) and its images.
fn parts(
    ctx: &ItemContext<'_>,
    line: u64,
    field: &str,
    v: &Value,
    blobs: &mut Blobs,
) -> Result<(String, Vec<ImageRef>), BatchError> {
    let err = |f: &str, m: &str| BatchError::at(ctx.path, Some(line), Some(f), m);
    let ps = match v {
        Value::String(_) => return Ok((string(ctx, line, field, v)?, Vec::new())),
        Value::Array(ps) => ps,
        _ => {
            return Err(err(
                field,
                "must be a string, or an array of parts ({\"type\": \"text\", \"text\": ...}, {\"type\": \"image\", \"path\": ...})",
            ));
        }
    };
    let mut texts: Vec<&str> = Vec::new();
    let mut images = Vec::new();
    for (j, p) in ps.iter().enumerate() {
        let at = format!("{field}[{j}]");
        match p {
            Value::String(t) => texts.push(t),
            Value::Object(o) => match o.get("type").and_then(Value::as_str) {
                Some("text") => match o.get("text") {
                    Some(Value::String(t)) => texts.push(t),
                    _ => {
                        return Err(err(
                            &format!("{at}.text"),
                            "a text part needs 'text', a string",
                        ));
                    }
                },
                Some("image" | "image_url") => {
                    images.push(image_part(ctx, line, &at, o, blobs)?);
                }
                _ => {
                    return Err(err(
                        &format!("{at}.type"),
                        "a part's type must be 'text' or 'image' (or 'image_url')",
                    ));
                }
            },
            _ => {
                return Err(err(
                    &at,
                    "a part must be a string or an object with a 'type'",
                ));
            }
        }
    }
    let text = texts.join("\n\n");
    ctx.text(line, field, &text)?;
    Ok((text, images))
}

/// Checks the `review` of an item sent to a reviewer: the shape, each rater's answers
/// against the schema, and its text as any other field's.
fn review(ctx: &ItemContext<'_>, line: u64, v: Value) -> Result<crate::model::Review, BatchError> {
    let err = |field: &str, msg: &str| BatchError::at(ctx.path, Some(line), Some(field), msg);
    let r: crate::model::Review = serde_json::from_value(v).map_err(|e| {
        err(
            "review",
            &format!("expected {{\"reasons\": [...], \"raters\": [{{\"rater\", \"status\", \"answers\", \"justification\"}}]}}: {e}"),
        )
    })?;
    for (n, reason) in r.reasons.iter().enumerate() {
        ctx.text(line, &format!("review.reasons[{n}]"), reason)?;
    }
    let mut raters = Vec::with_capacity(r.raters.len());
    for (n, mut x) in r.raters.into_iter().enumerate() {
        let at = |f: &str| format!("review.raters[{n}].{f}");
        ctx.text(line, &at("rater"), &x.rater)?;
        ctx.text(line, &at("justification"), &x.justification)?;
        let mut answers = std::collections::BTreeMap::new();
        for (q, a) in x.answers {
            let a = ctx
                .schema
                .check_answer(&q, &a)
                .map_err(|e| err(&at(&format!("answers.{q}")), &e.to_string()))?;
            answers.insert(q, a);
        }
        x.answers = answers;
        raters.push(x);
    }
    Ok(crate::model::Review { raters, ..r })
}

/// Checks one item object and builds the item.
pub(crate) fn item(
    ctx: &ItemContext<'_>,
    line: u64,
    mut obj: Map<String, Value>,
    warnings: &mut Vec<Warning>,
) -> Result<Item, BatchError> {
    let err = |field: &str, msg: &str| BatchError::at(ctx.path, Some(line), Some(field), msg);
    // An Argilla / Hugging Face record: its fields and suggestions, as an item of ours.
    if obj.contains_key("fields") && !obj.contains_key("prompt") && !obj.contains_key("messages") {
        let mut notes = Vec::new();
        obj = super::foreign::argilla_record(ctx.foreign, obj, &mut |m| notes.push(m))
            .map_err(|(field, msg)| err(&field, &msg))?;
        warnings.extend(notes.into_iter().map(|message| Warning { line, message }));
    }
    let id = match obj.remove("id") {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
        Some(Value::Number(n)) => {
            return Err(err(
                "id",
                &format!(
                    "the id is a number written with a fraction or an exponent, or too large for 64 bits (it reads as {n}), so its digits cannot be kept as written; write the id as a string, in quotes"
                ),
            ));
        }
        Some(_) => return Err(err("id", "must be a string or a number")),
        None => {
            return Err(err(
                "id",
                "missing: every item needs an id unique in its batch",
            ));
        }
    };
    ctx.id(line, &id)?;
    let mut blobs = Blobs::default();
    let conversation = match (obj.remove("prompt"), obj.remove("messages")) {
        (Some(_), Some(_)) => {
            return Err(err(
                "prompt",
                "give either 'prompt' or 'messages', not both",
            ));
        }
        (None, None) => {
            return Err(err(
                "prompt",
                "missing: give 'prompt' (a string) or 'messages' ([{role, content}])",
            ));
        }
        (Some(p), None) => {
            let (content, images) = parts(ctx, line, "prompt", &p, &mut blobs)?;
            vec![Message {
                content,
                images,
                role: Role::User,
            }]
        }
        (None, Some(Value::Array(ms))) => {
            if ms.is_empty() {
                return Err(err("messages", "must hold at least one message"));
            }
            let mut out = Vec::with_capacity(ms.len());
            for (i, m) in ms.into_iter().enumerate() {
                let at = |f: &str| format!("messages[{i}]{f}");
                let Value::Object(mut m) = m else {
                    return Err(err(&at(""), "must be an object {role, content}"));
                };
                let role = match m.remove("role") {
                    Some(Value::String(r)) => Role::parse(&r).ok_or_else(|| {
                        err(&at(".role"), "must be one of system, user, assistant")
                    })?,
                    _ => {
                        return Err(err(
                            &at(".role"),
                            "missing: must be one of system, user, assistant",
                        ));
                    }
                };
                let (content, images) = match m.remove("content") {
                    Some(v) => parts(ctx, line, &at(".content"), &v, &mut blobs)?,
                    None => return Err(err(&at(".content"), "missing")),
                };
                for k in m.keys() {
                    warnings.push(Warning {
                        line,
                        message: format!(
                            "field '{}' ignored: a message has only role and content",
                            crate::safe::sanitize_line(&at(&format!(".{k}")))
                        ),
                    });
                }
                out.push(Message {
                    content,
                    images,
                    role,
                });
            }
            out
        }
        (None, Some(_)) => return Err(err("messages", "must be an array of {role, content}")),
    };
    let responses = match obj.remove("responses") {
        Some(Value::Array(rs)) => {
            if rs.is_empty() || rs.len() > 2 {
                return Err(err(
                    "responses",
                    "must hold one response (to rate) or two (to compare)",
                ));
            }
            let mut out = Vec::with_capacity(2);
            for (i, r) in rs.into_iter().enumerate() {
                let at = |f: &str| format!("responses[{i}]{f}");
                out.push(match r {
                    Value::String(s) => {
                        ctx.text(line, &at(""), &s)?;
                        Response::text(None, s)
                    }
                    Value::Object(mut r) => {
                        let (text, mut images) = match (r.remove("text"), r.remove("content")) {
                            (Some(_), Some(_)) => {
                                return Err(err(
                                    &at(".content"),
                                    "give either 'text' or 'content', not both",
                                ));
                            }
                            (Some(v), None) => parts(ctx, line, &at(".text"), &v, &mut blobs)?,
                            (None, Some(v)) => {
                                parts(ctx, line, &at(".content"), &v, &mut blobs)?
                            }
                            (None, None) if r.contains_key("images") => (String::new(), Vec::new()),
                            (None, None) => {
                                return Err(err(
                                    &at(".text"),
                                    "missing: a response needs 'text' (or 'content' parts, or 'images')",
                                ));
                            }
                        };
                        match r.remove("images") {
                            None | Some(Value::Null) => {}
                            Some(Value::Array(list)) => {
                                for (j, p) in list.iter().enumerate() {
                                    let at = at(&format!(".images[{j}]"));
                                    let Value::Object(o) = p else {
                                        return Err(err(
                                            &at,
                                            "must be {\"path\": ...} or {\"url\": \"data:...\"}",
                                        ));
                                    };
                                    images.push(image_part(ctx, line, &at, o, &mut blobs)?);
                                }
                            }
                            Some(_) => {
                                return Err(err(
                                    &at(".images"),
                                    "must be an array of {\"path\": ...} or {\"url\": \"data:...\"}",
                                ));
                            }
                        }
                        let model = match r.remove("model") {
                            None | Some(Value::Null) => None,
                            Some(v) => Some(string(ctx, line, &at(".model"), &v)?),
                        };
                        for k in r.keys() {
                            warnings.push(Warning {
                                line,
                                message: format!(
                                    "field '{}' ignored: a response has only text (or content), images and model",
                                    crate::safe::sanitize_line(&at(&format!(".{k}")))
                                ),
                            });
                        }
                        Response {
                            images,
                            model,
                            text,
                        }
                    }
                    _ => {
                        return Err(err(
                            &at(""),
                            "must be {\"text\": ..., \"model\": ...} or a string",
                        ));
                    }
                });
            }
            out
        }
        Some(_) => return Err(err("responses", "must be an array")),
        None => {
            return Err(err(
                "responses",
                "missing: an item needs one or two responses",
            ));
        }
    };
    let mut metadata = match obj.remove("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(err("metadata", "must be a JSON object")),
    };
    let suggestions = match obj.remove("suggestions") {
        None | Some(Value::Null) => Default::default(),
        Some(Value::Object(m)) => {
            let mut out = std::collections::BTreeMap::new();
            for (q, v) in m {
                let at = format!("suggestions.{q}");
                let s: Suggestion = serde_json::from_value(v).map_err(|e| {
                    err(
                        &at,
                        &format!("expected {{\"value\", \"score\", \"agent\"}}: {e}"),
                    )
                })?;
                let value = ctx
                    .schema
                    .check_answer(&q, &s.value)
                    .map_err(|e| err(&format!("{at}.value"), &e.to_string()))?;
                if let Some(score) = s.score
                    && !(0.0..=1.0).contains(&score)
                {
                    return Err(err(&format!("{at}.score"), "must be between 0 and 1"));
                }
                out.insert(q, Suggestion { value, ..s });
            }
            out
        }
        Some(_) => {
            return Err(err(
                "suggestions",
                "must be an object: question id -> {value, score, agent}",
            ));
        }
    };
    let content_warning = match obj.remove("content_warning") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        Some(Value::Bool(true)) => Some("Content warning".to_string()),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            return Err(err(
                "content_warning",
                "must be a string (the warning) or true",
            ));
        }
    };
    let review = match obj.remove("review") {
        None | Some(Value::Null) => None,
        Some(v) => Some(review(ctx, line, v)?),
    };
    if !obj.is_empty() {
        warnings.push(Warning {
            line,
            message: format!(
                "unknown field(s) {} kept in metadata.unknown_fields (known: {})",
                field_list(obj.keys()),
                ITEM_FIELDS.join(", ")
            ),
        });
        metadata.insert("unknown_fields".into(), Value::Object(obj));
    }
    warnings.extend(
        std::mem::take(&mut blobs.notes)
            .into_iter()
            .map(|message| Warning { line, message }),
    );
    Ok(Item {
        id,
        content: Content {
            conversation,
            responses,
        },
        extras: Extras {
            metadata,
            suggestions,
            content_warning,
            review,
        },
        images: blobs.images,
    })
}
