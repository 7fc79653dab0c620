//! The guideline document rendered for the terminal: headings, lists, emphasis, inline
//! code and code blocks; wrapped to a width; searchable; sections found by heading.

use super::text::width;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

/// A styled piece of a line.
type Piece = (String, Style);

/// A parsed guideline document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Guide {
    /// Logical lines (one per source line), styled.
    pub lines: Vec<Vec<Piece>>,
    /// Headings: (logical line, level, text).
    pub headings: Vec<(usize, usize, String)>,
    /// Id and version, from the front matter.
    pub title: String,
}

/// Where a document being rendered stands: its lines so far and the open blocks.
#[derive(Default)]
struct Render {
    lines: Vec<Vec<Piece>>,
    cur: Vec<Piece>,
    heading: Option<usize>,
    list: Vec<Option<u64>>,
    item_open: bool,
    quote: usize,
    code_block: bool,
    em: usize,
    strong: usize,
    strike: usize,
    links: Vec<String>,
    table: Option<Vec<Vec<Vec<Piece>>>>,
}

impl Render {
    fn style(&self) -> Style {
        let mut s = Style::default();
        if self.strong > 0 {
            s = s.add_modifier(Modifier::BOLD);
        }
        if self.em > 0 {
            s = s.add_modifier(Modifier::ITALIC);
        }
        if self.strike > 0 {
            s = s.add_modifier(Modifier::CROSSED_OUT);
        }
        s
    }

    fn push(&mut self, text: &str, style: Style) {
        if self.cur.is_empty() && self.quote > 0 {
            self.cur.push((
                "│ ".repeat(self.quote),
                Style::default().fg(Color::DarkGray),
            ));
        }
        match self.cur.last_mut() {
            Some((t, s)) if *s == style => t.push_str(text),
            _ => self.cur.push((text.to_string(), style)),
        }
    }

    /// Ends the current line (if it holds anything).
    fn end_line(&mut self) {
        if !self.cur.is_empty() {
            self.lines.push(std::mem::take(&mut self.cur));
        }
    }

    /// A blank line between blocks (never two).
    fn blank(&mut self) {
        self.end_line();
        if self.lines.last().is_some_and(|l| !l.is_empty()) {
            self.lines.push(Vec::new());
        }
    }

    /// Starts a block: what was open ends.
    fn block(&mut self) {
        self.end_line();
    }

    /// A table as lines that read well at any width: the header, then per row its first
    /// cell (bold) and each other cell after its column's name.
    fn table_lines(&mut self, rows: Vec<Vec<Vec<Piece>>>) {
        let mut rows = rows.into_iter();
        let Some(head) = rows.next() else { return };
        let names: Vec<String> = head
            .iter()
            .map(|c| c.iter().map(|p| p.0.as_str()).collect::<String>())
            .collect();
        self.lines.push(vec![(
            names.join(" · "),
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        )]);
        for row in rows {
            let mut line: Vec<Piece> = vec![("• ".into(), Style::default())];
            for (i, cell) in row.into_iter().enumerate() {
                if i == 0 {
                    line.extend(
                        cell.into_iter()
                            .map(|(t, s)| (t, s.add_modifier(Modifier::BOLD))),
                    );
                    continue;
                }
                let name = names.get(i).cloned().unwrap_or_default();
                line.push((format!(" — {name}: "), Style::default().fg(Color::DarkGray)));
                line.extend(cell);
            }
            self.lines.push(line);
        }
    }
}

