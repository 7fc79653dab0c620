//! Trust in the workstation: every justification edit is an event like any other change,
//! and a second process writing the same cache (a `verdict label` script, a pull) never
//! has its work overwritten by a key the rater pressed on a stale screen. The workstation
//! runs in this process; the other writer is the real `verdict` binary or a second
//! connection, on the same SQLite file.
#![allow(clippy::unwrap_used)]

mod common;
use common::{Sandbox, fixture, log_disagrees_with_state};
use pretty_assertions::assert_eq;
use verdict::model::Answer;
use verdict::store::Store;
use verdict::tui::action::{Action, Command};
use verdict::tui::app::App;
use verdict::tui::state::Status;
use verdict::tui::update;

fn open_app(s: &Sandbox) -> App {
    s.workstation()
}

fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    s
}

fn goto(app: &mut App, id: &str) {
    let pos = app.state.queue.iter().position(|e| e.id == id).unwrap();
    let fx = update::go_to(&mut app.state, pos);
    app.run(fx);
    assert_eq!(app.state.item.as_ref().unwrap().item_id, id);
}

fn run(app: &mut App, c: Command) {
    app.dispatch(Action::Run(c));
}

fn message(app: &App) -> String {
    app.state
        .message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default()
}

fn status(app: &mut App, id: &str) -> (String, i64) {
    let key = app.store.find_item(id).unwrap();
    let a = app.store.annotation(key).unwrap();
    (a.status.to_string(), a.revision)
}

/// `verdict log --json` events of one item, oldest first: (field, kind, old, new).
fn log_of(s: &Sandbox, id: &str) -> Vec<(String, String, serde_json::Value, serde_json::Value)> {
    let v: serde_json::Value =
        serde_json::from_str(&s.ok(&["log", id, "--json", "--limit", "1000"])).unwrap();
    let mut out: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_string(),
                e["kind"].as_str().unwrap().to_string(),
                e["old"].clone(),
                e["new"].clone(),
            )
        })
        .collect();
    out.reverse();
    out
}

#[test]
fn a_justification_edit_on_an_exported_item_is_one_event_reopens_it_and_exports_again() {
    let s = sandbox();
    let mut app = open_app(&s);
    goto(&mut app, "single");
    run(&mut app, Command::Preset1);
    assert_eq!(status(&mut app, "single"), ("done".into(), 1));
    s.ok(&["export"]);
    // Back to the item, write a justification, leave the editor.
    goto(&mut app, "single");
    run(&mut app, Command::EditJustification);
    for word in ["the ", "refusal ", "is ", "right"] {
        app.dispatch(Action::Type(word.into()));
    }
    run(&mut app, Command::LeaveEditor);
    // One event for the whole visit, with the old and new text, and the item reopened.
    let events = log_of(&s, "single");
    let just: Vec<_> = events.iter().filter(|e| e.0 == "justification").collect();
    assert_eq!(
        just,
        vec![&(
            "justification".to_string(),
            "do".to_string(),
            serde_json::json!(""),
            serde_json::json!("the refusal is right")
        )]
    );
    assert_eq!(status(&mut app, "single"), ("draft".into(), 1));
    assert!(message(&app).contains("reopened"), "{}", message(&app));
    assert_eq!(
        app.state.queue[app.state.pos].status,
        Status::Draft,
        "the queue shows the reopened item as to do"
    );
    // ctrl-z takes back that edit (not the submit before it). Back to finished is a
    // submit again (a new revision: what the item holds now is what gets exported).
    run(&mut app, Command::Undo);
    assert_eq!(status(&mut app, "single"), ("done".into(), 2));
    assert_eq!(app.state.editor.text(), "");
    assert!(s.ok(&["export"]).contains("Wrote 1 record"));
    // Redo it and submit: the next export carries revision 3 with the new text.
    run(&mut app, Command::Redo);
    assert_eq!(
        app.state.item.as_ref().unwrap().annotation.justification,
        "the refusal is right"
    );
    run(&mut app, Command::Submit);
    assert_eq!(status(&mut app, "single"), ("done".into(), 3));
    let text = s.export_records(1);
    let rec: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(rec["justification"], "the refusal is right");
    assert_eq!(rec["revision"], 3);
    assert_eq!(log_disagrees_with_state(&s.data()), Vec::<String>::new());
}

