use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// Jira's error body: `{"errorMessages": [...], "errors": {"field": "msg"}}`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default)]
    pub error_messages: Vec<String>,
    #[serde(default)]
    pub errors: BTreeMap<String, String>,
}

impl ErrorBody {
    /// Parses Jira's error body; anything else (HTML from a proxy, an
    /// OAuth `{"error": ...}` body) becomes a single message, truncated so a
    /// huge page never ends up in a log line.
    pub fn parse(body: &[u8]) -> ErrorBody {
        if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body)
            && (!parsed.error_messages.is_empty() || !parsed.errors.is_empty())
        {
            return parsed;
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            return ErrorBody::default();
        }
        let mut message: String = text.chars().take(200).collect();
        if message.len() < text.len() {
            message.push('…');
        }
        ErrorBody {
            error_messages: vec![message],
            errors: BTreeMap::new(),
        }
    }

    /// All messages in one line, field errors as `field: message`.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self.error_messages.clone();
        parts.extend(self.errors.iter().map(|(f, m)| format!("{f}: {m}")));
        parts.join("; ")
    }
}

/// Everything that can go wrong talking to Jira, typed so that callers map
/// each case to the right answer without parsing strings.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// Jira answered with an error status and (usually) its error body.
    #[error("Jira answered {status}: {}", body.summary())]
    Api {
        status: u16,
        body: ErrorBody,
        /// `Retry-After`, when Jira sent one (429, 503).
        retry_after: Option<Duration>,
    },
    /// Jira kept answering 429 past the retry budget.
    #[error("Jira rate limit: retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// No answer within the request timeout. For writes the outcome is
    /// unknown: Jira may have applied the request.
    #[error("Jira did not answer in time")]
    Timeout,
    /// The connection could not be opened: nothing reached Jira.
    #[error("could not connect to Jira: {0}")]
    Connect(String),
    /// The connection failed after the request may have been sent.
    #[error("connection to Jira lost: {0}")]
    Transport(String),
    /// Jira answered 2xx with a body we could not read.
    #[error("unexpected answer from Jira: {0}")]
    Decode(String),
    /// The configured base URL cannot be used (a configuration error).
    #[error("invalid Jira URL: {0}")]
    Url(String),
    /// The OAuth gateway needs a cloud id and none was found for the site.
    #[error("no accessible Jira site matches {0}")]
    SiteNotAccessible(String),
}

impl Error {
    /// True when a write may or may not have been applied: the request
    /// was sent and no clear answer came back (timeout, connection lost,
    /// a 5xx other than a 503 that asks to retry, an unreadable 2xx).
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Error::Timeout | Error::Transport(_) | Error::Decode(_) => true,
            Error::Api { status, .. } => *status >= 500 && !self.provably_not_applied(),
            _ => false,
        }
    }

    /// The HTTP status Jira answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// True when Jira certainly did not apply the request, so a write may
    /// be retried without risking a duplicate.
    pub fn provably_not_applied(&self) -> bool {
        match self {
            Error::Api { status: 429, .. } | Error::RateLimited { .. } | Error::Connect(_) => true,
            Error::Api {
                status: 503,
                retry_after,
                ..
            } => retry_after.is_some(),
            _ => false,
        }
    }

    pub(crate) fn from_reqwest(err: reqwest::Error) -> Error {
        if err.is_timeout() {
            Error::Timeout
        } else if err.is_connect() {
            Error::Connect(without_url(&err))
        } else if err.is_decode() {
            Error::Decode(without_url(&err))
        } else if err.is_builder() {
            Error::Url(without_url(&err))
        } else {
            Error::Transport(without_url(&err))
        }
    }
}

/// reqwest's messages include the URL; ours are logged and a URL may carry
/// a cloud id, so keep only the cause chain.
fn without_url(err: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut message = String::new();
    let mut source = err.source();
    while let Some(cause) = source {
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if message.is_empty() {
        message = "request failed".to_owned();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_jira_error_body() {
        let body = br#"{"errorMessages":["No project"],"errors":{"summary":"You must specify a summary of the issue."}}"#;
        let parsed = ErrorBody::parse(body);
        assert_eq!(parsed.error_messages, vec!["No project"]);
        assert_eq!(
            parsed.errors.get("summary").map(String::as_str),
            Some("You must specify a summary of the issue.")
        );
        assert_eq!(
            parsed.summary(),
            "No project; summary: You must specify a summary of the issue."
        );
    }

    #[test]
    fn non_jira_bodies_become_one_truncated_message() {
        let html = format!("<html>{}</html>", "x".repeat(1000));
        let parsed = ErrorBody::parse(html.as_bytes());
        assert_eq!(parsed.error_messages.len(), 1);
        assert!(parsed.error_messages[0].chars().count() <= 201);
        assert!(ErrorBody::parse(b"  ").error_messages.is_empty());
    }

    #[test]
    fn only_unapplied_failures_are_safe_to_retry() {
        let api = |status, retry_after| Error::Api {
            status,
            body: ErrorBody::default(),
            retry_after,
        };
        assert!(api(429, None).provably_not_applied());
        assert!(api(503, Some(Duration::from_secs(1))).provably_not_applied());
        assert!(!api(503, None).provably_not_applied());
        assert!(!api(500, None).provably_not_applied());
        assert!(!Error::Timeout.provably_not_applied());
        assert!(!Error::Transport("reset".into()).provably_not_applied());
        assert!(Error::Connect("refused".into()).provably_not_applied());
    }
}
