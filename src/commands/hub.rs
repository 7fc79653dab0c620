//! `verdict hub ...`: administer and serve a hub from the hub machine.

use crate::batch::{self, Options};
use crate::cli::{HubCommand, RaterCommand};
use crate::hub::db::{HubDb, HubError};
use crate::keys;

/// Runs a hub subcommand.
pub fn run(cmd: &HubCommand) -> anyhow::Result<()> {
    match cmd {
        HubCommand::Init {
            db,
            lease_hours,
            gold_rate,
        } => {
            if !(0.0..=1.0).contains(gold_rate) {
                anyhow::bail!("--gold-rate must be between 0 and 1");
            }
            if *lease_hours < 1 {
                anyhow::bail!("--lease-hours must be at least 1");
            }
            let (_, token) = HubDb::init(db, *lease_hours, *gold_rate)?;
            println!("Created hub database {}", db.display());
            println!("Admin token (shown once; keep it safe): {token}");
        }
        HubCommand::Serve { db, listen } => {
            let hub = HubDb::open(db)?;
            crate::hub::server::serve(hub, listen)?;
        }
        HubCommand::Load {
            batch: file,
            db,
            overlap,
            gold,
            map,
        } => {
            let mut hub = HubDb::open(db)?;
            let mut open = batch::open(
                file,
                Options {
                    map: map.clone(),
                    ..Options::default()
                },
            )?;
            let (id, added, same) = hub.load(&mut open, *overlap, *gold)?;
            for w in &open.warnings {
                eprintln!("warning: {}:{}: {}", file.display(), w.line, w.message);
            }
            println!(
                "Loaded batch {id}: {added} new {}items, {same} already loaded; each needs {overlap} raters",
                if *gold { "gold " } else { "" }
            );
        }
        HubCommand::Rater(RaterCommand::Add { name, pubkey, db }) => {
            let mut hub = HubDb::open(db)?;
            let pk = keys::parse_public_arg(pubkey)?;
            let token = hub.add_rater(name, &pk)?;
            println!(
                "Registered rater {name} (key {})",
                keys::key_id(pk.keynum())
            );
            println!("Token for {name} (shown once): {token}");
        }
        HubCommand::Ingest { dir, db } => ingest(dir, db)?,
        HubCommand::Status { db } => {
            let hub = HubDb::open(db)?;
            println!(
                "{:<40} {:>7} {:>6} {:>7} {:>8}",
                "batch", "overlap", "items", "leases", "records"
            );
            for (b, k, items, leases, records) in hub.progress()? {
                println!("{b:<40} {k:>7} {items:>6} {leases:>7} {records:>8}");
            }
        }
    }
    Ok(())
}

/// Takes in the bundles of a folder: each is matched to its rater by the signing key and
/// checked exactly as a push is. A refused bundle is reported and left where it is.
fn ingest(dir: &std::path::Path, db: &std::path::Path) -> anyhow::Result<()> {
    let mut hub = HubDb::open(db)?;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut refused = 0;
    for file in files {
        let sig_file = crate::bundle::sig_path(&file);
        let outcome = (|| -> anyhow::Result<String> {
            let bundle = std::fs::read(&file)?;
            let sig = std::fs::read_to_string(&sig_file)
                .map_err(|e| anyhow::anyhow!("no signature {} ({e})", sig_file.display()))?;
            let sig_box = minisign::SignatureBox::from_string(&sig)
                .map_err(|e| anyhow::anyhow!("not a minisign signature: {e}"))?;
            let key_id = keys::key_id(sig_box.keynum());
            let rater = hub.rater_by_key_id(&key_id)?.ok_or_else(|| {
                anyhow::anyhow!("signed by key {key_id}, which no registered rater has")
            })?;
            match hub.push(&rater, &bundle, &sig) {
                Ok(ack) if ack.duplicate => Ok(format!("{}: already ingested", rater.name)),
                Ok(ack) => Ok(format!("{}: {} records stored", rater.name, ack.accepted)),
                Err(HubError::Refused { message, problems }) => {
                    anyhow::bail!("{message}\n  - {}", problems.join("\n  - "))
                }
                Err(e) => Err(e.into()),
            }
        })();
        match outcome {
            Ok(msg) => println!("{}: {msg}", file.display()),
            Err(e) => {
                refused += 1;
                eprintln!("{}: {e:#}", file.display());
            }
        }
    }
    if refused > 0 {
        anyhow::bail!("{refused} bundles were refused");
    }
    Ok(())
}
