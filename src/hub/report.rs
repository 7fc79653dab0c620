//! The hub's report (progress, raters, agreement) and the merged dataset export. Pure
//! computations over what [`super::db`] reads.

use super::agreement::{Agreement, Level, alpha, fleiss};
use super::db::{BatchRow, RecordRow};
use crate::model::{Answer, Kind, Question};
use serde::Serialize;
use std::collections::BTreeMap;

/// Progress of one batch.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BatchProgress {
    /// Batch id.
    pub batch: String,
    /// Raters wanted per item.
    pub overlap: i64,
    /// Items (gold items not counted).
    pub items: i64,
    /// Items with as many records as the overlap.
    pub complete: usize,
    /// Records received.
    pub records: usize,
}

/// One rater's figures.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct RaterFigures {
    /// Name.
    pub rater: String,
    /// Records received (done or skipped).
    pub items_done: usize,
    /// Median active seconds per item.
    pub median_seconds: f64,
    /// Gold items answered.
    pub gold_items: usize,
    /// Of those, answered as the reference on every question it gives.
    pub gold_correct: usize,
    /// `gold_correct / gold_items`.
    pub gold_accuracy: Option<f64>,
    /// Gold items whose record the rater changed after the first (for instance after
    /// calibration showed the reference): kept, shown here, never rescored.
    pub gold_changed_after_feedback: usize,
    /// `passed`, `failed` or `exempt` (worked before the qualification set came), when
    /// the hub has a qualification set and the rater has a result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualification: Option<String>,
    /// The qualification score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualification_score: Option<f64>,
    /// Per question: how often the rater's answer was the item's final answer, on items
    /// whose final answers were adjudicated by a reviewer or are the majority's (gold
    /// items count in gold accuracy; an item with one rater has no other judgement).
    #[serde(default)]
    pub with_final: BTreeMap<String, Share>,
}

/// A share with what it counts.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Share {
    /// Items where the answer was the final one.
    pub agreed: usize,
    /// Items counted.
    pub items: usize,
    /// `agreed / items`.
    pub share: Option<f64>,
    /// Of the items counted, those adjudicated by a reviewer.
    #[serde(default)]
    pub adjudicated: usize,
}

/// A reviewer's final answers to an item.
#[derive(Debug, Clone)]
pub struct AdjudicationRow {
    /// Batch id.
    pub batch: String,
    /// Item id.
    pub item: String,
    /// The reviewer's name.
    pub reviewer: String,
    /// The final answers.
    pub answers: BTreeMap<String, Answer>,
    /// The reviewer's reason (may be empty when they confirmed a rater's answers).
    pub reason: String,
    /// When the reviewer submitted (RFC 3339).
    pub submitted: String,
    /// Why the item was reviewed.
    pub queued_because: Vec<String>,
}

/// An item's final answers and where they come from: a reviewer's adjudication, the
/// gold reference, the majority of its raters (per question, more than half of those who
/// answered it), or its only rater.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Final {
    /// `adjudicated`, `gold`, `majority`, `single`, or `unresolved` (raters answered, no
    /// question has a majority).
    pub source: String,
    /// The answers, per question.
    pub answers: BTreeMap<String, Answer>,
    /// Questions the raters answered with no majority (and no adjudication).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unresolved: Vec<String>,
    /// The reviewer, for `adjudicated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    /// The reviewer's reason, for `adjudicated` (empty: they confirmed a rater's answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Raters whose answers the reviewer confirmed (their answers equal the final ones).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub confirmed: Vec<String>,
    /// Why the item was reviewed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub review_reasons: Vec<String>,
}

