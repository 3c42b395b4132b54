//! The account page and two-factor management (SPEC 6), and authenticator
//! set-up during sign-in for `when_no_provider = "enrol"`.
//!
//! Every change is a POST with a CSRF token; GET never changes state (the set-up
//! page makes a secret but stores nothing). Viewing or regenerating recovery
//! codes and turning the authenticator off need a fresh proof.

use super::signin::{current_session, unavailable};
use super::{
    cookies, csrf_for, csrf_ok, csrf_refused, error_page, human_duration, render, Method, Reply,
    Request,
};
use super::{
    ACCOUNT_PATH, AUTHENTICATOR_PATH, DISABLE_PATH, ENROL_PATH, LOGIN_PATH, LOGOUT_PATH,
    RECOVERY_PATH, REGENERATE_PATH,
};
use crate::app::App;
use crate::auth::enrolment::{EnrolOutcome, Enrolment, Proof};
use crate::auth::second_factor;
use crate::auth::session::{Session, Stage};
use crate::auth::signin::{AuditResult, VerifyOutcome};
use crate::auth::LoginName;
use crate::store::{now, User};
use serde_json::json;
use std::sync::Arc;

/// The signed-in session and its user, or where to send the browser instead.
pub(super) async fn signed_in(app: &App, req: &Request<'_>) -> Result<(Arc<Session>, User), Reply> {
    let to_login = || {
        let back: String = form_urlencoded::byte_serialize(req.path.as_bytes()).collect();
        Reply::redirect(303, &format!("{LOGIN_PATH}?return={back}"))
    };
    let session = match current_session(app, req).await {
        Ok(Some(s)) if s.stage == Stage::SignedIn => s,
        Ok(_) => return Err(to_login()),
        Err(e) => return Err(unavailable(app, req, &e)),
    };
    match app.accounts.store.user_by_id(session.user_id).await {
        Ok(Some(u)) if u.active => Ok((session, u)),
        Ok(_) => Err(to_login()),
        Err(e) => Err(unavailable(app, req, &e)),
    }
}

fn with_csrf_cookie(reply: Reply, set_cookie: Option<String>) -> Reply {
    match set_cookie {
        Some(c) => reply.with_cookie(c),
        None => reply,
    }
}

pub async fn overview(app: &App, req: &Request<'_>) -> Reply {
    if req.method != Method::Get && req.method != Method::Head {
        return error_page(
            app,
            Some(&req.tenant),
            405,
            "Method not allowed",
            "Use the buttons on the page.",
        );
    }
    let (_, user) = match signed_in(app, req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let has_app = match app.accounts.has_authenticator(user.id).await {
        Ok(b) => b,
        Err(e) => return unavailable(app, req, &e),
    };
    let status = match app.accounts.store.recovery_status(user.id).await {
        Ok(s) => s,
        Err(e) => return unavailable(app, req, &e),
    };
    let settings = &req.tenant.settings;
    let (csrf, set_cookie) = csrf_for(app, req);
    let reply = render(
        app,
        200,
        "account.html",
        json!({
            "tenant_name": req.tenant.display_name,
            "user": user.username,
            "csrf": csrf,
            "logout_url": LOGOUT_PATH,
            "two_factor_required": second_factor::required(settings, &user),
            "email": user.email,
            "email_confirmed": user.email_confirmed,
            "phone": user.phone,
            "phone_confirmed": user.phone_confirmed,
            "authenticator_enabled": has_app,
            "authenticator_allowed": settings.authenticator_allowed,
            "recovery_codes_left": status.left,
            "last_recovery_use": status.last_used.map(|t| format!("{} UTC", &crate::cli::utc(t)[..16])),
            "urls": {
                "confirm_email": super::ACCOUNT_CONFIRM_EMAIL_PATH,
                "confirm_phone": super::ACCOUNT_CONFIRM_PHONE_PATH,
                "change_password": super::CHANGE_PASSWORD_PATH,
                "sign_out_others": super::SIGN_OUT_OTHERS_PATH,
                "sign_out_everywhere": super::SIGN_OUT_EVERYWHERE_PATH,
                "enable_authenticator": AUTHENTICATOR_PATH,
                "disable_authenticator": DISABLE_PATH,
                "view_recovery": RECOVERY_PATH,
                "regenerate_recovery": REGENERATE_PATH,
            },
            // Fixed messages only: a message taken from the URL would let a link put
            // any words on this page.
            "info": req.query_param("done").as_deref().and_then(done_message),
        }),
    );
    with_csrf_cookie(reply, set_cookie)
}

/// Where a set-up form posts, and what frames it.
#[derive(Clone, Copy)]
struct SetUp<'a> {
    action: &'a str,
    intro: Option<&'a str>,
    cancel: Option<&'a str>,
}

