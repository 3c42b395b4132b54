//! Emailed links and password changes (SPEC 5–7): forgot and reset password,
//! email confirmation, phone confirmation by SMS code, and change password.
//!
//! Links are built from the tenant's configured public URL, never from the
//! request's Host or X-Forwarded-Host, carry a single-use random token stored
//! only as its SHA-256, and expire. A forgot-password request is answered at once
//! and the same way whether or not the account exists; the lookup and the mail
//! happen afterwards, off the request path.

use super::password::{check_policy, Password};
use super::second_factor::{self, Provider};
use super::session::SessionKey;
use super::signin::{Accounts, AuditResult};
use super::{seal, LoginName};
use crate::notify::{self, Notifier};
use crate::store::{now, CodeCheck, Issue, Store, StoreError, User};
use crate::tenancy::Tenant;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;

const RESET: &str = "password_reset";
const CONFIRM_EMAIL: &str = "confirm_email";
const CONFIRM_PHONE: &str = "confirm_phone";
const TICKET: &str = "confirmation-ticket";
/// Email confirmation links work for a day.
const CONFIRM_LINK_SECONDS: i64 = 24 * 3600;
/// At most one link of a purpose per user per minute, against mail bombing.
const LINK_COOL_DOWN: i64 = 60;
pub const RESET_PATH: &str = "/.portcullis/reset";
pub const CONFIRM_EMAIL_PATH: &str = "/.portcullis/confirm-email";

fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether a string could be a token this module made (so junk never reaches SQL).
fn plausible(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What a reset or a password change decided.
#[derive(Debug, PartialEq, Eq)]
pub enum PasswordChange {
    Changed,
    /// The new password breaks the policy (message for the user) or the two differ.
    Refused(String),
    /// The link is used, expired or unknown.
    LinkDead,
    /// The current password was wrong.
    WrongCurrent,
    Locked {
        until: i64,
    },
}

/// The fields of the change-password form.
pub struct PasswordForm<'a> {
    pub current: &'a str,
    pub new: &'a str,
    pub again: &'a str,
}

/// What a confirmation request decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    Sent {
        to: String,
    },
    TooSoon,
    /// Nothing to send to, or no public URL to build the link from.
    Impossible,
    Failed,
}

impl Accounts {
    /// Starts a forgot-password request and returns at once; the lookup and the
    /// mail run in the background.
    pub fn request_password_reset(&self, tenant: Arc<Tenant>, typed: &str, client: &str) {
        let Some(login) = LoginName::parse(typed) else {
            return;
        };
        let (store, notifier) = (self.store.clone(), self.notifier.clone());
        let client = client.to_owned();
        crate::store::spawn(async move {
            if let Err(e) = send_reset_link(&store, &notifier, &tenant, &login).await {
                tracing::error!(tenant = %tenant.name, error = %e, "could not handle a forgot-password request");
            }
            tracing::info!(target: super::signin::AUDIT_TARGET, tenant = %tenant.name, login = %login, client, "password reset requested");
        });
    }

    /// Whether a reset link is live for this tenant (for the page it opens): unused,
    /// unexpired, its user active and still at the address it was sent to.
    pub async fn reset_link_live(&self, tenant: &Tenant, token: &str) -> Result<bool, StoreError> {
        if !plausible(token) {
            return Ok(false);
        }
        let Some(link) = self
            .store
            .peek_link(tenant.name.as_str(), RESET, token_hash(token))
            .await?
        else {
            return Ok(false);
        };
        Ok(self
            .store
            .user_by_id(link.user_id)
            .await?
            .is_some_and(|u| still_addressed(&u, &link.data)))
    }

