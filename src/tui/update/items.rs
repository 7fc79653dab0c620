//! Moving between items, and what the cache answered about them.

use super::{Effect, say};
use crate::tui::action::{Command, Reply};
use crate::tui::editor::Editor;
use crate::tui::markdown::Guide;
use crate::tui::state::{JustFinished, Overlay, Pane, State, Status};

/// Counts the active time since the last count into the current item and returns it as
/// an effect (idle stretches do not count).
pub(super) fn flush_active(state: &mut State) -> Vec<Effect> {
    let Some(item) = &state.item else {
        return vec![];
    };
    let ms = state.active_pending_ms + (state.now_ms - state.active_since_ms).max(0);
    state.active_pending_ms = 0;
    state.active_since_ms = state.now_ms;
    if ms == 0 {
        return vec![];
    }
    vec![Effect::AddActive(item.key, ms)]
}

/// Leaves the current item (saving time and an open edit) and loads the one at `pos`.
pub fn go_to(state: &mut State, pos: usize) -> Vec<Effect> {
    let mut fx = leave_item(state);
    if let Some(e) = state.queue.get(pos) {
        state.pos = pos;
        fx.push(Effect::Load(e.key));
        fx.push(Effect::SavePosition(e.key));
    }
    fx
}

/// Saves the time spent and an open edit of the current item.
pub(super) fn leave_item(state: &mut State) -> Vec<Effect> {
    let mut fx = flush_active(state);
    if state.editing() {
        state.set_editing(false);
        if let Some(item) = &state.item {
            fx.push(Effect::SetJustification(
                item.key,
                state.editor.text().to_string(),
            ));
        }
    }
    fx
}

/// The position of the next unfinished item after the current one (wrapping).
pub fn next_unfinished(state: &State) -> Option<usize> {
    let n = state.queue.len();
    (1..=n)
        .map(|i| (state.pos + i) % n)
        .find(|i| state.queue[*i].status == Status::Draft)
}

/// The first question of the current item without an answer (else the first).
pub(super) fn first_open_question(state: &State) -> usize {
    let Some(item) = &state.item else { return 0 };
    state
        .asked()
        .iter()
        .position(|q| !item.annotation.answers.contains_key(&q.id))
        .unwrap_or(0)
}

/// An item was loaded: resets what belongs to one item. A justification that was being
/// typed when the workstation last stopped (killed, the machine off) comes back in the
/// open editor. Returns the effect that brings the item's guidelines.
fn loaded(state: &mut State, item: crate::store::StoredItem) -> Vec<Effect> {
    // What was said belongs to the item (and the action) that caused it: another item
    // starts with a clean line.
    if state.item.as_ref().is_some_and(|i| i.key != item.key) {
        state.message = None;
    }
    state.editor = Editor::new(&item.annotation.justification);
    state.revealed = false;
    state.guide_followed = false;
    state.optional_touched = false;
    state.set_editing(false);
    if let Some(draft) = item
        .draft
        .as_deref()
        .filter(|d| *d != item.annotation.justification)
    {
        state.editor = Editor::new(draft);
        state.set_editing(true);
        say(
            state,
            format!(
                "restored the justification you were typing when verdict last stopped; {} saves it",
                state.keymap.key_of(Command::LeaveEditor)
            ),
            false,
        );
    }
    state.active_since_ms = state.now_ms;
    state.active_pending_ms = 0;
    // Every pane starts at the top (the guidelines keep their place: they are the
    // batch's, not the item's).
    state.scroll.clear();
    // A long conversation opens at its end: the turn the response answers. (The view
    // clamps the offset to the last page.)
    if item.content.conversation.len() > 1 {
        state.scroll.insert(Pane::Conversation, usize::MAX);
    }
    if let Some(pos) = state.queue.iter().position(|e| e.key == item.key) {
        state.pos = pos;
        state.queue[pos].status = item.annotation.status;
    }
    let batch = item.batch_id.clone();
    state.item = Some(item);
    state.question = first_open_question(state);
    state.shown += 1;
    vec![Effect::FollowGuidelines(batch)]
}

/// The item on screen is shown again as stored because the cache changed under it
/// (another process wrote to it, or a write was refused): the stored work is shown, but
/// text being typed stays in the editor, and the panes keep their place.
fn reloaded(state: &mut State, item: crate::store::StoredItem) -> Vec<Effect> {
    let (editing, editor) = (state.editing(), state.editor.clone());
    let (scroll, revealed) = (state.scroll.clone(), state.revealed);
    let same = state.item.as_ref().is_some_and(|i| i.key == item.key);
    let mut fx = loaded(state, item);
    if same {
        // The same item shown again: its batch's guidelines are those in the panel (a
        // change of them, shown now, would cover a prompt the rater is typing in).
        fx.retain(|e| !matches!(e, Effect::FollowGuidelines(_)));
    }
    if editing {
        state.set_editing(true);
        state.editor = editor;
    }
    if same {
        state.scroll = scroll;
        state.revealed = revealed;
    }
    fx
}

