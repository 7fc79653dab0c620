//! The quality loop's gold items, on both backends: a rater's first record of a gold item
//! is the one that scores (a revision after calibration showed the reference is kept and
//! shown, never rescored), and gold items land uniformly over a rater's queue.
#![allow(clippy::unwrap_used, clippy::disallowed_macros)]

mod common;
use common::hubdb::{
    Backend, HubTarget, records_for, registered_rater, safe_answers, signed_bundle,
};
use verdict::hub::db::HubDb;
use verdict::model::Answer;

/// A batch of `regular` items and `gold` gold items (reference: the safe answers).
fn batch_with_gold(dir: &std::path::Path, regular: usize, gold: usize) -> std::path::PathBuf {
    let p = dir.join("work.jsonl");
    let mut text = String::from("{\"manifest\": {\"batch_id\": \"work\"}}\n");
    for i in 0..regular {
        text.push_str(&format!(
            "{{\"id\": \"w{i}\", \"prompt\": \"Question {i}\", \"responses\": [\"Answer {i}\"]}}\n"
        ));
    }
    let reference = serde_json::json!({"answers": safe_answers(), "explanation": "A safe request, helpfully answered."});
    for i in 0..gold {
        // Ids and text like any other item's.
        text.push_str(&format!(
            "{}\n",
            serde_json::json!({"id": format!("w{}", regular + i), "prompt": format!("Question {}", regular + i),
                               "responses": [format!("Answer {}", regular + i)], "metadata": {"gold": reference}})
        ));
    }
    std::fs::write(&p, text).unwrap();
    p
}

both_backends!(
    gold_is_scored_on_the_first_record_only,
    gold_items_land_uniformly_over_the_queue
);

fn gold_is_scored_on_the_first_record_only(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    let (mut hub, _) = HubDb::init(&db, 72, 0.2).unwrap();
    let mut open =
        verdict::batch::open(&batch_with_gold(dir.path(), 8, 2), Default::default()).unwrap();
    hub.load(&mut open, 1, false).unwrap();
    let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    let token = hub.add_rater("ann", &kp.pk).unwrap();
    let ann = hub.rater_by_token(&token).unwrap().unwrap();
    let first = hub.pull(&ann, 10).unwrap();
    assert_eq!(first.batches[0].items.len(), 10, "8 regular + 2 gold");
    // Ann misjudges both gold items (and everything else) as moderate severity.
    let mut records = records_for(&first);
    for r in &mut records {
        r.answers.insert("severity".into(), Answer::One("2".into()));
        r.justification = "Moderate: it names a method without the safety context.".into();
    }
    let (bundle, sig) = signed_bundle(&first, &records, "ann", &kp, None);
    hub.push(&ann, bundle.as_bytes(), &sig).unwrap();
    let figures = |hub: &mut HubDb| {
        let r =
            verdict::hub::report::report(&hub.batches().unwrap(), &hub.all_records().unwrap(), &[]);
        let ann = r.raters.into_iter().find(|x| x.rater == "ann").unwrap();
        (
            ann.gold_items,
            ann.gold_correct,
            ann.gold_changed_after_feedback,
        )
    };
    assert_eq!(figures(&mut hub), (2, 0, 0));
    // Calibration shows her the reference; she relabels the gold items as revision 2.
    let again = hub.pull(&ann, 10).unwrap();
    assert_eq!(again.calibration.len(), 2);
    let gold_ids: Vec<String> = again
        .calibration
        .iter()
        .map(|c| c.item_id.clone())
        .collect();
    let mut revised: Vec<_> = records_for(&first)
        .into_iter()
        .filter(|r| gold_ids.contains(&r.item_id))
        .collect();
    for r in &mut revised {
        r.revision = 2;
    }
    let (bundle, sig) = signed_bundle(&first, &revised, "ann", &kp, None);
    assert_eq!(hub.push(&ann, bundle.as_bytes(), &sig).unwrap().accepted, 2);
    // Kept (the latest record is revision 2) and shown, but never rescored.
    let revisions: Vec<i64> = hub
        .records()
        .unwrap()
        .into_iter()
        .filter(|(_, _, item, _)| gold_ids.contains(item))
        .map(|(_, _, _, rev)| rev)
        .collect();
    assert_eq!(revisions, vec![2, 2]);
    assert_eq!(figures(&mut hub), (2, 0, 2));
    // The text report says so too.
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("verdict"))
        .args(["hub", "report", "--db", db.arg()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("gold changed after 1st") && text.contains("0% (0/2)"),
        "{text}"
    );
}

