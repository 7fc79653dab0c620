//! The workstation's state: one struct, changed only by update(), read by the view.

use super::editor::Editor;
use super::keymap::Keymap;
use super::markdown::Guide;
pub use crate::config::Settings;
use crate::model::{Answer, Kind, Question};
use crate::store::StoredItem;
use std::collections::HashMap;

/// Keys idle longer than this stop counting as active time.
pub const IDLE_MS: i64 = 60_000;
/// A gap longer than this ends a stretch of continuous labeling.
pub const BREAK_RESET_MS: i64 = 5 * 60_000;

pub use crate::model::Status;
pub use crate::store::QueueEntry;

/// The panes focus moves between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    /// The questions (option keys act here).
    Labels,
    /// The prompt or conversation.
    Conversation,
    /// The response (or response A).
    ResponseA,
    /// Response B of a pairwise item.
    ResponseB,
    /// The guidelines panel.
    Guidelines,
    /// For an item under review: what each rater said.
    Review,
}

/// What a one-line prompt is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptKind {
    /// The reason for a skip of the item at this version (the version the screen showed
    /// when the prompt opened: a change by another process meanwhile refuses the skip).
    SkipReason(i64),
    /// Choosing an escalation reason (by number) for an item.
    FlagReason(FlagTarget),
    /// The note that goes with the chosen reason.
    FlagNote(String, FlagTarget),
    /// Searching the queue.
    SearchQueue,
    /// Searching the guidelines.
    SearchGuidelines,
}

/// The item a flag goes to: the one on screen, or the one just submitted (auto-advance
/// moves on at the last answer, and "flag after labelling" is what the guidelines ask).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagTarget {
    /// Its key.
    pub key: i64,
    /// Its id, shown in the prompt.
    pub id: String,
    /// It is the item just submitted (or skipped), not the one on screen.
    pub previous: bool,
    /// The version of it the screen last showed: the flag is refused if another process
    /// changed it since.
    pub version: i64,
    /// The reason of the flag it has already (a new flag replaces it: the prompt says so).
    pub flagged: Option<String>,
}

/// The item just finished, while the rater has not yet acted on the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JustFinished {
    /// Its key.
    pub key: i64,
    /// Its id.
    pub id: String,
    /// Its batch (a flag offers it only for an item of the same batch: same reasons).
    pub batch: String,
    /// Its version as stored by the submit or skip.
    pub version: i64,
    /// It was skipped, not submitted.
    pub skipped: bool,
    /// The reason of its flag, if it has one.
    pub flagged: Option<String>,
}

/// A layer over the screen that has the keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// The help screen, scrolled this many rows.
    Help(usize),
    /// The break reminder.
    Break,
    /// The rater's own figures (lines of text), scrolled this many rows.
    Stats(Vec<String>, usize),
    /// What changed in a batch's guidelines (lines of text), scrolled this many rows:
    /// shown once, before the batch's next item; only enter or esc closes it.
    Changes(Vec<String>, usize),
    /// A one-line prompt.
    Prompt(PromptKind, Editor),
    /// The item's image at this index (of [`crate::store::StoredItem::images`]), shown
    /// full-screen.
    Image(usize),
}

/// A message on the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The text.
    pub text: String,
    /// Shown as an error.
    pub error: bool,
}

/// This session's pace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// When it started (unix ms).
    pub started_ms: i64,
    /// Active milliseconds of each item finished this session, by item key (an undone
    /// submit takes its item out again).
    pub durations: std::collections::BTreeMap<i64, i64>,
    /// Start of the current stretch of continuous labeling (for the break reminder).
    pub stretch_since_ms: i64,
}

impl Session {
    /// Median seconds per finished item.
    pub fn median_secs(&self) -> f64 {
        crate::model::median_seconds(self.durations.values().copied().collect())
    }

    /// Items finished per hour of session so far.
    pub fn per_hour(&self, now_ms: i64) -> f64 {
        let hours = ((now_ms - self.started_ms).max(1) as f64) / 3_600_000.0;
        self.durations.len() as f64 / hours.max(1.0 / 60.0)
    }
}

/// Who has the keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Keys choose options and run commands.
    Normal,
    /// The justification editor.
    Editing,
    /// An overlay; `editing` says whether the editor is open beneath it (and gets the
    /// keyboard back when the overlay closes).
    Overlay {
        /// The overlay.
        overlay: Overlay,
        /// The editor is open beneath it.
        editing: bool,
    },
}

