//! The formats labs already hold, read as batches: Label Studio JSON (a list of tasks with
//! `data`, `annotations` and `predictions`) and Argilla / Hugging Face records (`fields`,
//! `suggestions`, `metadata`, one a line in JSONL). Each task or record becomes an item
//! object of verdict's own format, which then goes through exactly the checks any item
//! does. Earlier labels (annotations, predictions, suggestions) become suggestions; their
//! values are matched to the schema's options (docs/interop.md). Where the item came from
//! is kept in `metadata.label_studio` so that `hub export --format label-studio` can
//! write it back in Label Studio's terms.

use super::{BatchError, ItemContext, Warning};
use crate::model::{Answer, Kind, Question, Schema};
use serde_json::{Map, Value, json};

/// Field names tried, in order, when `--map` names none.
const PROMPT: &[&str] = &[
    "prompt",
    "question",
    "instruction",
    "input",
    "text",
    "query",
];
const RESPONSE: &[&str] = &["response", "answer", "output", "completion", "response_a"];

/// Letters and digits only, lower case, words separated by one space: how an option's
/// value and label are compared with a foreign value (`violent_crimes` = `Violent crimes`).
fn words(s: &str) -> String {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a foreign value was matched to an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    /// A `--map Q.VALUE=OPTION` entry said so.
    Mapped,
    /// The same value.
    Exact,
    /// By the option's name (`violent_crimes`: "Violent crimes"): said once per value.
    ByName,
}

/// An option's label without its explanation in parentheses ("Over-refusal (refused or
/// hedged a safe request)": "Over-refusal").
fn name_of(label: &str) -> &str {
    label.split('(').next().unwrap_or(label)
}

/// The schema's option a foreign value stands for: a `--map Q.VALUE=OPTION` entry first;
/// else the same value; else the option whose name reads the same ignoring case and
/// punctuation (`violent_crimes`: "Violent crimes"); else, for a value of two words or
/// more, the one option whose name holds those words in order (`self_harm`: "Suicide &
/// self-harm"). A single word is never matched inside a name ("content" is not "Sexual
/// content"), nor anything in a label's explanation.
pub fn option_for(
    q: &Question,
    value: &str,
    map: &[(String, String)],
) -> Option<(String, Matched)> {
    let key = format!("{}.{value}", q.id);
    if let Some((_, ours)) = map.iter().find(|(k, _)| *k == key) {
        return q
            .options
            .iter()
            .find(|o| o.value == *ours)
            .map(|o| (o.value.clone(), Matched::Mapped));
    }
    if q.options.iter().any(|o| o.value == value) {
        return Some((value.to_string(), Matched::Exact));
    }
    let w = words(value);
    if w.is_empty() {
        return None;
    }
    if let Some(o) = q
        .options
        .iter()
        .find(|o| words(name_of(&o.label)) == w || words(&o.value) == w)
    {
        return Some((o.value.clone(), Matched::ByName));
    }
    if !w.contains(' ') {
        return None;
    }
    let padded = |s: &str| format!(" {} ", words(name_of(s)));
    let mut containing = q
        .options
        .iter()
        .filter(|o| padded(&o.label).contains(&format!(" {w} ")));
    match (containing.next(), containing.next()) {
        (Some(o), None) => Some((o.value.clone(), Matched::ByName)),
        _ => None,
    }
}

/// Checks `--map QUESTION.VALUE=OPTION` entries against the schema: the question and the
/// option must exist.
pub fn check_value_map(schema: &Schema, map: &[(String, String)]) -> Result<(), String> {
    for (k, ours) in map {
        let (q, v) = k.split_once('.').unwrap_or((k, ""));
        let Some(question) = schema.question(q) else {
            return Err(format!(
                "--map {k}={ours}: '{q}' is no question of schema {} (its questions: {})",
                schema.id,
                schema.question_list()
            ));
        };
        if !question.options.iter().any(|o| o.value == *ours) {
            return Err(format!(
                "--map {q}.{v}={ours}: '{ours}' is no option of '{q}' (its options: {})",
                question.option_list()
            ));
        }
    }
    Ok(())
}

