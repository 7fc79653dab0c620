//! Signed export bundles: writing, signing (minisign format) and verifying.
//! Format: docs/bundle.md. A bundle is one JSONL file (a manifest line, then one record a
//! line) with a detached `<file>.minisig` beside it, checkable with `minisign -V`.

use crate::clock::{now_ms, rfc3339};
use crate::keys;
use crate::model::{BUNDLE_FORMAT, BundleManifest, Record, sha256_hex};
use crate::store::{ExportSet, Store, StoreError, Written};
use minisign::{PublicKey, SecretKey, SignatureBox};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// Bundle problems.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Cache trouble.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key trouble.
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    /// Writing failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// What `export` wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The bundle file.
    pub path: PathBuf,
    /// Its signature file.
    pub sig_path: PathBuf,
    /// The manifest.
    pub manifest: BundleManifest,
}

/// The signature file of a bundle.
pub fn sig_path(bundle: &Path) -> PathBuf {
    let mut s = bundle.as_os_str().to_os_string();
    s.push(".minisig");
    PathBuf::from(s)
}

fn trusted_comment(m: &BundleManifest) -> String {
    let rater: String = m
        .rater
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect();
    format!(
        "{BUNDLE_FORMAT} bundle={} rater={} records={} created={}",
        m.bundle_id, rater, m.record_count, m.created
    )
}

/// Serialises a bundle: the manifest line, then one record a line.
pub fn encode(manifest: &BundleManifest, records: &[&Record]) -> Vec<u8> {
    // Sized for a typical record (~450 bytes) so that a large export does not re-grow
    // (and copy) its buffer.
    let mut out = Vec::with_capacity(1024 + records.len() * 512);
    // Serialising these plain structs cannot fail; a failure would show as a short bundle
    // that `verify` rejects. Terminal controls in strings are escaped, so `cat` of a
    // bundle is as safe as `verify` of it.
    let _ = crate::safe::json_into(&mut out, manifest);
    out.push(b'\n');
    for r in records {
        let _ = crate::safe::json_into(&mut out, r);
        out.push(b'\n');
    }
    out
}

/// Holds the data directory's export lock: one export (or recovery) at a time, so that
/// recovery never takes for interrupted an export that another process is still writing.
/// The lock is the operating system's (flock), so a killed process releases it.
struct ExportLock {
    _file: std::fs::File,
}

fn export_lock(data_dir: &Path) -> Result<ExportLock, BundleError> {
    let path = data_dir.join("export.lock");
    let io = |e: std::io::Error| BundleError::Io {
        path: path.clone(),
        message: e.to_string(),
    };
    crate::private::create_dir(data_dir).map_err(io)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    crate::private::tighten(&path, false);
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            crate::errln!("waiting for another verdict export to finish...");
            file.lock().map_err(io)?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    Ok(ExportLock { _file: file })
}

/// A bundle built and signed in memory, not yet on disk.
struct Prepared {
    path: PathBuf,
    sig_path: PathBuf,
    bytes: Vec<u8>,
    signature: String,
    manifest: BundleManifest,
}

/// Writes the bundle, then its signature, each atomically; a bundle without its
/// signature is never left behind.
fn write_files(p: &Prepared) -> Result<(), BundleError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| BundleError::Io {
            path,
            message: e.to_string(),
        }
    };
    crate::private::write_atomically(&p.path, &p.bytes).map_err(io(&p.path))?;
    crate::failpoint::hit("export:bundle-written");
    if let Err(e) = crate::private::write_atomically(&p.sig_path, p.signature.as_bytes()) {
        let _ = std::fs::remove_file(&p.path);
        return Err(io(&p.sig_path)(e));
    }
    Ok(())
}

/// What an export did: the bundle it wrote, if there was anything new, and what it found
/// and repaired of earlier interrupted exports (see [`recover`]).
#[derive(Debug, Clone, Default)]
pub struct ExportOutcome {
    /// The bundle written.
    pub exported: Option<Exported>,
    /// What [`recover`] reported.
    pub recovered: Vec<String>,
}

