//! Portcullis's own pages: the HTML templates, the stylesheet and their rendering.
//!
//! This crate owns what a browser sees of the gateway itself: login, two-step verification,
//! sign-out, account, password reset and change, email and phone confirmation, and error
//! pages. It knows nothing of HTTP, sessions or tenants; the
//! gateway builds a serde context for each page and serves the rendered string.
//!
//! The templates ship inside the binary. An operator may override any of them by name from a
//! directory; only the fixed list of names below can be loaded, so a template name can never
//! reach a file outside that directory, and a broken override stops the start rather than
//! failing on the first request.
//!
//! Rendering rules the templates rely on:
//! - every value is HTML-escaped, except `qr_svg` of `authenticator.html`: that is SVG markup
//!   the gateway draws itself, printed with `|safe` (a unit test keeps it the only one);
//! - printing a value the context lacks is an error, so a page never goes out with, say, an
//!   empty CSRF field; optional values are only printed behind an `{% if %}`;
//! - the pages hold no JavaScript, no inline styles and no external resources, so they work
//!   under `default-src 'self'` and without scripting.

#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior, Value};

/// The stylesheet served at /.portcullis/assets/portcullis.css
pub const STYLESHEET: &str = include_str!("../static/portcullis.css");

/// Every template Portcullis knows, by name, with its built-in source. These names are the
/// only ones [`Pages`] loads or renders.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("alerts.html", include_str!("../templates/alerts.html")),
    ("login.html", include_str!("../templates/login.html")),
    (
        "signed_out.html",
        include_str!("../templates/signed_out.html"),
    ),
    ("logout.html", include_str!("../templates/logout.html")),
    ("error.html", include_str!("../templates/error.html")),
    (
        "send_code.html",
        include_str!("../templates/send_code.html"),
    ),
    ("verify.html", include_str!("../templates/verify.html")),
    ("account.html", include_str!("../templates/account.html")),
    (
        "authenticator.html",
        include_str!("../templates/authenticator.html"),
    ),
    (
        "recovery_codes.html",
        include_str!("../templates/recovery_codes.html"),
    ),
    ("confirm.html", include_str!("../templates/confirm.html")),
    ("forgot.html", include_str!("../templates/forgot.html")),
    ("reset.html", include_str!("../templates/reset.html")),
    ("notice.html", include_str!("../templates/notice.html")),
    (
        "confirm_link.html",
        include_str!("../templates/confirm_link.html"),
    ),
    ("password.html", include_str!("../templates/password.html")),
    (
        "phone_code.html",
        include_str!("../templates/phone_code.html"),
    ),
];

/// A failure to load or render a page template.
///
/// The messages are for operators and logs; none of them belongs in a response body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PagesError {
    /// The override directory is missing or is not a directory.
    #[error("template override directory {}: {reason}", path.display())]
    OverrideDir {
        /// The directory as configured.
        path: PathBuf,
        /// Why it cannot be used.
        reason: io::Error,
    },

    /// An override template exists but cannot be read.
    #[error("cannot read override template {}: {reason}", path.display())]
    ReadOverride {
        /// The file that failed.
        path: PathBuf,
        /// The read error.
        reason: io::Error,
    },

    /// An override template does not parse.
    #[error("override template {} does not parse: {reason}", path.display())]
    ParseOverride {
        /// The file that failed.
        path: PathBuf,
        /// The syntax error, with its line.
        reason: minijinja::Error,
    },

    /// A built-in template does not parse (a build defect, caught by the unit tests).
    #[error("built-in template {name} does not parse: {reason}")]
    ParseBuiltIn {
        /// The template name.
        name: &'static str,
        /// The syntax error, with its line.
        reason: minijinja::Error,
    },

    /// A caller asked for a template that is not in the fixed list.
    #[error("no page template named {name:?}")]
    UnknownTemplate {
        /// The name asked for.
        name: String,
    },

    /// A template failed while rendering, e.g. because the context lacks a value it prints.
    #[error("page template {name} failed to render: {reason}")]
    Render {
        /// The template name.
        name: String,
        /// The render error, with the template and line where it happened.
        reason: minijinja::Error,
    },
}

/// The loaded page templates, ready to render. Cheap to share behind an `Arc`.
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    /// Built-in templates; with Some(dir), a file `dir/<name>` overrides the built-in template
    /// of that name.
    ///
    /// Only names from the fixed list are looked up in `dir`; other files there are ignored.
    /// Every template is parsed here, so a syntax error in an override fails the start and
    /// names the file.
    pub fn new(override_dir: Option<&Path>) -> Result<Pages, PagesError> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_formatter(html_formatter);
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);

        // The directory itself must exist: a typo there would silently serve the built-ins.
        if let Some(dir) = override_dir {
            check_override_dir(dir)?;
        }

        for &(name, builtin) in TEMPLATES {
            let source = match override_dir {
                Some(dir) => read_override(dir, name)?,
                None => None,
            };
            match source {
                Some((path, text)) => env
                    .add_template_owned(name, text)
                    .map_err(|reason| PagesError::ParseOverride { path, reason })?,
                None => env
                    .add_template(name, builtin)
                    .map_err(|reason| PagesError::ParseBuiltIn { name, reason })?,
            }
        }
        Ok(Pages { env })
    }

    /// Render template `name` (e.g. "login.html") with a serde context. HTML auto-escaping on.
    ///
    /// Fails for a name outside the fixed list and for a context that lacks a value the
    /// template prints.
    pub fn render<S: serde::Serialize>(&self, name: &str, ctx: &S) -> Result<String, PagesError> {
        if !TEMPLATES.iter().any(|&(known, _)| known == name) {
            return Err(PagesError::UnknownTemplate {
                name: name.to_owned(),
            });
        }
        let render_error = |reason| PagesError::Render {
            name: name.to_owned(),
            reason,
        };
        let template = self.env.get_template(name).map_err(render_error)?;
        template.render(ctx).map_err(render_error)
    }
}

impl fmt::Debug for Pages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.env.templates().map(|(name, _)| name).collect();
        f.debug_struct("Pages").field("templates", &names).finish()
    }
}

