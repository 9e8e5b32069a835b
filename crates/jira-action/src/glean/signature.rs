//! Glean request signatures.
//!
//! Glean signs every tool call with an RS256 JWT in `Glean-Tools-Signature`
//! (older deployments: `Glean-Actions-Signature`) carrying `iss` = `glean`,
//! `iat` and `exp`; there is no audience and no body hash, so the signature
//! proves only that Glean sent *a* call recently. Glean publishes its public
//! key at `GET {backend}/api/tools/v1/verification_key` as
//! `{"publicKey": "<base64 DER SubjectPublicKeyInfo>"}`.
//!
//! Rules, and why:
//! - RS256 only: `alg: none` and HMAC (keyed with our *public* key) are the
//!   classic forgeries.
//! - `iss` must be `glean`; `iat` and `exp` are required. Their checks are
//!   done here rather than by `jsonwebtoken`, which parses `exp` as an integer
//!   only and does not look at `iat` at all.
//! - [`CLOCK_SKEW`] (30 s) both ways: `iat` may be at most 30 s in the future,
//!   `exp` at most 30 s in the past (`nbf`, if present, is checked like `iat`).
//! - `exp - iat` may not exceed [`MAX_TOKEN_LIFETIME`] (1 hour). Glean's
//!   tokens live for minutes; a longer-lived one is no tool call Glean just
//!   made, and refusing it bounds how long a leaked header can be replayed.
//! - The header is capped at [`MAX_HEADER_BYTES`] before any parsing.
//! - A fetched key is cached. When a signature does not verify with it
//!   (a bad signature only, not an expired or foreign token), the key is
//!   fetched again, at most once per [`MIN_REFETCH_INTERVAL`], in case Glean
//!   rotated it, and the token is checked once more. One fetch runs at a
//!   time; concurrent callers wait for it and use its result (moka's
//!   single-flight: `try_get_with` for the first key, `and_try_compute_with`
//!   for a refetch).
//! - Tokens are never logged: errors say why, not what.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use moka::future::Cache;
use moka::ops::compute::{CompResult, Op};
use serde::Deserialize;
use url::Url;

/// The header Glean signs tool calls in.
pub const SIGNATURE_HEADER: &str = "glean-tools-signature";
/// The header older Glean deployments sign in; used only when
/// [`SIGNATURE_HEADER`] is absent.
pub const LEGACY_SIGNATURE_HEADER: &str = "glean-actions-signature";
/// The only issuer accepted.
pub const ISSUER: &str = "glean";
/// Tolerated clock difference between Glean and us, both ways.
pub const CLOCK_SKEW: Duration = Duration::from_secs(30);
/// The longest `exp - iat` accepted.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// Longer signature headers are refused unparsed (an RS256 JWT with three
/// claims is well under 1 KiB).
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// The longest a key fetch may take; a request waiting on it waits this long
/// at most.
pub const KEY_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The default minimum time between two refetches triggered by bad
/// signatures, so a flood of forged calls cannot flood Glean.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// While no key has been fetched yet, a failed fetch is retried no sooner
/// than this; calls in between fail at once.
pub const RETRY_AFTER_FAILED_FETCH: Duration = Duration::from_secs(2);

/// The path of Glean's key endpoint under the backend base URL.
const VERIFICATION_KEY_SEGMENTS: [&str; 4] = ["api", "tools", "v1", "verification_key"];
/// Glean's answer is a few hundred bytes; anything far larger is not it.
const MAX_KEY_RESPONSE_BYTES: usize = 64 * 1024;

/// Where the public key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A PEM public key (`PUBLIC KEY` or `RSA PUBLIC KEY`), or the base64
    /// DER Glean publishes; which one is detected.
    Pem(String),
    /// The Glean backend base, e.g. `https://acme-be.glean.com`; the key is
    /// fetched from its `/api/tools/v1/verification_key` on first use.
    Url(Url),
}

/// Why a signature was refused. Callers answer 401 whatever the reason; the
/// reason is for logs and never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Glean signature header")]
    Missing,
    #[error("the Glean signature is not a well-formed JWT")]
    Malformed,
    #[error("the Glean signature does not use RS256")]
    UnsupportedAlgorithm,
    #[error("the Glean signature's header has critical extensions (crit)")]
    CriticalExtensions,
    #[error("the Glean signature has expired")]
    Expired,
    #[error("the Glean signature is issued in the future")]
    NotYetValid,
    #[error("the Glean signature's issuer is not \"glean\"")]
    WrongIssuer,
    #[error("the Glean signature is valid for longer than allowed")]
    TooLongLived,
    #[error("the Glean signature does not match Glean's key")]
    BadSignature,
    #[error("Glean's verification key is unavailable: {0}")]
    KeyUnavailable(String),
    #[error("invalid Glean verification key: {0}")]
    InvalidKey(String),
}

/// Checks Glean's signature on incoming tool calls. Cheap to share: put it
/// in an `Arc` (or the app state) and call [`Verifier::verify`] per request.
pub struct Verifier {
    keys: Keys,
    validation: Validation,
    min_refetch_interval: Duration,
    /// "Now" for the refetch interval: the monotonic clock, unless a test
    /// moves it.
    now: Arc<dyn Fn() -> Instant + Send + Sync>,
    /// Tokens whose signature verified, with their times and the key
    /// generation that verified them, each kept until it expires. A token
    /// is a bearer credential valid until its `exp` however often it is
    /// sent, so checking the same bytes' RSA signature again proves nothing
    /// new; the times are still checked on every call, and a rotated key
    /// invalidates the entry.
    verified: Cache<String, Verified>,
}

/// The most tokens remembered as verified.
const VERIFIED_CAPACITY: u64 = 1024;

/// A remembered token: `Copy`, so a cache hit allocates nothing.
#[derive(Clone, Copy, Debug)]
struct Verified {
    times: Times,
    generation: u64,
}

/// Forgets a verified token once it can no longer pass [`check_times`].
struct UntilExpired;

impl moka::Expiry<String, Verified> for UntilExpired {
    fn expire_after_create(&self, _: &String, value: &Verified, _: Instant) -> Option<Duration> {
        let left = value.times.exp + CLOCK_SKEW.as_secs_f64() - now_secs();
        Some(Duration::try_from_secs_f64(left).unwrap_or(Duration::ZERO))
    }
}

