//! A request's identity for deduplication: the caller plus either the
//! caller's idempotency key or a hash of its normalised fields, so a
//! retried or double-clicked request is recognised whichever way it is
//! repeated, and through whichever front door. In passthrough mode the
//! forwarded credential's hash is part of it too: a repeat with another
//! `Authorization` is another request (Jira sees its credential), never
//! answered from the store with what the first credential got.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Error;
use crate::glean::contract::{AssigneeRef, CreateIssueInput, IdOrName, IssueRef, ProjectRef};
use crate::resolve::CacheScope;

/// The longest `Idempotency-Key` accepted (UUIDs and hashes fit easily).
const MAX_KEY_LEN: usize = 255;

/// A request's identity for deduplication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Hex SHA-256 of the caller and the key or the fields; the store's key
    /// and the `idempotencyKey` in the issue property.
    pub key: String,
    /// Hex SHA-256 of the normalised fields: tells a reused key apart.
    pub fingerprint: String,
}

impl Identity {
    /// `fields` is the operation's canonical form of its input; `scope`
    /// the credential's (shared for the server's own: then the identity is
    /// what it was before scopes existed).
    pub fn of(caller: &str, scope: &CacheScope, header: Option<&str>, fields: &Value) -> Identity {
        let fingerprint = hex(&Sha256::digest(fields.to_string().as_bytes()));
        let mut hasher = Sha256::new();
        hasher.update(b"jira-action/1\n");
        hasher.update(caller.as_bytes());
        if !scope.is_shared() {
            hasher.update(b"\ncredential\n");
            hasher.update(scope.as_bytes());
        }
        match header {
            Some(key) => {
                hasher.update(b"\nkey\n");
                hasher.update(key.as_bytes());
            }
            None => {
                hasher.update(b"\nfields\n");
                hasher.update(fingerprint.as_bytes());
            }
        }
        Identity {
            key: hex(&hasher.finalize()),
            fingerprint,
        }
    }
}

/// The error for an `Idempotency-Key` that is not one printable token.
pub fn invalid_key(message: &str) -> Error {
    Error::InvalidField {
        field: "Idempotency-Key",
        message: message.to_owned(),
    }
}

/// A caller's idempotency key: one printable ASCII token. Each door reads
/// it from where its callers put it (the `Idempotency-Key` header).
pub fn parse_key(given: &str) -> Result<String, Error> {
    let invalid = invalid_key;
    let text = given.trim();
    if text.is_empty() || text.len() > MAX_KEY_LEN || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "expected 1 to 255 printable ASCII characters without spaces",
        ));
    }
    Ok(text.to_owned())
}

/// The fields in a fixed order and form: what makes two requests "the same"
/// issue. Names compare case-insensitively (as Jira resolves them), and
/// components and labels are sets.
pub fn canonical(input: &CreateIssueInput) -> Value {
    let project = match &input.project {
        ProjectRef::Id(id) => json!(["id", id]),
        ProjectRef::Key(key) => json!(["key", key.to_uppercase()]),
    };
    let id_or_name = |v: &IdOrName| match v {
        IdOrName::Id(id) => json!(["id", id]),
        IdOrName::Name(name) => json!(["name", name.to_lowercase()]),
    };
    let mut components: Vec<String> = input
        .components
        .iter()
        .map(|c| id_or_name(c).to_string())
        .collect();
    components.sort();
    components.dedup();
    let mut labels = input.labels.clone();
    labels.sort();
    labels.dedup();
    let assignee = input.assignee.as_ref().map(|a| match a {
        AssigneeRef::Email(email) => json!(["email", email.to_lowercase()]),
        AssigneeRef::AccountId(id) => json!(["accountId", id]),
    });
    let parent = input.parent.as_ref().map(|p| match p {
        IssueRef::Id(id) => json!(["id", id]),
        IssueRef::Key(key) => json!(["key", key.to_uppercase()]),
    });
    json!([
        project,
        id_or_name(&input.issue_type),
        input.summary,
        input.priority,
        components,
        input.description,
        assignee,
        labels,
        input.duedate,
        parent,
    ])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHARED: CacheScope = CacheScope::SHARED;

    #[test]
    fn a_forwarded_credential_is_part_of_the_identity() {
        let a = input(r#"{"pid": "DEMO", "issuetype": "Task", "summary": "One"}"#);
        let one = CacheScope::of_credential("Bearer one");
        let other = CacheScope::of_credential("Bearer other");
        let of = |scope: &CacheScope| Identity::of("a@b.c", scope, Some("k"), &canonical(&a));
        assert_eq!(of(&one), of(&CacheScope::of_credential("Bearer one")));
        assert_ne!(of(&one).key, of(&other).key);
        assert_ne!(of(&one).key, of(&SHARED).key);
        assert_eq!(of(&one).fingerprint, of(&other).fingerprint);
    }

    fn input(body: &str) -> CreateIssueInput {
        CreateIssueInput::parse(body.as_bytes()).expect("valid input")
    }

    #[test]
    fn the_same_request_written_differently_is_the_same_identity() {
        let a = input(
            r#"{"pid": "DEMO", "issuetype": "Task", "summary": "Jam", "components": "A, B", "labels": ["x", "y"]}"#,
        );
        let b = input(
            r#"{"summary": " Jam ", "issuetype": "task", "pid": "demo", "components": "b,a", "labels": ["y", "x"]}"#,
        );
        assert_eq!(
            Identity::of("a@b.c", &SHARED, None, &canonical(&a)),
            Identity::of("a@b.c", &SHARED, None, &canonical(&b))
        );
        let other = input(r#"{"pid": "DEMO", "issuetype": "Task", "summary": "Jam!"}"#);
        assert_ne!(
            Identity::of("a@b.c", &SHARED, None, &canonical(&a)).key,
            Identity::of("a@b.c", &SHARED, None, &canonical(&other)).key
        );
        assert_ne!(
            Identity::of("a@b.c", &SHARED, None, &canonical(&a)).key,
            Identity::of("x@b.c", &SHARED, None, &canonical(&a)).key
        );
    }

    #[test]
    fn a_given_key_names_the_request_and_the_fields_tell_reuse() {
        let a = input(r#"{"pid": "DEMO", "issuetype": "Task", "summary": "One"}"#);
        let b = input(r#"{"pid": "DEMO", "issuetype": "Task", "summary": "Two"}"#);
        let ka = Identity::of("a@b.c", &SHARED, Some("k"), &canonical(&a));
        let kb = Identity::of("a@b.c", &SHARED, Some("k"), &canonical(&b));
        assert_eq!(ka.key, kb.key);
        assert_ne!(ka.fingerprint, kb.fingerprint);
        assert_ne!(
            ka.key,
            Identity::of("a@b.c", &SHARED, None, &canonical(&a)).key
        );
    }

    #[test]
    fn idempotency_keys_are_one_printable_token() {
        assert_eq!(parse_key("abc-123").ok().as_deref(), Some("abc-123"));
        assert!(parse_key("a b").is_err());
        assert!(parse_key("").is_err());
        assert!(parse_key(&"x".repeat(256)).is_err());
    }
}
