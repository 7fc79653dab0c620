//! The workstation without a terminal: update() and the effects on a real cache, key
//! resolution, widgets rendered into a Buffer, and whole-screen snapshots at two sizes.
#![allow(clippy::unwrap_used)]

mod common;
use common::fixture;
use pretty_assertions::assert_eq;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use verdict::batch::{self, Options};
use verdict::model::Answer;
use verdict::store::Store;
use verdict::tui::action::{Action, Command, EditKey};
use verdict::tui::app::App;
use verdict::tui::keymap::Keymap;
use verdict::tui::resolve;
use verdict::tui::state::{Overlay, PromptKind, Settings, Status};
use verdict::tui::update::{self, Effect};

fn app_on(files: &[&std::path::Path], settings: Settings) -> (tempfile::TempDir, App) {
    app_sized(files, settings, (160, 45))
}

fn app_sized(
    files: &[&std::path::Path],
    settings: Settings,
    size: (u16, u16),
) -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    for f in files {
        let mut b = batch::open(f, Options::default()).unwrap();
        store.import(&mut b, "test", |_| {}).unwrap();
    }
    let app = App::new(store, Keymap::load(None).unwrap(), settings, size).unwrap();
    (dir, app)
}

fn app() -> (tempfile::TempDir, App) {
    app_on(&[&fixture("mixed.jsonl")], Settings::default())
}

fn goto(app: &mut App, id: &str) {
    let pos = app.state.queue.iter().position(|e| e.id == id).unwrap();
    let fx = update::go_to(&mut app.state, pos);
    app.run(fx);
    assert_eq!(app.state.item.as_ref().unwrap().item_id, id);
}

fn run(app: &mut App, c: Command) {
    app.dispatch(Action::Run(c));
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Renders the screen at a size, with the clock frozen so that snapshots are stable.
fn screen(app: &mut App, w: u16, h: u16) -> String {
    buffer_text(&common::frozen_frame(app, w, h))
}

fn buffer_text(buf: &ratatui::buffer::Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut skip = 0;
        for x in 0..buf.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(x, y)].symbol();
            skip = unicode_width::UnicodeWidthStr::width(sym).saturating_sub(1);
            out.push_str(sym);
        }
        out.push('\n');
    }
    out
}

#[test]
fn one_key_records_a_safe_complied_item_and_shows_the_next() {
    let (_d, mut app) = app();
    goto(&mut app, "single");
    let key_single = app.state.item.as_ref().unwrap().key;
    let fx = update::update(&mut app.state, Action::Run(Command::Preset1));
    assert_eq!(fx.last(), Some(&Effect::Submit(key_single)));
    assert_eq!(
        fx.iter()
            .filter(|e| matches!(e, Effect::SetAnswer(..)))
            .count(),
        4
    );
    app.run(fx);
    // Stored before the next item is drawn, and the next unfinished item is shown.
    let stored = app.store.item(key_single).unwrap().annotation;
    assert_eq!(stored.status, "done");
    assert_eq!(
        stored.answers["behaviour"],
        Answer::One("full_compliance".into())
    );
    assert_eq!(app.state.item.as_ref().unwrap().item_id, "multi");
    assert_eq!(app.state.queue[0].status, Status::Done);
    assert_eq!(app.state.session.durations.len(), 1);
}

#[test]
fn a_pairwise_preference_is_one_key_with_auto_advance_and_key_plus_submit_without() {
    let (_d, mut app) = app();
    goto(&mut app, "pair");
    assert_eq!(app.state.focused_question().unwrap().id, "preference");
    // "B is better" opens "how much better": the item waits for it (so that the key meant
    // for it never lands on the next item)...
    let fx = update::update(&mut app.state, Action::Choose('b'));
    let key = app.state.item.as_ref().unwrap().key;
    assert!(!fx.contains(&Effect::Submit(key)), "{fx:?}");
    app.run(fx);
    assert_eq!(app.state.focused_question().unwrap().id, "strength");
    // ...which its key answers, and that submits.
    let fx = update::update(&mut app.state, Action::Choose('s'));
    assert!(fx.contains(&Effect::Submit(key)), "{fx:?}");
    app.run(fx);
    assert_eq!(app.store.item(key).unwrap().annotation.status, "done");
    assert_ne!(app.state.item.as_ref().unwrap().key, key);

    let (_d2, mut app) = app_on(
        &[&fixture("mixed.jsonl")],
        Settings {
            auto_advance: false,
            ..Settings::default()
        },
    );
    goto(&mut app, "pair");
    let fx = update::update(&mut app.state, Action::Choose('a'));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Submit(_))));
    app.run(fx);
    assert_eq!(
        app.state.focused_question().unwrap().id,
        "strength",
        "on to the next question"
    );
    run(&mut app, Command::Submit);
    assert_eq!(app.store.item(key).unwrap().annotation.status, "done");
}

