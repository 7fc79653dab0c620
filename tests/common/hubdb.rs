//! A hub database for a test, on either backend: a SQLite file in a temporary folder, or
//! a fresh database in the PostgreSQL cluster named by `VERDICT_TEST_PG` (`bash .ci/run`
//! starts one and sets it), dropped at the end. Hub tests run once per backend.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Which database a hub test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL cluster for the tests (an admin URL), or a clear failure.
pub fn pg_admin_url() -> String {
    std::env::var("VERDICT_TEST_PG").unwrap_or_else(|_| {
        panic!(
            "the PostgreSQL hub tests need VERDICT_TEST_PG: run the suite with `bash .ci/run` \
             (it starts a throwaway cluster), or start one with `.ci/pg start /tmp/pg` and \
             export VERDICT_TEST_PG=<the URL it prints>"
        )
    })
}

/// Runs `verdict hub ARGS --db DB`; returns (success, stdout, stderr).
pub fn hub_run(db: &HubTarget, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(assert_cmd::cargo::cargo_bin("verdict"))
        .arg("hub")
        .args(args)
        .args(["--db", db.arg()])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `hub_run` that must succeed; returns stdout.
pub fn hub_ok(db: &HubTarget, args: &[&str]) -> String {
    let (ok, out, err) = hub_run(db, args);
    assert!(ok, "hub {args:?}: {err}");
    out
}

/// A connection through the hub's own driver setup (TLS verified as the hub does it).
pub fn pg(url: &str) -> verdict::hub::sql::Conn {
    verdict::hub::sql::Conn::postgres(url).unwrap()
}

/// The cluster URL with another database name, its parameters (TLS) kept.
pub fn pg_database_url(admin: &str, name: &str) -> String {
    let (url, query) = match admin.split_once('?') {
        Some((u, q)) => (u, format!("?{q}")),
        None => (admin, String::new()),
    };
    format!("{}/{name}{query}", url.rsplit_once('/').unwrap().0)
}

/// A hub database that exists for one test.
pub struct HubTarget {
    pub backend: Backend,
    arg: String,
    pg_name: Option<String>,
}

impl HubTarget {
    /// A SQLite file `hub.db` in `dir`, or a fresh PostgreSQL database.
    pub fn new(backend: Backend, dir: &Path) -> HubTarget {
        match backend {
            Backend::Sqlite => HubTarget {
                backend,
                arg: dir.join("hub.db").to_str().unwrap().to_string(),
                pg_name: None,
            },
            Backend::Postgres => {
                let admin = pg_admin_url();
                let name = format!("verdict_test_{}", uuid::Uuid::new_v4().simple());
                pg(&admin)
                    .batch(&format!("CREATE DATABASE {name}"))
                    .unwrap();
                HubTarget {
                    backend,
                    arg: pg_database_url(&admin, &name),
                    pg_name: Some(name),
                }
            }
        }
    }

    /// What `--db` takes.
    pub fn arg(&self) -> &str {
        &self.arg
    }

    /// Runs SQL on the hub's database behind the hub's back (to age leases, to look).
    pub fn exec(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let c = rusqlite::Connection::open(&self.arg).unwrap();
                c.execute_batch(sql).unwrap();
            }
            Backend::Postgres => pg(&self.arg).batch(sql).unwrap(),
        }
    }

    /// One integer from a query.
    pub fn count(&self, sql: &str) -> i64 {
        match self.backend {
            Backend::Sqlite => {
                let c = rusqlite::Connection::open(&self.arg).unwrap();
                c.query_row(sql, [], |r| r.get(0)).unwrap()
            }
            Backend::Postgres => pg(&self.arg)
                .row(sql, &[])
                .unwrap()
                .unwrap()
                .int(0)
                .unwrap(),
        }
    }
}

impl From<&HubTarget> for verdict::hub::sql::Target {
    fn from(t: &HubTarget) -> verdict::hub::sql::Target {
        verdict::hub::sql::Target::parse(&t.arg)
    }
}

