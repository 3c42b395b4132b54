//! Direct access to a test gateway's store (its SQLite file, or its PostgreSQL
//! database when the suite runs on PostgreSQL), for what no page shows: whether a
//! secret row exists, and what an attacker with write access to the database
//! could do, such as copying one user's sealed secret to another.
//!
//! Only the authenticator tables are read and written here; [`crate::links`] reads
//! the `link_tokens` table over a connection opened the same way.

use crate::Gateway;
use sqlx::{Connection, Row};

/// A connection to the store `gateway` runs on.
pub(crate) async fn connect(gateway: &Gateway) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    let url = match gateway.database() {
        Some(db) => db.url().to_owned(),
        None => format!("sqlite://{}/portcullis.db", gateway.dir().display()),
    };
    sqlx::AnyConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot open the gateway's store at {url}: {e}"))
}

/// One `authenticators` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorRow {
    pub secret_sealed: String,
    pub last_step: i64,
}

/// One `recovery_codes` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRow {
    pub code_mac: String,
    pub code_sealed: String,
    pub used_at: Option<i64>,
}

/// A connection to a gateway's store.
pub struct StoreAccess {
    conn: sqlx::AnyConnection,
}

impl StoreAccess {
    /// Connects to the store `gateway` runs on.
    pub async fn open(gateway: &Gateway) -> StoreAccess {
        StoreAccess {
            conn: connect(gateway).await,
        }
    }

    /// The user's authenticator, if one is saved.
    pub async fn authenticator(&mut self, user_id: i64) -> Option<AuthenticatorRow> {
        let row =
            sqlx::query("SELECT secret_sealed, last_step FROM authenticators WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&mut self.conn)
                .await
                .expect("the authenticators table can be read")?;
        Some(AuthenticatorRow {
            secret_sealed: row.get("secret_sealed"),
            last_step: row.get("last_step"),
        })
    }

    /// How many authenticators are saved, for every user.
    pub async fn authenticator_count(&mut self) -> i64 {
        sqlx::query("SELECT COUNT(*) AS n FROM authenticators")
            .fetch_one(&mut self.conn)
            .await
            .expect("the authenticators table can be read")
            .get("n")
    }

    /// The user's recovery codes, in the order they were stored.
    pub async fn recovery_codes(&mut self, user_id: i64) -> Vec<RecoveryRow> {
        sqlx::query(
            "SELECT code_mac, code_sealed, used_at FROM recovery_codes \
             WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(&mut self.conn)
        .await
        .expect("the recovery_codes table can be read")
        .iter()
        .map(|r| RecoveryRow {
            code_mac: r.get("code_mac"),
            code_sealed: r.get("code_sealed"),
            used_at: r.get("used_at"),
        })
        .collect()
    }

    /// Sets the newest step the user's authenticator has accepted, e.g. to make
    /// every step near now unused, as for an app set up long ago.
    pub async fn set_last_step(&mut self, user_id: i64, step: i64) {
        let done = sqlx::query("UPDATE authenticators SET last_step = $1 WHERE user_id = $2")
            .bind(step)
            .bind(user_id)
            .execute(&mut self.conn)
            .await
            .expect("the authenticators table can be written");
        assert_eq!(
            done.rows_affected(),
            1,
            "user {user_id} has no authenticator"
        );
    }

    /// Gives user `to` a copy of `from`'s sealed secret, in place of its own, with
    /// no step used yet.
    pub async fn copy_authenticator(&mut self, from: i64, to: i64) {
        let row = self
            .authenticator(from)
            .await
            .unwrap_or_else(|| panic!("user {from} has no authenticator to copy"));
        let mut tx = self.conn.begin().await.expect("a transaction starts");
        sqlx::query("DELETE FROM authenticators WHERE user_id = $1")
            .bind(to)
            .execute(&mut *tx)
            .await
            .expect("the authenticators table can be written");
        sqlx::query(
            "INSERT INTO authenticators (user_id, secret_sealed, last_step, created_at) \
             VALUES ($1, $2, 0, 0)",
        )
        .bind(to)
        .bind(row.secret_sealed)
        .execute(&mut *tx)
        .await
        .expect("the authenticators table can be written");
        tx.commit().await.expect("the copy commits");
    }

    /// Gives user `to` copies of `from`'s recovery-code rows, in place of its own.
    pub async fn copy_recovery_codes(&mut self, from: i64, to: i64) {
        let rows = self.recovery_codes(from).await;
        assert!(
            !rows.is_empty(),
            "user {from} has no recovery codes to copy"
        );
        let mut tx = self.conn.begin().await.expect("a transaction starts");
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(to)
            .execute(&mut *tx)
            .await
            .expect("the recovery_codes table can be written");
        for r in rows {
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, code_mac, code_sealed) VALUES ($1, $2, $3)",
            )
            .bind(to)
            .bind(r.code_mac)
            .bind(r.code_sealed)
            .execute(&mut *tx)
            .await
            .expect("the recovery_codes table can be written");
        }
        tx.commit().await.expect("the copy commits");
    }
}
