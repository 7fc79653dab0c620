//! Untrusted text made safe to draw, and wrapped by display width.
//!
//! Model text must never reach the terminal as control characters: every C0/C1 control,
//! DEL and bidirectional override is replaced by a visible placeholder before it is laid
//! out. Wrapping works on grapheme clusters and measures display width, so CJK, emoji and
//! combining marks take the columns they really take.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

pub use crate::safe::{placeholder, sanitize_line};

/// Splits untrusted text into safe lines: `\n` (and `\r\n`) break lines; a lone `\r` is
/// shown as its placeholder rather than moving the cursor.
pub fn safe_lines(text: &str) -> Vec<String> {
    text.split('\n')
        .map(|l| sanitize_line(l.strip_suffix('\r').unwrap_or(l)))
        .collect()
}

/// Display width of a string (grapheme-aware).
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Splits a line where it may be broken: runs of non-space characters, each followed by
/// its run of spaces ("word, " stays one piece, so punctuation stays with its word).
pub fn chunks(line: &str) -> impl Iterator<Item = &str> {
    let mut rest = line;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let space_end = rest[word_end..]
            .find(|c: char| !c.is_whitespace())
            .map(|i| word_end + i)
            .unwrap_or(rest.len());
        let (head, tail) = rest.split_at(space_end);
        rest = tail;
        Some(head)
    })
}

/// Where one line breaks into rows of at most `max` columns: the byte range of each row.
/// The one wrapping rule of the workstation (panes, guidelines, editor, messages): break
/// at spaces where possible, else inside a word, never inside a grapheme cluster; the
/// spaces after a word stay with it and may hang past the edge. The ranges cover every
/// byte of the line, in order (the editor maps its cursor through them).
pub fn rows(line: &str, max: usize) -> Vec<std::ops::Range<usize>> {
    let max = max.max(1);
    let mut out = Vec::new();
    let (mut start, mut end, mut w) = (0, 0, 0);
    for word in chunks(line) {
        let at = word.as_ptr() as usize - line.as_ptr() as usize;
        let bare = width(word.trim_end());
        if w + bare <= max || (w == 0 && word.trim().is_empty()) {
            end = at + word.len();
            w += width(word);
            continue;
        }
        if w > 0 && bare <= max {
            out.push(start..end);
            (start, end, w) = (at, at + word.len(), width(word));
            continue;
        }
        // A word longer than a row: break it between graphemes.
        let mut g_at = at;
        for g in word.graphemes(true) {
            let gw = width(g);
            if w + gw > max && w > 0 && !g.trim().is_empty() {
                out.push(start..end);
                (start, w) = (g_at, 0);
            }
            g_at += g.len();
            end = g_at;
            w += gw;
        }
    }
    out.push(start..end.max(start));
    out
}

/// Wraps one safe line to `max` columns (see [`rows`]); spaces hanging past the edge are
/// left out.
pub fn wrap_line(line: &str, max: usize) -> Vec<String> {
    rows(line, max)
        .into_iter()
        .map(|r| {
            let row = &line[r];
            if width(row) > max.max(1) {
                row.trim_end().to_string()
            } else {
                row.to_string()
            }
        })
        .collect()
}

/// `s` cut to at most `max` columns, ending in "…" when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    for g in s.graphemes(true) {
        if width(&out) + width(g) + 1 > max {
            break;
        }
        out.push_str(g);
    }
    if max > 0 {
        out.push('…');
    }
    out
}

/// `s` cut to at most `max` columns in the middle ("fixture…mixed"), so that both ends
/// of an id stay readable.
pub fn truncate_middle(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let g: Vec<&str> = s.graphemes(true).collect();
    let half = max.saturating_sub(1) / 2;
    let mut head = String::new();
    for x in &g {
        if width(&head) + width(x) > half {
            break;
        }
        head.push_str(x);
    }
    let mut tail = Vec::new();
    let mut w = 0;
    for x in g.iter().rev() {
        w += width(x);
        if w > max.saturating_sub(1) - width(&head) {
            break;
        }
        tail.push(*x);
    }
    tail.reverse();
    format!("{head}…{}", tail.concat())
}

