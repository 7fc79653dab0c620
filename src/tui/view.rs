//! Drawing: a pure function of the state (the wrap memo aside). One file per part:
//! panes (conversation, responses, guidelines), labels (questions and editor), chrome
//! (status line and overlays).

mod chrome;
mod labels;
mod panes;

use super::state::{Pane, State};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};

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
    let (conversation, response_a, response_b) = if pairwise {
        let [conv, resp] =
            Layout::vertical([Constraint::Percentage(35), Constraint::Fill(1)]).areas(content);
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

/// Colours unless NO_COLOR: every style goes through here.
pub fn paint(state: &State, style: Style) -> Style {
    if state.settings.no_color {
        Style {
            fg: None,
            bg: None,
            underline_color: None,
            ..style
        }
    } else {
        style
    }
}

/// The style of what has the focus (pane borders, the focused question).
pub fn accent(state: &State) -> Style {
    paint(
        state,
        Style::default()
            .fg(Color::Yellow)
            .add_modifier(Modifier::BOLD),
    )
}

/// A pane's frame: the title, and a highlight when it has the focus.
pub fn frame<'a>(state: &State, title: Line<'a>, focused: bool) -> Block<'a> {
    let style = if focused {
        accent(state)
    } else {
        paint(state, Style::default().fg(Color::DarkGray))
    };
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

/// Draws the whole screen.
pub fn draw(frame_: &mut Frame<'_>, state: &State) {
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
            Paragraph::new(msg).block(frame(state, Line::from(" verdict "), false)),
            area,
        );
        return;
    }
    panes::conversation(frame_, state, areas.conversation);
    panes::response(frame_, state, areas.response_a, 0, Pane::ResponseA);
    if let Some(b) = areas.response_b {
        panes::response(frame_, state, b, 1, Pane::ResponseB);
    }
    if let Some(g) = areas.guidelines {
        panes::guidelines(frame_, state, g);
    }
    if let Some(r) = areas.review {
        panes::review(frame_, state, r);
    }
    labels::questions(frame_, state, areas.labels);
    labels::editor(frame_, state, areas.editor);
    chrome::status(frame_, state, areas.status);
    if let Some(m) = areas.message {
        chrome::message(frame_, state, m);
    }
    chrome::overlay(frame_, state, area);
}