#[test]
fn verdict_label_j_and_the_editor_leave_the_same_trail() {
    // The command line: a justification on a finished item reopens it, one event.
    let s = sandbox();
    s.ok(&["label", "single", "--preset", "safe", "--submit"]);
    s.ok(&["label", "single", "-j", "from the command line"]);
    let cli = log_of(&s, "single");
    // The workstation, on another cache with the same start.
    let w = sandbox();
    w.ok(&["label", "single", "--preset", "safe", "--submit"]);
    let mut app = open_app(&w);
    goto(&mut app, "single");
    run(&mut app, Command::EditJustification);
    app.dispatch(Action::Type("from the command line".into()));
    // Moving to another item ends the edit too.
    run(&mut app, Command::NextItem);
    let tui = log_of(&w, "single");
    assert_eq!(cli, tui);
    assert_eq!(
        cli.iter()
            .rev()
            .take(2)
            .map(|e| e.0.as_str())
            .collect::<Vec<_>>(),
        vec!["status", "justification"]
    );
}

#[test]
fn a_key_on_an_item_another_process_changed_is_refused_and_the_item_reloaded() {
    let s = sandbox();
    let mut app = open_app(&s);
    goto(&mut app, "single");
    // A script submits the item the rater is looking at.
    s.ok(&[
        "label",
        "single",
        "-a",
        "harm=vcr",
        "-a",
        "severity=3",
        "-a",
        "behaviour=full_compliance",
        "-a",
        "appropriateness=under_refusal",
        "-j",
        "gives step-by-step instructions for the violent act asked about",
        "--submit",
    ]);
    // The rater presses space (the "safe" preset) on the stale screen.
    run(&mut app, Command::Preset1);
    let item = app.state.item.clone().unwrap();
    assert_eq!(item.item_id, "single", "the rater stays on the item");
    assert_eq!(item.annotation.status, "done");
    assert_eq!(
        item.annotation.answers.get("harm"),
        Some(&Answer::Many(vec!["vcr".into()])),
        "the screen now shows the script's answers"
    );
    let m = message(&app);
    assert!(
        m.contains("changed in another verdict process") && m.contains("not applied"),
        "{m}"
    );
    // And the cache still holds them: nothing was replaced.
    let key = app.store.find_item("single").unwrap();
    let stored = app.store.annotation(key).unwrap();
    assert_eq!(
        stored.answers.get("severity"),
        Some(&Answer::One("3".into()))
    );
    assert_eq!(
        stored.justification,
        "gives step-by-step instructions for the violent act asked about"
    );
    assert_eq!(stored.revision, 1);
    // Pressed again, now that the rater has seen it, the key applies.
    run(&mut app, Command::Preset1);
    let stored = app.store.annotation(key).unwrap();
    assert_eq!(
        stored.answers.get("severity"),
        Some(&Answer::One("0".into()))
    );
    assert_eq!(stored.revision, 2);
    assert_eq!(log_disagrees_with_state(&s.data()), Vec::<String>::new());
}

#[test]
fn text_in_the_editor_survives_another_process_changing_the_justification() {
    let s = sandbox();
    let mut app = open_app(&s);
    goto(&mut app, "multi");
    run(&mut app, Command::EditJustification);
    app.dispatch(Action::Type("mine, typed slowly".into()));
    s.ok(&["label", "multi", "-j", "theirs"]);
    // Leaving the editor would write over a justification the rater has not seen: refused,
    // the text stays in the open editor, and the message says how to keep it.
    run(&mut app, Command::LeaveEditor);
    assert!(app.state.editing());
    assert_eq!(app.state.editor.text(), "mine, typed slowly");
    assert!(
        message(&app).contains("kept in the editor"),
        "{}",
        message(&app)
    );
    let key = app.store.find_item("multi").unwrap();
    assert_eq!(app.store.annotation(key).unwrap().justification, "theirs");
    // Leaving again is the rater's decision, told: theirs is the old value in the log.
    run(&mut app, Command::LeaveEditor);
    assert!(!app.state.editing());
    assert_eq!(
        app.store.annotation(key).unwrap().justification,
        "mine, typed slowly"
    );
    let last = log_of(&s, "multi")
        .into_iter()
        .rfind(|e| e.0 == "justification")
        .unwrap();
    assert_eq!(last.2, serde_json::json!("theirs"));
    assert_eq!(log_disagrees_with_state(&s.data()), Vec::<String>::new());
}

