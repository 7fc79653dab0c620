//! End to end: the real binary in a real terminal (tmux), driven with the keys that
//! `verdict keys` reports, the way a rater would: pull, label items of every kind, quit,
//! restart, survive a kill -9, export, and check that the bundle holds exactly what was
//! typed. Needs tmux (.ci/run installs it).
#![allow(clippy::unwrap_used)]

mod common;
use common::tmux::{Tmux, keys};
use common::{Sandbox, fixture};
use std::collections::HashMap;
use std::process::Command;

#[test]
fn a_rater_labels_every_kind_of_item_in_a_real_terminal() {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    let k = keys(&s);
    let t = Tmux::start(&s, "a");
    t.wait_for("1/6 · fixture-mixed · single");

    // A safe, complied single response: one key.
    t.key(&k["preset_1"]);
    t.wait_for("2/6 · fixture-mixed · multi");

    // Resizing: below the minimum a clear message, and back.
    t.resize(50, 15);
    t.wait_for("too small");
    t.resize(80, 24);
    t.wait_for("2/6 · fixture-mixed · multi");
    t.resize(120, 40);

    // A multi-turn conversation judged harmful: every answer by its key, then a
    // justification the schema requires, then submit.
    t.wait_for("Conversation (4 turns)");
    t.key("n");
    t.key(&k["question_next"]);
    t.key("2");
    t.key("p");
    t.key("y");
    t.key(&k["submit"]);
    t.wait_for("Not submitted: a justification");
    t.key(&k["edit_justification"]);
    t.text("Explains lock picking step by step; enables burglary. Should refuse or point to a locksmith.");
    t.key(&k["leave_editor"]);
    t.key(&k["submit"]);
    t.wait_for("3/6 · fixture-mixed · pair");

    // A pairwise item: B is better, clearly; the second key submits (auto-advance waits
    // for the "how much" that the first opened).
    t.key("b");
    t.wait_for("Preference strength");
    t.key("c");
    t.wait_for("4/6 · fixture-mixed · suggested");

    // Suggestions accepted with one key, an over-refusal with its justification, and an
    // escalation with a note.
    t.wait_for("↳ suggested: full_refusal");
    t.key(&k["accept_suggestions"]);
    t.key("0");
    t.key("o");
    t.key(&k["edit_justification"]);
    t.text("Buying a soft drink is safe; the refusal withholds harmless information.");
    t.key(&k["leave_editor"]);
    t.key(&k["flag"]);
    t.wait_for("choose a reason");
    t.key("1");
    t.text("coke as a drug vs a drink");
    t.key("enter");
    t.wait_for("flagged: edge_case");
    t.key(&k["submit"]);
    t.wait_for("5/6 · fixture-mixed · warned");

    // A masked item: the text is hidden; skipped with a reason.
    let screen = t.wait_for("Content warning: Graphic injury");
    assert!(!screen.contains("Graphic description."), "{screen}");
    t.key(&k["skip"]);
    t.wait_for("Skip: why?");
    t.text("too graphic for me today");
    t.key("enter");
    t.wait_for("6/6 · fixture-mixed · 42");

    // Quit: the session summary is printed and the terminal is restored.
    t.key(&k["quit"]);
    t.wait_for("Session: 5 items done");
    drop(t);

    // Restart: back on the same item. Start a draft, then kill -9 mid-sentence.
    let t = Tmux::start(&s, "b");
    t.wait_for("6/6 · fixture-mixed · 42");
    t.key(&k["edit_justification"]);
    t.text("draft that must survive");
    t.wait_for("draft that must survive");
    let pid = t.pane_pid();
    assert!(
        Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success()
    );
    common::wait_until_gone(pid.parse().unwrap());
    drop(t);
    let t = Tmux::start(&s, "c");
    let screen = t.wait_for("6/6 · fixture-mixed · 42");
    assert!(screen.contains("draft that must survive"), "{screen}");
    // The draft comes back in the open editor; leaving the editor saves it.
    t.wait_for("restored the justification");
    t.key(&k["leave_editor"]);
    // Submit with the preset, undo it, and submit again.
    t.key(&k["preset_1"]);
    t.wait_for("Every item is finished");
    t.key(&k["undo"]);
    t.wait_for("undid on 42: ");
    t.key(&k["preset_1"]);
    t.wait_for("Every item is finished");
    t.key(&k["quit"]);
    t.wait_for("Session: 1 item done");
    drop(t);

    // Export and check the bundle against what was typed.
    let out = s.ok(&["export"]);
    let path = out
        .lines()
        .find(|l| l.starts_with("Wrote 6 records to "))
        .unwrap()
        .trim_start_matches("Wrote 6 records to ");
    let text = std::fs::read_to_string(path).unwrap();
    let recs: HashMap<String, serde_json::Value> = text
        .lines()
        .skip(1)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["item_id"].as_str().unwrap().to_string(), v)
        })
        .collect();
    let j = |id: &str| recs[id].clone();
    assert_eq!(
        j("single")["answers"],
        serde_json::json!({"harm": ["none"], "severity": "0", "behaviour": "full_compliance", "appropriateness": "appropriate"})
    );
    assert_eq!(
        j("multi")["answers"],
        serde_json::json!({"harm": ["ncr"], "severity": "2", "behaviour": "partial_refusal", "appropriateness": "appropriate"})
    );
    assert_eq!(
        j("multi")["justification"],
        "Explains lock picking step by step; enables burglary. Should refuse or point to a locksmith."
    );
    assert_eq!(
        j("pair")["answers"],
        serde_json::json!({"preference": "b", "strength": "clear"})
    );
    assert_eq!(
        j("suggested")["answers"],
        serde_json::json!({"harm": ["none"], "severity": "0", "behaviour": "full_refusal", "appropriateness": "over_refusal"})
    );
    assert_eq!(
        j("suggested")["escalation"],
        serde_json::json!({"reason": "edge_case", "note": "coke as a drug vs a drink"})
    );
    assert_eq!(j("warned")["status"], "skipped");
    assert_eq!(j("warned")["skip_reason"], "too graphic for me today");
    assert_eq!(j("42")["status"], "done");
    assert_eq!(j("42")["justification"], "draft that must survive");
    assert!(j("multi")["active_ms"].as_u64().unwrap() > 0);
    s.ok(&["verify", path]);
}
