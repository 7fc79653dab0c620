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
    /// The task data fields its objects show (`value="$prompt"`): every task needs them.
    fields: Vec<String>,
}

impl LabelConfig {
    /// Reads the XML's `Choices` (with their `Choice` values), `Rating` (`maxRating`,
    /// default 5) and `TextArea` controls.
    pub fn parse(xml: &str) -> Result<LabelConfig, String> {
        let doc =
            roxmltree::Document::parse(xml).map_err(|e| format!("not a labelling config: {e}"))?;
        let mut controls = BTreeMap::new();
        let mut fields = Vec::new();
        for n in doc.descendants().filter(|n| n.is_element()) {
            if let Some(f) = n.attribute("value").and_then(|v| v.strip_prefix('$'))
                && !f.is_empty()
                && !fields.iter().any(|x| x == f)
            {
                fields.push(f.to_string());
            }
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
        Ok(LabelConfig { controls, fields })
    }

    /// The control that answers `question`: the one `renames` gives it, else the one of
    /// its name.
    fn control_for<'a>(question: &'a str, renames: &'a [(String, String)]) -> &'a str {
        renames
            .iter()
            .find(|(q, _)| q == question)
            .map_or(question, |(_, c)| c.as_str())
    }

    /// The config as an item's Label Studio origin for a schema: each question's control,
    /// and for choices Label Studio's value for each of our options (matched as `verdict
    /// pull` matches them). `strict`: what the config has no control or value for is left
    /// out rather than written in verdict's terms.
    fn origin(&self, schema: &Schema, renames: &[(String, String)]) -> Value {
        let mut controls = Map::new();
        let to_name = self
            .controls
            .values()
            .next()
            .map_or(Value::Null, |c| json!(c.3));
        // Each question, keyed by its id, with the control that answers it (by name).
        for q in &schema.questions {
            let name = Self::control_for(&q.id, renames);
            let Some((kind, values, max, to)) = self.controls.get(name) else {
                continue;
            };
            let mut ours = Map::new();
            for v in values {
                if let Some((o, _)) = crate::batch::option_for(q, v, &[]) {
                    ours.entry(o).or_insert(json!(v));
                }
            }
            controls.insert(
                q.id.clone(),
                json!({"type": kind, "values": ours, "max": max, "to_name": to, "name": name}),
            );
        }
        // The justification goes to the config's text area.
        if let Some((name, (_, _, _, to))) = self.controls.iter().find(|(_, c)| c.0 == "textarea") {
            controls
                .entry(name.clone())
                .or_insert(json!({"type": "textarea", "to_name": to, "name": name}));
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
    /// The config's control for a question named otherwise: (question, control).
    pub controls: Vec<(String, String)>,
    /// The task data field for an item field: (field, name).
    pub fields: Vec<(String, String)>,
    /// Everyone with work on the hub (an `--ls-user` list may name people with no work in
    /// the batches exported); empty: those in the export.
    pub everyone: Vec<String>,
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
        let max = control["max"].as_i64();
        let value = match (rating, values.first().and_then(|v| v.parse::<i64>().ok())) {
            (true, Some(n)) if n >= 1 && max.is_none_or(|m| n <= m) => json!({"rating": n}),
            (true, _) => {
                dropped.insert(match max {
                    Some(m) => format!("'{}' = '{}': a Rating runs from 1 to {m}", q.id, values[0]),
                    None => format!(
                        "'{}' = '{}': a Rating has no star for it (give the project a Choices control for '{}' and its --label-config)",
                        q.id, values[0], q.id
                    ),
                });
                continue;
            }
            _ => json!({"choices": values}),
        };
        out.push(json!({
            "from_name": control["name"].as_str().unwrap_or(&q.id),
            "to_name": control["to_name"].as_str().unwrap_or(&to_name),
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
                    .map(|(k, v)| {
                        (
                            v["name"].as_str().unwrap_or(k).to_string(),
                            v["to_name"].as_str().map(str::to_string),
                        )
                    })
            })
            .unwrap_or_else(|| ("justification".into(), None));
        out.push(json!({
            "from_name": name.0,
            "to_name": name.1.unwrap_or_else(|| to_name.clone()),
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
/// marked `ground_truth`. Returns the tasks, and notes: what was left out (each kind
/// once), and people who share the default user. Refused (nothing written): a `--ls-user`
/// name that is nobody in the export, a `--ls-control` that names no question or control,
/// a labelling config with no control for any question of a schema, and tasks without a
/// data field the config shows (Label Studio refuses the whole import for one of them).
pub fn label_studio(
    rows: &[DatasetRow],
    items: &[ExportItem],
    options: &LabelStudioOptions,
) -> Result<(Value, Vec<String>), String> {
    check_options(rows, items, options)?;
    let mut dropped = std::collections::BTreeSet::new();
    // Tasks without a field the config shows: (field, count, the first one's item and
    // the fields its data has).
    let mut missing: BTreeMap<(usize, String), (usize, String, String)> = BTreeMap::new();
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
                .or_insert_with(|| config.origin(&i.schema, &options.controls));
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
            options
                .fields
                .iter()
                .find(|(f, _)| f == field)
                .map(|(_, n)| n.clone())
                .or_else(|| origin.and_then(|o| o["fields"][field].as_str().map(str::to_string)))
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
        for (n, f) in options.config.iter().flat_map(|c| &c.fields).enumerate() {
            if !data.contains_key(f) {
                let m = missing.entry((n, f.clone())).or_insert_with(|| {
                    (
                        0,
                        format!("{}/{}", item.batch, item.item),
                        data.keys().cloned().collect::<Vec<_>>().join(", "),
                    )
                });
                m.0 += 1;
            }
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
    if let Some(((_, field), (n, first, has))) = missing.into_iter().next() {
        return Err(crate::safe::sanitize_line(&format!(
            "the labelling config shows ${field}, and {} of {} have no data field '{field}' (the first: {first}, whose data has {has}); Label Studio would refuse the whole import. Name the field with --ls-data (for example prompt={field}), export only the batches of that project (--batch), or give the config of theirs",
            n,
            crate::safe::count(tasks.len() as u64, "task", "tasks")
        )));
    }
    let mut notes: Vec<String> = dropped
        .into_iter()
        .map(|d| format!("left out of the Label Studio results: {d}"))
        .collect();
    // Without a config, what did not come from Label Studio is written in verdict's
    // names, which a project of other names accepts and never shows.
    if options.config.is_none() {
        let mut foreign: Vec<&str> = items
            .iter()
            .filter(|i| !i.extras.metadata.contains_key("label_studio"))
            .map(|i| i.batch.as_str())
            .collect();
        foreign.sort_unstable();
        foreign.dedup();
        if !foreign.is_empty() {
            notes.push(format!(
                "{} did not come from Label Studio: their tasks and results use verdict's names (prompt, response; the questions' ids), which a project that names them otherwise imports without showing; give its --label-config",
                crate::safe::sanitize_line(&match foreign.as_slice() {
                    [one] => format!("batch {one}"),
                    many => format!("batches {}", many.join(", ")),
                })
            ));
        }
    }
    let mut unnamed: Vec<&str> = people(rows)
        .into_iter()
        .filter(|p| !options.users.iter().any(|(n, _)| n == p))
        .collect();
    unnamed.sort_unstable();
    if unnamed.len() > 1 {
        notes.push(format!(
            "{} have no --ls-user id: their annotations are all Label Studio user {}'s; give each their own with --ls-user NAME=ID,...",
            crate::safe::sanitize_line(&unnamed.join(", ")),
            options.default_user
        ));
    }
    Ok((Value::Array(tasks), notes))
}

/// Everyone whose work is in the export: raters, and reviewers who adjudicated.
pub fn people(rows: &[DatasetRow]) -> std::collections::BTreeSet<&str> {
    let mut out = std::collections::BTreeSet::new();
    for r in rows {
        for x in &r.ratings {
            if let Some(n) = x["rater"].as_str() {
                out.insert(n);
            }
        }
        if let Some(v) = r.final_answers.as_ref().and_then(|f| f.reviewer.as_deref()) {
            out.insert(v);
        }
    }
    out
}

/// The options checked against the export (see [`label_studio`]).
fn check_options(
    rows: &[DatasetRow],
    items: &[ExportItem],
    options: &LabelStudioOptions,
) -> Result<(), String> {
    let safe = crate::safe::sanitize_line;
    let mut everyone = people(rows);
    everyone.extend(options.everyone.iter().map(String::as_str));
    for (name, _) in &options.users {
        if !everyone.contains(name.as_str()) {
            return Err(format!(
                "--ls-user {}: nobody of that name has work on this hub (raters and reviewers: {})",
                safe(name),
                safe(&everyone.iter().copied().collect::<Vec<_>>().join(", "))
            ));
        }
    }
    let mut schemas: Vec<&Schema> = Vec::new();
    for i in items {
        if !schemas.iter().any(|s| s.id == i.schema.id) {
            schemas.push(&i.schema);
        }
    }
    // Each flag's entries: a key twice, or two keys to one name, would write one over the
    // other.
    for (flag, list) in [
        ("--ls-user", None),
        ("--ls-control", Some(&options.controls)),
        ("--ls-data", Some(&options.fields)),
    ] {
        let keys: Vec<&str> = match list {
            Some(l) => l.iter().map(|(k, _)| k.as_str()).collect(),
            None => options.users.iter().map(|(k, _)| k.as_str()).collect(),
        };
        if let Some((_, k)) = keys
            .iter()
            .enumerate()
            .find(|(i, k)| keys[..*i].contains(k))
        {
            return Err(format!("{flag}: '{}' is given twice", safe(k)));
        }
        if let Some(l) = list {
            let names: Vec<&str> = l.iter().map(|(_, v)| v.as_str()).collect();
            if let Some((_, n)) = names
                .iter()
                .enumerate()
                .find(|(i, n)| names[..*i].contains(n))
            {
                return Err(format!(
                    "{flag}: two entries name '{}'; each needs its own",
                    safe(n)
                ));
            }
        }
    }
    const FIELDS: [&str; 7] = [
        "prompt",
        "response",
        "model",
        "response_b",
        "model_b",
        "id",
        "system",
    ];
    for (f, n) in &options.fields {
        if !FIELDS.contains(&f.as_str()) {
            return Err(format!(
                "--ls-data {}={}: '{}' is no item field (they are: {})",
                safe(f),
                safe(n),
                safe(f),
                FIELDS.join(", ")
            ));
        }
    }
    let Some(config) = &options.config else {
        if !options.controls.is_empty() {
            return Err("--ls-control names the controls of a labelling config: give it with --label-config".into());
        }
        return Ok(());
    };
    let controls = || {
        config
            .controls
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (q, c) in &options.controls {
        if !schemas.iter().any(|s| s.question(q).is_some()) {
            return Err(format!(
                "--ls-control {}={}: no question '{}' in the schema of this export ({})",
                safe(q),
                safe(c),
                safe(q),
                schemas
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !config.controls.contains_key(c) {
            return Err(format!(
                "--ls-control {}={}: the labelling config has no control '{}' (it has: {})",
                safe(q),
                safe(c),
                safe(c),
                safe(&controls())
            ));
        }
    }
    for schema in schemas {
        let answered = schema.questions.iter().any(|q| {
            config
                .controls
                .get(LabelConfig::control_for(&q.id, &options.controls))
                .is_some_and(|c| c.0 != "textarea")
        });
        if !answered {
            return Err(format!(
                "no control of the labelling config ({}) answers a question of schema {} ({}): every answer would be left out. Name each control's question with --ls-control QUESTION=CONTROL,...",
                safe(&controls()),
                schema.id,
                schema.question_list()
            ));
        }
    }
    Ok(())
}

/// Every question of every schema in the export, in first-seen order: each is a
/// `label_<question>` column of every row.
fn hf_questions(items: &[ExportItem]) -> Vec<(String, Kind)> {
    let mut questions: Vec<(String, Kind)> = Vec::new();
    for i in items {
        for q in &i.schema.questions {
            match questions.iter_mut().find(|(id, _)| *id == q.id) {
                // A question multi-select in any schema is a list column for all.
                Some((_, kind)) if q.kind == Kind::Multi => *kind = Kind::Multi,
                Some(_) => {}
                None => questions.push((q.id.clone(), q.kind)),
            }
        }
    }
    questions
}

/// The dataset card (`README.md`) of an `hf` export folder: the columns' types as YAML
/// `dataset_info.features`, fixed by the schemas rather than guessed from the rows (a
/// column that is null in every row of one export would otherwise be typed `null`, and
/// two exports would not concatenate), and the `train` split's file.
pub fn hf_card(items: &[ExportItem], rows: usize, data_file: &str) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut y =
        String::from("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n");
    y.push_str(&format!("    path: {}\n", q(data_file)));
    y.push_str("dataset_info:\n  features:\n");
    let scalar = |y: &mut String, name: &str, dtype: &str| {
        y.push_str(&format!("  - name: {}\n    dtype: {dtype}\n", q(name)));
    };
    let list = |y: &mut String, name: &str, dtype: &str| {
        y.push_str(&format!("  - name: {}\n    list: {dtype}\n", q(name)));
    };
    let fields = |y: &mut String, fs: &[(&str, &str)]| {
        for (n, t) in fs {
            y.push_str(&format!("    - name: {}\n      dtype: {t}\n", q(n)));
        }
    };
    for c in ["id", "batch_id", "item_sha256", "prompt"] {
        scalar(&mut y, c, "string");
    }
    y.push_str("  - name: \"messages\"\n    list:\n");
    fields(&mut y, &[("role", "string"), ("content", "string")]);
    for c in ["response", "model", "response_b", "model_b"] {
        scalar(&mut y, c, "string");
    }
    list(&mut y, "images", "string");
    scalar(&mut y, "gold", "bool");
    let questions = hf_questions(items);
    for (id, kind) in &questions {
        let name = format!("label_{id}");
        if *kind == Kind::Multi {
            list(&mut y, &name, "string");
        } else {
            scalar(&mut y, &name, "string");
        }
    }
    scalar(&mut y, "label_source", "string");
    if !questions.is_empty() {
        y.push_str("  - name: \"agreement\"\n    struct:\n");
        let qs: Vec<(&str, &str)> = questions
            .iter()
            .map(|(id, _)| (id.as_str(), "float64"))
            .collect();
        fields(&mut y, &qs);
    }
    scalar(&mut y, "num_ratings", "int64");
    y.push_str("  - name: \"ratings\"\n    list:\n");
    fields(
        &mut y,
        &[
            ("rater", "string"),
            ("status", "string"),
            ("answers", "string"),
            ("justification", "string"),
            ("skip_reason", "string"),
            ("active_ms", "int64"),
            ("submitted", "string"),
        ],
    );
    scalar(&mut y, "metadata", "string");
    y.push_str("---\n\n");
    let mut schemas: Vec<&str> = items.iter().map(|i| i.schema.id.as_str()).collect();
    schemas.sort_unstable();
    schemas.dedup();
    y.push_str(&format!(
        "# verdict export\n\n{} written by `verdict hub export --format hf`: one row per item rated, \
         with the final answers (`label_<question>`, `label_source`), agreement per question and \
         every rater's record (`ratings`). Schemas: {}. Columns: docs/interop.md of verdict.\n\n\
         ```python\nfrom datasets import load_dataset\nds = load_dataset(\"path/to/this/folder\", split=\"train\")\n```\n",
        crate::safe::count(rows as u64, "item", "items"),
        crate::safe::sanitize_line(&schemas.join(", "))
    ));
    y
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
    // Each row has every column (null where it does not apply), so that the columns'
    // types are the same on every row.
    let questions = hf_questions(items);
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
