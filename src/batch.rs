//! Reading batches: JSONL with an optional manifest line, or CSV with a column mapping.
//! Format: docs/batch-format.md. Reading is streaming: [`open`] reads the manifest (or
//! derives the batch id of a bare file), then [`OpenBatch::for_each_item`] hands over one
//! checked item at a time, so the caller can insert it inside its transaction.

mod csv_source;
mod foreign;
mod jsonl;

pub use csv_source::ColumnMap;
pub use foreign::option_for;
pub use jsonl::valid_batch_id;

use crate::guidelines;
use crate::model::{DEFAULT_SCHEMA, GuidelineRef, Item, Schema, content_hash, sha256_hex};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The manifest format this version reads.
pub const BATCH_FORMAT: &str = "verdict-batch/1";

/// Default limit on one text field (a prompt, message or response), in bytes.
pub const DEFAULT_MAX_FIELD_BYTES: usize = 4 * 1024 * 1024;

/// A batch that cannot be read, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when the problem is on one.
    pub line: Option<u64>,
    /// The field at fault (`responses[1].text`), when one is.
    pub field: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            // Field names come from the file (JSON keys, CSV headers): one line, always.
            write!(f, ": field '{}'", crate::safe::sanitize_line(field))?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for BatchError {}

/// Something accepted but worth telling the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// 1-based line.
    pub line: u64,
    /// What was noticed.
    pub message: String,
}

/// How to read a batch file.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// CSV column mapping (`prompt=question,response=completion`); CSV files only.
    pub map: Option<ColumnMap>,
    /// Schema for a batch without a manifest (default: the shipped default schema).
    pub schema: Option<Schema>,
    /// Limit on one text field, in bytes (default [`DEFAULT_MAX_FIELD_BYTES`]).
    pub max_field_bytes: Option<usize>,
    /// Limit on one image file, in bytes (default [`crate::images::DEFAULT_MAX_IMAGE_BYTES`]).
    pub max_image_bytes: Option<u64>,
    /// Limit on the batch's images together, each distinct image once (default
    /// [`crate::images::DEFAULT_MAX_BATCH_IMAGE_BYTES`]).
    pub max_batch_image_bytes: Option<u64>,
    /// Refuse images given by path (what a hub sends must carry its images as `data:`
    /// URLs: a path would name a file on the rater's machine).
    pub no_image_paths: bool,
}

/// What the batch is, before its items.
#[derive(Debug, Clone)]
pub struct Header {
    /// Batch id.
    pub batch_id: String,
    /// The labeling schema.
    pub schema: Schema,
    /// The guideline document and version.
    pub guidelines: GuidelineRef,
    /// The document's Markdown, when the manifest carries it (`guidelines.text`: a
    /// document that is not shipped with verdict, or a newer version of one).
    pub guideline_text: Option<String>,
    /// The manifest as given (or as derived for a bare file), stored with the batch.
    pub manifest: serde_json::Value,
    /// True when the file had no manifest and the id was derived from its content.
    pub derived: bool,
}

/// One checked item, ready to store.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// 1-based line where the item starts.
    pub line: u64,
    /// The item.
    pub item: Item,
    /// Its canonical content (what is hashed and stored).
    pub canonical: String,
    /// The extras as JSON (what is stored beside it).
    pub extras: String,
    /// Hex sha256 of `canonical`.
    pub hash: String,
    /// Bytes of the file read so far (for progress).
    pub offset: u64,
}

/// The format of a batch file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object a line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
    /// A Label Studio JSON export or import file: a list of tasks.
    LabelStudio,
}

/// A batch file whose header has been read.
#[derive(Debug)]
pub struct OpenBatch {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// The header.
    pub header: Header,
    /// File size in bytes.
    pub size: u64,
    /// Warnings so far (manifest); items add theirs during `for_each_item`.
    pub warnings: Vec<Warning>,
    options: Options,
}

impl Format {
    /// The format a path's extension names, if any.
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::LabelStudio),
            _ => None,
        }
    }
}

impl BatchError {
    pub(crate) fn at(
        file: &Path,
        line: Option<u64>,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        BatchError {
            file: file.to_path_buf(),
            line,
            field: field.map(str::to_string),
            message: message.into(),
        }
    }
}

