//! The one error type of the application core. Every failure a caller can
//! see is a variant here, with a stable `error` code, a [`Kind`] that each
//! front door maps to its own signal (an HTTP status, an MCP tool error),
//! and a message a person can act on. Internal causes are logged, never
//! returned.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// What sort of failure, independent of the transport: the Glean door
/// maps it to an HTTP status, the MCP door reports it in a tool result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The request cannot work as sent (400).
    Invalid,
    /// No or refused credentials (401).
    Unauthenticated,
    /// The access rules or Jira forbid it (403).
    Forbidden,
    NotFound,
    /// Ambiguous, or clashing with an earlier request (409).
    Conflict,
    TooLarge,
    RateLimited,
    /// Jira failed (502).
    Upstream,
    /// jira-action cannot serve it now; retry shortly (503).
    Unavailable,
    /// Took too long (504).
    Timeout,
    /// The caller sent too slowly: its body did not arrive in time (408).
    SlowCaller,
    Internal,
}

impl Kind {
    /// The HTTP status the Glean door answers with; also what the audit
    /// trail records for every door, so one query covers both.
    pub fn status(self) -> u16 {
        match self {
            Kind::Invalid => 400,
            Kind::Unauthenticated => 401,
            Kind::Forbidden => 403,
            Kind::NotFound => 404,
            Kind::Conflict => 409,
            Kind::TooLarge => 413,
            Kind::RateLimited => 429,
            Kind::Internal => 500,
            Kind::Upstream => 502,
            Kind::Unavailable => 503,
            Kind::Timeout => 504,
            Kind::SlowCaller => 408,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("caller not allowed")]
    CallerNotAllowed,
    #[error("project {0} not allowed")]
    ProjectNotAllowed(String),
    #[error("the {header} header is missing")]
    MissingUserEmail { header: String },
    #[error("the {header} header is not one plain email address: {reason}")]
    InvalidUserEmail { header: String, reason: String },
    #[error("no Authorization header to forward to Jira")]
    MissingCredentials,
    #[error("the body must be JSON (Content-Type: application/json)")]
    InvalidContentType,
    #[error("the request body is empty")]
    EmptyBody,
    #[error("the body is not a JSON object: {0}")]
    InvalidJson(String),
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("unknown field `{0}`")]
    UnknownField(String),
    #[error("the field `{0}` is required")]
    MissingField(&'static str),
    #[error("invalid `{field}`: {message}")]
    InvalidField {
        field: &'static str,
        message: String,
    },
    #[error("no project {given:?}")]
    ProjectNotFound { given: String, choices: Vec<String> },
    #[error("no issue type {given:?} in project {project}")]
    IssueTypeNotFound {
        given: String,
        project: String,
        choices: Vec<String>,
    },
    #[error("no component {given:?} in project {project}")]
    ComponentNotFound {
        given: String,
        project: String,
        choices: Vec<String>,
    },
    #[error("{} field problems", .0.len())]
    InvalidFields(Vec<crate::resolve::fields::Problem>),
    #[error("the reporter cannot be set in {0}")]
    ReporterNotSettable(String),
    #[error("no active Jira user has the email {0}")]
    ReporterNotFound(String),
    #[error("several Jira users match {email}")]
    ReporterAmbiguous {
        email: String,
        candidates: Vec<String>,
    },
    #[error("no active Jira user matches assignee {0}")]
    AssigneeNotFound(String),
    #[error("several Jira users match assignee {given}")]
    AssigneeAmbiguous {
        given: String,
        candidates: Vec<String>,
    },
    #[error(transparent)]
    Jira(#[from] jira::Error),
    #[error("the request took too long")]
    Timeout,
    /// A create was sent and its outcome is unknown (or an earlier
    /// attempt's still is): it is not sent again until the issue can be
    /// looked for, `retry_after_secs` from now.
    #[error("the create's outcome is unknown; retry in {retry_after_secs} s")]
    OutcomeUnknown { retry_after_secs: u64 },
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    #[error("a request with the same identity is still in progress")]
    RequestInProgress,
    #[error("the Idempotency-Key was used before with different fields")]
    IdempotencyKeyReused,
    #[error("the store is unavailable: {0}")]
    StoreUnavailable(String),
    #[error("the OAuth connection needs consent again")]
    OAuthReconsentNeeded,
    #[error("the OAuth access token could not be renewed: {0}")]
    OAuthRefreshFailed(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::oauth::TokenError> for Error {
    fn from(err: crate::oauth::TokenError) -> Error {
        use crate::oauth::TokenError as T;
        match err {
            T::NotConnected | T::ReconsentNeeded => Error::OAuthReconsentNeeded,
            T::Store(err) => Error::StoreUnavailable(err.to_string()),
            other @ (T::Refresh(_) | T::RefreshTimeout | T::Crypto(_)) => {
                Error::OAuthRefreshFailed(other.to_string())
            }
        }
    }
}

/// An error as a caller sees it: `{"error": code, "message": sentence, ...details}`.
#[derive(Clone, Debug)]
pub struct Problem {
    pub kind: Kind,
    pub code: &'static str,
    pub message: String,
    pub details: Map<String, Value>,
    /// When a retry may succeed (rate limits, an outcome being confirmed).
    pub retry_after_secs: Option<u64>,
}

impl Problem {
    fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            kind,
            code,
            message: message.into(),
            details: Map::new(),
            retry_after_secs: None,
        }
    }

    fn with(mut self, key: &str, value: impl Into<Value>) -> Problem {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    fn retry_after(mut self, seconds: u64) -> Problem {
        self.retry_after_secs = Some(seconds);
        self
    }

    /// The body both doors send: code, message, then the details.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("error".into(), self.code.into());
        object.insert("message".into(), self.message.clone().into());
        object.extend(self.details.clone());
        Value::Object(object)
    }
}

impl Error {
    /// The stable code callers and alerts key on (see the README's table).
    pub fn code(&self) -> &'static str {
        self.problem().code
    }

    pub fn kind(&self) -> Kind {
        self.problem().kind
    }

    pub fn problem(&self) -> Problem {
        match self {
            Error::CallerNotAllowed => Problem::new(
                Kind::Forbidden,
                "caller_not_allowed",
                "You are not on the list of people allowed to file Jira issues through this tool; ask its administrator.",
            ),
            Error::ProjectNotAllowed(project) => Problem::new(
                Kind::Forbidden,
                "project_not_allowed",
                format!("This tool may not file issues in project {project}; ask its administrator."),
            )
            .with("field", "pid"),
            Error::MissingUserEmail { header } => Problem::new(
                Kind::Invalid,
                "missing_user_email",
                format!("The {header} header is missing: it names the person the issue is filed for."),
            ),
            Error::InvalidUserEmail { header, reason } => Problem::new(
                Kind::Invalid,
                "invalid_user_email",
                format!("The {header} header must be one plain email address ({reason})."),
            ),
            Error::MissingCredentials => Problem::new(
                Kind::Unauthenticated,
                "missing_credentials",
                "No Authorization header: configure the tool's authentication in Glean so that it sends the Jira token.",
            ),
            Error::InvalidContentType => Problem::new(
                Kind::Invalid,
                "invalid_content_type",
                "Send the fields as a JSON object with Content-Type: application/json.",
            ),
            Error::EmptyBody => Problem::new(
                Kind::Invalid,
                "empty_body",
                "The request body is empty: send a JSON object with at least pid, issuetype and summary.",
            ),
            Error::InvalidJson(reason) => Problem::new(
                Kind::Invalid,
                "invalid_json",
                format!("The request body is not a valid JSON object: {reason}."),
            ),
            Error::PayloadTooLarge(limit) => Problem::new(
                Kind::TooLarge,
                "payload_too_large",
                format!("The request body is larger than {limit} bytes; shorten the description."),
            ),
            Error::UnknownField(field) => Problem::new(
                Kind::Invalid,
                "unknown_field",
                format!("Unknown field `{field}`. Known fields: {}.", crate::glean::contract::FIELD_NAMES.join(", ")),
            )
            .with("field", field.as_str()),
            Error::MissingField(field) => Problem::new(
                Kind::Invalid,
                "missing_field",
                format!("The field `{field}` is required."),
            )
            .with("field", *field),
            Error::InvalidField { field, message } => Problem::new(
                Kind::Invalid,
                "invalid_field",
                format!("Invalid `{field}`: {message}"),
            )
            .with("field", *field),
            Error::ProjectNotFound { given, choices } => Problem::new(
                Kind::Invalid,
                "project_not_found",
                format!("No project {given:?} is visible to jira-action. {}", choices_sentence(choices)),
            )
            .with("field", "pid")
            .with("choices", choices.clone()),
            Error::IssueTypeNotFound { given, project, choices } => Problem::new(
                Kind::Invalid,
                "issuetype_not_found",
                format!("Project {project} has no issue type {given:?}. {}", choices_sentence(choices)),
            )
            .with("field", "issuetype")
            .with("choices", choices.clone()),
            Error::ComponentNotFound { given, project, choices } => Problem::new(
                Kind::Invalid,
                "component_not_found",
                format!("Project {project} has no component {given:?}. {}", choices_sentence(choices)),
            )
            .with("field", "components")
            .with("choices", choices.clone()),
            Error::InvalidFields(problems) => Problem::new(
                Kind::Invalid,
                "invalid_fields",
                format!(
                    "Jira would refuse these fields: {}.",
                    problems.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("; ")
                ),
            )
            .with("problems", serde_json::to_value(problems).unwrap_or_default()),
            Error::ReporterNotSettable(project) => Problem::new(
                Kind::Forbidden,
                "reporter_not_settable",
                format!(
                    "Jira does not let this tool set the reporter in {project}, so the issue cannot be filed in your name. A Jira admin must add the Reporter field to the project's create screen and grant the tool's account the Modify Reporter permission."
                ),
            ),
            Error::ReporterNotFound(email) => Problem::new(
                Kind::Invalid,
                "reporter_not_found",
                format!("No active Jira user was found for {email}, so the issue cannot be filed in their name. Check that they have a Jira account with this email, or that jira-action may browse users."),
            ),
            Error::ReporterAmbiguous { email, candidates } => Problem::new(
                Kind::Conflict,
                "reporter_ambiguous",
                format!("Several Jira users match {email} ({}); a Jira admin should make the email visible or unique.", candidates.join(", ")),
            )
            .with("candidates", candidates.clone()),
            Error::AssigneeNotFound(given) => Problem::new(
                Kind::Invalid,
                "assignee_not_found",
                format!("No active Jira user matches the assignee {given:?}; give their email or account id."),
            )
            .with("field", "assignee"),
            Error::AssigneeAmbiguous { given, candidates } => Problem::new(
                Kind::Conflict,
                "assignee_ambiguous",
                format!("Several Jira users match the assignee {given:?} ({}); give the exact email or account id.", candidates.join(", ")),
            )
            .with("field", "assignee")
            .with("candidates", candidates.clone()),
            Error::Jira(err) => jira_body(err),
            Error::Timeout => Problem::new(
                Kind::Timeout,
                "timeout",
                "The request took too long; if it was a create, it may still have happened. Retrying is safe.",
            ),
            Error::OutcomeUnknown { retry_after_secs } => Problem::new(
                Kind::Timeout,
                "jira_outcome_unknown",
                format!(
                    "Jira did not confirm the create in time, so the issue may or may not exist yet; it will not be created twice. Retry the same request in {retry_after_secs} seconds to get the issue (or have it created then if it does not exist)."
                ),
            )
            .with("retry_after_seconds", *retry_after_secs)
            .retry_after(*retry_after_secs),
            Error::BodyTimeout => Problem::new(
                Kind::SlowCaller,
                "request_timeout",
                "The request body did not arrive within the request timeout; nothing was created. Send the whole request at once.",
            ),
            Error::RequestInProgress => Problem::new(
                Kind::Conflict,
                "request_in_progress",
                "The same request is still being processed; try again in a few seconds to get its result.",
            ),
            Error::IdempotencyKeyReused => Problem::new(
                Kind::Conflict,
                "idempotency_key_reused",
                "This Idempotency-Key was already used for a request with different fields; use a new key for a new request.",
            ),
            Error::StoreUnavailable(_) => Problem::new(
                Kind::Unavailable,
                "store_unavailable",
                "jira-action cannot reach its database, so it cannot guarantee the issue is created only once; nothing was created. Try again shortly.",
            ),
            Error::OAuthReconsentNeeded => Problem::new(
                Kind::Unavailable,
                "oauth_reconsent_needed",
                "jira-action's connection to Jira was revoked or has expired, so nothing was created. A Jira admin must run `jira-action oauth login` to connect it again.",
            ),
            Error::OAuthRefreshFailed(_) => Problem::new(
                Kind::Upstream,
                "oauth_refresh_failed",
                "jira-action could not renew its Jira access token, so nothing was created. Try again shortly.",
            ),
            Error::Internal(_) => Problem::new(
                Kind::Internal,
                "internal",
                "jira-action failed unexpectedly; the operator can find the cause in its log by the request id.",
            ),
        }
    }
}

fn jira_body(err: &jira::Error) -> Problem {
    match err {
        jira::Error::Api { status, body, .. } => match status {
            401 => Problem::new(
                Kind::Unauthenticated,
                "jira_unauthorized",
                "Jira refused the credentials; the Jira token may have expired or been revoked. Reconnect the tool's account.",
            ),
            403 => Problem::new(
                Kind::Forbidden,
                "jira_forbidden",
                format!(
                    "Jira does not allow this: {}",
                    or_default(&body.summary(), "permission denied")
                ),
            ),
            400 | 404 | 422 => {
                let fields: BTreeMap<&String, &String> = body.errors.iter().collect();
                Problem::new(
                    Kind::Invalid,
                    "jira_rejected",
                    format!(
                        "Jira rejected the issue: {}",
                        or_default(&body.summary(), "no reason given")
                    ),
                )
                .with("fields", json!(fields))
            }
            429 => Problem::new(
                Kind::RateLimited,
                "jira_rate_limited",
                "Jira is rate limiting; try again shortly.",
            ),
            _ => Problem::new(
                Kind::Upstream,
                "jira_error",
                format!("Jira failed with status {status}; try again later."),
            ),
        },
        jira::Error::RateLimited { retry_after } => Problem::new(
            Kind::RateLimited,
            "jira_rate_limited",
            format!(
                "Jira is rate limiting; try again in {} seconds.",
                retry_after.as_secs().max(1)
            ),
        )
        .with("retry_after_seconds", retry_after.as_secs().max(1))
        .retry_after(retry_after.as_secs().max(1)),
        jira::Error::Timeout => Problem::new(
            Kind::Timeout,
            "jira_timeout",
            "Jira did not answer in time; try again later.",
        ),
        jira::Error::Connect(_) | jira::Error::Transport(_) | jira::Error::Decode(_) => {
            Problem::new(
                Kind::Upstream,
                "jira_unavailable",
                "Jira could not be reached or answered unexpectedly; try again later.",
            )
        }
        jira::Error::Url(_) | jira::Error::SiteNotAccessible(_) => Problem::new(
            Kind::Upstream,
            "jira_misconfigured",
            "jira-action cannot address the configured Jira site; the operator must check its configuration.",
        ),
    }
}

fn or_default<'a>(text: &'a str, default: &'a str) -> &'a str {
    if text.is_empty() { default } else { text }
}

fn choices_sentence(choices: &[String]) -> String {
    if choices.is_empty() {
        "No valid choices are visible.".to_owned()
    } else {
        format!("Valid choices: {}.", choices.join(", "))
    }
}

impl Error {
    /// Whether Jira may have created the issue although the call failed:
    /// then the claim stays uncertain and the next attempt looks first.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Error::Timeout | Error::OutcomeUnknown { .. } => true,
            Error::Jira(err) => err.outcome_unknown(),
            _ => false,
        }
    }

    /// Whether this attempt may have sent a create that is still landing:
    /// then its repeats wait `jira.outcome_settle` before looking.
    pub fn settles(&self) -> bool {
        matches!(self, Error::Timeout | Error::OutcomeUnknown { .. })
    }
}

