//! The workstation's colours, built once from the settings: every style the view uses is
//! named here, and NO_COLOR keeps the emphasis (bold, italic, reverse) without colours.

use crate::model::Role;
use ratatui::style::{Color, Modifier, Style};

/// Named styles.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// Draw without colours.
    pub no_color: bool,
    /// What has the focus: pane borders, the focused question.
    pub accent: Style,
    /// Borders of panes without the focus.
    pub border: Style,
    /// The status line.
    pub status: Style,
    /// An error on the message line.
    pub error: Style,
    /// A message that is not an error.
    pub info: Style,
    /// Key names in help and option keys.
    pub key: Style,
    /// The border of an overlay.
    pub overlay: Style,
    /// A chosen option.
    pub chosen: Style,
    /// A suggestion from a model or an earlier rater.
    pub suggestion: Style,
    /// A gold item's explanation.
    pub gold: Style,
    /// A warning that must not be missed (content warning, a flag).
    pub warning: Style,
    /// Agreement with a reference, a requirement met.
    pub good: Style,
    /// A requirement not met.
    pub bad: Style,
    /// A difference from the reference answer, a question raters differ on.
    pub differ: Style,
    /// Placeholder text.
    pub placeholder: Style,
    /// Secondary text.
    pub dim: Style,
}

impl Theme {
    /// The theme for these settings.
    pub fn new(no_color: bool) -> Theme {
        let bold = Modifier::BOLD;
        let t = Theme {
            no_color,
            accent: Style::default().fg(Color::Yellow).add_modifier(bold),
            border: Style::default().fg(Color::DarkGray),
            status: Style::default().bg(Color::DarkGray).fg(Color::White),
            error: Style::default()
                .bg(Color::Red)
                .fg(Color::White)
                .add_modifier(bold),
            info: Style::default().bg(Color::Blue).fg(Color::White),
            key: Style::default().fg(Color::Cyan).add_modifier(bold),
            overlay: Style::default().fg(Color::Yellow),
            chosen: Style::default()
                .fg(Color::Black)
                .bg(Color::Green)
                .add_modifier(bold),
            suggestion: Style::default()
                .fg(Color::Magenta)
                .add_modifier(Modifier::ITALIC),
            gold: Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::ITALIC),
            warning: Style::default().fg(Color::Red).add_modifier(bold),
            good: Style::default().fg(Color::Green).add_modifier(bold),
            bad: Style::default().fg(Color::Red),
            differ: Style::default().fg(Color::Yellow).add_modifier(bold),
            placeholder: Style::default()
                .fg(Color::DarkGray)
                .add_modifier(Modifier::ITALIC),
            dim: Style::default().fg(Color::DarkGray),
        };
        Theme {
            accent: t.fit(t.accent),
            border: t.fit(t.border),
            status: t.fit(t.status),
            error: t.fit(t.error),
            info: t.fit(t.info),
            key: t.fit(t.key),
            overlay: t.fit(t.overlay),
            // Without colours, a chosen option is shown reversed.
            chosen: if no_color {
                Style::default().add_modifier(bold | Modifier::REVERSED)
            } else {
                t.chosen
            },
            suggestion: t.fit(t.suggestion),
            gold: t.fit(t.gold),
            warning: t.fit(t.warning),
            good: t.fit(t.good),
            bad: t.fit(t.bad),
            differ: t.fit(t.differ),
            placeholder: t.fit(t.placeholder),
            dim: t.fit(t.dim),
            no_color,
        }
    }

    /// A style from elsewhere (the guidelines' Markdown) as this theme draws it.
    pub fn fit(&self, style: Style) -> Style {
        if self.no_color {
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

    /// A speaker's name in a conversation.
    pub fn role(&self, role: Role) -> Style {
        let color = match role {
            Role::User => Color::Cyan,
            Role::Assistant => Color::Green,
            Role::System => Color::Magenta,
        };
        self.fit(Style::default().fg(color).add_modifier(Modifier::BOLD))
    }
}
