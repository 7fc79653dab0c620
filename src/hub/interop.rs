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

/// An RFC 3339 time as Label Studio writes times (`...Z`); null when unknown.
fn ls_time(rfc3339: &str) -> Value {
    if rfc3339.is_empty() {
        Value::Null
    } else {
        json!(rfc3339.replace("+00:00", "Z"))
    }
}

/// A Label Studio project's labelling config (`label_config.xml`): its controls by name.
#[derive(Debug, Clone, Default)]
pub struct LabelConfig {
    /// name -> (type, the choices' values or the rating's maximum, toName).
    controls: BTreeMap<String, (String, Vec<String>, i64, String)>,
}

impl LabelConfig {
    /// Reads the XML's `Choices` (with their `Choice` values), `Rating` (`maxRating`,
    /// default 5) and `TextArea` controls.
    pub fn parse(xml: &str) -> Result<LabelConfig, String> {
        let doc =
            roxmltree::Document::parse(xml).map_err(|e| format!("not a labelling config: {e}"))?;
        let mut controls = BTreeMap::new();
        for n in doc.descendants().filter(|n| n.is_element()) {
            let kind = match n.tag_name().name() {
                "Choices" => "choices",
                "Rating" => "rating",
                "TextArea" => "textarea",
                _ => continue,
            };
            let Some(name) = n.attribute("name") else {
                continue;
            };
            let values = n
                .descendants()
                .filter(|c| c.tag_name().name() == "Choice")
                .filter_map(|c| {
                    c.attribute("value")
                        .or(c.attribute("alias"))
                        .map(str::to_string)
                })
                .collect();
            let max = n
                .attribute("maxRating")
                .and_then(|m| m.parse().ok())
                .unwrap_or(5);
            let to = n.attribute("toName").unwrap_or("response").to_string();
            controls.insert(name.to_string(), (kind.to_string(), values, max, to));
        }
        if controls.is_empty() {
            return Err("no Choices, Rating or TextArea control in it".into());
        }
        Ok(LabelConfig { controls })
    }

    /// The config as an item's Label Studio origin for a schema: each question's control,
    /// and for choices Label Studio's value for each of our options (matched as `verdict
    /// pull` matches them). `strict`: what the config has no control or value for is left
    /// out rather than written in verdict's terms.
    fn origin(&self, schema: &Schema) -> Value {
        let mut controls = Map::new();
        let mut to_name = Value::Null;
        for (name, (kind, values, max, to)) in &self.controls {
            if to_name.is_null() {
                to_name = json!(to);
            }
            let mut ours = Map::new();
            if let Some(q) = schema.question(name) {
                for v in values {
                    if let Some((o, _)) = crate::batch::option_for(q, v, &[]) {
                        ours.entry(o).or_insert(json!(v));
                    }
                }
            }
            controls.insert(
                name.clone(),
                json!({"type": kind, "values": ours, "max": max, "to_name": to}),
            );
        }
        json!({"controls": controls, "to_name": to_name, "strict": true})
    }
}

/// Options of the Label Studio export.
#[derive(Debug, Clone, Default)]
pub struct LabelStudioOptions {
    /// The project's labelling config: answers are written as its controls and values.
    pub config: Option<LabelConfig>,
    /// Label Studio user ids of raters (and reviewers), by name.
    pub users: Vec<(String, i64)>,
    /// The user id of everyone else, and of the final answers (Label Studio refuses an
    /// import whose `completed_by` is no user of the organisation; user 1 is its first).
    pub default_user: i64,
}

