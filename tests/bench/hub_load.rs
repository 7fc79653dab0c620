//! Hub load test (not a timed test: it prints figures, and checks only what must hold
//! whatever the speed). On SQLite, and on PostgreSQL when a cluster is given
//! (`VERDICT_TEST_PG=postgres://...` or `--pg URL`: a database is created and dropped).
//!
//!   cargo bench --bench hub_load                                  # the README figures
//!   cargo bench --bench hub_load -- --raters 8 --seconds 5 --items 2000 --scale 20000
//!
//! 1. Pull cost against hub size: a hub of `--small` items (10,000) and one of `--scale`
//!    items (1,000,000), overlap 2, each loaded from a JSONL file as `hub load` does; then
//!    five raters' first pulls of 50 on each. Prints the median of those pulls (in process,
//!    no HTTP) and the ratio between the two sizes.
//! 2. Concurrency: `--processes` (2) real `verdict hub serve` processes on one PostgreSQL
//!    database (`--sqlite-processes`, 1, on SQLite),
//!    `--raters` (50) simulated raters spread over them, each in its own thread: pull 10,
//!    sign a bundle of records for them (minisign, as the workstation does), push, until
//!    `--seconds` (10) are up or the work runs out. Prints requests per second and
//!    median/p99 latency of pulls and pushes, then proves from the database that no item
//!    was leased to more raters than its overlap, that every item's open-slot count is
//!    right, and that every acknowledged record is stored.
#![allow(clippy::unwrap_used, clippy::disallowed_macros)]

#[path = "../common/mod.rs"]
mod common;
use common::hubdb::{Backend, HubTarget};

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use verdict::hub::api::PullResponse;
use verdict::hub::db::HubDb;

fn arg_str(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn arg(name: &str, default: u64) -> u64 {
    arg_str(name)
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

/// A signed bundle of "safe" records for everything a pull leased.
fn bundle_for(
    resp: &PullResponse,
    rater: &str,
    kp: &minisign::KeyPair,
) -> Option<(String, String)> {
    let records = common::hubdb::records_for(resp);
    if records.is_empty() {
        return None;
    }
    Some(common::hubdb::signed_bundle(
        resp, &records, rater, kp, None,
    ))
}

/// A hub database for one run: a SQLite file in its own folder, or a fresh PostgreSQL
/// database (dropped after).
fn new_db(backend: &str, dir: &Path, name: &str) -> HubTarget {
    let sub = dir.join(name);
    std::fs::create_dir_all(&sub).unwrap();
    let b = if backend == "sqlite" {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    HubTarget::new(b, &sub)
}

fn pg_url() -> Option<String> {
    std::env::var("VERDICT_TEST_PG").ok()
}

/// A hub of `items` items (overlap 2) and `raters` raters, loaded from a JSONL file.
fn make_hub(
    backend: &str,
    dir: &Path,
    name: &str,
    items: usize,
    raters: usize,
) -> (HubTarget, Vec<(String, minisign::KeyPair, String)>, f64) {
    let db = new_db(backend, dir, name);
    let (mut hub, _) = HubDb::init(&db, 72, 0.0).unwrap();
    let batch = dir.join(format!("{name}.jsonl"));
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&batch).unwrap());
        writeln!(f, "{{\"manifest\": {{\"batch_id\": \"{name}\"}}}}").unwrap();
        for i in 0..items {
            writeln!(f,
                "{{\"id\": \"i{i}\", \"prompt\": \"Prompt {i}: how do I store chemicals safely?\", \"responses\": [\"Keep them labelled, apart, and ventilated ({i}).\"]}}"
            ).unwrap();
        }
    }
    let t = Instant::now();
    let mut open = verdict::batch::open(&batch, Default::default()).unwrap();
    hub.load(&mut open, 2, false).unwrap();
    let load_s = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&batch);
    let mut keys = Vec::new();
    for r in 0..raters {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let token = hub.add_rater(&format!("rater{r}"), &kp.pk).unwrap();
        keys.push((format!("rater{r}"), kp, token));
    }
    (db, keys, load_s)
}

/// Median time of five raters' first pull of 50, in process.
fn first_pulls(db: &HubTarget, keys: &[(String, minisign::KeyPair, String)]) -> f64 {
    let mut hub = HubDb::open(db).unwrap();
    let mut times = Vec::new();
    for (_, _, token) in keys.iter().take(5) {
        let rater = hub.rater_by_token(token).unwrap().unwrap();
        let t = Instant::now();
        let resp = hub.pull(&rater, 50).unwrap();
        times.push(t.elapsed());
        assert_eq!(resp.batches[0].items.len(), 50);
    }
    times.sort();
    pct(&times, 0.5)
}

