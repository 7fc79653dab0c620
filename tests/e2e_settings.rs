//! The rater's settings, from the places a rater sets them, reaching the real binary in a
//! real terminal: config.toml (`rater`, `auto_advance`, `break_minutes`) and NO_COLOR.
#![allow(clippy::unwrap_used)]

mod common;
use common::tmux::Tmux;
use common::{Sandbox, fixture};

const CONFIG: &str = "rater = \"cfg-rater\"\nauto_advance = false\nbreak_minutes = 0\n";

#[test]
fn config_toml_settings_reach_the_workstation_and_the_bundle() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.config()).unwrap();
    std::fs::write(s.config().join("config.toml"), CONFIG).unwrap();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    // As read by the program (the file parsed, nothing from the environment but paths).
    let env = verdict::config::Env::resolve(Some(s.data()), Some(s.config()), None).unwrap();
    assert_eq!(env.rater, "cfg-rater");
    let set = env.settings();
    assert!(!set.auto_advance);
    assert_eq!(set.break_minutes, 0);
    // In the workstation: auto-advance is off, so the last answer does not submit.
    let t = Tmux::start_with(&s, "config", &[]);
    t.wait_for("1/6 · fixture-mixed · single");
    t.wait_for("auto-advance off");
    t.key("right");
    t.key("right");
    let screen = t.wait_for("3/6 · fixture-mixed · pair");
    assert!(screen.contains("[t] Tie"), "{screen}");
    t.key("t");
    let screen = t.wait_for("✓Tie");
    assert!(screen.contains("3/6 · fixture-mixed · pair"), "{screen}");
    t.key("enter");
    t.wait_for("4/6 · fixture-mixed · suggested");
    t.key("q");
    drop(t);
    // The bundle is signed as the rater config.toml names (no VERDICT_RATER anywhere).
    let out = s
        .cmd()
        .env_remove("VERDICT_RATER")
        .args(["export"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("Wrote 1 record to "))
        .unwrap_or_else(|| panic!("{text}"));
    let bundle = std::fs::read_to_string(path).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(bundle.lines().next().unwrap()).unwrap();
    assert_eq!(manifest["rater"], "cfg-rater", "{manifest}");
}

/// SGR parameters that set a colour (foreground or background, 8/16/256/true colour).
fn colours(styled: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in styled.split("\x1b[").skip(1) {
        let Some(end) = part.find('m') else { continue };
        let params = &part[..end];
        if !params.chars().all(|c| c.is_ascii_digit() || c == ';') {
            continue;
        }
        let nums: Vec<u32> = params.split(';').filter_map(|n| n.parse().ok()).collect();
        if nums.iter().any(|n| {
            (30..=37).contains(n)
                || (40..=47).contains(n)
                || (90..=97).contains(n)
                || (100..=107).contains(n)
                || *n == 38
                || *n == 48
        }) {
            out.push(params.to_string());
        }
    }
    out
}

#[test]
fn no_color_from_the_environment_draws_without_colours() {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    // Without NO_COLOR the same screen has colours (so the check below can fail).
    let t = Tmux::start_with(&s, "colour", &[("VERDICT_RATER", Some("r"))]);
    t.wait_for("1/6 · fixture-mixed · single");
    t.key("0");
    t.wait_for("✓None");
    assert!(!colours(&t.screen_styled()).is_empty());
    t.key("q");
    drop(t);
    let t = Tmux::start_with(
        &s,
        "nocolour",
        &[("VERDICT_RATER", Some("r")), ("NO_COLOR", Some("1"))],
    );
    t.wait_for("fixture-mixed · single");
    t.wait_for("✓None");
    let styled = t.screen_styled();
    assert_eq!(colours(&styled), Vec::<String>::new(), "{styled}");
    // The chosen option still stands out: reversed, not coloured.
    assert!(
        styled.contains("\x1b[1;7m") || styled.contains("\x1b[7m") || styled.contains(";7m"),
        "{styled}"
    );
    t.key("q");
}