/// One agreement figure.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AgreementRow {
    /// Batch id.
    pub batch: String,
    /// Question id.
    pub question: String,
    /// For a multi-select question, the option (category) measured as yes/no.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option: Option<String>,
    /// `krippendorff_alpha` or `fleiss_kappa`.
    pub measure: String,
    /// `nominal`, `ordinal` or `binary`.
    pub level: String,
    /// The value; null where undefined (no variation, or too little data).
    pub value: Option<f64>,
    /// Items behind it.
    pub items: usize,
    /// When the batch's records were made under more than one guideline document: the
    /// one (`id version`) whose records this figure counts (each item's records under it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guidelines: Option<String>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// Per batch.
    pub batches: Vec<BatchProgress>,
    /// Per rater.
    pub raters: Vec<RaterFigures>,
    /// Per batch and question.
    pub agreement: Vec<AgreementRow>,
    /// Escalations per reason, open and resolved (`verdict hub escalations` has the rest).
    pub escalations: Vec<super::escalations::ReasonCount>,
    /// The review queue, when the report was made from a hub.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviews: Option<ReviewCounts>,
    /// Per reviewer: items adjudicated, and how (a rater's answers confirmed, or final
    /// answers of their own).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reviewers: Vec<ReviewerFigures>,
}

/// One reviewer's work.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReviewerFigures {
    /// Name.
    pub reviewer: String,
    /// Items adjudicated.
    pub adjudicated: usize,
    /// Of those, where the final answers are some rater's.
    pub confirmed_a_rater: usize,
    /// Of those, final answers of the reviewer's own (with a reason).
    pub own_answers: usize,
}

/// The review queue's state.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReviewCounts {
    /// Waiting for a reviewer.
    pub waiting: i64,
    /// Given to a reviewer, not yet answered.
    pub in_review: i64,
    /// Adjudicated.
    pub adjudicated: i64,
}

impl From<(i64, i64, i64)> for ReviewCounts {
    fn from((waiting, in_review, adjudicated): (i64, i64, i64)) -> ReviewCounts {
        ReviewCounts {
            waiting,
            in_review,
            adjudicated,
        }
    }
}

/// Records of done (not skipped), non-gold items, grouped by item.
fn by_item<'a>(records: &'a [RecordRow], batch: &str) -> BTreeMap<&'a str, Vec<&'a RecordRow>> {
    let mut out: BTreeMap<&str, Vec<&RecordRow>> = BTreeMap::new();
    for r in records
        .iter()
        .filter(|r| r.batch == batch && r.gold.is_none() && r.status == "done")
    {
        out.entry(r.item.as_str()).or_default().push(r);
    }
    out
}

fn row(
    batch: &str,
    q: &Question,
    option: Option<&str>,
    measure: &str,
    level: &str,
    a: Agreement,
) -> AgreementRow {
    AgreementRow {
        batch: batch.to_string(),
        question: q.id.clone(),
        option: option.map(str::to_string),
        measure: measure.into(),
        level: level.into(),
        value: a.value,
        items: a.units,
        guidelines: None,
    }
}

/// Agreement on one question of a batch: nominal (or ordinal) alpha and Fleiss' kappa for
/// a single choice; for a multi-select question, one binary alpha and kappa per option.
fn question_agreement(
    batch: &str,
    q: &Question,
    items: &BTreeMap<&str, Vec<&RecordRow>>,
) -> Vec<AgreementRow> {
    let index = |v: &str| q.options.iter().position(|o| o.value == v);
    let mut out = Vec::new();
    match q.kind {
        Kind::Single => {
            let units: Vec<Vec<usize>> = items
                .values()
                .map(|rs| {
                    rs.iter()
                        .filter_map(|r| match r.answers.get(&q.id) {
                            Some(Answer::One(v)) => index(v),
                            _ => None,
                        })
                        .collect()
                })
                .collect();
            let (level, name) = if q.ordinal {
                (Level::Ordinal, "ordinal")
            } else {
                (Level::Nominal, "nominal")
            };
            out.push(row(
                batch,
                q,
                None,
                "krippendorff_alpha",
                name,
                alpha(&units, level),
            ));
            let counts: Vec<Vec<usize>> = units
                .iter()
                .map(|u| {
                    let mut c = vec![0; q.options.len()];
                    for v in u {
                        c[*v] += 1;
                    }
                    c
                })
                .collect();
            out.push(row(
                batch,
                q,
                None,
                "fleiss_kappa",
                "nominal",
                fleiss(&counts),
            ));
        }
        Kind::Multi => {
            for o in &q.options {
                let units: Vec<Vec<usize>> = items
                    .values()
                    .map(|rs| {
                        rs.iter()
                            .filter_map(|r| r.answers.get(&q.id))
                            .map(|a| usize::from(a.values().contains(&o.value.as_str())))
                            .collect()
                    })
                    .collect();
                out.push(row(
                    batch,
                    q,
                    Some(&o.value),
                    "krippendorff_alpha",
                    "binary",
                    alpha(&units, Level::Nominal),
                ));
                let counts: Vec<Vec<usize>> = units
                    .iter()
                    .map(|u| {
                        vec![
                            u.iter().filter(|v| **v == 0).count(),
                            u.iter().filter(|v| **v == 1).count(),
                        ]
                    })
                    .collect();
                out.push(row(
                    batch,
                    q,
                    Some(&o.value),
                    "fleiss_kappa",
                    "binary",
                    fleiss(&counts),
                ));
            }
        }
    }
    out
}

