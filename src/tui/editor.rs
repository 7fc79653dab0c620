//! The justification editor: a multi-line text field that moves and deletes by grapheme
//! cluster and by word, and measures by display width.

use super::text::width;
use unicode_segmentation::UnicodeSegmentation;

/// Text and a cursor (a byte offset that is always on a grapheme boundary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Editor {
    text: String,
    cursor: usize,
}

impl Editor {
    /// An editor holding `text`, the cursor at its end. Control characters and bidi
    /// overrides (which a justification saved by an older verdict may hold) are left
    /// out, as [`insert`](Editor::insert) leaves them out; newlines and tabs stay.
    pub fn new(text: &str) -> Editor {
        let text: String = text
            .chars()
            .filter(|c| *c == '\n' || *c == '\t' || !crate::safe::is_unsafe(*c))
            .collect();
        Editor {
            cursor: text.len(),
            text,
        }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The cursor's byte offset.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    fn prev_boundary(&self, at: usize) -> usize {
        self.text[..at]
            .grapheme_indices(true)
            .next_back()
            .map(|(i, _)| i)
            .unwrap_or(0)
    }

    fn next_boundary(&self, at: usize) -> usize {
        self.text[at..]
            .graphemes(true)
            .next()
            .map(|g| at + g.len())
            .unwrap_or(at)
    }

    /// Inserts text at the cursor, exactly as given except for what a justification must
    /// not hold: CRLF and a lone CR become LF, a tab becomes four spaces (visible, and
    /// the same width everywhere), and every other control character or bidi override is
    /// left out (see [`clean`](Editor::clean)).
    pub fn insert(&mut self, s: &str) {
        let clean = Editor::clean(s);
        self.text.insert_str(self.cursor, &clean);
        self.cursor += clean.len();
        // A combining mark typed after a letter joins its cluster: stay on a boundary.
        while !self.text.is_char_boundary(self.cursor) {
            self.cursor += 1;
        }
    }

