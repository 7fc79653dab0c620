//! `verdict push`: hand exported bundles to the hub (or drop them in a folder).

use super::Env;
use crate::bundle::sig_path;
use crate::cli::PushArgs;
use crate::store::Store;

/// Uploads every bundle not yet acknowledged; a refused one is reported and kept, and the
/// others still go.
pub fn run(env: &Env, args: &PushArgs) -> anyhow::Result<()> {
    let mut store = Store::open(&env.data_dir)?;
    // An export interrupted at the wrong moment is finished or taken back before anything
    // is pushed.
    for note in crate::bundle::recover(&mut store, &env.config_dir)? {
        crate::errln!("note: {note}");
    }
    let pending: Vec<(String, String)> = store
        .bundles()?
        .into_iter()
        .filter(|b| !b.3)
        .map(|b| (b.0, b.1))
        .collect();
    if pending.is_empty() {
        crate::outln!(
            "Nothing to push: every bundle has been acknowledged. (Run verdict export first?)"
        );
        return Ok(());
    }
    let mut refused = 0;
    for (id, path) in pending {
        // A bundle that cannot be read is reported; the others still go.
        let sig_file = sig_path(std::path::Path::new(&path));
        let files = std::fs::read_to_string(&path)
            .map_err(|e| format!("{path}: {e}"))
            .and_then(|b| {
                std::fs::read_to_string(&sig_file)
                    .map(|s| (b, s))
                    .map_err(|e| format!("{}: {e}", sig_file.display()))
            });
        let (bundle, sig) = match files {
            Ok(f) => f,
            Err(e) => {
                refused += 1;
                crate::errln!("{id}: cannot read the bundle to push it: {e}");
                continue;
            }
        };
        if let Some(dir) = &args.to {
            std::fs::create_dir_all(dir)?;
            let name = std::path::Path::new(&path)
                .file_name()
                .unwrap_or_default()
                .to_owned();
            std::fs::write(dir.join(&name), &bundle)?;
            let mut sig_name = name.clone();
            sig_name.push(".minisig");
            std::fs::write(dir.join(sig_name), &sig)?;
            store.mark_pushed(&id)?;
            crate::outln!("{id}: copied to {}", dir.display());
            continue;
        }
        let url = args.hub.as_deref().unwrap_or_default();
        let token = args.token.as_deref().ok_or_else(|| {
            anyhow::anyhow!("pushing to a hub needs your token: --token T or VERDICT_TOKEN")
        })?;
        match crate::hub::client::push(url, token, bundle, sig) {
            Ok(ack) => {
                store.mark_pushed(&id)?;
                if ack.duplicate {
                    crate::outln!("{id}: the hub had it already (acknowledged)");
                } else {
                    crate::outln!(
                        "{id}: {} acknowledged",
                        crate::safe::count(ack.accepted, "record", "records")
                    );
                }
            }
            Err(e) => {
                refused += 1;
                crate::errln!("{id}: {e:#}");
            }
        }
    }
    if refused > 0 {
        anyhow::bail!(
            "{} not pushed; {} in the outbox",
            match refused {
                1 => "1 bundle was".to_string(),
                n => format!("{n} bundles were"),
            },
            if refused == 1 {
                "it stays"
            } else {
                "they stay"
            }
        );
    }
    Ok(())
}
