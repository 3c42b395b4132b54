//! Authenticator apps (RFC 6238 TOTP) as the apps support them: SHA-1, six
//! digits, 30-second steps, 160-bit secrets, ±1 step of clock drift.
//!
//! This module finds *which* step a code belongs to; the store then accepts
//! that step only if it is newer than the last one used, in one atomic update,
//! so each step works at most once per user even when two requests race.

use data_encoding::BASE32_NOPAD;
use rand::RngCore;
use totp_rs::{Algorithm, TOTP};

pub const STEP_SECONDS: u64 = 30;
pub const DIGITS: usize = 6;
pub const SECRET_BYTES: usize = 20;

/// A new 160-bit secret from the OS CSPRNG.
pub fn new_secret() -> Vec<u8> {
    let mut s = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut s);
    s
}

/// The secret as apps take it: base32 without padding.
pub fn encode_secret(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

/// The base32 key in groups of four for people to type.
pub fn grouped(secret: &[u8]) -> String {
    let b32 = encode_secret(secret);
    b32.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses a base32 secret as people paste it: any case, spaces or dashes, with or
/// without `=` padding. Refuses secrets shorter than 128 bits (RFC 4226 §4).
pub fn decode_secret(typed: &str) -> Option<Vec<u8>> {
    let cleaned: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let bytes = BASE32_NOPAD.decode(cleaned.as_bytes()).ok()?;
    (bytes.len() >= 16).then_some(bytes)
}

/// The `otpauth://` URI for the QR code: issuer is the tenant's display name,
/// the label `issuer:user`.
pub fn otpauth_uri(secret: &[u8], issuer: &str, user: &str) -> String {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    // A colon inside the issuer would be read as the label separator.
    let issuer = issuer.replace(':', " ");
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        enc(&issuer),
        enc(user),
        encode_secret(secret),
        enc(&issuer)
    )
}

/// The code for the step containing `unix_time`.
pub fn code_at(secret: &[u8], unix_time: u64) -> String {
    TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 0, STEP_SECONDS, secret.to_vec())
        .generate(unix_time)
}

/// The step (`unix_time / 30`) whose code `typed` is, looking at the current step
/// and one on either side; `None` when it matches none of them.
pub fn matching_step(secret: &[u8], typed: &str, unix_time: u64) -> Option<i64> {
    let code: String = typed.chars().filter(char::is_ascii_digit).collect();
    if code.len() != DIGITS {
        return None;
    }
    let now_step = unix_time / STEP_SECONDS;
    let totp = TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 0, STEP_SECONDS, secret.to_vec());
    [now_step, now_step.saturating_sub(1), now_step + 1]
        .into_iter()
        .find_map(|step| {
            let candidate = totp.generate(step * STEP_SECONDS);
            let same: bool =
                subtle::ConstantTimeEq::ct_eq(candidate.as_bytes(), code.as_bytes()).into();
            same.then_some(step as i64)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows, truncated to six digits.
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (t, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(secret, t), eight[2..], "t = {t}");
        }
    }

    #[test]
    fn one_step_either_side_is_accepted_and_two_are_not() {
        let s = new_secret();
        let now = 1_800_000_000;
        let step = (now / STEP_SECONDS) as i64;
        assert_eq!(matching_step(&s, &code_at(&s, now), now), Some(step));
        assert_eq!(
            matching_step(&s, &code_at(&s, now - 30), now),
            Some(step - 1)
        );
        assert_eq!(
            matching_step(&s, &code_at(&s, now + 30), now),
            Some(step + 1)
        );
        assert_eq!(matching_step(&s, &code_at(&s, now - 60), now), None);
        assert_eq!(matching_step(&s, &code_at(&s, now + 60), now), None);
        assert_eq!(matching_step(&s, "12345", now), None);
    }

    #[test]
    fn pasted_secrets_are_read_in_any_case_with_spaces_or_padding() {
        let s = new_secret();
        let b32 = encode_secret(&s);
        assert_eq!(decode_secret(&b32.to_lowercase()), Some(s.clone()));
        assert_eq!(decode_secret(&grouped(&s)), Some(s.clone()));
        assert_eq!(decode_secret(&format!("{b32}====")), Some(s.clone()));
        assert_eq!(decode_secret("JBSWY3DP"), None, "40 bits is too short");
        assert_eq!(decode_secret("not base32!"), None);
    }

    #[test]
    fn the_uri_names_issuer_and_user() {
        let uri = otpauth_uri(&[0u8; 20], "Acme Corp", "alice");
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20Corp:alice?secret=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&issuer=Acme%20Corp\
             &algorithm=SHA1&digits=6&period=30"
        );
    }
}
