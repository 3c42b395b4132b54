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
    /// seconds ago; `false` when it was too soon.
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
            let mut tx = pool.begin().await?;
            let recent = sqlx::query("SELECT COUNT(*) AS n FROM link_tokens WHERE user_id = $1 AND purpose = $2 AND created_at > $3")
                .bind(user_id)
                .bind(purpose.clone())
                .bind(t - cool_down)
                .fetch_one(&mut *tx)
                .await?
                .try_get::<i64, _>("n")?;
            if recent > 0 {
                return Ok(false);
            }
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
        purpose: &str,
        token_hash: String,
    ) -> Result<Option<Link>, StoreError> {
        let purpose = purpose.to_owned();
        self.call(move |pool| async move {
            let row = sqlx::query(
                "SELECT user_id, data FROM link_tokens WHERE purpose = $1 AND token_hash = $2 \
                 AND used_at IS NULL AND expires_at > $3",
            )
            .bind(purpose)
            .bind(token_hash)
            .bind(now())
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
        purpose: &str,
        token_hash: String,
    ) -> Result<Option<Link>, StoreError> {
        let purpose = purpose.to_owned();
        self.call(move |pool| async move {
            let row = sqlx::query(
                "UPDATE link_tokens SET used_at = $1 WHERE purpose = $2 AND token_hash = $3 \
                 AND used_at IS NULL AND expires_at > $1 RETURNING user_id, data",
            )
            .bind(now())
            .bind(purpose)
            .bind(token_hash)
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