impl Guide {
    /// Parses a guideline document (Markdown with a `---` front matter) with
    /// pulldown-cmark: headings, paragraphs, emphasis, strong, inline code, code blocks,
    /// lists (nested, numbered), block quotes, links (their text, then the address),
    /// and tables (a header line, then one line per row: its first cell, then each other
    /// cell named by its column), which read well at any pane width.
    pub fn parse(text: &str) -> Guide {
        use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
        // A document a batch carries is untrusted text: no control character, escape
        // sequence or direction override reaches the terminal (they show as placeholders).
        let clean = crate::tui::text::safe_lines(text).join("\n");
        let text = clean.as_str();
        let mut g = Guide::default();
        let mut body = text;
        if let Some(rest) = text.strip_prefix("---\n")
            && let Some(end) = rest.find("\n---\n")
        {
            let fm = &rest[..end];
            let get = |k: &str| {
                fm.lines()
                    .find_map(|l| {
                        l.strip_prefix(k).map(|v| {
                            v.trim_start_matches(':')
                                .trim()
                                .trim_matches('"')
                                .to_string()
                        })
                    })
                    .unwrap_or_default()
            };
            g.title = format!("{} {}", get("id"), get("version"));
            body = &rest[end + 5..];
        }
        let mut r = Render::default();
        for ev in Parser::new_ext(body, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
            match ev {
                Event::Start(Tag::Heading { level, .. }) => {
                    r.block();
                    r.heading = Some(match level {
                        HeadingLevel::H1 => 1,
                        HeadingLevel::H2 => 2,
                        HeadingLevel::H3 => 3,
                        HeadingLevel::H4 => 4,
                        HeadingLevel::H5 => 5,
                        HeadingLevel::H6 => 6,
                    });
                }
                Event::End(TagEnd::Heading(_)) => {
                    let level = r.heading.take().unwrap_or(1);
                    let title: String = r.cur.iter().map(|p| p.0.as_str()).collect();
                    let style = Style::default()
                        .add_modifier(Modifier::BOLD)
                        .fg(if level <= 2 {
                            Color::Yellow
                        } else {
                            Color::LightBlue
                        });
                    g.headings
                        .push((r.lines.len(), level, title.trim().to_string()));
                    r.cur = vec![(title.trim().to_string(), style)];
                    r.end_line();
                    r.blank();
                }
                Event::Start(Tag::Paragraph) => {
                    if r.item_open {
                        r.item_open = false;
                    } else if r.list.is_empty() {
                        r.block();
                    }
                }
                Event::End(TagEnd::Paragraph) => {
                    r.end_line();
                    if r.list.is_empty() && r.table.is_none() {
                        r.blank();
                    }
                }
                Event::Start(Tag::BlockQuote(_)) => {
                    r.block();
                    r.quote += 1;
                }
                Event::End(TagEnd::BlockQuote(_)) => r.quote = r.quote.saturating_sub(1),
                Event::Start(Tag::CodeBlock(_)) => {
                    r.block();
                    r.code_block = true;
                }
                Event::End(TagEnd::CodeBlock) => {
                    r.end_line();
                    r.code_block = false;
                    r.blank();
                }
                Event::Start(Tag::List(first)) => {
                    if r.list.is_empty() {
                        r.block();
                    } else {
                        r.end_line();
                    }
                    r.list.push(first);
                }
                Event::End(TagEnd::List(_)) => {
                    r.end_line();
                    r.list.pop();
                    if r.list.is_empty() {
                        r.blank();
                    }
                }
                Event::Start(Tag::Item) => {
                    r.end_line();
                    let depth = r.list.len().saturating_sub(1);
                    let marker = match r.list.last_mut() {
                        Some(Some(n)) => {
                            let m = format!("{n}. ");
                            *n += 1;
                            m
                        }
                        _ => "• ".to_string(),
                    };
                    r.cur
                        .push((format!("{}{marker}", "  ".repeat(depth)), Style::default()));
                    r.item_open = true;
                }
                Event::End(TagEnd::Item) => {
                    r.end_line();
                    r.item_open = false;
                }
                Event::Start(Tag::Emphasis) => r.em += 1,
                Event::End(TagEnd::Emphasis) => r.em = r.em.saturating_sub(1),
                Event::Start(Tag::Strong) => r.strong += 1,
                Event::End(TagEnd::Strong) => r.strong = r.strong.saturating_sub(1),
                Event::Start(Tag::Strikethrough) => r.strike += 1,
                Event::End(TagEnd::Strikethrough) => r.strike = r.strike.saturating_sub(1),
                Event::Start(Tag::Link { dest_url, .. }) => r.links.push(dest_url.to_string()),
                Event::End(TagEnd::Link) => {
                    if let Some(url) = r.links.pop() {
                        let shown: String = r.cur.iter().map(|p| p.0.as_str()).collect();
                        // An address that is its own text is not said twice.
                        if !url.is_empty() && !shown.ends_with(url.as_str()) {
                            r.cur
                                .push((format!(" ({url})"), Style::default().fg(Color::DarkGray)));
                        }
                    }
                }
                Event::Start(Tag::Table(_)) => {
                    r.block();
                    r.table = Some(Vec::new());
                }
                Event::Start(Tag::TableHead | Tag::TableRow) => {
                    if let Some(t) = r.table.as_mut() {
                        t.push(Vec::new());
                    }
                }
                Event::Start(Tag::TableCell) => {
                    r.cur.clear();
                }
                Event::End(TagEnd::TableCell) => {
                    let cell = std::mem::take(&mut r.cur);
                    if let Some(row) = r.table.as_mut().and_then(|t| t.last_mut()) {
                        row.push(cell);
                    }
                }
                Event::End(TagEnd::Table) => {
                    if let Some(t) = r.table.take() {
                        r.table_lines(t);
                    }
                    r.blank();
                }
                Event::Text(t) => {
                    if r.code_block {
                        for (i, l) in t.split('\n').enumerate() {
                            if i > 0 {
                                r.end_line();
                            }
                            if !l.is_empty() {
                                r.cur
                                    .push((l.to_string(), Style::default().fg(Color::Cyan)));
                            }
                        }
                    } else {
                        let style = r.style();
                        r.push(&t, style);
                    }
                }
                Event::Code(t) => {
                    let style = r.style().fg(Color::Cyan);
                    r.push(&t, style);
                }
                Event::SoftBreak => r.push(" ", Style::default()),
                Event::HardBreak => r.end_line(),
                Event::Rule => {
                    r.block();
                    r.cur
                        .push(("────".into(), Style::default().fg(Color::DarkGray)));
                    r.end_line();
                    r.blank();
                }
                Event::Html(h) | Event::InlineHtml(h) => r.push(&h, Style::default()),
                Event::TaskListMarker(done) => {
                    r.push(if done { "[x] " } else { "[ ] " }, Style::default())
                }
                _ => {}
            }
        }
        r.end_line();
        while r.lines.last().is_some_and(|l| l.is_empty()) {
            r.lines.pop();
        }
        g.lines = r.lines;
        g
    }

