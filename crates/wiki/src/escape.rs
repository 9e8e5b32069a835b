//! Text → wiki markup that renders as exactly that text (see the crate docs
//! for the rules and why each one is there).

/// Where escaped text goes.
#[derive(Clone, Copy, Default)]
pub(crate) struct Mode {
    /// Numeric entities instead of backslashes (link text: the link parser
    /// splits on `|` and `]` before any backslash is looked at).
    pub(crate) entities: bool,
    /// In a table cell: `|` would end the cell, so it is always an entity.
    pub(crate) cell: bool,
    /// The text starts a line of the output, where `h1.` and `bq.` are
    /// block markup.
    pub(crate) line_start: bool,
}

/// Characters that are markup wherever they stand, escaped with a backslash
/// (Atlassian: "`\X` escapes special character X").
const SPECIAL: &[char] = &[
    '*', '_', '-', '+', '^', '~', '{', '}', '[', ']', '|', '!', '#',
];

/// Bodies of the `(…)` emoticons (`(y)`, `(!)`, `(*r)`, …), lower case.
const EMOTICONS: &[&str] = &[
    "flagoff", "flag", "off", "on", "*r", "*g", "*b", "*y", "y", "n", "i", "/", "x", "!", "+", "-",
    "?", "*",
];

/// Appends `text` to `out` so that it renders literally.
pub(crate) fn push(out: &mut String, text: &str, mode: Mode) {
    let chars: Vec<char> = text.chars().collect();
    let neutral_start = if mode.line_start {
        block_start(&chars)
    } else {
        None
    };
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let rest = &chars[i + 1..];
        let entity = |out: &mut String| reference(out, c);
        if Some(i) == neutral_start {
            entity(out);
            continue;
        }
        match c {
            // `\\` is a line break and `\X` an escape: a backslash of the
            // text is never written as one.
            '\\' => entity(out),
            // `&name;` and `&#…;` are passed through to HTML as entities.
            '&' if next.is_some_and(|n| n == '#' || n.is_ascii_alphanumeric()) => {
                out.push_str("&amp;")
            }
            '|' if mode.cell => entity(out),
            c if SPECIAL.contains(&c) => {
                if mode.entities {
                    entity(out);
                } else {
                    out.push('\\');
                    out.push(c);
                }
            }
            // `??` starts and ends a citation; a lone `?` is text.
            '?' if prev == Some('?') || next == Some('?') => {
                if mode.entities {
                    entity(out);
                } else {
                    out.push_str("\\?");
                }
            }
            ':' if next.is_some_and(|n| ")(PpDd".contains(n)) || autolink(&chars, i) => entity(out),
            ';' if next == Some(')') => entity(out),
            // Every reference ends with `;`: a `)` after one would make `;)`.
            ')' if out.ends_with(';') => entity(out),
            '(' if emoticon(rest) => entity(out),
            c => out.push(c),
        }
    }
}

/// Appends `c` as a numeric character reference (`&#N;`), which shows as
/// `c` but is never markup.
pub(crate) fn reference(out: &mut String, c: char) {
    out.push_str(&format!("&#{};", u32::from(c)));
}

/// The index of the character to neutralise when `chars` starts (after
/// any white space, Unicode's too: a renderer that trims more than spaces
/// and tabs must still show the text) with `h1.`–`h6.` or `bq.`, which
/// begin a heading or a quote.
fn block_start(chars: &[char]) -> Option<usize> {
    let start = chars.iter().position(|c| !c.is_whitespace())?;
    let word: String = chars[start..]
        .iter()
        .take(3)
        .collect::<String>()
        .to_ascii_lowercase();
    let mut w = word.chars();
    let heading = w.next() == Some('h')
        && w.next().is_some_and(|d| ('1'..='6').contains(&d))
        && w.next() == Some('.');
    (heading || word == "bq.").then_some(start)
}

/// `scheme://` and `mailto:` are turned into links by the renderer; the
/// colon is neutralised so the text stays text, as typed.
fn autolink(chars: &[char], colon: usize) -> bool {
    if chars[colon + 1..].starts_with(&['/', '/']) {
        return true;
    }
    let before: String = chars[colon.saturating_sub(6)..colon].iter().collect();
    before.eq_ignore_ascii_case("mailto")
}

/// Whether `rest` (the text after a `(`) continues an emoticon.
fn emoticon(rest: &[char]) -> bool {
    EMOTICONS.iter().any(|body| {
        let n = body.chars().count();
        rest.len() > n
            && rest[n] == ')'
            && rest[..n]
                .iter()
                .zip(body.chars())
                .all(|(a, b)| a.to_ascii_lowercase() == b)
    })
}

#[cfg(test)]
mod tests {
    use super::{Mode, push};

    fn esc(text: &str, mode: Mode) -> String {
        let mut out = String::new();
        push(&mut out, text, mode);
        out
    }

    #[test]
    fn rules() {
        let m = Mode::default();
        assert_eq!(esc("a*b", m), "a\\*b");
        assert_eq!(esc("a\\b", m), "a&#92;b");
        assert_eq!(esc("why?", m), "why?");
        assert_eq!(esc("??", m), "\\?\\?");
        assert_eq!(esc(":) (y) ;)", m), "&#58;&#41; &#40;y) &#59;&#41;");
        assert_eq!(esc("\\))", m), "&#92;&#41;&#41;");
        assert_eq!(esc("(yes)", m), "(yes)");
        assert_eq!(esc("a & b &amp;", m), "a & b &amp;amp;");
        assert_eq!(esc("https://x", m), "https&#58;//x");
        let line = Mode {
            line_start: true,
            ..m
        };
        assert_eq!(esc("  h1. x", line), "  &#104;1. x");
        assert_eq!(esc("\u{a0}h1. x", line), "\u{a0}&#104;1. x");
        assert_eq!(esc("BQ. x", line), "&#66;Q. x");
        assert_eq!(esc("h7. x", line), "h7. x");
        let link = Mode {
            entities: true,
            ..m
        };
        assert_eq!(esc("[a|b]", link), "&#91;a&#124;b&#93;");
    }
}
