//! An OpenID Connect provider as the place people sign in (Okta, Entra ID,
//! Google): its discovery document by issuer, the authorization code flow
//! with `state`, `nonce` and PKCE (S256), and the ID token checked here as
//! OpenID Connect Core 1.0 section 3.1.3.7 says. The provider's verified
//! email is the person; Jira is searched for it as on the Glean path.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::OnceCell;
use url::Url;

/// How far the provider's clock may be from ours when `exp` and `iat` are
/// judged.
const LEEWAY_SECS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the provider's discovery document: {0}")]
    Discovery(String),
    #[error("the discovery document names issuer {found}, not the configured {configured}")]
    IssuerMismatch { configured: String, found: String },
    #[error("the provider's token endpoint: {0}")]
    Token(String),
    #[error("the provider's keys: {0}")]
    Keys(String),
    #[error("the ID token: {0}")]
    IdToken(String),
    #[error("the provider's userinfo endpoint: {0}")]
    UserInfo(String),
}

impl OidcError {
    /// The refusal's name on `/metrics`.
    pub fn reason(&self) -> &'static str {
        match self {
            OidcError::Discovery(_) | OidcError::IssuerMismatch { .. } => "upstream_discovery",
            OidcError::IdToken(_) => "id_token_invalid",
            OidcError::Token(_) | OidcError::Keys(_) | OidcError::UserInfo(_) => "upstream_failed",
        }
    }
}

/// The sign-in app, as registered with the provider.
pub struct Oidc {
    /// As configured, and as `iss` must say it, character for character.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// `<public_url>/oauth/oidc/callback`.
    pub callback: String,
    pub http: reqwest::Client,
    /// Read on first use, kept once it checks out (a failure is retried).
    /// Boxed: four URLs would make this upstream the largest by far.
    discovered: OnceCell<Box<Discovery>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Oidc({}, {})", self.issuer, self.client_id)
    }
}

/// What jira-action uses of `<issuer>/.well-known/openid-configuration`.
#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: Url,
    token_endpoint: Url,
    jwks_uri: Url,
    #[serde(default)]
    userinfo_endpoint: Option<Url>,
    /// Absent means `client_secret_basic` (OpenID Connect Discovery 1.0,
    /// section 3).
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

impl Discovery {
    /// `client_secret_basic` unless the provider takes only
    /// `client_secret_post`.
    fn secret_in_body(&self) -> bool {
        self.token_endpoint_auth_methods_supported
            .as_ref()
            .is_some_and(|methods| {
                !methods.iter().any(|m| m == "client_secret_basic")
                    && methods.iter().any(|m| m == "client_secret_post")
            })
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: String,
    #[serde(default)]
    access_token: Option<String>,
}

/// The ID token's claims jira-action reads.
#[derive(Deserialize)]
struct IdClaims {
    sub: String,
    exp: i64,
    iat: i64,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(flatten)]
    profile: Profile,
}

/// The email claims, in the ID token or from userinfo.
#[derive(Default, Deserialize)]
struct Profile {
    #[serde(default)]
    email: Option<String>,
    /// Only the JSON `true` counts (some providers send the string).
    #[serde(default)]
    email_verified: Option<Value>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    #[serde(flatten)]
    profile: Profile,
}

/// Who signed in, as the provider vouches.
#[derive(Debug)]
pub struct Person {
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

impl Oidc {
    pub fn new(
        issuer: String,
        client_id: String,
        client_secret: SecretString,
        callback: String,
        http: reqwest::Client,
    ) -> Oidc {
        Oidc {
            issuer,
            client_id,
            client_secret,
            callback,
            http,
            discovered: OnceCell::new(),
        }
    }