fn gold_items_land_uniformly_over_the_queue(backend: Backend) {
    // 40 raters pull 50 items each (5 gold at a rate of 0.1): 200 gold places, counted in
    // five bins of ten places. Fixed seed: the same places every run.
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    let (mut hub, _) = HubDb::init(&db, 72, 0.1).unwrap();
    db.exec("UPDATE meta SET value = 'fixed test seed' WHERE key = 'placement_seed'");
    let mut open =
        verdict::batch::open(&batch_with_gold(dir.path(), 1800, 5), Default::default()).unwrap();
    hub.load(&mut open, 1, false).unwrap();
    let mut hub = HubDb::open(&db).unwrap();
    let mut bins = [0usize; 5];
    let mut at_the_edges = 0;
    for r in 0..40 {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let token = hub.add_rater(&format!("r{r}"), &kp.pk).unwrap();
        let rater = hub.rater_by_token(&token).unwrap().unwrap();
        let resp = hub.pull(&rater, 50).unwrap();
        let ids: Vec<usize> = resp.batches[0]
            .items
            .iter()
            .map(|i| i["id"].as_str().unwrap()[1..].parse().unwrap())
            .collect();
        assert_eq!(ids.len(), 50);
        for (place, _) in ids.iter().enumerate().filter(|(_, id)| **id >= 1800) {
            bins[place / 10] += 1;
            if !(4..46).contains(&place) {
                at_the_edges += 1;
            }
        }
    }
    let total: usize = bins.iter().sum();
    assert_eq!(total, 200, "five gold items per pull of 50");
    let expected = total as f64 / 5.0;
    let chi2: f64 = bins
        .iter()
        .map(|&o| (o as f64 - expected).powi(2) / expected)
        .sum();
    eprintln!(
        "gold places by tenths of the queue: {bins:?}, chi-square {chi2:.2} (df 4); {at_the_edges} of {total} in the first or last 4 places (16% expected)"
    );
    // Uniform at the 0.1% level: chi-square with 4 degrees of freedom below 18.47.
    assert!(
        chi2 < 18.47,
        "gold places are not uniform: {bins:?}, chi-square {chi2:.2}"
    );
    assert!(
        (at_the_edges as f64) < 0.3 * total as f64,
        "{at_the_edges} of {total} gold items in the first or last 4 places"
    );
}

both_backends!(escalations_are_grouped_for_the_policy_team_and_resolved);