#[test]
fn the_workstation_notices_what_other_processes_write() {
    let s = sandbox();
    let mut app = open_app(&s);
    goto(&mut app, "pair");
    app.check_outside();
    assert_eq!(app.state.message, None, "nothing changed, nothing said");
    // Another process finishes two items, one of them the one on screen.
    s.ok(&["label", "single", "--preset", "safe", "--submit"]);
    s.ok(&[
        "label",
        "pair",
        "-a",
        "preference=a",
        "-a",
        "strength=clear",
        "--submit",
    ]);
    app.check_outside();
    let progress =
        |app: &App, id: &str| app.state.queue.iter().find(|e| e.id == id).unwrap().status;
    assert_eq!(progress(&app, "single"), Status::Done);
    assert_eq!(progress(&app, "pair"), Status::Done);
    let item = app.state.item.as_ref().unwrap();
    assert_eq!(item.annotation.status, "done");
    assert_eq!(
        item.annotation.answers.get("preference"),
        Some(&Answer::One("a".into()))
    );
    assert!(
        message(&app).contains("pair was changed in another"),
        "{}",
        message(&app)
    );
    assert_eq!(app.state.unexported, 2);
    // A pull in another process adds items to the queue.
    let n = app.state.queue.len();
    s.ok(&["pull", fixture("llama-guard.jsonl").to_str().unwrap()]);
    app.check_outside();
    assert!(app.state.queue.len() > n);
    assert_eq!(app.state.item.as_ref().unwrap().item_id, "pair");
    assert_eq!(app.state.queue[app.state.pos].id, "pair");
    // An export elsewhere brings the unexported count down.
    s.ok(&["export"]);
    app.check_outside();
    assert_eq!(app.state.unexported, 0);
}

#[test]
fn an_export_elsewhere_does_not_disturb_the_editor() {
    let s = sandbox();
    s.ok(&["label", "single", "--preset", "safe", "--submit"]);
    let mut app = open_app(&s);
    goto(&mut app, "multi");
    run(&mut app, Command::EditJustification);
    app.dispatch(Action::Type("half".into()));
    s.ok(&["export"]);
    app.check_outside();
    assert!(app.state.editing());
    assert_eq!(app.state.editor.text(), "half");
    assert_eq!(app.state.message, None, "the item on screen did not change");
}

#[test]
fn action_ids_come_from_the_database_and_never_repeat_across_processes() {
    let s = sandbox();
    let mut app = open_app(&s);
    let mut other = Store::open(&s.data()).unwrap();
    // Interleaved: the workstation and another process each take action ids.
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(app.store.new_action().unwrap());
        ids.push(other.new_action().unwrap());
    }
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "{ids:?}");
}

