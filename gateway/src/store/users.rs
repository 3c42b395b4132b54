//! User accounts of every tenant (and of the host, under tenant `host`).

use super::{flag, now, Store, StoreError};
use crate::auth::session::SessionKey;
use crate::auth::LoginName;
use rand::RngCore;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A stored user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub tenant: String,
    /// The canonical login name.
    pub username: String,
    pub email: Option<String>,
    pub email_confirmed: bool,
    pub phone: Option<String>,
    pub phone_confirmed: bool,
    pub password_hash: String,
    pub security_stamp: String,
    pub active: bool,
    pub two_factor_enabled: bool,
}

/// What `user add` creates.
pub struct NewUser<'a> {
    pub tenant: &'a str,
    pub username: &'a LoginName,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub password_hash: &'a str,
    pub two_factor_enabled: bool,
}

const COLUMNS: &str = "id, tenant, username, email, email_confirmed, phone, phone_confirmed, \
                       password_hash, security_stamp, active, two_factor_enabled";

fn user(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        email_confirmed: flag(row, "email_confirmed")?,
        phone: row.try_get("phone")?,
        phone_confirmed: flag(row, "phone_confirmed")?,
        password_hash: row.try_get("password_hash")?,
        security_stamp: row.try_get("security_stamp")?,
        active: flag(row, "active")?,
        two_factor_enabled: flag(row, "two_factor_enabled")?,
    })
}

/// A fresh security stamp.
pub fn new_stamp() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// The canonical form of an email address, as looked up at sign-in.
pub fn canonical_email(email: &str) -> Option<String> {
    LoginName::parse(email).map(|n| n.as_str().to_owned())
}

impl Store {
    pub async fn add_user(&self, u: NewUser<'_>) -> Result<i64, StoreError> {
        let tenant = u.tenant.to_owned();
        let username = u.username.as_str().to_owned();
        let email = u.email.map(str::to_owned);
        let email_canonical = u.email.and_then(canonical_email);
        let phone = u.phone.map(str::to_owned);
        let hash = u.password_hash.to_owned();
        let two_factor = i64::from(u.two_factor_enabled);
        self.call(move |pool| async move {
            let row = sqlx::query(
                "INSERT INTO users (tenant, username, email, email_canonical, phone, password_hash, \
                 security_stamp, two_factor_enabled, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(tenant)
            .bind(username)
            .bind(email)
            .bind(email_canonical)
            .bind(phone)
            .bind(hash)
            .bind(new_stamp())
            .bind(two_factor)
            .bind(now())
            .fetch_one(&pool)
            .await?;
            row.try_get::<i64, _>("id")
        })
        .await
    }

    /// The user signing in as `login`: by user name, or by email when it holds `@`.
    pub async fn find_user(
        &self,
        tenant: &str,
        login: &LoginName,
    ) -> Result<Option<User>, StoreError> {
        let by_email = login.as_str().contains('@');
        let sql = if by_email {
            format!("SELECT {COLUMNS} FROM users WHERE tenant = $1 AND email_canonical = $2")
        } else {
            format!("SELECT {COLUMNS} FROM users WHERE tenant = $1 AND username = $2")
        };
        let (tenant, login) = (tenant.to_owned(), login.as_str().to_owned());
        self.call(move |pool| async move {
            let row = sqlx::query(&sql)
                .bind(tenant)
                .bind(login)
                .fetch_optional(&pool)
                .await?;
            row.as_ref().map(user).transpose()
        })
        .await
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.call(move |pool| async move {
            let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
            let row = sqlx::query(&sql).bind(id).fetch_optional(&pool).await?;
            row.as_ref().map(user).transpose()
        })
        .await
    }

    pub async fn list_users(&self, tenant: &str) -> Result<Vec<User>, StoreError> {
        let tenant = tenant.to_owned();
        self.call(move |pool| async move {
            let sql = format!("SELECT {COLUMNS} FROM users WHERE tenant = $1 ORDER BY username");
            let rows = sqlx::query(&sql).bind(tenant).fetch_all(&pool).await?;
            rows.iter().map(user).collect()
        })
        .await
    }

    /// Sets a new password hash and rotates the stamp, ending the user's sessions
    /// (all but `keep`, the session that changed it) and remembered browsers.
    pub async fn set_password(
        &self,
        id: i64,
        hash: &str,
        keep: Option<SessionKey>,
    ) -> Result<(), StoreError> {
        self.restamp(id, Some(hash.to_owned()), keep).await
    }

    /// Rotates the security stamp: every session of the user but `keep` ends, and
    /// every remembered browser is forgotten.
    pub async fn rotate_stamp(&self, id: i64, keep: Option<SessionKey>) -> Result<(), StoreError> {
        self.restamp(id, None, keep).await
    }

    /// A new stamp (and password hash, if given) and the end of every other
    /// session, in one transaction.
    async fn restamp(
        &self,
        id: i64,
        hash: Option<String>,
        keep: Option<SessionKey>,
    ) -> Result<(), StoreError> {
        self.call(move |pool| async move {
            let mut tx = pool.begin().await?;
            let stamp = new_stamp();
            let done = sqlx::query(
                "UPDATE users SET password_hash = COALESCE($1, password_hash), \
                 security_stamp = $2 WHERE id = $3",
            )
            .bind(hash)
            .bind(stamp.clone())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(sqlx::Error::RowNotFound);
            }
            super::sessions::end_sessions_except(&mut tx, id, keep, &stamp).await?;
            tx.commit().await
        })
        .await
    }

