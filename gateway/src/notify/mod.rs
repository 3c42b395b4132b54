//! Delivering codes and links: email over SMTP and text messages through Twilio
//! or a webhook, or to the log in development mode.
//!
//! Sending runs on the long-lived store runtime (SMTP connections and HTTP pools
//! stay on the runtime that made them) with a time limit. A failure is returned
//! as [`SendError`] with the cause for the log; the user sees only that this
//! provider failed and may choose another.

mod email;
mod sms;

pub use email::EmailSender;
pub use sms::SmsSender;

use crate::config::Config;

/// Target of the lines that carry codes in `log` mode.
pub const NOTIFY_TARGET: &str = "portcullis::notify";

/// A message to one recipient, in text and HTML.
#[derive(Debug, Clone)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why a message did not go out. The text is for the log, never for a browser.
#[derive(Debug, thiserror::Error)]
#[error("{provider}: {cause}")]
pub struct SendError {
    pub provider: &'static str,
    pub cause: String,
}

/// Both senders, built from the configuration.
pub struct Notifier {
    pub email: EmailSender,
    pub sms: SmsSender,
}

impl Notifier {
    pub fn new(config: &Config) -> Notifier {
        Notifier {
            email: EmailSender::new(&config.email),
            sms: SmsSender::new(&config.sms),
        }
    }
}

/// The sign-in code message for a tenant, by email.
pub fn code_email(to: &str, tenant: &str, code: &str, minutes: u64) -> Message {
    let text = format!(
        "Your {tenant} sign-in code is {code}\n\nIt expires in {minutes} minutes. \
         If you did not try to sign in to {tenant}, ignore this message and consider changing your password.\n"
    );
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let html = format!(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;color:#111\">\
         <p>Your <strong>{t}</strong> sign-in code is</p>\
         <p style=\"font-size:28px;letter-spacing:4px;font-weight:700\">{code}</p>\
         <p>It expires in {minutes} minutes. If you did not try to sign in to {t}, \
         ignore this message and consider changing your password.</p></body></html>",
        t = esc(tenant),
    );
    Message {
        to: to.to_owned(),
        subject: format!("Your {tenant} sign-in code"),
        text,
        html,
    }
}

/// The sign-in code message for a tenant, by SMS.
pub fn code_sms(to: &str, tenant: &str, code: &str, minutes: u64) -> Message {
    let text = format!("{code} is your {tenant} sign-in code. It expires in {minutes} minutes.");
    Message {
        to: to.to_owned(),
        subject: String::new(),
        html: String::new(),
        text,
    }
}

/// A message with a link (password reset, email confirmation), naming the tenant.
pub fn link_email(
    to: &str,
    tenant: &str,
    subject: &str,
    intro: &str,
    action: &str,
    link: &str,
    outro: &str,
) -> Message {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let text = format!("{intro}\n\n{action}:\n{link}\n\n{outro}\n\n{tenant}\n");
    let html = format!(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;color:#111\">\
         <p>{}</p><p><a href=\"{}\" style=\"display:inline-block;background:#2563eb;color:#fff;\
         padding:10px 18px;border-radius:6px;text-decoration:none;font-weight:600\">{}</a></p>\
         <p style=\"font-size:13px;color:#555\">Or open this address: {}</p><p>{}</p>\
         <p style=\"color:#555\">{}</p></body></html>",
        esc(intro),
        esc(link),
        esc(action),
        esc(link),
        esc(outro),
        esc(tenant)
    );
    Message {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text,
        html,
    }
}

/// `j•••@example.com`, `•••• 0100`: enough for a user to recognise the address.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".to_owned(),
    }
}

pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits.iter().skip(digits.len().saturating_sub(4)).collect();
    format!("•••• {tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked_but_recognisable() {
        assert_eq!(mask_email("jordan@example.com"), "j•••@example.com");
        assert_eq!(mask_phone("+1 555 0100"), "•••• 0100");
    }

    #[test]
    fn code_messages_name_the_tenant_and_escape_it_in_html() {
        let m = code_email("a@b.c", "<Acme>", "123456", 5);
        assert!(m.text.contains("<Acme> sign-in code is 123456"));
        assert!(m.html.contains("&lt;Acme&gt;") && !m.html.contains("<Acme>"));
        assert!(code_sms("+1", "Acme", "654321", 5)
            .text
            .starts_with("654321 is your Acme"));
    }
}
