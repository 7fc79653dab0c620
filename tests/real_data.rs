//! Batches built from the real public data in ../shared/data pull, as JSONL and as CSV.
#![allow(clippy::unwrap_used)]

mod common;
use common::{Sandbox, fixture, shared_data};
use std::io::BufRead;

#[test]
fn the_xstest_csv_pulls_straight_with_a_column_map() {
    let s = Sandbox::new();
    let csv = shared_data("xstest/xstest_v2_completions_all_long.csv");
    // XSTest's id is per prompt (each prompt has five models' completions), so the item id
    // joins it with the model column.
    let map = "id=id+model,prompt=prompt,response=completion,model=model";
    let out = s.ok(&["pull", csv.to_str().unwrap(), "--map", map]);
    assert!(out.contains("2250 new items"), "{out}");
    let again = s.ok(&["pull", csv.to_str().unwrap(), "--map", map]);
    assert!(
        again.contains("nothing new (2250 items unchanged)"),
        "{again}"
    );
    let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
    let extras: String = c
        .query_row(
            "SELECT extras FROM items WHERE item_id = 'v2-1:gpt4'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let extras: serde_json::Value = serde_json::from_str(&extras).unwrap();
    assert_eq!(extras["metadata"]["final_label"], "1_full_compliance");
    assert_eq!(extras["metadata"]["prompt_label"], "safe");
    // The human over-refusal labels survive as metadata: 295 refusals of safe prompts.
    let over: i64 = c
        .query_row(
            "SELECT count(*) FROM items WHERE json_extract(extras, '$.metadata.prompt_label') = 'safe'
             AND json_extract(extras, '$.metadata.final_label') <> '1_full_compliance'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(over, 295);
    // Without a unique id the duplicate is named.
    let err = s.fails(&[
        "pull",
        csv.to_str().unwrap(),
        "--map",
        "id=id,prompt=prompt,response=completion",
    ]);
    assert!(err.contains("duplicate id 'v2-1'"), "{err}");
}

/// Splits an HH-RLHF transcript into (role, text) turns.
fn turns(t: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for chunk in t.split("\n\nHuman: ").skip(1) {
        let mut parts = chunk.split("\n\nAssistant: ");
        out.push(("user", parts.next().unwrap().trim().to_string()));
        for a in parts {
            out.push(("assistant", a.trim().to_string()));
        }
    }
    out
}

#[test]
fn hh_rlhf_pairs_pull_as_multi_turn_pairwise_jsonl() {
    let s = Sandbox::new();
    let gz = std::fs::File::open(shared_data("hh-rlhf-harmless-base/test.jsonl.gz")).unwrap();
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(gz));
    let mut batch = String::from(
        "{\"manifest\": {\"format\": \"verdict-batch/1\", \"batch_id\": \"hh-rlhf-harmless-test\", \"schema\": \"ai-safety-v1\"}}\n",
    );
    let mut n = 0;
    for (i, line) in reader.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let chosen = turns(v["chosen"].as_str().unwrap());
        let rejected = turns(v["rejected"].as_str().unwrap());
        if chosen.len() < 2 || chosen[..chosen.len() - 1] != rejected[..rejected.len().max(1) - 1] {
            continue; // the five pairs that differ before the last turn
        }
        let messages: Vec<serde_json::Value> = chosen[..chosen.len() - 1]
            .iter()
            .map(|(r, c)| serde_json::json!({"role": r, "content": c}))
            .collect();
        let item = serde_json::json!({
            "id": format!("hh-{}", i + 1),
            "messages": messages,
            "responses": [{"text": chosen.last().unwrap().1}, {"text": rejected.last().unwrap().1}],
            "metadata": {"source": "Anthropic HH-RLHF harmless-base test (MIT)"},
        });
        batch.push_str(&item.to_string());
        batch.push('\n');
        n += 1;
    }
    assert!(n > 2300, "{n}");
    let f = s.write("hh.jsonl", batch);
    let out = s.ok(&["pull", f.to_str().unwrap()]);
    assert!(out.contains(&format!("{n} new items")), "{out}");
    let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
    let (pairwise, max_turns): (i64, i64) = c
        .query_row(
            "SELECT sum(pairwise), max(json_array_length(content, '$.conversation')) FROM items",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(pairwise, n as i64);
    assert!(
        max_turns >= 9,
        "multi-turn transcripts keep every turn: {max_turns}"
    );
}

#[test]
fn the_shipped_demo_batch_pulls_with_every_item_shape() {
    let s = Sandbox::new();
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/demo.jsonl");
    let out = s.ok(&["pull", demo.to_str().unwrap()]);
    assert!(
        out.contains("pulled batch verdict-demo-1: 8 new items"),
        "{out}"
    );
    let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
    let q = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(q("SELECT count(*) FROM items WHERE pairwise"), 2);
    assert!(
        q("SELECT count(*) FROM items WHERE json_array_length(content, '$.conversation') > 1") >= 3
    );
    assert_eq!(
        q("SELECT count(*) FROM items WHERE json_extract(extras, '$.content_warning') IS NOT NULL"),
        1
    );
    assert_eq!(
        q("SELECT count(*) FROM items WHERE json_extract(extras, '$.suggestions') IS NOT NULL"),
        1
    );
    // `verdict demo` runs on it in a throwaway cache and leaves the rater's cache alone.
    let demo_out = s.ok(&["demo"]);
    assert!(
        demo_out.contains("verdict-demo-1 (8 items) and verdict-demo-images-1 (4 image items)"),
        "{demo_out}"
    );
    // The image items are listed with their kind; the masked one shows nothing.
    assert!(
        demo_out.contains("image-pair-launch      image pair"),
        "{demo_out}"
    );
    assert!(
        demo_out.contains("image-describe-masked  image      [content warning: masked]"),
        "{demo_out}"
    );
    assert!(demo_out.contains("[content warning: masked]"), "{demo_out}");
    assert_eq!(s.status()["batches"].as_array().unwrap().len(), 1);
}

#[test]
fn content_hashes_match_an_independent_implementation() {
    // Python's json module is the independent canonicaliser: the documented form is
    // json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).
    let s = Sandbox::new();
    let tricky = s.write(
        "tricky.jsonl",
        "{\"id\": \"esc\", \"prompt\": \"bell\\u0007 esc\\u001b[31m tab\\t nl\\n del\\u007f bidi\\u202e quote\\\" back\\\\ slash/ nul\\u0000 ls\\u2028\", \"responses\": [{\"text\": \"e\\u0301 日本 🙂\", \"model\": \"m\"}]}\n",
    );
    s.ok(&["pull", tricky.to_str().unwrap()]);
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
    let ours: std::collections::BTreeMap<String, String> = c
        .prepare("SELECT item_id, sha256 FROM items")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ours.len(), 7);
    // Built from the original batch lines by the documented rule (docs/batch-format.md).
    let script = r#"
import hashlib, json, sys
for path in sys.argv[1:]:
    for line in open(path, encoding="utf-8"):
        item = json.loads(line)
        if "manifest" in item:
            continue
        conversation = item.get("messages") or [{"role": "user", "content": item["prompt"]}]
        responses = [r if isinstance(r, dict) else {"text": r} for r in item["responses"]]
        content = {
            "conversation": [{"role": m["role"], "content": m["content"]} for m in conversation],
            "responses": [{k: r[k] for k in ("text", "model") if k in r} for r in responses],
        }
        canon = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        print(str(item["id"]), hashlib.sha256(canon.encode("utf-8")).hexdigest())
"#;
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            script,
            tricky.to_str().unwrap(),
            fixture("mixed.jsonl").to_str().unwrap(),
        ])
        .output()
        .expect("python3 is needed for the independent hash check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: std::collections::BTreeMap<String, String> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (id, h) = l.split_once(' ').unwrap();
            (id.to_string(), h.to_string())
        })
        .collect();
    assert_eq!(theirs, ours);
}
