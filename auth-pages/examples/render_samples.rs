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
                two_factor_enabled => true, recovery_codes_left => 8,
                logout_url => "/.portcullis/logout",
                providers => vec![
                    context! { label => "Email", status => "Confirmed" },
                    context! { label => "Text message", status => "Not confirmed" },
                    context! { label => "Authenticator app", status => "Set up" },
                ],
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