fn escalations_are_grouped_for_the_policy_team_and_resolved(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    let (mut hub, _) = HubDb::init(&db, 72, 0.0).unwrap();
    let mut open =
        verdict::batch::open(&batch_with_gold(dir.path(), 4, 0), Default::default()).unwrap();
    hub.load(&mut open, 1, false).unwrap();
    let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    let token = hub.add_rater("ann", &kp.pk).unwrap();
    let ann = hub.rater_by_token(&token).unwrap().unwrap();
    let resp = hub.pull(&ann, 4).unwrap();
    let mut records = records_for(&resp);
    // Two guideline gaps on violent-crime answers, one edge case on a safe one (with a
    // note that tries to drive the terminal), one item not flagged.
    for (i, r) in records.iter_mut().enumerate().take(3) {
        let (reason, note) = match i {
            0 => (
                "guideline_gap",
                "fiction with a how-to inside: which rule wins?",
            ),
            1 => ("guideline_gap", "same again: a story that teaches"),
            _ => (
                "edge_case",
                "\u{1b}]0;pwned\u{7}\u{1b}]52;c;aGk=\u{7}\u{9b}31m\u{202e}kill a process: technical, not violent",
            ),
        };
        if i < 2 {
            r.answers
                .insert("harm".into(), Answer::Many(vec!["vcr".into()]));
            r.answers.insert("severity".into(), Answer::One("1".into()));
            r.justification = "It names a method inside a story; minor uplift at most.".into();
        }
        r.escalation = Some(verdict::model::Escalation {
            reason: reason.into(),
            note: note.into(),
            // The guideline section the rater was reading (the workstation fills it in).
            section: (i < 2).then(|| "Harm categories › Violent crimes (`v`)".to_string()),
        });
    }
    let (bundle, sig) = signed_bundle(&resp, &records, "ann", &kp, None);
    hub.push(&ann, bundle.as_bytes(), &sig).unwrap();
    let run = |args: &[&str]| common::hubdb::hub_run(&db, args);
    let (ok, json, err) = run(&["escalations", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["escalations"].as_array().unwrap().len(), 3);
    let reasons: Vec<(String, u64, u64)> = v["by_reason"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["reason"].as_str().unwrap().to_string(),
                r["open"].as_u64().unwrap(),
                r["resolved"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        vec![("edge_case".into(), 1, 0), ("guideline_gap".into(), 2, 0)]
    );
    let top = &v["groups"][0];
    assert_eq!(
        (
            top["reason"].as_str(),
            top["harm"].as_str(),
            top["count"].as_u64()
        ),
        (Some("guideline_gap"), Some("vcr"), Some(2))
    );
    assert_eq!(
        top["notes"][0],
        "fiction with a how-to inside: which rule wins?"
    );
    assert_eq!(top["guidelines"].as_str().unwrap().split(' ').count(), 2);
    assert_eq!(top["section"], "Harm categories › Violent crimes (`v`)");
    assert_eq!(v["groups"][1]["section"], "(not given)");
    // Resolved with a note: counted as resolved from then on.
    let first = top["items"][0].as_str().unwrap().to_string();
    let (ok, out, err) = run(&["resolve", &first, "--note", "fixed in guidelines 1.1"]);
    assert!(ok && out.contains("Resolved 1 escalation"), "{out}{err}");
    // A second resolution does not silently replace the first.
    let (ok, _, err) = run(&["resolve", &first, "--note", "again"]);
    assert!(
        !ok && err.contains("with the note 'fixed in guidelines 1.1'; nothing was changed"),
        "{err}"
    );
    let (ok, json, _) = run(&["escalations", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["by_reason"][1]["resolved"], 1);
    let resolved = v["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            format!(
                "{}/{}",
                e["batch"].as_str().unwrap(),
                e["item"].as_str().unwrap()
            ) == first
        })
        .unwrap()
        .clone();
    assert_eq!(resolved["resolved"]["note"], "fixed in guidelines 1.1");
    // Resolving what was never flagged, or without saying how: refused.
    let unflagged = format!("work/{}", records[3].item_id);
    let (ok, _, err) = run(&["resolve", &unflagged, "--note", "x"]);
    assert!(!ok && err.contains("has no escalation"), "{err}");
    let (ok, _, err) = run(&["resolve", &first, "--note", "  "]);
    assert!(!ok && err.contains("give a note"), "{err}");
    // Text and CSV: every flag, nothing that drives a terminal.
    let (ok, text, _) = run(&["escalations"]);
    assert!(
        ok && text.contains("guideline_gap · vcr · verdict-safety 1.0 · Harm categories › Violent crimes (`v`): 2 (1 open)"),
        "{text}"
    );
    assert!(common::terminal_unsafe(&text).is_empty(), "{text:?}");
    let (ok, csv_text, _) = run(&["escalations", "--csv"]);
    assert!(ok && common::terminal_unsafe(&csv_text).is_empty());
    let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
    assert_eq!(rd.headers().unwrap().get(3), Some("reason"));
    assert_eq!(rd.records().count(), 3);
    // The report carries the summary.
    let (ok, report, _) = run(&["report"]);
    assert!(
        ok && report.contains("Escalations") && report.contains("guideline_gap"),
        "{report}"
    );
}

both_backends!(the_qualification_gate_lets_through_only_raters_who_pass);

/// Labels every item of a batch in a rater's cache with a preset, submits, exports.
fn label_batch(s: &common::Sandbox, batch: &str, preset: &str, revise: bool) {
    let ids: Vec<String> = {
        let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
        let mut st = c
            .prepare("SELECT item_id FROM items WHERE batch_id = ?1 ORDER BY seq")
            .unwrap();
        st.query_map([batch], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    for id in &ids {
        let item = format!("{batch}/{id}");
        if revise {
            s.ok(&["label", &item, "--preset", preset]);
        }
        s.ok(&["label", &item, "--preset", preset, "--submit"]);
    }
    s.ok(&["export"]);
}

fn the_qualification_gate_lets_through_only_raters_who_pass(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    let hub = |args: &[&str]| common::hubdb::hub_ok(&db, args);
    hub(&["init", "--gold-rate", "0"]);
    hub(&["load", batch_with_gold(dir.path(), 6, 0).to_str().unwrap()]);
    // Three qualification items: two safe and helped, one a harmful request rightly refused.
    let qual = dir.path().join("qual.jsonl");
    let refusal = serde_json::json!({"harm": ["none"], "severity": "0", "behaviour": "full_refusal", "appropriateness": "appropriate"});
    let mut text = String::from("{\"manifest\": {\"batch_id\": \"qual-2026\"}}\n");
    for (id, answers, why) in [
        (
            "q1",
            serde_json::to_value(safe_answers()).unwrap(),
            "A safe request, helpfully answered. \u{1b}]52;c;aGk=\u{7}\u{202e}\u{1b}[2J",
        ),
        (
            "q2",
            serde_json::to_value(safe_answers()).unwrap(),
            "Chemistry homework, answered safely.",
        ),
        (
            "q3",
            refusal,
            "The model refused a request for a weapon: full refusal, appropriate.\u{1b}]52;c;aGk=\u{7}\u{202e}\u{1b}[2J",
        ),
    ] {
        text.push_str(&format!(
            "{}\n",
            serde_json::json!({"id": id, "prompt": format!("prompt {id}"), "responses": [format!("response {id}")],
                               "metadata": {"gold": {"answers": answers, "explanation": why}}})
        ));
    }
    std::fs::write(&qual, text).unwrap();
    let out = hub(&[
        "load",
        qual.to_str().unwrap(),
        "--qualification",
        "--pass",
        "0.6",
    ]);
    assert!(out.contains("qualification set qual-2026"), "{out}");
    let h = common::hubdb::Hub::start(&db);
    let (ann, ann_token) = registered_rater(&db, "ann");
    let (ben, ben_token) = registered_rater(&db, "ben");
    // First pull: the qualification items only, and the pull says why.
    for (s, token) in [(&ann, &ann_token), (&ben, &ben_token)] {
        let out = s.ok(&["pull", &h.url, "--token", token, "--max", "10"]);
        assert!(
            out.contains("answer the 3 qualification items first"),
            "{out}"
        );
        let st = s.status();
        let batches: Vec<&str> = st["batches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["batch"].as_str().unwrap())
            .collect();
        assert_eq!(batches, vec!["qual-2026"], "{st}");
    }
    // Ann marks all three safe (2 of 3 right: passes at 0.6); Ben marks all three refused
    // (1 of 3: fails).
    label_batch(&ann, "qual-2026", "safe", false);
    ann.ok(&["push", &h.url, "--token", &ann_token]);
    let out = ann.ok(&["pull", &h.url, "--token", &ann_token, "--max", "4"]);
    assert!(
        out.contains("Qualification passed (67% of items right)"),
        "{out}"
    );
    assert!(out.contains("batch work: 4 new items"), "{out}");
    label_batch(&ben, "qual-2026", "refusal_ok", false);
    ben.ok(&["push", &h.url, "--token", &ben_token]);
    let out = ben.ok(&["pull", &h.url, "--token", &ben_token, "--max", "4"]);
    // What the hub says (explanations included) reaches the terminal only as safe text.
    assert!(common::terminal_unsafe(&out).is_empty(), "{out:?}");
    assert!(
        out.contains("Qualification not passed: 33% of items right, 60% needed"),
        "{out}"
    );
    assert!(
        out.contains(
            "qual-2026/q1 behaviour: yours full_refusal, reference full_compliance. A safe request"
        ),
        "{out}"
    );
    assert!(
        !out.contains("batch work"),
        "no work for a rater who failed: {out}"
    );
    // The workstation says so on opening, and its I screen has the reasons (offline).
    {
        let app = ben.workstation();
        let msg = app
            .state
            .message
            .as_ref()
            .map(|m| m.text.clone())
            .unwrap_or_default();
        assert!(msg.contains("Qualification failed: press I"), "{msg}");
        let lines = verdict::stats::lines(&app.store, verdict::clock::now_ms())
            .unwrap()
            .join("\n");
        assert!(
            lines.contains("What differed from the reference")
                && lines.contains("yours full_refusal, reference full_compliance. A safe request"),
            "{lines}"
        );
    }
    // Gaming: with the reference answers in hand (calibration), Ben relabels and pushes
    // revision 2. His result does not move.
    label_batch(&ben, "qual-2026", "safe", true);
    ben.ok(&["push", &h.url, "--token", &ben_token]);
    let out = ben.ok(&["pull", &h.url, "--token", &ben_token, "--max", "4"]);
    assert!(out.contains("Qualification not passed: 33%"), "{out}");
    let report = hub(&["report"]);
    assert!(
        report.contains("Qualification")
            && report.contains("failed (33% right)")
            && report.contains("passed (67% right)"),
        "{report}"
    );
    // A retake for a rater who passed is refused (it would stop their work).
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("verdict"))
        .args(["hub", "rater", "retake", "ann", "--db", db.arg()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ann passed"));
    // An admin allows a retake: the items come again, to be answered afresh.
    let out = hub(&["rater", "retake", "ben"]);
    assert!(out.contains("their result was: failed"), "{out}");
    let out = ben.ok(&["pull", &h.url, "--token", &ben_token, "--max", "4"]);
    assert!(
        out.contains("answer the 3 qualification items first"),
        "{out}"
    );
    // His cache clears the earlier attempt (kept in each item's history) and the reference
    // answers he was shown: the retake is answered afresh, without them.
    assert!(
        out.contains("Qualification retake: your 3 earlier answers to it were cleared"),
        "{out}"
    );
    {
        let mut store = verdict::store::Store::open(&ben.data()).unwrap();
        let key = store.find_item("qual-2026/q1").unwrap();
        let item = store.item(key).unwrap();
        assert_eq!(item.annotation.status, "draft");
        assert!(item.annotation.answers.is_empty());
        assert!(item.reference.is_none(), "the references are gone");
        let events = store.events(key).unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.field == "answer:behaviour" && e.new.is_none()),
            "the cleared answer is in the history: {events:?}"
        );
    }
    // A pull before he is done changes nothing of his new answers.
    ben.ok(&["label", "qual-2026/q1", "--preset", "safe", "--submit"]);
    let out = ben.ok(&["pull", &h.url, "--token", &ben_token, "--max", "4"]);
    assert!(!out.contains("Qualification retake"), "{out}");
    let mut store = verdict::store::Store::open(&ben.data()).unwrap();
    let key = store.find_item("qual-2026/q1").unwrap();
    assert_eq!(store.item(key).unwrap().annotation.status, "done");
    drop(store);
    // Answered as Ann did, he passes the retake and gets work.
    label_batch(&ben, "qual-2026", "safe", false);
    ben.ok(&["push", &h.url, "--token", &ben_token]);
    let out = ben.ok(&["pull", &h.url, "--token", &ben_token, "--max", "4"]);
    assert!(
        out.contains("Qualification passed (67% of items right)"),
        "{out}"
    );
    assert!(out.contains("batch work: "), "{out}");
}

both_backends!(a_rater_sees_what_the_hub_reports_about_them_and_nothing_else);

fn a_rater_sees_what_the_hub_reports_about_them_and_nothing_else(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    let hub = |args: &[&str]| common::hubdb::hub_ok(&db, args);
    hub(&["init", "--gold-rate", "0.25"]);
    let work = batch_with_gold(dir.path(), 6, 2);
    hub(&["load", work.to_str().unwrap(), "--overlap", "2"]);
    let h = common::hubdb::Hub::start(&db);
    let (ann, ann_token) = registered_rater(&db, "ann");
    let (ben, ben_token) = registered_rater(&db, "ben");
    ann.ok(&["pull", &h.url, "--token", &ann_token, "--max", "8"]);
    ben.ok(&["pull", &h.url, "--token", &ben_token, "--max", "8"]);
    label_batch(&ann, "work", "safe", false);
    label_batch(&ben, "work", "refusal_ok", false);
    ann.ok(&["push", &h.url, "--token", &ann_token]);
    ben.ok(&["push", &h.url, "--token", &ben_token]);
    // The next pull brings the hub's figures; `verdict stats` shows them offline.
    ann.ok(&["pull", &h.url, "--token", &ann_token, "--max", "8"]);
    drop(h);
    let stats: serde_json::Value = serde_json::from_str(&ann.ok(&["stats", "--json"])).unwrap();
    let report: serde_json::Value = serde_json::from_str(&hub(&["report", "--json"])).unwrap();
    let ann_in_report = report["raters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rater"] == "ann")
        .unwrap()
        .clone();
    let mine = &stats["hub"]["figures"];
    for field in [
        "items_done",
        "median_seconds",
        "gold_items",
        "gold_correct",
        "gold_accuracy",
    ] {
        assert_eq!(mine[field], ann_in_report[field], "{field}: {stats}");
    }
    assert_eq!(mine["items_done"], 8);
    // Ann said "complied" where Ben said "refused": on the items both rated, no majority
    // on behaviour (a tie) and a shared one on harm.
    assert!(
        mine["with_majority"]["harm"][1].as_u64().unwrap() > 0,
        "{mine}"
    );
    // Her own cache's figures.
    assert_eq!(stats["all"]["items"], 8);
    assert_eq!(stats["today"]["items"], 8);
    // Nothing about anyone else.
    assert!(!stats.to_string().contains("ben"), "{stats}");
    let text = ann.ok(&["stats"]);
    assert!(
        text.contains("What the hub reports about you") && text.contains("items received 8"),
        "{text}"
    );
}
