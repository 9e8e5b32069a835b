//! Property tests: whatever the input, the output is valid ADF (schema and
//! editor rules, including "no empty text nodes"); and text without Markdown
//! syntax converts the same as plain text.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use proptest::prelude::*;
use proptest::test_runner::Config;

// ------------------------------------------------------------ generators ---

/// Link and image targets, many of them hostile or odd.
fn url() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "https://x.example/a?b=c&d=e#f",
        "http://x.example",
        "HTTP://X.EXAMPLE",
        "mailto:a@b.example",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:x",
        "data:text/html,<b>x</b>",
        "vbscript:x",
        "/relative/path",
        "relative",
        "#frag",
        "",
        "<>",
        "<https://x.example/with space>",
        "http:",
        "https:",
        "ftp://x.example",
        "file:///etc/passwd",
        "\\\\server\\share",
        "http://x.example/\u{202e}evil",
    ])
}

/// Small pieces of inline Markdown syntax and awkward characters.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 ]{1,8}",
        1 => "[\\PC]{1,4}",
        3 => prop::sample::select(vec![
            "*", "**", "***", "_", "__", "~", "~~", "`", "``", "```", "[", "]", "(", ")", "![",
            "](", "<", ">", "\\", "\\*", "\\`", "&amp;", "&#0;", "&#x1F600;", "&bogus;", "&", "|",
            " ", "  ", "   ", "\t", "<b>", "</b>", "<!--", "-->", "<div>", "<script>", "<?", "?>",
            "<![CDATA[", "]]>", "é", "😀", "\u{0}", "\u{200b}", "中", "\u{202e}", "\u{feff}",
            "[^1]", "#", "a@b.example", "www.x.example", "[ ]", "[x]", "-", "+", "1.", "1)",
            "---", "===", ":-:", "$x$", "{#id}",
        ]).prop_map(str::to_owned),
        1 => url().prop_map(str::to_owned),
    ]
}

/// Inline Markdown with nested emphasis, links, images and code.
fn inline() -> impl Strategy<Value = String> {
    let leaf = prop::collection::vec(fragment(), 0..4).prop_map(|v| v.concat());
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.concat()),
            inner.clone().prop_map(|s| format!("*{s}*")),
            inner.clone().prop_map(|s| format!("**{s}**")),
            inner.clone().prop_map(|s| format!("_{s}_")),
            inner.clone().prop_map(|s| format!("~~{s}~~")),
            inner.clone().prop_map(|s| format!("`{s}`")),
            (inner.clone(), url()).prop_map(|(s, u)| format!("[{s}]({u})")),
            (inner.clone(), url()).prop_map(|(s, u)| format!("[{s}]({u} \"t\")")),
            (inner.clone(), url()).prop_map(|(s, u)| format!("![{s}]({u})")),
            (inner.clone(), url(), url()).prop_map(|(s, i, u)| format!("[![{s}]({i})]({u})")),
            url().prop_map(|u| format!("<{u}>")),
            inner.prop_map(|s| format!("<span>{s}</span>")),
        ]
    })
}

/// Container prefixes: quotes, bullets, numbers, task boxes, indentation.
fn prefix() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "> ", ">", "- ", "* ", "+ ", "1. ", "7) ", "0. ", "- [ ] ", "- [x] ", "* [X] ", "1. [ ] ",
        "  ", "    ", "\t", " ",
    ])
}

/// A GFM table: header, delimiter row (same width), ragged body rows.
fn table() -> impl Strategy<Value = Vec<String>> {
    let cell = || inline().prop_map(|s| s.replace(['\r', '\n'], " "));
    (1..4usize)
        .prop_flat_map(move |columns| {
            (
                prop::collection::vec(cell(), columns),
                prop::collection::vec(
                    prop::sample::select(vec!["---", ":--", "--:", ":-:"]),
                    columns,
                ),
                prop::collection::vec(prop::collection::vec(cell(), 0..5), 0..4),
            )
        })
        .prop_map(|(head, delimiter, rows)| {
            let row = |cells: &[String]| format!("| {} |", cells.join(" | "));
            let mut lines = vec![row(&head), format!("|{}|", delimiter.join("|"))];
            lines.extend(rows.iter().map(|r| row(r)));
            lines
        })
}

