//! The hub at scale and under attack, on both backends (SQLite and PostgreSQL): two hub
//! processes on one database, bodies that are never read without a token, JSON errors,
//! records checked against the schema, expired leases, batch ids, bounded leases, a hub
//! written by the previous release upgraded in place, and the hub's own help.
#![allow(clippy::unwrap_used, clippy::disallowed_macros)]

mod common;
use common::hubdb::{
    Backend, Hub, HubTarget, hub_ok, hub_run as hub, records_for, rss_mib, signed_bundle,
};
use common::{fixture, http};
use std::process::Command;
use verdict::hub::client;
use verdict::hub::db::HubDb;
use verdict::model::Answer;

fn verdict() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("verdict"))
}

/// A batch file of `n` plain items named `prefix0..`.
fn batch_file(dir: &std::path::Path, name: &str, n: usize) -> std::path::PathBuf {
    let p = dir.join(format!("{name}.jsonl"));
    let mut text = format!("{{\"manifest\": {{\"batch_id\": \"{name}\"}}}}\n");
    for i in 0..n {
        text.push_str(&format!(
            "{{\"id\": \"{name}{i}\", \"prompt\": \"How do I store bleach safely? ({i})\", \"responses\": [\"Cool, dry, away from ammonia ({i}).\"]}}\n"
        ));
    }
    std::fs::write(&p, text).unwrap();
    p
}

/// A registered rater with a key pair, for bundles signed in the test.
struct Signer {
    name: String,
    kp: minisign::KeyPair,
    token: String,
}

fn signer(db: &HubTarget, name: &str) -> Signer {
    let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    let token = HubDb::open(db).unwrap().add_rater(name, &kp.pk).unwrap();
    Signer {
        name: name.into(),
        kp,
        token,
    }
}

both_backends!(
    two_hub_processes_share_one_database,
    bodies_without_a_valid_token_are_never_read,
    every_error_answer_is_json,
    records_that_break_the_schema_are_refused_with_each_problem,
    a_lease_that_expired_is_honoured_until_a_pull_reclaims_it,
    batch_ids_follow_the_workstation_rule_at_load,
    a_hub_of_the_previous_release_is_upgraded_in_place,
    a_push_being_checked_holds_up_no_one,
    an_acknowledgement_lost_in_a_crash_is_recognised_on_retry,
);

fn a_push_being_checked_holds_up_no_one(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    hub_ok(&db, &["init", "--gold-rate", "0"]);
    let file = batch_file(dir.path(), "held", 20);
    hub_ok(&db, &["load", file.to_str().unwrap()]);
    let (ann, ben) = (signer(&db, "ann"), signer(&db, "ben"));
    let hold = dir.path().join("hold");
    std::fs::write(&hold, "").unwrap();
    let h = Hub::start_with(
        &db,
        &[
            ("VERDICT_FAILPOINT", "hub:push-checked"),
            ("VERDICT_FAILPOINT_HOLD", hold.to_str().unwrap()),
        ],
    );
    let resp = client::pull(&h.url, &ann.token, 5).unwrap();
    let (bundle, sig) = signed_bundle(&resp, &records_for(&resp), "ann", &ann.kp, None);
    std::thread::scope(|scope| {
        let push = scope.spawn(|| client::push(&h.url, &ann.token, bundle, sig));
        // Ann's push is checked and held before it stores; Ben works meanwhile.
        let bens = client::pull(&h.url, &ben.token, 5).unwrap();
        assert_eq!(bens.batches[0].items.len(), 5);
        assert!(
            !push.is_finished(),
            "Ben's pull came back only once Ann's held push had finished"
        );
        std::fs::remove_file(&hold).unwrap();
        let ack = push.join().unwrap().unwrap();
        assert_eq!(ack.accepted, 5);
    });
}

