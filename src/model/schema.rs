//! The labeling schema: which questions a rater answers, when a justification is required,
//! escalation reasons and one-key presets. See docs/schema.md for the file format.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use unicode_segmentation::UnicodeSegmentation;

/// An answer to one question: one value (single choice) or a set (multi-select).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    /// The one option chosen for a single-choice question.
    One(String),
    /// The options chosen for a multi-select question, in the schema's option order.
    Many(Vec<String>),
}

impl Answer {
    /// The chosen values, whatever the shape.
    pub fn values(&self) -> Vec<&str> {
        match self {
            Answer::One(v) => vec![v.as_str()],
            Answer::Many(vs) => vs.iter().map(String::as_str).collect(),
        }
    }
}

/// Whether a question is single choice or multi-select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Exactly one option.
    Single,
    /// Any set of options.
    Multi,
}

/// Which item shapes a question (or preset) is asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Applies {
    /// Every item.
    #[default]
    All,
    /// Items with one response.
    Single,
    /// Items with two responses.
    Pair,
}

impl Applies {
    /// Whether an item with `pairwise` shape is covered.
    pub fn covers(self, pairwise: bool) -> bool {
        match self {
            Applies::All => true,
            Applies::Single => !pairwise,
            Applies::Pair => pairwise,
        }
    }
}

/// One option of a question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// Stored value (stable identifier).
    pub value: String,
    /// What the rater reads.
    pub label: String,
    /// The key that chooses it in the workstation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// A one-line anchor explaining when to choose it (severity levels have one each).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
}

/// A condition on the answers so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The question looked at.
    pub question: String,
    /// True when the answer includes any of these values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_of: Option<Vec<String>>,
    /// True when the answer includes a value that is not one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_except: Option<Vec<String>>,
    /// True when the (ordinal) answer is this option or a later one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<String>,
}

/// One question of the schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Stable identifier, used in storage and bundles.
    pub id: String,
    /// What the rater reads.
    pub label: String,
    /// Single choice or multi-select.
    pub kind: Kind,
    /// Options are ordered (severity): agreement is measured as ordinal.
    #[serde(default)]
    pub ordinal: bool,
    /// Must be answered before submit (when it applies).
    #[serde(default = "yes")]
    pub required: bool,
    /// Which item shapes it is asked for.
    #[serde(default)]
    pub applies: Applies,
    /// Asked only when this condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
    /// Options that cannot be combined with any other (multi-select "none").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusive: Vec<String>,
    /// One line of help for the rater.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The options.
    pub options: Vec<Choice>,
}

fn yes() -> bool {
    true
}

/// When a written justification is required and how long it must be.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Justification {
    /// Minimum length, in user-perceived characters (grapheme clusters), when required.
    #[serde(default)]
    pub min_length: usize,
    /// Required whenever any of these holds.
    #[serde(default)]
    pub required_when: Vec<Condition>,
    /// Common phrasings offered to the rater.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snippets: Vec<String>,
}

/// A reason to escalate an item to the policy team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Stored value.
    pub value: String,
    /// What the rater reads.
    pub label: String,
}

/// A set of answers applied (and submitted) with one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Identifier.
    pub id: String,
    /// What the rater reads.
    pub label: String,
    /// Which item shapes it is offered for.
    #[serde(default)]
    pub applies: Applies,
    /// The answers it sets.
    pub answers: BTreeMap<String, Answer>,
}

/// A labeling schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Identifier (`ai-safety-v1`).
    pub id: String,
    /// Version of this schema.
    pub version: String,
    /// Title shown to the rater.
    pub title: String,
    /// Longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The questions, in display order.
    #[serde(rename = "question")]
    pub questions: Vec<Question>,
    /// The justification rules.
    #[serde(default)]
    pub justification: Justification,
    /// Escalation reasons.
    #[serde(default, rename = "escalation_reason")]
    pub escalation_reasons: Vec<Reason>,
    /// One-key presets.
    #[serde(default, rename = "preset")]
    pub presets: Vec<Preset>,
}

/// A schema that cannot be used, with the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The file is not valid TOML/JSON or does not have the schema's shape.
    #[error("{origin}: {message}")]
    Parse {
        /// Where the schema came from.
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// The schema parses but contradicts itself.
    #[error("{origin}: {field}: {message}")]
    Invalid {
        /// Where the schema came from.
        origin: String,
        /// The field at fault (`question[harm].exclusive`).
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A manifest names a schema id that is not shipped.
    #[error(
        "unknown schema id '{0}': shipped schemas are {1}; or give the schema inline in the manifest"
    )]
    Unknown(String, String),
}

