//! update(): state and action in, state changed and effects out. No I/O here: the loop
//! runs the effects against the cache and reports back through [`super::app`].

use super::action::{Action, Command, EditKey};
use super::editor::Editor;
use super::state::{Message, Overlay, Pane, Progress, PromptKind, State};
use crate::model::Answer;

/// Work for the loop: writes to the cache and loads from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Load this item and show it.
    Load(i64),
    /// Set or clear an answer.
    SetAnswer(i64, String, Option<Answer>),
    /// Submit; on success, go to the next unfinished item.
    Submit(i64),
    /// Skip with a reason, then go on.
    Skip(i64, String),
    /// Flag with a reason, a note and the guideline section in view.
    Flag(i64, String, String, Option<String>),
    /// Save the justification draft (no event).
    SaveDraft(i64, String),
    /// Record the finished justification edit (with an event).
    SetJustification(i64, String),
    /// Add active time to an item.
    AddActive(i64, i64),
    /// Undo the last action.
    Undo,
    /// Redo.
    Redo,
    /// Remember the current item for the next start.
    SavePosition(i64),
    /// Find the next item (after the current one) whose id or text contains this.
    Search(String),
    /// Show the rater's own figures.
    ShowStats,
}

/// Keys idle longer than this stop counting as active time.
pub const IDLE_MS: i64 = 60_000;
/// A gap longer than this ends a stretch of continuous labeling.
pub const BREAK_RESET_MS: i64 = 5 * 60_000;

fn say(state: &mut State, text: impl Into<String>, error: bool) {
    state.message = Some(Message {
        text: text.into(),
        error,
    });
}

