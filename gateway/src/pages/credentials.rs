//! Forgot and reset password, email and phone confirmation, and password change
//! (SPEC 5–7). Pages that an emailed link opens never act on GET: mail scanners
//! fetch links, so every change is a POST with a CSRF token.

use super::account::signed_in;
use super::signin::unavailable;
use super::{
    csrf_for, csrf_ok, csrf_refused, error_page, human_duration, render, Method, Reply, Request,
};
use super::{
    ACCOUNT_CONFIRM_PHONE_PATH, ACCOUNT_PATH, CHANGE_PASSWORD_PATH, CONFIRM_EMAIL_PATH,
    FORGOT_PATH, LOGIN_PATH, RESET_PATH,
};
use crate::app::App;
use crate::auth::links::{PasswordChange, PasswordForm, Sent};
use crate::store::{now, CodeCheck};
use serde_json::{json, Value};
use std::sync::Arc;

/// The same answer for every forgot-password request.
const RESET_REQUESTED: &str =
    "If an account matches what you entered, we have sent a link to its email address.";

fn page(app: &App, req: &Request<'_>, status: u16, template: &str, mut ctx: Value) -> Reply {
    let (csrf, set_cookie) = csrf_for(app, req);
    ctx["tenant_name"] = json!(req.tenant.display_name);
    ctx["csrf"] = json!(csrf);
    let reply = render(app, status, template, ctx);
    match set_cookie {
        Some(c) => reply.with_cookie(c),
        None => reply,
    }
}

fn notice(
    app: &App,
    req: &Request<'_>,
    title: &str,
    message: &str,
    link: Option<(&str, &str)>,
    success: bool,
) -> Reply {
    page(
        app,
        req,
        200,
        "notice.html",
        json!({
            "title": title,
            "message": message,
            "link_url": link.map(|l| l.0),
            "link_text": link.map(|l| l.1),
            "tone": if success { "success" } else { "plain" },
        }),
    )
}

fn not_allowed(app: &App, req: &Request<'_>) -> Reply {
    error_page(
        app,
        Some(&req.tenant),
        405,
        "Method not allowed",
        "Use the form.",
    )
}

fn field<'a>(req: &'a Request<'_>, name: &str) -> &'a str {
    req.form.as_ref().and_then(|f| f.get(name)).unwrap_or("")
}

fn password_rules(req: &Request<'_>) -> Option<String> {
    let p = &req.tenant.settings.password;
    let mut rules = Vec::new();
    if p.require_digit {
        rules.push("a digit");
    }
    if p.require_lowercase {
        rules.push("a lower-case letter");
    }
    if p.require_uppercase {
        rules.push("an upper-case letter");
    }
    if p.require_symbol {
        rules.push("a symbol");
    }
    (!rules.is_empty()).then(|| format!("Include {}.", rules.join(", ")))
}

pub async fn forgot(app: &App, req: &Request<'_>) -> Reply {
    let base = json!({ "action": FORGOT_PATH, "login_url": LOGIN_PATH });
    match req.method {
        Method::Get | Method::Head => page(app, req, 200, "forgot.html", base),
        Method::Post => {
            if !csrf_ok(app, req) {
                return csrf_refused(app, req);
            }
            // Answered now and alike for every input; the work happens in the background.
            app.accounts.request_password_reset(
                Arc::clone(&req.tenant),
                field(req, "username"),
                &req.client,
            );
            let mut ctx = base;
            ctx["sent"] = json!(true);
            ctx["info"] = json!(RESET_REQUESTED);
            page(app, req, 200, "forgot.html", ctx)
        }
        Method::Other => not_allowed(app, req),
    }
}