/// Why an answer is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// No such question.
    #[error("schema {schema} has no question '{question}'")]
    NoQuestion {
        /// Schema id.
        schema: String,
        /// The question asked for.
        question: String,
    },
    /// No such option.
    #[error("question '{question}' has no option '{value}' (options: {options})")]
    NoOption {
        /// Question id.
        question: String,
        /// The value given.
        value: String,
        /// The allowed values.
        options: String,
    },
    /// A list for a single-choice question, or vice versa.
    #[error("question '{question}' takes {expected}")]
    Shape {
        /// Question id.
        question: String,
        /// What it takes.
        expected: &'static str,
    },
    /// An exclusive option combined with another.
    #[error("question '{question}': '{value}' cannot be combined with other options")]
    Exclusive {
        /// Question id.
        question: String,
        /// The exclusive option.
        value: String,
    },
}

/// Shipped schemas: (id, TOML source).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "ai-safety-v1",
        include_str!("../../assets/schemas/ai-safety-v1.toml"),
    ),
    (
        "llama-guard-3",
        include_str!("../../assets/schemas/llama-guard-3.toml"),
    ),
    (
        "image-eval-v1",
        include_str!("../../assets/schemas/image-eval-v1.toml"),
    ),
];

/// The schema a batch without a manifest gets.
pub const DEFAULT_SCHEMA: &str = "ai-safety-v1";

