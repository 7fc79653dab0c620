//! References beside an item: for a rater, the gold reference of an item they labelled
//! (calibration); for a reviewer (adjudication), what each rater said about an item whose
//! raters disagreed (or that was flagged, or sampled for quality assurance), and what a
//! reviewer's answer needs. The hub sends them; the cache keeps them; the workstation
//! shows them; the hub checks the reviewer's record with the same rules.

use super::{Answer, Escalation, Schema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The reference answer of a gold item the rater has already labelled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Batch id.
    pub batch_id: String,
    /// Item id.
    pub item_id: String,
    /// The reference answers.
    pub answers: BTreeMap<String, Answer>,
    /// Why they are the reference.
    pub explanation: String,
}

/// Why an item is in the review queue and what each of its raters said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// Why it was queued, for a person (`disagreement on severity (67% agree)`, `flagged:
    /// policy_gap`, `quality sample`).
    pub reasons: Vec<String>,
    /// Each rater's record, in a fixed order (rater 1 is the first).
    pub raters: Vec<RaterAnswer>,
}

/// One rater's record of the item under review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaterAnswer {
    /// The rater's name.
    pub rater: String,
    /// `done` or `skipped`.
    pub status: super::Status,
    /// Their answers (empty for a skip).
    #[serde(default)]
    pub answers: BTreeMap<String, Answer>,
    /// Their justification.
    #[serde(default)]
    pub justification: String,
    /// Why they skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// Their flag for the policy team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
}

impl Review {
    /// The raters (1-based numbers) whose submitted answers equal `answers` on every
    /// question either side answered.
    pub fn matching(&self, answers: &BTreeMap<String, Answer>) -> Vec<usize> {
        self.raters
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.status == super::Status::Done && !answers.is_empty() && r.answers == *answers
            })
            .map(|(i, _)| i + 1)
            .collect()
    }

    /// Questions on which the raters who answered them did not all agree.
    pub fn differing(&self) -> Vec<String> {
        let mut qs: Vec<&String> = self
            .raters
            .iter()
            .filter(|r| r.status == super::Status::Done)
            .flat_map(|r| r.answers.keys())
            .collect();
        qs.sort();
        qs.dedup();
        qs.into_iter()
            .filter(|q| {
                let given: Vec<Option<&Answer>> = self
                    .raters
                    .iter()
                    .filter(|r| r.status == super::Status::Done)
                    .map(|r| r.answers.get(*q))
                    .collect();
                given.windows(2).any(|w| w[0] != w[1])
            })
            .cloned()
            .collect()
    }

    /// What stands between a reviewer's answers and a submit: every required question
    /// answered, and a reason (the justification, at least the schema's minimum length)
    /// when the answers are not one rater's: confirming a rater's answers needs no reason
    /// (theirs stands), writing new final answers does.
    pub fn problems(
        &self,
        schema: &Schema,
        pairwise: bool,
        answers: &BTreeMap<String, Answer>,
        justification: &str,
    ) -> Vec<String> {
        use unicode_segmentation::UnicodeSegmentation;
        let mut out = schema.unanswered(pairwise, answers);
        if self.matching(answers).is_empty() {
            let len = justification.trim().graphemes(true).count();
            let min = schema.justification.min_length.max(1);
            if len < min {
                out.push(format!(
                    "these final answers are no rater's: give the reason for them (at least {min} characters; it has {len}), or confirm a rater's answers"
                ));
            }
        }
        out
    }
}

/// What stands between answers and a submit: the review rules for an item under review,
/// the schema's otherwise.
pub fn submit_problems(
    schema: &Schema,
    review: Option<&Review>,
    pairwise: bool,
    answers: &BTreeMap<String, Answer>,
    justification: &str,
) -> Vec<String> {
    match review {
        Some(r) => r.problems(schema, pairwise, answers, justification),
        None => schema.problems(pairwise, answers, justification),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rater(name: &str, pairs: &[(&str, &str)]) -> RaterAnswer {
        RaterAnswer {
            rater: name.into(),
            status: crate::model::Status::Done,
            answers: pairs
                .iter()
                .map(|(q, a)| (q.to_string(), Answer::One(a.to_string())))
                .collect(),
            justification: String::new(),
            skip_reason: None,
            escalation: None,
        }
    }

    #[test]
    fn differing_questions_and_matching_raters() {
        let r = Review {
            reasons: vec![],
            raters: vec![
                rater("a", &[("x", "1"), ("y", "2")]),
                rater("b", &[("x", "1"), ("y", "3")]),
                RaterAnswer {
                    status: crate::model::Status::Skipped,
                    ..rater("c", &[])
                },
            ],
        };
        assert_eq!(r.differing(), vec!["y".to_string()]);
        let mine: BTreeMap<String, Answer> = [("x", "1"), ("y", "3")]
            .iter()
            .map(|(q, a)| (q.to_string(), Answer::One(a.to_string())))
            .collect();
        assert_eq!(r.matching(&mine), vec![2]);
        assert!(r.matching(&BTreeMap::new()).is_empty());
    }
}

/// A rater's qualification: `pending` (answer the qualification items first: no other
/// work until then), `passed` or `failed` (no work; `missed` says why).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Qualification {
    /// `pending`, `passed` or `failed`.
    pub status: String,
    /// Which attempt this is (1, then one more for each retake an admin allows; 0 from
    /// a hub that does not count them). A workstation that answered an earlier attempt
    /// clears those answers for the retake.
    #[serde(default)]
    pub attempt: u32,
    /// Qualification items not yet answered (pending).
    #[serde(default)]
    pub to_answer: usize,
    /// Share of qualification items answered as the reference on every question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The pass mark for `score`.
    pub pass: f64,
    /// The pass mark for each question's share right.
    pub pass_question: f64,
    /// Per question: the share of items answered as the reference.
    #[serde(default)]
    pub per_question: BTreeMap<String, f64>,
    /// Each answer that differed from the reference, with the reason.
    #[serde(default)]
    pub missed: Vec<Missed>,
}

/// One answer of a qualification item that differed from the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Missed {
    /// Batch id.
    pub batch_id: String,
    /// Item id.
    pub item_id: String,
    /// The question.
    pub question: String,
    /// The rater's answer (none: skipped or unanswered).
    pub yours: Option<Answer>,
    /// The reference.
    pub reference: Answer,
    /// Why the reference is right.
    pub explanation: String,
}
