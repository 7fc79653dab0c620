//! The reading panes: conversation, responses, guidelines.

use super::{Memo, Theme, View, frame, pictures};
use crate::model::{ImageRef, Role};
use crate::tui::state::{Pane, State, Status};
use crate::tui::text::wrap;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::rc::Rc;

fn pane_id(p: Pane) -> u8 {
    match p {
        Pane::Labels => 0,
        Pane::Conversation => 1,
        Pane::ResponseA => 2,
        Pane::ResponseB => 3,
        Pane::Guidelines => 4,
        Pane::Review => 5,
    }
}

/// Wrapped lines of a pane, from the memo or made now (once per item shown, pane and
/// width).
fn cached(
    memo: &mut Memo,
    state: &State,
    pane: Pane,
    width: u16,
    make: impl FnOnce() -> Vec<Line<'static>>,
) -> Rc<Vec<Line<'static>>> {
    if memo.shown != state.shown {
        memo.wraps.clear();
        memo.shown = state.shown;
    }
    let key = (pane_id(pane), width);
    if let Some(lines) = memo.wraps.get(&key) {
        return lines.clone();
    }
    let lines = Rc::new(make());
    memo.wraps.insert(key, lines.clone());
    lines
}

/// Draws the visible slice of `lines` in a framed pane, with a scroll position, below
/// the pane's images (if any: side by side, as many rows as they need and the text can
/// spare; all of the pane when there is no text).
#[allow(clippy::too_many_arguments)]
fn scrolled(
    f: &mut Frame<'_>,
    state: &State,
    view: &mut View,
    area: Rect,
    pane: Pane,
    title: Line<'static>,
    lines: &[Line<'static>],
    images: &[ImageRef],
) {
    let inner = ratatui::widgets::Block::bordered().inner(area);
    let reserve = if images.is_empty() {
        0
    } else if lines.iter().all(|l| l.width() == 0) {
        inner.height
    } else {
        pictures::strip_rows(state, view, images, inner.width).min(inner.height * 3 / 5)
    };
    let [strip, text] =
        Layout::vertical([Constraint::Length(reserve), Constraint::Fill(1)]).areas(inner);
    let inner_h = text.height as usize;
    let max = lines.len().saturating_sub(inner_h);
    view.extents.insert(pane, max);
    let top = state.scroll_of(pane).min(max);
    let visible: Vec<Line<'static>> = lines.iter().skip(top).take(inner_h).cloned().collect();
    let mut title = title;
    // (An image without text has no text rows: nothing scrolls.)
    if lines.len() > inner_h && inner_h > 0 {
        let pct = (top * 100).checked_div(max).unwrap_or(100);
        title.spans.push(Span::raw(format!(" {pct}% ")));
    }
    f.render_widget(frame(&view.theme, title, state.focus == pane), area);
    f.render_widget(Paragraph::new(visible), text);
    pictures::strip(f, state, view, strip, images);
}

/// What a masked pane shows instead of its text and its `images` images.
fn masked(state: &State, theme: &Theme, width: usize, images: usize) -> Option<Vec<Line<'static>>> {
    if !state.masked() {
        return None;
    }
    let warning = state
        .item
        .as_ref()
        .and_then(|i| i.extras.content_warning.clone())
        .unwrap_or_default();
    let key = state.keymap.key_of(crate::tui::action::Command::Reveal);
    let style = theme.warning;
    // `content_warning: true` is the warning "Content warning": said once.
    let said = if warning == "Content warning" {
        "⚠ Content warning".to_string()
    } else {
        format!("⚠ Content warning: {warning}")
    };
    let mut lines: Vec<Line<'static>> = wrap(&said, width)
        .into_iter()
        .map(|l| Line::from(Span::styled(l, style)))
        .collect();
    lines.push(Line::from(""));
    let what = match images {
        0 => "The text is hidden".to_string(),
        1 => "The text and the image are hidden".to_string(),
        n => format!("The text and the {n} images are hidden"),
    };
    let hint = format!("{what}. Press {key} to reveal, or skip the item.");
    lines.extend(wrap(&hint, width).into_iter().map(Line::from));
    Some(lines)
}

