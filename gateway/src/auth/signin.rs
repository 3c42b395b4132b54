//! The password step of sign-in, session creation and lookup, and sign-out.
//!
//! [`Accounts`] is the domain service the proxy hooks call. It decides; it does
//! not render pages or touch HTTP.

use super::password::{Hasher, Password};
use super::session::{Rejection, Session, SessionCache, SessionId, SessionKey, Stage};
use super::{LoginName, ReturnPath, SecretKey};
use crate::config::SessionLifetimes;
use crate::store::{now, Charge, Store, StoreError, User};
use crate::tenancy::Tenant;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

/// Target of the `audit` log lines.
pub const AUDIT_TARGET: &str = "portcullis::audit";

/// The result of a sign-in attempt, as stored in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditResult {
    Success,
    InvalidCredentials,
    LockedOut,
    Inactive,
    EmailNotConfirmed,
    CodeSent,
    CodeFailed,
    TwoFactorSuccess,
}

impl AuditResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::InvalidCredentials => "invalid_credentials",
            Self::LockedOut => "locked_out",
            Self::Inactive => "inactive",
            Self::EmailNotConfirmed => "email_not_confirmed",
            Self::CodeSent => "code_sent",
            Self::CodeFailed => "code_failed",
            Self::TwoFactorSuccess => "two_factor_success",
        }
    }
}

/// What the password step decided.
#[derive(Debug)]
pub enum PasswordOutcome {
    /// Fully signed in: set this session cookie and go to the return target.
    SignedIn(SessionId, Arc<Session>),
    /// The password was right and a second factor is owed (session at a pending stage).
    SecondFactor(SessionId, Arc<Session>),
    /// Unknown user or wrong password: one answer for both.
    Invalid,
    Locked {
        until: i64,
    },
    Inactive,
    EmailNotConfirmed,
}

/// Sign-in, sessions and sign-out for every tenant.
pub struct Accounts {
    pub store: Store,
    pub hasher: Hasher,
    pub key: SecretKey,
    pub sessions: SessionCache,
    pub lifetimes: SessionLifetimes,
}

impl Accounts {
    pub fn new(
        store: Store,
        hasher: Hasher,
        key: SecretKey,
        lifetimes: SessionLifetimes,
    ) -> Accounts {
        Accounts {
            store,
            hasher,
            key,
            sessions: SessionCache::default(),
            lifetimes,
        }
    }

    /// Checks a user name (or email) and password for `tenant`.
    pub async fn password_step(
        &self,
        tenant: &Tenant,
        login: &LoginName,
        password: Option<Password>,
        return_to: &ReturnPath,
        client: &str,
    ) -> Result<PasswordOutcome, StoreError> {
        let t = tenant.name.as_str();
        let user = self.store.find_user(t, login).await?;
        // The counter is the account's canonical name when it exists, so signing in by
        // user name and by email share one limit; otherwise the name as typed.
        let counter = user
            .as_ref()
            .map(|u| u.username.clone())
            .unwrap_or_else(|| login.to_string());

        // Charge the attempt before checking anything (see store::lockout).
        if let Charge::Locked { until } = self
            .store
            .charge_attempt(t, &counter, &tenant.settings.lockout)
            .await?
        {
            self.audit(tenant, user.as_ref(), login, AuditResult::LockedOut, client)
                .await;
            return Ok(PasswordOutcome::Locked { until });
        }

        // Unknown users cost a full hash too.
        let matches = match &password {
            Some(p) => self
                .hasher
                .verify(p, user.as_ref().map(|u| u.password_hash.as_str()))
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?,
            None => false,
        };
        let Some(user) = user.filter(|_| matches) else {
            self.audit(tenant, None, login, AuditResult::InvalidCredentials, client)
                .await;
            return Ok(PasswordOutcome::Invalid);
        };

        // Only a caller who knows the password learns these.
        if !user.active {
            self.audit(tenant, Some(&user), login, AuditResult::Inactive, client)
                .await;
            return Ok(PasswordOutcome::Inactive);
        }
        if tenant.settings.email_confirmation_required_for_login && !user.email_confirmed {
            self.audit(
                tenant,
                Some(&user),
                login,
                AuditResult::EmailNotConfirmed,
                client,
            )
            .await;
            return Ok(PasswordOutcome::EmailNotConfirmed);
        }

        if super::second_factor::required(&tenant.settings, &user) {
            let (id, s) = self
                .start_session(tenant, &user, Stage::SecondFactor, "pwd", return_to)
                .await?;
            return Ok(PasswordOutcome::SecondFactor(id, s));
        }
        self.store.clear_failures(t, &counter).await?;
        self.audit(tenant, Some(&user), login, AuditResult::Success, client)
            .await;
        let (id, s) = self
            .start_session(tenant, &user, Stage::SignedIn, "pwd", return_to)
            .await?;
        Ok(PasswordOutcome::SignedIn(id, s))
    }

