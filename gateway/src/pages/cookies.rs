//! The gateway's cookies: names, reading and writing (SPEC 7).
//!
//! Every cookie is host-only (no `Domain`), `HttpOnly`, `SameSite=Lax` and
//! `Path=/`; under TLS it is also `Secure` and carries the `__Host-` prefix, and
//! then only the prefixed name is read, so a cookie planted over plain HTTP or
//! from a sibling domain is never taken for the gateway's.

use cookie::{Cookie, SameSite};

/// The names the gateway uses, without prefix.
pub const SESSION: &str = "portcullis_session";
pub const CSRF: &str = "portcullis_csrf";
pub const REMEMBER: &str = "portcullis_remember";

/// Whether a cookie name is one of the gateway's, in any of its forms; such
/// cookies are removed from requests before they go upstream.
pub fn is_gateway_cookie(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let bare = lower
        .strip_prefix("__host-")
        .or_else(|| lower.strip_prefix("__secure-"))
        .unwrap_or(&lower);
    bare.starts_with("portcullis_")
}

/// The name under which `base` is written and read on this connection.
pub fn name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

/// The gateway's cookies on one request, read from every `Cookie` header.
#[derive(Debug, Default, Clone)]
pub struct Jar {
    pairs: Vec<(String, String)>,
    secure: bool,
}

impl Jar {
    pub fn parse<'a>(headers: impl Iterator<Item = &'a str>, secure: bool) -> Jar {
        let mut pairs = Vec::new();
        for header in headers {
            for part in header.split(';') {
                let Some((k, v)) = part.trim().split_once('=') else {
                    continue;
                };
                if is_gateway_cookie(k) {
                    pairs.push((k.to_owned(), v.trim_matches('"').to_owned()));
                }
            }
        }
        Jar { pairs, secure }
    }

    /// The value of the gateway cookie `base`. When a name appears more than once
    /// (a planted duplicate), none is trusted.
    pub fn get(&self, base: &str) -> Option<&str> {
        let want = name(base, self.secure);
        let mut found = self.pairs.iter().filter(|(k, _)| *k == want);
        let first = found.next()?;
        match found.next() {
            Some(_) => None,
            None => Some(first.1.as_str()),
        }
    }
}

/// A `Set-Cookie` value for a session-lifetime cookie (`max_age = None`) or one
/// that lives `max_age` seconds.
pub fn set(base: &str, value: &str, secure: bool, max_age: Option<i64>) -> String {
    let mut c = Cookie::build((name(base, secure), value.to_owned()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax);
    if let Some(s) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(s));
    }
    c.build().to_string()
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear(base: &str, secure: bool) -> String {
    set(base, "", secure, Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_host_only_http_only_and_lax() {
        let c = set(SESSION, "abc", false, None);
        assert_eq!(c, "portcullis_session=abc; HttpOnly; SameSite=Lax; Path=/");
        let c = set(SESSION, "abc", true, Some(60));
        assert!(c.starts_with("__Host-portcullis_session=abc;"));
        assert!(c.contains("Secure") && c.contains("HttpOnly") && c.contains("Max-Age=60"));
        assert!(!c.to_ascii_lowercase().contains("domain"));
    }

    #[test]
    fn under_tls_only_the_prefixed_name_is_read() {
        let jar = Jar::parse(
            ["portcullis_session=plain; __Host-portcullis_session=tls"].into_iter(),
            true,
        );
        assert_eq!(jar.get(SESSION), Some("tls"));
        let jar = Jar::parse(["portcullis_session=plain"].into_iter(), true);
        assert_eq!(jar.get(SESSION), None);
    }

    #[test]
    fn a_duplicated_cookie_is_not_trusted() {
        let jar = Jar::parse(
            ["portcullis_session=a", "portcullis_session=b"].into_iter(),
            false,
        );
        assert_eq!(jar.get(SESSION), None);
    }

    #[test]
    fn gateway_cookies_are_recognised_in_every_form() {
        for n in [
            "portcullis_session",
            "__Host-portcullis_csrf",
            "__Secure-PORTCULLIS_x",
            "Portcullis_Remember",
        ] {
            assert!(is_gateway_cookie(n), "{n}");
        }
        assert!(!is_gateway_cookie("app_session"));
    }
}