    /// Activates or deactivates a user; deactivation rotates the stamp and ends sessions.
    pub async fn set_active(&self, id: i64, active: bool) -> Result<(), StoreError> {
        self.call(move |pool| async move {
            let mut tx = pool.begin().await?;
            let stamp = new_stamp();
            let done =
                sqlx::query("UPDATE users SET active = $1, security_stamp = $2 WHERE id = $3")
                    .bind(i64::from(active))
                    .bind(stamp.clone())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            if done.rows_affected() == 0 {
                return Err(sqlx::Error::RowNotFound);
            }
            if !active {
                super::sessions::end_sessions_except(&mut tx, id, None, &stamp).await?;
            }
            tx.commit().await
        })
        .await
    }
}

impl Store {
    /// Sets (or clears) the email address; a new address is unconfirmed.
    pub async fn set_email(&self, id: i64, email: Option<&str>) -> Result<(), StoreError> {
        let canonical = email.and_then(canonical_email);
        let email = email.map(str::to_owned);
        self.update_one(
            "UPDATE users SET email = $1, email_canonical = $2, email_confirmed = 0 WHERE id = $3",
            move |q| q.bind(email).bind(canonical).bind(id),
        )
        .await
    }

    /// Sets (or clears) the phone number; a new number is unconfirmed.
    pub async fn set_phone(&self, id: i64, phone: Option<&str>) -> Result<(), StoreError> {
        let phone = phone.map(str::to_owned);
        self.update_one(
            "UPDATE users SET phone = $1, phone_confirmed = 0 WHERE id = $2",
            move |q| q.bind(phone).bind(id),
        )
        .await
    }

    /// Marks the email address and/or the phone number as confirmed.
    pub async fn confirm(&self, id: i64, email: bool, phone: bool) -> Result<(), StoreError> {
        self.update_one(
            "UPDATE users SET email_confirmed = CASE WHEN $1 = 1 THEN 1 ELSE email_confirmed END, \
             phone_confirmed = CASE WHEN $2 = 1 THEN 1 ELSE phone_confirmed END WHERE id = $3",
            move |q| q.bind(i64::from(email)).bind(i64::from(phone)).bind(id),
        )
        .await
    }

    /// Turns the user's own two-factor flag on or off.
    pub async fn set_two_factor(&self, id: i64, on: bool) -> Result<(), StoreError> {
        self.update_one(
            "UPDATE users SET two_factor_enabled = $1 WHERE id = $2",
            move |q| q.bind(i64::from(on)).bind(id),
        )
        .await
    }

    /// Runs an update that must change exactly one user.
    async fn update_one<F>(&self, sql: &'static str, bind: F) -> Result<(), StoreError>
    where
        F: for<'q> FnOnce(
                sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
            )
                -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>
            + Send
            + 'static,
    {
        self.call(move |pool| async move {
            let done = bind(sqlx::query(sql)).execute(&pool).await?;
            if done.rows_affected() == 0 {
                return Err(sqlx::Error::RowNotFound);
            }
            Ok(())
        })
        .await
    }
}
