//! The application core: the operations jira-action offers, and the one
//! pipeline every call goes through, whichever front door it came in by.
//!
//! A door (the Glean OpenAPI endpoint, the MCP endpoint, stdio) turns what
//! it received into a [`Request`]: who the call is for, the credentials,
//! the arguments as a JSON object. [`run`] does the rest. Nothing here
//! knows HTTP or MCP: a test holds that no module of this folder imports
//! axum, http, hyper or rmcp.

pub mod create_issue;
pub mod describe_project;
pub mod error;
pub mod identity;
mod pipeline;
pub mod schema;
pub mod submit;

use std::future::Future;

use secrecy::SecretString;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use create_issue::CreateIssue;
pub use describe_project::DescribeProject;
pub use error::{Error, Kind, Problem};
pub use pipeline::{Caller, Finished, Timing, run};

use crate::app::AppState;
use crate::config::Config;
use crate::store::AuditRecord;

/// Which front door a call came in by; the audit trail records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontDoor {
    /// `POST /create_issue`, Glean's OpenAPI tool.
    Glean,
    /// `/mcp` (Streamable HTTP) or `jira-action mcp` (stdio).
    Mcp,
}

impl FrontDoor {
    pub fn as_str(self) -> &'static str {
        match self {
            FrontDoor::Glean => "glean",
            FrontDoor::Mcp => "mcp",
        }
    }
}

/// How the door established that the caller may call at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authenticated {
    /// A valid `Glean-Tools-Signature`.
    GleanSignature,
    /// Signatures are not checked (`glean.allow_unsigned`).
    Unchecked,
    /// One of the configured MCP API keys.
    ApiKey,
    /// The person's own machine: `jira-action mcp` over stdio.
    Local,
    /// An access token the person got by signing in (OAuth, `/mcp`).
    SignIn,
}

impl Authenticated {
    /// The audit trail's `signature` column (kept under its first name).
    pub fn as_str(self) -> &'static str {
        match self {
            Authenticated::GleanSignature => "verified",
            Authenticated::Unchecked => "unchecked",
            Authenticated::ApiKey => "api_key",
            Authenticated::Local => "local",
            Authenticated::SignIn => "oauth",
        }
    }
}

/// Who the call is for, as the door knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// An email the door vouches for: Glean's signed header, the header
    /// beside an MCP API key, the stdio user. Validated and lowercased.
    Email(String),
    /// A person who signed in with Atlassian: the account is the reporter
    /// (no email search), the email is what the access rules see.
    Account { account_id: String, email: String },
}

impl Principal {
    /// The email the access rules and the idempotency identity use.
    pub fn email(&self) -> &str {
        match self {
            Principal::Email(email) | Principal::Account { email, .. } => email,
        }
    }

    /// The Jira account, when the door knows it.
    pub fn account_id(&self) -> Option<&str> {
        match self {
            Principal::Email(_) => None,
            Principal::Account { account_id, .. } => Some(account_id),
        }
    }
}

/// The Jira credentials a call uses.
pub enum Credentials {
    /// The server's own (api-token or oauth mode).
    Server,
    /// The caller's `Authorization`, forwarded as is (passthrough mode).
    Forwarded(SecretString),
    /// Passthrough mode, and the caller sent none.
    Missing,
}

/// One call, as a door hands it to the core. Each field that the door may
/// have failed to read is a `Result`, so that the core reports failures
/// in one order for every door (and audits them).
pub struct Request {
    pub door: FrontDoor,
    /// The MCP client's name, where it gave one.
    pub client: Option<String>,
    pub request_id: String,
    pub authenticated: Authenticated,
    pub principal: Result<Principal, Error>,
    pub credentials: Credentials,
    /// The caller's idempotency key, if it sent one.
    pub idempotency_key: Result<Option<String>, Error>,
    pub arguments: Result<Map<String, Value>, Error>,
    /// When the call must be answered by (set when it arrived, so reading
    /// its body counts); `None`: `limits.request_timeout` from now.
    pub deadline: Option<tokio::time::Instant>,
}

/// One operation of the tool: a typed input parsed from the arguments, a
/// typed output, and `run`, which knows nothing of transports.
pub trait Operation: Send + Sync + 'static {
    /// The tool's name (the MCP tool name, the audit record's `operation`).
    const NAME: &'static str;
    /// Writes are claimed (exactly once) and audited; reads are neither.
    const WRITES: bool;
    type Input: Send + Sync + 'static;
    type Output: Serialize + DeserializeOwned + Send + Sync + 'static;

    fn parse(arguments: Map<String, Value>) -> Result<Self::Input, Error>;

    /// What makes two calls the same request (writes only).
    fn canonical(_input: &Self::Input) -> Value {
        Value::Null
    }

    /// Notes what the audit record keeps of the input (writes only).
    fn note_input(_input: &Self::Input, _record: &mut AuditRecord, _config: &Config) {}

    /// Notes what the audit record keeps of the answer (writes only).
    fn note_output(_output: &Self::Output, _record: &mut AuditRecord) {}

    fn run(
        state: &AppState,
        caller: &Caller,
        input: Self::Input,
        record: &mut AuditRecord,
    ) -> impl Future<Output = Result<Self::Output, Error>> + Send;
}

/// The caller's email as a door read it, validated: one plain address.
/// `header` names where it came from, for the message.
pub fn parse_email(header: &str, value: Option<&str>) -> Result<String, Error> {
    let text = value.ok_or_else(|| Error::MissingUserEmail {
        header: header.to_owned(),
    })?;
    crate::glean::email::parse(text).map_err(|reason| Error::InvalidUserEmail {
        header: header.to_owned(),
        reason: reason.into(),
    })
}
