//! Signed export bundles: export, `verdict verify` and the standard `minisign` CLI.
#![allow(clippy::unwrap_used)]

mod common;
use common::{Sandbox, fixture};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The standard minisign tool; CI installs it (Debian package `minisign`).
fn minisign(args: &[&str]) -> (bool, String) {
    let out = Command::new("minisign")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the minisign CLI is needed for these tests: apt-get install minisign");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `minisign -V` of a bundle against a public key file.
fn minisign_verify(bundle: &Path, pubkey: &Path) -> (bool, String) {
    minisign(&[
        "-V",
        "-m",
        bundle.to_str().unwrap(),
        "-p",
        pubkey.to_str().unwrap(),
    ])
}

/// A sandbox with the mixed fixture pulled and three items finished.
fn labelled() -> Sandbox {
    let s = Sandbox::new();
    s.ok(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    s.ok(&[
        "label",
        "single",
        "--preset",
        "safe",
        "--submit",
        "--active-seconds",
        "12",
    ]);
    s.ok(&[
        "label", "suggested", "-a", "harm=none", "-a", "severity=0", "-a", "behaviour=full_refusal",
        "-a", "appropriateness=over_refusal", "-j",
        "Buying a soft drink is safe; refusing withholds harmless information and insults the user.",
        "--flag", "guideline_gap", "--note", "homonym: coke", "--submit",
    ]);
    s.ok(&["label", "multi", "--skip", "conversation is truncated"]);
    s
}

fn export(s: &Sandbox) -> PathBuf {
    export_path(&s.ok(&["export"]))
}

fn pubkey(s: &Sandbox) -> PathBuf {
    s.config().join("verdict.pub")
}

fn records(bundle: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(bundle)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn an_untouched_bundle_verifies_with_verdict_and_with_the_minisign_cli() {
    let s = labelled();
    let b = export(&s);
    assert!(b.starts_with(s.data().join("outbox")), "{b:?}");
    let sig = PathBuf::from(format!("{}.minisig", b.display()));
    assert!(sig.exists());
    let (ok, out) = minisign_verify(&b, &pubkey(&s));
    assert!(ok, "{out}");
    assert!(
        out.contains("Trusted comment: verdict-bundle/1 bundle="),
        "{out}"
    );
    assert!(out.contains("rater=test-rater records=3"), "{out}");
    let v = s.ok(&["verify", b.to_str().unwrap()]);
    assert!(v.contains("3 records, manifest matches"), "{v}");
    assert!(v.contains("Item hashes: 3 match the cache"), "{v}");
}

#[test]
fn the_bundle_holds_exactly_what_was_labelled() {
    let s = labelled();
    let b = export(&s);
    let text = std::fs::read_to_string(&b).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(manifest["format"], "verdict-bundle/1");
    assert_eq!(manifest["rater"], "test-rater");
    assert_eq!(manifest["record_count"], 3);
    assert_eq!(manifest["batches"][0]["id"], "fixture-mixed");
    assert_eq!(manifest["batches"][0]["schema_id"], "ai-safety-v1");
    assert_eq!(
        manifest["batches"][0]["schema_sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert_eq!(manifest["batches"][0]["guidelines"]["id"], "verdict-safety");
    assert_eq!(
        manifest["batches"][0]["guidelines"]["sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert_eq!(manifest["key_id"].as_str().unwrap().len(), 16);
    assert!(manifest["tool"].as_str().unwrap().starts_with("verdict "));

    let recs = records(&b);
    let by_id = |id: &str| recs.iter().find(|r| r["item_id"] == id).unwrap().clone();
    let single = by_id("single");
    assert_eq!(single["status"], "done");
    assert_eq!(
        single["answers"],
        serde_json::json!({"harm": ["none"], "severity": "0", "behaviour": "full_compliance", "appropriateness": "appropriate"})
    );
    assert_eq!(single["active_ms"], 12000);
    assert_eq!(single["revision"], 1);
    assert_eq!(single["item_sha256"].as_str().unwrap().len(), 64);
    let sugg = by_id("suggested");
    assert_eq!(sugg["answers"]["appropriateness"], "over_refusal");
    assert!(
        sugg["justification"]
            .as_str()
            .unwrap()
            .starts_with("Buying a soft drink")
    );
    assert_eq!(
        sugg["escalation"],
        serde_json::json!({"reason": "guideline_gap", "note": "homonym: coke"})
    );
    let multi = by_id("multi");
    assert_eq!(multi["status"], "skipped");
    assert_eq!(multi["skip_reason"], "conversation is truncated");
}

#[test]
fn a_second_export_with_nothing_new_writes_nothing_and_status_tells_exported_from_not() {
    let s = labelled();
    let first = export(&s);
    let out = s.ok(&["export"]);
    assert!(out.contains("Nothing to export"), "{out}");
    let files = std::fs::read_dir(s.data().join("outbox")).unwrap().count();
    assert_eq!(files, 2, "one bundle and its signature");
    let b = s.batch_status("fixture-mixed").unwrap();
    assert_eq!(
        (b["exported"].as_u64(), b["to_export"].as_u64()),
        (Some(3), Some(0))
    );

    // A changed and resubmitted item is exported again, as revision 2, alone.
    s.ok(&["label", "single", "-a", "flags=bias", "--submit"]);
    let b = s.batch_status("fixture-mixed").unwrap();
    assert_eq!(
        (b["exported"].as_u64(), b["to_export"].as_u64()),
        (Some(2), Some(1))
    );
    let second = export(&s);
    assert_ne!(first, second);
    let recs = records(&second);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["item_id"], "single");
    assert_eq!(recs[0]["revision"], 2);
    assert_eq!(recs[0]["answers"]["flags"], serde_json::json!(["bias"]));
}

#[test]
fn flipped_bytes_are_rejected_by_verdict_and_by_minisign() {
    let s = labelled();
    let b = export(&s);
    let pk = pubkey(&s);
    let original = std::fs::read(&b).unwrap();
    // Flip one byte inside a justification, and separately one inside the manifest.
    let in_record = original.len() - 40;
    for pos in [in_record, 20] {
        let mut bytes = original.clone();
        bytes[pos] ^= 0x01;
        std::fs::write(&b, &bytes).unwrap();
        let err = s.fails(&["verify", b.to_str().unwrap()]);
        assert!(err.contains("FAILED: signature"), "{err}");
        assert!(err.contains("changed after it was signed"), "{err}");
        let (ok, out) = minisign_verify(&b, &pk);
        assert!(!ok, "minisign accepted a tampered bundle: {out}");
        assert!(out.contains("Signature verification failed"), "{out}");
    }
    // Tampering with the signed trusted comment is caught too.
    std::fs::write(&b, &original).unwrap();
    let sig = PathBuf::from(format!("{}.minisig", b.display()));
    let sig_text = std::fs::read_to_string(&sig).unwrap();
    std::fs::write(&sig, sig_text.replace("records=3", "records=4")).unwrap();
    let err = s.fails(&["verify", b.to_str().unwrap()]);
    assert!(err.contains("FAILED: signature"), "{err}");
    let (ok, _) = minisign_verify(&b, &pk);
    assert!(!ok);
    // And restored, both accept it again.
    std::fs::write(&sig, sig_text).unwrap();
    s.ok(&["verify", b.to_str().unwrap()]);
    let (ok, out) = minisign_verify(&b, &pk);
    assert!(ok, "{out}");
}

#[test]
fn a_bundle_signed_by_another_key_is_rejected_naming_both_keys() {
    let s = labelled();
    let b = export(&s);
    let stranger = Sandbox::new();
    let shown = stranger.ok(&["key", "show"]);
    let stranger_pk = stranger.config().join("verdict.pub");
    let err = s.fails(&[
        "verify",
        b.to_str().unwrap(),
        "--pubkey",
        stranger_pk.to_str().unwrap(),
    ]);
    assert!(
        err.contains("this bundle was signed by someone else"),
        "{err}"
    );
    // The key given as its base64 line works as well as the file.
    let line = shown.lines().nth(1).unwrap();
    let err = s.fails(&["verify", b.to_str().unwrap(), "--pubkey", line]);
    assert!(err.contains("signed by someone else"), "{err}");
    let (ok, _) = minisign_verify(&b, &stranger_pk);
    assert!(!ok);
    let own_line = s.ok(&["key", "show"]).lines().nth(1).unwrap().to_string();
    s.ok(&["verify", b.to_str().unwrap(), "--pubkey", &own_line]);
    let err = s.fails(&["verify", b.to_str().unwrap(), "--pubkey", "not-a-key"]);
    assert!(
        err.contains("no such file, and not a minisign public key"),
        "{err}"
    );
}

/// Rewrites a bundle and re-signs it with the rater's own key through the minisign CLI,
/// so the signature is valid and only verdict's content checks can catch the problem.
fn resign(s: &Sandbox, bundle: &Path, edit: impl Fn(&str) -> String) {
    let text = std::fs::read_to_string(bundle).unwrap();
    std::fs::write(bundle, edit(&text)).unwrap();
    let sig = PathBuf::from(format!("{}.minisig", bundle.display()));
    let old = std::fs::read_to_string(&sig).unwrap();
    let comment = old
        .lines()
        .nth(2)
        .unwrap()
        .trim_start_matches("trusted comment: ")
        .to_string();
    std::fs::remove_file(&sig).unwrap();
    let (ok, out) = minisign(&[
        "-S",
        "-s",
        s.config().join("verdict.key").to_str().unwrap(),
        "-m",
        bundle.to_str().unwrap(),
        "-t",
        &comment,
    ]);
    assert!(ok, "{out}");
}

#[test]
fn a_validly_signed_bundle_whose_manifest_does_not_match_its_records_is_rejected() {
    let s = labelled();
    let b = export(&s);
    resign(&s, &b, |t| {
        let mut lines: Vec<&str> = t.lines().collect();
        lines.pop();
        lines.join("\n") + "\n"
    });
    let (ok, out) = minisign_verify(&b, &pubkey(&s));
    assert!(ok, "the re-signed bundle has a valid signature: {out}");
    let err = s.fails(&["verify", b.to_str().unwrap()]);
    assert!(
        err.contains("manifest: record_count is 3 but the bundle holds 2 records"),
        "{err}"
    );
    assert!(err.contains("do not match the records' batches"), "{err}");
}

#[test]
fn a_record_whose_item_hash_differs_from_the_cache_is_rejected() {
    let s = labelled();
    let b = export(&s);
    let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
    let real: String = c
        .query_row(
            "SELECT sha256 FROM items WHERE item_id = 'single'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    resign(&s, &b, |t| t.replace(&real, &"0".repeat(64)));
    let err = s.fails(&["verify", b.to_str().unwrap()]);
    assert!(
        err.contains(&format!(
            "record fixture-mixed/single: item hash {} differs from the cached item's {real}",
            "0".repeat(64)
        )),
        "{err}"
    );
    // Where the items are not cached (another machine), the hashes are not checked.
    let other = Sandbox::new();
    let mut cmd = other.cmd();
    let out = cmd
        .args([
            "verify",
            b.to_str().unwrap(),
            "--pubkey",
            pubkey(&s).to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("no local cache to check against"),
        "{stdout}"
    );
    assert!(!other.data().exists(), "verify must not create a cache");
}

#[test]
fn export_to_an_existing_file_is_refused_and_marks_nothing() {
    let s = labelled();
    let target = s.write("taken.jsonl", b"someone else's file");
    let err = s.fails(&["export", "--out", target.to_str().unwrap()]);
    assert!(
        err.contains("already exists; verdict does not overwrite a bundle"),
        "{err}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"someone else's file");
    let b = s.batch_status("fixture-mixed").unwrap();
    assert_eq!(b["to_export"], 3);
    let fresh = s.path("fresh.jsonl");
    let out = s.ok(&["export", "--out", fresh.to_str().unwrap()]);
    assert!(out.contains("Wrote 3 records"), "{out}");
    s.ok(&["verify", fresh.to_str().unwrap()]);
}

#[cfg(unix)]
#[test]
fn the_key_pair_is_created_on_first_use_with_an_owner_only_secret() {
    use std::os::unix::fs::PermissionsExt;
    let s = Sandbox::new();
    let shown = s.ok(&["key", "show"]);
    assert!(
        shown.starts_with("untrusted comment: minisign public key"),
        "{shown}"
    );
    let sk = s.config().join("verdict.key");
    assert_eq!(
        std::fs::metadata(&sk).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read_to_string(s.config().join("verdict.pub")).unwrap(),
        shown
    );
    assert_eq!(s.ok(&["key", "show"]), shown, "the key is created once");
    let err = s.fails(&["key", "init"]);
    assert!(err.contains("a key already exists"), "{err}");
    // A secret key others can read is refused for signing.
    s.ok(&["pull", fixture("bare.jsonl").to_str().unwrap()]);
    s.ok(&["label", "b1", "--preset", "safe", "--submit"]);
    std::fs::set_permissions(&sk, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = s.fails(&["export"]);
    assert!(
        err.contains("can be read by others (mode 644); run: chmod 600"),
        "{err}"
    );
    std::fs::set_permissions(&sk, std::fs::Permissions::from_mode(0o600)).unwrap();
    s.ok(&["export"]);
}

#[test]
fn a_passphrase_protected_key_signs_only_with_its_passphrase() {
    let s = Sandbox::new();
    let out = s
        .cmd()
        .env("VERDICT_PASSPHRASE", "correct horse")
        .args(["key", "init", "--passphrase"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.ok(&["pull", fixture("bare.jsonl").to_str().unwrap()]);
    s.ok(&["label", "b1", "--preset", "safe", "--submit"]);
    let err = s.fails(&["export"]);
    assert!(
        err.contains("passphrase-protected: set VERDICT_PASSPHRASE"),
        "{err}"
    );
    let out = s
        .cmd()
        .env("VERDICT_PASSPHRASE", "wrong")
        .args(["export"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase?"));
    assert_eq!(
        s.batch_status(s.status()["batches"][0]["batch"].as_str().unwrap())
            .unwrap()["to_export"],
        1
    );
    let out = s
        .cmd()
        .env("VERDICT_PASSPHRASE", "correct horse")
        .args(["export"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = export_path(&String::from_utf8_lossy(&out.stdout));
    let (ok, msg) = minisign_verify(&b, &pubkey(&s));
    assert!(ok, "{msg}");
}

fn export_path(stdout: &str) -> PathBuf {
    PathBuf::from(
        stdout
            .lines()
            .find(|l| l.starts_with("Wrote "))
            .unwrap()
            .split(" to ")
            .nth(1)
            .unwrap(),
    )
}
