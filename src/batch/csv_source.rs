//! CSV batches: a header row, and a mapping from item fields to columns.

use super::{BatchError, ItemContext, ItemsError, Warning};
use crate::model::{Content, Extras, Item, Message, Response, Role};
use serde_json::{Map, Value};
use std::fmt;
use std::path::Path;

/// The item fields a CSV column can be mapped to.
pub const FIELDS: &[&str] = &[
    "id",
    "prompt",
    "system",
    "response",
    "response_b",
    "model",
    "model_b",
    "content_warning",
];

/// `field=column` pairs, from `--map prompt=question,response=completion`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap(Vec<(String, String)>);

impl fmt::Display for ColumnMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        write!(f, "{}", parts.join(","))
    }
}

impl std::str::FromStr for ColumnMap {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = ColumnMap::default();
        // Pieces between commas; a comma inside a foreign value (`harm.Hate, harassment=hte`)
        // is kept: a piece without '=' that starts a value entry (QUESTION.VALUE) belongs
        // to the next piece. Any other piece without '=' is refused.
        let mut parts: Vec<String> = Vec::new();
        let mut pending: Option<String> = None;
        for piece in s.split(',') {
            let piece = match pending.take() {
                Some(p) => format!("{p},{piece}"),
                None => piece.to_string(),
            };
            if piece.contains('=') {
                parts.push(piece);
            } else if piece.contains('.') && !piece.trim().is_empty() {
                pending = Some(piece);
            } else if !piece.trim().is_empty() {
                parts.push(piece);
            }
        }
        parts.extend(pending);
        for part in parts {
            // A value entry splits at its last '=' (an option id has none; a foreign value
            // may), a field entry at its first (a field name has none).
            let value_entry = part.split_once('=').is_some_and(|(k, _)| k.contains('.'));
            let split = if value_entry {
                part.rsplit_once('=')
            } else {
                part.split_once('=')
            };
            let (field, column) = split.ok_or_else(|| {
                format!("'{part}' is not FIELD=COLUMN (example: --map prompt=question,response=completion)")
            })?;
            out.push(field, column)?;
        }
        if out.0.is_empty() {
            return Err("empty mapping; example: --map prompt=question,response=completion".into());
        }
        Ok(out)
    }
}

impl ColumnMap {
    /// Adds `field=column` (or `QUESTION.VALUE=OPTION`), refusing what would be ambiguous.
    fn push(&mut self, field: &str, column: &str) -> Result<(), String> {
        let out = &mut self.0;
        let field = match field.trim() {
            "response_a" => "response",
            "model_a" => "model",
            f => f,
        };
        // `QUESTION.VALUE=OPTION`: a foreign label's value, as an option of ours
        // (Label Studio and Argilla files).
        if let Some((q, v)) = field.split_once('.')
            && !q.is_empty()
            && !v.is_empty()
        {
            if out.iter().any(|(f, _)| f == field) {
                return Err(format!("value '{field}' is mapped twice"));
            }
            out.push((field.to_string(), column.trim().to_string()));
            return Ok(());
        }
        if !FIELDS.contains(&field) {
            return Err(format!(
                "'{field}' is not an item field; map one of: {} (or a value: QUESTION.VALUE=OPTION)",
                FIELDS.join(", ")
            ));
        }
        if out.iter().any(|(f, _)| f == field) {
            return Err(format!("field '{field}' is mapped twice"));
        }
        let column = column.trim();
        if column.is_empty() {
            return Err(format!(
                "--map {field}=: name the column or field after '='"
            ));
        }
        if field != "id" && out.iter().any(|(f, c)| c == column && !f.contains('.')) {
            return Err(format!(
                "'{column}' is mapped to two fields; each item field needs its own"
            ));
        }
        out.push((field.to_string(), column.to_string()));
        Ok(())
    }

    /// Several `--map` arguments as one mapping (None when there are none).
    pub fn merge(maps: &[ColumnMap]) -> Result<Option<ColumnMap>, String> {
        let mut out = ColumnMap::default();
        for m in maps {
            for (f, c) in &m.0 {
                out.push(f, c).map_err(|e| format!("--map: {e}"))?;
            }
        }
        Ok((!out.0.is_empty()).then_some(out))
    }

    /// The `field=name` pairs.
    pub fn fields(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(k, _)| !k.contains('.'))
            .cloned()
            .collect()
    }

    /// The `QUESTION.VALUE=OPTION` pairs.
    pub fn values(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(k, _)| k.contains('.'))
            .cloned()
            .collect()
    }
}

