//! `verdict export`: write a signed bundle of finished, not yet exported work.

use super::Env;
use crate::bundle;
use crate::cli::ExportArgs;
use crate::keys;
use crate::store::Store;

/// Exports into the outbox (or `--out`); says so and writes nothing when nothing is new.
pub fn run(env: &Env, args: &ExportArgs) -> anyhow::Result<()> {
    let mut store = Store::open(&env.data_dir)?;
    let (dir, file) = match &args.out {
        Some(p) if p.is_dir() => (p.clone(), None),
        Some(p) => (env.outbox(), Some(p.as_path())),
        None => (env.outbox(), None),
    };
    let outcome = bundle::export(&mut store, &env.config_dir, &env.rater, &dir, file)?;
    for note in &outcome.recovered {
        crate::errln!("note: {note}");
    }
    match outcome.exported {
        None => {
            crate::outln!("Nothing to export: every finished annotation is already in a bundle.")
        }
        Some(x) => {
            crate::outln!(
                "Wrote {} to {}\nSignature: {}\nCheck it with: minisign -Vm {} -p {}",
                crate::safe::count(x.manifest.record_count, "record", "records"),
                x.path.display(),
                x.sig_path.display(),
                x.path.display(),
                keys::paths(&env.config_dir).1.display()
            );
        }
    }
    Ok(())
}
