//! A small, strict parser of the Jira wiki markup subset the crate writes,
//! used to check what an issue would show.
//!
//! It reads markup more eagerly than Jira does: whatever might be markup in
//! Jira and is not one of the constructs the crate writes (an unescaped
//! special character, an emoticon, `??`, `--`, an entity it does not know,
//! a bare `[link]`, `bq.`) becomes a [`Run::Markup`], so a test that finds
//! none knows the text was not taken as markup. Delimiters follow Jira's
//! word-boundary rule leniently (an opener after a non-alphanumeric
//! character, a closer before one), so a short delimiter the crate writes in
//! a doubtful place either parses as the mark or shows up as `Markup`.

#![allow(dead_code)] // each test crate uses a different subset

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    Strong,
    Em,
    Strike,
    Inserted,
    Sup,
    Sub,
    Code,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Run {
    Text {
        text: String,
        marks: Vec<Mark>,
        link: Option<String>,
    },
    Break,
    /// Something Jira may take as markup that the crate never means to
    /// write; the string says what.
    Markup(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Paragraph(Vec<Run>),
    Heading(u8, Vec<Run>),
    /// `{code…}` (with its tag) or `{noformat}`, and the literal body.
    Code(String, String),
    Quote(Vec<Block>),
    /// The markers (`*`, `#*`, …) and the content.
    Item(String, Vec<Run>),
    /// Cells: header or not, content.
    Row(Vec<(bool, Vec<Run>)>),
    Rule,
}

/// Parses wiki markup; `Err` for a macro that is not closed.
pub fn parse(wiki: &str) -> Result<Vec<Block>, String> {
    let lines: Vec<&str> = wiki.split('\n').collect();
    let mut i = 0;
    let blocks = blocks(&lines, &mut i, false)?;
    if i < lines.len() {
        return Err(format!("stray {{quote}} at line {}", i + 1));
    }
    Ok(blocks)
}

fn starts_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn find_ci(s: &str, needle: &str) -> Option<usize> {
    s.to_ascii_lowercase().find(&needle.to_ascii_lowercase())
}

fn heading_level(line: &str) -> Option<u8> {
    let b = line.as_bytes();
    (b.len() >= 3
        && (b[0] == b'h' || b[0] == b'H')
        && (b'1'..=b'6').contains(&b[1])
        && b[2] == b'.')
        .then(|| b[1] - b'0')
}

/// The list markers at the start of `line`, if it is a list item.
fn list_markers(line: &str) -> Option<&str> {
    let end = line
        .find(|c: char| !matches!(c, '*' | '#' | '-'))
        .unwrap_or(line.len());
    (end > 0 && line[end..].chars().next().is_none_or(char::is_whitespace)).then(|| &line[..end])
}

fn block_start(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty()
        || t.starts_with('{')
        || t.starts_with('|')
        || heading_level(t).is_some()
        || starts_ci(t, "bq.")
        || t.starts_with("----")
        || list_markers(t).is_some()
}

fn blocks(lines: &[&str], i: &mut usize, in_quote: bool) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    while *i < lines.len() {
        let line = lines[*i];
        let t = line.trim_start();
        if t.is_empty() {
            *i += 1;
        } else if starts_ci(t, "{quote}") {
            if t.trim_end().len() != "{quote}".len() {
                return Err(format!("text after {{quote}}: {line:?}"));
            }
            if in_quote {
                return Ok(out);
            }
            *i += 1;
            let inner = blocks(lines, i, true)?;
            if *i >= lines.len() {
                return Err("unclosed {quote}".into());
            }
            *i += 1;
            out.push(Block::Quote(inner));
        } else if starts_ci(t, "{code") || starts_ci(t, "{noformat") {
            out.push(macro_block(lines, i)?);
        } else if let Some(level) = heading_level(t) {
            out.push(Block::Heading(level, inline_str(&t[3..])));
            *i += 1;
        } else if starts_ci(t, "bq.") {
            out.push(Block::Paragraph(vec![Run::Markup(format!("bq. {t:?}"))]));
            *i += 1;
        } else if t.starts_with("----") {
            out.push(if t.trim_end() == "----" {
                Block::Rule
            } else {
                Block::Paragraph(vec![Run::Markup(format!("rule or dashes {t:?}"))])
            });
            *i += 1;
        } else if let Some(markers) = list_markers(t) {
            out.push(Block::Item(
                markers.to_owned(),
                inline_str(&t[markers.len()..]),
            ));
            *i += 1;
        } else if t.starts_with('|') {
            out.push(row(t));
            *i += 1;
        } else {
            let mut runs = Vec::new();
            while *i < lines.len() && (runs.is_empty() || !block_start(lines[*i])) {
                if !runs.is_empty() {
                    runs.push(Run::Break);
                }
                runs.extend(inline_str(lines[*i]));
                *i += 1;
            }
            out.push(Block::Paragraph(runs));
        }
    }
    Ok(out)
}

