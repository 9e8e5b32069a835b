//! A stand-in for Glean in tests, benchmarks and the sandbox.
//!
//! Glean signs every tool call with an RS256 JWT (`iss` = `glean`, `iat`,
//! `exp`) and publishes the public half of its key at
//! `GET /api/tools/v1/verification_key` as `{"publicKey": "<base64 DER>"}`.
//! [`TestSigner`] plays the signing side and [`GleanSim`] serves the key, with
//! knobs (rotation, failures, latency) for the verifier's edge cases.
//!
//! Test tooling only (tests and the bench; the server never links it): a
//! key that cannot be generated or a token that cannot be signed is a broken
//! test setup, so it panics with a message rather than returning errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test tooling: a failed setup should stop the test"
)]

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::EncodePublicKey;
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};

/// The issuer Glean puts in every signature.
pub const ISSUER: &str = "glean";

/// The path of Glean's key endpoint, relative to the backend base URL.
pub const VERIFICATION_KEY_PATH: &str = "/api/tools/v1/verification_key";

/// The header Glean signs tool calls in (current deployments).
pub const SIGNATURE_HEADER: &str = "glean-tools-signature";

/// The header older Glean deployments use.
pub const LEGACY_SIGNATURE_HEADER: &str = "glean-actions-signature";

/// How long [`TestSigner::token`] tokens live.
pub const DEFAULT_TTL_SECS: i64 = 60;

/// The claims Glean signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: i64,
}

impl Claims {
    /// Claims relative to now: `iat = now + iat_offset_secs`,
    /// `exp = now + exp_offset_secs`.
    pub fn relative(iss: &str, iat_offset_secs: i64, exp_offset_secs: i64) -> Claims {
        let now = now_secs();
        Claims {
            iss: iss.to_owned(),
            iat: now + iat_offset_secs,
            exp: now + exp_offset_secs,
        }
    }

    /// What Glean sends now: issuer `glean`, valid for [`DEFAULT_TTL_SECS`].
    pub fn valid_now() -> Claims {
        Claims::relative(ISSUER, 0, DEFAULT_TTL_SECS)
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Signs tokens the way Glean does, with a fresh RSA 2048 key.
pub struct TestSigner {
    encoding: EncodingKey,
    /// SubjectPublicKeyInfo DER of the public key.
    public_der: Vec<u8>,
    /// The public key's modulus and exponent, base64url (a JWK's `n`, `e`).
    jwk_n: String,
    jwk_e: String,
}

impl std::fmt::Debug for TestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key stays out of test output.
        f.debug_struct("TestSigner")
            .field("public_key", &self.public_key_der_base64())
            .finish_non_exhaustive()
    }
}

impl Default for TestSigner {
    fn default() -> Self {
        TestSigner::new()
    }
}

impl TestSigner {
    /// Generates a new RSA 2048 key pair. Takes a fraction of a second with the
    /// workspace's optimised bignum crates; prefer [`TestSigner::shared`] in
    /// suites that only need *a* key.
    ///
    /// # Panics
    /// If key generation or encoding fails, which is a bug (test helper).
    pub fn new() -> TestSigner {
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
            .expect("generate an RSA 2048 key");
        let pkcs1 = private.to_pkcs1_der().expect("encode the private key");
        let public = private.to_public_key();
        let public_der = public
            .to_public_key_der()
            .expect("encode the public key")
            .into_vec();
        TestSigner {
            encoding: EncodingKey::from_rsa_der(pkcs1.as_bytes()),
            public_der,
            jwk_n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            jwk_e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }
    }

    /// A process-wide signer, so a test binary generates one key.
    pub fn shared() -> &'static TestSigner {
        static SHARED: OnceLock<TestSigner> = OnceLock::new();
        SHARED.get_or_init(TestSigner::new)
    }

    /// A second process-wide signer, different from [`TestSigner::shared`]:
    /// the "wrong key" in tests, or the key a rotation switches to.
    pub fn shared_other() -> &'static TestSigner {
        static OTHER: OnceLock<TestSigner> = OnceLock::new();
        OTHER.get_or_init(TestSigner::new)
    }

    /// The public key as Glean publishes it: base64 of the DER
    /// SubjectPublicKeyInfo.
    pub fn public_key_der_base64(&self) -> String {
        STANDARD.encode(&self.public_der)
    }

    /// The public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    pub fn public_key_pem(&self) -> String {
        let b64 = self.public_key_der_base64();
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            // base64 output is ASCII, so every chunk is valid UTF-8.
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// The public key as a JSON Web Key (RFC 7517) named `kid`, as an
    /// OpenID Connect provider publishes it at its `jwks_uri`.
    pub fn jwk(&self, kid: &str) -> serde_json::Value {
        serde_json::json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": kid,
            "n": self.jwk_n,
            "e": self.jwk_e,
        })
    }

    /// The DER SubjectPublicKeyInfo of the public key.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_der
    }

    /// Signs `claims` with RS256.
    ///
    /// # Panics
    /// If signing fails, which is a bug (test helper).
    pub fn sign(&self, claims: &Claims) -> String {
        self.sign_json(claims)
    }

    /// Signs any payload with RS256, e.g. one missing a claim or with claims
    /// of the wrong type.
    ///
    /// # Panics
    /// If the payload does not serialise or signing fails (test helper).
    pub fn sign_json<T: Serialize>(&self, payload: &T) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), payload, &self.encoding)
            .expect("sign an RS256 token")
    }

    /// Signs `claims` with RS256 under a JOSE header of the caller's
    /// choosing (`alg` included), e.g. one with a `crit` member, which
    /// `jsonwebtoken`'s `Header` cannot carry.
    ///
    /// # Panics
    /// If signing fails (test helper).
    pub fn sign_with_header<T: Serialize>(&self, header: &serde_json::Value, claims: &T) -> String {
        let header = URL_SAFE_NO_PAD.encode(header.to_string());
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("serialise claims"));
        let message = format!("{header}.{payload}");
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, Algorithm::RS256)
                .expect("sign an RS256 token");
        format!("{message}.{signature}")
    }

    /// A token valid now: issuer `glean`, `iat` now, `exp` in 60 s.
    pub fn token(&self) -> String {
        self.sign(&Claims::valid_now())
    }

    /// A token with the given issuer and `iat`/`exp` relative to now.
    pub fn token_with(&self, iss: &str, iat_offset_secs: i64, exp_offset_secs: i64) -> String {
        self.sign(&Claims::relative(iss, iat_offset_secs, exp_offset_secs))
    }
}