    /// What [`insert`](Editor::insert) makes of `s`.
    pub fn clean(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    out.push('\n');
                }
                '\n' => out.push('\n'),
                '\t' => out.push_str("    "),
                c if crate::safe::is_unsafe(c) => {}
                c => out.push(c),
            }
        }
        out
    }

    /// Deletes the grapheme before the cursor.
    pub fn backspace(&mut self) {
        let start = self.prev_boundary(self.cursor);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Deletes the grapheme after the cursor.
    pub fn delete(&mut self) {
        let end = self.next_boundary(self.cursor);
        self.text.replace_range(self.cursor..end, "");
    }

    /// One grapheme left.
    pub fn left(&mut self) {
        self.cursor = self.prev_boundary(self.cursor);
    }

    /// One grapheme right.
    pub fn right(&mut self) {
        self.cursor = self.next_boundary(self.cursor);
    }

    /// Start of the previous word.
    pub fn word_left(&mut self) {
        let mut at = 0;
        for (i, w) in self.text[..self.cursor].split_word_bound_indices() {
            if !w.trim().is_empty() {
                at = i;
            }
        }
        self.cursor = at;
    }

    /// End of the next word.
    pub fn word_right(&mut self) {
        let mut at = self.text.len();
        for (i, w) in self.text[self.cursor..].split_word_bound_indices() {
            if !w.trim().is_empty() {
                at = self.cursor + i + w.len();
                break;
            }
        }
        self.cursor = at;
    }

    /// Deletes back to the start of the previous word.
    pub fn delete_word_back(&mut self) {
        let end = self.cursor;
        self.word_left();
        self.text.replace_range(self.cursor..end, "");
    }

    /// Start of the line.
    pub fn home(&mut self) {
        self.cursor = self.text[..self.cursor]
            .rfind('\n')
            .map(|i| i + 1)
            .unwrap_or(0);
    }

    /// End of the line.
    pub fn end(&mut self) {
        self.cursor = self.text[self.cursor..]
            .find('\n')
            .map(|i| self.cursor + i)
            .unwrap_or(self.text.len());
    }

    /// The cursor's (line, display column) in the unwrapped text.
    fn line_col(&self) -> (usize, usize) {
        let before = &self.text[..self.cursor];
        let line = before.matches('\n').count();
        let start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        (line, width(&before[start..]))
    }

    fn goto_line_col(&mut self, line: usize, col: usize) {
        let mut start = 0;
        for (i, l) in self.text.split('\n').enumerate() {
            if i == line {
                let mut at = start;
                let mut w = 0;
                for g in l.graphemes(true) {
                    if w + width(g) > col {
                        break;
                    }
                    w += width(g);
                    at += g.len();
                }
                self.cursor = at;
                return;
            }
            start += l.len() + 1;
        }
    }

    /// The same column on the line above.
    pub fn up(&mut self) {
        let (line, col) = self.line_col();
        if line > 0 {
            self.goto_line_col(line - 1, col);
        }
    }

    /// The same column on the line below.
    pub fn down(&mut self) {
        let (line, col) = self.line_col();
        if line < self.text.matches('\n').count() {
            self.goto_line_col(line + 1, col);
        }
    }

    /// The same display column on the row above, as the text is wrapped at `max`
    /// columns (what the rater sees), not the line above.
    pub fn up_in(&mut self, max: usize) {
        let (starts, rows, (row, col)) = self.layout_rows(max);
        if row > 0 {
            self.cursor = at_column(starts[row - 1], &rows[row - 1], col);
        }
    }

    /// The same display column on the row below, as the text is wrapped at `max`.
    pub fn down_in(&mut self, max: usize) {
        let (starts, rows, (row, col)) = self.layout_rows(max);
        if row + 1 < rows.len() {
            self.cursor = at_column(starts[row + 1], &rows[row + 1], col);
        }
    }

    /// Lays the text out in rows of at most `max` columns (breaking at word boundaries,
    /// never inside a grapheme) and returns the rows and the cursor's (row, column).
    pub fn layout(&self, max: usize) -> (Vec<String>, (usize, usize)) {
        let (_, rows, cursor) = self.layout_rows(max);
        (rows, cursor)
    }

    /// [`Editor::layout`], with the byte offset where each row starts. Rows are those of
    /// [`super::text::rows`], as everywhere else on the screen.
    fn layout_rows(&self, max: usize) -> (Vec<usize>, Vec<String>, (usize, usize)) {
        let mut starts = Vec::new();
        let mut rows = Vec::new();
        let mut cursor = (0, 0);
        let mut offset = 0;
        for line in self.text.split('\n') {
            for r in super::text::rows(line, max) {
                let (from, to) = (offset + r.start, offset + r.end);
                // At a break the cursor is shown at the start of the next row (where
                // the next character typed goes).
                if self.cursor >= from && self.cursor <= to {
                    cursor = (rows.len(), width(&self.text[from..self.cursor]));
                }
                starts.push(from);
                rows.push(line[r].to_string());
            }
            offset += line.len() + 1;
        }
        // A cursor at the right edge (after a row that fills it, or in spaces hanging past
        // it) is shown at the start of the next row, where the next character goes: never
        // on the pane's border. (After the last row it is a row of its own.)
        if max > 0 && cursor.1 >= max {
            cursor = (cursor.0 + 1, 0);
        }
        (starts, rows, cursor)
    }
}