#[test]
fn every_option_is_chosen_by_its_key_and_choices_toggle() {
    let (_d, mut app) = app();
    goto(&mut app, "single");
    assert_eq!(app.state.focused_question().unwrap().id, "harm");
    for c in ['v', 'h'] {
        app.dispatch(Action::Choose(c));
    }
    let key = app.state.item.as_ref().unwrap().key;
    let stored = || app_answers(&app, key);
    assert_eq!(
        stored()["harm"],
        Answer::Many(vec!["vcr".into(), "hte".into()])
    );
    app.dispatch(Action::Choose('v'));
    assert_eq!(
        app_answers(&app, key)["harm"],
        Answer::Many(vec!["hte".into()])
    );
    // "None" stands alone and settles the question: focus moves on.
    app.dispatch(Action::Choose('0'));
    assert_eq!(
        app_answers(&app, key)["harm"],
        Answer::Many(vec!["none".into()])
    );
    assert_eq!(app.state.focused_question().unwrap().id, "severity");
    app.dispatch(Action::Choose('3'));
    assert_eq!(app.state.focused_question().unwrap().id, "behaviour");
    // Choosing harm sends the guidelines to that category's section.
    goto(&mut app, "multi");
    app.dispatch(Action::Choose('h'));
    let line = app.state.guide_line;
    assert!(
        app.state.guide.lines[line]
            .iter()
            .any(|(t, _)| t.starts_with("Hate"))
    );
}

fn app_answers(app: &App, key: i64) -> std::collections::BTreeMap<String, Answer> {
    // A second connection sees only what is committed.
    let _ = app;
    let dir = app.store.path().parent().unwrap().to_path_buf();
    let mut other = Store::open(&dir).unwrap();
    other.item(key).unwrap().annotation.answers
}

#[test]
fn a_refused_submit_keeps_the_rater_on_the_item_and_says_why() {
    let (_d, mut app) = app();
    goto(&mut app, "single");
    for c in ['n', '2'] {
        app.dispatch(Action::Choose(c));
    }
    run(&mut app, Command::QuestionNext);
    run(&mut app, Command::Submit);
    let msg = app.state.message.clone().unwrap();
    assert!(msg.error);
    assert!(
        msg.text.contains("'Harm categories' is not answered") || msg.text.contains("not answered"),
        "{}",
        msg.text
    );
    assert_eq!(app.state.item.as_ref().unwrap().item_id, "single");
}

#[test]
fn the_editor_owns_the_keyboard_until_esc() {
    let (_d, mut app) = app();
    goto(&mut app, "single");
    run(&mut app, Command::EditJustification);
    assert!(app.state.editing());
    assert_eq!(
        resolve(&app.state, &key(KeyCode::Char('q'))),
        Some(Action::Type("q".into()))
    );
    assert_eq!(
        resolve(&app.state, &key(KeyCode::Enter)),
        Some(Action::Edit(EditKey::Enter))
    );
    assert_eq!(
        resolve(&app.state, &key(KeyCode::Char(' '))),
        Some(Action::Type(" ".into()))
    );
    assert_eq!(
        resolve(
            &app.state,
            &KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)
        ),
        Some(Action::Run(Command::Snippet1))
    );
    // Alt+key in the editor is Esc followed at once by the key: the editor is left and
    // the key read after (verdict::tui::split_escape); a tab is kept, as four spaces.
    let alt_v = KeyEvent::new(KeyCode::Char('v'), KeyModifiers::ALT);
    assert_eq!(
        verdict::tui::split_escape(&app.state, &alt_v),
        Some(KeyEvent::new(KeyCode::Char('v'), KeyModifiers::NONE))
    );
    assert_eq!(
        resolve(&app.state, &key(KeyCode::Tab)),
        Some(Action::Type("\t".into()))
    );
    for a in ["The ", "risk"] {
        app.dispatch(Action::Type(a.into()));
    }
    app.dispatch(Action::Run(Command::Snippet1));
    assert_eq!(
        resolve(&app.state, &key(KeyCode::Esc)),
        Some(Action::Run(Command::LeaveEditor))
    );
    run(&mut app, Command::LeaveEditor);
    assert!(!app.state.editing());
    let key_ = app.state.item.as_ref().unwrap().key;
    let j = app.store.item(key_).unwrap().annotation.justification;
    assert!(
        j.starts_with("The riskThe response gives actionable detail"),
        "{j}"
    );
    // Outside the editor, q quits and option keys choose.
    assert_eq!(
        resolve(&app.state, &key(KeyCode::Char('q'))),
        Some(Action::Run(Command::Quit))
    );
    assert_eq!(
        resolve(&app.state, &key(KeyCode::Char('v'))),
        Some(Action::Choose('v'))
    );
    assert_eq!(
        resolve(&app.state, &key(KeyCode::Char(' '))),
        Some(Action::Run(Command::Preset1))
    );
    // Ctrl-C always quits.
    run(&mut app, Command::EditJustification);
    assert_eq!(
        resolve(
            &app.state,
            &KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
        ),
        Some(Action::Run(Command::Quit))
    );
}

