//! The labeling workstation: terminal set-up and the run loop. Keys are resolved against
//! a snapshot of the state (resolve), then applied (update, in [`app`]); drawing is a
//! pure function of the state (view).
//!
//! - [`action`]: commands (keymap names) and the other inputs;
//! - [`keymap`]: keys as data;
//! - [`state`], [`update`]: the Elm split; [`app`] runs update's effects on the cache;
//! - [`view`]: one file per part of the screen;
//! - [`text`], [`editor`], [`markdown`]: safe text, the justification editor, guidelines.

pub mod action;
pub mod app;
pub mod editor;
pub mod keymap;
pub mod markdown;
pub mod state;
pub mod text;
pub mod update;
pub mod view;

use action::{Action, Command, EditKey};
use keymap::{Key, Scope};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use state::{Overlay, State};
use std::time::Duration;

/// Turns a key press into an action, looking at (not changing) the state: overlays and
/// the editor own the keyboard while they are open; then the focused question's option
/// keys; then the keymap.
pub fn resolve(state: &State, ev: &KeyEvent) -> Option<Action> {
    if ev.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    let alt = ev.modifiers.contains(KeyModifiers::ALT);
    if ctrl && ev.code == KeyCode::Char('c') {
        return Some(Action::Run(Command::Quit));
    }
    let edit_key = || -> Option<EditKey> {
        Some(match ev.code {
            KeyCode::Backspace if ctrl || alt => EditKey::DeleteWordBack,
            KeyCode::Char('w') if ctrl => EditKey::DeleteWordBack,
            KeyCode::Backspace => EditKey::Backspace,
            KeyCode::Delete => EditKey::Delete,
            KeyCode::Left if ctrl || alt => EditKey::WordLeft,
            KeyCode::Right if ctrl || alt => EditKey::WordRight,
            KeyCode::Left => EditKey::Left,
            KeyCode::Right => EditKey::Right,
            KeyCode::Home => EditKey::Home,
            KeyCode::End => EditKey::End,
            KeyCode::Up => EditKey::Up,
            KeyCode::Down => EditKey::Down,
            KeyCode::Enter => EditKey::Enter,
            _ => return None,
        })
    };
    let typed = match ev.code {
        KeyCode::Char(c) if !ctrl && !alt => Some(c),
        _ => None,
    };
    let key = Key::from_event(ev);
    // The keys of prompts and overlays come from the keymap too (scopes `prompt` and
    // `overlay`).
    let in_scope = |scope: Scope| key.and_then(|k| state.keymap.lookup(k, scope));
    match state.overlay() {
        Some(Overlay::Help(_) | Overlay::Stats(..)) => {
            return Some(match in_scope(Scope::Overlay) {
                Some(Command::OverlayDown) => Action::Edit(EditKey::Down),
                Some(Command::OverlayUp) => Action::Edit(EditKey::Up),
                _ => Action::Dismiss,
            });
        }
        // Read before going on: a key meant for the item (space, a digit) does not
        // close it unread; confirm or cancel does.
        Some(Overlay::Changes(..)) => {
            return match (in_scope(Scope::Overlay), in_scope(Scope::Prompt)) {
                (Some(Command::OverlayDown), _) => Some(Action::Edit(EditKey::Down)),
                (Some(Command::OverlayUp), _) => Some(Action::Edit(EditKey::Up)),
                (_, Some(Command::PromptConfirm | Command::PromptCancel)) => Some(Action::Dismiss),
                _ => None,
            };
        }
        Some(Overlay::Break) => return Some(Action::Dismiss),
        // One image after another: view again, right or down for the next; left or up
        // for the previous; esc back. Any other key is read as on the item (an answer,
        // a submit), and closes the view.
        Some(Overlay::Image(_)) => {
            let normal = key.and_then(|k| state.keymap.lookup(k, Scope::Normal));
            match (in_scope(Scope::Overlay), normal, ev.code) {
                (Some(Command::OverlayDown), ..)
                | (_, Some(Command::ViewImage | Command::NextItem), _)
                | (.., KeyCode::Right) => return Some(Action::Edit(EditKey::Down)),
                (Some(Command::OverlayUp), ..)
                | (_, Some(Command::PrevItem), _)
                | (.., KeyCode::Left) => return Some(Action::Edit(EditKey::Up)),
                (.., KeyCode::Esc) => return Some(Action::Dismiss),
                _ => {}
            }
        }
        Some(Overlay::Prompt(..)) => {
            match in_scope(Scope::Prompt) {
                Some(Command::PromptCancel) => return Some(Action::Dismiss),
                Some(Command::PromptConfirm) => return Some(Action::Edit(EditKey::Enter)),
                Some(Command::PromptOtherItem) => {
                    return Some(Action::Run(Command::PromptOtherItem));
                }
                _ => {}
            }
            return edit_key()
                .map(Action::Edit)
                .or(typed.map(|c| Action::Type(c.to_string())));
        }
        None => {}
    }
    if state.editing() {
        if let Some(cmd) = key.and_then(|k| state.keymap.lookup(k, Scope::Editor)) {
            return Some(Action::Run(cmd));
        }
        if ev.code == KeyCode::Tab && !ctrl && !alt {
            // A tab typed (or pasted by a terminal without bracketed paste) is kept,
            // visibly, as the editor keeps a pasted one.
            return Some(Action::Type("\t".into()));
        }
        return edit_key()
            .map(Action::Edit)
            .or(typed.map(|c| Action::Type(c.to_string())));
    }
    if let Some(c) = typed
        && state.option_for_key(c).is_some()
    {
        return Some(Action::Choose(c));
    }
    key.and_then(|k| state.keymap.lookup(k, Scope::Normal))
        .map(Action::Run)
}

