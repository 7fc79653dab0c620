//! `verdict stats`: the rater's own figures (see [`crate::stats`]), as text or JSON.

use super::Env;
use crate::clock::now_ms;
use crate::stats::{gather, text};
use crate::store::Store;

/// Prints the figures.
pub fn run(env: &Env, json: bool) -> anyhow::Result<()> {
    let store = Store::open(&env.data_dir)?;
    let stats = gather(&store, now_ms())?;
    if json {
        crate::outln!("{}", crate::safe::json_pretty(&stats)?);
        return Ok(());
    }
    for l in text(&stats) {
        crate::outln!("{l}");
    }
    Ok(())
}
