//! The annotation store through the library: exclusivity in storage, the event log,
//! submit rules, reopening, active time, status counts.
#![allow(clippy::unwrap_used)]

mod common;
use common::fixture;
use pretty_assertions::assert_eq;
use verdict::batch::{self, Options};
use verdict::model::Answer;
use verdict::store::{Store, StoreError};

fn store_with_mixed() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let mut b = batch::open(&fixture("mixed.jsonl"), Options::default()).unwrap();
    store.import(&mut b, "test", |_| {}).unwrap();
    (dir, store)
}

fn one(v: &str) -> Answer {
    Answer::One(v.into())
}

fn many(v: &[&str]) -> Answer {
    Answer::Many(v.iter().map(|s| s.to_string()).collect())
}

#[test]
fn a_single_choice_answer_is_exclusive_in_storage() {
    let (dir, mut store) = store_with_mixed();
    let key = store.find_item("single").unwrap();
    let act = store.new_action().unwrap();
    store
        .set_answer(key, "behaviour", Some(&one("full_refusal")), act)
        .unwrap();
    store
        .set_answer(key, "behaviour", Some(&one("full_compliance")), act)
        .unwrap();
    let e = store.set_answer(
        key,
        "behaviour",
        Some(&many(&["full_refusal", "full_compliance"])),
        act,
    );
    assert!(matches!(e, Err(StoreError::Refused(m)) if m.contains("takes exactly one value")));
    // What is on disk: one row for the question, holding the last choice.
    let c = rusqlite::Connection::open(dir.path().join("cache.sqlite3")).unwrap();
    let rows: Vec<String> = c
        .prepare("SELECT value FROM answers WHERE item = ?1 AND question = 'behaviour'")
        .unwrap()
        .query_map([key], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows, vec!["\"full_compliance\"".to_string()]);
    // The primary key refuses a second row even from outside verdict.
    let dup = c.execute(
        "INSERT INTO answers (item, question, value) VALUES (?1, 'behaviour', '\"full_refusal\"')",
        [key],
    );
    assert!(dup.is_err());
}

#[test]
fn every_change_is_in_the_event_log_with_old_and_new_values() {
    let (_dir, mut store) = store_with_mixed();
    let key = store.find_item("single").unwrap();
    let a1 = store.new_action().unwrap();
    store
        .set_answer(key, "harm", Some(&many(&["vcr"])), a1)
        .unwrap();
    let a2 = store.new_action().unwrap();
    assert_eq!(a2, a1 + 1);
    store
        .set_answer(key, "harm", Some(&many(&["hte", "vcr"])), a2)
        .unwrap();
    store.set_answer(key, "harm", None, a2).unwrap();
    // Setting the same value again is not a change.
    store.set_answer(key, "harm", None, a2).unwrap();
    let ev: Vec<(i64, String, Option<String>, Option<String>)> = store
        .events(key)
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.field, e.old, e.new))
        .collect();
    assert_eq!(
        ev,
        vec![
            (a1, "answer:harm".into(), None, Some("[\"vcr\"]".into())),
            (
                a2,
                "answer:harm".into(),
                Some("[\"vcr\"]".into()),
                Some("[\"vcr\",\"hte\"]".into())
            ),
            (
                a2,
                "answer:harm".into(),
                Some("[\"vcr\",\"hte\"]".into()),
                None
            ),
        ]
    );
}

#[test]
fn submit_follows_the_schema_rules_and_a_later_change_reopens_the_item() {
    let (_dir, mut store) = store_with_mixed();
    let key = store.find_item("single").unwrap();
    let act = store.new_action().unwrap();
    let e = store.submit(key, act).unwrap_err();
    assert!(
        e.to_string().contains("'Harm categories' is not answered"),
        "{e}"
    );
    store
        .set_answer(key, "harm", Some(&many(&["ncr"])), act)
        .unwrap();
    store
        .set_answer(key, "severity", Some(&one("2")), act)
        .unwrap();
    store
        .set_answer(key, "behaviour", Some(&one("full_compliance")), act)
        .unwrap();
    store
        .set_answer(key, "appropriateness", Some(&one("under_refusal")), act)
        .unwrap();
    let e = store.submit(key, act).unwrap_err();
    assert!(
        e.to_string()
            .contains("justification of at least 40 characters"),
        "{e}"
    );
    // Length is counted in user-perceived characters: 40 emoji of several code points each.
    store.set_justification(key, &"👩‍💻".repeat(39), act).unwrap();
    assert!(store.submit(key, act).is_err());
    store.set_justification(key, &"👩‍💻".repeat(40), act).unwrap();
    store.submit(key, act).unwrap();
    let item = store.item(key).unwrap();
    assert_eq!(
        (item.annotation.status.as_str(), item.annotation.revision),
        ("done", 1)
    );

    let act2 = store.new_action().unwrap();
    store
        .set_answer(key, "severity", Some(&one("3")), act2)
        .unwrap();
    let item = store.item(key).unwrap();
    assert_eq!(
        item.annotation.status, "draft",
        "a change after submit needs a new submit"
    );
    store.submit(key, act2).unwrap();
    assert_eq!(store.item(key).unwrap().annotation.revision, 2);
    let statuses: Vec<(String, Option<String>)> = store
        .events(key)
        .unwrap()
        .into_iter()
        .filter(|e| e.field == "status")
        .map(|e| (e.old.unwrap(), e.new))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("\"draft\"".into(), Some("\"done\"".into())),
            ("\"done\"".into(), Some("\"draft\"".into())),
            ("\"draft\"".into(), Some("\"done\"".into())),
        ]
    );
}