/// Builds the report.
pub fn report(
    batches: &[BatchRow],
    records: &[RecordRow],
    adjudications: &[AdjudicationRow],
) -> Report {
    let finals: BTreeMap<(String, String), Final> = dataset(records, adjudications)
        .into_iter()
        .filter_map(|d| Some(((d.batch_id, d.item_id), d.final_answers?)))
        .collect();
    let mut progress = Vec::new();
    let mut agreement = Vec::new();
    for b in batches {
        let items = by_item(records, &b.id);
        let mut per_item: BTreeMap<&str, usize> = BTreeMap::new();
        for r in records
            .iter()
            .filter(|r| r.batch == b.id && r.gold.is_none())
        {
            *per_item.entry(r.item.as_str()).or_default() += 1;
        }
        progress.push(BatchProgress {
            batch: b.id.clone(),
            overlap: b.overlap,
            items: b.items - b.gold_items,
            complete: per_item
                .values()
                .filter(|n| **n as i64 >= b.overlap)
                .count(),
            records: records.iter().filter(|r| r.batch == b.id).count(),
        });
        if b.gold_items == b.items {
            continue;
        }
        for q in &b.schema.questions {
            agreement.extend(question_agreement(&b.id, q, &items));
        }
        // Split by guideline version when the batch's records name more than one: each
        // version's figures count only the records made under it.
        let mut versions: Vec<&str> = records
            .iter()
            .filter(|r| r.batch == b.id)
            .filter_map(|r| r.guidelines.as_deref())
            .collect();
        versions.sort_unstable();
        versions.dedup();
        if versions.len() > 1 {
            for v in versions {
                let under: Vec<RecordRow> = records
                    .iter()
                    .filter(|r| r.batch == b.id && r.guidelines.as_deref() == Some(v))
                    .cloned()
                    .collect();
                let items = by_item(&under, &b.id);
                for q in &b.schema.questions {
                    agreement.extend(question_agreement(&b.id, q, &items).into_iter().map(
                        |mut row| {
                            row.guidelines = Some(v.to_string());
                            row
                        },
                    ));
                }
            }
        }
    }
    let mut raters: BTreeMap<&str, Vec<&RecordRow>> = BTreeMap::new();
    for r in records {
        raters.entry(r.rater.as_str()).or_default().push(r);
    }
    let raters = raters
        .into_iter()
        .map(|(name, rs)| {
            // Gold accuracy counts the rater's first record of each gold item (a later
            // revision never rescores), and submitted ones only: a skip is no answer.
            let first = |r: &RecordRow| -> (String, BTreeMap<String, Answer>) {
                r.first
                    .clone()
                    .unwrap_or_else(|| (r.status.clone(), r.answers.clone()))
            };
            type Answers = BTreeMap<String, Answer>;
            let gold: Vec<(&Answers, Answers)> = rs
                .iter()
                .filter_map(|r| {
                    let g = r.gold.as_ref()?;
                    let (status, answers) = first(r);
                    (status == "done").then_some((g, answers))
                })
                .collect();
            let correct = gold
                .iter()
                .filter(|(g, answers)| g.iter().all(|(q, a)| answers.get(q) == Some(a)))
                .count();
            let changed = rs
                .iter()
                .filter(|r| {
                    r.gold.is_some()
                        && r.first.as_ref().is_some_and(|(status, answers)| {
                            *status != r.status || *answers != r.answers
                        })
                })
                .count();
            RaterFigures {
                rater: name.to_string(),
                items_done: rs.len(),
                median_seconds: crate::model::median_seconds(
                    rs.iter().map(|r| r.active_ms).collect(),
                ),
                gold_items: gold.len(),
                gold_correct: correct,
                gold_accuracy: (!gold.is_empty()).then(|| correct as f64 / gold.len() as f64),
                gold_changed_after_feedback: changed,
                qualification: None,
                qualification_score: None,
                with_final: with_final(&rs, &finals),
            }
        })
        .collect();
    Report {
        batches: progress,
        raters,
        agreement,
        escalations: Vec::new(),
        reviews: None,
        reviewers: reviewer_figures(records, adjudications),
    }
}

