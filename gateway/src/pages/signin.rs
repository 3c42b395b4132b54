//! Login and logout pages (SPEC 5.1, 5.4).

use super::{
    cookies, csrf_for, csrf_ok, csrf_refused, error_page, human_duration, render, Method, Reply,
    Request,
};
use super::{LOGIN_PATH, LOGOUT_PATH};
use crate::app::App;
use crate::auth::password::Password;
use crate::auth::session::{Session, Stage};
use crate::auth::signin::PasswordOutcome;
use crate::auth::{LoginName, ReturnPath};
use crate::store::{now, StoreError};
use serde_json::json;
use std::sync::Arc;

/// The one message for an unknown user and a wrong password.
pub const INVALID_CREDENTIALS: &str = "Invalid user name or password.";

/// The browser's session on this tenant, at any stage.
pub async fn current_session(
    app: &App,
    req: &Request<'_>,
) -> Result<Option<Arc<Session>>, StoreError> {
    match req.cookies.get(cookies::SESSION) {
        Some(v) => app.accounts.session(&req.tenant, v).await,
        None => Ok(None),
    }
}

/// The answer when the store cannot be reached: closed, and saying so.
pub fn unavailable(app: &App, req: &Request<'_>, e: &StoreError) -> Reply {
    tracing::error!(tenant = %req.tenant.name, error = %e, "store unavailable while serving a sign-in page");
    error_page(
        app,
        Some(&req.tenant),
        503,
        "Sign-in is unavailable",
        "We cannot check sign-ins right now. Please try again in a minute.",
    )
}

pub async fn login(app: &App, req: &Request<'_>) -> Reply {
    match req.method {
        Method::Get | Method::Head => login_form(app, req).await,
        Method::Post => login_submit(app, req).await,
        Method::Other => error_page(
            app,
            Some(&req.tenant),
            405,
            "Method not allowed",
            "Use the sign-in form.",
        ),
    }
}

async fn login_form(app: &App, req: &Request<'_>) -> Reply {
    let return_to = ReturnPath::parse_or_root(&req.query_param("return").unwrap_or_default());
    match current_session(app, req).await {
        Ok(Some(s)) if s.stage == Stage::SignedIn => {
            return Reply::redirect(302, return_to.as_str())
        }
        Ok(_) => {}
        Err(e) => return unavailable(app, req, &e),
    }
    login_page(app, req, 200, &return_to, "", None)
}

/// The login page with an optional error message.
fn login_page(
    app: &App,
    req: &Request<'_>,
    status: u16,
    return_to: &ReturnPath,
    username: &str,
    error: Option<&str>,
) -> Reply {
    login_page_with(app, req, status, return_to, username, error, None)
}

/// The login page; with a ticket, it offers to send a new confirmation link.
fn login_page_with(
    app: &App,
    req: &Request<'_>,
    status: u16,
    return_to: &ReturnPath,
    username: &str,
    error: Option<&str>,
    confirmation_ticket: Option<&str>,
) -> Reply {
    let (csrf, set_cookie) = csrf_for(app, req);
    let resend = confirmation_ticket
        .map(|t| json!({ "action": super::RESEND_CONFIRMATION_PATH, "ticket": t }));
    let reply = render(
        app,
        status,
        "login.html",
        json!({
            "tenant_name": req.tenant.display_name,
            "action": LOGIN_PATH,
            "csrf": csrf,
            "return_to": return_to.as_str(),
            "username": username,
            "error": error,
            "forgot_url": super::FORGOT_PATH,
            "resend_confirmation": resend,
        }),
    );
    match set_cookie {
        Some(c) => reply.with_cookie(c),
        None => reply,
    }
}

