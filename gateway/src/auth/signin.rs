//! The password step of sign-in, session creation and lookup, and sign-out.
//!
//! [`Accounts`] is the domain service the proxy hooks call. It decides; it does
//! not render pages or touch HTTP.

use super::password::{Hasher, Password};
use super::second_factor::{self, Provider};
use super::session::{Rejection, Session, SessionCache, SessionId, SessionKey, Stage};
use super::{LoginName, ReturnPath, SecretKey};
use crate::config::SessionLifetimes;
use crate::notify::{self, Notifier};
use crate::policy::settings::WhenNoProvider;
use crate::store::{now, Charge, CodeCheck, Issue, Revoked, Store, StoreError, User};
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
    RecoveryCodeUsed,
    /// Two-factor was required and the user had no provider (`when_no_provider = deny`).
    NoProvider,
    AuthenticatorEnrolled,
    PasswordReset,
    PasswordChanged,
    /// The password was right; a second factor (or an authenticator set-up) follows.
    SecondFactorRequired,
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
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::NoProvider => "no_provider",
            Self::AuthenticatorEnrolled => "authenticator_enrolled",
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::SecondFactorRequired => "second_factor_required",
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
    /// The password was right but the email address is unconfirmed; the ticket lets
    /// the login page ask for a new confirmation link.
    EmailNotConfirmed {
        ticket: String,
    },
    /// Two-factor is required and the user has no provider, and the settings say deny.
    NoProvider,
    /// Two-factor is required and the user must set up an authenticator first.
    Enrol(SessionId, Arc<Session>),
}

/// What sending a code decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Sent (or, for the authenticator, nothing to send); the hint names the destination.
    Sent { destination: Option<String> },
    /// The last code is younger than the cool-down.
    TooSoon { wait: i64 },
    /// The provider failed; the cause is in the log.
    Failed,
    /// This provider is not offered to this user.
    NotOffered,
}

/// What checking a second-factor code decided.
#[derive(Debug)]
pub enum VerifyOutcome {
    /// Signed in with a new session id; `remember` is a token to set when asked for.
    SignedIn {
        id: SessionId,
        session: Arc<Session>,
        remember: Option<(String, i64)>,
    },
    Wrong,
    /// No live code: expired, used, or worn out; a new one must be sent.
    NoCode,
    Locked {
        until: i64,
    },
}

/// The purpose under which sign-in codes are stored.
const LOGIN_PURPOSE: &str = "login";

/// Sign-in, sessions and sign-out for every tenant.
pub struct Accounts {
    pub store: Store,
    pub notifier: Arc<Notifier>,
    pub hasher: Hasher,
    pub key: SecretKey,
    pub sessions: SessionCache,
    pub lifetimes: SessionLifetimes,
    /// Set by the background check in [`Accounts::follow_revocations`].
    store_up: std::sync::atomic::AtomicBool,
}

impl Accounts {
    pub fn new(
        store: Store,
        notifier: Notifier,
        hasher: Hasher,
        key: SecretKey,
        lifetimes: SessionLifetimes,
    ) -> Accounts {
        Accounts {
            store,
            notifier: Arc::new(notifier),
            hasher,
            key,
            sessions: SessionCache::default(),
            lifetimes,
            store_up: std::sync::atomic::AtomicBool::new(true),
        }
    }

    /// Checks a user name (or email) and password for `tenant`.
    pub async fn password_step(
        &self,
        tenant: &Tenant,
        login: &LoginName,
        password: Option<Password>,
        return_to: &ReturnPath,
        remember_token: Option<&str>,
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
        // A right password is no failure: take back the attempt charged above. Earlier
        // failures still count until the whole sign-in succeeds.
        self.store
            .refund_attempt(t, &counter, &tenant.settings.lockout)
            .await?;

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
            return Ok(PasswordOutcome::EmailNotConfirmed {
                ticket: self.confirmation_ticket(user.id),
            });
        }

