//! Canonical login names (SPEC 7): NFKC, then Unicode case folding, then NFKC
//! again, so that `Alice`, `ALICE` and `ａｌｉｃｅ` are one account and one lockout
//! counter.

use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// Longest login name accepted, in bytes after normalisation.
pub const MAX_LOGIN_NAME_BYTES: usize = 254;

/// A normalised user name or email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoginName(String);

impl LoginName {
    /// Normalises `raw`; `None` when it is empty, too long or holds control characters.
    pub fn parse(raw: &str) -> Option<LoginName> {
        let nfkc: String = raw.trim().nfkc().collect();
        let folded: String = caseless::default_case_fold_str(&nfkc).nfkc().collect();
        if folded.is_empty() || folded.len() > MAX_LOGIN_NAME_BYTES {
            return None;
        }
        if folded.chars().any(|c| c.is_control()) {
            return None;
        }
        Some(LoginName(folded))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LoginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_compatibility_forms_are_one_name() {
        let a = LoginName::parse("Alice").unwrap();
        assert_eq!(LoginName::parse("ALICE").unwrap(), a);
        assert_eq!(LoginName::parse("ａｌｉｃｅ").unwrap(), a);
        assert_eq!(LoginName::parse("  alice ").unwrap(), a);
        assert_eq!(LoginName::parse("Straße").unwrap().as_str(), "strasse");
    }

    #[test]
    fn empty_long_and_control_names_are_refused() {
        assert!(LoginName::parse("").is_none());
        assert!(LoginName::parse("   ").is_none());
        assert!(LoginName::parse("a\u{0}b").is_none());
        assert!(LoginName::parse(&"a".repeat(300)).is_none());
    }
}
