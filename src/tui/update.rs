//! update(): state and action in, state changed and effects out. No I/O here: the loop
//! ([`super::app`]) runs the effects against the cache and brings what it answered back
//! as [`Action::Reply`], so that this is the only code that changes the state.
//!
//! By area: [`items`] (moving between items and what the cache answered about them),
//! [`answers`] (choosing options, presets, review confirmations), [`keyboard`] (the
//! editor, prompts, overlays, scrolling), [`commands`] (keymap commands).

mod answers;
mod commands;
mod items;
mod keyboard;

use super::action::{Action, Command, EditKey};
use super::state::{BREAK_RESET_MS, IDLE_MS, Message, Mode, Overlay, PromptKind, State};
use crate::model::Answer;

pub use items::{go_to, next_unfinished};

/// Work for the loop: writes to the cache and loads from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Load this item and show it.
    Load(i64),
    /// Bring the guidelines panel to this batch's document (and show a change of it the
    /// rater has not seen).
    FollowGuidelines(String),
    /// Set or clear an answer.
    SetAnswer(i64, String, Option<Answer>),
    /// Submit; on success, go to the next unfinished item.
    Submit(i64),
    /// Skip with a reason, then go on; the item version the screen showed.
    Skip(i64, String, i64),
    /// Flag with a reason, a note and the guideline section in view; the item version the
    /// screen showed.
    Flag(i64, String, String, Option<String>, i64),
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

/// Puts a message on the message line.
fn say(state: &mut State, text: impl Into<String>, error: bool) {
    state.message = Some(Message {
        text: text.into(),
        error,
    });
}

/// Runs one action.
pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    // A key meant for the item, pressed while looking at its image full-screen, closes
    // the view and does what it does (an answer is never lost to the viewer).
    if matches!(state.overlay(), Some(Overlay::Image(_)))
        && matches!(action, Action::Choose(_) | Action::Run(_))
        && action != Action::Run(Command::ViewImage)
    {
        state.close_overlay();
    }
    let input = !matches!(
        action,
        Action::Tick | Action::Resize(..) | Action::Drawn(_) | Action::Reply(_)
    );
    // The item just submitted stays the flag's target only while the rater flags it.
    let flagging = matches!(action, Action::Run(Command::Flag))
        || matches!(
            state.overlay(),
            Some(Overlay::Prompt(
                PromptKind::FlagReason(_) | PromptKind::FlagNote(..),
                _
            ))
        );
    if input && !flagging {
        state.just_finished = None;
    }
    if input {
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
        Action::Drawn(extents) => {
            state.extents = extents;
            vec![]
        }
        Action::Tick => {
            let limit = state.settings.break_minutes * 60_000;
            if limit > 0
                && state.overlay().is_none()
                && state.now_ms - state.session.stretch_since_ms >= limit
            {
                state.open(Overlay::Break);
            }
            vec![]
        }
        Action::Edit(k @ (EditKey::Down | EditKey::Up))
            if matches!(
                state.overlay(),
                Some(Overlay::Help(_) | Overlay::Stats(..) | Overlay::Changes(..))
            ) =>
        {
            if let Mode::Overlay {
                overlay: Overlay::Help(top) | Overlay::Stats(_, top) | Overlay::Changes(_, top),
                ..
            } = &mut state.mode
            {
                *top = if k == EditKey::Down {
                    *top + 5
                } else {
                    top.saturating_sub(5)
                };
            }
            vec![]
        }
        Action::Edit(k @ (EditKey::Down | EditKey::Up))
            if matches!(state.overlay(), Some(Overlay::Image(_))) =>
        {
            let n = state.item.as_ref().map_or(0, |i| i.images.len()).max(1);
            if let Mode::Overlay {
                overlay: Overlay::Image(i),
                ..
            } = &mut state.mode
            {
                *i = if k == EditKey::Down {
                    (*i + 1) % n
                } else {
                    (*i + n - 1) % n
                };
            }
            vec![]
        }
        Action::Dismiss => {
            if state.overlay() == Some(&Overlay::Break) {
                state.session.stretch_since_ms = state.now_ms;
            }
            state.close_overlay();
            vec![]
        }
        Action::Type(s) => keyboard::typed(state, s),
        Action::Edit(k) => keyboard::edit_key(state, k),
        Action::Choose(c) => answers::choose(state, c),
        Action::Run(cmd) => commands::run(state, cmd),
        Action::Reply(reply) => items::reply(state, *reply),
    }
}
