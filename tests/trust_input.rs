//! Trust at the edges: untrusted text never reaches a terminal from any command; a hub
//! cannot write outside the data directory; malformed batches are refused, not guessed;
//! every item can be named; a skip exports no answers; files are private.
#![allow(clippy::unwrap_used)]

mod common;
use common::hubdb::{Backend, HubTarget};
use common::{Sandbox, fixture, terminal_unsafe};
use std::io::{Read, Write};

/// Everything a terminal would act on, in one string: OSC title and clipboard writes,
/// a CSI (7-bit and as the one-byte C1), BEL, DEL, a bidi override.
const EVIL: &str = "\u{1b}]0;pwned\u{7}\u{1b}]52;c;aGk=\u{7}\u{1b}[2J\u{9b}31m\u{7f}\u{202e}";

fn j(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Asserts that a command's output is safe for a terminal.
fn clean(what: &str, (_, out, err): &(bool, String, String)) {
    for (stream, text) in [("stdout", out), ("stderr", err)] {
        let bad = terminal_unsafe(text);
        assert!(bad.is_empty(), "{what}: {stream} holds {bad:?}:\n{text}");
    }
}

/// A batch whose schema labels, texts, metadata and field names are hostile.
fn hostile_batch(s: &Sandbox) -> std::path::PathBuf {
    let schema = serde_json::json!({
        "id": "hostile-schema",
        "title": format!("Title{EVIL}"),
        "version": "1",
        "question": [{
            "id": "harm", "label": format!("Harm{EVIL}"), "kind": "single",
            "options": [
                {"value": "none", "label": format!("None{EVIL}"), "key": "0"},
                {"value": "bad", "label": "Bad", "key": "b"}
            ]
        }],
        "justification": {"snippets": [format!("snip{EVIL}pet ")]},
        "escalation_reason": [{"value": "edge", "label": format!("Edge{EVIL}")}],
    });
    let manifest = serde_json::json!({"manifest": {"batch_id": "hostile", "schema": schema}});
    let item = format!(
        "{{\"id\": \"h1\", \"prompt\": {p}, \"responses\": [{{\"text\": {r}, \"model\": {m}}}], \"metadata\": {{{k}: {v}}}, {u}: 1}}",
        p = j(&format!("prompt{EVIL}")),
        r = j(&format!("response{EVIL}")),
        m = j(&format!("model{EVIL}")),
        k = j(&format!("key{EVIL}")),
        v = j(EVIL),
        u = j(&format!("unknown{EVIL}")),
    );
    s.write("hostile.jsonl", format!("{manifest}\n{item}\n"))
}

#[test]
fn hostile_text_never_reaches_the_terminal_from_the_rater_commands() {
    let s = Sandbox::new();
    let file = hostile_batch(&s);
    let pulled = s.run(&["pull", file.to_str().unwrap()]);
    assert!(pulled.0, "{}", pulled.2);
    clean("pull", &pulled);
    assert!(pulled.2.contains("unknown␛]0;pwned␇"), "{}", pulled.2);
    // A failing pull that names a hostile field.
    let bad = s.write(
        "bad.jsonl",
        format!(
            "{{\"id\": \"b1\", \"prompt\": \"p\", \"responses\": [\"r\"], \"suggestions\": {{{}: {{\"value\": \"x\"}}}}}}\n",
            j(&format!("q{EVIL}"))
        ),
    );
    let failed = s.run(&["pull", bad.to_str().unwrap()]);
    assert!(!failed.0);
    clean("failed pull", &failed);
    for args in [
        vec!["status"],
        vec!["status", "--json"],
        vec!["label", "h1", "-a", "harm=none", "--submit"],
        vec!["log"],
        vec!["log", "--json"],
        vec!["export"],
    ] {
        let out = s.run(&args);
        assert!(out.0, "{args:?}: {}", out.2);
        clean(&format!("{args:?}"), &out);
    }
    // A bidi override or an escape in text the rater writes is refused, plainly.
    let refused = s.run(&["label", "h1", "-j", "see \u{202e}this"]);
    assert!(!refused.0);
    clean("label -j", &refused);
    assert!(refused.2.contains("U+202E at character 5"), "{}", refused.2);
    let refused = s.run(&["label", "h1", "--skip", "\u{1b}[2Jgone"]);
    assert!(!refused.0);
    assert!(refused.2.contains("U+001B"), "{}", refused.2);
}

#[test]
fn verify_of_a_hostile_bundle_prints_only_safe_text() {
    let s = Sandbox::new();
    s.ok(&["key", "show"]);
    let rec = |id: &str| {
        serde_json::json!({
            "batch_id": format!("b{EVIL}"), "item_id": id, "item_sha256": EVIL,
            "status": "done", "answers": {}, "justification": EVIL, "active_ms": 0,
            "started": "", "submitted": "", "revision": 1
        })
        .to_string()
    };
    let manifest = serde_json::json!({
        "format": "verdict-bundle/1", "bundle_id": EVIL, "rater": EVIL, "key_id": EVIL,
        "created": EVIL, "tool": EVIL,
        "batches": [{"id": EVIL, "schema_id": EVIL, "schema_sha256": EVIL,
                     "guidelines": {"id": EVIL, "version": EVIL}, "records": 7}],
        "record_count": 9
    });
    let bundle = s.write(
        "evil.jsonl",
        format!(
            "{manifest}\n{}\n{}\n",
            rec(&format!("i{EVIL}")),
            rec(&format!("i{EVIL}"))
        ),
    );
    s.write(
        "evil.jsonl.minisig",
        format!("untrusted comment: {EVIL}\nnot a signature{EVIL}\n"),
    );
    let out = s.run(&["verify", bundle.to_str().unwrap()]);
    assert!(!out.0);
    clean("verify", &out);
    assert!(out.2.contains("appears twice"), "{}", out.2);
}

/// Signs bytes with the sandbox's key, as a bundle's .minisig.
fn sign(s: &Sandbox, bytes: &[u8]) -> String {
    let sk = verdict::keys::secret(&s.config()).unwrap();
    let pk = minisign::PublicKey::from_secret_key(&sk).unwrap();
    minisign::sign(Some(&pk), &sk, std::io::Cursor::new(bytes), Some("c"), None)
        .unwrap()
        .to_string()
}

both_backends!(the_hub_commands_print_only_safe_text);
fn the_hub_commands_print_only_safe_text(backend: Backend) {
    let s = Sandbox::new();
    let target = HubTarget::new(backend, s.dir.path());
    let db = target.arg();
    s.ok(&["hub", "init", "--db", db]);
    let pk = s.ok(&["key", "show"]);
    let pk = pk.lines().last().unwrap().trim().to_string();
    s.ok(&["hub", "rater", "add", "alice", "--pubkey", &pk, "--db", db]);
    // A hostile rater name is refused at the door.
    let named = s.run(&[
        "hub",
        "rater",
        "add",
        &format!("eve{EVIL}"),
        "--pubkey",
        &pk,
        "--db",
        db,
    ]);
    assert!(!named.0);
    clean("rater add", &named);
    s.ok(&[
        "hub",
        "load",
        fixture("mixed.jsonl").to_str().unwrap(),
        "--db",
        db,
    ]);
    // A signed bundle whose records name hostile items: refused, the reasons printed safely.
    let manifest = serde_json::json!({
        "format": "verdict-bundle/1", "bundle_id": "0b0b0b0b-0000-4000-8000-000000000000",
        "rater": "alice", "key_id": verdict::keys::key_id(
            minisign::PublicKey::from_secret_key(&verdict::keys::secret(&s.config()).unwrap())
                .unwrap()
                .keynum()),
        "created": "2026-01-01T00:00:00Z", "tool": "verdict",
        "batches": [{"id": "fixture-mixed", "schema_id": "ai-safety-v1",
                     "schema_sha256": EVIL, "guidelines": {"id": "g", "version": "1"},
                     "records": 1}],
        "record_count": 1
    });
    let rec = serde_json::json!({
        "batch_id": "fixture-mixed", "item_id": format!("x{EVIL}"), "item_sha256": EVIL,
        "status": "done", "answers": {"harm": [EVIL]}, "justification": EVIL,
        "active_ms": 0, "started": "", "submitted": "", "revision": 1
    });
    let bytes = format!("{manifest}\n{rec}\n");
    let inbox = s.path("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("b.jsonl"), &bytes).unwrap();
    std::fs::write(inbox.join("b.jsonl.minisig"), sign(&s, bytes.as_bytes())).unwrap();
    let ingest = s.run(&["hub", "ingest", inbox.to_str().unwrap(), "--db", db]);
    assert!(!ingest.0);
    clean("hub ingest", &ingest);
    for args in [
        vec!["hub", "report", "--db", db],
        vec!["hub", "report", "--json", "--db", db],
        vec!["hub", "status", "--db", db],
    ] {
        let out = s.run(&args);
        assert!(out.0, "{args:?}: {}", out.2);
        clean(&format!("{args:?}"), &out);
    }
}

#[test]
fn the_workstation_shows_hostile_schema_text_as_placeholders_and_snippets_stay_clean() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use verdict::tui::action::{Action, Command};
    let s = Sandbox::new();
    s.ok(&["pull", hostile_batch(&s).to_str().unwrap()]);
    let mut app = s.workstation();
    let mut term = Terminal::new(TestBackend::new(160, 45)).unwrap();
    term.draw(|f| app.draw(f)).unwrap();
    let screen: String = term
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(terminal_unsafe(&screen).is_empty());
    // Schema labels are drawn with visible placeholders, not silently dropped.
    assert!(screen.contains("Harm␛]0;pwned␇"), "{screen}");
    assert!(screen.contains("None␛]0;pwned␇"), "{screen}");
    // A snippet cannot carry a bidi override (or an escape) into a justification.
    app.dispatch(Action::Run(Command::EditJustification));
    app.dispatch(Action::Run(Command::Snippet1));
    let text = app.state.editor.text().to_string();
    assert!(
        text.starts_with("snip") && text.ends_with("pet "),
        "{text:?}"
    );
    assert!(terminal_unsafe(&text).is_empty(), "{text:?}");
    app.dispatch(Action::Run(Command::LeaveEditor));
    let key = app.store.find_item("h1").unwrap();
    assert_eq!(app.store.annotation(key).unwrap().justification, text);
}

/// A one-shot HTTP server on loopback that answers any request with `body`.
fn hostile_hub(body: String) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let t = std::thread::spawn(move || {
        // Until this test's pull arrives: the port may be one another test's fake hub had
        // a moment ago, and that test's client may still call it (its `me`), so anything
        // but a pull is answered 404 and the next connection awaited.
        loop {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 65536];
            // Read the request head and body (small JSON); the answer does not depend on it.
            let n = conn.read(&mut buf).unwrap_or(0);
            if !buf[..n].starts_with(b"POST /v1/pull ") {
                let _ = write!(
                    conn,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                continue;
            }
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            break;
        }
    });
    (url, t)
}

