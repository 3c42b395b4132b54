//! The gateway's own pages under `/.portcullis/`: routing, forms, CSRF and
//! rendering. Pingora-free: the proxy hands in a [`Request`] and writes out the
//! [`Reply`], so every page can be exercised without a socket.

mod account;
pub mod cookies;
mod credentials;
mod reply;
mod signin;
mod two_factor;

pub use reply::{Reply, PAGE_SECURITY_HEADERS};

use crate::app::App;
use crate::auth::csrf;
use crate::tenancy::Tenant;
use cookies::Jar;
use serde_json::json;
use std::sync::Arc;

/// The path prefix the gateway serves itself.
pub const OWN_PREFIX: &str = "/.portcullis/";
pub const LOGIN_PATH: &str = "/.portcullis/login";
pub const STYLESHEET_PATH: &str = "/.portcullis/assets/portcullis.css";
pub const LOGOUT_PATH: &str = "/.portcullis/logout";
pub const SEND_CODE_PATH: &str = "/.portcullis/send-code";
pub const VERIFY_PATH: &str = "/.portcullis/verify-code";
pub const ENROL_PATH: &str = "/.portcullis/enrol";
pub const ACCOUNT_PATH: &str = "/.portcullis/account";
pub const AUTHENTICATOR_PATH: &str = "/.portcullis/account/authenticator";
pub const DISABLE_PATH: &str = "/.portcullis/account/authenticator/disable";
pub const RECOVERY_PATH: &str = "/.portcullis/account/recovery-codes";
pub const REGENERATE_PATH: &str = "/.portcullis/account/recovery-codes/new";
pub const FORGOT_PATH: &str = "/.portcullis/forgot";
pub const RESET_PATH: &str = crate::auth::links::RESET_PATH;
pub const CONFIRM_EMAIL_PATH: &str = crate::auth::links::CONFIRM_EMAIL_PATH;
pub const RESEND_CONFIRMATION_PATH: &str = "/.portcullis/confirm-email/resend";
pub const ACCOUNT_CONFIRM_EMAIL_PATH: &str = "/.portcullis/account/confirm-email";
pub const ACCOUNT_CONFIRM_PHONE_PATH: &str = "/.portcullis/account/confirm-phone";
pub const CHANGE_PASSWORD_PATH: &str = "/.portcullis/account/password";
pub const SIGN_OUT_OTHERS_PATH: &str = "/.portcullis/account/sign-out-others";
pub const SIGN_OUT_EVERYWHERE_PATH: &str = "/.portcullis/account/sign-out-everywhere";

/// Largest form body accepted, in bytes.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// Request methods the own pages distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Other,
}

/// A decoded `application/x-www-form-urlencoded` body with no repeated field.
#[derive(Debug, Default, Clone)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Parses a form body; `None` when it is not UTF-8 or repeats a field (an
    /// ambiguous form is a bad form).
    pub fn parse(body: &[u8]) -> Option<Form> {
        std::str::from_utf8(body).ok()?;
        let mut fields: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(body) {
            if fields.iter().any(|(f, _)| *f == k) {
                return None;
            }
            fields.push((k.into_owned(), v.into_owned()));
        }
        Some(Form(fields))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A request for an own page.
#[derive(Debug)]
pub struct Request<'a> {
    pub method: Method,
    /// The normalised path, starting with [`OWN_PREFIX`].
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub cookies: Jar,
    /// The parsed body of a POST.
    pub form: Option<Form>,
    pub tenant: Arc<Tenant>,
    /// The client's address, for the audit log.
    pub client: String,
    /// Whether the browser reached the gateway over TLS (directly or through a
    /// trusted proxy): cookies are then `Secure` and `__Host-` prefixed.
    pub secure: bool,
}

impl Request<'_> {
    /// The value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query?;
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// Serves one own page.
pub async fn handle(app: &App, req: &Request<'_>) -> Reply {
    match (req.path, req.method) {
        ("/.portcullis/assets/portcullis.css", m) if m != Method::Post => {
            Reply::asset("text/css; charset=utf-8", portcullis_pages::STYLESHEET)
        }
        ("/.portcullis/assets/tenant.css", m) if m != Method::Post => {
            let brand = req.tenant.brand_color.as_deref().unwrap_or("#2563eb");
            // Revalidated on every use: the colour may change with a reload.
            Reply::asset(
                "text/css; charset=utf-8",
                format!(":root {{ --brand: {brand}; }}\n"),
            )
            .replace_header("cache-control", "no-cache".to_owned())
        }
        ("/.portcullis/health", m) if m != Method::Post => health(app).await,
        (LOGIN_PATH, _) => signin::login(app, req).await,
        (LOGOUT_PATH, _) => signin::logout(app, req).await,
        (SEND_CODE_PATH, _) => two_factor::send_code(app, req).await,
        (VERIFY_PATH, _) => two_factor::verify(app, req).await,
        (ENROL_PATH, _) => account::enrol_at_sign_in(app, req).await,
        (ACCOUNT_PATH, _) => account::overview(app, req).await,
        (AUTHENTICATOR_PATH, _) => account::enable_authenticator(app, req).await,
        (DISABLE_PATH | RECOVERY_PATH | REGENERATE_PATH, _) => account::sensitive(app, req).await,
        (FORGOT_PATH, _) => credentials::forgot(app, req).await,
        (RESET_PATH, _) => credentials::reset(app, req).await,
        (CONFIRM_EMAIL_PATH, _) => credentials::confirm_email(app, req).await,
        (RESEND_CONFIRMATION_PATH, _) => credentials::resend_confirmation(app, req).await,
        (ACCOUNT_CONFIRM_EMAIL_PATH, _) => credentials::send_email_confirmation(app, req).await,
        (ACCOUNT_CONFIRM_PHONE_PATH, _) => credentials::confirm_phone(app, req).await,
        (CHANGE_PASSWORD_PATH, _) => credentials::change_password(app, req).await,
        (SIGN_OUT_OTHERS_PATH | SIGN_OUT_EVERYWHERE_PATH, _) => {
            account::sign_out_elsewhere(app, req).await
        }
        _ => error_page(
            app,
            Some(&req.tenant),
            404,
            "Page not found",
            "There is no such page here.",
        ),
    }
}

