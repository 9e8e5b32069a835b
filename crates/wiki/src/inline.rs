//! ADF inline content (text with marks, hard breaks) → one wiki line or
//! several.
//!
//! Marks become delimiters: `*strong*`, `_em_`, `-strike-`, `{{code}}`, and
//! links `[text|url]` innermost. The short form of a delimiter only counts
//! in Jira at a word boundary, so it is used only where that is certain (see
//! [`Tok::Open`]); elsewhere the forced form `{*}…{*}` is written.

use serde_json::Value;

use crate::escape::{self, Mode};

/// How a line break inside the content is written.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Breaks {
    /// A newline (paragraphs: Jira shows it as a line break).
    Newline,
    /// `\\` (a heading, list item or table cell is one line of markup).
    Forced,
}

/// Marks in nesting order, outermost first.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Mark {
    Strike,
    Strong,
    Em,
    Code,
}

const MARKS: [Mark; 4] = [Mark::Strike, Mark::Strong, Mark::Em, Mark::Code];

impl Mark {
    fn delimiter(self) -> &'static str {
        match self {
            Mark::Strike => "-",
            Mark::Strong => "*",
            Mark::Em => "_",
            Mark::Code => "{{",
        }
    }
}

/// The marks and link of one character.
#[derive(Clone, PartialEq, Default)]
struct Style<'a> {
    marks: [bool; 4],
    link: Option<&'a str>,
}

impl Style<'_> {
    fn meet(&self, other: &Self) -> Self {
        let mut marks = self.marks;
        for (m, o) in marks.iter_mut().zip(other.marks) {
            *m &= o;
        }
        Style {
            marks,
            link: self.link.filter(|l| other.link == Some(*l)),
        }
    }
}

enum Tok<'a> {
    /// `short` once decided: the short delimiter is safe here.
    Open(Mark, bool),
    Close(Mark, bool),
    /// `[`: the link's text follows.
    Link,
    /// `|url]`.
    EndLink(&'a str),
    Text(String),
}

/// Renders inline ADF nodes. `mode` is the escaping of the surrounding
/// block (`line_start` applies to each line).
pub(crate) fn render(nodes: &[Value], breaks: Breaks, mode: Mode) -> String {
    let mut out = String::new();
    for (i, line) in lines(nodes).into_iter().enumerate() {
        if i > 0 {
            out.push_str(match breaks {
                Breaks::Newline => "\n",
                // The space keeps the break's backslashes apart from what
                // follows (`\\\*` could read as `\` + `\*`); browsers do not
                // show a space at the start of a line.
                Breaks::Forced => "\\\\ ",
            });
        }
        write_line(&mut out, tokens(line), mode);
    }
    out
}

/// Splits inline nodes at hard breaks into lines of styled characters;
/// unknown nodes contribute their `text`, if any.
fn lines(nodes: &[Value]) -> Vec<Vec<(char, Style<'_>)>> {
    let mut lines = vec![Vec::new()];
    for node in nodes {
        if node.get("type").and_then(Value::as_str) == Some("hardBreak") {
            lines.push(Vec::new());
            continue;
        }
        let Some(text) = node.get("text").and_then(Value::as_str) else {
            continue;
        };
        let style = style(node);
        if let Some(line) = lines.last_mut() {
            line.extend(text.chars().map(|c| (c, style.clone())));
        }
    }
    lines
}

fn style(node: &Value) -> Style<'_> {
    let mut style = Style::default();
    for mark in node
        .get("marks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let index = match mark.get("type").and_then(Value::as_str) {
            Some("strike") => 0,
            Some("strong") => 1,
            Some("em") => 2,
            Some("code") => 3,
            Some("link") => {
                style.link = mark
                    .get("attrs")
                    .and_then(|a| a.get("href"))
                    .and_then(Value::as_str);
                continue;
            }
            _ => continue,
        };
        style.marks[index] = true;
    }
    style
}

/// Styled characters → tokens. Whitespace runs first take the style common
/// to them and the characters on both sides (none at the line's ends), so
/// that no mark or link starts or ends with whitespace: Jira needs a
/// non-space right inside a delimiter.
fn tokens<'a>(mut line: Vec<(char, Style<'a>)>) -> Vec<Tok<'a>> {
    let mut i = 0;
    while i < line.len() {
        if !line[i].0.is_whitespace() {
            i += 1;
            continue;
        }
        let end = (i..line.len())
            .find(|&j| !line[j].0.is_whitespace())
            .unwrap_or(line.len());
        let mut common = line[i..end]
            .iter()
            .fold(line[i].1.clone(), |acc, (_, s)| acc.meet(s));
        let before = i.checked_sub(1).map(|b| line[b].1.clone());
        let after = line.get(end).map(|(_, s)| s.clone());
        for side in [before, after] {
            common = common.meet(&side.unwrap_or_default());
        }
        for (_, s) in &mut line[i..end] {
            *s = common.clone();
        }
        i = end;
    }

    let mut toks = Vec::new();
    let mut open: Vec<Mark> = Vec::new();
    let mut link: Option<&str> = None;
    let mut text = String::new();
    let mut current = Style::default();
    for (c, style) in line {
        if style != current {
            if !text.is_empty() {
                toks.push(Tok::Text(std::mem::take(&mut text)));
            }
            if let Some(href) = link.take() {
                toks.push(Tok::EndLink(href));
            }
            // Close from the inside until what stays open is wanted.
            while let Some(&top) = open.last() {
                if open.iter().all(|m| style.marks[*m as usize]) {
                    break;
                }
                open.pop();
                toks.push(Tok::Close(top, false));
            }
            for m in MARKS {
                if style.marks[m as usize] && !open.contains(&m) {
                    open.push(m);
                    toks.push(Tok::Open(m, false));
                }
            }
            if let Some(href) = style.link {
                link = Some(href);
                toks.push(Tok::Link);
            }
            current = style;
        }
        text.push(c);
    }
    if !text.is_empty() {
        toks.push(Tok::Text(text));
    }
    if let Some(href) = link {
        toks.push(Tok::EndLink(href));
    }
    while let Some(m) = open.pop() {
        toks.push(Tok::Close(m, false));
    }
    choose_forms(&mut toks);
    toks
}

