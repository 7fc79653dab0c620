//! Trust across processes and crashes, with the real binary: several verdict processes
//! on one cache (first use included), writers that wait for a long pull and say so, and
//! kill -9 between any two steps of label and export. Each loop is bounded to a few
//! seconds.
#![allow(clippy::unwrap_used, clippy::disallowed_macros)]

mod common;
use common::{Sandbox, fixture, log_disagrees_with_state};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("verdict")
}

/// The binary as a plain process (so that it can be killed), with the sandbox's dirs.
fn process(s: &Sandbox, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .env("VERDICT_DATA_DIR", s.data())
        .env("VERDICT_CONFIG_DIR", s.config())
        .env("VERDICT_RATER", "test-rater")
        .env_remove("VERDICT_FAILPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// A batch of `n` single-response items, written into the sandbox.
fn batch(s: &Sandbox, name: &str, n: usize) -> PathBuf {
    let mut text = format!("{{\"manifest\": {{\"batch_id\": \"{name}\"}}}}\n");
    for i in 0..n {
        text.push_str(&format!(
            "{{\"id\": \"i{i}\", \"prompt\": \"prompt {i}\", \"responses\": [\"response {i}\"]}}\n"
        ));
    }
    s.write(&format!("{name}.jsonl"), text)
}

/// A tiny deterministic generator for the kill delays.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[test]
fn several_processes_on_a_data_dir_with_no_cache_yet_all_succeed() {
    for round in 0..4 {
        let s = Sandbox::new();
        let children: Vec<_> = (0..6)
            .map(|i| {
                let args: &[&str] = if i % 2 == 0 { &["status"] } else { &["log"] };
                process(&s, args).spawn().unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "round {round}: a process failed on a new cache: {err}"
            );
            assert!(
                !err.contains("already exists") && !err.contains("locked"),
                "{err}"
            );
        }
        let v: i64 = rusqlite::Connection::open(s.data().join("cache.sqlite3"))
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, verdict::store::MIGRATIONS.len() as i64);
    }
}

#[test]
fn two_label_loops_at_once_get_their_own_action_ids_and_undo_takes_back_one_item() {
    let s = Sandbox::new();
    s.ok(&["pull", batch(&s, "loops", 24).to_str().unwrap()]);
    let loop_over = |items: Vec<usize>| {
        let s = &s;
        move || {
            for i in items {
                let item = format!("i{i}");
                let out = process(s, &["label", &item, "--preset", "safe", "--submit"])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    };
    std::thread::scope(|scope| {
        scope.spawn(loop_over((0..24).step_by(2).collect()));
        scope.spawn(loop_over((1..24).step_by(2).collect()));
    });
    // Every action touched exactly one item.
    let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
    let shared: i64 = c
        .query_row(
            "SELECT count(*) FROM (SELECT action FROM events GROUP BY action HAVING count(DISTINCT item) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(shared, 0);
    // One undo takes back one item's submit, never two.
    let done_before = s.batch_status("loops").unwrap()["done"].as_u64().unwrap();
    s.ok(&["undo"]);
    let done_after = s.batch_status("loops").unwrap()["done"].as_u64().unwrap();
    assert_eq!((done_before, done_after), (24, 23));
    assert_eq!(log_disagrees_with_state(&s.data()), Vec::<String>::new());
}

/// A pull held inside its transaction (the failpoint pause) while the test runs another
/// writer; returns the running pull and the hold file that releases it.
fn held_pull(s: &Sandbox, file: &Path) -> (std::process::Child, PathBuf) {
    let hold = s.path("hold");
    std::fs::write(&hold, b"").unwrap();
    let pull = process(s, &["pull", file.to_str().unwrap()])
        .env("VERDICT_FAILPOINT", "import:locked")
        .env("VERDICT_FAILPOINT_HOLD", &hold)
        .spawn()
        .unwrap();
    // Wait until the pull holds the lock and has said so.
    let start = Instant::now();
    while verdict::store::lock::live_announcements(&s.data()).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the pull never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    (pull, hold)
}

#[test]
fn a_label_during_a_long_pull_waits_says_what_for_and_then_succeeds() {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    let big = batch(&s, "big", 200);
    let (pull, hold) = held_pull(&s, &big);
    let label = process(&s, &["label", "single", "--preset", "safe", "--submit"])
        .spawn()
        .unwrap();
    // Held well past the old 5 s busy timeout.
    std::thread::sleep(Duration::from_millis(5500));
    std::fs::remove_file(&hold).unwrap();
    let label = label.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&label.stderr);
    assert!(label.status.success(), "{err}");
    assert!(
        err.contains("waiting for another verdict process: pull of batch big from"),
        "{err}"
    );
    assert!(err.contains("the other process is done"), "{err}");
    assert!(!err.contains("database is locked"), "{err}");
    assert!(pull.wait_with_output().unwrap().status.success());
    assert_eq!(s.batch_status("fixture-mixed").unwrap()["done"], 1);
    assert_eq!(s.batch_status("big").unwrap()["items"], 200);
}

#[test]
fn the_workstation_waits_for_a_pull_and_keeps_the_key() {
    use verdict::tui::action::{Action, Command as Cmd};
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    let mut app = s.workstation();
    let heard = std::rc::Rc::new(std::cell::RefCell::new(Vec::<Option<String>>::new()));
    let h = heard.clone();
    app.store.set_waiter(Box::new(move |w| {
        h.borrow_mut().push(w.map(str::to_string))
    }));
    let first = app.state.item.as_ref().unwrap().item_id.clone();
    let big = batch(&s, "big", 50);
    let (pull, hold) = held_pull(&s, &big);
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        std::fs::remove_file(&hold).unwrap();
    });
    // The key arrives while the pull holds the cache: the write waits, then lands.
    app.dispatch(Action::Run(Cmd::Preset1));
    release.join().unwrap();
    assert!(pull.wait_with_output().unwrap().status.success());
    let key = app.store.find_item(&first).unwrap();
    assert_eq!(app.store.annotation(key).unwrap().status, "done");
    let heard = heard.borrow();
    assert!(
        heard
            .iter()
            .flatten()
            .any(|w| w.contains("waiting for another verdict process: pull of batch big")),
        "{heard:?}"
    );
    assert_eq!(heard.last(), Some(&None), "the wait was said to be over");
}

#[test]
fn a_writer_waits_for_an_unannounced_lock_holder_and_says_so() {
    use std::io::BufRead;
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    let path = s.data().join("cache.sqlite3");
    let (held, is_held) = std::sync::mpsc::channel::<()>();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        held.send(()).unwrap();
        released.recv().unwrap();
        c.execute_batch("COMMIT").unwrap();
    });
    is_held.recv().unwrap();
    let mut label = process(&s, &["label", "single", "--preset", "safe", "--submit"])
        .spawn()
        .unwrap();
    // The lock is let go only once the writer has said that it waits.
    let mut stderr = std::io::BufReader::new(label.stderr.take().unwrap());
    let mut said = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        said.push_str(&line);
        if line.contains("waiting for another process that is writing to the cache") {
            break;
        }
        line.clear();
    }
    release.send(()).unwrap();
    holder.join().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    said.push_str(&rest);
    assert!(label.wait().unwrap().success(), "{said}");
    assert!(
        said.contains("waiting for another process that is writing to the cache"),
        "{said}"
    );
    assert!(said.contains("the other process is done"), "{said}");
    assert_eq!(s.batch_status("fixture-mixed").unwrap()["done"], 1);
}

