//! What each request leaves behind: its idempotency identity and its
//! audit record.
//!
//! A request's identity is the caller plus either the `Idempotency-Key`
//! header or a hash of its normalised fields, so a retried or double-clicked
//! request is recognised whichever way it is repeated. Its audit record is
//! filled in as the request goes and written once, when it ends.

use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Error, REQUEST_ID};
use crate::app::AppState;
use crate::glean::contract::{AssigneeRef, CreateIssueInput, IdOrName, IssueRef, ProjectRef};
use crate::store::{self, AuditRecord, Claim, ClaimRequest, Finish};

/// The header a caller may send to name a request across its retries.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

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
    pub fn of(caller: &str, header: Option<&str>, input: &CreateIssueInput) -> Identity {
        let fingerprint = hex(&Sha256::digest(canonical(input).to_string().as_bytes()));
        let mut hasher = Sha256::new();
        hasher.update(b"jira-action/1\n");
        hasher.update(caller.as_bytes());
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

/// The `Idempotency-Key` header, if given: one printable ASCII token.
pub fn idempotency_header(headers: &HeaderMap) -> Result<Option<String>, Error> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = |message: &str| Error::InvalidField {
        field: "Idempotency-Key",
        message: message.to_owned(),
    };
    if values.next().is_some() {
        return Err(invalid("the header is repeated"));
    }
    let text = value
        .to_str()
        .map_err(|_| invalid("not printable ASCII"))?
        .trim();
    if text.is_empty() || text.len() > MAX_KEY_LEN || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "expected 1 to 255 printable ASCII characters without spaces",
        ));
    }
    Ok(Some(text.to_owned()))
}

