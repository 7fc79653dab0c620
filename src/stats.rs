//! A rater's own figures (for `verdict stats` and the workstation's `I` screen). From the cache (what this machine saw: items
//! and active time today and this week, items per hour, median seconds per item by kind)
//! and, as of the last pull from a hub, what the hub reports about this rater (items
//! received, gold accuracy on first records, agreement with the majority and with the
//! final answers per question,
//! qualification). Nothing about any other rater.

use crate::store::Store;
use serde::Serialize;

/// Where `verdict pull` keeps the hub's figures about this rater.
pub const HUB_FIGURES_KEY: &str = "hub_figures";

const DAY_MS: i64 = 86_400_000;

/// Items and active time over a period.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Period {
    /// Items finished (submitted or skipped).
    pub items: usize,
    /// Active hours on them.
    pub active_hours: f64,
    /// Items per active hour.
    pub items_per_hour: Option<f64>,
}

/// The figures `verdict stats` shows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stats {
    /// Today (UTC).
    pub today: Period,
    /// This week (UTC, from Monday).
    pub this_week: Period,
    /// Everything in this cache.
    pub all: Period,
    /// Median active seconds per finished item: single-response items.
    pub median_seconds_single: Option<f64>,
    /// Median active seconds per finished item: pairwise items.
    pub median_seconds_pairwise: Option<f64>,
    /// What the hub said at the last pull (its figures, when, from where).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub: Option<serde_json::Value>,
}

fn period(rows: &[&(i64, i64, bool, String)]) -> Period {
    let items = rows.len();
    let ms: i64 = rows.iter().map(|r| r.1.max(0)).sum();
    let hours = ms as f64 / 3_600_000.0;
    Period {
        items,
        active_hours: (hours * 100.0).round() / 100.0,
        // (Not before five active minutes: a rate from a few seconds means nothing.)
        items_per_hour: (hours >= 1.0 / 12.0)
            .then(|| ((items as f64 / hours) * 10.0).round() / 10.0),
    }
}

/// The figures from a cache's finished work, as of `now`.
pub fn compute(work: &[(i64, i64, bool, String)], now: i64) -> Stats {
    let today = now - now.rem_euclid(DAY_MS);
    // 1970-01-01 was a Thursday: days since then, plus 3, modulo 7, is 0 on Mondays.
    let week = today - ((today / DAY_MS + 3).rem_euclid(7)) * DAY_MS;
    let since = |t: i64| work.iter().filter(|r| r.0 >= t).collect::<Vec<_>>();
    let median = |pairwise: bool| {
        let ms: Vec<i64> = work
            .iter()
            .filter(|r| r.2 == pairwise && r.3 == "done")
            .map(|r| r.1)
            .collect();
        (!ms.is_empty()).then(|| crate::model::median_seconds(ms))
    };
    Stats {
        today: period(&since(today)),
        this_week: period(&since(week)),
        all: period(&work.iter().collect::<Vec<_>>()),
        median_seconds_single: median(false),
        median_seconds_pairwise: median(true),
        hub: None,
    }
}

/// The figures for this cache: its finished work, and the hub's as of the last pull.
pub fn gather(store: &Store, now: i64) -> Result<Stats, crate::store::StoreError> {
    let mut stats = compute(&store.finished_work()?, now);
    stats.hub = store
        .ui_get(HUB_FIGURES_KEY)?
        .and_then(|v| serde_json::from_str(&v).ok());
    Ok(stats)
}

/// The figures as lines of text (for `verdict stats` and the workstation's `I` screen).
/// What the hub said is untrusted: every piece of it is made safe for a terminal.
pub fn lines(store: &Store, now: i64) -> Result<Vec<String>, crate::store::StoreError> {
    Ok(text(&gather(store, now)?))
}

