//! Drawing: a function of the state (and of the view's own memo and theme). One file per part:
//! panes (conversation, responses, guidelines), labels (questions and editor), chrome
//! (status line and overlays).

mod chrome;
mod labels;
mod panes;
pub mod pictures;
mod theme;

pub use chrome::help_lines;
pub use theme::Theme;

use super::state::{Pane, State};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};
use std::collections::HashMap;
use std::rc::Rc;

/// Below this size the screen only says it is too small.
pub const MIN_SIZE: (u16, u16) = (60, 18);

/// Where each part goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// The conversation.
    pub conversation: Rect,
    /// The response (or A).
    pub response_a: Rect,
    /// Response B, for pairwise items.
    pub response_b: Option<Rect>,
    /// The guidelines, when shown.
    pub guidelines: Option<Rect>,
    /// What each rater said, for an item under review.
    pub review: Option<Rect>,
    /// The questions.
    pub labels: Rect,
    /// The justification editor.
    pub editor: Rect,
    /// The message line(s), when there is a message: above the status line, wrapped, so
    /// that a refusal is readable at any width.
    pub message: Option<Rect>,
    /// The status line.
    pub status: Rect,
}

/// Lays the screen out for a size; the same function serves drawing and tests.
pub fn layout(area: Rect, state: &State) -> Areas {
    let pairwise = state.item.as_ref().is_some_and(|i| i.content.is_pairwise());
    let bottom_h = (area.height * 2 / 5).clamp(8, 18);
    let message_h = state
        .message
        .as_ref()
        .map(|m| crate::tui::text::wrap(&m.text, area.width.saturating_sub(2) as usize).len())
        .unwrap_or(0)
        .min(3) as u16;
    let [main, bottom, message, status] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(bottom_h),
        Constraint::Length(message_h),
        Constraint::Length(1),
    ])
    .areas(area);
    let message = (message_h > 0).then_some(message);
    let review = state
        .item
        .as_ref()
        .is_some_and(|i| i.extras.review.is_some());
    let (content, guidelines, review) = if state.show_guidelines || review {
        // A reviewer reads the raters' answers beside the item: a wider column.
        let pct = match (review, area.width >= 120) {
            (false, true) => 30,
            (true, true) => 38,
            _ => 40,
        };
        let [c, side] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Percentage(pct)]).areas(main);
        match (review, state.show_guidelines) {
            (true, true) => {
                let [r, g] =
                    Layout::vertical([Constraint::Percentage(70), Constraint::Fill(1)]).areas(side);
                (c, Some(g), Some(r))
            }
            (true, false) => (c, None, Some(side)),
            _ => (c, Some(side), None),
        }
    } else {
        (main, None, None)
    };
    // The conversation of a pair gets half the height when it shows an image (the source
    // image of two edits is compared with both).
    let conversation_images = state
        .item
        .as_ref()
        .is_some_and(|i| i.content.conversation.iter().any(|m| !m.images.is_empty()));
    let (conversation, response_a, response_b) = if pairwise {
        let pct = if conversation_images { 50 } else { 35 };
        let [conv, resp] =
            Layout::vertical([Constraint::Percentage(pct), Constraint::Fill(1)]).areas(content);
        let [a, b] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(resp);
        (conv, a, Some(b))
    } else {
        let [conv, resp] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Fill(1)]).areas(content);
        (conv, resp, None)
    };
    let [labels, editor] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Fill(1)]).areas(bottom);
    Areas {
        conversation,
        response_a,
        response_b,
        guidelines,
        review,
        labels,
        editor,
        message,
        status,
    }
}

/// A title of parts joined by " · ", fitted to `room` columns: the parts are taken most
/// needed first (lowest number; in order within a level) while they fit, and shown in
/// their own order, so that a narrow pane still names the keys that matter. What still
/// does not fit is cut with "…".
pub fn fit_title(parts: &[(String, u8)], room: usize) -> String {
    use crate::tui::text::width;
    if parts.is_empty() {
        return String::new();
    }
    let join = |keep: &[bool]| -> String {
        let shown: Vec<&str> = parts
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|((t, _), _)| t.as_str())
            .collect();
        format!(" {} ", shown.join(" · "))
    };
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|i| (parts[*i].1, *i));
    let mut keep = vec![false; parts.len()];
    for (n, i) in order.into_iter().enumerate() {
        keep[i] = true;
        // The first part is always shown (cut if need be).
        if n > 0 && width(&join(&keep)) > room {
            keep[i] = false;
        }
    }
    crate::tui::text::truncate(&join(&keep), room)
}

