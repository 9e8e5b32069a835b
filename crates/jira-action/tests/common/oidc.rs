//! A small OpenID Connect provider for sign-in tests, on a random port:
//! discovery, JWKS (glean-sim's RSA key), `authorize` (the configured person
//! signs in at once: there is no page to click through), a token endpoint
//! that checks the client's secret and the PKCE verifier and issues an RS256
//! ID token, and userinfo. Knobs make the ID token or the discovery document
//! wrong in one way each, for the refusal tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "jira-action-sign-in";
pub const CLIENT_SECRET: &str = "oidc-client-secret";
const KID: &str = "test-oidc-key";

/// What the next sign-in looks like.
#[derive(Clone, Debug)]
pub struct Knobs {
    /// Who signs in.
    pub email: String,
    pub email_verified: bool,
    /// The email claims only at userinfo, not in the ID token.
    pub email_only_at_userinfo: bool,
    /// The ID token's `nonce` instead of the request's.
    pub nonce: Option<String>,
    /// The ID token's `aud` instead of the client id.
    pub aud: Option<String>,
    /// The ID token's `iss` instead of the issuer.
    pub iss: Option<String>,
    /// The discovery document's `issuer` instead of the real one.
    pub discovery_issuer: Option<String>,
    /// An ID token that expired an hour ago.
    pub expired: bool,
    /// `token_endpoint_auth_methods_supported`; `None` leaves it out.
    pub auth_methods: Option<Vec<String>>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            email: jira_sim::demo::ALICE_EMAIL.into(),
            email_verified: true,
            email_only_at_userinfo: false,
            nonce: None,
            aud: None,
            iss: None,
            discovery_issuer: None,
            expired: false,
            auth_methods: None,
        }
    }
}

struct Pending {
    redirect_uri: String,
    nonce: String,
    challenge: String,
    email: String,
}

#[derive(Default)]
struct Provider {
    knobs: Knobs,
    codes: HashMap<String, Pending>,
    /// Access tokens for userinfo: the email they name.
    access: HashMap<String, String>,
    /// How the client authenticated at each token request.
    client_auth: Vec<&'static str>,
}

type Shared = (String, Arc<Mutex<Provider>>);

pub struct OidcProvider {
    pub issuer: String,
    provider: Arc<Mutex<Provider>>,
}

impl OidcProvider {
    pub async fn spawn(knobs: Knobs) -> OidcProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let provider = Arc::new(Mutex::new(Provider {
            knobs,
            ..Provider::default()
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/jwks", get(jwks))
            .with_state((issuer.clone(), Arc::clone(&provider)));
        tokio::spawn(async move { axum::serve(listener, app).await });
        OidcProvider { issuer, provider }
    }

    pub fn set(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut self.provider.lock().expect("provider").knobs);
    }

    /// `basic` or `post`, per token request so far.
    pub fn client_auth(&self) -> Vec<&'static str> {
        self.provider.lock().expect("provider").client_auth.clone()
    }
}

async fn discovery(State((issuer, provider)): State<Shared>) -> Response {
    let knobs = provider.lock().expect("provider").knobs.clone();
    let mut document = json!({
        "issuer": knobs.discovery_issuer.unwrap_or_else(|| issuer.clone()),
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    if let Some(methods) = knobs.auth_methods {
        document["token_endpoint_auth_methods_supported"] = json!(methods);
    }
    axum::Json(document).into_response()
}

fn bad(why: &str) -> Response {
    (StatusCode::BAD_REQUEST, why.to_owned()).into_response()
}

async fn authorize(
    State((_, provider)): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let get = |name: &str| query.get(name).cloned().unwrap_or_default();
    let scopes: Vec<String> = get("scope").split(' ').map(str::to_owned).collect();
    if get("client_id") != CLIENT_ID
        || get("response_type") != "code"
        || !scopes.iter().any(|s| s == "openid")
        || !scopes.iter().any(|s| s == "email")
        || get("code_challenge_method") != "S256"
        || get("code_challenge").len() != 43
        || get("state").is_empty()
        || get("nonce").is_empty()
    {
        return bad("not an OpenID Connect code request with PKCE, state and nonce");
    }
    let code = uuid::Uuid::new_v4().simple().to_string();
    let mut provider = provider.lock().expect("provider");
    let email = provider.knobs.email.clone();
    provider.codes.insert(
        code.clone(),
        Pending {
            redirect_uri: get("redirect_uri"),
            nonce: get("nonce"),
            challenge: get("code_challenge"),
            email,
        },
    );
    let mut back = url::Url::parse(&get("redirect_uri")).expect("redirect_uri");
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &get("state"));
    Redirect::to(back.as_str()).into_response()
}

/// The client's id and secret: HTTP Basic (each form-encoded first, RFC
/// 6749 section 2.3.1) or in the form.
fn client_of(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Option<(&'static str, String, String)> {
    if let Some(basic) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = String::from_utf8(STANDARD.decode(basic).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let decode = |s: &str| -> String {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        return Some(("basic", decode(id), decode(secret)));
    }
    Some((
        "post",
        form.get("client_id")?.clone(),
        form.get("client_secret")?.clone(),
    ))
}

async fn token(
    State((issuer, provider)): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let mut provider = provider.lock().expect("provider");
    let Some((method, id, secret)) = client_of(&headers, &form) else {
        return (StatusCode::UNAUTHORIZED, "no client authentication").into_response();
    };
    if id != CLIENT_ID || secret != CLIENT_SECRET {
        return (StatusCode::UNAUTHORIZED, "wrong client").into_response();
    }
    provider.client_auth.push(method);
    let get = |name: &str| form.get(name).cloned().unwrap_or_default();
    let Some(pending) = provider.codes.remove(&get("code")) else {
        return bad("unknown code");
    };
    let verified = URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes()));
    if get("grant_type") != "authorization_code"
        || get("redirect_uri") != pending.redirect_uri
        || verified != pending.challenge
    {
        return bad("wrong grant, redirect_uri or code_verifier");
    }
    let knobs = provider.knobs.clone();
    let now = glean_sim::now_secs();
    let (iat, exp) = match knobs.expired {
        true => (now - 7_200, now - 3_600),
        false => (now, now + 300),
    };
    let mut claims = json!({
        "iss": knobs.iss.unwrap_or(issuer),
        "sub": format!("sub-{}", pending.email),
        "aud": knobs.aud.unwrap_or_else(|| CLIENT_ID.to_owned()),
        "iat": iat,
        "exp": exp,
        "nonce": knobs.nonce.unwrap_or(pending.nonce),
    });
    if !knobs.email_only_at_userinfo {
        claims["email"] = json!(pending.email);
        claims["email_verified"] = json!(knobs.email_verified);
    }
    let id_token = glean_sim::TestSigner::shared()
        .sign_with_header(&json!({"alg": "RS256", "typ": "JWT", "kid": KID}), &claims);
    let access_token = uuid::Uuid::new_v4().simple().to_string();
    provider.access.insert(access_token.clone(), pending.email);
    axum::Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

async fn userinfo(State((_, provider)): State<Shared>, headers: HeaderMap) -> Response {
    let provider = provider.lock().expect("provider");
    let email = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| provider.access.get(token));
    match email {
        Some(email) => axum::Json(json!({
            "sub": format!("sub-{email}"),
            "email": email,
            "email_verified": provider.knobs.email_verified,
        }))
        .into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn jwks() -> Response {
    axum::Json(json!({ "keys": [glean_sim::TestSigner::shared().jwk(KID)] })).into_response()
}
