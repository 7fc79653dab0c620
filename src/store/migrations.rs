//! Numbered migrations of the cache. Only ever append; never edit one that has shipped:
//! `PRAGMA user_version` records how many have been applied. A migration that needs
//! more than SQL has a step in [`after`], run in the same transaction.

/// Migration `i + 1` is `MIGRATIONS[i]`.
pub const MIGRATIONS: &[&str] = &[
    // 1: batches, items, annotations, the event log, bundles.
    r#"
CREATE TABLE schemas (
    sha256 TEXT PRIMARY KEY,
    id     TEXT NOT NULL,
    body   TEXT NOT NULL CHECK (json_valid(body))      -- canonical JSON of the schema
);
CREATE TABLE batches (
    id            TEXT PRIMARY KEY,
    schema_sha256 TEXT NOT NULL REFERENCES schemas(sha256),
    guidelines    TEXT NOT NULL CHECK (json_valid(guidelines)),
    manifest      TEXT NOT NULL CHECK (json_valid(manifest)),
    origin        TEXT NOT NULL,                          -- file path or hub address
    pulled_at     INTEGER NOT NULL                        -- unix ms
);
CREATE TABLE items (
    key      INTEGER PRIMARY KEY,
    batch_id TEXT NOT NULL REFERENCES batches(id),
    item_id  TEXT NOT NULL,
    seq      INTEGER NOT NULL,                            -- order within the batch
    sha256   TEXT NOT NULL,                               -- of `content`
    pairwise INTEGER NOT NULL,
    content  TEXT NOT NULL,                               -- canonical JSON: what is rated
    extras   TEXT NOT NULL,                               -- metadata, suggestions, warning
    UNIQUE (batch_id, item_id)
);
CREATE INDEX items_order ON items(batch_id, seq);
CREATE TABLE annotations (
    item              INTEGER PRIMARY KEY REFERENCES items(key),
    status            TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'done', 'skipped')),
    justification     TEXT NOT NULL DEFAULT '',
    skip_reason       TEXT,
    flag_reason       TEXT,
    flag_note         TEXT,
    active_ms         INTEGER NOT NULL DEFAULT 0,
    started_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    submitted_at      INTEGER,
    revision          INTEGER NOT NULL DEFAULT 0,         -- submits so far
    exported_revision INTEGER NOT NULL DEFAULT 0,
    exported_bundle   TEXT
);
-- One row per (item, question): a single-choice answer is exclusive in storage, and a
-- multi-select answer is one JSON array.
CREATE TABLE answers (
    item     INTEGER NOT NULL REFERENCES items(key),
    question TEXT NOT NULL,
    value    TEXT NOT NULL CHECK (json_valid(value)),
    PRIMARY KEY (item, question)
) WITHOUT ROWID;
-- Every change, for undo and the audit trail. Events of one user action share `action`.
CREATE TABLE events (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    item   INTEGER NOT NULL REFERENCES items(key),
    action INTEGER NOT NULL,
    kind   TEXT NOT NULL DEFAULT 'do' CHECK (kind IN ('do', 'undo', 'redo')),
    field  TEXT NOT NULL,                                 -- answer:<question>, justification, status, skip_reason, flag
    old    TEXT,                                          -- JSON, NULL when unset
    new    TEXT
);
CREATE INDEX events_item ON events(item);
CREATE INDEX events_action ON events(action);
CREATE TABLE bundles (
    id           TEXT PRIMARY KEY,
    path         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    record_count INTEGER NOT NULL,
    pushed_at    INTEGER
);
"#,
    // 2: small settings of the workstation that survive a restart (the current item).
    r#"
