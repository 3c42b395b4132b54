//! The integration-test harness: real `portcullis` processes on loopback, driven by
//! a real HTTP client.
//!
//! - [`Upstream`] runs `portcullis echo`, an upstream application that answers with
//!   the request it received; [`Echo`] reads that answer.
//! - [`Gateway`] runs `portcullis serve` in a temporary directory of its own (settings
//!   file, SQLite database, secret key, log) and runs the CLI against the same file.
//! - [`GatewayConfig`], [`Tenant`] and [`Route`] write the settings a test needs; the
//!   harness adds the listener, database and secret key.
//! - [`Browser`] is an HTTP client with a cookie jar that reaches any host name on the
//!   gateway's port, so a test picks the tenant by URL (`http://acme.test:PORT/`).
//! - [`RawRequest`] sends exact bytes, for requests an HTTP client would tidy up
//!   (encoded dot segments, header-name spellings, repeated headers).
//! - [`SmtpServer`] is a real SMTP server (with `AUTH`) that keeps the mail the
//!   gateway sends; [`Mail`] decodes it and finds the sign-in code.
//! - [`HttpStub`] records requests and answers as told: Twilio's API or a webhook.
//! - [`totp`] is an authenticator app of the tests' own (RFC 6238, not the gateway's
//!   code); [`qr`] reads the gateway's SVG QR codes back; [`authenticator`] reads
//!   the set-up and recovery-code pages; [`store`] reads and writes a gateway's
//!   authenticator rows directly, as someone with database access could.
//! - [`links`] finds the links in the gateway's mail, reads and ages its
//!   `link_tokens` rows, and mints login-page confirmation tickets under its key.
//! - [`pages`] reads the gateway's answers: redirects, cookies, a page's alert.
//! - [`chromium`] runs the end-to-end walks of `tests/browser` in headless Chromium.
//!
//! Every process is killed when its handle is dropped, and its log is printed when a
//! test fails. Nothing here connects anywhere but 127.0.0.1.
//!
//! The binary is built separately: `cargo build -p portcullis` (see [`binary`]).

pub mod authenticator;
mod browser;
pub mod chromium;
mod config;
pub mod database;
mod echo;
mod gateway;
pub mod http_stub;
pub mod links;
pub mod pages;
mod process;
pub mod qr;
mod raw;
pub mod relay;
mod server;
pub mod smtp;
pub mod store;
pub mod totp;

pub use browser::{form_field, Browser};
pub use config::{GatewayConfig, Policy, Route, Tenant};
pub use echo::{header_compare_form, Echo};
pub use gateway::{AuditRow, Gateway, StartFailure, Upstream};
pub use http_stub::{HttpStub, RecordedRequest};
pub use process::{binary, free_port, portcullis, unused_addr, CliOutput};
pub use raw::{RawConnection, RawRequest, RawResponse};
pub use smtp::{Mail, SmtpOptions, SmtpServer};

/// The default identity header names (SPEC 4.5), lower case.
pub const IDENTITY_HEADERS: [&str; 5] = [
    "x-auth-user",
    "x-auth-user-id",
    "x-auth-email",
    "x-auth-tenant",
    "x-auth-methods",
];

/// The gateway's own cookie names over plain HTTP.
pub const SESSION_COOKIE: &str = "portcullis_session";
pub const CSRF_COOKIE: &str = "portcullis_csrf";

/// The gateway's own pages.
pub const LOGIN_PATH: &str = "/.portcullis/login";
pub const LOGOUT_PATH: &str = "/.portcullis/logout";
pub const SEND_CODE_PATH: &str = "/.portcullis/send-code";
pub const VERIFY_PATH: &str = "/.portcullis/verify-code";
pub const ACCOUNT_PATH: &str = "/.portcullis/account";
pub const REMEMBER_COOKIE: &str = "portcullis_remember";
