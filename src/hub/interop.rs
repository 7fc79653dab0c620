//! The merged dataset in other tools' formats (`hub export --format label-studio | hf`):
//! Label Studio tasks with one annotation per rater plus the final answers, shaped as
//! Label Studio 1.23 writes its own JSON export; and one JSON row per item with the flat
//! columns a `datasets.load_dataset("json", ...)` user expects. Mappings: docs/interop.md.

use super::report::DatasetRow;
use crate::model::{Answer, Content, Extras, Kind, Schema};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

/// An item as loaded on the hub.
#[derive(Debug, Clone)]
pub struct ExportItem {
    /// Batch id.
    pub batch: String,
    /// Item id.
    pub item: String,
    /// What was rated.
    pub content: Content,
    /// Metadata, suggestions (and, for an item from Label Studio, where it came from).
    pub extras: Extras,
    /// The batch's schema.
    pub schema: Schema,
    /// The hub's row key (a task id for items that had none).
    pub key: i64,
}

/// The text of the last user turn (the prompt of a single-turn item).
fn prompt_text(c: &Content) -> String {
    c.conversation
        .iter()
        .rev()
        .find(|m| m.role == crate::model::Role::User)
        .map(|m| m.content.clone())
        .unwrap_or_default()
}

/// Milliseconds since the epoch as Label Studio writes times.
fn ls_time(rfc3339: &str) -> Value {
    if rfc3339.is_empty() {
        Value::Null
    } else {
        json!(rfc3339.replace("+00:00", "Z"))
    }
}

/// Label Studio's `result` for a set of answers and a justification: each question as the
/// control it came from (choices or rating, with Label Studio's own values when the item
/// came from Label Studio), the justification as a textarea.
fn results(
    item: &ExportItem,
    origin: &Value,
    answers: &BTreeMap<String, Answer>,
    justification: &str,
) -> Vec<Value> {
    let controls = &origin["controls"];
    let to_name = origin["to_name"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| "response".into());
    let mut out = Vec::new();
    // In the schema's order, so that every task lists its results alike.
    for q in &item.schema.questions {
        let Some(a) = answers.get(&q.id) else {
            continue;
        };
        let control = &controls[q.id.as_str()];
        let theirs = |v: &str| -> String {
            control["values"][v]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        };
        let values: Vec<String> = a.values().into_iter().map(theirs).collect();
        let rating = control["type"] == "rating";
        let value = match (rating, values.first().and_then(|v| v.parse::<i64>().ok())) {
            (true, Some(n)) => json!({"rating": n}),
            _ => json!({"choices": values}),
        };
        out.push(json!({
            "from_name": q.id,
            "to_name": to_name,
            "type": if value.get("rating").is_some() { "rating" } else { "choices" },
            "value": value,
        }));
    }
    if !justification.is_empty() {
        let name = controls
            .as_object()
            .and_then(|c| {
                c.iter()
                    .find(|(_, v)| v["type"] == "textarea")
                    .map(|(k, _)| k.clone())
            })
            .unwrap_or_else(|| "justification".into());
        out.push(json!({
            "from_name": name,
            "to_name": to_name,
            "type": "textarea",
            "value": {"text": [justification]},
        }));
    }
    out
}