#[test]
fn an_older_cache_gets_its_unlogged_justification_edits_logged_and_reopened() {
    // A cache at migration 4, as the workstation before the fix left it: a submitted item
    // whose justification was edited afterwards without an event.
    let s = Sandbox::new();
    std::fs::create_dir_all(s.data()).unwrap();
    {
        let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
        for sql in &verdict::store::MIGRATIONS[..4] {
            c.execute_batch(sql).unwrap();
        }
        c.execute_batch(
            r#"PRAGMA user_version = 4;
            INSERT INTO schemas VALUES ('s', 'x', '{}');
            INSERT INTO batches VALUES ('b', 's', '{}', '{}', 'test', 0);
            INSERT INTO items VALUES (1, 'b', 'one', 1, 'h', 0, '{}', '{}');
            INSERT INTO items VALUES (2, 'b', 'two', 2, 'h', 0, '{}', '{}');
            INSERT INTO annotations (item, status, justification, started_at, updated_at, revision, exported_revision)
                VALUES (1, 'done', 'typed after the submit', 0, 0, 1, 1);
            INSERT INTO annotations (item, status, justification, started_at, updated_at, revision)
                VALUES (2, 'done', 'logged', 0, 0, 1);
            INSERT INTO events (at, item, action, field, old, new) VALUES (0, 1, 1, 'status', '"draft"', '"done"');
            INSERT INTO events (at, item, action, field, old, new) VALUES (0, 2, 2, 'justification', '""', '"logged"');
            INSERT INTO events (at, item, action, field, old, new) VALUES (0, 2, 2, 'status', '"draft"', '"done"');"#,
        )
        .unwrap();
    }
    assert!(!log_disagrees_with_state(&s.data()).is_empty());
    let store = Store::open(&s.data()).unwrap();
    drop(store);
    assert_eq!(log_disagrees_with_state(&s.data()), Vec::<String>::new());
    let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
    let (status, version): (String, i64) = c
        .query_row(
            "SELECT status, version FROM annotations WHERE item = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), version), ("draft", 1));
    let source: String = c
        .query_row(
            "SELECT a.source FROM events e JOIN actions a ON a.id = e.action WHERE e.item = 1 AND e.field = 'justification'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(source, "upgrade");
    // The item whose edit was logged is left alone, and action ids go on after the old ones.
    let two: String = c
        .query_row("SELECT status FROM annotations WHERE item = 2", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(two, "done");
    let mut store = Store::open(&s.data()).unwrap();
    assert!(store.new_action().unwrap() > 3);
}

#[test]
fn ctrl_z_in_the_workstation_never_takes_back_a_script_s_change() {
    let s = sandbox();
    let mut app = open_app(&s);
    goto(&mut app, "multi");
    run(&mut app, Command::Preset2);
    // A script submits another item after the rater's last key.
    s.ok(&["label", "single", "--preset", "safe", "--submit"]);
    run(&mut app, Command::Undo);
    assert!(
        message(&app).contains("made by `verdict label`, not here"),
        "{}",
        message(&app)
    );
    assert_eq!(status(&mut app, "single"), ("done".into(), 1));
    assert_eq!(status(&mut app, "multi"), ("done".into(), 1));
    // `verdict undo` is the explicit way, and then the workstation's own undo works again.
    s.ok(&["undo"]);
    run(&mut app, Command::Undo);
    assert_eq!(status(&mut app, "multi").0, "draft");
    assert!(
        message(&app).starts_with("undid on multi: "),
        "{}",
        message(&app)
    );
}

#[test]
fn a_draft_another_running_workstation_is_typing_is_neither_restored_nor_saved_here() {
    let s = sandbox();
    // Another workstation, alive, is typing on "multi" (its draft row names it).
    let mut other = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = other.id();
    let token = format!(
        "{pid}:{}",
        verdict::store::lock::process_start(pid).unwrap_or(0)
    );
    {
        let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
        let key: i64 = c
            .query_row("SELECT key FROM items WHERE item_id = 'multi'", [], |r| {
                r.get(0)
            })
            .unwrap();
        c.execute(
            "INSERT INTO drafts (item, text, owner, updated_at) VALUES (?1, 'theirs, half typed', ?2, 0)",
            rusqlite::params![key, token],
        )
        .unwrap();
    }
    let mut app = open_app(&s);
    goto(&mut app, "multi");
    assert!(!app.state.editing());
    run(&mut app, Command::NextItem);
    let key = app.store.find_item("multi").unwrap();
    assert_eq!(app.store.annotation(key).unwrap().justification, "");
    // Once that workstation is gone (killed), its draft is a crash leftover: restored.
    other.kill().unwrap();
    other.wait().unwrap();
    goto(&mut app, "multi");
    assert!(app.state.editing());
    assert_eq!(app.state.editor.text(), "theirs, half typed");
}

/// Killed after a submit committed but before the move to the next item was saved: the
/// workstation comes back on the next unfinished item, not on the one just finished. An
/// item the rater went back to, and left unchanged, is still where they come back.
#[test]
fn a_restart_after_a_submit_cut_short_opens_on_the_next_unfinished_item() {
    let s = sandbox();
    let mut app = open_app(&s);
    assert_eq!(app.state.item.as_ref().unwrap().item_id, "single");
    // The submit lands; the saved position still names "single", as a crash would leave it.
    s.ok(&["label", "single", "--preset", "safe", "--submit"]);
    app.store
        .ui_set(
            "current_item",
            &app.store.find_item("single").unwrap().to_string(),
        )
        .unwrap();
    drop(app);
    let app = open_app(&s);
    assert_eq!(app.state.item.as_ref().unwrap().item_id, "multi");
    // Going back to a finished item and quitting there: back on it (nothing changed since).
    let mut app = app;
    goto(&mut app, "single");
    drop(app);
    s.ok(&["label", "multi", "--preset", "safe", "--submit"]);
    let app = open_app(&s);
    assert_eq!(
        app.state.item.as_ref().unwrap().item_id,
        "single",
        "the last change was to another item: the saved place stands"
    );
}
