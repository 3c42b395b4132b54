//! The settings file as written: serde structs that mirror the TOML one to one.
//!
//! Nothing here is trusted. Every struct denies unknown keys so that a typo in a
//! security setting stops the start instead of being ignored; [`super::Config`] is
//! built from these by validation and is what the rest of the gateway reads.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub listeners: Vec<ListenerSection>,
    #[serde(default)]
    pub database: DatabaseSection,
    #[serde(default)]
    pub metrics: MetricsSection,
    #[serde(default)]
    pub secret_key_file: Option<String>,
    #[serde(default)]
    pub session: SessionSection,
    #[serde(default)]
    pub identity_headers: IdentityHeadersSection,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    #[serde(default)]
    pub tenant_hostnames: Vec<String>,
    #[serde(default)]
    pub email: EmailSection,
    #[serde(default)]
    pub sms: SmsSection,
    #[serde(default)]
    pub host: HostSection,
    #[serde(default)]
    pub tenants: Vec<TenantSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub threads: Option<usize>,
    pub work_stealing: Option<bool>,
    pub upstream_keepalive_pool_size: Option<usize>,
    pub grace_period: Option<String>,
    pub templates_dir: Option<String>,
    pub log_format: Option<String>,
    pub max_concurrent_hashes: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSection {
    pub address: String,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    pub url: Option<String>,
    pub url_file: Option<String>,
    pub max_connections: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    pub address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSection {
    pub idle_timeout: Option<String>,
    pub absolute_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityHeadersSection {
    pub user: Option<String>,
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub tenant: Option<String>,
    pub methods: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSection {
    pub mode: Option<String>,
    pub from: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_security: Option<String>,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    pub smtp_password_file: Option<String>,
    pub timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSection {
    pub provider: Option<String>,
    pub twilio_account_sid: Option<String>,
    pub twilio_auth_token: Option<String>,
    pub twilio_auth_token_file: Option<String>,
    pub twilio_sender_number: Option<String>,
    pub twilio_api_base: Option<String>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    pub webhook_secret_file: Option<String>,
    pub timeout: Option<String>,
}

/// The host: the operator's own level, with the global security settings and,
/// optionally, hostnames and routes of its own for the host's staff.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSection {
    pub display_name: Option<String>,
    #[serde(default)]
    pub hostnames: Vec<String>,
    pub public_url: Option<String>,
    pub brand_color: Option<String>,
    #[serde(default)]
    pub settings: SettingsSection,
    #[serde(default)]
    pub routes: Vec<RouteSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSection {
    pub name: String,
    pub display_name: Option<String>,
    #[serde(default)]
    pub hostnames: Vec<String>,
    pub public_url: Option<String>,
    pub brand_color: Option<String>,
    #[serde(default)]
    pub settings: SettingsSection,
    #[serde(default)]
    pub routes: Vec<RouteSection>,
}

/// Settings as written at either level. Every field is optional so that the
/// effective value can say where it came from.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsSection {
    #[serde(default)]
    pub two_factor: TwoFactorSection,
    #[serde(default)]
    pub lockout: LockoutSection,
    #[serde(default)]
    pub password: PasswordSection,
    #[serde(default)]
    pub code: CodeSection,
    pub email_confirmation_required_for_login: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorSection {
    pub enabled: Option<bool>,
    pub email: Option<bool>,
    pub sms: Option<bool>,
    pub authenticator: Option<bool>,
    pub remember_browser: Option<bool>,
    pub remember_browser_for: Option<String>,
    pub when_no_provider: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutSection {
    pub enabled: Option<bool>,
    pub max_failed_attempts: Option<u32>,
    pub duration: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSection {
    pub min_length: Option<usize>,
    pub reset_link_lifetime: Option<String>,
    pub require_digit: Option<bool>,
    pub require_lowercase: Option<bool>,
    pub require_uppercase: Option<bool>,
    pub require_symbol: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeSection {
    pub length: Option<usize>,
    pub lifetime: Option<String>,
    pub max_attempts: Option<u32>,
    pub resend_after: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    #[serde(default = "root_path")]
    pub path: String,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub upstreams: Vec<String>,
}

fn root_path() -> String {
    "/".to_owned()
}