enum Keys {
    /// Configured key: never refetched.
    Static(DecodingKey),
    /// Fetched from Glean; shared with fetch tasks, which outlive a cancelled
    /// request so that a dropped call cannot leave a fetch half done.
    Remote(Arc<Remote>),
}

struct Remote {
    /// The key endpoint (not the base).
    url: Url,
    http: reqwest::Client,
    /// The key in use, under the only key `()`; read on every call.
    current: Cache<(), CachedKey>,
    /// Counts successful fetches.
    generation: AtomicU64,
    /// The last fetch triggered by a bad signature (read and written only
    /// inside the serialised refetch).
    last_refetch: Mutex<Option<Instant>>,
    /// The last failed fetch, while no key has been fetched yet.
    last_failure: Mutex<Option<(Instant, SignatureError)>>,
}

#[derive(Clone)]
struct CachedKey {
    key: Arc<DecodingKey>,
    /// Which fetch this key came from, so a caller can tell whether the key
    /// changed while it waited.
    generation: u64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Verifier");
        match &self.keys {
            Keys::Static(_) => d.field("key", &"configured"),
            Keys::Remote(remote) => d.field("key_url", &remote.url.as_str()),
        };
        d.field("min_refetch_interval", &self.min_refetch_interval)
            .finish()
    }
}

impl Verifier {
    /// A verifier for `source`. A PEM/DER key is parsed now (an invalid one
    /// is an error); a URL is only checked now and the key fetched on first
    /// use, or by [`Verifier::prefetch`]. `http` is used for key fetches,
    /// each bounded by [`KEY_FETCH_TIMEOUT`].
    pub fn new(source: KeySource, http: reqwest::Client) -> Result<Verifier, SignatureError> {
        let keys = match source {
            KeySource::Pem(text) => Keys::Static(parse_public_key(&text)?),
            KeySource::Url(base) => Keys::Remote(Arc::new(Remote {
                url: key_url(&base)?,
                http,
                current: Cache::new(1),
                generation: AtomicU64::new(0),
                last_refetch: Mutex::new(None),
                last_failure: Mutex::new(None),
            })),
        };
        Ok(Verifier {
            keys,
            validation: validation(),
            min_refetch_interval: MIN_REFETCH_INTERVAL,
            now: Arc::new(Instant::now),
            verified: Cache::builder()
                .max_capacity(VERIFIED_CAPACITY)
                .expire_after(UntilExpired)
                .build(),
        })
    }

    /// Changes the minimum time between two bad-signature refetches
    /// (default [`MIN_REFETCH_INTERVAL`]).
    pub fn with_min_refetch_interval(mut self, interval: Duration) -> Verifier {
        self.min_refetch_interval = interval;
        self
    }

    /// Whether a key from the URL is cached (tests wait on it).
    #[cfg(test)]
    fn has_key(&self) -> bool {
        match &self.keys {
            Keys::Static(_) => true,
            Keys::Remote(remote) => remote.current.contains_key(&()),
        }
    }

    /// Times the refetch interval on `now` instead of the monotonic clock.
    pub fn with_clock(mut self, now: Arc<dyn Fn() -> Instant + Send + Sync>) -> Verifier {
        self.now = now;
        self
    }

    /// Fetches the key now if it comes from a URL and none is cached yet, so
    /// a misconfiguration shows at start rather than on the first call.
    pub async fn prefetch(&self) -> Result<(), SignatureError> {
        match &self.keys {
            Keys::Static(_) => Ok(()),
            Keys::Remote(remote) => remote.current_or_fetch().await.map(drop),
        }
    }

    /// Verifies the request's signature header: `Ok(())`, or why not.
    pub async fn verify(&self, headers: &HeaderMap) -> Result<(), SignatureError> {
        let token = signature_token(headers)?;
        let generation = match &self.keys {
            Keys::Static(_) => Some(0),
            Keys::Remote(remote) => remote.current.get(&()).await.map(|k| k.generation),
        };
        if let Some(generation) = generation
            && let Some(seen) = self.verified.get(token).await
            && seen.generation == generation
        {
            return check_times(&seen.times, now_secs());
        }
        // Garbage and foreign algorithms are refused before any key fetch.
        let header = jsonwebtoken::decode_header(token).map_err(jwt_error)?;
        if header.alg != Algorithm::RS256 {
            return Err(SignatureError::UnsupportedAlgorithm);
        }
        if has_critical_extensions(token) {
            return Err(SignatureError::CriticalExtensions);
        }
        let (times, generation) = match &self.keys {
            Keys::Static(key) => (self.check(token, key)?, 0),
            Keys::Remote(remote) => {
                let cached = remote.current_or_fetch().await?;
                match self.check(token, &cached.key) {
                    Err(SignatureError::BadSignature) => {
                        // Glean may have rotated its key.
                        match remote
                            .refetch_after(
                                cached.generation,
                                self.min_refetch_interval,
                                (self.now)(),
                            )
                            .await
                        {
                            Some(newer) => (self.check(token, &newer.key)?, newer.generation),
                            None => return Err(SignatureError::BadSignature),
                        }
                    }
                    other => (other?, cached.generation),
                }
            }
        };
        self.remember(token, times, generation).await;
        Ok(())
    }

    /// Signature, then claims; the times of a token that passes both.
    fn check(&self, token: &str, key: &DecodingKey) -> Result<Times, SignatureError> {
        let data =
            jsonwebtoken::decode::<TokenClaims>(token, key, &self.validation).map_err(jwt_error)?;
        check_claims(&data.claims, now_secs())
    }

    async fn remember(&self, token: &str, times: Times, generation: u64) {
        self.verified
            .insert(token.to_owned(), Verified { times, generation })
            .await;
    }
}

/// `jsonwebtoken` checks the algorithm and the signature only; the claims
/// are checked by [`check_claims`].
fn validation() -> Validation {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    validation
}

/// The claims we look at. Times are JSON numbers (NumericDate allows
/// fractions); a wrong type makes the token malformed.
#[derive(Clone, Debug, Deserialize)]
struct TokenClaims {
    iss: Option<String>,
    iat: Option<f64>,
    exp: Option<f64>,
    nbf: Option<f64>,
}