CREATE TABLE ui (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#,
    // 3: a covering index for the queue and for export, so that opening the workstation or
    // exporting reads the index (about 10 MB for 100,000 items) instead of every item row
    // (hundreds of MB).
    r#"
CREATE INDEX items_queue ON items(batch_id, seq, item_id, sha256);
DROP INDEX items_order;
"#,
    // 4: the hub's reference answers for gold items the rater labelled (calibration).
    r#"
CREATE TABLE calibration (
    batch_id TEXT NOT NULL,
    item_id  TEXT NOT NULL,
    body     TEXT NOT NULL CHECK (json_valid(body)),
    PRIMARY KEY (batch_id, item_id)
);
"#,
    // 5: trust. Action ids from the database (AUTOINCREMENT: never reused, never max+1
    // outside a transaction); an item version every content change bumps, so a writer that
    // showed an item to a person can refuse to write over a change it did not show; the
    // justification being typed kept apart from the justification (no half-typed text is
    // ever exported; the finished edit is one event); and the export journal: a bundle is
    // recorded, and its records marked exported (remembering the exported revision
    // before), before its files are written.
    r#"
CREATE TABLE actions (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    source TEXT NOT NULL                                  -- workstation, label, undo, ...
);
INSERT INTO actions (id, at, source) SELECT action, min(at), 'verdict' FROM events GROUP BY action;
ALTER TABLE annotations ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
CREATE TABLE drafts (
    item       INTEGER PRIMARY KEY REFERENCES items(key),
    text       TEXT NOT NULL,
    owner      TEXT NOT NULL,                             -- the workstation typing it: pid:start
    updated_at INTEGER NOT NULL
);
ALTER TABLE bundles ADD COLUMN state TEXT NOT NULL DEFAULT 'written'
    CHECK (state IN ('writing', 'written'));
-- The exported revision before the bundle in exported_bundle: what a bundle whose files
-- were never completed gives back.
ALTER TABLE annotations ADD COLUMN exported_previous INTEGER NOT NULL DEFAULT 0;
"#,
    // 6: guideline versions. Documents carried by batches (not shipped with verdict); each
    // change of a batch's document that a pull brought, and when the rater saw it; and
    // per annotation, the document in force at its last submit (what its record names).
    r#"
CREATE TABLE guideline_docs (
    sha256  TEXT PRIMARY KEY,
    id      TEXT NOT NULL,
    version TEXT NOT NULL,
    text    TEXT NOT NULL
);
CREATE TABLE guideline_changes (
    id         INTEGER PRIMARY KEY,
    batch_id   TEXT NOT NULL REFERENCES batches(id),
    old        TEXT NOT NULL CHECK (json_valid(old)),     -- the reference before
    new        TEXT NOT NULL CHECK (json_valid(new)),     -- and after
    changed_at INTEGER NOT NULL,
    seen_at    INTEGER                                    -- when the rater was shown it
);
ALTER TABLE annotations ADD COLUMN guidelines TEXT;
"#,
    // 7: the guideline section in view when an item was flagged.
    r#"
ALTER TABLE annotations ADD COLUMN flag_section TEXT;
"#,
    // 8: full-text search over what a rater reads (id, conversation, responses, metadata
    // values); rows are items by key. Contentless and without positions (the text is in
    // `items` already; a search ANDs words): the index costs a fraction of the text it
    // indexes. Filled in the background by the workstation (`Store::index_for_search`),
    // so that a pull costs what it did; the `ui` key `search_indexed_upto` is the last
    // item key indexed.
    r#"
CREATE VIRTUAL TABLE items_fts USING fts5(text, content = '', detail = none,
    tokenize = 'unicode61 remove_diacritics 2');
"#,
    // 9: image files of image items, by the sha256 of their bytes (what an item's content
    // names and its hash covers). Stored once however many items show them; checked by
    // decoding before a pull stores them.
    r#"
CREATE TABLE images (
    sha256     TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    media_type TEXT NOT NULL CHECK (media_type IN ('image/png', 'image/jpeg', 'image/webp')),
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    bytes      BLOB NOT NULL
);
"#,
];

/// What runs after migration `n` (1-based) in its transaction, beyond its SQL.
pub fn after(n: usize, tx: &rusqlite::Connection, now: i64) -> rusqlite::Result<()> {
    if n == 5 {
        log_unlogged_justifications(tx, now)?;
    }
    Ok(())
}

/// What search finds an item by: its id, conversation, responses and metadata values.
pub fn search_text(
    id: &str,
    content: &crate::model::Content,
    extras: &crate::model::Extras,
) -> String {
    fn values(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| values(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| values(x, out)),
            serde_json::Value::Number(n) => {
                out.push_str(&n.to_string());
                out.push('\n');
            }
            _ => {}
        }
    }
    let mut out = format!("{id}\n");
    for m in &content.conversation {
        out.push_str(&m.content);
        out.push('\n');
    }
    for r in &content.responses {
        out.push_str(&r.text);
        out.push('\n');
        if let Some(m) = &r.model {
            out.push_str(m);
            out.push('\n');
        }
    }
    for v in extras.metadata.values() {
        values(v, &mut out);
    }
    out
}

/// Before migration 5 the workstation saved justification edits without an event, and
/// without reopening a submitted item: such an edit was in the cache but never exported.
/// Each justification that differs from what the event log last recorded becomes one
/// event now (an action of its own, source `upgrade`), and a finished item it changed is
/// reopened like any other change, so that the rater sees it and submits it again.
fn log_unlogged_justifications(tx: &rusqlite::Connection, now: i64) -> rusqlite::Result<()> {
    let rows: Vec<(i64, String, String, Option<String>)> = tx
        .prepare(
            "SELECT a.item, a.status, a.justification,
                    (SELECT e.new FROM events e WHERE e.item = a.item AND e.field = 'justification'
                     ORDER BY e.id DESC LIMIT 1)
             FROM annotations a",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let text = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    for (item, status, now_text, logged) in rows {
        let logged: String = logged
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default();
        if logged == now_text {
            continue;
        }
        tx.execute(
            "INSERT INTO actions (at, source) VALUES (?1, 'upgrade')",
            [now],
        )?;
        let action = tx.last_insert_rowid();
        let event = "INSERT INTO events (at, item, action, field, old, new) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
        tx.execute(
            event,
            rusqlite::params![
                now,
                item,
                action,
                "justification",
                text(&logged),
                text(&now_text)
            ],
        )?;
        if status != "draft" {
            tx.execute(
                "UPDATE annotations SET status = 'draft' WHERE item = ?1",
                [item],
            )?;
            tx.execute(
                event,
                rusqlite::params![now, item, action, "status", text(&status), text("draft")],
            )?;
        }
        tx.execute(
            "UPDATE annotations SET version = version + 1 WHERE item = ?1",
            [item],
        )?;
    }
    Ok(())
}
