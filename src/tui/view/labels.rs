//! The label panel (every asked question, its answer and the key of each option) and the
//! justification editor.

use super::{Theme, frame};
use crate::model::{Answer, Question};
use crate::tui::action::Command;
use crate::tui::markdown::wrap_pieces;
use crate::tui::state::{Mode, Pane, State};
use crate::tui::text::sanitize_line;
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_segmentation::UnicodeSegmentation;

fn chosen(answer: Option<&Answer>, value: &str) -> bool {
    answer.is_some_and(|a| a.values().contains(&value))
}

/// One question as styled pieces: the label, then every option with its key; chosen
/// options are marked and highlighted.
fn question_pieces(
    state: &State,
    theme: &Theme,
    q: &Question,
    focused: bool,
    expanded: bool,
) -> Vec<(String, Style)> {
    let answer = state
        .item
        .as_ref()
        .and_then(|i| i.annotation.answers.get(&q.id));
    let label_style = if focused {
        theme.accent
    } else {
        Style::default().add_modifier(Modifier::BOLD)
    };
    let marker = if focused { "▶ " } else { "  " };
    let mut out = vec![(
        format!("{marker}{}: ", sanitize_line(&q.label)),
        label_style,
    )];
    if !expanded {
        let text = match answer {
            None => "—".to_string(),
            Some(a) => q
                .options
                .iter()
                .filter(|o| chosen(Some(a), &o.value))
                .map(|o| sanitize_line(&o.label))
                .collect::<Vec<_>>()
                .join(", "),
        };
        out.push((text, Style::default()));
        return out;
    }
    for o in &q.options {
        let on = chosen(answer, &o.value);
        let key = o
            .key
            .as_deref()
            .map(sanitize_line)
            .unwrap_or_else(|| "·".into());
        let style = if on { theme.chosen } else { Style::default() };
        let key_style = theme.key;
        out.push((format!("[{key}]"), if on { style } else { key_style }));
        out.push((
            format!("{}{}", if on { "✓" } else { " " }, sanitize_line(&o.label)),
            style,
        ));
        out.push(("  ".into(), Style::default()));
    }
    out
}