impl Error {
    /// One error of each variant, and of each code the Jira variant maps
    /// to: every `error` code the core can answer with is the code of one
    /// of these (the docs test holds `docs/errors.md` to them;
    /// `every_variant_has_a_sample` holds them to the enum).
    pub fn samples() -> Vec<Error> {
        let api = |status| {
            Error::Jira(jira::Error::Api {
                status,
                body: jira::ErrorBody::default(),
                retry_after: None,
            })
        };
        let text = || "sample".to_owned();
        vec![
            Error::CallerNotAllowed,
            Error::ProjectNotAllowed(text()),
            Error::MissingUserEmail { header: text() },
            Error::InvalidUserEmail {
                header: text(),
                reason: text(),
            },
            Error::MissingCredentials,
            Error::InvalidContentType,
            Error::EmptyBody,
            Error::InvalidJson(text()),
            Error::PayloadTooLarge(1),
            Error::UnknownField(text()),
            Error::MissingField("summary"),
            Error::InvalidField {
                field: "summary",
                message: text(),
            },
            Error::ProjectNotFound {
                given: text(),
                choices: Vec::new(),
            },
            Error::IssueTypeNotFound {
                given: text(),
                project: text(),
                choices: Vec::new(),
            },
            Error::ComponentNotFound {
                given: text(),
                project: text(),
                choices: Vec::new(),
            },
            Error::InvalidFields(Vec::new()),
            Error::ReporterNotSettable(text()),
            Error::ReporterNotFound(text()),
            Error::ReporterAmbiguous {
                email: text(),
                candidates: Vec::new(),
            },
            Error::AssigneeNotFound(text()),
            Error::AssigneeAmbiguous {
                given: text(),
                candidates: Vec::new(),
            },
            api(400),
            api(401),
            api(403),
            api(404),
            api(422),
            api(429),
            api(500),
            Error::Jira(jira::Error::RateLimited {
                retry_after: std::time::Duration::from_secs(1),
            }),
            Error::Jira(jira::Error::Timeout),
            Error::Jira(jira::Error::Connect(text())),
            Error::Jira(jira::Error::Transport(text())),
            Error::Jira(jira::Error::Decode(text())),
            Error::Jira(jira::Error::Url(text())),
            Error::Jira(jira::Error::SiteNotAccessible(text())),
            Error::Timeout,
            Error::OutcomeUnknown {
                retry_after_secs: 1,
            },
            Error::BodyTimeout,
            Error::RequestInProgress,
            Error::IdempotencyKeyReused,
            Error::StoreUnavailable(text()),
            Error::OAuthReconsentNeeded,
            Error::OAuthRefreshFailed(text()),
            Error::Internal(text()),
        ]
    }
}

