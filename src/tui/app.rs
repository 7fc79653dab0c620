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

use super::action::{Action, Command};
use super::keymap::Keymap;
use super::markdown::Guide;
use super::state::{Entry, Message, Overlay, Progress, Settings, State};
use super::update::{self, Effect};
use crate::store::{Act, Store, StoreError, now_ms};

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
}

fn entries(store: &Store) -> Result<Vec<Entry>, StoreError> {
    Ok(store
        .queue_entries()?
        .into_iter()
        .map(|(key, batch, id, status)| Entry {
            key,
            batch,
            id,
            progress: Progress::of(&status),
        })
        .collect())
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
        match crate::commands::stats::qualification_status(&store).as_deref() {
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
        let first_todo_from = |from: usize, q: &[Entry]| {
            (from..q.len())
                .chain(0..from)
                .find(|i| q[*i].progress == Progress::Todo)
        };
        let start = saved
            .and_then(|k| state.queue.iter().position(|e| e.key == k))
            .map(|i| {
                let e = &state.queue[i];
                if e.progress != Progress::Todo && finished_last == Some(e.key) {
                    first_todo_from(i, &state.queue).unwrap_or(i)
                } else {
                    i
                }
            })
            .or_else(|| {
                state
                    .queue
                    .iter()
                    .position(|e| e.progress == Progress::Todo)
            })
            .unwrap_or(0);
        let mut app = App {
            state,
            store,
            data_version,
            last_event,
        };
        if let Some(e) = app.state.queue.get(start) {
            let key = e.key;
            app.state.pos = start;
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

    fn say(&mut self, text: String, error: bool) {
        self.state.message = Some(Message { text, error });
    }

    /// After a refused or failed write: a quit is not a quit (the rater reads why
    /// first), and the justification the write held goes back into the open editor.
    fn keep_typed(&mut self, typed: Option<String>) {
        self.state.quit = false;
        if let Some(text) = typed {
            self.state.editing = true;
            self.state.editor = super::editor::Editor::new(&text);
        }
    }

    /// A write failed (a full disk, a lock held too long): say why and show what is
    /// stored. `typed` is the justification the failed write held: it stays in the open
    /// editor, unsaved, so that nothing the rater typed is lost.
    fn fail(&mut self, e: StoreError, typed: Option<String>) {
        self.keep_typed(typed);
        // What is on screen must match what is stored: reload after a failed write.
        if let Some(key) = self.state.item.as_ref().map(|i| i.key)
            && let Ok(item) = self.store.item(key)
        {
            update::reloaded(&mut self.state, item);
        }
        self.say(e.to_string(), true);
    }

    /// A write was refused because another process changed the item since the screen
    /// showed it: show the item as it is now, and say what happened to the key.
    /// `typed` is the justification a refused edit would have saved: it goes back into
    /// the open editor, so that nothing the rater typed is lost.
    fn conflict(&mut self, key: i64, e: StoreError, typed: Option<String>) {
        let (status, revision) = match &e {
            StoreError::Changed {
                status, revision, ..
            } => (status.clone(), *revision),
            _ => (String::new(), 0),
        };
        self.keep_typed(typed);
        let editing = self.state.editing;
        let name = match self.store.item(key) {
            Ok(item) => {
                let name = item.item_id.clone();
                update::reloaded(&mut self.state, item);
                name
            }
            Err(_) => format!("#{key}"),
        };
        let what = if editing {
            format!(
                "your text is kept in the editor, unsaved ({} saves it)",
                self.state.keymap.key_of(Command::LeaveEditor)
            )
        } else {
            "your key was not applied".into()
        };
        self.say(
            format!(
                "{name} was changed in another verdict process (now {status}, rev {revision}): shown as stored; {what}"
            ),
            true,
        );
    }

    /// The item version the screen shows, for a write to `key`.
    fn shown(&self, key: i64, action: i64) -> Act {
        let act = Act::from(action);
        match self.state.item.as_ref().filter(|i| i.key == key) {
            Some(i) => act.seen(i.annotation.version),
            None => act,
        }
    }

    /// Runs effects in order; one action's writes share an event-log action number. A
    /// refused write stops the rest (the rater stays on the item and reads why).
    pub fn run(&mut self, effects: Vec<Effect>) {
        // One action id for all the writes of this action, taken by the first write that
        // logs a change (in its own transaction: no extra commit per key).
        let mut action = 0;
        let mut queue: std::collections::VecDeque<Effect> = effects.into();
        while let Some(e) = queue.pop_front() {
            let act = action;
            let typed = match &e {
                Effect::SetJustification(_, text) => Some(text.clone()),
                _ => None,
            };
            let result = match e {
                Effect::Load(key) => self
                    .store
                    .item(key)
                    .map(|item| update::loaded(&mut self.state, item))
                    .and_then(|_| self.follow_guidelines()),
                Effect::SetAnswer(key, q, a) => self
                    .store
                    .set_answer(key, &q, a.as_ref(), self.shown(key, act))
                    .map(|ann| update::saved(&mut self.state, key, ann)),
                Effect::SaveDraft(key, text) => self.store.save_draft(key, &text),
                Effect::SetJustification(key, text) => self
                    .store
                    .set_justification(key, &text, self.shown(key, act))
                    .map(|ann| update::saved(&mut self.state, key, ann)),
                Effect::AddActive(key, ms) => self.store.add_active_ms(key, ms).map(|_| {
                    if let Some(item) = self.state.item.as_mut().filter(|i| i.key == key) {
                        item.annotation.active_ms += ms;
                    }
                }),
                Effect::Flag(key, reason, note, section) => self
                    .store
                    .flag_in(
                        key,
                        Some((&reason, &note)),
                        section.as_deref(),
                        self.shown(key, act),
                    )
                    .map(|ann| {
                        update::saved(&mut self.state, key, ann);
                        self.say(format!("flagged for the policy team ({reason})"), false);
                    }),
                Effect::SavePosition(key) => self.store.ui_set(POSITION_KEY, &key.to_string()),
                Effect::ShowStats => {
                    crate::commands::stats::lines(&self.store, now_ms()).map(|l| {
                        self.state.overlay = Some(Overlay::Stats(l, 0));
                    })
                }
                Effect::Search(text) => self.store.search(&text).map(|found| {
                    for fx in update::search_results(&mut self.state, &text, &found)
                        .into_iter()
                        .rev()
                    {
                        queue.push_front(fx);
                    }
                }),
                Effect::Submit(key) => match self.store.submit(key, self.shown(key, act)) {
                    Ok(ann) => self.finish(key, ann, false, &mut queue),
                    Err(StoreError::Incomplete { problems, .. }) => {
                        let hint = if problems.iter().any(|p| p.contains("justification")) {
                            format!(
                                " (press {} to write it)",
                                self.state.keymap.key_of(Command::EditJustification)
                            )
                        } else {
                            String::new()
                        };
                        self.say(
                            format!("Not submitted: {}{hint}", problems.join("; ")),
                            true,
                        );
                        return;
                    }
                    Err(err) => Err(err),
                },
                Effect::Skip(key, reason) => {
                    match self.store.skip(key, &reason, self.shown(key, act)) {
                        Ok(ann) => self.finish(key, ann, true, &mut queue),
                        Err(err) => Err(err),
                    }
                }
                Effect::Undo | Effect::Redo => self.revert(e == Effect::Redo),
            };
            if action == 0
                && let Some(a) = self.store.take_action()
            {
                action = a;
            }
            match result {
                Ok(()) => {}
                Err(err @ StoreError::Changed { .. }) => {
                    let key = self.state.item.as_ref().map(|i| i.key).unwrap_or(0);
                    return self.conflict(key, err, typed);
                }
                Err(err) => return self.fail(err, typed),
            }
        }
    }

    /// The guidelines panel shows the current item's batch's document; a change of it
    /// that a pull brought and the rater has not seen is shown first, once (and recorded
    /// as seen).
    fn follow_guidelines(&mut self) -> Result<(), StoreError> {
        let Some(batch) = self.state.item.as_ref().map(|i| i.batch_id.clone()) else {
            return Ok(());
        };
        // The document's text is read only when the batch's document is not the one
        // shown already (moving between items of one batch reads a reference).
        if let Some(r) = self.store.batch_guideline_ref(&batch)?
            && r.sha256.is_some()
            && self.state.guide_sha != r.sha256
            && let Some(text) = self.store.guideline_text(&r)?
        {
            self.state.guide = Guide::parse(&text);
            self.state.guide_sha = r.sha256;
            self.state.guide_line = 0;
            *self.state.guide_rows.borrow_mut() = None;
        }
        if let Some(change) = self.store.unseen_guideline_change(&batch)? {
            self.state.overlay = Some(Overlay::Changes(change.lines(), 0));
            self.store.mark_guidelines_seen(&batch)?;
        }
        Ok(())
    }

    fn revert(&mut self, redo: bool) -> Result<(), StoreError> {
        let done = if redo {
            self.store.redo_own()?
        } else {
            self.store.undo_own()?
        };
        let word = if redo { "redo" } else { "undo" };
        let Some(r) = done else {
            self.say(format!("nothing to {word}"), false);
            return Ok(());
        };
        self.state.unexported = self.store.unexported()?;
        let item = self.store.item(r.key)?;
        if item.annotation.status == "draft" {
            self.state.session.durations.remove(&item.key);
        }
        let name = item.item_id.clone();
        update::loaded(&mut self.state, item);
        let changes = match r.changes {
            1 => "1 change".to_string(),
            n => format!("{n} changes"),
        };
        self.say(
            format!(
                "{} action #{} on {name} ({changes})",
                if redo { "redid" } else { "undid" },
                r.action
            ),
            false,
        );
        Ok(())
    }

    /// After a stored submit or skip: show the stored state and move on.
    fn finish(
        &mut self,
        key: i64,
        annotation: crate::store::Annotation,
        skipped: bool,
        queue: &mut std::collections::VecDeque<Effect>,
    ) -> Result<(), StoreError> {
        update::saved(&mut self.state, key, annotation);
        for fx in update::finished(&mut self.state, skipped).into_iter().rev() {
            queue.push_front(fx);
        }
        self.state.unexported = self.store.unexported()?;
        Ok(())
    }

    /// Takes in what other processes committed since the last look: the queue's progress
    /// (and new items of a pull), the unexported count, and the item on screen if its
    /// stored version moved. Cheap when nothing changed (one pragma); the loop calls it
    /// before every frame.
    pub fn check_outside(&mut self) {
        if let Err(e) = self.try_check_outside() {
            self.say(e.to_string(), true);
        }
    }

    fn try_check_outside(&mut self) -> Result<(), StoreError> {
        let v = self.store.data_version()?;
        if v == self.data_version {
            return Ok(());
        }
        self.data_version = v;
        let (changed, last) = self.store.changes_since(self.last_event)?;
        self.last_event = last;
        if self.store.item_count()? != self.state.queue.len() {
            let current = self.state.item.as_ref().map(|i| i.key);
            self.state.queue = entries(&self.store)?;
            if let Some(pos) =
                current.and_then(|k| self.state.queue.iter().position(|e| e.key == k))
            {
                self.state.pos = pos;
            }
        } else {
            for (key, status) in &changed {
                if let Some(e) = self.state.queue.iter_mut().find(|e| e.key == *key) {
                    e.progress = Progress::of(status);
                }
            }
        }
        self.state.unexported = self.store.unexported()?;
        let Some((key, shown)) = self
            .state
            .item
            .as_ref()
            .map(|i| (i.key, i.annotation.version))
        else {
            return Ok(());
        };
        let now = self.store.annotation(key)?;
        if now.version != shown {
            let item = self.store.item(key)?;
            let name = item.item_id.clone();
            let editing = self.state.editing;
            update::reloaded(&mut self.state, item);
            let tail = if editing {
                format!(
                    "; your text is kept in the editor, unsaved ({} saves it)",
                    self.state.keymap.key_of(Command::LeaveEditor)
                )
            } else {
                String::new()
            };
            self.say(
                format!(
                    "{name} was changed in another verdict process (now {}, rev {}){tail}",
                    now.status, now.revision
                ),
                true,
            );
        }
        Ok(())
    }
}