fn an_acknowledgement_lost_in_a_crash_is_recognised_on_retry(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    hub_ok(&db, &["init", "--gold-rate", "0"]);
    hub_ok(&db, &["load", fixture("bare.jsonl").to_str().unwrap()]);
    let ann = signer(&db, "ann");
    // Two processes; the first dies right after it commits a push, before it answers.
    let mut crashing = Hub::start_with(&db, &[("VERDICT_FAILPOINT", "hub:push-committed")]);
    let steady = Hub::start(&db);
    let resp = client::pull(&steady.url, &ann.token, 5).unwrap();
    let (bundle, sig) = signed_bundle(&resp, &records_for(&resp), "ann", &ann.kp, None);
    let lost = client::push(&crashing.url, &ann.token, bundle.clone(), sig.clone());
    assert!(lost.is_err(), "the answer was lost with the process");
    let (ok, _) = crashing.stop_with("-KILL");
    assert!(!ok);
    // Sent again, to the process still up: it was stored; nothing is stored twice.
    let again = client::push(&steady.url, &ann.token, bundle, sig).unwrap();
    assert!(again.duplicate, "{again:?}");
    let mut check = HubDb::open(&db).unwrap();
    assert_eq!(check.records().unwrap().len(), 2);
    assert_eq!(check.slot_mismatches().unwrap(), 0);
}

