//! Plain text → paragraphs.

use std::borrow::Cow;

use crate::node::{Inline, Paragraph, hard_break, push_text};

/// Splits `text` into paragraphs at blank lines (empty or whitespace-only);
/// the lines of a paragraph are joined with hard breaks. Line text is kept
/// verbatim (it is plain text: indentation may matter to the writer).
/// `\r\n`, `\r` and `\n` all end a line. Never yields an empty paragraph.
pub(crate) fn paragraphs(text: &str) -> Vec<Paragraph> {
    // As CommonMark does (and so `from_markdown`): NUL is not text, and
    // many stores reject it.
    let text = if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    };
    let mut out = Vec::new();
    let mut current: Vec<Inline> = Vec::new();
    for line in lines(&text) {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(Paragraph {
                    content: std::mem::take(&mut current),
                });
            }
            continue;
        }
        if !current.is_empty() {
            current.push(hard_break());
        }
        push_text(&mut current, line, &[]);
    }
    if !current.is_empty() {
        out.push(Paragraph { content: current });
    }
    out
}

/// Lines of `text`, accepting `\n`, `\r\n` and a lone `\r` as line ends.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let s = rest?;
        match s.find(['\r', '\n']) {
            Some(i) => {
                let skip = if s[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&s[i + skip..]);
                Some(&s[..i])
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::lines;

    #[test]
    fn line_endings() {
        let v: Vec<&str> = lines("a\r\nb\rc\nd").collect();
        assert_eq!(v, ["a", "b", "c", "d"]);
        let v: Vec<&str> = lines("a\n").collect();
        assert_eq!(v, ["a", ""]);
        let v: Vec<&str> = lines("").collect();
        assert_eq!(v, [""]);
        let v: Vec<&str> = lines("\r\r\n").collect();
        assert_eq!(v, ["", "", ""]);
    }
}