/// A key that arrived as alt+key while the editor (or a prompt) has the keyboard, and
/// that nothing binds there, is Esc followed quickly by that key: a fast typist, a macro,
/// or an SSH link that batches keystrokes (terminals send alt+key as ESC then the key).
/// Returns the key without alt, to be read after the Esc has left the editor.
pub fn split_escape(state: &State, ev: &KeyEvent) -> Option<KeyEvent> {
    let editing = state.mode == state::Mode::Editing;
    let prompt = matches!(state.overlay(), Some(Overlay::Prompt(..)));
    if !(editing || prompt) || ev.kind == KeyEventKind::Release || ev.modifiers != KeyModifiers::ALT
    {
        return None;
    }
    let KeyCode::Char(_) = ev.code else {
        return None;
    };
    if editing
        && Key::from_event(ev)
            .and_then(|k| state.keymap.lookup(k, Scope::Editor))
            .is_some()
    {
        return None;
    }
    Some(KeyEvent::new(ev.code, KeyModifiers::NONE))
}

/// Restores the terminal when dropped, on every exit path (the panic hook that
/// `ratatui::try_init` installs covers panics).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = ratatui::crossterm::execute!(
            std::io::stdout(),
            event::PopKeyboardEnhancementFlags,
            event::DisableBracketedPaste
        );
        ratatui::restore();
    }
}

/// What a session did, printed on quit.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Items finished.
    pub done: usize,
    /// Median seconds per finished item.
    pub median_secs: f64,
    /// Items per hour.
    pub per_hour: f64,
    /// Finished annotations not yet exported.
    pub unexported: u64,
}

/// How images will be drawn. The terminal is not queried: a query's answer arrives on
/// the keyboard's input, and a terminal that does not answer (a detached tmux, some SSH
/// links) would leave the query's reader waiting there to swallow the rater's first key.
/// `auto` reads the environment instead (kitty and Ghostty speak the kitty protocol;
/// iTerm2, WezTerm and others set `TERM_PROGRAM`; foot and mlterm speak sixel), and the
/// cell size in pixels from the kernel; anything else gets half-blocks, and the rater
/// can name a protocol in config.toml (`images = "sixel"`).
fn pictures(choice: crate::config::ImageProtocol) -> view::pictures::Pictures {
    use crate::config::ImageProtocol as P;
    use ratatui_image::picker::{Picker, ProtocolType};
    let wanted = match choice {
        P::Halfblocks => return view::pictures::Pictures::halfblocks(),
        P::Auto => None,
        P::Kitty => Some(ProtocolType::Kitty),
        P::Sixel => Some(ProtocolType::Sixel),
        P::Iterm2 => Some(ProtocolType::Iterm2),
    };
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let (term, program) = (var("TERM"), var("TERM_PROGRAM"));
    let in_tmux = term.starts_with("tmux") || term.starts_with("screen") || program == "tmux";
    let guessed = if in_tmux {
        None
    } else if term == "xterm-kitty" || term == "xterm-ghostty" || program == "ghostty" {
        Some(ProtocolType::Kitty)
    } else if term.starts_with("foot") || term.starts_with("mlterm") {
        Some(ProtocolType::Sixel)
    } else {
        None
    };
    let Some(font) = cell_pixels() else {
        // Without the cell size no protocol can place an image right: half-blocks.
        return match wanted {
            None => view::pictures::Pictures::halfblocks(),
            Some(p) => {
                let mut picker = Picker::halfblocks();
                picker.set_protocol_type(p);
                view::pictures::Pictures::with(picker)
            }
        };
    };
    // `from_fontsize` guesses iTerm2 from the environment too, and never reads input.
    #[allow(deprecated)]
    let mut picker = Picker::from_fontsize(font.into());
    if let Some(p) = wanted.or(guessed) {
        picker.set_protocol_type(p);
    }
    view::pictures::Pictures::with(picker)
}

/// The size of a terminal cell in pixels, as the kernel knows it (zero on terminals that
/// do not say).
fn cell_pixels() -> Option<(u16, u16)> {
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct given; nothing else.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_col > 0 && ws.ws_row > 0 && ws.ws_xpixel > 0 && ws.ws_ypixel > 0)
        .then(|| (ws.ws_xpixel / ws.ws_col, ws.ws_ypixel / ws.ws_row))
}