/// `{code…}` or `{noformat}` on its own line, the body, and the end tag on
/// its own line. The body ends at the first `{code` (resp. `{noformat`) in
/// any case: anything but the exact end tag there is an error.
fn macro_block(lines: &[&str], i: &mut usize) -> Result<Block, String> {
    let open = lines[*i].trim();
    let name = if starts_ci(open, "{code") {
        "code"
    } else {
        "noformat"
    };
    if !open.ends_with('}') || open[1..open.len() - 1].contains(['{', '}']) {
        return Err(format!("bad macro tag {open:?}"));
    }
    let rest = lines[*i + 1..].join("\n");
    let Some(end) = find_ci(&rest, &format!("{{{name}")) else {
        return Err(format!("unclosed {open}"));
    };
    let close = format!("{{{name}}}");
    if !rest[end..].starts_with(&close) {
        return Err(format!("{open} ended by {:?}", &rest[end..]));
    }
    let body = &rest[..end];
    let Some(body) = body.strip_suffix('\n') else {
        return Err(format!("end tag of {open} not on its own line"));
    };
    let after = &rest[end + close.len()..];
    if !(after.is_empty() || after.starts_with('\n')) {
        return Err(format!("text after the end tag of {open}"));
    }
    *i += 2 + body.matches('\n').count() + 1;
    Ok(Block::Code(open.to_owned(), body.to_owned()))
}

/// A table row: `||` starts a header cell, `|` a cell; `|` inside a link
/// or `{{…}}` or escaped does not split.
fn row(line: &str) -> Block {
    let s: Vec<char> = line.trim_end().chars().collect();
    let mut cells = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if s[i] != '|' {
            return Block::Row(vec![(
                false,
                vec![Run::Markup("text before a cell".into())],
            )]);
        }
        let header = s.get(i + 1) == Some(&'|');
        i += if header { 2 } else { 1 };
        if i >= s.len() {
            break;
        }
        let start = i;
        let mut depth = 0;
        while i < s.len() {
            match s[i] {
                '\\' => i += 1,
                '[' => depth += 1,
                ']' => depth -= 1,
                '|' if depth <= 0 => break,
                _ => {}
            }
            i += 1;
        }
        let end = i.min(s.len());
        let cell: String = s[start..end].iter().collect();
        let runs = if i >= s.len() {
            vec![Run::Markup("cell not closed".into())]
        } else {
            inline_str(cell.trim())
        };
        cells.push((header, runs));
    }
    Block::Row(cells)
}

pub fn inline_str(s: &str) -> Vec<Run> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    inline(&chars, 0, chars.len(), &[], None, &mut out);
    out
}

const ESCAPABLE: &str = "*_-+^~{}[]|!#?";
const EMOTICONS: &[&str] = &[
    "flagoff", "flag", "off", "on", "*r", "*g", "*b", "*y", "y", "n", "i", "/", "x", "!", "+", "-",
    "?", "*",
];

fn mark_of(c: char) -> Option<Mark> {
    Some(match c {
        '*' => Mark::Strong,
        '_' => Mark::Em,
        '-' => Mark::Strike,
        '+' => Mark::Inserted,
        '^' => Mark::Sup,
        '~' => Mark::Sub,
        _ => return None,
    })
}

/// First `j` in `from..end` where `pred(j)` holds, skipping `\X` escapes.
fn scan(s: &[char], from: usize, end: usize, pred: impl Fn(usize) -> bool) -> Option<usize> {
    let mut j = from;
    while j < end {
        if s[j] == '\\' {
            j += 2;
            continue;
        }
        if pred(j) {
            return Some(j);
        }
        j += 1;
    }
    None
}