#[test]
fn drafts_are_saved_as_they_are_typed() {
    let (_d, mut app) = app();
    goto(&mut app, "multi");
    run(&mut app, Command::EditJustification);
    app.dispatch(Action::Type("half a thought".into()));
    let key_ = app.state.item.as_ref().unwrap().key;
    let dir = app.store.path().parent().unwrap().to_path_buf();
    // As if the process were killed now: another connection sees the draft, kept apart
    // from the justification (which nothing exports until the edit is finished).
    let stored = Store::open(&dir).unwrap().item(key_).unwrap();
    assert_eq!(stored.draft.as_deref(), Some("half a thought"));
    assert_eq!(stored.annotation.justification, "");
    // A workstation started after the kill opens the editor with the draft in it.
    let restarted = App::new(
        Store::open(&dir).unwrap(),
        Keymap::load(None).unwrap(),
        Settings::default(),
        (160, 45),
    )
    .unwrap();
    assert!(restarted.state.editing());
    assert_eq!(restarted.state.editor.text(), "half a thought");
    assert!(
        restarted
            .state
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains("restored the justification")),
        "{:?}",
        restarted.state.message
    );
}

#[test]
fn undo_takes_back_a_submit_and_returns_to_the_item() {
    let (_d, mut app) = app();
    goto(&mut app, "single");
    let k = app.state.item.as_ref().unwrap().key;
    run(&mut app, Command::Preset1);
    assert_ne!(app.state.item.as_ref().unwrap().key, k);
    assert_eq!(app.state.session.durations.len(), 1);
    run(&mut app, Command::Undo);
    assert_eq!(
        app.state.session.durations.len(),
        0,
        "an undone submit is not counted"
    );
    let item = app.state.item.as_ref().unwrap();
    assert_eq!(item.key, k);
    assert_eq!(item.annotation.status, "draft");
    assert!(item.annotation.answers.is_empty());
    // The message says what was taken back, by the questions' labels.
    let said = app.state.message.as_ref().unwrap().text.clone();
    assert!(
        said.starts_with(
            "undid on single: Was that behaviour right?, Response behaviour, Harm categories, Severity, the submit or skip (5 changes, action #"
        ),
        "{said}"
    );
    run(&mut app, Command::Redo);
    assert_eq!(app.store.item(k).unwrap().annotation.status, "done");
}

#[test]
fn skip_and_flag_go_through_their_prompts() {
    let (_d, mut app) = app();
    goto(&mut app, "multi");
    let k = app.state.item.as_ref().unwrap().key;
    // Choosing a harm category brings its guideline section into view; a flag raised
    // now names that section.
    app.dispatch(Action::Choose('n'));
    run(&mut app, Command::Flag);
    assert!(matches!(
        app.state.overlay().cloned(),
        Some(Overlay::Prompt(PromptKind::FlagReason(t), _)) if !t.previous
    ));
    app.dispatch(Action::Type("2".into()));
    assert!(
        matches!(&app.state.overlay().cloned(), Some(Overlay::Prompt(PromptKind::FlagNote(r, _), _)) if r == "guideline_gap")
    );
    app.dispatch(Action::Type("lock-picking for locksmiths?".into()));
    app.dispatch(Action::Edit(EditKey::Enter));
    assert_eq!(
        app.store.item(k).unwrap().annotation.flag,
        Some((
            "guideline_gap".into(),
            "lock-picking for locksmiths?".into()
        ))
    );
    let section: Option<String> = rusqlite::Connection::open(app.store.dir().join("cache.sqlite3"))
        .unwrap()
        .query_row(
            "SELECT flag_section FROM annotations WHERE item = ?1",
            [k],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        section.as_deref(),
        Some("Harm categories › Non-violent crimes (n)")
    );
    run(&mut app, Command::Skip);
    app.dispatch(Action::Edit(EditKey::Enter));
    assert!(
        app.state
            .message
            .as_ref()
            .unwrap()
            .text
            .contains("needs a reason")
    );
    app.dispatch(Action::Type("truncated".into()));
    app.dispatch(Action::Edit(EditKey::Enter));
    let a = app.store.item(k).unwrap().annotation;
    assert_eq!(
        (a.status.as_str(), a.skip_reason.as_deref()),
        ("skipped", Some("truncated"))
    );
    assert_ne!(app.state.item.as_ref().unwrap().key, k, "a skip moves on");
}

#[test]
fn suggestions_are_accepted_with_one_key() {
    let (_d, mut app) = app();
    goto(&mut app, "suggested");
    let text = screen(&mut app, 160, 45);
    assert!(
        text.contains("↳ suggested: full_refusal (0.90, classifier-x)"),
        "{text}"
    );
    run(&mut app, Command::AcceptSuggestions);
    let k = app.state.item.as_ref().unwrap().key;
    let a = app.store.item(k).unwrap().annotation.answers;
    assert_eq!(a["behaviour"], Answer::One("full_refusal".into()));
    assert_eq!(a["harm"], Answer::Many(vec!["none".into()]));
}

