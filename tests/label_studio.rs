//! The Label Studio export checked by Label Studio itself: a real Label Studio 1.23 (the
//! version that wrote the shipped fixture) on 127.0.0.1 imports `hub export --format
//! label-studio` into a project with the fixture's labelling config, gives each annotation
//! to the rater's own Label Studio user, keeps a skip as a cancelled annotation, and hands
//! back in its own JSON export the results verdict wrote. That file, pulled into verdict
//! again, suggests the final answers (the ground-truth annotation), said once for the file.
//!
//! Needs the `label-studio` program: `VERDICT_TEST_LABEL_STUDIO` names it (`bash .ci/run`
//! installs Label Studio 1.23.2 in a virtual environment and sets it), else it is looked up
//! on PATH.
#![allow(clippy::unwrap_used)]

mod common;
use common::hubdb::{Backend, Hub, HubTarget, Rating, hub_ok, rate_and_push};
use common::{Sandbox, shared_data};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The API token of the Label Studio account the test makes (its legacy token form: 40
/// hex digits).
const TOKEN: &str = "5e11ad0a5e11ad0a5e11ad0a5e11ad0a5e11ad0a";

/// A real Label Studio server in a throwaway data folder, killed when dropped.
struct LabelStudio {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl LabelStudio {
    /// Starts the server (it answers later: see [`LabelStudio::ready`]).
    fn start() -> LabelStudio {
        let exe =
            std::env::var("VERDICT_TEST_LABEL_STUDIO").unwrap_or_else(|_| "label-studio".into());
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let data = dir.path().join("data");
        let child = Command::new(&exe)
            .args(["start", "--no-browser", "--internal-host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .arg("--data-dir")
            .arg(&data)
            .args(["--username", "admin@example.com", "--password", "verdict-test"])
            .args(["--user-token", TOKEN, "--enable-legacy-api-token"])
            .env("LABEL_STUDIO_BASE_DATA_DIR", &data)
            .env("LATEST_VERSION_CHECK", "false")
            .env("COLLECT_ANALYTICS", "false")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "Label Studio 1.23 is needed for this test ({exe}: {e}): pip install label-studio==1.23.2 and set VERDICT_TEST_LABEL_STUDIO to its label-studio program (bash .ci/run does both)"
                )
            });
        LabelStudio {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    /// A new project with this labelling config, `tasks` imported into it: what the
    /// import answered, and the project's own JSON export after it.
    fn import(
        &self,
        title: &str,
        config: &std::path::Path,
        tasks: &std::path::Path,
    ) -> (Value, Value) {
        let project = self.call(
            "POST",
            "/api/projects",
            Some(
                json!({"title": title, "label_config": std::fs::read_to_string(config).unwrap()})
                    .to_string()
                    .as_bytes(),
            ),
        );
        let p = project["id"].as_i64().unwrap();
        let import = self.call(
            "POST",
            &format!("/api/projects/{p}/import"),
            Some(std::fs::read(tasks).unwrap().as_slice()),
        );
        let back = self.call(
            "GET",
            &format!("/api/projects/{p}/export?exportType=JSON&download_all_tasks=true"),
            None,
        );
        (import, back)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// Waits until the API answers (the first start builds its database: up to minutes on
    /// a busy machine) and returns Label Studio's version.
    fn ready(&mut self) -> String {
        let until = Instant::now() + Duration::from_secs(600);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "Label Studio ended ({status}) before it answered:\n{}",
                    self.log()
                );
            }
            if let Ok((200, v)) = self.try_call("GET", "/api/version", None) {
                return v["release"].as_str().unwrap_or("?").to_string();
            }
            assert!(
                Instant::now() < until,
                "Label Studio did not answer in 10 minutes:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.url);
        let auth = format!("Token {TOKEN}");
        let resp = match (method, body) {
            ("GET", _) => ureq::get(&url)
                .config()
                .http_status_as_error(false)
                .build()
                .header("Authorization", &auth)
                .call(),
            (_, body) => ureq::post(&url)
                .config()
                .http_status_as_error(false)
                .build()
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or(b"{}")),
        };
        let mut resp = resp.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, v))
    }

    /// An API call that must succeed; its JSON answer.
    fn call(&self, method: &str, path: &str, body: Option<&[u8]>) -> Value {
        match self.try_call(method, path, body) {
            Ok((200 | 201, v)) => v,
            other => panic!("{method} {path}: {other:?}"),
        }
    }
}

impl Drop for LabelStudio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An annotation as compared: (completed_by, ground truth, cancelled, lead time in ms,
/// results).
type Annotation = (i64, bool, bool, Option<i64>, Vec<String>);

/// One annotation as compared: who, whether final or skipped, its time, and its results
/// (what each control said), in a stable order.
fn annotation(a: &Value) -> Annotation {
    let mut results: Vec<String> = a["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            json!({"from_name": r["from_name"], "to_name": r["to_name"], "type": r["type"], "value": r["value"]})
                .to_string()
        })
        .collect();
    results.sort();
    (
        a["completed_by"].as_i64().unwrap(),
        a["ground_truth"] == json!(true),
        a["was_cancelled"] == json!(true),
        a["lead_time"].as_f64().map(|t| (t * 1000.0).round() as i64),
        results,
    )
}

