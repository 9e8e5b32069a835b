//! The HTTP door's error: the core's [`tools::Error`] mapped to a status,
//! plus the failures only HTTP has (a bad Glean signature, an unknown
//! route, a full server). Every one answers `{"error", "message", ...}`;
//! causes are logged, never returned.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::tools::{self, Kind, Problem};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Tool(#[from] tools::Error),
    #[error("missing or invalid Glean signature")]
    InvalidSignature,
    #[error("the headers are larger than {0} bytes")]
    HeadersTooLarge(usize),
    #[error("no such route")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("too many requests in progress")]
    Overloaded,
}

impl From<jira::Error> for Error {
    fn from(err: jira::Error) -> Error {
        Error::Tool(err.into())
    }
}

/// The status for each kind of core failure.
pub fn status_of(kind: Kind) -> StatusCode {
    StatusCode::from_u16(kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl Error {
    pub fn code(&self) -> &'static str {
        self.answer().1.code
    }

    pub fn status(&self) -> StatusCode {
        self.answer().0
    }

    fn answer(&self) -> (StatusCode, Problem) {
        let http_only = |status, code, message: &str| {
            (
                status,
                Problem {
                    kind: Kind::Invalid,
                    code,
                    message: message.to_owned(),
                    details: Default::default(),
                    retry_after_secs: None,
                },
            )
        };
        match self {
            Error::Tool(err) => {
                let problem = err.problem();
                (status_of(problem.kind), problem)
            }
            Error::InvalidSignature => http_only(
                StatusCode::UNAUTHORIZED,
                "invalid_signature",
                "This request is not signed by Glean (Glean-Tools-Signature missing, expired or invalid); only Glean may call this tool.",
            ),
            Error::HeadersTooLarge(limit) => http_only(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                &format!("The request headers are larger than {limit} bytes."),
            ),
            Error::NotFound => http_only(
                StatusCode::NOT_FOUND,
                "not_found",
                "No such endpoint; this tool serves POST /create_issue.",
            ),
            Error::MethodNotAllowed => http_only(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed on this endpoint.",
            ),
            Error::Overloaded => http_only(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "jira-action is handling too many requests; try again in a few seconds.",
            ),
        }
    }
}

/// The `error` code of a failed response, as a response extension.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub &'static str);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, problem) = self.answer();
        // The cause goes to the log (with the request's span); the caller
        // gets the code and the sentence only.
        if status.is_server_error() {
            tracing::warn!(error = problem.code, cause = %self, "request failed");
        } else {
            tracing::info!(error = problem.code, "request refused");
        }
        let mut response = (status, Json(problem.to_json())).into_response();
        // For the metrics middleware, which counts requests by code.
        response.extensions_mut().insert(ErrorCode(problem.code));
        if let Some(seconds) = problem.retry_after_secs
            && let Ok(value) = seconds.to_string().parse()
        {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, value);
        }
        response
    }
}

impl Error {
    /// One error of each variant, the core's each of its samples: every
    /// `error` code the Glean door can answer with is the code of one of
    /// these (`every_variant_has_a_sample` holds them to the enum).
    pub fn samples() -> Vec<Error> {
        let mut samples: Vec<Error> = tools::Error::samples()
            .into_iter()
            .map(Error::Tool)
            .collect();
        samples.extend([
            Error::InvalidSignature,
            Error::HeadersTooLarge(1),
            Error::NotFound,
            Error::MethodNotAllowed,
            Error::Overloaded,
        ]);
        samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::error::sample_coverage::{assert_covered, variants};

    variants! {
        Error;
        Error::Tool(_) => "Tool",
        Error::InvalidSignature => "InvalidSignature",
        Error::HeadersTooLarge(_) => "HeadersTooLarge",
        Error::NotFound => "NotFound",
        Error::MethodNotAllowed => "MethodNotAllowed",
        Error::Overloaded => "Overloaded",
    }

    #[test]
    fn every_variant_has_a_sample() {
        assert_covered(&Error::samples(), variant, VARIANTS);
    }
}