/// The byte offset in a row (starting at byte `start` of the text) of display column
/// `col`, or its end.
fn at_column(start: usize, row: &str, col: usize) -> usize {
    let mut at = start;
    let mut w = 0;
    for g in row.graphemes(true) {
        if w + width(g) > col {
            break;
        }
        w += width(g);
        at += g.len();
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_at_a_wrap_point_is_shown_where_the_next_character_goes() {
        // After "the quick " at 9 columns the spaces hang past the edge: the cursor is at
        // the start of the next row, not on the border.
        let e = Editor::new("the quick ");
        assert_eq!(e.layout(9).1, (1, 0));
        // Just after "quick", a row that fills the pane: the same.
        let mut e = Editor::new("the quick brown");
        for _ in 0..6 {
            e.left();
        }
        let (rows, cursor) = e.layout(9);
        assert_eq!(rows, ["the quick ", "brown"]);
        assert_eq!(cursor, (1, 0));
        // Inside a row it is where it is.
        e.left();
        assert_eq!(e.layout(9).1, (0, 8));
    }

    #[test]
    fn moves_and_deletes_by_grapheme() {
        let mut e = Editor::new("ae\u{301}👩‍💻z");
        e.left();
        e.backspace(); // the whole woman-technologist emoji
        assert_eq!(e.text(), "ae\u{301}z");
        e.left();
        assert_eq!(e.cursor(), 1, "one step back over e + combining acute");
        e.delete(); // e + combining acute together
        assert_eq!(e.text(), "az");
    }

    #[test]
    fn word_motion_and_deletion() {
        let mut e = Editor::new("name the risk");
        e.word_left();
        assert_eq!(e.cursor(), 9);
        e.word_left();
        assert_eq!(e.cursor(), 5);
        e.word_right();
        assert_eq!(e.cursor(), 8);
        let mut e = Editor::new("name the risk  ");
        e.delete_word_back();
        assert_eq!(e.text(), "name the ");
    }

    #[test]
    fn lines_keep_their_display_column() {
        let mut e = Editor::new("日本語\nabcdef");
        e.up();
        // Column 6 of "abcdef" is after the third wide character.
        assert_eq!(e.cursor(), "日本語".len());
        e.left();
        e.down();
        assert_eq!(e.cursor(), "日本語\nabcd".len());
        e.home();
        assert_eq!(e.cursor(), "日本語\n".len());
        e.end();
        assert_eq!(e.cursor(), e.text().len());
    }

    #[test]
    fn layout_wraps_and_places_the_cursor() {
        let mut e = Editor::new("the harm mechanism is 日本");
        let (rows, cur) = e.layout(10);
        assert_eq!(rows, vec!["the harm ", "mechanism ", "is 日本"]);
        assert_eq!(cur, (2, 7));
        e.home();
        assert_eq!(e.layout(10).1, (0, 0));
        e.insert("x\ny");
        let (rows, cur) = e.layout(10);
        assert_eq!(rows[0], "x");
        assert_eq!(cur, (1, 1));
    }

    #[test]
    fn up_and_down_move_by_wrapped_row() {
        let mut e = Editor::new("the harm mechanism is 日本");
        // Rows at 10 columns: "the harm ", "mechanism ", "is 日本"; the cursor at the end.
        e.up_in(10);
        assert_eq!(e.layout(10).1, (1, 7));
        e.up_in(10);
        assert_eq!(e.layout(10).1, (0, 7));
        e.up_in(10);
        assert_eq!(e.layout(10).1, (0, 7), "no row above the first");
        e.down_in(10);
        e.down_in(10);
        assert_eq!(e.layout(10).1, (2, 7));
        assert_eq!(e.cursor(), e.text().len());
    }

    #[test]
    fn control_characters_are_not_inserted() {
        let mut e = Editor::new("");
        e.insert("a\u{1b}[31mb\u{7}");
        assert_eq!(e.text(), "a[31mb");
        // Bidi overrides and C1 controls (a snippet or a paste could carry them) neither.
        e.insert("\u{202e}c\u{9b}d\u{2066}");
        assert_eq!(e.text(), "a[31mbcd");
    }

    #[test]
    fn pasted_line_ends_and_tabs_survive_as_text() {
        let mut e = Editor::new("");
        e.insert("one\r\ntwo\rthree\n\tfour");
        assert_eq!(e.text(), "one\ntwo\nthree\n    four");
    }
}