    /// Sets a new password through a reset link: the link is used up, the stamp
    /// rotates (every session and remembered browser ends) and the lockout clears.
    /// It never signs the user in.
    pub async fn reset_password(
        &self,
        tenant: &Tenant,
        token: &str,
        new: &str,
        again: &str,
        client: &str,
    ) -> Result<PasswordChange, StoreError> {
        if !plausible(token) {
            return Ok(PasswordChange::LinkDead);
        }
        let password = match new_password(tenant, new, again) {
            Ok(p) => p,
            Err(refused) => return Ok(refused),
        };
        // Hash first, so the link is only used up by a change that will happen.
        let hash = self
            .hasher
            .hash(&password)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let Some(link) = self
            .store
            .consume_link(tenant.name.as_str(), RESET, token_hash(token))
            .await?
        else {
            return Ok(PasswordChange::LinkDead);
        };
        let Some(user) = self
            .store
            .user_by_id(link.user_id)
            .await?
            .filter(|u| u.tenant == tenant.name.as_str() && still_addressed(u, &link.data))
        else {
            return Ok(PasswordChange::LinkDead);
        };
        self.store.set_password(user.id, &hash, None).await?;
        self.sessions.remove_user(user.id);
        self.store
            .clear_failures(tenant.name.as_str(), &user.username)
            .await?;
        let login = LoginName::parse(&user.username).expect("stored user names are canonical");
        self.audit(
            tenant,
            Some(&user),
            &login,
            AuditResult::PasswordReset,
            client,
        )
        .await;
        Ok(PasswordChange::Changed)
    }

    /// Changes the password of a signed-in user, who must give the current one;
    /// every other session and remembered browser ends, this one stays.
    pub async fn change_password(
        &self,
        tenant: &Tenant,
        user: &User,
        keep: SessionKey,
        form: PasswordForm<'_>,
        client: &str,
    ) -> Result<PasswordChange, StoreError> {
        let login = LoginName::parse(&user.username).expect("stored user names are canonical");
        if let crate::store::Charge::Locked { until } = self
            .store
            .charge_attempt(
                tenant.name.as_str(),
                &user.username,
                &tenant.settings.lockout,
            )
            .await?
        {
            return Ok(PasswordChange::Locked { until });
        }
        let ok = match Password::new(form.current.to_owned()) {
            Some(p) => self
                .hasher
                .verify(&p, Some(&user.password_hash))
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?,
            None => false,
        };
        if !ok {
            self.audit(
                tenant,
                Some(user),
                &login,
                AuditResult::InvalidCredentials,
                client,
            )
            .await;
            return Ok(PasswordChange::WrongCurrent);
        }
        self.store
            .clear_failures(tenant.name.as_str(), &user.username)
            .await?;
        let password = match new_password(tenant, form.new, form.again) {
            Ok(p) => p,
            Err(refused) => return Ok(refused),
        };
        let hash = self
            .hasher
            .hash(&password)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.store.set_password(user.id, &hash, Some(keep)).await?;
        self.sessions.remove_user(user.id);
        self.audit(
            tenant,
            Some(user),
            &login,
            AuditResult::PasswordChanged,
            client,
        )
        .await;
        Ok(PasswordChange::Changed)
    }

    /// Sends a link that confirms the user's current email address.
    pub async fn send_email_confirmation(
        &self,
        tenant: &Tenant,
        user: &User,
    ) -> Result<Sent, StoreError> {
        send_confirmation(&self.store, &self.notifier, tenant, user).await
    }

    /// Whether a confirmation link is live (for the page it opens).
    pub async fn confirmation_link_live(
        &self,
        tenant: &Tenant,
        token: &str,
    ) -> Result<bool, StoreError> {
        if !plausible(token) {
            return Ok(false);
        }
        Ok(self
            .store
            .peek_link(tenant.name.as_str(), CONFIRM_EMAIL, token_hash(token))
            .await?
            .is_some())
    }

    /// Uses a confirmation link; true when the address it was sent to is still the
    /// user's and is now confirmed.
    pub async fn confirm_email(&self, tenant: &Tenant, token: &str) -> Result<bool, StoreError> {
        if !plausible(token) {
            return Ok(false);
        }
        let Some(link) = self
            .store
            .consume_link(tenant.name.as_str(), CONFIRM_EMAIL, token_hash(token))
            .await?
        else {
            return Ok(false);
        };
        let Some(user) = self.store.user_by_id(link.user_id).await? else {
            return Ok(false);
        };
        if user.tenant != tenant.name.as_str() || user.email.as_deref() != Some(link.data.as_str())
        {
            return Ok(false);
        }
        self.store.confirm(user.id, true, false).await?;
        Ok(true)
    }

