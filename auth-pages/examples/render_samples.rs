//! Writes every page with sample data to a directory, for looking at in a browser.
//!
//! `cargo run -p portcullis-pages --example render_samples -- OUTDIR`
//!
//! The stylesheet links are rewritten to files next to the pages, and `tenant.css` sets the
//! brand colour as the gateway would for a tenant.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use minijinja::{context, Value};
use portcullis_pages::{Pages, STYLESHEET};

const TENANT_CSS: &str = ":root{--brand:#2563eb}\n";

/// A QR code for [`OTPAUTH_URI`] as the gateway draws it: the qrcode crate's SVG without its
/// XML declaration.
const QR_SVG: &str = include_str!("sample_qr.svg");
const OTPAUTH_URI: &str = "otpauth://totp/Acme%20Corporation:jordan%40example.com\
    ?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&digits=6&algorithm=SHA1\
    &issuer=Acme%20Corporation&period=30";
const SECRET_GROUPS: &str = "HXDM VJEC JJWS RB3H WIZR 4IFU GFTM XBOZ";

const RECOVERY_CODES: [&str; 10] = [
    "7KQ2M-XR4TP",
    "B3N8V-QW6ZD",
    "H5T9C-LM2KX",
    "R8W4F-JN7QB",
    "D2X6P-TK9MV",
    "M4C7H-ZQ3WN",
    "T9B5K-VX2LR",
    "F6N3D-PW8CJ",
    "W2R7Q-HM5TX",
    "K8V4Z-BD6NP",
];

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: render_samples OUTDIR");
        return ExitCode::FAILURE;
    };
    match write_samples(&out) {
        Ok(count) => {
            println!("wrote {count} pages to {}", out.display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("render_samples: {err}");
            ExitCode::FAILURE
        }
    }
}

fn write_samples(out: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let pages = Pages::new(None)?;
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("portcullis.css"), STYLESHEET)?;
    std::fs::write(out.join("tenant.css"), TENANT_CSS)?;

    let samples = samples();
    for (file, template, ctx) in &samples {
        let html = pages
            .render(template, ctx)?
            .replace("/.portcullis/assets/portcullis.css", "portcullis.css")
            .replace("/.portcullis/assets/tenant.css", "tenant.css");
        std::fs::write(out.join(format!("{file}.html")), html)?;
    }
    Ok(samples.len())
}