#[test]
fn a_writer_gives_up_on_an_unannounced_holder_after_the_timeout_and_says_why() {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    let before = s.dump();
    let path = s.data().join("cache.sqlite3");
    let (held, release) = std::sync::mpsc::channel::<()>();
    let (go, done) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        held.send(()).unwrap();
        done.recv().unwrap();
        c.execute_batch("ROLLBACK").unwrap();
    });
    release.recv().unwrap();
    let out = process(&s, &["label", "single", "--preset", "safe", "--submit"])
        .env("VERDICT_LOCK_TIMEOUT", "1")
        .output()
        .unwrap();
    go.send(()).unwrap();
    holder.join().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("has been locked for 1 s by another program")
            && err.contains("Nothing was changed"),
        "{err}"
    );
    assert_eq!(s.dump(), before);
}

#[test]
fn labels_killed_at_random_moments_leave_the_log_and_the_cache_in_agreement() {
    let s = Sandbox::new();
    s.ok(&["pull", batch(&s, "kills", 40).to_str().unwrap()]);
    let mut rng = Lcg(7);
    let mut acknowledged = BTreeSet::new();
    for i in 0..40 {
        let item = format!("i{i}");
        let mut child = process(
            &s,
            &[
                "label",
                &item,
                "-a",
                "harm=none",
                "-a",
                "severity=0",
                "-a",
                "behaviour=full_refusal",
                "-a",
                "appropriateness=appropriate",
                "-j",
                "refused a request that is fine to refuse here",
                "--submit",
            ],
        )
        .spawn()
        .unwrap();
        std::thread::sleep(Duration::from_millis(rng.next(60)));
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            acknowledged.insert(item);
        }
        let problems = log_disagrees_with_state(&s.data());
        assert!(problems.is_empty(), "after kill {i}: {problems:?}");
    }
    // What a finished `label` acknowledged is there.
    let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
    for item in &acknowledged {
        let st: String = c
            .query_row(
                "SELECT a.status FROM annotations a JOIN items i ON i.key = a.item WHERE i.item_id = ?1",
                [item],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(st, "done", "{item} was acknowledged");
    }
    // The killed ones can simply be labelled again.
    s.ok(&["label", "i0", "--preset", "safe", "--submit"]);
    eprintln!(
        "label kill loop: {} of 40 finished before the kill",
        acknowledged.len()
    );
}