/// The fields in a fixed order and form: what makes two requests "the same"
/// issue. Names compare case-insensitively (as Jira resolves them), and
/// components and labels are sets.
fn canonical(input: &CreateIssueInput) -> Value {
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

/// What a claimed identity lets the request do.
pub enum Go {
    /// Create the issue; `recovering` when an earlier attempt may have
    /// reached Jira, so the issue is looked for first.
    Ahead { recovering: bool },
    /// Answer what the first request answered.
    Replay(Value),
}

/// A request's audit record in the making, and its claim if it holds one.
pub struct Trace {
    pub record: AuditRecord,
    started: Instant,
    /// The identity this request holds, and the token that proves it.
    claimed: Option<(String, String)>,
    /// Time spent waiting on the store (claims, the record's write).
    in_store: Duration,
}

impl Trace {
    pub fn new(headers: &HeaderMap, signature: &str) -> Trace {
        let at_ms = store::now_ms();
        Trace {
            record: AuditRecord {
                // Time-ordered (v7): records go in at the end of the
                // primary key's index instead of on a random page of it
                // (which, over months of retained records, is rarely in
                // cache). WAL frames per commit did not change in the bench:
                // a commit dirties one page of the index either way.
                id: uuid::Uuid::now_v7().to_string(),
                at_ms,
                at: store::rfc3339(at_ms),
                request_id: request_id(headers),
                caller: super::create_issue::caller_email(headers).ok(),
                signature: signature.to_owned(),
                outcome: "refused".to_owned(),
                ..AuditRecord::default()
            },
            started: Instant::now(),
            claimed: None,
            in_store: Duration::ZERO,
        }
    }

    /// Notes the input's summary (and description, when configured).
    pub fn input(&mut self, state: &AppState, input: &CreateIssueInput) {
        self.record.summary = Some(input.summary.clone());
        if state.config.audit.record_descriptions {
            self.record.description = input.description.clone();
        }
    }

    /// Claims the identity, waiting (bounded) while another request holds
    /// it; refuses a reused key, and a request still in progress past the
    /// bound.
    pub async fn claim(
        &mut self,
        state: &AppState,
        caller: &str,
        identity: &Identity,
    ) -> Result<Go, Error> {
        self.record.idempotency_key = Some(identity.key.clone());
        let owner = uuid::Uuid::new_v4().to_string();
        let request = ClaimRequest {
            key: &identity.key,
            caller,
            fingerprint: &identity.fingerprint,
            owner: &owner,
            lease: state.config.lease(),
            window: window(state),
        };
        let bound = Duration::from_millis(state.config.store.wait_for_in_progress_ms);
        let waiting = Instant::now();
        let mut pause = Duration::from_millis(25);
        loop {
            let asked = Instant::now();
            let claim = state.store.claim(&request).await;
            self.in_store += asked.elapsed();
            match claim.map_err(store_error)? {
                Claim::Claimed { recovering } => {
                    self.claimed = Some((identity.key.clone(), owner));
                    return Ok(Go::Ahead { recovering });
                }
                Claim::Done { answer, .. } => {
                    let answer: Value = serde_json::from_str(&answer)
                        .map_err(|e| Error::Internal(format!("stored answer: {e}")))?;
                    self.record.outcome = "replayed".to_owned();
                    return Ok(Go::Replay(answer));
                }
                Claim::Reused => return Err(Error::IdempotencyKeyReused),
                Claim::Pending if waiting.elapsed() >= bound => {
                    return Err(Error::RequestInProgress);
                }
                Claim::Pending => {
                    tokio::time::sleep(pause.min(bound.saturating_sub(waiting.elapsed()))).await;
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
            }
        }
    }

    /// Writes the record (and ends the claim) once the answer is known,
    /// and says how long the request waited on the store in all.
    /// A failure here is logged, never turned into the caller's answer:
    /// the issue exists or it does not, whatever the store says.
    pub async fn finish(
        mut self,
        state: &AppState,
        result: &Result<Value, Error>,
        jira_calls: u32,
    ) -> Duration {
        let record = &mut self.record;
        let finish = match result {
            Ok(answer) => {
                record.status = 200;
                if record.outcome != "replayed" {
                    record.outcome = "created".to_owned();
                }
                record.issue_key = answer["key"].as_str().map(str::to_owned);
                record.issue_url = answer["resultURL"].as_str().map(str::to_owned);
                Finish::Done {
                    status: 200,
                    answer: answer.to_string(),
                }
            }
            Err(error) => {
                record.status = i64::from(error.status().as_u16());
                record.error = Some(error.code().to_owned());
                record.outcome = "refused".to_owned();
                if outcome_unknown(error) {
                    Finish::Uncertain
                } else {
                    Finish::Release
                }
            }
        };
        self.write(state, &finish, jira_calls).await
    }

    /// The caller hung up before the answer: whether the create was sent
    /// is unknown, so the next attempt looks before creating.
    pub async fn abandoned(mut self, state: &AppState, jira_calls: u32) {
        self.record.status = 499;
        self.record.error = Some("client_closed".to_owned());
        self.record.outcome = "refused".to_owned();
        self.write(state, &Finish::Uncertain, jira_calls).await;
    }

    async fn write(mut self, state: &AppState, finish: &Finish, jira_calls: u32) -> Duration {
        let asked = Instant::now();
        let record = &mut self.record;
        record.latency_ms = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        record.jira_calls = i64::from(jira_calls);
        let written = match &self.claimed {
            Some((key, owner)) => state
                .store
                .finish(key, owner, finish, window(state), record)
                .await
                .map(|held| {
                    if !held {
                        tracing::warn!(
                            "the idempotency claim was taken over before the request ended"
                        );
                    }
                }),
            None => state.store.record(record).await,
        };
        if let Err(err) = written {
            tracing::error!(cause = %err, "cannot write the audit record");
        }
        self.in_store + asked.elapsed()
    }
}

/// Whether Jira may have created the issue although the request failed.
fn outcome_unknown(error: &Error) -> bool {
    match error {
        Error::Timeout => true,
        Error::Jira(err) => err.outcome_unknown(),
        _ => false,
    }
}

fn window(state: &AppState) -> Duration {
    Duration::from_secs(state.config.store.idempotency_window_secs)
}

pub(super) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn store_error(err: store::StoreError) -> Error {
    Error::StoreUnavailable(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            Identity::of("a@b.c", None, &a),
            Identity::of("a@b.c", None, &b)
        );
        let other = input(r#"{"pid": "DEMO", "issuetype": "Task", "summary": "Jam!"}"#);
        assert_ne!(
            Identity::of("a@b.c", None, &a).key,
            Identity::of("a@b.c", None, &other).key
        );
        assert_ne!(
            Identity::of("a@b.c", None, &a).key,
            Identity::of("x@b.c", None, &a).key
        );
    }

    #[test]
    fn a_given_key_names_the_request_and_the_fields_tell_reuse() {
        let a = input(r#"{"pid": "DEMO", "issuetype": "Task", "summary": "One"}"#);
        let b = input(r#"{"pid": "DEMO", "issuetype": "Task", "summary": "Two"}"#);
        let ka = Identity::of("a@b.c", Some("k"), &a);
        let kb = Identity::of("a@b.c", Some("k"), &b);
        assert_eq!(ka.key, kb.key);
        assert_ne!(ka.fingerprint, kb.fingerprint);
        assert_ne!(ka.key, Identity::of("a@b.c", None, &a).key);
    }

    #[test]
    fn idempotency_keys_are_one_printable_token() {
        let mut headers = HeaderMap::new();
        assert_eq!(idempotency_header(&headers).ok(), Some(None));
        headers.insert(IDEMPOTENCY_KEY, "abc-123".parse().expect("value"));
        assert_eq!(
            idempotency_header(&headers).ok().flatten().as_deref(),
            Some("abc-123")
        );
        headers.insert(IDEMPOTENCY_KEY, "a b".parse().expect("value"));
        assert!(idempotency_header(&headers).is_err());
        headers.insert(IDEMPOTENCY_KEY, "x".repeat(256).parse().expect("value"));
        assert!(idempotency_header(&headers).is_err());
    }
}