/// The name a task gives a field of ours (`prompt`: `data.question`), for errors.
pub fn task_field(ours: &str, names: &Value) -> String {
    let data = |f: &str| match names[f].as_str() {
        Some(n) => format!("data.{n}"),
        None => ours.to_string(),
    };
    let head = ours.split('.').next().unwrap_or(ours);
    match head {
        "prompt" => data("prompt"),
        "id" => data("id"),
        "content_warning" => data("content_warning"),
        "responses[0]" if ours.ends_with(".model") => data("model"),
        "responses[1]" if ours.ends_with(".model") => data("model_b"),
        "responses[0]" => data("response"),
        "responses[1]" => data("response_b"),
        "messages[0]" if names["system"].is_string() => data("system"),
        "messages[1]" => data("prompt"),
        _ => ours.to_string(),
    }
}

/// What reading foreign items needs besides the item context.
pub struct Foreign<'a> {
    /// `field=name` pairs of `--map` (item fields), and `Q.VALUE=OPTION` value mappings.
    pub fields: Vec<(String, String)>,
    /// The value mappings.
    pub values: Vec<(String, String)>,
    /// The batch's schema.
    pub schema: &'a Schema,
    /// Values already said to be matched by name (each is said once per file).
    pub said: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

/// The `--map QUESTION.VALUE=OPTION` argument for a foreign value, quoted for a POSIX
/// shell when it needs quoting (spaces, commas, quotes), so that it can be pasted.
fn map_hint(question: &str, value: &str) -> String {
    let arg = crate::safe::sanitize_line(&format!("{question}.{value}=OPTION"));
    if arg
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-=+:/@%".contains(c))
    {
        format!("--map {arg}")
    } else {
        format!("--map '{}'", arg.replace('\'', "'\\''"))
    }
}

