//! The one error type of the HTTP layer. Every failure a caller can see is
//! a variant here, with a stable `error` code, a status and a message a
//! person can act on. Internal causes are logged, never returned.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("missing or invalid Glean signature")]
    InvalidSignature,
    #[error("caller not allowed")]
    CallerNotAllowed,
    #[error("project {0} not allowed")]
    ProjectNotAllowed(String),
    #[error("the headers are larger than {0} bytes")]
    HeadersTooLarge(usize),
    #[error("the Glean-User-Email header is missing")]
    MissingUserEmail,
    #[error("the Glean-User-Email header is not one plain email address: {0}")]
    InvalidUserEmail(String),
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
    #[error("no such route")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the request took too long")]
    Timeout,
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    #[error("too many requests in progress")]
    Overloaded,
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

/// One error body: `{"error": code, "message": sentence, ...details}`.
struct Body {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Map<String, Value>,
}

impl Body {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Body {
        Body {
            status,
            code,
            message: message.into(),
            details: Map::new(),
        }
    }

    fn with(mut self, key: &str, value: impl Into<Value>) -> Body {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

impl Error {
    /// The stable code callers and alerts key on (see the README's table).
    pub fn code(&self) -> &'static str {
        self.body().code
    }

    pub fn status(&self) -> StatusCode {
        self.body().status
    }

    fn body(&self) -> Body {
        use StatusCode as S;
        match self {
            Error::InvalidSignature => Body::new(
                S::UNAUTHORIZED,
                "invalid_signature",
                "This request is not signed by Glean (Glean-Tools-Signature missing, expired or invalid); only Glean may call this tool.",
            ),
            Error::CallerNotAllowed => Body::new(
                S::FORBIDDEN,
                "caller_not_allowed",
                "You are not on the list of people allowed to file Jira issues through this tool; ask its administrator.",
            ),
            Error::ProjectNotAllowed(project) => Body::new(
                S::FORBIDDEN,
                "project_not_allowed",
                format!("This tool may not file issues in project {project}; ask its administrator."),
            )
            .with("field", "pid"),
            Error::HeadersTooLarge(limit) => Body::new(
                S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                format!("The request headers are larger than {limit} bytes."),
            ),
            Error::MissingUserEmail => Body::new(
                S::BAD_REQUEST,
                "missing_user_email",
                "The Glean-User-Email header is missing: it names the person the issue is filed for.",
            ),
            Error::InvalidUserEmail(reason) => Body::new(
                S::BAD_REQUEST,
                "invalid_user_email",
                format!("The Glean-User-Email header must be one plain email address ({reason})."),
            ),
            Error::MissingCredentials => Body::new(
                S::UNAUTHORIZED,
                "missing_credentials",
                "No Authorization header: configure the tool's authentication in Glean so that it sends the Jira token.",
            ),
            Error::InvalidContentType => Body::new(
                S::BAD_REQUEST,
                "invalid_content_type",
                "Send the fields as a JSON object with Content-Type: application/json.",
            ),
            Error::EmptyBody => Body::new(
                S::BAD_REQUEST,
                "empty_body",
                "The request body is empty: send a JSON object with at least pid, issuetype and summary.",
            ),
            Error::InvalidJson(reason) => Body::new(
                S::BAD_REQUEST,
                "invalid_json",
                format!("The request body is not a valid JSON object: {reason}."),
            ),
            Error::PayloadTooLarge(limit) => Body::new(
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("The request body is larger than {limit} bytes; shorten the description."),
            ),
            Error::UnknownField(field) => Body::new(
                S::BAD_REQUEST,
                "unknown_field",
                format!("Unknown field `{field}`. Known fields: {}.", crate::glean::contract::FIELD_NAMES.join(", ")),
            )
            .with("field", field.as_str()),
            Error::MissingField(field) => Body::new(
                S::BAD_REQUEST,
                "missing_field",
                format!("The field `{field}` is required."),
            )
            .with("field", *field),
            Error::InvalidField { field, message } => Body::new(
                S::BAD_REQUEST,
                "invalid_field",
                format!("Invalid `{field}`: {message}"),
            )
            .with("field", *field),
            Error::ProjectNotFound { given, choices } => Body::new(
                S::BAD_REQUEST,
                "project_not_found",
                format!("No project {given:?} is visible to jira-action. {}", choices_sentence(choices)),
            )
            .with("field", "pid")
            .with("choices", choices.clone()),
            Error::IssueTypeNotFound { given, project, choices } => Body::new(
                S::BAD_REQUEST,
                "issuetype_not_found",
                format!("Project {project} has no issue type {given:?}. {}", choices_sentence(choices)),
            )
            .with("field", "issuetype")
            .with("choices", choices.clone()),
            Error::ComponentNotFound { given, project, choices } => Body::new(
                S::BAD_REQUEST,
                "component_not_found",
                format!("Project {project} has no component {given:?}. {}", choices_sentence(choices)),
            )
            .with("field", "components")
            .with("choices", choices.clone()),
            Error::InvalidFields(problems) => Body::new(
                S::BAD_REQUEST,
                "invalid_fields",
                format!(
                    "Jira would refuse these fields: {}.",
                    problems.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("; ")
                ),
            )
            .with("problems", serde_json::to_value(problems).unwrap_or_default()),
            Error::ReporterNotSettable(project) => Body::new(
                S::FORBIDDEN,
                "reporter_not_settable",
                format!(
                    "Jira does not let this tool set the reporter in {project}, so the issue cannot be filed in your name. A Jira admin must add the Reporter field to the project's create screen and grant the tool's account the Modify Reporter permission."
                ),
            ),
            Error::ReporterNotFound(email) => Body::new(
                S::BAD_REQUEST,
                "reporter_not_found",
                format!("No active Jira user was found for {email}, so the issue cannot be filed in their name. Check that they have a Jira account with this email, or that jira-action may browse users."),
            ),
            Error::ReporterAmbiguous { email, candidates } => Body::new(
                S::CONFLICT,
                "reporter_ambiguous",
                format!("Several Jira users match {email} ({}); a Jira admin should make the email visible or unique.", candidates.join(", ")),
            )
            .with("candidates", candidates.clone()),
            Error::AssigneeNotFound(given) => Body::new(
                S::BAD_REQUEST,
                "assignee_not_found",
                format!("No active Jira user matches the assignee {given:?}; give their email or account id."),
            )
            .with("field", "assignee"),
            Error::AssigneeAmbiguous { given, candidates } => Body::new(
                S::CONFLICT,
                "assignee_ambiguous",
                format!("Several Jira users match the assignee {given:?} ({}); give the exact email or account id.", candidates.join(", ")),
            )
            .with("field", "assignee")
            .with("candidates", candidates.clone()),
            Error::Jira(err) => jira_body(err),
            Error::NotFound => Body::new(S::NOT_FOUND, "not_found", "No such endpoint; this tool serves POST /create_issue."),
            Error::MethodNotAllowed => Body::new(S::METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed on this endpoint."),
            Error::Timeout => Body::new(
                S::GATEWAY_TIMEOUT,
                "timeout",
                "The request took too long; if it was a create, it may still have happened. Retrying is safe.",
            ),
            Error::RequestTimeout => Body::new(
                S::REQUEST_TIMEOUT,
                "request_timeout",
                "The request body did not arrive within the request timeout; nothing was created. Send the whole request at once.",
            ),
            Error::Overloaded => Body::new(
                S::SERVICE_UNAVAILABLE,
                "overloaded",
                "jira-action is handling too many requests; try again in a few seconds.",
            ),
            Error::RequestInProgress => Body::new(
                S::CONFLICT,
                "request_in_progress",
                "The same request is still being processed; try again in a few seconds to get its result.",
            ),
            Error::IdempotencyKeyReused => Body::new(
                S::CONFLICT,
                "idempotency_key_reused",
                "This Idempotency-Key was already used for a request with different fields; use a new key for a new request.",
            ),
            Error::StoreUnavailable(_) => Body::new(
                S::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "jira-action cannot reach its database, so it cannot guarantee the issue is created only once; nothing was created. Try again shortly.",
            ),
            Error::OAuthReconsentNeeded => Body::new(
                S::SERVICE_UNAVAILABLE,
                "oauth_reconsent_needed",
                "jira-action's connection to Jira was revoked or has expired, so nothing was created. A Jira admin must run `jira-action oauth login` to connect it again.",
            ),
            Error::OAuthRefreshFailed(_) => Body::new(
                S::BAD_GATEWAY,
                "oauth_refresh_failed",
                "jira-action could not renew its Jira access token, so nothing was created. Try again shortly.",
            ),
            Error::Internal(_) => Body::new(
                S::INTERNAL_SERVER_ERROR,
                "internal",
                "jira-action failed unexpectedly; the operator can find the cause in its log by the request id.",
            ),
        }
    }
}

fn jira_body(err: &jira::Error) -> Body {
    use StatusCode as S;
    match err {
        jira::Error::Api { status, body, .. } => match status {
            401 => Body::new(
                S::UNAUTHORIZED,
                "jira_unauthorized",
                "Jira refused the credentials; the Jira token may have expired or been revoked. Reconnect the tool's account.",
            ),
            403 => Body::new(
                S::FORBIDDEN,
                "jira_forbidden",
                format!(
                    "Jira does not allow this: {}",
                    or_default(&body.summary(), "permission denied")
                ),
            ),
            400 | 404 | 422 => {
                let fields: BTreeMap<&String, &String> = body.errors.iter().collect();
                Body::new(
                    S::BAD_REQUEST,
                    "jira_rejected",
                    format!(
                        "Jira rejected the issue: {}",
                        or_default(&body.summary(), "no reason given")
                    ),
                )
                .with("fields", json!(fields))
            }
            429 => Body::new(
                S::TOO_MANY_REQUESTS,
                "jira_rate_limited",
                "Jira is rate limiting; try again shortly.",
            ),
            _ => Body::new(
                S::BAD_GATEWAY,
                "jira_error",
                format!("Jira failed with status {status}; try again later."),
            ),
        },
        jira::Error::RateLimited { retry_after } => Body::new(
            S::TOO_MANY_REQUESTS,
            "jira_rate_limited",
            format!(
                "Jira is rate limiting; try again in {} seconds.",
                retry_after.as_secs().max(1)
            ),
        )
        .with("retry_after_seconds", retry_after.as_secs().max(1)),
        jira::Error::Timeout => Body::new(
            S::GATEWAY_TIMEOUT,
            "jira_timeout",
            "Jira did not answer in time; try again later.",
        ),
        jira::Error::Connect(_) | jira::Error::Transport(_) | jira::Error::Decode(_) => Body::new(
            S::BAD_GATEWAY,
            "jira_unavailable",
            "Jira could not be reached or answered unexpectedly; try again later.",
        ),
        jira::Error::Url(_) | jira::Error::SiteNotAccessible(_) => Body::new(
            S::BAD_GATEWAY,
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

/// The `error` code of a failed response, as a response extension.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub &'static str);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let body = self.body();
        // The cause goes to the log (with the request's span); the caller
        // gets the code and the sentence only.
        if body.status.is_server_error() {
            tracing::warn!(error = body.code, cause = %self, "request failed");
        } else {
            tracing::info!(error = body.code, "request refused");
        }
        let mut object = Map::new();
        object.insert("error".into(), body.code.into());
        object.insert("message".into(), body.message.into());
        object.extend(body.details);
        let mut response = (body.status, Json(Value::Object(object))).into_response();
        // For the metrics middleware, which counts requests by code.
        response.extensions_mut().insert(ErrorCode(body.code));
        if let Error::Jira(jira::Error::RateLimited { retry_after }) = &self
            && let Ok(value) = retry_after.as_secs().max(1).to_string().parse()
        {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, value);
        }
        response
    }
}