/// The questions of the current item.
pub fn questions(f: &mut Frame<'_>, state: &State, theme: &Theme, area: Rect) {
    let Some(item) = &state.item else { return };
    let width = area.width.saturating_sub(2) as usize;
    let height = area.height.saturating_sub(2) as usize;
    let asked = state.asked();
    let focus = state.question.min(asked.len().saturating_sub(1));
    let build = |expand_all: bool| -> (Vec<Line<'static>>, usize) {
        let mut lines = Vec::new();
        let mut focus_row = 0;
        for (i, q) in asked.iter().enumerate() {
            if i == focus {
                focus_row = lines.len();
            }
            let pieces = question_pieces(state, theme, q, i == focus, expand_all || i == focus);
            for row in wrap_pieces(&pieces, width) {
                lines.push(Line::from(
                    row.into_iter()
                        .map(|(t, s)| Span::styled(t, s))
                        .collect::<Vec<_>>(),
                ));
            }
            if let Some(reference) = item.reference.as_ref().and_then(|r| r.answers.get(&q.id)) {
                let label = |a: &Answer| {
                    q.options
                        .iter()
                        .filter(|o| chosen(Some(a), &o.value))
                        .map(|o| sanitize_line(&o.label))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let same = item.annotation.answers.get(&q.id) == Some(reference);
                let (text, color) = if same {
                    (
                        format!("    ✓ reference: {}", label(reference)),
                        Color::Green,
                    )
                } else {
                    (
                        format!("    ✗ reference: {} (you differed)", label(reference)),
                        Color::Yellow,
                    )
                };
                let style = theme.fit(Style::default().fg(color).add_modifier(Modifier::BOLD));
                for row in wrap_pieces(&[(text, style)], width) {
                    lines.push(Line::from(
                        row.into_iter()
                            .map(|(t, s)| Span::styled(t, s))
                            .collect::<Vec<_>>(),
                    ));
                }
            }
            if let Some(s) = item.extras.suggestions.get(&q.id) {
                let value = s.value.values().join(", ");
                let mut text = format!("    ↳ suggested: {}", sanitize_line(&value));
                if let Some(score) = s.score {
                    text.push_str(&format!(" ({score:.2}"));
                    if let Some(a) = &s.agent {
                        text.push_str(&format!(", {}", sanitize_line(a)));
                    }
                    text.push(')');
                } else if let Some(a) = &s.agent {
                    text.push_str(&format!(" ({})", sanitize_line(a)));
                }
                text.push_str(&format!(
                    " · {} accepts",
                    state.keymap.key_of(Command::AcceptSuggestions)
                ));
                let style = theme.suggestion;
                for row in wrap_pieces(&[(text, style)], width) {
                    lines.push(Line::from(
                        row.into_iter()
                            .map(|(t, s)| Span::styled(t, s))
                            .collect::<Vec<_>>(),
                    ));
                }
            }
        }
        if let Some(r) = &item.reference {
            let style = theme.gold;
            let text = format!("  Gold item. Why: {}", sanitize_line(&r.explanation));
            for row in wrap_pieces(&[(text, style)], width) {
                lines.push(Line::from(
                    row.into_iter()
                        .map(|(t, s)| Span::styled(t, s))
                        .collect::<Vec<_>>(),
                ));
            }
        }
        (lines, focus_row)
    };
    // Every question expanded when that fits; otherwise only the focused one.
    let (mut lines, mut focus_row) = build(true);
    if lines.len() > height {
        (lines, focus_row) = build(false);
    }
    let top = focus_row.saturating_sub(height.saturating_sub(3));
    let visible: Vec<Line<'static>> = lines.into_iter().skip(top).take(height).collect();
    // The title's parts, most needed first where there is no room for all of them.
    let key = |c| state.keymap.key_of(c);
    let parts: Vec<(String, u8)> = match &item.extras.review {
        // A reviewer's answers are the item's final answers.
        Some(r) => {
            let n = r.raters.len().clamp(1, 5);
            let last = key(match n {
                1 => Command::ConfirmRater1,
                2 => Command::ConfirmRater2,
                3 => Command::ConfirmRater3,
                4 => Command::ConfirmRater4,
                _ => Command::ConfirmRater5,
            });
            let range = if n > 1 {
                format!("{}-{last}", key(Command::ConfirmRater1))
            } else {
                last
            };
            vec![
                ("Final answers (review)".into(), 0),
                (format!("{range} confirm rater"), 1),
                (format!("{} submit", key(Command::Submit)), 1),
                (format!("{} skip", key(Command::Skip)), 2),
            ]
        }
        None => {
            // Every preset this item's shape offers, with its key (the schema names them).
            let pairwise = item.content.is_pairwise();
            let mut parts = vec![
                ("Labels".to_string(), 0),
                ("↑↓ question".to_string(), 4),
                (format!("{} submit", key(Command::Submit)), 1),
            ];
            parts.extend(
                item.schema
                    .presets
                    .iter()
                    .filter(|p| p.applies.covers(pairwise))
                    .zip([Command::Preset1, Command::Preset2])
                    .map(|(p, c)| (format!("{} {}", key(c), sanitize_line(&p.id)), 2)),
            );
            parts.push((format!("{} skip", key(Command::Skip)), 3));
            parts.push((format!("{} flag", key(Command::Flag)), 3));
            parts
        }
    };
    let flag = item
        .annotation
        .flag
        .as_ref()
        .map(|(reason, _)| format!(" ⚑ flagged: {} ", sanitize_line(reason)));
    let room = (area.width as usize)
        .saturating_sub(2)
        .saturating_sub(flag.as_deref().map(crate::tui::text::width).unwrap_or(0));
    let hint = super::fit_title(&parts, room);
    // A flag is shown first, so that a narrow title never hides it.
    let mut title = Line::default();
    if let Some(flag) = flag {
        title.spans.push(Span::styled(flag, theme.warning));
    }
    title.spans.push(Span::raw(hint));
    let p = Paragraph::new(visible).block(frame(
        theme,
        title,
        state.focus == Pane::Labels && !state.editing(),
    ));
    f.render_widget(p, area);
}

/// The justification editor (it owns the keyboard while editing).
pub fn editor(f: &mut Frame<'_>, state: &State, theme: &Theme, area: Rect) {
    let Some(item) = &state.item else { return };
    let width = area.width.saturating_sub(2) as usize;
    let height = area.height.saturating_sub(2) as usize;
    // Under review, the reason is needed for answers that are no rater's.
    let required = match &item.extras.review {
        Some(r) => r.matching(&item.annotation.answers).is_empty(),
        None => item.schema.justification_required(&item.annotation.answers),
    };
    let len = state.editor.text().trim().graphemes(true).count();
    let min = item.schema.justification.min_length;
    let need = if required {
        let ok = len >= min.max(1);
        Span::styled(
            format!(" required: {len}/{min} "),
            if ok { theme.good } else { theme.bad },
        )
    } else {
        Span::raw(format!(" optional: {len} "))
    };
    let parts: Vec<(String, u8)> = if state.editing() {
        vec![
            ("Justification".into(), 2),
            (
                format!("{} done", state.keymap.key_of(Command::LeaveEditor)),
                1,
            ),
            (
                format!(
                    "{}..{} snippets",
                    state.keymap.key_of(Command::Snippet1),
                    state.keymap.key_of(Command::Snippet5)
                ),
                3,
            ),
        ]
    } else {
        vec![
            ("Justification".into(), 2),
            (
                format!(
                    "{} to write",
                    state.keymap.key_of(Command::EditJustification)
                ),
                1,
            ),
        ]
    };
    let room = (area.width as usize)
        .saturating_sub(2)
        .saturating_sub(need.width());
    let hint = super::fit_title(&parts, room);
    // The counter first: a narrow pane cuts the title's end, never what is required.
    let title = Line::from(vec![need, Span::raw(hint)]);
    let (rows, (crow, ccol)) = state.editor.layout(width);
    let top = crow.saturating_sub(height.saturating_sub(1));
    let mut lines: Vec<Line<'static>> = rows
        .into_iter()
        .skip(top)
        .take(height)
        .map(Line::from)
        .collect();
    if state.editor.text().is_empty() && !state.editing() {
        let placeholder = if item.extras.review.is_some() {
            "Confirming a rater needs no reason. For final answers of your own, say why the raters' answers were wrong."
        } else if !item.images.is_empty() {
            "Say what you see: the element the image gets wrong, the artefact and where it is, the unsafe content."
        } else {
            "Name the risk, the harm mechanism, and what should change."
        };
        let style = theme.placeholder;
        lines = crate::tui::text::wrap(placeholder, width)
            .into_iter()
            .take(height)
            .map(|l| Line::from(Span::styled(l, style)))
            .collect();
    }
    f.render_widget(
        Paragraph::new(lines).block(frame(theme, title, state.editing())),
        area,
    );
    if state.mode == Mode::Editing {
        f.set_cursor_position(Position::new(
            area.x + 1 + ccol.min(width) as u16,
            area.y + 1 + (crow - top) as u16,
        ));
    }
}
