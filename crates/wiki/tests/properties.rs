//! Property tests, checked with the test parser (`common/render.rs`):
//! - plain text parses back to exactly itself, unmarked;
//! - Markdown shows the same text as the ADF document of the same Markdown,
//!   with no stray markup and balanced `{code}`/`{noformat}`/`{quote}`;
//! - neither function panics, whatever the input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use proptest::prelude::*;
use proptest::test_runner::Config;

/// Case count: `default`, or `WIKI_PROPTEST_CASES` for a longer run.
fn cases(default: u32) -> u32 {
    std::env::var("WIKI_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ------------------------------------------------------------ generators ---

/// Pieces of text that wiki markup (or Markdown) may read as syntax.
const TRICKY: &[&str] = &[
    "*",
    "_",
    "-",
    "+",
    "^",
    "~",
    "?",
    "??",
    "{",
    "}",
    "[",
    "]",
    "|",
    "||",
    "!",
    "#",
    "\\",
    "\\\\",
    "&",
    "&amp;",
    "&#42;",
    "&copy",
    ":",
    ";",
    "(",
    ")",
    ":)",
    ":(",
    ":P",
    ";)",
    "(y)",
    "(!)",
    "(*)",
    "(on)",
    "(flag)",
    "--",
    "---",
    "----",
    "{{",
    "}}",
    "{*}",
    "{code}",
    "{code:java}",
    "{noformat}",
    "{quote}",
    "{color:red}",
    "h1. ",
    "H3.",
    "bq. ",
    "https://x.example",
    "mailto:a@b.example",
    "[~user]",
    "!i.png!",
    "`",
    "<b>",
    "é",
    "😀",
    "\u{0}",
    "\u{a0}",
    " ",
    "  ",
    "\t",
];

fn tricky() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(TRICKY).prop_map(str::to_owned),
        2 => "[a-zA-Z0-9]{1,6}",
        1 => "[\\PC]{1,3}",
    ]
}

/// Plain text with special characters, line ends and blank lines.
fn special_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => tricky(),
        1 => prop::sample::select(vec!["\n", "\r\n", "\r", "\n\n", "\n \n", "\n\t"])
            .prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn url() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "https://x.example/a?b=c&d=e",
        "http://x.example/[a|b]",
        "https://x.example/{code}",
        "mailto:a@b.example",
        "javascript:alert(1)",
        "/relative",
        "",
    ])
}

/// Inline Markdown: emphasis, code spans, links, images, breaks.
fn inline() -> impl Strategy<Value = String> {
    let leaf = prop::collection::vec(tricky(), 1..4).prop_map(|v| v.concat());
    leaf.prop_recursive(3, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| v.join(" ")),
            inner.clone().prop_map(|s| format!("**{s}**")),
            inner.clone().prop_map(|s| format!("*{s}*")),
            inner.clone().prop_map(|s| format!("~~{s}~~")),
            inner.clone().prop_map(|s| format!("a**{s}**b")),
            inner.clone().prop_map(|s| format!("`{s}`")),
            inner.clone().prop_map(|s| format!("`` {s} ``")),
            (inner.clone(), url()).prop_map(|(s, u)| format!("[{s}]({u})")),
            (inner.clone(), url()).prop_map(|(s, u)| format!("![{s}]({u})")),
            url().prop_map(|u| format!("<{u}>")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a}  \n{b}")),
        ]
    })
}

