//! A real SMTP server on loopback that keeps every message it is given, so a test
//! reads the code from the mail the gateway sent.
//!
//! It speaks enough of RFC 5321 for lettre: the greeting, `EHLO`/`HELO` (with
//! `AUTH PLAIN LOGIN` advertised when it has credentials), `AUTH PLAIN` and
//! `AUTH LOGIN` (RFC 4954), `MAIL`, `RCPT`, `DATA` with dot-unstuffing, `RSET`,
//! `NOOP` and `QUIT`. With credentials, `MAIL` is refused until a client has
//! authenticated. [`Mail`] decodes what lettre writes: MIME parts in 7bit,
//! quoted-printable or base64, and RFC 2047 encoded words in headers.
//!
//! The server runs on a thread of its own, so it answers while the test blocks
//! on a CLI command, and it stops when its handle is dropped.

use crate::server::{lock, LoopbackServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The longest command or data line accepted; longer input ends the connection.
const MAX_LINE: usize = 64 * 1024;

/// The `[email]` settings table for an SMTP server on loopback `port` (plain SMTP,
/// a three-second timeout), sending as `from` (`Name <address>`).
pub fn email_settings(port: u16, from: &str) -> String {
    format!(
        "[email]\nmode = \"smtp\"\nfrom = \"{from}\"\n\
         smtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nsmtp_security = \"plain\"\n\
         timeout = \"3s\"\n"
    )
}

/// How an [`SmtpServer`] behaves.
#[derive(Debug, Clone)]
pub struct SmtpOptions {
    /// User name and password a client must authenticate with before `MAIL`;
    /// `None` accepts mail from anyone and advertises no `AUTH`.
    pub credentials: Option<(String, String)>,
    /// The SASL mechanisms advertised (and accepted) when there are credentials.
    pub mechanisms: Vec<&'static str>,
}

impl Default for SmtpOptions {
    fn default() -> SmtpOptions {
        SmtpOptions {
            credentials: None,
            mechanisms: vec!["PLAIN", "LOGIN"],
        }
    }
}

impl SmtpOptions {
    /// Requires `AUTH` with this user name and password.
    pub fn credentials(mut self, user: &str, password: &str) -> SmtpOptions {
        self.credentials = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// Advertises only these mechanisms (`"PLAIN"`, `"LOGIN"`).
    pub fn mechanisms(mut self, mechanisms: &[&'static str]) -> SmtpOptions {
        self.mechanisms = mechanisms.to_vec();
        self
    }
}

/// One `AUTH` exchange, successful or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthAttempt {
    pub mechanism: String,
    pub user: String,
    pub accepted: bool,
}

/// What the server shares with its connections.
#[derive(Default)]
struct Shared {
    options: SmtpOptions,
    /// Messages not yet taken by [`SmtpServer::next_mail`].
    unread: Mutex<VecDeque<Mail>>,
    /// Every message received.
    all: Mutex<Vec<Mail>>,
    auths: Mutex<Vec<AuthAttempt>>,
    /// When set, connections are greeted with 421 and closed.
    refusing: AtomicBool,
}

/// A running SMTP server on 127.0.0.1.
pub struct SmtpServer {
    server: LoopbackServer,
    shared: Arc<Shared>,
}

impl SmtpServer {
    /// Starts a server that takes mail from anyone.
    pub fn start() -> SmtpServer {
        SmtpServer::start_with(SmtpOptions::default())
    }

    /// Starts a server with `options`, on a free loopback port.
    pub fn start_with(options: SmtpOptions) -> SmtpServer {
        let shared = Arc::new(Shared {
            options,
            ..Shared::default()
        });
        let serving = shared.clone();
        let server = LoopbackServer::start("smtp", move |stream| {
            let shared = serving.clone();
            async move {
                // A client that goes away mid-dialogue is no concern of the test.
                let _ = Session::new(stream, shared).run().await;
            }
        });
        SmtpServer { server, shared }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// While `true`, every new connection is greeted with `421` and closed: a mail
    /// server that is up but out of service.
    pub fn refuse(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::SeqCst);
    }

    /// Waits up to `timeout` for a message not yet taken and takes it.
    pub async fn next_mail(&self, timeout: Duration) -> Option<Mail> {
        let started = Instant::now();
        loop {
            if let Some(m) = lock(&self.shared.unread).pop_front() {
                return Some(m);
            }
            if started.elapsed() >= timeout {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// As [`SmtpServer::next_mail`], panicking when no message comes in five seconds.
    pub async fn expect_mail(&self) -> Mail {
        self.next_mail(Duration::from_secs(5))
            .await
            .expect("a message reached the SMTP server within 5 s")
    }

    /// Every message received so far, taken or not.
    pub fn mails(&self) -> Vec<Mail> {
        lock(&self.shared.all).clone()
    }

    /// Every `AUTH` exchange so far.
    pub fn auth_attempts(&self) -> Vec<AuthAttempt> {
        lock(&self.shared.auths).clone()
    }
}

/// One client connection.
struct Session {
    stream: BufReader<TcpStream>,
    shared: Arc<Shared>,
    authenticated: Option<String>,
    from: Option<String>,
    to: Vec<String>,
}

type Io<T> = std::io::Result<T>;

impl Session {
    fn new(stream: TcpStream, shared: Arc<Shared>) -> Session {
        Session {
            stream: BufReader::new(stream),
            shared,
            authenticated: None,
            from: None,
            to: Vec::new(),
        }
    }

    async fn reply(&mut self, text: &str) -> Io<()> {
        self.stream.get_mut().write_all(text.as_bytes()).await?;
        self.stream.get_mut().write_all(b"\r\n").await
    }

    /// One line without its CRLF; `None` at end of stream.
    async fn line(&mut self) -> Io<Option<String>> {
        let mut buf = Vec::new();
        let n = (&mut self.stream)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
            .await?;
        if n == 0 || !buf.ends_with(b"\n") {
            return Ok(None);
        }
        buf.pop();
        if buf.ends_with(b"\r") {
            buf.pop();
        }
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }

    async fn run(mut self) -> Io<()> {
        if self.shared.refusing.load(Ordering::SeqCst) {
            return self.reply("421 4.3.2 Service not available").await;
        }
        self.reply("220 portcullis-test ESMTP ready").await?;
        while let Some(line) = self.line().await? {
            let (verb, arg) = match line.split_once(' ') {
                Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_owned()),
                None => (line.to_ascii_uppercase(), String::new()),
            };
            match verb.as_str() {
                "EHLO" => self.ehlo().await?,
                "HELO" => self.reply("250 portcullis-test").await?,
                "AUTH" => self.auth(&arg).await?,
                "MAIL" => self.mail(&arg).await?,
                "RCPT" => self.rcpt(&arg).await?,
                "DATA" => self.data().await?,
                "RSET" => {
                    self.from = None;
                    self.to.clear();
                    self.reply("250 2.0.0 OK").await?;
                }
                "NOOP" => self.reply("250 2.0.0 OK").await?,
                "QUIT" => return self.reply("221 2.0.0 Bye").await,
                _ => self.reply("502 5.5.2 Command not recognized").await?,
            }
        }
        Ok(())
    }

    async fn ehlo(&mut self) -> Io<()> {
        let mut lines = vec!["portcullis-test".to_owned(), "8BITMIME".to_owned()];
        if self.shared.options.credentials.is_some() {
            lines.push(format!("AUTH {}", self.shared.options.mechanisms.join(" ")));
        }
        lines.push("SMTPUTF8".to_owned());
        let last = lines.len() - 1;
        let text: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
            .collect();
        self.reply(&text.join("\r\n")).await
    }

    /// RFC 4954: `AUTH PLAIN [initial]` and `AUTH LOGIN [user]`.
    async fn auth(&mut self, arg: &str) -> Io<()> {
        let (mechanism, initial) = match arg.split_once(' ') {
            Some((m, i)) => (m.to_ascii_uppercase(), Some(i.trim().to_owned())),
            None => (arg.to_ascii_uppercase(), None),
        };
        let Some((want_user, want_password)) = self.shared.options.credentials.clone() else {
            return self.reply("503 5.5.1 AUTH not advertised").await;
        };
        if !self.shared.options.mechanisms.contains(&mechanism.as_str()) {
            return self
                .reply("504 5.5.4 Unrecognized authentication type")
                .await;
        }
        let (user, password) = match mechanism.as_str() {
            "PLAIN" => {
                let response = match initial {
                    Some(i) => i,
                    None => {
                        self.reply("334 ").await?;
                        self.line().await?.unwrap_or_default()
                    }
                };
                // authzid NUL authcid NUL passwd
                let decoded = decode_base64_text(&response);
                let mut fields = decoded.split('\0').skip(1);
                (
                    fields.next().unwrap_or_default().to_owned(),
                    fields.next().unwrap_or_default().to_owned(),
                )
            }
            _ => {
                let user = match initial {
                    Some(i) => decode_base64_text(&i),
                    None => {
                        self.reply(&format!("334 {}", STANDARD.encode("Username:")))
                            .await?;
                        decode_base64_text(&self.line().await?.unwrap_or_default())
                    }
                };
                self.reply(&format!("334 {}", STANDARD.encode("Password:")))
                    .await?;
                let password = decode_base64_text(&self.line().await?.unwrap_or_default());
                (user, password)
            }
        };
        let accepted = user == want_user && password == want_password;
        lock(&self.shared.auths).push(AuthAttempt {
            mechanism,
            user: user.clone(),
            accepted,
        });
        if accepted {
            self.authenticated = Some(user);
            self.reply("235 2.7.0 Authentication successful").await
        } else {
            self.reply("535 5.7.8 Authentication credentials invalid")
                .await
        }
    }

    async fn mail(&mut self, arg: &str) -> Io<()> {
        if self.shared.options.credentials.is_some() && self.authenticated.is_none() {
            return self.reply("530 5.7.0 Authentication required").await;
        }
        let Some(from) = address_after(arg, "FROM:") else {
            return self.reply("501 5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        self.from = Some(from);
        self.to.clear();
        self.reply("250 2.1.0 OK").await
    }

    async fn rcpt(&mut self, arg: &str) -> Io<()> {
        if self.from.is_none() {
            return self.reply("503 5.5.1 MAIL first").await;
        }
        let Some(to) = address_after(arg, "TO:") else {
            return self.reply("501 5.5.4 Syntax: RCPT TO:<address>").await;
        };
        self.to.push(to);
        self.reply("250 2.1.5 OK").await
    }

    async fn data(&mut self) -> Io<()> {
        let (Some(from), false) = (self.from.clone(), self.to.is_empty()) else {
            return self.reply("503 5.5.1 MAIL and RCPT first").await;
        };
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        let mut data = String::new();
        loop {
            let Some(line) = self.line().await? else {
                return Ok(());
            };
            if line == "." {
                break;
            }
            // RFC 5321 4.5.2: a leading dot was doubled by the client.
            data.push_str(line.strip_prefix('.').unwrap_or(&line));
            data.push_str("\r\n");
        }
        let mail = Mail {
            from,
            to: std::mem::take(&mut self.to),
            user: self.authenticated.clone(),
            data,
        };
        self.from = None;
        lock(&self.shared.all).push(mail.clone());
        lock(&self.shared.unread).push_back(mail);
        self.reply("250 2.0.0 OK: queued").await
    }
}

/// The address in `FROM:<a@b> SIZE=…` or `TO:<a@b>`.
fn address_after(arg: &str, keyword: &str) -> Option<String> {
    let upper = arg.to_ascii_uppercase();
    let rest = arg
        .get(upper.find(keyword)? + keyword.len()..)?
        .trim_start();
    let inner = rest.strip_prefix('<')?;
    Some(inner.split('>').next()?.to_owned())
}

fn decode_base64_text(s: &str) -> String {
    let bytes = STANDARD.decode(s.trim()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The user name the client authenticated as, if it did.
    pub user: Option<String>,
    /// The message (headers and body) after dot-unstuffing, lines ending in CRLF.
    pub data: String,
}

impl Mail {
    /// A top-level header, unfolded and with RFC 2047 encoded words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = split_head(&self.data);
        header_in(head, name).map(|v| decode_words(&v))
    }

    pub fn subject(&self) -> String {
        self.header("subject").unwrap_or_default()
    }

    /// The decoded body of the first `text/plain` part (or of the message itself
    /// when it is not multipart and is plain text).
    pub fn text(&self) -> Option<String> {
        find_part(&self.data, "text/plain")
    }

    /// The decoded body of the first `text/html` part.
    pub fn html(&self) -> Option<String> {
        find_part(&self.data, "text/html")
    }

    /// The code in "… sign-in code is 123456" of the text part.
    pub fn code(&self) -> Option<String> {
        code_after(&self.text()?, "sign-in code is ")
    }
}

/// The digits that follow `marker` in `text`.
pub fn code_after(text: &str, marker: &str) -> Option<String> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then_some(digits)
}

/// Headers and body of an entity, split at the first empty line.
fn split_head(entity: &str) -> (&str, &str) {
    match entity.find("\r\n\r\n") {
        Some(i) => (&entity[..i + 2], &entity[i + 4..]),
        None => match entity.strip_prefix("\r\n") {
            Some(body) => ("", body),
            None => (entity, ""),
        },
    }
}

/// The value of header `name` in `head`, unfolded; `None` when absent.
fn header_in(head: &str, name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = value.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case(name) {
                value = Some(v.trim().to_owned());
            }
        }
    }
    value
}

/// A parameter of a header value such as `multipart/alternative; boundary="x"`.
fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The decoded body of the first part of `entity` (searched depth first) whose
/// media type is `media`.
fn find_part(entity: &str, media: &str) -> Option<String> {
    let (head, body) = split_head(entity);
    let content_type = header_in(head, "content-type").unwrap_or_else(|| "text/plain".into());
    let kind = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if kind.starts_with("multipart/") {
        let boundary = parameter(&content_type, "boundary")?;
        let delimiter = format!("--{boundary}");
        return body
            .split(delimiter.as_str())
            .skip(1)
            .take_while(|part| !part.starts_with("--"))
            .find_map(|part| {
                let part = part.strip_prefix("\r\n").unwrap_or(part);
                // The CRLF before a delimiter belongs to the delimiter.
                let part = part.strip_suffix("\r\n").unwrap_or(part);
                find_part(part, media)
            });
    }
    if kind != media {
        return None;
    }
    let encoding = header_in(head, "content-transfer-encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body, false),
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            STANDARD.decode(compact).unwrap_or_default()
        }
        _ => body.as_bytes().to_vec(),
    };
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// RFC 2045 6.7 quoted-printable (soft line breaks, `=XX`); with `header`, the
/// RFC 2047 "Q" form where `_` is a space.
fn decode_quoted_printable(s: &str, header: bool) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' if bytes[i + 1..].starts_with(b"\n") => i += 2,
            b'=' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            b'_' if header => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`); white space
/// between two encoded words is dropped, as the RFC says.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let word = rest[start + 2..].splitn(3, '?').collect::<Vec<_>>();
        let decoded = match word.as_slice() {
            [charset, encoding, tail] => tail.find("?=").map(|end| {
                let text = &tail[..end];
                let bytes = if encoding.eq_ignore_ascii_case("b") {
                    STANDARD.decode(text).unwrap_or_default()
                } else {
                    decode_quoted_printable(text, true)
                };
                let used = start + 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
                (String::from_utf8_lossy(&bytes).into_owned(), used)
            }),
            _ => None,
        };
        let Some((text, used)) = decoded else {
            break;
        };
        let between = &rest[..start];
        if !(after_word && between.trim().is_empty()) {
            out.push_str(between);
        }
        out.push_str(&text);
        rest = &rest[used..];
        after_word = true;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_mail_is_decoded_part_by_part() {
        let data = concat!(
            "From: a@b.c\r\n",
            "Subject: =?utf-8?b?WW91ciBBY21lIENhZsOp?=\r\n =?utf-8?q?_sign-in_code?=\r\n",
            "Content-Type: multipart/alternative;\r\n boundary=\"XyZ\"\r\n\r\n",
            "--XyZ\r\nContent-Type: text/plain; charset=utf-8\r\n",
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
            "Your Acme Caf=C3=A9 sign-in code is 012345\r\n\r\nIt expires in 5 min=\r\nutes.\r\n",
            "--XyZ\r\nContent-Type: text/html; charset=utf-8\r\n",
            "Content-Transfer-Encoding: base64\r\n\r\n",
            "PHA+MDEyMzQ1PC9wPg==\r\n--XyZ--\r\n",
        );
        let mail = Mail {
            from: "a@b.c".into(),
            to: vec!["d@e.f".into()],
            user: None,
            data: data.into(),
        };
        assert_eq!(mail.subject(), "Your Acme Café sign-in code");
        let text = mail.text().unwrap();
        assert!(text.starts_with("Your Acme Café sign-in code is 012345\r\n"));
        assert!(text.contains("5 minutes."), "{text}");
        assert_eq!(mail.html().as_deref(), Some("<p>012345</p>"));
        assert_eq!(mail.code().as_deref(), Some("012345"));
    }

    #[test]
    fn envelope_addresses_are_read_with_or_without_parameters() {
        assert_eq!(
            address_after("FROM:<a@b.c> SIZE=100", "FROM:").as_deref(),
            Some("a@b.c")
        );
        assert_eq!(
            address_after("to: <d@e.f>", "TO:").as_deref(),
            Some("d@e.f")
        );
        assert_eq!(address_after("FROM:a@b.c", "FROM:"), None);
    }
}
