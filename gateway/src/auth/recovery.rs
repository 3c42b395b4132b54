//! Recovery codes: ten `XXXXX-XXXXX` codes from an alphabet without look-alike
//! characters (no 0/O, 1/I/L), 50 bits each. Stored encrypted (so they can be
//! shown again after a fresh proof) beside a keyed MAC used to find and consume
//! one in a single atomic statement.

use super::SecretKey;
use rand::Rng;

pub const COUNT: usize = 10;
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// Ten fresh codes.
pub fn generate() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..COUNT)
        .map(|_| {
            let mut s: String = (0..10)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect();
            s.insert(5, '-');
            s
        })
        .collect()
}

/// The canonical form of a typed code (upper case, no spaces or dash), or `None`
/// when it cannot be one.
pub fn normalise(typed: &str) -> Option<String> {
    let s: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (s.len() == 10 && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

/// The lookup MAC of a normalised code for a user.
pub fn mac(key: &SecretKey, user_id: i64, normalised: &str) -> String {
    hex::encode(key.mac("recovery", &[&user_id.to_be_bytes(), normalised.as_bytes()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_documented_shape_and_differ() {
        let codes = generate();
        assert_eq!(codes.len(), 10);
        for c in &codes {
            assert_eq!(c.len(), 11);
            assert_eq!(&c[5..6], "-");
            assert!(normalise(c).is_some(), "{c}");
            assert!(!c.contains(['0', 'O', '1', 'I', 'L']));
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
    }

    #[test]
    fn typed_codes_are_read_leniently_and_mac_per_user() {
        assert_eq!(normalise(" 7kq2m-xr4tp ").as_deref(), Some("7KQ2MXR4TP"));
        assert_eq!(normalise("7KQ2M"), None);
        assert_eq!(normalise("7KQ2M-XR4T0"), None);
        let k = SecretKey::random();
        assert_ne!(mac(&k, 1, "7KQ2MXR4TP"), mac(&k, 2, "7KQ2MXR4TP"));
    }
}
