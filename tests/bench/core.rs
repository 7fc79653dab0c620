//! Core benchmark (not a timed test: it prints figures and asserts nothing about time).
//!
//!   cargo bench --bench core                 # 100,000 items
//!   cargo bench --bench core -- --items 20000
//!
//! Generates N synthetic items as CSV (prompt ~300 characters, response ~2 KB, some
//! non-ASCII text, quotes, commas and newlines), then measures, each on the real release
//! binary in a fresh data directory:
//! - the `sqlite3` shell's `.import --csv` of the same file into a bare table (the floor);
//! - `verdict pull` of the file (items/s, and the ratio to the floor);
//! - `verdict export` of N finished annotations (sign included), and `verdict verify`;
//! - the cache's size on disk.
#![allow(clippy::unwrap_used, clippy::disallowed_macros)]

#[path = "synth.rs"]
mod synth;

use std::path::Path;
use std::process::Command;
use std::time::Instant;
use synth::generate;

fn time(cmd: &mut Command) -> f64 {
    let t = Instant::now();
    let out = cmd.output().unwrap();
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        panic!(
            "{:?} failed:\n{}{}",
            cmd,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    secs
}

fn size(path: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .map(|ext| {
            let mut p = path.as_os_str().to_os_string();
            p.push(ext);
            std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
        })
        .sum()
}

/// Marks every item done with valid answers, in one transaction, straight in SQLite: the
/// benchmark measures export, not the labeling of 100,000 items by hand.
fn annotate_all(cache: &Path) {
    let mut c = rusqlite::Connection::open(cache).unwrap();
    let tx = c.transaction().unwrap();
    tx.execute(
        "INSERT INTO annotations (item, status, justification, active_ms, started_at, updated_at, submitted_at, revision)
         SELECT key, 'done', 'Synthetic justification for the benchmark, long enough.', 4200, 1, 2, 3, 1 FROM items",
        [],
    )
    .unwrap();
    for (q, v) in [
        ("harm", "[\"none\"]"),
        ("severity", "\"0\""),
        ("behaviour", "\"full_compliance\""),
        ("appropriateness", "\"appropriate\""),
    ] {
        tx.execute(
            "INSERT INTO answers (item, question, value) SELECT key, ?1, ?2 FROM items",
            [q, v],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

fn main() {
    let n = synth::items_arg();
    let bin = env!("CARGO_BIN_EXE_verdict");
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bench.csv");
    generate(&csv, n);
    let csv_mb = std::fs::metadata(&csv).unwrap().len() as f64 / 1e6;
    println!("verdict core benchmark: {n} items, {csv_mb:.1} MB of CSV");

    let floor = if Command::new("sqlite3").arg("-version").output().is_ok() {
        let db = dir.path().join("floor.db");
        let t = time(
            Command::new("sqlite3")
                .arg(&db)
                .arg(format!(".import --csv {} items", csv.display())),
        );
        println!(
            "sqlite3 .import --csv (floor):   {t:7.2} s  {:>9.0} items/s",
            n as f64 / t
        );
        Some(t)
    } else {
        println!("sqlite3 shell not found: no floor measured (apt-get install sqlite3)");
        None
    };

    let data = dir.path().join("data");
    let config = dir.path().join("config");
    let verdict = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.arg("--data-dir")
            .arg(&data)
            .arg("--config-dir")
            .arg(&config)
            .args(args);
        c
    };
    let t_pull = time(
        verdict(&["pull", csv.to_str().unwrap()])
            .arg("--rater")
            .arg("bench"),
    );
    print!(
        "verdict pull:                    {t_pull:7.2} s  {:>9.0} items/s",
        n as f64 / t_pull
    );
    match floor {
        Some(f) => println!("  ({:.2}x the floor; goal <= 2x)", t_pull / f),
        None => println!(),
    }
    let cache = data.join("cache.sqlite3");
    println!(
        "cache size after pull:           {:7.1} MB",
        size(&cache) as f64 / 1e6
    );

    // Queue search, as the workstation runs it on `/` + enter (goal: < 50 ms at 100,000
    // items): an exact id, a rare word, a common word, two words with a prefix.
    {
        let mut store = verdict::store::Store::open(&data).unwrap();
        let t = Instant::now();
        let before = store.search("safely sto").unwrap().by_text.len();
        println!(
            "queue search before indexing:   {:7.1} ms  ({before} matching; the index not built yet)",
            t.elapsed().as_secs_f64() * 1000.0
        );
        // What the workstation does in the background after a pull, in 2,000-item writes.
        let t = Instant::now();
        let mut chunks = 0;
        while store.index_for_search(2000).unwrap() > 0 {
            chunks += 1;
        }
        println!(
            "search index, in the background: {:6.2} s  ({chunks} writes of 2,000 items)",
            t.elapsed().as_secs_f64()
        );
        let some_id = format!("item-{}", n / 2);
        for q in [some_id.as_str(), "résumé", "the", "safely sto"] {
            let mut times = Vec::new();
            let mut hits = 0;
            for _ in 0..5 {
                let t = Instant::now();
                let found = store.search(q).unwrap();
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                hits = found.by_id.len() + found.by_text.len();
            }
            times.sort_by(|a, b| a.total_cmp(b));
            println!(
                "queue search {:<14}       {:7.1} ms median of 5  ({hits} matching)",
                format!("'{q}':"),
                times[2]
            );
        }
    }

    // Create the key outside the timing: first use generates it.
    time(&mut verdict(&["key", "show"]));
    annotate_all(&cache);
    let out = dir.path().join("bundle.jsonl");
    let t_export = time(&mut verdict(&["export", "--out", out.to_str().unwrap()]));
    let bundle_mb = std::fs::metadata(&out).unwrap().len() as f64 / 1e6;
    println!(
        "verdict export (write + sign):   {t_export:7.2} s  {:>9.0} records/s  ({bundle_mb:.1} MB bundle; goal < 1 s for 100,000)",
        n as f64 / t_export
    );
    let t_verify = time(&mut verdict(&["verify", out.to_str().unwrap()]));
    println!(
        "verdict verify (sig + hashes):   {t_verify:7.2} s  {:>9.0} records/s",
        n as f64 / t_verify
    );
    println!(
        "cache size after export:         {:7.1} MB",
        size(&cache) as f64 / 1e6
    );
}