#[test]
fn a_hub_cannot_make_a_pull_write_outside_the_data_dir() {
    for id in [
        "../../escaped",
        "/tmp/verdict-escaped-abs",
        "..",
        "ok/../../x",
    ] {
        let s = Sandbox::new();
        s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
        let before = s.dump();
        let body = serde_json::json!({
            "batches": [{"manifest": {"format": "verdict-batch/1", "batch_id": id},
                         "items": [{"id": "a", "prompt": "p", "responses": ["r"]}]}],
            "calibration": [], "lease_expires": "2026-12-01T00:00:00Z"
        })
        .to_string();
        let (url, hub) = hostile_hub(body);
        let out = s.run(&["pull", &url, "--token", "t"]);
        hub.join().unwrap();
        assert!(!out.0, "{id}: {}", out.1);
        clean("pull from a hostile hub", &out);
        assert!(out.2.contains("is not a batch id"), "{id}: {}", out.2);
        assert_eq!(s.dump(), before, "{id}: the cache changed");
        assert!(!s.dir.path().join("escaped.jsonl").exists());
        assert!(!std::path::Path::new("/tmp/verdict-escaped-abs.jsonl").exists());
        let incoming = s.data().join("incoming");
        let left: Vec<_> = std::fs::read_dir(&incoming)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{id}: left behind {left:?}");
    }
}

