//! The status line and the overlays (help, break reminder, prompts).

use super::Theme;
use crate::tui::action::Command;
use crate::tui::keymap::Scope;
use crate::tui::state::{Overlay, PromptKind, State, Status};
use crate::tui::text::sanitize_line;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

fn mmss(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    format!("{}:{:02}", s / 60, s % 60)
}

/// Item n of N, batch, time on this item, pace, what is not exported, or a message.
pub fn status(f: &mut Frame<'_>, state: &State, theme: &Theme, area: Rect) {
    let Some(item) = &state.item else { return };
    let entry = state.queue.get(state.pos);
    let progress = match entry.map(|e| e.status) {
        Some(Status::Done) => "✓ done",
        Some(Status::Skipped) => "↷ skipped",
        _ => "· to do",
    };
    let on_item = state.active_on_item();
    let left_with = |batch: &str, id: &str| {
        format!(
            " {}/{} · {} · {} {} · ⏱ {} ",
            state.pos + 1,
            state.queue.len(),
            batch,
            id,
            progress,
            mmss(on_item),
        )
    };
    let (batch, id) = (sanitize_line(&item.batch_id), sanitize_line(&item.item_id));
    // Done and skipped as the cache holds them (other processes', undone and redone work
    // included); the pace is this session's.
    let (done, skipped) = state.queue.iter().fold((0, 0), |(d, s), e| match e.status {
        Status::Done => (d + 1, s),
        Status::Skipped => (d, s + 1),
        Status::Draft => (d, s),
    });
    let short = format!(
        " {done} done · {} unexported · {} help ",
        state.unexported,
        state.keymap.key_of(Command::Help)
    );
    // Long ids are cut in the middle (their start and end tell items apart), so that the
    // counters always fit.
    let room = (area.width as usize).saturating_sub(crate::tui::text::width(&short));
    let mut left = left_with(&batch, &id);
    for max in [24usize, 16, 10, 6] {
        if crate::tui::text::width(&left) <= room {
            break;
        }
        left = left_with(
            &crate::tui::text::truncate_middle(&batch, max),
            &crate::tui::text::truncate_middle(&id, max),
        );
    }
    let right = format!(
        " {done} done{} · {:.0}/h · {} not exported · auto-advance {} · {} help ",
        if skipped > 0 {
            format!(" · {skipped} skipped")
        } else {
            String::new()
        },
        state.session.per_hour(state.now_ms),
        state.unexported,
        if state.settings.auto_advance {
            "on"
        } else {
            "off"
        },
        state.keymap.key_of(Command::Help),
    );
    let base = theme.status;
    let spans = vec![Span::styled(left, base.add_modifier(Modifier::BOLD))];
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let right = if used + crate::tui::text::width(&right) <= area.width as usize {
        right
    } else {
        // Narrow terminals get the short form.
        short
    };
    let mut spans = spans;
    let right_w = crate::tui::text::width(&right);
    let gap = (area.width as usize).saturating_sub(used + right_w);
    spans.push(Span::styled(" ".repeat(gap), base));
    if used + right_w <= area.width as usize {
        spans.push(Span::styled(right, base));
    }
    f.render_widget(Paragraph::new(Line::from(spans)).style(base), area);
}

/// The message of the current item and action, wrapped over the lines above the status
/// line (an error in red): readable whole at any width.
pub fn message(f: &mut Frame<'_>, state: &State, theme: &Theme, area: Rect) {
    let Some(m) = &state.message else { return };
    let style = if m.error { theme.error } else { theme.info };
    let rows = crate::tui::text::wrap(&m.text, area.width.saturating_sub(2) as usize);
    let n = rows.len();
    let lines: Vec<Line<'static>> = rows
        .into_iter()
        .take(area.height as usize)
        .enumerate()
        .map(|(i, r)| {
            let r = if i + 1 == area.height as usize && n > area.height as usize {
                format!("{r}…")
            } else {
                r
            };
            Line::from(Span::styled(format!(" {r}"), style))
        })
        .collect();
    f.render_widget(Paragraph::new(lines).style(style), area);
}