    /// The document wrapped to `max` columns, and the first row of each logical line.
    pub fn wrapped(&self, max: usize) -> (Vec<Line<'static>>, Vec<usize>) {
        let mut rows = Vec::new();
        let mut starts = Vec::with_capacity(self.lines.len());
        for l in &self.lines {
            starts.push(rows.len());
            for r in wrap_pieces(l, max) {
                rows.push(Line::from(
                    r.into_iter()
                        .map(|(t, s)| Span::styled(t, s))
                        .collect::<Vec<_>>(),
                ));
            }
        }
        (rows, starts)
    }

    /// The logical line of the section whose heading starts with `label`, ignoring case
    /// (the guidelines follow the rater: choosing "Hate" shows the Hate section).
    pub fn section(&self, label: &str) -> Option<usize> {
        let l = label.to_lowercase();
        self.headings
            .iter()
            .find(|(_, _, t)| t.to_lowercase().starts_with(&l))
            .map(|(i, _, _)| *i)
    }

    /// The section that logical line `line` is in, with its parent sections ("Harm
    /// categories › Hate"); a document's single level-1 heading (its title) is left out.
    pub fn section_at(&self, line: usize) -> Option<String> {
        let titles = self.headings.iter().filter(|(_, l, _)| *l == 1).count();
        let mut path: Vec<(usize, &str)> = Vec::new();
        for (at, level, title) in self.headings.iter().take_while(|(at, _, _)| *at <= line) {
            let _ = at;
            path.retain(|(l, _)| *l < *level);
            path.push((*level, title));
        }
        let shown: Vec<&str> = path
            .iter()
            .filter(|(l, _)| !(titles == 1 && *l == 1 && path.len() > 1))
            .map(|(_, t)| *t)
            .collect();
        (!shown.is_empty()).then(|| shown.join(" › "))
    }

    /// The first logical line at or after `from` containing `query` (case-insensitive),
    /// wrapping around to the start.
    pub fn find(&self, query: &str, from: usize) -> Option<usize> {
        let q = query.to_lowercase();
        if q.is_empty() {
            return None;
        }
        let n = self.lines.len();
        (0..n).map(|i| (from + i) % n).find(|i| {
            self.lines[*i]
                .iter()
                .map(|(t, _)| t.as_str())
                .collect::<String>()
                .to_lowercase()
                .contains(&q)
        })
    }
}

