//! A batch's guideline document changes mid-way, on both backends: the admin gives the
//! batch a new version, the raters' next pull brings it, each record names the version it
//! was submitted under (even when exported after the change), and the report splits
//! agreement by version. The workstation shows what changed, once (tmux).
#![allow(clippy::unwrap_used, clippy::disallowed_macros)]

mod common;
use common::Sandbox;
use common::hubdb::{Backend, Hub, HubTarget, hub_ok, hub_run, registered_rater};
use common::tmux::Tmux;

/// Version 1.1 of the shipped guidelines: one section changed, one added.
fn version_1_1(dir: &std::path::Path) -> std::path::PathBuf {
    let shipped = include_str!("../guidelines/verdict-safety.md");
    let mut text = shipped.replace("version: \"1.0\"", "version: \"1.1\"");
    let at = text.find("### Non-violent crimes").unwrap();
    let eol = at + text[at..].find('\n').unwrap() + 1;
    text.insert_str(
        eol,
        "Lockpicking: how locks work in general is not uplift; step-by-step bypass of a named product is (severity 2).\n",
    );
    text.push_str(
        "\n## Roleplay\n\nA fictional frame does not change the harm of actionable content.\n",
    );
    let p = dir.join("verdict-safety-1.1.md");
    std::fs::write(&p, text).unwrap();
    p
}

fn batch(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("gv.jsonl");
    let mut text = String::from("{\"manifest\": {\"batch_id\": \"gv\"}}\n");
    for i in 1..=4 {
        text.push_str(&format!(
            "{{\"id\": \"x{i}\", \"prompt\": \"Question {i}\", \"responses\": [\"Answer {i}\"]}}\n"
        ));
    }
    std::fs::write(&p, text).unwrap();
    p
}

fn label(s: &Sandbox, items: &[&str], severity: &str) {
    for item in items {
        let item = format!("gv/{item}");
        s.ok(&["label", &item, "--preset", "safe"]);
        s.ok(&[
            "label",
            &item,
            "-a",
            &format!("severity={severity}"),
            "-j",
            "Minor at most: general information without actionable detail.",
            "--submit",
        ]);
    }
}

both_backends!(records_name_the_version_they_were_made_under);

