//! Hub load test (not a timed test: it prints figures, and checks only what must hold
//! whatever the speed).
//!
//!   cargo bench --bench hub_load                          # 8 raters, 10 s
//!   cargo bench --bench hub_load -- --raters 16 --seconds 20 --items 20000
//!
//! Starts the real `verdict hub serve` on 127.0.0.1 (a free port) over a hub with N items
//! (overlap 2), then M simulated raters, each in its own thread, pull 10 items, sign a
//! bundle of records for them (minisign, as the workstation does) and push it, until the
//! time is up or the work runs out. Prints requests per second and median/p99 latency of
//! pulls and pushes, then proves from the hub's database that no item was leased to more
//! raters than its overlap and that every acknowledged record is stored.
#![allow(clippy::unwrap_used, clippy::disallowed_macros)]

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use verdict::hub::api::PullResponse;
use verdict::hub::db::HubDb;
use verdict::model::{
    Answer, BUNDLE_FORMAT, BundleBatch, BundleManifest, Content, GuidelineRef, Record, Schema,
};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
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
) -> Option<(String, String, u64)> {
    let answers: BTreeMap<String, Answer> = [
        ("harm", Answer::Many(vec!["none".into()])),
        ("severity", Answer::One("0".into())),
        ("behaviour", Answer::One("full_compliance".into())),
        ("appropriateness", Answer::One("appropriate".into())),
    ]
    .into_iter()
    .map(|(q, a)| (q.to_string(), a))
    .collect();
    let mut records = Vec::new();
    let mut batches = Vec::new();
    for b in &resp.batches {
        let schema = Schema::from_json(b.manifest["schema"].clone(), "pull").unwrap();
        let guidelines: GuidelineRef =
            serde_json::from_value(b.manifest["guidelines"].clone()).unwrap();
        let id = b.manifest["batch_id"].as_str().unwrap().to_string();
        for item in &b.items {
            let content = Content {
                conversation: serde_json::from_value(item["messages"].clone()).unwrap(),
                responses: serde_json::from_value(item["responses"].clone()).unwrap(),
            };
            records.push(Record {
                batch_id: id.clone(),
                item_id: item["id"].as_str().unwrap().to_string(),
                item_sha256: verdict::model::content_hash(content.canonical_json().as_bytes()),
                status: "done".into(),
                answers: answers.clone(),
                justification: String::new(),
                skip_reason: None,
                escalation: None,
                active_ms: 5000,
                started: "2026-11-23T00:00:00Z".into(),
                submitted: "2026-11-23T00:00:05Z".into(),
                revision: 1,
            });
        }
        batches.push(BundleBatch {
            id,
            schema_id: schema.id.clone(),
            schema_sha256: schema.hash(),
            guidelines,
            records: b.items.len() as u64,
        });
    }
    if records.is_empty() {
        return None;
    }
    let manifest = BundleManifest {
        format: BUNDLE_FORMAT.into(),
        bundle_id: uuid::Uuid::new_v4().to_string(),
        rater: rater.into(),
        key_id: verdict::keys::key_id(kp.pk.keynum()),
        created: "2026-11-23T00:00:06Z".into(),
        tool: "load-test".into(),
        batches,
        record_count: records.len() as u64,
    };
    let refs: Vec<&Record> = records.iter().collect();
    let bytes = verdict::bundle::encode(&manifest, &refs);
    let comment = format!(
        "{BUNDLE_FORMAT} bundle={} rater={} records={} created={}",
        manifest.bundle_id, rater, manifest.record_count, manifest.created
    );
    let sig = minisign::sign(
        Some(&kp.pk),
        &kp.sk,
        std::io::Cursor::new(&bytes),
        Some(&comment),
        None,
    )
    .unwrap();
    Some((
        String::from_utf8(bytes).unwrap(),
        sig.to_string(),
        records.len() as u64,
    ))
}

fn main() {
    let raters = arg("--raters", 8) as usize;
    let seconds = arg("--seconds", 10);
    let items = arg("--items", 5000) as usize;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hub.db");
    let (mut hub, _) = HubDb::init(&db, 72, 0.0).unwrap();
    let batch = dir.path().join("load.jsonl");
    let mut text = String::from("{\"manifest\": {\"batch_id\": \"load\"}}\n");
    for i in 0..items {
        text.push_str(&format!(
            "{{\"id\": \"i{i}\", \"prompt\": \"Prompt {i}: how do I store chemicals safely?\", \"responses\": [\"Keep them labelled, apart, and ventilated ({i}).\"]}}\n"
        ));
    }
    std::fs::write(&batch, text).unwrap();
    let mut open = verdict::batch::open(&batch, Default::default()).unwrap();
    hub.load(&mut open, 2, false).unwrap();
    let mut keys = Vec::new();
    for r in 0..raters {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let token = hub.add_rater(&format!("rater{r}"), &kp.pk).unwrap();
        keys.push((format!("rater{r}"), kp, token));
    }
    drop(hub);
    let mut child = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args([
            "hub",
            "serve",
            "--db",
            db.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    println!(
        "hub load test: {raters} raters, {items} items (overlap 2), up to {seconds} s, on {url}"
    );

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let results: Vec<(Vec<Duration>, Vec<Duration>, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = keys
            .iter()
            .map(|(name, kp, token)| {
                let url = url.clone();
                scope.spawn(move || {
                    let (mut pulls, mut pushes, mut acked) = (Vec::new(), Vec::new(), 0u64);
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let resp = verdict::hub::client::pull(&url, token, 10).unwrap();
                        pulls.push(t.elapsed());
                        let Some((bundle, sig, _)) = bundle_for(&resp, name, kp) else {
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
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();

    let mut pulls: Vec<Duration> = results.iter().flat_map(|r| r.0.clone()).collect();
    let mut pushes: Vec<Duration> = results.iter().flat_map(|r| r.1.clone()).collect();
    let acked: u64 = results.iter().map(|r| r.2).sum();
    pulls.sort();
    pushes.sort();
    let requests = pulls.len() + pushes.len();
    println!(
        "requests:      {requests} in {elapsed:.1} s = {:.0} requests/s",
        requests as f64 / elapsed
    );
    println!(
        "pull  latency: median {:6.1} ms   p99 {:6.1} ms   ({} pulls of 10)",
        pct(&pulls, 0.5),
        pct(&pulls, 0.99),
        pulls.len()
    );
    println!(
        "push  latency: median {:6.1} ms   p99 {:6.1} ms   ({} bundles)",
        pct(&pushes, 0.5),
        pct(&pushes, 0.99),
        pushes.len()
    );

    let hub = HubDb::open(&db).unwrap();
    let over: Vec<_> = hub
        .lease_counts()
        .unwrap()
        .into_iter()
        .filter(|(_, _, k, n)| n > k)
        .collect();
    let stored = hub.records().unwrap().len() as u64;
    println!(
        "records acknowledged: {acked}; stored: {stored}; items over-assigned: {}",
        over.len()
    );
    assert!(over.is_empty(), "over-assigned: {over:?}");
    assert_eq!(stored, acked, "an acknowledged record is missing");
    println!("OK: no item over-assigned, no acknowledged record lost");
}