/// Column index of each mapped field.
#[derive(Default)]
struct Columns {
    id: Vec<usize>,
    prompt: Option<usize>,
    system: Option<usize>,
    response: Option<usize>,
    response_b: Option<usize>,
    model: Option<usize>,
    model_b: Option<usize>,
    content_warning: Option<usize>,
}

impl Columns {
    fn set(&mut self, field: &str, idx: usize) {
        let slot = match field {
            "id" => {
                self.id.push(idx);
                return;
            }
            "prompt" => &mut self.prompt,
            "system" => &mut self.system,
            "response" => &mut self.response,
            "response_b" => &mut self.response_b,
            "model" => &mut self.model,
            "model_b" => &mut self.model_b,
            _ => &mut self.content_warning,
        };
        *slot = Some(idx);
    }

    fn mapped(&self) -> Vec<usize> {
        let mut out = self.id.clone();
        out.extend(
            [
                self.prompt,
                self.system,
                self.response,
                self.response_b,
                self.model,
                self.model_b,
                self.content_warning,
            ]
            .into_iter()
            .flatten(),
        );
        out
    }
}

fn resolve(
    path: &Path,
    headers: &[String],
    map: Option<&ColumnMap>,
) -> Result<Columns, BatchError> {
    let mut cols = Columns::default();
    let find = |name: &str| headers.iter().position(|h| h == name);
    if let Some(m) = map
        && let Some((v, _)) = m.values().first()
    {
        return Err(BatchError::at(
            path,
            None,
            None,
            format!(
                "--map {v}=...: a value mapping applies to Label Studio and Argilla files, whose earlier labels become suggestions; a CSV carries none"
            ),
        ));
    }
    match map {
        Some(ColumnMap(pairs)) => {
            for (field, spec) in pairs {
                // An id may join several columns (`id=id+model`) when one is not unique.
                let columns: Vec<&str> = if field == "id" {
                    spec.split('+').collect()
                } else {
                    vec![spec]
                };
                for column in columns {
                    let idx = find(column).ok_or_else(|| {
                        BatchError::at(
                            path,
                            Some(1),
                            None,
                            format!(
                                "--map {field}={spec}: there is no column '{column}'; the columns are: {}",
                                headers.join(", ")
                            ),
                        )
                    })?;
                    cols.set(field, idx);
                }
            }
        }
        None => {
            for field in FIELDS {
                if let Some(idx) = find(field) {
                    cols.set(field, idx);
                }
            }
            if cols.response.is_none()
                && let Some(idx) = find("response_a")
            {
                cols.set("response", idx);
            }
        }
    }
    let missing = |field: &str| {
        BatchError::at(
            path,
            Some(1),
            None,
            format!(
                "no column for '{field}': map one with --map {field}=COLUMN (the columns are: {})",
                headers.join(", ")
            ),
        )
    };
    if cols.prompt.is_none() {
        return Err(missing("prompt"));
    }
    if cols.response.is_none() {
        return Err(missing("response"));
    }
    Ok(cols)
}

/// Where rows start: (byte offset after the BOM, 1-based line) of every line that starts
/// outside a quoted field, in file order. The csv reader's own line numbers are off by
/// one with CRLF line ends; errors name lines from this table instead.
struct Lines(Vec<(u64, u64)>);

impl Lines {
    /// The line of the row the csv reader says starts at byte `offset`. With CRLF line
    /// ends the reader ends a row at the CR and reports the next one as starting at the
    /// LF, one byte before its line: the lookup is for the last line starting at or
    /// before `offset + 1`, which is right for both line ends.
    fn of(&self, offset: u64) -> u64 {
        let offset = offset + 1;
        match self.0.binary_search_by_key(&offset, |&(o, _)| o) {
            Ok(i) => self.0[i].1,
            Err(0) => 1,
            Err(i) => self.0[i - 1].1,
        }
    }
}