/// The batch files a path names: the file itself, or the `.jsonl`/`.ndjson`/`.csv` files
/// of a folder in name order.
pub fn files(path: &Path) -> Result<Vec<PathBuf>, BatchError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| BatchError::at(path, None, None, format!("cannot read: {e}")))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let entries = std::fs::read_dir(path)
        .map_err(|e| BatchError::at(path, None, None, format!("cannot list folder: {e}")))?;
    for entry in entries {
        let p = entry
            .map_err(|e| BatchError::at(path, None, None, format!("cannot list folder: {e}")))?
            .path();
        if p.is_file() && Format::of(&p).is_some() {
            out.push(p);
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(BatchError::at(
            path,
            None,
            None,
            "no batch files here: a batch file ends in .jsonl, .ndjson, .csv or .json (Label Studio)",
        ));
    }
    Ok(out)
}

/// Opens a batch file and reads its header.
pub fn open(path: &Path, options: Options) -> Result<OpenBatch, BatchError> {
    let format = Format::of(path).ok_or_else(|| {
        BatchError::at(
            path,
            None,
            None,
            "unknown batch format: name the file .jsonl (or .ndjson), .csv, or .json (a Label Studio export)",
        )
    })?;
    let size = std::fs::metadata(path)
        .map_err(|e| BatchError::at(path, None, None, format!("cannot read: {e}")))?
        .len();
    if size == 0 {
        return Err(BatchError::at(
            path,
            None,
            None,
            "the file is empty: a batch needs at least one item",
        ));
    }
    let mut warnings = Vec::new();
    let manifest = match format {
        Format::Jsonl => jsonl::read_manifest(path, &mut warnings)?,
        Format::Csv | Format::LabelStudio => None,
    };
    let header = match manifest {
        Some(h) => h,
        None => derived_header(path, format, &options)?,
    };
    if let Some(m) = &options.map {
        foreign::check_value_map(&header.schema, &m.values())
            .map_err(|e| BatchError::at(path, None, None, e))?;
    }
    Ok(OpenBatch {
        path: path.to_path_buf(),
        format,
        header,
        size,
        warnings,
        options,
    })
}

/// A bare file's header: the given or default schema, and an id derived from the bytes
/// of the file (and the column mapping), so that pulling it twice is a no-op.
fn derived_header(path: &Path, format: Format, options: &Options) -> Result<Header, BatchError> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut f = std::fs::File::open(path)
        .map_err(|e| BatchError::at(path, None, None, format!("cannot open: {e}")))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| BatchError::at(path, None, None, format!("cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    if let Some(map) = &options.map {
        hasher.update(b"\0map:");
        hasher.update(map.to_string().as_bytes());
    }
    let digest = hex::encode(hasher.finalize());
    // The file's name, made a valid batch id (ASCII letters, digits, '-', '_'; starting
    // with a letter or digit; short): a hub hands it to clients, which check it.
    let stem: String = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .take(100)
        .collect();
    let stem = if stem.is_empty() {
        "batch".into()
    } else {
        stem
    };
    let batch_id = format!("{stem}-{}", &digest[..12]);
    let schema = match &options.schema {
        Some(s) => s.clone(),
        None => Schema::builtin(DEFAULT_SCHEMA)
            .map_err(|e| BatchError::at(path, None, None, e.to_string()))?,
    };
    let guidelines = guidelines::default_for(&schema.id);
    let manifest = serde_json::json!({
        "format": BATCH_FORMAT,
        "batch_id": batch_id,
        "schema": schema.id,
        "guidelines": guidelines,
        "derived_from": {
            "file": path.file_name().and_then(|s| s.to_str()).unwrap_or_default(),
            "sha256": digest,
            "format": match format { Format::Jsonl => "jsonl", Format::Csv => "csv", Format::LabelStudio => "label-studio" },
            "map": options.map.as_ref().map(|m| m.to_string()),
        },
    });
    Ok(Header {
        batch_id,
        schema,
        guidelines,
        guideline_text: None,
        manifest,
        derived: true,
    })
}

