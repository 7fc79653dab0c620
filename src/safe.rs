//! Untrusted text made safe for a terminal, on every path that reaches one.
//!
//! Model text, ids, field names, CSV headers, schema strings, bundle contents and anything
//! a hub sends are untrusted. Whatever of it reaches a person's terminal goes through one
//! sanitiser: every C0/C1 control, DEL and bidirectional override becomes a visible
//! placeholder (`␛`, `<U+009B>`, `<U+202E>`), so nothing can move the cursor, set the
//! window title, write the clipboard (OSC 52) or reorder what is read.
//!
//! - [`placeholder`], [`sanitize_line`], [`sanitize`]: the sanitiser (the TUI uses the same);
//! - [`outln!`](crate::outln) / [`errln!`](crate::errln): `println!`/`eprintln!` through the
//!   sanitiser (clippy.toml forbids the raw macros elsewhere in the crate);
//! - [`json`], [`json_pretty`]: JSON whose strings escape what a terminal would act on
//!   (serde_json leaves DEL, C1 and bidi controls raw), so `--json` output is safe too.

use serde::Serialize;
use std::borrow::Cow;
use std::io::Write;

/// "1 record", "2 records": a count with its noun in the right number (`many` is the
/// plural).
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The visible stand-in for a character that must not reach the terminal, if it is one
/// (see [`is_unsafe`]).
pub fn placeholder(c: char) -> Option<String> {
    if !is_unsafe(c) {
        return None;
    }
    let code = c as u32;
    Some(match c {
        // C0 controls: the Unicode "control pictures" block (U+2400 + code), e.g. ␛ for ESC.
        '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + code).map(String::from)?,
        '\u{7f}' => "\u{2421}".into(),
        _ => format!("<U+{code:04X}>"),
    })
}

/// True when `c` must not reach a terminal as it is: C0 and C1 controls, DEL, the bidi
/// and format overrides that could reorder what the rater reads (the "Trojan Source"
/// characters), and the line and paragraph separators some terminals treat as breaks.
pub fn is_unsafe(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{2028}' | '\u{2029}')
}

/// Characters that draw nothing (or only change the direction of what follows): two ids
/// differing only by one of these look identical to everyone.
pub fn invisible(c: char) -> bool {
    is_unsafe(c)
        || matches!(
            c,
            '\u{00ad}'
                | '\u{034f}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{17b4}'
                | '\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2060}'..='\u{206f}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff0}'..='\u{fffb}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0000}'..='\u{e0fff}'
        )
}

/// One line of untrusted text (no `\n`) with every unsafe character replaced by its
/// placeholder; tabs become four spaces.
pub fn sanitize_line(line: &str) -> String {
    if !line.chars().any(is_unsafe) {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        if c == '\t' {
            out.push_str("    ");
        } else if let Some(p) = placeholder(c) {
            out.push_str(&p);
        } else {
            out.push(c);
        }
    }
    out
}

/// Text of several lines made safe for a terminal: `\n` and `\t` are kept (they cannot
/// do more than move to the next line or column); a `\r` before `\n` is dropped; every
/// other unsafe character becomes its placeholder.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && c != '\t' && is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' if chars.peek() == Some(&'\n') => {}
            c => match placeholder(c) {
                Some(p) => out.push_str(&p),
                None => out.push(c),
            },
        }
    }
    Cow::Owned(out)
}

/// Writes a line to stdout through the sanitiser (see [`outln!`](crate::outln)).
pub fn out_line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", sanitize(text));
}

/// Writes text to stdout through the sanitiser, without a newline.
pub fn out_text(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", sanitize(text));
    let _ = out.flush();
}

/// Writes a line to stderr through the sanitiser (see [`errln!`](crate::errln)).
pub fn err_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", sanitize(text));
}

/// `println!` for anything a person reads: the formatted line goes through
/// [`sanitize`](crate::safe::sanitize).
#[macro_export]
macro_rules! outln {
    () => { $crate::safe::out_line("") };
    ($($arg:tt)*) => { $crate::safe::out_line(&format!($($arg)*)) };
}

