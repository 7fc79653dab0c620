//! The friction a scripted rater hit, driven in a real terminal (tmux): Esc followed at
//! once by another key, a tab and CRLF typed or pasted into the editor.
#![allow(clippy::unwrap_used)]

mod common;
use common::tmux::{Tmux, keys};
use common::{Sandbox, fixture};

#[test]
fn esc_followed_at_once_by_a_key_leaves_the_editor_and_the_key_counts() {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    let k = keys(&s);
    let t = Tmux::start(&s, "esc");
    t.wait_for("1/6 · fixture-mixed · single");
    t.key(&k["edit_justification"]);
    t.wait_for("esc done");
    t.text("A first\tcolumn.");
    // Esc and the option key in one write, as a macro or a batching SSH link sends them
    // (the terminal reads ESC v as alt-v).
    let ok = t
        .cmd()
        .args(["send-keys", "-t", &t.session, "Escape", "0"])
        .status()
        .unwrap();
    assert!(ok.success());
    let screen = t.wait_for("j to write");
    assert!(screen.contains("[0]✓None"), "{screen}");
    assert!(screen.contains("A first    column."), "{screen}");
    t.key("q");
    drop(t);
    let store = verdict::store::Store::open(&s.data()).unwrap();
    let key = store.find_item("fixture-mixed/single").unwrap();
    let a = store.annotation(key).unwrap();
    assert_eq!(a.justification, "A first    column.");
    assert_eq!(
        a.answers.get("harm"),
        Some(&verdict::model::Answer::Many(vec!["none".into()]))
    );
}

/// A bracketed paste inserts exactly what was pasted: CRLF is one line break, a tab is
/// kept (as four spaces, visibly), and nothing else changes.
#[test]
fn a_paste_keeps_its_lines_and_tabs() {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    let k = keys(&s);
    let t = Tmux::start(&s, "paste");
    t.wait_for("1/6 · fixture-mixed · single");
    t.key(&k["edit_justification"]);
    t.wait_for("esc done");
    let ok = t
        .cmd()
        .args([
            "set-buffer",
            "-b",
            "clip",
            "First line of the reason.\r\nSecond\tline, with a tab.",
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    // -p: bracketed, as a terminal pastes into a program that asked for it; -r: the
    // text as it is (tmux would otherwise turn line feeds into carriage returns).
    let ok = t
        .cmd()
        .args(["paste-buffer", "-p", "-r", "-b", "clip", "-t", &t.session])
        .status()
        .unwrap();
    assert!(ok.success());
    t.wait_for("Second    line, with a tab.");
    t.key(&k["leave_editor"]);
    t.wait_for("j to write");
    t.key("q");
    drop(t);
    let store = verdict::store::Store::open(&s.data()).unwrap();
    let key = store.find_item("fixture-mixed/single").unwrap();
    assert_eq!(
        store.annotation(key).unwrap().justification,
        "First line of the reason.\nSecond    line, with a tab."
    );
}
