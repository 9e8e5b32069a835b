//! ADF document (as JSON) → wiki markup blocks.
//!
//! The ADF crate has already fitted Markdown into ADF's structure (no
//! heading in a list item, no quote in a quote, one paragraph per table
//! cell…), which is also what wiki markup can express; this module only
//! writes that structure down. Unknown nodes (none are expected) keep the
//! text of their descendants.

use serde_json::Value;

use crate::escape::Mode;
use crate::inline::{self, Breaks};

/// Languages Jira's `{code}` macro highlights; any other language would show
/// an error box, so such code goes into `{noformat}`.
const LANGUAGES: &[&str] = &[
    "actionscript",
    "ada",
    "applescript",
    "bash",
    "c",
    "c#",
    "c++",
    "cpp",
    "css",
    "erlang",
    "go",
    "groovy",
    "haskell",
    "html",
    "java",
    "javascript",
    "js",
    "json",
    "lua",
    "objc",
    "perl",
    "php",
    "python",
    "r",
    "ruby",
    "scala",
    "sh",
    "sql",
    "swift",
    "visualbasic",
    "xml",
    "yaml",
];

pub(crate) fn document(doc: &Value) -> String {
    blocks(content(doc)).join("\n\n")
}

fn content(node: &Value) -> &[Value] {
    node.get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn kind(node: &Value) -> &str {
    node.get("type").and_then(Value::as_str).unwrap_or("")
}

fn text(node: &Value) -> &str {
    node.get("text").and_then(Value::as_str).unwrap_or("")
}

/// Renders block nodes, one string per wiki block (blocks are separated by a
/// blank line, which also ends a list or table).
fn blocks<'a>(nodes: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
    let mut out = Vec::new();
    for node in nodes {
        match kind(node) {
            "paragraph" => out.push(paragraph(node)),
            "heading" => {
                let level = node
                    .get("attrs")
                    .and_then(|a| a.get("level"))
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .clamp(1, 6);
                let body = single_line(content(node), Mode::default());
                out.push(format!("h{level}. {body}"));
            }
            "codeBlock" => out.push(code_block(node)),
            "rule" => out.push("----".to_owned()),
            "blockquote" => out.extend(quote(content(node))),
            "bulletList" | "orderedList" | "taskList" => {
                let mut lines = Vec::new();
                list(node, "", &mut lines);
                out.push(lines.join("\n"));
            }
            "table" => out.push(table(node)),
            _ => out.extend(blocks(content(node))),
        }
    }
    out.retain(|b| !b.is_empty());
    out
}

fn paragraph(node: &Value) -> String {
    let mode = Mode {
        line_start: true,
        ..Mode::default()
    };
    inline::render(content(node), Breaks::Newline, mode)
}

fn single_line(nodes: &[Value], mode: Mode) -> String {
    inline::render(nodes, Breaks::Forced, mode)
}

/// `{quote}` around the quote's blocks. A code block whose text holds
/// `{quote` would end the quote early (the quote macro's end tag is looked
/// for before the code's body is), so it is put between two quotes.
fn quote(nodes: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    let mut group: Vec<&Value> = Vec::new();
    let flush = |group: &mut Vec<&Value>, out: &mut Vec<String>| {
        let inner = blocks(group.drain(..));
        if !inner.is_empty() {
            out.push(format!("{{quote}}\n{}\n{{quote}}", inner.join("\n\n")));
        }
    };
    for node in nodes {
        if kind(node) == "codeBlock" && find_ci(code_text(node), "{quote").is_some() {
            flush(&mut group, &mut out);
            out.push(code_block(node));
        } else {
            group.push(node);
        }
    }
    flush(&mut group, &mut out);
    out
}

fn list_marker(node: &Value) -> char {
    if kind(node) == "orderedList" {
        '#'
    } else {
        '*'
    }
}

/// A list's lines; `prefix` is the markers of the enclosing lists.
fn list(node: &Value, prefix: &str, lines: &mut Vec<String>) {
    let prefix = format!("{prefix}{}", list_marker(node));
    for child in content(node) {
        match kind(child) {
            "taskItem" => {
                let done =
                    child.get("attrs").and_then(|a| a.get("state")) == Some(&Value::from("DONE"));
                let body = single_line(content(child), Mode::default());
                let check = if done { "\\[x\\]" } else { "\\[ \\]" };
                lines.push(format!("{prefix} {check} {body}").trim_end().to_owned());
            }
            "listItem" => item(child, &prefix, lines),
            // A task list nested in a task list belongs to the item before.
            "taskList" | "bulletList" | "orderedList" => list(child, &prefix, lines),
            _ => {}
        }
    }
}

