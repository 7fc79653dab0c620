//! Answering: option keys, presets, suggestions, and a reviewer's confirmation of a
//! rater's answers.

use super::items::{first_open_question, flush_active};
use super::{Effect, say};
use crate::model::{Answer, Kind};
use crate::tui::action::Command;
use crate::tui::state::State;

/// An option key of the focused question: toggles the option; a settled, complete item
/// is submitted when auto-advance is on (and no optional answer was touched).
/// Says why nothing is answered on a masked item, and returns true, while it is masked.
pub(super) fn refused_while_masked(state: &mut State) -> bool {
    if !state.masked() {
        return false;
    }
    let reveal = state.keymap.key_of(crate::tui::action::Command::Reveal);
    let skip = state.keymap.key_of(crate::tui::action::Command::Skip);
    super::say(
        state,
        format!(
            "the item is hidden by its content warning: reveal it ({reveal}) to judge it, or skip it ({skip})"
        ),
        false,
    );
    true
}

pub(super) fn choose(state: &mut State, c: char) -> Vec<Effect> {
    let Some(value) = state.option_for_key(c) else {
        return vec![];
    };
    if refused_while_masked(state) {
        return vec![];
    }
    let Some(q) = state.focused_question().cloned() else {
        return vec![];
    };
    let Some(item) = &mut state.item else {
        return vec![];
    };
    let new = State::toggled(&q, item.annotation.answers.get(&q.id), &value);
    if q.kind == Kind::Multi && !q.required {
        state.optional_touched = true;
    }
    match &new {
        Some(a) => item.annotation.answers.insert(q.id.clone(), a.clone()),
        None => item.annotation.answers.remove(&q.id),
    };
    let key = item.key;
    let mut fx = vec![Effect::SetAnswer(key, q.id.clone(), new.clone())];
    // The guidelines follow the rater to the chosen category's section.
    if let Some(label) = q
        .options
        .iter()
        .find(|o| o.value == value)
        .map(|o| o.label.clone())
        && new
            .as_ref()
            .is_some_and(|a| a.values().contains(&value.as_str()))
        && let Some(line) = state.guide.section(&label)
    {
        state.guide_line = line;
        state.guide_followed = true;
    }
    // A single choice, or an option that stands alone ("none"), settles the question.
    let settled = q.kind == Kind::Single || q.exclusive.contains(&value);
    if settled && new.is_some() {
        let complete = state.item.as_ref().is_some_and(|it| {
            crate::model::submit_problems(
                &it.schema,
                it.extras.review.as_ref(),
                it.content.is_pairwise(),
                &it.annotation.answers,
                state.editor.text(),
            )
            .is_empty()
        });
        // Auto-advance is for the first pass over an item: a correction of an item
        // submitted before is submitted with enter (so that its next keys never land on the
        // next item), and a single-choice question the answer opened (how much better) is
        // answered before the item moves on.
        let (first_pass, open_single) = state.item.as_ref().map_or((true, false), |it| {
            let open = state
                .asked()
                .iter()
                .any(|q| q.kind == Kind::Single && !it.annotation.answers.contains_key(&q.id));
            (it.annotation.revision == 0, open)
        });
        if complete
            && state.settings.auto_advance
            && !state.optional_touched
            && first_pass
            && !open_single
        {
            fx.extend(flush_active(state));
            fx.push(Effect::Submit(key));
        } else {
            if complete && state.settings.auto_advance && !first_pass {
                let submit = state.keymap.key_of(Command::Submit);
                say(
                    state,
                    format!(
                        "a correction: {submit} submits it (auto-advance is for the first pass)"
                    ),
                    false,
                );
            } else if complete && state.settings.auto_advance && state.optional_touched {
                let submit = state.keymap.key_of(Command::Submit);
                say(
                    state,
                    format!(
                        "complete; you set optional answers on this item, so {submit} submits it (auto-advance waits)"
                    ),
                    false,
                );
            }
            // On to the next unanswered question.
            let asked = state.asked();
            let answers = state
                .item
                .as_ref()
                .map(|i| i.annotation.answers.clone())
                .unwrap_or_default();
            if let Some(i) =
                (state.question + 1..asked.len()).find(|i| !answers.contains_key(&asked[*i].id))
            {
                state.question = i;
            }
        }
    }
    let n = state.asked().len();
    state.question = state.question.min(n.saturating_sub(1));
    fx
}

