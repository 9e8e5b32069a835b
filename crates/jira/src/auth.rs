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

    /// The `Authorization` header, marked sensitive so that HTTP layers
    /// (hpack, debug output) treat it as a secret; `None` for
    /// [`Auth::None`], `Some(Err)` when the value is not a valid header.
    pub(crate) fn header(
        &self,
    ) -> Option<Result<reqwest::header::HeaderValue, reqwest::header::InvalidHeaderValue>> {
        let value = self.header_value()?;
        Some(
            reqwest::header::HeaderValue::from_str(&value).map(|mut value| {
                value.set_sensitive(true);
                value
            }),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_header_is_sensitive() {
        let auths = [
            Auth::Basic {
                email: "a@b.c".into(),
                token: SecretString::from("t"),
            },
            Auth::Bearer(SecretString::from("t")),
            Auth::Header(SecretString::from("Bearer t")),
        ];
        for auth in auths {
            let value = auth.header().expect("a header").expect("valid");
            assert!(value.is_sensitive(), "{auth:?}");
            assert_eq!(value.to_str().ok(), auth.header_value().as_deref());
        }
        assert!(Auth::None.header().is_none());
    }
}