/// Prints a value into a page, escaping strings for HTML text and quoted attributes.
///
/// minijinja's own HTML escape also turns `/` into `&#x2f;`; that buys nothing once `<` and
/// quotes are escaped, and it garbles every URL in the forms for the scripts that read them.
fn html_formatter(out: &mut Output, state: &State, value: &Value) -> Result<(), minijinja::Error> {
    let Some(text) = value.as_str() else {
        return minijinja::escape_formatter(out, state, value);
    };
    if value.is_safe() || state.auto_escape() != AutoEscape::Html {
        return minijinja::escape_formatter(out, state, value);
    }
    let mut rest = text;
    while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
        let entity = match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        };
        out.write_str(&rest[..at])?;
        out.write_str(entity)?;
        rest = &rest[at + 1..];
    }
    Ok(out.write_str(rest)?)
}

fn check_override_dir(dir: &Path) -> Result<(), PagesError> {
    let metadata = std::fs::metadata(dir).map_err(|reason| PagesError::OverrideDir {
        path: dir.to_owned(),
        reason,
    })?;
    if metadata.is_dir() {
        return Ok(());
    }
    Err(PagesError::OverrideDir {
        path: dir.to_owned(),
        reason: io::Error::new(io::ErrorKind::InvalidInput, "not a directory"),
    })
}