/// A list item is one line of markup: its paragraphs (and code blocks, as
/// `{{code}}` lines) joined with `\\`; nested lists follow on their own
/// lines. Blocks after a nested list start a new item, so that the text
/// keeps its order.
fn item(node: &Value, prefix: &str, lines: &mut Vec<String>) {
    let mut parts: Vec<String> = Vec::new();
    let mut wrote = false;
    let flush = |parts: &mut Vec<String>, lines: &mut Vec<String>| {
        let body = parts.join("\\\\ ");
        parts.clear();
        // An empty item still needs content after its marker.
        let body = if body.trim().is_empty() {
            "&#160;".to_owned()
        } else {
            body
        };
        lines.push(format!("{prefix} {body}"));
    };
    for block in content(node) {
        match kind(block) {
            "bulletList" | "orderedList" | "taskList" => {
                if !parts.is_empty() || !wrote {
                    flush(&mut parts, lines);
                }
                wrote = true;
                list(block, prefix, lines);
            }
            "codeBlock" => parts.push(code_lines(code_text(block))),
            _ => parts.push(single_line(content(block), Mode::default())),
        }
    }
    if !parts.is_empty() || !wrote {
        flush(&mut parts, lines);
    }
}

/// Code inside a list item: each line as `{{code}}`, lines joined with `\\`
/// (a code macro would end the list).
fn code_lines(text: &str) -> String {
    let lines: Vec<Value> = text
        .split('\n')
        .enumerate()
        .flat_map(|(i, line)| {
            let brk = (i > 0).then(|| serde_json::json!({"type": "hardBreak"}));
            let code = (!line.is_empty()).then(
                || serde_json::json!({"type": "text", "text": line, "marks": [{"type": "code"}]}),
            );
            brk.into_iter().chain(code)
        })
        .collect();
    single_line(&lines, Mode::default())
}

/// `||head||head||` then `|cell|cell|`; cells padded with spaces (Jira trims
/// them), an empty cell holds a space (`||` in a body row would be a header
/// cell).
fn table(node: &Value) -> String {
    let mode = Mode {
        cell: true,
        ..Mode::default()
    };
    let mut rows = Vec::new();
    for row in content(node) {
        let mut line = String::new();
        let mut sep = "|";
        for cell in content(row) {
            sep = if kind(cell) == "tableHeader" {
                "||"
            } else {
                "|"
            };
            let body: Vec<String> = content(cell)
                .iter()
                .map(|p| single_line(content(p), mode))
                .filter(|s| !s.is_empty())
                .collect();
            line.push_str(sep);
            line.push(' ');
            line.push_str(&body.join("\\\\ "));
            line.push(' ');
        }
        if !line.is_empty() {
            line.push_str(sep);
            rows.push(line);
        }
    }
    rows.join("\n")
}

fn code_text(node: &Value) -> &str {
    content(node).first().map_or("", text)
}

/// A code block. `{code:lang}` for a language Jira knows, else `{noformat}`.
/// The body is literal, so the only danger is the end tag inside it: text
/// holding `{code` goes into `{noformat}` and text holding `{noformat` into
/// `{code}`; text holding both is cut, before each tag that would end the
/// current block, into consecutive blocks that alternate between the two.
fn code_block(node: &Value) -> String {
    let language = node
        .get("attrs")
        .and_then(|a| a.get("language"))
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .filter(|l| LANGUAGES.contains(&l.as_str()));
    let code_tag = match &language {
        Some(l) => format!("{{code:{l}}}"),
        None => "{code}".to_owned(),
    };
    let wrap = |open: &str, close: &str, body: &str| format!("{open}\n{body}\n{close}");
    let mut rest = code_text(node);
    if language.is_some() && find_ci(rest, "{code").is_none() {
        return wrap(&code_tag, "{code}", rest);
    }
    let mut chunks = Vec::new();
    loop {
        match (find_ci(rest, "{code"), find_ci(rest, "{noformat")) {
            (_, None) => {
                chunks.push(wrap("{noformat}", "{noformat}", rest));
                break;
            }
            (None, Some(_)) => {
                chunks.push(wrap(&code_tag, "{code}", rest));
                break;
            }
            // `{code` comes first: `{noformat}` holds it, up to the
            // `{noformat` that would end it.
            (Some(c), Some(n)) if c < n => {
                chunks.push(wrap("{noformat}", "{noformat}", &rest[..n]));
                rest = &rest[n..];
            }
            (Some(c), Some(_)) => {
                chunks.push(wrap(&code_tag, "{code}", &rest[..c]));
                rest = &rest[c..];
            }
        }
    }
    chunks.join("\n")
}

/// Byte index of `needle` (ASCII) in `haystack`, ignoring ASCII case. Jira's
/// macro names are matched case-insensitively here to be safe.
fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .to_ascii_lowercase()
        .find(&needle.to_ascii_lowercase())
}