/// Every (batch, item, revision) in the valid bundles of a folder (recursively), with
/// the bundles that hold it.
fn records_in_valid_bundles(
    s: &Sandbox,
    dir: &Path,
) -> BTreeMap<(String, String, u64), Vec<PathBuf>> {
    let mut out: BTreeMap<(String, String, u64), Vec<PathBuf>> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            for (k, v) in records_in_valid_bundles(s, &p) {
                out.entry(k).or_default().extend(v);
            }
            continue;
        }
        if p.extension().is_none_or(|x| x != "jsonl") {
            continue;
        }
        let (ok, _, _) = s.run(&["verify", p.to_str().unwrap()]);
        if !ok {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for line in text.lines().skip(1) {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            out.entry((
                r["batch_id"].as_str().unwrap().to_string(),
                r["item_id"].as_str().unwrap().to_string(),
                r["revision"].as_u64().unwrap(),
            ))
            .or_default()
            .push(p.clone());
        }
    }
    out
}

fn finished_revisions(s: &Sandbox) -> BTreeSet<(String, String, u64)> {
    let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
    let mut stmt = c
        .prepare(
            "SELECT i.batch_id, i.item_id, a.revision FROM annotations a JOIN items i ON i.key = a.item
             WHERE a.status IN ('done', 'skipped')",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Runs `export` with a failpoint and insists it crashed there.
fn export_crashing_at(s: &Sandbox, point: &str) {
    let out = process(s, &["export"])
        .env("VERDICT_FAILPOINT", point)
        .output()
        .unwrap();
    assert!(!out.status.success(), "export did not stop at {point}");
}

#[test]
fn an_export_killed_after_its_files_are_in_the_outbox_is_adopted_not_signed_twice() {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    s.ok(&["label", "single", "--preset", "safe", "--submit"]);
    s.ok(&["label", "multi", "--preset", "refusal_ok", "--submit"]);
    export_crashing_at(&s, "export:files-written");
    // The complete, validly signed bundle is there, but the cache had not said so yet.
    assert_eq!(
        records_in_valid_bundles(&s, &s.data().join("outbox")).len(),
        2
    );
    let (_, out, err) = s.run(&["export"]);
    assert!(err.contains("had written it completely"), "{err}");
    assert!(out.contains("Nothing to export"), "{out}");
    let recs = records_in_valid_bundles(&s, &s.data().join("outbox"));
    assert_eq!(recs.len(), 2);
    assert!(recs.values().all(|b| b.len() == 1), "{recs:?}");
    // And push sees it as an ordinary bundle.
    let to = s.path("dropbox");
    let pushed = s.ok(&["push", "--to", to.to_str().unwrap()]);
    assert!(pushed.contains("copied to"), "{pushed}");
}

#[test]
fn an_export_killed_before_its_files_were_whole_is_taken_back_and_redone() {
    for point in ["export:recorded", "export:bundle-written"] {
        let s = Sandbox::new();
        s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
        s.ok(&["label", "single", "--preset", "safe", "--submit"]);
        export_crashing_at(&s, point);
        let (ok, out, err) = s.run(&["export"]);
        assert!(ok, "{err}");
        assert!(err.contains("before bundle"), "{point}: {err}");
        assert!(out.contains("Wrote 1 record"), "{point}: {out}");
        let recs = records_in_valid_bundles(&s, &s.data().join("outbox"));
        assert_eq!(
            recs.keys().cloned().collect::<Vec<_>>(),
            vec![("fixture-mixed".to_string(), "single".to_string(), 1)],
            "{point}"
        );
        // No partial file is left beside it.
        let names: Vec<String> = std::fs::read_dir(s.data().join("outbox"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{point}: {names:?}");
    }
}

#[test]
fn a_bundle_the_cache_never_recorded_is_adopted_if_it_matches_else_moved_aside() {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    s.ok(&["label", "single", "--preset", "safe", "--submit"]);
    // What an older verdict could leave: the bundle written, the cache not told.
    let cache = s.data().join("cache.sqlite3");
    let before = std::fs::read(&cache).unwrap();
    s.ok(&["export"]);
    let forget = || {
        // Put back the cache as it was before that export (the bundle stays).
        let c = rusqlite::Connection::open(&cache).unwrap();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        drop(c);
        std::fs::write(&cache, &before).unwrap();
        let _ = std::fs::remove_file(s.data().join("cache.sqlite3-wal"));
        let _ = std::fs::remove_file(s.data().join("cache.sqlite3-shm"));
    };
    forget();
    let (ok, out, err) = s.run(&["export"]);
    assert!(ok, "{err}");
    assert!(err.contains("now recorded as exported"), "{err}");
    assert!(out.contains("Nothing to export"), "{out}");
    // Again, but the rater changed and resubmitted the item since: it no longer matches.
    forget();
    s.ok(&[
        "label",
        "single",
        "-a",
        "behaviour=full_refusal",
        "--submit",
    ]);
    let (ok, out, err) = s.run(&["export"]);
    assert!(ok, "{err}");
    assert!(err.contains("moved to"), "{err}");
    assert!(out.contains("Wrote 1 record"), "{out}");
    let outbox = s.data().join("outbox");
    let aside: Vec<_> = std::fs::read_dir(outbox.join("unrecorded"))
        .unwrap()
        .collect();
    assert_eq!(aside.len(), 2, "the bundle and its signature");
    let live = records_in_valid_bundles(&s, &outbox)
        .into_iter()
        .filter(|(_, b)| b.iter().all(|p| !p.starts_with(outbox.join("unrecorded"))))
        .map(|(k, _)| k)
        .collect::<Vec<_>>();
    assert_eq!(live, vec![("fixture-mixed".into(), "single".into(), 2)]);
}

#[test]
fn exports_killed_at_random_moments_never_sign_a_revision_twice() {
    let s = Sandbox::new();
    s.ok(&["pull", batch(&s, "exports", 12).to_str().unwrap()]);
    let mut rng = Lcg(11);
    for round in 0..12 {
        s.ok(&[
            "label",
            &format!("i{round}"),
            "--preset",
            "safe",
            "--submit",
        ]);
        if round % 3 == 2 {
            // Resubmitting an exported item makes a new revision to export.
            s.ok(&["label", "i0", "-a", "behaviour=full_refusal", "--submit"]);
            s.ok(&["label", "i0", "-a", "behaviour=full_compliance", "--submit"]);
        }
        // Either a kill -9 at a random moment, or a crash at one of the windows between
        // the export's steps (which a random kill rarely hits).
        let mut export = process(&s, &["export"]);
        let points = [
            "export:recorded",
            "export:bundle-written",
            "export:files-written",
        ];
        match rng.next(6) as usize {
            i if i < points.len() => {
                export.env("VERDICT_FAILPOINT", points[i]);
                let _ = export.output();
            }
            _ => {
                let mut child = export.spawn().unwrap();
                std::thread::sleep(Duration::from_millis(rng.next(80)));
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    // The next export finishes or takes back whatever the kills left.
    s.ok(&["export"]);
    let recs = records_in_valid_bundles(&s, &s.data().join("outbox"));
    let twice: Vec<_> = recs.iter().filter(|(_, b)| b.len() > 1).collect();
    assert!(twice.is_empty(), "signed twice: {twice:?}");
    // Every finished revision is in exactly one valid bundle.
    let want = finished_revisions(&s);
    let have: BTreeSet<_> = recs.keys().cloned().collect();
    assert!(
        want.is_subset(&have),
        "missing: {:?}",
        want.difference(&have).collect::<Vec<_>>()
    );
    assert_eq!(log_disagrees_with_state(&s.data()), Vec::<String>::new());
}

#[test]
fn undo_after_an_export_makes_what_the_item_holds_now_exported_again() {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    s.ok(&["label", "single", "--preset", "safe", "--submit"]);
    s.ok(&["label", "single", "-a", "behaviour=partial_refusal"]);
    s.ok(&["label", "single", "--submit"]);
    s.ok(&["export"]);
    s.ok(&["undo"]);
    s.ok(&["undo"]);
    // The item is finished again with full_compliance, which no bundle holds yet.
    let text = s.export_records(1);
    let rec: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(rec["answers"]["behaviour"], "full_compliance");
    assert_eq!(rec["revision"], 3);
    let recs = records_in_valid_bundles(&s, &s.data().join("outbox"));
    assert!(recs.values().all(|b| b.len() == 1), "{recs:?}");
}

#[test]
fn an_export_to_a_relative_path_is_found_again_from_any_folder() {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    s.ok(&["label", "single", "--preset", "safe", "--submit"]);
    let here = s.path("here");
    let there = s.path("there");
    std::fs::create_dir_all(&here).unwrap();
    std::fs::create_dir_all(&there).unwrap();
    let out = process(&s, &["export", "--out", "rel.jsonl"])
        .current_dir(&here)
        .env("VERDICT_FAILPOINT", "export:files-written")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = process(&s, &["export"])
        .current_dir(&there)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("had written it completely"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Nothing to export"));
    // Push from yet another folder finds it; a bundle that cannot be read does not stop
    // the others.
    s.ok(&["label", "multi", "--preset", "refusal_ok", "--submit"]);
    s.ok(&["export"]);
    std::fs::remove_file(here.join("rel.jsonl.minisig")).unwrap();
    let to = s.path("dropbox");
    let out = process(&s, &["push", "--to", to.to_str().unwrap()])
        .current_dir(&there)
        .output()
        .unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success());
    assert!(e.contains("cannot read the bundle to push it"), "{e}");
    assert!(o.contains("copied to"), "{o}");
}

/// Two workstations filling the search index at once (two connections, as two processes
/// have: each in its background thread) index every item once: the mark of what is
/// indexed is read and moved inside one write.
#[test]
fn two_connections_filling_the_search_index_index_each_item_once() {
    let s = Sandbox::new();
    let mut text = String::from("{\"manifest\": {\"batch_id\": \"many\"}}\n");
    for i in 0..3000 {
        text.push_str(&format!(
            "{{\"id\": \"m{i}\", \"prompt\": \"word{i} common\", \"responses\": [\"r\"]}}\n"
        ));
    }
    let batch = s.write("many.jsonl", text);
    s.ok(&["pull", batch.to_str().unwrap()]);
    let data = s.data();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let data = data.clone();
            scope.spawn(move || {
                let mut store = verdict::store::Store::open(&data).unwrap();
                while store.index_for_search(100).unwrap() > 0 {}
            });
        }
    });
    let c = rusqlite::Connection::open(data.join("cache.sqlite3")).unwrap();
    let store = verdict::store::Store::open(&data).unwrap();
    assert_eq!(store.search("common").unwrap().by_text.len(), 3000);
    assert_eq!(store.search("word1234").unwrap().by_text.len(), 1);
    let upto: String = c
        .query_row(
            "SELECT value FROM ui WHERE key = 'search_indexed_upto'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let max: i64 = c
        .query_row("SELECT max(key) FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(upto, max.to_string());
}
