//! `verdict log`, `verdict undo`, `verdict redo`: the audit trail and linear undo.

use super::Env;
use crate::cli::LogArgs;
use crate::clock::rfc3339;
use crate::store::Store;

/// Prints the audit trail, newest first.
pub fn log(env: &Env, args: &LogArgs) -> anyhow::Result<()> {
    let store = Store::open(&env.data_dir)?;
    let key = args
        .item
        .as_deref()
        .map(|i| store.find_item_in(args.batch.as_deref(), i))
        .transpose()?;
    let rows = store.audit(key, args.limit)?;
    if args.json {
        let out: Vec<serde_json::Value> = rows
            .iter()
            .map(|(b, i, e)| {
                let parse = |v: &Option<String>| {
                    v.as_deref()
                        .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
                        .unwrap_or(serde_json::Value::Null)
                };
                serde_json::json!({
                    "at": rfc3339(e.at), "batch": b, "item": i, "action": e.action,
                    "kind": e.kind, "field": e.field, "old": parse(&e.old), "new": parse(&e.new),
                })
            })
            .collect();
        crate::outln!("{}", crate::safe::json_pretty(&out)?);
        return Ok(());
    }
    for (b, i, e) in rows {
        let show = |v: &Option<String>| -> String {
            let s = v.as_deref().unwrap_or("-");
            // The log shows values as JSON text, so control characters stay escaped.
            s.chars().take(60).collect()
        };
        crate::outln!(
            "{}  {:<5} #{:<5} {}/{}  {}: {} -> {}",
            rfc3339(e.at),
            e.kind,
            e.action,
            b,
            i,
            e.field,
            show(&e.old),
            show(&e.new)
        );
    }
    Ok(())
}

/// Undoes (or redoes) the last action, whatever item it was on.
pub fn undo(env: &Env, redo: bool) -> anyhow::Result<()> {
    let mut store = Store::open(&env.data_dir)?;
    store.set_source("undo");
    let r = if redo { store.redo()? } else { store.undo()? };
    match r {
        None => crate::outln!("Nothing to {}.", if redo { "redo" } else { "undo" }),
        Some(r) => {
            let item = store.item(r.key)?;
            crate::outln!(
                "{} action #{} on {}/{} ({}); it is now {}",
                if redo { "Redid" } else { "Undid" },
                r.action,
                item.batch_id,
                item.item_id,
                crate::safe::count(r.changes as u64, "change", "changes"),
                item.annotation.status
            );
        }
    }
    Ok(())
}
