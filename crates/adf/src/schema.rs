//! Validation against Atlassian's ADF JSON schema (draft-04), vendored in
//! `schema/adf-full.json` (see `schema/NOTICE`).
//!
//! This file is also compiled into the integration tests (via `#[path]`), so
//! that they validate without the `validate` feature; keep it free of
//! `crate::` paths.

use std::sync::OnceLock;

use serde_json::Value;

const SCHEMA: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/schema/adf-full.json"));

/// Longest message kept per error: `anyOf` failures quote the whole failing
/// node, which can be the whole document.
const MAX_MESSAGE: usize = 300;

/// The compiled validator, built once: compiling the schema takes far longer
/// than validating a typical document. `pub(crate)` for the tests that
/// check it is built once.
pub(crate) fn validator() -> Result<&'static jsonschema::Validator, &'static str> {
    static VALIDATOR: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let schema: Value = serde_json::from_str(SCHEMA)
                .map_err(|e| format!("vendored ADF schema is not JSON: {e}"))?;
            jsonschema::draft4::new(&schema)
                .map_err(|e| format!("vendored ADF schema does not compile: {e}"))
        })
        .as_ref()
        .map_err(String::as_str)
}

/// Validates a JSON value against Atlassian's ADF schema.
///
/// `Err` holds one message per violation, each starting with the JSON
/// pointer of the offending value (`(root)` for the document itself).
pub fn validate(doc: &Value) -> Result<(), Vec<String>> {
    let validator = validator().map_err(|e| vec![e.to_owned()])?;
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|error| {
            let pointer = error.instance_path.to_string();
            let pointer = if pointer.is_empty() {
                "(root)".to_owned()
            } else {
                pointer
            };
            let mut message = error.to_string();
            if message.len() > MAX_MESSAGE {
                let mut end = MAX_MESSAGE;
                while !message.is_char_boundary(end) {
                    end -= 1;
                }
                message.truncate(end);
                message.push('…');
            }
            format!("{pointer}: {message} (schema: {})", error.schema_path)
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