/// A pane's frame: the title, and a highlight when it has the focus.
pub fn frame<'a>(theme: &Theme, title: Line<'a>, focused: bool) -> Block<'a> {
    let style = if focused { theme.accent } else { theme.border };
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(style)
        .title(title)
}

/// Wrapped pane lines, keyed by (pane, width), for one item shown.
type Wraps = HashMap<(u8, u16), Rc<Vec<Line<'static>>>>;

/// The guidelines wrapped at one width: ((width, document), rows, first row of each
/// logical line).
type GuideRows = (
    (u16, Option<String>, String),
    Rc<Vec<Line<'static>>>,
    Rc<Vec<usize>>,
);

/// What drawing remembers between frames so that a long text is wrapped once, not every
/// frame. Nothing the screen shows depends on it.
#[derive(Debug, Default)]
pub struct Memo {
    /// The item load ([`State::shown`]) the wraps belong to.
    shown: u64,
    wraps: Wraps,
    guide: Option<GuideRows>,
}

/// The view's own state: the theme, built once, and the memo. Only drawing touches it.
#[derive(Debug)]
pub struct View {
    /// The colours.
    pub theme: Theme,
    memo: Memo,
    /// How far each pane scrolls, found while drawing.
    extents: HashMap<Pane, usize>,
    /// Images: the terminal's protocol, and what has been decoded and scaled.
    pub pictures: pictures::Pictures,
}

impl View {
    /// A view for these settings.
    pub fn new(settings: &crate::config::Settings) -> View {
        View {
            theme: Theme::new(settings.no_color),
            memo: Memo::default(),
            extents: HashMap::new(),
            pictures: pictures::Pictures::halfblocks(),
        }
    }
}

/// Draws the whole screen; returns the largest scroll offset of each pane at this size
/// (for [`crate::tui::action::Action::Drawn`]).
pub fn draw(frame_: &mut Frame<'_>, state: &State, view: &mut View) -> HashMap<Pane, usize> {
    view.extents.clear();
    draw_screen(frame_, state, view);
    view.extents.clone()
}

fn draw_screen(frame_: &mut Frame<'_>, state: &State, view: &mut View) {
    let area = frame_.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let msg = format!(
            "The terminal is too small: verdict needs at least {}x{} (now {}x{}). Enlarge the window or reduce the font size.",
            MIN_SIZE.0, MIN_SIZE.1, area.width, area.height
        );
        frame_.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let areas = layout(area, state);
    if state.item.is_none() {
        let msg = "No items in the cache. Pull a batch first:\n\n  verdict pull BATCH.jsonl\n\nor try the demo: verdict demo";
        frame_.render_widget(
            Paragraph::new(msg).block(frame(&view.theme, Line::from(" verdict "), false)),
            area,
        );
        return;
    }
    panes::conversation(frame_, state, view, areas.conversation);
    panes::response(frame_, state, view, areas.response_a, 0, Pane::ResponseA);
    if let Some(b) = areas.response_b {
        panes::response(frame_, state, view, b, 1, Pane::ResponseB);
    }
    if let Some(g) = areas.guidelines {
        panes::guidelines(frame_, state, view, g);
    }
    if let Some(r) = areas.review {
        panes::review(frame_, state, view, r);
    }
    let theme = &view.theme;
    labels::questions(frame_, state, theme, areas.labels);
    labels::editor(frame_, state, theme, areas.editor);
    chrome::status(frame_, state, theme, areas.status);
    if let Some(m) = areas.message {
        chrome::message(frame_, state, theme, m);
    }
    chrome::overlay(frame_, state, theme, area);
    if let Some(super::state::Overlay::Image(i)) = state.overlay() {
        let [screen, _status] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(area);
        pictures::full(frame_, state, view, screen, *i);
    }
}