        // The second factor, unless this browser is remembered for this user and tenant.
        let mut methods = "pwd";
        if second_factor::required(&tenant.settings, &user) {
            let remembered = tenant.settings.remember_browser_allowed
                && remember_token
                    .is_some_and(|tok| second_factor::remembered(&self.key, tok, &user, t, now()));
            if remembered {
                methods = "pwd,remembered";
            } else {
                let has_app = self.has_authenticator(user.id).await?;
                if !second_factor::offered(&tenant.settings, &user, has_app).is_empty() {
                    self.audit(
                        tenant,
                        Some(&user),
                        login,
                        AuditResult::SecondFactorRequired,
                        client,
                    )
                    .await;
                    let (id, s) = self
                        .start_session(tenant, &user, Stage::SecondFactor, "pwd", return_to)
                        .await?;
                    return Ok(PasswordOutcome::SecondFactor(id, s));
                }
                match tenant.settings.when_no_provider {
                    WhenNoProvider::Allow => {}
                    WhenNoProvider::Enrol if tenant.settings.authenticator_allowed => {
                        self.audit(
                            tenant,
                            Some(&user),
                            login,
                            AuditResult::SecondFactorRequired,
                            client,
                        )
                        .await;
                        let (id, s) = self
                            .start_session(tenant, &user, Stage::Enrol, "pwd", return_to)
                            .await?;
                        return Ok(PasswordOutcome::Enrol(id, s));
                    }
                    WhenNoProvider::Deny | WhenNoProvider::Enrol => {
                        self.audit(tenant, Some(&user), login, AuditResult::NoProvider, client)
                            .await;
                        return Ok(PasswordOutcome::NoProvider);
                    }
                }
            }
        }
        self.store.clear_failures(t, &counter).await?;
        self.audit(tenant, Some(&user), login, AuditResult::Success, client)
            .await;
        let (id, s) = self
            .start_session(tenant, &user, Stage::SignedIn, methods, return_to)
            .await?;
        Ok(PasswordOutcome::SignedIn(id, s))
    }

    /// The user behind a pending session, with the providers it may use.
    pub async fn pending_user(
        &self,
        tenant: &Tenant,
        session: &Session,
    ) -> Result<Option<(User, Vec<Provider>)>, StoreError> {
        let Some(user) = self.store.user_by_id(session.user_id).await? else {
            return Ok(None);
        };
        if !user.active || *user.security_stamp != *session.security_stamp {
            return Ok(None);
        }
        let has_app = self.has_authenticator(user.id).await?;
        let offered = second_factor::offered(&tenant.settings, &user, has_app);
        Ok(Some((user, offered)))
    }

    /// Sends a fresh sign-in code by `provider` to the user of a pending session.
    pub async fn send_code(
        &self,
        tenant: &Tenant,
        user: &User,
        offered: &[Provider],
        provider: Provider,
        client: &str,
    ) -> Result<SendOutcome, StoreError> {
        if !offered.contains(&provider) {
            return Ok(SendOutcome::NotOffered);
        }
        let policy = tenant.settings.code;
        let (to, destination) = match provider {
            Provider::Authenticator => return Ok(SendOutcome::Sent { destination: None }),
            Provider::Email => {
                let e = user.email.clone().unwrap_or_default();
                let masked = notify::mask_email(&e);
                (e, masked)
            }
            Provider::Sms => {
                let p = user.phone.clone().unwrap_or_default();
                let masked = notify::mask_phone(&p);
                (p, masked)
            }
        };
        let code = second_factor::new_code(policy.length);
        let hash = second_factor::code_hash(&self.key, user.id, LOGIN_PURPOSE, provider, &code);
        let issued = self
            .store
            .issue_code(
                user.id,
                LOGIN_PURPOSE,
                provider.as_str(),
                hash,
                policy.lifetime.as_secs() as i64,
                policy.resend_after.as_secs() as i64,
            )
            .await?;
        if let Issue::TooSoon { wait } = issued {
            return Ok(SendOutcome::TooSoon { wait });
        }
        let minutes = (policy.lifetime.as_secs() / 60).max(1);
        let sent = match provider {
            Provider::Email => {
                self.notifier
                    .email
                    .send(notify::code_email(
                        &to,
                        &tenant.display_name,
                        &code,
                        minutes,
                    ))
                    .await
            }
            _ => {
                self.notifier
                    .sms
                    .send(
                        notify::code_sms(&to, &tenant.display_name, &code, minutes),
                        tenant.name.as_str(),
                        &code,
                    )
                    .await
            }
        };
        let login = LoginName::parse(&user.username).expect("stored user names are canonical");
        if let Err(e) = sent {
            // An undelivered code must not hold the cool-down: the user may retry or
            // choose another way at once.
            self.store
                .discard_codes(user.id, LOGIN_PURPOSE, provider.as_str())
                .await?;
            tracing::error!(tenant = %tenant.name, user = %user.username, error = %e, "could not send a sign-in code");
            return Ok(SendOutcome::Failed);
        }
        crate::metrics::global().code_sent(provider.as_str());
        self.audit(tenant, Some(user), &login, AuditResult::CodeSent, client)
            .await;
        Ok(SendOutcome::Sent {
            destination: Some(destination),
        })
    }

    /// Checks a code typed at the verify step; on success the pending session is
    /// replaced by a signed-in one with a new id.
    #[allow(clippy::too_many_arguments)]
    pub async fn verify_code(
        &self,
        tenant: &Tenant,
        pending: &Session,
        user: &User,
        provider: Provider,
        typed: &str,
        remember: bool,
        client: &str,
    ) -> Result<VerifyOutcome, StoreError> {
        let t = tenant.name.as_str();
        let login = LoginName::parse(&user.username).expect("stored user names are canonical");

        // Wrong codes count toward the same lockout as wrong passwords.
        if let Charge::Locked { until } = self
            .store
            .charge_attempt(t, &user.username, &tenant.settings.lockout)
            .await?
        {
            self.audit(tenant, Some(user), &login, AuditResult::LockedOut, client)
                .await;
            return Ok(VerifyOutcome::Locked { until });
        }
        let code = second_factor::clean_code(typed);
        let check = match provider {
            Provider::Authenticator => {
                if self.check_totp(user, &code).await? {
                    CodeCheck::Accepted
                } else {
                    CodeCheck::Wrong
                }
            }
            _ => {
                let hash =
                    second_factor::code_hash(&self.key, user.id, LOGIN_PURPOSE, provider, &code);
                self.store
                    .check_code(
                        user.id,
                        LOGIN_PURPOSE,
                        provider.as_str(),
                        hash,
                        tenant.settings.code.max_attempts,
                    )
                    .await?
            }
        };
        match check {
            CodeCheck::Accepted => {}
            CodeCheck::Wrong => {
                self.audit(tenant, Some(user), &login, AuditResult::CodeFailed, client)
                    .await;
                return Ok(VerifyOutcome::Wrong);
            }
            CodeCheck::NoCode => {
                self.audit(tenant, Some(user), &login, AuditResult::CodeFailed, client)
                    .await;
                return Ok(VerifyOutcome::NoCode);
            }
        }

        self.complete_sign_in(
            tenant,
            pending,
            user,
            provider.as_str(),
            remember,
            AuditResult::TwoFactorSuccess,
            client,
        )
        .await
    }

    /// Uses a recovery code at the verify step, once.
    pub async fn verify_recovery(
        &self,
        tenant: &Tenant,
        pending: &Session,
        user: &User,
        typed: &str,
        client: &str,
    ) -> Result<VerifyOutcome, StoreError> {
        let login = LoginName::parse(&user.username).expect("stored user names are canonical");
        if let Charge::Locked { until } = self
            .store
            .charge_attempt(
                tenant.name.as_str(),
                &user.username,
                &tenant.settings.lockout,
            )
            .await?
        {
            self.audit(tenant, Some(user), &login, AuditResult::LockedOut, client)
                .await;
            return Ok(VerifyOutcome::Locked { until });
        }
        if !self.use_recovery_code(user, typed).await? {
            self.audit(tenant, Some(user), &login, AuditResult::CodeFailed, client)
                .await;
            return Ok(VerifyOutcome::Wrong);
        }
        self.complete_sign_in(
            tenant,
            pending,
            user,
            "recovery",
            false,
            AuditResult::RecoveryCodeUsed,
            client,
        )
        .await
    }

    /// Ends a pending session and starts a signed-in one with a new id: the last
    /// step of every sign-in that needed more than the password.
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_sign_in(
        &self,
        tenant: &Tenant,
        pending: &Session,
        user: &User,
        method: &str,
        remember: bool,
        result: AuditResult,
        client: &str,
    ) -> Result<VerifyOutcome, StoreError> {
        let t = tenant.name.as_str();
        let login = LoginName::parse(&user.username).expect("stored user names are canonical");
        self.store.clear_failures(t, &user.username).await?;
        self.audit(tenant, Some(user), &login, result, client).await;
        self.end_session(&pending.key).await?;
        let return_to = ReturnPath::parse_or_root(&pending.return_to);
        let methods = format!("pwd,{method}");
        let (id, session) = self
            .start_session(tenant, user, Stage::SignedIn, &methods, &return_to)
            .await?;
        let remember = (remember && tenant.settings.remember_browser_allowed).then(|| {
            let max_age = tenant.settings.remember_browser_for.as_secs() as i64;
            (
                second_factor::remember_token(&self.key, user, t, now() + max_age),
                max_age,
            )
        });
        Ok(VerifyOutcome::SignedIn {
            id,
            session,
            remember,
        })
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
            username: user.username.as_str().into(),
            email: user.email.as_deref().map(Box::from),
            stage,
            methods: super::session::methods(methods),
            security_stamp: user.security_stamp.as_str().into(),
            return_to: return_to.as_str().into(),
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
        // Fail closed while the store is unreachable: revocations made elsewhere
        // could not be seen.
        if !self.store_up() {
            return Err(StoreError::Unavailable("the store is not answering".into()));
        }
        let Some(id) = SessionId::parse(cookie) else {
            return Ok(None);
        };
        let key = id.key();
        let t = now();
        let idle = self.lifetimes.idle.as_secs() as i64;
        let session = match self.sessions.get(&key) {
            None => match self.load_session(&key, tenant, t, idle).await? {
                Some(s) => s,
                None => return Ok(None),
            },
            Some(s) => match s.check(&tenant.name, t, idle) {
                Ok(()) => s,
                Err(Rejection::OtherTenant) => return Ok(None),
                Err(Rejection::Expired) => {
                    self.sessions.remove(&key);
                    return Ok(None);
                }
                // Another instance may have served it since: the store knows.
                Err(Rejection::IdleExpired) => {
                    self.sessions.remove(&key);
                    match self.load_session(&key, tenant, t, idle).await? {
                        Some(s) => s,
                        None => return Ok(None),
                    }
                }
            },
        };
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

    /// Reads a session from the store into the cache, if it is live for `tenant`.
    async fn load_session(
        &self,
        key: &SessionKey,
        tenant: &Tenant,
        t: i64,
        idle: i64,
    ) -> Result<Option<Arc<Session>>, StoreError> {
        let Some(s) = self.store.load_session(key).await? else {
            return Ok(None);
        };
        let mut s = s;
        // Share the tenant's name with the configuration instead of a copy per session.
        if s.tenant == tenant.name {
            s.tenant = tenant.name.clone();
        }
        let s = Arc::new(s);
        match s.check(&tenant.name, t, idle) {
            Ok(()) => {
                self.sessions.insert(s.clone());
                Ok(Some(s))
            }
            Err(_) => Ok(None),
        }
    }

    /// Whether the store answered the last background check.
    pub fn store_up(&self) -> bool {
        self.store_up.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reads revocations newer than `last` and drops those sessions from memory;
    /// run every quarter second, it doubles as the store's health check.
    pub async fn follow_revocations(&self, last: &mut i64) -> Result<(), StoreError> {
        let result = self.store.revocations_since(*last).await;
        let up = result.is_ok();
        let was_up = self.store_up.swap(up, std::sync::atomic::Ordering::Relaxed);
        match (&result, was_up) {
            (Err(e), true) => {
                tracing::warn!(error = %e, "the store is unreachable; protected routes answer 503")
            }
            (Ok(_), false) => tracing::info!("the store is reachable again"),
            _ => {}
        }
        for (id, revoked) in result? {
            match revoked {
                Revoked::Session(hex) => {
                    if let Some(key) = hex::decode(&hex)
                        .ok()
                        .and_then(|b| <SessionKey>::try_from(b).ok())
                    {
                        self.sessions.remove(&key);
                    }
                }
                Revoked::User(user_id) => self.sessions.remove_user(user_id),
            }
            *last = (*last).max(id);
        }
        Ok(())
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
        crate::metrics::global().sign_in(r.as_str());
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
