//! Workstation benchmark (not a timed test: it prints figures and asserts nothing about
//! time).
//!
//!   cargo bench --bench tui                 # 100,000 cached items
//!   cargo bench --bench tui -- --items 20000
//!
//! With N synthetic items cached (pulled by the release binary), plus items with a 100 KB
//! and a 1 MB response, it measures in-process:
//! - start to first frame: opening the cache, loading the queue and the first item, and
//!   drawing it (into a 160x45 test buffer: the same widgets, without the terminal write);
//! - key to frame, median and p99: resolving a key, update(), its effects on the cache
//!   (each answer is committed to SQLite) and drawing the next frame, over a mix of option
//!   keys, question moves, item changes and scrolling, for a typical item and for the
//!   100 KB one;
//! - peak resident memory of this process (VmHWM).
#![allow(clippy::unwrap_used, clippy::disallowed_macros)]

#[path = "synth.rs"]
mod synth;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::process::Command;
use std::time::{Duration, Instant};
use verdict::store::Store;
use verdict::tui::app::App;
use verdict::tui::keymap::Keymap;
use verdict::tui::resolve;
use verdict::tui::state::Settings;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn keys_to_frames(
    app: &mut App,
    term: &mut Terminal<TestBackend>,
    keys: &[KeyEvent],
    rounds: usize,
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(keys.len() * rounds);
    for _ in 0..rounds {
        for k in keys {
            let t = Instant::now();
            if let Some(a) = resolve(&app.state, k) {
                app.dispatch(a);
            }
            // As the run loop does before every frame: look for other processes' writes.
            app.check_outside();
            term.draw(|f| app.draw(f)).unwrap();
            out.push(t.elapsed());
        }
    }
    out.sort();
    out
}

/// Goes to an item and draws it; returns the milliseconds that took (its first wrap
/// included).
fn open_item(app: &mut App, term: &mut Terminal<TestBackend>, id: &str) -> f64 {
    let pos = app.state.queue.iter().position(|e| e.id == id).unwrap();
    let t = Instant::now();
    let fx = verdict::tui::update::go_to(&mut app.state, pos);
    app.run(fx);
    term.draw(|f| app.draw(f)).unwrap();
    t.elapsed().as_secs_f64() * 1e3
}

fn report(name: &str, d: &[Duration]) {
    println!(
        "key to frame, {name:<22} median {:6.3} ms   p99 {:6.3} ms   ({} keys)",
        percentile(d, 0.5).as_secs_f64() * 1e3,
        percentile(d, 0.99).as_secs_f64() * 1e3,
        d.len()
    );
}

