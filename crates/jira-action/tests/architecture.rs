//! The application core knows no transport: no module of `src/tools/`
//! names axum, http, hyper or rmcp, so every door (Glean's OpenAPI
//! endpoint, MCP over HTTP or stdio) goes through the same typed core.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::path::Path;

const FORBIDDEN: [&str; 5] = ["axum", "hyper", "rmcp", "tower", "http"];

/// The crate paths a line names: `axum::…`, `use http::…`, `crate::http…`.
fn named_crates(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or_default();
    let mut named = Vec::new();
    for (at, _) in code.match_indices("::") {
        let before = &code[..at];
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        named.push(before[start..].to_owned());
    }
    // `crate::http::…` reaches the HTTP door from inside the core.
    if code.contains("crate::http") || code.contains("crate::mcp") {
        named.push("crate::door".to_owned());
    }
    named
}

#[test]
fn the_core_imports_no_transport() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tools");
    let mut read = 0;
    let mut offences = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("src/tools exists") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        read += 1;
        let text = std::fs::read_to_string(&path).expect("readable");
        for (n, line) in text.lines().enumerate() {
            for name in named_crates(line) {
                if FORBIDDEN.contains(&name.as_str()) || name == "crate::door" {
                    offences.push(format!("{}:{}: {line}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(read >= 5, "only {read} files read in {}", dir.display());
    assert!(
        offences.is_empty(),
        "the core names a transport:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_check_sees_what_it_forbids() {
    assert!(named_crates("use axum::Json;").contains(&"axum".to_owned()));
    assert!(named_crates("    let x = http::StatusCode::OK;").contains(&"http".to_owned()));
    assert!(named_crates("use crate::http::Error;").contains(&"crate::door".to_owned()));
    // A comment that names a transport is not an import.
    assert!(!named_crates("use jira::JiraClient; // axum::Json").contains(&"axum".to_owned()));
}