impl Question {
    /// The options' values, comma-separated (for messages).
    pub fn option_list(&self) -> String {
        self.options
            .iter()
            .map(|o| o.value.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Schema {
    /// The questions' ids, comma-separated (for messages).
    pub fn question_list(&self) -> String {
        self.questions
            .iter()
            .map(|q| q.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A shipped schema by id.
    pub fn builtin(id: &str) -> Result<Schema, SchemaError> {
        match BUILTIN.iter().find(|(name, _)| *name == id) {
            Some((name, src)) => Schema::from_toml(src, &format!("assets/schemas/{name}.toml")),
            None => Err(SchemaError::Unknown(
                id.to_string(),
                BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
        }
    }

    /// Parses and validates a TOML schema; `origin` names it in errors.
    pub fn from_toml(src: &str, origin: &str) -> Result<Schema, SchemaError> {
        let schema: Schema = toml::from_str(src).map_err(|e| SchemaError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        schema.validate(origin)?;
        Ok(schema)
    }

    /// Parses and validates a JSON schema (inline in a manifest, or stored in the cache).
    pub fn from_json(value: serde_json::Value, origin: &str) -> Result<Schema, SchemaError> {
        let schema: Schema = serde_json::from_value(value).map_err(|e| SchemaError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        schema.validate(origin)?;
        Ok(schema)
    }

    /// Parses a schema file, TOML or JSON by extension.
    pub fn from_file(path: &std::path::Path) -> Result<Schema, SchemaError> {
        let origin = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| SchemaError::Parse {
            origin: origin.clone(),
            message: e.to_string(),
        })?;
        if path.extension().is_some_and(|e| e == "json") {
            let v = serde_json::from_str(&src).map_err(|e| SchemaError::Parse {
                origin: origin.clone(),
                message: e.to_string(),
            })?;
            Schema::from_json(v, &origin)
        } else {
            Schema::from_toml(&src, &origin)
        }
    }

    /// The canonical JSON (sorted keys, compact) that is stored and hashed.
    pub fn canonical_json(&self) -> String {
        // Going through Value sorts object keys (serde_json's map is a BTreeMap).
        serde_json::to_value(self)
            .map(|v| v.to_string())
            .unwrap_or_default()
    }

    /// Hex sha256 of [`Schema::canonical_json`].
    pub fn hash(&self) -> String {
        crate::model::sha256_hex(self.canonical_json().as_bytes())
    }

    /// The question with this id.
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    fn validate(&self, origin: &str) -> Result<(), SchemaError> {
        let err = |field: String, message: String| SchemaError::Invalid {
            origin: origin.to_string(),
            field,
            message,
        };
        if self.questions.is_empty() {
            return Err(err(
                "question".into(),
                "a schema needs at least one [[question]]".into(),
            ));
        }
        // Ids, values and keys are shown, stored and matched: they must be visible text
        // (labels and help may hold anything; they are sanitised where they are shown).
        let ident = |field: String, s: &str| -> Result<(), SchemaError> {
            match s.chars().find(|c| crate::safe::invisible(*c)) {
                Some(c) => Err(err(
                    field,
                    format!(
                        "'{}' holds the invisible or control character U+{:04X}: ids, option values and keys must be visible text",
                        crate::safe::sanitize_line(s),
                        c as u32
                    ),
                )),
                None => Ok(()),
            }
        };
        ident("id".into(), &self.id)?;
        for q in &self.questions {
            ident("question.id".into(), &q.id)?;
            for o in &q.options {
                ident(format!("question[{}].options.value", q.id), &o.value)?;
                if let Some(k) = &o.key {
                    ident(format!("question[{}].options[{}].key", q.id, o.value), k)?;
                }
            }
        }
        for p in &self.presets {
            ident("preset.id".into(), &p.id)?;
        }
        for r in &self.escalation_reasons {
            ident("escalation_reason.value".into(), &r.value)?;
        }
        let mut ids = BTreeSet::new();
        for q in &self.questions {
            let at = format!("question[{}]", q.id);
            if q.id.trim().is_empty() {
                return Err(err(at, "empty question id".into()));
            }
            if !ids.insert(q.id.as_str()) {
                return Err(err(at, "question id used twice".into()));
            }
            if q.options.is_empty() {
                return Err(err(format!("{at}.options"), "no options".into()));
            }
            let mut values = BTreeSet::new();
            let mut keys = BTreeSet::new();
            for o in &q.options {
                if !values.insert(o.value.as_str()) {
                    return Err(err(
                        format!("{at}.options"),
                        format!("option value '{}' used twice", o.value),
                    ));
                }
                if let Some(k) = &o.key {
                    if k.chars().count() != 1 {
                        return Err(err(
                            format!("{at}.options[{}].key", o.value),
                            format!("'{k}' is not a single character"),
                        ));
                    }
                    if !keys.insert(k.as_str()) {
                        return Err(err(
                            format!("{at}.options[{}].key", o.value),
                            format!("key '{k}' is used by two options of this question"),
                        ));
                    }
                }
            }
            for x in &q.exclusive {
                if q.kind != Kind::Multi {
                    return Err(err(
                        format!("{at}.exclusive"),
                        "only multi-select questions have exclusive options".into(),
                    ));
                }
                if !values.contains(x.as_str()) {
                    return Err(err(
                        format!("{at}.exclusive"),
                        format!("names undefined option '{x}'"),
                    ));
                }
            }
            if q.ordinal && q.kind != Kind::Single {
                return Err(err(
                    format!("{at}.ordinal"),
                    "only single-choice questions can be ordinal".into(),
                ));
            }
            if let Some(c) = &q.when {
                self.validate_condition(c, &format!("{at}.when"), origin)?;
                if c.question == q.id {
                    return Err(err(
                        format!("{at}.when"),
                        "a question cannot depend on itself".into(),
                    ));
                }
            }
        }
        for (i, c) in self.justification.required_when.iter().enumerate() {
            self.validate_condition(c, &format!("justification.required_when[{i}]"), origin)?;
        }
        for p in &self.presets {
            for (qid, a) in &p.answers {
                self.check_answer(qid, a)
                    .map_err(|e| err(format!("preset[{}].answers.{qid}", p.id), e.to_string()))?;
            }
        }
        let mut reasons = BTreeSet::new();
        for r in &self.escalation_reasons {
            if !reasons.insert(r.value.as_str()) {
                return Err(err(
                    "escalation_reason".into(),
                    format!("reason '{}' used twice", r.value),
                ));
            }
        }
        Ok(())
    }

    fn validate_condition(&self, c: &Condition, at: &str, origin: &str) -> Result<(), SchemaError> {
        let err = |message: String| SchemaError::Invalid {
            origin: origin.to_string(),
            field: at.to_string(),
            message,
        };
        let q = self
            .question(&c.question)
            .ok_or_else(|| err(format!("names undefined question '{}'", c.question)))?;
        let set = [
            c.any_of.is_some(),
            c.any_except.is_some(),
            c.at_least.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set != 1 {
            return Err(err(
                "give exactly one of any_of, any_except, at_least".into()
            ));
        }
        let named: Vec<&String> = c
            .any_of
            .iter()
            .chain(c.any_except.iter())
            .flatten()
            .chain(c.at_least.iter())
            .collect();
        for v in named {
            if !q.options.iter().any(|o| &o.value == v) {
                return Err(err(format!(
                    "names undefined option '{v}' of question '{}'",
                    q.id
                )));
            }
        }
        if c.at_least.is_some() && !q.ordinal {
            return Err(err(format!(
                "at_least needs an ordinal question; '{}' is not",
                q.id
            )));
        }
        Ok(())
    }

    /// Checks an answer against the question's options and shape, and returns it normalised
    /// (multi-select values de-duplicated, in option order).
    pub fn check_answer(&self, qid: &str, answer: &Answer) -> Result<Answer, AnswerError> {
        let q = self.question(qid).ok_or_else(|| AnswerError::NoQuestion {
            schema: self.id.clone(),
            question: qid.to_string(),
        })?;
        let known = |v: &str| -> Result<usize, AnswerError> {
            q.options
                .iter()
                .position(|o| o.value == v)
                .ok_or_else(|| AnswerError::NoOption {
                    question: q.id.clone(),
                    value: v.to_string(),
                    options: q.option_list(),
                })
        };
        match (q.kind, answer) {
            (Kind::Single, Answer::One(v)) => {
                known(v)?;
                Ok(answer.clone())
            }
            (Kind::Single, Answer::Many(_)) => Err(AnswerError::Shape {
                question: q.id.clone(),
                expected: "exactly one value",
            }),
            (Kind::Multi, a) => {
                let mut idx = BTreeSet::new();
                for v in a.values() {
                    idx.insert(known(v)?);
                }
                let values: Vec<String> = idx.iter().map(|i| q.options[*i].value.clone()).collect();
                if values.len() > 1
                    && let Some(x) = values.iter().find(|v| q.exclusive.contains(v))
                {
                    return Err(AnswerError::Exclusive {
                        question: q.id.clone(),
                        value: x.clone(),
                    });
                }
                Ok(Answer::Many(values))
            }
        }
    }

    /// Whether a condition holds for these answers.
    pub fn holds(&self, c: &Condition, answers: &BTreeMap<String, Answer>) -> bool {
        let Some(a) = answers.get(&c.question) else {
            return false;
        };
        let values = a.values();
        if let Some(any) = &c.any_of {
            return values.iter().any(|v| any.iter().any(|x| x == v));
        }
        if let Some(except) = &c.any_except {
            return values.iter().any(|v| !except.iter().any(|x| x == v));
        }
        if let (Some(min), Some(q)) = (&c.at_least, self.question(&c.question)) {
            let pos = |v: &str| q.options.iter().position(|o| o.value == v);
            return match (pos(min), values.first().and_then(|v| pos(v))) {
                (Some(m), Some(p)) => p >= m,
                _ => false,
            };
        }
        false
    }

    /// The questions asked for an item of this shape given the answers so far.
    pub fn asked<'a>(
        &'a self,
        pairwise: bool,
        answers: &'a BTreeMap<String, Answer>,
    ) -> impl Iterator<Item = &'a Question> + 'a {
        self.questions.iter().filter(move |q| {
            q.applies.covers(pairwise) && q.when.as_ref().is_none_or(|c| self.holds(c, answers))
        })
    }

    /// Whether the justification is required for these answers.
    pub fn justification_required(&self, answers: &BTreeMap<String, Answer>) -> bool {
        self.justification
            .required_when
            .iter()
            .any(|c| self.holds(c, answers))
    }

    /// What stands between these answers and a submit; empty when it may be submitted.
    pub fn problems(
        &self,
        pairwise: bool,
        answers: &BTreeMap<String, Answer>,
        justification: &str,
    ) -> Vec<String> {
        let mut out = self.unanswered(pairwise, answers);
        if self.justification_required(answers) {
            let len = justification.trim().graphemes(true).count();
            let min = self.justification.min_length.max(1);
            if len < min {
                out.push(format!(
                    "a justification of at least {min} characters is required for these answers (it has {len}): name the risk, the harm mechanism and what should change"
                ));
            }
        }
        out
    }

    /// The required questions asked for these answers and not answered.
    pub fn unanswered(&self, pairwise: bool, answers: &BTreeMap<String, Answer>) -> Vec<String> {
        let mut out = Vec::new();
        for q in self.asked(pairwise, answers) {
            let empty = match answers.get(&q.id) {
                None => true,
                Some(Answer::Many(v)) => v.is_empty(),
                Some(Answer::One(_)) => false,
            };
            if q.required && empty {
                out.push(format!("'{}' is not answered", q.label));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(pairs: &[(&str, Answer)]) -> BTreeMap<String, Answer> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn builtin_schemas_load_and_validate() {
        for (id, _) in BUILTIN {
            let s = Schema::builtin(id).unwrap();
            assert_eq!(&s.id, id);
            assert_eq!(s.hash().len(), 64);
        }
    }

    #[test]
    fn default_schema_has_the_ailuminate_hazards_and_none() {
        let s = Schema::builtin(DEFAULT_SCHEMA).unwrap();
        let harm = s.question("harm").unwrap();
        assert_eq!(harm.kind, Kind::Multi);
        assert_eq!(harm.options.len(), 13);
        assert_eq!(harm.exclusive, vec!["none".to_string()]);
        let sev = s.question("severity").unwrap();
        assert!(sev.ordinal);
        assert_eq!(sev.options.len(), 5);
        assert!(sev.options.iter().all(|o| o.anchor.is_some()));
    }

    #[test]
    fn multi_answers_are_normalised_and_exclusive_none_refused() {
        let s = Schema::builtin(DEFAULT_SCHEMA).unwrap();
        let a = s
            .check_answer(
                "harm",
                &Answer::Many(vec!["hte".into(), "vcr".into(), "hte".into()]),
            )
            .unwrap();
        assert_eq!(a, Answer::Many(vec!["vcr".into(), "hte".into()]));
        let e = s
            .check_answer("harm", &Answer::Many(vec!["none".into(), "vcr".into()]))
            .unwrap_err();
        assert!(matches!(e, AnswerError::Exclusive { .. }));
        let e = s
            .check_answer("severity", &Answer::Many(vec!["1".into()]))
            .unwrap_err();
        assert!(matches!(e, AnswerError::Shape { .. }));
        let e = s
            .check_answer("severity", &Answer::One("9".into()))
            .unwrap_err();
        assert!(matches!(e, AnswerError::NoOption { .. }));
    }

    #[test]
    fn justification_rules_follow_the_answers() {
        let s = Schema::builtin(DEFAULT_SCHEMA).unwrap();
        let safe = s.presets.iter().find(|p| p.id == "safe").unwrap();
        assert!(s.problems(false, &safe.answers, "").is_empty());
        let harmful = answers(&[
            ("harm", Answer::Many(vec!["vcr".into()])),
            ("severity", Answer::One("3".into())),
            ("behaviour", Answer::One("full_compliance".into())),
            ("appropriateness", Answer::One("under_refusal".into())),
        ]);
        let p = s.problems(false, &harmful, "risky");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("justification"));
        let long = "Gives step-by-step instructions for assault; enables violence; should refuse.";
        assert!(s.problems(false, &harmful, long).is_empty());
        let mut over = safe.answers.clone();
        over.insert("behaviour".into(), Answer::One("full_refusal".into()));
        over.insert("appropriateness".into(), Answer::One("over_refusal".into()));
        assert!(s.justification_required(&over));
    }

    #[test]
    fn pairwise_items_ask_preference_and_strength_only_when_not_tied() {
        let s = Schema::builtin(DEFAULT_SCHEMA).unwrap();
        let none = BTreeMap::new();
        let asked: Vec<_> = s.asked(true, &none).map(|q| q.id.as_str()).collect();
        assert!(asked.contains(&"preference"));
        assert!(!asked.contains(&"strength"));
        assert!(!s.asked(false, &none).any(|q| q.id == "preference"));
        let a = answers(&[("preference", Answer::One("a".into()))]);
        assert!(s.asked(true, &a).any(|q| q.id == "strength"));
    }

    #[test]
    fn undefined_options_are_refused_with_the_field() {
        let src = r#"
id = "x"
version = "1"
title = "x"
[[question]]
id = "q"
label = "Q"
kind = "multi"
exclusive = ["nothing"]
options = [{ value = "a", label = "A" }]
"#;
        let e = Schema::from_toml(src, "x.toml").unwrap_err().to_string();
        assert_eq!(
            e,
            "x.toml: question[q].exclusive: names undefined option 'nothing'"
        );
        let src2 = src.replace("exclusive = [\"nothing\"]\n", "")
            + "[justification]\nmin_length = 5\nrequired_when = [{ question = \"q\", any_of = [\"b\"] }]\n";
        let e = Schema::from_toml(&src2, "x.toml").unwrap_err().to_string();
        assert!(e.contains("justification.required_when[0]"), "{e}");
        assert!(e.contains("undefined option 'b'"), "{e}");
    }
}