fn main() {
    let n = synth::items_arg();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("items.csv");
    synth::generate(&csv, n);
    let mut rng = 7u64;
    let big = serde_json::json!({
        "id": "big-100k",
        "prompt": "Summarise this long transcript.",
        "responses": [{"text": synth::text(&mut rng, 100 * 1024)}],
    });
    let huge = serde_json::json!({
        "id": "big-1m",
        "prompt": "And this one.",
        "responses": [{"text": synth::text(&mut rng, 1024 * 1024)}],
    });
    let big_file = dir.path().join("big.jsonl");
    let manifest = r#"{"manifest": {"batch_id": "big"}}"#;
    std::fs::write(&big_file, format!("{manifest}\n{big}\n{huge}\n")).unwrap();
    let data = dir.path().join("data");
    // The demo's image batch (three real photos, a pair, a masked item).
    let images =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/demo-images.jsonl");
    for f in [&csv, &big_file, &images] {
        let ok = Command::new(env!("CARGO_BIN_EXE_verdict"))
            .arg("--data-dir")
            .arg(&data)
            .arg("--config-dir")
            .arg(dir.path().join("config"))
            .arg("pull")
            .arg(f)
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
    }
    println!(
        "verdict workstation benchmark: {n} items cached (+ one with a 100 KB and one with a 1 MB response, + the 4 demo image items)"
    );
    let rss_before = peak_rss_mb();

    let t = Instant::now();
    let store = Store::open(&data).unwrap();
    let mut app = App::new(
        store,
        Keymap::load(None).unwrap(),
        Settings::default(),
        (160, 45),
    )
    .unwrap();
    let mut term = Terminal::new(TestBackend::new(160, 45)).unwrap();
    term.draw(|f| app.draw(f)).unwrap();
    println!(
        "start to first frame:             {:7.1} ms  (goal < 100 ms)",
        t.elapsed().as_secs_f64() * 1e3
    );

    let k = |c: KeyCode| KeyEvent::new(c, KeyModifiers::NONE);
    let typical = [
        k(KeyCode::Char('v')),
        k(KeyCode::Char('h')),
        k(KeyCode::Down),
        k(KeyCode::Char('2')),
        k(KeyCode::Up),
        k(KeyCode::Char('v')),
        k(KeyCode::Char('h')),
        k(KeyCode::Right),
        k(KeyCode::Left),
        k(KeyCode::Tab),
        k(KeyCode::PageDown),
        k(KeyCode::PageUp),
        k(KeyCode::BackTab),
    ];
    let d = keys_to_frames(&mut app, &mut term, &typical, 40);
    report("typical item", &d);

    // The 100 KB item: the first frame wraps it once; then scrolling and answering.
    let ms = open_item(&mut app, &mut term, "big-100k");
    println!("first frame of the 100 KB item:   {ms:7.1} ms  (wraps it once, then cached)");
    let big_keys = [
        k(KeyCode::Tab),
        k(KeyCode::Tab),
        k(KeyCode::PageDown),
        k(KeyCode::PageDown),
        k(KeyCode::PageUp),
        k(KeyCode::End),
        k(KeyCode::Home),
        k(KeyCode::BackTab),
        k(KeyCode::BackTab),
        k(KeyCode::Char('v')),
        k(KeyCode::Char('v')),
    ];
    let d = keys_to_frames(&mut app, &mut term, &big_keys, 40);
    report("100 KB response", &d);
    // A 1 MB response: wrapped once on arrival, then scrolled like any other.
    let ms = open_item(&mut app, &mut term, "big-1m");
    println!("first frame of the 1 MB item:     {ms:7.1} ms");
    let d = keys_to_frames(&mut app, &mut term, &big_keys, 20);
    report("1 MB response", &d);
    // An image item: the first frame decodes the photo and scales it to its pane (half-
    // blocks, as in tmux); then answering and moving about redraw it from the memo.
    let ms = open_item(&mut app, &mut term, "image-cat-sofa");
    println!(
        "first frame of an image item:     {ms:7.1} ms  (451x300 PNG decoded and scaled once)"
    );
    let image_keys = [
        k(KeyCode::Char('2')),
        k(KeyCode::Up),
        k(KeyCode::Char('3')),
        k(KeyCode::Tab),
        k(KeyCode::PageDown),
        k(KeyCode::BackTab),
        k(KeyCode::Up),
    ];
    let d = keys_to_frames(&mut app, &mut term, &image_keys, 40);
    report("image item", &d);
    let ms = open_item(&mut app, &mut term, "image-pair-launch");
    println!("first frame of an image pair:     {ms:7.1} ms  (two photos side by side)");
    // Full-screen and back: V scales the photo to the screen once, esc returns.
    let view = [
        k(KeyCode::Char('V')),
        k(KeyCode::Char('V')),
        k(KeyCode::Esc),
    ];
    let d = keys_to_frames(&mut app, &mut term, &view, 40);
    report("image full-screen", &d);
    // Queue search as the rater runs it: `/`, the query, enter, and the frame showing
    // the item found. The index is built first, as the workstation's background thread
    // does in the first seconds.
    let t = Instant::now();
    let mut indexer = Store::open(&data).unwrap();
    while indexer.index_for_search(2000).unwrap() > 0 {}
    println!(
        "search index (background thread): {:6.2} s",
        t.elapsed().as_secs_f64()
    );
    let some_id = format!("item-{}", n / 2);
    for q in [some_id.as_str(), "résumé", "safely sto", "no such words"] {
        let mut times = Vec::new();
        for _ in 0..9 {
            let t = Instant::now();
            for key in std::iter::once(k(KeyCode::Char('/')))
                .chain(q.chars().map(|c| k(KeyCode::Char(c))))
                .chain(std::iter::once(k(KeyCode::Enter)))
            {
                if let Some(a) = resolve(&app.state, &key) {
                    app.dispatch(a);
                }
            }
            app.check_outside();
            term.draw(|f| app.draw(f)).unwrap();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "search {:<16} to frame   median {:6.1} ms   max {:6.1} ms  (goal < 50 ms)",
            format!("'{q}'"),
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 1.0).as_secs_f64() * 1e3,
        );
    }
    println!(
        "peak resident memory:             {:7.1} MB  (goal < 50 MB; {:.1} MB before opening the cache)",
        peak_rss_mb(),
        rss_before
    );
}
