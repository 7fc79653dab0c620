//! The workstation's state joined to the cache: runs update() and then its effects, so
//! that every change is committed before the next frame is drawn.

use super::action::Action;
use super::keymap::Keymap;
use super::markdown::Guide;
use super::state::{Entry, Message, Progress, Settings, State};
use super::update::{self, Effect};
use crate::store::{Store, StoreError, now_ms};

/// Where the workstation keeps the current item across restarts.
const POSITION_KEY: &str = "current_item";

/// State plus the cache.
pub struct App {
    /// What the screen shows.
    pub state: State,
    /// The cache.
    pub store: Store,
}

impl App {
    /// Opens the queue at the item of the last session, else the first unfinished one.
    pub fn new(
        store: Store,
        keymap: Keymap,
        settings: Settings,
        size: (u16, u16),
    ) -> Result<App, StoreError> {
        let queue: Vec<Entry> = store
            .queue_entries()?
            .into_iter()
            .map(|(key, batch, id, status)| Entry {
                key,
                batch,
                id,
                progress: match status.as_str() {
                    "done" => Progress::Done,
                    "skipped" => Progress::Skipped,
                    _ => Progress::Todo,
                },
            })
            .collect();
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
        let saved = store
            .ui_get(POSITION_KEY)?
            .and_then(|v| v.parse::<i64>().ok());
        let start = saved
            .and_then(|k| state.queue.iter().position(|e| e.key == k))
            .or_else(|| {
                state
                    .queue
                    .iter()
                    .position(|e| e.progress == Progress::Todo)
            })
            .unwrap_or(0);
        let mut app = App { state, store };
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

    fn fail(&mut self, e: StoreError) {
        self.state.message = Some(Message {
            text: e.to_string(),
            error: true,
        });
        // What is on screen must match what is stored: reload after a failed write.
        if let Some(key) = self.state.item.as_ref().map(|i| i.key)
            && let Ok(item) = self.store.item(key)
        {
            let (editing, editor) = (self.state.editing, self.state.editor.clone());
            update::loaded(&mut self.state, item);
            self.state.editing = editing;
            self.state.editor = editor;
        }
    }

    /// Runs effects in order; one action's writes share an event-log action number. A
    /// refused submit stops the rest (the rater stays on the item and reads why).
    pub fn run(&mut self, effects: Vec<Effect>) {
        let mut action = None;
        let mut queue: std::collections::VecDeque<Effect> = effects.into();
        while let Some(e) = queue.pop_front() {
            let writes = !matches!(
                e,
                Effect::Load(_)
                    | Effect::SavePosition(_)
                    | Effect::Undo
                    | Effect::Redo
                    | Effect::Search(_)
            );
            if writes && action.is_none() {
                match self.store.new_action() {
                    Ok(a) => action = Some(a),
                    Err(err) => return self.fail(err),
                }
            }
            let act = action.unwrap_or(0);
            let result = match e {
                Effect::Load(key) => self
                    .store
                    .item(key)
                    .map(|item| update::loaded(&mut self.state, item)),
                Effect::SetAnswer(key, q, a) => self.store.set_answer(key, &q, a.as_ref(), act),
                Effect::SaveDraft(key, text) => self.store.save_draft(key, &text),
                Effect::SetJustification(key, text) => {
                    self.store.set_justification(key, &text, act)
                }
                Effect::AddActive(key, ms) => self.store.add_active_ms(key, ms).map(|_| {
                    if let Some(item) = self.state.item.as_mut().filter(|i| i.key == key) {
                        item.annotation.active_ms += ms;
                    }
                }),
                Effect::Flag(key, reason, note) => {
                    self.store.flag(key, Some((&reason, &note)), act).map(|_| {
                        self.state.message = Some(Message {
                            text: format!("flagged for the policy team ({reason})"),
                            error: false,
                        });
                        queue.push_front(Effect::Load(key));
                    })
                }
                Effect::SavePosition(key) => self.store.ui_set(POSITION_KEY, &key.to_string()),
                Effect::Search(text) => self.store.search(&text).map(|keys| {
                    for fx in update::search_results(&mut self.state, &text, &keys)
                        .into_iter()
                        .rev()
                    {
                        queue.push_front(fx);
                    }
                }),
                Effect::Submit(key) => match self.store.submit(key, act) {
                    Ok(()) => self.refresh_and_finish(key, false, &mut queue),
                    Err(StoreError::Incomplete { problems, .. }) => {
                        let hint = if problems.iter().any(|p| p.contains("justification")) {
                            format!(
                                " (press {} to write it)",
                                self.state
                                    .keymap
                                    .key_of(super::action::Command::EditJustification)
                            )
                        } else {
                            String::new()
                        };
                        self.state.message = Some(Message {
                            text: format!("Not submitted: {}{hint}", problems.join("; ")),
                            error: true,
                        });
                        return;
                    }
                    Err(err) => Err(err),
                },
                Effect::Skip(key, reason) => match self.store.skip(key, &reason, act) {
                    Ok(()) => self.refresh_and_finish(key, true, &mut queue),
                    Err(err) => Err(err),
                },
                Effect::Undo | Effect::Redo => {
                    let redo = e == Effect::Redo;
                    match if redo {
                        self.store.redo()
                    } else {
                        self.store.undo()
                    } {
                        Ok(None) => {
                            self.state.message = Some(Message {
                                text: format!("nothing to {}", if redo { "redo" } else { "undo" }),
                                error: false,
                            });
                            Ok(())
                        }
                        Ok(Some(r)) => {
                            self.state.message = Some(Message {
                                text: format!(
                                    "{} ({} changes)",
                                    if redo { "redone" } else { "undone" },
                                    r.changes
                                ),
                                error: false,
                            });
                            self.store
                                .unexported()
                                .map(|n| self.state.unexported = n)
                                .and_then(|_| {
                                    self.store.item(r.key).map(|item| {
                                        if item.annotation.status == "draft" {
                                            self.state.session.durations.remove(&item.key);
                                        }
                                        update::loaded(&mut self.state, item)
                                    })
                                })
                        }
                        Err(err) => Err(err),
                    }
                }
            };
            if let Err(err) = result {
                return self.fail(err);
            }
        }
    }

    /// After a stored submit or skip: reload the item (revision, status) and move on.
    fn refresh_and_finish(
        &mut self,
        key: i64,
        skipped: bool,
        queue: &mut std::collections::VecDeque<Effect>,
    ) -> Result<(), StoreError> {
        let item = self.store.item(key)?;
        self.state.item = Some(item);
        for fx in update::finished(&mut self.state, skipped).into_iter().rev() {
            queue.push_front(fx);
        }
        self.state.unexported = self.store.unexported()?;
        Ok(())
    }
}
