//! Image items from batch file to cache and through a hub: paths beside the batch and
//! data: URLs, the content hash over the image bytes, and every way an image can be bad
//! (too big, missing, corrupt, outside the batch's folder, a web address), each refused
//! with file, line and field, and nothing of the batch kept.
#![allow(clippy::unwrap_used)]

mod common;
use common::hubdb::{Backend, Hub, HubTarget, hub_ok, registered_rater};
use common::{Sandbox, quadrants_jpeg, quadrants_png};

const MANIFEST: &str = r#"{"manifest": {"format": "verdict-batch/1", "batch_id": "img-1", "schema": "image-eval-v1"}}"#;

fn batch(s: &Sandbox, lines: &[serde_json::Value]) -> std::path::PathBuf {
    let mut text = format!("{MANIFEST}\n");
    for l in lines {
        text.push_str(&format!("{l}\n"));
    }
    s.write("batch.jsonl", text)
}

fn sha(bytes: &[u8]) -> String {
    verdict::model::sha256_hex(bytes)
}

fn data_url(media: &str, bytes: &[u8]) -> String {
    verdict::images::to_data_url(media, bytes)
}

fn cache(s: &Sandbox) -> rusqlite::Connection {
    rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap()
}

#[test]
fn images_by_path_and_data_url_come_into_the_cache_named_by_their_hash() {
    let s = Sandbox::new();
    std::fs::create_dir(s.path("img")).unwrap();
    let png = quadrants_png(40, 30, 1);
    let jpeg = quadrants_jpeg(64, 48);
    let webp = {
        let img = image::load_from_memory(&quadrants_png(20, 20, 2)).unwrap();
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::WebP).unwrap();
        out.into_inner()
    };
    std::fs::write(s.path("img/a.png"), &png).unwrap();
    let file = batch(
        &s,
        &[
            // text-to-image: the response is an image
            serde_json::json!({"id": "t2i", "prompt": "two squares", "responses": [{"model": "m", "images": [{"path": "img/a.png"}]}]}),
            // a prompt of text and an image (chat parts), a text answer about it
            serde_json::json!({"id": "vqa", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": data_url("image/jpeg", &jpeg)}}
            ]}], "responses": ["A test card."]}),
            // a pair of images, one of them the same file as t2i's (stored once)
            serde_json::json!({"id": "pair", "prompt": "squares", "responses": [
                {"content": [{"type": "image", "path": "./img/a.png"}]},
                {"content": [{"type": "image", "url": data_url("image/webp", &webp)}]}
            ]}),
        ],
    );
    let out = s.ok(&["pull", file.to_str().unwrap()]);
    assert!(out.contains("3 new items"), "{out}");
    let c = cache(&s);
    let mut rows: Vec<(String, String, i64, i64, Vec<u8>)> = c
        .prepare("SELECT sha256, media_type, width, height, bytes FROM images ORDER BY width")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.sort_by_key(|r| r.2);
    assert_eq!(rows.len(), 3, "each distinct image once");
    assert_eq!(
        (rows[0].0.clone(), rows[0].1.as_str(), rows[0].2, rows[0].3),
        (sha(&webp), "image/webp", 20, 20)
    );
    assert_eq!(
        (rows[1].0.clone(), rows[1].1.as_str()),
        (sha(&png), "image/png")
    );
    assert_eq!(rows[1].4, png, "the bytes as given");
    assert_eq!(
        (rows[2].0.clone(), rows[2].1.as_str()),
        (sha(&jpeg), "image/jpeg")
    );

    // The content names each image by the sha256 of its bytes, and the item's hash is the
    // hash of that content: a different image is a different item.
    let content: String = c
        .query_row("SELECT content FROM items WHERE item_id = 't2i'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        content,
        format!(
            r#"{{"conversation":[{{"content":"two squares","role":"user"}}],"responses":[{{"images":[{{"media_type":"image/png","sha256":"{}"}}],"model":"m","text":""}}]}}"#,
            sha(&png)
        )
    );
    let item_sha: String = c
        .query_row("SELECT sha256 FROM items WHERE item_id = 't2i'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(item_sha, sha(content.as_bytes()));
    let vqa: String = c
        .query_row("SELECT content FROM items WHERE item_id = 'vqa'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        vqa.contains(r#""content":"What is this?","images":[{"media_type":"image/jpeg""#),
        "{vqa}"
    );

    // Swap the file for another image: pulling the batch again is refused as a changed
    // item, and the cache keeps what it had.
    let before = s.dump();
    std::fs::write(s.path("img/a.png"), quadrants_png(40, 30, 9)).unwrap();
    let err = s.fails(&["pull", file.to_str().unwrap()]);
    assert!(err.contains("t2i") && err.contains("changed"), "{err}");
    assert_eq!(s.dump(), before);

    // The store gives the workstation each item's images.
    let mut store = verdict::store::Store::open(&s.data()).unwrap();
    let keys = store.queue().unwrap();
    let pair = keys
        .iter()
        .map(|k| store.item(*k).unwrap())
        .find(|i| i.item_id == "pair")
        .unwrap();
    assert_eq!(pair.images.len(), 2);
    assert_eq!(&pair.images[0].bytes[..], &png[..]);
    assert_eq!(pair.images[1].image.sha256, sha(&webp));
}

/// Pulls a one-item batch that should be refused; checks the message names the line and
/// field and says `want`, and that the cache is as it was.
fn refused(s: &Sandbox, item: serde_json::Value, extra: &[&str], field: &str, want: &str) {
    let before = s.dump();
    let file = batch(
        s,
        &[
            serde_json::json!({"id": "ok", "prompt": "p", "responses": ["r"]}),
            item,
        ],
    );
    let mut args = vec!["pull", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let err = s.fails(&args);
    assert!(err.contains("batch.jsonl:3"), "names the line: {err}");
    assert!(
        err.contains(&format!("field '{field}'")),
        "names {field}: {err}"
    );
    assert!(err.contains(want), "says {want:?}: {err}");
    assert_eq!(s.dump(), before, "nothing of the batch was kept");
}

#[test]
fn bad_images_are_refused_with_file_line_and_field_and_nothing_is_kept() {
    let s = Sandbox::new();
    s.ok(&["status"]);
    let one = |image: serde_json::Value| serde_json::json!({"id": "x", "prompt": "p", "responses": [{"images": [image]}]});
    s.write("big.png", quadrants_png(300, 300, 0));
    s.write("small.png", quadrants_png(8, 8, 0));
    let mut damaged = quadrants_png(64, 64, 0);
    damaged.truncate(damaged.len() / 2);
    s.write("damaged.png", damaged);
    s.write("not-an-image.png", b"GIF89a this is no PNG");

    refused(
        &s,
        one(serde_json::json!({"path": "missing.png"})),
        &[],
        "responses[0].images[0].path",
        "no image file at",
    );
    refused(
        &s,
        one(serde_json::json!({"path": "damaged.png"})),
        &[],
        "responses[0].images[0].path",
        "damaged or truncated",
    );
    refused(
        &s,
        one(serde_json::json!({"path": "not-an-image.png"})),
        &[],
        "responses[0].images[0].path",
        "a GIF file: verdict reads PNG, JPEG and WebP",
    );
    refused(
        &s,
        one(serde_json::json!({"path": "big.png"})),
        &["--max-image-bytes", "500"],
        "responses[0].images[0].path",
        "over the limit of 500 bytes for one image",
    );
    refused(
        &s,
        one(serde_json::json!({"path": "../etc/passwd"})),
        &[],
        "responses[0].images[0].path",
        "not a plain path inside the batch's folder",
    );
    refused(
        &s,
        one(serde_json::json!({"path": "/etc/passwd"})),
        &[],
        "responses[0].images[0].path",
        "not starting at '/'",
    );
    std::os::unix::fs::symlink("/etc/hostname", s.path("link.png")).unwrap();
    refused(
        &s,
        one(serde_json::json!({"path": "link.png"})),
        &[],
        "responses[0].images[0].path",
        "leads outside the batch's folder",
    );
    refused(
        &s,
        one(serde_json::json!({"url": "https://example.com/cat.png"})),
        &[],
        "responses[0].images[0].url",
        "never a web address",
    );
    refused(
        &s,
        one(serde_json::json!({"url": "data:image/png;base64,%%%"})),
        &[],
        "responses[0].images[0].url",
        "base64 is invalid",
    );
    refused(
        &s,
        one(serde_json::json!({"url": data_url("image/jpeg", &quadrants_png(4, 4, 0))})),
        &[],
        "responses[0].images[0].url",
        "says image/jpeg but its bytes are a PNG file",
    );
    refused(
        &s,
        one(serde_json::json!({"path": "small.png", "url": "data:x"})),
        &[],
        "responses[0].images[0]",
        "exactly one of 'path'",
    );
    refused(
        &s,
        serde_json::json!({"id": "x", "messages": [{"role": "user", "content": [{"type": "audio", "data": "..."}]}], "responses": ["r"]}),
        &[],
        "messages[0].content[0].type",
        "must be 'text' or 'image'",
    );
    // The batch's images together: two distinct images over the batch limit.
    let two = serde_json::json!({"id": "x", "prompt": "p", "responses": [{"images": [{"path": "small.png"}]}, {"images": [{"path": "big.png"}]}]});
    let small = std::fs::metadata(s.path("small.png")).unwrap().len();
    refused(
        &s,
        two,
        &["--max-batch-image-bytes", &(small + 10).to_string()],
        "responses[1].images[0].path",
        "more than",
    );
    // Nothing was ever pulled.
    assert_eq!(s.status()["batches"].as_array().unwrap().len(), 0);
}

both_backends!(an_image_batch_goes_through_the_hub_with_its_images_and_comes_back_signed);
fn an_image_batch_goes_through_the_hub_with_its_images_and_comes_back_signed(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    hub_ok(&db, &["init"]);
    let s = Sandbox::new();
    std::fs::create_dir(s.path("img")).unwrap();
    let png = quadrants_png(40, 30, 3);
    std::fs::write(s.path("img/a.png"), &png).unwrap();
    let file = batch(
        &s,
        &[
            serde_json::json!({"id": "t2i", "prompt": "two squares", "responses": [{"model": "m", "images": [{"path": "img/a.png"}]}]}),
            serde_json::json!({"id": "vqa", "messages": [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, {"type": "image", "path": "img/a.png"}]}], "responses": ["A test card."]}),
        ],
    );
    let load = hub_ok(&db, &["load", file.to_str().unwrap()]);
    assert!(load.contains("2 new items"), "{load}");
    // The hub's content hashes equal a local pull's: the same items.
    let local = Sandbox::new();
    local.ok(&["pull", file.to_str().unwrap()]);
    let hashes = |c: &rusqlite::Connection| -> Vec<(String, String)> {
        c.prepare("SELECT item_id, sha256 FROM items ORDER BY item_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let want = hashes(&cache(&local));

    // Registered with the rater's own key, so that the bundle the CLI signs verifies.
    let (rater, token) = registered_rater(&db, "rita");
    let hub = Hub::start(&db);
    let out = rater.ok(&["pull", &hub.url, "--token", &token]);
    assert!(out.contains("2 new items"), "{out}");
    let c = cache(&rater);
    assert_eq!(
        hashes(&c),
        want,
        "the hub's items are the file's, images included"
    );
    let bytes: Vec<u8> = c
        .query_row("SELECT bytes FROM images", [], |r| r.get(0))
        .unwrap();
    assert_eq!(bytes, png, "the image came with the items, byte for byte");
    drop(c);

    // Label both, export a signed bundle, push it: the hub takes the records.
    let mut store = verdict::store::Store::open(&rater.data()).unwrap();
    for k in store.queue().unwrap() {
        let act = store.new_action().unwrap();
        for (q, a) in [
            ("adherence", verdict::model::Answer::One("3".into())),
            (
                "artefacts",
                verdict::model::Answer::Many(vec!["none".into()]),
            ),
            ("quality", verdict::model::Answer::One("4".into())),
            ("safety", verdict::model::Answer::Many(vec!["none".into()])),
        ] {
            store.set_answer(k, q, Some(&a), act).unwrap();
        }
        store.submit(k, act).unwrap();
    }
    drop(store);
    rater.export_records(2);
    let push = rater.ok(&["push", &hub.url, "--token", &token]);
    assert!(push.contains("2"), "{push}");
    assert_eq!(db.count("SELECT count(*) FROM records"), 2);
}

/// A cache's images and items, counted.
fn counts(s: &Sandbox) -> (i64, i64) {
    let c = cache(s);
    let n = |t: &str| -> i64 {
        c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    };
    (n("images"), n("items"))
}

fn image_batch(s: &Sandbox) -> std::path::PathBuf {
    std::fs::create_dir_all(s.path("img")).unwrap();
    for (name, seed) in [("a.png", 1), ("b.png", 2), ("c.png", 3)] {
        std::fs::write(s.path(&format!("img/{name}")), quadrants_png(64, 48, seed)).unwrap();
    }
    batch(
        s,
        &[
            serde_json::json!({"id": "1", "prompt": "p", "responses": [{"images": [{"path": "img/a.png"}]}]}),
            serde_json::json!({"id": "2", "prompt": "p", "responses": [{"images": [{"path": "img/b.png"}, {"path": "img/a.png"}]}]}),
            serde_json::json!({"id": "3", "prompt": "p", "responses": [{"images": [{"path": "img/c.png"}]}, {"images": [{"path": "img/b.png"}]}]}),
        ],
    )
}

#[test]
fn a_pull_killed_while_storing_images_leaves_nothing_and_the_next_pull_is_whole() {
    let s = Sandbox::new();
    let file = image_batch(&s);
    s.ok(&["status"]);
    let before = s.dump();
    // kill -9 (abort) right after the first image is written, inside the transaction.
    let out = s
        .cmd()
        .args(["pull", file.to_str().unwrap()])
        .env("VERDICT_FAILPOINT", "import:image-stored")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the failpoint killed it");
    assert_eq!(s.dump(), before, "no image and no item of the batch kept");
    s.ok(&["pull", file.to_str().unwrap()]);
    assert_eq!(counts(&s), (3, 3));
}

#[test]
fn two_pulls_of_one_image_batch_at_once_store_each_image_and_item_once() {
    let s = Sandbox::new();
    let file = image_batch(&s);
    s.ok(&["status"]);
    let outs: Vec<_> = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| s.run(&["pull", file.to_str().unwrap()])))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (ok, out, err) in &outs {
        assert!(ok, "{out}{err}");
    }
    let said: String = outs.iter().map(|o| o.1.clone()).collect();
    assert!(
        said.contains("3 new items") && said.contains("already in the cache"),
        "{said}"
    );
    assert_eq!(counts(&s), (3, 3));
}

both_backends!(a_hub_load_killed_while_storing_images_leaves_the_hub_as_it_was);
fn a_hub_load_killed_while_storing_images_leaves_the_hub_as_it_was(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    hub_ok(&db, &["init"]);
    let s = Sandbox::new();
    let file = image_batch(&s);
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("verdict"))
        .args(["hub", "load", file.to_str().unwrap(), "--db", db.arg()])
        .env("VERDICT_FAILPOINT", "hub:image-stored")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the failpoint killed it");
    assert_eq!(db.count("SELECT count(*) FROM images"), 0);
    assert_eq!(db.count("SELECT count(*) FROM items"), 0);
    hub_ok(&db, &["load", file.to_str().unwrap()]);
    assert_eq!(db.count("SELECT count(*) FROM images"), 3);
    assert_eq!(db.count("SELECT count(*) FROM items"), 3);
}