/// One block of Markdown: container prefixes, then one or more lines (later
/// lines continue the same containers).
fn block(max_prefixes: usize) -> impl Strategy<Value = String> {
    let prefixes = prop::collection::vec(prefix(), 0..max_prefixes);
    let one = |s: BoxedStrategy<String>| s.prop_map(|l| vec![l]).boxed();
    let body = prop_oneof![
        6 => one(inline().boxed()),
        1 => one(Just(String::new()).boxed()),
        1 => one((1..=7usize, inline()).prop_map(|(n, s)| format!("{} {s}", "#".repeat(n))).boxed()),
        1 => one(prop::sample::select(vec!["```", "```rust", "~~~", "````", "``` x y", "```\u{0}"])
            .prop_map(str::to_owned).boxed()),
        1 => one(prop::sample::select(vec!["---", "***", "___", "===", "- - -"]).prop_map(str::to_owned).boxed()),
        1 => one(prop::collection::vec(inline(), 1..4).prop_map(|cells| format!("| {} |", cells.join(" | "))).boxed()),
        2 => table().boxed(),
        1 => one(prop::sample::select(vec!["<div>", "</div>", "<!-- c -->", "<pre>", "<script>alert(1)</script>", "<table>"])
            .prop_map(str::to_owned).boxed()),
        1 => one(url().prop_map(|u| format!("[ref]: {u}")).boxed()),
    ];
    (prefixes, body).prop_map(|(prefixes, lines)| {
        // Continuation lines repeat quote markers and indent past list
        // markers, so they stay inside the same containers.
        let continuation: String = prefixes
            .iter()
            .map(|p| {
                if p.starts_with('>') || p.trim().is_empty() {
                    p.to_string()
                } else {
                    " ".repeat(p.len())
                }
            })
            .collect();
        let mut out = prefixes.concat();
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                out.push('\n');
                out.push_str(&continuation);
            }
            out.push_str(line);
        }
        out
    })
}

fn line_ending() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["\n", "\n", "\n", "\r\n", "\r"])
}

/// A document: blocks with container prefixes, joined by mixed line endings.
fn markdown(max_prefixes: usize, max_blocks: usize) -> impl Strategy<Value = String> {
    prop::collection::vec((block(max_prefixes), line_ending()), 0..max_blocks)
        .prop_map(|lines| lines.into_iter().map(|(l, e)| l + e).collect())
}

/// Text with no Markdown syntax: words of letters and digits (some
/// non-ASCII) separated by spaces or tabs, lines without leading or trailing
/// whitespace (Markdown strips those, and two trailing spaces are a hard
/// break), paragraphs separated by blank lines that may hold spaces and
/// tabs, any of the three line endings.
fn syntax_free_text() -> impl Strategy<Value = String> {
    let word = "[a-zA-Z0-9éßЖ中😀]{1,8}";
    let gap = prop::sample::select(vec![" ", " ", " ", "  ", "\t", " \t "]);
    let text_line = (word, prop::collection::vec((gap, word), 0..6))
        .prop_map(|(first, rest)| rest.into_iter().fold(first, |acc, (g, w)| acc + g + &w));
    let paragraph = prop::collection::vec((text_line, line_ending()), 1..5).prop_map(|lines| {
        let mut s = String::new();
        for (i, (l, e)) in lines.iter().enumerate() {
            if i > 0 {
                s.push_str(e);
            }
            s.push_str(l);
        }
        s
    });
    let blank = || prop::sample::select(vec!["", "", " ", "\t", "   ", "  \t  "]);
    let separator = (
        line_ending(),
        prop::collection::vec((blank(), line_ending()), 1..3),
    )
        .prop_map(|(e, blanks)| {
            blanks
                .into_iter()
                .fold(e.to_owned(), |acc, (b, e)| acc + b + e)
        });
    // Blank lines before the first and after the last paragraph.
    let lead = prop::collection::vec((blank(), line_ending()), 0..3).prop_map(|v| {
        v.into_iter()
            .map(|(b, e)| b.to_owned() + e)
            .collect::<String>()
    });
    let trail = prop::collection::vec((line_ending(), blank()), 0..3).prop_map(|v| {
        v.into_iter()
            .map(|(e, b)| e.to_owned() + b)
            .collect::<String>()
    });
    (
        lead,
        prop::collection::vec((paragraph, separator), 1..5),
        trail,
    )
        .prop_map(|(lead, paragraphs, trail)| {
            let mut s = lead;
            let n = paragraphs.len();
            for (i, (p, sep)) in paragraphs.into_iter().enumerate() {
                s.push_str(&p);
                if i + 1 < n {
                    s.push_str(&sep);
                }
            }
            s + &trail
        })
}

