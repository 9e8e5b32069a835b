//! Escaping of plain text: every character wiki markup gives a meaning to,
//! one by one (exact output) and in combinations (parsed back with the test
//! parser, which must find the same text and nothing else).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

/// `from_plain_text(text)` parses back to exactly `text` (normalised), as
/// unmarked text.
#[track_caller]
fn round_trips(text: &str) {
    let wiki = wiki::from_plain_text(text);
    assert_eq!(
        common::plain_paragraphs(&wiki),
        Ok(common::normalized(text)),
        "text {text:?}\nwiki {wiki:?}"
    );
    assert_eq!(common::check_macros(&wiki), Ok(()), "wiki {wiki:?}");
}

/// Every special character, alone, and its exact escaped form.
const SINGLES: &[(&str, &str)] = &[
    ("*", "\\*"),
    ("_", "\\_"),
    ("-", "\\-"),
    ("+", "\\+"),
    ("^", "\\^"),
    ("~", "\\~"),
    ("{", "\\{"),
    ("}", "\\}"),
    ("[", "\\["),
    ("]", "\\]"),
    ("|", "\\|"),
    ("!", "\\!"),
    ("#", "\\#"),
    ("\\", "&#92;"),
    // A lone `?` is not markup; two are a citation.
    ("?", "?"),
    ("??", "\\?\\?"),
    ("&", "&"),
    ("&amp;", "&amp;amp;"),
    ("&#42;", "&amp;\\#42;"),
    ("(", "("),
    (":", ":"),
];

#[test]
fn each_special_character_alone() {
    for (text, expected) in SINGLES {
        assert_eq!(wiki::from_plain_text(text), *expected, "text {text:?}");
        round_trips(text);
    }
}

fn specials() -> Vec<&'static str> {
    let mut v: Vec<&str> = SINGLES.iter().map(|(t, _)| *t).collect();
    v.extend([
        ":",
        ";",
        "(",
        ")",
        "h1.",
        "bq.",
        "&",
        "//",
        "?",
        "x",
        " ",
        "--",
        "----",
        "{{",
        "}}",
        "{code}",
        "{noformat}",
        "{quote}",
        "\\\\",
    ]);
    v
}

#[test]
fn each_special_character_in_context() {
    for s in specials() {
        for text in [
            format!("a{s}b"),
            format!("a {s} b"),
            format!("{s}a{s}"),
            format!("{s}{s}"),
            format!("{s}{s}{s}"),
            format!("{s} at start"),
            format!("  {s} indented"),
            format!("first\n{s} second line"),
            format!("para\n\n{s} second para"),
            format!("{s}word{s}"),
            format!("a {s}word{s} b"),
        ] {
            round_trips(&text);
        }
    }
}

#[test]
fn every_pair_of_special_characters() {
    let all = specials();
    for a in &all {
        for b in &all {
            round_trips(&format!("{a}{b}"));
            round_trips(&format!("{a}x{b}"));
            round_trips(&format!("{a} {b}"));
        }
    }
}

#[test]
fn all_special_characters_at_once() {
    let all: String = specials().concat();
    round_trips(&all);
    round_trips(&format!("{all}\n{all}\n\n{all}"));
    let rev: String = all.chars().rev().collect();
    round_trips(&rev);
}

#[test]
fn marks_from_text() {
    for text in [
        "*bold*",
        "_em_",
        "-strike-",
        "+ins+",
        "^sup^",
        "~sub~",
        "??cite??",
        "{{mono}}",
        "{*}forced{*}",
        "a *b* c",
        "*a _b_ c*",
        "{color:red}x{color}",
        "{panel}x{panel}",
        "{anchor:a}",
    ] {
        let wiki = wiki::from_plain_text(text);
        assert!(!wiki.contains(text), "{text:?} kept as markup: {wiki:?}");
        round_trips(text);
    }
}

#[test]
fn links_images_and_mentions_from_text() {
    for text in [
        "[x]",
        "[x|https://a.example]",
        "[https://a.example]",
        "[~user]",
        "[#anchor]",
        "[^file.txt]",
        "[mailto:a@b.example]",
        "!image.png!",
        "!https://a.example/i.png!",
        "https://a.example/x_y_z",
        "http://a.example",
        "ftp://a.example",
        "file:///etc/passwd",
        "mailto:a@b.example",
        "MAILTO:a@b.example",
    ] {
        round_trips(text);
    }
    assert_eq!(
        wiki::from_plain_text("see https://a.example"),
        "see https&#58;//a.example"
    );
}