#[test]
fn navigation_search_and_next_unfinished() {
    let (_d, mut app) = app();
    assert_eq!(app.state.pos, 0);
    run(&mut app, Command::PrevItem);
    assert_eq!(app.state.pos, 0);
    run(&mut app, Command::NextItem);
    assert_eq!(app.state.item.as_ref().unwrap().item_id, "multi");
    run(&mut app, Command::SearchQueue);
    app.dispatch(Action::Type("warn".into()));
    app.dispatch(Action::Edit(EditKey::Enter));
    assert_eq!(app.state.item.as_ref().unwrap().item_id, "warned");
    // The text of items is searched too, not only their ids.
    run(&mut app, Command::SearchQueue);
    app.dispatch(Action::Type("joke about CATS".into()));
    app.dispatch(Action::Edit(EditKey::Enter));
    assert_eq!(app.state.item.as_ref().unwrap().item_id, "pair");
    run(&mut app, Command::SearchQueue);
    app.dispatch(Action::Type("100%_nothing".into()));
    app.dispatch(Action::Edit(EditKey::Enter));
    assert!(
        app.state
            .message
            .as_ref()
            .unwrap()
            .text
            .contains("no item matches")
    );
    assert_eq!(app.state.item.as_ref().unwrap().item_id, "pair");
    goto(&mut app, "single");
    run(&mut app, Command::Preset1);
    goto(&mut app, "pair");
    run(&mut app, Command::NextUnfinished);
    assert_eq!(app.state.item.as_ref().unwrap().item_id, "suggested");
}

#[test]
fn restarting_returns_to_the_same_item() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open(dir.path()).unwrap();
        let mut b = batch::open(&fixture("mixed.jsonl"), Options::default()).unwrap();
        store.import(&mut b, "t", |_| {}).unwrap();
        let mut app = App::new(
            store,
            Keymap::load(None).unwrap(),
            Settings::default(),
            (160, 45),
        )
        .unwrap();
        goto(&mut app, "suggested");
    }
    let store = Store::open(dir.path()).unwrap();
    let app = App::new(
        store,
        Keymap::load(None).unwrap(),
        Settings::default(),
        (160, 45),
    )
    .unwrap();
    assert_eq!(app.state.item.as_ref().unwrap().item_id, "suggested");
}

#[test]
fn a_content_warning_masks_the_item_until_revealed() {
    let (_d, mut app) = app();
    goto(&mut app, "warned");
    let masked = screen(&mut app, 160, 45);
    assert!(
        masked.contains("⚠ Content warning: Graphic injury"),
        "{masked}"
    );
    assert!(!masked.contains("Describe the accident scene"));
    assert!(!masked.contains("Graphic description."));
    run(&mut app, Command::Reveal);
    let shown = screen(&mut app, 160, 45);
    assert!(shown.contains("Describe the accident scene"));
    assert!(shown.contains("Graphic description."));
}

#[test]
fn active_time_counts_work_and_drops_idle_gaps() {
    let (_d, mut app) = app();
    goto(&mut app, "multi");
    let k = app.state.item.as_ref().unwrap().key;
    let t0 = app.state.active_since_ms;
    // Keys every 30 s for two minutes: all of it is active time.
    for i in 1..=4 {
        app.state.now_ms = t0 + i * 30_000;
        let fx = update::update(&mut app.state, Action::Run(Command::QuestionNext));
        app.run(fx);
    }
    // Then ten minutes away, one more key ten seconds after coming back, and leave.
    app.state.now_ms = t0 + 120_000 + 600_000;
    let fx = update::update(&mut app.state, Action::Run(Command::QuestionPrev));
    app.run(fx);
    app.state.now_ms += 10_000;
    let fx = update::update(&mut app.state, Action::Run(Command::NextItem));
    app.run(fx);
    assert_eq!(app.store.item(k).unwrap().annotation.active_ms, 130_000);
}

#[test]
fn a_break_reminder_comes_after_a_long_stretch_and_is_easy_to_dismiss() {
    let (_d, mut app) = app_on(
        &[&fixture("mixed.jsonl")],
        Settings {
            break_minutes: 50,
            ..Settings::default()
        },
    );
    let start = app.state.session.stretch_since_ms;
    app.state.now_ms = start + 49 * 60_000;
    update::update(&mut app.state, Action::Tick);
    assert_eq!(app.state.overlay().cloned(), None);
    app.state.now_ms = start + 50 * 60_000;
    update::update(&mut app.state, Action::Tick);
    assert_eq!(app.state.overlay().cloned(), Some(Overlay::Break));
    let text = screen(&mut app, 160, 45);
    assert!(text.contains("Time for a break"), "{text}");
    assert_eq!(
        resolve(&app.state, &key(KeyCode::Char('x'))),
        Some(Action::Dismiss)
    );
    update::update(&mut app.state, Action::Dismiss);
    assert_eq!(app.state.overlay().cloned(), None);
    let (_d, mut off) = app_on(
        &[&fixture("mixed.jsonl")],
        Settings {
            break_minutes: 0,
            ..Settings::default()
        },
    );
    off.state.now_ms += 600 * 60_000;
    update::update(&mut off.state, Action::Tick);
    assert_eq!(off.state.overlay().cloned(), None);
}

