//! Sessions: ids, records and the in-memory table that makes a signed-in request
//! cost no store round trip.
//!
//! The cookie carries only an opaque id of 256 random bits; the store and this
//! table key sessions by the SHA-256 of the id, so a leaked database or memory dump
//! gives no usable cookie. A session belongs to one tenant and is worthless on any
//! other; it has an idle and an absolute lifetime; its id is replaced whenever the
//! privilege changes (SPEC 5.4, 7).

use crate::tenancy::TenantName;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dashmap::DashMap;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

const ID_BYTES: usize = 32;
/// Length of an id in the cookie: base64url without padding.
const ID_CHARS: usize = 43;

/// A session id as held by the browser. `Debug` never shows it.
pub struct SessionId([u8; ID_BYTES]);

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(…)")
    }
}

/// The stored form of a session id.
pub type SessionKey = [u8; 32];

impl SessionId {
    pub fn generate() -> SessionId {
        let mut b = [0u8; ID_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut b);
        SessionId(b)
    }

    /// Parses a cookie value; anything but a well-formed id is `None`.
    pub fn parse(cookie: &str) -> Option<SessionId> {
        if cookie.len() != ID_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(cookie).ok()?;
        Some(SessionId(bytes.try_into().ok()?))
    }

    pub fn cookie_value(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// What the store keeps: the SHA-256 of the id.
    pub fn key(&self) -> SessionKey {
        Sha256::digest(self.0).into()
    }
}

/// The factor lists the gateway writes, as shared strings; anything else read
/// back from the store counts as the password alone.
pub fn methods(m: &str) -> &'static str {
    match m {
        "pwd,email" => "pwd,email",
        "pwd,sms" => "pwd,sms",
        "pwd,authenticator" => "pwd,authenticator",
        "pwd,recovery" => "pwd,recovery",
        "pwd,remembered" => "pwd,remembered",
        _ => "pwd",
    }
}

/// How far a browser has come through sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Every required factor is done: requests are forwarded.
    SignedIn,
    /// The password was right; a second factor is still owed.
    SecondFactor,
    /// The password was right; the user must set up an authenticator first.
    Enrol,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedIn => "signed_in",
            Self::SecondFactor => "second_factor",
            Self::Enrol => "enrol",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        match s {
            "signed_in" => Some(Self::SignedIn),
            "second_factor" => Some(Self::SecondFactor),
            "enrol" => Some(Self::Enrol),
            _ => None,
        }
    }
}

/// A session record, as cached and as stored.
#[derive(Debug)]
pub struct Session {
    pub key: SessionKey,
    pub tenant: TenantName,
    pub user_id: i64,
    // Boxed strings and a shared `methods`: a hundred thousand of these live in
    // memory, so each field is as small as it can be.
    pub username: Box<str>,
    pub email: Option<Box<str>>,
    pub stage: Stage,
    /// The factors used, comma-separated (`pwd`, `pwd,email`), for `X-Auth-Methods`.
    pub methods: &'static str,
    pub security_stamp: Box<str>,
    /// Where to go once sign-in completes.
    pub return_to: Box<str>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Last use, in seconds; updated in memory on every request.
    pub last_seen: AtomicI64,
    /// The `last_seen` the store holds; the store is written only when it falls behind.
    pub stored_last_seen: AtomicI64,
}

/// Why a session is not usable for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    OtherTenant,
    IdleExpired,
    Expired,
}

impl Session {
    /// Checks tenant and lifetimes at `now`, and records the use.
    pub fn check(&self, tenant: &TenantName, now: i64, idle_secs: i64) -> Result<(), Rejection> {
        if &self.tenant != tenant {
            return Err(Rejection::OtherTenant);
        }
        if now >= self.expires_at {
            return Err(Rejection::Expired);
        }
        if now - self.last_seen.load(Ordering::Relaxed) > idle_secs {
            return Err(Rejection::IdleExpired);
        }
        self.last_seen.fetch_max(now, Ordering::Relaxed);
        Ok(())
    }

    /// Whether the store's copy of `last_seen` is old enough to be rewritten, so that
    /// other instances and restarts see the session as alive; at most one write per
    /// `every` seconds per session.
    pub fn needs_touch(&self, now: i64, every: i64) -> bool {
        let stored = self.stored_last_seen.load(Ordering::Relaxed);
        now - stored >= every
            && self
                .stored_last_seen
                .compare_exchange(stored, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// The in-memory session table.
#[derive(Default)]
pub struct SessionCache {
    map: DashMap<SessionKey, Arc<Session>>,
}

impl SessionCache {
    pub fn get(&self, key: &SessionKey) -> Option<Arc<Session>> {
        self.map.get(key).map(|s| s.clone())
    }

    pub fn insert(&self, s: Arc<Session>) {
        self.map.insert(s.key, s);
    }

    pub fn remove(&self, key: &SessionKey) {
        self.map.remove(key);
    }

    /// Drops every cached session of a user (password change, sign-out everywhere).
    pub fn remove_user(&self, user_id: i64) {
        self.map.retain(|_, s| s.user_id != user_id);
    }

    /// Drops sessions past their lifetimes; run periodically.
    pub fn sweep(&self, now: i64, idle_secs: i64) {
        self.map.retain(|_, s| {
            now < s.expires_at && now - s.last_seen.load(Ordering::Relaxed) <= idle_secs
        });
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(tenant: &str, now: i64) -> Session {
        Session {
            key: SessionId::generate().key(),
            tenant: TenantName::parse(tenant).unwrap(),
            user_id: 1,
            username: "alice".into(),
            email: None,
            stage: Stage::SignedIn,
            methods: "pwd",
            security_stamp: "s".into(),
            return_to: "/".into(),
            created_at: now,
            expires_at: now + 3600,
            last_seen: AtomicI64::new(now),
            stored_last_seen: AtomicI64::new(now),
        }
    }

    #[test]
    fn ids_round_trip_through_the_cookie_and_carry_256_bits() {
        let id = SessionId::generate();
        let v = id.cookie_value();
        assert_eq!(v.len(), ID_CHARS);
        assert_eq!(SessionId::parse(&v).unwrap().key(), id.key());
        assert_ne!(SessionId::generate().key(), id.key());
    }

    #[test]
    fn malformed_cookie_values_are_not_ids() {
        for v in [
            "",
            "abc",
            &"a".repeat(42),
            &"a".repeat(44),
            &"!".repeat(43),
            "%%%",
        ] {
            assert!(SessionId::parse(v).is_none(), "{v}");
        }
    }

    #[test]
    fn a_session_is_refused_on_another_tenant_and_after_its_lifetimes() {
        let s = session("acme", 1000);
        let acme = TenantName::parse("acme").unwrap();
        assert_eq!(
            s.check(&TenantName::parse("other").unwrap(), 1000, 60),
            Err(Rejection::OtherTenant)
        );
        assert_eq!(s.check(&acme, 1050, 60), Ok(()));
        assert_eq!(s.check(&acme, 1111, 60), Err(Rejection::IdleExpired));
        assert_eq!(s.check(&acme, 4600, 10_000), Err(Rejection::Expired));
    }

    #[test]
    fn the_store_is_touched_at_most_once_per_interval() {
        let s = session("acme", 1000);
        assert!(!s.needs_touch(1030, 60));
        assert!(s.needs_touch(1060, 60));
        assert!(!s.needs_touch(1061, 60));
    }
}
