//! The review queue's rules: which finished items a reviewer sees, and why. Pure; the
//! database side is in [`super::db`]. Reference: docs/review.md.
//!
//! An item is judged for review once it has as many records as its batch's overlap
//! (gold and qualification items never: they have references). It is queued when
//! - on some question the share of its raters who gave the most common answer is below
//!   the policy's threshold for that question (default 0.75: of three raters, two
//!   agreeing is reviewed; of five, four agreeing is not),
//! - a rater flagged it for the policy team (unless the policy says not to), or
//! - it is drawn into the quality-assurance sample (`qa_rate` of the items not queued
//!   for another reason; the draw is a hash of a hub secret and the item, so it is the
//!   same on every evaluation and no rater can tell which items are sampled).

use crate::model::{Answer, Schema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who a registered person is on the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Labels items; gets the qualification set first when the hub has one.
    Rater,
    /// Adjudicates the review queue; gets no labelling work.
    Reviewer,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Rater => "rater",
            Role::Reviewer => "reviewer",
        }
    }

    /// From the stored name (anything unknown is a rater: the least privilege).
    pub fn parse(s: &str) -> Role {
        if s == "reviewer" {
            Role::Reviewer
        } else {
            Role::Rater
        }
    }
}

/// The rules that fill the review queue (`verdict hub review-policy`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// An item is reviewed when on some question fewer than this share of its raters
    /// gave the most common answer.
    pub min_agreement: f64,
    /// Per question id, a threshold that replaces `min_agreement`.
    pub questions: BTreeMap<String, f64>,
    /// Items a rater flagged are reviewed.
    pub flagged: bool,
    /// Share of the remaining (agreed, unflagged) items drawn for quality assurance.
    pub qa_rate: f64,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            min_agreement: 0.75,
            questions: BTreeMap::new(),
            flagged: true,
            qa_rate: 0.05,
        }
    }
}

/// One rater's record as the queue's rules see it.
#[derive(Debug, Clone)]
pub struct Judged {
    /// `done` or `skipped`.
    pub status: String,
    /// The answers.
    pub answers: BTreeMap<String, Answer>,
    /// The escalation reason, when flagged.
    pub flag: Option<String>,
}

/// Per question answered by at least two raters: the share who gave the most common
/// answer. Skipped records are no answer.
pub fn agreement(records: &[Judged]) -> BTreeMap<String, f64> {
    let mut by_q: BTreeMap<&str, Vec<&Answer>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.status == "done") {
        for (q, a) in &r.answers {
            by_q.entry(q).or_default().push(a);
        }
    }
    by_q.into_iter()
        .filter(|(_, v)| v.len() >= 2)
        .map(|(q, v)| {
            let mut tally: BTreeMap<String, usize> = BTreeMap::new();
            for a in &v {
                *tally
                    .entry(serde_json::to_string(a).unwrap_or_default())
                    .or_default() += 1;
            }
            let top = tally.values().copied().max().unwrap_or(0);
            (q.to_string(), top as f64 / v.len() as f64)
        })
        .collect()
}

/// Why the item should be reviewed (empty: it need not be). `draw` is the item's place
/// in [0, 1) for the quality sample.
pub fn reasons(policy: &Policy, schema: &Schema, records: &[Judged], draw: f64) -> Vec<String> {
    let mut out = Vec::new();
    for (q, share) in agreement(records) {
        let min = policy
            .questions
            .get(&q)
            .copied()
            .unwrap_or(policy.min_agreement);
        if share < min {
            let label = schema.question(&q).map(|x| x.label.as_str()).unwrap_or(&q);
            out.push(format!(
                "disagreement on '{label}' ({:.0}% agree)",
                share * 100.0
            ));
        }
    }
    if policy.flagged {
        let mut flags: Vec<&str> = records.iter().filter_map(|r| r.flag.as_deref()).collect();
        flags.sort_unstable();
        flags.dedup();
        for f in flags {
            out.push(format!("flagged: {f}"));
        }
    }
    if records.iter().all(|r| r.status != "done") {
        out.push("every rater skipped it".into());
    }
    if out.is_empty() && draw < policy.qa_rate {
        out.push(format!(
            "quality sample ({:.0}% of agreed items)",
            policy.qa_rate * 100.0
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(sev: &str, flag: Option<&str>) -> Judged {
        Judged {
            status: "done".into(),
            answers: [("severity".to_string(), Answer::One(sev.into()))].into(),
            flag: flag.map(str::to_string),
        }
    }

    #[test]
    fn two_of_three_is_reviewed_four_of_five_is_not() {
        let schema = Schema::builtin(crate::model::DEFAULT_SCHEMA).unwrap();
        let p = Policy {
            qa_rate: 0.0,
            ..Policy::default()
        };
        let three = [judged("1", None), judged("1", None), judged("2", None)];
        let r = reasons(&p, &schema, &three, 0.5);
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].contains("67% agree"), "{r:?}");
        let five = [
            judged("1", None),
            judged("1", None),
            judged("1", None),
            judged("1", None),
            judged("2", None),
        ];
        assert!(reasons(&p, &schema, &five, 0.5).is_empty());
        // A per-question threshold replaces the default.
        let strict = Policy {
            questions: [("severity".to_string(), 1.0)].into(),
            ..p.clone()
        };
        assert_eq!(reasons(&strict, &schema, &five, 0.5).len(), 1);
    }

    #[test]
    fn flags_skips_and_the_quality_sample() {
        let schema = Schema::builtin(crate::model::DEFAULT_SCHEMA).unwrap();
        let p = Policy::default();
        let flagged = [judged("1", Some("policy_gap")), judged("1", None)];
        assert_eq!(
            reasons(&p, &schema, &flagged, 0.9),
            vec!["flagged: policy_gap"]
        );
        let agreed = [judged("1", None), judged("1", None)];
        assert!(reasons(&p, &schema, &agreed, 0.9).is_empty());
        assert_eq!(
            reasons(&p, &schema, &agreed, 0.01),
            vec!["quality sample (5% of agreed items)"]
        );
        let skipped = [Judged {
            status: "skipped".into(),
            answers: BTreeMap::new(),
            flag: None,
        }];
        assert_eq!(
            reasons(&p, &schema, &skipped, 0.9),
            vec!["every rater skipped it"]
        );
    }
}
