//! CSRF tokens for every form (SPEC 5).
//!
//! The browser holds a random value in a host-only `HttpOnly` cookie; each form
//! carries an HMAC of that value and the tenant under the secret key. A forged
//! cross-site POST has neither the cookie's value nor the key, and a token minted
//! for one tenant fails on another. Comparison is constant-time.

use super::SecretKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;

/// A fresh random value for the CSRF cookie.
pub fn new_cookie_value() -> String {
    let mut b = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Whether a cookie value has the shape this module makes.
pub fn is_cookie_value(v: &str) -> bool {
    v.len() == 32
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The token that forms of `tenant` carry for the browser holding `cookie`.
pub fn token(key: &SecretKey, tenant: &str, cookie: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.mac("csrf", &[tenant.as_bytes(), cookie.as_bytes()]))
}

/// Checks a submitted token against the browser's cookie.
pub fn verify(key: &SecretKey, tenant: &str, cookie: &str, submitted: &str) -> bool {
    let expected = token(key, tenant, cookie);
    expected.as_bytes().ct_eq(submitted.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_for_its_cookie_and_tenant() {
        let key = SecretKey::random();
        let c = new_cookie_value();
        assert!(is_cookie_value(&c));
        let t = token(&key, "acme", &c);
        assert!(verify(&key, "acme", &c, &t));
        assert!(!verify(&key, "other", &c, &t));
        assert!(!verify(&key, "acme", &new_cookie_value(), &t));
        assert!(!verify(&key, "acme", &c, ""));
        assert!(!verify(&SecretKey::random(), "acme", &c, &t));
    }
}
