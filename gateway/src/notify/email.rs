//! Email delivery with lettre: SMTP in plain, STARTTLS or TLS mode, with
//! credentials, or the log in development mode.

use super::{Message, SendError, NOTIFY_TARGET};
use crate::config::{EmailDelivery, EmailSettings, SmtpSecurity};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

pub struct EmailSender {
    from: String,
    delivery: EmailDelivery,
}

impl EmailSender {
    pub fn new(settings: &EmailSettings) -> EmailSender {
        EmailSender {
            from: settings.from.clone(),
            delivery: settings.delivery.clone(),
        }
    }

    pub fn is_log_mode(&self) -> bool {
        matches!(self.delivery, EmailDelivery::Log)
    }

    pub async fn send(&self, m: Message) -> Result<(), SendError> {
        let err = |cause: String| SendError {
            provider: "email",
            cause,
        };
        let smtp = match &self.delivery {
            EmailDelivery::Log => {
                tracing::warn!(target: NOTIFY_TARGET, to = %m.to, subject = %m.subject, body = %m.text, "email (log mode, not sent)");
                return Ok(());
            }
            EmailDelivery::Smtp(s) => s.clone(),
        };
        let from: Mailbox = self
            .from
            .parse()
            .map_err(|e| err(format!("bad from address: {e}")))?;
        let to: Mailbox =
            m.to.parse()
                .map_err(|e| err(format!("bad recipient address: {e}")))?;
        let message = lettre::Message::builder()
            .from(from)
            .to(to)
            .subject(m.subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(m.text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(m.html),
                    ),
            )
            .map_err(|e| err(format!("cannot build the message: {e}")))?;
        let send = async move {
            let builder = match smtp.security {
                SmtpSecurity::Plain => {
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                }
                SmtpSecurity::StartTls => {
                    AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                        .map_err(|e| err(e.to_string()))?
                }
                SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
                    .map_err(|e| err(e.to_string()))?,
            };
            let mut builder = builder.port(smtp.port).timeout(Some(smtp.timeout));
            if let (Some(u), Some(p)) = (&smtp.username, &smtp.password) {
                builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
            }
            // lettre's timeout covers connecting only (lettre#1027); a server that
            // accepts and then never speaks is cut off here.
            let limit = smtp.timeout;
            match tokio::time::timeout(limit, builder.build().send(message)).await {
                Ok(sent) => sent.map(|_| ()).map_err(|e| err(e.to_string())),
                Err(_) => Err(err(format!(
                    "the SMTP server did not finish within {limit:?}"
                ))),
            }
        };
        crate::store::on_runtime(send)
            .await
            .map_err(|e| err(e.to_string()))?
    }
}
