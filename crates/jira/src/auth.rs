use base64::Engine;
use secrecy::{ExposeSecret, SecretString};

/// How a request authenticates to Jira. Secrets stay wrapped so that a
/// stray `{:?}` never prints a token.
#[derive(Clone, Debug)]
pub enum Auth {
    /// No credentials (only useful against public endpoints).
    None,
    /// An Atlassian account email and API token, sent as HTTP Basic.
    Basic { email: String, token: SecretString },
    /// An OAuth 2.0 (3LO) access token.
    Bearer(SecretString),
    /// A caller's `Authorization` header, forwarded unchanged (passthrough).
    Header(SecretString),
}

impl Auth {
    /// The `Authorization` header value, or `None` for [`Auth::None`].
    pub(crate) fn header_value(&self) -> Option<String> {
        match self {
            Auth::None => None,
            Auth::Basic { email, token } => {
                let raw = format!("{email}:{}", token.expose_secret());
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ))
            }
            Auth::Bearer(token) => Some(format!("Bearer {}", token.expose_secret())),
            Auth::Header(value) => Some(value.expose_secret().to_owned()),
        }
    }

    /// Whether the credential is an OAuth bearer token (forwarded or held).
    pub fn is_bearer(&self) -> bool {
        match self {
            Auth::Bearer(_) => true,
            Auth::Header(value) => value
                .expose_secret()
                .get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case("bearer ")),
            _ => false,
        }
    }
}
