//! Encryption at rest for authenticator secrets and recovery codes (SPEC 7).
//!
//! XChaCha20-Poly1305 under a subkey of the secret key, with a random 192-bit
//! nonce per value. The associated data names the purpose and the user, so a
//! value copied to another user's row (or used for another purpose) fails to
//! decrypt instead of working.

use super::SecretKey;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

const NONCE_BYTES: usize = 24;

fn cipher(key: &SecretKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&key.subkey("at-rest v1").into())
}

fn aad(purpose: &str, user_id: i64) -> Vec<u8> {
    let mut a = Vec::with_capacity(purpose.len() + 9);
    a.extend_from_slice(purpose.as_bytes());
    a.push(0);
    a.extend_from_slice(&user_id.to_be_bytes());
    a
}

/// Encrypts `plain` for `user_id` and `purpose`; the result is text for the store.
pub fn seal(key: &SecretKey, purpose: &str, user_id: i64, plain: &[u8]) -> String {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let aad = aad(purpose, user_id);
    let sealed = cipher(key)
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: &aad,
            },
        )
        .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    STANDARD_NO_PAD.encode(out)
}

/// Decrypts a value sealed for the same user and purpose; `None` for anything
/// else (another user's row, a damaged value, another key).
pub fn open(key: &SecretKey, purpose: &str, user_id: i64, sealed: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD_NO_PAD.decode(sealed).ok()?;
    if bytes.len() < NONCE_BYTES {
        return None;
    }
    let (nonce, ct) = bytes.split_at(NONCE_BYTES);
    let aad = aad(purpose, user_id);
    cipher(key)
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_for_its_user_purpose_and_key() {
        let k = SecretKey::random();
        let s = seal(&k, "totp", 7, b"secret");
        assert_eq!(open(&k, "totp", 7, &s).as_deref(), Some(&b"secret"[..]));
        assert_eq!(open(&k, "totp", 8, &s), None);
        assert_eq!(open(&k, "recovery", 7, &s), None);
        assert_eq!(open(&SecretKey::random(), "totp", 7, &s), None);
        assert_eq!(open(&k, "totp", 7, "garbage"), None);
        assert_ne!(seal(&k, "totp", 7, b"secret"), s, "nonces are random");
    }
}
