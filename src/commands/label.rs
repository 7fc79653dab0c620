//! `verdict label ITEM ...`: the annotation API from the command line, one action.

use super::Env;
use crate::cli::LabelArgs;
use crate::model::{Answer, Kind};
use crate::store::Store;

/// Applies the changes in order (preset, answers, justification, flag), then submits or
/// skips, as one action. Everything is checked first (the preset, each question and
/// option, the flag reason, and with --submit what a submit needs): on any error nothing
/// is changed.
pub fn run(env: &Env, args: &LabelArgs) -> anyhow::Result<()> {
    let mut store = Store::open(&env.data_dir)?;
    store.set_source("label");
    let key = store.find_item_in(args.batch.as_deref(), &args.item)?;
    let item = store.item(key)?;
    let schema = item.schema.clone();
    let name = format!("{}/{}", item.batch_id, item.item_id);
    // The checks, on what the item would hold.
    let mut changes: Vec<(String, Option<Answer>)> = Vec::new();
    if let Some(p) = &args.preset {
        let preset = schema.presets.iter().find(|x| &x.id == p).ok_or_else(|| {
            anyhow::anyhow!(
                "schema {} has no preset '{p}' (presets: {}); nothing was changed",
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
            changes.push((q.clone(), Some(a.clone())));
        }
    }
    for spec in &args.answers {
        let (q, v) = spec.split_once('=').ok_or_else(|| {
            anyhow::anyhow!("--answer '{spec}': expected QUESTION=VALUE; nothing was changed")
        })?;
        let question = schema.question(q).ok_or_else(|| {
            anyhow::anyhow!(
                "schema {} has no question '{q}' (questions: {}); nothing was changed",
                schema.id,
                schema.question_list()
            )
        })?;
        let answer = match (question.kind, v.is_empty()) {
            (_, true) => None,
            (Kind::Single, false) => Some(Answer::One(v.to_string())),
            (Kind::Multi, false) => Some(Answer::Many(
                v.split(',').map(|s| s.trim().to_string()).collect(),
            )),
        };
        let answer = answer
            .map(|a| schema.check_answer(q, &a))
            .transpose()
            .map_err(|e| anyhow::anyhow!("{e}; nothing was changed"))?;
        changes.push((q.to_string(), answer));
    }
    if let Some(reason) = &args.flag
        && !schema.escalation_reasons.iter().any(|r| &r.value == reason)
    {
        anyhow::bail!(
            "'{reason}' is not an escalation reason of schema {} (reasons: {}); nothing was changed",
            schema.id,
            schema
                .escalation_reasons
                .iter()
                .map(|r| r.value.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(reason) = &args.skip
        && reason.trim().is_empty()
    {
        anyhow::bail!("a skip needs a reason; nothing was changed");
    }
    if args.submit {
        let mut answers = item.annotation.answers.clone();
        for (q, a) in &changes {
            match a {
                Some(a) => answers.insert(q.clone(), a.clone()),
                None => answers.remove(q),
            };
        }
        let justification = args
            .justification
            .clone()
            .unwrap_or_else(|| item.annotation.justification.clone());
        let problems = crate::model::submit_problems(
            &schema,
            item.extras.review.as_ref(),
            item.content.is_pairwise(),
            &answers,
            &justification,
        );
        if !problems.is_empty() {
            anyhow::bail!(
                "{name} cannot be submitted: {}. Nothing was changed (without --submit the changes are kept as a draft)",
                problems.join("; ")
            );
        }
    }
    let was = item.annotation.status;
    let action = store.new_action()?;
    for (q, a) in &changes {
        store.set_answer(key, q, a.as_ref(), action)?;
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
    crate::outln!("{name}: {}", now.annotation.status);
    if was.finished() && !now.annotation.status.finished() {
        crate::errln!(
            "note: {name} was {was}; the change reopened it, and it is not exported until it is submitted again (verdict label {} --submit)",
            crate::safe::sanitize_line(&args.item)
        );
    }
    Ok(())
}