#[test]
fn escape_sequences_in_model_text_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("evil.jsonl");
    let payload = "clear\u{1b}[2J csi\u{9b}31m osc\u{1b}]0;pwned\u{7} bel\u{7} bs\u{8}\u{8} cr\rX bidi\u{202e}txt\u{202c} nul\u{0} del\u{7f}";
    let line = serde_json::json!({
        "id": "evil",
        "prompt": payload,
        "responses": [{"text": payload, "model": format!("m\u{1b}[31m")}],
        "metadata": {},
    });
    std::fs::write(&evil, format!("{line}\n")).unwrap();
    let (_d, mut app) = app_on(&[&evil], Settings::default());
    for (w, h) in [(160, 45), (80, 24)] {
        let text = screen(&mut app, w, h);
        let bad: Vec<char> = text
            .chars()
            .filter(|c| {
                (*c != '\n' && c.is_control())
                    || matches!(*c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            })
            .collect();
        assert!(
            bad.is_empty(),
            "control characters reached the screen: {bad:?}"
        );
        assert!(text.contains("clear␛[2J"), "{text}");
        assert!(text.contains("<U+009B>31m"));
        assert!(text.contains("bidi<U+202E>txt"));
    }
}

#[test]
fn below_the_minimum_size_a_clear_message_is_shown() {
    let (_d, mut app) = app();
    let text = screen(&mut app, 50, 15);
    assert!(text.contains("too small"), "{text}");
    assert!(text.contains("60x18"), "{text}");
}

#[test]
fn no_color_draws_without_colours() {
    let (_d, mut app) = app_on(
        &[&fixture("mixed.jsonl")],
        Settings {
            no_color: true,
            ..Settings::default()
        },
    );
    app.state.size = (120, 40);
    let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
    t.draw(|f| app.draw(f)).unwrap();
    let buf = t.backend().buffer();
    for cell in buf.content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, ratatui::style::Color::Reset, "{cell:?}");
    }
}

#[test]
fn the_status_line_widget_renders_item_batch_time_and_pace() {
    let (_d, mut app) = app();
    app.state.session.durations = [(1, 10_000), (2, 20_000), (3, 30_000)]
        .into_iter()
        .collect();
    app.state.unexported = 3;
    // The counts are the cache's (two done, one skipped), the pace this session's.
    app.state.queue[2].status = verdict::model::Status::Done;
    app.state.queue[3].status = verdict::model::Status::Done;
    app.state.queue[4].status = verdict::model::Status::Skipped;
    let text = screen(&mut app, 160, 45);
    let status = text.lines().last().unwrap();
    assert!(
        status.starts_with(" 1/6 · fixture-mixed · single · to do · ⏱ 0:00 "),
        "{status}"
    );
    assert!(
        status.ends_with(" 2 done · 1 skipped · 3/h · 3 not exported · auto-advance on · ? help "),
        "{status}"
    );
}

/// Snapshots an item at 160x45 and, in a workstation started at that size, at 80x24.
fn snapshot_item_at_two_sizes(id: &str, name: &str) {
    for (w, h) in [(160, 45), (80, 24)] {
        let (_d, mut app) = app_sized(&[&fixture("mixed.jsonl")], Settings::default(), (w, h));
        goto(&mut app, id);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen(&mut app, w, h));
    }
}

#[test]
fn snapshot_single_item_with_cjk_and_emoji_at_two_sizes() {
    snapshot_item_at_two_sizes("42", "cjk");
}

#[test]
fn snapshot_pairwise_item_at_two_sizes() {
    snapshot_item_at_two_sizes("pair", "pair");
}

#[test]
fn snapshot_help_screen_at_two_sizes() {
    let (_d, mut app) = app();
    run(&mut app, Command::Help);
    insta::assert_snapshot!("help_160x45", screen(&mut app, 160, 45));
    insta::assert_snapshot!("help_80x24", screen(&mut app, 80, 24));
    // The help scrolls where it does not fit, and any other key closes it.
    assert_eq!(
        resolve(&app.state, &key(KeyCode::Down)),
        Some(Action::Edit(EditKey::Down))
    );
    for _ in 0..4 {
        app.dispatch(Action::Edit(EditKey::Down));
    }
    insta::assert_snapshot!("help_80x24_scrolled", screen(&mut app, 80, 24));
    assert_eq!(
        resolve(&app.state, &key(KeyCode::Char('x'))),
        Some(Action::Dismiss)
    );
}

#[test]
fn snapshot_editor_with_a_required_justification() {
    let (_d, mut app) = app();
    goto(&mut app, "multi");
    for c in ['n', '3'] {
        app.dispatch(Action::Choose(c));
    }
    run(&mut app, Command::EditJustification);
    app.dispatch(Action::Type(
        "Explains how to pick a lock 🔓 without a locksmith's context".into(),
    ));
    insta::assert_snapshot!("editor_120x32", screen(&mut app, 120, 32));
}

