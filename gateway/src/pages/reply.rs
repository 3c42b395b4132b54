//! What an own page answers: status, headers and body, independent of Pingora.

use bytes::Bytes;

/// Headers every page of the gateway carries. The pages hold no script, load
/// styles from the gateway only, and may not be framed.
pub const PAGE_SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
];

/// A complete response from the gateway itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Reply {
    /// An HTML page, not to be cached.
    pub fn html(status: u16, body: String) -> Reply {
        let mut headers = vec![
            ("content-type", "text/html; charset=utf-8".to_owned()),
            ("cache-control", "no-store".to_owned()),
        ];
        headers.extend(
            PAGE_SECURITY_HEADERS
                .iter()
                .map(|(k, v)| (*k, (*v).to_owned())),
        );
        Reply {
            status,
            headers,
            body: Bytes::from(body),
        }
    }

    /// A redirect to a path on the same host.
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply {
            status,
            headers: vec![
                ("location", location.to_owned()),
                ("cache-control", "no-store".to_owned()),
            ],
            body: Bytes::new(),
        }
    }

    /// A small JSON document.
    pub fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("cache-control", "no-store".to_owned()),
            ],
            body: Bytes::from(value.to_string()),
        }
    }

    /// A static asset that browsers may cache for an hour.
    pub fn asset(content_type: &str, body: impl Into<Bytes>) -> Reply {
        Reply {
            status: 200,
            headers: vec![
                ("content-type", content_type.to_owned()),
                ("cache-control", "public, max-age=3600".to_owned()),
                ("x-content-type-options", "nosniff".to_owned()),
            ],
            body: body.into(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }

    /// Sets a header, replacing any earlier value of the same name.
    pub fn replace_header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value));
        self
    }

    pub fn with_cookie(self, set_cookie: String) -> Reply {
        self.with_header("set-cookie", set_cookie)
    }
}
