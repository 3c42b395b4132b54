//! Emailed links and confirmation tickets: finding a link in a message, reading
//! and ageing the `link_tokens` rows of a gateway's store, and minting the login
//! page's confirmation tickets under a gateway's key file.
//!
//! The store access is for what no page shows (that only a hash of a token is
//! kept) and for time the tests cannot wait for (a 24-hour link). Minting a ticket
//! mirrors the gateway's sealing (XChaCha20-Poly1305 under the `at-rest v1` subkey,
//! purpose `confirmation-ticket`, the user id as associated data, the expiry as
//! big-endian seconds); a test first shows that a fresh minted ticket is accepted,
//! so an expired one being refused means what it says.

use crate::Gateway;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// The gateway's pages for these flows.
pub const FORGOT_PATH: &str = "/.portcullis/forgot";
pub const RESET_PATH: &str = "/.portcullis/reset";
pub const CONFIRM_EMAIL_PATH: &str = "/.portcullis/confirm-email";
pub const RESEND_CONFIRMATION_PATH: &str = "/.portcullis/confirm-email/resend";
pub const ACCOUNT_CONFIRM_EMAIL_PATH: &str = "/.portcullis/account/confirm-email";
pub const ACCOUNT_CONFIRM_PHONE_PATH: &str = "/.portcullis/account/confirm-phone";
pub const CHANGE_PASSWORD_PATH: &str = "/.portcullis/account/password";

/// The first absolute link in `text` whose path is `path` and whose query is
/// `token=…`: `https://id.acme.test/.portcullis/reset?token=…`.
pub fn link_in(text: &str, path: &str) -> Option<String> {
    let marker = format!("{path}?token=");
    let at = text.find(&marker)?;
    let start = text[..at]
        .rfind(|c: char| c.is_whitespace() || c == '"' || c == '>' || c == '=')
        .map_or(0, |i| i + 1);
    let token_start = at + marker.len();
    let token_len = text[token_start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(text.len() - token_start);
    Some(text[start..token_start + token_len].to_owned())
}

/// The `token` of a link found by [`link_in`].
pub fn token_of(link: &str) -> &str {
    link.split_once("?token=")
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("no token in {link}"))
}

/// The SHA-256 of a token in lower-case hex, as the store keeps it.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// One `link_tokens` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRow {
    pub purpose: String,
    pub token_hash: String,
    /// The address the link was sent to.
    pub data: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// A connection to a gateway's store, for its `link_tokens` table.
pub struct LinkStore {
    conn: sqlx::AnyConnection,
}

impl LinkStore {
    /// Connects to the store `gateway` runs on.
    pub async fn open(gateway: &Gateway) -> LinkStore {
        LinkStore {
            conn: crate::store::connect(gateway).await,
        }
    }

    /// The user's links, oldest first.
    pub async fn rows(&mut self, user_id: i64) -> Vec<LinkRow> {
        sqlx::query(
            "SELECT purpose, token_hash, data, created_at, expires_at, used_at \
             FROM link_tokens WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(&mut self.conn)
        .await
        .expect("the link_tokens table can be read")
        .iter()
        .map(|r| LinkRow {
            purpose: r.get("purpose"),
            token_hash: r.get("token_hash"),
            data: r.get("data"),
            created_at: r.get("created_at"),
            expires_at: r.get("expires_at"),
            used_at: r.get("used_at"),
        })
        .collect()
    }

    /// Makes the user's links of `purpose` as old as their lifetime and a second
    /// more: created and expiring that much earlier, as if time had passed.
    pub async fn age_past_expiry(&mut self, user_id: i64, purpose: &str) {
        let done = sqlx::query(
            "UPDATE link_tokens SET created_at = created_at - (expires_at - created_at) - 1, \
             expires_at = created_at - 1 WHERE user_id = $1 AND purpose = $2",
        )
        .bind(user_id)
        .bind(purpose)
        .execute(&mut self.conn)
        .await
        .expect("the link_tokens table can be written");
        assert!(
            done.rows_affected() > 0,
            "user {user_id} has no {purpose} link"
        );
    }
}

/// The seconds since the Unix epoch, as the gateway counts them.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64
}

/// A login-page confirmation ticket (`<user id>.<sealed expiry>`) for `user_id`,
/// expiring at `expires_at`, sealed under the key file of `gateway` (the harness
/// keeps it as `secret.key` in the gateway's directory).
pub fn mint_confirmation_ticket(gateway: &Gateway, user_id: i64, expires_at: i64) -> String {
    let path = gateway.dir().join("secret.key");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let key = hex::decode(text.trim()).expect("the key file holds hex");

    // subkey = HMAC-SHA256(key, "portcullis subkey v1\0" || label)
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(b"portcullis subkey v1\0at-rest v1");
    let subkey: [u8; 32] = mac.finalize().into_bytes().into();

    // A nonce from the inputs: unique enough for the few tickets a test mints.
    let mut seed = Sha256::new();
    seed.update(user_id.to_be_bytes());
    seed.update(expires_at.to_be_bytes());
    let nonce: [u8; 24] = seed.finalize()[..24].try_into().expect("24 of 32 bytes");

    let mut aad = b"confirmation-ticket\0".to_vec();
    aad.extend_from_slice(&user_id.to_be_bytes());
    let sealed = XChaCha20Poly1305::new(&subkey.into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &expires_at.to_be_bytes(),
                aad: &aad,
            },
        )
        .expect("sealing an in-memory buffer cannot fail");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    format!("{user_id}.{}", STANDARD_NO_PAD.encode(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_in_text_and_html() {
        let t =
            "Choose a new password:\nhttps://id.acme.test/.portcullis/reset?token=abc-_9\n\nBye";
        assert_eq!(
            link_in(t, RESET_PATH).as_deref(),
            Some("https://id.acme.test/.portcullis/reset?token=abc-_9")
        );
        let h = r#"<a href="https://x.test/.portcullis/reset?token=Zz_1" style="a">"#;
        assert_eq!(
            link_in(h, RESET_PATH).as_deref(),
            Some("https://x.test/.portcullis/reset?token=Zz_1")
        );
        assert_eq!(token_of("https://x.test/p?token=Zz_1"), "Zz_1");
        assert_eq!(link_in(t, CONFIRM_EMAIL_PATH), None);
    }
}