pub fn text(stats: &Stats) -> Vec<String> {
    let mut out = Vec::new();
    let line = |name: &str, p: &Period| {
        format!(
            "  {name:<10} {:>6} {:<5}  {:>7.2} h active  {}",
            p.items,
            if p.items == 1 { "item" } else { "items" },
            p.active_hours,
            p.items_per_hour
                .map(|x| format!("{x:.1} items/h"))
                .unwrap_or_else(|| "-".into())
        )
    };
    out.push("Your work in this cache (UTC)".to_string());
    out.push(line("today", &stats.today));
    out.push(line("this week", &stats.this_week));
    out.push(line("all", &stats.all));
    let secs = |x: Option<f64>| x.map(|s| format!("{s:.1} s")).unwrap_or_else(|| "-".into());
    out.push(format!(
        "  median per item: {} single, {} pairwise",
        secs(stats.median_seconds_single),
        secs(stats.median_seconds_pairwise)
    ));
    out.push(String::new());
    let Some(hub) = &stats.hub else {
        out.push("No figures from a hub yet: they come with your next pull from one.".into());
        return out;
    };
    let s = |v: &serde_json::Value| crate::safe::sanitize_line(v.as_str().unwrap_or("?"));
    out.push(format!(
        "What the hub reports about you (as of {}, {})",
        s(&hub["at"]),
        s(&hub["from"])
    ));
    let f = &hub["figures"];
    out.push(format!(
        "  items received {}, median {:.1} s per item",
        f["items_done"].as_u64().unwrap_or(0),
        f["median_seconds"].as_f64().unwrap_or(0.0)
    ));
    out.push(match f["gold_accuracy"].as_f64() {
        Some(a) => format!(
            "  gold accuracy {:.0}% ({} of {}; first records; {} changed after)",
            a * 100.0,
            f["gold_correct"].as_u64().unwrap_or(0),
            f["gold_items"].as_u64().unwrap_or(0),
            f["gold_changed_after_feedback"].as_u64().unwrap_or(0)
        ),
        None => "  gold accuracy: no gold items answered yet".into(),
    });
    if let Some(m) = f["with_majority"].as_object() {
        for (q, v) in m {
            let (agree, n) = (v[0].as_u64().unwrap_or(0), v[1].as_u64().unwrap_or(0));
            out.push(format!(
                "  {:<20} same as the majority on {agree} of {n} items",
                crate::safe::sanitize_line(q)
            ));
        }
    }
    if let Some(m) = f["with_final"].as_object().filter(|m| !m.is_empty()) {
        out.push(
            "  agreement with the final answers (adjudicated by a reviewer, or the majority's):"
                .into(),
        );
        for (q, v) in m {
            out.push(format!(
                "  {:<20} {} of {} items{} ({} adjudicated)",
                crate::safe::sanitize_line(q),
                v["agreed"].as_u64().unwrap_or(0),
                v["items"].as_u64().unwrap_or(0),
                v["share"]
                    .as_f64()
                    .map(|x| format!(", {:.0}%", x * 100.0))
                    .unwrap_or_default(),
                v["adjudicated"].as_u64().unwrap_or(0)
            ));
        }
    }
    match serde_json::from_value::<crate::model::Qualification>(hub["qualification"].clone()) {
        Ok(q) => {
            out.push(String::new());
            out.extend(qualification_lines(&q));
        }
        Err(_) => {
            if let Some(q) = f["qualification"].as_str() {
                out.push(format!(
                    "  qualification: {}",
                    crate::safe::sanitize_line(q)
                ));
            }
        }
    }
    out
}

/// Where the rater stands with the hub's qualification set, as lines of text: what to do
/// while it is pending; after a fail, each answer that differed, the reference and why.
/// What the hub says is untrusted: every piece is made one safe line.
pub fn qualification_lines(q: &crate::model::Qualification) -> Vec<String> {
    use crate::safe::sanitize_line as line;
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    let mut out = Vec::new();
    match q.status.as_str() {
        "pending" => out.push(format!(
            "Qualification: answer the {} qualification items first (pass mark {} of items right); other work comes once you pass",
            q.to_answer,
            pct(q.pass)
        )),
        "passed" => out.push(format!(
            "Qualification passed ({} of items right)",
            pct(q.score.unwrap_or(0.0))
        )),
        "exempt" => {}
        _ => {
            out.push(format!(
                "Qualification not passed: {} of items right, {} needed{}. No work is sent until an admin allows a retake.",
                pct(q.score.unwrap_or(0.0)),
                pct(q.pass),
                if q.pass_question > 0.0 {
                    format!(" (and {} on each question)", pct(q.pass_question))
                } else {
                    String::new()
                }
            ));
            for (question, share) in &q.per_question {
                out.push(format!("  {:<20} {} right", line(question), pct(*share)));
            }
            out.push("What differed from the reference, and why:".into());
            for m in &q.missed {
                let yours = m
                    .yours
                    .as_ref()
                    .map(|a| a.values().join(","))
                    .unwrap_or_else(|| "(no answer)".into());
                out.push(format!(
                    "  {}/{} {}: yours {}, reference {}. {}",
                    line(&m.batch_id),
                    line(&m.item_id),
                    line(&m.question),
                    line(&yours),
                    line(&m.reference.values().join(",")),
                    line(&m.explanation)
                ));
            }
        }
    }
    out
}

/// The qualification status kept from the last pull, if the hub has a set.
pub fn qualification_status(store: &Store) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(&store.ui_get(HUB_FIGURES_KEY).ok()??).ok()?;
    v["qualification"]["status"].as_str().map(String::from)
}

/// Prints the figures, or JSON with `--json`.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_and_this_week_start_at_utc_midnight_and_monday() {
        // Monday 2026-11-30, 00:00 UTC; now is noon that day.
        let monday = 1_795_996_800_000;
        let now = monday + 12 * 3_600_000;
        let work = vec![
            (monday + 3_600_000, 60_000, false, "done".to_string()), // today
            (monday - 3_600_000, 30_000, true, "done".to_string()),  // Sunday: last week
            (monday + 7_200_000, 120_000, false, "skipped".to_string()),
        ];
        let s = compute(&work, now);
        assert_eq!(s.today.items, 2);
        assert_eq!(s.this_week.items, 2, "Monday starts the week");
        assert_eq!(s.all.items, 3);
        assert_eq!(s.today.active_hours, 0.05);
        assert_eq!(
            s.median_seconds_single,
            Some(60.0),
            "a skip has no judging time"
        );
        assert_eq!(s.median_seconds_pairwise, Some(30.0));
    }
}
