//! Golden cases: plain text → exact ADF JSON.

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
fn br() -> Value {
    json!({"type": "hardBreak"})
}

#[test]
fn golden_plain_text() {
    let cases: Vec<(&str, Value)> = vec![
        ("", doc(json!([]))),
        (" \t \n\n  \r\n\u{a0}\n", doc(json!([]))),
        ("one line", doc(json!([p(json!([t("one line")]))]))),
        ("a\nb", doc(json!([p(json!([t("a"), br(), t("b")]))]))),
        (
            "a\n\nb",
            doc(json!([p(json!([t("a")])), p(json!([t("b")]))])),
        ),
        // Several blank lines, some whitespace-only, make one split.
        (
            "a\n\n \n\t\n\nb",
            doc(json!([p(json!([t("a")])), p(json!([t("b")]))])),
        ),
        (
            "a\r\nb\r\n\r\nc",
            doc(json!([
                p(json!([t("a"), br(), t("b")])),
                p(json!([t("c")]))
            ])),
        ),
        (
            "a\rb\r\rc",
            doc(json!([
                p(json!([t("a"), br(), t("b")])),
                p(json!([t("c")]))
            ])),
        ),
        ("\n\n\na\n\n\n", doc(json!([p(json!([t("a")]))]))),
        // Line text is verbatim: indentation, trailing spaces, Markdown syntax.
        (
            "  indented\ntrailing  \n**not bold** <b>",
            doc(json!([p(json!([
                t("  indented"),
                br(),
                t("trailing  "),
                br(),
                t("**not bold** <b>")
            ]))])),
        ),
        (
            "x\n\ny\nz",
            doc(json!([
                p(json!([t("x")])),
                p(json!([t("y"), br(), t("z")]))
            ])),
        ),
        ("a\0b", doc(json!([p(json!([t("a\u{FFFD}b")]))]))),
        (
            "😀\n中文",
            doc(json!([p(json!([t("😀"), br(), t("中文")]))])),
        ),
    ];
    let mut failures = Vec::new();
    for (input, expected) in &cases {
        common::assert_valid(expected, input);
        let actual = common::plain(input);
        if &actual != expected {
            failures.push(format!(
                "input {input:?}\nexpected: {expected}\n  actual: {actual}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn is_empty() {
    assert!(adf::from_plain_text("").is_empty());
    assert!(adf::from_plain_text(" \n\t\r\n").is_empty());
    assert!(!adf::from_plain_text("x").is_empty());
    assert!(adf::from_markdown("").is_empty());
    // An empty quote is dropped, the HTML comment kept as text.
    assert!(!adf::from_markdown(">\n\n<!-- -->").is_empty());
    assert!(adf::from_markdown("![](x.png)").is_empty());
    assert!(!adf::from_markdown("---").is_empty());
}

#[test]
fn large_plain_text() {
    let line = "The quick brown fox jumps over the lazy dog.\n";
    let text = line.repeat(20_000);
    let value = common::plain(&text);
    let content = value["content"][0]["content"].as_array().unwrap();
    // 20,000 lines: one text node each, hard breaks in between.
    assert_eq!(content.len(), 20_000 * 2 - 1);
}