fn scale(backend: &str, dir: &Path) {
    let small = arg("--small", 10_000) as usize;
    let big = arg("--scale", 1_000_000) as usize;
    let (db_s, keys_s, load_small) = make_hub(backend, dir, "small", small, 5);
    let t_small = first_pulls(&db_s, &keys_s);
    drop(db_s);
    let (db_b, keys_b, load_big) = make_hub(backend, dir, "big", big, 5);
    let t_big = first_pulls(&db_b, &keys_b);
    drop(db_b);
    println!(
        "[{backend}] load: {small} items in {load_small:.1} s ({:.0} items/s); {big} items in {load_big:.1} s ({:.0} items/s)",
        small as f64 / load_small,
        big as f64 / load_big
    );
    println!(
        "[{backend}] first pull of 50: {t_small:.2} ms at {small} items, {t_big:.2} ms at {big} items (x{:.2})",
        t_big / t_small
    );
}

fn serve(db: &HubTarget) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["hub", "serve", "--db", db.arg(), "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    (child, url)
}

fn concurrency(backend: &str, dir: &Path) {
    let raters = arg("--raters", 50) as usize;
    let seconds = arg("--seconds", 10);
    let items = arg("--items", 20_000) as usize;
    // SQLite serves best from one process (its writers then queue on a mutex; writers of
    // several processes poll SQLite's lock); PostgreSQL is the backend for several.
    let processes = if backend == "sqlite" {
        arg("--sqlite-processes", 1)
    } else {
        arg("--processes", 2)
    }
    .max(1) as usize;
    let (db, keys, _) = make_hub(backend, dir, "load", items, raters);
    let servers: Vec<_> = (0..processes).map(|_| serve(&db)).collect();
    let urls: Vec<String> = servers.iter().map(|(_, u)| u.clone()).collect();
    println!(
        "[{backend}] {raters} raters on {processes} hub processes, {items} items (overlap 2), up to {seconds} s"
    );
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let results: Vec<(Vec<Duration>, Vec<Duration>, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, (name, kp, token))| {
                let url = urls[i % urls.len()].clone();
                scope.spawn(move || {
                    let (mut pulls, mut pushes, mut acked) = (Vec::new(), Vec::new(), 0u64);
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let resp = verdict::hub::client::pull(&url, token, 10).unwrap();
                        pulls.push(t.elapsed());
                        let Some((bundle, sig)) = bundle_for(&resp, name, kp) else {
                            break; // no work left for this rater
                        };
                        let t = Instant::now();
                        let ack = verdict::hub::client::push(&url, token, bundle, sig).unwrap();
                        pushes.push(t.elapsed());
                        acked += ack.accepted;
                    }
                    (pulls, pushes, acked)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    for (mut child, _) in servers {
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        child.wait().unwrap();
    }

    let mut pulls: Vec<Duration> = results.iter().flat_map(|r| r.0.clone()).collect();
    let mut pushes: Vec<Duration> = results.iter().flat_map(|r| r.1.clone()).collect();
    let acked: u64 = results.iter().map(|r| r.2).sum();
    pulls.sort();
    pushes.sort();
    let requests = pulls.len() + pushes.len();
    println!(
        "[{backend}] requests: {requests} in {elapsed:.1} s = {:.0} requests/s",
        requests as f64 / elapsed
    );
    println!(
        "[{backend}] pull latency: median {:6.1} ms   p99 {:6.1} ms   ({} pulls of 10)",
        pct(&pulls, 0.5),
        pct(&pulls, 0.99),
        pulls.len()
    );
    println!(
        "[{backend}] push latency: median {:6.1} ms   p99 {:6.1} ms   ({} bundles)",
        pct(&pushes, 0.5),
        pct(&pushes, 0.99),
        pushes.len()
    );
    let mut hub = HubDb::open(&db).unwrap();
    let over: Vec<_> = hub
        .lease_counts()
        .unwrap()
        .into_iter()
        .filter(|(_, _, k, n)| n > k)
        .collect();
    let wrong_slots = hub.slot_mismatches().unwrap();
    let stored = hub.records().unwrap().len() as u64;
    println!(
        "[{backend}] records acknowledged: {acked}; stored: {stored}; items over-assigned: {}; open-slot counts wrong: {wrong_slots}",
        over.len()
    );
    assert!(over.is_empty(), "over-assigned: {over:?}");
    assert_eq!(wrong_slots, 0, "open-slot counts drifted");
    assert_eq!(stored, acked, "an acknowledged record is missing");
}

fn main() {
    if let Some(url) = arg_str("--pg") {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("VERDICT_TEST_PG", url) };
    }
    let dir = tempfile::tempdir().unwrap();
    let mut backends = vec!["sqlite"];
    if pg_url().is_some() {
        backends.push("postgres");
    } else {
        println!("(no PostgreSQL: set VERDICT_TEST_PG or pass --pg URL for its figures)");
    }
    if let Some(only) = arg_str("--backend") {
        backends.retain(|b| *b == only);
    }
    for b in &backends {
        scale(b, dir.path());
    }
    for b in &backends {
        concurrency(b, dir.path());
    }
    println!("OK: no item over-assigned, no open-slot count wrong, no acknowledged record lost");
}