/// Wraps styled pieces to `max` columns by [`super::text::rows`] (the pieces joined: a
/// word split across pieces stays one word), keeping each piece's style.
pub fn wrap_pieces(pieces: &[Piece], max: usize) -> Vec<Vec<Piece>> {
    let line: String = pieces.iter().map(|(t, _)| t.as_str()).collect();
    let mut rows = Vec::new();
    for r in super::text::rows(&line, max) {
        // Spaces hanging past the edge are left out of the drawn row.
        let end = if width(&line[r.clone()]) > max.max(1) {
            r.start + line[r.clone()].trim_end().len()
        } else {
            r.end
        };
        let mut row: Vec<Piece> = Vec::new();
        let mut at = 0;
        for (text, style) in pieces {
            let (from, to) = (at.max(r.start), (at + text.len()).min(end));
            if from < to {
                let part = &line[from..to];
                match row.last_mut() {
                    Some((t, st)) if st == style => t.push_str(part),
                    _ => row.push((part.to_string(), *style)),
                }
            }
            at += text.len();
        }
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of a line.
    fn text(l: &[Piece]) -> String {
        l.iter().map(|p| p.0.as_str()).collect()
    }

    #[test]
    fn renders_headings_lists_emphasis_and_code() {
        let g = Guide::parse(
            "---\nid: g\nversion: \"2\"\n---\n# Title\n\n- **bold** and *em* and `code`\n- _also em_ and a lone * star\n\n```\nraw *text*\n```\n### Hate (`h`)\none\ntwo\n",
        );
        assert_eq!(g.title, "g 2");
        assert_eq!(g.headings.len(), 2);
        let list = g
            .lines
            .iter()
            .find(|l| text(l).starts_with("• bold"))
            .unwrap();
        assert_eq!(list[0].0, "• ");
        assert_eq!(
            list[1],
            ("bold".into(), Style::default().add_modifier(Modifier::BOLD))
        );
        assert!(
            list.iter()
                .any(|p| p.0 == "em" && p.1 == Style::default().add_modifier(Modifier::ITALIC))
        );
        assert!(
            list.iter()
                .any(|p| p.0 == "code" && p.1 == Style::default().fg(Color::Cyan))
        );
        let second = g
            .lines
            .iter()
            .find(|l| text(l).starts_with("• also"))
            .unwrap();
        assert!(
            second
                .iter()
                .any(|p| p.0 == "also em" && p.1.add_modifier.contains(Modifier::ITALIC))
        );
        assert!(
            text(second).contains("a lone * star"),
            "a lone * is text and turns nothing on: {second:?}"
        );
        assert!(
            second
                .iter()
                .all(|p| !p.0.contains("star") || !p.1.add_modifier.contains(Modifier::ITALIC))
        );
        let raw = g
            .lines
            .iter()
            .position(|l| text(l) == "raw *text*")
            .unwrap();
        assert_eq!(
            g.lines[raw][0].1,
            Style::default().fg(Color::Cyan),
            "no emphasis inside code blocks"
        );
        let hate = g.section("hate").unwrap();
        assert_eq!(text(&g.lines[hate]), "Hate (h)");
        assert_eq!(
            text(&g.lines[hate + 2]),
            "one two",
            "a paragraph's lines are joined"
        );
        assert_eq!(g.find("RAW", 0), Some(raw));
        assert_eq!(g.find("title", 3), Some(0), "search wraps around");
    }

    #[test]
    fn tables_and_links_read_as_text() {
        let g = Guide::parse(
            "| Level | Meaning |\n|---|---|\n| 0 None | No *plausible* harm. |\n| 1 Minor | Little uplift. |\n\nSee [the policy](https://example.org/p) or <https://example.org/q>.\n",
        );
        let lines: Vec<String> = g.lines.iter().map(|l| text(l)).collect();
        assert_eq!(lines[0], "Level · Meaning");
        assert_eq!(lines[1], "• 0 None — Meaning: No plausible harm.");
        assert_eq!(lines[2], "• 1 Minor — Meaning: Little uplift.");
        assert!(lines.iter().all(|l| !l.contains("|---")), "{lines:?}");
        assert!(
            lines.contains(
                &"See the policy (https://example.org/p) or https://example.org/q.".to_string()
            ),
            "{lines:?}"
        );
    }

    #[test]
    fn the_shipped_guidelines_have_a_section_per_harm_category() {
        let g = Guide::parse(crate::guidelines::shipped()[0].text);
        let schema = crate::model::Schema::builtin("ai-safety-v1").unwrap();
        for o in &schema.question("harm").unwrap().options {
            if o.value != "none" {
                assert!(g.section(&o.label).is_some(), "no section for {}", o.label);
            }
        }
    }
}
