//! update() as the pure function it is: no cache, no terminal. Each test gives actions
//! (and the cache's replies, written out as the loop would bring them) and compares the
//! whole state with the state expected, field for field.

#![allow(clippy::unwrap_used)]

mod common;

use common::fixture;
use pretty_assertions::assert_eq;
use std::sync::Arc;
use verdict::model::Answer;
use verdict::store::{Annotation, StoredItem};
use verdict::tui::action::{Action, Command, EditKey, Reply};
use verdict::tui::keymap::Keymap;
use verdict::tui::markdown::Guide;
use verdict::tui::state::{
    JustFinished, Message, Mode, Overlay, Pane, QueueEntry, Settings, State, Status,
};
use verdict::tui::update::{Effect, update};

const NOW: i64 = 1_800_000_000_000;

/// The fixture's items as the cache would hand them over (keys 1..), not yet worked on.
fn items() -> Vec<StoredItem> {
    let mut batch = verdict::batch::open(&fixture("mixed.jsonl"), Default::default()).unwrap();
    let schema = Arc::new(batch.header.schema.clone());
    let batch_id = batch.header.batch_id.clone();
    let mut out = Vec::new();
    batch
        .for_each_item(|p| {
            out.push(StoredItem {
                key: out.len() as i64 + 1,
                batch_id: batch_id.clone(),
                item_id: p.item.id.clone(),
                seq: out.len() as i64,
                sha256: p.hash.clone(),
                content: p.item.content.clone(),
                extras: p.item.extras.clone(),
                schema: schema.clone(),
                annotation: Annotation {
                    status: Status::Draft,
                    version: 1,
                    ..Annotation::default()
                },
                draft: None,
                reference: None,
                images: p.item.images.clone(),
            });
            Ok::<(), std::convert::Infallible>(())
        })
        .unwrap();
    out
}

fn item(id: &str) -> StoredItem {
    items().into_iter().find(|i| i.item_id == id).unwrap()
}

/// A state over the fixture's queue, showing item `id` (loaded as the cache answers).
fn showing(id: &str) -> State {
    let queue = items()
        .iter()
        .map(|i| QueueEntry {
            key: i.key,
            batch: i.batch_id.clone(),
            id: i.item_id.clone(),
            status: Status::Draft,
        })
        .collect();
    let mut s = State::new(
        Keymap::load(None).unwrap(),
        Settings::default(),
        queue,
        Guide::default(),
        NOW,
    );
    let fx = update(&mut s, reply(Reply::Loaded(item(id))));
    assert_eq!(fx, vec![Effect::FollowGuidelines("fixture-mixed".into())]);
    s
}

fn reply(r: Reply) -> Action {
    Action::Reply(Box::new(r))
}

fn key_of(id: &str) -> i64 {
    item(id).key
}

#[test]
fn loading_an_item_resets_what_belongs_to_one_item() {
    // Everything that belongs to one item is set on another item first...
    let mut s = showing("warned");
    update(&mut s, Action::Run(Command::Reveal));
    update(&mut s, Action::Run(Command::ScrollDown));
    s.focus = Pane::ResponseA;
    update(&mut s, Action::Run(Command::ScrollDown));
    update(&mut s, Action::Choose('f'));
    s.guide_followed = true;
    s.optional_touched = true;
    s.message = Some(Message {
        text: "about warned".into(),
        error: false,
    });
    assert!(s.revealed);
    // ...and loading the pair resets it: the state equals a fresh one showing the pair
    // (the focus and the session's own figures aside).
    update(&mut s, reply(Reply::Loaded(item("pair"))));
    let fresh = showing("pair");
    s.focus = fresh.focus;
    s.extents = fresh.extents.clone();
    s.shown = fresh.shown;
    assert_eq!(s, fresh);
    let s = showing("pair");
    let mut want = State::new(
        Keymap::load(None).unwrap(),
        Settings::default(),
        s.queue.clone(),
        Guide::default(),
        NOW,
    );
    want.item = Some(item("pair"));
    want.pos = s.queue.iter().position(|e| e.id == "pair").unwrap();
    want.shown = 1;
    assert_eq!(s, want);
}

#[test]
fn the_answer_that_completes_an_item_submits_it_and_changes_nothing_else() {
    let mut s = showing("pair");
    let before = s.clone();
    let fx = update(&mut s, Action::Choose('t'));
    let k = key_of("pair");
    assert_eq!(
        fx,
        vec![
            Effect::SetAnswer(k, "preference".into(), Some(Answer::One("tie".into()))),
            Effect::Submit(k),
        ]
    );
    let mut want = before;
    want.item
        .as_mut()
        .unwrap()
        .annotation
        .answers
        .insert("preference".into(), Answer::One("tie".into()));
    assert_eq!(s, want);
}