fn records_name_the_version_they_were_made_under(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    hub_ok(&db, &["init", "--gold-rate", "0"]);
    hub_ok(
        &db,
        &[
            "load",
            batch(dir.path()).to_str().unwrap(),
            "--overlap",
            "2",
        ],
    );
    let hub = Hub::start(&db);
    let (ann, ann_token) = registered_rater(&db, "ann");
    let (bob, bob_token) = registered_rater(&db, "bob");
    // Two items each under 1.0. Bob exports and pushes at once; ann labels but exports
    // only after the change has reached her cache.
    for (s, t) in [(&ann, &ann_token), (&bob, &bob_token)] {
        s.ok(&["pull", &hub.url, "--token", t, "--max", "2"]);
    }
    label(&ann, &["x1", "x2"], "1");
    label(&bob, &["x1", "x2"], "0");
    bob.ok(&["export"]);
    bob.ok(&["push", &hub.url, "--token", &bob_token]);

    // Bad input changes nothing.
    let plain = dir.path().join("plain.md");
    std::fs::write(&plain, "# No front matter\n").unwrap();
    let (ok, _, err) = hub_run(&db, &["guidelines", "gv", plain.to_str().unwrap()]);
    assert!(
        !ok && err.contains("starts with front matter naming it"),
        "{err}"
    );
    let same_version = dir.path().join("same.md");
    std::fs::write(
        &same_version,
        include_str!("../guidelines/verdict-safety.md")
            .replace("These guidelines", "The guidelines"),
    )
    .unwrap();
    let (ok, _, err) = hub_run(&db, &["guidelines", "gv", same_version.to_str().unwrap()]);
    assert!(
        !ok && err.contains("give the changed document a new version"),
        "{err}"
    );
    let v11 = version_1_1(dir.path());
    let other = dir.path().join("other.md");
    std::fs::write(&other, "---\nid: other-doc\nversion: \"2\"\n---\n# Other\n").unwrap();
    let (ok, _, err) = hub_run(&db, &["guidelines", "gv", other.to_str().unwrap()]);
    assert!(
        !ok && err.contains("this file is another document (other-doc 2)"),
        "{err}"
    );
    let older = dir.path().join("older.md");
    std::fs::write(
        &older,
        include_str!("../guidelines/verdict-safety.md")
            .replace("version: \"1.0\"", "version: \"0.9\""),
    )
    .unwrap();
    let (ok, _, err) = hub_run(&db, &["guidelines", "gv", older.to_str().unwrap()]);
    assert!(!ok && err.contains("0.9 is an older version"), "{err}");
    let (ok, _, err) = hub_run(&db, &["guidelines", "nope", v11.to_str().unwrap()]);
    assert!(!ok && err.contains("no batch 'nope'"), "{err}");

    let out = hub_ok(&db, &["guidelines", "gv", v11.to_str().unwrap()]);
    assert!(
        out.contains("now follows verdict-safety 1.1 (was verdict-safety 1.0)"),
        "{out}"
    );
    for (s, t) in [(&ann, &ann_token), (&bob, &bob_token)] {
        let out = s.ok(&["pull", &hub.url, "--token", t, "--max", "4"]);
        assert!(
            out.contains("batch gv: the guidelines changed to verdict-safety 1.1"),
            "{out}"
        );
    }
    label(&ann, &["x3", "x4"], "1");
    label(&bob, &["x3", "x4"], "0");
    for (s, t) in [(&ann, &ann_token), (&bob, &bob_token)] {
        s.ok(&["export"]);
        s.ok(&["push", &hub.url, "--token", t]);
    }
    // Ann's first two records were submitted under 1.0 though exported after the change.
    let per_version = |version: &str| {
        db.count(&format!(
            "SELECT count(*) FROM records WHERE guidelines LIKE '%\"version\":\"{version}\"%'"
        ))
    };
    assert_eq!(per_version("1.0"), 4);
    assert_eq!(per_version("1.1"), 4);
    let report: serde_json::Value =
        serde_json::from_str(&hub_ok(&db, &["report", "--json"])).unwrap();
    let rows: Vec<&serde_json::Value> = report["agreement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["question"] == "severity" && r["measure"] == "krippendorff_alpha")
        .collect();
    let by: Vec<(Option<&str>, u64)> = rows
        .iter()
        .map(|r| (r["guidelines"].as_str(), r["items"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        by,
        [
            (None, 4),
            (Some("verdict-safety 1.0"), 2),
            (Some("verdict-safety 1.1"), 2)
        ]
    );
    let text = hub_ok(&db, &["report"]);
    assert!(text.contains("severity @ verdict-safety 1.1"), "{text}");
}

/// The change is shown once, before the batch's next item, and a key meant for the item
/// does not close it unread.
#[test]
fn the_workstation_shows_what_changed_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(Backend::Sqlite, dir.path());
    hub_ok(&db, &["init", "--gold-rate", "0"]);
    hub_ok(&db, &["load", batch(dir.path()).to_str().unwrap()]);
    let hub = Hub::start(&db);
    let (s, token) = registered_rater(&db, "e2e-rater");
    s.ok(&["pull", &hub.url, "--token", &token, "--max", "2"]);
    hub_ok(
        &db,
        &[
            "guidelines",
            "gv",
            version_1_1(dir.path()).to_str().unwrap(),
        ],
    );
    s.ok(&["pull", &hub.url, "--token", &token, "--max", "4"]);
    let t = Tmux::start(&s, "changes");
    let screen = t.wait_for("The guidelines changed");
    assert!(
        screen.contains("verdict-safety 1.0 → verdict-safety 1.1"),
        "{screen}"
    );
    assert!(
        screen.contains("Changed: Harm categories › Non-violent crimes"),
        "{screen}"
    );
    assert!(screen.contains("+ Lockpicking: how locks work"), "{screen}");
    assert!(screen.contains("Added: Roleplay"), "{screen}");
    // The panel follows the batch's document.
    t.key("space");
    assert!(
        t.screen().contains("The guidelines changed"),
        "space did not close it"
    );
    t.key("enter");
    let screen = t.wait_for("Guidelines verdict-safety 1.1");
    assert!(!screen.contains("The guidelines changed"), "{screen}");
    assert!(
        screen.contains("· to do"),
        "the item was not touched: {screen}"
    );
    t.key("q");
    drop(t);
    // Not again.
    let t = Tmux::start(&s, "again");
    let screen = t.wait_for("Guidelines verdict-safety 1.1");
    assert!(!screen.contains("The guidelines changed"), "{screen}");
}

/// A batch may carry its own document: its hash is checked (a wrong one is refused with
/// the field, nothing pulled), and hostile text in it is drawn as placeholders.
#[test]
fn a_document_carried_by_a_batch_is_checked_and_drawn_safely() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let s = Sandbox::new();
    let text = "---\nid: house-rules\nversion: \"2\"\n---\n# House rules\n\nBe kind.\u{1b}]0;pwned\u{7} \u{202e}evil\n";
    let write = |sha: Option<&str>| {
        let mut g = serde_json::json!({"id": "house-rules", "version": "2", "text": text});
        if let Some(sha) = sha {
            g["sha256"] = serde_json::json!(sha);
        }
        let p = s.path("hr.jsonl");
        std::fs::write(
            &p,
            format!(
                "{}\n{}\n",
                serde_json::json!({"manifest": {"batch_id": "hr", "guidelines": g}}),
                serde_json::json!({"id": "q1", "prompt": "Hello?", "responses": ["Hi."]})
            ),
        )
        .unwrap();
        p
    };
    let bad = write(Some(&"0".repeat(64)));
    let err = s.fails(&["pull", bad.to_str().unwrap()]);
    assert!(
        err.contains("manifest.guidelines.sha256") && err.contains("does not match the text"),
        "{err}"
    );
    assert!(s.ok(&["status"]).lines().all(|l| !l.starts_with("hr ")));
    let good = write(None);
    s.ok(&["pull", good.to_str().unwrap()]);
    let mut app = s.workstation();
    let mut term = Terminal::new(TestBackend::new(160, 45)).unwrap();
    term.draw(|f| app.draw(f)).unwrap();
    let screen: String = term
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(common::terminal_unsafe(&screen).is_empty());
    assert!(screen.contains("Guidelines house-rules 2"), "{screen}");
    assert!(screen.contains("Be kind.␛]0;pwned␇"), "{screen}");
}
