//! Who gets into `/mcp`: a call must present one of the configured API
//! keys, or (with sign-in on) an access token a person got by signing in,
//! as `Authorization: Bearer <…>`. Keys are compared in constant time and
//! never logged; a call without a valid one gets `401` with
//! `WWW-Authenticate: Bearer` (naming the protected-resource metadata when
//! sign-in is on, so that a client can find where to sign in), before the
//! MCP service sees it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The configured keys, as SHA-256 digests: comparing digests of equal
/// length in constant time tells nothing of a key's length or prefix.
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} configured)", self.digests.len())
    }
}

impl ApiKeys {
    pub fn new(keys: &[SecretString]) -> ApiKeys {
        ApiKeys {
            digests: keys
                .iter()
                .map(|key| key.expose_secret().trim())
                .filter(|key| !key.is_empty())
                .map(digest)
                .collect(),
        }
    }

    /// Whether `presented` is one of the keys. Every key is compared, so
    /// the time taken does not say which one matched.
    pub fn accepts(&self, presented: &str) -> bool {
        let presented = digest(presented);
        self.digests
            .iter()
            .fold(subtle::Choice::from(0), |found, key| {
                found | key.ct_eq(&presented)
            })
            .into()
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// What the middleware checks against.
pub struct Gate {
    pub keys: ApiKeys,
    pub state: Arc<crate::app::AppState>,
}

/// The middleware in front of the MCP service.
pub async fn require_key(
    State(gate): State<Arc<Gate>>,
    mut request: Request,
    next: Next,
) -> Response {
    let keys = &gate.keys;
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    if let Some(signin) = gate.state.signin().as_deref() {
        let token = presented.map(str::to_owned);
        return match token {
            Some(key) if keys.accepts(&key) => next.run(request).await,
            Some(token) => match crate::signin::check_access(&gate.state, signin, &token).await {
                Ok(signed_in) => {
                    request.extensions_mut().insert(signed_in);
                    next.run(request).await
                }
                Err(reason) => {
                    gate.state
                        .metrics()
                        .signin_refused(format!("token_{reason}"));
                    refuse_with(
                        "invalid_token",
                        "The access token is not valid here (expired, revoked, or not issued for this server): sign in again.",
                        &signin.challenge(true),
                    )
                }
            },
            None => refuse_with(
                "sign_in_required",
                "Sign in: this server's protected-resource metadata (in WWW-Authenticate) says where.",
                &signin.challenge(false),
            ),
        };
    }
    match presented {
        Some(key) if keys.accepts(key) => next.run(request).await,
        Some(_) => refuse(
            "invalid_api_key",
            "The API key is not one of this server's MCP keys; ask its administrator for a valid one.",
            true,
        ),
        None => refuse(
            "missing_api_key",
            "Send one of this server's MCP API keys as Authorization: Bearer <key>.",
            false,
        ),
    }
}

fn refuse(code: &'static str, message: &str, given: bool) -> Response {
    let challenge = match given {
        true => "Bearer error=\"invalid_token\"",
        false => "Bearer",
    };
    refuse_with(code, message, challenge)
}

fn refuse_with(code: &'static str, message: &str, challenge: &str) -> Response {
    tracing::info!(error = code, "MCP call refused");
    let body = serde_json::json!({ "error": code, "message": message });
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    // Refused before its body is read, the request leaves hyper unsure
    // where the next one starts, so it may close the connection just as
    // the client reuses it (an OAuth client's metadata request after this
    // 401 then fails with "server disconnected"). Saying so up front makes
    // the client open a new connection instead.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
        .extensions_mut()
        .insert(crate::http::ErrorCode(code));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_configured_key_is_accepted_and_nothing_else() {
        let keys = ApiKeys::new(&[SecretString::from("old-key"), SecretString::from("new-key")]);
        assert!(keys.accepts("old-key"));
        assert!(keys.accepts("new-key"));
        assert!(!keys.accepts("new-ke"));
        assert!(!keys.accepts(""));
        assert!(!ApiKeys::new(&[]).accepts(""));
        assert_eq!(format!("{keys:?}"), "ApiKeys(2 configured)");
    }
}