fn at(s: &[char], i: usize, pat: &str) -> bool {
    pat.chars()
        .enumerate()
        .all(|(k, c)| s.get(i + k) == Some(&c))
}

fn push_text(out: &mut Vec<Run>, c: char, marks: &[Mark], link: Option<&str>) {
    if let Some(Run::Text {
        text,
        marks: m,
        link: l,
    }) = out.last_mut()
        && m == marks
        && l.as_deref() == link
    {
        text.push(c);
        return;
    }
    out.push(Run::Text {
        text: c.to_string(),
        marks: marks.to_vec(),
        link: link.map(str::to_owned),
    });
}

fn entity(s: &[char], i: usize) -> Option<(char, usize)> {
    let semi = (i + 1..s.len().min(i + 12)).find(|&j| s[j] == ';')?;
    let name: String = s[i + 1..semi].iter().collect();
    let c = if let Some(num) = name.strip_prefix('#') {
        let n = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        char::from_u32(n)?
    } else {
        match name.as_str() {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            _ => return None,
        }
    };
    Some((c, semi + 1))
}

fn with(marks: &[Mark], m: Mark) -> Vec<Mark> {
    let mut v = marks.to_vec();
    if !v.contains(&m) {
        v.push(m);
        v.sort();
    }
    v
}

fn inline(
    s: &[char],
    start: usize,
    end: usize,
    marks: &[Mark],
    link: Option<&str>,
    out: &mut Vec<Run>,
) {
    let mut i = start;
    let markup = |out: &mut Vec<Run>, what: &str, i: usize| {
        let around: String = s[i.saturating_sub(3)..(i + 4).min(s.len())]
            .iter()
            .collect();
        out.push(Run::Markup(format!("{what} at {around:?}")));
    };
    while i < end {
        let c = s[i];
        let next = s.get(i + 1).copied().filter(|_| i + 1 < end);
        let prev = i.checked_sub(1).map(|p| s[p]);
        match c {
            '\\' => match next {
                Some('\\') => {
                    out.push(Run::Break);
                    i += 2;
                    if i < end && s[i] == ' ' {
                        i += 1;
                    }
                }
                Some(n) if ESCAPABLE.contains(n) => {
                    push_text(out, n, marks, link);
                    i += 2;
                }
                _ => {
                    markup(out, "stray backslash", i);
                    i += 1;
                }
            },
            '&' => match entity(s, i).filter(|&(_, e)| e <= end) {
                // The `;` that ends a reference makes `;)` with a `)`.
                Some((_, e)) if s.get(e) == Some(&')') => {
                    markup(out, "reference before )", i);
                    i = e;
                }
                Some((ch, e)) => {
                    push_text(out, ch, marks, link);
                    i = e;
                }
                None if next.is_some_and(|n| n == '#' || n.is_ascii_alphanumeric()) => {
                    markup(out, "entity", i);
                    i += 1;
                }
                None => {
                    push_text(out, '&', marks, link);
                    i += 1;
                }
            },
            '{' if at(s, i, "{{") => {
                match scan(s, i + 2, end, |j| at(s, j, "}}") && j + 2 <= end) {
                    Some(j) if j > i + 2 => {
                        inline(s, i + 2, j, &with(marks, Mark::Code), link, out);
                        i = j + 2;
                    }
                    _ => {
                        markup(out, "unclosed {{", i);
                        i += 2;
                    }
                }
            }
            '{' if next.and_then(mark_of).is_some() && s.get(i + 2) == Some(&'}') => {
                let d = s[i + 1];
                let tag: String = ['{', d, '}'].iter().collect();
                match scan(s, i + 3, end, |j| at(s, j, &tag) && j + 3 <= end) {
                    Some(j) if j > i + 3 => {
                        let m = mark_of(d).unwrap();
                        inline(s, i + 3, j, &with(marks, m), link, out);
                        i = j + 3;
                    }
                    _ => {
                        markup(out, "unpaired forced delimiter", i);
                        i += 3;
                    }
                }
            }
            '[' => {
                let close = scan(s, i + 1, end, |j| s[j] == ']');
                let pipe = close.and_then(|cl| scan(s, i + 1, cl, |j| s[j] == '|'));
                match (close, pipe) {
                    (Some(cl), Some(p)) if link.is_none() => {
                        let url: String = s[p + 1..cl].iter().collect();
                        let ok = ["http:", "https:", "mailto:"]
                            .iter()
                            .any(|scheme| starts_ci(&url, scheme));
                        if ok && p > i + 1 {
                            inline(s, i + 1, p, marks, Some(&url), out);
                        } else {
                            markup(out, "link", i);
                        }
                        i = cl + 1;
                    }
                    _ => {
                        markup(out, "bracket", i);
                        i += 1;
                    }
                }
            }
            '-' if next == Some('-') => {
                markup(out, "dashes", i);
                i += 2;
            }
            c if mark_of(c).is_some() => {
                let opens = !prev.is_some_and(char::is_alphanumeric)
                    && next.is_some_and(|n| !n.is_whitespace());
                let closer = opens
                    .then(|| {
                        scan(s, i + 2, end, |j| {
                            s[j] == c
                                && !s[j - 1].is_whitespace()
                                && !s.get(j + 1).is_some_and(|n| n.is_alphanumeric())
                        })
                    })
                    .flatten();
                match closer {
                    Some(j) => {
                        let m = mark_of(c).unwrap();
                        inline(s, i + 1, j, &with(marks, m), link, out);
                        i = j + 1;
                    }
                    None => {
                        markup(out, "delimiter", i);
                        i += 1;
                    }
                }
            }
            '{' | '}' | ']' | '|' | '!' | '#' => {
                markup(out, "special character", i);
                i += 1;
            }
            '?' if next == Some('?') => {
                markup(out, "citation", i);
                i += 2;
            }
            ':' if next.is_some_and(|n| ")(PpDd".contains(n)) => {
                markup(out, "emoticon", i);
                i += 2;
            }
            ':' if at(s, i + 1, "//")
                || (i >= 6
                    && s[i - 6..i]
                        .iter()
                        .collect::<String>()
                        .eq_ignore_ascii_case("mailto")) =>
            {
                markup(out, "autolink", i);
                i += 1;
            }
            ';' if next == Some(')') => {
                markup(out, "emoticon", i);
                i += 2;
            }
            '(' if EMOTICONS.iter().any(|b| {
                let n = b.chars().count();
                s.get(i + 1 + n) == Some(&')')
                    && s[i + 1..i + 1 + n]
                        .iter()
                        .zip(b.chars())
                        .all(|(a, b)| a.to_ascii_lowercase() == b)
            }) =>
            {
                markup(out, "emoticon", i);
                i += 1;
            }
            c => {
                push_text(out, c, marks, link);
                i += 1;
            }
        }
    }
}