/// The times of a token whose claims passed [`check_claims`]: all that can
/// change their verdict later.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Times {
    iat: f64,
    exp: f64,
    nbf: Option<f64>,
}

/// The issuer and the token's lifetime, then its times against `now`.
fn check_claims(claims: &TokenClaims, now: f64) -> Result<Times, SignatureError> {
    if claims.iss.as_deref() != Some(ISSUER) {
        return Err(SignatureError::WrongIssuer);
    }
    let (Some(iat), Some(exp)) = (claims.iat, claims.exp) else {
        return Err(SignatureError::Malformed);
    };
    if exp < iat {
        return Err(SignatureError::Malformed);
    }
    if exp - iat > MAX_TOKEN_LIFETIME.as_secs_f64() {
        return Err(SignatureError::TooLongLived);
    }
    let times = Times {
        iat,
        exp,
        nbf: claims.nbf,
    };
    check_times(&times, now)?;
    Ok(times)
}

fn check_times(times: &Times, now: f64) -> Result<(), SignatureError> {
    let skew = CLOCK_SKEW.as_secs_f64();
    if now > times.exp + skew {
        return Err(SignatureError::Expired);
    }
    if times.iat > now + skew || times.nbf.is_some_and(|nbf| nbf > now + skew) {
        return Err(SignatureError::NotYetValid);
    }
    Ok(())
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn jwt_error(error: jsonwebtoken::errors::Error) -> SignatureError {
    match error.kind() {
        ErrorKind::InvalidSignature => SignatureError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            SignatureError::UnsupportedAlgorithm
        }
        ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => {
            SignatureError::InvalidKey(error.to_string())
        }
        // Bad shape, base64, JSON or UTF-8, or anything newer.
        _ => SignatureError::Malformed,
    }
}

/// The token from the signature header: the current header if present,
/// else the legacy one.
/// RFC 7515 §4.1.11: a `crit` header lists extensions the recipient must
/// understand or refuse the token; this verifier understands none, so any
/// `crit` (even empty, which the RFC forbids) refuses it.
fn has_critical_extensions(token: &str) -> bool {
    let header = token.split('.').next().unwrap_or_default();
    let url_safe = GeneralPurpose::new(
        &alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    match url_safe.decode(header) {
        Ok(json) => serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&json)
            .map_or(true, |fields| fields.contains_key("crit")),
        // `decode_header` accepted it, so this cannot happen; refuse anyway.
        Err(_) => true,
    }
}

impl SignatureError {
    /// The reason as a metric label and in the audit's summary records.
    pub fn label(&self) -> &'static str {
        match self {
            SignatureError::Missing => "missing",
            SignatureError::Malformed => "malformed",
            SignatureError::UnsupportedAlgorithm => "unsupported_algorithm",
            SignatureError::CriticalExtensions => "critical_extensions",
            SignatureError::Expired => "expired",
            SignatureError::NotYetValid => "not_yet_valid",
            SignatureError::WrongIssuer => "wrong_issuer",
            SignatureError::TooLongLived => "too_long_lived",
            SignatureError::BadSignature => "bad_signature",
            SignatureError::KeyUnavailable(_) => "key_unavailable",
            SignatureError::InvalidKey(_) => "invalid_key",
        }
    }
}

fn signature_token(headers: &HeaderMap) -> Result<&str, SignatureError> {
    let name = if headers.contains_key(SIGNATURE_HEADER) {
        SIGNATURE_HEADER
    } else {
        LEGACY_SIGNATURE_HEADER
    };
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(SignatureError::Missing)?;
    // Two signatures are ambiguous: which one would we have checked?
    if values.next().is_some() || value.len() > MAX_HEADER_BYTES {
        return Err(SignatureError::Malformed);
    }
    let token = value
        .to_str()
        .map_err(|_| SignatureError::Malformed)?
        .trim();
    if token.is_empty() {
        return Err(SignatureError::Missing);
    }
    if token.split('.').count() != 3 {
        return Err(SignatureError::Malformed);
    }
    Ok(token)
}

impl Remote {
    /// The cached key, fetching it if there is none yet. Concurrent callers
    /// share one fetch.
    async fn current_or_fetch(self: &Arc<Self>) -> Result<CachedKey, SignatureError> {
        if let Some(cached) = self.current.get(&()).await {
            return Ok(cached);
        }
        let failed = self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some((at, error)) = failed
            && at.elapsed() < RETRY_AFTER_FAILED_FETCH
        {
            return Err(error);
        }
        self.current
            .try_get_with((), self.spawn_fetch())
            .await
            .map_err(|error| SignatureError::clone(&error))
    }

    /// A key newer than generation `seen`: one another caller fetched while
    /// we waited, or one fetched now unless the last refetch was less than
    /// `interval` ago. `None` if there is none; the current key stays.
    /// Refetches are serialised by the cache's per-key compute.
    async fn refetch_after(
        self: &Arc<Self>,
        seen: u64,
        interval: Duration,
        now: Instant,
    ) -> Option<CachedKey> {
        let computed = self
            .current
            .entry(())
            .and_try_compute_with(|entry| async move {
                if entry.is_some_and(|entry| entry.value().generation != seen) {
                    return Ok(Op::Nop);
                }
                {
                    let mut last = self
                        .last_refetch
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    if last.is_some_and(|at| now.saturating_duration_since(at) < interval) {
                        return Ok(Op::Nop);
                    }
                    *last = Some(now);
                }
                self.spawn_fetch().await.map(Op::Put)
            })
            .await;
        match computed {
            Ok(CompResult::Unchanged(entry) | CompResult::ReplacedWith(entry))
            | Ok(CompResult::Inserted(entry)) => {
                Some(entry.into_value()).filter(|key| key.generation != seen)
            }
            Ok(CompResult::StillNone(_) | CompResult::Removed(_)) | Err(_) => None,
        }
    }

