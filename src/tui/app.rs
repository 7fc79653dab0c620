//! The workstation's state joined to the cache: runs update() and then its effects, so
//! that every change is committed before the next frame is drawn, and reports what the
//! cache answered back into the state (through the functions of [`super::update`]).
//!
//! Another process may write the same cache at any time (`verdict label` in a script, a
//! pull, a second workstation). Two rules keep the rater's work safe:
//! - every write carries the version of the item the screen showed; a write against a
//!   changed item is refused, the item reloaded and the rater told (nothing they have not
//!   seen is overwritten);
//! - [`App::check_outside`] notices other processes' commits (`PRAGMA data_version`) and
//!   brings the queue and the item on screen up to date.

use super::action::{Action, Reply};
use super::keymap::Keymap;
use super::markdown::Guide;
use super::state::{Message, QueueEntry, Settings, State, Status};
use super::update::{self, Effect};
use super::view::View;
use crate::clock::now_ms;
use crate::store::{Act, Store, StoreError};

/// Where the workstation keeps the current item across restarts.
const POSITION_KEY: &str = "current_item";

/// State plus the cache.
pub struct App {
    /// What the screen shows.
    pub state: State,
    /// The cache.
    pub store: Store,
    /// The cache's `data_version` when this process last looked.
    data_version: i64,
    /// The newest event this process has taken into account.
    last_event: i64,
    /// What drawing keeps between frames (memos, colours).
    pub view: View,
}

fn entries(store: &Store) -> Result<Vec<QueueEntry>, StoreError> {
    store.queue_entries()
}

impl App {
    /// Opens the queue at the item of the last session, else the first unfinished one. If
    /// that item was finished by the last change made (a submit whose move to the next
    /// item a crash cut short, or a rater who finished it and quit), it opens at the next
    /// unfinished item after it.
    pub fn new(
        mut store: Store,
        keymap: Keymap,
        settings: Settings,
        size: (u16, u16),
    ) -> Result<App, StoreError> {
        store.set_source("workstation");
        let data_version = store.data_version()?;
        let last_event = store.last_event()?;
        let queue = entries(&store)?;
        let guide = Guide::parse(
            crate::guidelines::shipped()
                .first()
                .map(|g| g.text)
                .unwrap_or(""),
        );
        let mut state = State::new(keymap, settings, queue, guide, now_ms());
        state.size = size;
        state.show_guidelines = size.0 >= 110;
        state.unexported = store.unexported()?;
        // A rater held at the qualification gate learns it here, and where to read why.
        match crate::stats::qualification_status(&store).as_deref() {
            Some("failed") => {
                state.message = Some(Message {
                    text: "Qualification failed: press I".into(),
                    error: true,
                })
            }
            Some("pending") => {
                state.message = Some(Message {
                    text: "Qualification first: press I".into(),
                    error: false,
                })
            }
            _ => {}
        }
        let saved = store
            .ui_get(POSITION_KEY)?
            .and_then(|v| v.parse::<i64>().ok());
        let finished_last = store.last_event_item()?;
        let first_todo_from = |from: usize, q: &[QueueEntry]| {
            (from..q.len())
                .chain(0..from)
                .find(|i| q[*i].status == Status::Draft)
        };
        let start = saved
            .and_then(|k| state.queue.iter().position(|e| e.key == k))
            .map(|i| {
                let e = &state.queue[i];
                if e.status != Status::Draft && finished_last == Some(e.key) {
                    first_todo_from(i, &state.queue).unwrap_or(i)
                } else {
                    i
                }
            })
            .or_else(|| state.queue.iter().position(|e| e.status == Status::Draft))
            .unwrap_or(0);
        let view = View::new(&state.settings);
        let mut app = App {
            state,
            store,
            data_version,
            last_event,
            view,
        };
        if let Some(e) = app.state.queue.get(start) {
            let key = e.key;
            app.run(vec![Effect::Load(key)]);
        }
        Ok(app)
    }

    /// Handles one action: update, then its effects.
    pub fn dispatch(&mut self, action: Action) {
        self.state.now_ms = now_ms();
        let effects = update::update(&mut self.state, action);
        self.run(effects);
    }

