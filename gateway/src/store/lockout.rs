//! Failure counters per canonical login name (SPEC 7).
//!
//! An attempt is charged *before* its password is checked, in one atomic
//! upsert, and the answer says whether the attempt may proceed. N parallel
//! guesses therefore get distinct attempt numbers, and at most
//! `max_failed_attempts` passwords are ever checked per lockout window, however
//! the requests interleave or whichever instance serves them. The counter
//! exists for unknown names too, so lockout reveals nothing about who exists.

use super::{now, Store, StoreError};
use crate::policy::settings::LockoutPolicy;
use sqlx::Row;

/// The outcome of charging one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// The attempt may check its credentials.
    Proceed,
    /// Locked; the lock ends at this Unix time.
    Locked { until: i64 },
}

impl Store {
    /// Counts one attempt for `login` and says whether it may proceed.
    pub async fn charge_attempt(
        &self,
        tenant: &str,
        login: &str,
        policy: &LockoutPolicy,
    ) -> Result<Charge, StoreError> {
        if !policy.enabled {
            return Ok(Charge::Proceed);
        }
        let (tenant, login) = (tenant.to_owned(), login.to_owned());
        let max = i64::from(policy.max_failed_attempts);
        let duration = policy.duration.as_secs() as i64;
        self.call(move |pool| async move {
            let t = now();
            let lock_at = t + duration;
            // A lock that has run out starts a new window at one attempt. The attempt that
            // reaches the limit sets the lock, whether or not its password turns out right;
            // a right one clears the row again.
            let row = sqlx::query(
                "INSERT INTO login_failures (tenant, login, failures, locked_until) \
                 VALUES ($1, $2, 1, CASE WHEN 1 >= $3 THEN $4 ELSE NULL END) \
                 ON CONFLICT (tenant, login) DO UPDATE SET \
                   failures = CASE WHEN login_failures.locked_until IS NOT NULL \
                                    AND login_failures.locked_until <= $5 \
                              THEN 1 ELSE login_failures.failures + 1 END, \
                   locked_until = CASE \
                     WHEN login_failures.locked_until IS NOT NULL AND login_failures.locked_until <= $5 \
                       THEN CASE WHEN 1 >= $3 THEN $4 ELSE NULL END \
                     WHEN login_failures.locked_until IS NULL AND login_failures.failures + 1 >= $3 \
                       THEN $4 \
                     ELSE login_failures.locked_until END \
                 RETURNING failures, locked_until",
            )
            .bind(tenant)
            .bind(login)
            .bind(max)
            .bind(lock_at)
            .bind(t)
            .fetch_one(&pool)
            .await?;
            let failures: i64 = row.try_get("failures")?;
            let until: Option<i64> = row.try_get("locked_until")?;
            Ok(if failures > max { Charge::Locked { until: until.unwrap_or(lock_at) } } else { Charge::Proceed })
        })
        .await
    }

    /// Whether `login` is locked now, without charging an attempt.
    pub async fn lock_status(
        &self,
        tenant: &str,
        login: &str,
        policy: &LockoutPolicy,
    ) -> Result<Charge, StoreError> {
        if !policy.enabled {
            return Ok(Charge::Proceed);
        }
        let (tenant, login) = (tenant.to_owned(), login.to_owned());
        let max = i64::from(policy.max_failed_attempts);
        self.call(move |pool| async move {
            let row = sqlx::query("SELECT failures, locked_until FROM login_failures WHERE tenant = $1 AND login = $2")
                .bind(tenant)
                .bind(login)
                .fetch_optional(&pool)
                .await?;
            let Some(row) = row else { return Ok(Charge::Proceed) };
            let failures: i64 = row.try_get("failures")?;
            let until: Option<i64> = row.try_get("locked_until")?;
            Ok(match until {
                Some(u) if u > now() && failures >= max => Charge::Locked { until: u },
                _ => Charge::Proceed,
            })
        })
        .await
    }

    /// Takes back one charged attempt (a right password that still owes a second
    /// factor), lifting a lock that attempt set.
    pub async fn refund_attempt(
        &self,
        tenant: &str,
        login: &str,
        policy: &LockoutPolicy,
    ) -> Result<(), StoreError> {
        if !policy.enabled {
            return Ok(());
        }
        let (tenant, login) = (tenant.to_owned(), login.to_owned());
        let max = i64::from(policy.max_failed_attempts);
        self.call(move |pool| async move {
            sqlx::query(
                "UPDATE login_failures SET failures = failures - 1,                  locked_until = CASE WHEN failures - 1 < $3 THEN NULL ELSE locked_until END                  WHERE tenant = $1 AND login = $2 AND failures > 0",
            )
            .bind(tenant)
            .bind(login)
            .bind(max)
            .execute(&pool)
            .await
            .map(|_| ())
        })
        .await
    }

    /// Clears the counter after a complete sign-in, or by `user unlock`.
    pub async fn clear_failures(&self, tenant: &str, login: &str) -> Result<(), StoreError> {
        let (tenant, login) = (tenant.to_owned(), login.to_owned());
        self.call(move |pool| async move {
            sqlx::query("DELETE FROM login_failures WHERE tenant = $1 AND login = $2")
                .bind(tenant)
                .bind(login)
                .execute(&pool)
                .await
                .map(|_| ())
        })
        .await
    }
}