/// Writes every finished, not yet exported annotation into one signed bundle. `out` is a
/// file path, or a folder to write into (default: the outbox). Writes nothing when there
/// is nothing new.
///
/// Crash-consistent: the bundle is recorded in the cache's export journal (its records
/// marked exported by it) before its files are written, and marked written after. An
/// export killed in between is finished or taken back by the next [`recover`] (which
/// every export runs first), so two valid bundles never carry the same revision of a
/// record.
pub fn export(
    store: &mut Store,
    config_dir: &Path,
    rater: &str,
    out_dir: &Path,
    out_file: Option<&Path>,
) -> Result<ExportOutcome, BundleError> {
    let sk: SecretKey = keys::secret(config_dir)?;
    let pk = PublicKey::from_secret_key(&sk).map_err(|e| BundleError::Sign(e.to_string()))?;
    let _lock = export_lock(store.dir())?;
    // Building and signing a large bundle holds the write lock for a while: say so.
    let _note = store.announce("export of the finished work into a signed bundle");
    // The cache's own outbox: never a folder given with --out, which may hold bundles
    // that are not this cache's business.
    let outbox = store.dir().join("outbox");
    let recovered = recover_locked(store, &pk, &outbox)?;
    let begun = store.export_begin(
        |set: &ExportSet| -> Result<(Prepared, Written), BundleError> {
            let created_ms = now_ms();
            let bundle_id = uuid::Uuid::new_v4().to_string();
            let manifest = BundleManifest {
                format: BUNDLE_FORMAT.to_string(),
                bundle_id: bundle_id.clone(),
                rater: rater.to_string(),
                key_id: keys::key_id(pk.keynum()),
                created: rfc3339(created_ms),
                tool: format!("verdict {}", env!("CARGO_PKG_VERSION")),
                batches: set.batches.clone(),
                record_count: set.records.len() as u64,
            };
            let records: Vec<&Record> = set.records.iter().map(|p| &p.record).collect();
            let bytes = encode(&manifest, &records);
            let path = match out_file {
                // Absolute, so that the journal (and push, and recovery) find the file
                // whatever folder they run from.
                Some(p) => std::path::absolute(p).map_err(|e| BundleError::Io {
                    path: p.to_path_buf(),
                    message: e.to_string(),
                })?,
                None => {
                    crate::private::create_dir(out_dir).map_err(|e| BundleError::Io {
                        path: out_dir.to_path_buf(),
                        message: e.to_string(),
                    })?;
                    let stamp = manifest.created.replace([':', '-'], "");
                    let who: String = rater
                        .chars()
                        .map(|c| if c.is_alphanumeric() { c } else { '_' })
                        .collect();
                    out_dir.join(format!("verdict-{who}-{stamp}-{}.jsonl", &bundle_id[..8]))
                }
            };
            let sig = sig_path(&path);
            if path.exists() || sig.exists() {
                return Err(BundleError::Io {
                    path,
                    message:
                        "already exists; verdict does not overwrite a bundle: choose another --out"
                            .into(),
                });
            }
            let signature = minisign::sign(
                Some(&pk),
                &sk,
                Cursor::new(&bytes),
                Some(&trusted_comment(&manifest)),
                Some(&format!("verdict bundle {bundle_id}")),
            )
            .map_err(|e| BundleError::Sign(e.to_string()))?;
            let written = Written {
                id: bundle_id,
                path: path.display().to_string(),
                sha256: sha256_hex(&bytes),
            };
            Ok((
                Prepared {
                    path,
                    sig_path: sig,
                    bytes,
                    signature: signature.to_string(),
                    manifest,
                },
                written,
            ))
        },
    )?;
    let Some((prepared, written, _)) = begun else {
        return Ok(ExportOutcome {
            exported: None,
            recovered,
        });
    };
    crate::failpoint::hit("export:recorded");
    if let Err(e) = write_files(&prepared) {
        // The records go back to "not exported"; if even that fails, the next start
        // finds the bundle unfinished and does it.
        let _ = store.export_abandon(&written.id);
        return Err(e);
    }
    crate::failpoint::hit("export:files-written");
    store.export_finish(&written.id)?;
    Ok(ExportOutcome {
        exported: Some(Exported {
            path: prepared.path,
            sig_path: prepared.sig_path,
            manifest: prepared.manifest,
        }),
        recovered,
    })
}

/// Repairs what interrupted exports left, and says what it did (one line each):
/// - a bundle the journal records as being written is kept if its file is whole and its
///   signature checks (the export had finished but for one line in the cache), else its
///   files are removed and its records count as not exported again;
/// - a bundle file in the outbox that the cache does not know at all is taken into the
///   journal if it is signed with the rater's key and every record in it is exactly the
///   cache's current, not yet exported revision; otherwise it is moved to
///   `outbox/unrecorded/` so that it is not pushed by mistake, and the message says why.
///
/// Looks only at the outbox of the store's own data directory (a demo's throwaway cache
/// never touches the rater's outbox). Runs before every export and push and when the
/// workstation starts. Without a key of the rater's there can be no bundles, and nothing
/// is done.
pub fn recover(store: &mut Store, config_dir: &Path) -> Result<Vec<String>, BundleError> {
    if !keys::exists(config_dir) {
        return Ok(Vec::new());
    }
    let pk = keys::read_public(&keys::paths(config_dir).1)?;
    let _lock = export_lock(store.dir())?;
    let outbox = store.dir().join("outbox");
    recover_locked(store, &pk, &outbox)
}

