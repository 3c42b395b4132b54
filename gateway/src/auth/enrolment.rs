//! Authenticator enrolment, recovery codes and fresh proofs (SPEC 6, 7), as
//! methods of [`Accounts`].
//!
//! A secret being set up lives only in a sealed, expiring token carried by the
//! set-up form; nothing is stored until the user proves the app works with a
//! valid code, so abandoning the set-up leaves no active secret behind.

use super::signin::{Accounts, AuditResult};
use super::{recovery, seal, totp, LoginName};
use crate::store::{now, Charge, SealedCode, StoreError, User};
use crate::tenancy::Tenant;

const SECRET_PURPOSE: &str = "totp-secret";
const RECOVERY_PURPOSE: &str = "recovery-code";
const ENROL_PURPOSE: &str = "totp-enrolment";
/// How long a set-up form stays valid.
const ENROL_SECONDS: i64 = 15 * 60;

/// What the set-up page shows.
pub struct Enrolment {
    /// The sealed secret and expiry, for the form's hidden `enrol` field.
    pub token: String,
    pub uri: String,
    pub grouped_secret: String,
    pub qr_svg: String,
}

/// The result of finishing a set-up.
pub enum EnrolOutcome {
    /// Saved; these recovery codes are shown once.
    Enrolled(Vec<String>),
    WrongCode,
    /// The form is too old or not this user's: start again.
    Expired,
    /// The user set up an app meanwhile (in another browser); nothing was saved.
    AlreadyEnrolled,
}

/// The result of asking for a fresh proof.
pub enum Proof {
    Accepted,
    Refused,
    Locked { until: i64 },
}

impl Accounts {
    pub async fn has_authenticator(&self, user_id: i64) -> Result<bool, StoreError> {
        Ok(self.store.authenticator(user_id).await?.is_some())
    }

    /// A new secret for `user`, with its QR code and sealed form token.
    pub fn begin_enrolment(&self, tenant: &Tenant, user: &User) -> Enrolment {
        let secret = totp::new_secret();
        let mut plain = secret.clone();
        plain.extend_from_slice(&(now() + ENROL_SECONDS).to_be_bytes());
        let token = seal::seal(&self.key, ENROL_PURPOSE, user.id, &plain);
        Self::enrolment_view(tenant, user, &secret, token)
    }

    /// The same set-up again (after a wrong code), while its token is valid.
    pub fn resume_enrolment(&self, tenant: &Tenant, user: &User, token: &str) -> Option<Enrolment> {
        let secret = self.open_enrolment(user, token)?;
        Some(Self::enrolment_view(
            tenant,
            user,
            &secret,
            token.to_owned(),
        ))
    }

    fn open_enrolment(&self, user: &User, token: &str) -> Option<Vec<u8>> {
        let plain = seal::open(&self.key, ENROL_PURPOSE, user.id, token)?;
        let (secret, exp) = plain.split_at(plain.len().checked_sub(8)?);
        let exp = i64::from_be_bytes(exp.try_into().ok()?);
        (secret.len() == totp::SECRET_BYTES && exp > now()).then(|| secret.to_vec())
    }

    fn enrolment_view(tenant: &Tenant, user: &User, secret: &[u8], token: String) -> Enrolment {
        let secret = secret.to_vec();
        let uri = totp::otpauth_uri(&secret, &tenant.display_name, &user.username);
        let qr_svg = qrcode::QrCode::new(uri.as_bytes())
            .map(|qr| {
                qr.render::<qrcode::render::svg::Color>()
                    .min_dimensions(220, 220)
                    .quiet_zone(true)
                    .build()
            })
            .unwrap_or_default();
        // Inline in HTML: the XML declaration before <svg> has no place there.
        let qr_svg = qr_svg
            .find("<svg")
            .map(|i| qr_svg[i..].to_owned())
            .unwrap_or_default();
        Enrolment {
            token,
            uri,
            grouped_secret: totp::grouped(&secret),
            qr_svg,
        }
    }

    /// Checks the code typed from the app against the sealed secret, and saves it
    /// with ten new recovery codes.
    pub async fn finish_enrolment(
        &self,
        user: &User,
        token: &str,
        code: &str,
    ) -> Result<EnrolOutcome, StoreError> {
        let Some(secret) = self.open_enrolment(user, token) else {
            return Ok(EnrolOutcome::Expired);
        };
        let Some(step) = totp::matching_step(&secret, code, now() as u64) else {
            return Ok(EnrolOutcome::WrongCode);
        };
        let sealed = seal::seal(&self.key, SECRET_PURPOSE, user.id, &secret);
        let (codes, sealed_codes) = self.new_recovery_codes(user.id);
        self.store
            .save_authenticator(user.id, sealed, step, sealed_codes)
            .await?;
        Ok(EnrolOutcome::Enrolled(codes))
    }

