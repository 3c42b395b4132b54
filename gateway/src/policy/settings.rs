//! Host and tenant security settings, and the one place where a tenant's
//! effective settings are computed from them (SPEC 2).
//!
//! The rules: two-factor ships disabled; a tenant can use it only while the host
//! has it on; the email and SMS providers and the code rules are host-only; a
//! tenant may switch the authenticator and remember-browser off but never on
//! against the host. Everything else a tenant may set for itself.

use std::fmt;
use std::time::Duration;

/// What happens when a login needs two-factor and the user has no provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenNoProvider {
    /// Set up an authenticator during sign-in before reaching any upstream.
    Enrol,
    /// Refuse the sign-in.
    Deny,
    /// Let the password alone sign in.
    Allow,
}

impl WhenNoProvider {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "enrol" | "enroll" => Some(Self::Enrol),
            "deny" => Some(Self::Deny),
            "allow" => Some(Self::Allow),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enrol => "enrol",
            Self::Deny => "deny",
            Self::Allow => "allow",
        }
    }
}

/// Account lockout after repeated failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub enabled: bool,
    pub max_failed_attempts: u32,
    pub duration: Duration,
}

/// Length and complexity rules for new passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    /// How long a forgot-password link works.
    pub reset_link_lifetime: Duration,
    pub require_digit: bool,
    pub require_lowercase: bool,
    pub require_uppercase: bool,
    pub require_symbol: bool,
}

/// Rules for emailed and texted codes; host-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePolicy {
    pub length: usize,
    pub lifetime: Duration,
    pub max_attempts: u32,
    pub resend_after: Duration,
}

/// The settings in force for one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub two_factor_enabled: bool,
    pub email_allowed: bool,
    pub sms_allowed: bool,
    pub authenticator_allowed: bool,
    pub remember_browser_allowed: bool,
    pub remember_browser_for: Duration,
    pub when_no_provider: WhenNoProvider,
    pub lockout: LockoutPolicy,
    pub password: PasswordPolicy,
    pub code: CodePolicy,
    pub email_confirmation_required_for_login: bool,
}

/// Settings as written at one level: `None` means "not set here".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layer {
    pub two_factor_enabled: Option<bool>,
    pub email_allowed: Option<bool>,
    pub sms_allowed: Option<bool>,
    pub authenticator_allowed: Option<bool>,
    pub remember_browser_allowed: Option<bool>,
    pub remember_browser_for: Option<Duration>,
    pub when_no_provider: Option<WhenNoProvider>,
    pub lockout_enabled: Option<bool>,
    pub lockout_max_failed_attempts: Option<u32>,
    pub lockout_duration: Option<Duration>,
    pub password_min_length: Option<usize>,
    pub password_reset_link_lifetime: Option<Duration>,
    pub password_require_digit: Option<bool>,
    pub password_require_lowercase: Option<bool>,
    pub password_require_uppercase: Option<bool>,
    pub password_require_symbol: Option<bool>,
    pub code_length: Option<usize>,
    pub code_lifetime: Option<Duration>,
    pub code_max_attempts: Option<u32>,
    pub code_resend_after: Option<Duration>,
    pub email_confirmation_required_for_login: Option<bool>,
}

/// Where an effective value came from, for `portcullis config show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Default,
    Host,
    Tenant,
    /// The tenant asked for it but the host does not allow it.
    HostForbids,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Default => "default",
            Self::Host => "host",
            Self::Tenant => "tenant",
            Self::HostForbids => "host (overrides tenant: the host does not allow it)",
        })
    }
}

/// One line of `config show`: key, value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    pub key: &'static str,
    pub value: String,
    pub source: Source,
}

/// Keys a tenant may not set at all; validation refuses them in a tenant section.
pub const HOST_ONLY_KEYS: &[&str] = &[
    "two_factor.email",
    "two_factor.sms",
    "code.length",
    "code.lifetime",
    "code.max_attempts",
    "code.resend_after",
];

/// Computes the effective settings of a tenant (or of the host, with `tenant = None`).
pub fn effective(host: &Layer, tenant: Option<&Layer>) -> Settings {
    explain(host, tenant).0
}