/// The merged dataset as Label Studio tasks (a JSON list), one per item with records:
/// `data` as the task had it (prompt, response, model and the rest of its metadata), an
/// annotation per rater who submitted (`completed_by` numbers the raters 1..n in name
/// order: `raters` gives the names), a cancelled one per skip, and the final answers as
/// one more annotation marked `ground_truth`.
pub fn label_studio(rows: &[DatasetRow], items: &[ExportItem]) -> (Value, Vec<String>) {
    let by_id: HashMap<(&str, &str), &ExportItem> = items
        .iter()
        .map(|i| ((i.batch.as_str(), i.item.as_str()), i))
        .collect();
    let mut raters: Vec<String> = rows
        .iter()
        .flat_map(|r| r.ratings.iter())
        .filter_map(|r| r["rater"].as_str().map(str::to_string))
        .collect();
    raters.sort();
    raters.dedup();
    let user = |name: &str| raters.iter().position(|r| r == name).map_or(0, |i| i + 1);
    // What the batch's tasks said about Label Studio's controls (their types, and its
    // values for ours), together: a task without earlier labels is written as its
    // batch's others were read.
    let mut origins: HashMap<&str, Value> = HashMap::new();
    for i in items {
        let Some(o) = i.extras.metadata.get("label_studio") else {
            continue;
        };
        let merged = origins
            .entry(i.batch.as_str())
            .or_insert_with(|| json!({"controls": {}}));
        if merged.get("to_name").is_none() && o["to_name"].is_string() {
            merged["to_name"] = o["to_name"].clone();
        }
        for (name, c) in o["controls"].as_object().into_iter().flatten() {
            let m = &mut merged["controls"][name.as_str()];
            if m.is_null() {
                *m = json!({"type": c["type"], "values": {}});
            }
            for (ours, theirs) in c["values"].as_object().into_iter().flatten() {
                m["values"][ours.as_str()] = theirs.clone();
            }
        }
    }
    let mut annotation_id = 0i64;
    let mut tasks = Vec::new();
    for row in rows {
        let Some(item) = by_id.get(&(row.batch_id.as_str(), row.item_id.as_str())) else {
            continue;
        };
        let batch_origin = origins
            .get(item.batch.as_str())
            .cloned()
            .unwrap_or(Value::Null);
        let origin = item.extras.metadata.get("label_studio");
        let task_id = origin.and_then(|o| o["task"].as_i64()).unwrap_or(item.key);
        let project = origin.and_then(|o| o["project"].as_i64()).unwrap_or(1);
        let name = |field: &str| -> String {
            origin
                .and_then(|o| o["fields"][field].as_str().map(str::to_string))
                .unwrap_or_else(|| field.to_string())
        };
        let mut data = Map::new();
        for (k, v) in &item.extras.metadata {
            if k != "label_studio" {
                data.insert(k.clone(), v.clone());
            }
        }
        data.insert(name("id"), json!(item.item));
        data.insert(name("prompt"), json!(prompt_text(&item.content)));
        let responses = &item.content.responses;
        if let Some(a) = responses.first() {
            data.insert(name("response"), json!(a.text));
            if let Some(m) = &a.model {
                data.insert(name("model"), json!(m));
            }
        }
        if let Some(b) = responses.get(1) {
            data.insert(name("response_b"), json!(b.text));
            if let Some(m) = &b.model {
                data.insert(name("model_b"), json!(m));
            }
        }
        let mut annotations = Vec::new();
        let mut cancelled = 0;
        let mut last = String::new();
        let mut annotation = |completed_by: usize,
                              result: Vec<Value>,
                              at: &str,
                              lead_ms: Option<i64>,
                              cancelled: bool,
                              ground_truth: bool| {
            annotation_id += 1;
            json!({
                "bulk_created": false,
                "completed_by": completed_by,
                "created_at": ls_time(at),
                "draft_created_at": null,
                "ground_truth": ground_truth,
                "id": annotation_id,
                "import_id": null,
                "last_action": null,
                "last_created_by": null,
                "lead_time": lead_ms.map(|ms| ms as f64 / 1000.0),
                "parent_annotation": null,
                "parent_prediction": null,
                "prediction": {},
                "project": project,
                "result_count": result.len(),
                "result": result,
                "task": task_id,
                "unique_id": uuid::Uuid::new_v4().to_string(),
                "updated_at": ls_time(at),
                "updated_by": completed_by,
                "was_cancelled": cancelled,
            })
        };
        for r in &row.ratings {
            let rater = r["rater"].as_str().unwrap_or_default();
            let at = r["submitted"].as_str().unwrap_or_default().to_string();
            if at > last {
                last = at.clone();
            }
            let skipped = r["status"] != "done";
            let answers: BTreeMap<String, Answer> =
                serde_json::from_value(r["answers"].clone()).unwrap_or_default();
            let result = if skipped {
                Vec::new()
            } else {
                results(
                    item,
                    &batch_origin,
                    &answers,
                    r["justification"].as_str().unwrap_or_default(),
                )
            };
            cancelled += usize::from(skipped);
            annotations.push(annotation(
                user(rater),
                result,
                &at,
                r["active_ms"].as_i64(),
                skipped,
                false,
            ));
        }
        if let Some(f) = &row.final_answers
            && !f.answers.is_empty()
        {
            let note = f.reason.clone().unwrap_or_default();
            let by = f.reviewer.as_deref().map_or(0, user);
            annotations.push(annotation(
                by,
                results(item, &batch_origin, &f.answers, &note),
                &last,
                None,
                false,
                true,
            ));
        }
        tasks.push(json!({
            "allow_skip": true,
            "annotations": annotations,
            "cancelled_annotations": cancelled,
            "comment_authors": [],
            "comment_count": 0,
            "created_at": ls_time(&last),
            "data": data,
            "drafts": [],
            "id": task_id,
            "inner_id": task_id,
            "last_comment_updated_at": null,
            "meta": {},
            "predictions": [],
            "project": project,
            "total_annotations": annotations.len() - cancelled,
            "total_predictions": 0,
            "unresolved_comment_count": 0,
            "updated_at": ls_time(&last),
            "updated_by": null,
        }));
    }
    (Value::Array(tasks), raters)
}

