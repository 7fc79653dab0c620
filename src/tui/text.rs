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

/// Wraps one safe line to `max` columns, at spaces where possible, else inside a word;
/// never splits a grapheme cluster.
pub fn wrap_line(line: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    if width(line) <= max {
        return vec![line.to_string()];
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_w = 0;
    for word in chunks(line) {
        let w = width(word);
        if cur_w + w <= max {
            cur.push_str(word);
            cur_w += w;
            continue;
        }
        // The spaces after a word may hang past the edge: they are dropped at the break.
        let bare = word.trim_end();
        let bare_w = width(bare);
        if cur_w + bare_w <= max {
            cur.push_str(bare);
            out.push(std::mem::take(&mut cur));
            cur_w = 0;
            continue;
        }
        if !cur.is_empty() && bare_w <= max {
            out.push(std::mem::take(&mut cur));
            cur.push_str(word);
            cur_w = w;
            continue;
        }
        // A word longer than a line: break it between graphemes.
        for g in word.graphemes(true) {
            let gw = width(g);
            if cur_w + gw > max && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
                cur_w = 0;
            }
            cur.push_str(g);
            cur_w += gw;
        }
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
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
}
