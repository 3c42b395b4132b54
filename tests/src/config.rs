//! Settings files for test gateways, written as TOML text.
//!
//! A test describes only what it is about (tenants, routes, settings);
//! [`crate::Gateway::start`] adds the listener, database and secret key. A test that
//! needs something these builders lack passes TOML text of its own instead.

use std::fmt::Write;
use std::net::SocketAddr;

/// A TOML string literal.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A TOML array of string literals.
fn quoted_list<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<String> = items.iter().map(|s| quoted(s.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

/// The body of a settings file.
#[derive(Debug, Default, Clone)]
pub struct GatewayConfig {
    top: String,
    host_settings: String,
    tenants: Vec<Tenant>,
}

impl GatewayConfig {
    pub fn new() -> GatewayConfig {
        GatewayConfig::default()
    }

    /// TOML placed first in the file, e.g. `trusted_proxies = ["127.0.0.1"]` or a
    /// `[session]` table. Top-level keys must come before any table it opens.
    pub fn top(mut self, toml: &str) -> GatewayConfig {
        self.top.push_str(toml);
        self.top.push('\n');
        self
    }

    /// Lines of the `[host.settings]` table, dotted keys allowed:
    /// `lockout.max_failed_attempts = 3`.
    pub fn host_settings(mut self, toml: &str) -> GatewayConfig {
        self.host_settings.push_str(toml);
        self.host_settings.push('\n');
        self
    }

    pub fn tenant(mut self, tenant: Tenant) -> GatewayConfig {
        self.tenants.push(tenant);
        self
    }

    /// The file's text, without listener, database and secret key.
    pub fn to_toml(&self) -> String {
        let mut out = self.top.clone();
        if !self.host_settings.is_empty() {
            let _ = write!(out, "\n[host.settings]\n{}", self.host_settings);
        }
        for t in &self.tenants {
            out.push('\n');
            out.push_str(&t.to_toml());
        }
        out
    }
}

/// One `[[tenants]]` entry.
#[derive(Debug, Clone)]
pub struct Tenant {
    name: String,
    display_name: Option<String>,
    public_url: Option<String>,
    hostnames: Vec<String>,
    settings: String,
    routes: Vec<Route>,
}

impl Tenant {
    /// A tenant named `name` served on `hostname`.
    pub fn new(name: &str, hostname: &str) -> Tenant {
        Tenant {
            name: name.to_owned(),
            display_name: None,
            public_url: None,
            hostnames: vec![hostname.to_owned()],
            settings: String::new(),
            routes: Vec::new(),
        }
    }

    pub fn hostname(mut self, hostname: &str) -> Tenant {
        self.hostnames.push(hostname.to_owned());
        self
    }

    pub fn display_name(mut self, name: &str) -> Tenant {
        self.display_name = Some(name.to_owned());
        self
    }

    /// The URL links in the tenant's mail point at (`public_url`).
    pub fn public_url(mut self, url: &str) -> Tenant {
        self.public_url = Some(url.to_owned());
        self
    }

    /// Lines of the tenant's `settings` table, dotted keys allowed:
    /// `lockout.max_failed_attempts = 3`.
    pub fn settings(mut self, toml: &str) -> Tenant {
        self.settings.push_str(toml);
        self.settings.push('\n');
        self
    }

    pub fn route(mut self, route: Route) -> Tenant {
        self.routes.push(route);
        self
    }

    pub fn to_toml(&self) -> String {
        let mut out = format!(
            "[[tenants]]\nname = {}\nhostnames = {}\n",
            quoted(&self.name),
            quoted_list(&self.hostnames)
        );
        if let Some(d) = &self.display_name {
            let _ = writeln!(out, "display_name = {}", quoted(d));
        }
        if let Some(url) = &self.public_url {
            let _ = writeln!(out, "public_url = {}", quoted(url));
        }
        if !self.settings.is_empty() {
            let _ = write!(out, "[tenants.settings]\n{}", self.settings);
        }
        for r in &self.routes {
            out.push_str(&r.to_toml());
        }
        out
    }
}

/// What a route does with a request (SPEC 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Login,
    Bypass,
    Deny,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Login => "login",
            Policy::Bypass => "bypass",
            Policy::Deny => "deny",
        }
    }
}

/// One `[[tenants.routes]]` entry.
#[derive(Debug, Clone)]
pub struct Route {
    path: String,
    policy: Policy,
    upstreams: Vec<String>,
}

impl Route {
    pub fn new(
        path: &str,
        policy: Policy,
        upstreams: impl IntoIterator<Item = SocketAddr>,
    ) -> Route {
        Route {
            path: path.to_owned(),
            policy,
            upstreams: upstreams.into_iter().map(|a| a.to_string()).collect(),
        }
    }

    /// A route that forwards only signed-in requests.
    pub fn login(path: &str, upstreams: impl IntoIterator<Item = SocketAddr>) -> Route {
        Route::new(path, Policy::Login, upstreams)
    }

    /// A route that forwards without a session.
    pub fn bypass(path: &str, upstreams: impl IntoIterator<Item = SocketAddr>) -> Route {
        Route::new(path, Policy::Bypass, upstreams)
    }

    /// A route that answers 403.
    pub fn deny(path: &str) -> Route {
        Route::new(path, Policy::Deny, [])
    }

    pub fn to_toml(&self) -> String {
        let mut out = format!(
            "[[tenants.routes]]\npath = {}\npolicy = {}\n",
            quoted(&self.path),
            quoted(self.policy.as_str())
        );
        if !self.upstreams.is_empty() {
            let _ = writeln!(out, "upstreams = {}", quoted_list(&self.upstreams));
        }
        out
    }
}
