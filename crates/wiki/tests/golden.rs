//! Golden files: each `golden/NAME.md` converts to exactly `golden/NAME.wiki`
//! (run with `WIKI_BLESS=1` to rewrite the expected files, then review the
//! diff). Every expected file also parses back, with the test renderer, to
//! the text the ADF crate shows for the same Markdown.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use std::path::Path;

#[test]
fn golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let bless = std::env::var_os("WIKI_BLESS").is_some();
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 16, "golden inputs missing: {inputs:?}");
    let mut failed = Vec::new();
    for input in inputs {
        let markdown = std::fs::read_to_string(&input).unwrap();
        let actual = wiki::from_markdown(&markdown);
        let expected_path = input.with_extension("wiki");
        if bless {
            std::fs::write(&expected_path, format!("{actual}\n")).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        // The files end with a newline; the output does not.
        if expected.strip_suffix('\n') != Some(actual.as_str()) {
            failed.push(format!(
                "{}:\n--- expected\n{expected}\n--- actual\n{actual}\n",
                input.display()
            ));
        }
        common::assert_same_text(&markdown, &actual);
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