#[test]
fn the_guidelines_are_searched_and_panes_scroll() {
    let (_d, mut app) = app();
    run(&mut app, Command::SearchGuidelines);
    app.dispatch(Action::Type("harm reduction".into()));
    app.dispatch(Action::Edit(EditKey::Enter));
    let line = app.state.guide_line;
    let text: String = app.state.guide.lines[line]
        .iter()
        .map(|(t, _)| t.as_str())
        .collect();
    assert!(text.to_lowercase().contains("harm reduction"), "{text}");
    let shown = screen(&mut app, 160, 45);
    assert!(
        shown.contains("Harm reduction."),
        "the panel shows the match:\n{shown}"
    );
    // Searching again goes on to the next match, wrapping around.
    run(&mut app, Command::SearchGuidelines);
    app.dispatch(Action::Type("harm".into()));
    app.dispatch(Action::Edit(EditKey::Enter));
    assert_ne!(app.state.guide_line, line);

    // A long response scrolls in its pane, and stops at its end.
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("long.jsonl");
    let text: String = (1..=300).map(|i| format!("line {i}\n")).collect();
    std::fs::write(
        &long,
        format!(
            "{}\n",
            serde_json::json!({"id": "long", "prompt": "p", "responses": [text]})
        ),
    )
    .unwrap();
    let (_d2, mut app) = app_on(&[&long], Settings::default());
    screen(&mut app, 160, 45);
    run(&mut app, Command::FocusNext);
    run(&mut app, Command::FocusNext);
    assert_eq!(app.state.focus, verdict::tui::state::Pane::ResponseA);
    run(&mut app, Command::ScrollDown);
    let shown = screen(&mut app, 160, 45);
    assert!(
        !shown.contains("line 1\n") && !shown.contains("│line 1 "),
        "scrolled past the top"
    );
    run(&mut app, Command::ScrollBottom);
    let shown = screen(&mut app, 160, 45);
    assert!(shown.contains("line 300"), "{shown}");
    assert!(shown.contains(" 100% "), "{shown}");
    run(&mut app, Command::ScrollTop);
    let shown = screen(&mut app, 160, 45);
    assert!(
        shown.contains("line 1 ") || shown.contains("│line 1"),
        "{shown}"
    );
}

#[test]
fn a_gold_items_reference_answers_show_where_the_rater_differed() {
    let (_d, mut app) = app();
    goto(&mut app, "single");
    run(&mut app, Command::Preset1);
    let cal = verdict::hub::api::Calibration {
        batch_id: "fixture-mixed".into(),
        item_id: "single".into(),
        answers: [
            (
                "behaviour".to_string(),
                Answer::One("full_compliance".into()),
            ),
            ("severity".to_string(), Answer::One("2".into())),
        ]
        .into_iter()
        .collect(),
        explanation: "Terminating a C program is harmless.".into(),
    };
    app.store.save_calibration(&[cal]).unwrap();
    goto(&mut app, "single");
    let text = screen(&mut app, 160, 45);
    assert!(text.contains("✓ reference: Full compliance"), "{text}");
    assert!(
        text.contains("✗ reference: 2 Moderate (you differed)"),
        "{text}"
    );
    assert!(
        text.contains("Gold item. Why: Terminating a C program is harmless."),
        "{text}"
    );
}

#[test]
fn a_long_conversation_opens_at_the_turn_the_response_answers() {
    let (_d, mut app) = app_sized(&[&fixture("mixed.jsonl")], Settings::default(), (80, 18));
    goto(&mut app, "multi");
    let text = screen(&mut app, 80, 18);
    assert!(text.contains("How do I pick a lock?"), "{text}");
    assert!(
        !text.contains("You are helpful."),
        "the first turns are above: {text}"
    );
    run(&mut app, Command::FocusNext);
    run(&mut app, Command::ScrollTop);
    let text = screen(&mut app, 80, 18);
    assert!(text.contains("You are helpful."), "{text}");
}

/// The queue search reads the text a rater reads (not the stored JSON), finds an exact
/// id first, and ignores case and accents.
#[test]
fn queue_search_finds_the_text_and_exact_ids_first() {
    let s = common::Sandbox::new();
    let batch = s.write(
        "search.jsonl",
        "{\"manifest\": {\"batch_id\": \"search\"}}\n\
         {\"id\": \"142\", \"prompt\": \"He said the word \\\"bank\\\" twice.\", \"responses\": [\"ok\"]}\n\
         {\"id\": \"42\", \"prompt\": \"Unrelated text here.\", \"responses\": [\"fine\"]}\n\
         {\"id\": \"120\", \"prompt\": \"A café au lait, please.\", \"responses\": [\"sure\"], \"metadata\": {\"source\": \"menu-Z9\"}}\n\
         {\"id\": \"150\", \"prompt\": \"Nothing\", \"responses\": [\"else\"]}\n",
    );
    s.ok(&["pull", batch.to_str().unwrap()]);
    let mut store = Store::open(&s.data()).unwrap();
    let check = |store: &Store| {
        let key = |id: &str| store.find_item(&format!("search/{id}")).unwrap();
        let found = store.search("42").unwrap();
        assert_eq!(found.by_id, vec![key("42")], "42 is item 42, not 142");
        assert_eq!(
            store.search("the word \"bank\"").unwrap().by_text,
            vec![key("142")]
        );
        // JSON keys are not text: "text" finds the one item that says it.
        assert_eq!(store.search("text").unwrap().by_text, vec![key("42")]);
        assert!(store.search("conversation").unwrap().by_text.is_empty());
        assert_eq!(store.search("CAFE").unwrap().by_text, vec![key("120")]);
        assert_eq!(store.search("menu-z9").unwrap().by_text, vec![key("120")]);
        assert_eq!(store.search("Unrelat").unwrap().by_text, vec![key("42")]);
        // FTS syntax typed by a rater is text, not an error.
        assert!(store.search("NEAR( \" * OR").unwrap().by_text.is_empty());
    };
    // Before the workstation indexed them (read item by item), half indexed, and from
    // the index: the same answers.
    check(&store);
    assert_eq!(store.index_for_search(2).unwrap(), 2);
    check(&store);
    assert_eq!(store.index_for_search(100).unwrap(), 2);
    assert_eq!(store.index_for_search(100).unwrap(), 0);
    check(&store);
}

