//! The settings file: loading, environment overrides and validation.
//!
//! [`file`] mirrors the TOML; [`Config::load`] turns it into the validated [`Config`]
//! that the rest of the gateway reads. Every error names the file, the key and what
//! is wrong, and never echoes a secret value.

pub mod file;

use crate::policy::settings::{self, Layer, WhenNoProvider, HOST_ONLY_KEYS};
use crate::tenancy::{Route, RoutePolicy, Tenant, TenantName, Tenants, Upstream, HOST_TENANT};
use file::{FileConfig, RouteSection, SettingsSection};
use http::HeaderName;
use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Prefix of environment variables that override file values:
/// `PORTCULLIS_DATABASE__URL` sets `database.url`, `PORTCULLIS_TENANTS__0__DISPLAY_NAME`
/// sets `tenants[0].display_name`. `__` separates keys.
pub const ENV_PREFIX: &str = "PORTCULLIS_";

/// A config error: which file, which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub key: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.reason)
        }
    }
}

impl std::error::Error for ConfigError {}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Pingora server tuning.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub threads: usize,
    pub work_stealing: bool,
    pub upstream_keepalive_pool_size: usize,
    pub grace_period: Duration,
    pub templates_dir: Option<PathBuf>,
    pub log_format: LogFormat,
    pub max_concurrent_hashes: usize,
}

/// A listening socket, with TLS when a certificate and key are given.
#[derive(Debug, Clone)]
pub struct Listener {
    pub address: SocketAddr,
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The store's URL; its `Debug` hides credentials.
#[derive(Clone)]
pub struct DatabaseUrl(pub String);

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.0.split(':').next().unwrap_or("");
        write!(f, "DatabaseUrl({scheme}:…)")
    }
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    pub max_connections: u32,
}

/// Session lifetimes, host-wide.
#[derive(Debug, Clone, Copy)]
pub struct SessionLifetimes {
    pub idle: Duration,
    pub absolute: Duration,
}

/// Names of the identity headers set on forwarded requests.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    pub user: HeaderName,
    pub user_id: HeaderName,
    pub email: HeaderName,
    pub tenant: HeaderName,
    pub methods: HeaderName,
}

impl IdentityHeaders {
    pub fn all(&self) -> [&HeaderName; 5] {
        [
            &self.user,
            &self.user_id,
            &self.email,
            &self.tenant,
            &self.methods,
        ]
    }

    /// Each name in the form incoming headers are compared in: lower case with `_`
    /// read as `-`, since CGI, PHP and WSGI upstreams merge the two.
    pub fn spoofable_forms(&self) -> Vec<String> {
        self.all()
            .iter()
            .map(|h| header_compare_form(h.as_str()))
            .collect()
    }
}

/// Whether two header names are the same once case is ignored and `_` is read as
/// `-`; compares in place, since it runs for every header of every request.
pub fn same_header(a: &str, b: &str) -> bool {
    let fold = |c: u8| {
        if c == b'_' {
            b'-'
        } else {
            c.to_ascii_lowercase()
        }
    };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| fold(x) == fold(y))
}

/// The form in which header names are compared for spoofing.
pub fn header_compare_form(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b == b'_' {
                '-'
            } else {
                b.to_ascii_lowercase() as char
            }
        })
        .collect()
}

/// How the email provider delivers codes.
#[derive(Clone)]
pub enum EmailDelivery {
    /// Write messages to the log: the development mode.
    Log,
    Smtp(SmtpSettings),
}

#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    Plain,
    StartTls,
    Tls,
}

#[derive(Clone)]
pub struct EmailSettings {
    pub from: String,
    pub delivery: EmailDelivery,
}

/// How the SMS provider delivers codes.
#[derive(Clone)]
pub enum SmsDelivery {
    Log,
    Twilio {
        account_sid: String,
        auth_token: String,
        sender: String,
        api_base: String,
    },
    Webhook {
        url: String,
        secret: Option<String>,
    },
}

#[derive(Clone)]
pub struct SmsSettings {
    pub delivery: SmsDelivery,
    pub timeout: Duration,
}

/// The validated configuration.
pub struct Config {
    /// The file it came from, for messages and reloads.
    pub source: PathBuf,
    pub server: ServerSettings,
    pub listeners: Vec<Listener>,
    pub database: DatabaseSettings,
    /// Where Prometheus metrics are served, if anywhere.
    pub metrics_address: Option<SocketAddr>,
    pub secret_key_file: PathBuf,
    pub session: SessionLifetimes,
    pub identity_headers: IdentityHeaders,
    pub trusted_proxies: Vec<IpNet>,
    pub email: EmailSettings,
    pub sms: SmsSettings,
    /// The host's settings as written, for `config show`.
    pub host_layer: Layer,
    pub tenants: Tenants,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Deliberately short: a config is never logged whole.
        write!(f, "Config({})", self.source.display())
    }
}

