//! `verdict keys`: the effective keymap, with a user file that overrides some actions.
#![allow(clippy::unwrap_used)]

mod common;
use common::Sandbox;

#[test]
fn verdict_keys_prints_the_effective_keymap_and_refuses_conflicts() {
    let s = Sandbox::new();
    let out = s.ok(&["keys"]);
    let t: toml::Table = toml::from_str(&out).unwrap();
    assert_eq!(t["submit"]["keys"][0].as_str(), Some("enter"));
    assert!(
        t["quit"]["description"]
            .as_str()
            .unwrap()
            .starts_with("Quit")
    );
    std::fs::create_dir_all(s.config()).unwrap();
    std::fs::write(
        s.config().join("keymap.toml"),
        "[next_item]\nkeys = [\"l\"]\n",
    )
    .unwrap();
    let t: toml::Table = toml::from_str(&s.ok(&["keys"])).unwrap();
    assert_eq!(t["next_item"]["keys"].as_array().unwrap().len(), 1);
    assert_eq!(t["next_item"]["keys"][0].as_str(), Some("l"));
    assert_eq!(
        t["prev_item"]["keys"][0].as_str(),
        Some("left"),
        "other actions keep their defaults"
    );
    std::fs::write(
        s.config().join("keymap.toml"),
        "[next_item]\nkeys = [\"enter\"]\n",
    )
    .unwrap();
    let err = s.fails(&["keys"]);
    assert!(
        err.contains("keymap.toml: key 'enter' is bound to both"),
        "{err}"
    );
    // The workstation refuses to start with it too, before touching the terminal.
    let err = s.fails(&[]);
    assert!(
        err.contains("keymap.toml: key 'enter' is bound to both"),
        "{err}"
    );
    std::fs::remove_file(s.config().join("keymap.toml")).unwrap();
    let err = s.fails(&[]);
    assert!(err.contains("the workstation needs a terminal"), "{err}");
}
