//! The processes under test: echo upstreams and gateways, each in a temporary
//! directory of its own.

use crate::browser::Browser;
use crate::process::{portcullis, Child, CliOutput};
use crate::raw::{RawConnection, RawRequest, RawResponse};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use tempfile::TempDir;

/// A `portcullis echo` process: an upstream application that answers every request
/// with JSON describing it (see [`crate::Echo`]).
pub struct Upstream {
    name: String,
    addr: SocketAddr,
    _child: Child,
    _dir: TempDir,
}

impl Upstream {
    /// Starts an echo upstream on a free loopback port; its answers carry `name`.
    pub fn start(name: &str) -> Upstream {
        let dir = tempdir();
        let addr = SocketAddr::from(([127, 0, 0, 1], crate::free_port()));
        let listen = addr.to_string();
        let mut child = Child::spawn(
            &format!("echo upstream `{name}`"),
            &["echo", "--listen", &listen, "--name", name],
            &dir.path().join("echo.log"),
        );
        if let Err(status) = child.wait_for_port(addr) {
            panic!(
                "echo upstream `{name}` exited ({status}) before listening; its log:\n{}",
                child.log()
            );
        }
        Upstream {
            name: name.to_owned(),
            addr,
            _child: child,
            _dir: dir,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A gateway that exited instead of listening.
#[derive(Debug)]
pub struct StartFailure {
    pub status: ExitStatus,
    /// Everything it wrote (stdout and stderr).
    pub log: String,
    /// The settings file it was given, as written.
    pub config: String,
}

/// A `portcullis serve` process with its own settings file, SQLite database, secret
/// key and log, all in a temporary directory removed on drop.
pub struct Gateway {
    addr: SocketAddr,
    config_path: PathBuf,
    child: Child,
    /// Dropped after the child: the PostgreSQL database of this gateway, if any.
    database: Option<std::sync::Arc<crate::database::TestDatabase>>,
    dir: TempDir,
}

impl Gateway {
    /// Starts a gateway with `config` (TOML text, e.g. [`crate::GatewayConfig::to_toml`])
    /// and waits until it accepts connections. Panics, with the log, if it does not.
    pub fn start(config: &str) -> Gateway {
        match Gateway::try_start(config) {
            Ok(g) => g,
            Err(f) => panic!(
                "the gateway exited ({}) instead of starting; settings:\n{}\nlog:\n{}",
                f.status, f.config, f.log
            ),
        }
    }

    /// As [`Gateway::start`], but a gateway that exits is an `Err` (for tests of bad
    /// settings files).
    pub fn try_start(config: &str) -> Result<Gateway, StartFailure> {
        let database = crate::database::suite_uses_postgres().then(|| {
            let url = crate::database::postgres_url()
                .expect("PORTCULLIS_TEST_STORE=postgres needs PORTCULLIS_TEST_POSTGRES_URL");
            std::sync::Arc::new(crate::database::TestDatabase::create(&url))
        });
        Self::try_start_on(config, database)
    }

    /// Starts a gateway whose listener speaks TLS with a self-signed certificate for
    /// `host` (made with the `openssl` command); reach it with `https://host:PORT`.
    pub fn start_tls(config: &str, host: &str) -> Gateway {
        let dir = tempdir();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let status = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
            ])
            .arg(format!("/CN={host}"))
            .arg("-addext")
            .arg(format!("subjectAltName=DNS:{host}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(
            status.success(),
            "openssl could not make a test certificate"
        );
        let addr = SocketAddr::from(([127, 0, 0, 1], crate::free_port()));
        let config_path = dir.path().join("portcullis.toml");
        let text = complete_config_tls(config, dir.path(), addr, None, Some((&cert, &key)));
        std::fs::write(&config_path, text).expect("the settings file can be written");
        let path = config_path.to_str().expect("temporary paths are UTF-8");
        let mut child = Child::spawn(
            "gateway",
            &["serve", "--config", path],
            &dir.path().join("gateway.log"),
        );
        if let Err(status) = child.wait_for_port(addr) {
            panic!("the TLS gateway exited ({status}):\n{}", child.log());
        }
        Gateway {
            addr,
            config_path,
            child,
            database: None,
            dir,
        }
    }

    /// Starts a gateway on a given PostgreSQL database (shared by several gateways
    /// in the several-instance tests), or on its own SQLite file with `None`.
    pub fn try_start_on(
        config: &str,
        database: Option<std::sync::Arc<crate::database::TestDatabase>>,
    ) -> Result<Gateway, StartFailure> {
        let dir = tempdir();
        let addr = SocketAddr::from(([127, 0, 0, 1], crate::free_port()));
        let config_path = dir.path().join("portcullis.toml");
        let db_url = database.as_ref().map(|d| d.url().to_owned());
        std::fs::write(
            &config_path,
            complete_config(config, dir.path(), addr, db_url.as_deref()),
        )
        .expect("the settings file can be written");
        let path = config_path.to_str().expect("temporary paths are UTF-8");
        let mut child = Child::spawn(
            "gateway",
            &["serve", "--config", path],
            &dir.path().join("gateway.log"),
        );
        match child.wait_for_port(addr) {
            Ok(()) => Ok(Gateway {
                addr,
                config_path,
                child,
                database,
                dir,
            }),
            Err(status) => Err(StartFailure {
                status,
                log: child.log(),
                config: std::fs::read_to_string(&config_path).unwrap_or_default(),
            }),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Sends a Unix signal (`TERM`, `HUP`, `INT`) to the gateway process.
    pub fn signal(&self, name: &str) {
        self.child.signal(name);
    }

    /// Waits up to `limit` for the gateway to exit; its status, if it did.
    pub fn wait_exit(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        self.child.wait_exit(limit)
    }

    /// Stops the process and starts it again with the same settings, database and
    /// key, on the same address (a restart as an operator does one).
    pub fn restart(&mut self) {
        self.child.signal("KILL");
        let _ = self.child.wait_exit(std::time::Duration::from_secs(5));
        let path = self
            .config_path
            .to_str()
            .expect("temporary paths are UTF-8")
            .to_owned();
        let log = self.dir.path().join("gateway-restarted.log");
        self.child = Child::spawn("gateway (restarted)", &["serve", "--config", &path], &log);
        if let Err(status) = self.child.wait_for_port(self.addr) {
            panic!(
                "the restarted gateway exited ({status}):\n{}",
                self.child.log()
            );
        }
    }

    /// Replaces the settings file (as TOML text completed like [`Gateway::start`]'s),
    /// without telling the process; send `HUP` to reload it.
    pub fn rewrite_config(&self, config: &str) {
        let db_url = self.database.as_ref().map(|d| d.url().to_owned());
        let text = complete_config(config, self.dir.path(), self.addr, db_url.as_deref());
        // Keep the database the gateway was started with.
        let current = std::fs::read_to_string(&self.config_path).unwrap_or_default();
        let current: toml::Table = current.parse().unwrap_or_default();
        let mut next: toml::Table = text.parse().expect("completed settings are TOML");
        if let Some(db) = current.get("database") {
            next.insert("database".to_owned(), db.clone());
        }
        if let Some(key) = current.get("secret_key_file") {
            next.insert("secret_key_file".to_owned(), key.clone());
        }
        std::fs::write(
            &self.config_path,
            toml::to_string(&next).expect("TOML serialises"),
        )
        .expect("the settings file can be written");
    }

    /// Replaces the settings file with raw text, valid or not.
    pub fn write_config_text(&self, text: &str) {
        std::fs::write(&self.config_path, text).expect("the settings file can be written");
    }

    /// The PostgreSQL database this gateway runs on, to start another instance on it.
    pub fn database(&self) -> Option<std::sync::Arc<crate::database::TestDatabase>> {
        self.database.clone()
    }

    /// The temporary directory holding the settings file, database and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The file the running gateway process writes its log to (for tools outside
    /// the test, such as the browser walk, that read codes from it).
    pub fn log_path(&self) -> &Path {
        self.child.log_path()
    }

    /// Everything the gateway has logged so far.
    pub fn log(&self) -> String {
        self.child.log()
    }

    /// Waits up to five seconds for the log to satisfy `ready` and returns it; the
    /// access line of a request is written after its response is sent. Returns the
    /// log as it is by then either way.
    pub async fn log_when(&self, ready: impl Fn(&str) -> bool) -> String {
        let started = std::time::Instant::now();
        loop {
            let log = self.log();
            if ready(&log) || started.elapsed() > std::time::Duration::from_secs(5) {
                return log;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Whether the gateway process is still running (it has not crashed).
    pub fn is_running(&mut self) -> bool {
        self.child.is_running()
    }

    /// `http://HOST:PORT/PATH` on this gateway; any host name resolves to it.
    pub fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.port())
    }

    /// A new browser, with an empty cookie jar, pointed at this gateway.
    pub fn browser(&self) -> Browser {
        Browser::new(self.port())
    }

    /// Sends a request byte for byte and reads the whole answer.
    pub async fn raw(&self, request: &RawRequest) -> RawResponse {
        crate::raw::send(self.addr, &request.to_bytes()).await
    }

    /// Opens a connection for several [`RawRequest::keep_alive`] requests in turn.
    pub async fn connect(&self) -> RawConnection {
        RawConnection::open(self.addr).await
    }

    /// Runs `portcullis ARGS --config FILE` against this gateway's settings file.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        let path = self
            .config_path
            .to_str()
            .expect("temporary paths are UTF-8");
        let mut all = args.to_vec();
        all.extend(["--config", path]);
        portcullis(&all, stdin)
    }

    /// Adds a user with `portcullis user add … --password-stdin`; returns its id.
    pub fn add_user(
        &self,
        tenant: &str,
        username: &str,
        email: Option<&str>,
        password: &str,
    ) -> i64 {
        self.add_user_with_phone(tenant, username, email, None, password)
    }

    /// Adds a user as [`Gateway::add_user`] does, with a phone number when given;
    /// returns its id. Its addresses are not confirmed.
    pub fn add_user_with_phone(
        &self,
        tenant: &str,
        username: &str,
        email: Option<&str>,
        phone: Option<&str>,
        password: &str,
    ) -> i64 {
        let mut args = vec![
            "user",
            "add",
            "--tenant",
            tenant,
            "--username",
            username,
            "--password-stdin",
        ];
        if let Some(e) = email {
            args.extend(["--email", e]);
        }
        if let Some(p) = phone {
            args.extend(["--phone", p]);
        }
        let out = self.cli(&args, Some(&format!("{password}\n")));
        out.assert_success();
        // "added user alice (id 1) to tenant acme"
        out.stdout
            .split("(id ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("no user id in {:?}", out.stdout))
    }

    /// Marks a user's email address (with `email`) and phone number (with `phone`)
    /// confirmed, with `portcullis user confirm`; does nothing when both are false.
    pub fn confirm_addresses(&self, tenant: &str, username: &str, email: bool, phone: bool) {
        let flags = [(email, "--email"), (phone, "--phone")];
        let flags: Vec<&str> = flags
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| *f)
            .collect();
        if !flags.is_empty() {
            self.user_command("confirm", tenant, username, &flags);
        }
    }

    /// Runs `portcullis user COMMAND --tenant TENANT --username USERNAME EXTRA…` and
    /// asserts that it succeeded.
    pub fn user_command(&self, command: &str, tenant: &str, username: &str, extra: &[&str]) {
        let mut args = vec!["user", command, "--tenant", tenant, "--username", username];
        args.extend_from_slice(extra);
        self.cli(&args, None).assert_success();
    }

    /// The sign-in attempts recorded for `login` on `tenant`, newest first, from
    /// `portcullis audit`.
    pub fn audit(&self, tenant: &str, login: &str) -> Vec<AuditRow> {
        let out = self.cli(
            &[
                "audit", "--tenant", tenant, "--user", login, "--limit", "1000",
            ],
            None,
        );
        out.assert_success();
        // Columns: date, time, tenant, login, result, client; a header line first.
        out.stdout
            .lines()
            .skip(1)
            .filter_map(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                (cols.len() >= 5).then(|| AuditRow {
                    tenant: cols[2].to_owned(),
                    login: cols[3].to_owned(),
                    result: cols[4].to_owned(),
                })
            })
            .collect()
    }
}

/// One line of `portcullis audit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub tenant: String,
    pub login: String,
    /// `success`, `invalid_credentials`, `locked_out`, …
    pub result: String,
}

/// The test's settings with what every test gateway needs: its listener, a database
/// and a secret key in `dir`, and two worker threads. Values the test set are kept.
fn complete_config(body: &str, dir: &Path, addr: SocketAddr, db_url: Option<&str>) -> String {
    complete_config_tls(body, dir, addr, db_url, None)
}

fn complete_config_tls(
    body: &str,
    dir: &Path,
    addr: SocketAddr,
    db_url: Option<&str>,
    tls: Option<(&Path, &Path)>,
) -> String {
    let mut file: toml::Table = body
        .parse()
        .unwrap_or_else(|e| panic!("the test's settings are not TOML: {e}\n{body}"));
    assert!(
        !file.contains_key("listeners"),
        "the harness chooses the listener; leave [[listeners]] out"
    );
    let mut listener = toml::Table::from_iter([("address".to_owned(), addr.to_string().into())]);
    if let Some((cert, key)) = tls {
        listener.insert("tls_cert".to_owned(), cert.display().to_string().into());
        listener.insert("tls_key".to_owned(), key.display().to_string().into());
    }
    file.insert(
        "listeners".to_owned(),
        toml::Value::Array(vec![listener.into()]),
    );
    file.entry("secret_key_file")
        .or_insert_with(|| dir.join("secret.key").display().to_string().into());
    table(&mut file, "database")
        .entry("url")
        .or_insert_with(|| match db_url {
            Some(url) => url.into(),
            None => format!("sqlite://{}/portcullis.db", dir.display()).into(),
        });
    table(&mut file, "server")
        .entry("threads")
        .or_insert(toml::Value::Integer(2));
    toml::to_string(&file).expect("a TOML table serialises")
}

fn table<'a>(file: &'a mut toml::Table, key: &str) -> &'a mut toml::Table {
    file.entry(key)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .unwrap_or_else(|| panic!("`{key}` in the test's settings is not a table"))
}

fn tempdir() -> TempDir {
    tempfile::Builder::new()
        .prefix("portcullis-test-")
        .tempdir()
        .expect("a temporary directory can be created")
}
