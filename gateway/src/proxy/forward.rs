//! What the upstream receives: the normalised path, no spoofed identity, no
//! gateway cookies, and forwarding headers the gateway vouches for (SPEC 4.5).

use crate::auth::session::Session;
use crate::config::{same_header, Config};
use crate::pages::cookies::is_gateway_cookie;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use std::net::IpAddr;

/// Headers a client may use to claim an address, scheme, host or path prefix;
/// dropped unless the client is a trusted proxy (and then only in their exact
/// spelling: `X_Forwarded_For` goes even from a trusted proxy).
const FORWARDING: &[&str] = &[
    "forwarded",
    "x-real-ip",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-server",
    "x-forwarded-scheme",
    "x-forwarded-ssl",
    "x-url-scheme",
    "front-end-https",
    "x-client-ip",
    "true-client-ip",
    "x-cluster-client-ip",
];

/// Identity headers that common apps and authentication proxies read, removed
/// from every request whatever names are configured: an app set up to trust one
/// of them must never receive a client's.
const WELL_KNOWN_IDENTITY: &[&str] = &[
    "remote-user",
    "x-remote-user",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-preferred-username",
    "x-forwarded-groups",
    "x-auth-request-user",
    "x-auth-request-email",
    "x-auth-request-groups",
    "x-webauth-user",
];

/// Headers some servers (IIS, Symfony) route on instead of the request line:
/// the upstream must see the path the policy saw, so they never pass.
const PATH_OVERRIDES: &[&str] = &["x-original-url", "x-rewrite-url"];

/// Rewrites the upstream request in place. `peer` is the address that connected
/// to the gateway; `trusted` whether it is a configured trusted proxy.
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    req: &mut RequestHeader,
    config: &Config,
    path_and_query: &str,
    peer: Option<IpAddr>,
    trusted: bool,
    secure: bool,
    host: &str,
    user: Option<(&Session, &str)>,
) -> Result<()> {
    // The upstream sees the path the policy saw. Pingora sends the target's bytes as
    // received unless the URI is replaced, so they are compared, not the parsed URI
    // (which can differ from them); most requests already carry the normalised path.
    if req.raw_path() != path_and_query.as_bytes() {
        let uri: http::Uri = path_and_query.parse().map_err(|_| {
            Error::explain(ErrorType::InternalError, "normalised path is not a URI")
        })?;
        req.set_uri(uri);
    }

    // Remove every header that reads as an identity header once case and `_`/`-` are
    // ignored, then set the real ones, so no spelling of a spoofed value survives.
    let identity = config.identity_headers.all();
    let doomed = |n: &http::HeaderName| {
        let n = n.as_str();
        identity.iter().any(|h| same_header(n, h.as_str()))
            || WELL_KNOWN_IDENTITY
                .iter()
                .chain(PATH_OVERRIDES)
                .any(|h| same_header(n, h))
            || FORWARDING
                .iter()
                .any(|f| same_header(n, f) && (!trusted || n != *f))
    };
    // Usually nothing matches: then nothing is collected either.
    if req.headers.keys().any(doomed) {
        let names: Vec<http::HeaderName> =
            req.headers.keys().filter(|n| doomed(n)).cloned().collect();
        for name in &names {
            while req.remove_header(name).is_some() {}
        }
    }

    strip_gateway_cookies(req)?;

    // Forwarding headers: a trusted proxy's are extended, anyone else's were removed.
    if let Some(ip) = peer {
        // A chain of proxies may send several lines; together they are one list.
        let xff = match joined(req, "x-forwarded-for") {
            Some(prior) if trusted => format!("{prior}, {ip}"),
            _ => ip.to_string(),
        };
        req.insert_header("x-forwarded-for", xff)?;
    }
    if !trusted || !req.headers.contains_key("x-forwarded-proto") {
        req.insert_header("x-forwarded-proto", if secure { "https" } else { "http" })?;
    }
    if !trusted || !req.headers.contains_key("x-forwarded-host") {
        req.insert_header("x-forwarded-host", host)?;
    }

    if let Some((s, tenant)) = user {
        let h = &config.identity_headers;
        req.insert_header(h.user.clone(), &*s.username)?;
        req.insert_header(h.user_id.clone(), s.user_id.to_string())?;
        if let Some(email) = &s.email {
            req.insert_header(h.email.clone(), &**email)?;
        }
        req.insert_header(h.tenant.clone(), tenant)?;
        req.insert_header(h.methods.clone(), s.methods)?;
    }
    Ok(())
}

/// Removes the gateway's cookies from every `Cookie` header; the upstream never
/// sees a session id.
fn strip_gateway_cookies(req: &mut RequestHeader) -> Result<()> {
    if !req.headers.contains_key("cookie") {
        return Ok(());
    }
    let mut kept = String::new();
    for value in req.headers.get_all("cookie") {
        let value = String::from_utf8_lossy(value.as_bytes());
        let pairs = value
            .split(';')
            .map(str::trim)
            .filter(|pair| !pair.is_empty());
        for pair in pairs.filter(|p| !is_gateway_cookie(p.split('=').next().unwrap_or(""))) {
            if !kept.is_empty() {
                kept.push_str("; ");
            }
            kept.push_str(pair);
        }
    }
    while req.remove_header("cookie").is_some() {}
    if !kept.is_empty() {
        req.insert_header("cookie", kept)?;
    }
    Ok(())
}

/// Removes `Set-Cookie` lines that would set one of the gateway's cookies.
pub fn strip_gateway_set_cookies(resp: &mut ResponseHeader) -> Result<()> {
    let name_of = |v: &http::HeaderValue| {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        let name = v.split(['=', ';']).next().unwrap_or("").trim().to_owned();
        (v, name)
    };
    let all: Vec<(String, String)> = resp
        .headers
        .get_all("set-cookie")
        .iter()
        .map(name_of)
        .collect();
    if !all.iter().any(|(_, name)| is_gateway_cookie(name)) {
        return Ok(());
    }
    while resp.remove_header("set-cookie").is_some() {}
    for (value, name) in all {
        if !is_gateway_cookie(&name) {
            resp.append_header("set-cookie", value)?;
        }
    }
    Ok(())
}

/// Every line of a header, joined with `, ` as RFC 9110 §5.3 reads repeated fields.
pub fn joined(req: &RequestHeader, name: &str) -> Option<String> {
    let mut out: Option<String> = None;
    for v in req.headers.get_all(name) {
        let v = String::from_utf8_lossy(v.as_bytes());
        match &mut out {
            Some(o) => {
                o.push_str(", ");
                o.push_str(&v);
            }
            None => out = Some(v.into_owned()),
        }
    }
    out
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the
/// right-most address in `X-Forwarded-For` that is not itself trusted.
pub fn client_ip(
    peer: Option<IpAddr>,
    xff: Option<&str>,
    config: &Config,
) -> (Option<IpAddr>, bool) {
    let Some(peer) = peer else {
        return (None, false);
    };
    let is_trusted = |ip: &IpAddr| config.trusted_proxies.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return (Some(peer), false);
    }
    let from_header = xff
        .into_iter()
        .flat_map(|v| v.rsplit(','))
        .map(str::trim)
        .map(str::parse::<IpAddr>);
    for ip in from_header {
        match ip {
            Ok(ip) if is_trusted(&ip) => continue,
            Ok(ip) => return (Some(ip), true),
            Err(_) => break,
        }
    }
    (Some(peer), true)
}
