//! What can happen to the workstation: keymap commands (their snake_case names are the
//! keymap's table names) and the other inputs update() takes.

use super::state::{Pane, QueueEntry, Status};
use crate::store::{Annotation, SearchHits, StoredItem};
use std::collections::HashMap;

macro_rules! commands {
    ($($(#[doc = $doc:literal])* $variant:ident => $name:literal,)*) => {
        /// An action a key can be bound to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Command {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Command {
            /// Every command, in declaration order.
            pub const ALL: &'static [Command] = &[$(Command::$variant,)*];

            /// The stable name used in keymap files.
            pub fn name(self) -> &'static str {
                match self { $(Command::$variant => $name,)* }
            }

            /// The command with this keymap name.
            pub fn from_name(name: &str) -> Option<Command> {
                match name { $($name => Some(Command::$variant),)* _ => None }
            }
        }
    };
}

commands! {
    /// Submit the item (checking the schema's rules) and show the next.
    Submit => "submit",
    /// Apply the schema's first preset for this item's shape, then submit.
    Preset1 => "preset_1",
    /// Apply the schema's second preset for this item's shape, then submit.
    Preset2 => "preset_2",
    /// Take the model suggestions as answers.
    AcceptSuggestions => "accept_suggestions",
    /// Show the next item.
    NextItem => "next_item",
    /// Show the previous item.
    PrevItem => "prev_item",
    /// Jump to the next item that is neither done nor skipped.
    NextUnfinished => "next_unfinished",
    /// Focus the next question.
    QuestionNext => "question_next",
    /// Focus the previous question.
    QuestionPrev => "question_prev",
    /// Focus the next pane.
    FocusNext => "focus_next",
    /// Focus the previous pane.
    FocusPrev => "focus_prev",
    /// Scroll the focused pane down a page.
    ScrollDown => "scroll_down",
    /// Scroll the focused pane up a page.
    ScrollUp => "scroll_up",
    /// Scroll the focused pane to its top.
    ScrollTop => "scroll_top",
    /// Scroll the focused pane to its bottom.
    ScrollBottom => "scroll_bottom",
    /// Give the keyboard to the justification editor.
    EditJustification => "edit_justification",
    /// Take the keyboard back from the editor.
    LeaveEditor => "leave_editor",
    /// Insert snippet 1 in the editor.
    Snippet1 => "snippet_1",
    /// Insert snippet 2 in the editor.
    Snippet2 => "snippet_2",
    /// Insert snippet 3 in the editor.
    Snippet3 => "snippet_3",
    /// Insert snippet 4 in the editor.
    Snippet4 => "snippet_4",
    /// Insert snippet 5 in the editor.
    Snippet5 => "snippet_5",
    /// Show or hide the guidelines panel.
    ToggleGuidelines => "toggle_guidelines",
    /// Search the guidelines.
    SearchGuidelines => "search_guidelines",
    /// Search the queue.
    SearchQueue => "search_queue",
    /// Skip the item with a reason.
    Skip => "skip",
    /// Flag the item for the policy team with a note.
    Flag => "flag",
    /// Reveal an item masked by a content warning.
    Reveal => "reveal",
    /// Show the item's images full-screen, one at a time.
    ViewImage => "view_image",
    /// Undo the last action.
    Undo => "undo",
    /// Redo the last undone action.
    Redo => "redo",
    /// Turn auto-advance on or off.
    ToggleAutoAdvance => "toggle_auto_advance",
    /// Show the help screen.
    Help => "help",
    /// Show your own figures (today, this week, what the hub reports about you).
    Stats => "stats",
    /// In a prompt: confirm what was typed.
    PromptConfirm => "prompt_confirm",
    /// In a prompt: cancel it.
    PromptCancel => "prompt_cancel",
    /// In the flag prompt: switch between the item just submitted and the one on screen.
    PromptOtherItem => "prompt_other_item",
    /// In help and the other scrolling overlays: scroll down.
    OverlayDown => "overlay_down",
    /// In help and the other scrolling overlays: scroll up.
    OverlayUp => "overlay_up",
    /// Review: take rater 1's answers as the final answers and submit.
    ConfirmRater1 => "confirm_rater_1",
    /// Review: take rater 2's answers as the final answers and submit.
    ConfirmRater2 => "confirm_rater_2",
    /// Review: take rater 3's answers as the final answers and submit.
    ConfirmRater3 => "confirm_rater_3",
    /// Review: take rater 4's answers as the final answers and submit.
    ConfirmRater4 => "confirm_rater_4",
    /// Review: take rater 5's answers as the final answers and submit.
    ConfirmRater5 => "confirm_rater_5",
    /// Quit.
    Quit => "quit",
}