/// Everything the screen shows and the keys act on: plain data, changed only by
/// [`super::update::update`]. (What drawing keeps between frames lives in the view.)
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// The effective keymap (for lookups and the help screen).
    pub keymap: Keymap,
    /// Settings.
    pub settings: Settings,
    /// Every cached item, in queue order.
    pub queue: Vec<QueueEntry>,
    /// Index of the current item in `queue`.
    pub pos: usize,
    /// The current item, as loaded from the cache.
    pub item: Option<StoredItem>,
    /// The focused pane.
    pub focus: Pane,
    /// Who has the keyboard: the questions, the editor, or an overlay.
    pub mode: Mode,
    /// Index of the focused question among the asked ones.
    pub question: usize,
    /// Scroll offset (rows) per pane.
    pub scroll: HashMap<Pane, usize>,
    /// The justification being written.
    pub editor: Editor,
    /// The content warning of this item was lifted.
    pub revealed: bool,
    /// The guidelines panel is shown.
    pub show_guidelines: bool,
    /// The rendered guidelines.
    pub guide: Guide,
    /// The guidelines' first shown logical line.
    pub guide_line: usize,
    /// The hash of the guideline document in the panel (the current item's batch's).
    pub guide_sha: Option<String>,
    /// The guidelines were moved for the current item (a chosen category brought its
    /// section, a search, a scroll): a flag raised now names the section in view.
    pub guide_followed: bool,
    /// The rater chose an option of an optional multi-select question (quality flags)
    /// on this item: auto-advance leaves the submit to them.
    pub optional_touched: bool,
    /// The status-line message.
    pub message: Option<Message>,
    /// Terminal size.
    pub size: (u16, u16),
    /// Now (unix ms), set by the loop before each update.
    pub now_ms: i64,
    /// Start of the current stretch of active time on this item (reset after an idle gap).
    pub active_since_ms: i64,
    /// Active time on this item from earlier stretches, not yet saved.
    pub active_pending_ms: i64,
    /// When the last key came.
    pub last_input_ms: i64,
    /// This session.
    pub session: Session,
    /// Finished annotations not yet exported.
    pub unexported: u64,
    /// Quit requested.
    pub quit: bool,
    /// The last queue search and guidelines search: the prompt opens with it, so that `/`
    /// (or ctrl-f) and enter find the next match.
    pub last_search: (String, String),
    /// The item submitted last, until the rater acts on the one that followed it: a flag
    /// raised first thing goes to it.
    pub just_finished: Option<JustFinished>,
    /// The largest scroll offset of each pane at the last drawn size, as the view
    /// reported it (so that scrolling stops at the end).
    pub extents: HashMap<Pane, usize>,
    /// Counts item loads: what the view memoises for an item is valid while this stays.
    pub shown: u64,
}

impl State {
    /// A state over a queue, before any item is loaded.
    pub fn new(
        keymap: Keymap,
        settings: Settings,
        queue: Vec<QueueEntry>,
        guide: Guide,
        now_ms: i64,
    ) -> State {
        State {
            keymap,
            settings,
            queue,
            pos: 0,
            item: None,
            focus: Pane::Labels,
            mode: Mode::Normal,
            question: 0,
            scroll: HashMap::new(),
            editor: Editor::default(),
            revealed: false,
            show_guidelines: true,
            guide,
            guide_line: 0,
            guide_sha: None,
            guide_followed: false,
            optional_touched: false,
            message: None,
            size: (160, 45),
            now_ms,
            active_since_ms: now_ms,
            active_pending_ms: 0,
            last_input_ms: now_ms,
            session: Session {
                started_ms: now_ms,
                durations: Default::default(),
                stretch_since_ms: now_ms,
            },
            unexported: 0,
            quit: false,
            just_finished: None,
            last_search: (String::new(), String::new()),
            extents: HashMap::new(),
            shown: 0,
        }
    }

    /// The questions asked of the current item, given its answers so far.
    pub fn asked(&self) -> Vec<&Question> {
        match &self.item {
            Some(it) => it
                .schema
                .asked(it.content.is_pairwise(), &it.annotation.answers)
                .collect(),
            None => Vec::new(),
        }
    }

    /// The focused question.
    pub fn focused_question(&self) -> Option<&Question> {
        let asked = self.asked();
        asked
            .get(self.question.min(asked.len().saturating_sub(1)))
            .copied()
    }

