//! Keymap commands.

use super::answers::{accept_suggestions, apply_preset, confirm_rater};
use super::items::{go_to, leave_item, next_unfinished};
use super::keyboard::{open_prompt, scroll_pane};
use super::{Effect, say};
use crate::tui::action::Command;
use crate::tui::state::{Overlay, Pane, PromptKind, State};

/// Runs a keymap command.
pub(super) fn run(state: &mut State, cmd: Command) -> Vec<Effect> {
    let key = state.item.as_ref().map(|i| i.key);
    // An item under a content warning is judged only once seen: no answer, preset or
    // submit goes through while it is masked (a skip does).
    if matches!(
        cmd,
        Command::Submit
            | Command::Preset1
            | Command::Preset2
            | Command::AcceptSuggestions
            | Command::ConfirmRater1
            | Command::ConfirmRater2
            | Command::ConfirmRater3
            | Command::ConfirmRater4
            | Command::ConfirmRater5
    ) && super::answers::refused_while_masked(state)
    {
        return vec![];
    }
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
        Command::AcceptSuggestions => accept_suggestions(state),
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
        Command::ScrollDown => scrolled(state, 1),
        Command::ScrollUp => scrolled(state, -1),
        Command::ScrollTop => scrolled(state, isize::MIN),
        Command::ScrollBottom => scrolled(state, isize::MAX),
        Command::EditJustification => {
            if state.item.is_some() {
                state.set_editing(true);
            }
            vec![]
        }
        Command::LeaveEditor => {
            state.set_editing(false);
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
            match (snippet, key, state.editing()) {
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
        Command::SearchGuidelines => prompt(state, PromptKind::SearchGuidelines),
        Command::SearchQueue => prompt(state, PromptKind::SearchQueue),
        Command::Skip => match state.item.as_ref().map(|i| i.annotation.version) {
            Some(v) => prompt(state, PromptKind::SkipReason(v)),
            None => vec![],
        },
        Command::Flag => match super::keyboard::flag_target(state, true) {
            Some(target) => prompt(state, PromptKind::FlagReason(target)),
            None => vec![],
        },
        Command::PromptOtherItem => {
            super::keyboard::other_flag_target(state);
            vec![]
        }
        Command::Reveal => {
            state.revealed = !state.revealed;
            vec![]
        }
        Command::ViewImage => {
            match state.item.as_ref().map(|i| i.images.len()) {
                None | Some(0) => say(state, "this item has no image", false),
                Some(_) if state.masked() => {
                    let key = state.keymap.key_of(Command::Reveal);
                    say(
                        state,
                        format!(
                            "the images are hidden by the content warning: reveal them first ({key})"
                        ),
                        false,
                    );
                }
                Some(_) => state.open(Overlay::Image(0)),
            }
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
            state.open(Overlay::Help(0));
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

fn scrolled(state: &mut State, delta: isize) -> Vec<Effect> {
    scroll_pane(state, delta);
    vec![]
}

fn prompt(state: &mut State, kind: PromptKind) -> Vec<Effect> {
    open_prompt(state, kind);
    vec![]
}