/// Everything update() takes: the rater's keys, the terminal, time, and what the cache
/// answered to the effects update asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A keymap command.
    Run(Command),
    /// An option key of the focused question (or of a prompt's choices).
    Choose(char),
    /// Text typed into whatever has the keyboard (editor or prompt).
    Type(String),
    /// An editing key for whatever has the keyboard.
    Edit(EditKey),
    /// Dismiss an overlay (help, break reminder, a prompt).
    Dismiss,
    /// The terminal is now this size.
    Resize(u16, u16),
    /// Time passes (for the clock and the break reminder).
    Tick,
    /// The view drew the screen: the largest scroll offset of each pane at this size.
    Drawn(HashMap<Pane, usize>),
    /// What the cache answered to an effect (or what other processes changed in it).
    Reply(Box<Reply>),
}

/// What the cache answered. The loop runs update's effects against the cache and
/// brings each result back as one of these, so that update is the only code that
/// changes the state.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// An item, loaded to be shown.
    Loaded(StoredItem),
    /// The guidelines of the item's batch: a document to show instead of the one shown
    /// (text and hash), and a change of them the rater has not seen yet (its lines).
    Guidelines {
        /// The document, when it is not the one shown.
        document: Option<(String, Option<String>)>,
        /// The unseen change (now recorded as seen).
        change: Option<Vec<String>>,
    },
    /// A write to an item was stored: the work as stored now.
    Saved(i64, Annotation),
    /// A flag was stored, with this reason.
    Flagged(i64, Annotation, String),
    /// Active time (ms) was added to an item.
    ActiveAdded(i64, i64),
    /// A submit or a skip was stored.
    Finished {
        /// The item.
        key: i64,
        /// Its work as stored.
        annotation: Annotation,
        /// It was a skip.
        skipped: bool,
        /// Finished annotations not yet exported, now.
        unexported: u64,
    },
    /// A submit was refused: what is missing.
    Incomplete(Vec<String>),
    /// The items a queue search found.
    Found(String, SearchHits),
    /// The rater's own figures.
    Stats(Vec<String>),
    /// An undo (or redo) was applied to an item.
    Reverted {
        /// It was a redo.
        redo: bool,
        /// The action number.
        action: i64,
        /// How many changes it took back (or made again).
        changes: usize,
        /// The fields they were of (see [`crate::store::Reverted::fields`]).
        fields: Vec<String>,
        /// The item as stored now.
        item: StoredItem,
        /// Finished annotations not yet exported, now.
        unexported: u64,
    },
    /// There was nothing to undo (or redo).
    NothingToRevert {
        /// It was a redo.
        redo: bool,
    },
    /// A write was refused: another process changed the item since the screen showed it.
    Conflict {
        /// The item's id (or its key, when it could not be read).
        name: String,
        /// The item as stored now, when it could be read.
        item: Option<StoredItem>,
        /// Its status now.
        status: Status,
        /// Its revision now.
        revision: i64,
        /// The justification the refused write held.
        typed: Option<String>,
        /// The write was for another item than the one on screen (a flag on the item just
        /// submitted).
        elsewhere: bool,
    },
    /// A write failed (a full disk, a lock held too long).
    Failed {
        /// Why.
        error: String,
        /// The item as stored, when it could be read.
        item: Option<StoredItem>,
        /// The justification the failed write held.
        typed: Option<String>,
    },
    /// Other processes committed to the cache.
    Outside {
        /// The whole queue, when items came or went.
        queue: Option<Vec<QueueEntry>>,
        /// Items whose progress changed.
        changed: Vec<(i64, Status)>,
        /// Finished annotations not yet exported, now.
        unexported: u64,
        /// The item on screen as stored now, when its stored version moved.
        item: Option<StoredItem>,
    },
    /// Something to tell the rater (start-up notes, an error reading the cache).
    Note(String, bool),
}

/// Editing keys, for the editor and for one-line prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditKey {
    /// Delete back one grapheme.
    Backspace,
    /// Delete forward one grapheme.
    Delete,
    /// One grapheme left.
    Left,
    /// One grapheme right.
    Right,
    /// One word left.
    WordLeft,
    /// One word right.
    WordRight,
    /// Delete back one word.
    DeleteWordBack,
    /// Line start.
    Home,
    /// Line end.
    End,
    /// Line up.
    Up,
    /// Line down.
    Down,
    /// New line (editor) or confirm (prompt).
    Enter,
}