    /// Fetches in a task of its own, which stores the key it gets, so the
    /// fetch completes and is recorded even if the request that started it
    /// is dropped (the client hung up).
    async fn spawn_fetch(self: &Arc<Self>) -> Result<CachedKey, SignatureError> {
        let remote = Arc::clone(self);
        tokio::spawn(async move { remote.fetch_and_store().await })
            .await
            .unwrap_or_else(|e| {
                Err(SignatureError::KeyUnavailable(format!(
                    "key fetch task: {e}"
                )))
            })
    }

    async fn fetch_and_store(&self) -> Result<CachedKey, SignatureError> {
        match fetch_key(&self.http, &self.url).await {
            Ok(key) => {
                let cached = CachedKey {
                    key: Arc::new(key),
                    generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
                };
                *self
                    .last_failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                self.current.insert((), cached.clone()).await;
                tracing::info!(url = %self.url, "fetched Glean's verification key");
                Ok(cached)
            }
            Err(error) => {
                tracing::warn!(url = %self.url, %error, "cannot fetch Glean's verification key");
                if !self.current.contains_key(&()) {
                    *self
                        .last_failure
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) =
                        Some((Instant::now(), error.clone()));
                }
                Err(error)
            }
        }
    }
}

/// The key endpoint under the backend base `base`. A URL that already ends
/// in the endpoint's path is taken as is.
fn key_url(base: &Url) -> Result<Url, SignatureError> {
    if !matches!(base.scheme(), "http" | "https") {
        return Err(SignatureError::InvalidKey(format!(
            "the Glean URL must be http(s), not {base}"
        )));
    }
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if url
        .path()
        .trim_end_matches('/')
        .ends_with("/api/tools/v1/verification_key")
    {
        return Ok(url);
    }
    url.path_segments_mut()
        .map_err(|()| SignatureError::InvalidKey(format!("the Glean URL has no path: {base}")))?
        .pop_if_empty()
        .extend(VERIFICATION_KEY_SEGMENTS);
    Ok(url)
}

#[derive(Deserialize)]
struct KeyResponse {
    #[serde(rename = "publicKey")]
    public_key: String,
}

async fn fetch_key(http: &reqwest::Client, url: &Url) -> Result<DecodingKey, SignatureError> {
    let unavailable =
        |e: reqwest::Error| SignatureError::KeyUnavailable(e.without_url().to_string());
    let mut response = http
        .get(url.clone())
        .header(http::header::ACCEPT, "application/json")
        .timeout(KEY_FETCH_TIMEOUT)
        .send()
        .await
        .map_err(unavailable)?;
    let status = response.status();
    if !status.is_success() {
        return Err(SignatureError::KeyUnavailable(format!(
            "the key endpoint answered {status}"
        )));
    }
    let too_large =
        || SignatureError::KeyUnavailable("the key endpoint's answer is too large".into());
    if response
        .content_length()
        .is_some_and(|n| n > MAX_KEY_RESPONSE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unavailable)? {
        if body.len() + chunk.len() > MAX_KEY_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let answer: KeyResponse = serde_json::from_slice(&body).map_err(|_| {
        SignatureError::InvalidKey("the key endpoint's answer is not {\"publicKey\": ...}".into())
    })?;
    parse_public_key(&answer.public_key)
}

/// Standard base64, padded or not (keys are pasted by hand into files).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses an RSA public key given as PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`)
/// or as base64 DER (SubjectPublicKeyInfo, as Glean publishes, or PKCS#1).
/// The key is checked here, not at the first verification, so that a wrong
/// key is reported as such rather than as bad signatures.
fn parse_public_key(text: &str) -> Result<DecodingKey, SignatureError> {
    let invalid = |why: String| SignatureError::InvalidKey(why);
    let text = text.trim();
    let der = if text.starts_with("-----BEGIN") {
        let pem = pem::parse(text).map_err(|e| invalid(format!("not a PEM public key: {e}")))?;
        match pem.tag() {
            "PUBLIC KEY" | "RSA PUBLIC KEY" => pem.into_contents(),
            tag if tag.contains("PRIVATE") => {
                return Err(invalid(
                    "this is a private key; give Glean's public key".into(),
                ));
            }
            tag => return Err(invalid(format!("expected a PEM PUBLIC KEY, not {tag}"))),
        }
    } else {
        let compact: String = text.split_whitespace().collect();
        BASE64
            .decode(compact)
            .map_err(|_| invalid("neither a PEM nor base64".into()))?
    };
    let key = rsa_public_key(&der).map_err(invalid)?;
    let (n, e) = (key.modulus.as_bytes(), key.public_exponent.as_bytes());
    // What RS256 verification accepts (ring): 2048 to 8192 bits, an odd
    // exponent of at least 3 and at most 33 bits.
    let n_bits = bit_len(n);
    if !(2048..=8192).contains(&n_bits) {
        return Err(invalid(format!(
            "the RSA modulus has {n_bits} bits; RS256 needs 2048 to 8192"
        )));
    }
    let e_odd = e.last().is_some_and(|b| b & 1 == 1);
    if !e_odd || bit_len(e) > 33 || (e.len() == 1 && e[0] < 3) {
        return Err(invalid("unusable RSA public exponent".into()));
    }
    Ok(DecodingKey::from_rsa_raw_components(n, e))
}

/// rsaEncryption (RFC 8017, appendix A.1). `pkcs1::ALGORITHM_OID` is the same
/// but needs that crate's `pkcs8` feature.
const RSA_ENCRYPTION: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The RSA key in a SubjectPublicKeyInfo, or a bare PKCS#1 RSAPublicKey.
fn rsa_public_key(der: &[u8]) -> Result<pkcs1::RsaPublicKey<'_>, String> {
    let pkcs1 = match spki::SubjectPublicKeyInfoRef::try_from(der) {
        Ok(info) => {
            if info.algorithm.oid != RSA_ENCRYPTION {
                return Err("not an RSA key".into());
            }
            info.subject_public_key
                .as_bytes()
                .ok_or("malformed key bit string")?
        }
        Err(_) => der,
    };
    pkcs1::RsaPublicKey::try_from(pkcs1)
        .map_err(|e| format!("not an RSA public key (SubjectPublicKeyInfo or PKCS#1): {e}"))
}