/// Per reviewer: adjudications, split by whether they confirmed a rater.
fn reviewer_figures(
    records: &[RecordRow],
    adjudications: &[AdjudicationRow],
) -> Vec<ReviewerFigures> {
    let mut out: BTreeMap<&str, ReviewerFigures> = BTreeMap::new();
    for a in adjudications {
        let f = out.entry(&a.reviewer).or_insert_with(|| ReviewerFigures {
            reviewer: a.reviewer.clone(),
            adjudicated: 0,
            confirmed_a_rater: 0,
            own_answers: 0,
        });
        f.adjudicated += 1;
        let confirmed = records.iter().any(|r| {
            r.batch == a.batch && r.item == a.item && r.status == "done" && r.answers == a.answers
        });
        if confirmed {
            f.confirmed_a_rater += 1;
        } else {
            f.own_answers += 1;
        }
    }
    out.into_values().collect()
}

/// Per question, how often a rater's submitted answers were the final ones (on items
/// adjudicated or decided by a majority).
fn with_final(
    rs: &[&RecordRow],
    finals: &BTreeMap<(String, String), Final>,
) -> BTreeMap<String, Share> {
    let mut out: BTreeMap<String, Share> = BTreeMap::new();
    for r in rs.iter().filter(|r| r.status == "done" && r.gold.is_none()) {
        let Some(f) = finals.get(&(r.batch.clone(), r.item.clone())) else {
            continue;
        };
        if f.source != "adjudicated" && f.source != "majority" {
            continue;
        }
        for (q, a) in &f.answers {
            let e = out.entry(q.clone()).or_default();
            e.items += 1;
            if r.answers.get(q) == Some(a) {
                e.agreed += 1;
            }
            if f.source == "adjudicated" {
                e.adjudicated += 1;
            }
        }
    }
    for e in out.values_mut() {
        e.share = (e.items > 0).then(|| e.agreed as f64 / e.items as f64);
    }
    out
}

/// One row of the merged dataset.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetRow {
    /// Batch id.
    pub batch_id: String,
    /// Item id.
    pub item_id: String,
    /// Content hash.
    pub item_sha256: String,
    /// A gold item.
    pub gold: bool,
    /// Every rater's record.
    pub ratings: Vec<serde_json::Value>,
    /// Per question, the answer more than half of the raters who answered it gave.
    pub majority: BTreeMap<String, Answer>,
    /// Per question, the share of rater pairs that agree.
    pub agreement: BTreeMap<String, f64>,
    /// The final answers and their source (none when every rater skipped).
    #[serde(rename = "final", skip_serializing_if = "Option::is_none")]
    pub final_answers: Option<Final>,
    /// Where the item stands in the review queue (`waiting`, `with REVIEWER until T`,
    /// `adjudicated by REVIEWER`), when it is in it: final answers from a majority may
    /// still change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
}