/// The prompt or conversation, roles distinguishable.
pub fn conversation(f: &mut Frame<'_>, state: &State, view: &mut View, area: Rect) {
    let Some(item) = &state.item else { return };
    let width = area.width.saturating_sub(2);
    let shown_images = item
        .content
        .conversation
        .iter()
        .map(|m| m.images.len())
        .sum();
    let lines = match masked(state, &view.theme, width as usize, shown_images) {
        Some(m) => Rc::new(m),
        None => cached(&mut view.memo, state, Pane::Conversation, width, || {
            let mut out = Vec::new();
            for (i, m) in item.content.conversation.iter().enumerate() {
                if i > 0 {
                    out.push(Line::from(""));
                }
                let label = match m.role {
                    Role::User => "USER",
                    Role::Assistant => "ASSISTANT",
                    Role::System => "SYSTEM",
                };
                out.push(Line::from(Span::styled(label, view.theme.role(m.role))));
                out.extend(wrap(&m.content, width as usize).into_iter().map(Line::from));
                for r in &m.images {
                    let n = item
                        .images
                        .iter()
                        .position(|b| &b.image == r)
                        .map_or(0, |i| i + 1);
                    out.push(Line::from(Span::styled(
                        format!("[image {n}]"),
                        view.theme.dim,
                    )));
                }
            }
            out
        }),
    };
    let images = if state.masked() {
        Vec::new()
    } else {
        pictures::all(
            item.content
                .conversation
                .iter()
                .flat_map(|m| m.images.iter()),
        )
    };
    let turns = item.content.conversation.len();
    let title = if turns == 1 {
        " Prompt ".to_string()
    } else {
        format!(" Conversation ({turns} turns) ")
    };
    scrolled(
        f,
        state,
        view,
        area,
        Pane::Conversation,
        Line::from(title),
        &lines,
        &images,
    );
}

/// A response (index 0 = A).
pub fn response(
    f: &mut Frame<'_>,
    state: &State,
    view: &mut View,
    area: Rect,
    index: usize,
    pane: Pane,
) {
    let Some(item) = &state.item else { return };
    let Some(r) = item.content.responses.get(index) else {
        return;
    };
    let width = area.width.saturating_sub(2);
    let lines = match masked(state, &view.theme, width as usize, r.images.len()) {
        Some(m) => Rc::new(m),
        None => cached(&mut view.memo, state, pane, width, || {
            let mut out: Vec<Line<'static>> = wrap(&r.text, width as usize)
                .into_iter()
                .map(Line::from)
                .collect();
            // The images' numbers, as the conversation marks them; and a response with
            // neither text nor image says so (a failed generation, not a display fault).
            if !r.images.is_empty() && !r.text.is_empty() {
                out.extend(r.images.iter().map(|im| {
                    let n = item
                        .images
                        .iter()
                        .position(|b| &b.image == im)
                        .map_or(0, |i| i + 1);
                    Line::from(Span::styled(format!("[image {n}]"), view.theme.dim))
                }));
            }
            if r.images.is_empty() && r.text.trim().is_empty() {
                out = vec![Line::from(Span::styled(
                    "(empty response: no text and no image)",
                    view.theme.dim,
                ))];
            }
            out
        }),
    };
    let name = if item.content.is_pairwise() {
        format!(" Response {} ", if index == 0 { "A" } else { "B" })
    } else {
        " Response ".to_string()
    };
    let mut title = Line::from(Span::styled(
        name,
        Style::default().add_modifier(Modifier::BOLD),
    ));
    if let Some(m) = &r.model {
        title.spans.push(Span::raw(format!(
            "({}) ",
            crate::tui::text::sanitize_line(m)
        )));
    }
    let images = if state.masked() {
        Vec::new()
    } else {
        pictures::all(r.images.iter())
    };
    scrolled(f, state, view, area, pane, title, &lines, &images);
}

