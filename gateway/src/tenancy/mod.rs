//! Host → tenant → route.
//!
//! Owns the tenant table built from the validated config, the normalisation of the
//! request's host name, and route selection by the longest path prefix. Knows
//! nothing of sessions or of Pingora.

mod path;

pub use path::{NormalPath, PathError};

use crate::policy::settings::{Layer, Settings};
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The reserved tenant name of the host's own level.
pub const HOST_TENANT: &str = "host";

/// A tenant name: 1–63 of `a-z`, `0-9` and `-`, not starting or ending with `-`, so
/// that it is also a valid DNS label for `{tenant}` hostname patterns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantName(Arc<str>);

impl TenantName {
    pub fn parse(s: &str) -> Result<TenantName, &'static str> {
        if s.is_empty() || s.len() > 63 {
            return Err("a tenant name has 1 to 63 characters");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("a tenant name uses only a-z, 0-9 and -");
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err("a tenant name does not start or end with -");
        }
        Ok(TenantName(Arc::from(s)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_host(&self) -> bool {
        &*self.0 == HOST_TENANT
    }
}

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a route does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutePolicy {
    /// Forward only with a fully signed-in session for this tenant.
    Login,
    /// Forward without a session.
    Bypass,
    /// Answer 403.
    Deny,
}

impl RoutePolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "login" => Some(Self::Login),
            "bypass" => Some(Self::Bypass),
            "deny" => Some(Self::Deny),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Bypass => "bypass",
            Self::Deny => "deny",
        }
    }
}

/// One upstream address, resolved when the config is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub addr: SocketAddr,
    pub tls: bool,
    /// The name sent as SNI and checked in the certificate when `tls` is on.
    pub sni: String,
}

/// A path prefix with its policy and upstreams.
#[derive(Debug)]
pub struct Route {
    pub prefix: String,
    pub policy: RoutePolicy,
    pub upstreams: Vec<Upstream>,
    next: AtomicUsize,
}

impl Route {
    pub fn new(prefix: String, policy: RoutePolicy, upstreams: Vec<Upstream>) -> Route {
        Route {
            prefix,
            policy,
            upstreams,
            next: AtomicUsize::new(0),
        }
    }

    /// Round-robin over the route's upstreams; `None` for a route without any.
    pub fn pick_upstream(&self) -> Option<&Upstream> {
        if self.upstreams.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.upstreams.len();
        self.upstreams.get(i)
    }
}

/// A tenant as the gateway uses it.
#[derive(Debug)]
pub struct Tenant {
    pub name: TenantName,
    pub display_name: String,
    /// The canonical public URL, without trailing slash, used to build links in mail.
    pub public_url: Option<String>,
    /// A CSS colour for the pages' accent.
    pub brand_color: Option<String>,
    pub hostnames: Vec<String>,
    /// Routes sorted by descending prefix length, so the first match is the longest.
    pub routes: Vec<Route>,
    /// The settings as written for this tenant (empty for the host).
    pub layer: Layer,
    /// The effective settings, computed once when the config is loaded.
    pub settings: Settings,
}

impl Tenant {
    /// The route with the longest prefix matching `path`.
    pub fn route(&self, path: &NormalPath) -> Option<&Route> {
        self.routes.iter().find(|r| path.has_prefix(&r.prefix))
    }
}

/// All tenants, indexed by hostname and by name.
#[derive(Debug, Default)]
pub struct Tenants {
    by_host: HashMap<String, Arc<Tenant>>,
    by_name: HashMap<String, Arc<Tenant>>,
}

impl Tenants {
    /// Indexes the tenants; the error says which hostname is claimed twice, and by whom.
    pub fn new(tenants: Vec<Tenant>) -> Result<Tenants, String> {
        let mut t = Tenants::default();
        for tenant in tenants {
            let tenant = Arc::new(tenant);
            for host in &tenant.hostnames {
                if let Some(earlier) = t.by_host.insert(host.clone(), tenant.clone()) {
                    let by = if earlier.name == tenant.name {
                        format!("twice by tenant `{}`", tenant.name)
                    } else {
                        format!("by tenants `{}` and `{}`", earlier.name, tenant.name)
                    };
                    return Err(format!("`{host}` is claimed {by}"));
                }
            }
            t.by_name.insert(tenant.name.as_str().to_owned(), tenant);
        }
        Ok(t)
    }

    /// The tenant serving a normalised host name.
    pub fn by_host(&self, host: &str) -> Option<&Arc<Tenant>> {
        self.by_host.get(host)
    }

    pub fn by_name(&self, name: &str) -> Option<&Arc<Tenant>> {
        self.by_name.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.by_name.values()
    }
}

/// Normalises an authority or Host value: lower-cased, port and one trailing dot
/// removed. Returns `None` for a value that is not a plausible host name, which
/// the caller answers like an unknown host.
pub fn normalise_host(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.contains('@') {
        return None;
    }
    let host = if let Some(rest) = raw.strip_prefix('[') {
        // An IPv6 literal keeps its brackets; the port follows the closing one.
        let end = rest.find(']')?;
        &raw[..end + 2]
    } else {
        match raw.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            Some(_) => return None,
            None => raw,
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    let valid =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'[' | b']' | b':');
    if host.is_empty() || !host.bytes().all(valid) {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_lower_cased_without_port_or_trailing_dot() {
        assert_eq!(
            normalise_host("App.Example.COM:8443").as_deref(),
            Some("app.example.com")
        );
        assert_eq!(
            normalise_host("app.example.com.").as_deref(),
            Some("app.example.com")
        );
        assert_eq!(
            normalise_host("app.example.com.:80").as_deref(),
            Some("app.example.com")
        );
        assert_eq!(normalise_host("[::1]:8080").as_deref(), Some("[::1]"));
        assert_eq!(normalise_host("localhost").as_deref(), Some("localhost"));
    }

    #[test]
    fn implausible_host_values_are_refused() {
        assert_eq!(normalise_host(""), None);
        assert_eq!(normalise_host("user@host"), None);
        assert_eq!(normalise_host("a b"), None);
        assert_eq!(normalise_host("host:port"), None);
        assert_eq!(normalise_host("évil.com"), None);
    }

    #[test]
    fn tenant_names_are_dns_labels() {
        assert!(TenantName::parse("acme-2").is_ok());
        assert!(TenantName::parse("Acme").is_err());
        assert!(TenantName::parse("-acme").is_err());
        assert!(TenantName::parse("a.b").is_err());
        assert!(TenantName::parse("").is_err());
    }

    #[test]
    fn upstreams_are_picked_round_robin() {
        let up = |port| Upstream {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            tls: false,
            sni: String::new(),
        };
        let r = Route::new("/".into(), RoutePolicy::Login, vec![up(1), up(2)]);
        let picked: Vec<u16> = (0..4)
            .map(|_| r.pick_upstream().unwrap().addr.port())
            .collect();
        assert_eq!(picked, vec![1, 2, 1, 2]);
    }
}