/// As [`effective`], and says where each value came from.
pub fn explain(host: &Layer, tenant: Option<&Layer>) -> (Settings, Vec<Explained>) {
    let empty = Layer::default();
    let t = tenant.unwrap_or(&empty);
    let mut w = Explainer(Vec::new());
    let days = |d: u64| Duration::from_secs(d * 86_400);

    let settings = Settings {
        two_factor_enabled: w.gated(
            "two_factor.enabled",
            host.two_factor_enabled,
            t.two_factor_enabled,
            false,
        ),
        email_allowed: w.host_only("two_factor.email", host.email_allowed, true),
        sms_allowed: w.host_only("two_factor.sms", host.sms_allowed, true),
        authenticator_allowed: w.gated(
            "two_factor.authenticator",
            host.authenticator_allowed,
            t.authenticator_allowed,
            true,
        ),
        remember_browser_allowed: w.gated(
            "two_factor.remember_browser",
            host.remember_browser_allowed,
            t.remember_browser_allowed,
            true,
        ),
        remember_browser_for: w.free(
            "two_factor.remember_browser_for",
            host.remember_browser_for,
            t.remember_browser_for,
            days(14),
        ),
        when_no_provider: w.free(
            "two_factor.when_no_provider",
            host.when_no_provider,
            t.when_no_provider,
            WhenNoProvider::Enrol,
        ),
        lockout: LockoutPolicy {
            enabled: w.free(
                "lockout.enabled",
                host.lockout_enabled,
                t.lockout_enabled,
                true,
            ),
            max_failed_attempts: w.free(
                "lockout.max_failed_attempts",
                host.lockout_max_failed_attempts,
                t.lockout_max_failed_attempts,
                5,
            ),
            duration: w.free(
                "lockout.duration",
                host.lockout_duration,
                t.lockout_duration,
                Duration::from_secs(300),
            ),
        },
        password: PasswordPolicy {
            min_length: w.free(
                "password.min_length",
                host.password_min_length,
                t.password_min_length,
                8,
            ),
            reset_link_lifetime: w.free(
                "password.reset_link_lifetime",
                host.password_reset_link_lifetime,
                t.password_reset_link_lifetime,
                Duration::from_secs(3600),
            ),
            require_digit: w.free(
                "password.require_digit",
                host.password_require_digit,
                t.password_require_digit,
                false,
            ),
            require_lowercase: w.free(
                "password.require_lowercase",
                host.password_require_lowercase,
                t.password_require_lowercase,
                false,
            ),
            require_uppercase: w.free(
                "password.require_uppercase",
                host.password_require_uppercase,
                t.password_require_uppercase,
                false,
            ),
            require_symbol: w.free(
                "password.require_symbol",
                host.password_require_symbol,
                t.password_require_symbol,
                false,
            ),
        },
        code: CodePolicy {
            length: w.host_only("code.length", host.code_length, 6),
            lifetime: w.host_only(
                "code.lifetime",
                host.code_lifetime,
                Duration::from_secs(300),
            ),
            max_attempts: w.host_only("code.max_attempts", host.code_max_attempts, 5),
            resend_after: w.host_only(
                "code.resend_after",
                host.code_resend_after,
                Duration::from_secs(30),
            ),
        },
        email_confirmation_required_for_login: w.free(
            "email_confirmation_required_for_login",
            host.email_confirmation_required_for_login,
            t.email_confirmation_required_for_login,
            false,
        ),
    };
    (settings, w.0)
}

/// A value that `config show` can print.
trait Show {
    fn show(&self) -> String;
}

impl Show for bool {
    fn show(&self) -> String {
        self.to_string()
    }
}
impl Show for u32 {
    fn show(&self) -> String {
        self.to_string()
    }
}
impl Show for usize {
    fn show(&self) -> String {
        self.to_string()
    }
}
impl Show for Duration {
    fn show(&self) -> String {
        humantime::format_duration(*self).to_string()
    }
}
impl Show for WhenNoProvider {
    fn show(&self) -> String {
        self.as_str().to_owned()
    }
}

/// Collects the provenance lines while the settings are computed.
struct Explainer(Vec<Explained>);

impl Explainer {
    fn record<T: Show>(&mut self, key: &'static str, value: T, source: Source) -> T {
        self.0.push(Explained {
            key,
            value: value.show(),
            source,
        });
        value
    }