/// Forged tokens, for checking that a verifier refuses them.
pub mod forge {
    use super::*;

    /// An unsigned token (`alg: none`, empty signature).
    ///
    /// # Panics
    /// If the claims do not serialise (test helper).
    pub fn alg_none<T: Serialize>(claims: &T) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("serialise claims"));
        format!("{header}.{payload}.")
    }

    /// An HS256 token keyed with `secret`, e.g. the verifier's public key: the
    /// classic algorithm-confusion attack.
    ///
    /// # Panics
    /// If signing fails (test helper).
    pub fn hs256<T: Serialize>(secret: &[u8], claims: &T) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret),
        )
        .expect("sign an HS256 token")
    }
}

/// Namespace for starting a simulated Glean backend.
pub struct GleanSim;

impl GleanSim {
    /// Serves `GET /api/tools/v1/verification_key` on 127.0.0.1 (a free
    /// port) with `signer`'s public key, until the handle is dropped.
    /// Must be called inside a Tokio runtime.
    pub async fn spawn(signer: &TestSigner) -> io::Result<GleanSimHandle> {
        let state = Arc::new(SimState {
            public_key: RwLock::new(signer.public_key_der_base64()),
            key_fetches: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            delay_ms: AtomicU64::new(0),
        });
        let app = Router::new()
            .route(VERIFICATION_KEY_PATH, get(verification_key))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            // The server only ends when the handle aborts it.
            let _ = axum::serve(listener, app).await;
        });
        Ok(GleanSimHandle {
            addr,
            state,
            server,
        })
    }
}

struct SimState {
    public_key: RwLock<String>,
    key_fetches: AtomicU64,
    failing: AtomicBool,
    delay_ms: AtomicU64,
}

#[derive(Serialize)]
struct KeyResponse {
    #[serde(rename = "publicKey")]
    public_key: String,
}

async fn verification_key(State(state): State<Arc<SimState>>) -> Response {
    state.key_fetches.fetch_add(1, Ordering::SeqCst);
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if state.failing.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "simulated failure").into_response();
    }
    let public_key = match state.public_key.read() {
        Ok(key) => key.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    Json(KeyResponse { public_key }).into_response()
}

/// A running simulated Glean backend; stops when dropped.
pub struct GleanSimHandle {
    addr: SocketAddr,
    state: Arc<SimState>,
    server: tokio::task::JoinHandle<()>,
}

impl GleanSimHandle {
    /// The backend base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The full URL of the key endpoint.
    pub fn verification_key_url(&self) -> String {
        format!("{}{VERIFICATION_KEY_PATH}", self.base_url())
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many times the key endpoint was requested (failed answers included).
    pub fn key_fetches(&self) -> u64 {
        self.state.key_fetches.load(Ordering::SeqCst)
    }

    /// Serves `signer`'s public key from now on (key rotation).
    pub fn rotate(&self, signer: &TestSigner) {
        self.serve_public_key(signer.public_key_der_base64());
    }

    /// Serves an arbitrary `publicKey` string, e.g. garbage or a PEM.
    pub fn serve_public_key(&self, public_key: impl Into<String>) {
        let public_key = public_key.into();
        match self.state.public_key.write() {
            Ok(mut key) => *key = public_key,
            Err(poisoned) => *poisoned.into_inner() = public_key,
        }
    }

    /// While `true`, the key endpoint answers 500.
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// Delays every key answer, to hold fetches in flight (stampede tests,
    /// timeouts).
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }
}

impl Drop for GleanSimHandle {
    fn drop(&mut self) {
        self.server.abort();
    }
}
