//! A browser stand-in: an HTTP client with a cookie jar that does not follow
//! redirects, and the sign-in steps a person takes with it.

use reqwest::cookie::{CookieStore, Jar};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderValue, ACCEPT, COOKIE};
use reqwest::{Method, RequestBuilder, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// What a browser sends when the user follows a link.
const NAVIGATION_ACCEPT: &str = "text/html,application/xhtml+xml,*/*;q=0.8";

/// Resolves every host name to loopback, so a test picks the tenant by the URL's
/// host (`http://acme.test:PORT/`) and the `Host` header and cookie domains follow.
struct Loopback;

impl Resolve for Loopback {
    fn resolve(&self, _name: Name) -> Resolving {
        let addrs: Addrs = Box::new(std::iter::once(SocketAddr::from(([127, 0, 0, 1], 0))));
        Box::pin(async move { Ok(addrs) })
    }
}

/// An HTTP client with cookies, pointed at one gateway port.
#[derive(Clone)]
pub struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
    port: u16,
}

impl Browser {
    /// A browser with an empty cookie jar for the gateway on `port`.
    pub fn new(port: u16) -> Browser {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(Loopback))
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("the HTTP client builds");
        Browser { client, jar, port }
    }

    /// `http://HOST:PORT/PATH`.
    pub fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.port)
    }

    /// A request to build on; cookies from the jar are added unless the request sets
    /// its own `Cookie` header.
    pub fn request(&self, method: Method, host: &str, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(host, path))
    }

    /// A GET as a script or API client sends it (`Accept: */*`).
    pub async fn get(&self, host: &str, path: &str) -> Response {
        send(self.request(Method::GET, host, path).header(ACCEPT, "*/*")).await
    }

    /// A GET as a browser sends it when the user follows a link (accepts HTML).
    pub async fn navigate(&self, host: &str, path: &str) -> Response {
        send(
            self.request(Method::GET, host, path)
                .header(ACCEPT, NAVIGATION_ACCEPT),
        )
        .await
    }

    /// A GET as an API client sends it, with its own `Cookie` header instead of the
    /// jar's.
    pub async fn get_with_cookie(&self, host: &str, path: &str, cookie: &str) -> Response {
        send(
            self.request(Method::GET, host, path)
                .header(ACCEPT, "application/json")
                .header(COOKIE, cookie),
        )
        .await
    }

    /// Posts an urlencoded form.
    pub async fn post_form(&self, host: &str, path: &str, fields: &[(&str, &str)]) -> Response {
        send(self.request(Method::POST, host, path).form(fields)).await
    }

    /// Opens the page at `path` and returns the `csrf` field of its form.
    pub async fn csrf(&self, host: &str, path: &str) -> String {
        let page = self.navigate(host, path).await;
        let status = page.status();
        let html = page.text().await.expect("the page has a body");
        form_field(&html, "csrf")
            .unwrap_or_else(|| panic!("no csrf field on {path} (status {status}):\n{html}"))
    }

    /// Signs in as a person does: opens the login page, then posts its form with the
    /// user name, password and `return_to`. Returns the answer to the POST.
    ///
    /// The browser must not be signed in on `host` yet: the login page sends a
    /// signed-in browser on to its return path. To sign in again, keep a CSRF token
    /// from before and use [`Browser::submit_login`].
    pub async fn login(
        &self,
        host: &str,
        username: &str,
        password: &str,
        return_to: &str,
    ) -> Response {
        let csrf = self.csrf(host, crate::LOGIN_PATH).await;
        self.submit_login(host, &csrf, username, password, return_to)
            .await
    }

    /// Posts the login form with a CSRF token taken from an earlier login page.
    pub async fn submit_login(
        &self,
        host: &str,
        csrf: &str,
        username: &str,
        password: &str,
        return_to: &str,
    ) -> Response {
        self.post_form(
            host,
            crate::LOGIN_PATH,
            &[
                ("csrf", csrf),
                ("username", username),
                ("password", password),
                ("return", return_to),
            ],
        )
        .await
    }

    /// Signs in and asserts it worked (303 and a session cookie); returns the
    /// session cookie's value.
    pub async fn sign_in(&self, host: &str, username: &str, password: &str) -> String {
        let r = self.login(host, username, password, "/").await;
        let status = r.status();
        assert_eq!(
            status,
            303,
            "signing in as {username} on {host} failed: {}",
            r.text().await.unwrap_or_default()
        );
        self.cookie(host, crate::SESSION_COOKIE)
            .expect("a successful sign-in sets the session cookie")
    }

    /// Signs out as a person does: opens the logout page, then posts its form.
    pub async fn logout(&self, host: &str) -> Response {
        let csrf = self.csrf(host, crate::LOGOUT_PATH).await;
        self.post_form(host, crate::LOGOUT_PATH, &[("csrf", &csrf)])
            .await
    }

    /// The value of cookie `name` that the jar would send to `host`.
    pub fn cookie(&self, host: &str, name: &str) -> Option<String> {
        let url = self.url(host, "/").parse().expect("a valid URL");
        let header = self.jar.cookies(&url)?;
        let header = header.to_str().ok()?.to_owned();
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    /// Puts a cookie in the jar as if `host` had set it (`"name=value"`, attributes
    /// allowed).
    pub fn add_cookie(&self, host: &str, cookie: &str) {
        let url = self.url(host, "/").parse().expect("a valid URL");
        let value = HeaderValue::from_str(cookie).expect("a valid cookie");
        self.jar.set_cookies(&mut std::iter::once(&value), &url);
    }
}

async fn send(request: RequestBuilder) -> Response {
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("request failed: {e:?}"))
}

/// The `value` of the form field `name` in an HTML page (`<input name="NAME"
/// value="…">`), with HTML character references decoded.
pub fn form_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let input = html
        .split('<')
        .find(|tag| tag.starts_with("input") && tag.contains(&marker))?;
    let value = input.split("value=\"").nth(1)?.split('"').next()?;
    Some(unescape_html(value))
}

/// Text with its HTML character references decoded.
pub(crate) fn unescape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_read_and_unescaped() {
        let html = r#"<form><input type="hidden" name="csrf" value="ab-_9">
            <input type="hidden" name="return" value="&#x2f;app?a=1&amp;b=2"></form>"#;
        assert_eq!(form_field(html, "csrf").as_deref(), Some("ab-_9"));
        assert_eq!(form_field(html, "return").as_deref(), Some("/app?a=1&b=2"));
        assert_eq!(form_field(html, "missing"), None);
    }
}
