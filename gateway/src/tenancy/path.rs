//! Request path normalisation (SPEC 4.3).
//!
//! Routing decisions are taken on a normalised path and the upstream receives that
//! same path, so a path that the upstream would read differently from the gateway
//! cannot exist. Percent-encoded unreserved characters are decoded, dot segments
//! removed (RFC 3986 §5.2.4) and repeated slashes collapsed. Anything that cannot be
//! normalised without changing meaning is refused as a whole class: an encoded
//! slash or backslash, a raw backslash, NUL or any other control character,
//! malformed percent-encoding, and paths that are not origin-form.

use std::fmt;

/// A request path that is safe to route on and to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalPath(String);

/// Why a path was refused; every variant answers 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    NotOriginForm,
    EncodedSeparator,
    ControlCharacter,
    Backslash,
    BadPercentEncoding,
    NonAscii,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotOriginForm => "the path does not start with /",
            Self::EncodedSeparator => "the path contains an encoded slash or backslash",
            Self::ControlCharacter => "the path contains a control character",
            Self::Backslash => "the path contains a backslash",
            Self::BadPercentEncoding => "the path contains malformed percent-encoding",
            Self::NonAscii => "the path contains raw non-ASCII bytes",
        })
    }
}

impl NormalPath {
    /// Normalises the path part of a request target (no query).
    pub fn parse(raw: &str) -> Result<NormalPath, PathError> {
        if !raw.starts_with('/') {
            return Err(PathError::NotOriginForm);
        }
        let decoded = decode_unreserved(raw)?;
        Ok(NormalPath(remove_dot_segments(&decoded)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `prefix` matches this path on a segment boundary: `/api` matches
    /// `/api` and `/api/x` but not `/apix`.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        let p = prefix.trim_end_matches('/');
        if p.is_empty() {
            return true;
        }
        match self.0.strip_prefix(p) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }
}

/// Decodes `%XX` where XX is an unreserved character and upper-cases the hex of
/// every other escape, refusing the escapes and bytes that change meaning.
fn decode_unreserved(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let (Some(&h), Some(&l)) = (bytes.get(i + 1), bytes.get(i + 2)) else {
                    return Err(PathError::BadPercentEncoding);
                };
                let (Some(h), Some(l)) = (hex_value(h), hex_value(l)) else {
                    return Err(PathError::BadPercentEncoding);
                };
                let c = h * 16 + l;
                if c == b'/' || c == b'\\' {
                    return Err(PathError::EncodedSeparator);
                }
                if c < 0x20 || c == 0x7f {
                    return Err(PathError::ControlCharacter);
                }
                if is_unreserved(c) {
                    out.push(c as char);
                } else {
                    out.push('%');
                    out.push(char::from(b"0123456789ABCDEF"[usize::from(h)]));
                    out.push(char::from(b"0123456789ABCDEF"[usize::from(l)]));
                }
                i += 3;
                continue;
            }
            b'\\' => return Err(PathError::Backslash),
            0..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
            0x80.. => return Err(PathError::NonAscii),
            _ => out.push(b as char),
        }
        i += 1;
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

/// Removes `.` and `..` segments and empty segments (repeated slashes); a trailing
/// slash is kept, since upstreams often treat `/dir/` and `/dir` differently.
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing_slash = path.ends_with('/');
    for segment in path.split('/') {
        match segment {
            "" => {}
            "." => trailing_slash = true,
            ".." => {
                segments.pop();
                trailing_slash = true;
            }
            s => {
                segments.push(s);
                trailing_slash = false;
            }
        }
    }
    if path.ends_with('/') {
        trailing_slash = true;
    }
    let mut out = String::with_capacity(path.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(p: &str) -> Result<String, PathError> {
        NormalPath::parse(p).map(|p| p.0)
    }

    #[test]
    fn dot_segments_and_repeated_slashes_are_removed() {
        assert_eq!(norm("/a/./b/../c").unwrap(), "/a/c");
        assert_eq!(norm("//admin///x").unwrap(), "/admin/x");
        assert_eq!(norm("/../../etc").unwrap(), "/etc");
        assert_eq!(norm("/a/b/..").unwrap(), "/a/");
        assert_eq!(norm("/").unwrap(), "/");
        assert_eq!(norm("/dir/").unwrap(), "/dir/");
    }

    #[test]
    fn encoded_dots_count_as_dot_segments() {
        assert_eq!(norm("/public/%2e%2e/admin").unwrap(), "/admin");
        assert_eq!(norm("/public/.%2E/admin").unwrap(), "/admin");
        assert_eq!(norm("/%7Euser/%61").unwrap(), "/~user/a");
    }

    #[test]
    fn reserved_escapes_stay_encoded_in_upper_case() {
        assert_eq!(norm("/a%3fb%20c").unwrap(), "/a%3Fb%20c");
    }

    #[test]
    fn paths_that_cannot_be_normalised_safely_are_refused() {
        assert_eq!(norm("/a%2fb"), Err(PathError::EncodedSeparator));
        assert_eq!(norm("/a%2Fb"), Err(PathError::EncodedSeparator));
        assert_eq!(norm("/a%5cb"), Err(PathError::EncodedSeparator));
        assert_eq!(norm("/a\\b"), Err(PathError::Backslash));
        assert_eq!(norm("/a%00b"), Err(PathError::ControlCharacter));
        assert_eq!(norm("/a%09b"), Err(PathError::ControlCharacter));
        assert_eq!(norm("/a%zz"), Err(PathError::BadPercentEncoding));
        assert_eq!(norm("/a%4"), Err(PathError::BadPercentEncoding));
        assert_eq!(norm("*"), Err(PathError::NotOriginForm));
        assert_eq!(norm("http://x/"), Err(PathError::NotOriginForm));
    }

    #[test]
    fn prefixes_match_on_segment_boundaries() {
        let p = NormalPath::parse("/api/v1").unwrap();
        assert!(p.has_prefix("/api"));
        assert!(p.has_prefix("/api/"));
        assert!(p.has_prefix("/"));
        assert!(!p.has_prefix("/ap"));
        assert!(!NormalPath::parse("/apix").unwrap().has_prefix("/api"));
    }
}