async fn health(app: &App) -> Reply {
    let store_ok = app.accounts.store_up() && app.accounts.store.ping().await;
    let (status, state) = if store_ok {
        (200, "ok")
    } else {
        (503, "degraded")
    };
    let store = if store_ok { "up" } else { "down" };
    Reply::json(status, &json!({ "status": state, "store": store }))
}

/// Renders a template, or a minimal page when the template fails (an override
/// that breaks at render time must not leave the user with nothing).
pub fn render(app: &App, status: u16, template: &str, ctx: serde_json::Value) -> Reply {
    match app.pages.render(template, &ctx) {
        Ok(html) => Reply::html(status, html),
        Err(e) => {
            tracing::error!(template, error = %e, "page template failed to render");
            Reply::html(
                500,
                "<!doctype html><title>Error</title><p>Something went wrong. Please try again.</p>"
                    .to_owned(),
            )
        }
    }
}

/// The error page with a status, a title and a message for the user.
pub fn error_page(
    app: &App,
    tenant: Option<&Tenant>,
    status: u16,
    title: &str,
    message: &str,
) -> Reply {
    render(
        app,
        status,
        "error.html",
        json!({
            "tenant_name": tenant.map(|t| t.display_name.as_str()),
            "status": status,
            "title": title,
            "message": message,
        }),
    )
}

/// The CSRF token for forms on this request, and a `Set-Cookie` when the browser
/// has no CSRF cookie yet.
pub fn csrf_for(app: &App, req: &Request<'_>) -> (String, Option<String>) {
    match req
        .cookies
        .get(cookies::CSRF)
        .filter(|c| csrf::is_cookie_value(c))
    {
        Some(c) => (
            csrf::token(&app.accounts.key, req.tenant.name.as_str(), c),
            None,
        ),
        None => {
            let c = csrf::new_cookie_value();
            let token = csrf::token(&app.accounts.key, req.tenant.name.as_str(), &c);
            (
                token,
                Some(cookies::set(cookies::CSRF, &c, req.secure, None)),
            )
        }
    }
}

/// Whether a POST carries a valid CSRF token for the browser's cookie.
pub fn csrf_ok(app: &App, req: &Request<'_>) -> bool {
    let (Some(cookie), Some(form)) = (req.cookies.get(cookies::CSRF), req.form.as_ref()) else {
        return false;
    };
    let Some(token) = form.get("csrf") else {
        return false;
    };
    csrf::verify(&app.accounts.key, req.tenant.name.as_str(), cookie, token)
}

/// The 403 answer to a POST without a valid CSRF token.
pub fn csrf_refused(app: &App, req: &Request<'_>) -> Reply {
    error_page(
        app,
        Some(&req.tenant),
        403,
        "This form has expired",
        "Go back, reload the page and try again.",
    )
}

/// "4 minutes 10 seconds" for a lock that ends in `secs` seconds.
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(1);
    let (m, s) = (secs / 60, secs % 60);
    let unit = |n: i64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    match (m, s) {
        (0, s) => unit(s, "second"),
        (m, 0) => unit(m, "minute"),
        (m, s) => format!("{} {}", unit(m, "minute"), unit(s, "second")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_with_repeated_fields_are_bad_forms() {
        assert!(Form::parse(b"a=1&a=2").is_none());
        assert!(Form::parse(b"a=1&b=%FF").is_some());
        assert!(Form::parse(&[0xff, b'=', b'1']).is_none());
        let f = Form::parse(b"username=al%20ice&password=p%26w").unwrap();
        assert_eq!(f.get("username"), Some("al ice"));
        assert_eq!(f.get("password"), Some("p&w"));
    }

    #[test]
    fn lock_times_read_naturally() {
        assert_eq!(human_duration(250), "4 minutes 10 seconds");
        assert_eq!(human_duration(60), "1 minute");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(-5), "1 second");
    }
}