#[test]
fn line_starts() {
    for (text, expected) in [
        ("h1. x", "&#104;1. x"),
        ("h6. x", "&#104;6. x"),
        ("H2. x", "&#72;2. x"),
        ("  h3. x", "  &#104;3. x"),
        ("\th4.x", "\t&#104;4.x"),
        ("bq. x", "&#98;q. x"),
        ("Bq. x", "&#66;q. x"),
        ("h7. x", "h7. x"),
        ("h1 x", "h1 x"),
        ("* x", "\\* x"),
        ("** x", "\\*\\* x"),
        ("# x", "\\# x"),
        ("*# x", "\\*\\# x"),
        ("- x", "\\- x"),
        ("----", "\\-\\-\\-\\-"),
        ("---", "\\-\\-\\-"),
        ("|a|b|", "\\|a\\|b\\|"),
        ("||a||", "\\|\\|a\\|\\|"),
        ("a\nh1. b", "a\n&#104;1. b"),
        ("a\n\nbq. b", "a\n\n&#98;q. b"),
        ("a h1. b", "a h1. b"),
    ] {
        assert_eq!(wiki::from_plain_text(text), expected, "text {text:?}");
        round_trips(text);
    }
}

#[test]
fn emoticons() {
    let faces = [
        ":)",
        ":(",
        ":P",
        ":D",
        ":p",
        ":d",
        ";)",
        "(y)",
        "(n)",
        "(i)",
        "(/)",
        "(x)",
        "(!)",
        "(+)",
        "(-)",
        "(?)",
        "(on)",
        "(off)",
        "(*)",
        "(*r)",
        "(*g)",
        "(*b)",
        "(*y)",
        "(flag)",
        "(flagoff)",
        "(Y)",
        "(ON)",
        "(FLAG)",
    ];
    for face in faces {
        let wiki = wiki::from_plain_text(face);
        assert!(!wiki.contains(face), "{face:?} left as {wiki:?}");
        round_trips(face);
        round_trips(&format!("ok{face}ok"));
        round_trips(&format!("nice {face} work"));
    }
    // Brackets that are not emoticons stay as typed.
    for text in ["(yes)", "(a)", "f(z)", ":o", "x:y", "a;b"] {
        assert_eq!(wiki::from_plain_text(text), text);
    }
}

#[test]
fn backslashes() {
    for (text, expected) in [
        ("\\", "&#92;"),
        ("a\\b", "a&#92;b"),
        ("\\\\", "&#92;&#92;"),
        ("\\*", "&#92;\\*"),
        ("C:\\path\\", "C:&#92;path&#92;"),
        ("end\\\nnext", "end&#92;\nnext"),
    ] {
        assert_eq!(wiki::from_plain_text(text), expected, "text {text:?}");
        round_trips(text);
    }
}

#[test]
fn entities() {
    for (text, expected) in [
        ("&", "&"),
        ("a & b", "a & b"),
        ("a&b", "a&amp;b"),
        ("&amp;", "&amp;amp;"),
        ("&copy;", "&amp;copy;"),
        ("&copy", "&amp;copy"),
        ("&#92;", "&amp;\\#92;"),
        ("&#x41;", "&amp;\\#x41;"),
        ("&;", "&;"),
    ] {
        assert_eq!(wiki::from_plain_text(text), expected, "text {text:?}");
        round_trips(text);
    }
}

#[test]
fn whitespace_and_paragraphs_are_kept() {
    for text in [
        "",
        "   ",
        "a",
        "a\nb",
        "a\r\nb\rc",
        "a\n\n\n\nb",
        "a\n \t \nb",
        "  indented\n\ttabbed",
        "trailing  \nspaces",
        "\n\nlead and trail\n\n",
        "nul \0 here",
        "ünïcödé 😀 中文",
    ] {
        round_trips(text);
    }
    assert_eq!(wiki::from_plain_text("a\r\n\r\n\r\nb\nc"), "a\n\nb\nc");
    assert_eq!(wiki::from_plain_text(" \n\t\n"), "");
}

/// In Markdown, the same escaping applies inside inline code, link text and
/// table cells, each with its own extra rule.
#[test]
fn markdown_contexts() {
    for (markdown, expected) in [
        // `}}` cannot end the inline code early.
        ("`a}}b`", "{{a\\}\\}b}}"),
        ("`{{x}}`", "{{\\{\\{x\\}\\}}}"),
        ("`code`", "{{&#99;ode}}"),
        ("`quote:x`", "{{&#113;uote:x}}"),
        // Link text: references, never backslashes.
        (
            "[a [b] | c](https://x.example)",
            "[a &#91;b&#93; &#124; c|https://x.example]",
        ),
        // URL: `|`, `[`, `]` percent-encoded.
        (
            "[t](https://x.example/?q=[a|b])",
            "[t|https://x.example/?q=%5Ba%7Cb%5D]",
        ),
        // Not an autolink in CommonMark (a space): text, its `://` neutralised.
        ("<https://x.example/a b>", "<https&#58;//x.example/a b>"),
        // Table cells: a pipe is a reference.
        ("| a \\| b |\n|---|\n| c |", "|| a &#124; b ||\n| c |"),
        // Not a link: text.
        ("[x](javascript:alert(1))", "x"),
    ] {
        assert_eq!(wiki::from_markdown(markdown), expected, "{markdown:?}");
        common::assert_same_text(markdown, expected);
    }
}