/// A preset: its answers, then a submit (one undoable action).
pub(super) fn apply_preset(state: &mut State, index: usize) -> Vec<Effect> {
    let Some(item) = &state.item else {
        return vec![];
    };
    let pairwise = item.content.is_pairwise();
    let Some(preset) = item
        .schema
        .presets
        .iter()
        .filter(|p| p.applies.covers(pairwise))
        .nth(index)
        .cloned()
    else {
        say(
            state,
            format!("no preset {} for this kind of item", index + 1),
            true,
        );
        return vec![];
    };
    let key = item.key;
    let mut fx = flush_active(state);
    if let Some(item) = &mut state.item {
        for (q, a) in &preset.answers {
            item.annotation.answers.insert(q.clone(), a.clone());
            fx.push(Effect::SetAnswer(key, q.clone(), Some(a.clone())));
        }
    }
    fx.push(Effect::Submit(key));
    fx
}

/// The item's suggestions become its answers.
pub(super) fn accept_suggestions(state: &mut State) -> Vec<Effect> {
    let Some(item) = &mut state.item else {
        return vec![];
    };
    let k = item.key;
    let sugg: Vec<(String, Answer)> = item
        .extras
        .suggestions
        .iter()
        .map(|(q, s)| (q.clone(), s.value.clone()))
        .collect();
    if sugg.is_empty() {
        say(state, "this item has no suggestions", true);
        return vec![];
    }
    let mut fx = Vec::new();
    let mut said = Vec::new();
    for (q, a) in sugg {
        // What changed, by label: the question may be out of view on a small screen.
        if let Some(question) = item.schema.question(&q) {
            let labels: Vec<String> = question
                .options
                .iter()
                .filter(|o| a.values().contains(&o.value.as_str()))
                .map(|o| crate::safe::sanitize_line(&o.label))
                .collect();
            said.push(format!(
                "{} = {}",
                crate::safe::sanitize_line(&question.label),
                labels.join(", ")
            ));
        }
        item.annotation.answers.insert(q.clone(), a.clone());
        fx.push(Effect::SetAnswer(k, q, Some(a)));
    }
    state.question = first_open_question(state);
    say(
        state,
        format!("accepted the suggestions: {}", said.join("; ")),
        false,
    );
    fx
}

/// Review: takes rater `n`'s (1-based) answers as the final answers and submits, in one
/// undoable action. Answers of the rater's that no longer apply are dropped by the submit
/// as for any other; the reviewer's own justification (their reason) is kept.
pub(super) fn confirm_rater(state: &mut State, n: usize) -> Vec<Effect> {
    let Some(item) = &state.item else {
        return vec![];
    };
    let Some(review) = &item.extras.review else {
        say(
            state,
            "confirming a rater's answers is for items under review",
            true,
        );
        return vec![];
    };
    let Some(rater) = review.raters.get(n - 1).cloned() else {
        say(
            state,
            format!(
                "there is no rater {n}: this item has {}",
                crate::safe::count(review.raters.len() as u64, "rater", "raters")
            ),
            true,
        );
        return vec![];
    };
    if rater.status != crate::model::Status::Done {
        say(
            state,
            format!("rater {n} skipped this item: there are no answers to confirm"),
            true,
        );
        return vec![];
    }
    let key = item.key;
    let mut fx = flush_active(state);
    if let Some(item) = &mut state.item {
        let old: Vec<String> = item.annotation.answers.keys().cloned().collect();
        for q in old.iter().filter(|q| !rater.answers.contains_key(*q)) {
            item.annotation.answers.remove(q);
            fx.push(Effect::SetAnswer(key, q.clone(), None));
        }
        for (q, a) in &rater.answers {
            item.annotation.answers.insert(q.clone(), a.clone());
            fx.push(Effect::SetAnswer(key, q.clone(), Some(a.clone())));
        }
    }
    fx.push(Effect::Submit(key));
    fx
}
