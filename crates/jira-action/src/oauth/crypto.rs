//! Tokens at rest: AES-256-GCM with a key from the environment, so a copy
//! of the database (a backup, a stolen disk) does not hand out Jira access.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

/// The environment variable holding the key: 32 bytes, base64.
pub const KEY_ENV: &str = "JIRA_ACTION_TOKEN_KEY";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("{KEY_ENV} is not set: generate one with `openssl rand -base64 32`")]
    MissingKey,
    #[error("{KEY_ENV} must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("a stored token cannot be decrypted (wrong {KEY_ENV}, or a damaged store)")]
    Decrypt,
}

/// Encrypts and decrypts tokens with one key.
pub struct TokenCipher {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCipher(..)")
    }
}

impl TokenCipher {
    pub fn from_env() -> Result<TokenCipher, CryptoError> {
        let key = std::env::var(KEY_ENV).map_err(|_| CryptoError::MissingKey)?;
        TokenCipher::from_base64(&SecretString::from(key))
    }

    pub fn from_base64(key: &SecretString) -> Result<TokenCipher, CryptoError> {
        let bytes = STANDARD
            .decode(key.expose_secret().trim())
            .map_err(|_| CryptoError::BadKey)?;
        if bytes.len() != 32 {
            return Err(CryptoError::BadKey);
        }
        let key = Key::<Aes256Gcm>::from_slice(&bytes);
        Ok(TokenCipher {
            cipher: Aes256Gcm::new(key),
        })
    }

    /// `base64(nonce ‖ ciphertext)`, a fresh random nonce each time.
    pub fn seal(&self, secret: &SecretString) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encryption into a Vec cannot fail for inputs of this size.
        let sealed = self
            .cipher
            .encrypt(&nonce, secret.expose_secret().as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str) -> Result<SecretString, CryptoError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| CryptoError::Decrypt)?;
        if bytes.len() < 12 {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| CryptoError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretString {
        SecretString::from(STANDARD.encode([byte; 32]))
    }

    #[test]
    fn round_trips_and_never_repeats_a_ciphertext() {
        let cipher = TokenCipher::from_base64(&key(7)).expect("key");
        let token = SecretString::from("refresh-token-abc");
        let (a, b) = (cipher.seal(&token), cipher.seal(&token));
        assert_ne!(a, b, "fresh nonce");
        assert!(!a.contains("refresh-token-abc"));
        assert_eq!(
            cipher.open(&a).expect("opens").expose_secret(),
            "refresh-token-abc"
        );
    }

    #[test]
    fn a_wrong_key_or_damage_is_an_error() {
        let sealed = TokenCipher::from_base64(&key(1))
            .expect("key")
            .seal(&SecretString::from("t"));
        let other = TokenCipher::from_base64(&key(2)).expect("key");
        assert!(matches!(other.open(&sealed), Err(CryptoError::Decrypt)));
        assert!(matches!(other.open("AAAA"), Err(CryptoError::Decrypt)));
        assert!(matches!(
            TokenCipher::from_base64(&SecretString::from("c2hvcnQ=")),
            Err(CryptoError::BadKey)
        ));
    }
}
