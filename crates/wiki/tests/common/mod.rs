//! Shared test helpers: the wiki parser (`render`), the text the ADF
//! document shows, and the checks built on them.

#![allow(dead_code)] // each test crate uses a different subset

pub mod render;

use serde_json::Value;

/// The text an ADF document shows: text nodes, hard breaks as newlines,
/// task items prefixed with `[ ] ` / `[x] ` (the wiki output writes the box
/// as text); blocks separated by newlines.
pub fn adf_text(node: &Value) -> String {
    let mut out = String::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match n.get("type").and_then(Value::as_str) {
            Some("text") => out.push_str(n["text"].as_str().unwrap_or("")),
            Some("hardBreak") => out.push('\n'),
            Some(kind) => {
                if kind != "doc" {
                    out.push('\n');
                }
                if kind == "taskItem" {
                    out.push_str(if n["attrs"]["state"] == "DONE" {
                        "[x] "
                    } else {
                        "[ ] "
                    });
                }
                if let Some(children) = n.get("content").and_then(Value::as_array) {
                    stack.extend(children.iter().rev());
                }
            }
            None => {}
        }
    }
    out
}

pub fn without_whitespace(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Checks the `{code}`, `{noformat}` and `{quote}` tags of `wiki` pair up,
/// independently of the parser: outside a code body every (unescaped)
/// `{code…}` or `{noformat}` opens one, and the body ends at the first tag
/// of the same name (any case), which must be the exact end tag; `{quote}`
/// alternates between opening and closing.
pub fn check_macros(wiki: &str) -> Result<(), String> {
    let lower = wiki.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut quote_open = false;
    let mut i = 0;
    while let Some(off) = lower[i..].find('{') {
        let at = i + off;
        if at > 0 && bytes[at - 1] == b'\\' {
            i = at + 1;
            continue;
        }
        let rest = &lower[at..];
        if rest.starts_with("{quote}") {
            quote_open = !quote_open;
            i = at + "{quote}".len();
        } else if let Some(name) = ["code", "noformat"]
            .into_iter()
            .find(|n| rest[1..].starts_with(n) && rest[1 + n.len()..].starts_with(['}', ':']))
        {
            let body_start = at + rest.find('}').ok_or("unterminated tag")? + 1;
            let tag = format!("{{{name}");
            let end = lower[body_start..]
                .find(&tag)
                .ok_or_else(|| format!("unclosed {{{name}}} at byte {at}"))?
                + body_start;
            if !lower[end..].starts_with(&format!("{tag}}}")) {
                return Err(format!(
                    "{{{name}}} body ended by a tag with parameters at byte {end}"
                ));
            }
            i = end + tag.len() + 1;
        } else {
            i = at + 1;
        }
    }
    if quote_open {
        return Err("unclosed {quote}".into());
    }
    Ok(())
}

/// The wiki output of `markdown` has balanced macros, parses without stray
/// markup, and shows the same text (ignoring whitespace) as the ADF
/// document of the same Markdown.
#[track_caller]
pub fn assert_same_text(markdown: &str, wiki: &str) {
    if let Err(e) = check_macros(wiki) {
        panic!("{e}\nmarkdown {markdown:?}\nwiki:\n{wiki}");
    }
    let blocks =
        render::parse(wiki).unwrap_or_else(|e| panic!("{e}\nmarkdown {markdown:?}\nwiki:\n{wiki}"));
    let markup = render::markup(&blocks);
    assert!(
        markup.is_empty(),
        "markup in the text: {markup:?}\nmarkdown {markdown:?}\nwiki:\n{wiki}"
    );
    let shown = without_whitespace(&render::visible_text(&blocks));
    let adf = without_whitespace(&adf_text(&adf::from_markdown(markdown).to_value()));
    assert_eq!(shown, adf, "markdown {markdown:?}\nwiki:\n{wiki}");
}

/// Plain text as `from_plain_text` promises to keep it: line ends as `\n`,
/// NUL as U+FFFD, paragraphs (split at blank or whitespace-only lines)
/// separated by one blank line, nothing before the first or after the last.
pub fn normalized(text: &str) -> String {
    let text = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\0', "\u{FFFD}");
    let mut paragraphs: Vec<Vec<&str>> = vec![Vec::new()];
    for line in text.split('\n') {
        if line.trim().is_empty() {
            if paragraphs.last().is_some_and(|p| !p.is_empty()) {
                paragraphs.push(Vec::new());
            }
        } else if let Some(p) = paragraphs.last_mut() {
            p.push(line);
        }
    }
    paragraphs
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| p.join("\n"))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// What the parsed wiki markup shows if it is plain paragraphs only: their
/// text, paragraphs separated by a blank line. `Err` for anything else
/// (marks, links, other blocks, markup).
pub fn plain_paragraphs(wiki: &str) -> Result<String, String> {
    let blocks = render::parse(wiki)?;
    let mut paragraphs = Vec::new();
    for block in &blocks {
        let render::Block::Paragraph(runs) = block else {
            return Err(format!("not a paragraph: {block:?}"));
        };
        let mut text = String::new();
        for run in runs {
            match run {
                render::Run::Text {
                    text: t,
                    marks,
                    link: None,
                } if marks.is_empty() => text.push_str(t),
                render::Run::Break => text.push('\n'),
                other => return Err(format!("not plain text: {other:?}")),
            }
        }
        paragraphs.push(text);
    }
    Ok(paragraphs.join("\n\n"))
}
