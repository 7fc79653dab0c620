//! Trust, end to end in a real terminal (tmux): the workstation killed with -9 in the
//! middle of work, again and again, never loses what it acknowledged and never leaves
//! the event log and the cache disagreeing; and a script labelling in a second process
//! shows up on the rater's screen without a key being pressed.
#![allow(clippy::unwrap_used, clippy::disallowed_macros)]

mod common;
use common::tmux::{Tmux, keys};
use common::{Sandbox, fixture, log_disagrees_with_state};

fn batch(s: &Sandbox, n: usize) -> std::path::PathBuf {
    let mut text = String::from("{\"manifest\": {\"batch_id\": \"k\"}}\n");
    for i in 0..n {
        text.push_str(&format!(
            "{{\"id\": \"i{i}\", \"prompt\": \"prompt {i}\", \"responses\": [\"response {i}\"]}}\n"
        ));
    }
    s.write("k.jsonl", text)
}

fn done(s: &Sandbox) -> u64 {
    s.batch_status("k").unwrap()["done"].as_u64().unwrap()
}

#[test]
fn the_workstation_killed_mid_work_keeps_what_it_acknowledged() {
    let s = Sandbox::new();
    let n = 12;
    s.ok(&["pull", batch(&s, n).to_str().unwrap()]);
    let k = keys(&s);
    let mut next = 0usize;
    let mut round = 0;
    let mut landed = 0;
    while next + 1 < n {
        // The workstation comes back on the first unfinished item.
        let t = Tmux::start(&s, &format!("kill{round}"));
        t.wait_for(&format!("{}/{n} · k · i{next}", next + 1));
        // One item acknowledged: the screen moved on to the next.
        t.key(&k["preset_1"]);
        t.wait_for(&format!("{}/{n} · k · i{}", next + 2, next + 1));
        next += 1;
        // A second key, and the kill right behind it (after 0-4 ms): the write may or
        // may not have landed.
        let pid: i32 = t.pane_pid().parse().unwrap();
        t.key_now(&k["preset_1"]);
        std::thread::sleep(std::time::Duration::from_millis((round * 7 % 5) as u64));
        // SAFETY: sending SIGKILL to the workstation's process, which this test started.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        // A process killed inside a system call (SQLite's fsync) finishes that call before
        // it dies: until it has, its commit may be on disk but not yet visible. Read the
        // state once it is gone, as the next workstation will.
        common::wait_until_gone(pid as u32);
        drop(t);
        let problems = log_disagrees_with_state(&s.data());
        assert!(problems.is_empty(), "round {round}: {problems:?}");
        let d = done(&s) as usize;
        assert!(d >= next, "round {round}: {d} done, {next} acknowledged");
        landed += d - next;
        next = d;
        round += 1;
    }
    eprintln!(
        "workstation kill loop: {round} kills, {} items done, {landed} of the keys sent right before a kill landed",
        done(&s)
    );
}

#[test]
fn a_script_in_another_process_shows_up_on_the_screen_and_is_not_overwritten() {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    let k = keys(&s);
    let t = Tmux::start(&s, "two");
    t.wait_for("1/6 · fixture-mixed · single");
    // The rater starts a justification; a script meanwhile labels this item.
    t.key(&k["edit_justification"]);
    t.text("my own words");
    s.ok(&[
        "label",
        "single",
        "-a",
        "harm=none",
        "-a",
        "severity=0",
        "-a",
        "behaviour=full_refusal",
        "-a",
        "appropriateness=appropriate",
        "--submit",
    ]);
    // Without a key pressed, the screen says so and shows the script's answer.
    let screen = t.wait_for("changed in another verdict process");
    assert!(
        screen.contains("my own words"),
        "the editor keeps the text:\n{screen}"
    );
    assert!(
        screen.contains("✓Full refusal") || screen.contains("Full refusal"),
        "{screen}"
    );
    // Leaving the editor is the rater's informed choice: the justification is saved,
    // the script's answers stay, and the item is reopened (a change after a submit).
    t.key(&k["leave_editor"]);
    t.wait_for("reopened");
    let log: serde_json::Value = serde_json::from_str(&s.ok(&["log", "single", "--json"])).unwrap();
    let fields: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"justification"), "{fields:?}");
    let status = s.ok(&["label", "single"]);
    assert!(status.contains("single: draft"), "{status}");
    let behaviour = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "answer:behaviour")
        .unwrap()["new"]
        .clone();
    assert_eq!(behaviour, "full_refusal");
    t.key(&k["quit"]);
    t.wait_for("Session:");
    assert_eq!(log_disagrees_with_state(&s.data()), Vec::<String>::new());
}