/// The bit length of a big-endian magnitude without leading zeros.
fn bit_len(magnitude: &[u8]) -> usize {
    match magnitude.first() {
        None => 0,
        Some(&top) => magnitude.len() * 8 - top.leading_zeros() as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glean_sim::{Claims, GleanSim, GleanSimHandle, TestSigner, forge};
    use http::HeaderValue;

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        map
    }

    fn signed(token: &str) -> HeaderMap {
        headers(SIGNATURE_HEADER, token)
    }

    fn client() -> reqwest::Client {
        reqwest::Client::new()
    }

    fn pem_verifier(signer: &TestSigner) -> Verifier {
        Verifier::new(KeySource::Pem(signer.public_key_pem()), client()).unwrap()
    }

    fn url_verifier(sim: &GleanSimHandle) -> Verifier {
        let url = Url::parse(&sim.base_url()).unwrap();
        Verifier::new(KeySource::Url(url), client()).unwrap()
    }

    async fn check(verifier: &Verifier, token: &str) -> Result<(), SignatureError> {
        verifier.verify(&signed(token)).await
    }

    #[tokio::test]
    async fn valid_token_passes_under_both_header_names() {
        let signer = TestSigner::shared();
        let verifier = pem_verifier(signer);
        let token = signer.token();
        assert_eq!(
            verifier.verify(&headers(SIGNATURE_HEADER, &token)).await,
            Ok(())
        );
        assert_eq!(
            verifier
                .verify(&headers(LEGACY_SIGNATURE_HEADER, &token))
                .await,
            Ok(())
        );
        // Header names are case-insensitive on the wire.
        assert_eq!(
            verifier
                .verify(&headers("Glean-Tools-Signature", &token))
                .await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn a_token_verified_before_is_remembered_but_not_a_tampered_one() {
        let signer = TestSigner::shared();
        let verifier = pem_verifier(signer);
        let token = signer.token();
        assert_eq!(check(&verifier, &token).await, Ok(()));
        verifier.verified.run_pending_tasks().await;
        assert_eq!(verifier.verified.entry_count(), 1);
        assert_eq!(check(&verifier, &token).await, Ok(()), "again");
        // Another signature over the same claims is not the remembered token.
        let (signed_part, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let tampered = format!("{signed_part}.{flipped}{}", &signature[1..]);
        assert!(check(&verifier, &tampered).await.is_err());
        // Remembered claims are still checked on every call.
        let expired = signer.token_with("glean", -600, -300);
        verifier
            .remember(
                &expired,
                Times {
                    iat: now_secs() - 600.0,
                    exp: now_secs() - 300.0,
                    nbf: None,
                },
                0,
            )
            .await;
        assert_eq!(
            check(&verifier, &expired).await,
            Err(SignatureError::Expired)
        );
    }

    #[tokio::test]
    async fn the_current_header_wins_over_the_legacy_one() {
        let signer = TestSigner::shared();
        let verifier = pem_verifier(signer);
        let mut both = headers(SIGNATURE_HEADER, &signer.token());
        both.insert(LEGACY_SIGNATURE_HEADER, HeaderValue::from_static("garbage"));
        assert_eq!(verifier.verify(&both).await, Ok(()));

        let mut both = headers(SIGNATURE_HEADER, &signer.token_with("glean", -600, -300));
        both.insert(
            LEGACY_SIGNATURE_HEADER,
            HeaderValue::from_str(&signer.token()).unwrap(),
        );
        assert_eq!(verifier.verify(&both).await, Err(SignatureError::Expired));
    }

    #[tokio::test]
    async fn times_are_checked_with_30_seconds_of_skew() {
        let signer = TestSigner::shared();
        let verifier = pem_verifier(signer);
        let expired = signer.token_with("glean", -120, -60);
        assert_eq!(
            check(&verifier, &expired).await,
            Err(SignatureError::Expired)
        );
        let future = signer.token_with("glean", 120, 180);
        assert_eq!(
            check(&verifier, &future).await,
            Err(SignatureError::NotYetValid)
        );
        // Within the skew both ways.
        let just_expired = signer.token_with("glean", -80, -20);
        assert_eq!(check(&verifier, &just_expired).await, Ok(()));
        let slightly_ahead = signer.token_with("glean", 20, 80);
        assert_eq!(check(&verifier, &slightly_ahead).await, Ok(()));
        // Just past it.
        let expired_40 = signer.token_with("glean", -100, -40);
        assert_eq!(
            check(&verifier, &expired_40).await,
            Err(SignatureError::Expired)
        );
        let ahead_40 = signer.token_with("glean", 40, 100);
        assert_eq!(
            check(&verifier, &ahead_40).await,
            Err(SignatureError::NotYetValid)
        );
    }

    #[tokio::test]
    async fn nbf_in_the_future_is_refused() {
        let signer = TestSigner::shared();
        let verifier = pem_verifier(signer);
        let now = glean_sim::now_secs();
        let token = signer.sign_json(&serde_json::json!({
            "iss": "glean", "iat": now, "exp": now + 60, "nbf": now + 120,
        }));
        assert_eq!(
            check(&verifier, &token).await,
            Err(SignatureError::NotYetValid)
        );
    }

    #[tokio::test]
    async fn long_lived_tokens_are_refused() {
        let signer = TestSigner::shared();
        let verifier = pem_verifier(signer);
        let hour = signer.token_with("glean", 0, 3600);
        assert_eq!(check(&verifier, &hour).await, Ok(()));
        let day = signer.token_with("glean", 0, 86_400);
        assert_eq!(
            check(&verifier, &day).await,
            Err(SignatureError::TooLongLived)
        );
        let backwards = signer.token_with("glean", 10, 0);
        assert_eq!(
            check(&verifier, &backwards).await,
            Err(SignatureError::Malformed)
        );
    }

    #[tokio::test]
    async fn claims_are_required_and_typed() {
        let signer = TestSigner::shared();
        let verifier = pem_verifier(signer);
        let now = glean_sim::now_secs();
        let cases = [
            (
                serde_json::json!({"iss": "glean", "exp": now + 60}),
                SignatureError::Malformed,
            ),
            (
                serde_json::json!({"iss": "glean", "iat": now}),
                SignatureError::Malformed,
            ),
            (
                serde_json::json!({"iat": now, "exp": now + 60}),
                SignatureError::WrongIssuer,
            ),
            (
                serde_json::json!({"iss": "glean", "iat": "now", "exp": now + 60}),
                SignatureError::Malformed,
            ),
            (
                serde_json::json!({"iss": ["glean"], "iat": now, "exp": now + 60}),
                SignatureError::Malformed,
            ),
        ];
        for (payload, expected) in cases {
            let token = signer.sign_json(&payload);
            assert_eq!(check(&verifier, &token).await, Err(expected), "{payload}");
        }
        // Fractional NumericDates and extra claims are fine.
        let token = signer.sign_json(&serde_json::json!({
            "iss": "glean", "iat": now as f64 + 0.25, "exp": now as f64 + 60.5,
            "aud": "someone", "sub": "x",
        }));
        assert_eq!(check(&verifier, &token).await, Ok(()));
    }

    #[tokio::test]
    async fn wrong_issuer_and_wrong_key_are_refused() {
        let signer = TestSigner::shared();
        let verifier = pem_verifier(signer);
        let foreign = signer.token_with("not-glean", 0, 60);
        assert_eq!(
            check(&verifier, &foreign).await,
            Err(SignatureError::WrongIssuer)
        );
        let other = TestSigner::shared_other().token();
        assert_eq!(
            check(&verifier, &other).await,
            Err(SignatureError::BadSignature)
        );
    }

    #[tokio::test]
    async fn missing_and_malformed_headers_are_refused() {
        let verifier = pem_verifier(TestSigner::shared());
        assert_eq!(
            verifier.verify(&HeaderMap::new()).await,
            Err(SignatureError::Missing)
        );
        assert_eq!(check(&verifier, "").await, Err(SignatureError::Missing));
        assert_eq!(check(&verifier, "   ").await, Err(SignatureError::Missing));
        for garbage in ["abc", "a.b", "a.b.c", "a.b.c.d", "...", "e30.e30.e30"] {
            assert_eq!(
                check(&verifier, garbage).await,
                Err(SignatureError::Malformed),
                "{garbage}"
            );
        }
        // Oversized, before any parsing.
        let huge = format!("{}.{}.x", "a".repeat(MAX_HEADER_BYTES), "b");
        assert_eq!(
            check(&verifier, &huge).await,
            Err(SignatureError::Malformed)
        );
        // Not visible ASCII.
        let mut map = HeaderMap::new();
        map.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_bytes(b"a.b.\xff").unwrap(),
        );
        assert_eq!(verifier.verify(&map).await, Err(SignatureError::Malformed));
        // Two signatures.
        let token = TestSigner::shared().token();
        let mut map = signed(&token);
        map.append(SIGNATURE_HEADER, HeaderValue::from_str(&token).unwrap());
        assert_eq!(verifier.verify(&map).await, Err(SignatureError::Malformed));
        // A signature mangled in transit.
        let mut mangled = token.clone();
        mangled.push('A');
        assert!(check(&verifier, &mangled).await.is_err());
    }

    #[tokio::test]
    async fn forged_algorithms_are_refused() {
        let signer = TestSigner::shared();
        let verifier = pem_verifier(signer);
        let claims = Claims::valid_now();
        let none = forge::alg_none(&claims);
        assert_eq!(
            check(&verifier, &none).await,
            Err(SignatureError::Malformed)
        );
        // HMAC keyed with what the verifier holds: the PEM, the DER, its base64.
        for secret in [
            signer.public_key_pem().into_bytes(),
            signer.public_key_der().to_vec(),
            signer.public_key_der_base64().into_bytes(),
        ] {
            let hs = forge::hs256(&secret, &claims);
            assert_eq!(
                check(&verifier, &hs).await,
                Err(SignatureError::UnsupportedAlgorithm)
            );
        }
        // RS256 header over an HS256 signature.
        let hs = forge::hs256(signer.public_key_pem().as_bytes(), &claims);
        let (_, rest) = hs.split_once('.').unwrap();
        let rs_header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let spliced = format!("{rs_header}.{rest}");
        assert_eq!(
            check(&verifier, &spliced).await,
            Err(SignatureError::BadSignature)
        );
    }

    #[tokio::test]
    async fn key_sources_pem_der_and_pkcs1_all_load() {
        let signer = TestSigner::shared();
        let token = signer.token();
        let der = signer.public_key_der();
        // A 2048-bit SPKI is a 24-byte header around the PKCS#1 key.
        assert_eq!(der[24], 0x30, "a DER SEQUENCE");
        let pkcs1_b64 = base64::engine::general_purpose::STANDARD.encode(&der[24..]);
        let pkcs1_pem =
            format!("-----BEGIN RSA PUBLIC KEY-----\n{pkcs1_b64}\n-----END RSA PUBLIC KEY-----\n");
        let wrapped_b64 = signer
            .public_key_der_base64()
            .as_bytes()
            .chunks(60)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\n");
        for source in [
            signer.public_key_pem(),
            format!("  {}\r\n", signer.public_key_pem().replace('\n', "\r\n")),
            signer.public_key_der_base64(),
            signer
                .public_key_der_base64()
                .trim_end_matches('=')
                .to_owned(),
            wrapped_b64,
            pkcs1_b64,
            pkcs1_pem,
        ] {
            let verifier = Verifier::new(KeySource::Pem(source.clone()), client())
                .unwrap_or_else(|e| panic!("{source:?}: {e}"));
            assert_eq!(check(&verifier, &token).await, Ok(()), "{source:?}");
        }
    }

    #[test]
    fn invalid_keys_are_refused_at_construction() {
        let invalid = |text: &str| match Verifier::new(KeySource::Pem(text.to_owned()), client()) {
            Err(SignatureError::InvalidKey(why)) => why,
            other => panic!("{text:?}: {other:?}"),
        };
        invalid("");
        invalid("not a key!");
        invalid("aGVsbG8gd29ybGQ=");
        assert!(
            invalid("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .contains("private")
        );
        invalid("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----");
        let b64 = TestSigner::shared().public_key_der_base64();
        invalid(&format!("-----BEGIN PUBLIC KEY-----\n{b64}\n"));
        invalid(&b64[..b64.len() - 8]);

        // A 1024-bit key: well-formed, but too small for RS256.
        let mut small = vec![0x30, 0x81, 0x89, 0x02, 0x81, 0x81, 0x00];
        small.extend(std::iter::repeat_n(0xc5, 128));
        small.extend([0x02, 0x03, 0x01, 0x00, 0x01]);
        let small_b64 = base64::engine::general_purpose::STANDARD.encode(&small);
        assert!(invalid(&small_b64).contains("1024 bits"));
        // The same shape with a 2048-bit modulus loads.
        let mut ok = vec![0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01, 0x00];
        ok.extend(std::iter::repeat_n(0xc5, 256));
        ok.extend([0x02, 0x03, 0x01, 0x00, 0x01]);
        let ok_b64 = base64::engine::general_purpose::STANDARD.encode(&ok);
        assert!(Verifier::new(KeySource::Pem(ok_b64), client()).is_ok());
        // Even exponent.
        let mut even = ok.clone();
        let last = even.len() - 1;
        even[last] = 0x02;
        invalid(&base64::engine::general_purpose::STANDARD.encode(&even));
    }

    #[test]
    fn key_url_is_built_under_the_backend_base() {
        let url = |s: &str| key_url(&Url::parse(s).unwrap()).map(|u| u.to_string());
        let expected = "https://acme-be.glean.com/api/tools/v1/verification_key";
        assert_eq!(url("https://acme-be.glean.com").unwrap(), expected);
        assert_eq!(url("https://acme-be.glean.com/").unwrap(), expected);
        assert_eq!(url("https://acme-be.glean.com/?x=1#y").unwrap(), expected);
        assert_eq!(url(expected).unwrap(), expected);
        assert_eq!(
            url("http://127.0.0.1:8080/glean").unwrap(),
            "http://127.0.0.1:8080/glean/api/tools/v1/verification_key"
        );
        assert!(matches!(
            url("ftp://x/"),
            Err(SignatureError::InvalidKey(_))
        ));
        assert!(matches!(
            url("mailto:a@b"),
            Err(SignatureError::InvalidKey(_))
        ));
    }

    #[tokio::test]
    async fn url_source_fetches_once_and_caches() {
        let signer = TestSigner::shared();
        let sim = GleanSim::spawn(signer).await.unwrap();
        let verifier = url_verifier(&sim);
        assert_eq!(sim.key_fetches(), 0, "fetched lazily");
        // Refused before any fetch: nothing to check a key against.
        assert_eq!(
            check(&verifier, "a.b").await,
            Err(SignatureError::Malformed)
        );
        let hs = forge::hs256(b"secret", &Claims::valid_now());
        assert_eq!(
            check(&verifier, &hs).await,
            Err(SignatureError::UnsupportedAlgorithm)
        );
        assert_eq!(sim.key_fetches(), 0);

        for _ in 0..20 {
            assert_eq!(check(&verifier, &signer.token()).await, Ok(()));
        }
        // Expired or foreign tokens are no reason to refetch.
        let expired = signer.token_with("glean", -600, -300);
        assert_eq!(
            check(&verifier, &expired).await,
            Err(SignatureError::Expired)
        );
        let foreign = signer.token_with("else", 0, 60);
        assert_eq!(
            check(&verifier, &foreign).await,
            Err(SignatureError::WrongIssuer)
        );
        assert_eq!(sim.key_fetches(), 1);
        verifier.prefetch().await.unwrap();
        assert_eq!(sim.key_fetches(), 1);
    }

    #[tokio::test]
    async fn concurrent_first_calls_fetch_once() {
        let signer = TestSigner::shared();
        let sim = GleanSim::spawn(signer).await.unwrap();
        sim.set_delay(Duration::from_millis(300));
        let verifier = Arc::new(url_verifier(&sim));
        let calls: Vec<_> = (0..20)
            .map(|_| {
                let verifier = Arc::clone(&verifier);
                let token = signer.token();
                tokio::spawn(async move { check(&verifier, &token).await })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap(), Ok(()));
        }
        assert_eq!(sim.key_fetches(), 1);
    }

    #[tokio::test]
    async fn a_fetch_completes_when_its_caller_hangs_up() {
        let signer = TestSigner::shared();
        let sim = GleanSim::spawn(signer).await.unwrap();
        sim.set_delay(Duration::from_millis(300));
        let verifier = url_verifier(&sim);
        let token = signer.token();
        let dropped = tokio::time::timeout(Duration::from_millis(50), check(&verifier, &token));
        assert!(dropped.await.is_err(), "the call was cut short");
        // The fetch goes on in its own task: wait until it has stored the key.
        for _ in 0..500 {
            if verifier.has_key() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(verifier.has_key(), "the dropped call's fetch completed");
        sim.set_delay(Duration::ZERO);
        // The key fetched for the dropped call is cached.
        assert_eq!(check(&verifier, &token).await, Ok(()));
        assert_eq!(sim.key_fetches(), 1);
    }

    #[tokio::test]
    async fn rotation_is_picked_up_with_one_refetch() {
        let old = TestSigner::shared();
        let new = TestSigner::shared_other();
        let sim = GleanSim::spawn(old).await.unwrap();
        let verifier = Arc::new(url_verifier(&sim));
        verifier.prefetch().await.unwrap();
        assert_eq!(sim.key_fetches(), 1);

        sim.rotate(new);
        // Many calls signed with the new key at once: one refetch for all.
        let calls: Vec<_> = (0..10)
            .map(|_| {
                let verifier = Arc::clone(&verifier);
                let token = new.token();
                tokio::spawn(async move { check(&verifier, &token).await })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap(), Ok(()));
        }
        assert_eq!(sim.key_fetches(), 2);
        assert_eq!(check(&verifier, &new.token()).await, Ok(()));
        // The old key is gone.
        assert_eq!(
            check(&verifier, &old.token()).await,
            Err(SignatureError::BadSignature)
        );
        assert_eq!(sim.key_fetches(), 2);
    }

    #[tokio::test]
    async fn a_bad_signature_flood_refetches_at_most_once_per_interval() {
        let signer = TestSigner::shared();
        let forger = TestSigner::shared_other();
        let sim = GleanSim::spawn(signer).await.unwrap();
        let interval = Duration::from_secs(1);
        let start = Instant::now();
        let elapsed_ms = Arc::new(AtomicU64::new(0));
        let clock = Arc::clone(&elapsed_ms);
        let verifier = Arc::new(
            url_verifier(&sim)
                .with_min_refetch_interval(interval)
                .with_clock(Arc::new(move || {
                    start + Duration::from_millis(clock.load(Ordering::Relaxed))
                })),
        );
        verifier.prefetch().await.unwrap();

        let flood = |verifier: Arc<Verifier>| async move {
            let calls: Vec<_> = (0..50)
                .map(|_| {
                    let verifier = Arc::clone(&verifier);
                    let token = forger.token();
                    tokio::spawn(async move { check(&verifier, &token).await })
                })
                .collect();
            for call in calls {
                assert_eq!(call.await.unwrap(), Err(SignatureError::BadSignature));
            }
        };
        flood(Arc::clone(&verifier)).await;
        assert_eq!(sim.key_fetches(), 2, "one refetch for the whole flood");
        flood(Arc::clone(&verifier)).await;
        assert_eq!(sim.key_fetches(), 2, "none within the interval");
        // Genuine calls are unaffected.
        assert_eq!(check(&verifier, &signer.token()).await, Ok(()));

        elapsed_ms.fetch_add(999, Ordering::Relaxed);
        flood(Arc::clone(&verifier)).await;
        assert_eq!(sim.key_fetches(), 2, "none until the interval has passed");
        elapsed_ms.fetch_add(1, Ordering::Relaxed);
        flood(Arc::clone(&verifier)).await;
        assert_eq!(sim.key_fetches(), 3, "one more after the interval");

        // With the default interval (one minute) the same holds.
        let verifier = Arc::new(url_verifier(&sim));
        verifier.prefetch().await.unwrap();
        assert_eq!(sim.key_fetches(), 4);
        flood(Arc::clone(&verifier)).await;
        flood(Arc::clone(&verifier)).await;
        assert_eq!(sim.key_fetches(), 5);
    }

    #[tokio::test]
    async fn key_endpoint_failures() {
        let signer = TestSigner::shared();
        let sim = GleanSim::spawn(signer).await.unwrap();
        let verifier = url_verifier(&sim);

        sim.set_failing(true);
        let err = check(&verifier, &signer.token()).await.unwrap_err();
        assert!(
            matches!(err, SignatureError::KeyUnavailable(ref why) if why.contains("500")),
            "{err}"
        );
        assert_eq!(verifier.prefetch().await, Err(err.clone()));
        // Retried only after a pause: calls in between fail at once.
        assert_eq!(sim.key_fetches(), 1);
        sim.set_failing(false);
        assert_eq!(check(&verifier, &signer.token()).await, Err(err));
        assert_eq!(sim.key_fetches(), 1);
        tokio::time::sleep(RETRY_AFTER_FAILED_FETCH + Duration::from_millis(100)).await;
        assert_eq!(check(&verifier, &signer.token()).await, Ok(()));
        assert_eq!(sim.key_fetches(), 2);

        // A failed refetch keeps the current key.
        sim.set_failing(true);
        let other = TestSigner::shared_other().token();
        assert_eq!(
            check(&verifier, &other).await,
            Err(SignatureError::BadSignature)
        );
        assert_eq!(sim.key_fetches(), 3);
        assert_eq!(check(&verifier, &signer.token()).await, Ok(()));
    }

    #[tokio::test]
    async fn a_garbage_served_key_is_an_invalid_key() {
        let signer = TestSigner::shared();
        let sim = GleanSim::spawn(signer).await.unwrap();
        sim.serve_public_key("garbage!");
        let verifier = url_verifier(&sim);
        assert!(matches!(
            verifier.prefetch().await,
            Err(SignatureError::InvalidKey(_))
        ));
        // The sim may also serve a PEM; that is accepted too.
        let sim = GleanSim::spawn(signer).await.unwrap();
        sim.serve_public_key(signer.public_key_pem());
        let verifier = url_verifier(&sim);
        assert_eq!(check(&verifier, &signer.token()).await, Ok(()));
    }

    #[tokio::test]
    async fn an_unreachable_backend_is_key_unavailable() {
        let sim = GleanSim::spawn(TestSigner::shared()).await.unwrap();
        let url = Url::parse(&sim.base_url()).unwrap();
        drop(sim);
        // Wait until the server has stopped answering.
        for _ in 0..500 {
            if client().get(url.clone()).send().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let verifier = Verifier::new(KeySource::Url(url), client()).unwrap();
        assert!(matches!(
            verifier.prefetch().await,
            Err(SignatureError::KeyUnavailable(_))
        ));
    }

    #[test]
    fn check_claims_boundaries() {
        let claims = |iat: f64, exp: f64| TokenClaims {
            iss: Some("glean".into()),
            iat: Some(iat),
            exp: Some(exp),
            nbf: None,
        };
        let now = 1_700_000_000.0;
        let check_claims = |claims: &TokenClaims, now: f64| check_claims(claims, now).map(drop);
        assert_eq!(check_claims(&claims(now - 90.0, now - 30.0), now), Ok(()));
        assert_eq!(
            check_claims(&claims(now - 90.0, now - 30.5), now),
            Err(SignatureError::Expired)
        );
        assert_eq!(check_claims(&claims(now + 30.0, now + 90.0), now), Ok(()));
        assert_eq!(
            check_claims(&claims(now + 30.5, now + 90.0), now),
            Err(SignatureError::NotYetValid)
        );
        assert_eq!(check_claims(&claims(now, now + 3600.0), now), Ok(()));
        assert_eq!(
            check_claims(&claims(now, now + 3600.5), now),
            Err(SignatureError::TooLongLived)
        );
    }

    #[test]
    fn errors_never_contain_the_token() {
        let token = TestSigner::shared().token();
        for error in [
            SignatureError::Missing,
            SignatureError::Malformed,
            SignatureError::BadSignature,
            SignatureError::Expired,
        ] {
            assert!(!error.to_string().contains(&token));
        }
        let verifier = pem_verifier(TestSigner::shared());
        assert!(!format!("{verifier:?}").contains("BEGIN"));
    }
}