    /// Whether the current item is masked by a content warning.
    pub fn masked(&self) -> bool {
        self.item
            .as_ref()
            .is_some_and(|i| i.extras.content_warning.is_some())
            && !self.revealed
    }

    /// The option of the focused question that a key chooses.
    pub fn option_for_key(&self, c: char) -> Option<String> {
        let q = self.focused_question()?;
        q.options
            .iter()
            .find(|o| o.key.as_deref().and_then(|k| k.chars().next()) == Some(c))
            .map(|o| o.value.clone())
    }

    /// The answer a choice makes, given the current one: a single choice toggles, a
    /// multi-select toggles membership, and an exclusive option stands alone.
    pub fn toggled(q: &Question, current: Option<&Answer>, value: &str) -> Option<Answer> {
        match q.kind {
            Kind::Single => match current {
                Some(Answer::One(v)) if v == value => None,
                _ => Some(Answer::One(value.to_string())),
            },
            Kind::Multi => {
                let mut set: Vec<String> = current
                    .map(|a| a.values().iter().map(|s| s.to_string()).collect())
                    .unwrap_or_default();
                if let Some(i) = set.iter().position(|v| v == value) {
                    set.remove(i);
                } else if q.exclusive.iter().any(|x| x == value) {
                    set = vec![value.to_string()];
                } else {
                    set.retain(|v| !q.exclusive.contains(v));
                    set.push(value.to_string());
                }
                if set.is_empty() {
                    None
                } else {
                    // Option order, as the store keeps it.
                    let ordered = q
                        .options
                        .iter()
                        .filter(|o| set.contains(&o.value))
                        .map(|o| o.value.clone())
                        .collect();
                    Some(Answer::Many(ordered))
                }
            }
        }
    }

    /// Active time on the current item so far: saved, pending, and the running stretch
    /// (which stops counting a minute after the last key).
    pub fn active_on_item(&self) -> i64 {
        let saved = self
            .item
            .as_ref()
            .map(|i| i.annotation.active_ms)
            .unwrap_or(0);
        let until = self.now_ms.min(self.last_input_ms + IDLE_MS);
        saved + self.active_pending_ms + (until - self.active_since_ms).max(0)
    }

    /// The panes that exist for the current item and layout.
    pub fn panes(&self) -> Vec<Pane> {
        let mut p = vec![Pane::Labels, Pane::Conversation, Pane::ResponseA];
        if self.item.as_ref().is_some_and(|i| i.content.is_pairwise()) {
            p.push(Pane::ResponseB);
        }
        if self
            .item
            .as_ref()
            .is_some_and(|i| i.extras.review.is_some())
        {
            p.push(Pane::Review);
        }
        if self.show_guidelines {
            p.push(Pane::Guidelines);
        }
        p
    }

    /// The editor is open (perhaps beneath an overlay).
    pub fn editing(&self) -> bool {
        matches!(
            self.mode,
            Mode::Editing | Mode::Overlay { editing: true, .. }
        )
    }

    /// The overlay that has the keyboard, if any.
    pub fn overlay(&self) -> Option<&Overlay> {
        match &self.mode {
            Mode::Overlay { overlay, .. } => Some(overlay),
            _ => None,
        }
    }

    /// Opens or closes the editor (beneath an open overlay, it opens when that closes).
    pub fn set_editing(&mut self, on: bool) {
        match &mut self.mode {
            Mode::Overlay { editing, .. } => *editing = on,
            m => *m = if on { Mode::Editing } else { Mode::Normal },
        }
    }

    /// Opens an overlay over whatever has the keyboard (replacing an open overlay).
    pub fn open(&mut self, overlay: Overlay) {
        let editing = self.editing();
        self.mode = Mode::Overlay { overlay, editing };
    }

    /// Closes the overlay: the keyboard goes back to the editor if it is open.
    pub fn close_overlay(&mut self) {
        if let Mode::Overlay { editing, .. } = self.mode {
            self.mode = if editing { Mode::Editing } else { Mode::Normal };
        }
    }

    /// The item just finished, when a flag may still go to it instead of the item on
    /// screen (same batch, so the same reasons; not the item on screen itself).
    pub fn flaggable_previous(&self) -> Option<&JustFinished> {
        let item = self.item.as_ref()?;
        self.just_finished
            .as_ref()
            .filter(|j| j.batch == item.batch_id && j.key != item.key)
    }

    /// Scroll offset of a pane.
    pub fn scroll_of(&self, pane: Pane) -> usize {
        self.scroll.get(&pane).copied().unwrap_or(0)
    }
}