/// Runs the workstation on a cache until the rater quits.
pub fn run(
    mut store: crate::store::Store,
    keymap: keymap::Keymap,
    settings: state::Settings,
    notes: Vec<String>,
) -> anyhow::Result<Summary> {
    let mut terminal = ratatui::try_init()?;
    let _restore = Restore;
    ratatui::crossterm::execute!(std::io::stdout(), event::EnableBracketedPaste)?;
    // Where the terminal offers it (kitty's keyboard protocol), Esc is a key of its own
    // however fast the next one follows; elsewhere `split_escape` reads ESC+key as both.
    if ratatui::crossterm::terminal::supports_keyboard_enhancement().unwrap_or(false) {
        ratatui::crossterm::execute!(
            std::io::stdout(),
            event::PushKeyboardEnhancementFlags(
                event::KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES
            )
        )?;
    }
    let pictures = pictures(settings.images);
    let size = terminal.size()?;
    // A write that waits for another process (a long pull) says so on the bottom line
    // while it waits; the keys typed meanwhile stay in the terminal's input and are read
    // after, so none is lost. The screen is repainted whole afterwards.
    let repaint = std::rc::Rc::new(std::cell::Cell::new(false));
    store.set_waiter(waiting_line(repaint.clone()));
    let mut app = app::App::new(store, keymap, settings, (size.width, size.height))?;
    app.view.pictures = pictures;
    // The queue search's index is filled here, in the background, a short write at a
    // time (a pull does not pay for it; a key never waits for it; until it is whole a
    // search reads the rest).
    let data_dir = app.store.dir().to_path_buf();
    std::thread::spawn(move || {
        let Ok(mut s) = crate::store::Store::open(&data_dir) else {
            return;
        };
        s.set_waiter(Box::new(|_: Option<&str>| {}));
        while let Ok(n) = s.index_for_search(2000) {
            if n == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    if !notes.is_empty() {
        app.dispatch(Action::Reply(Box::new(action::Reply::Note(
            notes.join(" "),
            false,
        ))));
    }
    // The item on screen when the screen was last painted whole.
    let mut painted = app.state.shown;
    loop {
        app.check_outside();
        // A new item is painted whole: a terminal that measures a character differently
        // from us (a flag emoji, a skin-tone modifier) leaves no stray half on it.
        let new_item = std::mem::replace(&mut painted, app.state.shown) != app.state.shown;
        ratatui::crossterm::execute!(
            std::io::stdout(),
            ratatui::crossterm::terminal::BeginSynchronizedUpdate
        )?;
        // Inside the synchronized update: the terminal shows the new frame whole, without
        // a blank one between.
        if repaint.replace(false) || new_item {
            terminal.clear()?;
        }
        terminal.draw(|f| app.draw(f))?;
        ratatui::crossterm::execute!(
            std::io::stdout(),
            ratatui::crossterm::terminal::EndSynchronizedUpdate
        )?;
        if app.state.quit {
            break;
        }
        if !event::poll(Duration::from_secs(1))? {
            app.dispatch(Action::Tick);
            continue;
        }
        // Drain everything pending, then draw once.
        loop {
            match event::read()? {
                Event::Key(k) => {
                    if let Some(plain) = split_escape(&app.state, &k) {
                        app.dispatch(if app.state.mode == state::Mode::Editing {
                            Action::Run(Command::LeaveEditor)
                        } else {
                            Action::Dismiss
                        });
                        if let Some(a) = resolve(&app.state, &plain) {
                            app.dispatch(a);
                        }
                    } else if let Some(a) = resolve(&app.state, &k) {
                        app.dispatch(a);
                    }
                }
                Event::Paste(text)
                    if app.state.editing()
                        || matches!(app.state.overlay(), Some(Overlay::Prompt(..))) =>
                {
                    app.dispatch(Action::Type(text));
                }
                Event::Resize(w, h) => app.dispatch(Action::Resize(w, h)),
                _ => {}
            }
            if app.state.quit || !event::poll(Duration::ZERO)? {
                break;
            }
        }
    }
    let s = &app.state.session;
    Ok(Summary {
        done: s.durations.len(),
        median_secs: s.median_secs(),
        per_hour: s.per_hour(app.state.now_ms),
        unexported: app.state.unexported,
    })
}

/// A waiter that writes what the workstation waits for on the terminal's last line.
fn waiting_line(repaint: std::rc::Rc<std::cell::Cell<bool>>) -> crate::store::Waiter {
    use ratatui::crossterm::{cursor, style, terminal};
    Box::new(move |what: Option<&str>| {
        let Some(what) = what else { return };
        let (w, h) = terminal::size().unwrap_or((80, 24));
        let text: String = crate::safe::sanitize_line(&format!(" {what} (your keys are kept)"))
            .chars()
            .take(w as usize)
            .collect();
        let _ = ratatui::crossterm::execute!(
            std::io::stdout(),
            cursor::SavePosition,
            cursor::MoveTo(0, h.saturating_sub(1)),
            terminal::Clear(terminal::ClearType::CurrentLine),
            style::SetAttribute(style::Attribute::Reverse),
            style::Print(text),
            style::SetAttribute(style::Attribute::Reset),
            cursor::RestorePosition
        );
        repaint.set(true);
    })
}