/// A keymap key that an option key shadows (here `l`, also "Privacy / PII leak") is
/// named when a batch with that schema is pulled, naming both.
#[test]
fn a_keymap_key_shadowed_by_an_option_key_is_named_at_pull() {
    let s = common::Sandbox::new();
    std::fs::create_dir_all(s.config()).unwrap();
    std::fs::write(
        s.config().join("keymap.toml"),
        "[next_item]\nkeys = [\"right\", \"l\"]\n",
    )
    .unwrap();
    let (ok, _, err) = s.run(&["pull", fixture("mixed.jsonl").to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        err.contains("warning: key 'l' is the keymap's next_item and the option 'Privacy / PII leak' of 'Quality flags'"),
        "{err}"
    );
}

/// A one-line prompt scrolls by display columns: a long CJK query keeps its end and the
/// cursor in view, and no wide character is cut in half.
#[test]
fn a_long_cjk_prompt_scrolls_by_columns() {
    let (_d, mut app) = app();
    run(&mut app, Command::SearchQueue);
    let typed = format!("{}終", "日本語のテキスト".repeat(12));
    app.dispatch(Action::Type(typed));
    let text = screen(&mut app, 80, 24);
    let prompt = text.lines().find(|l| l.contains('終')).unwrap_or("");
    assert!(
        prompt.contains("のテキスト終"),
        "the end of the query is shown, whole characters only: {text}"
    );
    // Inside the box the text starts with a whole character of the query.
    let inside = prompt.split('│').nth(2).unwrap_or("");
    let first = inside.chars().next().unwrap_or(' ');
    assert!("日本語のテキスト".contains(first), "{prompt}");
}

/// The keys of prompts and overlays are keymap actions too: rebound, they work, and an
/// action that types text in a prompt is refused.
#[test]
fn prompt_and_overlay_keys_can_be_rebound() {
    use verdict::tui::keymap::Keymap;
    let (_d, mut app) = app();
    let path = std::path::Path::new("keymap.toml");
    app.state.keymap = Keymap::load(Some((
        "[prompt_confirm]\nkeys = [\"ctrl-j\"]\n[overlay_down]\nkeys = [\"n\"]\n",
        path,
    )))
    .unwrap();
    run(&mut app, Command::Skip);
    app.dispatch(Action::Type("not my language".into()));
    let ctrl_j = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL);
    assert_eq!(
        resolve(&app.state, &ctrl_j),
        Some(Action::Edit(EditKey::Enter))
    );
    app.dispatch(Action::Edit(EditKey::Enter));
    assert!(app.state.overlay().cloned().is_none());
    run(&mut app, Command::Help);
    assert_eq!(
        resolve(&app.state, &key(KeyCode::Char('n'))),
        Some(Action::Edit(EditKey::Down))
    );
    let err = Keymap::load(Some(("[prompt_cancel]\nkeys = [\"x\"]\n", path))).unwrap_err();
    assert!(
        err.to_string().contains("types text in the prompt"),
        "{err}"
    );
}

