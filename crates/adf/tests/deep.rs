//! Pathologically deep input: no stack overflow, valid output, text kept.
//!
//! Conversion, serialization and drop run on a thread with a deliberately
//! small stack, to show they do not depend on the input's depth.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use serde_json::Value;

const SMALL_STACK: usize = 512 * 1024;

/// Converts on a small-stack thread; returns the JSON (validated here).
fn convert(input: String) -> Value {
    let value = std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || {
            let doc = adf::from_markdown(&input);
            let value = doc.to_value();
            let json = serde_json::to_string(&doc).unwrap();
            drop(doc);
            // The string form must parse back with serde_json's default
            // recursion limit (128).
            let reparsed: Value = serde_json::from_str(&json).unwrap();
            assert_eq!(reparsed, value);
            (input, value)
        })
        .unwrap()
        .join()
        .unwrap();
    let (input, value) = value;
    common::assert_valid(&value, &input[..input.len().min(200)]);
    assert!(
        common::json_depth(&value) < 100,
        "depth {}",
        common::json_depth(&value)
    );
    value
}

/// All text of the document, concatenated.
fn all_text(value: &Value) -> String {
    let mut out = String::new();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                if map.get("type").and_then(Value::as_str) == Some("text") {
                    out.push_str(map["text"].as_str().unwrap());
                }
                if let Some(Value::Array(items)) = map.get("content") {
                    stack.extend(items.iter().rev());
                }
            }
            Value::Array(items) => stack.extend(items.iter().rev()),
            _ => {}
        }
    }
    out
}

#[test]
fn ten_thousand_quotes() {
    let value = convert(format!("{}deep", ">".repeat(10_000)));
    assert_eq!(all_text(&value), "deep");
    // Nested quotes collapse into one.
    assert_eq!(value["content"][0]["type"], "blockquote");
    assert_eq!(value["content"][0]["content"][0]["type"], "paragraph");
}

#[test]
fn ten_thousand_nested_bullets() {
    let value = convert(format!("{}deep", "- ".repeat(10_000)));
    assert_eq!(all_text(&value), "deep");
}

#[test]
fn ten_thousand_nested_ordered_and_tasks() {
    let value = convert(format!("{}deep", "1. ".repeat(10_000)));
    assert_eq!(all_text(&value), "deep");
    let value = convert(format!("{}deep\n", "- [ ] ".repeat(5_000)));
    assert!(all_text(&value).ends_with("deep"));
}

#[test]
fn nested_by_indentation() {
    // 2,000 levels by indentation, one item per level, each with text.
    let mut input = String::new();
    for level in 0..2_000 {
        input.push_str(&"  ".repeat(level));
        input.push_str(&format!("- item{level}\n"));
    }
    let value = convert(input);
    let text = all_text(&value);
    for level in [0, 15, 16, 17, 1_999] {
        assert!(text.contains(&format!("item{level}")), "item{level} lost");
    }
}

#[test]
fn alternating_quotes_and_lists() {
    let value = convert(format!("{}x", "> - ".repeat(5_000)));
    assert_eq!(all_text(&value), "x");
    let value = convert(format!("{}x", "- > ".repeat(5_000)));
    assert_eq!(all_text(&value), "x");
}

#[test]
fn deep_inline_nesting() {
    let n = 10_000;
    let value = convert(format!("{}x{}", "*".repeat(n), "*".repeat(n)));
    assert!(all_text(&value).contains('x'));
    let value = convert(format!(
        "{}x{}",
        "[".repeat(n),
        "](http://a.example)".repeat(n)
    ));
    assert!(all_text(&value).contains('x'));
    let value = convert(format!(
        "{}x{}",
        "![".repeat(n),
        "](http://a.example)".repeat(n)
    ));
    assert!(all_text(&value).contains('x'));
    // An unmatched backtick run is literal text.
    let ticks = format!("x{}", "`".repeat(n));
    let value = convert(ticks.clone());
    assert!(all_text(&value) == ticks);
}

/// Lists up to the depth cap keep their structure; deeper ones flatten into
/// the deepest item, task boxes kept as text.
#[test]
fn depth_cap_boundary() {
    fn list_depth(value: &Value) -> usize {
        let mut max = 0;
        let mut stack = vec![(value, 0usize)];
        while let Some((v, d)) = stack.pop() {
            match v {
                Value::Object(map) => {
                    let ty = map.get("type").and_then(Value::as_str).unwrap_or("");
                    let d = if matches!(ty, "bulletList" | "orderedList" | "taskList") {
                        d + 1
                    } else {
                        d
                    };
                    max = max.max(d);
                    stack.extend(map.values().map(|c| (c, d)));
                }
                Value::Array(items) => stack.extend(items.iter().map(|c| (c, d))),
                _ => {}
            }
        }
        max
    }
    let nested = |levels: usize, leaf: &str| {
        let mut s = String::new();
        for level in 0..levels {
            s.push_str(&"  ".repeat(level));
            s.push_str(&format!("- l{level}\n"));
        }
        s.push_str(&"  ".repeat(levels));
        s.push_str(leaf);
        s
    };
    let value = convert(nested(15, "- leaf"));
    assert_eq!(list_depth(&value), 16);
    let value = convert(nested(16, "- leaf"));
    assert_eq!(list_depth(&value), 16);
    assert!(
        all_text(&value).ends_with("l15leaf"),
        "{}",
        all_text(&value)
    );
    let value = convert(nested(20, "- [x] done"));
    assert_eq!(list_depth(&value), 16);
    assert!(
        all_text(&value).ends_with("[x] done"),
        "{}",
        all_text(&value)
    );
}

#[test]
fn large_table() {
    let mut input = String::from("| a | b | c |\n|---|---|---|\n");
    for i in 0..5_000 {
        input.push_str(&format!("| {i} | *{i}* | [{i}](https://x.example/{i}) |\n"));
    }
    let value = convert(input);
    assert_eq!(
        value["content"][0]["content"].as_array().unwrap().len(),
        5_001
    );
}
