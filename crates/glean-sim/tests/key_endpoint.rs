//! The simulated key endpoint serves the key that verifies the signer's tokens.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use glean_sim::{Claims, GleanSim, ISSUER, TestSigner, forge};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

#[derive(serde::Deserialize)]
struct KeyResponse {
    #[serde(rename = "publicKey")]
    public_key: String,
}

fn pem_from_der_base64(b64: &str) -> String {
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

fn validation() -> Validation {
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[ISSUER]);
    v.set_required_spec_claims(&["exp", "iss"]);
    v
}

async fn fetch_key(url: &str) -> reqwest::Result<KeyResponse> {
    reqwest::get(url).await?.error_for_status()?.json().await
}

#[tokio::test]
async fn served_key_verifies_signer_tokens() {
    let signer = TestSigner::shared();
    let sim = GleanSim::spawn(signer).await.unwrap();
    assert_eq!(sim.key_fetches(), 0);

    let key = fetch_key(&sim.verification_key_url()).await.unwrap();
    assert_eq!(sim.key_fetches(), 1);
    assert_eq!(key.public_key, signer.public_key_der_base64());
    // It is base64 of DER, not a PEM.
    assert!(STANDARD.decode(&key.public_key).is_ok());

    let decoding = DecodingKey::from_rsa_pem(pem_from_der_base64(&key.public_key).as_bytes())
        .expect("the served key loads as a PEM public key");
    let data = jsonwebtoken::decode::<Claims>(&signer.token(), &decoding, &validation())
        .expect("the signer's token verifies with the served key");
    assert_eq!(data.header.alg, Algorithm::RS256);
    assert_eq!(data.claims.iss, "glean");
    assert_eq!(data.claims.exp - data.claims.iat, 60);

    // The signer's own PEM is the same key.
    let own = DecodingKey::from_rsa_pem(signer.public_key_pem().as_bytes()).unwrap();
    jsonwebtoken::decode::<Claims>(&signer.token(), &own, &validation()).unwrap();
}

#[tokio::test]
async fn rotation_failure_and_delay() {
    let first = TestSigner::shared();
    let second = TestSigner::shared_other();
    assert_ne!(
        first.public_key_der_base64(),
        second.public_key_der_base64()
    );

    let sim = GleanSim::spawn(first).await.unwrap();
    let url = sim.verification_key_url();
    assert!(url.starts_with("http://127.0.0.1:"));
    assert!(url.ends_with("/api/tools/v1/verification_key"));

    sim.rotate(second);
    let key = fetch_key(&url).await.unwrap();
    assert_eq!(key.public_key, second.public_key_der_base64());
    let decoding =
        DecodingKey::from_rsa_pem(pem_from_der_base64(&key.public_key).as_bytes()).unwrap();
    assert!(jsonwebtoken::decode::<Claims>(&second.token(), &decoding, &validation()).is_ok());
    let err = jsonwebtoken::decode::<Claims>(&first.token(), &decoding, &validation()).unwrap_err();
    assert_eq!(
        *err.kind(),
        jsonwebtoken::errors::ErrorKind::InvalidSignature
    );

    sim.set_failing(true);
    let status = reqwest::get(&url).await.unwrap().status();
    assert_eq!(status, reqwest::StatusCode::INTERNAL_SERVER_ERROR);
    sim.set_failing(false);

    sim.set_delay(Duration::from_millis(200));
    let started = std::time::Instant::now();
    fetch_key(&url).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(sim.key_fetches(), 3);

    sim.serve_public_key("not a key");
    assert_eq!(fetch_key(&url).await.unwrap().public_key, "not a key");
}

#[tokio::test]
async fn stops_when_dropped() {
    let sim = GleanSim::spawn(TestSigner::shared()).await.unwrap();
    let url = sim.verification_key_url();
    drop(sim);
    // The listener closes in its own task: asked until it has.
    let mut answered = 0;
    while reqwest::get(&url).await.is_ok() {
        answered += 1;
        assert!(answered < 100, "still answering after the drop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn token_helpers_set_claims_relative_to_now() {
    let signer = TestSigner::shared();
    let decoding = DecodingKey::from_rsa_pem(signer.public_key_pem().as_bytes()).unwrap();
    let mut v = validation();
    v.validate_exp = false;
    v.set_issuer(&["someone-else"]);
    let token = signer.token_with("someone-else", -120, -60);
    let claims = jsonwebtoken::decode::<Claims>(&token, &decoding, &v)
        .unwrap()
        .claims;
    let now = glean_sim::now_secs();
    assert!((claims.iat - (now - 120)).abs() <= 2);
    assert!((claims.exp - (now - 60)).abs() <= 2);
}

#[test]
fn forged_tokens_do_not_verify() {
    let signer = TestSigner::shared();
    let decoding = DecodingKey::from_rsa_pem(signer.public_key_pem().as_bytes()).unwrap();
    let claims = Claims::valid_now();
    let none = forge::alg_none(&claims);
    assert!(none.ends_with('.'));
    assert!(jsonwebtoken::decode::<Claims>(&none, &decoding, &validation()).is_err());
    let hs = forge::hs256(signer.public_key_pem().as_bytes(), &claims);
    assert!(jsonwebtoken::decode::<Claims>(&hs, &decoding, &validation()).is_err());
}