    /// A setting either level may set: the tenant's value wins, then the host's.
    fn free<T: Show + Copy>(&mut self, key: &'static str, h: Option<T>, t: Option<T>, d: T) -> T {
        match (t, h) {
            (Some(v), _) => self.record(key, v, Source::Tenant),
            (None, Some(v)) => self.record(key, v, Source::Host),
            (None, None) => self.record(key, d, Source::Default),
        }
    }

    /// A setting only the host may set (validation refuses it in a tenant section).
    fn host_only<T: Show + Copy>(&mut self, key: &'static str, h: Option<T>, d: T) -> T {
        match h {
            Some(v) => self.record(key, v, Source::Host),
            None => self.record(key, d, Source::Default),
        }
    }

    /// A switch that is on only while the host has it on.
    fn gated(&mut self, key: &'static str, h: Option<bool>, t: Option<bool>, d: bool) -> bool {
        let host_value = h.unwrap_or(d);
        match (host_value, t) {
            (false, Some(true)) => self.record(key, false, Source::HostForbids),
            (_, Some(v)) => self.record(key, v, Source::Tenant),
            (v, None) if h.is_some() => self.record(key, v, Source::Host),
            (v, None) => self.record(key, v, Source::Default),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer() -> Layer {
        Layer::default()
    }

    #[test]
    fn two_factor_ships_disabled() {
        let s = effective(&layer(), None);
        assert!(!s.two_factor_enabled);
        assert!(s.email_allowed && s.sms_allowed && s.authenticator_allowed);
        assert_eq!(s.lockout.max_failed_attempts, 5);
        assert_eq!(s.lockout.duration, Duration::from_secs(300));
        assert_eq!(s.code.length, 6);
        assert_eq!(s.remember_browser_for, Duration::from_secs(14 * 86_400));
    }

    #[test]
    fn tenant_cannot_turn_two_factor_on_while_the_host_has_it_off() {
        let tenant = Layer {
            two_factor_enabled: Some(true),
            ..layer()
        };
        let (s, lines) = explain(&layer(), Some(&tenant));
        assert!(!s.two_factor_enabled);
        let line = lines
            .iter()
            .find(|l| l.key == "two_factor.enabled")
            .unwrap();
        assert_eq!(line.source, Source::HostForbids);
    }

    #[test]
    fn tenant_can_turn_two_factor_on_and_off_while_the_host_allows() {
        let host = Layer {
            two_factor_enabled: Some(true),
            ..layer()
        };
        let off = Layer {
            two_factor_enabled: Some(false),
            ..layer()
        };
        assert!(effective(&host, None).two_factor_enabled);
        assert!(!effective(&host, Some(&off)).two_factor_enabled);
        assert!(effective(&host, Some(&layer())).two_factor_enabled);
    }

    #[test]
    fn tenant_may_switch_authenticator_off_but_never_on_against_the_host() {
        let host_off = Layer {
            authenticator_allowed: Some(false),
            ..layer()
        };
        let tenant_on = Layer {
            authenticator_allowed: Some(true),
            ..layer()
        };
        let tenant_off = Layer {
            authenticator_allowed: Some(false),
            ..layer()
        };
        assert!(!effective(&host_off, Some(&tenant_on)).authenticator_allowed);
        assert!(!effective(&layer(), Some(&tenant_off)).authenticator_allowed);
        let remember_on = Layer {
            remember_browser_allowed: Some(true),
            ..layer()
        };
        let host_no_remember = Layer {
            remember_browser_allowed: Some(false),
            ..layer()
        };
        assert!(!effective(&host_no_remember, Some(&remember_on)).remember_browser_allowed);
    }

    #[test]
    fn tenant_values_win_for_free_settings_and_say_so() {
        let host = Layer {
            lockout_max_failed_attempts: Some(10),
            ..layer()
        };
        let tenant = Layer {
            lockout_max_failed_attempts: Some(3),
            ..layer()
        };
        let (s, lines) = explain(&host, Some(&tenant));
        assert_eq!(s.lockout.max_failed_attempts, 3);
        let line = lines
            .iter()
            .find(|l| l.key == "lockout.max_failed_attempts")
            .unwrap();
        assert_eq!((line.value.as_str(), line.source), ("3", Source::Tenant));
        assert_eq!(effective(&host, None).lockout.max_failed_attempts, 10);
    }
}
