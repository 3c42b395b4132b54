//! An authenticator app of the tests' own: RFC 6238 TOTP (HMAC-SHA1, 30-second
//! steps) written from the RFCs, sharing no code with the gateway, so a test that
//! signs in with one of its codes checks the gateway against the standard rather
//! than against itself.
//!
//! Codes are picked by step relative to the current one ([`Totp::code`]), and
//! [`room_in_step`] waits out the last seconds of a step, so a test never sends a
//! code computed for one step that the gateway then reads in the next.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// RFC 6238 §4.1: the step length the apps use.
pub const STEP_SECONDS: u64 = 30;

/// The digits apps show.
pub const DIGITS: u32 = 6;

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// The current time step, `T = floor(unix time / 30)` (RFC 6238 §4.2).
pub fn current_step() -> u64 {
    unix_now() / STEP_SECONDS
}

/// Waits until at least `need` remains of the current step (at most `need`), so
/// the requests that follow are read by the gateway in the step the test chose
/// its codes for. `need` must be well under a step.
pub async fn room_in_step(need: Duration) {
    assert!(need.as_secs() < STEP_SECONDS / 2, "a step is only 30 s");
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the clock is after 1970");
        let into_step = now.as_millis() % u128::from(STEP_SECONDS * 1000);
        let left = Duration::from_millis((u128::from(STEP_SECONDS * 1000) - into_step) as u64);
        if left >= need {
            return;
        }
        tokio::time::sleep(left + Duration::from_millis(50)).await;
    }
}

/// RFC 4226 §5.3: HOTP(K, C) = Truncate(HMAC-SHA-1(K, C)) mod 10^digits.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(&counter.to_be_bytes());
    let hs = mac.finalize().into_bytes();
    // Dynamic truncation: the low four bits of the last byte pick the offset.
    let offset = usize::from(hs[19] & 0x0f);
    let binary = u32::from_be_bytes([hs[offset], hs[offset + 1], hs[offset + 2], hs[offset + 3]])
        & 0x7fff_ffff;
    let code = u64::from(binary) % 10u64.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

/// Reads a base32 key as a person might paste it: any case, with spaces or
/// dashes between groups, with or without `=` padding. `None` when it is not
/// base32.
pub fn decode_key(text: &str) -> Option<Vec<u8>> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let cleaned = cleaned.trim_end_matches('=').to_ascii_uppercase();
    BASE32_NOPAD.decode(cleaned.as_bytes()).ok()
}

/// One authenticator app entry: a shared secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Totp {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Totp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Totp({})", BASE32_NOPAD.encode(&self.secret))
    }
}

impl Totp {
    pub fn new(secret: Vec<u8>) -> Totp {
        Totp { secret }
    }

    /// From a base32 key in any of the forms [`decode_key`] reads.
    pub fn from_base32(text: &str) -> Totp {
        let secret = decode_key(text).unwrap_or_else(|| panic!("{text:?} is not a base32 key"));
        Totp { secret }
    }

    /// From an `otpauth://totp/…?secret=…` URI.
    pub fn from_uri(uri: &str) -> Totp {
        let query = uri
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_else(|| panic!("no query in {uri}"));
        let secret = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("secret="))
            .unwrap_or_else(|| panic!("no secret in {uri}"));
        Totp::from_base32(secret)
    }

    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// The six-digit code for time step `step`.
    pub fn code_at_step(&self, step: u64) -> String {
        hotp(&self.secret, step, DIGITS)
    }

    /// The six-digit code for the step `offset` steps from the current one.
    pub fn code(&self, offset: i64) -> String {
        let step = current_step()
            .checked_add_signed(offset)
            .expect("a step offset near now");
        self.code_at_step(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, the SHA-1 rows: 8 digits, the 20-byte ASCII secret.
    #[test]
    fn codes_match_the_rfc_6238_sha1_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(hotp(secret, time / STEP_SECONDS, 8), expected, "T = {time}");
        }
        let six = Totp::new(secret.to_vec());
        assert_eq!(six.code_at_step(59 / STEP_SECONDS), "287082");
    }

    /// RFC 4226 Appendix D: HOTP values for counters 0 and 9.
    #[test]
    fn hotp_matches_the_rfc_4226_test_values() {
        let secret = b"12345678901234567890";
        assert_eq!(hotp(secret, 0, 6), "755224");
        assert_eq!(hotp(secret, 9, 6), "520489");
    }

    #[test]
    fn keys_are_read_in_any_case_with_spaces_dashes_or_padding() {
        // RFC 4648 §10: BASE32("foobar") = "MZXW6YTBOI======".
        for typed in [
            "MZXW6YTBOI",
            "mzxw6ytboi",
            "MZXW 6YTB OI",
            "mzxw-6ytb-oi",
            "MZXW6YTBOI======",
        ] {
            assert_eq!(
                decode_key(typed).as_deref(),
                Some(&b"foobar"[..]),
                "{typed}"
            );
        }
        assert_eq!(decode_key("not base32!"), None);
    }

    #[test]
    fn the_secret_is_read_from_an_otpauth_uri() {
        let t = Totp::from_uri("otpauth://totp/A:b?secret=MZXW6YTBOI&issuer=A&digits=6");
        assert_eq!(t.secret(), b"foobar");
    }
}
