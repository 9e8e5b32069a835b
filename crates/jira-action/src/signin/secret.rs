//! Codes and tokens: random, opaque, and stored only as SHA-256 hashes.
//! PKCE (RFC 7636), S256 only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefixes that tell a person (and a secret scanner) what a string is.
pub const ACCESS_PREFIX: &str = "jat_";
pub const REFRESH_PREFIX: &str = "jrt_";
pub const CODE_PREFIX: &str = "jac_";

/// A new secret: 244 random bits (two v4 UUIDs, from the OS's generator).
pub fn new(prefix: &str) -> String {
    format!(
        "{prefix}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// What the store keeps of a secret: its SHA-256, in hex.
pub fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A `code_challenge` as S256 makes it: 43 characters of base64url.
pub fn is_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The S256 `code_challenge` of a verifier: BASE64URL(SHA256(verifier)).
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` (43 to 128 unreserved characters) is the one the
/// challenge was made from: BASE64URL(SHA256(verifier)) == challenge.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    self::challenge(verifier)
        .as_bytes()
        .ct_eq(challenge.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_example_verifies_and_nothing_else_does() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_challenge(challenge));
        assert!(verifier_matches(verifier, challenge));
        assert_eq!(super::challenge(verifier), challenge);
        assert!(!verifier_matches(&verifier.replace('d', "e"), challenge));
        // `plain`: the challenge is the verifier itself; never accepted.
        assert!(!verifier_matches(verifier, verifier));
        assert!(!verifier_matches("short", challenge));
    }

    #[test]
    fn secrets_are_unique_prefixed_and_hashed_one_way() {
        let (a, b) = (new(ACCESS_PREFIX), new(ACCESS_PREFIX));
        assert_ne!(a, b);
        assert!(a.starts_with("jat_") && a.len() == 68);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        assert!(!hash(&a).contains(&a));
    }
}