/// What the tests of both error enums (this one and the HTTP door's) use
/// to hold their `samples()` to the enum.
#[cfg(test)]
pub(crate) mod sample_coverage {
    use std::collections::BTreeSet;

    /// Builds `variant` (an exhaustive match over `$error`, no wildcard)
    /// and `VARIANTS`, the list of its arms, from the same text: a new
    /// variant does not compile until it has an arm, and then fails
    /// [`assert_covered`] until `samples()` has one of it.
    macro_rules! variants {
        ($error:ty; $($pattern:pat => $name:literal,)*) => {
            fn variant(error: &$error) -> &'static str {
                match error {
                    $($pattern => $name,)*
                }
            }
            const VARIANTS: &[&str] = &[$($name,)*];
        };
    }
    pub(crate) use variants;

    /// Fails unless the samples are of every variant listed.
    pub(crate) fn assert_covered<E>(samples: &[E], variant: fn(&E) -> &'static str, all: &[&str]) {
        let sampled: BTreeSet<&str> = samples.iter().map(variant).collect();
        let all: BTreeSet<&str> = all.iter().copied().collect();
        assert_eq!(sampled, all);
    }
}

#[cfg(test)]
mod tests {
    use super::sample_coverage::{assert_covered, variants};
    use super::*;

    variants! {
        Error;
        Error::CallerNotAllowed => "CallerNotAllowed",
        Error::ProjectNotAllowed(_) => "ProjectNotAllowed",
        Error::MissingUserEmail { .. } => "MissingUserEmail",
        Error::InvalidUserEmail { .. } => "InvalidUserEmail",
        Error::MissingCredentials => "MissingCredentials",
        Error::InvalidContentType => "InvalidContentType",
        Error::EmptyBody => "EmptyBody",
        Error::InvalidJson(_) => "InvalidJson",
        Error::PayloadTooLarge(_) => "PayloadTooLarge",
        Error::UnknownField(_) => "UnknownField",
        Error::MissingField(_) => "MissingField",
        Error::InvalidField { .. } => "InvalidField",
        Error::ProjectNotFound { .. } => "ProjectNotFound",
        Error::IssueTypeNotFound { .. } => "IssueTypeNotFound",
        Error::ComponentNotFound { .. } => "ComponentNotFound",
        Error::InvalidFields(_) => "InvalidFields",
        Error::ReporterNotSettable(_) => "ReporterNotSettable",
        Error::ReporterNotFound(_) => "ReporterNotFound",
        Error::ReporterAmbiguous { .. } => "ReporterAmbiguous",
        Error::AssigneeNotFound(_) => "AssigneeNotFound",
        Error::AssigneeAmbiguous { .. } => "AssigneeAmbiguous",
        Error::Jira(jira::Error::Api { status: 401, .. }) => "Jira::Api 401",
        Error::Jira(jira::Error::Api { status: 403, .. }) => "Jira::Api 403",
        Error::Jira(jira::Error::Api { status: 400 | 404 | 422, .. }) => "Jira::Api 400",
        Error::Jira(jira::Error::Api { status: 429, .. }) => "Jira::Api 429",
        Error::Jira(jira::Error::Api { .. }) => "Jira::Api other",
        Error::Jira(jira::Error::RateLimited { .. }) => "Jira::RateLimited",
        Error::Jira(jira::Error::Timeout) => "Jira::Timeout",
        Error::Jira(jira::Error::Connect(_)) => "Jira::Connect",
        Error::Jira(jira::Error::Transport(_)) => "Jira::Transport",
        Error::Jira(jira::Error::Decode(_)) => "Jira::Decode",
        Error::Jira(jira::Error::Url(_)) => "Jira::Url",
        Error::Jira(jira::Error::SiteNotAccessible(_)) => "Jira::SiteNotAccessible",
        Error::Timeout => "Timeout",
        Error::OutcomeUnknown { .. } => "OutcomeUnknown",
        Error::BodyTimeout => "BodyTimeout",
        Error::RequestInProgress => "RequestInProgress",
        Error::IdempotencyKeyReused => "IdempotencyKeyReused",
        Error::StoreUnavailable(_) => "StoreUnavailable",
        Error::OAuthReconsentNeeded => "OAuthReconsentNeeded",
        Error::OAuthRefreshFailed(_) => "OAuthRefreshFailed",
        Error::Internal(_) => "Internal",
    }

    #[test]
    fn every_variant_has_a_sample() {
        assert_covered(&Error::samples(), variant, VARIANTS);
    }
}