#[test]
fn a_stored_submit_moves_on_to_the_next_unfinished_item() {
    let mut s = showing("pair");
    let k = key_of("pair");
    update(&mut s, Action::Choose('t'));
    let before = s.clone();
    let stored = Annotation {
        status: Status::Done,
        revision: 1,
        version: 3,
        ..s.item.as_ref().unwrap().annotation.clone()
    };
    let fx = update(
        &mut s,
        reply(Reply::Finished {
            key: k,
            annotation: stored.clone(),
            skipped: false,
            unexported: 1,
        }),
    );
    let next = key_of("suggested");
    assert_eq!(fx, vec![Effect::Load(next), Effect::SavePosition(next)]);
    let mut want = before;
    want.item.as_mut().unwrap().annotation = stored;
    want.unexported = 1;
    want.session.durations.insert(k, 0);
    want.queue[want.pos].status = Status::Done;
    want.pos += 1;
    // Until the rater acts on the next item, a flag goes to this one.
    want.just_finished = Some(JustFinished {
        key: k,
        id: "pair".into(),
        batch: "fixture-mixed".into(),
        version: 3,
        skipped: false,
        flagged: None,
    });
    assert_eq!(s, want);
}

#[test]
fn a_refused_submit_says_why_and_names_the_key_that_fixes_it() {
    let mut s = showing("single");
    let before = s.clone();
    let fx = update(
        &mut s,
        reply(Reply::Incomplete(vec![
            "the justification needs at least 40 characters".into(),
        ])),
    );
    assert_eq!(fx, vec![]);
    let mut want = before;
    want.message = Some(Message {
        text: "Not submitted: the justification needs at least 40 characters (press j to write it)"
            .into(),
        error: true,
    });
    assert_eq!(s, want);
}

#[test]
fn an_overlay_over_the_editor_gives_the_keyboard_back_to_it() {
    let mut s = showing("single");
    update(&mut s, Action::Run(Command::EditJustification));
    update(&mut s, Action::Type("so far".into()));
    assert_eq!(s.mode, Mode::Editing);
    let typing = s.clone();
    // An hour later the break reminder comes up over the editor...
    s.now_ms += 60 * 60_000;
    update(&mut s, Action::Tick);
    assert_eq!(
        s.mode,
        Mode::Overlay {
            overlay: Overlay::Break,
            editing: true
        }
    );
    assert_eq!(s.editor.text(), "so far");
    // ...and when dismissed the editor has the keyboard, its text untouched.
    update(&mut s, Action::Dismiss);
    assert_eq!(s.mode, Mode::Editing);
    let mut want = typing;
    want.now_ms = s.now_ms;
    want.last_input_ms = s.now_ms;
    want.session.stretch_since_ms = s.now_ms;
    want.active_since_ms = s.now_ms;
    want.active_pending_ms = 0;
    assert_eq!(s, want);
}

#[test]
fn a_write_refused_by_another_process_keeps_the_typed_text_and_cancels_a_quit() {
    let mut s = showing("single");
    update(&mut s, Action::Run(Command::EditJustification));
    update(&mut s, Action::Type("my reasons".into()));
    let fx = update(&mut s, Action::Run(Command::Quit));
    let k = key_of("single");
    assert_eq!(fx, vec![Effect::SetJustification(k, "my reasons".into())]);
    assert!(s.quit);
    let mut theirs = item("single");
    theirs.annotation.status = Status::Done;
    theirs.annotation.revision = 1;
    theirs.annotation.version = 4;
    let fx = update(
        &mut s,
        reply(Reply::Conflict {
            name: "single".into(),
            item: Some(theirs.clone()),
            status: Status::Done,
            revision: 1,
            typed: Some("my reasons".into()),
            elsewhere: false,
        }),
    );
    // The same item shown again: no new guidelines are fetched (a change of them would
    // cover the editor the rater is typing in).
    assert_eq!(fx, vec![]);
    assert!(!s.quit, "the rater reads why before leaving");
    assert_eq!(s.mode, Mode::Editing);
    assert_eq!(s.editor.text(), "my reasons");
    assert_eq!(s.item, Some(theirs));
    assert_eq!(
        s.message.as_ref().map(|m| m.text.as_str()),
        Some(
            "single was changed in another verdict process (now done, rev 1): shown as stored; your text is kept in the editor, unsaved (esc saves it)"
        )
    );
}