/// A write to an item was stored: the screen shows the work as stored (status,
/// revision, version). A change that reopened a finished item says so.
fn saved(state: &mut State, key: i64, annotation: crate::store::Annotation) {
    let Some(item) = state.item.as_mut().filter(|i| i.key == key) else {
        return;
    };
    let reopened = item.annotation.status.finished() && !annotation.status.finished();
    let id = item.item_id.clone();
    let progress = annotation.status;
    item.annotation = annotation;
    if let Some(e) = state.queue.iter_mut().find(|e| e.key == key) {
        e.status = progress;
    }
    if reopened {
        let submit = state.keymap.key_of(Command::Submit);
        say(
            state,
            format!("{id} reopened: {submit} submits the change"),
            false,
        );
    }
}

/// A submit (or skip) was stored: count it and move on.
fn finished(state: &mut State, skipped: bool) -> Vec<Effect> {
    let Some(item) = &state.item else {
        return vec![];
    };
    // What was said about this item (reopened, say) does not follow the rater.
    state.message = None;
    let key = item.key;
    let active = item.annotation.active_ms;
    state.session.durations.insert(key, active);
    if let Some(e) = state.queue.iter_mut().find(|e| e.key == key) {
        e.status = if skipped {
            Status::Skipped
        } else {
            Status::Done
        };
    }
    match next_unfinished(state) {
        Some(pos) => {
            let just = state.item.as_ref().map(|i| JustFinished {
                key: i.key,
                id: i.item_id.clone(),
                batch: i.batch_id.clone(),
                version: i.annotation.version,
                skipped,
                flagged: i.annotation.flag.as_ref().map(|f| f.0.clone()),
            });
            let fx = go_to(state, pos);
            state.just_finished = just;
            fx
        }
        None => {
            say(
                state,
                "Every item is finished. Export with: verdict export",
                false,
            );
            vec![Effect::Load(key)]
        }
    }
}

/// After a refused or failed write: a quit is not a quit (the rater reads why first),
/// and the justification the write held goes back into the open editor.
fn keep_typed(state: &mut State, typed: Option<String>) {
    state.quit = false;
    if let Some(text) = typed {
        state.set_editing(true);
        state.editor = Editor::new(&text);
    }
}

