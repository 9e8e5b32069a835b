//! Shared test helpers.
//!
//! The crate's own validator source is compiled in here (jsonschema is also
//! a dev-dependency), so schema tests run under a plain `cargo test` — they
//! never depend on the `validate` feature being switched on.

#![allow(dead_code)] // each test crate uses a different subset

use std::collections::HashSet;

use serde_json::Value;

#[path = "../../src/schema.rs"]
pub mod schema;

/// Asserts that `doc` is valid ADF: against the JSON schema, and for the
/// editor rules the schema cannot express (see `check_editor_rules`).
#[track_caller]
pub fn assert_valid(doc: &Value, input: &str) {
    if let Err(errors) = schema::validate(doc) {
        panic!(
            "invalid ADF for input {input:?}:\n{}\n{}",
            errors.join("\n"),
            serde_json::to_string_pretty(doc).unwrap()
        );
    }
    // The public API (feature `validate`) must agree with the copy compiled
    // into the tests.
    #[cfg(feature = "validate")]
    assert_eq!(adf::schema::validate(doc), Ok(()));
    if let Err(e) = check_editor_rules(doc) {
        panic!(
            "ADF breaks an editor rule for input {input:?}: {e}\n{}",
            serde_json::to_string_pretty(doc).unwrap()
        );
    }
}

/// Rules beyond the JSON schema, walked iteratively (docs may be deep):
/// no empty text nodes, no NUL in text; `localId`s unique; a `listItem` starts with a
/// paragraph or code block; a `taskList` starts with a `taskItem`; JSON
/// nesting stays below serde_json's parse limit of 128.
pub fn check_editor_rules(doc: &Value) -> Result<(), String> {
    let mut ids = HashSet::new();
    let mut stack = vec![(doc, 1usize, String::new())];
    while let Some((value, depth, path)) = stack.pop() {
        if depth >= 100 {
            return Err(format!("{path}: JSON nested {depth} deep"));
        }
        match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    stack.push((item, depth + 1, format!("{path}/{i}")));
                }
            }
            Value::Object(map) => {
                let ty = map.get("type").and_then(Value::as_str).unwrap_or("");
                let first = map
                    .get("content")
                    .and_then(|c| c.get(0))
                    .and_then(|c| c.get("type"))
                    .and_then(Value::as_str);
                let text = map.get("text").and_then(Value::as_str).unwrap_or("");
                match ty {
                    "text" if text.is_empty() => return Err(format!("{path}: empty text node")),
                    "text" if text.contains('\0') => return Err(format!("{path}: NUL in text")),
                    "listItem" if !matches!(first, Some("paragraph" | "codeBlock")) => {
                        return Err(format!("{path}: listItem starts with {first:?}"));
                    }
                    "taskList" if first != Some("taskItem") => {
                        return Err(format!("{path}: taskList starts with {first:?}"));
                    }
                    _ => {}
                }
                if let Some(id) = map
                    .get("attrs")
                    .and_then(|a| a.get("localId"))
                    .and_then(Value::as_str)
                    && !ids.insert(id.to_owned())
                {
                    return Err(format!("{path}: duplicate localId {id:?}"));
                }
                for (key, child) in map {
                    stack.push((child, depth + 1, format!("{path}/{key}")));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Converts with both functions' output checked; returns the JSON.
#[track_caller]
pub fn markdown(input: &str) -> Value {
    let value = adf::from_markdown(input).to_value();
    assert_valid(&value, input);
    value
}

#[track_caller]
pub fn plain(input: &str) -> Value {
    let value = adf::from_plain_text(input).to_value();
    assert_valid(&value, input);
    value
}

/// Depth of the JSON value, iteratively.
pub fn json_depth(value: &Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, d + 1))),
            _ => {}
        }
    }
    max
}