fn recover_locked(
    store: &mut Store,
    pk: &PublicKey,
    outbox: &Path,
) -> Result<Vec<String>, BundleError> {
    let mut notes = Vec::new();
    for (id, path, sha) in store.unfinished_bundles()? {
        let path = PathBuf::from(path);
        let sig = sig_path(&path);
        let bytes = std::fs::read(&path).ok();
        let ours = bytes.as_deref().is_some_and(|b| sha256_hex(b) == sha);
        let whole = ours
            && bytes.as_deref().is_some_and(|b| {
                verify_bytes(
                    b,
                    std::fs::read_to_string(&sig).map_err(|e| e.to_string()),
                    pk,
                    |_, _| None,
                )
                .ok()
            });
        if whole {
            store.export_finish(&id)?;
            notes.push(format!(
                "an interrupted export of bundle {id} had written it completely: {} is kept",
                path.display()
            ));
            continue;
        }
        if ours {
            let _ = std::fs::remove_file(&path);
        }
        let _ = std::fs::remove_file(crate::private::tmp_path(&path));
        if std::fs::read_to_string(&sig).is_ok_and(|s| s.contains(&id)) {
            let _ = std::fs::remove_file(&sig);
        }
        let _ = std::fs::remove_file(crate::private::tmp_path(&sig));
        store.export_abandon(&id)?;
        notes.push(format!(
            "an export was interrupted before bundle {id} was complete: its partial files were removed, and its records will be in the next export"
        ));
    }
    let Ok(entries) = std::fs::read_dir(outbox) else {
        return Ok(notes);
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let id = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| t.lines().next())
            .and_then(|l| serde_json::from_str::<BundleManifest>(l).ok())
            .map(|m| m.bundle_id);
        if let Some(id) = &id
            && store.knows_bundle(id)?
        {
            continue;
        }
        let sig = sig_path(&path);
        let v = verify_bytes(
            &bytes,
            std::fs::read_to_string(&sig).map_err(|e| e.to_string()),
            pk,
            |_, _| None,
        );
        let why = match (&id, v.ok()) {
            (Some(id), true) => {
                let written = Written {
                    id: id.clone(),
                    path: path.display().to_string(),
                    sha256: sha256_hex(&bytes),
                };
                match store.adopt_bundle(&written, &v.records)? {
                    Ok(()) => {
                        notes.push(format!(
                            "bundle {id} in the outbox was not recorded in the cache (an export stopped at the wrong moment?); its {} records match the cache, so it is now recorded as exported",
                            v.records.len()
                        ));
                        continue;
                    }
                    Err(why) => why,
                }
            }
            (_, false) => v.failures.first().cloned().unwrap_or_default(),
            (None, true) => "it has no bundle id".into(),
        };
        let aside = outbox.join("unrecorded");
        let moved = crate::private::create_dir(&aside).and_then(|()| {
            let name = path.file_name().unwrap_or_default();
            std::fs::rename(&path, aside.join(name))?;
            if sig.exists() {
                std::fs::rename(&sig, aside.join(sig.file_name().unwrap_or_default()))?;
            }
            Ok(())
        });
        notes.push(match moved {
            Ok(()) => format!(
                "{} is not recorded in the cache and does not match it ({why}): moved to {} so that it is not pushed by mistake; look at it before you push it by hand",
                path.display(),
                aside.display()
            ),
            Err(e) => format!(
                "{} is not recorded in the cache and does not match it ({why}), and could not be moved aside ({e}): do not push it",
                path.display()
            ),
        });
    }
    Ok(notes)
}

/// The outcome of verifying a bundle.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// The manifest, when it could be read.
    pub manifest: Option<BundleManifest>,
    /// Records read.
    pub records: Vec<Record>,
    /// The signature's trusted comment.
    pub trusted_comment: String,
    /// Item hashes that matched the local cache.
    pub matched_in_cache: usize,
    /// Records whose item is not in the local cache (not checked).
    pub not_in_cache: usize,
    /// Everything that failed; empty when the bundle is good.
    pub failures: Vec<String>,
}

