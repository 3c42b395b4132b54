//! Return targets after sign-in (SPEC 5.4).
//!
//! A return target is only ever a path on the same tenant host. Rather than
//! listing bad payloads, a value is accepted only when it is an origin-form path
//! built from printable URI characters, and it still reads as one after
//! percent-decoding (browsers strip tabs and newlines and treat `\` as `/`, so
//! `/%09/evil` or `/\evil` can turn into `//evil`, another host). Anything else
//! becomes `/`.

use std::fmt;

/// A same-host path (with optional query) that is safe to put in `Location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnPath(String);

const MAX_RETURN_BYTES: usize = 2048;

impl ReturnPath {
    pub fn root() -> ReturnPath {
        ReturnPath("/".to_owned())
    }

    /// Checks `raw`; falls back to `/` for anything that is not a safe local path.
    pub fn parse_or_root(raw: &str) -> ReturnPath {
        Self::parse(raw).unwrap_or_else(Self::root)
    }

    pub fn parse(raw: &str) -> Option<ReturnPath> {
        if raw.len() > MAX_RETURN_BYTES || !is_local_path(raw) {
            return None;
        }
        // Check again as a browser would read it once decoded.
        let decoded: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
        let decoded = String::from_utf8_lossy(&decoded);
        let stripped: String = decoded.chars().filter(|c| !c.is_control()).collect();
        if decoded.chars().any(char::is_control) || !is_local_path(&stripped) {
            return None;
        }
        // Dot and empty segments resolve into other paths in the browser
        // (`/.//evil` becomes `//evil`): only plain paths return.
        if !plain_segments(&decoded) {
            return None;
        }
        // The gateway's own sign-in and sign-out pages are never a destination.
        if raw.starts_with("/.portcullis/login") || raw.starts_with("/.portcullis/logout") {
            return Some(Self::root());
        }
        Some(ReturnPath(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether the path part (before `?` or `#`) has no `.`, `..` or empty segment,
/// a trailing slash aside.
fn plain_segments(s: &str) -> bool {
    let path = s.split(['?', '#']).next().unwrap_or("");
    let inner = path.strip_prefix('/').unwrap_or(path);
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    inner.is_empty()
        || inner
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// Starts with exactly one `/`, holds no backslash, and only printable ASCII.
fn is_local_path(s: &str) -> bool {
    let b = s.as_bytes();
    b.first() == Some(&b'/')
        && b.get(1) != Some(&b'/')
        && !s.contains('\\')
        && b.iter().all(|&c| (0x21..0x7f).contains(&c))
}

impl fmt::Display for ReturnPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_kept() {
        for p in ["/", "/app", "/app/x?y=1&z=%2F", "/a#frag"] {
            assert_eq!(ReturnPath::parse_or_root(p).as_str(), p);
        }
    }

    #[test]
    fn hostile_return_targets_become_root() {
        let hostile = [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%09/evil.example",
            "/%0a/evil.example",
            "/%2F/evil.example",
            "/%5Cevil.example",
            "/\t/evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "evil.example",
            "",
            "/ spaced",
            "/é",
            "/.//evil.example",
            "/..//evil.example",
            "/a/../..//evil.example",
            "/%2e/%2e%2e//evil.example",
            "/a//b",
        ];
        for p in hostile {
            assert_eq!(ReturnPath::parse_or_root(p).as_str(), "/", "{p:?}");
        }
    }

    #[test]
    fn sign_in_pages_are_not_destinations() {
        assert_eq!(
            ReturnPath::parse_or_root("/.portcullis/login?return=/x").as_str(),
            "/"
        );
        assert_eq!(
            ReturnPath::parse_or_root("/.portcullis/account").as_str(),
            "/.portcullis/account"
        );
    }
}