fn two_hub_processes_share_one_database(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    hub_ok(&db, &["init", "--gold-rate", "0"]);
    // 60 items x overlap 2 = 120 slots for 80 asks: each rater always finds 5 it has not had.
    let file = batch_file(dir.path(), "shared", 60);
    hub_ok(&db, &["load", file.to_str().unwrap(), "--overlap", "2"]);
    let raters: Vec<Signer> = (0..8).map(|i| signer(&db, &format!("r{i}"))).collect();
    let (a, b) = (Hub::start(&db), Hub::start(&db));
    let urls = [a.url.clone(), b.url.clone()];
    // Every rater pulls from one process and pushes to the other, all at once, twice.
    let acked: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = raters
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let urls = &urls;
                scope.spawn(move || {
                    let mut acked = 0;
                    for round in 0..2 {
                        let resp = client::pull(&urls[(i + round) % 2], &r.token, 5).unwrap();
                        let records = records_for(&resp);
                        let (bundle, sig) = signed_bundle(&resp, &records, &r.name, &r.kp, None);
                        let ack = client::push(
                            &urls[(i + round + 1) % 2],
                            &r.token,
                            bundle.clone(),
                            sig.clone(),
                        )
                        .unwrap();
                        acked += ack.accepted;
                        // The same bundle at the other process is known there too.
                        let again =
                            client::push(&urls[(i + round) % 2], &r.token, bundle, sig).unwrap();
                        assert!(again.duplicate && again.accepted == 0);
                    }
                    acked
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(acked, 8 * 2 * 5, "every rater got and finished 10 items");
    let mut check = HubDb::open(&db).unwrap();
    for (batch, item, overlap, leases) in check.lease_counts().unwrap() {
        assert!(
            leases <= overlap,
            "{batch}/{item}: {leases} leases, overlap {overlap}"
        );
    }
    assert_eq!(check.slot_mismatches().unwrap(), 0);
    assert_eq!(check.records().unwrap().len() as u64, acked);
    assert_eq!(
        db.count("SELECT CAST(sum(open_slots) AS BIGINT) FROM items"),
        120 - 80
    );
}

fn bodies_without_a_valid_token_are_never_read(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    hub_ok(&db, &["init"]);
    let h = Hub::start(&db);
    let before = rss_mib(h.pid());
    let huge = 60 << 20;
    // Ten 60 MiB pushes at once, five without a token and five with a wrong one.
    let answers: Vec<(u16, serde_json::Value, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let url = h.url.clone();
                scope.spawn(move || {
                    let auth = ("Authorization", "Bearer 0123456789abcdef");
                    let headers: &[(&str, &str)] = if i % 2 == 0 { &[] } else { &[auth] };
                    http::stream(&url, "/v1/push", headers, huge)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (status, body, sent) in &answers {
        assert_eq!(*status, 401, "{body}");
        assert!(body["error"].as_str().unwrap().contains("token"), "{body}");
        assert!(
            *sent < huge,
            "the hub read the whole unauthenticated body ({sent} bytes)"
        );
    }
    let after = rss_mib(h.pid());
    eprintln!(
        "hub memory: {before:.0} MiB before, {after:.0} MiB after 10 x 60 MiB unauthenticated pushes"
    );
    assert!(
        after < before + 64.0,
        "unauthenticated bodies were buffered: {before:.0} -> {after:.0} MiB"
    );
}

fn every_error_answer_is_json(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let target = HubTarget::new(backend, dir.path());
    let (_, admin) = HubDb::init(&target, 72, 0.0).unwrap();
    let r = signer(&target, "ann");
    let h = Hub::start(&target);
    let bearer = format!("Bearer {}", r.token);
    let auth = ("Authorization", bearer.as_str());
    let json = ("Content-Type", "application/json");
    let admin_bearer = format!("Bearer {admin}");
    type Case<'a> = (u16, &'a str, &'a str, Vec<(&'a str, &'a str)>, &'a [u8]);
    let cases: Vec<Case> = vec![
        (404, "GET", "/nope", vec![], b""),
        (405, "GET", "/v1/pull", vec![auth], b""),
        (405, "DELETE", "/v1/push", vec![auth], b""),
        (401, "POST", "/v1/pull", vec![json], b"{\"max\": 1}"),
        (415, "POST", "/v1/pull", vec![auth], b"{\"max\": 1}"),
        (
            415,
            "POST",
            "/v1/push",
            vec![auth, ("Content-Type", "text/plain")],
            b"x",
        ),
        (400, "POST", "/v1/pull", vec![auth, json], b"{not json"),
        (
            400,
            "POST",
            "/v1/push",
            vec![auth, json],
            b"{\"bundle\": 1}",
        ),
        (
            413,
            "POST",
            "/v1/push",
            vec![auth, json, ("Content-Length", "70000000")],
            b"",
        ),
        (422, "POST", "/v1/pull", vec![auth, json], b"{\"max\": 0}"),
        (403, "GET", "/v1/admin/status", vec![auth], b""),
        (401, "GET", "/v1/admin/status", vec![], b""),
    ];
    for (want, method, path, headers, body) in cases {
        let mut headers = headers;
        let len = body.len().to_string();
        if !headers.iter().any(|(k, _)| *k == "Content-Length") {
            headers.push(("Content-Length", &len));
        }
        let (status, answer) = http::request(&h.url, method, path, &headers, body);
        assert_eq!(status, want, "{method} {path}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{method} {path}: {answer}"
        );
    }
    let (status, answer) = http::request(
        &h.url,
        "GET",
        "/v1/admin/status",
        &[("Authorization", &admin_bearer)],
        b"",
    );
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = http::request(&h.url, "GET", "/health", &[], b"");
    assert_eq!((status, answer["status"].as_str()), (200, Some("ok")));
}

fn records_that_break_the_schema_are_refused_with_each_problem(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    hub_ok(&db, &["init", "--gold-rate", "0"]);
    hub_ok(&db, &["load", fixture("bare.jsonl").to_str().unwrap()]);
    let r = signer(&db, "ann");
    let h = Hub::start(&db);
    let resp = client::pull(&h.url, &r.token, 10).unwrap();
    let good = records_for(&resp);
    assert_eq!(good.len(), 2);
    let mut bad = good.clone();
    bad[0]
        .answers
        .insert("behaviour".into(), Answer::One("pwned".into()));
    bad[1]
        .answers
        .insert("mood".into(), Answer::One("fine".into()));
    bad[1].status = "hacked".into();
    let (bundle, sig) = signed_bundle(&resp, &bad, &r.name, &r.kp, None);
    let err = client::push(&h.url, &r.token, bundle, sig)
        .unwrap_err()
        .to_string();
    assert!(err.contains("422"), "{err}");
    for problem in ["'pwned'", "mood", "status 'hacked'"] {
        assert!(err.contains(problem), "{problem} not named: {err}");
    }
    // A NUL in a justification (PostgreSQL cannot store one): refused on both, by name.
    // Anywhere: a justification, a timestamp, an item id.
    for field in ["justification", "submitted", "item_id"] {
        let mut nul = good.clone();
        match field {
            "justification" => nul[0].justification = "before\0after".into(),
            "submitted" => nul[0].submitted = "2026-11-30\0".into(),
            _ => nul[0].item_id = format!("{}\0", nul[0].item_id),
        }
        let (bundle, sig) = signed_bundle(&resp, &nul, &r.name, &r.kp, None);
        let err = client::push(&h.url, &r.token, bundle, sig)
            .unwrap_err()
            .to_string();
        assert!(err.contains("422") && err.contains("NUL"), "{field}: {err}");
    }
    // A revision past what a database integer holds.
    let mut huge = good.clone();
    huge[0].revision = u64::MAX;
    let (bundle, sig) = signed_bundle(&resp, &huge, &r.name, &r.kp, None);
    let err = client::push(&h.url, &r.token, bundle, sig)
        .unwrap_err()
        .to_string();
    assert!(err.contains("422") && err.contains("revision"), "{err}");
    // A done record missing a required answer.
    let mut missing = good.clone();
    missing[0].answers.remove("behaviour");
    let (bundle, sig) = signed_bundle(&resp, &missing, &r.name, &r.kp, None);
    let err = client::push(&h.url, &r.token, bundle, sig)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not answered"), "{err}");
    // Validly signed, but with an empty trusted comment.
    let (bundle, sig) = signed_bundle(&resp, &good, &r.name, &r.kp, Some(""));
    let err = client::push(&h.url, &r.token, bundle, sig)
        .unwrap_err()
        .to_string();
    assert!(err.contains("trusted comment is empty"), "{err}");
    assert_eq!(HubDb::open(&db).unwrap().records().unwrap().len(), 0);
    // The same records, right: stored.
    let (bundle, sig) = signed_bundle(&resp, &good, &r.name, &r.kp, None);
    let ack = client::push(&h.url, &r.token, bundle, sig).unwrap();
    assert_eq!(ack.accepted, 2);
}

fn a_lease_that_expired_is_honoured_until_a_pull_reclaims_it(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    hub_ok(&db, &["init", "--gold-rate", "0", "--lease-hours", "1"]);
    let file = batch_file(dir.path(), "exp", 4);
    hub_ok(&db, &["load", file.to_str().unwrap(), "--overlap", "1"]);
    let (ann, ben) = (signer(&db, "ann"), signer(&db, "ben"));
    let h = Hub::start(&db);
    // Ann's lease runs out, but nobody has pulled since: her work is taken.
    let first = client::pull(&h.url, &ann.token, 2).unwrap();
    db.exec("UPDATE leases SET expires_at = 0");
    let (bundle, sig) = signed_bundle(&first, &records_for(&first), "ann", &ann.kp, None);
    assert_eq!(
        client::push(&h.url, &ann.token, bundle, sig)
            .unwrap()
            .accepted,
        2
    );
    // Her next two run out too, and Ben's pull gives them to him: her push is refused.
    let second = client::pull(&h.url, &ann.token, 2).unwrap();
    db.exec("UPDATE leases SET expires_at = 0 WHERE done = 0");
    let bens = client::pull(&h.url, &ben.token, 4).unwrap();
    let ids = |r: &verdict::hub::api::PullResponse| -> Vec<String> {
        r.batches
            .iter()
            .flat_map(|b| {
                b.items
                    .iter()
                    .map(|i| i["id"].as_str().unwrap().to_string())
            })
            .collect()
    };
    assert_eq!(
        ids(&bens),
        ids(&second),
        "only the reclaimed items were free"
    );
    let (bundle, sig) = signed_bundle(&second, &records_for(&second), "ann", &ann.kp, None);
    let err = client::push(&h.url, &ann.token, bundle, sig)
        .unwrap_err()
        .to_string();
    assert!(err.contains("lease expired"), "{err}");
    let mut check = HubDb::open(&db).unwrap();
    assert_eq!(check.records().unwrap().len(), 2);
    assert_eq!(check.slot_mismatches().unwrap(), 0);
}

fn batch_ids_follow_the_workstation_rule_at_load(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    hub_ok(&db, &["init", "--gold-rate", "0"]);
    // A CSV with a non-ASCII name, and one with a 120-character name.
    let csv = std::fs::read(fixture("plain.csv")).unwrap();
    let accented = dir.path().join("données.csv");
    std::fs::write(&accented, &csv).unwrap();
    let long = dir.path().join(format!("{}.csv", "l".repeat(120)));
    std::fs::write(&long, &csv).unwrap();
    let mut ids = Vec::new();
    for f in [&accented, &long] {
        let out = hub_ok(
            &db,
            &[
                "load",
                f.to_str().unwrap(),
                "--map",
                "prompt=question,response=completion",
            ],
        );
        let id = out
            .split_whitespace()
            .nth(2)
            .unwrap()
            .trim_end_matches(':')
            .to_string();
        assert!(verdict::batch::valid_batch_id(&id), "{id}");
        assert!(id.len() <= 128, "{id}");
        ids.push(id);
    }
    // A workstation pulls both.
    let s = common::Sandbox::new();
    s.ok(&["key", "show"]);
    let pk = s.config().join("verdict.pub");
    let out = hub_ok(
        &db,
        &["rater", "add", "ann", "--pubkey", pk.to_str().unwrap()],
    );
    let token = out
        .lines()
        .last()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    let h = Hub::start(&db);
    let out = s.ok(&["pull", &h.url, "--token", &token, "--max", "10"]);
    for id in &ids {
        assert!(out.contains(id.as_str()), "{id} not pulled: {out}");
    }
    // A manifest id a workstation would refuse is refused at load, and nothing is loaded.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"manifest\": {\"batch_id\": \"evil\\u202eid\"}}\n{\"id\": \"x\", \"prompt\": \"p\", \"responses\": [\"r\"]}\n",
    )
    .unwrap();
    let (ok, _, err) = hub(&db, &["load", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("batch_id"), "{err}");
    assert_eq!(db.count("SELECT count(*) FROM batches"), 2);
}

fn a_hub_of_the_previous_release_is_upgraded_in_place(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    let dump = std::fs::read_to_string(fixture("hub-v1.sql")).unwrap();
    let tokens: Vec<String> = dump
        .lines()
        .find(|l| l.starts_with("-- Tokens"))
        .unwrap()
        .split_whitespace()
        .map(|w| w.trim_end_matches(','))
        .filter(|w| w.len() == 64)
        .map(String::from)
        .collect();
    match backend {
        Backend::Sqlite => {
            let c = rusqlite::Connection::open(db.arg()).unwrap();
            c.execute_batch(&dump).unwrap();
            c.execute_batch("PRAGMA user_version = 1").unwrap();
        }
        Backend::Postgres => {
            // The same hub as PostgreSQL would have held it: the dump's statements in the
            // hub's SQL for PostgreSQL, its row ids' sequences moved past the rows.
            let sql: String = dump
                .lines()
                .filter(|l| !l.starts_with("PRAGMA"))
                .collect::<Vec<_>>()
                .join("\n");
            let mut c = verdict::hub::sql::Conn::postgres(db.arg()).unwrap();
            c.batch(&sql).unwrap();
            c.batch(
                "SELECT setval(pg_get_serial_sequence('raters', 'id'), (SELECT max(id) FROM raters));
                 SELECT setval(pg_get_serial_sequence('items', 'key'), (SELECT max(key) FROM items));
                 CREATE TABLE verdict_schema (version BIGINT NOT NULL);
                 INSERT INTO verdict_schema VALUES (1);",
            )
            .unwrap();
        }
    }
    // Not behind anyone's back: every command but `hub migrate` says what to do.
    for args in [
        &["status"][..],
        &["serve", "--listen", "127.0.0.1:0"],
        &["report"],
    ] {
        let (ok, _, err) = hub(&db, args);
        assert!(!ok, "{args:?}");
        assert!(
            err.contains("schema version 1") && err.contains("verdict hub migrate"),
            "{args:?}: {err}"
        );
    }
    // Two upgrades at once: one does the work, the other finds it done; both succeed.
    let both: Vec<(bool, String, String)> = std::thread::scope(|scope| {
        let a = scope.spawn(|| hub(&db, &["migrate"]));
        let b = scope.spawn(|| hub(&db, &["migrate"]));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    assert!(both.iter().all(|(ok, _, _)| *ok), "{both:?}");
    let upgraded: Vec<&String> = both
        .iter()
        .map(|(_, out, _)| out)
        .filter(|out| {
            out.contains(&format!(
                "from schema version 1 to {}",
                HubDb::schema_version()
            ))
        })
        .collect();
    assert_eq!(upgraded.len(), 1, "{both:?}");
    let (ok, out, err) = hub(&db, &["status"]);
    assert!(ok, "{err}");
    assert!(out.contains("fixture-mixed"), "{out}");
    let mut check = HubDb::open(&db).unwrap();
    assert_eq!(check.slot_mismatches().unwrap(), 0);
    assert_eq!(check.records().unwrap().len(), 2);
    // Ann's two finished leases are done; her third and Ben's four stay open to them.
    assert_eq!(db.count("SELECT count(*) FROM leases WHERE done = 1"), 2);
    // Old raters and new ones work on: Ann's pull gives back her open lease (and more).
    let h = Hub::start(&db);
    let ann = client::pull(&h.url, &tokens[0], 3).unwrap();
    let ann_ids: Vec<&str> = ann.batches[0]
        .items
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(ann_ids.contains(&"pair"), "{ann_ids:?}");
    assert!(
        !ann_ids.contains(&"single"),
        "finished items are not leased again: {ann_ids:?}"
    );
    let cara = signer(&db, "cara");
    let resp = client::pull(&h.url, &cara.token, 6).unwrap();
    let (bundle, sig) = signed_bundle(&resp, &records_for(&resp), "cara", &cara.kp, None);
    client::push(&h.url, &cara.token, bundle, sig).unwrap();
    drop(h);
    let mut check = HubDb::open(&db).unwrap();
    for (batch, item, overlap, leases) in check.lease_counts().unwrap() {
        assert!(leases <= overlap, "{batch}/{item}: {leases} > {overlap}");
    }
    assert_eq!(check.slot_mismatches().unwrap(), 0);
    // A hub from a newer verdict is not touched: not by a new command, and not by a hub
    // process that was running when the newer verdict upgraded the database.
    let running = Hub::start(&db);
    match backend {
        Backend::Sqlite => db.exec("PRAGMA user_version = 99"),
        Backend::Postgres => db.exec("UPDATE verdict_schema SET version = 99"),
    }
    let err = client::pull(&running.url, &cara.token, 6)
        .unwrap_err()
        .to_string();
    assert!(err.contains("503") && err.contains("upgraded"), "{err}");
    // ... and its health check says so, so that a load balancer takes it out.
    let (status, _) = http::request(&running.url, "GET", "/health", &[], b"");
    assert_eq!(status, 503);
    let (ok, _, err) = hub(&db, &["status"]);
    assert!(!ok);
    assert!(err.contains("newer than this verdict"), "{err}");
}

#[test]
fn one_key_one_rater_and_mistyped_databases_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(Backend::Sqlite, dir.path());
    hub_ok(&db, &["init"]);
    let ann = signer(&db, "ann");
    let err = HubDb::open(&db)
        .unwrap()
        .add_rater("dave", &ann.kp.pk)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("already registered to rater 'ann'"), "{err}");
    let out = verdict()
        .args(["hub", "status", "--db", "postgress://u@h/db"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("'postgress://' is not a database"),
        "{err}"
    );
    // A hint with a URL is quoted, so that it can be pasted into a shell.
    let missing = HubDb::open("/nonexistent/hub.db?x&y")
        .err()
        .unwrap()
        .to_string();
    assert!(
        missing.contains("--db '/nonexistent/hub.db?x&y'"),
        "{missing}"
    );
}

#[test]
fn lease_hours_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(Backend::Sqlite, dir.path());
    let (ok, _, err) = hub(&db, &["init", "--lease-hours", "3000000000000"]);
    assert!(!ok);
    assert!(err.contains("87840"), "{err}");
    assert!(!std::path::Path::new(db.arg()).exists(), "nothing created");
    let e = HubDb::init(&db, 0, 0.1).err().unwrap().to_string();
    assert!(e.contains("--lease-hours"), "{e}");
}

#[test]
fn hub_commands_show_only_hub_options() {
    for args in [
        &["hub", "--help"][..],
        &["hub", "serve", "--help"],
        &["hub", "load", "--help"],
        &["hub", "rater", "add", "--help"],
    ] {
        let out = verdict().args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        for opt in ["--data-dir", "--config-dir", "--rater"] {
            assert!(!text.contains(opt), "{args:?} shows {opt}:\n{text}");
        }
    }
    let out = verdict().args(["pull", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--data-dir") && text.contains("--rater"),
        "{text}"
    );
    // And `--db` can come from the environment.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env.db");
    let out = verdict()
        .args(["hub", "init"])
        .env("VERDICT_HUB_DB", &path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(path.exists());
}

/// PostgreSQL over TLS: encrypted and verified against the lab's CA (`sslrootcert`); a
/// server the roots do not vouch for is refused; `sslmode=disable` stays plain.
#[test]
fn postgres_connections_verify_the_server_over_tls() {
    let admin = common::hubdb::pg_admin_url();
    let ca = std::env::var("VERDICT_TEST_PG_CA").unwrap_or_else(|_| {
        panic!("needs VERDICT_TEST_PG_CA, the CA of the test cluster (bash .ci/run sets it)")
    });
    let base = admin.split('?').next().unwrap().to_string();
    let with = |q: &str| format!("{base}?{q}");
    let ssl = |url: &str| -> i64 {
        let mut c = verdict::hub::sql::Conn::postgres(url).unwrap();
        c.row(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .unwrap()
        .int(0)
        .unwrap()
    };
    assert_eq!(ssl(&with(&format!("sslmode=require&sslrootcert={ca}"))), 1);
    assert_eq!(
        ssl(&with(&format!("sslmode=verify-full&sslrootcert={ca}"))),
        1
    );
    assert_eq!(ssl(&with("sslmode=disable")), 0);
    // The test CA is in no public root store: without it, the server is not trusted.
    let err = verdict::hub::sql::Conn::postgres(&with("sslmode=require"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // A hub works the same over TLS, end to end.
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(Backend::Postgres, dir.path());
    let url = format!("{}?sslmode=require&sslrootcert={ca}", db.arg());
    let out = verdict()
        .args(["hub", "init", "--db", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = verdict()
        .args(["hub", "status", "--db", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
