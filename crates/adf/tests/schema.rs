//! The validator itself: the vendored schema has not drifted, it compiles,
//! and it rejects what ADF forbids (so passing it means something).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use serde_json::{Value, json};

use common::schema::validate;

const SHARED_SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/schemas/adf-full.json"
);
const VENDORED_SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/adf-full.json");

/// The vendored copy must equal the shared one. Passes trivially where the
/// shared directory does not exist (the reason the schema is vendored).
#[test]
fn vendored_schema_matches_shared_copy() {
    let Ok(shared) = std::fs::read(SHARED_SCHEMA) else {
        eprintln!("{SHARED_SCHEMA} not found; drift check skipped");
        return;
    };
    let vendored = std::fs::read(VENDORED_SCHEMA).unwrap();
    assert!(
        shared == vendored,
        "schema/adf-full.json differs from {SHARED_SCHEMA}"
    );
}

#[test]
fn vendored_schema_is_draft4_adf() {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(VENDORED_SCHEMA).unwrap()).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
    assert_eq!(schema["$ref"], "#/definitions/doc_node");
}

fn doc(content: Value) -> Value {
    json!({"version": 1, "type": "doc", "content": content})
}

#[test]
fn accepts_minimal_documents() {
    assert_eq!(validate(&doc(json!([]))), Ok(()));
    assert_eq!(
        validate(&doc(
            json!([{"type": "paragraph", "content": [{"type": "text", "text": "x"}]}])
        )),
        Ok(())
    );
}

#[test]
fn rejects_invalid_documents() {
    let text = |s: &str| json!({"type": "text", "text": s});
    let para = json!({"type": "paragraph", "content": [text("x")]});
    let cases = [
        ("not a doc", json!({"type": "paragraph"})),
        (
            "wrong version",
            json!({"version": 2, "type": "doc", "content": []}),
        ),
        (
            "empty text",
            doc(json!([{"type": "paragraph", "content": [text("")]}])),
        ),
        (
            "code with strong",
            doc(json!([{"type": "paragraph", "content": [
                {"type": "text", "text": "x", "marks": [{"type": "code"}, {"type": "strong"}]}
            ]}])),
        ),
        (
            "link without href",
            doc(json!([{"type": "paragraph", "content": [
                {"type": "text", "text": "x", "marks": [{"type": "link", "attrs": {}}]}
            ]}])),
        ),
        (
            "heading in list item",
            doc(
                json!([{"type": "bulletList", "content": [{"type": "listItem", "content": [
                    {"type": "heading", "attrs": {"level": 1}, "content": [text("x")]}
                ]}]}]),
            ),
        ),
        (
            "empty list item",
            doc(json!([{"type": "bulletList", "content": [{"type": "listItem", "content": []}]}])),
        ),
        (
            "empty list",
            doc(json!([{"type": "bulletList", "content": []}])),
        ),
        (
            "quote in quote",
            doc(
                json!([{"type": "blockquote", "content": [{"type": "blockquote", "content": [para]}]}]),
            ),
        ),
        (
            "rule in quote",
            doc(json!([{"type": "blockquote", "content": [{"type": "rule"}]}])),
        ),
        (
            "task list without localId",
            doc(json!([{"type": "taskList", "content": [
                {"type": "taskItem", "attrs": {"localId": "a", "state": "TODO"}}
            ]}])),
        ),
        (
            "task item with bad state",
            doc(
                json!([{"type": "taskList", "attrs": {"localId": "l"}, "content": [
                    {"type": "taskItem", "attrs": {"localId": "a", "state": "todo"}}
                ]}]),
            ),
        ),
        (
            "paragraph in task item",
            doc(
                json!([{"type": "taskList", "attrs": {"localId": "l"}, "content": [
                    {"type": "taskItem", "attrs": {"localId": "a", "state": "TODO"}, "content": [para]}
                ]}]),
            ),
        ),
        (
            "heading level 7",
            doc(json!([{"type": "heading", "attrs": {"level": 7}}])),
        ),
        (
            "code block with marked text",
            doc(json!([{"type": "codeBlock", "content": [
                {"type": "text", "text": "x", "marks": [{"type": "strong"}]}
            ]}])),
        ),
        (
            "hard break in code block",
            doc(json!([{"type": "codeBlock", "content": [{"type": "hardBreak"}]}])),
        ),
        (
            "table cell without content",
            doc(
                json!([{"type": "table", "content": [{"type": "tableRow", "content": [
                    {"type": "tableCell", "content": []}
                ]}]}]),
            ),
        ),
        (
            "negative order",
            doc(
                json!([{"type": "orderedList", "attrs": {"order": -1}, "content": [
                    {"type": "listItem", "content": [para]}
                ]}]),
            ),
        ),
    ];
    for (name, value) in cases {
        let errors = validate(&value).expect_err(name);
        assert!(!errors.is_empty(), "{name}");
        // Every message starts with the JSON pointer of the failing value.
        for e in &errors {
            assert!(e.starts_with('/') || e.starts_with("(root)"), "{name}: {e}");
        }
    }
}

#[test]
fn error_messages_point_at_the_failure() {
    let bad = doc(json!([
        {"type": "paragraph", "content": [{"type": "text", "text": "ok"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "ok"}, {"type": "text", "text": ""}]},
    ]));
    let errors = validate(&bad).unwrap_err();
    assert!(
        errors.iter().any(|e| e.starts_with("/content/1")),
        "{errors:?}"
    );
    // Long instances are cut short.
    let huge = doc(
        json!([{"type": "paragraph", "content": [{"type": "text", "text": "x".repeat(10_000)}], "bad": 1}]),
    );
    for e in validate(&huge).unwrap_err() {
        assert!(e.len() < 1_000, "{} chars", e.len());
    }
}

/// Compiled once: every validation uses the same compiled schema, so
/// repeated calls are cheap.
#[test]
fn repeated_validation_is_cheap() {
    let value = adf::from_markdown("# t\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |").to_value();
    validate(&value).unwrap();
    let first = common::schema::validator().unwrap();
    validate(&value).unwrap();
    let again = common::schema::validator().unwrap();
    assert!(std::ptr::eq(first, again), "the schema was compiled again");
}

#[cfg(feature = "validate")]
#[test]
fn public_validate_matches() {
    let good = adf::from_markdown("*x*").to_value();
    assert_eq!(adf::schema::validate(&good), Ok(()));
    let bad = doc(json!([{"type": "paragraph", "content": [{"type": "text", "text": ""}]}]));
    assert_eq!(adf::schema::validate(&bad), validate(&bad));
}
