//! assets/batch.schema.json describes what `verdict pull` accepts: checked with an
//! independent validator (Python's jsonschema) on the shipped and fixture batches, and on
//! lines verdict refuses.
#![allow(clippy::unwrap_used)]

mod common;
use common::{Sandbox, fixture};
use std::path::Path;

fn validate(lines: &[String]) -> Vec<bool> {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/batch.schema.json");
    let script = r#"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1], encoding="utf-8"))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
for line in sys.stdin:
    print("ok" if v.is_valid(json.loads(line)) else "bad")
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, schema.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python3 with the jsonschema package is needed (pip install jsonschema): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l == "ok")
        .collect()
}

#[test]
fn shipped_and_fixture_batches_match_the_json_schema() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/demo.jsonl");
    for f in [
        demo,
        fixture("mixed.jsonl"),
        fixture("bare.jsonl"),
        fixture("llama-guard.jsonl"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/demo-images.jsonl"),
    ] {
        let lines: Vec<String> = std::fs::read_to_string(&f)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        assert!(
            validate(&lines).iter().all(|ok| *ok),
            "{f:?} does not match assets/batch.schema.json"
        );
    }
}

#[test]
fn lines_verdict_refuses_are_refused_by_the_json_schema_too() {
    let bad = [
        r#"{"id": "b", "prompt": "p"}"#,
        r#"{"id": "b", "responses": ["r"]}"#,
        r#"{"prompt": "p", "responses": ["r"]}"#,
        r#"{"id": "b", "prompt": "p", "messages": [{"role": "user", "content": "c"}], "responses": ["r"]}"#,
        r#"{"id": "b", "prompt": "p", "responses": ["1", "2", "3"]}"#,
        r#"{"id": "b", "prompt": "p", "responses": [{"text": 3}]}"#,
        r#"{"id": "b", "messages": [{"role": "robot", "content": "x"}], "responses": ["r"]}"#,
        r#"{"id": "b", "prompt": "p", "responses": ["r"], "suggestions": {"harm": {"value": ["none"], "score": 2}}}"#,
        r#"{"manifest": {"description": "no batch id"}}"#,
        r#"{"id": "b", "prompt": [{"type": "image", "url": "https://example.com/a.png"}], "responses": ["r"]}"#,
        r#"{"id": "b", "prompt": [{"type": "audio", "data": "x"}], "responses": ["r"]}"#,
        r#"{"id": "b", "prompt": "p", "responses": [{"images": [{"path": "a.png", "url": "data:x"}]}]}"#,
        r#"{"id": "b", "prompt": "p", "responses": [{"model": "m"}]}"#,
    ];
    let lines: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
    let verdicts = validate(&lines);
    for (line, ok) in bad.iter().zip(verdicts) {
        assert!(!ok, "the JSON Schema accepts {line}");
        // And verdict refuses each of them.
        let s = Sandbox::new();
        let content = if line.contains("manifest") {
            format!("{line}\n{{\"id\": \"a\", \"prompt\": \"p\", \"responses\": [\"r\"]}}\n")
        } else {
            format!("{line}\n")
        };
        let f = s.write("b.jsonl", content);
        s.fails(&["pull", f.to_str().unwrap()]);
    }
}