// ----------------------------------------------------------- properties ---

/// Case count: `default`, or `ADF_PROPTEST_CASES` for a longer run.
fn cases(default: u32) -> u32 {
    std::env::var("ADF_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(Config { cases: cases(1000), ..Config::default() })]

    #[test]
    fn arbitrary_strings_give_valid_adf(input in any::<String>()) {
        common::markdown(&input);
        common::plain(&input);
    }

    #[test]
    fn adversarial_markdown_gives_valid_adf(input in markdown(5, 24)) {
        common::markdown(&input);
        common::plain(&input);
    }

    #[test]
    fn syntax_free_markdown_equals_plain_text(input in syntax_free_text()) {
        let md = adf::from_markdown(&input);
        let plain = adf::from_plain_text(&input);
        prop_assert_eq!(&md, &plain, "input {:?}", input);
        common::assert_valid(&plain.to_value(), &input);
    }
}

proptest! {
    #![proptest_config(Config { cases: cases(200), ..Config::default() })]

    /// Deeper container nesting, past the list depth cap.
    #[test]
    fn deeply_prefixed_markdown_gives_valid_adf(input in markdown(40, 12)) {
        common::markdown(&input);
    }
}

/// The generator for the equivalence property really produces the tricky
/// parts (it is easy to make that property hold trivially).
#[test]
fn syntax_free_generator_covers_the_interesting_cases() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = syntax_free_text();
    let (mut crlf, mut cr, mut tabs, mut blank_ws, mut multi_para, mut multi_line, mut non_ascii) =
        (false, false, false, false, false, false, false);
    for _ in 0..500 {
        let s = strategy.new_tree(&mut runner).unwrap().current();
        crlf |= s.contains("\r\n");
        cr |= s.contains('\r') && !s.contains("\r\n");
        tabs |= s.trim().contains('\t');
        blank_ws |= s.contains("\n \n") || s.contains("\n\t\n") || s.contains("\n   \n");
        let doc = adf::from_plain_text(&s).to_value();
        let paragraphs = doc["content"].as_array().unwrap();
        multi_para |= paragraphs.len() > 1;
        multi_line |= paragraphs
            .iter()
            .any(|p| p["content"].as_array().unwrap().len() > 1);
        non_ascii |= !s.is_ascii();
    }
    assert!(crlf && cr && tabs && blank_ws && multi_para && multi_line && non_ascii);
}

/// The adversarial generator reaches every kind of node the converter
/// emits, so the validity property exercises all of them.
#[test]
fn adversarial_generator_covers_every_node_type() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeSet;
    let mut runner = TestRunner::deterministic();
    let strategy = markdown(5, 24);
    let mut seen = BTreeSet::new();
    for _ in 0..500 {
        let input = strategy.new_tree(&mut runner).unwrap().current();
        let doc = adf::from_markdown(&input).to_value();
        let mut stack = vec![&doc];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::Object(map) => {
                    if let Some(ty) = map.get("type").and_then(|t| t.as_str()) {
                        seen.insert(ty.to_owned());
                    }
                    stack.extend(map.values());
                }
                serde_json::Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
    }
    for ty in [
        "paragraph",
        "text",
        "hardBreak",
        "heading",
        "codeBlock",
        "rule",
        "blockquote",
        "bulletList",
        "orderedList",
        "listItem",
        "taskList",
        "taskItem",
        "table",
        "tableRow",
        "tableHeader",
        "tableCell",
        "link",
        "em",
        "strong",
        "strike",
        "code",
    ] {
        assert!(
            seen.contains(ty),
            "generator never produced {ty}; saw {seen:?}"
        );
    }
}
