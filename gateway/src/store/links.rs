//! Single-use links (password reset, email confirmation): stored as the hash of
//! their token, consumed by one conditional update, and expiring. A new link of a
//! purpose kills the user's older ones.

use super::{now, Store, StoreError};
use sqlx::Row;

/// What a live link is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub user_id: i64,
    pub data: String,
}

impl Store {
    /// Stores a link unless the user got one of this purpose less than `cool_down`
    /// seconds ago; `false` when it was too soon. The cool-down is taken by one
    /// conditional upsert, so of several concurrent requests exactly one wins.
    pub async fn issue_link(
        &self,
        user_id: i64,
        purpose: &str,
        token_hash: String,
        data: String,
        lifetime: i64,
        cool_down: i64,
    ) -> Result<bool, StoreError> {
        let purpose = purpose.to_owned();
        self.call(move |pool| async move {
            let t = now();
            let won = sqlx::query(
                "INSERT INTO link_cool_down (user_id, purpose, last_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, purpose) DO UPDATE SET last_at = $3 \
                 WHERE link_cool_down.last_at <= $4 RETURNING user_id",
            )
            .bind(user_id)
            .bind(purpose.clone())
            .bind(t)
            .bind(t - cool_down)
            .fetch_optional(&pool)
            .await?;
            if won.is_none() {
                return Ok(false);
            }
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM link_tokens WHERE user_id = $1 AND purpose = $2")
                .bind(user_id)
                .bind(purpose.clone())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO link_tokens (user_id, purpose, token_hash, data, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(user_id)
            .bind(purpose)
            .bind(token_hash)
            .bind(data)
            .bind(t)
            .bind(t + lifetime)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    /// The live link behind a token hash, without using it (for the page a link opens).
    pub async fn peek_link(
        &self,
        tenant: &str,
        purpose: &str,
        token_hash: String,
    ) -> Result<Option<Link>, StoreError> {
        let (tenant, purpose) = (tenant.to_owned(), purpose.to_owned());
        self.call(move |pool| async move {
            let row = sqlx::query(
                "SELECT user_id, data FROM link_tokens WHERE purpose = $1 AND token_hash = $2 \
                 AND used_at IS NULL AND expires_at > $3 \
                 AND user_id IN (SELECT id FROM users WHERE tenant = $4)",
            )
            .bind(purpose)
            .bind(token_hash)
            .bind(now())
            .bind(tenant)
            .fetch_optional(&pool)
            .await?;
            row.map(|r| {
                Ok(Link {
                    user_id: r.try_get("user_id")?,
                    data: r.try_get("data")?,
                })
            })
            .transpose()
        })
        .await
    }

    /// Uses a link: only one request ever gets `Some`.
    pub async fn consume_link(
        &self,
        tenant: &str,
        purpose: &str,
        token_hash: String,
    ) -> Result<Option<Link>, StoreError> {
        let (tenant, purpose) = (tenant.to_owned(), purpose.to_owned());
        self.call(move |pool| async move {
            let row = sqlx::query(
                "UPDATE link_tokens SET used_at = $1 WHERE purpose = $2 AND token_hash = $3 \
                 AND used_at IS NULL AND expires_at > $1 \
                 AND user_id IN (SELECT id FROM users WHERE tenant = $4) RETURNING user_id, data",
            )
            .bind(now())
            .bind(purpose)
            .bind(token_hash)
            .bind(tenant)
            .fetch_optional(&pool)
            .await?;
            row.map(|r| {
                Ok(Link {
                    user_id: r.try_get("user_id")?,
                    data: r.try_get("data")?,
                })
            })
            .transpose()
        })
        .await
    }
}
