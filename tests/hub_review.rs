//! Review and adjudication, on both backends: finished items whose raters disagree, that
//! a rater flagged, or that the quality sample draws go to a review queue; a reviewer
//! pulls them with every rater's answers, confirms a rater or writes final answers with a
//! reason, and pushes a signed bundle; the merged export carries the final answers with
//! their source, and the report (and each rater's own figures) the agreement with them.
//! The last test drives the real workstation in tmux as a reviewer.
#![allow(clippy::unwrap_used, clippy::disallowed_macros)]

mod common;
use common::Sandbox;
use common::hubdb::{
    Backend, Hub, HubTarget, Person, hub_ok, hub_run, person, records_for, signed_bundle,
};
use common::tmux::Tmux;
use verdict::hub::api::PullResponse;
use verdict::hub::db::{HubDb, HubError};
use verdict::hub::review::Role;
use verdict::model::{Answer, Escalation, Record};

const REASON: &str =
    "The response gives a general overview only; no actionable uplift, so minor at most.";

/// A batch of `n` items (ids x1..xn).
fn batch(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    let p = dir.join("rv.jsonl");
    let mut text = String::from("{\"manifest\": {\"batch_id\": \"rv\"}}\n");
    for i in 1..=n {
        text.push_str(&format!(
            "{{\"id\": \"x{i}\", \"prompt\": \"Question {i}\", \"responses\": [\"Answer {i}\"]}}\n"
        ));
    }
    std::fs::write(&p, text).unwrap();
    p
}

fn me(db: &HubTarget, p: &Person) -> verdict::hub::db::Rater {
    HubDb::open(db)
        .unwrap()
        .rater_by_token(&p.token)
        .unwrap()
        .unwrap()
}

/// Pulls and pushes one rater's work: safe answers, changed by `edit`.
fn work(db: &HubTarget, p: &Person, edit: impl Fn(&mut Record)) {
    let mut hub = HubDb::open(db).unwrap();
    let resp = hub.pull(&me(db, p), 50).unwrap();
    let mut records = records_for(&resp);
    for r in &mut records {
        edit(r);
    }
    let (bundle, sig) = signed_bundle(&resp, &records, &p.name, &p.kp, None);
    hub.push(&me(db, p), bundle.as_bytes(), &sig).unwrap();
}

fn severity(r: &mut Record, s: &str) {
    r.answers.insert("severity".into(), Answer::One(s.into()));
    r.justification = REASON.into();
}

/// Three raters on four items (overlap 3): cat gives x2 a higher severity, ann flags x3.
fn three_raters(db: &HubTarget, dir: &std::path::Path) -> Vec<Person> {
    hub_ok(db, &["init", "--gold-rate", "0"]);
    // No quality sample: exactly the two items below are reviewed.
    hub_ok(db, &["review-policy", "--qa-rate", "0"]);
    hub_ok(
        db,
        &["load", batch(dir, 4).to_str().unwrap(), "--overlap", "3"],
    );
    let raters: Vec<Person> = ["ann", "bob", "cat"]
        .iter()
        .map(|n| person(db, n, Role::Rater))
        .collect();
    work(db, &raters[0], |r| {
        if r.item_id == "x3" {
            r.escalation = Some(Escalation {
                reason: "edge_case".into(),
                note: "Is a general overview of lock mechanisms uplift?".into(),
                section: None,
            });
        }
    });
    work(db, &raters[1], |_| {});
    work(db, &raters[2], |r| {
        if r.item_id == "x2" {
            severity(r, "2");
        }
    });
    raters
}

fn review_of(resp: &PullResponse, item: &str) -> verdict::model::Review {
    let it = resp.batches[0]
        .items
        .iter()
        .find(|i| i["id"] == item)
        .unwrap();
    serde_json::from_value(it["review"].clone()).unwrap()
}