/// Lines of styled pieces, each wrapped to `width` (for the scrolling overlays).
fn wrap_lines(
    lines: impl Iterator<Item = Vec<(String, Style)>>,
    width: usize,
) -> Vec<Line<'static>> {
    lines
        .flat_map(|pieces| {
            crate::tui::markdown::wrap_pieces(&pieces, width)
                .into_iter()
                .map(|row| {
                    Line::from(
                        row.into_iter()
                            .map(|(t, s)| Span::styled(t, s))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    let [_, mid, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(h),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [_, c, _] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(w),
        Constraint::Fill(1),
    ])
    .areas(mid);
    c
}

/// The help text, generated from the keymap so that it cannot drift.
pub fn help_lines(state: &State, theme: &Theme) -> Vec<Line<'static>> {
    let key_style = theme.key;
    let mut out = vec![
        Line::from(Span::styled(
            "Labeling",
            Style::default().add_modifier(Modifier::BOLD),
        )),
        Line::from(
            "  Option keys are shown beside each option and act on the focused question (▶).",
        ),
    ];
    let section = |title: &str, scope: Scope, out: &mut Vec<Line<'static>>| {
        out.push(Line::from(""));
        out.push(Line::from(Span::styled(
            title.to_string(),
            Style::default().add_modifier(Modifier::BOLD),
        )));
        for b in state.keymap.bindings.iter().filter(|b| b.scope == scope) {
            let keys: Vec<String> = b.keys.iter().map(|k| k.name()).collect();
            out.push(Line::from(vec![
                Span::styled(format!("  {:<18}", keys.join(", ")), key_style),
                Span::raw(b.description.clone()),
            ]));
        }
    };
    section("Keys", Scope::Normal, &mut out);
    section("In the justification editor", Scope::Editor, &mut out);
    out.push(Line::from(
        "  Typing inserts text; arrows, home/end, ctrl-left/right (words), backspace, ctrl-w, enter (new line).",
    ));
    section("In a prompt", Scope::Prompt, &mut out);
    section("In help and the other overlays", Scope::Overlay, &mut out);
    out
}

/// The flag prompt's title: which item the flag goes to (named when it is the one just
/// submitted), and the key that switches to the other.
fn flag_title(
    state: &State,
    target: &crate::tui::state::FlagTarget,
    what: &str,
    what_first: bool,
    room: usize,
) -> String {
    // In the reason prompt the list says what to do: the switch is named first there.
    let (w, o) = if what_first { (1, 2) } else { (2, 1) };
    let other = state.keymap.key_of(Command::PromptOtherItem);
    let can_switch = state.flaggable_previous().is_some();
    let id = sanitize_line(&target.id);
    let done = if state.just_finished.as_ref().is_some_and(|j| j.skipped) {
        "skipped"
    } else {
        "submitted"
    };
    let parts: Vec<(String, u8)> = match (target.previous, can_switch) {
        (true, _) => vec![
            (format!("Flag {id} (just {done})"), 0),
            (what.to_string(), w),
            (format!("{other}: this item instead"), o),
        ],
        (false, true) => vec![
            (format!("Flag {id}"), 0),
            (what.to_string(), w),
            (format!("{other}: the item just {done}"), o),
        ],
        (false, false) => vec![
            ("Flag for the policy team".to_string(), 0),
            (what.to_string(), 1),
        ],
    };
    let mut parts = parts;
    if let Some(reason) = &target.flagged {
        // Said before the rater writes a note that replaces the one there.
        parts.insert(
            1,
            (format!("replaces its flag ({})", sanitize_line(reason)), 0),
        );
    }
    super::fit_title(&parts, room)
}

/// A search prompt's title: what it searches, and what enter on an empty prompt repeats.
fn search_title(what: &str, last: &str, room: usize) -> String {
    let mut parts = vec![(what.to_string(), 0u8)];
    if !last.is_empty() {
        parts.push((
            format!(
                "empty: the next '{}'",
                crate::tui::text::truncate(&sanitize_line(last), 24)
            ),
            1,
        ));
    }
    super::fit_title(&parts, room)
}

/// Draws the overlay that has the keyboard, if any.
pub fn overlay(f: &mut Frame<'_>, state: &State, theme: &Theme, area: Rect) {
    let Some(o) = state.overlay() else { return };
    let block = |title: String| {
        Block::default()
            .borders(Borders::ALL)
            .title(title)
            .border_style(theme.overlay)
    };
    match o {
        Overlay::Help(top) => {
            let lines = help_lines(state, theme);
            let r = centered(area, 100, lines.len() as u16 + 3);
            let inner_w = r.width.saturating_sub(2) as usize;
            let rows = wrap_lines(
                lines.iter().map(|l| {
                    l.spans
                        .iter()
                        .map(|s| (s.content.to_string(), s.style))
                        .collect()
                }),
                inner_w,
            );
            let inner_h = r.height.saturating_sub(2) as usize;
            let top = (*top).min(rows.len().saturating_sub(inner_h));
            let title = if rows.len() > inner_h {
                " Help (↑↓ scroll, any other key closes) "
            } else {
                " Help (any key closes) "
            };
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(rows.into_iter().skip(top).take(inner_h).collect::<Vec<_>>())
                    .block(block(title.into())),
                r,
            );
        }
        // Drawn by the view with the image memo (view::pictures::full).
        Overlay::Image(_) => {}
        Overlay::Stats(lines, top) | Overlay::Changes(lines, top) => {
            let changes = matches!(o, Overlay::Changes(..));
            let inner_w = area.width.min(84).saturating_sub(2) as usize;
            let rows = wrap_lines(
                lines.iter().map(|l| vec![(l.clone(), Style::default())]),
                inner_w,
            );
            let r = centered(area, 84, rows.len() as u16 + 2);
            let inner_h = r.height.saturating_sub(2) as usize;
            let top = (*top).min(rows.len().saturating_sub(inner_h));
            let title = match (changes, rows.len() > inner_h) {
                (true, true) => " The guidelines changed (↑↓ scroll, enter: go on) ",
                (true, false) => " The guidelines changed (enter: go on) ",
                (false, true) => " Your figures (↑↓ scroll, any other key closes) ",
                (false, false) => " Your figures (any key closes) ",
            };
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(rows.into_iter().skip(top).take(inner_h).collect::<Vec<_>>())
                    .block(block(title.into())),
                r,
            );
        }
        Overlay::Break => {
            let minutes = (state.now_ms - state.session.stretch_since_ms) / 60_000;
            let text = format!(
                "You have been labeling for {} without a pause.\n\nTake a few minutes away from the screen: stand up, look into the distance, breathe. Everything is saved.\n\nPress any key to go on.",
                crate::safe::count(minutes.max(0) as u64, "minute", "minutes")
            );
            let r = centered(area, 64, 9);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(text)
                    .wrap(Wrap { trim: true })
                    .block(block(" Time for a break ".into())),
                r,
            );
        }
        Overlay::Prompt(kind, ed) => {
            let room = (area.width.saturating_sub(10).min(90) as usize).saturating_sub(2);
            let (title, extra): (String, Vec<Line<'static>>) = match kind {
                PromptKind::SkipReason(_) => {
                    (" Skip: why? (enter confirms, esc cancels) ".into(), vec![])
                }
                PromptKind::FlagReason(target) => {
                    let reasons = state
                        .item
                        .as_ref()
                        .map(|i| i.schema.escalation_reasons.clone())
                        .unwrap_or_default();
                    let lines = reasons
                        .iter()
                        .enumerate()
                        .map(|(i, r)| {
                            Line::from(format!("  [{}] {}", i + 1, sanitize_line(&r.label)))
                        })
                        .collect();
                    (
                        flag_title(state, target, "choose a reason", false, room),
                        lines,
                    )
                }
                PromptKind::FlagNote(r, target) => (
                    flag_title(
                        state,
                        target,
                        &format!("{r}: a note, enter confirms"),
                        true,
                        room,
                    ),
                    vec![],
                ),
                PromptKind::SearchQueue => (
                    search_title(
                        "Search the queue: an item id, or words of its text (enter jumps)",
                        &state.last_search.0,
                        room,
                    ),
                    vec![],
                ),
                PromptKind::SearchGuidelines => (
                    search_title(
                        "Search the guidelines (enter jumps)",
                        &state.last_search.1,
                        room,
                    ),
                    vec![],
                ),
            };
            let text_row = extra.is_empty();
            let h = if text_row { 3 } else { extra.len() as u16 + 2 };
            let r = centered(area, area.width.saturating_sub(10).min(90), h);
            f.render_widget(Clear, r);
            if text_row {
                let (rows, (_, col)) = ed.layout(usize::MAX / 2);
                let line = rows.into_iter().next().unwrap_or_default();
                let inner = r.width.saturating_sub(2) as usize;
                // Scrolled by display columns, a whole grapheme at a time (a wide
                // character is never cut in half), so that the cursor stays in view.
                let want = col.saturating_sub(inner.saturating_sub(1));
                let mut skipped = 0;
                let mut shown = String::new();
                {
                    use unicode_segmentation::UnicodeSegmentation;
                    for g in line.graphemes(true) {
                        if skipped < want {
                            skipped += crate::tui::text::width(g);
                        } else {
                            shown.push_str(g);
                        }
                    }
                }
                f.render_widget(Paragraph::new(shown).block(block(title)), r);
                f.set_cursor_position(Position::new(
                    r.x + 1 + col.saturating_sub(skipped) as u16,
                    r.y + 1,
                ));
            } else {
                f.render_widget(Paragraph::new(extra).block(block(title)), r);
            }
        }
    }
}