impl Verification {
    /// True when nothing failed.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Verifies a bundle file against a public key: the signature (and its trusted comment),
/// that the manifest matches the records, and the item hashes against `cache` where
/// present.
pub fn verify(
    bundle: &Path,
    pk: &PublicKey,
    cache: Option<&Store>,
) -> Result<Verification, BundleError> {
    let bytes = std::fs::read(bundle).map_err(|e| BundleError::Io {
        path: bundle.to_path_buf(),
        message: e.to_string(),
    })?;
    let sig_file = sig_path(bundle);
    let sig = std::fs::read_to_string(&sig_file).map_err(|e| {
        format!(
            "signature: cannot read {} ({e}); a bundle is checked against its detached .minisig",
            sig_file.display()
        )
    });
    let mut lookup_error = None;
    let v = verify_bytes(&bytes, sig, pk, |batch, item| match cache {
        Some(store) => store.item_hash(batch, item).unwrap_or_else(|e| {
            lookup_error = Some(e);
            None
        }),
        None => None,
    });
    if let Some(e) = lookup_error {
        return Err(e.into());
    }
    let mut v = v;
    if cache.is_none() {
        v.not_in_cache = 0;
    }
    Ok(v)
}

/// Verifies a bundle held in memory (as the hub receives it): `sig` is the text of its
/// `.minisig` (or why it could not be had), and `hash_of` gives the known content hash of
/// an item, if the item is known.
pub fn verify_bytes(
    bytes: &[u8],
    sig: Result<String, String>,
    pk: &PublicKey,
    mut hash_of: impl FnMut(&str, &str) -> Option<String>,
) -> Verification {
    let mut v = Verification::default();
    match sig.and_then(|text| {
        SignatureBox::from_string(&text)
            .map_err(|e| format!("signature: not a minisign signature ({e})"))
    }) {
        Err(e) => v.failures.push(e),
        Ok(sig) => {
            if sig.keynum() != pk.keynum() {
                v.failures.push(format!(
                    "signature: made with key {}, but the public key given is {}: this bundle was signed by someone else",
                    keys::key_id(sig.keynum()),
                    keys::key_id(pk.keynum())
                ));
            } else if let Err(e) =
                minisign::verify(pk, &sig, Cursor::new(bytes), true, false, false)
            {
                v.failures.push(format!(
                    "signature: {e}: the bundle (or its trusted comment) was changed after it was signed"
                ));
            }
            v.trusted_comment = sig.trusted_comment().unwrap_or_default();
        }
    }
    check_contents(bytes, &mut v);
    if let Some(m) = &v.manifest
        && m.key_id != keys::key_id(pk.keynum())
    {
        v.failures.push(format!(
            "manifest: names key {} but the public key given is {}",
            m.key_id,
            keys::key_id(pk.keynum())
        ));
    }
    if v.manifest.is_some() {
        let mut failures = Vec::new();
        for r in &v.records {
            match hash_of(&r.batch_id, &r.item_id) {
                Some(h) if h == r.item_sha256 => v.matched_in_cache += 1,
                Some(h) => failures.push(format!(
                    "record {}/{}: item hash {} differs from the cached item's {h}",
                    r.batch_id, r.item_id, r.item_sha256
                )),
                None => v.not_in_cache += 1,
            }
        }
        v.failures.extend(failures);
    }
    // Each failure is one line, whatever the bundle put in the ids it quotes (a newline
    // in an id must not print a line of its own, like a forged "Signature OK").
    v.failures = v
        .failures
        .iter()
        .map(|f| crate::safe::sanitize_line(f))
        .collect();
    v
}

fn check_contents(bytes: &[u8], v: &mut Verification) {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            v.failures
                .push(format!("contents: not UTF-8 at byte {}", e.valid_up_to()));
            return;
        }
    };
    let mut lines = text.split_terminator('\n');
    let manifest: BundleManifest = match lines.next().map(serde_json::from_str) {
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            v.failures
                .push(format!("line 1: not a bundle manifest ({e})"));
            return;
        }
        None => {
            v.failures.push("the bundle is empty".into());
            return;
        }
    };
    if manifest.format != BUNDLE_FORMAT {
        v.failures.push(format!(
            "manifest: format '{}' is not {BUNDLE_FORMAT}",
            manifest.format
        ));
    }
    for (i, line) in lines.enumerate() {
        match serde_json::from_str::<Record>(line) {
            Ok(r) => v.records.push(r),
            Err(e) => v
                .failures
                .push(format!("line {}: not a record ({e})", i + 2)),
        }
    }
    if manifest.record_count != v.records.len() as u64 {
        v.failures.push(format!(
            "manifest: record_count is {} but the bundle holds {} records",
            manifest.record_count,
            v.records.len()
        ));
    }
    let mut per_batch: BTreeMap<&str, u64> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for r in &v.records {
        *per_batch.entry(r.batch_id.as_str()).or_default() += 1;
        if !seen.insert((r.batch_id.as_str(), r.item_id.as_str())) {
            v.failures
                .push(format!("record {}/{} appears twice", r.batch_id, r.item_id));
        }
    }
    let declared: BTreeMap<&str, u64> = manifest
        .batches
        .iter()
        .map(|b| (b.id.as_str(), b.records))
        .collect();
    if declared != per_batch {
        v.failures.push(format!(
            "manifest: batches {declared:?} do not match the records' batches {per_batch:?}"
        ));
    }
    if !v.trusted_comment.is_empty() && v.trusted_comment != trusted_comment(&manifest) {
        v.failures.push(format!(
            "signature: trusted comment '{}' does not describe this manifest",
            v.trusted_comment
        ));
    }
    v.manifest = Some(manifest);
}