    fn new_recovery_codes(&self, user_id: i64) -> (Vec<String>, Vec<SealedCode>) {
        let codes = recovery::generate();
        let sealed = codes
            .iter()
            .map(|c| SealedCode {
                mac: recovery::mac(
                    &self.key,
                    user_id,
                    &recovery::normalise(c).expect("generated codes are valid"),
                ),
                sealed: seal::seal(&self.key, RECOVERY_PURPOSE, user_id, c.as_bytes()),
            })
            .collect();
        (codes, sealed)
    }

    /// Whether `typed` is the user's authenticator code for a step not used before;
    /// the step is consumed.
    pub async fn check_totp(&self, user: &User, typed: &str) -> Result<bool, StoreError> {
        let Some(sealed) = self.store.authenticator(user.id).await? else {
            return Ok(false);
        };
        let Some(secret) = seal::open(&self.key, SECRET_PURPOSE, user.id, &sealed) else {
            tracing::error!(
                user_id = user.id,
                "an authenticator secret does not decrypt for its user"
            );
            return Ok(false);
        };
        let Some(step) = totp::matching_step(&secret, typed, now() as u64) else {
            return Ok(false);
        };
        self.store.use_totp_step(user.id, step).await
    }

    /// Whether `typed` is one of the user's unused recovery codes; it is consumed.
    pub async fn use_recovery_code(&self, user: &User, typed: &str) -> Result<bool, StoreError> {
        let Some(code) = recovery::normalise(typed) else {
            return Ok(false);
        };
        self.store
            .use_recovery_code(user.id, recovery::mac(&self.key, user.id, &code))
            .await
    }

    /// A fresh proof before a sensitive change: an authenticator code, a recovery
    /// code or the password. Failures count toward lockout.
    pub async fn fresh_proof(
        &self,
        tenant: &Tenant,
        user: &User,
        proof: &str,
        client: &str,
    ) -> Result<Proof, StoreError> {
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
            return Ok(Proof::Locked { until });
        }
        let digits = proof.chars().filter(char::is_ascii_digit).count();
        let ok = (digits == totp::DIGITS
            && proof.trim().len() <= 7
            && self.check_totp(user, proof).await?)
            || self.use_recovery_code(user, proof).await?
            || match super::password::Password::new(proof.to_owned()) {
                Some(p) => self
                    .hasher
                    .verify(&p, Some(&user.password_hash))
                    .await
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?,
                None => false,
            };
        if ok {
            self.store
                .clear_failures(tenant.name.as_str(), &user.username)
                .await?;
            Ok(Proof::Accepted)
        } else {
            self.audit(
                tenant,
                Some(user),
                &login,
                AuditResult::InvalidCredentials,
                client,
            )
            .await;
            Ok(Proof::Refused)
        }
    }

    /// The user's unused recovery codes in clear text.
    pub async fn recovery_codes(&self, user: &User) -> Result<Vec<String>, StoreError> {
        let sealed = self.store.unused_recovery_codes(user.id).await?;
        Ok(sealed
            .iter()
            .filter_map(|s| seal::open(&self.key, RECOVERY_PURPOSE, user.id, s))
            .filter_map(|b| String::from_utf8(b).ok())
            .collect())
    }

    /// Ten new recovery codes; the old ones stop working.
    pub async fn regenerate_recovery_codes(&self, user: &User) -> Result<Vec<String>, StoreError> {
        let (codes, sealed) = self.new_recovery_codes(user.id);
        self.store.replace_recovery_codes(user.id, sealed).await?;
        Ok(codes)
    }

    /// Turns the authenticator off, removes the recovery codes and rotates the
    /// security stamp: every other session and remembered browser ends.
    pub async fn disable_two_factor(
        &self,
        user: &User,
        keep: Option<crate::auth::session::SessionKey>,
    ) -> Result<(), StoreError> {
        self.store.remove_two_factor(user.id, keep).await?;
        self.sessions.remove_user(user.id);
        Ok(())
    }
}
