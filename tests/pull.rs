//! `verdict pull` on valid and invalid batches, through the real binary.
#![allow(clippy::unwrap_used, clippy::disallowed_macros)]

mod common;
use common::{Sandbox, fixture};

#[test]
fn a_batch_with_a_manifest_pulls_every_item_shape() {
    let s = Sandbox::new();
    let out = s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    assert!(
        out.contains("pulled batch fixture-mixed: 6 new items"),
        "{out}"
    );
    let b = s.batch_status("fixture-mixed").unwrap();
    assert_eq!(b["items"], 6);
    assert_eq!(b["todo"], 6);
    assert_eq!(b["schema"], "ai-safety-v1");

    let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
    let pairwise: i64 = c
        .query_row(
            "SELECT pairwise FROM items WHERE item_id = 'pair'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pairwise, 1);
    let content: String = c
        .query_row(
            "SELECT content FROM items WHERE item_id = 'multi'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        content.contains(r#"{"content":"You are helpful.","role":"system"}"#),
        "{content}"
    );
    let extras: String = c
        .query_row(
            "SELECT extras FROM items WHERE item_id = 'warned'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let extras: serde_json::Value = serde_json::from_str(&extras).unwrap();
    assert_eq!(extras["content_warning"], "Graphic injury");
    assert_eq!(extras["metadata"]["unknown_fields"]["colour"], "blue");
    let sugg: String = c
        .query_row(
            "SELECT extras FROM items WHERE item_id = 'suggested'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let sugg: serde_json::Value = serde_json::from_str(&sugg).unwrap();
    assert_eq!(sugg["suggestions"]["behaviour"]["value"], "full_refusal");
    assert_eq!(sugg["suggestions"]["behaviour"]["agent"], "classifier-x");
    // A numeric id is kept as its text.
    let n: i64 = c
        .query_row("SELECT count(*) FROM items WHERE item_id = '42'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn unknown_fields_are_kept_with_a_warning() {
    let s = Sandbox::new();
    let (ok, _, err) = s.run(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    assert!(ok);
    assert!(
        err.contains("mixed.jsonl:6: unknown field(s) 'colour' kept in metadata.unknown_fields"),
        "{err}"
    );
}

#[test]
fn pulling_the_same_batch_twice_changes_nothing() {
    let s = Sandbox::new();
    let f = fixture("mixed.jsonl");
    s.ok(&["pull", f.to_str().unwrap()]);
    let before = s.dump();
    let out = s.ok(&["pull", f.to_str().unwrap()]);
    assert!(
        out.contains("already in the cache; nothing new (6 items unchanged)"),
        "{out}"
    );
    assert_eq!(s.dump(), before);
}

#[test]
fn bare_files_get_a_content_derived_batch_id_and_pull_twice_as_a_no_op() {
    let s = Sandbox::new();
    for name in ["bare.jsonl", "plain.csv"] {
        let f = fixture(name);
        let args: Vec<&str> = if name.ends_with(".csv") {
            vec![
                "pull",
                f.to_str().unwrap(),
                "--map",
                "prompt=question,response=completion,id=qid",
            ]
        } else {
            vec!["pull", f.to_str().unwrap()]
        };
        let first = s.ok(&args);
        let before = s.dump();
        let second = s.ok(&args);
        assert!(second.contains("nothing new"), "{second}");
        assert_eq!(s.dump(), before);
        let stem = name.split('.').next().unwrap();
        let id = first
            .split("pulled batch ")
            .nth(1)
            .unwrap()
            .split(':')
            .next()
            .unwrap();
        assert!(
            id.starts_with(&format!("{stem}-")) && id.len() == stem.len() + 13,
            "{id}"
        );
    }
    // Same bytes under another mapping is another batch.
    let f = fixture("plain.csv");
    let out = s.ok(&[
        "pull",
        f.to_str().unwrap(),
        "--map",
        "prompt=question,response=completion",
    ]);
    assert!(out.contains("3 new items"), "{out}");
}

#[test]
fn csv_columns_map_to_fields_and_the_rest_goes_to_metadata() {
    let s = Sandbox::new();
    let f = fixture("plain.csv");
    s.ok(&[
        "pull",
        f.to_str().unwrap(),
        "--map",
        "prompt=question,response=completion,id=qid",
    ]);
    let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
    let (content, extras): (String, String) = c
        .query_row(
            "SELECT content, extras FROM items WHERE item_id = 'q3'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        content,
        r#"{"conversation":[{"content":"Multi-line, quoted \"prompt\"\nsecond line","role":"user"}],"responses":[{"text":"résumé 🙂"}]}"#
    );
    assert_eq!(extras, r#"{"metadata":{"lang":"fr"}}"#);
}

#[test]
fn a_bad_mapping_names_the_columns() {
    let s = Sandbox::new();
    let f = fixture("plain.csv");
    let err = s.fails(&[
        "pull",
        f.to_str().unwrap(),
        "--map",
        "prompt=prompt_text,response=completion",
    ]);
    assert!(
        err.contains(
            "there is no column 'prompt_text'; the columns are: question, completion, qid, lang"
        ),
        "{err}"
    );
    let err = s.fails(&["pull", f.to_str().unwrap(), "--map", "answer=completion"]);
    assert!(err.contains("'answer' is not an item field"), "{err}");
    let err = s.fails(&["pull", f.to_str().unwrap()]);
    assert!(
        err.contains("no column for 'prompt': map one with --map prompt=COLUMN"),
        "{err}"
    );
}

/// Pulls `content` as a batch file and expects failure with every `needles` in the message,
/// and the cache exactly as it was.
fn refused(name: &str, content: &[u8], needles: &[&str]) {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    let before = s.dump();
    let f = s.write(name, content);
    let err = s.fails(&["pull", f.to_str().unwrap()]);
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in:\n{err}");
    }
    assert_eq!(s.dump(), before, "the cache changed after a refused pull");
}

#[test]
fn a_malformed_line_names_file_line_and_field_and_imports_nothing() {
    let good = r#"{"id": "a", "prompt": "p", "responses": [{"text": "r"}]}"#;
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("{good}\n{{\"id\": \"b\", \"prompt\": \"p\"}}\n"),
            vec!["bad.jsonl:2: field 'responses': missing"],
        ),
        (
            format!("{good}\n{{\"id\": \"b\", \"responses\": [\"r\"]}}\n"),
            vec!["bad.jsonl:2: field 'prompt': missing"],
        ),
        (
            format!("{good}\n{{\"prompt\": \"p\", \"responses\": [\"r\"]}}\n"),
            vec!["bad.jsonl:2: field 'id': missing"],
        ),
        (
            format!(
                "{good}\n{{\"id\": \"b\", \"prompt\": \"p\", \"responses\": [{{\"text\": 3}}]}}\n"
            ),
            vec!["bad.jsonl:2: field 'responses[0].text': must be a string"],
        ),
        (
            format!(
                "{good}\n{{\"id\": \"b\", \"prompt\": \"p\", \"responses\": [\"1\", \"2\", \"3\"]}}\n"
            ),
            vec!["field 'responses': must hold one response"],
        ),
        (
            format!(
                "{good}\n{{\"id\": \"b\", \"messages\": [{{\"role\": \"robot\", \"content\": \"x\"}}], \"responses\": [\"r\"]}}\n"
            ),
            vec!["bad.jsonl:2: field 'messages[0].role': must be one of system, user, assistant"],
        ),
        (
            format!(
                "{good}\n{{\"id\": \"b\", \"prompt\": \"p\", \"responses\": [\"r\"], \"suggestions\": {{\"harm\": {{\"value\": [\"nope\"]}}}}}}\n"
            ),
            vec!["field 'suggestions.harm.value': question 'harm' has no option 'nope'"],
        ),
        (
            format!("{good}\n{{\"id\": \"b\", \"prompt\": \"p\", \"responses\": [\"r\"]\n"),
            vec!["bad.jsonl:2: not valid JSON"],
        ),
        (
            format!("{good}\n{good}\n"),
            vec!["bad.jsonl:2: field 'id': duplicate id 'a': line 1 has it too"],
        ),
        (
            format!("{good}\n{{\"manifest\": {{\"batch_id\": \"x\"}}}}\n"),
            vec!["bad.jsonl:2: field 'manifest': a manifest may only be the first line"],
        ),
    ];
    for (content, needles) in cases {
        let mut all = needles.clone();
        all.push("Nothing of this batch was imported");
        refused("bad.jsonl", content.as_bytes(), &all);
    }
}

#[test]
fn empty_files_and_manifest_only_files_are_refused() {
    refused("empty.jsonl", b"", &["empty.jsonl: the file is empty"]);
    refused("empty.csv", b"", &["empty.csv: the file is empty"]);
    refused("blank.jsonl", b"\n\n", &["blank.jsonl: no items"]);
    refused(
        "only.jsonl",
        b"{\"manifest\": {\"batch_id\": \"only\"}}\n",
        &["only.jsonl: no items"],
    );
    refused(
        "header.csv",
        b"prompt,response\n",
        &["header.csv: no items"],
    );
}

#[test]
fn invalid_utf8_is_refused_with_line_and_byte() {
    let mut bytes = br#"{"id": "a", "prompt": "p", "responses": ["r"]}"#.to_vec();
    bytes
        .extend_from_slice(b"\n{\"id\": \"b\", \"prompt\": \"caf\xE9\", \"responses\": [\"r\"]}\n");
    refused(
        "latin1.jsonl",
        &bytes,
        &["latin1.jsonl:2: invalid UTF-8 at byte 27 of the line"],
    );
    let csv = b"prompt,response\nok,fine\ncaf\xE9,x\n";
    refused(
        "latin1.csv",
        csv,
        &["latin1.csv:3: field 'prompt': invalid UTF-8 at byte 4 of this field"],
    );
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let s = Sandbox::new();
    let jsonl = s.write(
        "bom.jsonl",
        b"\xEF\xBB\xBF{\"manifest\": {\"batch_id\": \"bom\"}}\n{\"id\": \"a\", \"prompt\": \"p\", \"responses\": [\"r\"]}\n",
    );
    assert!(
        s.ok(&["pull", jsonl.to_str().unwrap()])
            .contains("pulled batch bom: 1 new item")
    );
    let csv = s.write("bom.csv", b"\xEF\xBB\xBFid,prompt,response\nx1,p,r\n");
    assert!(
        s.ok(&["pull", csv.to_str().unwrap()])
            .contains("1 new item")
    );
    let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM items WHERE item_id = 'x1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 1, "the BOM must not end up in the first column's name");
}

#[test]
fn a_10_mb_response_is_refused_by_default_and_accepted_when_the_limit_is_raised() {
    let big = "x".repeat(10 * 1024 * 1024);
    let content = format!(
        "{{\"id\": \"small\", \"prompt\": \"p\", \"responses\": [\"r\"]}}\n{{\"id\": \"big\", \"prompt\": \"p\", \"responses\": [{{\"text\": \"{big}\"}}]}}\n"
    );
    refused(
        "big.jsonl",
        content.as_bytes(),
        &[
            "big.jsonl:2: field 'responses[0].text': 10485760 bytes is over the limit of 4194304 bytes",
            "--max-field-bytes",
        ],
    );
    let s = Sandbox::new();
    let f = s.write("big.jsonl", content);
    let out = s.ok(&["pull", f.to_str().unwrap(), "--max-field-bytes", "20000000"]);
    assert!(out.contains("2 new items"), "{out}");
}

#[test]
fn a_changed_item_is_refused_and_the_cached_one_kept() {
    let s = Sandbox::new();
    let v1 = s.write(
        "v1.jsonl",
        "{\"manifest\": {\"batch_id\": \"evolving\"}}\n{\"id\": \"a\", \"prompt\": \"p\", \"responses\": [\"first\"]}\n",
    );
    s.ok(&["pull", v1.to_str().unwrap()]);
    let before = s.dump();
    let v2 = s.write(
        "v2.jsonl",
        "{\"manifest\": {\"batch_id\": \"evolving\"}}\n{\"id\": \"new\", \"prompt\": \"p\", \"responses\": [\"x\"]}\n{\"id\": \"a\", \"prompt\": \"p\", \"responses\": [\"second\"]}\n",
    );
    let err = s.fails(&["pull", v2.to_str().unwrap()]);
    assert!(
        err.contains("v2.jsonl:3: item 'a' of batch 'evolving' changed since it was pulled"),
        "{err}"
    );
    assert!(err.contains("never overwrites"), "{err}");
    assert_eq!(
        s.dump(),
        before,
        "neither the change nor the new item may land"
    );
    // New items alone are added to an existing batch.
    let v3 = s.write(
        "v3.jsonl",
        "{\"manifest\": {\"batch_id\": \"evolving\"}}\n{\"id\": \"a\", \"prompt\": \"p\", \"responses\": [\"first\"]}\n{\"id\": \"new\", \"prompt\": \"p\", \"responses\": [\"x\"]}\n",
    );
    let out = s.ok(&["pull", v3.to_str().unwrap()]);
    assert!(out.contains("1 new item, 1 already cached"), "{out}");
}

#[test]
fn a_batch_cannot_change_its_schema() {
    let s = Sandbox::new();
    let a = s.write("a.jsonl", "{\"manifest\": {\"batch_id\": \"b\"}}\n{\"id\": \"a\", \"prompt\": \"p\", \"responses\": [\"r\"]}\n");
    s.ok(&["pull", a.to_str().unwrap()]);
    let b = s.write(
        "b.jsonl",
        "{\"manifest\": {\"batch_id\": \"b\", \"schema\": \"llama-guard-3\"}}\n{\"id\": \"a\", \"prompt\": \"p\", \"responses\": [\"r\"]}\n",
    );
    let err = s.fails(&["pull", b.to_str().unwrap()]);
    assert!(
        err.contains("batch 'b' was pulled with schema ai-safety-v1"),
        "{err}"
    );
}

#[test]
fn a_schema_naming_undefined_options_is_refused() {
    let inline = r#"{"manifest": {"batch_id": "s", "schema": {"id": "mine", "version": "1", "title": "t", "question": [{"id": "q", "label": "Q", "kind": "single", "options": [{"value": "a", "label": "A"}]}], "justification": {"min_length": 5, "required_when": [{"question": "q", "any_of": ["zzz"]}]}}}}
{"id": "a", "prompt": "p", "responses": ["r"]}
"#;
    refused(
        "schema.jsonl",
        inline.as_bytes(),
        &[
            "schema.jsonl:1: field 'manifest.schema'",
            "justification.required_when[0]: names undefined option 'zzz' of question 'q'",
        ],
    );
    let unknown = "{\"manifest\": {\"batch_id\": \"s\", \"schema\": \"no-such-schema\"}}\n{\"id\": \"a\", \"prompt\": \"p\", \"responses\": [\"r\"]}\n";
    refused(
        "unknown.jsonl",
        unknown.as_bytes(),
        &[
            "unknown schema id 'no-such-schema'",
            "ai-safety-v1, llama-guard-3",
        ],
    );
    // A schema file given on the command line is checked the same way.
    let s = Sandbox::new();
    let bad = s.write(
        "bad.toml",
        "id = \"x\"\nversion = \"1\"\ntitle = \"x\"\n[[question]]\nid = \"q\"\nlabel = \"Q\"\nkind = \"multi\"\nexclusive = [\"none\"]\noptions = [{ value = \"a\", label = \"A\" }]\n",
    );
    let err = s.fails(&[
        "pull",
        fixture("bare.jsonl").to_str().unwrap(),
        "--schema",
        bad.to_str().unwrap(),
    ]);
    assert!(
        err.contains("bad.toml: question[q].exclusive: names undefined option 'none'"),
        "{err}"
    );
}

#[test]
fn a_batch_may_ship_another_schema_and_suggestions_follow_it() {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("llama-guard.jsonl").to_str().unwrap()]);
    assert_eq!(
        s.batch_status("fixture-llama-guard").unwrap()["schema"],
        "llama-guard-3"
    );
    s.ok(&["label", "lg2", "--preset", "safe", "--submit"]);
    let err = s.fails(&["label", "lg1", "-a", "harm=none"]);
    assert!(
        err.contains("schema llama-guard-3 has no question 'harm'"),
        "{err}"
    );
    s.ok(&[
        "label",
        "lg1",
        "-a",
        "safety=unsafe",
        "-a",
        "category=S9",
        "-j",
        "Gives bomb-making steps; enables mass harm.",
        "--submit",
    ]);
    let b = s.batch_status("fixture-llama-guard").unwrap();
    assert_eq!(b["done"], 2);
}

#[test]
fn a_folder_pulls_each_file_as_its_own_batch() {
    let s = Sandbox::new();
    let dir = s.path("batches");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(fixture("mixed.jsonl"), dir.join("1.jsonl")).unwrap();
    std::fs::copy(fixture("bare.jsonl"), dir.join("2.jsonl")).unwrap();
    std::fs::write(dir.join("3.jsonl"), b"{\"id\": \"x\"}\n").unwrap();
    std::fs::write(dir.join("notes.txt"), b"ignored").unwrap();
    let (ok, out, err) = s.run(&["pull", dir.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("fixture-mixed: 6 new items"), "{out}");
    assert!(out.contains("pulled batch 2-"), "{out}");
    assert!(err.contains("3.jsonl:1: field 'prompt': missing"), "{err}");
    assert!(err.contains("1 of 3 files were not pulled"), "{err}");
    assert_eq!(s.status()["batches"].as_array().unwrap().len(), 2);
}

#[test]
fn a_cache_from_a_newer_verdict_is_refused_and_untouched() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.data()).unwrap();
    let path = s.data().join("cache.sqlite3");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE t(x); PRAGMA user_version = 1000;")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = s.fails(&["pull", fixture("bare.jsonl").to_str().unwrap()]);
    assert!(
        err.contains("was written by a newer verdict (cache version 1000"),
        "{err}"
    );
    let err = s.fails(&["status"]);
    assert!(err.contains("newer verdict"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// Runs `body` with a small tmpfs mounted at `<sandbox>/mnt` (root only, as in CI), and
/// always unmounts it. Skips, saying so, where mounting is not allowed.
fn with_tmpfs(s: &Sandbox, opts: &str, body: impl FnOnce(&std::path::Path)) {
    let mnt = s.path("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|st| st.success());
    if !mounted {
        eprintln!("SKIPPED: cannot mount tmpfs here (needs root, as in CI)");
        return;
    }
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&mnt)));
    let _ = std::process::Command::new("umount").arg(&mnt).status();
    r.unwrap();
}

/// `verdict pull FILE` with the data directory at `data`.
fn pull_into(s: &Sandbox, data: &std::path::Path, file: &std::path::Path) -> (bool, String) {
    let out = s
        .cmd()
        .env("VERDICT_DATA_DIR", data)
        .args(["pull", file.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_read_only_data_directory_gets_a_clear_error_and_stays_as_it_was() {
    let s = Sandbox::new();
    with_tmpfs(&s, "size=16m", |mnt| {
        let data = mnt.join("data");
        assert!(pull_into(&s, &data, &fixture("bare.jsonl")).0);
        let remount = std::process::Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(mnt)
            .status()
            .unwrap();
        assert!(remount.success());
        let before = std::fs::read(data.join("cache.sqlite3")).unwrap();
        let (ok, err) = pull_into(&s, &data, &fixture("mixed.jsonl"));
        assert!(!ok);
        assert!(
            err.contains("it cannot be written (Read-only file system"),
            "{err}"
        );
        assert!(
            err.contains("--data-dir"),
            "the message says what to do: {err}"
        );
        assert_eq!(std::fs::read(data.join("cache.sqlite3")).unwrap(), before);
    });
}

#[test]
fn a_full_disk_gets_a_clear_error_and_keeps_the_earlier_batches() {
    let s = Sandbox::new();
    with_tmpfs(&s, "size=2m", |mnt| {
        let data = mnt.join("data");
        assert!(pull_into(&s, &data, &fixture("mixed.jsonl")).0);
        // 3 MB of items cannot fit in what is left of 2 MB.
        let mut big = String::from("{\"manifest\": {\"batch_id\": \"too-big\"}}\n");
        for i in 0..300 {
            big.push_str(&format!(
                "{{\"id\": \"i{i}\", \"prompt\": \"p\", \"responses\": [\"{}\"]}}\n",
                "y".repeat(10_000)
            ));
        }
        let (ok, err) = pull_into(&s, &data, &s.write("big.jsonl", big));
        assert!(!ok);
        assert!(err.contains("is full"), "{err}");
        assert!(err.contains("Free some space"), "{err}");
        let st = s
            .cmd()
            .env("VERDICT_DATA_DIR", &data)
            .args(["status", "--json"])
            .output()
            .unwrap();
        let st: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
        let batches: Vec<&str> = st["batches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["batch"].as_str().unwrap())
            .collect();
        assert_eq!(batches, vec!["fixture-mixed"]);
    });
}
