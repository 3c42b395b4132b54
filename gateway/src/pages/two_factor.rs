//! The send-code and verify pages (SPEC 5.2, 5.3). Both serve only a browser
//! whose password step is done and whose second factor is still owed.

use super::signin::{current_session, unavailable};
use super::{
    cookies, csrf_for, csrf_ok, csrf_refused, error_page, human_duration, render, Method, Reply,
    Request,
};
use super::{LOGIN_PATH, LOGOUT_PATH, SEND_CODE_PATH, VERIFY_PATH};
use crate::app::App;
use crate::auth::second_factor::Provider;
use crate::auth::session::{Session, Stage};
use crate::auth::signin::{SendOutcome, VerifyOutcome};
use crate::store::{now, User};
use serde_json::json;
use std::sync::Arc;

/// The pending session and its user, or the reply to send instead.
async fn pending(
    app: &App,
    req: &Request<'_>,
) -> Result<(Arc<Session>, User, Vec<Provider>), Reply> {
    let session = match current_session(app, req).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(Reply::redirect(303, LOGIN_PATH)),
        Err(e) => return Err(unavailable(app, req, &e)),
    };
    match session.stage {
        Stage::SecondFactor => {}
        Stage::SignedIn => return Err(Reply::redirect(303, &session.return_to)),
        Stage::Enrol => return Err(Reply::redirect(303, LOGIN_PATH)),
    }
    match app.accounts.pending_user(&req.tenant, &session).await {
        Ok(Some((user, offered))) => Ok((session, user, offered)),
        Ok(None) => Err(Reply::redirect(303, LOGIN_PATH)),
        Err(e) => Err(unavailable(app, req, &e)),
    }
}