/// The override for template `name`, or `None` when `dir` has no file of that name.
///
/// `name` comes from [`TEMPLATES`], never from a caller, so the joined path stays in `dir`.
fn read_override(dir: &Path, name: &str) -> Result<Option<(PathBuf, String)>, PagesError> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some((path, text))),
        Err(reason) if reason.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(reason) => Err(PagesError::ReadOverride { path, reason }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::value::ValueKind;
    use minijinja::{context, Value};

    /// A scratch directory under the system temp dir, removed on drop.
    struct ScratchDir(PathBuf);

    impl ScratchDir {
        fn new(test: &str) -> ScratchDir {
            let dir = std::env::temp_dir()
                .join(format!("portcullis-pages-{}-{test}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("the temp dir is writable");
            ScratchDir(dir)
        }

        fn write(&self, name: &str, text: &str) {
            std::fs::write(self.0.join(name), text).expect("the scratch dir is writable");
        }
    }

    impl Drop for ScratchDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn pages() -> Pages {
        Pages::new(None).expect("the built-in templates parse")
    }

    fn login_ctx() -> Value {
        context! {
            tenant_name => "Acme",
            action => "/.portcullis/login",
            csrf => "tok123",
            return_to => "/app?x=1",
            username => "jo",
            error => "Invalid user name or password.",
            forgot_url => "/.portcullis/forgot",
        }
    }

    /// One full sample context per page template.
    fn samples() -> Vec<(&'static str, Value)> {
        vec![
            ("login.html", login_ctx()),
            (
                "signed_out.html",
                context! { tenant_name => "Acme", login_url => "/login" },
            ),
            (
                "logout.html",
                context! { tenant_name => "Acme", action => "/logout", csrf => "t", user => "Jo" },
            ),
            (
                "error.html",
                context! {
                    status => 429, title => "Too many attempts", message => "Wait a moment.",
                    retry_after => "4 minutes 10 seconds", link_url => "/", link_text => "Home",
                },
            ),
            (
                "send_code.html",
                context! {
                    tenant_name => "Acme", action => "/send", csrf => "t", logout_url => "/logout",
                    info => "Choose a method.",
                    providers => vec![
                        context! { id => "email", label => "Email", detail => "j•••@example.com" },
                        context! { id => "authenticator", label => "Authenticator app", detail => "" },
                    ],
                },
            ),
            (
                "verify.html",
                context! {
                    tenant_name => "Acme", action => "/verify", csrf => "t", provider => "email",
                    provider_label => "Email", destination => "j•••@example.com",
                    remember_allowed => true, remember_days => 14, recovery_allowed => true,
                    resend_action => "/send", choose_url => "/send", error => "Wrong code.",
                },
            ),
            ("account.html", account_ctx()),
            ("authenticator.html", authenticator_ctx()),
            ("recovery_codes.html", recovery_codes_ctx()),
            ("confirm.html", confirm_ctx()),
            // Appended after the pages above, so their indices stay put.
            ("forgot.html", forgot_ctx()),
            (
                "forgot.html",
                merge(&forgot_ctx(), context! { sent => true }),
            ),
            ("reset.html", reset_ctx()),
            ("notice.html", notice_ctx()),
            ("confirm_link.html", confirm_link_ctx()),
            ("password.html", password_ctx()),
            ("phone_code.html", phone_code_ctx()),
            ("login.html", unconfirmed_login_ctx()),
            (
                "account.html",
                merge(&account_ctx(), context! { email_confirmed => false }),
            ),
        ]
    }

    fn forgot_ctx() -> Value {
        context! {
            tenant_name => "Acme", action => "/.portcullis/forgot", csrf => "t",
            login_url => "/.portcullis/login", username => "jo", error => "Too many requests.",
            info => "If that account exists, we sent it a link.",
        }
    }

    fn reset_ctx() -> Value {
        context! {
            tenant_name => "Acme", action => "/.portcullis/reset", csrf => "t",
            token => "reset-token", min_length => 12,
            rules => "Use letters and digits.", error => "The passwords do not match.",
        }
    }

    fn notice_ctx() -> Value {
        context! {
            tenant_name => "Acme", title => "Email confirmed",
            message => "Your email address is confirmed.",
            link_url => "/.portcullis/account", link_text => "Back to your account",
            tone => "success",
        }
    }

    fn confirm_link_ctx() -> Value {
        context! {
            tenant_name => "Acme", action => "/.portcullis/confirm-email", csrf => "t",
            token => "mail-token", title => "Confirm your email address",
            message => "Confirm jo@example.com for your account.",
            button_label => "Confirm email address",
        }
    }

    fn password_ctx() -> Value {
        context! {
            tenant_name => "Acme", action => "/.portcullis/account/password", csrf => "t",
            min_length => 12, rules => "Use letters and digits.",
            error => "Your current password is not right.", cancel_url => "/.portcullis/account",
        }
    }

    fn phone_code_ctx() -> Value {
        context! {
            tenant_name => "Acme", action => "/.portcullis/account/phone", csrf => "t",
            phone => "•••• 0123", error => "Wrong code.", info => "We sent you a new code.",
            resend_action => "/.portcullis/account/phone/send", cancel_url => "/.portcullis/account",
        }
    }

    fn unconfirmed_login_ctx() -> Value {
        merge(
            &login_ctx(),
            context! {
                error => "Confirm your email address before you sign in.",
                resend_confirmation => context! {
                    action => "/.portcullis/confirm-email/send", ticket => "ticket-1",
                },
            },
        )
    }

    /// A QR code as the gateway draws it: the qrcode crate's SVG without its XML declaration.
    const QR_SVG: &str = concat!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="16" height="16""#,
        r#" viewBox="0 0 16 16" shape-rendering="crispEdges">"#,
        r##"<rect x="0" y="0" width="16" height="16" fill="#fff"/>"##,
        r##"<path fill="#000" d="M4 4h8v8H4V4"/></svg>"##,
    );

    /// The one absolute URL a page may hold: the SVG namespace of the inline QR code.
    const SVG_NAMESPACE: &str = r#"xmlns="http://www.w3.org/2000/svg""#;

    fn account_ctx() -> Value {
        context! {
            tenant_name => "Acme", user => "Jo", csrf => "t", logout_url => "/logout",
            two_factor_required => true,
            email => "jo@example.com", email_confirmed => true,
            phone => "+44 7700 900123", phone_confirmed => false,
            authenticator_enabled => true, authenticator_allowed => true,
            recovery_codes_left => 7, last_recovery_use => "2026-12-04 15:04 UTC",
            urls => context! {
                enable_authenticator => "/account/authenticator",
                disable_authenticator => "/account/authenticator/off",
                view_recovery => "/account/recovery",
                regenerate_recovery => "/account/recovery/new",
                confirm_email => "/account/email/confirm",
                confirm_phone => "/account/phone/confirm",
                change_password => "/account/password",
            },
            info => "Your authenticator app is on.",
        }
    }

    fn authenticator_ctx() -> Value {
        context! {
            tenant_name => "Acme", action => "/account/authenticator", csrf => "t",
            qr_svg => QR_SVG, secret_groups => "JBSW Y3DP EHPK 3PXP",
            otpauth_uri => "otpauth://totp/Acme:jo?secret=JBSWY3DPEHPK3PXP&issuer=Acme",
            enrol => "enrol-token", error => "That code is not right.",
            cancel_url => "/account",
            intro => "Acme asks for two-step verification before you continue.",
        }
    }

    fn recovery_codes_ctx() -> Value {
        context! {
            tenant_name => "Acme",
            codes => vec!["7KQ2M-XR4TP", "B3N8V-QW6ZD", "H5T9C-LM2KX"],
            download_href => "data:text/plain;charset=utf-8,7KQ2M-XR4TP%0AB3N8V-QW6ZD%0AH5T9C-LM2KX%0A",
            continue_url => "/account", continue_label => "Back to your account",
            intro => "Save these codes somewhere safe. Each works once.",
            warning => "These replace your previous codes.",
        }
    }

    fn confirm_ctx() -> Value {
        context! {
            tenant_name => "Acme", action => "/account/authenticator/off", csrf => "t",
            title => "Turn off the authenticator app",
            message => "Your recovery codes stop working too.",
            button_label => "Turn off", danger => true, error => "That did not match.",
            cancel_url => "/account",
        }
    }

    #[test]
    fn every_template_renders_with_a_sample_context() {
        let pages = pages();
        for (name, ctx) in samples() {
            let html = pages
                .render(name, &ctx)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(html.starts_with("<!doctype html>"), "{name}");
            assert!(html.contains("<main>"), "{name}");
            assert!(html.contains("Protected by Portcullis"), "{name}");
            assert!(
                html.contains(r#"href="/.portcullis/assets/tenant.css""#),
                "{name}"
            );
        }
    }

    #[test]
    fn pages_hold_no_script_inline_style_or_external_resource() {
        let pages = pages();
        for (name, ctx) in samples() {
            let html = pages.render(name, &ctx).expect("sample renders");
            let html = html.replace(SVG_NAMESPACE, "");
            for banned in ["<script", "<style", " style=", "http://", "https://"] {
                assert!(!html.contains(banned), "{name} contains {banned:?}");
            }
            assert!(
                !has_event_handler(&html),
                "{name} has an event handler attribute"
            );
        }
    }

    /// Whether `html` has an attribute such as ` onclick=`.
    fn has_event_handler(html: &str) -> bool {
        html.match_indices(" on").any(|(i, _)| {
            let rest = &html[i + 3..];
            let word = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            word > 0 && rest[word..].starts_with('=')
        })
    }

    #[test]
    fn every_form_carries_the_csrf_token() {
        let pages = pages();
        for (name, ctx) in samples() {
            let html = pages.render(name, &ctx).expect("sample renders");
            let forms = html.matches("<form").count();
            let tokens = html.matches(r#"<input type="hidden" name="csrf""#).count();
            assert_eq!(forms, tokens, "{name}");
        }
    }

    #[test]
    fn html_in_values_is_escaped() {
        let ctx = context! { tenant_name => "<script>", login_url => "/x\"'><b>&" };
        let html = pages().render("signed_out.html", &ctx).expect("renders");
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"));
        assert!(html.contains(r#"href="/x&quot;&#39;&gt;&lt;b&gt;&amp;""#));
    }

    #[test]
    fn missing_tenant_name_shows_portcullis() {
        let ctx = context! { status => 421, title => "Unknown site", message => "No such site." };
        let html = pages().render("error.html", &ctx).expect("renders");
        assert!(html.contains(r#"<span class="brand-name">Portcullis</span>"#));
        assert!(html.contains("<title>Unknown site · Portcullis</title>"));
        assert!(!html.contains("Try again in"));
    }

    #[test]
    fn login_form_carries_fields_csrf_username_password_and_return() {
        let html = pages().render("login.html", &login_ctx()).expect("renders");
        assert!(html.contains(r#"<form class="form" method="post" action="/.portcullis/login">"#));
        assert!(html.contains(r#"name="csrf" value="tok123""#));
        assert!(html.contains(r#"name="return" value="/app?x=1""#));
        assert!(html.contains(r#"name="username" type="text" autocomplete="username""#));
        assert!(html.contains(r#"value="jo""#));
        assert!(html.contains(r#"name="password" type="password" autocomplete="current-password""#));
        assert!(html.contains(r#"role="alert">Invalid user name or password.<"#));
        assert!(html.contains(r#"href="/.portcullis/forgot""#));
    }

    #[test]
    fn forgot_password_link_appears_only_when_set() {
        let ctx = context! { action => "/l", csrf => "t", return_to => "/" };
        let html = pages().render("login.html", &ctx).expect("renders");
        assert!(!html.contains("Forgot password?"));
        assert!(!html.contains("role=\"alert\""));
    }

    #[test]
    fn verify_page_offers_remember_and_recovery_only_when_allowed() {
        let pages = pages();
        let (_, full) = samples().remove(5);
        let html = pages.render("verify.html", &full).expect("renders");
        assert!(html.contains(r#"autocomplete="one-time-code""#));
        assert!(html.contains("Remember this browser for 14 days"));
        assert!(html.contains(r#"name="recovery_code""#));
        assert!(html.contains(r#"name="provider" value="email""#));

        let bare = context! {
            action => "/verify", csrf => "t", provider => "authenticator",
            provider_label => "Authenticator app", remember_allowed => false,
            recovery_allowed => false, choose_url => "/send",
        };
        let html = pages.render("verify.html", &bare).expect("renders");
        assert!(!html.contains(r#"name="remember""#));
        assert!(!html.contains(r#"name="recovery_code""#));
        assert!(!html.contains("Send a new code"));
    }

    /// The account context exactly as the gateway passes it, without the optional values.
    fn bare_account_ctx() -> Value {
        context! {
            user => "Jo", csrf => "t", logout_url => "/logout", two_factor_required => false,
            email => None::<&str>, email_confirmed => false,
            phone => None::<&str>, phone_confirmed => false,
            authenticator_enabled => false, authenticator_allowed => true,
            recovery_codes_left => 0, last_recovery_use => None::<&str>,
            urls => context! {
                enable_authenticator => "/account/authenticator",
                disable_authenticator => "/account/authenticator/off",
                view_recovery => "/account/recovery",
                regenerate_recovery => "/account/recovery/new",
            },
            error => None::<&str>, info => None::<&str>,
        }
    }

    #[test]
    fn account_page_shows_methods_authenticator_links_and_recovery_codes() {
        let html = pages()
            .render("account.html", &account_ctx())
            .expect("renders");
        assert!(html.contains(r#"<span class="badge badge-on">On</span>"#));
        assert!(html.contains("jo@example.com"));
        assert!(html.contains("+44 7700 900123"));
        assert!(html.contains(r#"<span class="badge badge-on">Confirmed</span>"#));
        assert!(html.contains(r#"<span class="badge">Not confirmed</span>"#));
        assert!(html.contains(r#"<a href="/account/recovery">View recovery codes</a>"#));
        assert!(html.contains(r#"<a href="/account/recovery/new">New recovery codes</a>"#));
        assert!(html
            .contains(r#"<a class="link-danger" href="/account/authenticator/off">Turn off</a>"#));
        assert!(!html.contains("Set up an authenticator app"));
        assert!(html.contains("You have 7 recovery codes left."));
        assert!(html.contains("Last used 2026-12-04 15:04 UTC."));
        assert!(!html.contains("alert-warn"));
        assert!(html.contains(r#"role="status">Your authenticator app is on.<"#));
        assert!(html.contains(r#"<form class="form" method="post" action="/logout">"#));
    }

    #[test]
    fn account_page_renders_with_exactly_the_gateway_fields() {
        let pages = pages();
        let html = pages
            .render("account.html", &bare_account_ctx())
            .expect("renders");
        assert!(html.contains(r#"<span class="badge">Off</span>"#));
        assert!(html.contains("Sign-ins need only your password."));
        assert!(html.contains("No address added"));
        assert!(html.contains("No number added"));
        assert!(!html.contains("Confirmed"));
        assert!(html.contains(
            r#"<a class="button button-inline" href="/account/authenticator">Set up an authenticator app</a>"#
        ));
        assert!(!html.contains("View recovery codes"));
        assert!(!html.contains("Turn off"));
        // Recovery codes only mean something once the app is on.
        assert!(!html.contains("You have no recovery codes left."));
        assert!(html.contains("You get recovery codes when you set up an authenticator app."));
        assert!(!html.contains("role=\"alert\""));

        let mut ctx = bare_account_ctx();
        ctx = merge(&ctx, context! { authenticator_allowed => false });
        let html = pages.render("account.html", &ctx).expect("renders");
        assert!(!html.contains("Authenticator app"));
        assert!(!html.contains("Set up an authenticator app"));

        // The urls are required: a missing one fails instead of rendering an empty link.
        let ctx = merge(&bare_account_ctx(), context! { urls => context! {} });
        assert!(pages.render("account.html", &ctx).is_err());
    }

    #[test]
    fn account_page_warns_when_three_or_fewer_recovery_codes_are_left() {
        let pages = pages();
        for (left, sentence) in [
            (3, "You have 3 recovery codes left."),
            (1, "You have 1 recovery code left."),
            (0, "You have no recovery codes left."),
        ] {
            let ctx = merge(&account_ctx(), context! { recovery_codes_left => left });
            let html = pages.render("account.html", &ctx).expect("renders");
            assert!(html.contains(sentence), "{left}");
            assert!(html.contains(r#"<p class="alert alert-warn">"#), "{left}");
            assert!(
                html.contains(r#"<a href="/account/recovery/new">Get new recovery codes</a>"#),
                "{left}"
            );
        }
        let ctx = merge(&account_ctx(), context! { recovery_codes_left => 4 });
        let html = pages.render("account.html", &ctx).expect("renders");
        assert!(!html.contains("alert-warn"));
    }

    /// `base` with the values of `over` put on top.
    fn merge(base: &Value, over: Value) -> Value {
        Value::from_iter(
            base.try_iter()
                .expect("a map")
                .chain(over.try_iter().expect("a map"))
                .map(|key| {
                    let value = over
                        .get_item(&key)
                        .ok()
                        .filter(|v| !v.is_undefined())
                        .unwrap_or_else(|| base.get_item(&key).expect("key of base"));
                    (key, value)
                }),
        )
    }

    /// `base` without its entry `key`.
    fn without(base: &Value, key: &str) -> Value {
        Value::from_iter(
            base.try_iter()
                .expect("a map")
                .filter(|k| k.as_str() != Some(key))
                .map(|k| {
                    let value = base.get_item(&k).expect("key of base");
                    (k, value)
                }),
        )
    }

    #[test]
    fn authenticator_page_shows_qr_key_link_and_code_form() {
        let html = pages()
            .render("authenticator.html", &authenticator_ctx())
            .expect("renders");
        assert!(html.contains(&format!(
            r#"<figure class="qr" role="img" aria-label="QR code for your authenticator app">{QR_SVG}</figure>"#
        )));
        assert!(html.contains("<dt>Or enter this key</dt>"));
        assert!(html.contains(r#"<dd class="secret">JBSW Y3DP EHPK 3PXP</dd>"#));
        assert!(html.contains("<summary>Show the setup link</summary>"));
        assert!(html.contains("otpauth://totp/Acme:jo?secret=JBSWY3DPEHPK3PXP&amp;issuer=Acme</p>"));
        assert!(
            html.contains(r#"<form class="form" method="post" action="/account/authenticator">"#)
        );
        assert!(html.contains(r#"<input type="hidden" name="enrol" value="enrol-token">"#));
        assert!(html.contains(r#"<label for="code">Code from the app</label>"#));
        assert!(html.contains(
            r#"name="code" type="text" inputmode="numeric" autocomplete="one-time-code""#
        ));
        assert!(html.contains(r#"<button class="button" type="submit">Turn on</button>"#));
        assert!(html.contains(r#"<a href="/account">Cancel</a>"#));
        assert!(html.contains("Acme asks for two-step verification before you continue."));
        assert!(html.contains("Google Authenticator, Microsoft Authenticator, 1Password or Aegis"));
        assert!(html.contains("role=\"alert\">That code is not right.<"));
        assert_eq!(html.matches(r#"<li class="step">"#).count(), 3);

        let bare = context! {
            action => "/a", csrf => "t", qr_svg => QR_SVG, secret_groups => "JBSW",
            otpauth_uri => "otpauth://totp/x", enrol => "e",
        };
        let html = pages()
            .render("authenticator.html", &bare)
            .expect("renders");
        assert!(!html.contains("Cancel"));
        assert!(html.contains("The app makes a new code every 30 seconds."));

        // A form without its enrolment token would fail anyway: do not render it.
        let no_enrol = without(&bare, "enrol");
        assert!(pages().render("authenticator.html", &no_enrol).is_err());
    }

    #[test]
    fn recovery_codes_page_shows_grid_text_download_and_continue() {
        let html = pages()
            .render("recovery_codes.html", &recovery_codes_ctx())
            .expect("renders");
        assert!(html.contains(r#"<ul class="codes" aria-label="Recovery codes">"#));
        assert!(html.contains("<li>7KQ2M-XR4TP</li>"));
        assert_eq!(html.matches("<li>").count(), 3);
        assert!(html.contains(
            r#"<a class="button button-secondary" href="data:text/plain;charset=utf-8,7KQ2M-XR4TP%0AB3N8V-QW6ZD%0AH5T9C-LM2KX%0A" download="recovery-codes.txt">Download (.txt)</a>"#
        ));
        assert!(html.contains("<summary>Copy as text</summary>"));
        assert!(html.contains(r#"<label for="codes-text">Recovery codes as text</label>"#));
        assert!(html.contains(
            "rows=\"3\" readonly spellcheck=\"false\">7KQ2M-XR4TP\nB3N8V-QW6ZD\nH5T9C-LM2KX</textarea>"
        ));
        assert!(html.contains(
            r#"<a class="button button-continue" href="/account">Back to your account</a>"#
        ));
        assert!(html.contains("Save these codes somewhere safe. Each works once."));
        assert!(
            html.contains(r#"<p class="alert alert-warn">These replace your previous codes.</p>"#)
        );

        let ctx = merge(&recovery_codes_ctx(), context! { warning => () });
        let html = pages()
            .render("recovery_codes.html", &ctx)
            .expect("renders");
        assert!(!html.contains("alert-warn"));
    }

    #[test]
    fn confirm_page_asks_for_proof_and_styles_danger() {
        let pages = pages();
        let html = pages
            .render("confirm.html", &confirm_ctx())
            .expect("renders");
        assert!(html.contains("<title>Turn off the authenticator app · Acme</title>"));
        assert!(html.contains(
            r#"<label for="proof">Code from your app, a recovery code, or your password</label>"#
        ));
        assert!(html.contains(r#"name="proof" type="password" autocomplete="off""#));
        assert!(html.contains(" required autofocus>"));
        assert!(html
            .contains(r#"<button class="button button-danger" type="submit">Turn off</button>"#));
        assert!(html.contains(r#"<a href="/account">Cancel</a>"#));
        assert!(html.contains("role=\"alert\">That did not match.<"));

        let ctx = merge(
            &confirm_ctx(),
            context! { danger => false, button_label => "Show codes", error => () },
        );
        let html = pages.render("confirm.html", &ctx).expect("renders");
        assert!(html.contains(r#"<button class="button" type="submit">Show codes</button>"#));
        assert!(!html.contains("button-danger"));
        assert!(!html.contains("role=\"alert\""));
    }

    #[test]
    fn every_page_template_has_a_sample() {
        let samples = samples();
        for &(name, _) in TEMPLATES {
            if name == "base.html" || name == "alerts.html" {
                continue;
            }
            assert!(samples.iter().any(|&(n, _)| n == name), "{name}");
        }
    }

    /// Asserts that `name` fails to render once any one of `keys` is left out of `ctx`.
    fn assert_requires(name: &str, ctx: &Value, keys: &[&str]) {
        let pages = pages();
        pages.render(name, ctx).expect("the full context renders");
        for key in keys {
            let err = pages
                .render(name, &without(ctx, key))
                .expect_err(&format!("{name} needs {key}"));
            assert!(matches!(err, PagesError::Render { .. }), "{name} {key}");
        }
    }

    #[test]
    fn forgot_page_asks_for_the_user_name_and_links_back() {
        let pages = pages();
        let html = pages.render("forgot.html", &forgot_ctx()).expect("renders");
        assert!(html.contains("<title>Forgot your password? · Acme</title>"));
        assert!(html.contains("<h1>Forgot your password?</h1>"));
        assert!(html.contains(r#"<form class="form" method="post" action="/.portcullis/forgot">"#));
        assert!(html.contains(r#"<input type="hidden" name="csrf" value="t">"#));
        assert!(html.contains(r#"<label for="username">User name or email</label>"#));
        assert!(html.contains(r#"name="username" type="text" autocomplete="username""#));
        assert!(html.contains(r#" required autofocus value="jo">"#));
        assert!(html.contains(r#"<button class="button" type="submit">Send reset link</button>"#));
        assert!(html.contains(r#"<a href="/.portcullis/login">Back to sign in</a>"#));
        assert!(html.contains(r#"role="alert">Too many requests.<"#));
        assert!(html.contains(r#"role="status">If that account exists, we sent it a link.<"#));

        let bare = context! { action => "/f", csrf => "t", login_url => "/l" };
        let html = pages.render("forgot.html", &bare).expect("renders");
        assert!(html.contains(" required autofocus>"));
        assert!(!html.contains("value=\"\""));
        assert!(!html.contains("role=\"alert\""));
        assert!(!html.contains("role=\"status\""));
        assert_requires("forgot.html", &bare, &["action", "csrf", "login_url"]);
    }

    #[test]
    fn forgot_page_once_sent_shows_the_info_without_the_form() {
        let pages = pages();
        let ctx = merge(&forgot_ctx(), context! { sent => true, error => () });
        let html = pages.render("forgot.html", &ctx).expect("renders");
        assert!(html.contains("<title>Forgot your password? · Acme</title>"));
        assert!(html.contains("<h1>Check your email</h1>"));
        assert!(html.contains(
            r#"<div class="alert alert-info" role="status">If that account exists, we sent it a link.</div>"#
        ));
        assert_eq!(html.matches("role=\"status\"").count(), 1);
        assert!(!html.contains("<form"));
        assert!(!html.contains(r#"name="username""#));
        assert!(html.contains(r#"<a href="/.portcullis/login">Back to sign in</a>"#));

        // Without its own words the page still says, neutrally, what happened.
        let bare = context! { sent => true, login_url => "/l" };
        let html = pages.render("forgot.html", &bare).expect("renders");
        assert!(html.contains(
            r#"role="status">If that account exists, we sent a link to its email address.<"#
        ));
        assert_requires("forgot.html", &bare, &["login_url"]);
    }

    #[test]
    fn reset_page_asks_for_the_new_password_twice_with_the_token() {
        let pages = pages();
        let html = pages.render("reset.html", &reset_ctx()).expect("renders");
        assert!(html.contains(r#"<form class="form" method="post" action="/.portcullis/reset">"#));
        assert!(html.contains(r#"<input type="hidden" name="csrf" value="t">"#));
        assert!(html.contains(r#"<input type="hidden" name="token" value="reset-token">"#));
        assert!(html.contains(r#"<label for="password">New password</label>"#));
        assert!(html.contains(r#"<label for="password_confirm">Repeat the new password</label>"#));
        for field in ["password", "password_confirm"] {
            assert!(html.contains(&format!(
                r#"name="{field}" type="password" autocomplete="new-password" minlength="12" aria-describedby="password-hint" required"#
            )));
        }
        assert!(html.contains(
            r#"<p class="hint" id="password-hint">At least 12 characters. Use letters and digits.</p>"#
        ));
        assert!(html.contains(r#"<button class="button" type="submit">Set password</button>"#));
        assert!(html.contains(r#"role="alert">The passwords do not match.<"#));

        let bare = without(&without(&reset_ctx(), "rules"), "error");
        let html = pages.render("reset.html", &bare).expect("renders");
        assert!(html.contains(r#"<p class="hint" id="password-hint">At least 12 characters.</p>"#));
        assert!(!html.contains("role=\"alert\""));
        assert_requires(
            "reset.html",
            &bare,
            &["action", "csrf", "token", "min_length"],
        );
    }

    #[test]
    fn notice_page_shows_a_success_box_or_plain_text_and_an_optional_link() {
        let pages = pages();
        let html = pages.render("notice.html", &notice_ctx()).expect("renders");
        assert!(html.contains("<title>Email confirmed · Acme</title>"));
        assert!(html.contains("<h1>Email confirmed</h1>"));
        assert!(html.contains(r#"<div class="alert alert-success" role="status">"#));
        assert!(html.contains(r#"<span class="alert-icon" aria-hidden="true"></span>"#));
        assert!(html.contains("<span>Your email address is confirmed.</span>"));
        assert!(!html.contains(r#"class="lead""#));
        assert!(html
            .contains(r#"<a class="button" href="/.portcullis/account">Back to your account</a>"#));

        let bare = context! { title => "Link used", message => "This link was used already." };
        let html = pages.render("notice.html", &bare).expect("renders");
        assert!(html.contains(r#"<p class="lead">This link was used already.</p>"#));
        assert!(!html.contains("alert"));
        assert!(!html.contains(r#"class="button""#));
        assert_requires("notice.html", &bare, &["title", "message"]);

        let ctx = merge(&bare, context! { tone => "neutral", link_url => "/l" });
        let html = pages.render("notice.html", &ctx).expect("renders");
        assert!(!html.contains("alert-success"));
        assert!(html.contains(r#"<a class="button" href="/l">Continue</a>"#));
    }

    #[test]
    fn confirm_link_page_acts_only_on_its_one_post_button() {
        let pages = pages();
        let html = pages
            .render("confirm_link.html", &confirm_link_ctx())
            .expect("renders");
        assert!(html.contains("<title>Confirm your email address · Acme</title>"));
        assert!(html.contains(r#"<p class="lead">Confirm jo@example.com for your account.</p>"#));
        assert_eq!(html.matches("<form").count(), 1);
        assert!(html
            .contains(r#"<form class="form" method="post" action="/.portcullis/confirm-email">"#));
        assert!(html.contains(r#"<input type="hidden" name="token" value="mail-token">"#));
        assert!(
            html.contains(r#"<button class="button" type="submit">Confirm email address</button>"#)
        );
        assert_eq!(html.matches("<input").count(), 2);
        assert!(!html.contains("<a "));
        assert_requires(
            "confirm_link.html",
            &confirm_link_ctx(),
            &[
                "action",
                "csrf",
                "token",
                "title",
                "message",
                "button_label",
            ],
        );
    }

    #[test]
    fn password_page_asks_for_the_current_and_new_password() {
        let pages = pages();
        let html = pages
            .render("password.html", &password_ctx())
            .expect("renders");
        assert!(html.contains(
            r#"<form class="form" method="post" action="/.portcullis/account/password">"#
        ));
        assert!(html.contains(r#"<label for="current_password">Current password</label>"#));
        assert!(html.contains(
            r#"name="current_password" type="password" autocomplete="current-password" required autofocus>"#
        ));
        assert!(html.contains(r#"<label for="password">New password</label>"#));
        assert!(html.contains(r#"<label for="password_confirm">Repeat the new password</label>"#));
        for field in ["password", "password_confirm"] {
            assert!(html.contains(&format!(
                r#"name="{field}" type="password" autocomplete="new-password" minlength="12" aria-describedby="password-hint" required>"#
            )));
        }
        assert!(html.contains(
            r#"<p class="hint" id="password-hint">At least 12 characters. Use letters and digits.</p>"#
        ));
        assert!(html.contains("Your other browsers are signed out"));
        assert!(html.contains(r#"<button class="button" type="submit">Change password</button>"#));
        assert!(html.contains(r#"<a href="/.portcullis/account">Cancel</a>"#));
        assert!(html.contains(r#"role="alert">Your current password is not right.<"#));

        let bare = without(&without(&password_ctx(), "rules"), "error");
        let html = pages.render("password.html", &bare).expect("renders");
        assert!(html.contains(r#"<p class="hint" id="password-hint">At least 12 characters.</p>"#));
        assert!(!html.contains("role=\"alert\""));
        assert_requires(
            "password.html",
            &bare,
            &["action", "csrf", "min_length", "cancel_url"],
        );
    }

    #[test]
    fn phone_code_page_asks_for_the_code_and_offers_a_new_one() {
        let pages = pages();
        let html = pages
            .render("phone_code.html", &phone_code_ctx())
            .expect("renders");
        assert!(html.contains("We sent a code to <strong>•••• 0123</strong>."));
        assert!(html
            .contains(r#"<form class="form" method="post" action="/.portcullis/account/phone">"#));
        assert!(html.contains(r#"<label for="code">Code</label>"#));
        assert!(html.contains(
            r#"name="code" type="text" inputmode="numeric" autocomplete="one-time-code""#
        ));
        assert!(html.contains(" required autofocus>"));
        assert!(html.contains(r#"<button class="button" type="submit">Confirm number</button>"#));
        assert!(html.contains(
            r#"<form class="inline" method="post" action="/.portcullis/account/phone/send">"#
        ));
        assert!(html.contains(r#"<button class="link" type="submit">Send a new code</button>"#));
        assert!(html.contains(r#"<a href="/.portcullis/account">Cancel</a>"#));
        assert!(html.contains(r#"role="alert">Wrong code.<"#));
        assert!(html.contains(r#"role="status">We sent you a new code.<"#));

        let bare =
            context! { action => "/p", csrf => "t", phone => "•••• 0123", cancel_url => "/a" };
        let html = pages.render("phone_code.html", &bare).expect("renders");
        assert!(!html.contains("Send a new code"));
        assert_eq!(html.matches("<form").count(), 1);
        assert!(!html.contains("role=\"alert\""));
        assert!(!html.contains("role=\"status\""));
        assert_requires(
            "phone_code.html",
            &bare,
            &["action", "csrf", "phone", "cancel_url"],
        );
    }

    #[test]
    fn login_page_offers_a_new_confirmation_link_when_asked() {
        let pages = pages();
        let html = pages
            .render("login.html", &unconfirmed_login_ctx())
            .expect("renders");
        let aside = concat!(
            r#"      <div class="alert alert-error" role="alert">Confirm your email address before you sign in.</div>"#,
            "\n",
            r#"      <form class="form-aside" method="post" action="/.portcullis/confirm-email/send">"#,
            "\n",
            r#"        <input type="hidden" name="csrf" value="tok123">"#,
            "\n",
            r#"        <input type="hidden" name="ticket" value="ticket-1">"#,
            "\n",
            r#"        <button class="button button-secondary button-inline" type="submit">Send a new confirmation link</button>"#,
            "\n",
            "      </form>\n",
            r#"      <form class="form" method="post" action="/.portcullis/login">"#,
        );
        assert!(html.contains(aside), "{html}");
        assert!(html.contains(
            r#"<p class="actions"><a href="/.portcullis/forgot">Forgot password?</a></p>"#
        ));

        // A resend form without its ticket would fail anyway: do not render it.
        let ctx = merge(
            &unconfirmed_login_ctx(),
            context! { resend_confirmation => context! { action => "/r" } },
        );
        assert!(pages.render("login.html", &ctx).is_err());

        let html = pages.render("login.html", &login_ctx()).expect("renders");
        assert!(!html.contains("confirmation"));
        assert!(!html.contains(r#"name="ticket""#));
        assert_eq!(html.matches("<form").count(), 1);
    }

    #[test]
    fn account_page_offers_confirmation_and_password_change_when_urls_are_set() {
        let pages = pages();
        let ctx = merge(&account_ctx(), context! { email_confirmed => false });
        let html = pages.render("account.html", &ctx).expect("renders");
        let email_form = concat!(
            r#"            <span class="badge">Not confirmed</span>"#,
            "\n",
            r#"            <div class="row-actions">"#,
            "\n",
            r#"              <form class="inline" method="post" action="/account/email/confirm">"#,
            "\n",
            r#"                <input type="hidden" name="csrf" value="t">"#,
            "\n",
            r#"                <button class="button button-secondary button-inline" type="submit">Send confirmation link</button>"#,
        );
        assert!(html.contains(email_form), "{html}");
        assert!(
            html.contains(r#"<form class="inline" method="post" action="/account/phone/confirm">"#)
        );
        assert!(html.contains(
            r#"<button class="button button-secondary button-inline" type="submit">Confirm by text message</button>"#
        ));
        assert!(html.contains(r#"<h2 id="password-heading">Password</h2>"#));
        assert!(html.contains(r#"<a href="/account/password">Change password</a>"#));

        // Confirmed values offer nothing to confirm.
        let ctx = merge(
            &ctx,
            context! { email_confirmed => true, phone_confirmed => true },
        );
        let html = pages.render("account.html", &ctx).expect("renders");
        assert!(!html.contains("Send confirmation link"));
        assert!(!html.contains("Confirm by text message"));

        // Nor do missing ones.
        let html = pages
            .render("account.html", &bare_account_ctx())
            .expect("renders");
        assert!(!html.contains("Send confirmation link"));
        assert!(!html.contains("Confirm by text message"));

        // Without the urls, unconfirmed values show only their badge, and no password section.
        let ctx = merge(
            &bare_account_ctx(),
            context! { email => "jo@example.com", phone => "+44 7700 900123" },
        );
        let html = pages.render("account.html", &ctx).expect("renders");
        assert_eq!(html.matches("Not confirmed").count(), 2);
        assert!(!html.contains("Send confirmation link"));
        assert!(!html.contains("Confirm by text message"));
        assert!(!html.contains("Change password"));
        assert!(!html.contains("password-heading"));
        assert_eq!(html.matches("<form").count(), 1);
    }

    #[test]
    fn qr_svg_is_the_only_value_printed_unescaped() {
        let mut unescaped = Vec::new();
        for &(name, source) in TEMPLATES {
            let mut rest = source;
            while let Some(start) = rest.find(['{']) {
                rest = &rest[start..];
                let close = match rest.get(..2) {
                    Some("{{") => "}}",
                    Some("{%") => "%}",
                    _ => {
                        rest = &rest[1..];
                        continue;
                    }
                };
                let end = rest.find(close).expect("tags close") + 2;
                let tag = &rest[..end];
                if ["safe", "autoescape", "tojson"]
                    .iter()
                    .any(|word| tag.contains(word))
                {
                    unescaped.push((name, tag));
                }
                rest = &rest[end..];
            }
        }
        assert_eq!(unescaped, [("authenticator.html", "{{ qr_svg|safe }}")]);
    }

    /// `value` with every string replaced by a script tag, except the map entries named `keep`.
    fn with_scripts(value: &Value, keep: &str) -> Value {
        match value.kind() {
            ValueKind::String => Value::from("<script>alert(1)</script>"),
            ValueKind::Seq => Value::from_iter(
                value
                    .try_iter()
                    .expect("a seq")
                    .map(|item| with_scripts(&item, keep)),
            ),
            ValueKind::Map => Value::from_iter(value.try_iter().expect("a map").map(|key| {
                let item = value.get_item(&key).expect("key of the map");
                let item = if key.as_str() == Some(keep) {
                    item
                } else {
                    with_scripts(&item, keep)
                };
                (key, item)
            })),
            _ => value.clone(),
        }
    }

    #[test]
    fn a_script_in_any_other_value_is_escaped() {
        let pages = pages();
        for (name, ctx) in samples() {
            let ctx = with_scripts(&ctx, "qr_svg");
            let html = pages.render(name, &ctx).expect("sample renders");
            assert!(!html.contains("<script"), "{name}");
            assert!(
                html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{name}"
            );
        }
    }

    #[test]
    fn missing_csrf_token_fails_to_render() {
        let ctx = context! { action => "/l", return_to => "/" };
        let err = pages()
            .render("login.html", &ctx)
            .expect_err("csrf is required");
        assert!(matches!(err, PagesError::Render { ref name, .. } if name == "login.html"));
    }

    #[test]
    fn override_dir_replaces_a_template() {
        let dir = ScratchDir::new("replace");
        dir.write(
            "signed_out.html",
            "Bye from {{ tenant_name }}, {{ login_url }}",
        );
        let pages = Pages::new(Some(&dir.0)).expect("override parses");
        let ctx = context! { tenant_name => "<Acme>", login_url => "/l" };
        let html = pages.render("signed_out.html", &ctx).expect("renders");
        assert_eq!(html, "Bye from &lt;Acme&gt;, /l");

        // Templates without an override stay built in.
        let html = pages.render("login.html", &login_ctx()).expect("renders");
        assert!(html.contains("Sign in"));
    }

    #[test]
    fn broken_override_template_fails_new_naming_the_file() {
        let dir = ScratchDir::new("broken");
        dir.write("login.html", "{% if %}");
        let err = Pages::new(Some(&dir.0)).expect_err("a broken override must fail the start");
        let message = err.to_string();
        assert!(matches!(err, PagesError::ParseOverride { .. }));
        assert!(
            message.contains(&dir.0.join("login.html").display().to_string()),
            "{message}"
        );
    }

    #[test]
    fn override_dir_cannot_load_a_name_outside_the_fixed_list() {
        let dir = ScratchDir::new("outside");
        dir.write("secret.html", "secret");
        std::fs::create_dir_all(dir.0.join("sub")).expect("scratch dir is writable");
        let pages = Pages::new(Some(&dir.0.join("sub"))).expect("empty override dir is fine");
        for name in [
            "secret.html",
            "../secret.html",
            "/etc/passwd",
            "sub/../secret.html",
        ] {
            let err = pages.render(name, &context! {}).expect_err(name);
            assert!(matches!(err, PagesError::UnknownTemplate { .. }), "{name}");
        }

        // An override may not pull in other files either.
        dir.write("error.html", r#"{% include "../secret.html" %}"#);
        let pages = Pages::new(Some(&dir.0)).expect("parses");
        assert!(pages.render("error.html", &context! {}).is_err());
    }

    #[test]
    fn missing_override_dir_fails_new() {
        let dir = ScratchDir::new("missing");
        let err = Pages::new(Some(&dir.0.join("nope"))).expect_err("must fail");
        assert!(matches!(err, PagesError::OverrideDir { .. }));
    }

    #[test]
    fn stylesheet_takes_the_tenant_brand_colour() {
        assert!(STYLESHEET.contains("var(--brand, #"));
        assert!(STYLESHEET.contains("prefers-color-scheme: dark"));
        assert!(STYLESHEET.contains("prefers-reduced-motion"));
    }
}
