//! The guideline document rendered for the terminal: headings, lists, emphasis, inline
//! code and code blocks; wrapped to a width; searchable; sections found by heading.

use super::text::width;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;

/// A styled piece of a line.
type Piece = (String, Style);

/// A parsed guideline document.
#[derive(Debug, Clone, Default)]
pub struct Guide {
    /// Logical lines (one per source line), styled.
    pub lines: Vec<Vec<Piece>>,
    /// Headings: (logical line, level, text).
    pub headings: Vec<(usize, usize, String)>,
    /// Id and version, from the front matter.
    pub title: String,
}

fn inline(text: &str, base: Style) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut cur = String::new();
    let mut bold = false;
    let mut em = false;
    let mut code = false;
    let style = |bold: bool, em: bool, code: bool| {
        let mut s = base;
        if bold {
            s = s.add_modifier(Modifier::BOLD);
        }
        if em {
            s = s.add_modifier(Modifier::ITALIC);
        }
        if code {
            s = s.fg(Color::Cyan);
        }
        s
    };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let toggle = match c {
            '`' => Some(3),
            '*' if !code && chars.peek() == Some(&'*') => {
                chars.next();
                Some(1)
            }
            '*' if !code => Some(2),
            _ => None,
        };
        match toggle {
            Some(t) => {
                if !cur.is_empty() {
                    out.push((std::mem::take(&mut cur), style(bold, em, code)));
                }
                match t {
                    1 => bold = !bold,
                    2 => em = !em,
                    _ => code = !code,
                }
            }
            None => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push((cur, style(bold, em, code)));
    }
    out
}

impl Guide {
    /// Parses a guideline document (Markdown with a `---` front matter).
    pub fn parse(text: &str) -> Guide {
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
        let mut in_code = false;
        // Source lines of one paragraph (or one list item) are joined, as Markdown does.
        let mut para: Option<String> = None;
        // A list item: its marker ("• ", "2. ") and its text.
        let mut item: Option<(String, String)> = None;
        let flush =
            |g: &mut Guide, para: &mut Option<String>, item: &mut Option<(String, String)>| {
                if let Some(p) = para.take() {
                    g.lines.push(inline(&p, Style::default()));
                }
                if let Some((marker, text)) = item.take() {
                    let mut line = vec![(marker, Style::default())];
                    line.extend(inline(&text, Style::default()));
                    g.lines.push(line);
                }
            };
        for raw in body.lines() {
            if raw.trim_start().starts_with("```") {
                flush(&mut g, &mut para, &mut item);
                in_code = !in_code;
                g.lines.push(Vec::new());
                continue;
            }
            if in_code {
                g.lines
                    .push(vec![(raw.to_string(), Style::default().fg(Color::Cyan))]);
                continue;
            }
            let trimmed = raw.trim_start();
            let indent = raw.len() - trimmed.len();
            let level = raw.chars().take_while(|c| *c == '#').count();
            if level > 0 && raw[level..].starts_with(' ') {
                flush(&mut g, &mut para, &mut item);
                let t = raw[level..].trim().to_string();
                let style = Style::default()
                    .add_modifier(Modifier::BOLD)
                    .fg(if level <= 2 {
                        Color::Yellow
                    } else {
                        Color::LightBlue
                    });
                g.headings.push((g.lines.len(), level, t.clone()));
                g.lines.push(vec![(t, style)]);
                continue;
            }
            if trimmed.is_empty() {
                flush(&mut g, &mut para, &mut item);
                g.lines.push(Vec::new());
                continue;
            }
            let numbered = trimmed
                .split_once(". ")
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            if let Some(rest) = trimmed
                .strip_prefix("- ")
                .or_else(|| trimmed.strip_prefix("* "))
            {
                flush(&mut g, &mut para, &mut item);
                item = Some((format!("{}• ", " ".repeat(indent)), rest.to_string()));
            } else if numbered {
                flush(&mut g, &mut para, &mut item);
                let (n, rest) = trimmed.split_once(". ").unwrap_or(("", trimmed));
                item = Some((format!("{}{n}. ", " ".repeat(indent)), rest.to_string()));
            } else if trimmed.starts_with('|') {
                flush(&mut g, &mut para, &mut item);
                g.lines.push(inline(
                    &format!("{}{}", " ".repeat(indent), trimmed),
                    Style::default(),
                ));
            } else if let Some((_, text)) = item.as_mut().filter(|_| indent > 0) {
                text.push(' ');
                text.push_str(trimmed);
            } else if let Some(p) = para.as_mut() {
                p.push(' ');
                p.push_str(trimmed);
            } else {
                flush(&mut g, &mut para, &mut item);
                para = Some(trimmed.to_string());
            }
        }
        flush(&mut g, &mut para, &mut item);
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

/// Wraps styled pieces to `max` columns at word boundaries (never inside a grapheme).
pub fn wrap_pieces(pieces: &[Piece], max: usize) -> Vec<Vec<Piece>> {
    let max = max.max(1);
    let mut rows: Vec<Vec<Piece>> = Vec::new();
    let mut row: Vec<Piece> = Vec::new();
    let mut row_w = 0;
    let push = |row: &mut Vec<Piece>, s: &str, style: Style| match row.last_mut() {
        Some((t, st)) if *st == style => t.push_str(s),
        _ => row.push((s.to_string(), style)),
    };
    for (text, style) in pieces {
        for word in super::text::chunks(text) {
            let w = width(word);
            if row_w + w > max && row_w > 0 {
                if word.trim().is_empty() {
                    continue;
                }
                rows.push(std::mem::take(&mut row));
                row_w = 0;
            }
            if w > max {
                for g in word.graphemes(true) {
                    if row_w + width(g) > max && row_w > 0 {
                        rows.push(std::mem::take(&mut row));
                        row_w = 0;
                    }
                    push(&mut row, g, *style);
                    row_w += width(g);
                }
            } else {
                push(&mut row, word, *style);
                row_w += w;
            }
        }
    }
    rows.push(row);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_headings_lists_emphasis_and_code() {
        let g = Guide::parse(
            "---\nid: g\nversion: \"2\"\n---\n# Title\n\n- **bold** and *em* and `code`\n```\nraw *text*\n```\n### Hate (`h`)\none\ntwo\n",
        );
        assert_eq!(g.title, "g 2");
        assert_eq!(g.headings.len(), 2);
        let list = &g.lines[2];
        assert_eq!(list[0].0, "• ");
        assert_eq!(
            list[1],
            ("bold".into(), Style::default().add_modifier(Modifier::BOLD))
        );
        assert_eq!(list[3].1, Style::default().add_modifier(Modifier::ITALIC));
        assert_eq!(list[5].1, Style::default().fg(Color::Cyan));
        assert_eq!(
            g.lines[4][0].0, "raw *text*",
            "no emphasis inside code blocks"
        );
        assert_eq!(g.section("hate"), Some(6));
        assert_eq!(
            g.lines[7],
            vec![("one two".to_string(), Style::default())],
            "a paragraph's lines are joined"
        );
        assert_eq!(g.find("RAW", 0), Some(4));
        assert_eq!(g.find("title", 3), Some(0), "search wraps around");
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
