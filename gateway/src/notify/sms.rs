//! Text-message delivery: the log (default), Twilio's Messages API, or a JSON
//! webhook, through reqwest with time limits.

use super::{Message, SendError, NOTIFY_TARGET};
use crate::config::{SmsDelivery, SmsSettings};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

pub struct SmsSender {
    delivery: SmsDelivery,
    client: reqwest::Client,
}

impl SmsSender {
    pub fn new(settings: &SmsSettings) -> SmsSender {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with rustls and timeouts builds");
        SmsSender {
            delivery: settings.delivery.clone(),
            client,
        }
    }

    pub fn is_log_mode(&self) -> bool {
        matches!(self.delivery, SmsDelivery::Log)
    }

    /// Sends `m.text` to the number `m.to`; `code` goes to the webhook as its own field.
    pub async fn send(&self, m: Message, tenant: &str, code: &str) -> Result<(), SendError> {
        let err = |cause: String| SendError {
            provider: "sms",
            cause,
        };
        let request = match &self.delivery {
            SmsDelivery::Log => {
                tracing::warn!(target: NOTIFY_TARGET, to = %m.to, body = %m.text, "sms (log mode, not sent)");
                return Ok(());
            }
            SmsDelivery::Twilio {
                account_sid,
                auth_token,
                sender,
                api_base,
            } => self
                .client
                .post(format!(
                    "{api_base}/2010-04-01/Accounts/{account_sid}/Messages.json"
                ))
                .basic_auth(account_sid, Some(auth_token))
                .form(&[
                    ("To", m.to.as_str()),
                    ("From", sender.as_str()),
                    ("Body", m.text.as_str()),
                ]),
            SmsDelivery::Webhook { url, secret } => {
                let body = json!({ "to": m.to, "body": m.text, "code": code, "tenant": tenant })
                    .to_string();
                let mut r = self
                    .client
                    .post(url)
                    .header("content-type", "application/json");
                if let Some(secret) = secret {
                    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                        .expect("HMAC takes any key");
                    mac.update(body.as_bytes());
                    let sig = hex::encode(mac.finalize().into_bytes());
                    r = r.header("x-portcullis-signature", format!("sha256={sig}"));
                }
                r.body(body)
            }
        };
        let send = async move {
            let resp = request
                .send()
                .await
                .map_err(|e| err(format!("request failed: {e}")))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(());
            }
            // Twilio explains failures in a small JSON body; keep a bounded part of it.
            let text = resp.text().await.unwrap_or_default();
            let snippet: String = text.chars().take(300).collect();
            Err(err(format!("HTTP {status}: {snippet}")))
        };
        crate::store::on_runtime(send)
            .await
            .map_err(|e| err(e.to_string()))?
    }
}