    /// A short-lived ticket that lets the login page ask for a new confirmation link
    /// after a correct password, without a session.
    pub fn confirmation_ticket(&self, user_id: i64) -> String {
        let sealed = seal::seal(&self.key, TICKET, user_id, &(now() + 600).to_be_bytes());
        format!("{user_id}.{sealed}")
    }

    /// Sends a new confirmation link for a ticket from the login page.
    pub async fn resend_confirmation(
        &self,
        tenant: &Tenant,
        ticket: &str,
    ) -> Result<Sent, StoreError> {
        let Some((id, sealed)) = ticket.split_once('.') else {
            return Ok(Sent::Impossible);
        };
        let Ok(user_id) = id.parse::<i64>() else {
            return Ok(Sent::Impossible);
        };
        let Some(exp) = seal::open(&self.key, TICKET, user_id, sealed) else {
            return Ok(Sent::Impossible);
        };
        let exp = i64::from_be_bytes(exp.try_into().unwrap_or([0; 8]));
        if exp <= now() {
            return Ok(Sent::Impossible);
        }
        let Some(user) = self
            .store
            .user_by_id(user_id)
            .await?
            .filter(|u| u.tenant == tenant.name.as_str())
        else {
            return Ok(Sent::Impossible);
        };
        self.send_email_confirmation(tenant, &user).await
    }

    /// Sends an SMS code that confirms the user's phone number.
    pub async fn send_phone_code(&self, tenant: &Tenant, user: &User) -> Result<Sent, StoreError> {
        let Some(phone) = user.phone.clone() else {
            return Ok(Sent::Impossible);
        };
        let policy = tenant.settings.code;
        let code = second_factor::new_code(policy.length);
        let hash =
            second_factor::code_hash(&self.key, user.id, CONFIRM_PHONE, Provider::Sms, &code);
        let issued = self
            .store
            .issue_code(
                user.id,
                CONFIRM_PHONE,
                "sms",
                hash,
                policy.lifetime.as_secs() as i64,
                policy.resend_after.as_secs() as i64,
            )
            .await?;
        if let Issue::TooSoon { .. } = issued {
            return Ok(Sent::TooSoon);
        }
        let minutes = (policy.lifetime.as_secs() / 60).max(1);
        let text = format!(
            "{code} is your {} code to confirm this phone number. It expires in {minutes} minutes.",
            tenant.display_name
        );
        let message = notify::Message {
            to: phone.clone(),
            subject: String::new(),
            text,
            html: String::new(),
        };
        match self
            .notifier
            .sms
            .send(message, tenant.name.as_str(), &code)
            .await
        {
            Ok(()) => Ok(Sent::Sent {
                to: notify::mask_phone(&phone),
            }),
            Err(e) => {
                tracing::error!(tenant = %tenant.name, user = %user.username, error = %e, "could not send a phone confirmation code");
                Ok(Sent::Failed)
            }
        }
    }

    /// Checks a phone confirmation code (same rules as sign-in codes).
    pub async fn confirm_phone(
        &self,
        tenant: &Tenant,
        user: &User,
        typed: &str,
    ) -> Result<CodeCheck, StoreError> {
        let code = second_factor::clean_code(typed);
        let hash =
            second_factor::code_hash(&self.key, user.id, CONFIRM_PHONE, Provider::Sms, &code);
        let check = self
            .store
            .check_code(
                user.id,
                CONFIRM_PHONE,
                "sms",
                hash,
                tenant.settings.code.max_attempts,
            )
            .await?;
        if check == CodeCheck::Accepted {
            self.store.confirm(user.id, false, true).await?;
            self.store
                .clear_failures(tenant.name.as_str(), &user.username)
                .await?;
        }
        Ok(check)
    }
}

/// Whether a link sent to `address` still speaks for the user: active, and the
/// address unchanged since (a link to a replaced address is dead).
fn still_addressed(user: &User, address: &str) -> bool {
    user.active && user.email.as_deref() == Some(address)
}

/// Checks a new password against the policy and its repetition.
fn new_password(tenant: &Tenant, new: &str, again: &str) -> Result<Password, PasswordChange> {
    if new != again {
        return Err(PasswordChange::Refused("The two passwords differ.".into()));
    }
    let Some(p) = Password::new(new.to_owned()) else {
        return Err(PasswordChange::Refused(format!(
            "Use between {} and {} characters.",
            tenant.settings.password.min_length,
            super::password::MAX_PASSWORD_BYTES
        )));
    };
    check_policy(&p, &tenant.settings.password).map_err(PasswordChange::Refused)?;
    Ok(p)
}

