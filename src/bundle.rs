//! Signed export bundles: writing, signing (minisign format) and verifying.
//! Format: docs/bundle.md. A bundle is one JSONL file (a manifest line, then one record a
//! line) with a detached `<file>.minisig` beside it, checkable with `minisign -V`.

use crate::keys;
use crate::model::{BUNDLE_FORMAT, BundleManifest, Record, sha256_hex};
use crate::store::{ExportSet, Store, StoreError, Written, now_ms, rfc3339};
use minisign::{PublicKey, SecretKey, SignatureBox};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Write};
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
    // that `verify` rejects.
    let _ = serde_json::to_writer(&mut out, manifest);
    out.push(b'\n');
    for r in records {
        let _ = serde_json::to_writer(&mut out, r);
        out.push(b'\n');
    }
    out
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let err = |e: std::io::Error| BundleError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Writes every finished, not yet exported annotation into one signed bundle. `out` is a
/// file path, or a folder to write into (default: the outbox). Returns `None` and writes
/// nothing when there is nothing new.
pub fn export(
    store: &mut Store,
    config_dir: &Path,
    rater: &str,
    out_dir: &Path,
    out_file: Option<&Path>,
) -> Result<Option<Exported>, BundleError> {
    let sk: SecretKey = keys::secret(config_dir)?;
    let pk = PublicKey::from_secret_key(&sk).map_err(|e| BundleError::Sign(e.to_string()))?;
    let mut result: Option<Exported> = None;
    let outcome = store.export(|set: &ExportSet| -> Result<Written, BundleError> {
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
            Some(p) => p.to_path_buf(),
            None => {
                std::fs::create_dir_all(out_dir).map_err(|e| BundleError::Io {
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
        write_atomically(&path, &bytes)?;
        if let Err(e) = write_atomically(&sig, signature.to_string().as_bytes()) {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        result = Some(Exported {
            path: path.clone(),
            sig_path: sig,
            manifest,
        });
        Ok(Written {
            id: bundle_id,
            path: path.display().to_string(),
            sha256: sha256_hex(&bytes),
        })
    });
    match outcome {
        Ok(Some(_)) => Ok(result),
        Ok(None) => Ok(None),
        Err(e) => {
            // The files may have been written before the cache refused to record them: a
            // bundle the cache does not know would be pushed twice, so take it back.
            if let Some(x) = result {
                let _ = std::fs::remove_file(&x.path);
                let _ = std::fs::remove_file(&x.sig_path);
            }
            Err(e)
        }
    }
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
