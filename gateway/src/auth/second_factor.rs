//! The second factor (SPEC 2, 5, 7): when it is owed, which providers a user
//! may be offered, one-time codes, and remembered browsers.

use super::SecretKey;
use crate::policy::settings::Settings;
use crate::store::User;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::Rng;
use subtle::ConstantTimeEq;

/// A way to receive or produce a second-factor code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Email,
    Sms,
    Authenticator,
}

impl Provider {
    pub fn parse(s: &str) -> Option<Provider> {
        match s {
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            "authenticator" => Some(Self::Authenticator),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Authenticator => "authenticator",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Email => "Email",
            Self::Sms => "Text message",
            Self::Authenticator => "Authenticator app",
        }
    }
}

/// Whether the password alone is not enough for this user on this tenant. A
/// remembered browser is checked separately.
pub fn required(settings: &Settings, user: &User) -> bool {
    settings.two_factor_enabled && user.two_factor_enabled
}

/// The providers a user may be offered. A code is never sent to an unconfirmed
/// address or number.
pub fn offered(settings: &Settings, user: &User, has_authenticator: bool) -> Vec<Provider> {
    let mut out = Vec::with_capacity(3);
    if settings.authenticator_allowed && has_authenticator {
        out.push(Provider::Authenticator);
    }
    if settings.email_allowed && user.email_confirmed && user.email.is_some() {
        out.push(Provider::Email);
    }
    if settings.sms_allowed && user.phone_confirmed && user.phone.is_some() {
        out.push(Provider::Sms);
    }
    out
}

/// A fresh code of `length` digits from the operating system's CSPRNG.
pub fn new_code(length: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..length)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// The stored form of a code: a MAC bound to the user, purpose and provider, so a
/// stored hash reveals nothing and cannot be replayed for another user.
pub fn code_hash(
    key: &SecretKey,
    user_id: i64,
    purpose: &str,
    provider: Provider,
    code: &str,
) -> String {
    hex::encode(key.mac(
        "code",
        &[
            &user_id.to_be_bytes(),
            purpose.as_bytes(),
            provider.as_str().as_bytes(),
            code.as_bytes(),
        ],
    ))
}

/// Keeps only the digits a user typed (spaces and dashes are common when copying).
pub fn clean_code(typed: &str) -> String {
    typed.chars().filter(char::is_ascii_digit).collect()
}

/// A remember-this-browser token: `v1.<user id>.<expiry>.<mac>`, where the MAC
/// binds user, tenant, expiry and the user's security stamp. Rotating the stamp
/// (password change, two-factor reset, deactivation) kills every token.
pub fn remember_token(key: &SecretKey, user: &User, tenant: &str, expires_at: i64) -> String {
    let mac = remember_mac(key, user.id, tenant, expires_at, &user.security_stamp);
    format!(
        "v1.{}.{expires_at}.{}",
        user.id,
        URL_SAFE_NO_PAD.encode(mac)
    )
}

/// Whether `token` remembers this browser for `user` on `tenant` at `now`.
pub fn remembered(key: &SecretKey, token: &str, user: &User, tenant: &str, now: i64) -> bool {
    let mut parts = token.split('.');
    let (Some("v1"), Some(id), Some(exp), Some(mac), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Ok(id), Ok(exp)) = (id.parse::<i64>(), exp.parse::<i64>()) else {
        return false;
    };
    if id != user.id || exp <= now {
        return false;
    }
    let expected = URL_SAFE_NO_PAD.encode(remember_mac(key, id, tenant, exp, &user.security_stamp));
    expected.as_bytes().ct_eq(mac.as_bytes()).into()
}

fn remember_mac(key: &SecretKey, user_id: i64, tenant: &str, exp: i64, stamp: &str) -> [u8; 32] {
    key.mac(
        "remember",
        &[
            &user_id.to_be_bytes(),
            tenant.as_bytes(),
            &exp.to_be_bytes(),
            stamp.as_bytes(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::settings::{effective, Layer};

    fn user() -> User {
        User {
            id: 7,
            tenant: "acme".into(),
            username: "alice".into(),
            email: Some("alice@example.com".into()),
            email_confirmed: true,
            phone: Some("+15550100".into()),
            phone_confirmed: false,
            password_hash: String::new(),
            security_stamp: "stamp-1".into(),
            active: true,
            two_factor_enabled: true,
        }
    }

    #[test]
    fn unconfirmed_addresses_and_disallowed_providers_are_never_offered() {
        let host = Layer {
            two_factor_enabled: Some(true),
            ..Layer::default()
        };
        let s = effective(&host, None);
        assert_eq!(offered(&s, &user(), false), vec![Provider::Email]);
        let mut u = user();
        u.phone_confirmed = true;
        assert_eq!(
            offered(&s, &u, true),
            vec![Provider::Authenticator, Provider::Email, Provider::Sms]
        );
        let no_email = Layer {
            email_allowed: Some(false),
            ..host
        };
        assert_eq!(
            offered(&effective(&no_email, None), &u, false),
            vec![Provider::Sms]
        );
        u.email_confirmed = false;
        u.phone_confirmed = false;
        assert!(offered(&s, &u, false).is_empty());
    }

    #[test]
    fn codes_are_digits_of_the_configured_length() {
        let c = new_code(8);
        assert_eq!(c.len(), 8);
        assert!(c.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(clean_code(" 123-456 "), "123456");
    }

    #[test]
    fn code_hashes_are_bound_to_user_and_provider() {
        let k = SecretKey::random();
        let h = code_hash(&k, 7, "login", Provider::Email, "123456");
        assert_eq!(h, code_hash(&k, 7, "login", Provider::Email, "123456"));
        assert_ne!(h, code_hash(&k, 8, "login", Provider::Email, "123456"));
        assert_ne!(h, code_hash(&k, 7, "login", Provider::Sms, "123456"));
    }

    #[test]
    fn a_remembered_browser_is_bound_to_user_tenant_stamp_and_time() {
        let k = SecretKey::random();
        let u = user();
        let t = remember_token(&k, &u, "acme", 2000);
        assert!(remembered(&k, &t, &u, "acme", 1000));
        assert!(!remembered(&k, &t, &u, "other", 1000));
        assert!(!remembered(&k, &t, &u, "acme", 2000));
        let mut rotated = u.clone();
        rotated.security_stamp = "stamp-2".into();
        assert!(!remembered(&k, &t, &rotated, "acme", 1000));
        let mut other = u.clone();
        other.id = 8;
        assert!(!remembered(&k, &t, &other, "acme", 1000));
        assert!(!remembered(
            &k,
            &t.replace("v1.7.2000", "v1.7.9999"),
            &u,
            "acme",
            1000
        ));
        assert!(!remembered(&k, "garbage", &u, "acme", 1000));
    }
}
