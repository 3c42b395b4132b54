//! Reading the authenticator pages: the set-up page (QR code, key, `otpauth://`
//! URI and form fields) and the recovery-codes page (the codes and their
//! download link), as a person reads them off the screen.

use crate::browser::unescape_html;
use crate::form_field;

/// The gateway's own pages for the authenticator and recovery codes.
pub const AUTHENTICATOR_PATH: &str = "/.portcullis/account/authenticator";
pub const DISABLE_PATH: &str = "/.portcullis/account/authenticator/disable";
pub const RECOVERY_PATH: &str = "/.portcullis/account/recovery-codes";
pub const REGENERATE_PATH: &str = "/.portcullis/account/recovery-codes/new";
pub const ENROL_PATH: &str = "/.portcullis/enrol";
pub const VERIFY_APP_PATH: &str = "/.portcullis/verify-code?provider=authenticator";

/// An authenticator set-up page.
#[derive(Debug, Clone)]
pub struct SetUpPage {
    pub csrf: String,
    /// The sealed, expiring token holding the secret being set up.
    pub enrol: String,
    /// The key as shown for typing, in groups.
    pub key_text: String,
    /// The `otpauth://` URI as shown on the page.
    pub uri: String,
    /// The inline `<svg>…</svg>` QR code.
    pub svg: String,
    /// The page's error message, if any.
    pub error: Option<String>,
}

impl SetUpPage {
    /// Reads a set-up page; panics, with the page, when something is missing.
    pub fn parse(html: &str) -> SetUpPage {
        let need = |what: &str, v: Option<String>| {
            v.unwrap_or_else(|| panic!("no {what} on the set-up page:\n{html}"))
        };
        let svg = html.find("<svg").and_then(|start| {
            let end = html[start..].find("</svg>")? + start + "</svg>".len();
            Some(html[start..end].to_owned())
        });
        SetUpPage {
            csrf: need("csrf field", form_field(html, "csrf")),
            enrol: need("enrol field", form_field(html, "enrol")),
            key_text: need("key", element_text(html, "<dd class=\"secret\">")),
            uri: need(
                "otpauth URI",
                element_text(html, "<p class=\"secret secret-small\">"),
            ),
            svg: need("inline SVG", svg),
            error: alert(html),
        }
    }
}

/// The recovery codes listed on a recovery-codes page (empty when there is no
/// list).
pub fn recovery_codes(html: &str) -> Vec<String> {
    let Some(start) = html.find("<ul class=\"codes\"") else {
        return Vec::new();
    };
    let end = html[start..]
        .find("</ul>")
        .map_or(html.len(), |e| start + e);
    html[start..end]
        .split("<li>")
        .skip(1)
        .filter_map(|li| li.split("</li>").next())
        .map(|code| unescape_html(code.trim()))
        .collect()
}

/// The text behind the page's `data:` download link, decoded.
pub fn download_text(html: &str) -> Option<String> {
    let start = html.find("href=\"data:")? + "href=\"".len();
    let href = unescape_html(html[start..].split('"').next()?);
    let (meta, data) = href.split_once(',')?;
    assert!(
        meta.starts_with("data:text/plain"),
        "the download is not plain text: {meta}"
    );
    Some(percent_decode(data))
}

/// The first alert message of a page (`role="alert"` or an `alert` class).
pub fn alert(html: &str) -> Option<String> {
    let at = html
        .find("role=\"alert\"")
        .or_else(|| html.find("class=\"alert"))?;
    let open_end = html[at..].find('>')? + at + 1;
    let close = html[open_end..].find("</")? + open_end;
    Some(unescape_html(html[open_end..close].trim()))
}

/// The text inside the element whose opening tag is exactly `open_tag`.
fn element_text(html: &str, open_tag: &str) -> Option<String> {
    let start = html.find(open_tag)? + open_tag.len();
    let end = html[start..].find('<')? + start;
    Some(unescape_html(html[start..end].trim()))
}

/// `%XX` escapes decoded (as UTF-8).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_up_and_recovery_pages_are_read() {
        let html = r##"<p class="alert alert-error" role="alert">That code is not right.</p>
            <svg width="4" height="4"><path d="M0 0h1v1H0V0"/></svg>
            <dd class="secret">ABCD EFGH</dd>
            <p class="secret secret-small">otpauth:&#x2f;&#x2f;totp&#x2f;A:b?secret=X&amp;issuer=A</p>
            <input type="hidden" name="csrf" value="c1"><input type="hidden" name="enrol" value="e1">
            <ul class="codes" aria-label="Recovery codes"><li>AAAAA-BBBBB</li>
            <li>CCCCC-DDDDD</li></ul>
            <a href="data:text&#x2f;plain;charset=utf-8,x%0AAAAAA%2DBBBBB%0A" download>"##;
        let page = SetUpPage::parse(html);
        assert_eq!(page.csrf, "c1");
        assert_eq!(page.enrol, "e1");
        assert_eq!(page.key_text, "ABCD EFGH");
        assert_eq!(page.uri, "otpauth://totp/A:b?secret=X&issuer=A");
        assert!(page.svg.starts_with("<svg") && page.svg.ends_with("</svg>"));
        assert_eq!(page.error.as_deref(), Some("That code is not right."));
        assert_eq!(recovery_codes(html), ["AAAAA-BBBBB", "CCCCC-DDDDD"]);
        assert_eq!(download_text(html).as_deref(), Some("x\nAAAAA-BBBBB\n"));
    }
}