/// Counts the active time since the last count into the current item and returns it as
/// an effect (idle stretches do not count).
pub fn flush_active(state: &mut State) -> Vec<Effect> {
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

fn leave_item(state: &mut State) -> Vec<Effect> {
    let mut fx = flush_active(state);
    if state.editing {
        state.editing = false;
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
        .find(|i| state.queue[*i].progress == Progress::Todo)
}

/// Called by the loop when an item is loaded: resets what belongs to one item. A
/// justification that was being typed when the workstation last stopped (killed, the
/// machine off) comes back in the open editor.
pub fn loaded(state: &mut State, item: crate::store::StoredItem) {
    // What was said belongs to the item (and the action) that caused it: another item
    // starts with a clean line.
    if state.item.as_ref().is_some_and(|i| i.key != item.key) {
        state.message = None;
    }
    state.editor = Editor::new(&item.annotation.justification);
    state.revealed = false;
    state.guide_followed = false;
    state.optional_touched = false;
    state.editing = false;
    if let Some(draft) = item
        .draft
        .as_deref()
        .filter(|d| *d != item.annotation.justification)
    {
        state.editor = Editor::new(draft);
        state.editing = true;
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
    for p in [
        Pane::Conversation,
        Pane::ResponseA,
        Pane::ResponseB,
        Pane::Review,
    ] {
        state.scroll.remove(&p);
    }
    // A long conversation opens at its end: the turn the response answers. (The view
    // clamps the offset to the last page.)
    if item.content.conversation.len() > 1 {
        state.scroll.insert(Pane::Conversation, usize::MAX);
    }
    if let Some(pos) = state.queue.iter().position(|e| e.key == item.key) {
        state.pos = pos;
        state.queue[pos].progress = Progress::of(&item.annotation.status);
    }
    state.item = Some(item);
    state.question = first_open_question(state);
    state.wrap_cache.borrow_mut().clear();
}

/// Called by the loop when the item on screen is shown again as stored because the cache
/// changed under it (another process wrote to it, or a write was refused): the stored
/// work is shown, but text being typed stays in the editor, and the panes keep their
/// place.
pub fn reloaded(state: &mut State, item: crate::store::StoredItem) {
    let (editing, editor) = (state.editing, state.editor.clone());
    let (scroll, revealed) = (state.scroll.clone(), state.revealed);
    let same = state.item.as_ref().is_some_and(|i| i.key == item.key);
    loaded(state, item);
    if editing {
        state.editing = true;
        state.editor = editor;
    }
    if same {
        state.scroll = scroll;
        state.revealed = revealed;
    }
}

/// Called by the loop when a write to an item was stored: the screen shows the work as
/// stored (status, revision, version). A change that reopened a finished item says so.
pub fn saved(state: &mut State, key: i64, annotation: crate::store::Annotation) {
    let Some(item) = state.item.as_mut().filter(|i| i.key == key) else {
        return;
    };
    let reopened = item.annotation.status != "draft" && annotation.status == "draft";
    let id = item.item_id.clone();
    let progress = Progress::of(&annotation.status);
    item.annotation = annotation;
    if let Some(e) = state.queue.iter_mut().find(|e| e.key == key) {
        e.progress = progress;
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

fn first_open_question(state: &State) -> usize {
    let Some(item) = &state.item else { return 0 };
    state
        .asked()
        .iter()
        .position(|q| !item.annotation.answers.contains_key(&q.id))
        .unwrap_or(0)
}

/// Called by the loop after a submit (or skip) was stored: count it and move on.
pub fn finished(state: &mut State, skipped: bool) -> Vec<Effect> {
    let Some(item) = &state.item else {
        return vec![];
    };
    // What was said about this item (reopened, say) does not follow the rater.
    state.message = None;
    let key = item.key;
    let active = item.annotation.active_ms;
    state.session.durations.insert(key, active);
    if let Some(e) = state.queue.iter_mut().find(|e| e.key == key) {
        e.progress = if skipped {
            Progress::Skipped
        } else {
            Progress::Done
        };
    }
    match next_unfinished(state) {
        Some(pos) => go_to(state, pos),
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

fn apply_preset(state: &mut State, index: usize) -> Vec<Effect> {
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

/// Review: takes rater `n`'s (1-based) answers as the final answers and submits, in one
/// undoable action. Answers of the rater's that no longer apply are dropped by the submit
/// as for any other; the reviewer's own justification (their reason) is kept.
fn confirm_rater(state: &mut State, n: usize) -> Vec<Effect> {
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
                "there is no rater {n}: this item has {} rater{}",
                review.raters.len(),
                if review.raters.len() == 1 { "" } else { "s" }
            ),
            true,
        );
        return vec![];
    };
    if rater.status != "done" {
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

fn choose(state: &mut State, c: char) -> Vec<Effect> {
    let Some(value) = state.option_for_key(c) else {
        return vec![];
    };
    let Some(q) = state.focused_question().cloned() else {
        return vec![];
    };
    let Some(item) = &mut state.item else {
        return vec![];
    };
    let new = State::toggled(&q, item.annotation.answers.get(&q.id), &value);
    if q.kind == crate::model::Kind::Multi && !q.required {
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
    let settled = q.kind == crate::model::Kind::Single || q.exclusive.contains(&value);
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
        if complete && state.settings.auto_advance && !state.optional_touched {
            fx.extend(flush_active(state));
            fx.push(Effect::Submit(key));
        } else {
            if complete && state.settings.auto_advance {
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

fn scroll(state: &mut State, delta: isize) {
    let page = (state.size.1 as isize / 3).max(3);
    let max = state
        .max_scroll
        .borrow()
        .get(&state.focus)
        .copied()
        .unwrap_or(0) as isize;
    let cur = (state.scroll_of(state.focus) as isize).min(max);
    let next = match delta {
        isize::MIN => 0,
        isize::MAX => max,
        d => (cur + d * page).clamp(0, max),
    };
    state.scroll.insert(state.focus, next as usize);
}

fn open_prompt(state: &mut State, kind: PromptKind) {
    state.overlay = Some(Overlay::Prompt(kind, Editor::default()));
}

fn edit(editor: &mut Editor, k: EditKey) {
    match k {
        EditKey::Backspace => editor.backspace(),
        EditKey::Delete => editor.delete(),
        EditKey::Left => editor.left(),
        EditKey::Right => editor.right(),
        EditKey::WordLeft => editor.word_left(),
        EditKey::WordRight => editor.word_right(),
        EditKey::DeleteWordBack => editor.delete_word_back(),
        EditKey::Home => editor.home(),
        EditKey::End => editor.end(),
        EditKey::Up => editor.up(),
        EditKey::Down => editor.down(),
        EditKey::Enter => editor.insert("\n"),
    }
}

fn prompt_enter(state: &mut State, kind: PromptKind, text: String) -> Vec<Effect> {
    state.overlay = None;
    let Some(key) = state.item.as_ref().map(|i| i.key) else {
        return vec![];
    };
    match kind {
        PromptKind::SkipReason => {
            if text.trim().is_empty() {
                say(state, "a skip needs a reason", true);
                open_prompt(state, PromptKind::SkipReason);
                return vec![];
            }
            let mut fx = flush_active(state);
            fx.push(Effect::Skip(key, text.trim().to_string()));
            fx
        }
        PromptKind::FlagReason => vec![],
        PromptKind::FlagNote(reason) => vec![Effect::Flag(
            key,
            reason,
            text.trim().to_string(),
            state
                .guide_followed
                .then(|| state.guide.section_at(state.guide_line))
                .flatten(),
        )],
        PromptKind::SearchQueue => {
            if text.trim().is_empty() {
                return vec![];
            }
            vec![Effect::Search(text)]
        }
        PromptKind::SearchGuidelines => {
            state.show_guidelines = true;
            let from = (state.guide_line + 1) % state.guide.lines.len().max(1);
            match state.guide.find(&text, from) {
                Some(line) => {
                    state.guide_line = line;
                    state.guide_followed = true;
                    say(
                        state,
                        format!("guidelines: '{text}' found (ctrl-f, enter for the next)"),
                        false,
                    );
                }
                None => say(state, format!("'{text}' is not in the guidelines"), true),
            }
            vec![]
        }
    }
}

/// Runs one action.
pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    if !matches!(action, Action::Tick | Action::Resize(..)) {
        // A long pause ends the stretch of continuous labeling and is not active time.
        if state.now_ms - state.last_input_ms > BREAK_RESET_MS {
            state.session.stretch_since_ms = state.now_ms;
        }
        if state.now_ms - state.last_input_ms > IDLE_MS {
            // Keep the active time up to the last key; the idle gap after it is dropped.
            state.active_pending_ms += (state.last_input_ms - state.active_since_ms).max(0);
            state.active_since_ms = state.now_ms;
        }
        state.last_input_ms = state.now_ms;
        if !matches!(action, Action::Type(_) | Action::Edit(_)) {
            state.message = None;
        }
    }
    match action {
        Action::Resize(w, h) => {
            state.size = (w, h);
            vec![]
        }
        Action::Tick => {
            let limit = state.settings.break_minutes * 60_000;
            if limit > 0
                && state.overlay.is_none()
                && state.now_ms - state.session.stretch_since_ms >= limit
            {
                state.overlay = Some(Overlay::Break);
            }
            vec![]
        }
        Action::Edit(k @ (EditKey::Down | EditKey::Up))
            if matches!(
                state.overlay,
                Some(Overlay::Help(_) | Overlay::Stats(..) | Overlay::Changes(..))
            ) =>
        {
            if let Some(Overlay::Help(top) | Overlay::Stats(_, top) | Overlay::Changes(_, top)) =
                &mut state.overlay
            {
                *top = if k == EditKey::Down {
                    *top + 5
                } else {
                    top.saturating_sub(5)
                };
            }
            vec![]
        }
        Action::Dismiss => {
            if state.overlay == Some(Overlay::Break) {
                state.session.stretch_since_ms = state.now_ms;
            }
            state.overlay = None;
            vec![]
        }
        Action::Type(s) => match &mut state.overlay {
            Some(Overlay::Prompt(PromptKind::FlagReason, _)) => {
                let reasons = state
                    .item
                    .as_ref()
                    .map(|i| i.schema.escalation_reasons.clone())
                    .unwrap_or_default();
                let pick = s
                    .chars()
                    .next()
                    .and_then(|c| c.to_digit(10))
                    .and_then(|d| reasons.get((d as usize).wrapping_sub(1)));
                if let Some(r) = pick {
                    state.overlay = Some(Overlay::Prompt(
                        PromptKind::FlagNote(r.value.clone()),
                        Editor::default(),
                    ));
                }
                vec![]
            }
            Some(Overlay::Prompt(_, ed)) => {
                ed.insert(&s.replace('\n', " "));
                vec![]
            }
            _ if state.editing => {
                state.editor.insert(&s);
                state
                    .item
                    .as_ref()
                    .map(|i| vec![Effect::SaveDraft(i.key, state.editor.text().to_string())])
                    .unwrap_or_default()
            }
            _ => vec![],
        },
        Action::Edit(k) => match &mut state.overlay {
            Some(Overlay::Prompt(kind, ed)) => {
                if k == EditKey::Enter {
                    let (kind, text) = (kind.clone(), ed.text().to_string());
                    prompt_enter(state, kind, text)
                } else {
                    edit(ed, k);
                    vec![]
                }
            }
            _ if state.editing => {
                // Up and down move by the rows the rater sees (the text wrapped to the
                // editor pane's width), not by source line.
                let width = || {
                    let (w, h) = state.size;
                    let areas =
                        crate::tui::view::layout(ratatui::layout::Rect::new(0, 0, w, h), state);
                    areas.editor.width.saturating_sub(2) as usize
                };
                match k {
                    EditKey::Up if state.size.0 > 0 => {
                        let w = width();
                        state.editor.up_in(w);
                    }
                    EditKey::Down if state.size.0 > 0 => {
                        let w = width();
                        state.editor.down_in(w);
                    }
                    _ => edit(&mut state.editor, k),
                }
                let changes = !matches!(
                    k,
                    EditKey::Left
                        | EditKey::Right
                        | EditKey::WordLeft
                        | EditKey::WordRight
                        | EditKey::Home
                        | EditKey::End
                        | EditKey::Up
                        | EditKey::Down
                );
                match (&state.item, changes) {
                    (Some(i), true) => {
                        vec![Effect::SaveDraft(i.key, state.editor.text().to_string())]
                    }
                    _ => vec![],
                }
            }
            _ => vec![],
        },
        Action::Choose(c) => choose(state, c),
        Action::Run(cmd) => run(state, cmd),
    }
}

fn run(state: &mut State, cmd: Command) -> Vec<Effect> {
    let key = state.item.as_ref().map(|i| i.key);
    match cmd {
        Command::Submit => match key {
            Some(k) => {
                let mut fx = leave_item(state);
                fx.push(Effect::Submit(k));
                fx
            }
            None => vec![],
        },
        Command::Preset1 => apply_preset(state, 0),
        Command::Preset2 => apply_preset(state, 1),
        Command::AcceptSuggestions => {
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
            for (q, a) in sugg {
                item.annotation.answers.insert(q.clone(), a.clone());
                fx.push(Effect::SetAnswer(k, q, Some(a)));
            }
            state.question = first_open_question(state);
            fx
        }
        Command::NextItem => {
            if state.pos + 1 < state.queue.len() {
                go_to(state, state.pos + 1)
            } else {
                say(state, "this is the last item", false);
                vec![]
            }
        }
        Command::PrevItem => {
            if state.pos > 0 {
                go_to(state, state.pos - 1)
            } else {
                say(state, "this is the first item", false);
                vec![]
            }
        }
        Command::NextUnfinished => match next_unfinished(state) {
            Some(p) => go_to(state, p),
            None => {
                say(state, "no unfinished item", false);
                vec![]
            }
        },
        Command::QuestionNext => {
            let n = state.asked().len();
            state.question = (state.question + 1).min(n.saturating_sub(1));
            state.focus = Pane::Labels;
            vec![]
        }
        Command::QuestionPrev => {
            state.question = state.question.saturating_sub(1);
            state.focus = Pane::Labels;
            vec![]
        }
        Command::FocusNext | Command::FocusPrev => {
            let panes = state.panes();
            let i = panes.iter().position(|p| *p == state.focus).unwrap_or(0);
            let n = panes.len();
            let j = if cmd == Command::FocusNext {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            state.focus = panes[j];
            vec![]
        }
        Command::ScrollDown => {
            scroll_pane(state, 1);
            vec![]
        }
        Command::ScrollUp => {
            scroll_pane(state, -1);
            vec![]
        }
        Command::ScrollTop => {
            scroll_pane(state, isize::MIN);
            vec![]
        }
        Command::ScrollBottom => {
            scroll_pane(state, isize::MAX);
            vec![]
        }
        Command::EditJustification => {
            if state.item.is_some() {
                state.editing = true;
            }
            vec![]
        }
        Command::LeaveEditor => {
            state.editing = false;
            key.map(|k| vec![Effect::SetJustification(k, state.editor.text().to_string())])
                .unwrap_or_default()
        }
        Command::Snippet1
        | Command::Snippet2
        | Command::Snippet3
        | Command::Snippet4
        | Command::Snippet5 => {
            let i = [
                Command::Snippet1,
                Command::Snippet2,
                Command::Snippet3,
                Command::Snippet4,
                Command::Snippet5,
            ]
            .iter()
            .position(|c| *c == cmd)
            .unwrap_or(0);
            let snippet = state
                .item
                .as_ref()
                .and_then(|it| it.schema.justification.snippets.get(i).cloned());
            match (snippet, key, state.editing) {
                (Some(s), Some(k), true) => {
                    state.editor.insert(&s);
                    vec![Effect::SaveDraft(k, state.editor.text().to_string())]
                }
                _ => vec![],
            }
        }
        Command::ToggleGuidelines => {
            state.show_guidelines = !state.show_guidelines;
            if !state.show_guidelines && state.focus == Pane::Guidelines {
                state.focus = Pane::Labels;
            }
            vec![]
        }
        Command::SearchGuidelines => {
            open_prompt(state, PromptKind::SearchGuidelines);
            vec![]
        }
        Command::SearchQueue => {
            open_prompt(state, PromptKind::SearchQueue);
            vec![]
        }
        Command::Skip => {
            if key.is_some() {
                open_prompt(state, PromptKind::SkipReason);
            }
            vec![]
        }
        Command::Flag => {
            if key.is_some() {
                open_prompt(state, PromptKind::FlagReason);
            }
            vec![]
        }
        Command::Reveal => {
            state.revealed = !state.revealed;
            vec![]
        }
        Command::Undo => {
            let mut fx = leave_item(state);
            fx.push(Effect::Undo);
            fx
        }
        Command::Redo => {
            let mut fx = leave_item(state);
            fx.push(Effect::Redo);
            fx
        }
        Command::ToggleAutoAdvance => {
            state.settings.auto_advance = !state.settings.auto_advance;
            let on = if state.settings.auto_advance {
                "on"
            } else {
                "off"
            };
            say(state, format!("auto-advance {on}"), false);
            vec![]
        }
        Command::Help => {
            state.overlay = Some(Overlay::Help(0));
            vec![]
        }
        Command::Stats => vec![Effect::ShowStats],
        // Read by `resolve` while a prompt or an overlay is open; nothing to do otherwise.
        Command::PromptConfirm
        | Command::PromptCancel
        | Command::OverlayDown
        | Command::OverlayUp => vec![],
        Command::ConfirmRater1 => confirm_rater(state, 1),
        Command::ConfirmRater2 => confirm_rater(state, 2),
        Command::ConfirmRater3 => confirm_rater(state, 3),
        Command::ConfirmRater4 => confirm_rater(state, 4),
        Command::ConfirmRater5 => confirm_rater(state, 5),
        Command::Quit => {
            state.quit = true;
            leave_item(state)
        }
    }
}

/// The guidelines pane scrolls by logical line (the view turns it into a row at its
/// width, so a section stays in view across resizes); other panes scroll by row.
fn scroll_pane(state: &mut State, delta: isize) {
    if state.focus == Pane::Guidelines {
        let cur = state.guide_line;
        let max = state.guide.lines.len().saturating_sub(1);
        let line = match delta {
            isize::MIN => 0,
            isize::MAX => max,
            d => (cur as isize + d * 10).clamp(0, max as isize) as usize,
        };
        state.guide_line = line;
        state.guide_followed = true;
    } else {
        scroll(state, delta);
    }
}

/// Called by the loop with the keys of the items that match a search: goes to the first
/// one after the current item, wrapping around.
pub fn search_results(
    state: &mut State,
    text: &str,
    found: &crate::store::SearchHits,
) -> Vec<Effect> {
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
                    "'{text}': {} (/ and enter: the next){partial}",
                    crate::safe::count(hits.len() as u64, "matching item", "matching items")
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
