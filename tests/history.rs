//! `verdict log`, `undo` and `redo` through the real binary.
#![allow(clippy::unwrap_used)]

mod common;
use common::{Sandbox, fixture};

#[test]
fn the_audit_trail_and_undo_work_from_the_command_line() {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    assert!(s.ok(&["undo"]).contains("Nothing to undo"));
    s.ok(&["label", "single", "--preset", "safe", "--submit"]);
    s.ok(&["label", "pair", "-a", "preference=a"]);
    let log: serde_json::Value = serde_json::from_str(&s.ok(&["log", "--json"])).unwrap();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 6);
    assert_eq!(log[0]["item"], "pair");
    assert_eq!(log[0]["field"], "answer:preference");
    assert_eq!(log[0]["old"], serde_json::Value::Null);
    assert_eq!(log[0]["new"], "a");
    assert_eq!(log[1]["field"], "status");
    assert_eq!(
        (log[1]["old"].as_str(), log[1]["new"].as_str()),
        (Some("draft"), Some("done"))
    );

    assert!(s.ok(&["undo"]).contains("on fixture-mixed/pair (1 change)"));
    let out = s.ok(&["undo"]);
    assert!(
        out.contains("on fixture-mixed/single (5 changes); it is now draft"),
        "{out}"
    );
    assert_eq!(s.batch_status("fixture-mixed").unwrap()["done"], 0);
    let out = s.ok(&["redo"]);
    assert!(out.contains("it is now done"), "{out}");
    assert_eq!(s.batch_status("fixture-mixed").unwrap()["done"], 1);
    let single: serde_json::Value =
        serde_json::from_str(&s.ok(&["log", "single", "--json", "--limit", "100"])).unwrap();
    let kinds: Vec<&str> = single
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "undo").count(), 5);
    assert_eq!(kinds.iter().filter(|k| **k == "redo").count(), 5);
    // Text output keeps values as JSON, so control characters stay escaped.
    let text = s.ok(&["log", "--limit", "1"]);
    assert!(text.contains("redo"), "{text}");
}
