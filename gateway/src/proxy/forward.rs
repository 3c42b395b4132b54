//! What the upstream receives: the normalised path, no spoofed identity, no
//! gateway cookies, and forwarding headers the gateway vouches for (SPEC 4.5).

use crate::auth::session::Session;
use crate::config::{same_header, Config};
use crate::pages::cookies::is_gateway_cookie;
use pingora::http::RequestHeader;
use pingora::prelude::*;
use std::net::IpAddr;

/// Headers a client may use to claim an address or scheme; dropped unless the
/// client is a trusted proxy.
const FORWARDING: &[&str] = &[
    "forwarded",
    "x-real-ip",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
];

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
    // The upstream sees the path the policy saw.
    let uri: http::Uri = path_and_query
        .parse()
        .map_err(|_| Error::explain(ErrorType::InternalError, "normalised path is not a URI"))?;
    req.set_uri(uri);

    // Remove every header that reads as an identity header once case and `_`/`-` are
    // ignored, then set the real ones, so no spelling of a spoofed value survives.
    let identity = config.identity_headers.all();
    let doomed: Vec<http::HeaderName> = req
        .headers
        .keys()
        .filter(|n| {
            let n = n.as_str();
            identity.iter().any(|h| same_header(n, h.as_str()))
                || (!trusted && FORWARDING.iter().any(|f| same_header(n, f)))
        })
        .cloned()
        .collect();
    for name in &doomed {
        while req.remove_header(name).is_some() {}
    }

    strip_gateway_cookies(req)?;

    // Forwarding headers: a trusted proxy's are extended, anyone else's were removed.
    if let Some(ip) = peer {
        let xff = match req
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        {
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
        req.insert_header(h.user.clone(), s.username.as_str())?;
        req.insert_header(h.user_id.clone(), s.user_id.to_string())?;
        if let Some(email) = &s.email {
            req.insert_header(h.email.clone(), email.as_str())?;
        }
        req.insert_header(h.tenant.clone(), tenant)?;
        req.insert_header(h.methods.clone(), s.methods.as_str())?;
    }
    Ok(())
}

/// Removes the gateway's cookies from every `Cookie` header; the upstream never
/// sees a session id.
fn strip_gateway_cookies(req: &mut RequestHeader) -> Result<()> {
    let values: Vec<String> = req
        .headers
        .get_all("cookie")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    if values.is_empty() {
        return Ok(());
    }
    let kept: Vec<&str> = values
        .iter()
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .filter(|pair| !is_gateway_cookie(pair.split('=').next().unwrap_or("")))
        .collect();
    while req.remove_header("cookie").is_some() {}
    if !kept.is_empty() {
        req.insert_header("cookie", kept.join("; "))?;
    }
    Ok(())
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
