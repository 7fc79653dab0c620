//! Text and movement: the justification editor, one-line prompts, scrolling.

use super::items::flush_active;
use super::{Effect, say};
use crate::tui::action::EditKey;
use crate::tui::editor::Editor;
use crate::tui::state::{FlagTarget, Mode, Overlay, Pane, PromptKind, State};

/// Opens a one-line prompt.
pub(super) fn open_prompt(state: &mut State, kind: PromptKind) {
    state.open(Overlay::Prompt(kind, Editor::default()));
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

fn draft(state: &State) -> Vec<Effect> {
    state
        .item
        .as_ref()
        .map(|i| vec![Effect::SaveDraft(i.key, state.editor.text().to_string())])
        .unwrap_or_default()
}

/// Text typed (or pasted) into whatever has the keyboard.
pub(super) fn typed(state: &mut State, s: String) -> Vec<Effect> {
    match &mut state.mode {
        Mode::Overlay {
            overlay: Overlay::Prompt(PromptKind::FlagReason(target), _),
            ..
        } => {
            let target = target.clone();
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
                state.open(Overlay::Prompt(
                    PromptKind::FlagNote(r.value.clone(), target),
                    Editor::default(),
                ));
            }
            vec![]
        }
        Mode::Overlay {
            overlay: Overlay::Prompt(_, ed),
            ..
        } => {
            ed.insert(&s.replace('\n', " "));
            vec![]
        }
        // Text for the editor, also when an overlay came up over it (a break reminder
        // while typing): a paste is never dropped.
        Mode::Editing | Mode::Overlay { editing: true, .. } => {
            state.editor.insert(&s);
            draft(state)
        }
        _ => vec![],
    }
}

/// An editing key for whatever has the keyboard.
pub(super) fn edit_key(state: &mut State, k: EditKey) -> Vec<Effect> {
    match &mut state.mode {
        Mode::Overlay {
            overlay: Overlay::Prompt(kind, ed),
            ..
        } => {
            if k == EditKey::Enter {
                let (kind, text) = (kind.clone(), ed.text().to_string());
                prompt_enter(state, kind, text)
            } else {
                edit(ed, k);
                vec![]
            }
        }
        Mode::Editing => {
            // Up and down move by the rows the rater sees (the text wrapped to the editor
            // pane's width), not by source line.
            let width = || {
                let (w, h) = state.size;
                let areas = crate::tui::view::layout(ratatui::layout::Rect::new(0, 0, w, h), state);
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
            let moves = matches!(
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
            if moves { vec![] } else { draft(state) }
        }
        _ => vec![],
    }
}

/// Enter in a prompt: what it was for.
fn prompt_enter(state: &mut State, kind: PromptKind, text: String) -> Vec<Effect> {
    state.close_overlay();
    let Some(key) = state.item.as_ref().map(|i| i.key) else {
        return vec![];
    };
    match kind {
        PromptKind::SkipReason(seen) => {
            if text.trim().is_empty() {
                say(state, "a skip needs a reason", true);
                open_prompt(state, PromptKind::SkipReason(seen));
                return vec![];
            }
            let mut fx = flush_active(state);
            fx.push(Effect::Skip(key, text.trim().to_string(), seen));
            fx
        }
        PromptKind::FlagReason(_) => vec![],
        PromptKind::FlagNote(reason, target) => vec![Effect::Flag(
            target.key,
            reason,
            text.trim().to_string(),
            // The section in view is this item's, not the one submitted before it.
            (state.guide_followed && !target.previous)
                .then(|| state.guide.section_at(state.guide_line))
                .flatten(),
            target.version,
        )],
        // Enter on an empty search prompt repeats the last search: the next match.
        PromptKind::SearchQueue => {
            let text = if text.trim().is_empty() {
                state.last_search.0.clone()
            } else {
                text
            };
            if text.trim().is_empty() {
                return vec![];
            }
            state.last_search.0 = text.clone();
            vec![Effect::Search(text)]
        }
        PromptKind::SearchGuidelines => {
            let text = if text.trim().is_empty() {
                state.last_search.1.clone()
            } else {
                text
            };
            if text.trim().is_empty() {
                return vec![];
            }
            state.last_search.1 = text.clone();
            state.show_guidelines = true;
            let from = (state.guide_line + 1) % state.guide.lines.len().max(1);
            match state.guide.find(&text, from) {
                Some(line) => {
                    state.guide_line = line;
                    state.guide_followed = true;
                    say(
                        state,
                        format!(
                            "guidelines: '{text}' found ({} then enter on the empty prompt: the next)",
                            state
                                .keymap
                                .key_of(crate::tui::action::Command::SearchGuidelines)
                        ),
                        false,
                    );
                }
                None => say(state, format!("'{text}' is not in the guidelines"), true),
            }
            vec![]
        }
    }
}

/// Scrolls the focused pane: the guidelines by logical line (the view turns it into a
/// row at its width, so a section stays in view across resizes), other panes by a third
/// of the screen, up to the end the view last reported.
pub(super) fn scroll_pane(state: &mut State, delta: isize) {
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
        return;
    }
    let page = (state.size.1 as isize / 3).max(3);
    let max = state.extents.get(&state.focus).copied().unwrap_or(0) as isize;
    let cur = (state.scroll_of(state.focus) as isize).min(max);
    let next = match delta {
        isize::MIN => 0,
        isize::MAX => max,
        d => (cur + d * page).clamp(0, max),
    };
    state.scroll.insert(state.focus, next as usize);
}

/// The flag's target: the item just submitted when the rater has not acted on the one
/// that followed it (and it is of the same batch) and `previous` asks for it, else the
/// item on screen.
pub(super) fn flag_target(state: &State, previous: bool) -> Option<FlagTarget> {
    let item = state.item.as_ref()?;
    Some(match state.flaggable_previous() {
        Some(j) if previous => FlagTarget {
            key: j.key,
            id: j.id.clone(),
            previous: true,
            version: j.version,
            flagged: j.flagged.clone(),
        },
        _ => FlagTarget {
            key: item.key,
            id: item.item_id.clone(),
            previous: false,
            version: item.annotation.version,
            flagged: item.annotation.flag.as_ref().map(|f| f.0.clone()),
        },
    })
}

/// In the flag prompt: flag the other item (the one just submitted, or the one on screen).
pub(super) fn other_flag_target(state: &mut State) {
    let Mode::Overlay {
        overlay: Overlay::Prompt(PromptKind::FlagReason(t) | PromptKind::FlagNote(_, t), _),
        ..
    } = &state.mode
    else {
        return;
    };
    let want_previous = !t.previous;
    if let Some(next) = flag_target(state, want_previous)
        && let Mode::Overlay {
            overlay: Overlay::Prompt(PromptKind::FlagReason(t) | PromptKind::FlagNote(_, t), _),
            ..
        } = &mut state.mode
    {
        *t = next;
    }
}