/// What the hub reports about one rater, for that rater (`GET /v1/me`, `verdict stats`):
/// the report's own figures, and per question how often the rater's answer was the
/// majority's on items other raters answered too. Nothing about any other rater.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct MyFigures {
    /// The report's figures for this rater (`hub report`'s row, field for field).
    #[serde(flatten)]
    pub figures: RaterFigures,
    /// Per question: (items where the rater's answer was the majority's, items with a
    /// majority and at least one other rater).
    pub with_majority: BTreeMap<String, (usize, usize)>,
}

/// The figures of `rater` from the records of the items they worked on (every rater's
/// records of those items, for the majorities).
pub fn my_figures(
    batches: &[BatchRow],
    records: &[RecordRow],
    adjudications: &[AdjudicationRow],
    rater: &str,
) -> MyFigures {
    let r = report(batches, records, adjudications);
    let f = r.raters.into_iter().find(|x| x.rater == rater);
    let mut with_majority: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for row in dataset(records, adjudications) {
        if row.gold || row.ratings.len() < 2 {
            continue;
        }
        let Some(own) = records
            .iter()
            .find(|r| r.rater == rater && r.batch == row.batch_id && r.item == row.item_id)
        else {
            continue;
        };
        if own.status != "done" {
            continue;
        }
        for (q, majority) in &row.majority {
            let e = with_majority.entry(q.clone()).or_default();
            e.1 += 1;
            if own.answers.get(q) == Some(majority) {
                e.0 += 1;
            }
        }
    }
    MyFigures {
        figures: f.unwrap_or_else(|| RaterFigures {
            rater: rater.to_string(),
            items_done: 0,
            median_seconds: 0.0,
            gold_items: 0,
            gold_correct: 0,
            gold_accuracy: None,
            gold_changed_after_feedback: 0,
            qualification: None,
            qualification_score: None,
            with_final: BTreeMap::new(),
        }),
        with_majority,
    }
}

