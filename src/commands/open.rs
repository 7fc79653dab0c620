//! `verdict` (no command): the labeling workstation; `verdict keys`: the keymap.

use super::Env;
use crate::store::Store;
use crate::tui;

/// Opens the workstation on the cache and prints the session summary on quit.
pub fn run(env: &Env) -> anyhow::Result<()> {
    let store = Store::open(&env.data_dir)?;
    workstation(env, store)
}

/// Runs the workstation on a store.
pub fn workstation(env: &Env, store: Store) -> anyhow::Result<()> {
    session(env, store, false)
}

/// The workstation; `throwaway` for the demo, whose cache is removed when it ends (its
/// summary says so instead of pointing at an export).
pub fn session(env: &Env, mut store: Store, throwaway: bool) -> anyhow::Result<()> {
    // Configuration errors first: they say which file to fix.
    let keymap = tui::keymap::Keymap::load_from(&env.config_dir)?;
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the workstation needs a terminal; for scripts use verdict status, label and export"
        );
    }
    // An export interrupted at the wrong moment is finished or taken back first; what
    // was done is the first thing the status line says.
    let mut notes = crate::bundle::recover(&mut store, &env.config_dir)?;
    // A keymap key that an option key of a cached schema shadows is named on start.
    for schema in store.batch_schemas()? {
        notes.extend(keymap.shadowed_by(&schema));
    }
    let summary = tui::run(store, keymap, env.settings(), notes)?;
    if throwaway {
        crate::outln!(
            "Demo session: {} done, median {:.0} s per item, {:.0} items per hour. The demo's cache is removed now: nothing was kept. Pull a batch (verdict pull FILE) to label for real.",
            crate::safe::count(summary.done as u64, "item", "items"),
            summary.median_secs,
            summary.per_hour,
        );
        return Ok(());
    }
    crate::outln!(
        "Session: {} done, median {:.0} s per item, {:.0} items per hour. {} not yet exported{}",
        crate::safe::count(summary.done as u64, "item", "items"),
        summary.median_secs,
        summary.per_hour,
        crate::safe::count(summary.unexported, "finished item", "finished items"),
        if summary.unexported > 0 {
            " (verdict export)."
        } else {
            "."
        }
    );
    Ok(())
}

/// Prints the effective keymap.
pub fn keys(env: &Env) -> anyhow::Result<()> {
    let keymap = tui::keymap::Keymap::load_from(&env.config_dir)?;
    crate::safe::out_text(&keymap.to_toml());
    Ok(())
}