impl Config {
    /// Reads, overrides from the environment, and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        Self::load_with_env(path, &env)
    }

    /// As [`Config::load`] with explicit environment overrides (tests use this).
    pub fn load_with_env(path: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(&file, "", format!("cannot read the file: {e}")))?;
        Self::parse(&text, path, env)
    }

    /// Parses and validates TOML text that came from `path`.
    pub fn parse(text: &str, path: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let mut value: toml::Value = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_owned();
            let place = e
                .span()
                .map(|s| line_of(text, s.start))
                .map(|l| format!(" (line {l})"));
            err(
                &file,
                "",
                format!("not valid TOML{}: {msg}", place.unwrap_or_default()),
            )
        })?;
        for (name, raw) in env {
            apply_env_override(&mut value, name, raw).map_err(|reason| err(&file, name, reason))?;
        }
        let parsed: Result<FileConfig, ConfigError> = serde_path_to_error::deserialize(value)
            .map_err(|e| {
                let key = e.path().to_string();
                err(
                    &file,
                    if key == "." { "" } else { &key },
                    e.into_inner().to_string(),
                )
            });
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let result = parsed.and_then(|parsed| Validator { file, base }.config(parsed, path));
        result.map_err(|e| blame_environment(e, env))
    }
}

fn err(file: &str, key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        file: file.to_owned(),
        key: key.to_owned(),
        reason: reason.into(),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// A bad value that came from an environment override says so, so nobody looks
/// for it in the file.
fn blame_environment(mut e: ConfigError, env: &[(String, String)]) -> ConfigError {
    let culprit = env.iter().map(|(name, _)| name).find(|name| {
        env_key_path(name)
            .is_some_and(|path| e.key == path || e.key.starts_with(&format!("{path}.")))
    });
    if let Some(name) = culprit {
        e.reason = format!(
            "{} (the value comes from the environment variable {name})",
            e.reason
        );
    }
    e
}

/// `PORTCULLIS_TENANTS__0__DISPLAY_NAME` as the key path errors use:
/// `tenants[0].display_name`.
fn env_key_path(name: &str) -> Option<String> {
    let rest = name.strip_prefix(ENV_PREFIX)?;
    let mut path = String::new();
    for part in rest.split("__") {
        let part = part.to_ascii_lowercase();
        if part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() {
            path.push_str(&format!("[{part}]"));
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&part);
        }
    }
    Some(path)
}

/// Variables that configure the CLI or the tests rather than the file.
const ENV_NOT_OVERRIDES: &[&str] = &["PORTCULLIS_CONFIG", "PORTCULLIS_LOG"];

