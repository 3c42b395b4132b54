//! The store: users, sessions, lockout counters and the audit log, on SQLite or
//! PostgreSQL through one set of queries (sqlx's `Any` driver; `$n` placeholders
//! work on both).
//!
//! All store I/O runs on one dedicated runtime that lives as long as the process:
//! sqlx binds a pool's sockets and maintenance task to the runtime that created
//! them, and Pingora builds and drops runtimes of its own. Callers on any runtime
//! await the spawned task. Every call has a time limit, so an unreachable store
//! becomes an error, and the proxy fails closed on it.

mod audit;
mod authenticators;
mod codes;
mod links;
mod lockout;
mod sessions;
pub use sessions::Revoked;
pub(crate) mod users;

pub use audit::AuditEntry;
pub use authenticators::{RecoveryStatus, SealedCode};
pub use codes::{CodeCheck, Issue};
pub use links::Link;
pub use lockout::Charge;
pub use users::{NewUser, User};

use crate::config::DatabaseSettings;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::AnyPool;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::runtime::Runtime;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// How long one store call may take before it counts as an outage.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store failure. Request paths map every variant to a closed door (503 or an
/// error page); details go to the log only.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("migration failed: {0}")]
    Migration(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict("that name or email address is already taken".into())
            }
            _ => StoreError::Unavailable(e.to_string()),
        }
    }
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// The runtime all store I/O runs on.
fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("portcullis-store")
            .enable_all()
            .build()
            .expect("the store runtime starts (threads and a reactor are available)")
    })
}

/// Runs a background task on the store runtime, which lives as long as the process.
pub fn spawn(f: impl Future<Output = ()> + Send + 'static) {
    runtime().spawn(f);
}

/// Runs a future on the store runtime from synchronous code (start-up and CLI).
pub fn block_on<F: Future>(f: F) -> F::Output {
    runtime().block_on(f)
}

impl Store {
    /// Connects, creating an SQLite file and its directory when needed, and applies
    /// the migrations.
    pub async fn open(db: &DatabaseSettings) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, backend) = prepare_url(&db.url.0)?;
        let max = db.max_connections;
        let store = on_runtime(async move {
            let sqlite = backend == Backend::Sqlite;
            let pool = AnyPoolOptions::new()
                .max_connections(max)
                .min_connections(0)
                .acquire_timeout(Duration::from_secs(3))
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if sqlite {
                            // SQLite's page cache defaults to 2 MiB per connection; the
                            // gateway reads by key, so 256 KiB each keeps memory flat.
                            sqlx::query("PRAGMA cache_size = -256")
                                .execute(&mut *conn)
                                .await?;
                        }
                        Ok(())
                    })
                })
                .connect(&url)
                .await?;
            if backend == Backend::Sqlite {
                // WAL lets readers run beside the one writer; it persists in the file.
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&pool)
                    .await?;
            }
            Ok::<_, sqlx::Error>(Store { pool, backend })
        })
        .await??;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let pool = self.pool.clone();
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        on_runtime(async move { migrator.run(&pool).await })
            .await?
            .map_err(|e| StoreError::Migration(e.to_string()))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the store answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.call(|pool| async move { sqlx::query("SELECT 1").execute(&pool).await.map(|_| ()) })
            .await
            .is_ok()
    }

    /// Runs `f` with the pool on the store runtime, within [`CALL_TIMEOUT`].
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(AnyPool) -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>> + Send + 'static,
        T: Send + 'static,
    {
        let fut = f(self.pool.clone());
        let limited = async move {
            match tokio::time::timeout(CALL_TIMEOUT, fut).await {
                Ok(r) => r.map_err(StoreError::from),
                Err(_) => Err(StoreError::Unavailable("timed out".into())),
            }
        };
        on_runtime(limited).await?
    }
}

pub(crate) async fn on_runtime<T: Send + 'static>(
    f: impl Future<Output = T> + Send + 'static,
) -> Result<T, StoreError> {
    runtime()
        .spawn(f)
        .await
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))
}

/// Adds `mode=rwc` to SQLite URLs and creates the file's directory, so the
/// database is created on first start.
fn prepare_url(url: &str) -> Result<(String, Backend), StoreError> {
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        return Ok((url.to_owned(), Backend::Postgres));
    }
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or("");
    if path != ":memory:" && !path.is_empty() {
        if let Some(dir) = std::path::Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        // A new database file is private (it holds password hashes); SQLite gives its
        // -wal and -shm files the same mode.
        let mut create = std::fs::OpenOptions::new();
        create.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut create, 0o600);
        match create.open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot create {path}: {e}"
                )))
            }
        }
    }
    let url = if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    Ok((url, Backend::Sqlite))
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn flag(row: &AnyRow, col: &str) -> Result<bool, sqlx::Error> {
    use sqlx::Row;
    Ok(row.try_get::<i64, _>(col)? != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_gain_create_mode() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("nested/p.db");
        let (u, b) = prepare_url(&format!("sqlite://{}", db.display())).unwrap();
        assert_eq!(b, Backend::Sqlite);
        assert!(u.ends_with("?mode=rwc"));
        assert!(db.parent().unwrap().is_dir());
        assert_eq!(prepare_url("postgres://x/y").unwrap().1, Backend::Postgres);
    }
}

#[cfg(test)]
mod migration_tests {
    use std::collections::BTreeSet;

    fn names(dir: &str) -> BTreeSet<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../migrations")
            .join(dir);
        std::fs::read_dir(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .map(|e| {
                e.expect("a readable directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn every_migration_exists_for_both_stores() {
        let sqlite = names("sqlite");
        let postgres = names("postgres");
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite, postgres,
            "migrations/sqlite and migrations/postgres must hold the same files"
        );
    }
}