/// The merged dataset: one row per item with records, with its final answers.
pub fn dataset(records: &[RecordRow], adjudications: &[AdjudicationRow]) -> Vec<DatasetRow> {
    let adjudicated: BTreeMap<(&str, &str), &AdjudicationRow> = adjudications
        .iter()
        .map(|a| ((a.batch.as_str(), a.item.as_str()), a))
        .collect();
    let mut items: BTreeMap<(&str, &str), Vec<&RecordRow>> = BTreeMap::new();
    for r in records {
        items
            .entry((r.batch.as_str(), r.item.as_str()))
            .or_default()
            .push(r);
    }
    items
        .into_iter()
        .map(|((batch, item), rs)| {
            // A skipped record is no judgement: its answers (an older verdict exported
            // what was chosen before the skip) are never counted or shown.
            let counted: Vec<&&RecordRow> = rs.iter().filter(|r| r.status == "done").collect();
            let mut questions: Vec<&String> =
                counted.iter().flat_map(|r| r.answers.keys()).collect();
            questions.sort();
            questions.dedup();
            let mut majority = BTreeMap::new();
            let mut agreement = BTreeMap::new();
            let mut unresolved = Vec::new();
            for q in questions {
                let answers: Vec<&Answer> =
                    counted.iter().filter_map(|r| r.answers.get(q)).collect();
                let n = answers.len();
                let mut tally: BTreeMap<String, (usize, &Answer)> = BTreeMap::new();
                for a in &answers {
                    let key = serde_json::to_string(a).unwrap_or_default();
                    tally.entry(key).or_insert((0, a)).0 += 1;
                }
                if let Some((count, a)) = tally.values().max_by_key(|(c, _)| *c)
                    && *count * 2 > n
                {
                    majority.insert(q.clone(), (*a).clone());
                } else {
                    unresolved.push(q.clone());
                }
                if n >= 2 {
                    let agreeing: usize = tally.values().map(|(c, _)| c * (c - 1) / 2).sum();
                    agreement.insert(q.clone(), agreeing as f64 / (n * (n - 1) / 2) as f64);
                }
            }
            let final_answers = if let Some(a) = adjudicated.get(&(batch, item)) {
                Some(Final {
                    source: "adjudicated".into(),
                    answers: a.answers.clone(),
                    unresolved: Vec::new(),
                    reviewer: Some(a.reviewer.clone()),
                    reason: Some(a.reason.clone()),
                    confirmed: counted
                        .iter()
                        .filter(|r| r.answers == a.answers)
                        .map(|r| r.rater.clone())
                        .collect(),
                    review_reasons: a.queued_because.clone(),
                })
            } else if let Some(g) = &rs[0].gold {
                Some(Final {
                    source: "gold".into(),
                    answers: g.clone(),
                    unresolved: Vec::new(),
                    reviewer: None,
                    reason: None,
                    confirmed: Vec::new(),
                    review_reasons: Vec::new(),
                })
            } else {
                match counted.len() {
                    0 => None,
                    n => Some(Final {
                        // No question with a majority: nothing final yet.
                        source: match (n, majority.is_empty()) {
                            (1, _) => "single",
                            (_, true) => "unresolved",
                            _ => "majority",
                        }
                        .into(),
                        answers: majority.clone(),
                        unresolved,
                        reviewer: None,
                        reason: None,
                        confirmed: Vec::new(),
                        review_reasons: Vec::new(),
                    }),
                }
            };
            DatasetRow {
                batch_id: batch.to_string(),
                item_id: item.to_string(),
                item_sha256: rs[0].sha256.clone(),
                gold: rs[0].gold.is_some(),
                ratings: rs
                    .iter()
                    .map(|r| {
                        let answers = if r.status == "done" {
                            serde_json::json!(r.answers)
                        } else {
                            serde_json::json!({})
                        };
                        serde_json::json!({
                            "rater": r.rater, "status": r.status, "answers": answers,
                            "justification": r.justification, "skip_reason": r.skip_reason,
                            "escalation": r.escalation, "active_ms": r.active_ms,
                            "submitted": r.submitted,
                        })
                    })
                    .collect(),
                majority,
                agreement,
                final_answers,
                review: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Schema;

    fn rec(
        rater: &str,
        item: &str,
        answers: &[(&str, Answer)],
        gold: Option<&[(&str, Answer)]>,
    ) -> RecordRow {
        let map =
            |xs: &[(&str, Answer)]| xs.iter().map(|(q, a)| (q.to_string(), a.clone())).collect();
        RecordRow {
            rater: rater.into(),
            batch: "b".into(),
            item: item.into(),
            sha256: "h".into(),
            gold: gold.map(map),
            status: "done".into(),
            answers: map(answers),
            justification: String::new(),
            skip_reason: None,
            escalation: None,
            active_ms: 10_000,
            submitted: String::new(),
            first: None,
            guidelines: None,
        }
    }

    #[test]
    fn a_skipped_record_is_never_counted_whatever_answers_it_carries() {
        let schema = Schema::builtin("ai-safety-v1").unwrap();
        let batches = vec![BatchRow {
            id: "b".into(),
            overlap: 3,
            schema,
            items: 2,
            gold_items: 1,
        }];
        let one = |v: &str| Answer::One(v.into());
        let ok = [("behaviour", one("full_compliance"))];
        let skipped = |mut r: RecordRow| {
            r.status = "skipped".into();
            r
        };
        let records = vec![
            rec("r1", "i1", &[("behaviour", one("full_refusal"))], None),
            // Two skips that carry (partial) answers, as an older verdict exported them.
            skipped(rec(
                "r2",
                "i1",
                &[("behaviour", one("full_compliance"))],
                None,
            )),
            skipped(rec(
                "r3",
                "i1",
                &[("behaviour", one("full_compliance"))],
                None,
            )),
            // A skipped gold item whose leftover answer happens to be right.
            skipped(rec("r2", "g", &ok, Some(&ok))),
        ];
        let d = dataset(&records, &[]);
        let i1 = d.iter().find(|r| r.item_id == "i1").unwrap();
        assert_eq!(i1.majority.get("behaviour"), Some(&one("full_refusal")));
        assert!(i1.agreement.is_empty(), "one judgement: no pair to agree");
        assert_eq!(i1.ratings[1]["answers"], serde_json::json!({}));
        let r = report(&batches, &records, &[]);
        let r2 = r.raters.iter().find(|x| x.rater == "r2").unwrap();
        assert_eq!((r2.gold_items, r2.gold_accuracy), (0, None));
        assert!(
            r.agreement
                .iter()
                .filter(|a| a.question == "behaviour" && a.option.is_none())
                .all(|a| a.items == 0),
            "{:?}",
            r.agreement
        );
    }

    #[test]
    fn a_small_report_worked_by_hand() {
        let schema = Schema::builtin("ai-safety-v1").unwrap();
        let batches = vec![BatchRow {
            id: "b".into(),
            overlap: 2,
            schema,
            items: 3,
            gold_items: 1,
        }];
        let one = |v: &str| Answer::One(v.into());
        let ok = [("behaviour", one("full_compliance"))];
        let records = vec![
            rec("r1", "i1", &[("behaviour", one("full_compliance"))], None),
            rec("r2", "i1", &[("behaviour", one("full_compliance"))], None),
            rec("r1", "i2", &[("behaviour", one("full_compliance"))], None),
            rec("r2", "i2", &[("behaviour", one("full_refusal"))], None),
            rec("r1", "g", &ok, Some(&ok)),
            rec(
                "r2",
                "g",
                &[("behaviour", one("partial_refusal"))],
                Some(&ok),
            ),
        ];
        let r = report(&batches, &records, &[]);
        assert_eq!(r.batches[0].complete, 2);
        assert_eq!(r.batches[0].items, 2);
        let get = |q: &str, m: &str| {
            r.agreement
                .iter()
                .find(|a| a.question == q && a.measure == m && a.option.is_none())
                .unwrap()
        };
        // Coincidences: i1 gives (fc,fc) twice, i2 (fc,fr) and (fr,fc): n = 4, alpha = 1 - 3 * 2 / 6 = 0.
        let a = get("behaviour", "krippendorff_alpha");
        assert_eq!((a.value, a.items), (Some(0.0), 2));
        // Fleiss: P = (1 + 0) / 2, P_e = (3/4)^2 + (1/4)^2 = 0.625, kappa = -1/3.
        let k = get("behaviour", "fleiss_kappa").value.unwrap();
        assert!((k + 1.0 / 3.0).abs() < 1e-12, "{k}");
        let r1 = r.raters.iter().find(|x| x.rater == "r1").unwrap();
        let r2 = r.raters.iter().find(|x| x.rater == "r2").unwrap();
        assert_eq!((r1.gold_accuracy, r2.gold_accuracy), (Some(1.0), Some(0.0)));
        assert_eq!(r1.median_seconds, 10.0);
        // Harm categories are measured as one yes/no figure per category.
        assert!(r.agreement.iter().any(|a| a.question == "harm"
            && a.option.as_deref() == Some("vcr")
            && a.level == "binary"));

        let rows = dataset(&records, &[]);
        let i2 = rows.iter().find(|x| x.item_id == "i2").unwrap();
        assert_eq!(
            i2.majority.get("behaviour"),
            None,
            "a 1-1 split has no majority"
        );
        assert_eq!(i2.agreement["behaviour"], 0.0);
        let i1 = rows.iter().find(|x| x.item_id == "i1").unwrap();
        assert_eq!(i1.majority["behaviour"], one("full_compliance"));
        assert_eq!(i1.agreement["behaviour"], 1.0);
    }
}
