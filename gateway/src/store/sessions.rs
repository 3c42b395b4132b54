//! Stored sessions. The proxy reads a session from here only on a cache miss
//! (first request after a restart, or on another instance).

use super::{now, Store, StoreError};
use crate::auth::session::{Session, SessionKey, Stage};
use crate::tenancy::TenantName;
use sqlx::Row;
use std::sync::atomic::AtomicI64;

/// What a revocation ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// One session, by the hex of its hash.
    Session(String),
    /// Every session of a user.
    User(i64),
}

impl Revoked {
    fn target(&self) -> String {
        match self {
            Self::Session(h) => format!("s:{h}"),
            Self::User(id) => format!("u:{id}"),
        }
    }

    fn parse(s: &str) -> Option<Revoked> {
        match s.split_once(':')? {
            ("s", h) => Some(Self::Session(h.to_owned())),
            ("u", id) => id.parse().ok().map(Self::User),
            _ => None,
        }
    }
}

/// Ends every session of a user except `keep`, inside the transaction that
/// rotated the user's stamp to `stamp`: deletes them, records the revocation for
/// the other instances, and moves the kept session to the new stamp.
pub(super) async fn end_sessions_except(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: i64,
    keep: Option<SessionKey>,
    stamp: &str,
) -> Result<(), sqlx::Error> {
    let keep = keep.map(hex::encode).unwrap_or_default();
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(user_id)
        .bind(keep.clone())
        .execute(&mut **tx)
        .await?;
    revoke(tx, Revoked::User(user_id)).await?;
    sqlx::query("UPDATE sessions SET security_stamp = $1 WHERE id_hash = $2")
        .bind(stamp.to_owned())
        .bind(keep)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records a revocation inside the transaction that deletes the sessions.
pub(super) async fn revoke(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    r: Revoked,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO revocations (target, at) VALUES ($1, $2)")
        .bind(r.target())
        .bind(now())
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

impl Store {
    pub async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        let (key, tenant, user_id) = (hex::encode(s.key), s.tenant.to_string(), s.user_id);
        let (stage, methods) = (s.stage.as_str(), s.methods);
        let (stamp, return_to) = (s.security_stamp.to_string(), s.return_to.to_string());
        let (created, expires) = (s.created_at, s.expires_at);
        self.call(move |pool| async move {
            sqlx::query(
                "INSERT INTO sessions (id_hash, tenant, user_id, stage, methods, security_stamp, \
                 return_to, created_at, last_seen, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(key)
            .bind(tenant)
            .bind(user_id)
            .bind(stage)
            .bind(methods)
            .bind(stamp)
            .bind(return_to)
            .bind(created)
            .bind(created)
            .bind(expires)
            .execute(&pool)
            .await
            .map(|_| ())
        })
        .await
    }

    /// Loads a live session: its user active, its stamp still the user's.
    pub async fn load_session(&self, key: &SessionKey) -> Result<Option<Session>, StoreError> {
        let key = *key;
        self.call(move |pool| async move {
            let row = sqlx::query(
                "SELECT s.tenant, s.user_id, s.stage, s.methods, s.security_stamp, s.return_to, \
                 s.created_at, s.last_seen, s.expires_at, u.username, u.email \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.id_hash = $1 AND u.active = 1 AND u.security_stamp = s.security_stamp \
                 AND s.expires_at > $2",
            )
            .bind(hex::encode(key))
            .bind(now())
            .fetch_optional(&pool)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let tenant: String = row.try_get("tenant")?;
            let stage: String = row.try_get("stage")?;
            let (Ok(tenant), Some(stage)) = (TenantName::parse(&tenant), Stage::parse(&stage))
            else {
                return Ok(None);
            };
            let last_seen: i64 = row.try_get("last_seen")?;
            Ok(Some(Session {
                key,
                tenant,
                user_id: row.try_get("user_id")?,
                username: row.try_get::<String, _>("username")?.into(),
                email: row.try_get::<Option<String>, _>("email")?.map(Box::from),
                stage,
                methods: crate::auth::session::methods(&row.try_get::<String, _>("methods")?),
                security_stamp: row.try_get::<String, _>("security_stamp")?.into(),
                return_to: row.try_get::<String, _>("return_to")?.into(),
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                last_seen: AtomicI64::new(last_seen),
                stored_last_seen: AtomicI64::new(last_seen),
            }))
        })
        .await
    }

    /// Deletes a session and records its revocation for the other instances.
    pub async fn delete_session(&self, key: &SessionKey) -> Result<(), StoreError> {
        let key = hex::encode(key);
        self.call(move |pool| async move {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(key.clone())
                .execute(&mut *tx)
                .await?;
            revoke(&mut tx, Revoked::Session(key)).await?;
            tx.commit().await
        })
        .await
    }

    /// Revocations newer than `after` (and those of the last seconds), oldest first.
    pub async fn revocations_since(&self, after: i64) -> Result<Vec<(i64, Revoked)>, StoreError> {
        self.call(move |pool| async move {
            // Rows of the last two seconds are read again: on PostgreSQL a lower id can
            // commit after a higher one has been read. Applying one twice is harmless.
            let rows = sqlx::query(
                "SELECT id, target FROM revocations WHERE id > $1 OR at >= $2 ORDER BY id LIMIT 1000",
            )
            .bind(after)
            .bind(now() - 2)
                .fetch_all(&pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let id: i64 = r.try_get("id")?;
                let target: String = r.try_get("target")?;
                if let Some(t) = Revoked::parse(&target) {
                    out.push((id, t));
                }
            }
            Ok(out)
        })
        .await
    }

    /// The newest revocation id, where an instance starts reading.
    pub async fn last_revocation(&self) -> Result<i64, StoreError> {
        self.call(move |pool| async move {
            let row = sqlx::query("SELECT MAX(id) AS last FROM revocations")
                .fetch_one(&pool)
                .await?;
            Ok(row.try_get::<Option<i64>, _>("last")?.unwrap_or(0))
        })
        .await
    }

    /// Deletes revocations older than `secs` seconds.
    pub async fn prune_revocations(&self, secs: i64) -> Result<(), StoreError> {
        self.call(move |pool| async move {
            sqlx::query("DELETE FROM revocations WHERE at < $1")
                .bind(now() - secs)
                .execute(&pool)
                .await
                .map(|_| ())
        })
        .await
    }

    pub async fn touch_session(&self, key: &SessionKey, at: i64) -> Result<(), StoreError> {
        let key = hex::encode(key);
        self.call(move |pool| async move {
            sqlx::query("UPDATE sessions SET last_seen = $1 WHERE id_hash = $2 AND last_seen < $1")
                .bind(at)
                .bind(key)
                .execute(&pool)
                .await
                .map(|_| ())
        })
        .await
    }

    /// Deletes sessions past their absolute lifetime or idle for longer than `idle_secs`.
    pub async fn purge_sessions(&self, idle_secs: i64) -> Result<u64, StoreError> {
        self.call(move |pool| async move {
            let t = now();
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen < $2")
                .bind(t)
                .bind(t - idle_secs)
                .execute(&pool)
                .await
                .map(|r| r.rows_affected())
        })
        .await
    }
}