#[test]
fn a_refused_hub_batch_leaves_no_file_behind() {
    let s = Sandbox::new();
    let body = serde_json::json!({
        "batches": [{"manifest": {"format": "verdict-batch/1", "batch_id": "fine"},
                     "items": [{"id": "a", "prompt": "p"}]}],
        "calibration": [], "lease_expires": "2026-12-01T00:00:00Z"
    })
    .to_string();
    let (url, hub) = hostile_hub(body);
    let out = s.run(&["pull", &url, "--token", "t"]);
    hub.join().unwrap();
    assert!(!out.0);
    assert!(out.2.contains("responses"), "{}", out.2);
    let left: Vec<_> = std::fs::read_dir(s.data().join("incoming"))
        .unwrap()
        .flatten()
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn pull_fails(s: &Sandbox, name: &str, text: &str) -> String {
    s.ok(&["status"]);
    let f = s.write(name, text);
    let before = s.dump();
    let err = s.fails(&["pull", f.to_str().unwrap()]);
    assert_eq!(s.dump(), before, "{name}: the cache changed");
    err
}

#[test]
fn a_csv_quote_that_is_never_closed_or_closed_by_the_next_row_is_refused_at_its_line() {
    let s = Sandbox::new();
    let err = pull_fails(
        &s,
        "open.csv",
        "id,prompt,response\nq1,hello,fine\nq2,\"unterminated,fine\nq3,x,y\nq9,z,w\n",
    );
    assert!(
        err.contains("open.csv:3:") && err.contains("never closed"),
        "{err}"
    );
    let err = pull_fails(
        &s,
        "merged.csv",
        "id,prompt,response\r\nq1,hello,fine\r\nq2,\"oops,fine\r\nq3,\"x\",y\r\nq9,z,w\r\n",
    );
    assert!(
        err.contains("merged.csv:3:") && err.contains("closed on line 4"),
        "{err}"
    );
    // A multi-line quoted field is fine, and errors after it name the right line, with
    // LF or CRLF line ends.
    for (name, nl) in [("lf.csv", "\n"), ("crlf.csv", "\r\n")] {
        let text = [
            "id,prompt,response",
            "q1,hello,fine",
            "q2,\"two",
            "lines\",ok",
            "q3,,y",
            "",
        ]
        .join(nl);
        let err = pull_fails(&s, name, &text);
        assert!(err.contains(&format!("{name}:5:")), "{err}");
    }
    // And good quoting still reads.
    let good = s.write(
        "good.csv",
        "id,prompt,response\r\nq1,\"a \"\"quoted\"\" word, and a comma\",fine\r\n",
    );
    s.ok(&["pull", good.to_str().unwrap()]);
}

#[test]
fn jsonl_the_reader_refuses_rather_than_guesses() {
    let s = Sandbox::new();
    let m = "{\"manifest\": {\"batch_id\": \"strict\"}}\n";
    let cases: &[(&str, String, &str)] = &[
        (
            "dup.jsonl",
            format!("{m}{{\"id\": \"x\", \"id\": \"y\", \"prompt\": \"p\", \"responses\": [\"r\"]}}\n"),
            "the key \"id\" appears twice",
        ),
        (
            "nested.jsonl",
            format!("{m}{{\"id\": \"x\", \"prompt\": \"p\", \"responses\": [{{\"text\": \"a\", \"text\": \"b\"}}]}}\n"),
            "the key \"text\" appears twice",
        ),
        (
            "manifest-item.jsonl",
            "{\"manifest\": {\"batch_id\": \"strict\"}, \"id\": \"x\", \"prompt\": \"p\", \"responses\": [\"r\"]}\n".into(),
            "the manifest line also holds 'id', 'prompt', 'responses'",
        ),
        (
            "bignum.jsonl",
            format!("{m}{{\"id\": 123456789012345678901234567890, \"prompt\": \"p\", \"responses\": [\"r\"]}}\n"),
            "its digits cannot be kept as written",
        ),
        (
            "zwsp.jsonl",
            format!("{m}{{\"id\": \"a\\u200bb\", \"prompt\": \"p\", \"responses\": [\"r\"]}}\n"),
            "U+200B at character 2",
        ),
        (
            "bidi.jsonl",
            format!("{m}{{\"id\": \"ab\\u202e\", \"prompt\": \"p\", \"responses\": [\"r\"]}}\n"),
            "U+202E",
        ),
        (
            "braille.jsonl",
            format!("{m}{{\"id\": \"a\\u2800\", \"prompt\": \"p\", \"responses\": [\"r\"]}}\n"),
            "U+2800",
        ),
        (
            "combining.jsonl",
            format!("{m}{{\"id\": \"\\u0301\", \"prompt\": \"p\", \"responses\": [\"r\"]}}\n"),
            "starts with a combining mark",
        ),
        (
            "space.jsonl",
            format!("{m}{{\"id\": \"x \", \"prompt\": \"p\", \"responses\": [\"r\"]}}\n"),
            "white space",
        ),
        (
            "dotdot.jsonl",
            "{\"manifest\": {\"batch_id\": \"..\"}}\n{\"id\": \"x\", \"prompt\": \"p\", \"responses\": [\"r\"]}\n".into(),
            "manifest.batch_id",
        ),
    ];
    for (name, text, want) in cases {
        let err = pull_fails(&s, name, text);
        assert!(err.contains(want), "{name}: {err}");
        assert!(
            err.contains(&format!("{name}:")),
            "{name}: no file:line in {err}"
        );
    }
    // Whole-number ids keep every digit.
    let ok = s.write(
        "ints.jsonl",
        "{\"id\": 18446744073709551615, \"prompt\": \"p\", \"responses\": [\"r\"]}\n{\"id\": -9223372036854775808, \"prompt\": \"q\", \"responses\": [\"r\"]}\n",
    );
    s.ok(&["pull", ok.to_str().unwrap()]);
    s.ok(&["label", "18446744073709551615", "--preset", "safe"]);
    s.ok(&["label", "--preset", "safe", "--", "-9223372036854775808"]);
}

#[test]
fn a_hundred_thousand_unknown_fields_make_one_short_warning() {
    let s = Sandbox::new();
    let mut item = String::from("{\"id\": \"wide\", \"prompt\": \"p\", \"responses\": [\"r\"]");
    for i in 0..100_000 {
        item.push_str(&format!(", \"field_{i}\": {i}"));
    }
    item.push_str("}\n");
    let f = s.write("wide.jsonl", item);
    let (ok, _, err) = s.run(&["pull", f.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(err.len() < 2000, "{} bytes of warnings", err.len());
    assert!(err.contains("and 99990 more"), "{err}");
}

#[test]
fn every_item_can_be_named_even_one_whose_id_holds_a_slash() {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    // Batch "b" has an item "x", and batch "other" an item whose id is literally "b/x".
    s.write("b.jsonl", "{\"manifest\": {\"batch_id\": \"b\"}}\n{\"id\": \"x\", \"prompt\": \"p\", \"responses\": [\"r\"]}\n");
    s.write(
        "other.jsonl",
        "{\"manifest\": {\"batch_id\": \"other\"}}\n{\"id\": \"b/x\", \"prompt\": \"p\", \"responses\": [\"r\"]}\n",
    );
    s.ok(&["pull", s.path("b.jsonl").to_str().unwrap()]);
    s.ok(&["pull", s.path("other.jsonl").to_str().unwrap()]);
    let err = s.fails(&["label", "b/x", "--preset", "safe"]);
    assert!(
        err.contains("--batch 'b' 'x'") && err.contains("--batch 'other' 'b/x'"),
        "{err}"
    );
    assert!(
        s.ok(&[
            "label", "--batch", "other", "b/x", "--preset", "safe", "--submit"
        ])
        .contains("other/b/x: done")
    );
    assert!(
        s.ok(&["label", "--batch", "b", "x", "--preset", "safe"])
            .contains("b/x: draft")
    );
    let log = s.ok(&["log", "--batch", "other", "b/x"]);
    assert!(log.contains("other/b/x") && !log.contains(" b/x "), "{log}");
    // The fixture's own ids still work bare and as BATCH/ITEM.
    s.ok(&["label", "single", "--preset", "safe"]);
    s.ok(&["label", "fixture-mixed/single", "--preset", "safe"]);
}

#[test]
fn a_skip_exports_no_answers_and_no_justification() {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    s.ok(&[
        "label",
        "single",
        "-a",
        "harm=vcr",
        "-j",
        "half-written thought before the skip",
    ]);
    s.ok(&["label", "single", "--skip", "not my language"]);
    let text = s.export_records(1);
    let rec: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(rec["status"], "skipped");
    assert_eq!(rec["skip_reason"], "not my language");
    assert_eq!(rec["answers"], serde_json::json!({}));
    assert_eq!(rec["justification"], "");
    // The draft answers are still in the cache, should the rater take the item back up.
    let key_answers = s.ok(&["log", "single", "--json"]);
    assert!(key_answers.contains("vcr"));
}

#[cfg(unix)]
#[test]
fn files_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let s = Sandbox::new();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // Every verdict process here runs with umask 000.
    let run = |args: &[&str]| {
        let bin = assert_cmd::cargo::cargo_bin("verdict");
        let mut quoted = String::new();
        for a in args {
            quoted.push_str(&format!(" '{a}'"));
        }
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("umask 000; exec '{}'{quoted}", bin.display()))
            .env("VERDICT_DATA_DIR", s.data())
            .env("VERDICT_CONFIG_DIR", s.config())
            .env("VERDICT_RATER", "test-rater")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    run(&["label", "single", "--preset", "safe", "--submit"]);
    run(&["export"]);
    let data = s.data();
    assert_eq!(mode(&data), 0o700);
    for f in [
        "cache.sqlite3",
        "cache.sqlite3-wal",
        "cache.sqlite3-shm",
        "export.lock",
    ] {
        let p = data.join(f);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{f}");
        }
    }
    let outbox = data.join("outbox");
    assert_eq!(mode(&outbox), 0o700);
    for e in std::fs::read_dir(&outbox).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    let db = s.path("hub.sqlite3");
    run(&["hub", "init", "--db", db.to_str().unwrap()]);
    let out = s.path("merged.jsonl");
    run(&[
        "hub",
        "export",
        "--db",
        db.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&out), 0o600);
    // A cache an older verdict left readable by others is tightened when opened.
    std::fs::set_permissions(
        data.join("cache.sqlite3"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    run(&["status"]);
    assert_eq!(mode(&data.join("cache.sqlite3")), 0o600);
    assert_eq!(mode(&data), 0o700);
}

#[test]
fn a_newline_in_a_bundle_id_cannot_forge_a_line_of_verify_output() {
    let s = Sandbox::new();
    s.ok(&["key", "show"]);
    let forged = "b1\n\nSignature and trusted comment OK (key 0)\nAll good:";
    let rec = serde_json::json!({
        "batch_id": "b", "item_id": forged, "item_sha256": "x", "status": "done",
        "answers": {}, "justification": "", "active_ms": 0, "started": "", "submitted": "",
        "revision": 1
    })
    .to_string();
    let manifest = serde_json::json!({
        "format": "verdict-bundle/1", "bundle_id": "x", "rater": "r", "key_id": "k",
        "created": "", "tool": "", "batches": [{"id": "b", "schema_id": "s",
        "schema_sha256": "h", "guidelines": {"id": "g", "version": "1"}, "records": 2}],
        "record_count": 2
    });
    let bundle = s.write("forged.jsonl", format!("{manifest}\n{rec}\n{rec}\n"));
    let (ok, out, err) = s.run(&["verify", bundle.to_str().unwrap()]);
    assert!(!ok);
    for line in out.lines().chain(err.lines()) {
        assert!(
            !line.starts_with("Signature and trusted comment OK") && !line.starts_with("All good"),
            "a forged line: {line:?}\n{err}"
        );
    }
    assert!(err.contains("b1␊␊Signature"), "{err}");
}

#[test]
fn a_file_named_in_any_script_gets_a_batch_id_a_hub_can_hand_out() {
    let s = Sandbox::new();
    let f = s.write(
        "ärger über — 日本.jsonl",
        "{\"id\": \"a\", \"prompt\": \"p\", \"responses\": [\"r\"]}\n",
    );
    let out = s.ok(&["pull", f.to_str().unwrap()]);
    let id = out
        .split("pulled batch ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .unwrap();
    assert!(verdict::batch::valid_batch_id(id), "{id}");
    assert!(id.starts_with("rger_"), "{id}");
    // A hub that sends one bad batch among good ones: the good ones still come in.
    let body = serde_json::json!({
        "batches": [
            {"manifest": {"format": "verdict-batch/1", "batch_id": "../bad"},
             "items": [{"id": "a", "prompt": "p", "responses": ["r"]}]},
            {"manifest": {"format": "verdict-batch/1", "batch_id": "good"},
             "items": [{"id": "a", "prompt": "p", "responses": ["r"]}]}
        ],
        "calibration": [], "lease_expires": "2026-12-01T00:00:00Z"
    })
    .to_string();
    let (url, hub) = hostile_hub(body);
    let (ok, out, err) = s.run(&["pull", &url, "--token", "t"]);
    hub.join().unwrap();
    assert!(!ok);
    assert!(out.contains("batch good: 1 new item,"), "{out}");
    assert!(err.contains("'../bad', which is not a batch id"), "{err}");
    assert!(s.batch_status("good").is_some());
}

/// What a hub sends a reviewer (rater names, justifications, notes, reasons) is drawn as
/// placeholders in the review pane, never as terminal control.
#[test]
fn the_review_pane_shows_hostile_text_as_placeholders() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let s = Sandbox::new();
    let evil = "\u{1b}]52;c;aGk=\u{7}\u{1b}[31m\u{202e}evil";
    let review = serde_json::json!({
        "reasons": [format!("disagreement {evil}")],
        "raters": [
            {"rater": format!("ann{evil}"), "status": "done",
             "answers": {"harm": ["none"], "severity": "0"}, "justification": format!("fine {evil}"),
             "escalation": {"reason": "edge_case", "note": format!("note {evil}")}},
            {"rater": "bob", "status": "skipped", "answers": {}, "justification": "",
             "skip_reason": format!("skip {evil}")}
        ]
    });
    let batch = s.write(
        "rv.jsonl",
        format!(
            "{}\n{}\n",
            serde_json::json!({"manifest": {"batch_id": "rv"}}),
            serde_json::json!({"id": "x1", "prompt": "p", "responses": ["r"], "review": review})
        ),
    );
    s.ok(&["pull", batch.to_str().unwrap()]);
    let mut app = s.workstation();
    let mut term = Terminal::new(TestBackend::new(160, 45)).unwrap();
    term.draw(|f| app.draw(f)).unwrap();
    let screen: String = term
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(terminal_unsafe(&screen).is_empty());
    assert!(screen.contains("Final answers (review)"), "{screen}");
    assert!(screen.contains("ann␛]52;c;aGk=␇"), "{screen}");
}