/// What a JSON value is, for messages.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl Foreign<'_> {
    /// Checks that the fields `--map` names for these item fields are in `obj` (a mapped
    /// field that is absent is a typo, never a reason to fall back).
    fn mapped_present(
        &self,
        obj: &Map<String, Value>,
        what: &str,
        required: &[&str],
    ) -> Result<(), String> {
        for (field, name) in &self.fields {
            if required.contains(&field.as_str()) && !obj.contains_key(name) {
                return Err(format!(
                    "--map {field}={name}: {what} has no field '{name}' (it has: {})",
                    obj.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        Ok(())
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The key of `obj` that holds item field `name`: the mapped one, else the first of
    /// `defaults` present.
    fn key_of<'o>(
        &self,
        obj: &'o Map<String, Value>,
        name: &str,
        defaults: &[&str],
    ) -> Option<&'o String> {
        match self.field(name) {
            Some(k) => obj.keys().find(|x| *x == k),
            None => defaults
                .iter()
                .find_map(|d| obj.keys().find(|x| x.as_str() == *d)),
        }
    }

    /// An answer to `qid` from foreign values, matched to the schema's options; `None`
    /// (with a warning) when the question is unknown or a value matches no option.
    fn answer(&self, qid: &str, values: &[String], warn: &mut dyn FnMut(String)) -> Option<Answer> {
        let Some(q) = self.schema.question(qid) else {
            if self.said.borrow_mut().insert(format!("question:{qid}")) {
                warn(format!(
                    "'{}' is no question of schema {}: its earlier answers are not suggested (said once for the file)",
                    crate::safe::sanitize_line(qid),
                    self.schema.id
                ));
            }
            return None;
        };
        let mut ours = Vec::new();
        for v in values {
            match option_for(q, v, &self.values) {
                Some((o, how)) => {
                    if how == Matched::ByName && self.said.borrow_mut().insert(format!("{qid}.{v}"))
                    {
                        let label = q
                            .options
                            .iter()
                            .find(|x| x.value == o)
                            .map(|x| x.label.as_str())
                            .unwrap_or("");
                        warn(format!(
                            "'{}' of '{qid}' is read as the option '{o}' ({label}) by its name; if that is wrong, map it with {}",
                            crate::safe::sanitize_line(v),
                            map_hint(qid, v)
                        ));
                    }
                    ours.push(o)
                }
                None => {
                    // Said once a file: every task with the value would say it again.
                    if self.said.borrow_mut().insert(format!("none:{qid}.{v}")) {
                        warn(format!(
                            "'{}' matches no option of '{}' ({}): its earlier answers are not suggested; map it with {}",
                            crate::safe::sanitize_line(v),
                            q.id,
                            q.option_list(),
                            map_hint(&q.id, v)
                        ));
                    }
                    return None;
                }
            }
        }
        let a = match (q.kind, ours.len()) {
            (Kind::Multi, _) => Answer::Many(ours),
            (_, 1) => Answer::One(ours.into_iter().next()?),
            (_, n) => {
                warn(format!(
                    "'{qid}' takes one answer, and the earlier label gives {n}: it is not suggested"
                ));
                return None;
            }
        };
        match self.schema.check_answer(qid, &a) {
            Ok(a) => Some(a),
            Err(e) => {
                warn(format!(
                    "the earlier answer to '{qid}' is not suggested: {e}"
                ));
                None
            }
        }
    }
}

/// A Label Studio result's values as strings (choices, a rating, a number, labels).
fn result_values(r: &Value) -> Option<(String, Vec<String>)> {
    let t = r["type"].as_str()?.to_string();
    let v = &r["value"];
    let list = |k: &str| -> Option<Vec<String>> {
        Some(
            v[k].as_array()?
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
        )
    };
    let values = match t.as_str() {
        "choices" => list("choices")?,
        "taxonomy" => v["taxonomy"]
            .as_array()?
            .iter()
            .filter_map(|path| path.as_array()?.last()?.as_str().map(str::to_string))
            .collect(),
        "rating" => vec![v["rating"].as_i64()?.to_string()],
        "number" => vec![v["number"].as_f64().map(|n| n.to_string())?],
        "textarea" => vec![list("text")?.join("\n")],
        _ => return None,
    };
    Some((t, values))
}

/// What a file's tasks had in common, said once for the file rather than once a task.
#[derive(Debug, Default)]
pub struct TaskTally {
    /// Tasks whose predictions are ids only (nothing to suggest from them).
    pub predictions_by_id: usize,
    /// Tasks with more than one annotation not cancelled.
    pub several: usize,
    /// Of those, tasks with a ground-truth annotation (the one suggested).
    pub truths: usize,
}

/// One Label Studio task as an item object, and what it says about the controls (their
/// type and, per option of ours, the value Label Studio used).
pub fn label_studio_task(
    f: &Foreign<'_>,
    n: usize,
    task: Value,
    tally: &mut TaskTally,
    warn: &mut dyn FnMut(String),
) -> Result<Map<String, Value>, (String, String)> {
    let at = |field: &str| format!("tasks[{n}].{field}");
    let Value::Object(mut task) = task else {
        return Err((
            format!("tasks[{n}]"),
            "a task must be an object with 'data'".into(),
        ));
    };
    let Some(Value::Object(mut data)) = task.remove("data") else {
        return Err((
            at("data"),
            "missing: a Label Studio task holds its fields in 'data'".into(),
        ));
    };
    let keys = || data.keys().cloned().collect::<Vec<_>>().join(", ");
    f.mapped_present(&data, "data", &["id", "prompt", "response"])
        .map_err(|m| (at("data"), m))?;
    if data.contains_key("label_studio") {
        return Err((
            at("data.label_studio"),
            "verdict keeps where a task came from under this name in the item's metadata; rename the field".into(),
        ));
    }
    let Some(prompt_key) = f.key_of(&data, "prompt", PROMPT).cloned() else {
        return Err((
            at("data"),
            format!(
                "no prompt field (data has: {}); name it with --map prompt=FIELD",
                keys()
            ),
        ));
    };
    let Some(response_key) = f.key_of(&data, "response", RESPONSE).cloned() else {
        return Err((
            at("data"),
            format!(
                "no response field (data has: {}); name it with --map response=FIELD",
                keys()
            ),
        ));
    };
    let mut names = Map::new();
    names.insert("prompt".into(), json!(prompt_key));
    names.insert("response".into(), json!(response_key));
    let prompt = data.remove(&prompt_key).unwrap_or_default();
    let response = data.remove(&response_key).unwrap_or_default();
    for (k, v) in [(&prompt_key, &prompt), (&response_key, &response)] {
        if !v.is_string() && !v.is_array() {
            return Err((
                at(&format!("data.{k}")),
                format!("must be text (it is {})", kind_of(v)),
            ));
        }
    }
    let mut take = |field: &str, default: &[&str]| -> Option<Value> {
        let k = f.key_of(&data, field, default)?.clone();
        names.insert(field.into(), json!(k));
        data.remove(&k)
    };
    let id = take("id", &["id"]);
    let model = take("model", &["model"]);
    let response_b = take("response_b", &["response_b"]);
    let model_b = take("model_b", &["model_b"]);
    let system = take("system", &["system"]);
    let warning = take("content_warning", &["content_warning"]);
    let task_id = task.get("id").cloned().unwrap_or(Value::Null);
    let id = match (id, &task_id) {
        (Some(v), _) => v,
        (None, Value::String(s)) => json!(s),
        (None, Value::Number(n)) if n.is_i64() || n.is_u64() => json!(n.to_string()),
        (None, Value::Number(n)) => {
            return Err((
                at("id"),
                format!(
                    "the task id {n} is not a whole number that fits in 64 bits, so its digits cannot be kept; give the tasks ids in data (--map id=FIELD)"
                ),
            ));
        }
        // A task to import may have no id at all: one from its text, so stable.
        (None, _) => {
            json!(crate::model::sha256_hex(json!([prompt, response]).to_string().as_bytes())[..16])
        }
    };
    let response_obj = |text: Value, model: Option<Value>| {
        let mut r = Map::new();
        r.insert("text".into(), text);
        if let Some(m) = model.filter(|m| !m.is_null()) {
            r.insert("model".into(), m);
        }
        Value::Object(r)
    };
    let mut responses = vec![response_obj(response, model)];
    if let Some(b) = response_b.filter(|b| !b.is_null()) {
        responses.push(response_obj(b, model_b));
    }
    let mut item = Map::new();
    item.insert("id".into(), id);
    match system.filter(|s| s.as_str().is_some_and(|s| !s.is_empty())) {
        Some(s) => {
            item.insert(
                "messages".into(),
                json!([{"role": "system", "content": s}, {"role": "user", "content": prompt}]),
            );
        }
        None => {
            item.insert("prompt".into(), prompt);
        }
    }
    item.insert("responses".into(), Value::Array(responses));
    if let Some(w) = warning {
        item.insert("content_warning".into(), w);
    }
    // Earlier labels: one annotation that was not cancelled (the ground truth where the
    // project marked one: the reference answer, as a verdict export writes the final
    // answers; else the first), then predictions that carry results, for the questions
    // the annotation left open.
    let mut suggestions = Map::new();
    let mut controls = Map::new();
    let mut to_name = Value::Null;
    let mut prior_justification = Value::Null;
    let mut annotations: Vec<Value> = match task.remove("annotations") {
        Some(Value::Array(a)) => a
            .into_iter()
            .filter(|a| a["was_cancelled"] != json!(true))
            .collect(),
        _ => Vec::new(),
    };
    if annotations.len() > 1 {
        let truth = annotations
            .iter()
            .position(|a| a["ground_truth"] == json!(true));
        tally.several += 1;
        tally.truths += usize::from(truth.is_some());
        annotations.rotate_left(truth.unwrap_or(0));
    }
    let predictions: Vec<Value> = match task.remove("predictions") {
        Some(Value::Array(p)) => p,
        _ => Vec::new(),
    };
    let mut sources: Vec<(Value, Option<f64>, String)> = Vec::new();
    if let Some(a) = annotations.into_iter().next() {
        let agent = format!(
            "label-studio {}annotation {} by user {}",
            if a["ground_truth"] == json!(true) {
                "ground-truth "
            } else {
                ""
            },
            a["id"],
            a["completed_by"]
        );
        sources.push((a["result"].clone(), None, agent));
    }
    for p in &predictions {
        if p.is_object() {
            let agent = p["model_version"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| "label-studio prediction".into());
            sources.push((p["result"].clone(), p["score"].as_f64(), agent));
        }
    }
    for (result, score, agent) in sources {
        for r in result.as_array().into_iter().flatten() {
            let Some(from) = r["from_name"].as_str() else {
                continue;
            };
            if to_name.is_null() {
                to_name = r["to_name"].clone();
            }
            let Some((kind, values)) = result_values(r) else {
                warn(format!(
                    "{}: result of type '{}' from '{}' is not read",
                    at("annotations"),
                    crate::safe::sanitize_line(r["type"].as_str().unwrap_or("?")),
                    crate::safe::sanitize_line(from)
                ));
                continue;
            };
            let control = controls
                .entry(from.to_string())
                .or_insert_with(|| json!({"type": kind, "values": {}}));
            if kind == "textarea" {
                if prior_justification.is_null() {
                    prior_justification = json!(values.join("\n"));
                }
                continue;
            }
            if suggestions.contains_key(from) {
                continue;
            }
            let Some(answer) = f.answer(from, &values, warn) else {
                continue;
            };
            // Remember Label Studio's value for each of ours, to write it back on export.
            for (ours, theirs) in answer.values().iter().zip(&values) {
                control["values"][*ours] = json!(theirs);
            }
            let mut s = json!({"value": answer, "agent": agent});
            if let Some(sc) = score {
                s["score"] = json!(sc);
            }
            suggestions.insert(from.to_string(), s);
        }
    }
    if predictions.iter().any(|p| !p.is_object()) {
        tally.predictions_by_id += 1;
    }
    if !suggestions.is_empty() {
        item.insert("suggestions".into(), Value::Object(suggestions));
    }
    // Everything else the task's data held is the item's metadata, and where it came from.
    // A field that names an image stays text there: said, so that nobody rates an image
    // task without its image.
    for (k, v) in &data {
        let looks = v.as_str().is_some_and(|s| {
            let l = s.to_ascii_lowercase();
            l.starts_with("data:image/")
                || [".png", ".jpg", ".jpeg", ".webp", ".gif"]
                    .iter()
                    .any(|e| l.ends_with(e))
        });
        if looks {
            warn(format!(
                "data.{} names an image, which a Label Studio task is not read with (it is kept as text in the metadata); give image items as a verdict batch with image parts (docs/batch-format.md)",
                crate::safe::sanitize_line(k)
            ));
        }
    }
    let mut metadata = data;
    let mut origin = Map::new();
    origin.insert("task".into(), task_id);
    origin.insert("fields".into(), Value::Object(names));
    if !to_name.is_null() {
        origin.insert("to_name".into(), to_name);
    }
    if !controls.is_empty() {
        origin.insert("controls".into(), Value::Object(controls));
    }
    if !prior_justification.is_null() {
        origin.insert("justification".into(), prior_justification);
    }
    if let Some(p) = task.get("project") {
        origin.insert("project".into(), p.clone());
    }
    metadata.insert("label_studio".into(), Value::Object(origin));
    item.insert("metadata".into(), Value::Object(metadata));
    Ok(item)
}

/// An Argilla / Hugging Face record (`fields`, `suggestions`, `metadata`, `id` or
/// `external_id`) as an item object.
pub fn argilla_record(
    f: &Foreign<'_>,
    mut obj: Map<String, Value>,
    warn: &mut dyn FnMut(String),
) -> Result<Map<String, Value>, (String, String)> {
    let Some(Value::Object(mut fields)) = obj.remove("fields") else {
        return Err((
            "fields".into(),
            "must be an object of the record's fields".into(),
        ));
    };
    let keys = fields.keys().cloned().collect::<Vec<_>>().join(", ");
    f.mapped_present(&fields, "fields", &["id", "prompt", "response"])
        .map_err(|m| ("fields".to_string(), m))?;
    let mut item = Map::new();
    let id = match (obj.remove("id"), obj.remove("external_id")) {
        (Some(v), _) if !v.is_null() => v,
        (_, Some(v)) if !v.is_null() => v,
        _ => match f.field("id").and_then(|k| fields.remove(k)) {
            Some(v) => v,
            None => {
                return Err((
                    "id".into(),
                    "the record has no id or external_id; give one with --map id=FIELD".into(),
                ));
            }
        },
    };
    item.insert("id".into(), id);
    let chat = fields.contains_key("messages") && f.field("prompt").is_none();
    if chat && f.key_of(&fields, "prompt", PROMPT).is_some() {
        return Err((
            "fields".into(),
            "the record has both a chat ('messages') and a prompt field: say which is the conversation with --map prompt=FIELD, or drop one".into(),
        ));
    }
    if chat {
        let Some(Value::Array(ms)) = fields.remove("messages") else {
            return Err((
                "fields.messages".into(),
                "must be a list of {role, content}".into(),
            ));
        };
        item.insert("messages".into(), Value::Array(ms));
    } else {
        let Some(pk) = f.key_of(&fields, "prompt", PROMPT).cloned() else {
            return Err((
                "fields".into(),
                format!("no prompt field (fields has: {keys}); name it with --map prompt=FIELD"),
            ));
        };
        item.insert("prompt".into(), fields.remove(&pk).unwrap_or_default());
    }
    let Some(rk) = f.key_of(&fields, "response", RESPONSE).cloned() else {
        return Err((
            "fields".into(),
            format!("no response field (fields has: {keys}); name it with --map response=FIELD"),
        ));
    };
    let mut responses = vec![json!({"text": fields.remove(&rk).unwrap_or_default()})];
    if let Some(bk) = f.key_of(&fields, "response_b", &["response_b"]).cloned() {
        responses.push(json!({"text": fields.remove(&bk).unwrap_or_default()}));
        // Both sides named by --map (chosen, rejected): a dataset's pairs usually come in
        // a fixed order, and the position would then tell the rater which is which.
        // verdict keeps the order (reordering would have to follow every answer, gold
        // and export that speaks of A and B); it says so, once a file.
        if f.field("response").is_some()
            && f.field("response_b").is_some()
            && f.said.borrow_mut().insert("pair order".into())
        {
            warn(format!(
                "every record's A is its '{}' and its B its '{}', in that order: if the dataset's order means something (chosen first), a rater can learn it. Shuffle each pair before pulling and keep which is which in metadata (docs/interop.md)",
                crate::safe::sanitize_line(&rk),
                crate::safe::sanitize_line(&bk)
            ));
        }
    }
    for (i, name) in ["model", "model_b"].iter().enumerate() {
        if let Some(k) = f.key_of(&fields, name, &[name]).cloned()
            && let Some(r) = responses.get_mut(i)
        {
            r["model"] = fields.remove(&k).unwrap_or_default();
        }
    }
    let mut metadata = match obj.remove("metadata") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    item.insert("responses".into(), Value::Array(responses));
    // Fields no item field took are kept, as metadata (under `fields.NAME` when the
    // metadata has a key of that name already).
    for (k, v) in fields {
        if metadata.contains_key(&k) {
            metadata.insert(format!("fields.{k}"), v);
        } else {
            metadata.insert(k, v);
        }
    }
    // Earlier human answers first (Argilla's `responses`): as a list of {question_name,
    // value, user_id, status}, an object question -> [{value, user_id}] (the SDK's
    // `to_dict`), or v1's [{values: {question: {value}}, user_id, status}]; a discarded or
    // draft response is not an answer. The first response to a question is suggested.
    let mut list: Vec<(String, Value)> = Vec::new();
    let human = |s: &Value| !matches!(s["status"].as_str(), Some("discarded" | "draft"));
    let by_user = |s: &Value| match &s["user_id"] {
        Value::Null => "argilla response".to_string(),
        u => format!("argilla response by user {}", plain(u).unwrap_or_default()),
    };
    match obj.remove("responses") {
        Some(Value::Array(a)) => {
            for r in a.iter().filter(|r| human(r)) {
                if let Some(q) = r["question_name"].as_str() {
                    list.push((
                        q.to_string(),
                        json!({"value": r["value"], "agent": by_user(r)}),
                    ));
                } else if let Some(vs) = r["values"].as_object() {
                    for (q, v) in vs {
                        list.push((q.clone(), json!({"value": v["value"], "agent": by_user(r)})));
                    }
                }
            }
        }
        Some(Value::Object(m)) => {
            for (q, rs) in m {
                let first = match &rs {
                    Value::Array(a) => a.iter().find(|r| human(r)).cloned(),
                    r @ Value::Object(_) => Some(r.clone()).filter(human),
                    _ => None,
                };
                if let Some(r) = first {
                    list.push((q, json!({"value": r["value"], "agent": by_user(&r)})));
                }
            }
        }
        _ => {}
    }
    // Then suggestions, for the questions no response answered: Argilla's list of
    // {question_name, value, score, agent}, or an object of question -> {value, score,
    // agent}.
    list.extend(match obj.remove("suggestions") {
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for (i, s) in a.into_iter().enumerate() {
                match s["question_name"].as_str() {
                    Some(q) => out.push((q.to_string(), s)),
                    None => warn(format!(
                        "suggestions[{i}] names no question ('question_name'): not suggested"
                    )),
                }
            }
            out
        }
        Some(Value::Object(m)) => m.into_iter().collect(),
        _ => Vec::new(),
    });
    let mut suggestions = Map::new();
    for (q, s) in list {
        if suggestions.contains_key(&q) {
            continue;
        }
        let raw = if s.is_object() {
            s["value"].clone()
        } else {
            s.clone()
        };
        let values: Option<Vec<String>> = match &raw {
            Value::Array(a) => a.iter().map(plain).collect(),
            v => plain(v).map(|x| vec![x]),
        };
        let Some(values) = values else {
            warn(format!(
                "the suggestion for '{}' is not a value or a list of values: not suggested",
                crate::safe::sanitize_line(&q)
            ));
            continue;
        };
        let Some(answer) = f.answer(&q, &values, warn) else {
            continue;
        };
        let mut out = json!({"value": answer});
        if let Some(sc) = s["score"].as_f64().filter(|x| (0.0..=1.0).contains(x)) {
            out["score"] = json!(sc);
        }
        if let Some(a) = s["agent"].as_str() {
            out["agent"] = json!(a);
        }
        suggestions.insert(q, out);
    }
    if !suggestions.is_empty() {
        item.insert("suggestions".into(), Value::Object(suggestions));
    }
    if !metadata.is_empty() {
        item.insert("metadata".into(), Value::Object(metadata));
    }
    for k in ["content_warning"] {
        if let Some(v) = obj.remove(k) {
            item.insert(k.into(), v);
        }
    }
    // What else the record holds (vectors, Argilla's own ids and times) is not read:
    // named, once a file.
    for k in obj.keys() {
        if !["status", "inserted_at", "updated_at", "_server_id"].contains(&k.as_str())
            && f.said.borrow_mut().insert(format!("key:{k}"))
        {
            warn(format!(
                "records' '{}' is not read (said once for the file)",
                crate::safe::sanitize_line(k)
            ));
        }
    }
    Ok(item)
}

/// A JSON value as the string a schema option would be (a number's digits, a boolean's
/// name); nothing for a list, an object or null.
fn plain(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads a Label Studio JSON file (a list of tasks, or one task) and hands each task to
/// `item` as an item object of verdict's format, numbered from 1.
pub(super) fn read_label_studio(
    ctx: &ItemContext<'_>,
    f: &Foreign<'_>,
    warnings: &mut Vec<Warning>,
    mut item: impl FnMut(u64, Map<String, Value>, &mut Vec<Warning>) -> Result<(), BatchError>,
) -> Result<(), BatchError> {
    let bytes = std::fs::read(ctx.path)
        .map_err(|e| BatchError::at(ctx.path, None, None, format!("cannot read: {e}")))?;
    // Strict: a key named twice in one object is refused, as in a JSONL batch.
    let v: Value = serde_json::from_slice::<super::jsonl::Strict>(super::strip_bom(&bytes))
        .map(|s| s.0)
        .map_err(|e| {
            let text = String::from_utf8_lossy(super::strip_bom(&bytes));
            let first = text.lines().next().unwrap_or_default();
            let what = if e.is_data() {
                // The strict reader's own refusal (a key named twice) says what to do.
                format!("{e}")
            } else if e.line() > 1 && serde_json::from_str::<Map<String, Value>>(first).is_ok() {
                format!(
                    "not valid JSON ({e}); it looks like JSON Lines (one object a line): name the file .jsonl to pull it as records"
                )
            } else {
                format!("not valid JSON ({e}); a Label Studio file is a JSON list of tasks")
            };
            BatchError::at(ctx.path, Some(e.line() as u64), None, what)
        })?;
    let tasks = match v {
        Value::Array(a) => a,
        Value::Object(o)
            if !o.contains_key("data") && o.get("tasks").is_some_and(Value::is_array) =>
        {
            return Err(BatchError::at(
                ctx.path,
                None,
                Some("tasks"),
                "the tasks are wrapped in an object: give the file the list itself ([{\"data\": {...}}, ...]), as Label Studio exports it",
            ));
        }
        o @ Value::Object(_) => vec![o],
        _ => {
            return Err(BatchError::at(
                ctx.path,
                None,
                None,
                "a Label Studio file is a JSON list of tasks ([{\"data\": {...}}, ...])",
            ));
        }
    };
    let mut tally = TaskTally::default();
    for (n, task) in tasks.into_iter().enumerate() {
        let mut notes = Vec::new();
        let obj = label_studio_task(f, n, task, &mut tally, &mut |m| notes.push(m))
            .map_err(|(field, msg)| BatchError::at(ctx.path, None, Some(&field), msg))?;
        for m in notes {
            // A task is not a line: named by its place in the list.
            let message = if m.starts_with("tasks[") {
                m
            } else {
                format!("tasks[{n}]: {m}")
            };
            warnings.push(Warning { line: 0, message });
        }
        item(n as u64 + 1, obj, warnings)?;
    }
    let TaskTally {
        predictions_by_id: no_predictions,
        several,
        truths,
    } = tally;
    if several > 0 {
        let tasks = crate::safe::count(several as u64, "task has", "tasks have");
        let message = match truths {
            0 => format!(
                "{tasks} more than one annotation: the first of each is suggested (mark the reference one as ground truth in Label Studio to have it suggested instead)"
            ),
            t if t == several => format!(
                "{tasks} more than one annotation: the ground-truth one of each is suggested"
            ),
            t => format!(
                "{tasks} more than one annotation: the ground-truth one is suggested ({t} of them), else the first"
            ),
        };
        warnings.push(Warning { line: 0, message });
    }
    if no_predictions > 0 {
        warnings.push(Warning {
            line: 0,
            message: format!(
                "{} their predictions by id only (Label Studio's JSON export writes them so): those predictions are not suggested; to have them, export a snapshot with their results (POST /api/projects/ID/exports with serialization_options.predictions.only_id = false), or pull them as Argilla/HF records",
                crate::safe::count(no_predictions as u64, "task lists", "tasks list"),
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_values_find_their_options() {
        let s = Schema::builtin("ai-safety-v1").unwrap();
        let harm = s.questions.iter().find(|q| q.id == "harm").unwrap();
        let m = |v: &str| option_for(harm, v, &[]).map(|(o, _)| o);
        assert_eq!(
            option_for(harm, "vcr", &[]),
            Some(("vcr".into(), Matched::Exact))
        );
        assert_eq!(
            option_for(harm, "violent_crimes", &[]),
            Some(("vcr".into(), Matched::ByName))
        );
        assert_eq!(m("non_violent_crimes").as_deref(), Some("ncr"));
        assert_eq!(m("Hate").as_deref(), Some("hte"));
        assert_eq!(m("self_harm").as_deref(), Some("ssh"));
        assert_eq!(m("crimes"), None, "one word is never matched inside a name");
        assert_eq!(m("content"), None, "not 'Sexual content'");
        assert_eq!(m("cooking"), None);
        let map = vec![("harm.cooking".to_string(), "none".to_string())];
        assert_eq!(
            option_for(harm, "cooking", &map),
            Some(("none".into(), Matched::Mapped))
        );
        // A mapping wins over the same value.
        let map = vec![("harm.vcr".to_string(), "none".to_string())];
        assert_eq!(
            option_for(harm, "vcr", &map).map(|(o, _)| o).as_deref(),
            Some("none")
        );
        // The explanation in a label's parentheses is not its name.
        let app = s
            .questions
            .iter()
            .find(|q| q.id == "appropriateness")
            .unwrap();
        assert_eq!(option_for(app, "safe", &[]), None);
        assert_eq!(
            option_for(app, "over-refusal", &[])
                .map(|(o, _)| o)
                .as_deref(),
            Some("over_refusal")
        );
    }
}