#[test]
fn answers_to_questions_no_longer_asked_are_dropped_at_submit() {
    let (_dir, mut store) = store_with_mixed();
    let key = store.find_item("pair").unwrap();
    let act = store.new_action().unwrap();
    for (q, a) in [
        ("harm", many(&["none"])),
        ("severity", one("0")),
        ("preference", one("a")),
        ("strength", one("clear")),
    ] {
        store.set_answer(key, q, Some(&a), act).unwrap();
    }
    store
        .set_answer(key, "preference", Some(&one("tie")), act)
        .unwrap();
    store.submit(key, act).unwrap();
    let answers = store.item(key).unwrap().annotation.answers;
    assert_eq!(
        answers.keys().cloned().collect::<Vec<_>>(),
        vec!["preference"]
    );
}

#[test]
fn skip_flag_active_time_and_status_counts() {
    let (_dir, mut store) = store_with_mixed();
    let act = store.new_action().unwrap();
    let single = store.find_item("single").unwrap();
    let multi = store.find_item("multi").unwrap();
    let e = store.skip(multi, "  ", act).unwrap_err();
    assert!(e.to_string().contains("needs a reason"));
    store
        .skip(multi, "cannot judge: not my language", act)
        .unwrap();
    let e = store
        .flag(single, Some(("no_such_reason", "x")), act)
        .unwrap_err();
    assert!(e.to_string().contains("not an escalation reason"), "{e}");
    store
        .flag(
            single,
            Some(("guideline_gap", "fiction framing not covered")),
            act,
        )
        .unwrap();
    store.add_active_ms(single, 1500).unwrap();
    store.add_active_ms(single, 2500).unwrap();
    let item = store.item(single).unwrap();
    assert_eq!(item.annotation.active_ms, 4000);
    assert_eq!(
        item.annotation.flag,
        Some(("guideline_gap".into(), "fiction framing not covered".into()))
    );
    let st = store.status().unwrap();
    assert_eq!(st.len(), 1);
    let s = &st[0];
    assert_eq!(
        (s.items, s.todo, s.done, s.skipped, s.flagged, s.to_export),
        (6, 5, 0, 1, 1, 1)
    );
}

#[test]
fn an_item_id_in_two_batches_needs_the_batch_named() {
    let (dir, mut store) = store_with_mixed();
    let other = dir.path().join("other.jsonl");
    std::fs::write(
        &other,
        "{\"manifest\": {\"batch_id\": \"other\"}}\n{\"id\": \"single\", \"prompt\": \"p\", \"responses\": [\"r\"]}\n",
    )
    .unwrap();
    let mut b = batch::open(&other, Options::default()).unwrap();
    store.import(&mut b, "test", |_| {}).unwrap();
    let e = store.find_item("single").unwrap_err();
    assert!(
        e.to_string()
            .contains("--batch 'fixture-mixed' 'single', --batch 'other' 'single'"),
        "{e}"
    );
    let a = store.find_item("fixture-mixed/single").unwrap();
    let b = store.find_item("other/single").unwrap();
    assert_ne!(a, b);
    assert!(matches!(
        store.find_item("nope"),
        Err(StoreError::NoItem(..))
    ));
}