#[test]
fn scrolling_stops_at_the_end_the_view_reported() {
    let mut s = showing("multi");
    s.focus = Pane::ResponseA;
    update(&mut s, Action::Resize(160, 45));
    update(
        &mut s,
        Action::Drawn([(Pane::ResponseA, 20)].into_iter().collect()),
    );
    for _ in 0..5 {
        update(&mut s, Action::Run(Command::ScrollDown));
    }
    assert_eq!(s.scroll_of(Pane::ResponseA), 20);
    update(&mut s, Action::Run(Command::ScrollUp));
    assert_eq!(
        s.scroll_of(Pane::ResponseA),
        5,
        "one page (a third of 45 rows) up"
    );
    // The view's report is not input: it neither clears a message nor counts as a key.
    s.message = Some(Message {
        text: "kept".into(),
        error: false,
    });
    let before = s.clone();
    update(&mut s, Action::Drawn(before.extents.clone()));
    assert_eq!(s, before);
}

#[test]
fn items_another_process_added_keep_the_rater_on_their_item() {
    let mut s = showing("warned");
    let mut queue = s.queue.clone();
    queue.insert(
        0,
        QueueEntry {
            key: 99,
            batch: "another".into(),
            id: "new".into(),
            status: Status::Draft,
        },
    );
    let pos = s.pos;
    let before = s.clone();
    let fx = update(
        &mut s,
        reply(Reply::Outside {
            queue: Some(queue.clone()),
            changed: vec![(key_of("single"), Status::Done)],
            unexported: 7,
            item: None,
        }),
    );
    assert_eq!(fx, vec![]);
    let mut want = before;
    want.queue = queue;
    want.queue[1].status = Status::Done;
    want.pos = pos + 1;
    want.unexported = 7;
    assert_eq!(s, want);
    assert_eq!(s.queue[s.pos].id, "warned");
}

#[test]
fn a_prompt_owns_the_keys_until_enter_and_then_asks_for_its_effect() {
    let mut s = showing("single");
    update(&mut s, Action::Run(Command::Skip));
    update(&mut s, Action::Type("duplicate\nof 12".into()));
    let fx = update(&mut s, Action::Edit(EditKey::Enter));
    assert_eq!(
        fx,
        vec![Effect::Skip(key_of("single"), "duplicate of 12".into(), 1)]
    );
    assert_eq!(s.mode, Mode::Normal);
    // An empty reason is refused, the prompt stays open and says why.
    update(&mut s, Action::Run(Command::Skip));
    let fx = update(&mut s, Action::Edit(EditKey::Enter));
    assert_eq!(fx, vec![]);
    assert!(matches!(s.overlay(), Some(Overlay::Prompt(..))));
    assert_eq!(
        s.message,
        Some(Message {
            text: "a skip needs a reason".into(),
            error: true
        })
    );
}

#[test]
fn the_item_just_submitted_is_the_flags_target_until_the_rater_acts_on_the_next() {
    let mut s = showing("pair");
    let pair = key_of("pair");
    update(&mut s, Action::Choose('t'));
    let done = Annotation {
        status: Status::Done,
        revision: 1,
        version: 3,
        ..s.item.as_ref().unwrap().annotation.clone()
    };
    update(
        &mut s,
        reply(Reply::Finished {
            key: pair,
            annotation: done,
            skipped: false,
            unexported: 1,
        }),
    );
    update(&mut s, reply(Reply::Loaded(item("suggested"))));
    // Time passing and the screen being drawn are not the rater acting.
    update(&mut s, Action::Tick);
    update(&mut s, Action::Drawn(Default::default()));
    update(&mut s, Action::Run(Command::Flag));
    update(&mut s, Action::Type("2".into()));
    update(&mut s, Action::Type("gap".into()));
    let fx = update(&mut s, Action::Edit(EditKey::Enter));
    assert_eq!(
        fx,
        vec![Effect::Flag(
            pair,
            "guideline_gap".into(),
            "gap".into(),
            None,
            3
        )]
    );
    // Any other key on the next item first: the flag is that item's.
    let mut s = showing("pair");
    update(&mut s, Action::Choose('t'));
    let annotation = s.item.as_ref().unwrap().annotation.clone();
    update(
        &mut s,
        reply(Reply::Finished {
            key: pair,
            annotation,
            skipped: false,
            unexported: 1,
        }),
    );
    update(&mut s, reply(Reply::Loaded(item("suggested"))));
    update(&mut s, Action::Run(Command::ScrollDown));
    assert_eq!(s.just_finished, None);
    update(&mut s, Action::Run(Command::Flag));
    update(&mut s, Action::Type("1".into()));
    let fx = update(&mut s, Action::Edit(EditKey::Enter));
    assert_eq!(
        fx,
        vec![Effect::Flag(
            key_of("suggested"),
            "edge_case".into(),
            String::new(),
            None,
            1
        )]
    );
}

