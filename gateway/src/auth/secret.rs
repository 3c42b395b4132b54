//! The secret key: 32 random bytes in a file, generated with mode 0600 on first
//! start. Every keyed value of the gateway (CSRF tokens, code hashes, remembered
//! browsers, encryption keys) uses a subkey derived from it with its own label,
//! so no two purposes ever share a key.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt;
use std::io::Write;
use std::path::Path;

type HmacSha256 = Hmac<Sha256>;

const KEY_BYTES: usize = 32;

/// The gateway's secret key. `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey([u8; KEY_BYTES]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// Reads the key file, creating it (and its directory) when absent.
    pub fn load_or_create(path: &Path) -> Result<SecretKey, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(text.trim())
                .ok_or_else(|| format!("{}: expected 64 hex digits", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(path),
            Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
        }
    }

    fn create(path: &Path) -> Result<SecretKey, String> {
        let mut key = [0u8; KEY_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .map_err(|e| format!("{}: cannot create: {e}", path.display()))?;
        writeln!(file, "{}", hex::encode(key)).map_err(|e| format!("{}: {e}", path.display()))?;
        tracing::info!(path = %path.display(), "generated a new secret key");
        Ok(SecretKey(key))
    }

    fn from_hex(s: &str) -> Option<SecretKey> {
        let bytes = hex::decode(s).ok()?;
        Some(SecretKey(bytes.try_into().ok()?))
    }

    /// A key for tests and the demo.
    pub fn random() -> SecretKey {
        let mut key = [0u8; KEY_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        SecretKey(key)
    }

    /// HMAC-SHA256 under the subkey for `purpose`, over the parts with length prefixes
    /// (so `("ab","c")` and `("a","bc")` differ).
    pub fn mac(&self, purpose: &str, parts: &[&[u8]]) -> [u8; 32] {
        let sub = self.subkey(purpose);
        let mut mac = HmacSha256::new_from_slice(&sub).expect("HMAC takes keys of any length");
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// The subkey for one purpose.
    pub fn subkey(&self, purpose: &str) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(b"portcullis subkey v1\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_file_is_private_and_reloads_to_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/secret.key");
        let a = SecretKey::load_or_create(&path).unwrap();
        let b = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(a.mac("x", &[b"1"]), b.mac("x", &[b"1"]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn purposes_and_part_boundaries_give_different_macs() {
        let k = SecretKey::random();
        assert_ne!(k.mac("a", &[b"x"]), k.mac("b", &[b"x"]));
        assert_ne!(k.mac("a", &[b"ab", b"c"]), k.mac("a", &[b"a", b"bc"]));
    }

    #[test]
    fn a_damaged_key_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        std::fs::write(&path, "not hex").unwrap();
        assert!(SecretKey::load_or_create(&path)
            .unwrap_err()
            .contains("64 hex digits"));
    }
}
