//! Golden cases: Markdown → exact ADF JSON. Every expected document is also
//! validated against the vendored ADF schema.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use serde_json::{Value, json};

fn doc(content: Value) -> Value {
    json!({"version": 1, "type": "doc", "content": content})
}
fn p(content: Value) -> Value {
    json!({"type": "paragraph", "content": content})
}
fn t(text: &str) -> Value {
    json!({"type": "text", "text": text})
}
fn tm(text: &str, marks: Value) -> Value {
    json!({"type": "text", "text": text, "marks": marks})
}
fn br() -> Value {
    json!({"type": "hardBreak"})
}
fn link(href: &str) -> Value {
    json!({"type": "link", "attrs": {"href": href}})
}
fn li(content: Value) -> Value {
    json!({"type": "listItem", "content": content})
}
fn bullets(items: Value) -> Value {
    json!({"type": "bulletList", "content": items})
}
fn empty_p() -> Value {
    json!({"type": "paragraph"})
}

fn cases() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("empty", "", doc(json!([]))),
        ("blank", "  \n\n \t\n", doc(json!([]))),
        (
            "paragraph",
            "Hello world",
            doc(json!([p(json!([t("Hello world")]))])),
        ),
        (
            "paragraphs and soft break",
            "a\nb\n\nc",
            doc(json!([
                p(json!([t("a"), br(), t("b")])),
                p(json!([t("c")]))
            ])),
        ),
        (
            "hard breaks: two spaces and backslash",
            "a  \nb\\\nc",
            doc(json!([p(json!([t("a"), br(), t("b"), br(), t("c")]))])),
        ),
        (
            "crlf line ends",
            "a\r\nb\r\n\r\nc",
            doc(json!([
                p(json!([t("a"), br(), t("b")])),
                p(json!([t("c")]))
            ])),
        ),
        (
            "headings",
            "# One\n\n###### Six ##\nSetext\n---",
            doc(json!([
                {"type": "heading", "attrs": {"level": 1}, "content": [t("One")]},
                {"type": "heading", "attrs": {"level": 6}, "content": [t("Six")]},
                {"type": "heading", "attrs": {"level": 2}, "content": [t("Setext")]},
            ])),
        ),
        (
            "heading with inline code",
            "## Run `make`",
            doc(
                json!([{"type": "heading", "attrs": {"level": 2}, "content": [
                    t("Run "), tm("make", json!([{"type": "code"}])),
                ]}]),
            ),
        ),
        (
            "emphasis marks",
            "**b** *i* ~~s~~ ***bi*** ~one~",
            doc(json!([p(json!([
                tm("b", json!([{"type": "strong"}])),
                t(" "),
                tm("i", json!([{"type": "em"}])),
                t(" "),
                tm("s", json!([{"type": "strike"}])),
                t(" "),
                tm("bi", json!([{"type": "em"}, {"type": "strong"}])),
                t(" "),
                tm("one", json!([{"type": "strike"}])),
            ]))])),
        ),
        (
            "nested identical marks are not duplicated",
            "**a __b__ c**",
            doc(json!([p(json!([tm(
                "a b c",
                json!([{"type": "strong"}])
            )]))])),
        ),
        (
            "inline code drops conflicting marks",
            "**a `b` c** ~~`d`~~",
            doc(json!([p(json!([
                tm("a ", json!([{"type": "strong"}])),
                tm("b", json!([{"type": "code"}])),
                tm(" c", json!([{"type": "strong"}])),
                t(" "),
                tm("d", json!([{"type": "code"}])),
            ]))])),
        ),
        (
            "link with title",
            "see [site](https://example.com/a?b=1 \"Title\")",
            doc(json!([p(json!([
                t("see "),
                tm(
                    "site",
                    json!([{"type": "link", "attrs": {"href": "https://example.com/a?b=1", "title": "Title"}}])
                ),
            ]))])),
        ),
        (
            "marks inside link, code in link",
            "[**b** c `d`](http://a.example)",
            doc(json!([p(json!([
                tm("b", json!([link("http://a.example"), {"type": "strong"}])),
                tm(" c ", json!([link("http://a.example")])),
                tm("d", json!([link("http://a.example"), {"type": "code"}])),
            ]))])),
        ),
        (
            "autolinks: url and email",
            "<https://x.example> <ops@x.example> [m](MAILTO:a@b.c)",
            doc(json!([p(json!([
                tm("https://x.example", json!([link("https://x.example")])),
                t(" "),
                tm("ops@x.example", json!([link("mailto:ops@x.example")])),
                t(" "),
                tm("m", json!([link("MAILTO:a@b.c")])),
            ]))])),
        ),
        (
            "disallowed link schemes keep the text only",
            "[a](javascript:alert(1)) [b](data:text/html,x) [c](/rel) [d](#frag) [e](ftp://f)",
            doc(json!([p(json!([t("a b c d e")]))])),
        ),
        (
            "reference link",
            "[docs][1]\n\n[1]: https://docs.example",
            doc(json!([p(json!([tm(
                "docs",
                json!([link("https://docs.example")])
            )]))])),
        ),
        (
            "images",
            "![alt *text*](https://x.example/i.png) ![](https://x.example/j.png) ![local](i.png) ![](i.png)",
            doc(json!([p(json!([
                tm("alt text", json!([link("https://x.example/i.png")])),
                t(" "),
                tm(
                    "https://x.example/j.png",
                    json!([link("https://x.example/j.png")])
                ),
                t(" local "),
            ]))])),
        ),
        (
            "image inside a link takes the link's target",
            "[![logo](https://x.example/l.png)](https://page.example)",
            doc(json!([p(json!([tm(
                "logo",
                json!([link("https://page.example")])
            )]))])),
        ),
        (
            "image-only paragraph without text is dropped",
            "![](i.png)\n\nafter",
            doc(json!([p(json!([t("after")]))])),
        ),
        (
            "breaks left around vanished images are trimmed",
            "![](a.png)\nx\n![](b.png)\n\n![](c.png)\n![](d.png)",
            doc(json!([p(json!([t("x")]))])),
        ),
        (
            "image with scheme only keeps its alt text",
            "![pic](http:)",
            doc(json!([p(json!([t("pic")]))])),
        ),
        (
            "NUL becomes U+FFFD",
            "a\0b",
            doc(json!([p(json!([t("a\u{FFFD}b")]))])),
        ),
        (
            "bullet list",
            "- a\n- b",
            doc(json!([bullets(json!([
                li(json!([p(json!([t("a")]))])),
                li(json!([p(json!([t("b")]))]))
            ]))])),
        ),
        (
            "ordered list keeps its start",
            "3. a\n4. b",
            doc(
                json!([{"type": "orderedList", "attrs": {"order": 3}, "content": [
                    li(json!([p(json!([t("a")]))])),
                    li(json!([p(json!([t("b")]))])),
                ]}]),
            ),
        ),
        (
            "ordered list starting at 0",
            "0. zero",
            doc(
                json!([{"type": "orderedList", "attrs": {"order": 0}, "content": [li(json!([p(json!([t("zero")]))]))]}]),
            ),
        ),
        (
            "nested lists",
            "- a\n  1. b\n     - c\n- d",
            doc(json!([bullets(json!([
                li(json!([
                    p(json!([t("a")])),
                    {"type": "orderedList", "attrs": {"order": 1}, "content": [li(json!([
                        p(json!([t("b")])),
                        bullets(json!([li(json!([p(json!([t("c")]))]))])),
                    ]))]},
                ])),
                li(json!([p(json!([t("d")]))])),
            ]))])),
        ),
        (
            "loose list item with two paragraphs",
            "- a\n\n  b",
            doc(json!([bullets(json!([li(json!([
                p(json!([t("a")])),
                p(json!([t("b")]))
            ]))]))])),
        ),
        (
            "list item starting with a list gets an empty paragraph first",
            "- - a",
            doc(json!([bullets(json!([li(json!([
                empty_p(),
                bullets(json!([li(json!([p(json!([t("a")]))]))])),
            ]))]))])),
        ),
        (
            "empty list item holds an empty paragraph",
            "-\n- a",
            doc(json!([bullets(json!([
                li(json!([empty_p()])),
                li(json!([p(json!([t("a")]))]))
            ]))])),
        ),
        (
            "task list",
            "- [ ] todo\n- [x] done",
            doc(
                json!([{"type": "taskList", "attrs": {"localId": "task-1"}, "content": [
                    {"type": "taskItem", "attrs": {"localId": "task-2", "state": "TODO"}, "content": [t("todo")]},
                    {"type": "taskItem", "attrs": {"localId": "task-3", "state": "DONE"}, "content": [t("done")]},
                ]}]),
            ),
        ),
        (
            "nested task list follows its item",
            "- [ ] a\n  - [X] b\n- [ ] c",
            doc(
                json!([{"type": "taskList", "attrs": {"localId": "task-1"}, "content": [
                    {"type": "taskItem", "attrs": {"localId": "task-2", "state": "TODO"}, "content": [t("a")]},
                    {"type": "taskList", "attrs": {"localId": "task-3"}, "content": [
                        {"type": "taskItem", "attrs": {"localId": "task-4", "state": "DONE"}, "content": [t("b")]},
                    ]},
                    {"type": "taskItem", "attrs": {"localId": "task-5", "state": "TODO"}, "content": [t("c")]},
                ]}]),
            ),
        ),
        (
            "task list nested in a bullet list",
            "- a\n  - [ ] b",
            doc(json!([bullets(json!([li(json!([
                p(json!([t("a")])),
                {"type": "taskList", "attrs": {"localId": "task-1"}, "content": [
                    {"type": "taskItem", "attrs": {"localId": "task-2", "state": "TODO"}, "content": [t("b")]},
                ]},
            ]))]))])),
        ),
        (
            "mixed task and plain items split into lists",
            "1. a\n2. [ ] b\n3. c",
            doc(json!([
                {"type": "orderedList", "attrs": {"order": 1}, "content": [li(json!([p(json!([t("a")]))]))]},
                {"type": "taskList", "attrs": {"localId": "task-1"}, "content": [
                    {"type": "taskItem", "attrs": {"localId": "task-2", "state": "TODO"}, "content": [t("b")]},
                ]},
                {"type": "orderedList", "attrs": {"order": 3}, "content": [li(json!([p(json!([t("c")]))]))]},
            ])),
        ),
        (
            "empty task item",
            "- [ ] ",
            doc(
                json!([{"type": "taskList", "attrs": {"localId": "task-1"}, "content": [
                    {"type": "taskItem", "attrs": {"localId": "task-2", "state": "TODO"}},
                ]}]),
            ),
        ),
        (
            "task item blocks flatten to inline lines",
            "- [ ] a\n\n  b\n\n  ```\n  c\n  d\n  ```\n  - e\n  1. f",
            doc(
                json!([{"type": "taskList", "attrs": {"localId": "task-1"}, "content": [
                    {"type": "taskItem", "attrs": {"localId": "task-2", "state": "TODO"}, "content": [
                        t("a"), br(), t("b"), br(),
                        tm("c", json!([{"type": "code"}])), br(), tm("d", json!([{"type": "code"}])), br(),
                        t("• e"), br(), t("1. f"),
                    ]},
                ]}]),
            ),
        ),
        (
            "blockquote, nested quote merged",
            "> a\n>\n> > b",
            doc(
                json!([{"type": "blockquote", "content": [p(json!([t("a")])), p(json!([t("b")]))]}]),
            ),
        ),
        (
            "blockquote converts heading, rule; keeps list and code",
            "> # h\n> ***\n>     code\n>\n> - x",
            doc(json!([{"type": "blockquote", "content": [
                p(json!([t("h")])),
                {"type": "codeBlock", "content": [t("code")]},
                bullets(json!([li(json!([p(json!([t("x")]))]))])),
            ]}])),
        ),
        (
            "task list in a quote becomes a bullet list",
            "> - [ ] a\n> - [x] b\n>   - [ ] c",
            doc(json!([{"type": "blockquote", "content": [bullets(json!([
                li(json!([p(json!([t("[ ] a")]))])),
                li(json!([
                    p(json!([t("[x] b")])),
                    bullets(json!([li(json!([p(json!([t("[ ] c")]))]))])),
                ])),
            ]))]}])),
        ),
        (
            "empty quote is dropped",
            ">\n\nx",
            doc(json!([p(json!([t("x")]))])),
        ),
        (
            "heading, quote and rule in a list item",
            "- # h\n\n  > q\n\n  ---",
            doc(json!([bullets(json!([li(json!([
                p(json!([t("h")])),
                p(json!([t("q")]))
            ]))]))])),
        ),
        (
            "rule",
            "a\n\n---\n\nb",
            doc(json!([p(json!([t("a")])), {"type": "rule"}, p(json!([t("b")]))])),
        ),
        (
            "fenced code with language",
            "```rust ignore\nfn main() {}\n\n  x **not bold**\n```",
            doc(
                json!([{"type": "codeBlock", "attrs": {"language": "rust"}, "content": [
                    t("fn main() {}\n\n  x **not bold**"),
                ]}]),
            ),
        ),
        (
            "indented code",
            "    a\n    b\n",
            doc(json!([{"type": "codeBlock", "content": [t("a\nb")]}])),
        ),
        (
            "empty code blocks have no content",
            "```\n```\n\n~~~python\n\n~~~",
            doc(
                json!([{"type": "codeBlock"}, {"type": "codeBlock", "attrs": {"language": "python"}}]),
            ),
        ),
        (
            "unclosed fence runs to the end",
            "```sh\nls",
            doc(json!([{"type": "codeBlock", "attrs": {"language": "sh"}, "content": [t("ls")]}])),
        ),
        (
            "code block in a list item",
            "- ```\n  a\n  ```",
            doc(json!([bullets(json!([li(
                json!([{"type": "codeBlock", "content": [t("a")]}])
            )]))])),
        ),
        (
            "table",
            "| a | **b** |\n|---|:-:|\n| 1 |\n| `x` | 2 |",
            doc(json!([{"type": "table", "content": [
                {"type": "tableRow", "content": [
                    {"type": "tableHeader", "content": [p(json!([t("a")]))]},
                    {"type": "tableHeader", "content": [p(json!([tm("b", json!([{"type": "strong"}]))]))]},
                ]},
                {"type": "tableRow", "content": [
                    {"type": "tableCell", "content": [p(json!([t("1")]))]},
                    {"type": "tableCell", "content": [empty_p()]},
                ]},
                {"type": "tableRow", "content": [
                    {"type": "tableCell", "content": [p(json!([tm("x", json!([{"type": "code"}]))]))]},
                    {"type": "tableCell", "content": [p(json!([t("2")]))]},
                ]},
            ]}])),
        ),
        (
            "table in a quote becomes rows of text",
            "> | a | b |\n> |---|---|\n> | 1 | 2 |",
            doc(
                json!([{"type": "blockquote", "content": [p(json!([t("a | b")])), p(json!([t("1 | 2")]))]}]),
            ),
        ),
        (
            "table in a list item becomes rows of text",
            "- | a |\n  |---|\n  | **1** |",
            doc(json!([bullets(json!([li(json!([
                p(json!([t("a")])),
                p(json!([tm("1", json!([{"type": "strong"}]))])),
            ]))]))])),
        ),
        (
            "html block is text",
            "<div>\n<b>x</b>\n</div>",
            doc(json!([p(json!([
                t("<div>"),
                br(),
                t("<b>x</b>"),
                br(),
                t("</div>")
            ]))])),
        ),
        (
            "inline html is text",
            "a <span onclick=\"x\">b</span> *c <br>*",
            doc(json!([p(json!([
                t("a <span onclick=\"x\">b</span> "),
                tm("c <br>", json!([{"type": "em"}])),
            ]))])),
        ),
        (
            "entities, escapes, footnote syntax",
            "&amp; &#x41; \\*x\\* [^1]",
            doc(json!([p(json!([t("& A *x* [^1]")]))])),
        ),
        (
            "unicode",
            "héllo 😀 — 中文",
            doc(json!([p(json!([t("héllo 😀 — 中文")]))])),
        ),
    ]
}

#[test]
fn golden_markdown() {
    let cases = cases();
    assert!(cases.len() >= 25);
    let mut failures = Vec::new();
    for (name, input, expected) in &cases {
        // The expectation itself must be valid ADF.
        common::assert_valid(expected, input);
        let actual = common::markdown(input);
        if &actual != expected {
            failures.push(format!(
                "case {name:?} (input {input:?})\nexpected: {expected}\n  actual: {actual}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Names are unique, so failures are unambiguous.
#[test]
fn golden_names_unique() {
    let cases = cases();
    let mut names: Vec<_> = cases.iter().map(|c| c.0).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len());
}

/// The serialized form has the documented key order of a doc.
#[test]
fn serialized_key_order() {
    let s = serde_json::to_string(&adf::from_markdown("x")).unwrap();
    assert_eq!(
        s,
        r#"{"version":1,"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"x"}]}]}"#
    );
}