#[test]
fn text_pasted_while_an_overlay_covers_the_editor_goes_into_the_editor() {
    let mut s = showing("single");
    update(&mut s, Action::Run(Command::EditJustification));
    update(&mut s, Action::Type("abc".into()));
    s.now_ms += 60 * 60_000;
    update(&mut s, Action::Tick);
    assert!(matches!(s.overlay(), Some(Overlay::Break)));
    let fx = update(&mut s, Action::Type("PASTED".into()));
    assert_eq!(s.editor.text(), "abcPASTED");
    assert_eq!(
        fx,
        vec![Effect::SaveDraft(key_of("single"), "abcPASTED".into())]
    );
}

#[test]
fn enter_on_an_empty_search_prompt_finds_the_next_match_and_never_submits() {
    let mut s = showing("single");
    s.guide = Guide::parse(verdict::guidelines::shipped()[0].text);
    update(&mut s, Action::Run(Command::SearchGuidelines));
    update(&mut s, Action::Type("harm".into()));
    let fx = update(&mut s, Action::Edit(EditKey::Enter));
    assert_eq!(fx, vec![]);
    let first = s.guide_line;
    // ctrl-f, enter: the next match of the same words.
    update(&mut s, Action::Run(Command::SearchGuidelines));
    let fx = update(&mut s, Action::Edit(EditKey::Enter));
    assert_eq!(fx, vec![], "a search never submits");
    assert_ne!(s.guide_line, first);
    assert_eq!(s.mode, Mode::Normal);
    // The queue search likewise repeats its last words.
    update(&mut s, Action::Run(Command::SearchQueue));
    update(&mut s, Action::Type("joke".into()));
    assert_eq!(
        update(&mut s, Action::Edit(EditKey::Enter)),
        vec![Effect::Search("joke".into())]
    );
    update(&mut s, Action::Run(Command::SearchQueue));
    assert_eq!(
        update(&mut s, Action::Edit(EditKey::Enter)),
        vec![Effect::Search("joke".into())]
    );
}

#[test]
fn a_correction_waits_for_enter_and_so_does_an_opened_strength_question() {
    // The pair was submitted before (revision 1) and reopened: the answer that completes
    // it does not submit, so that the next keys stay on it.
    let mut s = showing("pair");
    if let Some(it) = s.item.as_mut() {
        it.annotation.revision = 1;
    }
    let fx = update(&mut s, Action::Choose('t'));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Submit(_))), "{fx:?}");
    assert!(
        s.message
            .as_ref()
            .unwrap()
            .text
            .starts_with("a correction: enter submits it"),
        "{:?}",
        s.message
    );
    // First pass: A better opens "how much": it waits for that answer, which submits.
    let mut s = showing("pair");
    let fx = update(&mut s, Action::Choose('a'));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Submit(_))), "{fx:?}");
    let fx = update(&mut s, Action::Choose('c'));
    assert!(fx.contains(&Effect::Submit(key_of("pair"))), "{fx:?}");
}

#[test]
fn accepted_suggestions_are_named_by_label() {
    let mut s = showing("suggested");
    update(&mut s, Action::Run(Command::AcceptSuggestions));
    let text = s.message.as_ref().unwrap().text.clone();
    assert!(
        text.starts_with("accepted the suggestions: ")
            && text.contains("Response behaviour = Full refusal")
            && text.contains("Harm categories = None"),
        "{text}"
    );
}

#[test]
fn a_flag_prompt_knows_the_flag_it_replaces() {
    let mut s = showing("single");
    if let Some(it) = s.item.as_mut() {
        it.annotation.flag = Some(("edge_case".into(), "first note".into()));
    }
    update(&mut s, Action::Run(Command::Flag));
    match s.overlay() {
        Some(Overlay::Prompt(verdict::tui::state::PromptKind::FlagReason(t), _)) => {
            assert_eq!(t.flagged.as_deref(), Some("edge_case"));
        }
        other => panic!("{other:?}"),
    }
}