/// The absolute link to `path` with `token`, from the tenant's configured public
/// URL only.
fn link(tenant: &Tenant, path: &str, token: &str) -> Option<String> {
    let base = tenant.public_url.as_deref()?;
    Some(format!("{base}{path}?token={token}"))
}

async fn send_reset_link(
    store: &Store,
    notifier: &Notifier,
    tenant: &Tenant,
    login: &LoginName,
) -> Result<(), StoreError> {
    let Some(user) = store.find_user(tenant.name.as_str(), login).await? else {
        return Ok(());
    };
    let Some(email) = user.email.clone().filter(|_| user.active) else {
        return Ok(());
    };
    let token = new_token();
    let Some(url) = link(tenant, RESET_PATH, &token) else {
        tracing::error!(tenant = %tenant.name, "cannot send a password reset link: the tenant has no public_url");
        return Ok(());
    };
    let lifetime = tenant.settings.password.reset_link_lifetime.as_secs() as i64;
    if !store
        .issue_link(
            user.id,
            RESET,
            token_hash(&token),
            email.clone(),
            lifetime,
            LINK_COOL_DOWN,
        )
        .await?
    {
        return Ok(());
    }
    let minutes = (lifetime / 60).max(1);
    let minutes = if minutes == 1 {
        "1 minute".to_owned()
    } else {
        format!("{minutes} minutes")
    };
    let m = notify::link_email(
        &email,
        &tenant.display_name,
        &format!("Reset your {} password", tenant.display_name),
        &format!("Someone asked to reset the password of your {} account ({}).", tenant.display_name, user.username),
        "Choose a new password",
        &url,
        &format!("The link works once, for {minutes}. If you did not ask, ignore this message: your password stays as it is."),
    );
    if let Err(e) = notifier.email.send(m).await {
        tracing::error!(tenant = %tenant.name, error = %e, "could not send a password reset link");
    }
    Ok(())
}

async fn send_confirmation(
    store: &Store,
    notifier: &Notifier,
    tenant: &Tenant,
    user: &User,
) -> Result<Sent, StoreError> {
    let Some(email) = user.email.clone() else {
        return Ok(Sent::Impossible);
    };
    let token = new_token();
    let Some(url) = link(tenant, CONFIRM_EMAIL_PATH, &token) else {
        tracing::error!(tenant = %tenant.name, "cannot send a confirmation link: the tenant has no public_url");
        return Ok(Sent::Impossible);
    };
    if !store
        .issue_link(
            user.id,
            CONFIRM_EMAIL,
            token_hash(&token),
            email.clone(),
            CONFIRM_LINK_SECONDS,
            LINK_COOL_DOWN,
        )
        .await?
    {
        return Ok(Sent::TooSoon);
    }
    let m = notify::link_email(
        &email,
        &tenant.display_name,
        &format!("Confirm your email address for {}", tenant.display_name),
        &format!(
            "Confirm that {email} is the address of your {} account ({}).",
            tenant.display_name, user.username
        ),
        "Confirm my address",
        &url,
        "The link works once, for 24 hours. If this was not you, ignore this message.",
    );
    match notifier.email.send(m).await {
        Ok(()) => Ok(Sent::Sent {
            to: notify::mask_email(&email),
        }),
        Err(e) => {
            tracing::error!(tenant = %tenant.name, error = %e, "could not send a confirmation link");
            Ok(Sent::Failed)
        }
    }
}

/// For `user add --send-confirmation`: sends the link from the command line.
pub async fn send_confirmation_from_cli(
    store: &Store,
    notifier: &Notifier,
    tenant: &Tenant,
    user: &User,
) -> Result<Sent, StoreError> {
    send_confirmation(store, notifier, tenant, user).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_and_only_their_hash_is_kept() {
        let t = new_token();
        assert!(plausible(&t));
        assert_ne!(t, new_token());
        assert_eq!(token_hash(&t).len(), 64);
        assert!(!token_hash(&t).contains(&t));
        assert!(!plausible("short"));
        assert!(!plausible(&format!("{}'", &t[..42])));
    }
}