/// The guidelines, scrolled to the section the rater is on.
pub fn guidelines(f: &mut Frame<'_>, state: &State, view: &mut View, area: Rect) {
    let width = area.width.saturating_sub(2);
    // The memo holds one document at one width.
    let id = (width, state.guide_sha.clone(), state.guide.title.clone());
    let memo = view.memo.guide.clone().filter(|(k, _, _)| *k == id);
    let (lines, starts) = match memo {
        Some((_, l, s)) => (l, s),
        None => {
            let (rows, starts) = state.guide.wrapped(width as usize);
            let rows: Vec<Line<'static>> = rows
                .into_iter()
                .map(|l| {
                    Line::from(
                        l.spans
                            .into_iter()
                            .map(|s| Span::styled(s.content, view.theme.fit(s.style)))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect();
            let (rows, starts) = (Rc::new(rows), Rc::new(starts));
            view.memo.guide = Some((id, rows.clone(), starts.clone()));
            (rows, starts)
        }
    };
    // Scroll by logical line: its first row at this width.
    let row = starts.get(state.guide_line).copied().unwrap_or(0);
    let inner_h = area.height.saturating_sub(2) as usize;
    let visible: Vec<Line<'static>> = lines.iter().skip(row).take(inner_h).cloned().collect();
    let title = Line::from(format!(" Guidelines {} ", state.guide.title));
    let p =
        Paragraph::new(visible).block(frame(&view.theme, title, state.focus == Pane::Guidelines));
    f.render_widget(p, area);
}

/// For an item under review: why it is reviewed, and each rater's answers (questions on
/// which they differ marked ≠ and highlighted), flag and justification, with the key that
/// confirms each rater's answers.
pub fn review(f: &mut Frame<'_>, state: &State, view: &mut View, area: Rect) {
    use crate::tui::action::Command;
    let Some(item) = &state.item else { return };
    let Some(review) = &item.extras.review else {
        return;
    };
    let width = area.width.saturating_sub(2) as usize;
    let confirm = [
        Command::ConfirmRater1,
        Command::ConfirmRater2,
        Command::ConfirmRater3,
        Command::ConfirmRater4,
        Command::ConfirmRater5,
    ];
    let lines = cached(&mut view.memo, state, Pane::Review, width as u16, || {
        let hot = view.theme.differ;
        let dim = view.theme.dim;
        let bold = Style::default().add_modifier(Modifier::BOLD);
        let styled = |text: &str, style: Style| -> Vec<Line<'static>> {
            wrap(text, width)
                .into_iter()
                .map(|l| Line::from(Span::styled(l, style)))
                .collect()
        };
        // "f5 ann": the key that confirms a rater, and who they are.
        let who: Vec<String> = review
            .raters
            .iter()
            .enumerate()
            .map(|(n, r)| {
                let key = confirm
                    .get(n)
                    .map(|c| state.keymap.key_of(*c))
                    .unwrap_or_default();
                format!("{} {}", if key.is_empty() { "-" } else { &key }, r.rater)
            })
            .collect();
        let mut out: Vec<Line<'static>> = Vec::new();
        out.extend(styled(&format!("Why: {}", review.reasons.join("; ")), hot));
        let differ = review.differing();
        let pairwise = item.content.is_pairwise();
        let done: Vec<(usize, &crate::model::RaterAnswer)> = review
            .raters
            .iter()
            .enumerate()
            .filter(|(_, r)| r.status == Status::Done)
            .collect();
        let show = |q: &crate::model::Question, a: Option<&crate::model::Answer>| match a {
            Some(a) => a
                .values()
                .iter()
                .map(|v| {
                    q.options
                        .iter()
                        .find(|o| o.value == *v)
                        .map(|o| o.label.clone())
                        .unwrap_or_else(|| v.to_string())
                })
                .collect::<Vec<_>>()
                .join(", "),
            None => "—".into(),
        };
        // Each question any rater was asked, in the schema's order: where they differ,
        // each answer with the raters who gave it; where they agree, one line.
        for q in &item.schema.questions {
            if !done.iter().any(|(_, r)| {
                item.schema
                    .asked(pairwise, &r.answers)
                    .any(|x| x.id == q.id)
            }) {
                continue;
            }
            if differ.contains(&q.id) {
                out.extend(styled(&format!("≠ {}", q.label), hot));
                let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
                for (n, r) in &done {
                    let v = show(q, r.answers.get(&q.id));
                    match groups.iter_mut().find(|(x, _)| *x == v) {
                        Some((_, g)) => g.push(&who[*n]),
                        None => groups.push((v, vec![&who[*n]])),
                    }
                }
                for (v, g) in groups {
                    out.extend(styled(
                        &format!("   {v} — {}", g.join(", ")),
                        Style::default(),
                    ));
                }
            } else {
                let v = done
                    .first()
                    .map(|(_, r)| show(q, r.answers.get(&q.id)))
                    .unwrap_or_default();
                out.extend(styled(&format!("= {}: {v}", q.label), Style::default()));
            }
        }
        for (n, r) in review.raters.iter().enumerate() {
            if r.status != Status::Done {
                out.extend(styled(
                    &format!(
                        "{} skipped: {}",
                        who[n],
                        r.skip_reason.as_deref().unwrap_or("")
                    ),
                    hot,
                ));
            }
            if let Some(e) = &r.escalation {
                out.extend(styled(
                    &format!("⚑ {} flagged {}: {}", who[n], e.reason, e.note),
                    hot,
                ));
            }
        }
        out.push(Line::from(""));
        out.extend(styled("Justifications", bold));
        for (n, r) in review.raters.iter().enumerate() {
            let j = r.justification.trim();
            out.extend(styled(
                &format!("{}: {}", who[n], if j.is_empty() { "(none)" } else { j }),
                dim,
            ));
        }
        out
    });
    let matching = review.matching(&item.annotation.answers);
    let status = if item.annotation.answers.is_empty() {
        "confirm a rater".to_string()
    } else if matching.is_empty() {
        "yours: own, give a reason".to_string()
    } else {
        format!(
            "yours = rater {}",
            matching
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let title = Line::from(vec![
        Span::styled(" Review ", Style::default().add_modifier(Modifier::BOLD)),
        Span::raw(format!("· {status} ")),
    ]);
    scrolled(f, state, view, area, Pane::Review, title, &lines, &[]);
}