/// What the cache answered.
pub(super) fn reply(state: &mut State, reply: Reply) -> Vec<Effect> {
    match reply {
        Reply::Loaded(item) => loaded(state, item),
        Reply::Guidelines { document, change } => {
            if let Some((text, sha)) = document {
                state.guide = Guide::parse(&text);
                state.guide_sha = sha;
                state.guide_line = 0;
            }
            if let Some(lines) = change {
                state.open(Overlay::Changes(lines, 0));
            }
            vec![]
        }
        Reply::Saved(key, annotation) => {
            saved(state, key, annotation);
            vec![]
        }
        Reply::Flagged(key, annotation, reason) => {
            // A flag on the item just submitted: the rater is told which item it went to.
            let elsewhere = state
                .just_finished
                .take()
                .filter(|j| j.key == key && state.item.as_ref().is_some_and(|i| i.key != key));
            saved(state, key, annotation);
            let text = match elsewhere {
                Some(j) => format!(
                    "flagged {} (the item you just {}) for the policy team ({reason})",
                    j.id,
                    if j.skipped { "skipped" } else { "submitted" }
                ),
                None => format!("flagged for the policy team ({reason})"),
            };
            say(state, text, false);
            vec![]
        }
        Reply::ActiveAdded(key, ms) => {
            if let Some(item) = state.item.as_mut().filter(|i| i.key == key) {
                item.annotation.active_ms += ms;
            }
            vec![]
        }
        Reply::Finished {
            key,
            annotation,
            skipped,
            unexported,
        } => {
            saved(state, key, annotation);
            state.unexported = unexported;
            finished(state, skipped)
        }
        Reply::Incomplete(problems) => {
            let hint = if problems.iter().any(|p| p.contains("justification")) {
                format!(
                    " (press {} to write it)",
                    state.keymap.key_of(Command::EditJustification)
                )
            } else {
                String::new()
            };
            say(
                state,
                format!("Not submitted: {}{hint}", problems.join("; ")),
                true,
            );
            vec![]
        }
        Reply::Found(text, hits) => search_results(state, &text, &hits),
        Reply::Stats(lines) => {
            state.open(Overlay::Stats(lines, 0));
            vec![]
        }
        Reply::NothingToRevert { redo } => {
            say(
                state,
                format!("nothing to {}", if redo { "redo" } else { "undo" }),
                false,
            );
            vec![]
        }
        Reply::Reverted {
            redo,
            action,
            changes,
            fields,
            item,
            unexported,
        } => {
            state.unexported = unexported;
            if !item.annotation.status.finished() {
                state.session.durations.remove(&item.key);
            }
            let name = item.item_id.clone();
            // What was taken back, in the rater's words: question labels, not ids.
            let what: Vec<String> = fields
                .iter()
                .map(|f| match f.strip_prefix("answer:") {
                    Some(q) => item
                        .schema
                        .question(q)
                        .map(|q| q.label.clone())
                        .unwrap_or_else(|| q.to_string()),
                    None => match f.as_str() {
                        "status" => "the submit or skip".to_string(),
                        "skip_reason" => "the skip reason".to_string(),
                        "flag" => "the flag".to_string(),
                        "justification" => "the justification".to_string(),
                        other => other.to_string(),
                    },
                })
                .map(|w| crate::safe::sanitize_line(&w))
                .collect();
            let fx = loaded(state, item);
            say(
                state,
                format!(
                    "{} on {name}: {} ({}, action #{action})",
                    if redo { "redid" } else { "undid" },
                    what.join(", "),
                    crate::safe::count(changes as u64, "change", "changes")
                ),
                false,
            );
            fx
        }
        Reply::Conflict {
            name,
            status,
            revision,
            elsewhere: true,
            ..
        } => {
            state.quit = false;
            state.just_finished = None;
            say(
                state,
                format!(
                    "{name} was changed in another verdict process since you finished it (now {status}, rev {revision}): the flag was not stored; open it ({} or /) to see it and flag it there",
                    state.keymap.key_of(Command::PrevItem)
                ),
                true,
            );
            vec![]
        }
        Reply::Conflict {
            name,
            item,
            status,
            revision,
            typed,
            ..
        } => {
            keep_typed(state, typed);
            let editing = state.editing();
            let fx = item.map(|i| reloaded(state, i)).unwrap_or_default();
            let what = if editing {
                format!(
                    "your text is kept in the editor, unsaved ({} saves it)",
                    state.keymap.key_of(Command::LeaveEditor)
                )
            } else {
                "your key was not applied".into()
            };
            say(
                state,
                format!(
                    "{name} was changed in another verdict process (now {status}, rev {revision}): shown as stored; {what}"
                ),
                true,
            );
            fx
        }
        Reply::Failed { error, item, typed } => {
            keep_typed(state, typed);
            // What is on screen must match what is stored: reload after a failed write.
            let fx = item.map(|i| reloaded(state, i)).unwrap_or_default();
            say(state, error, true);
            fx
        }
        Reply::Outside {
            queue,
            changed,
            unexported,
            item,
        } => {
            if let Some(queue) = queue {
                let current = state.item.as_ref().map(|i| i.key);
                state.queue = queue;
                if let Some(pos) = current.and_then(|k| state.queue.iter().position(|e| e.key == k))
                {
                    state.pos = pos;
                }
            }
            for (key, progress) in changed {
                if let Some(e) = state.queue.iter_mut().find(|e| e.key == key) {
                    e.status = progress;
                }
            }
            state.unexported = unexported;
            let Some(item) = item else {
                return vec![];
            };
            let name = item.item_id.clone();
            let (status, revision) = (item.annotation.status, item.annotation.revision);
            let editing = state.editing();
            let fx = reloaded(state, item);
            let tail = if editing {
                format!(
                    "; your text is kept in the editor, unsaved ({} saves it)",
                    state.keymap.key_of(Command::LeaveEditor)
                )
            } else {
                String::new()
            };
            say(
                state,
                format!(
                    "{name} was changed in another verdict process (now {status}, rev {revision}){tail}"
                ),
                true,
            );
            fx
        }
        Reply::Note(text, error) => {
            say(state, text, error);
            vec![]
        }
    }
}

/// The items a search found: goes to the first one after the current item, wrapping
/// around.
fn search_results(state: &mut State, text: &str, found: &crate::store::SearchHits) -> Vec<Effect> {
    // An item whose id is the query comes first (`42` is item 42, not 142).
    if let Some(pos) = found
        .by_id
        .iter()
        .find_map(|k| state.queue.iter().position(|e| e.key == *k))
    {
        let fx = go_to(state, pos);
        say(state, format!("item '{text}'"), false);
        return fx;
    }
    let hits: std::collections::HashSet<i64> = found.by_text.iter().copied().collect();
    let partial = if found.not_searched > 0 {
        format!(
            "; the search index is still being built: {} not searched yet, try again in a few seconds",
            crate::safe::count(found.not_searched as u64, "item", "items")
        )
    } else {
        String::new()
    };
    let n = state.queue.len();
    let next = (1..=n)
        .map(|i| (state.pos + i) % n)
        .find(|i| hits.contains(&state.queue[*i].key));
    match next {
        Some(pos) => {
            let fx = go_to(state, pos);
            say(
                state,
                format!(
                    "'{text}': {} ({} then enter on the empty prompt: the next){partial}",
                    crate::safe::count(hits.len() as u64, "matching item", "matching items"),
                    state.keymap.key_of(Command::SearchQueue)
                ),
                false,
            );
            fx
        }
        None => {
            say(state, format!("no item matches '{text}'{partial}"), true);
            vec![]
        }
    }
}