    /// Draws the screen, and tells update what the drawing found (how far each pane
    /// scrolls at this size) when that changed.
    pub fn draw(&mut self, frame: &mut ratatui::Frame<'_>) {
        let extents = super::view::draw(frame, &self.state, &mut self.view);
        if extents != self.state.extents {
            self.dispatch(Action::Drawn(extents));
        }
    }

    /// Finished annotations not yet exported. Read after a write has committed: a failure
    /// to read the count must not make the write look failed, so the last count stands.
    fn unexported(&self) -> u64 {
        self.store.unexported().unwrap_or(self.state.unexported)
    }

    /// The item version the screen shows, for a write to `key`.
    fn shown(&self, key: i64, action: i64) -> Act {
        let act = Act::from(action);
        match self.state.item.as_ref().filter(|i| i.key == key) {
            Some(i) => act.seen(i.annotation.version),
            None => act,
        }
    }

    /// Runs effects in order, each answer going back through update (whose own effects
    /// run next); one action's writes share an event-log action number. A refused write
    /// stops the rest (the rater stays on the item and reads why).
    pub fn run(&mut self, effects: Vec<Effect>) {
        // One action id for all the writes of this action, taken by the first write that
        // logs a change (in its own transaction: no extra commit per key).
        let mut action = 0;
        let mut queue: std::collections::VecDeque<Effect> = effects.into();
        while let Some(e) = queue.pop_front() {
            let typed = match &e {
                Effect::SetJustification(_, text) => Some(text.clone()),
                _ => None,
            };
            // A flag may go to the item just submitted, not the one on screen.
            let elsewhere = match &e {
                Effect::Flag(key, ..) => self.state.item.as_ref().is_some_and(|i| i.key != *key),
                _ => false,
            };
            let result = self.perform(e, action);
            if action == 0
                && let Some(a) = self.store.take_action()
            {
                action = a;
            }
            let reply = match result {
                Ok(None) => continue,
                Ok(Some(reply)) => reply,
                Err(err) => self.refused(err, typed, elsewhere),
            };
            let stop = matches!(
                reply,
                Reply::Incomplete(_) | Reply::Conflict { .. } | Reply::Failed { .. }
            );
            let more = update::update(&mut self.state, Action::Reply(Box::new(reply)));
            if stop {
                return;
            }
            for fx in more.into_iter().rev() {
                queue.push_front(fx);
            }
        }
    }

    /// Runs one effect against the cache: what it answered, if anything.
    fn perform(&mut self, e: Effect, act: i64) -> Result<Option<Reply>, StoreError> {
        Ok(Some(match e {
            Effect::Load(key) => Reply::Loaded(self.store.item(key)?),
            Effect::FollowGuidelines(batch) => self.guidelines(&batch)?,
            Effect::SetAnswer(key, q, a) => Reply::Saved(
                key,
                self.store
                    .set_answer(key, &q, a.as_ref(), self.shown(key, act))?,
            ),
            Effect::SaveDraft(key, text) => {
                self.store.save_draft(key, &text)?;
                return Ok(None);
            }
            Effect::SetJustification(key, text) => Reply::Saved(
                key,
                self.store
                    .set_justification(key, &text, self.shown(key, act))?,
            ),
            Effect::AddActive(key, ms) => {
                self.store.add_active_ms(key, ms)?;
                Reply::ActiveAdded(key, ms)
            }
            Effect::Flag(key, reason, note, section, seen) => {
                let ann = self.store.flag_in(
                    key,
                    Some((&reason, &note)),
                    section.as_deref(),
                    Act::from(act).seen(seen),
                )?;
                Reply::Flagged(key, ann, reason)
            }
            Effect::SavePosition(key) => {
                self.store.ui_set(POSITION_KEY, &key.to_string())?;
                return Ok(None);
            }
            Effect::ShowStats => Reply::Stats(crate::stats::lines(&self.store, now_ms())?),
            Effect::Search(text) => {
                let found = self.store.search(&text)?;
                Reply::Found(text, found)
            }
            Effect::Submit(key) => match self.store.submit(key, self.shown(key, act)) {
                Ok(annotation) => Reply::Finished {
                    key,
                    annotation,
                    skipped: false,
                    unexported: self.unexported(),
                },
                Err(StoreError::Incomplete { problems, .. }) => Reply::Incomplete(problems),
                Err(err) => return Err(err),
            },
            Effect::Skip(key, reason, seen) => {
                let annotation = self.store.skip(key, &reason, Act::from(act).seen(seen))?;
                Reply::Finished {
                    key,
                    annotation,
                    skipped: true,
                    unexported: self.unexported(),
                }
            }
            Effect::Undo | Effect::Redo => {
                let redo = e == Effect::Redo;
                let done = if redo {
                    self.store.redo_own()?
                } else {
                    self.store.undo_own()?
                };
                match done {
                    None => Reply::NothingToRevert { redo },
                    Some(r) => Reply::Reverted {
                        redo,
                        action: r.action,
                        changes: r.changes,
                        fields: r.fields,
                        unexported: self.unexported(),
                        item: self.store.item(r.key)?,
                    },
                }
            }
        }))
    }

