//! `verdict status`: progress per batch.

use super::Env;
use crate::cli::StatusArgs;
use crate::store::Store;

/// Prints per-batch counts as a table, or JSON with `--json`.
pub fn run(env: &Env, args: &StatusArgs) -> anyhow::Result<()> {
    let store = Store::open(&env.data_dir)?;
    let rows = store.status()?;
    if args.json {
        let out = serde_json::json!({
            "rater": env.rater,
            "cache": store.path(),
            "batches": rows,
        });
        crate::outln!("{}", crate::safe::json_pretty(&out)?);
        return Ok(());
    }
    if rows.is_empty() {
        crate::outln!(
            "No batches in the cache ({}). Pull one with: verdict pull FILE",
            store.path().display()
        );
        return Ok(());
    }
    let width = rows.iter().map(|r| r.batch.len()).max().unwrap_or(5).max(5);
    crate::outln!(
        "{:<width$}  {:>6}  {:>6}  {:>6}  {:>7}  {:>7}  {:>8}  {:>9}",
        "batch",
        "items",
        "to do",
        "done",
        "skipped",
        "flagged",
        "exported",
        "to export"
    );
    for r in &rows {
        crate::outln!(
            "{:<width$}  {:>6}  {:>6}  {:>6}  {:>7}  {:>7}  {:>8}  {:>9}",
            r.batch,
            r.items,
            r.todo,
            r.done,
            r.skipped,
            r.flagged,
            r.exported,
            r.to_export
        );
    }
    Ok(())
}