async fn login_submit(app: &App, req: &Request<'_>) -> Reply {
    if !csrf_ok(app, req) {
        return csrf_refused(app, req);
    }
    let form = req.form.as_ref().expect("csrf_ok holds only with a form");
    let return_to = ReturnPath::parse_or_root(form.get("return").unwrap_or("/"));
    let typed = form.get("username").unwrap_or("");
    let (Some(login), Some(password)) = (LoginName::parse(typed), form.get("password")) else {
        let msg = "Enter your user name or email and your password.";
        return login_page(app, req, 400, &return_to, typed, Some(msg));
    };
    if password.is_empty() {
        let msg = "Enter your user name or email and your password.";
        return login_page(app, req, 400, &return_to, typed, Some(msg));
    }
    let previous = req
        .cookies
        .get(cookies::SESSION)
        .and_then(crate::auth::SessionId::parse);

    let outcome = app
        .accounts
        .password_step(
            &req.tenant,
            &login,
            Password::new(password.to_owned()),
            &return_to,
            req.cookies.get(cookies::REMEMBER),
            &req.client,
        )
        .await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => return unavailable(app, req, &e),
    };

    // A new session always gets a new id; the browser's previous one ends.
    let replace = |id: &crate::auth::SessionId, to: &str| {
        let cookie = cookies::set(cookies::SESSION, &id.cookie_value(), req.secure, None);
        Reply::redirect(303, to).with_cookie(cookie)
    };
    let reply = match outcome {
        PasswordOutcome::SignedIn(id, s) => replace(&id, &s.return_to),
        PasswordOutcome::SecondFactor(id, _) => replace(&id, super::SEND_CODE_PATH),
        PasswordOutcome::Enrol(id, _) => replace(&id, super::ENROL_PATH),
        PasswordOutcome::Invalid => login_page(app, req, 200, &return_to, typed, Some(INVALID_CREDENTIALS)),
        PasswordOutcome::Locked { until } => {
            let left = until - now();
            let msg = format!("Too many failed attempts. Try again in {}.", human_duration(left));
            login_page(app, req, 429, &return_to, typed, Some(&msg)).with_header("retry-after", left.max(1).to_string())
        }
        PasswordOutcome::Inactive => {
            login_page(app, req, 200, &return_to, typed, Some("This account is disabled. Contact your administrator."))
        }
        PasswordOutcome::NoProvider => login_page(
            app,
            req,
            200,
            &return_to,
            typed,
            Some("Two-step verification is required, but your account has no confirmed way to receive a code. Contact your administrator."),
        ),
        PasswordOutcome::EmailNotConfirmed { ticket } => login_page_with(
            app,
            req,
            200,
            &return_to,
            typed,
            Some("Confirm your email address before you sign in: follow the link in the message we sent you."),
            Some(&ticket),
        ),
    };
    if let (Some(old), 303) = (previous, reply.status) {
        if let Err(e) = app.accounts.end_session(&old.key()).await {
            tracing::warn!(error = %e, "could not end the replaced session");
        }
    }
    reply
}

pub async fn logout(app: &App, req: &Request<'_>) -> Reply {
    let session = match current_session(app, req).await {
        Ok(s) => s,
        Err(e) => return unavailable(app, req, &e),
    };
    match req.method {
        Method::Get | Method::Head => match session {
            Some(s) => {
                let (csrf, set_cookie) = csrf_for(app, req);
                let reply = render(
                    app,
                    200,
                    "logout.html",
                    json!({ "tenant_name": req.tenant.display_name, "action": LOGOUT_PATH, "csrf": csrf, "user": s.username }),
                );
                match set_cookie {
                    Some(c) => reply.with_cookie(c),
                    None => reply,
                }
            }
            None => signed_out(app, req),
        },
        Method::Post => {
            if !csrf_ok(app, req) {
                return csrf_refused(app, req);
            }
            if let Some(s) = session {
                if let Err(e) = app.accounts.end_session(&s.key).await {
                    return unavailable(app, req, &e);
                }
                tracing::info!(target: crate::auth::signin::AUDIT_TARGET, tenant = %req.tenant.name, user = %s.username, "signed out");
            }
            signed_out(app, req).with_cookie(cookies::clear(cookies::SESSION, req.secure))
        }
        Method::Other => error_page(
            app,
            Some(&req.tenant),
            405,
            "Method not allowed",
            "Use the sign-out form.",
        ),
    }
}

fn signed_out(app: &App, req: &Request<'_>) -> Reply {
    render(
        app,
        200,
        "signed_out.html",
        json!({ "tenant_name": req.tenant.display_name, "login_url": LOGIN_PATH }),
    )
}