pub async fn reset(app: &App, req: &Request<'_>) -> Reply {
    let token = match req.method {
        Method::Post => field(req, "token").to_owned(),
        _ => req.query_param("token").unwrap_or_default(),
    };
    let dead = |app, req| {
        notice(
            app,
            req,
            "This link no longer works",
            "Reset links work once and expire. Ask for a new one.",
            Some((FORGOT_PATH, "Ask for a new link")),
            false,
        )
    };
    let form = |status: u16, error: Option<&str>| {
        page(
            app,
            req,
            status,
            "reset.html",
            json!({
                "action": RESET_PATH,
                "token": token,
                "min_length": req.tenant.settings.password.min_length,
                "rules": password_rules(req),
                "error": error,
            }),
        )
    };
    match req.method {
        Method::Get | Method::Head => match app.accounts.reset_link_live(&req.tenant, &token).await
        {
            Ok(true) => form(200, None),
            Ok(false) => dead(app, req),
            Err(e) => unavailable(app, req, &e),
        },
        Method::Post => {
            if !csrf_ok(app, req) {
                return csrf_refused(app, req);
            }
            let (new, again) = (field(req, "password"), field(req, "password_confirm"));
            match app.accounts.reset_password(&req.tenant, &token, new, again, &req.client).await {
                Ok(PasswordChange::Changed) => notice(
                    app,
                    req,
                    "Password changed",
                    "Your password is changed and every browser is signed out. Sign in with the new password.",
                    Some((LOGIN_PATH, "Sign in")),
                    true,
                ),
                Ok(PasswordChange::Refused(msg)) => form(200, Some(&msg)),
                Ok(_) => dead(app, req),
                Err(e) => unavailable(app, req, &e),
            }
        }
        Method::Other => not_allowed(app, req),
    }
}

pub async fn confirm_email(app: &App, req: &Request<'_>) -> Reply {
    let token = match req.method {
        Method::Post => field(req, "token").to_owned(),
        _ => req.query_param("token").unwrap_or_default(),
    };
    let dead = || {
        notice(
            app,
            req,
            "This link no longer works",
            "Confirmation links work once and expire after a day. Sign in to ask for a new one.",
            Some((LOGIN_PATH, "Sign in")),
            false,
        )
    };
    match req.method {
        Method::Get | Method::Head => match app
            .accounts
            .confirmation_link_live(&req.tenant, &token)
            .await
        {
            Ok(true) => page(
                app,
                req,
                200,
                "confirm_link.html",
                json!({
                    "action": CONFIRM_EMAIL_PATH,
                    "token": token,
                    "title": "Confirm your email address",
                    "message": "Press the button to confirm that this address is yours.",
                    "button_label": "Confirm my address",
                }),
            ),
            Ok(false) => dead(),
            Err(e) => unavailable(app, req, &e),
        },
        Method::Post => {
            if !csrf_ok(app, req) {
                return csrf_refused(app, req);
            }
            match app.accounts.confirm_email(&req.tenant, &token).await {
                Ok(true) => notice(
                    app,
                    req,
                    "Email address confirmed",
                    "Thank you. Your email address is confirmed.",
                    Some((LOGIN_PATH, "Continue")),
                    true,
                ),
                Ok(false) => dead(),
                Err(e) => unavailable(app, req, &e),
            }
        }
        Method::Other => not_allowed(app, req),
    }
}

fn sent_notice(app: &App, req: &Request<'_>, sent: Sent) -> Reply {
    match sent {
        Sent::Sent { to } => notice(
            app,
            req,
            "Check your email",
            &format!("We sent a new confirmation link to {to}. It works once, for a day."),
            Some((LOGIN_PATH, "Back to sign in")),
            true,
        ),
        Sent::TooSoon => notice(
            app,
            req,
            "Check your email",
            "A confirmation link was sent a moment ago. Check your inbox, or try again in a minute.",
            Some((LOGIN_PATH, "Back to sign in")),
            false,
        ),
        Sent::Impossible | Sent::Failed => notice(
            app,
            req,
            "We could not send a link",
            "Please try again later, or contact your administrator.",
            Some((LOGIN_PATH, "Back to sign in")),
            false,
        ),
    }
}

/// From the login page, after a correct password on an unconfirmed address.
pub async fn resend_confirmation(app: &App, req: &Request<'_>) -> Reply {
    if req.method != Method::Post {
        return not_allowed(app, req);
    }
    if !csrf_ok(app, req) {
        return csrf_refused(app, req);
    }
    match app
        .accounts
        .resend_confirmation(&req.tenant, field(req, "ticket"))
        .await
    {
        Ok(sent) => sent_notice(app, req, sent),
        Err(e) => unavailable(app, req, &e),
    }
}