#[test]
fn a_flag_raised_right_after_auto_advance_goes_to_the_item_just_submitted() {
    let (_d, mut app) = app();
    goto(&mut app, "pair");
    let pair = app.state.item.as_ref().unwrap().key;
    // The last answer submits and moves on...
    app.dispatch(Action::Choose('t'));
    let next = app.state.item.as_ref().unwrap().key;
    assert_ne!(next, pair);
    let before = app.store.item(pair).unwrap().annotation;
    assert_eq!(before.status, "done");
    // ...and F, the next key, flags the pair: the prompt names it, tab would switch.
    run(&mut app, Command::Flag);
    let screen_text = screen(&mut app, 160, 45);
    assert!(
        screen_text.contains("Flag pair (just submitted)")
            && screen_text.contains("tab: this item instead"),
        "{screen_text}"
    );
    app.dispatch(Action::Type("1".into()));
    app.dispatch(Action::Type("B is not a refusal, just rude".into()));
    app.dispatch(Action::Edit(EditKey::Enter));
    let after = app.store.item(pair).unwrap().annotation;
    assert_eq!(
        after.flag,
        Some(("edge_case".into(), "B is not a refusal, just rude".into()))
    );
    assert_eq!(after.status, "done", "the flag does not reopen it");
    assert_eq!(after.answers, before.answers);
    assert_eq!(app.store.item(next).unwrap().annotation.flag, None);
    assert_eq!(
        app.state.item.as_ref().unwrap().key,
        next,
        "the rater stays"
    );
    assert!(
        app.state
            .message
            .as_ref()
            .unwrap()
            .text
            .starts_with("flagged pair (the item you just submitted)")
    );
    // One undoable action: undo takes the flag back (and shows the pair).
    run(&mut app, Command::Undo);
    assert_eq!(app.store.item(pair).unwrap().annotation.flag, None);
    assert_eq!(app.store.item(pair).unwrap().annotation.status, "done");
}

#[test]
fn once_the_rater_acts_on_the_next_item_a_flag_is_for_that_item() {
    let (_d, mut app) = app();
    goto(&mut app, "pair");
    app.dispatch(Action::Choose('t'));
    let next = app.state.item.as_ref().unwrap().key;
    run(&mut app, Command::FocusNext);
    run(&mut app, Command::Flag);
    assert!(matches!(
        app.state.overlay().cloned(),
        Some(Overlay::Prompt(PromptKind::FlagReason(t), _)) if t.key == next && !t.previous
    ));
    // Tab in the prompt offers the item just submitted only while it is "just": not now.
    app.dispatch(resolve(&app.state, &key(KeyCode::Tab)).unwrap());
    assert!(matches!(
        app.state.overlay().cloned(),
        Some(Overlay::Prompt(PromptKind::FlagReason(t), _)) if t.key == next
    ));
}

#[test]
fn tab_in_the_flag_prompt_switches_to_the_item_on_screen() {
    let (_d, mut app) = app();
    goto(&mut app, "pair");
    app.dispatch(Action::Choose('t'));
    let next = app.state.item.as_ref().unwrap().key;
    run(&mut app, Command::Flag);
    app.dispatch(resolve(&app.state, &key(KeyCode::Tab)).unwrap());
    app.dispatch(Action::Type("4".into()));
    app.dispatch(Action::Type("this one".into()));
    app.dispatch(Action::Edit(EditKey::Enter));
    assert_eq!(
        app.store.item(next).unwrap().annotation.flag,
        Some(("urgent".into(), "this one".into()))
    );
}

#[test]
fn a_flag_on_the_item_just_submitted_is_refused_if_another_process_changed_it() {
    let (d, mut app) = app();
    goto(&mut app, "pair");
    let pair = app.state.item.as_ref().unwrap().key;
    app.dispatch(Action::Choose('t'));
    assert_ne!(app.state.item.as_ref().unwrap().key, pair);
    // Meanwhile a script reopens the pair with a justification.
    let mut other = Store::open(d.path()).unwrap();
    other
        .set_justification(pair, "changed elsewhere", verdict::store::Act::from(0))
        .unwrap();
    run(&mut app, Command::Flag);
    app.dispatch(Action::Type("1".into()));
    app.dispatch(Action::Type("note".into()));
    app.dispatch(Action::Edit(EditKey::Enter));
    assert_eq!(app.store.item(pair).unwrap().annotation.flag, None);
    let msg = app.state.message.clone().unwrap();
    assert!(msg.error, "{msg:?}");
    assert!(
        msg.text
            .starts_with("pair was changed in another verdict process since you finished it"),
        "{msg:?}"
    );
}

#[test]
fn a_skip_is_refused_if_another_process_changed_the_item_while_its_prompt_was_open() {
    let (d, mut app) = app();
    goto(&mut app, "single");
    let key = app.state.item.as_ref().unwrap().key;
    run(&mut app, Command::Skip);
    app.dispatch(Action::Type("not my language".into()));
    // Meanwhile a script submits the item; the screen takes it in.
    let mut other = Store::open(d.path()).unwrap();
    for (q, v) in [
        ("harm", Answer::Many(vec!["none".into()])),
        ("severity", Answer::One("0".into())),
        ("behaviour", Answer::One("full_compliance".into())),
        ("appropriateness", Answer::One("appropriate".into())),
    ] {
        other
            .set_answer(key, q, Some(&v), verdict::store::Act::from(0))
            .unwrap();
    }
    other.submit(key, verdict::store::Act::from(0)).unwrap();
    app.check_outside();
    assert_eq!(app.store.item(key).unwrap().annotation.status, "done");
    app.dispatch(Action::Edit(EditKey::Enter));
    let a = app.store.item(key).unwrap().annotation;
    assert_eq!(
        a.status, "done",
        "the skip typed against the old version is refused"
    );
    assert!(
        app.state
            .message
            .as_ref()
            .unwrap()
            .text
            .contains("was changed in another verdict process"),
        "{:?}",
        app.state.message
    );
}