/// (output file stem, template, context) for each sample.
fn samples() -> Vec<(&'static str, &'static str, Value)> {
    let tenant = "Acme Corporation";
    vec![
        (
            "login",
            "login.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/login", csrf => "sample-csrf",
                return_to => "/dashboard", forgot_url => "/.portcullis/forgot",
            },
        ),
        (
            "login-error",
            "login.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/login", csrf => "sample-csrf",
                return_to => "/dashboard", username => "jordan@example.com",
                error => "Invalid user name or password.", forgot_url => "/.portcullis/forgot",
            },
        ),
        (
            "login-unconfirmed",
            "login.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/login", csrf => "sample-csrf",
                return_to => "/dashboard", username => "jordan@example.com",
                error => "Confirm your email address before you sign in. We sent you a link \
                    when your account was created.",
                resend_confirmation => context! {
                    action => "/.portcullis/confirm-email/send", ticket => "sample-ticket",
                },
                forgot_url => "/.portcullis/forgot",
            },
        ),
        (
            "forgot",
            "forgot.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/forgot", csrf => "sample-csrf",
                login_url => "/.portcullis/login",
            },
        ),
        (
            "forgot-sent",
            "forgot.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/forgot", csrf => "sample-csrf",
                login_url => "/.portcullis/login", sent => true,
                info => "If an account matches jordan@example.com, we sent a link to its email \
                    address.",
            },
        ),
        (
            "reset",
            "reset.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/reset", csrf => "sample-csrf",
                token => "sample-reset-token", min_length => 12,
            },
        ),
        (
            "reset-error",
            "reset.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/reset", csrf => "sample-csrf",
                token => "sample-reset-token", min_length => 12,
                rules => "Avoid your name and common words.",
                error => "The two passwords do not match.",
            },
        ),
        (
            "notice",
            "notice.html",
            context! {
                tenant_name => tenant, title => "This link has expired",
                message => "Links in our emails work once and only for a limited time. Ask for \
                    a new one and use it soon.",
                link_url => "/.portcullis/forgot", link_text => "Send a new link",
            },
        ),
        (
            "notice-success",
            "notice.html",
            context! {
                tenant_name => tenant, title => "Password changed", tone => "success",
                message => "Your new password is set. Sign in with it to continue.",
                link_url => "/.portcullis/login", link_text => "Sign in",
            },
        ),
        (
            "confirm_link",
            "confirm_link.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/confirm-email", csrf => "sample-csrf",
                token => "sample-mail-token", title => "Confirm your email address",
                message => "Confirm that jordan@example.com is your address for your Acme \
                    Corporation account.",
                button_label => "Confirm email address",
            },
        ),
        (
            "password",
            "password.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/account/password",
                csrf => "sample-csrf", min_length => 12, cancel_url => "/.portcullis/account",
            },
        ),
        (
            "password-error",
            "password.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/account/password",
                csrf => "sample-csrf", min_length => 12,
                rules => "Avoid your name and common words.",
                error => "Your current password is not right.",
                cancel_url => "/.portcullis/account",
            },
        ),
        (
            "phone_code",
            "phone_code.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/account/phone",
                csrf => "sample-csrf", phone => "•••• 0123",
                info => "We sent you a new code.",
                resend_action => "/.portcullis/account/phone/send",
                cancel_url => "/.portcullis/account",
            },
        ),
        (
            "phone_code-error",
            "phone_code.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/account/phone",
                csrf => "sample-csrf", phone => "•••• 0123",
                error => "That code is not right. Check the latest text message and try again.",
                cancel_url => "/.portcullis/account",
            },
        ),
        (
            "signed_out",
            "signed_out.html",
            context! { tenant_name => tenant, login_url => "/.portcullis/login" },
        ),
        (
            "logout",
            "logout.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/logout", csrf => "sample-csrf",
                user => "Jordan Lee",
            },
        ),
        (
            "send_code",
            "send_code.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/send-code", csrf => "sample-csrf",
                logout_url => "/.portcullis/logout",
                providers => vec![
                    context! { id => "email", label => "Email", detail => "j•••@example.com" },
                    context! { id => "sms", label => "Text message", detail => "+44 •••• ••• 789" },
                    context! { id => "authenticator", label => "Authenticator app", detail => "" },
                ],
            },
        ),
        (
            "verify",
            "verify.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/verify", csrf => "sample-csrf",
                provider => "email", provider_label => "Email", destination => "j•••@example.com",
                remember_allowed => true, remember_days => 14, recovery_allowed => true,
                info => "We sent you a new code.",
                resend_action => "/.portcullis/send-code", choose_url => "/.portcullis/send-code",
            },
        ),
        (
            "verify-authenticator",
            "verify.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/verify", csrf => "sample-csrf",
                provider => "authenticator", provider_label => "Authenticator app",
                remember_allowed => false, recovery_allowed => true, recovery_open => true,
                error => "That recovery code is not valid.",
                choose_url => "/.portcullis/send-code", logout_url => "/.portcullis/logout",
            },
        ),
        (
            "account",
            "account.html",
            context! {
                tenant_name => tenant, user => "Jordan Lee", csrf => "sample-csrf",
                logout_url => "/.portcullis/logout", two_factor_required => true,
                email => "jordan@example.com", email_confirmed => true,
                phone => "+44 7700 900123", phone_confirmed => false,
                authenticator_enabled => true, authenticator_allowed => true,
                recovery_codes_left => 2, last_recovery_use => "2026-12-04 15:04 UTC",
                urls => account_urls(), info => "Your authenticator app is on.",
            },
        ),
        (
            "account-off",
            "account.html",
            context! {
                tenant_name => tenant, user => "jordan.lee.contractor@subsidiary.example.com",
                csrf => "sample-csrf", logout_url => "/.portcullis/logout",
                two_factor_required => false,
                email => "jordan.lee.contractor@subsidiary.example.com", email_confirmed => false,
                phone_confirmed => false, authenticator_enabled => false,
                authenticator_allowed => true, recovery_codes_left => 0, urls => account_urls(),
            },
        ),
        (
            "authenticator",
            "authenticator.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/account/authenticator",
                csrf => "sample-csrf", qr_svg => QR_SVG, secret_groups => SECRET_GROUPS,
                otpauth_uri => OTPAUTH_URI, enrol => "sample-enrol-token",
                cancel_url => "/.portcullis/account",
            },
        ),
        (
            "authenticator-required",
            "authenticator.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/account/authenticator",
                csrf => "sample-csrf", qr_svg => QR_SVG, secret_groups => SECRET_GROUPS,
                otpauth_uri => OTPAUTH_URI, enrol => "sample-enrol-token",
                intro => "Acme Corporation asks for two-step verification before you continue. \
                    Set up an authenticator app to turn it on.",
                error => "That code is not right. Check the time on your phone and try again.",
            },
        ),
        (
            "recovery_codes",
            "recovery_codes.html",
            context! {
                tenant_name => tenant, codes => RECOVERY_CODES.to_vec(),
                download_href => download_href(&RECOVERY_CODES),
                continue_url => "/.portcullis/account", continue_label => "Continue",
                intro => "Save these codes somewhere safe. Each works once, and signs you in \
                    when you cannot use your authenticator app.",
            },
        ),
        (
            "recovery_codes-new",
            "recovery_codes.html",
            context! {
                tenant_name => tenant, codes => RECOVERY_CODES.to_vec(),
                download_href => download_href(&RECOVERY_CODES),
                continue_url => "/.portcullis/account", continue_label => "Back to your account",
                intro => "Save these codes somewhere safe. Each works once.",
                warning => "These replace your previous codes. The old ones no longer work.",
            },
        ),
        (
            "confirm",
            "confirm.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/account/authenticator/off",
                csrf => "sample-csrf", title => "Turn off the authenticator app",
                message => "Your app stops working for this account, and so do your recovery \
                    codes. Confirm it's you to continue.",
                button_label => "Turn off", danger => true,
                cancel_url => "/.portcullis/account",
            },
        ),
        (
            "confirm-view",
            "confirm.html",
            context! {
                tenant_name => tenant, action => "/.portcullis/account/recovery",
                csrf => "sample-csrf", title => "View recovery codes",
                message => "Confirm it's you to see your recovery codes.",
                button_label => "Show codes", danger => false,
                error => "That is not a valid code or password.",
                cancel_url => "/.portcullis/account",
            },
        ),
        (
            "error-429",
            "error.html",
            context! {
                tenant_name => tenant, status => 429, title => "Too many attempts",
                message => "This account is locked for a while after several failed sign-ins.",
                retry_after => "4 minutes 10 seconds",
                link_url => "/.portcullis/login", link_text => "Back to sign in",
            },
        ),
        (
            "error-421",
            "error.html",
            context! {
                status => 421, title => "Unknown site",
                message => "This address is not served here. Check the link and try again.",
            },
        ),
        (
            "error-503",
            "error.html",
            context! {
                tenant_name => tenant, status => 503, title => "Temporarily unavailable",
                message => "The service cannot be reached right now. Please try again shortly.",
                link_url => "/", link_text => "Try again",
            },
        ),
    ]
}

fn account_urls() -> Value {
    context! {
        enable_authenticator => "/.portcullis/account/authenticator",
        disable_authenticator => "/.portcullis/account/authenticator/off",
        view_recovery => "/.portcullis/account/recovery",
        regenerate_recovery => "/.portcullis/account/recovery/new",
        confirm_email => "/.portcullis/account/email/confirm",
        confirm_phone => "/.portcullis/account/phone/confirm",
        change_password => "/.portcullis/account/password",
    }
}

/// A `data:` URL of the codes as a text file, one a line, as the gateway builds it.
fn download_href(codes: &[&str]) -> String {
    let mut href = String::from("data:text/plain;charset=utf-8,");
    for code in codes {
        href.push_str(code);
        href.push_str("%0A");
    }
    href
}