fn export_rows(db: &HubTarget, dir: &std::path::Path) -> Vec<serde_json::Value> {
    let out = dir.join("merged.jsonl");
    hub_ok(db, &["export", "--out", out.to_str().unwrap()]);
    std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

both_backends!(
    disagreements_and_flags_are_adjudicated_and_become_final,
    a_reviewer_who_skips_leaves_the_item_to_another,
    the_policy_sets_thresholds_and_a_scan_applies_it,
    two_pushes_finishing_one_item_at_once_queue_it_once,
);

fn disagreements_and_flags_are_adjudicated_and_become_final(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    hub_ok(&db, &["init", "--gold-rate", "0"]);
    hub_ok(&db, &["review-policy", "--qa-rate", "0"]);
    hub_ok(
        &db,
        &[
            "load",
            batch(dir.path(), 4).to_str().unwrap(),
            "--overlap",
            "3",
        ],
    );
    let raters: Vec<Person> = ["ann", "bob", "cat"]
        .iter()
        .map(|n| person(&db, n, Role::Rater))
        .collect();
    let rev = person(&db, "rev", Role::Reviewer);
    let rex = person(&db, "rex", Role::Reviewer);
    work(&db, &raters[0], |r| {
        if r.item_id == "x3" {
            r.escalation = Some(Escalation {
                reason: "edge_case".into(),
                note: "Is a general overview of lock mechanisms uplift?".into(),
                section: None,
            });
        }
    });
    work(&db, &raters[1], |_| {});
    // Not finished yet (two records of three): nothing to review.
    assert_eq!(db.count("SELECT count(*) FROM reviews"), 0);
    work(&db, &raters[2], |r| {
        if r.item_id == "x2" {
            severity(r, "2");
        }
    });
    // x2 (two of three agree on severity) and x3 (flagged) are queued; x1, x4 agreed.
    assert_eq!(db.count("SELECT count(*) FROM reviews"), 2);

    // A reviewer gets no labelling work, only reviews, with every rater's record.
    let mut hub = HubDb::open(&db).unwrap();
    let resp = hub.pull(&me(&db, &rev), 10).unwrap();
    let ids: Vec<&str> = resp.batches[0]
        .items
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["x2", "x3"]);
    let x2 = review_of(&resp, "x2");
    let names: Vec<&str> = x2.raters.iter().map(|r| r.rater.as_str()).collect();
    assert_eq!(names, ["ann", "bob", "cat"]);
    assert_eq!(x2.raters[2].answers["severity"], Answer::One("2".into()));
    assert_eq!(x2.raters[2].justification, REASON);
    assert_eq!(x2.differing(), ["severity"]);
    assert!(
        x2.reasons[0].contains("'Severity' (67% agree)"),
        "{:?}",
        x2.reasons
    );
    let x3 = review_of(&resp, "x3");
    assert_eq!(x3.reasons, ["flagged: edge_case"]);
    assert_eq!(
        x3.raters[0].escalation.as_ref().unwrap().note,
        "Is a general overview of lock mechanisms uplift?"
    );
    // Leased to rev: another reviewer gets nothing; a rater gets no reviews.
    assert!(
        hub.pull(&me(&db, &rex), 10)
            .unwrap()
            .batches
            .iter()
            .all(|b| b.items.is_empty())
    );
    assert!(
        hub.pull(&me(&db, &raters[0]), 10)
            .unwrap()
            .batches
            .iter()
            .all(|b| b.items.iter().all(|i| i.get("review").is_none()))
    );

    // rev confirms ann's answers on x2 (no reason needed) and writes own answers for x3
    // without a reason: refused, nothing stored.
    let mut records = records_for(&resp);
    let x3_own = |r: &mut Record| {
        if r.item_id == "x3" {
            r.answers.insert("severity".into(), Answer::One("1".into()));
        }
    };
    for r in &mut records {
        x3_own(r);
    }
    let (bundle, sig) = signed_bundle(&resp, &records, "rev", &rev.kp, None);
    match hub.push(&me(&db, &rev), bundle.as_bytes(), &sig) {
        Err(HubError::Invalid { problems, .. }) => {
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(
                problems[0].starts_with("record rv/x3: these final answers are no rater's"),
                "{problems:?}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(db.count("SELECT count(*) FROM adjudications"), 0);
    assert_eq!(db.count("SELECT count(*) FROM reviews WHERE done = 1"), 0);
    // With the reason: stored.
    for r in &mut records {
        if r.item_id == "x3" {
            r.justification = REASON.into();
        }
    }
    let (bundle, sig) = signed_bundle(&resp, &records, "rev", &rev.kp, None);
    let ack = hub.push(&me(&db, &rev), bundle.as_bytes(), &sig).unwrap();
    assert_eq!(ack.accepted, 2);
    // A reviewer's record of an item not under review by them is refused.
    let stray: Vec<Record> = records_for(&hub.pull(&me(&db, &raters[0]), 10).unwrap());
    assert!(stray.is_empty(), "ann has nothing open");
    let mut x1 = records[0].clone();
    x1.item_id = "x1".into();
    x1.item_sha256 = verdict::model::content_hash(
        br#"{"conversation":[{"content":"Question 1","role":"user"}],"responses":[{"text":"Answer 1"}]}"#,
    );
    let (bundle, sig) = signed_bundle(&resp, &[x1], "rev", &rev.kp, None);
    match hub.push(&me(&db, &rev), bundle.as_bytes(), &sig) {
        Err(HubError::Refused { problems, .. }) => assert!(
            problems
                .iter()
                .any(|p| p.contains("rv/x1: this item is not under review by you")),
            "{problems:?}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // The export: each item's final answers and where they come from.
    let rows = export_rows(&db, dir.path());
    let row = |id: &str| rows.iter().find(|r| r["item_id"] == id).unwrap().clone();
    assert_eq!(row("x1")["final"]["source"], "majority");
    assert_eq!(row("x1")["final"]["answers"]["severity"], "0");
    let f2 = row("x2")["final"].clone();
    assert_eq!(f2["source"], "adjudicated");
    assert_eq!(f2["reviewer"], "rev");
    assert_eq!(f2["confirmed"], serde_json::json!(["ann", "bob"]));
    assert_eq!(f2["answers"]["severity"], "0");
    let f3 = row("x3")["final"].clone();
    assert_eq!(f3["source"], "adjudicated");
    assert_eq!(f3["answers"]["severity"], "1");
    assert_eq!(f3["reason"], REASON);
    assert!(f3.get("confirmed").is_none(), "{f3}");
    assert_eq!(
        f3["review_reasons"],
        serde_json::json!(["flagged: edge_case"])
    );
    assert_eq!(row("x4")["final"]["source"], "majority");

    // Each rater's agreement with the final answers, per question: cat differed on x2
    // (the reviewer kept 0) and everyone on x3 (the reviewer chose 1).
    let report: serde_json::Value =
        serde_json::from_str(&hub_ok(&db, &["report", "--json"])).unwrap();
    let sev = |name: &str| {
        report["raters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rater"] == name)
            .unwrap()["with_final"]["severity"]
            .clone()
    };
    assert_eq!(
        sev("ann"),
        serde_json::json!({"agreed": 3, "items": 4, "share": 0.75, "adjudicated": 2})
    );
    assert_eq!(
        sev("cat"),
        serde_json::json!({"agreed": 2, "items": 4, "share": 0.5, "adjudicated": 2})
    );
    assert_eq!(report["reviews"]["adjudicated"], 2);
    assert_eq!(
        report["reviewers"],
        serde_json::json!([{"reviewer": "rev", "adjudicated": 2, "confirmed_a_rater": 1, "own_answers": 1}])
    );
    // A rater's own figures (what `verdict stats` shows) are the report's.
    let mine = HubDb::open(&db)
        .unwrap()
        .my_figures(&me(&db, &raters[2]))
        .unwrap();
    assert_eq!(
        serde_json::to_value(&mine.figures.with_final["severity"]).unwrap(),
        sev("cat")
    );
    let text = hub_ok(&db, &["report"]);
    // The agreement table: no rows for questions no item asked (preference: these items
    // have one response), one line for the categories nobody chose.
    assert!(!text.contains("preference"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("harm ")
                && l.contains("no variation (n/a): none, vcr")),
        "{text}"
    );
    assert!(
        text.contains("Agreement with final answers") && text.contains("severity: 50% 2/4 [2]"),
        "{text}"
    );
    assert!(
        hub_ok(&db, &["status"])
            .contains("review queue: 0 waiting, 0 with a reviewer, 2 adjudicated")
    );
}

fn a_reviewer_who_skips_leaves_the_item_to_another(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    let _raters = three_raters(&db, dir.path());
    let rev = person(&db, "rev", Role::Reviewer);
    let rex = person(&db, "rex", Role::Reviewer);
    let mut hub = HubDb::open(&db).unwrap();
    let resp = hub.pull(&me(&db, &rev), 1).unwrap();
    assert_eq!(resp.batches[0].items.len(), 1, "max is honoured");
    let mut records = records_for(&resp);
    records[0].status = "skipped".into();
    records[0].skip_reason = Some("I wrote the guideline section this tests".into());
    let skipped = records[0].item_id.clone();
    let (bundle, sig) = signed_bundle(&resp, &records, "rev", &rev.kp, None);
    hub.push(&me(&db, &rev), bundle.as_bytes(), &sig).unwrap();
    // Back in the queue, but not for rev.
    let again = hub.pull(&me(&db, &rev), 10).unwrap();
    let ids: Vec<String> = again
        .batches
        .iter()
        .flat_map(|b| {
            b.items
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(!ids.contains(&skipped), "{ids:?}");
    assert_eq!(ids.len(), 1, "the other review");
    let other = hub.pull(&me(&db, &rex), 10).unwrap();
    let ids: Vec<&str> = other
        .batches
        .iter()
        .flat_map(|b| b.items.iter().map(|i| i["id"].as_str().unwrap()))
        .collect();
    assert_eq!(ids, [skipped.as_str()]);
}

fn the_policy_sets_thresholds_and_a_scan_applies_it(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    hub_ok(&db, &["init", "--gold-rate", "0"]);
    // Lenient before any work: two of three agreeing is enough; no flags, no sample.
    hub_ok(
        &db,
        &[
            "review-policy",
            "--min-agreement",
            "0.5",
            "--flagged",
            "false",
            "--qa-rate",
            "0",
        ],
    );
    hub_ok(
        &db,
        &[
            "load",
            batch(dir.path(), 4).to_str().unwrap(),
            "--overlap",
            "3",
        ],
    );
    for name in ["ann", "bob", "cat"] {
        let p = person(&db, name, Role::Rater);
        work(&db, &p, |r| {
            if name == "cat" && r.item_id == "x2" {
                severity(r, "2");
            }
        });
    }
    assert_eq!(db.count("SELECT count(*) FROM reviews"), 0);
    // Bad input is named and changes nothing.
    let (ok, _, err) = hub_run(&db, &["review-policy", "--qa-rate", "2"]);
    assert!(
        !ok && err.contains("--qa-rate must be a share between 0 and 1 (it is 2)"),
        "{err}"
    );
    let (ok, _, err) = hub_run(&db, &["review-policy", "--question", "severity"]);
    assert!(
        !ok && err.contains("--question takes QUESTION=SHARE"),
        "{err}"
    );
    let (ok, _, err) = hub_run(&db, &["review-policy", "--question", "sevrity=1"]);
    assert!(
        !ok && err.contains("--question sevrity: no loaded batch asks") && err.contains("severity"),
        "{err}"
    );
    let shown = hub_ok(&db, &["review-policy"]);
    assert!(shown.contains("fewer than 50%"), "{shown}");
    assert!(
        shown.contains("Flagged items are not reviewed; 0%"),
        "{shown}"
    );
    // Severity must be unanimous: a scan queues x2 (finished before the change).
    hub_ok(&db, &["review-policy", "--question", "severity=1"]);
    let out = hub_ok(&db, &["review-scan"]);
    assert!(
        out.starts_with("Queued 1 finished item for review"),
        "{out}"
    );
    assert_eq!(hub_ok(&db, &["review-scan"]).split(' ').nth(1), Some("0"));
    // Every agreed item drawn for quality assurance.
    hub_ok(&db, &["review-policy", "--qa-rate", "1"]);
    let out = hub_ok(&db, &["review-scan"]);
    assert!(
        out.starts_with("Queued 3 finished items for review"),
        "{out}"
    );
    let reasons: Vec<String> = (1..=4)
        .map(|i| {
            db.count(&format!(
                "SELECT count(*) FROM reviews r JOIN items i ON i.key = r.item
                 WHERE i.item_id = 'x{i}' AND r.reasons LIKE '%quality sample%'"
            ))
            .to_string()
        })
        .collect();
    assert_eq!(reasons, ["1", "0", "1", "1"]);
}

fn two_pushes_finishing_one_item_at_once_queue_it_once(backend: Backend) {
    // Overlap 2: ann and bob disagree. Ann's push is held in its transaction right after
    // it judged the item (it had only her record), bob's goes to another process at that
    // moment. Bob's must wait for ann's and then see her record: the item is queued once.
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    hub_ok(&db, &["init", "--gold-rate", "0"]);
    hub_ok(&db, &["review-policy", "--qa-rate", "0"]);
    hub_ok(
        &db,
        &[
            "load",
            batch(dir.path(), 1).to_str().unwrap(),
            "--overlap",
            "2",
        ],
    );
    let ann = person(&db, "ann", Role::Rater);
    let bob = person(&db, "bob", Role::Rater);
    let hold = dir.path().join("hold");
    std::fs::write(&hold, "").unwrap();
    let held = Hub::start_with(
        &db,
        &[
            ("VERDICT_FAILPOINT", "hub:push-queued"),
            ("VERDICT_FAILPOINT_HOLD", hold.to_str().unwrap()),
        ],
    );
    let other = Hub::start(&db);
    use verdict::hub::client;
    let a = client::pull(&other.url, &ann.token, 5).unwrap();
    let b = client::pull(&other.url, &bob.token, 5).unwrap();
    let (ab, asig) = signed_bundle(&a, &records_for(&a), "ann", &ann.kp, None);
    let mut bobs = records_for(&b);
    severity(&mut bobs[0], "3");
    let (bb, bsig) = signed_bundle(&b, &bobs, "bob", &bob.kp, None);
    std::thread::scope(|scope| {
        let first = scope.spawn(|| client::push(&held.url, &ann.token, ab, asig));
        // Ann's push holds the item (and, on SQLite, the database) until released.
        let reached = dir.path().join("hold.reached");
        while !reached.exists() {
            assert!(!first.is_finished(), "ann's push ended before the hold");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let second = scope.spawn(|| client::push(&other.url, &bob.token, bb, bsig));
        // Bob's push waits for ann's (it cannot finish while hers holds the item); give
        // it time to reach that wait, then release hers.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let waited = !second.is_finished();
        std::fs::remove_file(&hold).unwrap();
        assert!(waited, "bob's push did not wait for ann's");
        assert_eq!(first.join().unwrap().unwrap().accepted, 1);
        assert_eq!(second.join().unwrap().unwrap().accepted, 1);
    });
    assert_eq!(db.count("SELECT count(*) FROM records"), 2);
    assert_eq!(db.count("SELECT count(*) FROM reviews"), 1);
}

/// The real workstation as a reviewer: the review pane shows who said what, one key
/// confirms a rater, and the signed bundle makes that rater's answers final on the hub.
#[test]
fn a_reviewer_confirms_a_rater_in_the_workstation() {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(Backend::Sqlite, dir.path());
    let raters = three_raters(&db, dir.path());
    let hub = Hub::start(&db);
    let s = Sandbox::new();
    s.ok(&["key", "show"]);
    let pk = s.config().join("verdict.pub");
    let out = hub_ok(
        &db,
        &[
            "rater",
            "add",
            "e2e-rater",
            "--role",
            "reviewer",
            "--pubkey",
            pk.to_str().unwrap(),
        ],
    );
    assert!(out.starts_with("Registered reviewer e2e-rater"), "{out}");
    let token = common::hubdb::token_of(&out);
    let pulled = s.ok(&["pull", &hub.url, "--token", &token]);
    assert!(pulled.contains("2 items leased to you"), "{pulled}");
    // Final answers of one's own need a reason, from the command line too.
    let (ok, _, err) = s.run(&["label", "rv/x3", "-a", "severity=1", "--submit"]);
    assert!(
        !ok && err.contains("these final answers are no rater's"),
        "{err}"
    );
    let t = Tmux::start(&s, "review");
    let screen = t.wait_for("Final answers (review)");
    assert!(screen.contains("≠ Severity"), "{screen}");
    assert!(screen.contains("0 None — f5 ann, f6 bob"), "{screen}");
    assert!(screen.contains("2 Moderate — f7 cat"), "{screen}");
    assert!(
        screen.contains("= Response behaviour: Full compliance"),
        "{screen}"
    );
    // Cat was right: one key.
    t.key("f7");
    let screen = t.wait_for("rv · x3");
    assert!(screen.contains("flagged edge_case"), "{screen}");
    t.key("q");
    let out = s.ok(&["export"]);
    assert!(out.contains("Wrote 1 record"), "{out}");
    let pushed = s.ok(&["push", &hub.url, "--token", &token]);
    assert!(pushed.contains("1 record acknowledged"), "{pushed}");
    let rows = export_rows(&db, dir.path());
    let x2 = rows.iter().find(|r| r["item_id"] == "x2").unwrap();
    assert_eq!(x2["final"]["source"], "adjudicated");
    assert_eq!(x2["final"]["reviewer"], "e2e-rater");
    assert_eq!(x2["final"]["confirmed"], serde_json::json!(["cat"]));
    assert_eq!(x2["final"]["answers"]["severity"], "2");

    // Cat changes her mind after the adjudication (revision 2: severity 0). The item goes
    // back for review, its adjudication final until then; the reviewer's next pull brings
    // the raters' records now and reopens the earlier answer.
    {
        let mut h = HubDb::open(&db).unwrap();
        let cat = &raters[2];
        let resp = h.pull(&me(&db, cat), 50).unwrap();
        assert!(resp.batches.iter().all(|b| b.items.is_empty()));
        let mut records: Vec<Record> = Vec::new();
        let mut r = records_for(&PullResponse {
            batches: vec![verdict::hub::api::WireBatch {
                manifest: serde_json::json!({"batch_id": "rv", "schema": verdict::model::Schema::builtin("ai-safety-v1").unwrap(), "guidelines": verdict::guidelines::default_reference()}),
                items: vec![
                    serde_json::json!({"id": "x2", "messages": [{"role": "user", "content": "Question 2"}], "responses": [{"text": "Answer 2"}]}),
                ],
            }],
            calibration: vec![],
            lease_expires: String::new(),
            qualification: None,
        });
        r[0].revision = 2;
        records.append(&mut r);
        let fake = PullResponse {
            batches: vec![verdict::hub::api::WireBatch {
                manifest: serde_json::json!({"batch_id": "rv", "schema": verdict::model::Schema::builtin("ai-safety-v1").unwrap(), "guidelines": verdict::guidelines::default_reference()}),
                items: vec![],
            }],
            calibration: vec![],
            lease_expires: String::new(),
            qualification: None,
        };
        let (bundle, sig) = signed_bundle(&fake, &records, "cat", &cat.kp, None);
        h.push(&me(&db, cat), bundle.as_bytes(), &sig).unwrap();
    }
    let queue = hub_ok(&db, &["reviews"]);
    assert!(
        queue.contains("rv/x2  waiting")
            && queue.contains("cat revised their record after the adjudication"),
        "{queue}"
    );
    let rows = export_rows(&db, dir.path());
    let x2 = rows.iter().find(|r| r["item_id"] == "x2").unwrap();
    assert_eq!(x2["final"]["source"], "adjudicated");
    assert_eq!(x2["review"], "waiting");
    let again = s.ok(&["pull", &hub.url, "--token", &token]);
    assert!(
        again.contains("2 items leased"),
        "x2 again, and x3 not yet answered: {again}"
    );
    let mut store = verdict::store::Store::open(&s.data()).unwrap();
    let key = store.find_item("rv/x2").unwrap();
    let item = store.item(key).unwrap();
    assert_eq!(item.annotation.status, "draft", "reopened for review");
    let review = item.extras.review.unwrap();
    assert_eq!(
        review.raters[2].answers["severity"],
        Answer::One("0".into())
    );
    assert!(review.differing().is_empty(), "the raters agree now");
}
