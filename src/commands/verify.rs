//! `verdict verify BUNDLE`: signature, manifest and item hashes.

use super::Env;
use crate::bundle;
use crate::cli::VerifyArgs;
use crate::keys;
use crate::store::Store;

/// Verifies and reports; fails (non-zero exit) when anything does not check out.
pub fn run(env: &Env, args: &VerifyArgs) -> anyhow::Result<()> {
    let pk = match &args.pubkey {
        Some(k) => keys::parse_public_arg(k)?,
        None => {
            if !keys::exists(&env.config_dir) {
                anyhow::bail!(
                    "no --pubkey given and no key of yours in {}; give the signer's key with --pubkey",
                    env.config_dir.display()
                );
            }
            keys::read_public(&keys::paths(&env.config_dir).1)?
        }
    };
    // verify never creates a cache: it may run on a machine that only checks bundles.
    let store = Store::open_existing(&env.data_dir)?;
    let v = bundle::verify(&args.bundle, &pk, store.as_ref())?;
    if !v.ok() {
        for f in &v.failures {
            crate::errln!("FAILED: {f}");
        }
        anyhow::bail!(
            "{} does not verify ({} problems)",
            args.bundle.display(),
            v.failures.len()
        );
    }
    let m = v
        .manifest
        .as_ref()
        .map(|m| (m.bundle_id.as_str(), m.rater.as_str()))
        .unwrap_or_default();
    crate::outln!(
        "Signature and trusted comment OK (key {})",
        keys::key_id(pk.keynum())
    );
    crate::outln!(
        "Bundle {} by {}: {} records, manifest matches",
        crate::safe::sanitize_line(m.0),
        crate::safe::sanitize_line(m.1),
        v.records.len()
    );
    match store {
        Some(_) => crate::outln!(
            "Item hashes: {} match the cache, {} items not in the cache (not checked)",
            v.matched_in_cache,
            v.not_in_cache
        ),
        None => crate::outln!("Item hashes: no local cache to check against"),
    }
    Ok(())
}
