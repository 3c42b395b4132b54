//! The sign-in audit log: every attempt with its result.

use super::{now, Store, StoreError};
use sqlx::Row;

/// One audit row.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: i64,
    pub tenant: String,
    pub user_id: Option<i64>,
    pub login: String,
    pub result: String,
    pub client: String,
}

impl Store {
    pub async fn record_audit(
        &self,
        tenant: &str,
        user_id: Option<i64>,
        login: &str,
        result: &str,
        client: &str,
    ) -> Result<(), StoreError> {
        let (tenant, login, result, client) = (
            tenant.to_owned(),
            login.to_owned(),
            result.to_owned(),
            client.to_owned(),
        );
        self.call(move |pool| async move {
            sqlx::query("INSERT INTO audit (at, tenant, user_id, login, result, client) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(now())
                .bind(tenant)
                .bind(user_id)
                .bind(login)
                .bind(result)
                .bind(client)
                .execute(&pool)
                .await
                .map(|_| ())
        })
        .await
    }

    /// The newest entries first, filtered by tenant and login when given.
    pub async fn list_audit(
        &self,
        tenant: Option<&str>,
        login: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let (tenant, login) = (tenant.map(str::to_owned), login.map(str::to_owned));
        self.call(move |pool| async move {
            let rows = sqlx::query(
                "SELECT at, tenant, user_id, login, result, client FROM audit \
                 WHERE ($1 IS NULL OR tenant = $1) AND ($2 IS NULL OR login = $2) \
                 ORDER BY id DESC LIMIT $3",
            )
            .bind(tenant)
            .bind(login)
            .bind(limit)
            .fetch_all(&pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(AuditEntry {
                        at: r.try_get("at")?,
                        tenant: r.try_get("tenant")?,
                        user_id: r.try_get("user_id")?,
                        login: r.try_get("login")?,
                        result: r.try_get("result")?,
                        client: r.try_get("client")?,
                    })
                })
                .collect()
        })
        .await
    }
}