pub async fn send_code(app: &App, req: &Request<'_>) -> Reply {
    let (_session, user, offered) = match pending(app, req).await {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    match req.method {
        Method::Get | Method::Head => send_code_page(app, req, &user, &offered, 200, None),
        Method::Post => {
            if !csrf_ok(app, req) {
                return csrf_refused(app, req);
            }
            let form = req.form.as_ref().expect("csrf_ok holds only with a form");
            let Some(provider) = form.get("provider").and_then(Provider::parse) else {
                return send_code_page(
                    app,
                    req,
                    &user,
                    &offered,
                    400,
                    Some("Choose how to get your code."),
                );
            };
            let outcome = app
                .accounts
                .send_code(&req.tenant, &user, &offered, provider, &req.client)
                .await;
            match outcome {
                Ok(SendOutcome::Sent { .. }) => Reply::redirect(303, &verify_url(provider, false)),
                // The code already sent is still good: go and enter it.
                Ok(SendOutcome::TooSoon { .. }) => {
                    Reply::redirect(303, &verify_url(provider, true))
                }
                Ok(SendOutcome::Failed) => {
                    let msg = format!(
                        "We could not send a code by {}. Try again or choose another way.",
                        provider.label().to_lowercase()
                    );
                    send_code_page(app, req, &user, &offered, 200, Some(&msg))
                }
                Ok(SendOutcome::NotOffered) => send_code_page(
                    app,
                    req,
                    &user,
                    &offered,
                    400,
                    Some("That way of getting a code is not available."),
                ),
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

fn verify_url(provider: Provider, too_soon: bool) -> String {
    let recent = if too_soon { "&sent=recently" } else { "" };
    format!("{VERIFY_PATH}?provider={}{recent}", provider.as_str())
}

fn send_code_page(
    app: &App,
    req: &Request<'_>,
    user: &User,
    offered: &[Provider],
    status: u16,
    error: Option<&str>,
) -> Reply {
    let providers: Vec<_> = offered
        .iter()
        .map(|p| {
            let detail = match p {
                Provider::Email => user.email.as_deref().map(crate::notify::mask_email),
                Provider::Sms => user.phone.as_deref().map(crate::notify::mask_phone),
                Provider::Authenticator => Some(
                    "The code in your app, or a recovery code if you lost your phone".to_owned(),
                ),
            };
            json!({ "id": p.as_str(), "label": p.label(), "detail": detail.unwrap_or_default() })
        })
        .collect();
    let (csrf, set_cookie) = csrf_for(app, req);
    let reply = render(
        app,
        status,
        "send_code.html",
        json!({
            "tenant_name": req.tenant.display_name,
            "action": SEND_CODE_PATH,
            "csrf": csrf,
            "providers": providers,
            "logout_url": LOGOUT_PATH,
            "error": error,
        }),
    );
    match set_cookie {
        Some(c) => reply.with_cookie(c),
        None => reply,
    }
}

pub async fn verify(app: &App, req: &Request<'_>) -> Reply {
    let (session, user, offered) = match pending(app, req).await {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let Some(provider) = req
        .query_param("provider")
        .as_deref()
        .and_then(Provider::parse)
        .filter(|p| offered.contains(p))
    else {
        return Reply::redirect(303, SEND_CODE_PATH);
    };
    let page = VerifyPage {
        user: &user,
        provider,
        recovery_allowed: offered.contains(&Provider::Authenticator),
    };
    match req.method {
        Method::Get | Method::Head => {
            // Fixed messages only: text from the URL would let a link write on the page.
            let info = (req.query_param("sent").as_deref() == Some("recently")).then_some(
                "A code was sent a moment ago. Enter it below, or ask for a new one in a little while.",
            );
            page.render(app, req, 200, None, info, false)
        }
        Method::Post => {
            if !csrf_ok(app, req) {
                return csrf_refused(app, req);
            }
            let form = req.form.as_ref().expect("csrf_ok holds only with a form");
            let recovery = form.get("recovery_code").filter(|c| !c.trim().is_empty());
            if let Some(typed) = recovery.filter(|_| page.recovery_allowed) {
                let outcome = app
                    .accounts
                    .verify_recovery(&req.tenant, &session, &user, typed, &req.client)
                    .await;
                return page.answer(app, req, outcome, true);
            }
            let Some(code) = form.get("code").filter(|c| !c.trim().is_empty()) else {
                return page.render(app, req, 400, Some("Enter the code."), None, false);
            };
            let remember = form.get("remember") == Some("on");
            let outcome = app
                .accounts
                .verify_code(
                    &req.tenant,
                    &session,
                    &user,
                    provider,
                    code,
                    remember,
                    &req.client,
                )
                .await;
            page.answer(app, req, outcome, false)
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

/// The verify page for one user and provider.
struct VerifyPage<'a> {
    user: &'a User,
    provider: Provider,
    recovery_allowed: bool,
}

impl VerifyPage<'_> {
    /// The reply to a checked code or recovery code.
    fn answer(
        &self,
        app: &App,
        req: &Request<'_>,
        outcome: Result<VerifyOutcome, crate::store::StoreError>,
        recovery: bool,
    ) -> Reply {
        let wrong = if recovery {
            "That recovery code is not right or was already used."
        } else {
            "That code is not right. Check it and try again."
        };
        match outcome {
            Ok(VerifyOutcome::SignedIn {
                id,
                session,
                remember,
            }) => {
                let mut reply = Reply::redirect(303, &session.return_to).with_cookie(cookies::set(
                    cookies::SESSION,
                    &id.cookie_value(),
                    req.secure,
                    None,
                ));
                if let Some((token, max_age)) = remember {
                    reply = reply.with_cookie(cookies::set(
                        cookies::REMEMBER,
                        &token,
                        req.secure,
                        Some(max_age),
                    ));
                }
                reply
            }
            Ok(VerifyOutcome::Wrong) => self.render(app, req, 200, Some(wrong), None, recovery),
            Ok(VerifyOutcome::NoCode) => self.render(
                app,
                req,
                200,
                Some("This code has expired or was already used. Send a new code."),
                None,
                recovery,
            ),
            Ok(VerifyOutcome::Locked { until }) => {
                let left = until - now();
                let msg = format!(
                    "Too many failed attempts. Try again in {}.",
                    human_duration(left)
                );
                self.render(app, req, 429, Some(&msg), None, recovery)
                    .with_header("retry-after", left.max(1).to_string())
            }
            Err(e) => unavailable(app, req, &e),
        }
    }

    fn render(
        &self,
        app: &App,
        req: &Request<'_>,
        status: u16,
        error: Option<&str>,
        info: Option<&str>,
        recovery_open: bool,
    ) -> Reply {
        let provider = self.provider;
        let destination = match provider {
            Provider::Email => self.user.email.as_deref().map(crate::notify::mask_email),
            Provider::Sms => self.user.phone.as_deref().map(crate::notify::mask_phone),
            Provider::Authenticator => None,
        };
        let settings = &req.tenant.settings;
        let (csrf, set_cookie) = csrf_for(app, req);
        let reply = render(
            app,
            status,
            "verify.html",
            json!({
                "tenant_name": req.tenant.display_name,
                "action": format!("{VERIFY_PATH}?provider={}", provider.as_str()),
                "csrf": csrf,
                "provider": provider.as_str(),
                "provider_label": provider.label(),
                "destination": destination,
                "remember_allowed": settings.remember_browser_allowed,
                "remember_days": settings.remember_browser_for.as_secs() / 86_400,
                "recovery_allowed": self.recovery_allowed,
                "recovery_open": recovery_open,
                "resend_action": (provider != Provider::Authenticator).then_some(SEND_CODE_PATH),
                "choose_url": SEND_CODE_PATH,
                "logout_url": LOGOUT_PATH,
                "error": error,
                "info": info,
            }),
        );
        match set_cookie {
            Some(c) => reply.with_cookie(c),
            None => reply,
        }
    }
}