    /// Creates a session with a fresh id, in the store and the cache.
    pub async fn start_session(
        &self,
        tenant: &Tenant,
        user: &User,
        stage: Stage,
        methods: &str,
        return_to: &ReturnPath,
    ) -> Result<(SessionId, Arc<Session>), StoreError> {
        let id = SessionId::generate();
        let t = now();
        let session = Arc::new(Session {
            key: id.key(),
            tenant: tenant.name.clone(),
            user_id: user.id,
            username: user.username.clone(),
            email: user.email.clone(),
            stage,
            methods: methods.to_owned(),
            security_stamp: user.security_stamp.clone(),
            return_to: return_to.as_str().to_owned(),
            created_at: t,
            expires_at: t + self.lifetimes.absolute.as_secs() as i64,
            last_seen: AtomicI64::new(t),
            stored_last_seen: AtomicI64::new(t),
        });
        self.store.insert_session(&session).await?;
        self.sessions.insert(session.clone());
        Ok((id, session))
    }

    /// The live session of `tenant` behind a cookie value, from memory when it can be.
    /// `Ok(None)` for anything that is not one: malformed, unknown, expired, or
    /// another tenant's.
    pub async fn session(
        &self,
        tenant: &Tenant,
        cookie: &str,
    ) -> Result<Option<Arc<Session>>, StoreError> {
        let Some(id) = SessionId::parse(cookie) else {
            return Ok(None);
        };
        let key = id.key();
        let session = match self.sessions.get(&key) {
            Some(s) => s,
            None => {
                let Some(s) = self.store.load_session(&key).await? else {
                    return Ok(None);
                };
                let s = Arc::new(s);
                self.sessions.insert(s.clone());
                s
            }
        };
        let t = now();
        match session.check(&tenant.name, t, self.lifetimes.idle.as_secs() as i64) {
            Ok(()) => {}
            Err(Rejection::OtherTenant) => return Ok(None),
            Err(Rejection::IdleExpired | Rejection::Expired) => {
                self.sessions.remove(&key);
                return Ok(None);
            }
        }
        // Keep the store's idle clock roughly current without a write per request.
        if session.needs_touch(t, self.touch_interval()) {
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.touch_session(&key, t).await {
                    tracing::warn!(error = %e, "could not record session activity");
                }
            });
        }
        Ok(Some(session))
    }

    fn touch_interval(&self) -> i64 {
        (self.lifetimes.idle.as_secs() as i64 / 10).clamp(1, 60)
    }

    /// Ends one session everywhere.
    pub async fn end_session(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.sessions.remove(key);
        self.store.delete_session(key).await
    }

    /// Writes an audit row and the matching log line. A failed audit write is
    /// logged, never a reason to change the answer.
    pub async fn audit(
        &self,
        tenant: &Tenant,
        user: Option<&User>,
        login: &LoginName,
        r: AuditResult,
        client: &str,
    ) {
        tracing::info!(
            target: AUDIT_TARGET,
            tenant = %tenant.name,
            login = %login,
            user_id = user.map(|u| u.id),
            result = r.as_str(),
            client,
            "sign-in attempt"
        );
        if let Err(e) = self
            .store
            .record_audit(
                tenant.name.as_str(),
                user.map(|u| u.id),
                login.as_str(),
                r.as_str(),
                client,
            )
            .await
        {
            tracing::warn!(error = %e, "could not store an audit entry");
        }
    }
}
