//! Reading the gateway's answers as a test checks them: where a redirect points,
//! which cookies it sets, and a page's status, HTML and messages.

use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::Response;

/// The `Location` header, or `""` when there is none.
pub fn location(r: &Response) -> &str {
    r.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The whole `Set-Cookie` header that sets cookie `name`, if the answer sets it.
pub fn set_cookie(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The status and the body of a page.
pub async fn page(r: Response) -> (u16, String) {
    let status = r.status().as_u16();
    (status, r.text().await.expect("the page has a body"))
}

/// The text of the element that follows `marker` (up to the next tag), trimmed.
pub fn text_after<'a>(html: &'a str, marker: &str) -> Option<&'a str> {
    let start = html.find(marker)? + marker.len();
    html[start..].split('<').next().map(str::trim)
}

/// The text of the page's error alert, if any.
pub fn alert(html: &str) -> Option<&str> {
    text_after(html, "role=\"alert\">")
}
