//! Which store the integration suite runs against.
//!
//! `PORTCULLIS_TEST_STORE=postgres` runs every gateway of the suite on the
//! PostgreSQL server at `PORTCULLIS_TEST_POSTGRES_URL`, each in a database of its
//! own that is dropped afterwards; otherwise each gateway gets an SQLite file.
//! Tests that need PostgreSQL whatever the store call [`postgres_url`] and skip,
//! saying so, when it is unset.

use std::sync::atomic::{AtomicU32, Ordering};

/// The PostgreSQL server for tests, when one is configured.
pub fn postgres_url() -> Option<String> {
    std::env::var("PORTCULLIS_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Whether the suite runs on PostgreSQL.
pub fn suite_uses_postgres() -> bool {
    std::env::var("PORTCULLIS_TEST_STORE").is_ok_and(|s| s == "postgres")
}

/// Prints why a PostgreSQL test did not run, where `cargo test` shows it.
pub fn skip(test: &str) {
    eprintln!("SKIPPED {test}: PORTCULLIS_TEST_POSTGRES_URL is not set, so no PostgreSQL server to test against");
}

/// A database of its own on the test server, dropped when this is dropped.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates a fresh database on the server at `admin_url`.
    pub fn create(admin_url: &str) -> TestDatabase {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "portcullis_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand_suffix()
        );
        run_sql(admin_url, &format!("CREATE DATABASE {name}"));
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .unwrap_or(admin_url);
        let url = format!("{base}/{name}");
        TestDatabase {
            admin_url: admin_url.to_owned(),
            name,
            url,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        run_sql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

/// Runs one statement on its own thread and runtime, so it works from sync code
/// and from inside a `#[tokio::test]` alike.
fn run_sql(url: &str, sql: &str) {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime starts");
        rt.block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server: {e}"));
            sqlx::query(&sql)
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        })
    })
    .join()
    .expect("the database set-up thread finishes");
}