/// `eprintln!` for anything a person reads: the formatted line goes through
/// [`sanitize`](crate::safe::sanitize).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::safe::err_line(&format!($($arg)*)) };
}

/// A serde_json formatter that also escapes, inside strings, every character
/// [`is_unsafe`] names (serde_json itself escapes only C0 controls), so JSON printed to
/// a terminal or left in a file someone `cat`s cannot act on the terminal. The JSON means
/// exactly the same to any parser.
struct SafeFormatter<F>(F);

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for SafeFormatter<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        // Every character `is_unsafe` names (serde_json has already escaped C0) starts
        // with one of these bytes in UTF-8: most text is written as it is, unexamined.
        if !fragment
            .bytes()
            .any(|b| matches!(b, 0x7f | 0xc2 | 0xd8 | 0xe2))
        {
            return writer.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_unsafe(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                write!(writer, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    // Delegate the layout (indentation) to the wrapped formatter.
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

fn to_json<T: Serialize + ?Sized, F: serde_json::ser::Formatter>(
    value: &T,
    formatter: F,
) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, SafeFormatter(formatter));
    value.serialize(&mut ser)?;
    Ok(out)
}

/// Compact JSON with terminal-unsafe characters escaped (see [`SafeFormatter`]).
pub fn json<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    // The formatter writes only valid UTF-8 (whole fragments and ASCII escapes).
    to_json(value, serde_json::ser::CompactFormatter)
        .map(|b| String::from_utf8(b).unwrap_or_default())
}

/// Compact JSON bytes with terminal-unsafe characters escaped, appended to `out`.
pub fn json_into<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(
        out,
        SafeFormatter(serde_json::ser::CompactFormatter),
    );
    value.serialize(&mut ser)
}

/// Pretty JSON with terminal-unsafe characters escaped.
pub fn json_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    to_json(value, serde_json::ser::PrettyFormatter::new())
        .map(|b| String::from_utf8(b).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVIL: &str =
        "a\u{1b}]0;title\u{7}b\u{1b}]52;c;aGk=\u{7}c\u{9b}2Jd\u{202e}e\u{7f}f\u{85}g";

    #[test]
    fn escape_sequences_become_visible_placeholders() {
        let evil = "a\u{1b}[2Jb\u{7}c\u{8}d\u{9b}31me\u{1b}]0;title\u{7}f\u{202e}g\r";
        let s = sanitize_line(evil);
        assert!(!s.chars().any(|c| c.is_control()), "{s:?}");
        assert_eq!(s, "a␛[2Jb␇c␈d<U+009B>31me␛]0;title␇f<U+202E>g␍");
    }

    #[test]
    fn sanitize_keeps_lines_and_tabs_and_nothing_else() {
        let text = format!("one\r\ntwo\tx\n{EVIL}\rz");
        let s = sanitize(&text);
        assert_eq!(
            s,
            "one\ntwo\tx\na␛]0;title␇b␛]52;c;aGk=␇c<U+009B>2Jd<U+202E>e␡f<U+0085>g␍z"
        );
        assert!(matches!(sanitize("plain\ttext\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_escapes_what_a_terminal_would_act_on_and_means_the_same() {
        let v = serde_json::json!({"k\u{9b}": [EVIL, 1, null], "n": {"x": "ok"}});
        for text in [json(&v).unwrap(), json_pretty(&v).unwrap()] {
            assert!(!text.chars().any(is_unsafe_in_output), "{text:?}");
            let back: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(back, v);
        }
        assert_eq!(json(&"\u{202e}x\u{9b}").unwrap(), "\"\\u202ex\\u009b\"");
        // Pretty output keeps its layout.
        assert_eq!(
            json_pretty(&serde_json::json!({"a": [1]})).unwrap(),
            "{\n  \"a\": [\n    1\n  ]\n}"
        );
    }

    fn is_unsafe_in_output(c: char) -> bool {
        c != '\n' && is_unsafe(c)
    }
}