    async fn discovery(&self) -> Result<&Discovery, OidcError> {
        self.discovered
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.issuer.trim_end_matches('/')
                );
                let discovery: Discovery =
                    json_answer(self.http.get(url), OidcError::Discovery).await?;
                if discovery.issuer != self.issuer {
                    return Err(OidcError::IssuerMismatch {
                        configured: self.issuer.clone(),
                        found: discovery.issuer,
                    });
                }
                Ok(Box::new(discovery))
            })
            .await
            .map(|discovery| &**discovery)
    }

    /// Where the browser goes to sign in.
    pub async fn authorize_url(
        &self,
        state: &str,
        nonce: &str,
        code_challenge: &str,
    ) -> Result<Url, OidcError> {
        let mut url = self.discovery().await?.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("scope", "openid email")
            .append_pair("redirect_uri", &self.callback)
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    /// Who the code belongs to: the code redeemed, its ID token checked
    /// against `nonce` at `now_ms` (the server's clock), the email from
    /// the ID token or else from userinfo.
    pub async fn person(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
        now_ms: i64,
    ) -> Result<Person, OidcError> {
        let discovery = self.discovery().await?;
        let answer = self.exchange(discovery, code, verifier).await?;
        let claims = self
            .check_id_token(discovery, &answer.id_token, nonce, now_ms)
            .await?;
        let profile = match (&claims.profile.email, &answer.access_token) {
            (None, Some(access_token)) => {
                self.user_info(discovery, access_token, &claims.sub).await?
            }
            _ => claims.profile,
        };
        Ok(Person {
            email_verified: profile.email_verified == Some(Value::Bool(true)),
            email: profile.email,
            name: profile.name,
        })
    }

    async fn exchange(
        &self,
        discovery: &Discovery,
        code: &str,
        verifier: &str,
    ) -> Result<TokenAnswer, OidcError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.callback),
            ("code_verifier", verifier),
        ];
        let mut request = self.http.post(discovery.token_endpoint.clone());
        if discovery.secret_in_body() {
            form.push(("client_id", &self.client_id));
            form.push(("client_secret", self.client_secret.expose_secret()));
        } else {
            // RFC 6749 section 2.3.1: both form-encoded before Basic.
            let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
            let user: String = encode(&self.client_id);
            let password: String = encode(self.client_secret.expose_secret());
            request = request.basic_auth(user, Some(password));
        }
        json_answer(request.form(&form), OidcError::Token).await
    }

    /// The signature by one of the issuer's keys (RS256 or ES256), `iss`
    /// exactly the issuer, `aud` containing the client id (and `azp`, when
    /// present, the client id), `exp` and `iat` on our clock, the nonce.
    async fn check_id_token(
        &self,
        discovery: &Discovery,
        id_token: &str,
        nonce: &str,
        now_ms: i64,
    ) -> Result<IdClaims, OidcError> {
        let invalid = |why: &str| OidcError::IdToken(why.to_owned());
        let header = jsonwebtoken::decode_header(id_token).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(invalid(
                "signed with an algorithm other than RS256 or ES256",
            ));
        }
        let key = self.key(discovery, header.kid.as_deref()).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.client_id]);
        validation.set_required_spec_claims(&["iss", "aud", "sub", "exp"]);
        // Judged below on the server's clock, which tests move.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let claims = jsonwebtoken::decode::<IdClaims>(id_token, &key, &validation)
            .map_err(|e| invalid(&e.to_string()))?
            .claims;
        let now = now_ms / 1000;
        if claims.exp <= now - LEEWAY_SECS {
            return Err(invalid("expired"));
        }
        if claims.iat > now + LEEWAY_SECS {
            return Err(invalid("issued in the future"));
        }
        if claims
            .azp
            .as_deref()
            .is_some_and(|azp| azp != self.client_id)
        {
            return Err(invalid("issued to another party (azp)"));
        }
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(invalid("its nonce is not the one this sign-in sent"));
        }
        Ok(claims)
    }

    /// The key a token names by `kid`, read fresh from `jwks_uri` (sign-ins
    /// are rare; a provider's rotation is then never missed). A token
    /// without `kid` needs a key set of one.
    async fn key(
        &self,
        discovery: &Discovery,
        kid: Option<&str>,
    ) -> Result<DecodingKey, OidcError> {
        let keys: JwkSet =
            json_answer(self.http.get(discovery.jwks_uri.clone()), OidcError::Keys).await?;
        let jwk = match kid {
            Some(kid) => keys.find(kid),
            None if keys.keys.len() == 1 => keys.keys.first(),
            None => None,
        }
        .ok_or_else(|| {
            OidcError::IdToken("signed with a key the provider does not publish".into())
        })?;
        DecodingKey::from_jwk(jwk).map_err(|e| OidcError::Keys(e.to_string()))
    }

    /// The email claims from userinfo, for providers that leave them out
    /// of the ID token; its `sub` must be the ID token's (Core 5.3.2).
    async fn user_info(
        &self,
        discovery: &Discovery,
        access_token: &str,
        sub: &str,
    ) -> Result<Profile, OidcError> {
        let Some(endpoint) = &discovery.userinfo_endpoint else {
            return Ok(Profile::default());
        };
        let request = self.http.get(endpoint.clone()).bearer_auth(access_token);
        let info: UserInfo = json_answer(request, OidcError::UserInfo).await?;
        if info.sub != sub {
            return Err(OidcError::UserInfo("names another subject".into()));
        }
        Ok(info.profile)
    }
}

/// A successful JSON answer of the provider, or the error `failed` makes
/// of what went wrong (never with the URL, which may carry a code).
async fn json_answer<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
    failed: fn(String) -> OidcError,
) -> Result<T, OidcError> {
    let response = request
        .send()
        .await
        .map_err(|e| failed(e.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("answered {}", response.status())));
    }
    response
        .json()
        .await
        .map_err(|e| failed(e.without_url().to_string()))
}