const ACCOUNT_SET_UP: SetUp<'static> = SetUp {
    action: AUTHENTICATOR_PATH,
    intro: None,
    cancel: Some(ACCOUNT_PATH),
};
const SIGN_IN_SET_UP: SetUp<'static> = SetUp {
    action: ENROL_PATH,
    intro: Some("Two-step verification is required. Set up an authenticator app to continue."),
    cancel: Some(LOGOUT_PATH),
};

/// The fixed message for `?done=…` after an account change. Only fixed texts:
/// words taken from the URL would let a link write on this page.
fn done_message(done: &str) -> Option<&'static str> {
    match done {
        "authenticator-off" => Some("The authenticator app is turned off."),
        "email-sent" => Some("We sent a confirmation link to your email address."),
        "email-too-soon" => Some("A confirmation link was sent a moment ago. Check your inbox."),
        "phone-confirmed" => Some("Your phone number is confirmed."),
        "password-changed" => Some("Your password is changed. Other browsers are signed out."),
        "others-signed-out" => {
            Some("Every other browser is signed out, and no browser skips the code any more.")
        }
        _ => None,
    }
}

/// The set-up page for an authenticator.
fn enrolment_page(
    app: &App,
    req: &Request<'_>,
    e: &Enrolment,
    set_up: SetUp<'_>,
    status: u16,
    error: Option<&str>,
) -> Reply {
    let (csrf, set_cookie) = csrf_for(app, req);
    let reply = render(
        app,
        status,
        "authenticator.html",
        json!({
            "tenant_name": req.tenant.display_name,
            "action": set_up.action,
            "csrf": csrf,
            "qr_svg": e.qr_svg,
            "secret_groups": e.grouped_secret,
            "otpauth_uri": e.uri,
            "enrol": e.token,
            "error": error,
            "intro": set_up.intro,
            "cancel_url": set_up.cancel,
        }),
    );
    with_csrf_cookie(reply, set_cookie)
}

/// Recovery codes, shown once after set-up or after a fresh proof.
fn recovery_page(
    app: &App,
    req: &Request<'_>,
    codes: &[String],
    continue_url: &str,
    continue_label: &str,
    warning: Option<&str>,
) -> Reply {
    let text = format!(
        "{} recovery codes for {}\nEach code works once.\n\n{}\n",
        req.tenant.display_name,
        req.tenant.name,
        codes.join("\n")
    );
    let href = format!(
        "data:text/plain;charset=utf-8,{}",
        percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC)
    );
    render(
        app,
        200,
        "recovery_codes.html",
        json!({
            "tenant_name": req.tenant.display_name,
            "codes": codes,
            "download_href": href,
            "continue_url": continue_url,
            "continue_label": continue_label,
            "intro": "Save these codes somewhere safe. If you lose your phone, each code lets you sign in once.",
            "warning": warning,
        }),
    )
}

/// A set-up form posted back: check the code and save, or show the form again.
async fn finish(
    app: &App,
    req: &Request<'_>,
    user: &User,
    set_up: SetUp<'_>,
) -> Result<Vec<String>, Reply> {
    let form = req.form.as_ref().expect("csrf_ok holds only with a form");
    let token = form.get("enrol").unwrap_or("");
    let code = form.get("code").unwrap_or("");
    match app.accounts.finish_enrolment(user, token, code).await {
        Ok(EnrolOutcome::Enrolled(codes)) => {
            let login = LoginName::parse(&user.username).expect("stored user names are canonical");
            app.accounts
                .audit(
                    &req.tenant,
                    Some(user),
                    &login,
                    AuditResult::AuthenticatorEnrolled,
                    &req.client,
                )
                .await;
            Ok(codes)
        }
        Ok(EnrolOutcome::WrongCode) => {
            let Some(e) = app.accounts.resume_enrolment(&req.tenant, user, token) else {
                return Err(Reply::redirect(303, set_up.action));
            };
            let msg =
                "That code is not right. Check the app's clock, wait for a new code and try again.";
            Err(enrolment_page(app, req, &e, set_up, 200, Some(msg)))
        }
        Ok(EnrolOutcome::AlreadyEnrolled) => Err(Reply::redirect(303, ACCOUNT_PATH)),
        Ok(EnrolOutcome::Expired) => {
            let e = app.accounts.begin_enrolment(&req.tenant, user);
            let msg = "That set-up expired. Scan this new code and try again.";
            Err(enrolment_page(app, req, &e, set_up, 200, Some(msg)))
        }
        Err(e) => Err(unavailable(app, req, &e)),
    }
}