#[test]
fn undo_and_redo_walk_the_event_log_across_items_a_submit_included() {
    let (_dir, mut store) = store_with_mixed();
    let single = store.find_item("single").unwrap();
    let pair = store.find_item("pair").unwrap();
    assert_eq!(store.undo().unwrap(), None, "nothing to undo yet");

    // Action 1: the preset and submit on `single` (one keystroke in the screen).
    let a1 = store.new_action().unwrap();
    for (q, a) in [
        ("harm", many(&["none"])),
        ("severity", one("0")),
        ("behaviour", one("full_compliance")),
        ("appropriateness", one("appropriate")),
    ] {
        store.set_answer(single, q, Some(&a), a1).unwrap();
    }
    store.submit(single, a1).unwrap();
    // Action 2: a preference on `pair`.
    let a2 = store.new_action().unwrap();
    store
        .set_answer(pair, "preference", Some(&one("b")), a2)
        .unwrap();

    let r = store.undo().unwrap().unwrap();
    assert_eq!((r.key, r.action, r.changes), (pair, a2, 1));
    assert!(store.item(pair).unwrap().annotation.answers.is_empty());

    // Undoing the submit action restores every answer and the status at once.
    let r = store.undo().unwrap().unwrap();
    assert_eq!((r.key, r.action, r.changes), (single, a1, 5));
    let s = store.item(single).unwrap().annotation;
    assert_eq!(s.status, "draft");
    assert!(s.answers.is_empty());
    assert_eq!(store.undo().unwrap(), None);

    // Redo goes forward in the same order.
    assert_eq!(store.redo().unwrap().unwrap().action, a1);
    let s = store.item(single).unwrap().annotation;
    assert_eq!(s.status, "done");
    assert_eq!(s.answers.len(), 4);
    assert_eq!(store.redo().unwrap().unwrap().action, a2);
    assert_eq!(
        store.item(pair).unwrap().annotation.answers["preference"],
        one("b")
    );
    assert_eq!(store.redo().unwrap(), None);

    // A new action after an undo cuts the redo history.
    store.undo().unwrap();
    let a3 = store.new_action().unwrap();
    store.set_justification(pair, "A is safer", a3).unwrap();
    assert_eq!(store.redo().unwrap(), None);
    assert_eq!(store.undo().unwrap().unwrap().action, a3);
    assert_eq!(store.item(pair).unwrap().annotation.justification, "");

    // The audit trail keeps everything: the originals and each undo and redo.
    let kinds: Vec<String> = store
        .events(single)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "do").count(), 5);
    assert_eq!(kinds.iter().filter(|k| *k == "undo").count(), 5);
    assert_eq!(kinds.iter().filter(|k| *k == "redo").count(), 5);
}

#[test]
fn undo_restores_flags_skips_and_justifications() {
    let (_dir, mut store) = store_with_mixed();
    let key = store.find_item("multi").unwrap();
    let a = store.new_action().unwrap();
    store.set_justification(key, "first", a).unwrap();
    let b = store.new_action().unwrap();
    store.set_justification(key, "second", b).unwrap();
    store.flag(key, Some(("edge_case", "hmm")), b).unwrap();
    let c = store.new_action().unwrap();
    store.skip(key, "truncated", c).unwrap();
    store.undo().unwrap();
    let ann = store.item(key).unwrap().annotation;
    assert_eq!(
        (ann.status.as_str(), ann.skip_reason.as_deref()),
        ("draft", None)
    );
    store.undo().unwrap();
    let ann = store.item(key).unwrap().annotation;
    assert_eq!(ann.justification, "first");
    assert_eq!(ann.flag, None);
}

/// `verdict label` is one action, checked before anything is written: an unknown
/// question, a bad option, a bad flag reason or a submit that would be refused changes
/// nothing; a change that reopens a finished item says so.
#[test]
fn label_changes_nothing_on_an_error_and_says_when_it_reopens() {
    let s = common::Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    let item = "fixture-mixed/single";
    for (args, says) in [
        (
            vec!["-a", "harm=vcr", "-a", "foo=1"],
            "has no question 'foo' (questions: harm",
        ),
        (vec!["-a", "harm=vcr", "-a", "severity=9"], "severity"),
        (
            vec!["-a", "harm=vcr", "-j", "short", "--flag", "bogus"],
            "'bogus' is not an escalation reason",
        ),
        (
            vec!["-a", "harm=vcr", "-j", "short", "--submit"],
            "cannot be submitted",
        ),
    ] {
        let mut full = vec!["label", item];
        full.extend(args.iter());
        let err = s.fails(&full);
        assert!(
            err.contains(says) && err.contains("othing was changed"),
            "{args:?}: {err}"
        );
        let log = s.ok(&["log", item]);
        assert!(!log.contains("harm"), "{args:?} changed something: {log}");
    }
    s.ok(&["label", item, "--preset", "safe", "--submit"]);
    let (ok, out, err) = s.run(&["label", item, "-a", "severity=1"]);
    assert!(ok, "{err}");
    assert!(out.contains(": draft"), "{out}");
    assert!(
        err.contains("was done; the change reopened it") && err.contains("--submit"),
        "{err}"
    );
}