/// Everything that is not plain text, for error messages.
pub fn markup(blocks: &[Block]) -> Vec<String> {
    let mut found = Vec::new();
    walk_runs(blocks, &mut |runs| {
        for r in runs {
            if let Run::Markup(m) = r {
                found.push(m.clone());
            }
        }
    });
    found
}

fn walk_runs(blocks: &[Block], f: &mut impl FnMut(&[Run])) {
    for b in blocks {
        match b {
            Block::Paragraph(r) | Block::Heading(_, r) | Block::Item(_, r) => f(r),
            Block::Row(cells) => cells.iter().for_each(|(_, r)| f(r)),
            Block::Quote(inner) => walk_runs(inner, f),
            Block::Code(_, _) | Block::Rule => {}
        }
    }
}

/// The text the blocks show: runs' text, breaks as newlines, code bodies;
/// blocks separated by a newline.
pub fn visible_text(blocks: &[Block]) -> String {
    let mut out = String::new();
    let runs = |out: &mut String, runs: &[Run]| {
        for r in runs {
            match r {
                Run::Text { text, .. } => out.push_str(text),
                Run::Break => out.push('\n'),
                Run::Markup(m) => out.push_str(&format!("<markup: {m}>")),
            }
        }
    };
    for b in blocks {
        match b {
            Block::Paragraph(r) | Block::Heading(_, r) | Block::Item(_, r) => runs(&mut out, r),
            Block::Row(cells) => {
                for (_, r) in cells {
                    runs(&mut out, r);
                    out.push(' ');
                }
            }
            Block::Quote(inner) => out.push_str(&visible_text(inner)),
            Block::Code(_, body) => out.push_str(body),
            Block::Rule => {}
        }
        out.push('\n');
    }
    out
}