/// Reads the file once to check its quoting the way RFC 4180 has it, and to number its
/// lines. The csv reader is lenient where a batch must not be: a quoted field that is
/// never closed swallows every row after it, and a quote closed early by the next row's
/// quote merges rows; both would be imported silently. Both are refused here, naming the
/// line where the quote opened.
fn scan(path: &Path, skip: u64) -> Result<Lines, BatchError> {
    use std::io::{Read, Seek, SeekFrom};
    #[derive(Clone, Copy, PartialEq)]
    enum At {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let err = |line: u64, msg: String| BatchError::at(path, Some(line), None, msg);
    let mut f = std::fs::File::open(path)
        .map_err(|e| BatchError::at(path, None, None, format!("cannot open: {e}")))?;
    f.seek(SeekFrom::Start(skip))
        .map_err(|e| BatchError::at(path, None, None, format!("cannot read: {e}")))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, f);
    let mut buf = vec![0u8; 1 << 20];
    let mut at = At::FieldStart;
    let mut line = 1u64;
    let mut opened = 0u64;
    let mut offset = 0u64;
    let mut lines = vec![(0u64, 1u64)];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| BatchError::at(path, None, None, format!("cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        let mut i = 0;
        while i < chunk.len() {
            // Fast paths: inside a field, jump to the next byte that can end it (most of
            // a batch is long quoted text).
            let ahead = match at {
                At::Quoted => chunk[i..].iter().position(|&b| b == b'"' || b == b'\n'),
                At::Unquoted => chunk[i..]
                    .iter()
                    .position(|&b| b == b',' || b == b'\n' || b == b'\r'),
                _ => Some(0),
            };
            match ahead {
                Some(k) => {
                    i += k;
                    offset += k as u64;
                }
                None => {
                    offset += (chunk.len() - i) as u64;
                    break;
                }
            }
            let b = chunk[i];
            i += 1;
            offset += 1;
            at = match (at, b) {
                (At::FieldStart, b'"') => {
                    opened = line;
                    At::Quoted
                }
                (At::Quoted, b'"') => At::QuoteInQuoted,
                (At::Quoted, _) => At::Quoted,
                (At::QuoteInQuoted, b'"') => At::Quoted,
                (At::QuoteInQuoted, b',' | b'\r' | b'\n') | (_, b',' | b'\r' | b'\n') => {
                    At::FieldStart
                }
                (At::QuoteInQuoted, other) => {
                    let shown = crate::safe::sanitize_line(&String::from_utf8_lossy(&[other]));
                    return Err(err(
                        opened,
                        format!(
                            "the quoted field that opens on this line is closed{} by a quote followed by '{shown}': inside a quoted field a quote must be written twice (\"\"), else the rows in between are merged into one. Fix the quoting; nothing was imported",
                            if line == opened {
                                String::new()
                            } else {
                                format!(" on line {line}")
                            }
                        ),
                    ));
                }
                (At::FieldStart | At::Unquoted, _) => At::Unquoted,
            };
            if b == b'\n' {
                line += 1;
                if at == At::FieldStart {
                    lines.push((offset, line));
                }
            }
        }
    }
    if at == At::Quoted {
        return Err(err(
            opened,
            "the quoted field that opens on this line is never closed: the quote runs to the end of the file and would swallow every row after it. Close the quote (a quote inside a quoted field is written twice: \"\"); nothing was imported".into(),
        ));
    }
    Ok(Lines(lines))
}

/// Reads every row as an item.
pub(super) fn read_items<E>(
    ctx: &ItemContext<'_>,
    map: Option<&ColumnMap>,
    _warnings: &mut [Warning],
    emit: &mut impl FnMut(u64, u64, Item) -> Result<(), ItemsError<E>>,
) -> Result<(), ItemsError<E>> {
    let path = ctx.path;
    let mut file = std::fs::File::open(path)
        .map_err(|e| BatchError::at(path, None, None, format!("cannot open: {e}")))?;
    // Skip a byte-order mark, which spreadsheet programs write and csv would keep in the
    // first column's name.
    let mut bom = [0u8; 3];
    let skip = {
        use std::io::{Read, Seek, SeekFrom};
        let n = file.read(&mut bom).unwrap_or(0);
        let skip = if n == 3 && bom == *b"\xEF\xBB\xBF" {
            3
        } else {
            0
        };
        file.seek(SeekFrom::Start(skip))
            .map_err(|e| BatchError::at(path, None, None, format!("cannot read: {e}")))?;
        skip
    };
    let lines = scan(path, skip)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .buffer_capacity(1 << 20)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let csv_err = |e: csv::Error| {
        let line = e.position().map(|p| lines.of(p.byte()));
        let msg = match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!(
                "this row has {len} fields but the header has {expected_len}; check quoting of fields that contain commas or newlines"
            ),
            _ => format!("not valid CSV: {e}"),
        };
        BatchError::at(path, line, None, msg)
    };
    let header_bytes = reader.byte_headers().map_err(csv_err)?.clone();
    let mut headers = Vec::with_capacity(header_bytes.len());
    for (i, h) in header_bytes.iter().enumerate() {
        let h = std::str::from_utf8(h).map_err(|_| {
            BatchError::at(
                path,
                Some(1),
                None,
                format!(
                    "column {} of the header is not valid UTF-8; save the file as UTF-8",
                    i + 1
                ),
            )
        })?;
        headers.push(h.trim().to_string());
    }
    if headers.iter().all(String::is_empty) {
        return Err(BatchError::at(path, Some(1), None, "the header row is empty").into());
    }
    let cols = resolve(path, &headers, map)?;
    let mapped = cols.mapped();
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_err(e).into()),
        }
        let pos = record
            .position()
            .map(|p| (lines.of(p.byte()), p.byte()))
            .unwrap_or((0, 0));
        let line = pos.0;
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        let cell = |idx: usize| -> Result<&str, BatchError> {
            std::str::from_utf8(record.get(idx).unwrap_or_default()).map_err(|e| {
                BatchError::at(
                    path,
                    Some(line),
                    Some(&headers[idx]),
                    format!(
                        "invalid UTF-8 at byte {} of this field; save the file as UTF-8",
                        e.valid_up_to() + 1
                    ),
                )
            })
        };
        let text = |idx: usize, field: &str| -> Result<String, BatchError> {
            let s = cell(idx)?;
            ctx.text(line, &format!("{field} (column '{}')", headers[idx]), s)?;
            Ok(s.to_string())
        };
        let opt = |idx: Option<usize>| -> Result<Option<String>, BatchError> {
            match idx {
                Some(i) => {
                    let s = cell(i)?.trim();
                    Ok((!s.is_empty()).then(|| s.to_string()))
                }
                None => Ok(None),
            }
        };
        let mut conversation = Vec::with_capacity(2);
        if let Some(sys) = cols.system {
            let s = text(sys, "system")?;
            if !s.is_empty() {
                conversation.push(Message::text(Role::System, s));
            }
        }
        let prompt_idx = cols.prompt.unwrap_or_default();
        let prompt = text(prompt_idx, "prompt")?;
        if prompt.trim().is_empty() {
            return Err(BatchError::at(
                path,
                Some(line),
                Some(&headers[prompt_idx]),
                "the prompt is empty",
            )
            .into());
        }
        conversation.push(Message::text(Role::User, prompt));
        let mut responses = vec![Response::text(
            opt(cols.model)?,
            text(cols.response.unwrap_or_default(), "response")?,
        )];
        if let Some(b) = cols.response_b {
            let tb = text(b, "response_b")?;
            if !tb.is_empty() {
                responses.push(Response::text(opt(cols.model_b)?, tb));
            }
        }
        let content = Content {
            conversation,
            responses,
        };
        let id = if cols.id.is_empty() {
            ItemContext::derived_id(&content)
        } else {
            let mut parts = Vec::with_capacity(cols.id.len());
            for &i in &cols.id {
                parts.push(cell(i)?.trim());
            }
            let id = parts.join(":");
            ctx.id(line, &id)?;
            id
        };
        let content_warning = match opt(cols.content_warning)? {
            None => None,
            Some(s) => match s.to_ascii_lowercase().as_str() {
                "0" | "false" | "no" => None,
                "1" | "true" | "yes" => Some("Content warning".to_string()),
                _ => Some(s),
            },
        };
        let mut metadata = Map::new();
        for (i, h) in headers.iter().enumerate() {
            if !mapped.contains(&i) && !h.is_empty() {
                metadata.insert(h.clone(), Value::String(cell(i)?.to_string()));
            }
        }
        let item = Item {
            id,
            content,
            extras: Extras {
                metadata,
                suggestions: Default::default(),
                content_warning,
                review: None,
            },
            images: Vec::new(),
        };
        emit(line, pos.1 + skip, item)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ColumnMap;

    fn pairs(s: &str) -> Vec<(String, String)> {
        let m: ColumnMap = s.parse().unwrap();
        m.0
    }

    #[test]
    fn commas_inside_a_value_or_a_column_stay_with_it() {
        let p = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            pairs("prompt=question,response=completion"),
            [p("prompt", "question"), p("response", "completion")]
        );
        assert_eq!(
            pairs("harm.Hate, harassment=hte,prompt=q"),
            [p("harm.Hate, harassment", "hte"), p("prompt", "q")]
        );
        assert_eq!(pairs("harm.a=b=none"), [p("harm.a=b", "none")]);
        assert!("prompt=q, response".parse::<ColumnMap>().is_err());
        assert!("harm.Hate".parse::<ColumnMap>().is_err());
        assert!(",,".parse::<ColumnMap>().is_err());
    }

    #[test]
    fn several_maps_merge_and_a_field_twice_is_refused() {
        let a: ColumnMap = "prompt=q".parse().unwrap();
        let b: ColumnMap = "harm.x=none".parse().unwrap();
        let m = ColumnMap::merge(&[a.clone(), b]).unwrap().unwrap();
        assert_eq!(m.fields().len(), 1);
        assert_eq!(m.values().len(), 1);
        let again: ColumnMap = "prompt=r".parse().unwrap();
        assert!(ColumnMap::merge(&[a, again]).is_err());
        assert_eq!(ColumnMap::merge(&[]).unwrap(), None);
    }
}
