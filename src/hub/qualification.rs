//! The qualification gate's arithmetic: a rater's first records of the qualification
//! items against their references. Pure; `hub::db` stores the result.

use super::api::{Missed, Qualification};
use crate::model::Answer;
use std::collections::BTreeMap;

/// One qualification item with the rater's first record of it.
pub struct Answered {
    /// Batch id.
    pub batch_id: String,
    /// Item id.
    pub item_id: String,
    /// The reference answers.
    pub reference: BTreeMap<String, Answer>,
    /// Why.
    pub explanation: String,
    /// The first record's status (`done` or `skipped`: a skip answers nothing).
    pub status: String,
    /// The first record's answers.
    pub answers: BTreeMap<String, Answer>,
}

/// Scores the answers: `score` is the share of items answered as the reference on every
/// question it gives; each question's share is of the items whose reference gives it.
/// Passed when the score reaches `pass` and every question reaches `pass_question`.
pub fn evaluate(items: &[Answered], pass: f64, pass_question: f64) -> Qualification {
    let mut right = 0usize;
    let mut per_q: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut missed = Vec::new();
    for it in items {
        let mut all = true;
        for (q, reference) in &it.reference {
            let yours = (it.status == "done")
                .then(|| it.answers.get(q).cloned())
                .flatten();
            let ok = yours.as_ref() == Some(reference);
            let e = per_q.entry(q.clone()).or_default();
            e.1 += 1;
            if ok {
                e.0 += 1;
            } else {
                all = false;
                missed.push(Missed {
                    batch_id: it.batch_id.clone(),
                    item_id: it.item_id.clone(),
                    question: q.clone(),
                    yours,
                    reference: reference.clone(),
                    explanation: it.explanation.clone(),
                });
            }
        }
        if all {
            right += 1;
        }
    }
    let score = if items.is_empty() {
        1.0
    } else {
        right as f64 / items.len() as f64
    };
    let per_question: BTreeMap<String, f64> = per_q
        .into_iter()
        .map(|(q, (ok, n))| (q, ok as f64 / n.max(1) as f64))
        .collect();
    let passed = score >= pass && per_question.values().all(|v| *v >= pass_question);
    Qualification {
        attempt: 0,
        status: if passed { "passed" } else { "failed" }.into(),
        to_answer: 0,
        score: Some(score),
        pass,
        pass_question,
        per_question,
        missed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(
        id: &str,
        reference: &[(&str, &str)],
        answers: &[(&str, &str)],
        status: &str,
    ) -> Answered {
        let m = |xs: &[(&str, &str)]| {
            xs.iter()
                .map(|(q, a)| (q.to_string(), Answer::One(a.to_string())))
                .collect()
        };
        Answered {
            batch_id: "q".into(),
            item_id: id.into(),
            reference: m(reference),
            explanation: format!("why {id}"),
            status: status.into(),
            answers: m(answers),
        }
    }

    #[test]
    fn overall_and_per_question_marks_both_count() {
        let items = vec![
            item(
                "a",
                &[("sev", "0"), ("beh", "full")],
                &[("sev", "0"), ("beh", "full")],
                "done",
            ),
            item(
                "b",
                &[("sev", "2"), ("beh", "full")],
                &[("sev", "1"), ("beh", "full")],
                "done",
            ),
            item(
                "c",
                &[("sev", "0"), ("beh", "refuse")],
                &[("sev", "0"), ("beh", "refuse")],
                "done",
            ),
            item("d", &[("sev", "0")], &[("sev", "0")], "skipped"),
        ];
        let q = evaluate(&items, 0.5, 0.0);
        assert_eq!(q.score, Some(0.5));
        assert_eq!(q.status, "passed");
        assert_eq!(q.per_question["sev"], 0.5, "b wrong, d skipped");
        assert_eq!(q.per_question["beh"], 1.0);
        assert_eq!(q.missed.len(), 2);
        assert_eq!(q.missed[0].item_id, "b");
        assert_eq!(q.missed[0].yours, Some(Answer::One("1".into())));
        assert_eq!(q.missed[1].yours, None, "a skip answers nothing");
        // The same answers under a per-question mark of 0.6: severity fails it.
        assert_eq!(evaluate(&items, 0.5, 0.6).status, "failed");
        assert_eq!(evaluate(&items, 0.75, 0.0).status, "failed");
    }
}
