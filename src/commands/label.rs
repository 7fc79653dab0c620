//! `verdict label ITEM ...`: the annotation API from the command line, one action.

use super::Env;
use crate::cli::LabelArgs;
use crate::model::{Answer, Kind};
use crate::store::Store;

/// Applies the changes in order (preset, answers, justification, flag), then submits or
/// skips. Each change is committed and logged; a refused submit leaves the changes saved.
pub fn run(env: &Env, args: &LabelArgs) -> anyhow::Result<()> {
    let mut store = Store::open(&env.data_dir)?;
    store.set_source("label");
    let key = store.find_item_in(args.batch.as_deref(), &args.item)?;
    let item = store.item(key)?;
    let schema = item.schema.clone();
    let action = store.new_action()?;
    if let Some(p) = &args.preset {
        let preset = schema.presets.iter().find(|x| &x.id == p).ok_or_else(|| {
            anyhow::anyhow!(
                "schema {} has no preset '{p}' (presets: {})",
                schema.id,
                schema
                    .presets
                    .iter()
                    .map(|x| x.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        for (q, a) in &preset.answers {
            store.set_answer(key, q, Some(a), action)?;
        }
    }
    for spec in &args.answers {
        let (q, v) = spec
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--answer '{spec}': expected QUESTION=VALUE"))?;
        let question = schema
            .question(q)
            .ok_or_else(|| anyhow::anyhow!("schema {} has no question '{q}'", schema.id))?;
        let answer = match (question.kind, v.is_empty()) {
            (_, true) => None,
            (Kind::Single, false) => Some(Answer::One(v.to_string())),
            (Kind::Multi, false) => Some(Answer::Many(
                v.split(',').map(|s| s.trim().to_string()).collect(),
            )),
        };
        store.set_answer(key, q, answer.as_ref(), action)?;
    }
    if let Some(j) = &args.justification {
        store.set_justification(key, j, action)?;
    }
    if let Some(reason) = &args.flag {
        store.flag_in(
            key,
            Some((reason, &args.note)),
            args.section.as_deref(),
            action,
        )?;
    }
    if let Some(secs) = args.active_seconds {
        store.add_active_ms(key, (secs * 1000) as i64)?;
    }
    if let Some(reason) = &args.skip {
        store.skip(key, reason, action)?;
    } else if args.submit {
        store.submit(key, action)?;
    }
    let now = store.item(key)?;
    crate::outln!(
        "{}/{}: {}",
        now.batch_id,
        now.item_id,
        now.annotation.status
    );
    Ok(())
}