/// Label Studio's `result` for a set of answers and a justification: each question as the
/// control it came from (choices or rating, with Label Studio's own values when the item
/// came from Label Studio), the justification as a textarea. What a strict origin (a
/// labelling config) has no control or value for is left out, and said in `dropped`.
fn results(
    item: &ExportItem,
    origin: &Value,
    answers: &BTreeMap<String, Answer>,
    justification: &str,
    dropped: &mut std::collections::BTreeSet<String>,
) -> Vec<Value> {
    let strict = origin["strict"] == true;
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
        if strict && control.is_null() {
            dropped.insert(format!(
                "'{}': the labelling config has no control of that name",
                q.id
            ));
            continue;
        }
        let rating = control["type"] == "rating";
        let mut values = Vec::new();
        for v in a.values() {
            match control["values"][v].as_str() {
                Some(t) => values.push(t.to_string()),
                None if strict && !rating => {
                    dropped.insert(format!(
                        "'{}' = '{v}': no Choice of the labelling config stands for it",
                        q.id
                    ));
                }
                None => values.push(v.to_string()),
            }
        }
        if values.is_empty() {
            continue;
        }
        let max = control["max"].as_i64().unwrap_or(i64::MAX);
        let value = match (rating, values.first().and_then(|v| v.parse::<i64>().ok())) {
            (true, Some(n)) if (1..=max).contains(&n) => json!({"rating": n}),
            (true, _) => {
                dropped.insert(format!(
                    "'{}' = '{}': a Rating runs from 1 to {max}",
                    q.id, values[0]
                ));
                continue;
            }
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
/// annotation per rater who submitted (`completed_by` from `options.users`, else the
/// default user), a cancelled one per skip, and the final answers as one more annotation
/// marked `ground_truth`. Returns the tasks, and what was left out (each kind once).
pub fn label_studio(
    rows: &[DatasetRow],
    items: &[ExportItem],
    options: &LabelStudioOptions,
) -> (Value, Vec<String>) {
    let mut dropped = std::collections::BTreeSet::new();
    let by_id: HashMap<(&str, &str), &ExportItem> = items
        .iter()
        .map(|i| ((i.batch.as_str(), i.item.as_str()), i))
        .collect();
    let user = |name: &str| {
        options
            .users
            .iter()
            .find(|(n, _)| n == name)
            .map_or(options.default_user, |(_, id)| *id)
    };
    // Label Studio's task ids where every item came with its own, unique and positive;
    // else the hub's (items of several projects, or of none).
    let origin_ids: Vec<Option<i64>> = rows
        .iter()
        .filter_map(|r| by_id.get(&(r.batch_id.as_str(), r.item_id.as_str())))
        .map(|i| {
            i.extras
                .metadata
                .get("label_studio")
                .and_then(|o| o["task"].as_i64())
                .filter(|t| *t > 0)
        })
        .collect();
    let unique: std::collections::HashSet<i64> = origin_ids.iter().flatten().copied().collect();
    let own_ids = unique.len() == origin_ids.len();
    // What the batch's tasks said about Label Studio's controls (their types, and its
    // values for ours), together: a task without earlier labels is written as its
    // batch's others were read.
    let mut origins: HashMap<&str, Value> = HashMap::new();
    if let Some(config) = &options.config {
        for i in items {
            origins
                .entry(i.batch.as_str())
                .or_insert_with(|| config.origin(&i.schema));
        }
    }
    for i in items.iter().filter(|_| options.config.is_none()) {
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
        let task_id = origin
            .and_then(|o| o["task"].as_i64())
            .filter(|_| own_ids)
            .unwrap_or(item.key);
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
        // A system turn and a content warning the task had go back under their names.
        if let Some(sys) = item
            .content
            .conversation
            .iter()
            .find(|m| m.role == crate::model::Role::System)
        {
            data.insert(name("system"), json!(sys.content));
        }
        if let (Some(w), Some(k)) = (
            &item.extras.content_warning,
            origin.and_then(|o| o["fields"]["content_warning"].as_str()),
        ) {
            data.insert(k.to_string(), json!(w));
        }
        let mut annotations = Vec::new();
        let mut cancelled = 0;
        let mut last = String::new();
        let mut annotation = |completed_by: i64,
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
                    &mut dropped,
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
            let by = f.reviewer.as_deref().map_or(options.default_user, user);
            annotations.push(annotation(
                by,
                results(item, &batch_origin, &f.answers, &note, &mut dropped),
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
    (Value::Array(tasks), dropped.into_iter().collect())
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