pub async fn enable_authenticator(app: &App, req: &Request<'_>) -> Reply {
    let (_, user) = match signed_in(app, req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !req.tenant.settings.authenticator_allowed {
        return error_page(
            app,
            Some(&req.tenant),
            403,
            "Not available",
            "Authenticator apps are turned off here.",
        );
    }
    if req.method == Method::Post && !csrf_ok(app, req) {
        return csrf_refused(app, req);
    }
    // Replacing an enrolled app would also replace its recovery codes: that goes
    // through "turn off" first, which asks for a fresh proof.
    match app.accounts.has_authenticator(user.id).await {
        Ok(false) => {}
        Ok(true) => return Reply::redirect(303, ACCOUNT_PATH),
        Err(e) => return unavailable(app, req, &e),
    }
    match req.method {
        Method::Get | Method::Head => {
            let e = app.accounts.begin_enrolment(&req.tenant, &user);
            enrolment_page(app, req, &e, ACCOUNT_SET_UP, 200, None)
        }
        Method::Post => match finish(app, req, &user, ACCOUNT_SET_UP).await {
            Ok(codes) => {
                recovery_page(app, req, &codes, ACCOUNT_PATH, "Back to your account", None)
            }
            Err(reply) => reply,
        },
        Method::Other => error_page(
            app,
            Some(&req.tenant),
            405,
            "Method not allowed",
            "Use the form.",
        ),
    }
}

/// `when_no_provider = "enrol"`: the browser's password is right, and it reaches
/// nothing until an authenticator is set up.
pub async fn enrol_at_sign_in(app: &App, req: &Request<'_>) -> Reply {
    let session = match current_session(app, req).await {
        Ok(Some(s)) if s.stage == Stage::Enrol => s,
        Ok(_) => return Reply::redirect(303, LOGIN_PATH),
        Err(e) => return unavailable(app, req, &e),
    };
    let user = match app.accounts.store.user_by_id(session.user_id).await {
        Ok(Some(u)) if u.active && *u.security_stamp == *session.security_stamp => u,
        Ok(_) => return Reply::redirect(303, LOGIN_PATH),
        Err(e) => return unavailable(app, req, &e),
    };
    // Set-up at sign-in exists only for a user with no way to give a second
    // factor. Once the user has one (set up meanwhile, in another browser), this
    // half-way session is worth nothing: it must not enrol a second app, which
    // would sign in with the password alone and replace the user's app.
    let has_provider = match app.accounts.has_authenticator(user.id).await {
        Ok(has_app) => {
            has_app || !second_factor::offered(&req.tenant.settings, &user, false).is_empty()
        }
        Err(e) => return unavailable(app, req, &e),
    };
    if has_provider {
        if let Err(e) = app.accounts.end_session(&session.key).await {
            return unavailable(app, req, &e);
        }
        return Reply::redirect(303, LOGIN_PATH)
            .with_cookie(cookies::clear(cookies::SESSION, req.secure));
    }
    match req.method {
        Method::Get | Method::Head => {
            let e = app.accounts.begin_enrolment(&req.tenant, &user);
            enrolment_page(app, req, &e, SIGN_IN_SET_UP, 200, None)
        }
        Method::Post => {
            if !csrf_ok(app, req) {
                return csrf_refused(app, req);
            }
            let codes = match finish(app, req, &user, SIGN_IN_SET_UP).await {
                Ok(codes) => codes,
                Err(reply) => return reply,
            };
            let done = app
                .accounts
                .complete_sign_in(
                    &req.tenant,
                    &session,
                    &user,
                    "authenticator",
                    false,
                    AuditResult::TwoFactorSuccess,
                    &req.client,
                )
                .await;
            match done {
                Ok(VerifyOutcome::SignedIn { id, session, .. }) => {
                    recovery_page(app, req, &codes, &session.return_to, "Continue", None)
                        .with_cookie(cookies::set(
                            cookies::SESSION,
                            &id.cookie_value(),
                            req.secure,
                            None,
                        ))
                }
                Ok(_) => Reply::redirect(303, LOGIN_PATH),
                Err(e) => unavailable(app, req, &e),
            }
        }
        Method::Other => error_page(
            app,
            Some(&req.tenant),
            405,
            "Method not allowed",
            "Use the form.",
        ),
    }
}

/// Viewing or regenerating recovery codes and turning the authenticator off.
pub async fn sensitive(app: &App, req: &Request<'_>) -> Reply {
    let (session, user) = match signed_in(app, req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match app.accounts.has_authenticator(user.id).await {
        Ok(true) => {}
        Ok(false) => return Reply::redirect(303, ACCOUNT_PATH),
        Err(e) => return unavailable(app, req, &e),
    }
    let (title, message, button, danger) = match req.path {
        RECOVERY_PATH => ("View recovery codes", "Confirm it is you to see your unused recovery codes.", "Show codes", false),
        REGENERATE_PATH => (
            "New recovery codes",
            "Confirm it is you to make ten new recovery codes. Your current codes will stop working.",
            "Make new codes",
            false,
        ),
        _ => (
            "Turn off the authenticator",
            "Confirm it is you to remove your authenticator app and recovery codes. You will be signed out everywhere else.",
            "Turn off",
            true,
        ),
    };
    let confirm = |status: u16, error: Option<&str>| {
        let (csrf, set_cookie) = csrf_for(app, req);
        let reply = render(
            app,
            status,
            "confirm.html",
            json!({
                "tenant_name": req.tenant.display_name,
                "action": req.path,
                "csrf": csrf,
                "title": title,
                "message": message,
                "button_label": button,
                "danger": danger,
                "error": error,
                "cancel_url": ACCOUNT_PATH,
            }),
        );
        with_csrf_cookie(reply, set_cookie)
    };
    match req.method {
        Method::Get | Method::Head => confirm(200, None),
        Method::Post => {
            if !csrf_ok(app, req) {
                return csrf_refused(app, req);
            }
            let proof = req.form.as_ref().and_then(|f| f.get("proof")).unwrap_or("");
            match app
                .accounts
                .fresh_proof(&req.tenant, &user, proof, &req.client)
                .await
            {
                Ok(Proof::Accepted) => {}
                Ok(Proof::Refused) => return confirm(200, Some("That is not right. Try again.")),
                Ok(Proof::Locked { until }) => {
                    let left = until - now();
                    let msg = format!(
                        "Too many failed attempts. Try again in {}.",
                        human_duration(left)
                    );
                    return confirm(429, Some(&msg))
                        .with_header("retry-after", left.max(1).to_string());
                }
                Err(e) => return unavailable(app, req, &e),
            }
            let result = match req.path {
                RECOVERY_PATH => app.accounts.recovery_codes(&user).await.map(|codes| {
                    recovery_page(app, req, &codes, ACCOUNT_PATH, "Back to your account", None)
                }),
                REGENERATE_PATH => {
                    app.accounts
                        .regenerate_recovery_codes(&user)
                        .await
                        .map(|codes| {
                            let warning =
                                Some("These replace your previous codes, which no longer work.");
                            recovery_page(
                                app,
                                req,
                                &codes,
                                ACCOUNT_PATH,
                                "Back to your account",
                                warning,
                            )
                        })
                }
                _ => app
                    .accounts
                    .disable_two_factor(&user, Some(session.key))
                    .await
                    .map(|()| {
                        Reply::redirect(303, &format!("{ACCOUNT_PATH}?done=authenticator-off"))
                    }),
            };
            result.unwrap_or_else(|e| unavailable(app, req, &e))
        }
        Method::Other => error_page(
            app,
            Some(&req.tenant),
            405,
            "Method not allowed",
            "Use the form.",
        ),
    }
}

/// "Sign out other browsers" (keeps this one) and "sign out everywhere": both
/// rotate the security stamp, so remembered browsers are forgotten too.
pub async fn sign_out_elsewhere(app: &App, req: &Request<'_>) -> Reply {
    if req.method != Method::Post {
        return Reply::redirect(303, ACCOUNT_PATH);
    }
    let (session, user) = match signed_in(app, req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !csrf_ok(app, req) {
        return csrf_refused(app, req);
    }
    let everywhere = req.path == super::SIGN_OUT_EVERYWHERE_PATH;
    let keep = (!everywhere).then_some(session.key);
    if let Err(e) = app.accounts.store.rotate_stamp(user.id, keep).await {
        return unavailable(app, req, &e);
    }
    app.accounts.sessions.remove_user(user.id);
    tracing::info!(target: crate::auth::signin::AUDIT_TARGET, tenant = %req.tenant.name, user = %user.username, everywhere, "signed out elsewhere");
    if everywhere {
        render(
            app,
            200,
            "signed_out.html",
            json!({ "tenant_name": req.tenant.display_name, "login_url": LOGIN_PATH }),
        )
        .with_cookie(cookies::clear(cookies::SESSION, req.secure))
    } else {
        Reply::redirect(303, &format!("{ACCOUNT_PATH}?done=others-signed-out"))
    }
}