/// Sets the key named by one `PORTCULLIS_A__B__0__C` variable in the parsed file.
fn apply_env_override(root: &mut toml::Value, name: &str, raw: &str) -> Result<(), String> {
    if ENV_NOT_OVERRIDES.contains(&name) || name.starts_with("PORTCULLIS_TEST") {
        return Ok(());
    }
    let Some(path) = name.strip_prefix(ENV_PREFIX) else {
        return Ok(());
    };
    let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
    if keys.iter().any(String::is_empty) {
        return Err("an override names keys separated by __, none of them empty".into());
    }
    // A value that reads as a TOML scalar keeps its type; anything else is a string.
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    let mut node = root;
    for (i, key) in keys.iter().enumerate() {
        let last = i + 1 == keys.len();
        node = match node {
            toml::Value::Table(t) => {
                if last {
                    t.insert(key.clone(), value);
                    return Ok(());
                }
                t.entry(key.clone())
                    .or_insert_with(|| toml::Value::Table(Default::default()))
            }
            toml::Value::Array(a) => {
                let idx: usize = key
                    .parse()
                    .map_err(|_| format!("`{key}` is not an index"))?;
                let len = a.len();
                let slot = a
                    .get_mut(idx)
                    .ok_or_else(|| format!("index {idx} is past the {len} entries in the file"))?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
            _ => return Err(format!("`{key}` is inside a value that is not a table")),
        };
    }
    Ok(())
}

struct Validator {
    file: String,
    /// The directory of the config file; relative paths in it are read from here.
    base: PathBuf,
}

impl Validator {
    fn err(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        err(&self.file, key, reason)
    }

    fn config(&self, f: FileConfig, path: &Path) -> Result<Config, ConfigError> {
        let server = self.server(&f.server)?;
        let listeners = self.listeners(&f.listeners)?;
        let database = self.database(&f.database)?;
        let metrics_address = match &f.metrics.address {
            None => None,
            Some(a) => Some(a.parse::<SocketAddr>().map_err(|_| {
                self.err(
                    "metrics.address",
                    "expected an IP address and port, e.g. 127.0.0.1:9100",
                )
            })?),
        };
        let secret_key_file =
            PathBuf::from(f.secret_key_file.as_deref().unwrap_or("data/secret.key"));
        let session = SessionLifetimes {
            idle: self.duration("session.idle_timeout", &f.session.idle_timeout, "30m")?,
            absolute: self.duration(
                "session.absolute_timeout",
                &f.session.absolute_timeout,
                "12h",
            )?,
        };
        if session.idle.is_zero() || session.absolute < session.idle {
            return Err(self.err(
                "session.absolute_timeout",
                "must be at least session.idle_timeout, and both above zero",
            ));
        }
        let identity_headers = self.identity_headers(&f.identity_headers)?;
        let trusted_proxies = f
            .trusted_proxies
            .iter()
            .enumerate()
            .map(|(i, p)| self.ip_net(&format!("trusted_proxies[{i}]"), p))
            .collect::<Result<Vec<_>, _>>()?;
        let email = self.email(&f.email)?;
        let sms = self.sms(&f.sms)?;
        let host_layer = self.layer("host.settings", &f.host.settings, false)?;
        let tenants = self.tenants(&f)?;
        Ok(Config {
            host_layer,
            source: path.to_path_buf(),
            server,
            listeners,
            database,
            metrics_address,
            secret_key_file,
            session,
            identity_headers,
            trusted_proxies,
            email,
            sms,
            tenants,
        })
    }

    fn server(&self, s: &file::ServerSection) -> Result<ServerSettings, ConfigError> {
        let threads = s.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        });
        if threads == 0 || threads > 1024 {
            return Err(self.err("server.threads", "must be between 1 and 1024"));
        }
        let log_format = match s.log_format.as_deref().unwrap_or("human") {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            other => {
                return Err(self.err(
                    "server.log_format",
                    format!("`{other}` is not one of `human`, `json`"),
                ))
            }
        };
        let hashes = s.max_concurrent_hashes.unwrap_or(threads.max(2) / 2);
        if hashes == 0 {
            return Err(self.err("server.max_concurrent_hashes", "must be at least 1"));
        }
        Ok(ServerSettings {
            threads,
            work_stealing: s.work_stealing.unwrap_or(true),
            upstream_keepalive_pool_size: s.upstream_keepalive_pool_size.unwrap_or(128),
            grace_period: self.duration("server.grace_period", &s.grace_period, "10s")?,
            templates_dir: s.templates_dir.as_ref().map(|d| self.base.join(d)),
            log_format,
            max_concurrent_hashes: hashes,
        })
    }

    fn listeners(&self, ls: &[file::ListenerSection]) -> Result<Vec<Listener>, ConfigError> {
        if ls.is_empty() {
            return Ok(vec![Listener {
                address: SocketAddr::from(([127, 0, 0, 1], 8080)),
                tls: None,
            }]);
        }
        ls.iter()
            .enumerate()
            .map(|(i, l)| {
                let key = format!("listeners[{i}]");
                let address = l.address.parse::<SocketAddr>().map_err(|_| {
                    self.err(
                        &format!("{key}.address"),
                        "expected an IP address and port, e.g. 0.0.0.0:8443",
                    )
                })?;
                let tls = match (&l.tls_cert, &l.tls_key) {
                    (None, None) => None,
                    (Some(c), Some(k)) => {
                        let (cert, key_file) = (self.base.join(c), self.base.join(k));
                        for (k, p) in [("tls_cert", &cert), ("tls_key", &key_file)] {
                            if !p.is_file() {
                                return Err(self.err(
                                    &format!("{key}.{k}"),
                                    format!("{} is not a readable file", p.display()),
                                ));
                            }
                        }
                        Some(TlsFiles {
                            cert,
                            key: key_file,
                        })
                    }
                    _ => {
                        return Err(self.err(&key, "TLS needs both tls_cert and tls_key"));
                    }
                };
                Ok(Listener { address, tls })
            })
            .collect()
    }

    fn database(&self, d: &file::DatabaseSection) -> Result<DatabaseSettings, ConfigError> {
        let url = match (&d.url, &d.url_file) {
            (Some(_), Some(_)) => {
                return Err(self.err(
                    "database.url_file",
                    "give either database.url or database.url_file",
                ))
            }
            (_, Some(f)) => self.secret_file("database.url_file", f)?,
            (Some(u), None) => u.clone(),
            (None, None) => "sqlite://data/portcullis.db".to_owned(),
        };
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            return Err(self.err("database.url", "must start with sqlite: or postgres:"));
        }
        Ok(DatabaseSettings {
            url: DatabaseUrl(url),
            max_connections: d.max_connections.unwrap_or(8),
        })
    }

    fn identity_headers(
        &self,
        h: &file::IdentityHeadersSection,
    ) -> Result<IdentityHeaders, ConfigError> {
        let name = |key: &str, v: &Option<String>, d: &str| {
            let s = v.as_deref().unwrap_or(d);
            HeaderName::from_bytes(s.as_bytes()).map_err(|_| {
                self.err(
                    &format!("identity_headers.{key}"),
                    format!("`{s}` is not a header name"),
                )
            })
        };
        let headers = IdentityHeaders {
            user: name("user", &h.user, "X-Auth-User")?,
            user_id: name("user_id", &h.user_id, "X-Auth-User-Id")?,
            email: name("email", &h.email, "X-Auth-Email")?,
            tenant: name("tenant", &h.tenant, "X-Auth-Tenant")?,
            methods: name("methods", &h.methods, "X-Auth-Methods")?,
        };
        let mut forms = headers.spoofable_forms();
        forms.sort();
        forms.dedup();
        if forms.len() != 5 {
            return Err(self.err(
                "identity_headers",
                "two identity headers have the same name",
            ));
        }
        const RESERVED: &[&str] = &[
            "host",
            "cookie",
            "set-cookie",
            "content-length",
            "content-type",
            "transfer-encoding",
            "connection",
            "keep-alive",
            "upgrade",
            "te",
            "trailer",
            "expect",
            "authorization",
            "proxy-authorization",
            "forwarded",
            "x-real-ip",
        ];
        if let Some(r) = forms
            .iter()
            .find(|f| RESERVED.contains(&f.as_str()) || f.starts_with("x-forwarded-"))
        {
            return Err(self.err(
                "identity_headers",
                format!("`{r}` cannot be an identity header"),
            ));
        }
        Ok(headers)
    }

    fn ip_net(&self, key: &str, s: &str) -> Result<IpNet, ConfigError> {
        if let Ok(n) = s.parse::<IpNet>() {
            return Ok(n);
        }
        s.parse::<IpAddr>()
            .map(IpNet::from)
            .map_err(|_| self.err(key, format!("`{s}` is not an IP address or CIDR range")))
    }

    fn email(&self, e: &file::EmailSection) -> Result<EmailSettings, ConfigError> {
        let from = e
            .from
            .clone()
            .unwrap_or_else(|| "Portcullis <no-reply@localhost>".to_owned());
        if !from.contains('@') {
            return Err(self.err("email.from", "must be an email address"));
        }
        let delivery = match e.mode.as_deref().unwrap_or("log") {
            "log" => EmailDelivery::Log,
            "smtp" => {
                let host = e.smtp_host.clone().ok_or_else(|| {
                    self.err("email.smtp_host", "required when email.mode is smtp")
                })?;
                let security = match e.smtp_security.as_deref().unwrap_or("starttls") {
                    "plain" | "none" => SmtpSecurity::Plain,
                    "starttls" => SmtpSecurity::StartTls,
                    "tls" => SmtpSecurity::Tls,
                    other => {
                        return Err(self.err(
                            "email.smtp_security",
                            format!("`{other}` is not one of `plain`, `starttls`, `tls`"),
                        ))
                    }
                };
                let default_port = match security {
                    SmtpSecurity::Plain => 25,
                    SmtpSecurity::StartTls => 587,
                    SmtpSecurity::Tls => 465,
                };
                let password = self.secret_or_file(
                    "email.smtp_password",
                    &e.smtp_password,
                    "email.smtp_password_file",
                    &e.smtp_password_file,
                )?;
                EmailDelivery::Smtp(SmtpSettings {
                    host,
                    port: e.smtp_port.unwrap_or(default_port),
                    security,
                    username: e.smtp_username.clone(),
                    password,
                    timeout: self.duration("email.timeout", &e.timeout, "10s")?,
                })
            }
            other => {
                return Err(self.err(
                    "email.mode",
                    format!("`{other}` is not one of `log`, `smtp`"),
                ))
            }
        };
        Ok(EmailSettings { from, delivery })
    }

    fn sms(&self, s: &file::SmsSection) -> Result<SmsSettings, ConfigError> {
        let timeout = self.duration("sms.timeout", &s.timeout, "10s")?;
        let delivery = match s.provider.as_deref().unwrap_or("log") {
            "log" => SmsDelivery::Log,
            "twilio" => {
                let required = |key: &str, v: &Option<String>| {
                    v.clone()
                        .ok_or_else(|| self.err(key, "required when sms.provider is twilio"))
                };
                let auth_token = self
                    .secret_or_file(
                        "sms.twilio_auth_token",
                        &s.twilio_auth_token,
                        "sms.twilio_auth_token_file",
                        &s.twilio_auth_token_file,
                    )?
                    .ok_or_else(|| {
                        self.err(
                            "sms.twilio_auth_token",
                            "required when sms.provider is twilio",
                        )
                    })?;
                let api_base = s
                    .twilio_api_base
                    .clone()
                    .unwrap_or_else(|| "https://api.twilio.com".into());
                self.http_url("sms.twilio_api_base", &api_base)?;
                SmsDelivery::Twilio {
                    account_sid: required("sms.twilio_account_sid", &s.twilio_account_sid)?,
                    auth_token,
                    sender: required("sms.twilio_sender_number", &s.twilio_sender_number)?,
                    api_base: api_base.trim_end_matches('/').to_owned(),
                }
            }
            "webhook" => {
                let url = s.webhook_url.clone().ok_or_else(|| {
                    self.err("sms.webhook_url", "required when sms.provider is webhook")
                })?;
                self.http_url("sms.webhook_url", &url)?;
                let secret = self.secret_or_file(
                    "sms.webhook_secret",
                    &s.webhook_secret,
                    "sms.webhook_secret_file",
                    &s.webhook_secret_file,
                )?;
                SmsDelivery::Webhook { url, secret }
            }
            other => {
                return Err(self.err(
                    "sms.provider",
                    format!("`{other}` is not one of `log`, `twilio`, `webhook`"),
                ))
            }
        };
        Ok(SmsSettings { delivery, timeout })
    }

    fn http_url(&self, key: &str, url: &str) -> Result<(), ConfigError> {
        if url.starts_with("http://") || url.starts_with("https://") {
            Ok(())
        } else {
            Err(self.err(key, "must be an http:// or https:// URL"))
        }
    }

    fn secret_file(&self, key: &str, f: &str) -> Result<String, ConfigError> {
        let p = self.base.join(f);
        std::fs::read_to_string(&p)
            .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
            .map_err(|e| self.err(key, format!("cannot read {}: {e}", p.display())))
    }

    fn secret_or_file(
        &self,
        key: &str,
        value: &Option<String>,
        file_key: &str,
        file: &Option<String>,
    ) -> Result<Option<String>, ConfigError> {
        match (value, file) {
            (Some(_), Some(_)) => {
                Err(self.err(file_key, format!("give either {key} or {file_key}")))
            }
            (Some(v), None) => Ok(Some(v.clone())),
            (None, Some(f)) => self.secret_file(file_key, f).map(Some),
            (None, None) => Ok(None),
        }
    }

    fn duration(
        &self,
        key: &str,
        v: &Option<String>,
        default: &str,
    ) -> Result<Duration, ConfigError> {
        let s = v.as_deref().unwrap_or(default);
        let d = humantime::parse_duration(s).map_err(|e| {
            self.err(
                key,
                format!("`{s}` is not a duration such as 30s, 5m or 14days ({e})"),
            )
        })?;
        // Zero would switch a protection off in disguise (a lock that ends at once),
        // and huge values overflow the store's seconds: both are refused.
        const TEN_YEARS: Duration = Duration::from_secs(10 * 365 * 86_400);
        if d > TEN_YEARS {
            return Err(self.err(key, format!("`{s}` is longer than ten years")));
        }
        if d.is_zero() && !key.ends_with("grace_period") {
            return Err(self.err(key, "must be longer than zero"));
        }
        Ok(d)
    }

    fn layer(&self, key: &str, s: &SettingsSection, is_tenant: bool) -> Result<Layer, ConfigError> {
        if is_tenant {
            let set = [
                s.two_factor.email.is_some(),
                s.two_factor.sms.is_some(),
                s.code.length.is_some(),
                s.code.lifetime.is_some(),
                s.code.max_attempts.is_some(),
                s.code.resend_after.is_some(),
            ];
            if let Some(i) = set.iter().position(|&b| b) {
                return Err(self.err(
                    &format!("{key}.{}", HOST_ONLY_KEYS[i]),
                    "only the host may set this; move it to [host.settings]",
                ));
            }
        }
        let opt_dur = |k: &str, v: &Option<String>| -> Result<Option<Duration>, ConfigError> {
            v.as_ref()
                .map(|s| self.duration(&format!("{key}.{k}"), &Some(s.clone()), "0s"))
                .transpose()
        };
        let when_no_provider = match &s.two_factor.when_no_provider {
            None => None,
            Some(v) => Some(WhenNoProvider::parse(v).ok_or_else(|| {
                self.err(
                    &format!("{key}.two_factor.when_no_provider"),
                    format!("`{v}` is not one of `enrol`, `deny`, `allow`"),
                )
            })?),
        };
        let layer = Layer {
            two_factor_enabled: s.two_factor.enabled,
            email_allowed: s.two_factor.email,
            sms_allowed: s.two_factor.sms,
            authenticator_allowed: s.two_factor.authenticator,
            remember_browser_allowed: s.two_factor.remember_browser,
            remember_browser_for: opt_dur(
                "two_factor.remember_browser_for",
                &s.two_factor.remember_browser_for,
            )?,
            when_no_provider,
            lockout_enabled: s.lockout.enabled,
            lockout_max_failed_attempts: s.lockout.max_failed_attempts,
            lockout_duration: opt_dur("lockout.duration", &s.lockout.duration)?,
            password_min_length: s.password.min_length,
            password_reset_link_lifetime: opt_dur(
                "password.reset_link_lifetime",
                &s.password.reset_link_lifetime,
            )?,
            password_require_digit: s.password.require_digit,
            password_require_lowercase: s.password.require_lowercase,
            password_require_uppercase: s.password.require_uppercase,
            password_require_symbol: s.password.require_symbol,
            code_length: s.code.length,
            code_lifetime: opt_dur("code.lifetime", &s.code.lifetime)?,
            code_max_attempts: s.code.max_attempts,
            code_resend_after: opt_dur("code.resend_after", &s.code.resend_after)?,
            email_confirmation_required_for_login: s.email_confirmation_required_for_login,
        };
        if layer.lockout_max_failed_attempts == Some(0) {
            return Err(self.err(
                &format!("{key}.lockout.max_failed_attempts"),
                "must be at least 1",
            ));
        }
        if let Some(n) = layer.code_length {
            if !(6..=10).contains(&n) {
                return Err(self.err(
                    &format!("{key}.code.length"),
                    "must be between 6 and 10 digits",
                ));
            }
        }
        if layer.code_max_attempts == Some(0) {
            return Err(self.err(&format!("{key}.code.max_attempts"), "must be at least 1"));
        }
        if let Some(n) = layer.password_min_length {
            if !(1..=crate::auth::password::MAX_PASSWORD_BYTES).contains(&n) {
                return Err(self.err(
                    &format!("{key}.password.min_length"),
                    "must be between 1 and 1024",
                ));
            }
        }
        Ok(layer)
    }

    fn tenants(&self, f: &FileConfig) -> Result<Tenants, ConfigError> {
        let host_layer = self.layer("host.settings", &f.host.settings, false)?;
        let mut out = Vec::new();

        // The host's own level: its staff sign in on the host's hostnames.
        let host_name = TenantName::parse(HOST_TENANT).expect("`host` is a valid tenant name");
        out.push(self.tenant(
            "host",
            host_name,
            f.host.display_name.clone(),
            &f.host.hostnames,
            &[],
            &f.host.public_url,
            &f.host.brand_color,
            &f.host.routes,
            Layer::default(),
            &host_layer,
        )?);

        let mut seen = std::collections::HashSet::new();
        for (i, t) in f.tenants.iter().enumerate() {
            let key = format!("tenants[{i}]");
            let name =
                TenantName::parse(&t.name).map_err(|r| self.err(&format!("{key}.name"), r))?;
            if name.is_host() {
                return Err(self.err(
                    &format!("{key}.name"),
                    "`host` is reserved for the [host] section",
                ));
            }
            if !seen.insert(name.clone()) {
                return Err(self.err(
                    &format!("{key}.name"),
                    format!("tenant `{name}` is defined twice"),
                ));
            }
            let layer = self.layer(&format!("{key}.settings"), &t.settings, true)?;
            out.push(self.tenant(
                &key,
                name,
                t.display_name.clone(),
                &t.hostnames,
                &f.tenant_hostnames,
                &t.public_url,
                &t.brand_color,
                &t.routes,
                layer,
                &host_layer,
            )?);
        }
        Tenants::new(out).map_err(|reason| self.err("hostnames", reason))
    }

    #[allow(clippy::too_many_arguments)]
    fn tenant(
        &self,
        key: &str,
        name: TenantName,
        display_name: Option<String>,
        hostnames: &[String],
        patterns: &[String],
        public_url: &Option<String>,
        brand_color: &Option<String>,
        routes: &[RouteSection],
        layer: Layer,
        host_layer: &Layer,
    ) -> Result<Tenant, ConfigError> {
        let mut hosts = Vec::new();
        let all = hostnames
            .iter()
            .map(|h| (format!("{key}.hostnames"), h))
            .chain(patterns.iter().map(|h| ("tenant_hostnames".to_owned(), h)));
        for (k, h) in all {
            let expanded = h.replace("{tenant}", name.as_str());
            let Some(n) = crate::tenancy::normalise_host(&expanded) else {
                return Err(self.err(&k, format!("`{h}` is not a host name")));
            };
            if expanded.contains(':') && !expanded.starts_with('[') {
                return Err(self.err(&k, format!("`{h}`: write host names without a port")));
            }
            hosts.push(n);
        }
        if hosts.is_empty() && !name.is_host() {
            return Err(self.err(
                &format!("{key}.hostnames"),
                "a tenant needs at least one hostname (here or in tenant_hostnames)",
            ));
        }
        let public_url = match public_url {
            None => None,
            Some(u) => {
                let k = format!("{key}.public_url");
                self.http_url(&k, u)?;
                // Links are built as public_url + path: it must be an origin only.
                let rest = u.split_once("://").map(|(_, r)| r).unwrap_or("");
                let authority = rest.trim_end_matches('/');
                if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
                    return Err(self.err(
                        &k,
                        "must be scheme and host only, e.g. https://app.example.com",
                    ));
                }
                Some(u.trim_end_matches('/').to_owned())
            }
        };
        if let Some(c) = brand_color {
            let ok =
                c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(self.err(
                    &format!("{key}.brand_color"),
                    "must be a colour such as #2563eb",
                ));
            }
        }
        let mut built = Vec::new();
        for (i, r) in routes.iter().enumerate() {
            built.push(self.route(&format!("{key}.routes[{i}]"), r)?);
        }
        built.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        let settings =
            settings::effective(host_layer, if name.is_host() { None } else { Some(&layer) });
        Ok(Tenant {
            display_name: display_name.unwrap_or_else(|| name.as_str().to_owned()),
            name,
            public_url,
            brand_color: brand_color.clone(),
            hostnames: hosts,
            routes: built,
            layer,
            settings,
        })
    }

    fn route(&self, key: &str, r: &RouteSection) -> Result<Route, ConfigError> {
        let policy = match r.policy.as_deref() {
            None => RoutePolicy::Login,
            Some(p) => RoutePolicy::parse(p).ok_or_else(|| {
                self.err(
                    &format!("{key}.policy"),
                    format!("`{p}` is not one of `login`, `bypass`, `deny`"),
                )
            })?,
        };
        let prefix = crate::tenancy::NormalPath::parse(&r.path)
            .map_err(|e| self.err(&format!("{key}.path"), e.to_string()))?;
        if prefix.as_str() != r.path && prefix.as_str() != format!("{}/", r.path) {
            return Err(self.err(
                &format!("{key}.path"),
                format!("write it normalised: `{}`", prefix.as_str()),
            ));
        }
        if r.path.contains(['?', '#']) {
            return Err(self.err(
                &format!("{key}.path"),
                "a route path has no query or fragment",
            ));
        }
        if prefix.as_str().starts_with("/.portcullis") {
            return Err(self.err(
                &format!("{key}.path"),
                "/.portcullis/ belongs to the gateway",
            ));
        }
        if policy != RoutePolicy::Deny && r.upstreams.is_empty() {
            return Err(self.err(
                &format!("{key}.upstreams"),
                "a login or bypass route needs at least one upstream",
            ));
        }
        let mut upstreams = Vec::new();
        for (i, u) in r.upstreams.iter().enumerate() {
            upstreams.push(self.upstream(&format!("{key}.upstreams[{i}]"), u)?);
        }
        let trimmed = r.path.trim_end_matches('/');
        let prefix = if trimmed.is_empty() { "/" } else { trimmed };
        Ok(Route::new(prefix.to_owned(), policy, upstreams))
    }

    /// `host:port`, `http://host:port` or `https://host:port`, resolved now: Pingora
    /// resolves peers with blocking DNS and panics when that fails.
    fn upstream(&self, key: &str, u: &str) -> Result<Upstream, ConfigError> {
        let (tls, rest) = if let Some(r) = u.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = u.strip_prefix("http://") {
            (false, r)
        } else {
            (false, u)
        };
        let authority = rest.trim_end_matches('/');
        if authority.contains('/') {
            return Err(self.err(key, "an upstream is host:port, without a path"));
        }
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            && !authority.ends_with(']')
        {
            authority.to_owned()
        } else {
            format!("{authority}:{}", if tls { 443 } else { 80 })
        };
        let addr = with_port
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| self.err(key, format!("cannot resolve `{u}`")))?;
        if addr.port() == 0 || addr.ip().is_unspecified() {
            return Err(self.err(
                key,
                format!("`{u}` is not an address an upstream can listen on"),
            ));
        }
        let sni = with_port
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or("")
            .trim_matches(['[', ']'])
            .to_owned();
        Ok(Upstream { addr, tls, sni })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"), &[])
    }

    const MINIMAL: &str = r#"
        [[tenants]]
        name = "acme"
        hostnames = ["acme.test"]
        [[tenants.routes]]
        upstreams = ["127.0.0.1:9000"]
    "#;

    #[test]
    fn a_minimal_file_gets_safe_defaults() {
        let c = parse(MINIMAL).unwrap();
        let t = c.tenants.by_host("acme.test").unwrap();
        assert_eq!(t.routes[0].policy, RoutePolicy::Login);
        assert!(!t.settings.two_factor_enabled);
        assert!(c.trusted_proxies.is_empty());
        assert_eq!(c.identity_headers.user.as_str(), "x-auth-user");
    }

    #[test]
    fn unknown_keys_name_file_and_key() {
        let e = parse("[host.settings.lockout]\nmax_failed_attempt = 3\n").unwrap_err();
        assert_eq!(e.file, "test.toml");
        assert_eq!(e.key, "host.settings.lockout.max_failed_attempt");
        assert!(
            e.reason.contains("unknown field `max_failed_attempt`"),
            "{}",
            e.reason
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = parse(&MINIMAL.replace("upstreams", "policy = \"allow\"\nupstreams")).unwrap_err();
        assert_eq!(e.key, "tenants[0].routes[0].policy");
        let e = parse("[session]\nidle_timeout = \"soon\"\n").unwrap_err();
        assert_eq!(e.key, "session.idle_timeout");
        let e = parse("[host.settings.lockout]\nmax_failed_attempts = \"five\"\n").unwrap_err();
        assert_eq!(e.key, "host.settings.lockout.max_failed_attempts");
    }

    #[test]
    fn tenants_cannot_set_host_only_keys() {
        let text = format!("{MINIMAL}\n[tenants.settings.two_factor]\nsms = false\n");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.key, "tenants[0].settings.two_factor.sms");
    }

    #[test]
    fn hostname_patterns_resolve_to_the_tenant_of_that_name() {
        let text = format!("tenant_hostnames = [\"{{tenant}}.apps.test\"]\n{MINIMAL}");
        let c = parse(&text).unwrap();
        assert_eq!(
            c.tenants.by_host("acme.apps.test").unwrap().name.as_str(),
            "acme"
        );
        assert!(c.tenants.by_host("other.apps.test").is_none());
    }

    #[test]
    fn environment_overrides_file_values() {
        let env = vec![
            (
                "PORTCULLIS_DATABASE__URL".to_owned(),
                "sqlite://other.db".to_owned(),
            ),
            (
                "PORTCULLIS_TENANTS__0__DISPLAY_NAME".to_owned(),
                "Acme Corp".to_owned(),
            ),
            (
                "PORTCULLIS_HOST__SETTINGS__LOCKOUT__MAX_FAILED_ATTEMPTS".to_owned(),
                "3".to_owned(),
            ),
        ];
        let c = Config::parse(MINIMAL, Path::new("t.toml"), &env).unwrap();
        assert_eq!(c.database.url.0, "sqlite://other.db");
        let t = c.tenants.by_name("acme").unwrap();
        assert_eq!(t.display_name, "Acme Corp");
        assert_eq!(t.settings.lockout.max_failed_attempts, 3);
        let banana = vec![(
            "PORTCULLIS_SESSION__IDLE_TIMEOUT".to_owned(),
            "banana".to_owned(),
        )];
        let e = Config::parse(MINIMAL, Path::new("t.toml"), &banana).unwrap_err();
        assert_eq!(e.key, "session.idle_timeout");
        assert!(
            e.reason
                .contains("environment variable PORTCULLIS_SESSION__IDLE_TIMEOUT"),
            "{e}"
        );
        let bad = vec![("PORTCULLIS_TENANTS__5__NAME".to_owned(), "x".to_owned())];
        let e = Config::parse(MINIMAL, Path::new("t.toml"), &bad).unwrap_err();
        assert_eq!(e.key, "PORTCULLIS_TENANTS__5__NAME");
    }

    #[test]
    fn header_names_match_across_case_and_underscores() {
        assert!(same_header("X_Auth_User", "x-auth-user"));
        assert!(same_header("X-AUTH-USER", "x-auth-user"));
        assert!(!same_header("x-auth-users", "x-auth-user"));
        assert!(!same_header("x-auth-usr", "x-auth-user"));
        assert_eq!(header_compare_form("X_Auth_User"), "x-auth-user");
    }

    #[test]
    fn values_that_would_switch_a_protection_off_are_refused() {
        let cases = [
            (
                "[host.settings.lockout]\nduration = \"0s\"\n",
                "host.settings.lockout.duration",
            ),
            (
                "[host.settings.lockout]\nduration = \"500000000000years\"\n",
                "host.settings.lockout.duration",
            ),
            (
                "[host.settings.code]\nlifetime = \"0s\"\n",
                "host.settings.code.lifetime",
            ),
            ("[session]\nidle_timeout = \"0s\"\n", "session.idle_timeout"),
            (
                "[identity_headers]\nuser = \"Set-Cookie\"\n",
                "identity_headers",
            ),
        ];
        for (text, key) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.key, key, "{text}");
        }
        let bad_route = MINIMAL.replace("upstreams", "path = \"/a?b\"\nupstreams");
        assert_eq!(
            parse(&bad_route).unwrap_err().key,
            "tenants[0].routes[0].path"
        );
        let port_zero = MINIMAL.replace("127.0.0.1:9000", "127.0.0.1:0");
        assert_eq!(
            parse(&port_zero).unwrap_err().key,
            "tenants[0].routes[0].upstreams[0]"
        );
        for url in [
            "https://",
            "https://a.test/path",
            "https://u:p@a.test",
            "https://a.test?x",
        ] {
            let text = MINIMAL.replace("hostnames", &format!("public_url = \"{url}\"\nhostnames"));
            assert_eq!(
                parse(&text).unwrap_err().key,
                "tenants[0].public_url",
                "{url}"
            );
        }
        assert!(parse(
            &MINIMAL.replace("hostnames", "public_url = \"https://a.test/\"\nhostnames")
        )
        .is_ok());
    }

    #[test]
    fn a_hostname_claimed_twice_is_refused() {
        let text = format!("{MINIMAL}\n[[tenants]]\nname = \"b\"\nhostnames = [\"ACME.test\"]\n");
        let e = parse(&text).unwrap_err();
        assert!(e.reason.contains("acme.test"), "{e}");
    }

    #[test]
    fn secrets_are_not_echoed_in_errors() {
        let e = parse("[database]\nurl = \"mysql://root:hunter2@db\"\n").unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }
}