/// A task's annotations as compared, in a stable order.
fn annotations(t: &Value) -> Vec<Annotation> {
    let mut a: Vec<_> = t["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(annotation)
        .collect();
    a.sort();
    a
}

/// Every task of `ours` came back from Label Studio with its data and annotations as
/// written.
fn kept_as_written(ours: &BTreeMap<String, Value>, theirs: &BTreeMap<String, Value>) {
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (id, t) in ours {
        let b = &theirs[id];
        assert_eq!(t["data"], b["data"], "{id}: data");
        assert_eq!(
            annotations(t),
            annotations(b),
            "{id}: annotations as Label Studio keeps them"
        );
    }
}

/// Tasks of a Label Studio file by their `data.id`.
fn by_id(tasks: &Value) -> BTreeMap<String, Value> {
    tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["data"]["id"].as_str().unwrap().to_string(), t.clone()))
        .collect()
}

#[test]
fn label_studio_itself_imports_the_export_and_gives_it_back() {
    use verdict::model::Answer;
    // Label Studio takes a while to start: it starts first, and the hub work runs meanwhile.
    let mut ls = LabelStudio::start();

    let fixture = shared_data("label-studio/xstest-40.label-studio-export.json");
    let config = shared_data("label-studio/label_config.xml");
    let dir = tempfile::tempdir().unwrap();
    let db = HubTarget::new(Backend::Sqlite, dir.path());
    hub_ok(&db, &["init"]);
    hub_ok(&db, &["load", fixture.to_str().unwrap(), "--overlap", "2"]);
    let hub = Hub::start(&db);
    // Ann says harm "none" on even items and two categories on odd ones; Bob agrees on
    // even items, skips the first and says "none" on the other odd ones. Severity differs
    // (no final answer), behaviour agrees.
    let harm = |name: &str, i: usize| -> Vec<String> {
        if i.is_multiple_of(2) || name == "bob" {
            vec!["none".into()]
        } else {
            vec!["vcr".into(), "ssh".into()]
        }
    };
    for (name, severity) in [("ann", "2"), ("bob", "3")] {
        rate_and_push(&db, &hub, name, 40, |i| {
            if name == "bob" && i == 0 {
                return Rating::Skip("prompt not in English");
            }
            Rating::Submit(
                vec![
                    ("harm", Answer::Many(harm(name, i))),
                    ("severity", Answer::One(severity.into())),
                    ("behaviour", Answer::One("full_refusal".into())),
                    ("appropriateness", Answer::One("appropriate".into())),
                ],
                format!("{name}: «refused» and \"rightly\" so;\nthe risk is the harm asked for"),
                12_500,
            )
        });
    }

    let version = ls.ready();
    assert!(
        version.starts_with("1.23."),
        "the fixture was written by Label Studio 1.23; this is {version}"
    );
    // The raters as Label Studio users of the organisation (an unknown user id fails the
    // whole import).
    let mut users = BTreeMap::new();
    for name in ["ann", "bob"] {
        let u = ls.call(
            "POST",
            "/api/users/",
            Some(
                json!({"email": format!("{name}@example.com"), "username": name})
                    .to_string()
                    .as_bytes(),
            ),
        );
        users.insert(name, u["id"].as_i64().unwrap());
    }
    let out = dir.path().join("tasks.json");
    let (ok, _, err) = common::hubdb::hub_run(
        &db,
        &[
            "export",
            "--format",
            "label-studio",
            "--out",
            out.to_str().unwrap(),
            "--label-config",
            config.to_str().unwrap(),
            "--ls-user",
            &format!("ann={},bob={}", users["ann"], users["bob"]),
        ],
    );
    assert!(ok, "{err}");
    let ours: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();

    // Into a project with the fixture's labelling config.
    let (import, back) = ls.import("verdict round trip", &config, &out);
    assert_eq!(import["task_count"], 40, "{import}");
    // 40 of Ann's, 40 of Bob's (one a skip), 40 final answers.
    assert_eq!(import["annotation_count"], 120, "{import}");

    // What Label Studio gives back is what verdict wrote.
    let back_path = dir.path().join("back.json");
    std::fs::write(&back_path, back.to_string()).unwrap();
    let (ours, theirs) = (by_id(&ours), by_id(&back));
    kept_as_written(&ours, &theirs);
    assert!(theirs.values().all(|t| annotations(t).len() == 3));
    // Each rater's annotations are their user's; Bob's skip is a cancelled annotation;
    // the final answers are the ground truth, in the project's own values.
    let all: Vec<_> = theirs
        .values()
        .flat_map(|t| t["annotations"].as_array().unwrap().iter().map(annotation))
        .collect();
    for (name, n) in [("ann", 40), ("bob", 40)] {
        assert_eq!(
            all.iter().filter(|a| a.0 == users[name] && !a.1).count(),
            n,
            "{name}"
        );
    }
    assert_eq!(all.iter().filter(|a| a.2).count(), 1, "one skip");
    assert_eq!(all.iter().filter(|a| a.1).count(), 40, "one final per task");
    let finals_with_harm = theirs
        .values()
        .filter(|t| {
            t["annotations"].as_array().unwrap().iter().any(|a| {
                a["ground_truth"] == json!(true)
                    && a["result"].as_array().unwrap().iter().any(|r| {
                        r["from_name"] == "harm" && r["value"]["choices"] == json!(["none"])
                    })
            })
        })
        .count();
    assert_eq!(finals_with_harm, 20, "harm is final where both said none");

    // A project of the lab's own making: other data fields, controls of other names,
    // choices in its own words. Named with --ls-data and --ls-control, Label Studio takes
    // the export and keeps the results in its terms.
    let other = dir.path().join("other.xml");
    std::fs::write(
        &other,
        r#"<View><Text name="q" value="$question"/><Text name="a" value="$answer"/>
<Choices name="hazard" toName="a" choice="multiple"><Choice value="None"/><Choice value="Violent Crimes"/><Choice value="Self Harm"/></Choices>
<Choices name="refusal" toName="a"><Choice value="Full compliance"/><Choice value="Full refusal"/></Choices>
<Rating name="stars" toName="a" maxRating="4"/><TextArea name="why" toName="a"/></View>"#,
    )
    .unwrap();
    let out2 = dir.path().join("tasks2.json");
    let (ok, _, err) = common::hubdb::hub_run(
        &db,
        &[
            "export",
            "--format",
            "label-studio",
            "--out",
            out2.to_str().unwrap(),
            "--label-config",
            other.to_str().unwrap(),
            "--ls-control",
            "harm=hazard,behaviour=refusal,severity=stars",
            "--ls-data",
            "prompt=question,response=answer",
            "--ls-user",
            &format!("ann={},bob={}", users["ann"], users["bob"]),
        ],
    );
    assert!(ok, "{err}");
    let (import, back2) = ls.import("the lab's own", &other, &out2);
    assert_eq!(import["task_count"], 40, "{import}");
    assert_eq!(import["annotation_count"], 120, "{import}");
    let ours2: Value = serde_json::from_str(&std::fs::read_to_string(&out2).unwrap()).unwrap();
    let (ours2, theirs2) = (by_id(&ours2), by_id(&back2));
    assert_eq!(ours2.len(), 40);
    kept_as_written(&ours2, &theirs2);
    assert!(
        theirs2
            .values()
            .all(|b| b["data"]["question"].is_string() && b["data"]["answer"].is_string())
    );
    let odd = theirs2
        .values()
        .flat_map(|t| t["annotations"].as_array().unwrap().clone())
        .find(|a| {
            a["completed_by"] == users["ann"]
                && a["result"].as_array().unwrap().iter().any(|r| {
                    r["from_name"] == "hazard"
                        && r["value"]["choices"] == json!(["Violent Crimes", "Self Harm"])
                })
        });
    let odd = odd.expect("Ann's two categories in the project's words");
    let names: Vec<&str> = odd["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["from_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hazard", "stars", "refusal", "why"], "{odd}");

    // Label Studio's export pulled into verdict: the final answers are suggested (the
    // ground-truth annotation, not the first), and the several annotations said once.
    let s = Sandbox::new();
    let (ok, out, err) = s.run(&["pull", back_path.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("40 new items"), "{out}");
    assert!(
        err.contains(
            "40 tasks have more than one annotation: the ground-truth one of each is suggested"
        ),
        "{err}"
    );
    assert!(!err.contains("tasks[3].annotations"), "said once: {err}");
    let c = rusqlite::Connection::open(s.data().join("cache.sqlite3")).unwrap();
    let extras: String = c
        .query_row(
            "SELECT extras FROM items WHERE item_id = 'v2-141-llama2new'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let suggested = &serde_json::from_str::<Value>(&extras).unwrap()["suggestions"];
    let fin = theirs["v2-141-llama2new"]["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["ground_truth"] == json!(true))
        .unwrap()
        .clone();
    assert!(
        suggested["behaviour"]["agent"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "label-studio ground-truth annotation {}",
                fin["id"]
            )),
        "{suggested}"
    );
    assert_eq!(
        suggested["behaviour"]["value"], "full_refusal",
        "{suggested}"
    );
    assert!(
        suggested.get("severity").is_none(),
        "no final severity: {suggested}"
    );
}
