//! Escalations for the policy team: every flag raters raised, grouped so that recurring
//! failure patterns and guideline gaps show at a glance: by reason, by harm category and
//! by guideline document, with counts per day, the items and the raters' notes, and
//! whether an admin has resolved them (with the note that says how, e.g. the guideline
//! version that fixed it). Pure: the rows come from `hub::db`.

use serde::Serialize;
use std::collections::BTreeMap;

/// One flag, as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Escalation {
    /// Batch id.
    pub batch: String,
    /// Item id.
    pub item: String,
    /// The rater who raised it.
    pub rater: String,
    /// One of the schema's escalation reasons.
    pub reason: String,
    /// The reason's label in the batch's schema.
    pub reason_label: String,
    /// The rater's note.
    pub note: String,
    /// The harm categories the rater chose (empty when the question was not answered).
    pub harm: Vec<String>,
    /// The guideline document the rater worked under (`id version`).
    pub guidelines: String,
    /// The guideline section the rater was reading when they flagged (`(not given)`
    /// when the record does not say).
    pub section: String,
    /// When the rater submitted the record (RFC 3339).
    pub submitted: String,
    /// The admin's resolution, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Resolution>,
}

/// How an escalation was settled.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Resolution {
    /// When (RFC 3339).
    pub at: String,
    /// The admin's note (for example the guideline version that fixed it).
    pub note: String,
}

/// Counts for one reason.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReasonCount {
    /// The reason.
    pub reason: String,
    /// Its label.
    pub label: String,
    /// Still open.
    pub open: usize,
    /// Resolved.
    pub resolved: usize,
}

/// Flags that share a reason, a harm category, a guideline document and section.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Group {
    /// The reason.
    pub reason: String,
    /// One harm category (`none`, or `unanswered`); a flag with two counts in both.
    pub harm: String,
    /// The guideline document.
    pub guidelines: String,
    /// The guideline section.
    pub section: String,
    /// Flags in the group.
    pub count: usize,
    /// Of those, still open.
    pub open: usize,
    /// `batch/item` of each, in order.
    pub items: Vec<String>,
    /// The raters' notes, in the same order.
    pub notes: Vec<String>,
}

/// Flags raised on one day, per reason.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Day {
    /// `YYYY-MM-DD` (UTC, from the record's submit time).
    pub day: String,
    /// The reason.
    pub reason: String,
    /// Flags.
    pub count: usize,
}

/// Everything `verdict hub escalations` shows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EscalationReport {
    /// Per reason: open and resolved.
    pub by_reason: Vec<ReasonCount>,
    /// Per (reason, harm category, guideline document), largest first.
    pub groups: Vec<Group>,
    /// Per day and reason, oldest first.
    pub by_day: Vec<Day>,
    /// Every flag.
    pub escalations: Vec<Escalation>,
}

/// Builds the report.
pub fn report(mut flags: Vec<Escalation>) -> EscalationReport {
    flags.sort_by(|a, b| {
        (&a.submitted, &a.batch, &a.item, &a.rater).cmp(&(
            &b.submitted,
            &b.batch,
            &b.item,
            &b.rater,
        ))
    });
    let mut by_reason: BTreeMap<&str, ReasonCount> = BTreeMap::new();
    let mut groups: BTreeMap<(&str, String, &str, &str), Group> = BTreeMap::new();
    let mut by_day: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for f in &flags {
        let r = by_reason.entry(&f.reason).or_insert_with(|| ReasonCount {
            reason: f.reason.clone(),
            label: f.reason_label.clone(),
            open: 0,
            resolved: 0,
        });
        if f.resolved.is_some() {
            r.resolved += 1;
        } else {
            r.open += 1;
        }
        let harms = if f.harm.is_empty() {
            vec!["unanswered".to_string()]
        } else {
            f.harm.clone()
        };
        for h in harms {
            let g = groups
                .entry((&f.reason, h.clone(), &f.guidelines, &f.section))
                .or_insert_with(|| Group {
                    reason: f.reason.clone(),
                    harm: h,
                    guidelines: f.guidelines.clone(),
                    section: f.section.clone(),
                    count: 0,
                    open: 0,
                    items: Vec::new(),
                    notes: Vec::new(),
                });
            g.count += 1;
            if f.resolved.is_none() {
                g.open += 1;
            }
            g.items.push(format!("{}/{}", f.batch, f.item));
            g.notes.push(f.note.clone());
        }
        let day: String = f.submitted.chars().take(10).collect();
        *by_day.entry((day, &f.reason)).or_default() += 1;
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(b.open.cmp(&a.open)));
    EscalationReport {
        by_reason: by_reason.into_values().collect(),
        groups,
        by_day: by_day
            .into_iter()
            .map(|((day, reason), count)| Day {
                day,
                reason: reason.to_string(),
                count,
            })
            .collect(),
        escalations: flags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(item: &str, reason: &str, harm: &[&str], day: &str, resolved: bool) -> Escalation {
        Escalation {
            section: "(not given)".into(),
            batch: "b".into(),
            item: item.into(),
            rater: "ann".into(),
            reason: reason.into(),
            reason_label: reason.to_uppercase(),
            note: format!("note on {item}"),
            harm: harm.iter().map(|h| h.to_string()).collect(),
            guidelines: "g 1.0".into(),
            submitted: format!("{day}T10:00:00Z"),
            resolved: resolved.then(|| Resolution {
                at: "2026-12-01T00:00:00Z".into(),
                note: "guidelines 1.1".into(),
            }),
        }
    }

    #[test]
    fn groups_count_each_harm_category_and_keep_items_with_their_notes() {
        let r = report(vec![
            flag("i2", "guideline_gap", &["vcr", "hte"], "2026-11-02", false),
            flag("i1", "guideline_gap", &["vcr"], "2026-11-01", true),
            flag("i3", "edge_case", &[], "2026-11-01", false),
        ]);
        assert_eq!(
            r.by_reason,
            vec![
                ReasonCount {
                    reason: "edge_case".into(),
                    label: "EDGE_CASE".into(),
                    open: 1,
                    resolved: 0
                },
                ReasonCount {
                    reason: "guideline_gap".into(),
                    label: "GUIDELINE_GAP".into(),
                    open: 1,
                    resolved: 1
                },
            ]
        );
        let top = &r.groups[0];
        assert_eq!(
            (top.reason.as_str(), top.harm.as_str(), top.count, top.open),
            ("guideline_gap", "vcr", 2, 1)
        );
        assert_eq!(top.items, vec!["b/i1", "b/i2"], "oldest first");
        assert_eq!(top.notes, vec!["note on i1", "note on i2"]);
        assert!(
            r.groups
                .iter()
                .any(|g| g.harm == "unanswered" && g.count == 1)
        );
        assert!(r.groups.iter().any(|g| g.harm == "hte" && g.count == 1));
        assert_eq!(
            r.by_day,
            vec![
                Day {
                    day: "2026-11-01".into(),
                    reason: "edge_case".into(),
                    count: 1
                },
                Day {
                    day: "2026-11-01".into(),
                    reason: "guideline_gap".into(),
                    count: 1
                },
                Day {
                    day: "2026-11-02".into(),
                    reason: "guideline_gap".into(),
                    count: 1
                },
            ]
        );
    }
}
