//! End to end: the shipped demo image batch in a real terminal (tmux), labelled with the
//! keys a rater would press (the images drawn in colour half-blocks, full-screen viewing,
//! a pair, a masked image revealed), exported as a signed bundle that stock minisign
//! verifies, holding exactly what was typed. Needs tmux and minisign (.ci/run installs
//! them).
#![allow(clippy::unwrap_used)]

mod common;
use common::Sandbox;
use common::tmux::{Tmux, keys};
use std::collections::HashMap;

/// Rows of the screen that carry a picture's colours (24-bit half-blocks).
fn coloured_rows(styled: &str) -> usize {
    styled
        .lines()
        .filter(|l| l.contains("48;2;") && (l.contains('▀') || l.contains('▄')))
        .count()
}

#[test]
fn a_rater_labels_the_demo_images_in_a_real_terminal_and_the_bundle_verifies() {
    let s = Sandbox::new();
    let batch =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/demo-images.jsonl");
    s.ok(&["pull", batch.to_str().unwrap()]);
    let k = keys(&s);
    // Default settings (`images = "auto"`): tmux names no graphics protocol, so the
    // images are drawn in half-blocks, and no key is lost to a terminal query.
    let t = Tmux::start(&s, "img");
    t.wait_for("1/4 · verdict-demo-images-1 · image-cat-sofa");
    t.wait_for("[1] 451x300 PNG, 235 KB");
    let rows = coloured_rows(&t.screen_styled());
    assert!(rows >= 10, "the cat is drawn in colour: {rows} rows");

    // Partly adherent (a cat, but awake and on no sofa): the justification is required.
    // (A single choice, or 'none', settles its question and moves to the next.)
    t.key("2");
    t.key("0");
    t.key("4");
    t.key("0");
    t.key(&k["submit"]);
    t.wait_for("Not submitted: a justification");
    t.key(&k["edit_justification"]);
    t.text("A tabby cat, but awake and in close-up; no sofa is visible.");
    t.key(&k["leave_editor"]);
    t.key(&k["submit"]);
    t.wait_for("2/4 · verdict-demo-images-1 · image-wrong-subject");

    // Look at it full-screen first, then back.
    t.key(&k["view_image"]);
    t.wait_for("Image 1 of 1 · response · 600x400 PNG");
    assert!(
        coloured_rows(&t.screen_styled()) > rows,
        "full-screen is bigger"
    );
    t.key("esc");
    t.wait_for("Prompt adherence");
    t.key("1");
    t.key("0");
    t.key("5");
    t.key("0");
    t.key(&k["edit_justification"]);
    t.text("The prompt asks for a cat; the image shows a cup of coffee.");
    t.key(&k["leave_editor"]);
    t.key(&k["submit"]);
    t.wait_for("3/4 · verdict-demo-images-1 · image-pair-launch");

    // A pair: both images on screen, side by side; A is clearly better.
    let screen = t.wait_for("[2] 600x400 PNG");
    assert!(screen.contains("[1] 640x427 JPEG"), "{screen}");
    let line = screen
        .lines()
        .find(|l| l.contains("[1] 640x427 JPEG"))
        .unwrap();
    assert!(
        line.find("[1]").unwrap() < line.find("[2]").unwrap(),
        "A left of B: {line}"
    );
    t.key("a");
    t.wait_for("Preference strength");
    t.key("c");
    t.wait_for("4/4 · verdict-demo-images-1 · image-describe-masked");

    // Masked: no picture is drawn until revealed; then the preset submits it.
    let screen = t.wait_for("The text and the image are hidden");
    assert!(!screen.contains("night-time explosion"), "{screen}");
    assert_eq!(
        coloured_rows(&t.screen_styled()),
        0,
        "nothing of the image drawn"
    );
    t.key(&k["reveal"]);
    t.wait_for("night-time explosion");
    assert!(
        coloured_rows(&t.screen_styled()) >= 5,
        "drawn once revealed"
    );
    t.key(&k["preset_1"]);
    t.wait_for("Every item is finished");
    t.key(&k["quit"]);
    t.wait_for("Session: 4 items done");
    drop(t);

    let out = s.ok(&["export"]);
    let path = out
        .lines()
        .find_map(|l| l.strip_prefix("Wrote 4 records to "))
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let text = std::fs::read_to_string(&path).unwrap();
    let recs: HashMap<String, serde_json::Value> = text
        .lines()
        .skip(1)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["item_id"].as_str().unwrap().to_string(), v)
        })
        .collect();
    assert_eq!(
        recs["image-cat-sofa"]["answers"],
        serde_json::json!({"adherence": "2", "artefacts": ["none"], "quality": "4", "safety": ["none"]})
    );
    assert_eq!(
        recs["image-cat-sofa"]["justification"],
        "A tabby cat, but awake and in close-up; no sofa is visible."
    );
    assert_eq!(
        recs["image-wrong-subject"]["answers"],
        serde_json::json!({"adherence": "1", "artefacts": ["none"], "quality": "5", "safety": ["none"]})
    );
    assert_eq!(
        recs["image-pair-launch"]["answers"],
        serde_json::json!({"preference": "a", "strength": "clear"})
    );
    assert_eq!(
        recs["image-describe-masked"]["answers"],
        serde_json::json!({"adherence": "3", "artefacts": ["none"], "quality": "4", "safety": ["none"]})
    );
    // The records name the items by the hash that covers their images.
    let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
    let sha: String = c
        .query_row(
            "SELECT sha256 FROM items WHERE item_id = 'image-pair-launch'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(recs["image-pair-launch"]["item_sha256"], sha);
    // Stock minisign verifies the bundle with the rater's public key.
    let pk = s.config().join("verdict.pub");
    let v = std::process::Command::new("minisign")
        .args(["-V", "-p", pk.to_str().unwrap(), "-m", &path])
        .output()
        .expect("minisign is needed: apt-get install minisign");
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
}
