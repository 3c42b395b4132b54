//! One-time codes sent by email or SMS (SPEC 7): stored only as a keyed hash,
//! single-use, expiring, with limited attempts and a resend cool-down per
//! provider; a new code for a user and purpose kills the older ones.

use super::{now, Store, StoreError};
use sqlx::Row;
use subtle::ConstantTimeEq;

/// The outcome of issuing a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issue {
    Issued,
    /// The previous code is younger than the cool-down; try again in this many seconds.
    TooSoon {
        wait: i64,
    },
}

/// The outcome of checking a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    Accepted,
    Wrong,
    /// No live code: never sent, used, expired, or worn out by wrong tries.
    NoCode,
}

impl Store {
    /// Stores a new code hash for `user_id` and `purpose`, unless the last one was sent
    /// less than `resend_after` seconds ago; older codes die.
    pub async fn issue_code(
        &self,
        user_id: i64,
        purpose: &str,
        provider: &str,
        code_hash: String,
        lifetime: i64,
        resend_after: i64,
    ) -> Result<Issue, StoreError> {
        let (purpose, provider) = (purpose.to_owned(), provider.to_owned());
        self.call(move |pool| async move {
            let t = now();
            // One statement, so two racing sends cannot both pass the cool-down check.
            let row = sqlx::query(
                "INSERT INTO codes (user_id, purpose, provider, code_hash, created_at, expires_at) \
                 SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS \
                 (SELECT 1 FROM codes WHERE user_id = $1 AND purpose = $2 AND provider = $3 \
                  AND created_at > $7) \
                 RETURNING id",
            )
            .bind(user_id)
            .bind(purpose.clone())
            .bind(provider.clone())
            .bind(code_hash)
            .bind(t)
            .bind(t + lifetime)
            .bind(t - resend_after)
            .fetch_optional(&pool)
            .await?;
            let Some(row) = row else {
                let last: Option<i64> = sqlx::query(
                    "SELECT MAX(created_at) AS last FROM codes \
                     WHERE user_id = $1 AND purpose = $2 AND provider = $3",
                )
                .bind(user_id)
                .bind(purpose)
                .bind(provider)
                .fetch_one(&pool)
                .await?
                .try_get("last")?;
                let wait = last
                    .map(|l| l + resend_after - t)
                    .unwrap_or(resend_after)
                    .max(1);
                return Ok(Issue::TooSoon { wait });
            };
            let id: i64 = row.try_get("id")?;
            sqlx::query("DELETE FROM codes WHERE user_id = $1 AND purpose = $2 AND id <> $3")
                .bind(user_id)
                .bind(purpose)
                .bind(id)
                .execute(&pool)
                .await?;
            Ok(Issue::Issued)
        })
        .await
    }

    /// Deletes the live codes of a user, purpose and provider (a code that could not
    /// be delivered).
    pub async fn discard_codes(
        &self,
        user_id: i64,
        purpose: &str,
        provider: &str,
    ) -> Result<(), StoreError> {
        let (purpose, provider) = (purpose.to_owned(), provider.to_owned());
        self.call(move |pool| async move {
            sqlx::query("DELETE FROM codes WHERE user_id = $1 AND purpose = $2 AND provider = $3")
                .bind(user_id)
                .bind(purpose)
                .bind(provider)
                .execute(&pool)
                .await
                .map(|_| ())
        })
        .await
    }

    /// Checks a code hash against the live code of `user_id` for `purpose` and
    /// `provider`. Each check counts as an attempt before comparing; the code is
    /// consumed by a delete that only one of several concurrent right answers wins.
    pub async fn check_code(
        &self,
        user_id: i64,
        purpose: &str,
        provider: &str,
        code_hash: String,
        max_attempts: u32,
    ) -> Result<CodeCheck, StoreError> {
        let (purpose, provider) = (purpose.to_owned(), provider.to_owned());
        self.call(move |pool| async move {
            let row = sqlx::query(
                "UPDATE codes SET attempts = attempts + 1 \
                 WHERE user_id = $1 AND purpose = $2 AND provider = $3 \
                 RETURNING id, code_hash, attempts, expires_at",
            )
            .bind(user_id)
            .bind(purpose)
            .bind(provider)
            .fetch_optional(&pool)
            .await?;
            let Some(row) = row else {
                return Ok(CodeCheck::NoCode);
            };
            let id: i64 = row.try_get("id")?;
            let stored: String = row.try_get("code_hash")?;
            let attempts: i64 = row.try_get("attempts")?;
            let expires_at: i64 = row.try_get("expires_at")?;
            let delete = |id: i64| sqlx::query("DELETE FROM codes WHERE id = $1").bind(id);
            if expires_at <= now() || attempts > i64::from(max_attempts) {
                delete(id).execute(&pool).await?;
                return Ok(CodeCheck::NoCode);
            }
            if !bool::from(stored.as_bytes().ct_eq(code_hash.as_bytes())) {
                if attempts == i64::from(max_attempts) {
                    delete(id).execute(&pool).await?;
                }
                return Ok(CodeCheck::Wrong);
            }
            let won = delete(id).execute(&pool).await?.rows_affected() == 1;
            Ok(if won {
                CodeCheck::Accepted
            } else {
                CodeCheck::NoCode
            })
        })
        .await
    }
}