impl OpenBatch {
    /// Reads every item in order, checks it, and hands it to `f`. The first error (from
    /// the file or from `f`) stops the read and is returned.
    pub fn for_each_item<E>(
        &mut self,
        mut f: impl FnMut(Parsed) -> Result<(), E>,
    ) -> Result<(), ItemsError<E>> {
        let max = self
            .options
            .max_field_bytes
            .unwrap_or(DEFAULT_MAX_FIELD_BYTES);
        let mut ids: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
        let mut count = 0u64;
        let path = self.path.clone();
        let schema = self.header.schema.clone();
        let tasks = self.format == Format::LabelStudio;
        let mut emit = |line: u64, offset: u64, item: Item| -> Result<(), ItemsError<E>> {
            if let Some(first) = ids.insert(item.id.clone(), line) {
                // A Label Studio file's items are tasks of a list, not lines.
                if tasks {
                    return Err(ItemsError::Batch(BatchError::at(
                        &path,
                        None,
                        Some(&format!("tasks[{}].id", line - 1)),
                        format!(
                            "duplicate id '{}': tasks[{}] has it too (a task without an id takes one from its text: two tasks with the same text need ids); ids must be unique in a batch",
                            item.id,
                            first - 1
                        ),
                    )));
                }
                return Err(ItemsError::Batch(BatchError::at(
                    &path,
                    Some(line),
                    Some("id"),
                    format!(
                        "duplicate id '{}': line {first} has it too; ids must be unique in a batch",
                        item.id
                    ),
                )));
            }
            let canonical = item.content.canonical_json();
            debug_assert!(
                item.content
                    .images()
                    .all(|r| item.images.iter().any(|b| &b.image == r))
            );
            let hash = content_hash(canonical.as_bytes());
            let extras = serde_json::to_string(&item.extras).unwrap_or_default();
            count += 1;
            f(Parsed {
                line,
                item,
                canonical,
                extras,
                hash,
                offset,
            })
            .map_err(ItemsError::Sink)
        };
        let foreign = foreign::Foreign {
            fields: self
                .options
                .map
                .as_ref()
                .map(|m| m.fields())
                .unwrap_or_default(),
            values: self
                .options
                .map
                .as_ref()
                .map(|m| m.values())
                .unwrap_or_default(),
            schema: &schema,
            said: Default::default(),
        };
        let ctx = ItemContext {
            path: &self.path,
            schema: &schema,
            foreign: &foreign,
            max_field_bytes: max,
            images: std::cell::RefCell::new(ImageBudget {
                max_image_bytes: self
                    .options
                    .max_image_bytes
                    .unwrap_or(crate::images::DEFAULT_MAX_IMAGE_BYTES),
                max_batch_bytes: self
                    .options
                    .max_batch_image_bytes
                    .unwrap_or(crate::images::DEFAULT_MAX_BATCH_IMAGE_BYTES),
                no_paths: self.options.no_image_paths,
                ..ImageBudget::default()
            }),
        };
        match self.format {
            Format::Jsonl => jsonl::read_items(&ctx, &mut self.warnings, &mut emit)?,
            Format::Csv => csv_source::read_items(
                &ctx,
                self.options.map.as_ref(),
                &mut self.warnings,
                &mut emit,
            )?,
            Format::LabelStudio => {
                let mut sink: Option<ItemsError<E>> = None;
                let read = foreign::read_label_studio(
                    &ctx,
                    &foreign,
                    &mut self.warnings,
                    |n, obj, warnings| {
                        let names = obj
                            .get("metadata")
                            .and_then(|m| m.get("label_studio"))
                            .map(|o| o["fields"].clone())
                            .unwrap_or_default();
                        let item = jsonl::item(&ctx, n, obj, warnings).map_err(|mut e| {
                            // A task is not a line: name it by its place in the list, and
                            // the field by the task's own name for it.
                            e.line = None;
                            let field = e.field.take().unwrap_or_default();
                            e.field = Some(format!(
                                "tasks[{}].{}",
                                n - 1,
                                foreign::task_field(&field, &names)
                            ));
                            e
                        })?;
                        match emit(n, 0, item) {
                            Ok(()) => Ok(()),
                            Err(ItemsError::Batch(b)) => Err(b),
                            Err(other) => {
                                sink = Some(other);
                                Err(BatchError::at(&path, None, None, "stopped"))
                            }
                        }
                    },
                );
                if let Some(e) = sink {
                    return Err(e);
                }
                read?;
            }
        }
        if count == 0 {
            return Err(ItemsError::Batch(BatchError::at(
                &self.path,
                None,
                None,
                match self.format {
                    Format::Jsonl => "no items: a batch needs at least one item after its manifest",
                    Format::Csv => "no items: a CSV batch needs at least one row under its header",
                    Format::LabelStudio => "no items: the list holds no task",
                },
            )));
        }
        Ok(())
    }
}