    /// A write that failed or was refused, as the rater is told: the item as stored now
    /// (what is on screen must match what is stored), and the text the write held.
    fn refused(&mut self, err: StoreError, typed: Option<String>, elsewhere: bool) -> Reply {
        let key = self.state.item.as_ref().map(|i| i.key);
        let item = key.and_then(|k| self.store.item(k).ok());
        match err {
            StoreError::Changed {
                item: id,
                status,
                revision,
            } => Reply::Conflict {
                name: id,
                item: if elsewhere { None } else { item },
                status,
                revision,
                typed,
                elsewhere,
            },
            err => Reply::Failed {
                error: err.to_string(),
                item,
                typed,
            },
        }
    }

    /// The guidelines panel shows the current item's batch's document; a change of it
    /// that a pull brought and the rater has not seen is shown first, once (and recorded
    /// as seen).
    fn guidelines(&mut self, batch: &str) -> Result<Reply, StoreError> {
        // The document's text is read only when the batch's document is not the one
        // shown already (moving between items of one batch reads a reference).
        let mut document = None;
        if let Some(r) = self.store.batch_guideline_ref(batch)?
            && r.sha256.is_some()
            && self.state.guide_sha != r.sha256
            && let Some(text) = self.store.guideline_text(&r)?
        {
            document = Some((text, r.sha256));
        }
        let change = match self.store.unseen_guideline_change(batch)? {
            Some(change) => {
                self.store.mark_guidelines_seen(batch)?;
                Some(change.lines())
            }
            None => None,
        };
        Ok(Reply::Guidelines { document, change })
    }

    /// Takes in what other processes committed since the last look: the queue's progress
    /// (and new items of a pull), the unexported count, and the item on screen if its
    /// stored version moved. Cheap when nothing changed (one pragma); the loop calls it
    /// before every frame.
    pub fn check_outside(&mut self) {
        if let Err(e) = self.try_check_outside() {
            self.dispatch(Action::Reply(Box::new(Reply::Note(e.to_string(), true))));
        }
    }

    fn try_check_outside(&mut self) -> Result<(), StoreError> {
        let v = self.store.data_version()?;
        if v == self.data_version {
            return Ok(());
        }
        // Everything is read before the marks move: a failed read leaves them where they
        // were, and the next frame reads the same changes again.
        let (changed, last) = self.store.changes_since(self.last_event)?;
        let queue = if self.store.item_count()? != self.state.queue.len() {
            Some(entries(&self.store)?)
        } else {
            None
        };
        let item = match self
            .state
            .item
            .as_ref()
            .map(|i| (i.key, i.annotation.version))
        {
            Some((key, shown)) if self.store.annotation(key)?.version != shown => {
                Some(self.store.item(key)?)
            }
            _ => None,
        };
        let reply = Reply::Outside {
            queue,
            changed,
            unexported: self.store.unexported()?,
            item,
        };
        self.data_version = v;
        self.last_event = last;
        self.dispatch(Action::Reply(Box::new(reply)));
        Ok(())
    }
}