/// One row per item for `datasets.load_dataset("json", data_files=...)`: ids, the
/// conversation (`messages`, and `prompt` for its last user turn), the responses
/// (`response`, `model`; `response_b`, `model_b` for pairs, else null), the final answers
/// as one column per question (`label_<question>`) with their `label_source`, agreement
/// per question, every rater's record in `ratings`, and the item's metadata.
pub fn hf_rows(rows: &[DatasetRow], items: &[ExportItem]) -> Vec<Value> {
    let by_id: HashMap<(&str, &str), &ExportItem> = items
        .iter()
        .map(|i| ((i.batch.as_str(), i.item.as_str()), i))
        .collect();
    // Every question of every schema in the export: each row has every column (null
    // where it does not apply), so that the columns' types are the same on every row.
    let mut questions: Vec<(String, Kind)> = Vec::new();
    for i in items {
        for q in &i.schema.questions {
            if !questions.iter().any(|(id, _)| *id == q.id) {
                questions.push((q.id.clone(), q.kind));
            }
        }
    }
    let mut out = Vec::new();
    for row in rows {
        let Some(item) = by_id.get(&(row.batch_id.as_str(), row.item_id.as_str())) else {
            continue;
        };
        let c = &item.content;
        let messages: Vec<Value> = c
            .conversation
            .iter()
            .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
            .collect();
        let response = |i: usize| {
            c.responses
                .get(i)
                .map(|r| json!(r.text))
                .unwrap_or(Value::Null)
        };
        let model = |i: usize| {
            c.responses
                .get(i)
                .and_then(|r| r.model.clone())
                .map(Value::String)
                .unwrap_or(Value::Null)
        };
        let images: Vec<Value> = c.images().map(|r| json!(r.sha256)).collect();
        let mut o = Map::new();
        o.insert("id".into(), json!(row.item_id));
        o.insert("batch_id".into(), json!(row.batch_id));
        o.insert("item_sha256".into(), json!(row.item_sha256));
        o.insert("prompt".into(), json!(prompt_text(c)));
        o.insert("messages".into(), Value::Array(messages));
        o.insert("response".into(), response(0));
        o.insert("model".into(), model(0));
        o.insert("response_b".into(), response(1));
        o.insert("model_b".into(), model(1));
        o.insert("images".into(), Value::Array(images));
        o.insert("gold".into(), json!(row.gold));
        let fin = row.final_answers.as_ref();
        for (q, kind) in &questions {
            let v = match fin.and_then(|f| f.answers.get(q)) {
                Some(Answer::Many(vs)) => json!(vs),
                Some(Answer::One(v)) if *kind == Kind::Multi => json!([v]),
                Some(Answer::One(v)) => json!(v),
                None => Value::Null,
            };
            o.insert(format!("label_{q}"), v);
        }
        o.insert(
            "label_source".into(),
            fin.map(|f| json!(f.source)).unwrap_or(Value::Null),
        );
        o.insert(
            "agreement".into(),
            json!(
                questions
                    .iter()
                    .map(|(q, _)| (q.clone(), row.agreement.get(q).copied()))
                    .collect::<BTreeMap<_, _>>()
            ),
        );
        o.insert("num_ratings".into(), json!(row.ratings.len()));
        o.insert(
            "ratings".into(),
            Value::Array(
                row.ratings
                    .iter()
                    .map(|r| {
                        json!({
                            "rater": r["rater"], "status": r["status"],
                            "answers": serde_json::to_string(&r["answers"]).unwrap_or_default(),
                            "justification": r["justification"],
                            "skip_reason": r["skip_reason"],
                            "active_ms": r["active_ms"], "submitted": r["submitted"],
                        })
                    })
                    .collect(),
            ),
        );
        let mut metadata = item.extras.metadata.clone();
        metadata.remove("label_studio");
        o.insert(
            "metadata".into(),
            json!(serde_json::to_string(&metadata).unwrap_or_default()),
        );
        out.push(Value::Object(o));
    }
    out
}