/// From the account page.
pub async fn send_email_confirmation(app: &App, req: &Request<'_>) -> Reply {
    if req.method != Method::Post {
        return not_allowed(app, req);
    }
    let (_, user) = match signed_in(app, req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !csrf_ok(app, req) {
        return csrf_refused(app, req);
    }
    match app
        .accounts
        .send_email_confirmation(&req.tenant, &user)
        .await
    {
        Ok(Sent::Sent { .. }) => Reply::redirect(303, &format!("{ACCOUNT_PATH}?done=email-sent")),
        Ok(Sent::TooSoon) => Reply::redirect(303, &format!("{ACCOUNT_PATH}?done=email-too-soon")),
        Ok(other) => sent_notice(app, req, other),
        Err(e) => unavailable(app, req, &e),
    }
}

/// From the account page: a POST without `code` sends one, with `code` checks it.
pub async fn confirm_phone(app: &App, req: &Request<'_>) -> Reply {
    if req.method != Method::Post {
        return Reply::redirect(303, ACCOUNT_PATH);
    }
    let (_, user) = match signed_in(app, req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !csrf_ok(app, req) {
        return csrf_refused(app, req);
    }
    let Some(phone) = user.phone.as_deref() else {
        return Reply::redirect(303, ACCOUNT_PATH);
    };
    let form = |status: u16, error: Option<&str>, info: Option<&str>| {
        page(
            app,
            req,
            status,
            "phone_code.html",
            json!({
                "action": ACCOUNT_CONFIRM_PHONE_PATH,
                "phone": crate::notify::mask_phone(phone),
                "error": error,
                "info": info,
                "resend_action": ACCOUNT_CONFIRM_PHONE_PATH,
                "cancel_url": ACCOUNT_PATH,
            }),
        )
    };
    let code = field(req, "code");
    if code.trim().is_empty() {
        return match app.accounts.send_phone_code(&req.tenant, &user).await {
            Ok(Sent::Sent { .. }) => form(200, None, Some("We sent a code by text message.")),
            Ok(Sent::TooSoon) => form(
                200,
                None,
                Some("A code was sent a moment ago. Enter it, or ask again shortly."),
            ),
            Ok(_) => form(
                200,
                Some("We could not send a text message. Try again later."),
                None,
            ),
            Err(e) => unavailable(app, req, &e),
        };
    }
    match app.accounts.confirm_phone(&req.tenant, &user, code).await {
        Ok(CodeCheck::Accepted) => {
            Reply::redirect(303, &format!("{ACCOUNT_PATH}?done=phone-confirmed"))
        }
        Ok(CodeCheck::Wrong) => form(
            200,
            Some("That code is not right. Check it and try again."),
            None,
        ),
        Ok(CodeCheck::NoCode) => form(
            200,
            Some("This code has expired or was already used. Send a new code."),
            None,
        ),
        Err(e) => unavailable(app, req, &e),
    }
}

pub async fn change_password(app: &App, req: &Request<'_>) -> Reply {
    let (session, user) = match signed_in(app, req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = |status: u16, error: Option<&str>| {
        page(
            app,
            req,
            status,
            "password.html",
            json!({
                "action": CHANGE_PASSWORD_PATH,
                "min_length": req.tenant.settings.password.min_length,
                "rules": password_rules(req),
                "error": error,
                "cancel_url": ACCOUNT_PATH,
            }),
        )
    };
    match req.method {
        Method::Get | Method::Head => form(200, None),
        Method::Post => {
            if !csrf_ok(app, req) {
                return csrf_refused(app, req);
            }
            let outcome = app
                .accounts
                .change_password(
                    &req.tenant,
                    &user,
                    session.key,
                    PasswordForm {
                        current: field(req, "current_password"),
                        new: field(req, "password"),
                        again: field(req, "password_confirm"),
                    },
                    &req.client,
                )
                .await;
            match outcome {
                Ok(PasswordChange::Changed) => {
                    Reply::redirect(303, &format!("{ACCOUNT_PATH}?done=password-changed"))
                }
                Ok(PasswordChange::Refused(msg)) => form(200, Some(&msg)),
                Ok(PasswordChange::WrongCurrent) => {
                    form(200, Some("Your current password is not right."))
                }
                Ok(PasswordChange::Locked { until }) => {
                    let left = until - now();
                    let msg = format!(
                        "Too many failed attempts. Try again in {}.",
                        human_duration(left)
                    );
                    form(429, Some(&msg)).with_header("retry-after", left.max(1).to_string())
                }
                Ok(PasswordChange::LinkDead) => form(200, None),
                Err(e) => unavailable(app, req, &e),
            }
        }
        Method::Other => not_allowed(app, req),
    }
}