/// Decides, per delimiter pair, whether the short form is safe: only when
/// it stands between whitespace (or the line's ends) and the marked text
/// directly inside starts and ends with a letter or digit. Jira's own
/// editor writes the forced form `{*}` in every other place.
fn choose_forms(toks: &mut [Tok<'_>]) {
    fn text<'t>(t: Option<&'t Tok<'_>>) -> Option<&'t str> {
        match t {
            Some(Tok::Text(s)) => Some(s),
            _ => None,
        }
    }
    for open in 0..toks.len() {
        let Tok::Open(mark, _) = toks[open] else {
            continue;
        };
        if mark == Mark::Code {
            continue;
        }
        let Some(close) =
            (open + 1..toks.len()).find(|&j| matches!(toks[j], Tok::Close(m, _) if m == mark))
        else {
            continue;
        };
        // Punctuation next to a delimiter only where it is never escaped.
        let outside_before = open == 0
            || text(toks.get(open - 1))
                .and_then(|s| s.chars().last())
                .is_some_and(|c| c.is_whitespace() || c == '(');
        let outside_after = close + 1 == toks.len()
            || text(toks.get(close + 1))
                .and_then(|s| s.chars().next())
                .is_some_and(|c| c.is_whitespace() || ".,)".contains(c));
        let inside_first = text(toks.get(open + 1))
            .and_then(|s| s.chars().next())
            .is_some_and(char::is_alphanumeric);
        let inside_last = text(toks.get(close - 1))
            .and_then(|s| s.chars().last())
            .is_some_and(char::is_alphanumeric);
        let short = outside_before && outside_after && inside_first && inside_last;
        toks[open] = Tok::Open(mark, short);
        toks[close] = Tok::Close(mark, short);
    }
}

fn write_line(out: &mut String, toks: Vec<Tok<'_>>, mode: Mode) {
    let mut in_link = false;
    for (i, tok) in toks.into_iter().enumerate() {
        match tok {
            Tok::Open(m, short) | Tok::Close(m, short) if m != Mark::Code => {
                if short {
                    out.push_str(m.delimiter());
                } else {
                    out.push('{');
                    out.push_str(m.delimiter());
                    out.push('}');
                }
            }
            Tok::Open(_, _) => out.push_str("{{"),
            Tok::Close(_, _) => out.push_str("}}"),
            Tok::Link => {
                out.push('[');
                in_link = true;
            }
            Tok::EndLink(href) => {
                out.push('|');
                push_url(out, href);
                out.push(']');
                in_link = false;
            }
            Tok::Text(text) => {
                let mode = Mode {
                    entities: mode.entities || in_link,
                    line_start: mode.line_start && i == 0,
                    ..mode
                };
                let mut text = text.as_str();
                // `{{code}}` holds `{code}`: a name (and `:`) right after
                // `{{` gets its first letter as a reference, so that no
                // macro tag can be read there.
                if out.ends_with("{{")
                    && let Some(first) = text.chars().next()
                    && macro_like(text)
                {
                    escape::reference(out, first);
                    text = &text[first.len_utf8()..];
                }
                escape::push(out, text, mode);
            }
        }
    }
}

/// `name` or `name:…` with an ASCII-letter name: what would follow `{` in
/// a macro tag.
fn macro_like(text: &str) -> bool {
    let name = text.split(':').next().unwrap_or("");
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphabetic())
        && (name.len() == text.len() || text[name.len()..].starts_with(':'))
}

/// A link target, percent-encoding what would end the link (`|`, `]`) or
/// be read as markup or an escape in it (`[`, `{`, `}`, `\`, `!`, `^`,
/// whitespace, controls, quotes and angle brackets). Other characters,
/// `%` included, are kept: the URL stays the one the Markdown gave.
fn push_url(out: &mut String, href: &str) {
    for c in href.chars() {
        if c.is_whitespace() || c.is_control() || "|[]{}\\!^\"<>`".contains(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
}