/// Sanitises and wraps untrusted text to `max` columns.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    safe_lines(text)
        .iter()
        .flat_map(|l| wrap_line(l, max))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_ends_a_line_and_a_lone_cr_is_shown() {
        assert_eq!(safe_lines("one\r\ntwo\rthree"), vec!["one", "two␍three"]);
    }

    #[test]
    fn wrapping_respects_display_width_and_graphemes() {
        // Each CJK character is two columns wide.
        assert_eq!(
            wrap_line("日本語のテキスト", 6),
            vec!["日本語", "のテキ", "スト"]
        );
        // A family emoji is one grapheme of several code points: never split.
        let fam = "👩‍👩‍👧‍👦";
        assert_eq!(
            wrap_line(&fam.repeat(3), 4),
            vec![fam.repeat(2), fam.to_string()]
        );
        // e + combining acute stays one cluster.
        assert_eq!(
            wrap_line("e\u{301}e\u{301}e\u{301}", 2),
            vec!["e\u{301}e\u{301}", "e\u{301}"]
        );
        assert_eq!(
            wrap_line("the quick brown fox", 10),
            vec!["the quick ", "brown fox"]
        );
        // Punctuation stays with its word.
        assert_eq!(
            wrap_line("you want to execute.", 19),
            vec!["you want to ", "execute."]
        );
        assert_eq!(wrap("", 5), vec![""]);
    }

    #[test]
    fn rows_cover_every_byte_and_spaces_hang_at_the_edge() {
        let line = "ab  cd efgh 日本語のテキスト 👩‍👩‍👧‍👦x";
        for max in 1..20 {
            let r = rows(line, max);
            assert_eq!(r.first().map(|r| r.start), Some(0));
            assert_eq!(r.last().map(|r| r.end), Some(line.len()));
            for pair in r.windows(2) {
                assert_eq!(pair[0].end, pair[1].start, "max {max}: {r:?}");
            }
            for row in &r {
                let w = width(line[row.clone()].trim_end());
                let one = line[row.clone()].trim_end().graphemes(true).count() == 1;
                assert!(w <= max || one, "max {max}: {:?}", &line[row.clone()]);
            }
        }
        assert_eq!(wrap_line("ab  cd", 2), vec!["ab", "cd"]);
        assert_eq!(rows("ab  cd", 2), vec![0..4, 4..6]);
    }

    #[test]
    fn the_editor_the_panes_and_the_guidelines_wrap_alike() {
        use crate::tui::editor::Editor;
        use crate::tui::markdown::wrap_pieces;
        use ratatui::style::Style;
        let texts = [
            "Explains how to pick a lock 🔓 without a locksmith's context",
            "reason? A refusal, a lecture or a watered-down answer to a harmless request",
            "日本語のテキスト 🙂 👩‍💻 and e\u{301}, then averyveryverylongwordthatdoesnotfit.",
        ];
        for t in texts {
            for max in [5, 12, 29, 46] {
                let panes = wrap_line(t, max);
                let (editor, _) = Editor::new(t).layout(max);
                let editor: Vec<String> = editor.iter().map(|r| r.trim_end().to_string()).collect();
                let panes_trimmed: Vec<String> =
                    panes.iter().map(|r| r.trim_end().to_string()).collect();
                assert_eq!(editor, panes_trimmed, "editor vs panes at {max}: {t}");
                // The guidelines' styled pieces, split mid-word, wrap as the plain text.
                let mid = t.char_indices().nth(7).map(|(i, _)| i).unwrap_or(0);
                let pieces = [
                    (t[..mid].to_string(), Style::default()),
                    (t[mid..].to_string(), Style::default().bold()),
                ];
                let guide: Vec<String> = wrap_pieces(&pieces, max)
                    .iter()
                    .map(|r| r.iter().map(|(s, _)| s.as_str()).collect::<String>())
                    .collect();
                assert_eq!(guide, panes, "guidelines vs panes at {max}: {t}");
            }
        }
    }

    #[test]
    fn titles_keep_the_most_needed_parts() {
        let parts: Vec<(String, u8)> = [
            ("Labels", 0),
            ("↑↓ question", 4),
            ("enter submit", 1),
            ("space safe", 2),
            ("S skip", 3),
        ]
        .iter()
        .map(|(t, p)| (t.to_string(), *p))
        .collect();
        let fit = crate::tui::view::fit_title;
        assert_eq!(
            fit(&parts, 80),
            " Labels · ↑↓ question · enter submit · space safe · S skip "
        );
        assert_eq!(
            fit(&parts, 45),
            " Labels · enter submit · space safe · S skip "
        );
        assert_eq!(fit(&parts, 36), " Labels · enter submit · space safe ");
        assert_eq!(fit(&parts, 7), " Label…");
    }
}