/// An error while reading items: the batch's own, or the sink's.
#[derive(Debug)]
pub enum ItemsError<E> {
    /// The batch is malformed.
    Batch(BatchError),
    /// The callback failed (a database error, say).
    Sink(E),
}

impl<E> From<BatchError> for ItemsError<E> {
    fn from(e: BatchError) -> Self {
        ItemsError::Batch(e)
    }
}

/// What item parsers need to check an item.
pub(crate) struct ItemContext<'a> {
    pub path: &'a Path,
    pub schema: &'a Schema,
    pub foreign: &'a foreign::Foreign<'a>,
    pub max_field_bytes: usize,
    pub images: std::cell::RefCell<ImageBudget>,
}

/// The images read so far in a batch: each file read and checked once, and the batch's
/// total against its limit.
#[derive(Default)]
pub(crate) struct ImageBudget {
    max_image_bytes: u64,
    max_batch_bytes: u64,
    no_paths: bool,
    /// Checked images by source (a path as written, or a data: URL's hash).
    by_source: std::collections::HashMap<String, crate::model::ImageBlob>,
    /// Distinct images (by sha256) and their bytes together.
    seen: std::collections::HashSet<String>,
    total: u64,
}

impl ItemContext<'_> {
    /// Reads and checks an image given by `path` (relative to the batch file, inside its
    /// folder) or `url` (a `data:` URL), counting it against the batch's limit.
    pub fn image(
        &self,
        line: u64,
        field: &str,
        path: Option<&str>,
        url: Option<&str>,
    ) -> Result<crate::model::ImageBlob, BatchError> {
        let err = |f: &str, m: String| BatchError::at(self.path, Some(line), Some(f), m);
        let mut budget = self.images.borrow_mut();
        let (key, at) = match (path, url) {
            (Some(p), None) => (format!("path:{p}"), format!("{field}.path")),
            (None, Some(u)) => (
                format!("url:{}", sha256_hex(u.as_bytes())),
                format!("{field}.url"),
            ),
            _ => {
                return Err(err(
                    field,
                    "an image needs exactly one of 'path' (a file beside the batch) or 'url' (a data: URL)".into(),
                ));
            }
        };
        let blob = match budget.by_source.get(&key) {
            Some(b) => b.clone(),
            None => {
                let bytes = match (path, url) {
                    (Some(p), _) => {
                        if budget.no_paths {
                            return Err(err(
                                &at,
                                "images from a hub must come as data: URLs; a path would name a file on this machine. Tell the hub's operator".into(),
                            ));
                        }
                        self.image_file(p, budget.max_image_bytes)
                            .map_err(|m| err(&at, m))?
                    }
                    (_, Some(u)) => {
                        if !u.starts_with("data:") {
                            return Err(err(
                                &at,
                                "verdict works offline, so an image is a data: URL or a file beside the batch, never a web address; download it next to the batch and give its path".into(),
                            ));
                        }
                        let (declared, bytes) =
                            crate::images::data_url(u).map_err(|m| err(&at, m))?;
                        if let (Some(d), Some(k)) = (
                            crate::images::Kind::of_media_type(&declared),
                            crate::images::Kind::sniff(&bytes),
                        ) && d != k
                        {
                            return Err(err(
                                &at,
                                format!(
                                    "the data: URL says {} but its bytes are a {} file; fix the media type",
                                    crate::safe::sanitize_line(&declared),
                                    k.name()
                                ),
                            ));
                        }
                        bytes
                    }
                    _ => unreachable!("one of path and url, checked above"),
                };
                let blob =
                    crate::images::check(bytes, budget.max_image_bytes).map_err(|m| err(&at, m))?;
                budget.by_source.insert(key, blob.clone());
                blob
            }
        };
        if budget.seen.insert(blob.image.sha256.clone()) {
            budget.total += blob.bytes.len() as u64;
            if budget.total > budget.max_batch_bytes {
                return Err(err(
                    &at,
                    format!(
                        "the batch's images come to more than {} bytes, the limit for one batch; split the batch, or raise the limit with --max-batch-image-bytes",
                        budget.max_batch_bytes
                    ),
                ));
            }
        }
        Ok(blob)
    }

    /// The bytes of an image file named relative to the batch file; the path may not
    /// leave the batch's folder.
    fn image_file(&self, p: &str, max: u64) -> Result<Vec<u8>, String> {
        let rel = Path::new(p);
        if p.is_empty()
            || rel.is_absolute()
            || rel.components().any(|c| {
                !matches!(
                    c,
                    std::path::Component::Normal(_) | std::path::Component::CurDir
                )
            })
        {
            return Err(format!(
                "'{}' is not a plain path inside the batch's folder: give it relative to the batch file, without '..' and not starting at '/'",
                crate::safe::sanitize_line(p)
            ));
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let full = dir.join(rel);
        let shown = crate::safe::sanitize_line(&full.display().to_string());
        let real = std::fs::canonicalize(&full).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "no image file at {shown}; put it there, or fix the path (it is read relative to the batch file)"
            ),
            _ => format!("cannot read the image {shown}: {e}"),
        })?;
        let inside = std::fs::canonicalize(dir)
            .map(|d| real.starts_with(d))
            .unwrap_or(false);
        if !inside {
            return Err(format!(
                "{shown} leads outside the batch's folder (through a link); copy the image beside the batch"
            ));
        }
        let meta =
            std::fs::metadata(&real).map_err(|e| format!("cannot read the image {shown}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("{shown} is not a file"));
        }
        if meta.len() > max {
            return Err(format!(
                "the image {shown} is {} bytes, over the limit of {max} bytes for one image; make it smaller, or raise the limit with --max-image-bytes",
                meta.len()
            ));
        }
        std::fs::read(&real).map_err(|e| format!("cannot read the image {shown}: {e}"))
    }
    /// Checks a text field: size limit and no NUL (which no renderer or CSV survives).
    pub fn text(&self, line: u64, field: &str, s: &str) -> Result<(), BatchError> {
        if s.len() > self.max_field_bytes {
            return Err(BatchError::at(
                self.path,
                Some(line),
                Some(field),
                format!(
                    "{} bytes is over the limit of {} bytes for one text; shorten it, or raise the limit with --max-field-bytes",
                    s.len(),
                    self.max_field_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Checks an item id.
    pub fn id(&self, line: u64, id: &str) -> Result<(), BatchError> {
        if id.trim().is_empty() {
            return Err(BatchError::at(
                self.path,
                Some(line),
                Some("id"),
                "the id is empty",
            ));
        }
        if id.len() > 256 || id.chars().any(char::is_control) {
            return Err(BatchError::at(
                self.path,
                Some(line),
                Some("id"),
                "an id has at most 256 bytes and no control characters",
            ));
        }
        if let Some((i, c)) = id
            .chars()
            .enumerate()
            .find(|(_, c)| crate::safe::invisible(*c))
        {
            return Err(BatchError::at(
                self.path,
                Some(line),
                Some("id"),
                format!(
                    "the id '{}' holds the invisible character U+{:04X} at character {}: ids that look the same must be the same id, so an id may not hold invisible or direction-changing characters; remove it",
                    crate::safe::sanitize_line(id),
                    c as u32,
                    i + 1
                ),
            ));
        }
        if id
            .chars()
            .next()
            .is_some_and(|c| unicode_width::UnicodeWidthChar::width(c) == Some(0))
        {
            return Err(BatchError::at(
                self.path,
                Some(line),
                Some("id"),
                format!(
                    "the id '{}' starts with a combining mark, which draws nothing by itself; an id must start with a visible character",
                    crate::safe::sanitize_line(id)
                ),
            ));
        }
        if id.trim() != id {
            return Err(BatchError::at(
                self.path,
                Some(line),
                Some("id"),
                format!(
                    "the id '{}' starts or ends with white space, which nobody can see; remove it",
                    crate::safe::sanitize_line(id)
                ),
            ));
        }
        Ok(())
    }

    /// An id for an item whose source has none: derived from its content, so stable.
    pub fn derived_id(content: &crate::model::Content) -> String {
        sha256_hex(content.canonical_json().as_bytes())[..16].to_string()
    }
}

/// Removes a UTF-8 byte-order mark.
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Decodes a line as UTF-8, naming the line and byte column on failure.
pub(crate) fn utf8<'a>(path: &Path, line: u64, bytes: &'a [u8]) -> Result<&'a str, BatchError> {
    std::str::from_utf8(bytes).map_err(|e| {
        BatchError::at(
            path,
            Some(line),
            None,
            format!(
                "invalid UTF-8 at byte {} of the line; save the file as UTF-8",
                e.valid_up_to() + 1
            ),
        )
    })
}