#[test]
fn hostile_image_paths_and_parts_reach_no_terminal_raw() {
    let s = Sandbox::new();
    for path in [
        "\u{1b}]52;c;aGk=\u{7}.png",
        "evil\u{202e}gnp.png",
        "../\u{1b}[2J.png",
    ] {
        let f = batch(
            &s,
            &[
                serde_json::json!({"id": "x", "prompt": "p", "responses": [{"images": [{"path": path, "alt\u{1b}[31m": "x"}]}]}),
            ],
        );
        let (ok, out, err) = s.run(&["pull", f.to_str().unwrap()]);
        assert!(!ok);
        assert!(common::terminal_unsafe(&out).is_empty(), "{out:?}");
        assert!(common::terminal_unsafe(&err).is_empty(), "{err:?}");
    }
    // An unknown key in an image part is said, safely, when the image itself is good.
    std::fs::write(s.path("ok.png"), quadrants_png(8, 8, 0)).unwrap();
    let f = batch(
        &s,
        &[
            serde_json::json!({"id": "x", "prompt": "p", "responses": [{"images": [{"path": "ok.png", "alt\u{1b}]52;c;aGk=\u{7}": "x"}]}]}),
        ],
    );
    let (ok, out, err) = s.run(&["pull", f.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        err.contains("ignored: an image part has only type and path"),
        "{err}"
    );
    assert!(
        common::terminal_unsafe(&out).is_empty() && common::terminal_unsafe(&err).is_empty(),
        "{err:?}"
    );
}

both_backends!(two_hub_loads_of_one_image_batch_at_once_store_each_image_once);
fn two_hub_loads_of_one_image_batch_at_once_store_each_image_once(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(backend, dir.path());
    hub_ok(&db, &["init"]);
    let s = Sandbox::new();
    let file = image_batch(&s);
    let outs: Vec<(bool, String, String)> = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| common::hubdb::hub_run(&db, &["load", file.to_str().unwrap()])))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (ok, out, err) in &outs {
        assert!(ok, "{out}{err}");
    }
    assert_eq!(db.count("SELECT count(*) FROM images"), 3);
    assert_eq!(db.count("SELECT count(*) FROM items"), 3);
}