/// The body of a code block: lines that may hold the macro tags.
fn code_body() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        tricky(),
        prop::sample::select(vec![
            "{code}",
            "{CODE}",
            "{code:xml}",
            "{noformat}",
            "{NoFormat}",
            "{quote}",
            "}}",
        ])
        .prop_map(str::to_owned),
    ];
    prop::collection::vec(prop::collection::vec(line, 0..4), 0..4).prop_map(|lines| {
        lines
            .into_iter()
            .map(|l| l.concat().replace('`', "'"))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// A Markdown list (bullet, ordered or task), nested by indentation.
fn list() -> impl Strategy<Value = Vec<String>> {
    let marker = prop::sample::select(vec!["- ", "* ", "1. ", "- [ ] ", "- [x] "]);
    let items = |sub: BoxedStrategy<Vec<String>>| {
        prop::collection::vec((marker.clone(), inline(), prop::option::of(sub)), 1..4)
    };
    let flat = items(Just(Vec::new()).boxed());
    let render = |items: Vec<(&str, String, Option<Vec<String>>)>| {
        let mut lines = Vec::new();
        for (marker, text, sub) in items {
            lines.push(format!("{marker}{}", text.replace(['\n', '\r'], " ")));
            let indent = " ".repeat(marker.len().min(4));
            for l in sub.into_iter().flatten() {
                lines.push(format!("{indent}{l}"));
            }
        }
        lines
    };
    flat.prop_map(render)
        .prop_recursive(3, 16, 3, move |inner| {
            prop::collection::vec(
                (
                    prop::sample::select(vec!["- ", "* ", "1. ", "- [ ] ", "- [x] "]),
                    inline(),
                    prop::option::of(inner),
                ),
                1..4,
            )
            .prop_map(render)
        })
}

fn table() -> impl Strategy<Value = Vec<String>> {
    let cell = || inline().prop_map(|s| s.replace(['\n', '\r'], " ").replace('|', "\\|"));
    (1..4usize).prop_flat_map(move |n| {
        (
            prop::collection::vec(cell(), n),
            prop::collection::vec(prop::collection::vec(cell(), 0..n + 1), 0..3),
        )
            .prop_map(move |(head, rows)| {
                let row = |cells: &[String]| format!("| {} |", cells.join(" | "));
                let mut lines = vec![row(&head), format!("|{}|", vec!["---"; n].join("|"))];
                lines.extend(rows.iter().map(|r| row(r)));
                lines
            })
    })
}

/// One Markdown block, as lines.
fn block() -> impl Strategy<Value = Vec<String>> {
    let one = |s: BoxedStrategy<String>| s.prop_map(|l| vec![l]).boxed();
    let leaf = prop_oneof![
        4 => one(inline().boxed()),
        1 => one((1..=6usize, inline()).prop_map(|(n, s)| format!("{} {}", "#".repeat(n), s.replace(['\n', '\r'], " "))).boxed()),
        2 => (prop::sample::select(vec!["", "java", "Python", "rust", "xml", "c++", "nope"]), code_body())
            .prop_map(|(lang, body)| vec![format!("```{lang}"), body, "```".to_owned()]).boxed(),
        1 => one(Just("---".to_owned()).boxed()),
        2 => list().boxed(),
        2 => table().boxed(),
        1 => one(prop::sample::select(vec!["<div>", "<!-- {code} -->", "<pre>{quote}</pre>"]).prop_map(str::to_owned).boxed()),
    ];
    prop_oneof![
        4 => leaf.clone(),
        1 => leaf.prop_map(|lines| {
            lines.join("\n").split('\n').map(|l| format!("> {l}")).collect()
        }),
    ]
}

fn markdown() -> impl Strategy<Value = String> {
    prop::collection::vec(block(), 0..8).prop_map(|blocks| {
        blocks
            .into_iter()
            .map(|b| b.join("\n"))
            .collect::<Vec<_>>()
            .join("\n\n")
    })
}

// ----------------------------------------------------------- properties ---

proptest! {
    #![proptest_config(Config { cases: cases(1000), ..Config::default() })]

    #[test]
    fn plain_text_parses_back_to_itself(text in any::<String>()) {
        let wiki = wiki::from_plain_text(&text);
        prop_assert_eq!(common::plain_paragraphs(&wiki), Ok(common::normalized(&text)), "wiki {:?}", wiki);
    }

    #[test]
    fn special_plain_text_parses_back_to_itself(text in special_text()) {
        let wiki = wiki::from_plain_text(&text);
        prop_assert_eq!(common::plain_paragraphs(&wiki), Ok(common::normalized(&text)), "wiki {:?}", wiki);
        prop_assert_eq!(common::check_macros(&wiki), Ok(()));
    }

    #[test]
    fn markdown_shows_the_adf_text(md in markdown()) {
        common::assert_same_text(&md, &wiki::from_markdown(&md));
    }

    #[test]
    fn arbitrary_strings_as_markdown(md in any::<String>()) {
        common::assert_same_text(&md, &wiki::from_markdown(&md));
    }

    #[test]
    fn special_text_as_markdown(md in special_text()) {
        common::assert_same_text(&md, &wiki::from_markdown(&md));
    }
}

/// The Markdown generator reaches every construct the converter writes, so
/// the property above exercises all of them.
#[test]
fn markdown_generator_covers_every_construct() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = markdown();
    let mut out = String::new();
    for _ in 0..300 {
        let md = strategy.new_tree(&mut runner).unwrap().current();
        out.push_str(&wiki::from_markdown(&md));
        out.push('\n');
    }
    for construct in [
        "\nh1. ",
        "\nh6. ",
        "{*}",
        " *",
        "_",
        "-",
        "{{",
        "|https://",
        "|mailto:",
        "\n* ",
        "\n# ",
        "\n** ",
        "\n*# ",
        "\n#* ",
        "\\[ \\]",
        "\\[x\\]",
        "\n|| ",
        "\n| ",
        "&#124;",
        "{quote}",
        "{noformat}",
        "{code:java}",
        "{code}",
        "\n----",
        "\\\\ ",
        "&#92;",
        "&#58;",
    ] {
        assert!(
            out.contains(construct),
            "generator never produced {construct:?}"
        );
    }
}