impl Drop for HubTarget {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut c) = verdict::hub::sql::Conn::postgres(&pg_admin_url())
        {
            let _ = c.batch(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Defines one test per backend from a function taking the backend:
/// `both_backends!(name);` gives `name::sqlite` and `name::postgres`.
/// (`crate` here is the test crate that calls the macro, on purpose.)
#[macro_export]
#[allow(clippy::crate_in_macro_def)]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(crate::common::hubdb::Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name(crate::common::hubdb::Backend::Postgres)
            }
        }
    )*};
}

/// A real `verdict hub serve` on a free port of 127.0.0.1.
pub struct Hub {
    pub child: Option<Child>,
    pub url: String,
}

impl Hub {
    pub fn start(db: &HubTarget) -> Hub {
        Hub::start_with(db, &[])
    }

    /// A hub process with these environment variables (failpoints).
    pub fn start_with(db: &HubTarget, env: &[(&str, &str)]) -> Hub {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("verdict"))
            .args(["hub", "serve", "--db", db.arg(), "--listen", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().rsplit(' ').next().unwrap().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{line}");
        Hub {
            child: Some(child),
            url,
        }
    }

    /// SIGTERM, and the exit status and what the server printed last.
    pub fn stop(&mut self) -> (bool, String) {
        self.stop_with("-TERM")
    }

    /// Stops the server with a signal (`-TERM`, `-INT`, `-KILL`).
    pub fn stop_with(&mut self, signal: &str) -> (bool, String) {
        let child = self.child.take().unwrap();
        Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Hub {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }
}

/// Answers the shipped default schema takes for a safe, helpful response.
pub fn safe_answers() -> std::collections::BTreeMap<String, verdict::model::Answer> {
    use verdict::model::Answer;
    [
        ("harm", Answer::Many(vec!["none".into()])),
        ("severity", Answer::One("0".into())),
        ("behaviour", Answer::One("full_compliance".into())),
        ("appropriateness", Answer::One("appropriate".into())),
    ]
    .into_iter()
    .map(|(q, a)| (q.to_string(), a))
    .collect()
}

/// A record (revision 1, `done`, safe answers) for every item of a pull.
pub fn records_for(resp: &verdict::hub::api::PullResponse) -> Vec<verdict::model::Record> {
    let mut out = Vec::new();
    for b in &resp.batches {
        for item in &b.items {
            let content = verdict::model::Content {
                conversation: serde_json::from_value(item["messages"].clone()).unwrap(),
                responses: serde_json::from_value(item["responses"].clone()).unwrap(),
            };
            out.push(verdict::model::Record {
                batch_id: b.manifest["batch_id"].as_str().unwrap().to_string(),
                item_id: item["id"].as_str().unwrap().to_string(),
                item_sha256: verdict::model::content_hash(content.canonical_json().as_bytes()),
                status: "done".into(),
                answers: safe_answers(),
                justification: String::new(),
                skip_reason: None,
                escalation: None,
                active_ms: 5000,
                started: "2026-11-30T00:00:00Z".into(),
                submitted: "2026-11-30T00:00:05Z".into(),
                revision: 1,
                guidelines: None,
            });
        }
    }
    out
}

/// A bundle of these records signed with `kp`, as the workstation writes one; with
/// `comment`, that trusted comment instead of the one verdict writes. Returns (bundle,
/// signature).
pub fn signed_bundle(
    resp: &verdict::hub::api::PullResponse,
    records: &[verdict::model::Record],
    rater: &str,
    kp: &minisign::KeyPair,
    comment: Option<&str>,
) -> (String, String) {
    use verdict::model::{BUNDLE_FORMAT, BundleBatch, BundleManifest, GuidelineRef, Schema};
    let mut batches = Vec::new();
    for b in &resp.batches {
        let id = b.manifest["batch_id"].as_str().unwrap().to_string();
        let n = records.iter().filter(|r| r.batch_id == id).count() as u64;
        if n == 0 {
            continue;
        }
        let schema = Schema::from_json(b.manifest["schema"].clone(), "pull").unwrap();
        let guidelines: GuidelineRef =
            serde_json::from_value(b.manifest["guidelines"].clone()).unwrap();
        batches.push(BundleBatch {
            id,
            schema_id: schema.id.clone(),
            schema_sha256: schema.hash(),
            guidelines,
            records: n,
        });
    }
    let manifest = BundleManifest {
        format: BUNDLE_FORMAT.into(),
        bundle_id: uuid::Uuid::new_v4().to_string(),
        rater: rater.into(),
        key_id: verdict::keys::key_id(kp.pk.keynum()),
        created: "2026-11-30T00:00:06Z".into(),
        tool: "test".into(),
        batches,
        record_count: records.len() as u64,
    };
    let refs: Vec<&verdict::model::Record> = records.iter().collect();
    let bytes = verdict::bundle::encode(&manifest, &refs);
    let ours = format!(
        "{BUNDLE_FORMAT} bundle={} rater={} records={} created={}",
        manifest.bundle_id, rater, manifest.record_count, manifest.created
    );
    let sig = minisign::sign(
        Some(&kp.pk),
        &kp.sk,
        std::io::Cursor::new(&bytes),
        Some(comment.unwrap_or(&ours)),
        None,
    )
    .unwrap();
    (String::from_utf8(bytes).unwrap(), sig.to_string())
}

/// Resident memory of a process, in MiB (Linux).
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

/// Someone registered on a hub: name, signing key and token.
pub struct Person {
    pub name: String,
    pub kp: minisign::KeyPair,
    pub token: String,
}

/// Registers `name` with a fresh key pair in `role`.
pub fn person(db: &HubTarget, name: &str, role: verdict::hub::review::Role) -> Person {
    let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    let token = verdict::hub::db::HubDb::open(db)
        .unwrap()
        .add_person(name, &kp.pk, role)
        .unwrap();
    Person {
        name: name.into(),
        kp,
        token,
    }
}

/// A rater with a sandbox of their own, registered on the hub with the sandbox's own
/// signing key (so that the bundles the CLI signs there verify): (sandbox, token).
pub fn registered_rater(db: &HubTarget, name: &str) -> (super::Sandbox, String) {
    let s = super::Sandbox::new();
    s.ok(&["key", "show"]);
    let add = hub_ok(
        db,
        &[
            "rater",
            "add",
            name,
            "--pubkey",
            s.config().join("verdict.pub").to_str().unwrap(),
        ],
    );
    (s, token_of(&add))
}

/// The access token `hub rater add` printed (its "Token for NAME (shown once): T" line).
pub fn token_of(out: &str) -> String {
    out.lines()
        .find(|l| l.starts_with("Token for"))
        .unwrap_or_else(|| panic!("no token in: {out}"))
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string()
}

/// What a scripted rater does with one item: answers (question, answer) with a
/// justification and active milliseconds, then submits; or skips with a reason.
pub enum Rating {
    Submit(Vec<(&'static str, verdict::model::Answer)>, String, i64),
    Skip(&'static str),
}

/// A registered rater pulls from `hub` (expecting `expect` items), does `rate(i)` with
/// the i-th item of the queue, exports the signed bundle and pushes it.
pub fn rate_and_push(
    db: &HubTarget,
    hub: &Hub,
    name: &str,
    expect: usize,
    rate: impl Fn(usize) -> Rating,
) {
    let (s, token) = registered_rater(db, name);
    s.ok(&["pull", &hub.url, "--token", &token, "--max", "100"]);
    let mut store = verdict::store::Store::open(&s.data()).unwrap();
    let keys = store.queue().unwrap();
    assert_eq!(keys.len(), expect, "{name}'s queue");
    for (i, k) in keys.into_iter().enumerate() {
        let act = store.new_action().unwrap();
        match rate(i) {
            Rating::Skip(reason) => {
                store.skip(k, reason, act).unwrap();
            }
            Rating::Submit(answers, justification, active_ms) => {
                for (q, a) in answers {
                    store.set_answer(k, q, Some(&a), act).unwrap();
                }
                store.set_justification(k, &justification, act).unwrap();
                if active_ms > 0 {
                    store.add_active_ms(k, active_ms).unwrap();
                }
                store.submit(k, act).unwrap();
            }
        }
    }
    drop(store);
    s.export_records(expect);
    s.ok(&["push", &hub.url, "--token", &token]);
}
