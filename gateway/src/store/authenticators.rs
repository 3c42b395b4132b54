//! Authenticator secrets and recovery codes, as sealed values (see auth::seal).
//! Consuming a TOTP step or a recovery code is one conditional update whose
//! affected-row count says who won, so concurrent requests succeed once.

use super::users::new_stamp;
use super::{now, Store, StoreError};
use crate::auth::session::SessionKey;
use sqlx::Row;

/// A recovery code as stored: lookup MAC and sealed text.
pub struct SealedCode {
    pub mac: String,
    pub sealed: String,
}

/// Recovery codes left, and when one was last used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryStatus {
    pub left: i64,
    pub last_used: Option<i64>,
}

impl Store {
    /// Saves an authenticator and a fresh set of recovery codes. A user who already
    /// has one gets [`StoreError::Conflict`]: an app is replaced only by turning the
    /// old one off first. `step` is the step of the code that proved the set-up;
    /// it cannot be used again.
    pub async fn save_authenticator(
        &self,
        user_id: i64,
        sealed: String,
        step: i64,
        codes: Vec<SealedCode>,
    ) -> Result<(), StoreError> {
        self.call(move |pool| async move {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO authenticators (user_id, secret_sealed, last_step, created_at) VALUES ($1, $2, $3, $4)")
                .bind(user_id)
                .bind(sealed)
                .bind(step)
                .bind(now())
                .execute(&mut *tx)
                .await?;
            replace_codes(&mut tx, user_id, codes).await?;
            tx.commit().await
        })
        .await
    }

    /// The sealed secret, when the user has an authenticator.
    pub async fn authenticator(&self, user_id: i64) -> Result<Option<String>, StoreError> {
        self.call(move |pool| async move {
            let row = sqlx::query("SELECT secret_sealed FROM authenticators WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&pool)
                .await?;
            row.map(|r| r.try_get("secret_sealed")).transpose()
        })
        .await
    }

    /// Accepts TOTP `step` for the user if it is newer than every step used before.
    pub async fn use_totp_step(&self, user_id: i64, step: i64) -> Result<bool, StoreError> {
        self.call(move |pool| async move {
            let done = sqlx::query(
                "UPDATE authenticators SET last_step = $1 WHERE user_id = $2 AND last_step < $1",
            )
            .bind(step)
            .bind(user_id)
            .execute(&pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    /// Consumes one unused recovery code; true only for the one request that did.
    pub async fn use_recovery_code(&self, user_id: i64, mac: String) -> Result<bool, StoreError> {
        self.call(move |pool| async move {
            let done = sqlx::query(
                "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_mac = $3 AND used_at IS NULL",
            )
            .bind(now())
            .bind(user_id)
            .bind(mac)
            .execute(&pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    /// The sealed unused recovery codes.
    pub async fn unused_recovery_codes(&self, user_id: i64) -> Result<Vec<String>, StoreError> {
        self.call(move |pool| async move {
            let rows = sqlx::query("SELECT code_sealed FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL ORDER BY id")
                .bind(user_id)
                .fetch_all(&pool)
                .await?;
            rows.iter().map(|r| r.try_get("code_sealed")).collect()
        })
        .await
    }

    pub async fn recovery_status(&self, user_id: i64) -> Result<RecoveryStatus, StoreError> {
        self.call(move |pool| async move {
            let row = sqlx::query(
                "SELECT COUNT(*) - COUNT(used_at) AS left_count, MAX(used_at) AS last_used \
                 FROM recovery_codes WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_one(&pool)
            .await?;
            Ok(RecoveryStatus {
                left: row.try_get("left_count")?,
                last_used: row.try_get("last_used")?,
            })
        })
        .await
    }

    /// Replaces the user's recovery codes with a new set.
    pub async fn replace_recovery_codes(
        &self,
        user_id: i64,
        codes: Vec<SealedCode>,
    ) -> Result<(), StoreError> {
        self.call(move |pool| async move {
            let mut tx = pool.begin().await?;
            replace_codes(&mut tx, user_id, codes).await?;
            tx.commit().await
        })
        .await
    }

    /// Removes the authenticator and recovery codes and rotates the security stamp,
    /// ending every session and remembered browser of the user except `keep` (the
    /// session making the change, which is moved to the new stamp).
    pub async fn remove_two_factor(
        &self,
        user_id: i64,
        keep: Option<SessionKey>,
    ) -> Result<(), StoreError> {
        self.call(move |pool| async move {
            let mut tx = pool.begin().await?;
            let stamp = new_stamp();
            let done = sqlx::query("UPDATE users SET security_stamp = $1 WHERE id = $2")
                .bind(stamp.clone())
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(sqlx::Error::RowNotFound);
            }
            sqlx::query("DELETE FROM authenticators WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            super::sessions::end_sessions_except(&mut tx, user_id, keep, &stamp).await?;
            tx.commit().await
        })
        .await
    }
}

async fn replace_codes(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: i64,
    codes: Vec<SealedCode>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    for c in codes {
        sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_mac, code_sealed) VALUES ($1, $2, $3)",
        )
        .bind(user_id)
        .bind(c.mac)
        .bind(c.sealed)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
