//! Forgotten passwords, email and phone confirmation and password changes against
//! real processes on loopback (issue 6, "Tests"): mail through a real SMTP server
//! in the test, text messages through an HTTP server standing in for Twilio.
//!
//! Links in the mail point at the tenant's `public_url` (`https://id.acme.test`),
//! which is never this gateway's address: a test takes the token from the link and
//! opens the page on the gateway itself, and the URL's origin shows where the link
//! came from. Each test starts its own gateway and servers, so they run in parallel.

use portcullis_tests::http_stub::{TWILIO_SENDER, TWILIO_SID, TWILIO_TOKEN};
use portcullis_tests::links::{
    link_in, mint_confirmation_ticket, token_of, token_sha256, unix_now, LinkStore,
    ACCOUNT_CONFIRM_EMAIL_PATH, ACCOUNT_CONFIRM_PHONE_PATH, CHANGE_PASSWORD_PATH,
    CONFIRM_EMAIL_PATH, FORGOT_PATH, RESEND_CONFIRMATION_PATH, RESET_PATH,
};
use portcullis_tests::pages::{alert, location, page, text_after};
use portcullis_tests::smtp::email_settings;
use portcullis_tests::{
    form_field, Browser, Gateway, GatewayConfig, HttpStub, Mail, Route, SmtpServer, Tenant,
    Upstream, ACCOUNT_PATH, CSRF_COOKIE, LOGIN_PATH, REMEMBER_COOKIE, SEND_CODE_PATH,
    SESSION_COOKIE, VERIFY_PATH,
};
use reqwest::header::SET_COOKIE;
use reqwest::{Method, Response};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ACME: &str = "acme.test";
/// A second hostname of tenant `acme`, not the one in its public URL.
const ACME_ALIAS: &str = "www.acme.test";
const ACME_URL: &str = "https://id.acme.test";
/// A display name outside ASCII, so the mail's encodings are exercised.
const ACME_NAME: &str = "Acme Café";
const BETA: &str = "beta.test";
const BETA_URL: &str = "https://id.beta.test";

const ALICE: &str = "alice";
const ALICE_EMAIL: &str = "alice@acme.test";
const ALICE_PHONE: &str = "+15550100123";
const BOB: &str = "bob";
const BOB_EMAIL: &str = "bob@acme.test";
const CAROL: &str = "carol";
const CAROL_EMAIL: &str = "carol@acme.test";
const PASSWORD: &str = "correct-horse-42";
const NEW_PASSWORD: &str = "battery-staple-97";
const MAIL_FROM: &str = "accounts@acme.test";

const RESET_REQUESTED: &str =
    "If an account matches what you entered, we have sent a link to its email address.";
const LINK_DEAD: &str = "This link no longer works";
const PASSWORD_CHANGED: &str = "Password changed";
const INVALID: &str = "Invalid user name or password.";
const NOT_CONFIRMED: &str =
    "Confirm your email address before you sign in: follow the link in the message we sent you.";
const FORM_EXPIRED: &str = "This form has expired";
const COULD_NOT_SEND: &str = "We could not send a link";

/// How long a test waits to be sure that nothing was sent.
const QUIET: Duration = Duration::from_millis(400);

// ----- Sites ---------------------------------------------------------------------------

/// What a test adds to the standard site: TOML lines for the top of the file, the
/// host's settings and each tenant's settings.
#[derive(Default)]
struct Options<'a> {
    top: &'a str,
    host: &'a str,
    acme: &'a str,
    beta: &'a str,
}

/// A gateway that mails through a test SMTP server, with tenant `acme` on
/// [`ACME`] and [`ACME_ALIAS`] (public URL [`ACME_URL`]) and tenant `beta` on
/// [`BETA`] (public URL [`BETA_URL`]); `/` needs a login on both (upstream `app`).
struct Site {
    gw: Gateway,
    smtp: SmtpServer,
    _app: Upstream,
}

fn site(o: Options<'_>) -> Site {
    let smtp = SmtpServer::start();
    let app = Upstream::start("app");
    let mut acme = Tenant::new("acme", ACME)
        .hostname(ACME_ALIAS)
        .display_name(ACME_NAME)
        .public_url(ACME_URL)
        .route(Route::login("/", [app.addr()]));
    if !o.acme.is_empty() {
        acme = acme.settings(o.acme);
    }
    let mut beta = Tenant::new("beta", BETA)
        .display_name("Beta Ltd")
        .public_url(BETA_URL)
        .route(Route::login("/", [app.addr()]));
    if !o.beta.is_empty() {
        beta = beta.settings(o.beta);
    }
    let mut config = GatewayConfig::new()
        .top(&smtp_email(smtp.port()))
        .top(o.top)
        .tenant(acme)
        .tenant(beta);
    if !o.host.is_empty() {
        config = config.host_settings(o.host);
    }
    Site {
        gw: Gateway::start(&config.to_toml()),
        smtp,
        _app: app,
    }
}

/// The `[email]` table for the SMTP server on `port` (plain SMTP on loopback).
fn smtp_email(port: u16) -> String {
    email_settings(port, &format!("Acme Accounts <{MAIL_FROM}>"))
}

/// A gateway with tenant `acme` alone (public URL [`ACME_URL`], `/` behind a login
/// on `app`), mailing through the server on `smtp_port`.
fn acme_alone(smtp_port: u16, app: &Upstream) -> Gateway {
    let config = GatewayConfig::new().top(&smtp_email(smtp_port)).tenant(
        Tenant::new("acme", ACME)
            .display_name(ACME_NAME)
            .public_url(ACME_URL)
            .route(Route::login("/", [app.addr()])),
    );
    Gateway::start(&config.to_toml())
}

/// Adds a user with [`PASSWORD`] and the given addresses; returns its id. With
/// `confirmed`, the addresses are marked confirmed.
fn add_user(
    gw: &Gateway,
    tenant: &str,
    name: &str,
    email: Option<&str>,
    phone: Option<&str>,
    confirmed: bool,
) -> i64 {
    let id = gw.add_user_with_phone(tenant, name, email, phone, PASSWORD);
    if confirmed {
        gw.confirm_addresses(tenant, name, email.is_some(), phone.is_some());
    }
    id
}

// ----- Responses ---------------------------------------------------------------------

/// The names of the cookies a response sets, sorted.
fn set_cookie_names(r: &Response) -> Vec<String> {
    let mut names: Vec<String> = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split('=').next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

/// The page's heading.
fn heading(html: &str) -> &str {
    text_after(html, "<h1>").unwrap_or("")
}

/// The text of the page's information box, if any.
fn info(html: &str) -> Option<&str> {
    text_after(html, "class=\"alert alert-info\" role=\"status\">")
}

/// The message of a success notice ("Password changed", "Email address confirmed").
fn success(html: &str) -> Option<&str> {
    let start = html.find("alert-success")?;
    text_after(&html[start..], "<span>")
}

/// The confirmation state of a row of the account page ("Email", "Text message"):
/// "Confirmed" or "Not confirmed".
fn account_state<'a>(html: &'a str, row: &str) -> &'a str {
    let marker = format!("<span class=\"method-name\">{row}</span>");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {row} row on the account page:\n{html}"));
    let rest = &html[start..];
    let row_html = &rest[..rest.find("</li>").unwrap_or(rest.len())];
    text_after(row_html, "<span class=\"badge")
        .and_then(|s| s.split_once('>'))
        .map(|(_, text)| text.trim())
        .unwrap_or_else(|| panic!("no state in the {row} row:\n{row_html}"))
}

// ----- Steps ---------------------------------------------------------------------------

/// Posts the forgot-password form with `login`, as the page's own form does.
async fn forgot(b: &Browser, host: &str, login: &str) -> Response {
    let csrf = b.csrf(host, FORGOT_PATH).await;
    b.post_form(host, FORGOT_PATH, &[("csrf", &csrf), ("username", login)])
        .await
}

/// Asks for a reset link for `login` and returns the link from the mail to `to`.
async fn reset_link(s: &Site, login: &str, to: &str) -> String {
    let (status, html) = page(forgot(&s.gw.browser(), ACME, login).await).await;
    assert_eq!(
        (status, info(&html)),
        (200, Some(RESET_REQUESTED)),
        "{html}"
    );
    link_from(&s.smtp.expect_mail().await, to, RESET_PATH)
}

/// The link to `path` in a mail to `to`, checked to be the same in both parts.
fn link_from(mail: &Mail, to: &str, path: &str) -> String {
    assert_eq!(mail.to, [to], "the mail's recipient");
    let text = mail.text().expect("a text/plain part");
    let html = mail.html().expect("a text/html part");
    let link = link_in(&text, path).unwrap_or_else(|| panic!("no {path} link in {text:?}"));
    assert_eq!(
        link_in(&html, path).as_deref(),
        Some(link.as_str()),
        "{html}"
    );
    link
}

/// Opens the page a reset link leads to, on the gateway.
async fn open_reset(b: &Browser, host: &str, token: &str) -> (u16, String) {
    page(
        b.navigate(host, &format!("{RESET_PATH}?token={token}"))
            .await,
    )
    .await
}

/// Posts the reset form as the page's own form does (the CSRF token of any page of
/// the tenant works: it is bound to the browser's cookie, not to the page).
async fn post_reset(b: &Browser, host: &str, token: &str, new: &str, again: &str) -> Response {
    let csrf = b.csrf(host, FORGOT_PATH).await;
    b.post_form(
        host,
        RESET_PATH,
        &[
            ("csrf", &csrf),
            ("token", token),
            ("password", new),
            ("password_confirm", again),
        ],
    )
    .await
}

/// Resets the password with `token` and asserts it worked: the notice, and no
/// session.
async fn reset_to(b: &Browser, token: &str, new: &str) {
    let r = post_reset(b, ACME, token, new, new).await;
    assert!(
        !set_cookie_names(&r).contains(&SESSION_COOKIE.to_owned()),
        "a reset sets no session"
    );
    let (status, html) = page(r).await;
    assert_eq!((status, heading(&html)), (200, PASSWORD_CHANGED), "{html}");
}

/// Posts the login form and returns the status and where it sends the browser.
async fn try_login(b: &Browser, user: &str, password: &str) -> (u16, String, String) {
    let r = b.login(ACME, user, password, "/app").await;
    let loc = location(&r).to_owned();
    let (status, html) = page(r).await;
    (status, loc, html)
}

/// Signs in without a second factor and asserts the browser reaches the app.
async fn sign_in(b: &Browser, user: &str, password: &str) {
    let (status, loc, html) = try_login(b, user, password).await;
    assert_eq!((status, loc.as_str()), (303, "/app"), "{html}");
    assert_eq!(app_status(b).await, 200);
}

/// Signs in through an emailed code (two-factor on), ticking "remember" if asked.
async fn sign_in_with_code(s: &Site, b: &Browser, user: &str, password: &str, remember: bool) {
    let (status, loc, html) = try_login(b, user, password).await;
    assert_eq!((status, loc.as_str()), (303, SEND_CODE_PATH), "{html}");
    let csrf = b.csrf(ACME, SEND_CODE_PATH).await;
    let r = b
        .post_form(
            ACME,
            SEND_CODE_PATH,
            &[("csrf", &csrf), ("provider", "email")],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", page(r).await.1);
    let mail = s.smtp.expect_mail().await;
    let code = mail.code().expect("a sign-in code in the mail");
    let path = format!("{VERIFY_PATH}?provider=email");
    let csrf = b.csrf(ACME, &path).await;
    let mut fields = vec![("csrf", csrf.as_str()), ("code", code.as_str())];
    if remember {
        fields.push(("remember", "on"));
    }
    let r = b.post_form(ACME, &path, &fields).await;
    assert_eq!(r.status(), 303, "{}", page(r).await.1);
    assert_eq!(app_status(b).await, 200);
}

/// The status of `/app` for this browser (an API request): 200 when signed in.
async fn app_status(b: &Browser) -> u16 {
    b.get(ACME, "/app").await.status().as_u16()
}

/// The account page, which must be shown (the browser is signed in).
async fn account_page(b: &Browser) -> String {
    account_page_at(b, ACCOUNT_PATH).await
}

/// The account page at `path`, with its query: where a change redirects to.
async fn account_page_at(b: &Browser, path: &str) -> String {
    let (status, html) = page(b.navigate(ACME, path).await).await;
    assert_eq!(status, 200, "the account page {path}:\n{html}");
    html
}

/// Posts an account form (`csrf` from the account page, then `fields`).
async fn account_post(b: &Browser, path: &str, fields: &[(&str, &str)]) -> Response {
    let csrf = b.csrf(ACME, ACCOUNT_PATH).await;
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post_form(ACME, path, &all).await
}

/// Posts the change-password form.
async fn change_password(b: &Browser, current: &str, new: &str, again: &str) -> Response {
    account_post(
        b,
        CHANGE_PASSWORD_PATH,
        &[
            ("current_password", current),
            ("password", new),
            ("password_confirm", again),
        ],
    )
    .await
}

/// Presses the button of a confirmation link's page.
async fn post_confirm_email(b: &Browser, token: &str) -> (u16, String) {
    signed_out_post(b, CONFIRM_EMAIL_PATH, ("token", token)).await
}

/// Posts the login page's "Send a new confirmation link" form with `ticket`.
async fn resend(b: &Browser, ticket: &str) -> (u16, String) {
    signed_out_post(b, RESEND_CONFIRMATION_PATH, ("ticket", ticket)).await
}

/// Posts a one-field form of the signed-out pages, with a CSRF token from one of them.
async fn signed_out_post(b: &Browser, path: &str, field: (&str, &str)) -> (u16, String) {
    let csrf = b.csrf(ACME, FORGOT_PATH).await;
    page(b.post_form(ACME, path, &[("csrf", &csrf), field]).await).await
}

/// The median of some durations.
fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

// ----- Forgot password -----------------------------------------------------------------

#[tokio::test]
async fn forgot_password_answers_alike_and_at_once_and_mails_only_known_accounts() {
    let s = site(Options::default());
    let known = ["alice", "bob", "carol", "dave", "erin"];
    let unknown = ["mallory", "oscar", "trent", "peggy", "victor"];
    for name in known {
        add_user(
            &s.gw,
            "acme",
            name,
            Some(&format!("{name}@acme.test")),
            None,
            true,
        );
    }

    // The login page links to the form.
    let (_, login) = page(s.gw.browser().navigate(ACME, LOGIN_PATH).await).await;
    assert!(
        login.contains(&format!("href=\"{FORGOT_PATH}\"")),
        "no forgot-password link on the login page:\n{login}"
    );

    // Each name asked for once, known and unknown in turn, each from a fresh browser;
    // every answer is compared whole: status, page (CSRF value masked), cookies set.
    // A known name's mail is awaited before the next request (see
    // forgot_requests_for_different_accounts_at_the_same_moment_each_send_a_mail).
    let mut times = (Vec::new(), Vec::new());
    let mut answers = Vec::new();
    let mut mails = Vec::new();
    for (k, u) in known.into_iter().zip(unknown) {
        for (login, spent) in [(k, &mut times.0), (u, &mut times.1)] {
            let b = s.gw.browser();
            let csrf = b.csrf(ACME, FORGOT_PATH).await;
            let started = Instant::now();
            let r = b
                .post_form(ACME, FORGOT_PATH, &[("csrf", &csrf), ("username", login)])
                .await;
            let status = r.status().as_u16();
            let cookies = set_cookie_names(&r);
            let body = r.text().await.expect("a body").replace(&csrf, "CSRF");
            spent.push(started.elapsed());
            answers.push((login, status, body, cookies));
            if login == k {
                let mail = s.smtp.expect_mail().await;
                assert_eq!(mail.to, [format!("{k}@acme.test")]);
                mails.push(mail);
            }
        }
    }
    let (_, status, body, _) = &answers[0];
    assert_eq!(*status, 200);
    assert_eq!(info(body), Some(RESET_REQUESTED), "{body}");
    for (login, status, body, cookies) in &answers {
        assert_eq!(
            (status, body, cookies),
            (&answers[0].1, &answers[0].2, &answers[0].3),
            "the answer for {login} differs from the one for {ALICE}"
        );
    }

    // At once: no mail and no password hash on the request path. A login with a
    // wrong password, which hashes, is the yardstick.
    let (known_time, unknown_time) = (median(times.0), median(times.1));
    assert!(
        known_time < Duration::from_millis(150) && unknown_time < Duration::from_millis(150),
        "forgot-password answers took {known_time:?} (known) and {unknown_time:?} (unknown)"
    );
    let gap = known_time.abs_diff(unknown_time);
    assert!(
        gap < Duration::from_millis(50),
        "known {known_time:?} and unknown {unknown_time:?} differ by {gap:?}"
    );
    let mut hashing = Vec::new();
    let b = s.gw.browser();
    let csrf = b.csrf(ACME, LOGIN_PATH).await;
    for _ in 0..3 {
        let started = Instant::now();
        b.submit_login(ACME, &csrf, "mallory", "wrong-password", "/")
            .await;
        hashing.push(started.elapsed());
    }
    let login_time = median(hashing);
    assert!(
        known_time.max(unknown_time) * 3 < login_time,
        "forgot-password answers ({known_time:?}, {unknown_time:?}) take as long as a \
         password check ({login_time:?})"
    );

    // Exactly one mail for each known account (above) and none for the unknown ones.
    assert!(s.smtp.next_mail(QUIET).await.is_none(), "a mail too many");

    // The mail names the tenant and the account and holds the link in both parts.
    let mail = mails
        .iter()
        .find(|m| m.to == [ALICE_EMAIL])
        .expect("alice's mail");
    assert_eq!(mail.from, MAIL_FROM);
    assert_eq!(mail.subject(), format!("Reset your {ACME_NAME} password"));
    let link = link_from(mail, ALICE_EMAIL, RESET_PATH);
    let token = token_of(&link);
    assert_eq!(link, format!("{ACME_URL}{RESET_PATH}?token={token}"));
    assert_eq!(token.len(), 43, "256 bits in unpadded base64url: {token}");
    let text = mail.text().unwrap_or_default();
    assert!(
        text.contains(ACME_NAME) && text.contains(ALICE),
        "the text names the tenant and the account: {text:?}"
    );
    assert!(
        text.contains("60 minutes"),
        "the default lifetime is an hour: {text:?}"
    );
    assert!(mail.html().is_some_and(|h| h.contains(ACME_NAME)));

    // Asked again within the minute: the same answer, and no second mail.
    let (status, html) = page(forgot(&s.gw.browser(), ACME, ALICE).await).await;
    assert_eq!((status, info(&html)), (200, Some(RESET_REQUESTED)));
    assert!(s.smtp.next_mail(QUIET).await.is_none(), "a second mail");

    // An email address works as well as a user name.
    add_user(&s.gw, "acme", "frank", Some("frank@acme.test"), None, true);
    let (status, html) = page(forgot(&s.gw.browser(), ACME, "Frank@Acme.Test").await).await;
    assert_eq!((status, info(&html)), (200, Some(RESET_REQUESTED)));
    link_from(&s.smtp.expect_mail().await, "frank@acme.test", RESET_PATH);

    // The answer does not depend on the mail going out either.
    add_user(&s.gw, "acme", "grace", Some("grace@acme.test"), None, true);
    s.smtp.refuse(true);
    let b = s.gw.browser();
    let csrf = b.csrf(ACME, FORGOT_PATH).await;
    let r = b
        .post_form(ACME, FORGOT_PATH, &[("csrf", &csrf), ("username", "grace")])
        .await;
    let failed = (
        r.status().as_u16(),
        r.text().await.unwrap().replace(&csrf, "CSRF"),
    );
    assert_eq!(
        (&failed.0, &failed.1),
        (&answers[0].1, &answers[0].2),
        "the answer when the mail cannot be sent"
    );
    let log =
        s.gw.log_when(|l| l.contains("could not send a password reset link"))
            .await;
    assert!(
        log.contains("could not send a password reset link"),
        "{log}"
    );
}

/// A mail server that accepts connections and never says a word: a client that
/// waits for its greeting waits until its own timeout. Returns its port and the
/// number of connections so far; stops with the test.
async fn silent_mail_server() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port is free");
    let port = listener.local_addr().expect("a bound address").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (port, connections)
}

#[tokio::test]
async fn the_forgot_answer_does_not_wait_for_a_mail_server_that_hangs() {
    let (smtp_port, connections) = silent_mail_server().await;
    let app = Upstream::start("app");
    let gw = acme_alone(smtp_port, &app);
    add_user(&gw, "acme", ALICE, Some(ALICE_EMAIL), None, true);

    // The mail waits on a server that never answers; the answer does not.
    let b = gw.browser();
    let csrf = b.csrf(ACME, FORGOT_PATH).await;
    let started = Instant::now();
    let r = b
        .post_form(ACME, FORGOT_PATH, &[("csrf", &csrf), ("username", ALICE)])
        .await;
    let (status, html) = page(r).await;
    let spent = started.elapsed();
    assert_eq!((status, info(&html)), (200, Some(RESET_REQUESTED)));
    assert!(
        spent < Duration::from_millis(150),
        "the answer waited for the mail: {spent:?}"
    );

    // The mail did go out, to a server that keeps it waiting.
    let started = Instant::now();
    while connections.load(Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the gateway never tried to send the mail:\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_mail_server_that_never_answers_fails_a_confirmation_send_after_the_email_timeout() {
    let (smtp_port, _) = silent_mail_server().await;
    let app = Upstream::start("app");
    let gw = acme_alone(smtp_port, &app);
    add_user(&gw, "acme", ALICE, Some(ALICE_EMAIL), None, false);
    let b = gw.browser();
    sign_in(&b, ALICE, PASSWORD).await;

    // `timeout = "3s"` in [email]: the page says the link could not be sent.
    let send = account_post(&b, ACCOUNT_CONFIRM_EMAIL_PATH, &[]);
    let r = tokio::time::timeout(Duration::from_secs(8), send)
        .await
        .expect("the confirmation send outlived the 3 s email timeout by 5 s");
    let (status, html) = page(r).await;
    assert_eq!((status, heading(&html)), (200, COULD_NOT_SEND));
}

#[tokio::test]
async fn forgot_requests_for_different_accounts_at_the_same_moment_each_send_a_mail() {
    let s = site(Options::default());
    let names = ["alice", "bob", "carol", "dave", "erin", "frank"];
    let mut forms = Vec::new();
    for name in names {
        add_user(
            &s.gw,
            "acme",
            name,
            Some(&format!("{name}@acme.test")),
            None,
            true,
        );
        let b = s.gw.browser();
        let csrf = b.csrf(ACME, FORGOT_PATH).await;
        forms.push((b, csrf, name));
    }
    let posts = forms.iter().map(|(b, csrf, name)| async move {
        b.post_form(ACME, FORGOT_PATH, &[("csrf", csrf), ("username", name)])
            .await
    });
    for r in futures_util::future::join_all(posts).await {
        assert_eq!(r.status(), 200);
    }
    let mut to = Vec::new();
    while let Some(mail) = s.smtp.next_mail(Duration::from_secs(2)).await {
        to.extend(mail.to);
    }
    to.sort();
    let expected: Vec<String> = names.iter().map(|n| format!("{n}@acme.test")).collect();
    assert_eq!(to, expected, "log:\n{}", s.gw.log());
}

#[tokio::test]
async fn forgot_requests_at_the_same_moment_send_one_mail() {
    let s = site(Options::default());
    add_user(&s.gw, "acme", ALICE, Some(ALICE_EMAIL), None, true);
    let browsers: Vec<Browser> = (0..6).map(|_| s.gw.browser()).collect();
    let mut forms = Vec::new();
    for b in &browsers {
        forms.push((b, b.csrf(ACME, FORGOT_PATH).await));
    }
    let posts = forms.iter().map(|(b, csrf)| async move {
        b.post_form(ACME, FORGOT_PATH, &[("csrf", csrf), ("username", ALICE)])
            .await
    });
    for r in futures_util::future::join_all(posts).await {
        assert_eq!(r.status(), 200);
    }
    s.smtp.expect_mail().await;
    tokio::time::sleep(QUIET).await;
    let mails = s.smtp.mails();
    assert_eq!(
        mails.len(),
        1,
        "{} reset mails within a minute",
        mails.len()
    );
}

#[tokio::test]
async fn the_reset_link_uses_the_public_url_whatever_host_and_forwarded_headers_the_request_carried(
) {
    let s = site(Options::default());
    add_user(&s.gw, "acme", ALICE, Some(ALICE_EMAIL), None, true);
    add_user(&s.gw, "acme", BOB, Some(BOB_EMAIL), None, true);
    add_user(&s.gw, "acme", CAROL, Some(CAROL_EMAIL), None, true);
    add_user(&s.gw, "beta", "dave", Some("dave@beta.test"), None, true);
    let expected = |link: &str| format!("{ACME_URL}{RESET_PATH}?token={}", token_of(link));

    // Another hostname of the tenant, with forwarded headers from a client that is
    // no trusted proxy.
    let b = s.gw.browser();
    let csrf = b.csrf(ACME_ALIAS, FORGOT_PATH).await;
    let r = b
        .request(Method::POST, ACME_ALIAS, FORGOT_PATH)
        .header("x-forwarded-host", "evil.test")
        .header("x-forwarded-proto", "http")
        .header("forwarded", "host=evil.test;proto=http")
        .form(&[("csrf", csrf.as_str()), ("username", ALICE)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let link = link_from(&s.smtp.expect_mail().await, ALICE_EMAIL, RESET_PATH);
    assert_eq!(
        link,
        expected(&link),
        "Host {ACME_ALIAS} + X-Forwarded-Host"
    );

    // The canonical hostname with another tenant's hostname as X-Forwarded-Host.
    let b = s.gw.browser();
    let csrf = b.csrf(ACME, FORGOT_PATH).await;
    let r = b
        .request(Method::POST, ACME, FORGOT_PATH)
        .header("x-forwarded-host", BETA)
        .header("x-forwarded-proto", "https")
        .form(&[("csrf", csrf.as_str()), ("username", BOB)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let link = link_from(&s.smtp.expect_mail().await, BOB_EMAIL, RESET_PATH);
    assert_eq!(link, expected(&link), "X-Forwarded-Host {BETA}");

    // Another tenant's hostname as Host reaches that tenant: acme's carol is not
    // found there, and beta's own user gets beta's public URL.
    let (status, _) = page(forgot(&s.gw.browser(), BETA, CAROL).await).await;
    assert_eq!(status, 200);
    assert!(
        s.smtp.next_mail(QUIET).await.is_none(),
        "a user of acme got a link through beta"
    );
    let b = s.gw.browser();
    let csrf = b.csrf(BETA, FORGOT_PATH).await;
    b.request(Method::POST, BETA, FORGOT_PATH)
        .header("x-forwarded-host", ACME)
        .form(&[("csrf", csrf.as_str()), ("username", "dave")])
        .send()
        .await
        .unwrap();
    let beta_link = link_from(&s.smtp.expect_mail().await, "dave@beta.test", RESET_PATH);
    assert_eq!(
        beta_link,
        format!("{BETA_URL}{RESET_PATH}?token={}", token_of(&beta_link))
    );

    // Acme's link works on the alias hostname too: it is the same tenant.
    let (status, html) = open_reset(&s.gw.browser(), ACME_ALIAS, token_of(&link)).await;
    assert_eq!((status, heading(&html)), (200, "Choose a new password"));
}

#[tokio::test]
async fn a_link_of_one_tenant_neither_opens_nor_is_used_up_on_another() {
    let s = site(Options::default());
    add_user(&s.gw, "beta", "dave", Some("dave@beta.test"), None, true);
    let b = s.gw.browser();
    let csrf = b.csrf(BETA, FORGOT_PATH).await;
    b.post_form(BETA, FORGOT_PATH, &[("csrf", &csrf), ("username", "dave")])
        .await;
    let link = link_from(&s.smtp.expect_mail().await, "dave@beta.test", RESET_PATH);
    let token = token_of(&link);

    // On acme, beta's link is no link at all: the page says so, and a POST changes
    // nothing.
    let (status, html) = open_reset(&b, ACME, token).await;
    assert_eq!((status, heading(&html)), (200, LINK_DEAD), "GET on acme");
    let r = post_reset(&b, ACME, token, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(heading(&page(r).await.1), LINK_DEAD, "POST on acme");

    // On beta it still works.
    let (_, html) = open_reset(&b, BETA, token).await;
    assert_eq!(heading(&html), "Choose a new password", "used up by acme");
    let csrf = b.csrf(BETA, FORGOT_PATH).await;
    let fields = [
        ("csrf", csrf.as_str()),
        ("token", token),
        ("password", NEW_PASSWORD),
        ("password_confirm", NEW_PASSWORD),
    ];
    let r = b.post_form(BETA, RESET_PATH, &fields).await;
    assert_eq!(heading(&page(r).await.1), PASSWORD_CHANGED);
}

#[tokio::test]
async fn a_confirmation_link_of_one_tenant_neither_opens_nor_is_used_up_on_another() {
    let s = site(Options::default());
    let out = s.gw.cli(
        &[
            "user",
            "add",
            "--tenant",
            "beta",
            "--username",
            "dave",
            "--email",
            "dave@beta.test",
            "--send-confirmation",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    out.assert_success();
    let mail = s.smtp.expect_mail().await;
    let link = link_from(&mail, "dave@beta.test", CONFIRM_EMAIL_PATH);
    let token = token_of(&link);
    let path = format!("{CONFIRM_EMAIL_PATH}?token={token}");

    // On acme, beta's link is no link at all.
    let b = s.gw.browser();
    let (_, html) = page(b.navigate(ACME, &path).await).await;
    assert_eq!(heading(&html), LINK_DEAD, "GET on acme");
    let (_, html) = post_confirm_email(&b, token).await;
    assert_eq!(heading(&html), LINK_DEAD, "POST on acme");

    // On beta it still works.
    let (_, html) = page(b.navigate(BETA, &path).await).await;
    assert_eq!(
        heading(&html),
        "Confirm your email address",
        "used up by acme"
    );
    let csrf = b.csrf(BETA, FORGOT_PATH).await;
    let r = b
        .post_form(
            BETA,
            CONFIRM_EMAIL_PATH,
            &[("csrf", csrf.as_str()), ("token", token)],
        )
        .await;
    assert_eq!(heading(&page(r).await.1), "Email address confirmed");
}

#[tokio::test]
async fn a_reset_link_posted_several_times_at_once_changes_the_password_once() {
    let s = site(Options::default());
    add_user(&s.gw, "acme", ALICE, Some(ALICE_EMAIL), None, true);
    let link = reset_link(&s, ALICE, ALICE_EMAIL).await;
    let token = token_of(&link);
    let passwords = ["parallel-one-1", "parallel-two-2", "parallel-three-3"];
    let browsers: Vec<Browser> = passwords.iter().map(|_| s.gw.browser()).collect();
    let posts = passwords.iter().zip(&browsers).map(|(p, b)| async move {
        let (_, html) = page(post_reset(b, ACME, token, p, p).await).await;
        heading(&html).to_owned()
    });
    let headings = futures_util::future::join_all(posts).await;
    let won: Vec<&str> = passwords
        .iter()
        .zip(&headings)
        .filter(|(_, h)| *h == PASSWORD_CHANGED)
        .map(|(p, _)| *p)
        .collect();
    let [winner] = won.as_slice() else {
        panic!("one POST should win, got {headings:?}");
    };
    assert_eq!(
        headings.iter().filter(|h| *h == LINK_DEAD).count(),
        passwords.len() - 1,
        "{headings:?}"
    );
    sign_in(&s.gw.browser(), ALICE, winner).await;
    for p in passwords.iter().filter(|p| *p != winner) {
        let (_, _, html) = try_login(&s.gw.browser(), ALICE, p).await;
        assert_eq!(alert(&html), Some(INVALID), "{p} was set as well");
    }
}

#[tokio::test]
async fn a_reset_link_sent_to_a_replaced_address_no_longer_works() {
    let s = site(Options::default());
    add_user(&s.gw, "acme", ALICE, Some(ALICE_EMAIL), None, true);
    let link = reset_link(&s, ALICE, ALICE_EMAIL).await;

    // The operator replaces the address (say, the old mailbox was taken over).
    s.gw.user_command("set-email", "acme", ALICE, &["--email", "alice@new.test"]);
    let b = s.gw.browser();
    let (_, html) = open_reset(&b, ACME, token_of(&link)).await;
    assert_eq!(heading(&html), LINK_DEAD, "GET after the address changed");
    let r = post_reset(&b, ACME, token_of(&link), NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(
        heading(&page(r).await.1),
        LINK_DEAD,
        "POST after the address changed"
    );
    sign_in(&s.gw.browser(), ALICE, PASSWORD).await;
}

#[tokio::test]
async fn a_reset_link_sets_the_password_once_and_the_store_keeps_only_its_hash() {
    let s = site(Options::default());
    let alice = add_user(&s.gw, "acme", ALICE, Some(ALICE_EMAIL), None, true);
    let link = reset_link(&s, ALICE, ALICE_EMAIL).await;
    let token = token_of(&link).to_owned();

    // Only the SHA-256 of the token is stored, with the address it went to.
    let mut store = LinkStore::open(&s.gw).await;
    let rows = store.rows(alice).await;
    let [row] = rows.as_slice() else {
        panic!("one link row, got {rows:#?}")
    };
    assert_eq!(row.purpose, "password_reset");
    assert_eq!(row.token_hash, token_sha256(&token));
    assert_eq!(row.data, ALICE_EMAIL);
    assert_eq!(row.expires_at - row.created_at, 3600, "one hour by default");
    assert_eq!(row.used_at, None);

    // The page: the token in a hidden field, new password twice; never cached, and
    // its address (with the token) never sent to another site as a referrer.
    // Opening it twice uses nothing up.
    let b = s.gw.browser();
    let r = b
        .navigate(ACME, &format!("{RESET_PATH}?token={token}"))
        .await;
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(header("cache-control"), "no-store");
    assert!(
        ["no-referrer", "same-origin"].contains(&header("referrer-policy").as_str()),
        "referrer-policy {:?}",
        header("referrer-policy")
    );
    for _ in 0..2 {
        let (status, html) = open_reset(&b, ACME, &token).await;
        assert_eq!((status, heading(&html)), (200, "Choose a new password"));
        assert_eq!(form_field(&html, "token").as_deref(), Some(token.as_str()));
        assert!(html.contains("name=\"password_confirm\""));
    }
    reset_to(&b, &token, NEW_PASSWORD).await;
    assert!(store.rows(alice).await[0].used_at.is_some());

    // Used: the page and a second POST say the link is dead, and the password
    // stays the one set first.
    let (status, html) = open_reset(&b, ACME, &token).await;
    assert_eq!((status, heading(&html)), (200, LINK_DEAD));
    assert!(html.contains(&format!("href=\"{FORGOT_PATH}\"")));
    let r = post_reset(&b, ACME, &token, "another-password-1", "another-password-1").await;
    assert_eq!(heading(&page(r).await.1), LINK_DEAD);

    let (status, _, html) = try_login(&s.gw.browser(), ALICE, PASSWORD).await;
    assert_eq!((status, alert(&html)), (200, Some(INVALID)), "old password");
    assert_eq!(
        try_login(&s.gw.browser(), ALICE, "another-password-1")
            .await
            .0,
        200,
        "the second reset did nothing"
    );
    sign_in(&s.gw.browser(), ALICE, NEW_PASSWORD).await;

    // Made-up and damaged tokens show the same dead-link page.
    for junk in ["", "abc", &token[..42], &format!("{}x", &token[..42])] {
        let (status, html) = open_reset(&b, ACME, junk).await;
        assert_eq!((status, heading(&html)), (200, LINK_DEAD), "token {junk:?}");
    }
}

#[tokio::test]
async fn a_reset_link_dies_after_the_tenants_reset_link_lifetime() {
    let s = site(Options {
        acme: "password.reset_link_lifetime = \"3s\"",
        ..Options::default()
    });
    add_user(&s.gw, "acme", ALICE, Some(ALICE_EMAIL), None, true);
    let link = reset_link(&s, ALICE, ALICE_EMAIL).await;
    let b = s.gw.browser();
    let (_, html) = open_reset(&b, ACME, token_of(&link)).await;
    assert_eq!(heading(&html), "Choose a new password", "fresh link");

    // Stored in whole seconds: four seconds on, it has expired whatever the rounding.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, html) = open_reset(&b, ACME, token_of(&link)).await;
    assert_eq!((status, heading(&html)), (200, LINK_DEAD));
    let r = post_reset(&b, ACME, token_of(&link), NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(heading(&page(r).await.1), LINK_DEAD);
    sign_in(&s.gw.browser(), ALICE, PASSWORD).await;
}

// ----- What a reset and a change end --------------------------------------------------

#[tokio::test]
async fn a_reset_signs_nobody_in_ends_every_session_and_remembered_browser_and_clears_the_lockout()
{
    let s = site(Options {
        host: "two_factor.enabled = true\nlockout.max_failed_attempts = 3",
        ..Options::default()
    });
    add_user(&s.gw, "acme", ALICE, Some(ALICE_EMAIL), None, true);

    // Two browsers signed in, the first remembered; a remembered browser skips the
    // code on its next sign-in.
    let remembered = s.gw.browser();
    sign_in_with_code(&s, &remembered, ALICE, PASSWORD, true).await;
    assert!(remembered.cookie(ACME, REMEMBER_COOKIE).is_some());
    let other = s.gw.browser();
    sign_in_with_code(&s, &other, ALICE, PASSWORD, false).await;
    let again = s.gw.browser();
    let remember = remembered.cookie(ACME, REMEMBER_COOKIE).unwrap();
    again.add_cookie(ACME, &format!("{REMEMBER_COOKIE}={remember}"));
    let (status, loc, _) = try_login(&again, ALICE, PASSWORD).await;
    assert_eq!((status, loc.as_str()), (303, "/app"), "remembered: no code");

    // Locked out by wrong passwords.
    let guesser = s.gw.browser();
    for _ in 0..3 {
        try_login(&guesser, ALICE, "wrong-password").await;
    }
    let (status, _, html) = try_login(&guesser, ALICE, PASSWORD).await;
    assert_eq!(status, 429, "locked out:\n{html}");

    // The reset: a notice linking to the login page, and no session for anyone.
    let link = reset_link(&s, ALICE, ALICE_EMAIL).await;
    let resetter = s.gw.browser();
    let r = post_reset(&resetter, ACME, token_of(&link), NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(set_cookie_names(&r), Vec::<String>::new(), "no session");
    let (status, html) = page(r).await;
    assert_eq!((status, heading(&html)), (200, PASSWORD_CHANGED));
    assert!(success(&html).is_some_and(|m| m.contains("every browser is signed out")));
    assert!(html.contains(&format!("href=\"{LOGIN_PATH}\"")));
    assert_eq!(app_status(&resetter).await, 401);

    // Every session has ended.
    for b in [&remembered, &other, &again] {
        assert_eq!(app_status(b).await, 401, "a session survived the reset");
    }

    // The lockout is cleared, and the new password still needs the second factor,
    // also in the browser that was remembered.
    let (status, loc, html) = try_login(&guesser, ALICE, NEW_PASSWORD).await;
    assert_eq!((status, loc.as_str()), (303, SEND_CODE_PATH), "{html}");
    let (status, loc, _) = try_login(&remembered, ALICE, NEW_PASSWORD).await;
    assert_eq!(
        (status, loc.as_str()),
        (303, SEND_CODE_PATH),
        "the remembered browser skipped the code after a reset"
    );
    let audit = s.gw.audit("acme", ALICE);
    assert!(
        audit.iter().any(|a| a.result == "password_reset"),
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_ends_only_the_other_sessions() {
    let s = site(Options {
        host: "two_factor.enabled = true\nlockout.max_failed_attempts = 3",
        ..Options::default()
    });
    add_user(&s.gw, "acme", ALICE, Some(ALICE_EMAIL), None, true);
    let other = s.gw.browser();
    sign_in_with_code(&s, &other, ALICE, PASSWORD, true).await;
    let changer = s.gw.browser();
    sign_in_with_code(&s, &changer, ALICE, PASSWORD, false).await;
    let session = changer.cookie(ACME, SESSION_COOKIE).unwrap();

    // The page and a wrong current password.
    let (status, html) = page(changer.navigate(ACME, CHANGE_PASSWORD_PATH).await).await;
    assert_eq!((status, heading(&html)), (200, "Change password"));
    let (status, html) =
        page(change_password(&changer, "wrong", NEW_PASSWORD, NEW_PASSWORD).await).await;
    assert_eq!(
        (status, alert(&html)),
        (200, Some("Your current password is not right."))
    );
    assert_eq!(
        app_status(&other).await,
        200,
        "a refused change ends nothing"
    );

    // The change: back to the account page with a message, same session.
    let r = change_password(&changer, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(
        (r.status().as_u16(), location(&r)),
        (
            303,
            format!("{ACCOUNT_PATH}?done=password-changed").as_str()
        )
    );
    let html = account_page_at(&changer, location(&r)).await;
    assert_eq!(
        info(&html),
        Some("Your password is changed. Other browsers are signed out.")
    );
    assert_eq!(app_status(&changer).await, 200, "the changing session ends");
    assert_eq!(changer.cookie(ACME, SESSION_COOKIE), Some(session));

    // The other browser is signed out and its remembered-browser cookie is dead.
    assert_eq!(app_status(&other).await, 401, "another session survived");
    let (status, loc, _) = try_login(&other, ALICE, NEW_PASSWORD).await;
    assert_eq!(
        (status, loc.as_str()),
        (303, SEND_CODE_PATH),
        "the remembered browser skipped the code after a change"
    );
    let (status, _, html) = try_login(&s.gw.browser(), ALICE, PASSWORD).await;
    assert_eq!((status, alert(&html)), (200, Some(INVALID)), "old password");

    // Wrong current passwords count toward the lockout like wrong sign-ins; the
    // session itself stays.
    for _ in 0..3 {
        change_password(&changer, "wrong", "long-enough-123", "long-enough-123").await;
    }
    let r = change_password(&changer, NEW_PASSWORD, "long-enough-123", "long-enough-123").await;
    assert!(r.headers().contains_key("retry-after"));
    let (status, html) = page(r).await;
    assert_eq!(status, 429, "{html}");
    assert!(alert(&html).is_some_and(|m| m.starts_with("Too many failed attempts")));
    assert_eq!(app_status(&changer).await, 200);
}

#[tokio::test]
async fn the_password_policy_applies_to_resets_and_changes() {
    let s = site(Options {
        acme: "password.min_length = 12\npassword.require_digit = true",
        ..Options::default()
    });
    add_user(&s.gw, "acme", ALICE, Some(ALICE_EMAIL), None, true);
    let link = reset_link(&s, ALICE, ALICE_EMAIL).await;
    let token = token_of(&link);
    let b = s.gw.browser();
    let (_, html) = open_reset(&b, ACME, token).await;
    assert!(
        html.contains("At least 12 characters. Include a digit."),
        "the rules on the page:\n{html}"
    );

    // Refusals keep the link alive and the form on screen, with the message.
    for (new, again, message) in [
        ("short-1", "short-1", "Use at least 12 characters."),
        ("no-digits-in-here", "no-digits-in-here", "Include a digit."),
        (
            "long-enough-123",
            "long-enough-124",
            "The two passwords differ.",
        ),
    ] {
        let (status, html) = page(post_reset(&b, ACME, token, new, again).await).await;
        assert_eq!(
            (status, heading(&html), alert(&html)),
            (200, "Choose a new password", Some(message)),
            "{new} / {again}"
        );
        assert_eq!(form_field(&html, "token").as_deref(), Some(token));
    }
    reset_to(&b, token, "long-enough-123").await;

    // The same rules on the account page.
    let b = s.gw.browser();
    sign_in(&b, ALICE, "long-enough-123").await;
    for (new, again, message) in [
        ("short-1", "short-1", "Use at least 12 characters."),
        ("no-digits-in-here", "no-digits-in-here", "Include a digit."),
        (
            "long-enough-456",
            "long-enough-789",
            "The two passwords differ.",
        ),
    ] {
        let (status, html) = page(change_password(&b, "long-enough-123", new, again).await).await;
        assert_eq!(
            (status, alert(&html)),
            (200, Some(message)),
            "{new} / {again}"
        );
    }
    let r = change_password(&b, "long-enough-123", "long-enough-456", "long-enough-456").await;
    assert_eq!(r.status(), 303);
    sign_in(&s.gw.browser(), ALICE, "long-enough-456").await;
}

// ----- Email confirmation --------------------------------------------------------------

#[tokio::test]
async fn the_account_page_mails_a_confirmation_link_that_only_its_button_uses() {
    let s = site(Options::default());
    let alice = add_user(&s.gw, "acme", ALICE, Some(ALICE_EMAIL), None, false);
    let b = s.gw.browser();
    sign_in(&b, ALICE, PASSWORD).await;
    let html = account_page(&b).await;
    assert_eq!(account_state(&html, "Email"), "Not confirmed");
    assert!(html.contains(&format!("action=\"{ACCOUNT_CONFIRM_EMAIL_PATH}\"")));

    // The button sends a link; pressed again within a minute, it sends none.
    let r = account_post(&b, ACCOUNT_CONFIRM_EMAIL_PATH, &[]).await;
    assert_eq!(
        (r.status().as_u16(), location(&r)),
        (303, format!("{ACCOUNT_PATH}?done=email-sent").as_str())
    );
    assert_eq!(
        info(&account_page_at(&b, location(&r)).await),
        Some("We sent a confirmation link to your email address.")
    );
    let mail = s.smtp.expect_mail().await;
    assert_eq!(
        mail.subject(),
        format!("Confirm your email address for {ACME_NAME}")
    );
    let link = link_from(&mail, ALICE_EMAIL, CONFIRM_EMAIL_PATH);
    let token = token_of(&link).to_owned();
    assert_eq!(
        link,
        format!("{ACME_URL}{CONFIRM_EMAIL_PATH}?token={token}")
    );
    let r = account_post(&b, ACCOUNT_CONFIRM_EMAIL_PATH, &[]).await;
    assert_eq!(location(&r), format!("{ACCOUNT_PATH}?done=email-too-soon"));
    assert!(s.smtp.next_mail(QUIET).await.is_none());
    let rows = LinkStore::open(&s.gw).await.rows(alice).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].expires_at - rows[0].created_at, 24 * 3600);
    assert_eq!(rows[0].token_hash, token_sha256(&token));

    // Opening the link (as a mail scanner does, signed in or not) confirms nothing:
    // the page only shows a button.
    for opener in [&s.gw.browser(), &b, &s.gw.browser()] {
        let (status, html) = page(
            opener
                .navigate(ACME, &format!("{CONFIRM_EMAIL_PATH}?token={token}"))
                .await,
        )
        .await;
        assert_eq!(
            (status, heading(&html)),
            (200, "Confirm your email address")
        );
        assert_eq!(form_field(&html, "token").as_deref(), Some(token.as_str()));
        assert!(html.contains("Confirm my address"));
    }
    assert_eq!(
        account_state(&account_page(&b).await, "Email"),
        "Not confirmed"
    );

    // The button confirms, once, from any browser.
    let (status, html) = post_confirm_email(&s.gw.browser(), &token).await;
    assert_eq!((status, heading(&html)), (200, "Email address confirmed"));
    let html = account_page(&b).await;
    assert_eq!(account_state(&html, "Email"), "Confirmed");
    assert!(!html.contains(&format!("action=\"{ACCOUNT_CONFIRM_EMAIL_PATH}\"")));
    let (_, html) = post_confirm_email(&s.gw.browser(), &token).await;
    assert_eq!(heading(&html), LINK_DEAD);
    let (_, html) = page(
        b.navigate(ACME, &format!("{CONFIRM_EMAIL_PATH}?token={token}"))
            .await,
    )
    .await;
    assert_eq!(heading(&html), LINK_DEAD);
}

#[tokio::test]
async fn a_confirmation_link_dies_when_it_expires_or_the_address_changes() {
    let s = site(Options::default());
    let alice = add_user(&s.gw, "acme", ALICE, Some(ALICE_EMAIL), None, false);
    let bob = add_user(&s.gw, "acme", BOB, Some(BOB_EMAIL), None, false);
    for user in [ALICE, BOB] {
        let b = s.gw.browser();
        sign_in(&b, user, PASSWORD).await;
        let r = account_post(&b, ACCOUNT_CONFIRM_EMAIL_PATH, &[]).await;
        assert_eq!(r.status(), 303);
    }
    let alice_link = link_from(&s.smtp.expect_mail().await, ALICE_EMAIL, CONFIRM_EMAIL_PATH);
    let bob_link = link_from(&s.smtp.expect_mail().await, BOB_EMAIL, CONFIRM_EMAIL_PATH);

    // A day later (the row aged in the store), alice's link is dead.
    let mut store = LinkStore::open(&s.gw).await;
    store.age_past_expiry(alice, "confirm_email").await;
    let b = s.gw.browser();
    let (_, html) = page(
        b.navigate(
            ACME,
            &format!("{CONFIRM_EMAIL_PATH}?token={}", token_of(&alice_link)),
        )
        .await,
    )
    .await;
    assert_eq!(heading(&html), LINK_DEAD);
    let (_, html) = post_confirm_email(&b, token_of(&alice_link)).await;
    assert_eq!(heading(&html), LINK_DEAD);

    // Bob's address changes after the link went out: it confirms nothing.
    s.gw.user_command("set-email", "acme", BOB, &["--email", "robert@acme.test"]);
    let (_, html) = post_confirm_email(&b, token_of(&bob_link)).await;
    assert_eq!(heading(&html), LINK_DEAD);
    for user in [ALICE, BOB] {
        let b = s.gw.browser();
        sign_in(&b, user, PASSWORD).await;
        assert_eq!(
            account_state(&account_page(&b).await, "Email"),
            "Not confirmed",
            "{user}"
        );
    }
    assert_eq!(store.rows(bob).await.len(), 1);
}

#[tokio::test]
async fn user_add_send_confirmation_mails_a_link_through_smtp() {
    let s = site(Options::default());
    let out = s.gw.cli(
        &[
            "user",
            "add",
            "--tenant",
            "acme",
            "--username",
            ALICE,
            "--email",
            ALICE_EMAIL,
            "--send-confirmation",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    out.assert_success();
    assert!(
        out.stdout.contains("sent a confirmation link to"),
        "{out:#?}"
    );
    let mail = s.smtp.expect_mail().await;
    assert_eq!(mail.from, MAIL_FROM);
    assert_eq!(
        mail.subject(),
        format!("Confirm your email address for {ACME_NAME}")
    );
    let link = link_from(&mail, ALICE_EMAIL, CONFIRM_EMAIL_PATH);
    assert!(link.starts_with(&format!("{ACME_URL}{CONFIRM_EMAIL_PATH}?token=")));

    let b = s.gw.browser();
    sign_in(&b, ALICE, PASSWORD).await;
    assert_eq!(
        account_state(&account_page(&b).await, "Email"),
        "Not confirmed"
    );
    let (status, html) = post_confirm_email(&b, token_of(&link)).await;
    assert_eq!((status, heading(&html)), (200, "Email address confirmed"));
    assert!(success(&html).is_some());
    assert_eq!(account_state(&account_page(&b).await, "Email"), "Confirmed");
}

#[tokio::test]
async fn with_confirmation_required_only_a_correct_password_learns_of_it_and_can_ask_for_a_link() {
    let s = site(Options {
        acme: "email_confirmation_required_for_login = true",
        ..Options::default()
    });
    add_user(&s.gw, "acme", ALICE, Some(ALICE_EMAIL), None, false);

    // A wrong password and an unknown user get the same page: the generic message
    // and no resend form.
    let mut pages = Vec::new();
    for (user, password) in [(ALICE, "wrong-password"), ("mallory", PASSWORD)] {
        let b = s.gw.browser();
        let csrf = b.csrf(ACME, LOGIN_PATH).await;
        let r = b.submit_login(ACME, &csrf, user, password, "/app").await;
        let (status, html) = page(r).await;
        assert_eq!((status, alert(&html)), (200, Some(INVALID)), "{user}");
        assert_eq!(form_field(&html, "ticket"), None, "{user}: a resend form");
        assert!(!html.contains("Confirm your email"), "{user}");
        pages.push(html.replace(&csrf, "CSRF").replace(user, "USER"));
    }
    assert_eq!(pages[0], pages[1]);

    // The right password: told, not signed in, offered a new link.
    let b = s.gw.browser();
    let (status, loc, html) = try_login(&b, ALICE, PASSWORD).await;
    assert_eq!(
        (status, loc.as_str(), alert(&html)),
        (200, "", Some(NOT_CONFIRMED))
    );
    assert_eq!(b.cookie(ACME, SESSION_COOKIE), None);
    assert!(html.contains(&format!("action=\"{RESEND_CONFIRMATION_PATH}\"")));
    assert!(html.contains("Send a new confirmation link"));
    let ticket = form_field(&html, "ticket").expect("a ticket in the resend form");
    assert_eq!(app_status(&b).await, 401);
    assert!(s.smtp.next_mail(QUIET).await.is_none(), "nothing sent yet");

    // The resend form mails a link; again within a minute, it sends none.
    let (status, html) = resend(&b, &ticket).await;
    assert_eq!((status, heading(&html)), (200, "Check your email"));
    assert_eq!(
        success(&html),
        Some("We sent a new confirmation link to a•••@acme.test. It works once, for a day.")
    );
    let link = link_from(&s.smtp.expect_mail().await, ALICE_EMAIL, CONFIRM_EMAIL_PATH);
    let (_, html) = resend(&b, &ticket).await;
    assert!(html.contains("sent a moment ago"), "{html}");
    assert!(s.smtp.next_mail(QUIET).await.is_none());

    // Confirmed: the same password now signs in.
    let (_, html) = post_confirm_email(&b, token_of(&link)).await;
    assert_eq!(heading(&html), "Email address confirmed");
    sign_in(&b, ALICE, PASSWORD).await;
}

#[tokio::test]
async fn forged_and_expired_confirmation_tickets_send_nothing() {
    let s = site(Options {
        acme: "email_confirmation_required_for_login = true",
        beta: "email_confirmation_required_for_login = true",
        ..Options::default()
    });
    let alice = add_user(&s.gw, "acme", ALICE, Some(ALICE_EMAIL), None, false);
    let bob = add_user(&s.gw, "acme", BOB, Some(BOB_EMAIL), None, false);
    let carol = add_user(&s.gw, "acme", CAROL, Some(CAROL_EMAIL), None, false);
    add_user(&s.gw, "beta", "dave", Some("dave@beta.test"), None, false);

    // Real tickets for alice (acme) and dave (beta).
    let b = s.gw.browser();
    let (_, _, html) = try_login(&b, ALICE, PASSWORD).await;
    let ticket = form_field(&html, "ticket").expect("a ticket");
    let dave = s.gw.browser();
    let csrf = dave.csrf(BETA, LOGIN_PATH).await;
    let html = page(dave.submit_login(BETA, &csrf, "dave", PASSWORD, "/").await)
        .await
        .1;
    let dave_ticket = form_field(&html, "ticket").expect("a ticket on beta");

    let (id, sealed) = ticket.split_once('.').expect("id.sealed");
    let (_, dave_sealed) = dave_ticket.split_once('.').expect("id.sealed");
    let mut tampered = sealed.to_owned();
    let last = if tampered.ends_with('A') { "B" } else { "A" };
    tampered.replace_range(tampered.len() - 1.., last);
    let forged = [
        ("another user's id", format!("{bob}.{sealed}")),
        ("a changed seal", format!("{id}.{tampered}")),
        (
            "beta's ticket with alice's id",
            format!("{alice}.{dave_sealed}"),
        ),
        ("beta's ticket on acme", dave_ticket.clone()),
        ("no id", sealed.to_owned()),
        ("garbage", "x.y".to_owned()),
        ("nothing", String::new()),
        (
            "expired",
            mint_confirmation_ticket(&s.gw, carol, unix_now() - 1),
        ),
    ];
    for (what, t) in &forged {
        let (status, html) = resend(&s.gw.browser(), t).await;
        assert_eq!((status, heading(&html)), (200, COULD_NOT_SEND), "{what}");
    }
    assert!(
        s.smtp.next_mail(QUIET).await.is_none(),
        "a forged ticket sent a mail"
    );

    // The minted ticket is refused for its expiry only: a fresh one is accepted.
    let fresh = mint_confirmation_ticket(&s.gw, carol, unix_now() + 300);
    let (_, html) = resend(&s.gw.browser(), &fresh).await;
    assert_eq!(heading(&html), "Check your email");
    link_from(&s.smtp.expect_mail().await, CAROL_EMAIL, CONFIRM_EMAIL_PATH);

    // The real ones work, each on its own tenant.
    let (_, html) = resend(&s.gw.browser(), &ticket).await;
    assert_eq!(heading(&html), "Check your email");
    link_from(&s.smtp.expect_mail().await, ALICE_EMAIL, CONFIRM_EMAIL_PATH);
    let csrf = dave.csrf(BETA, LOGIN_PATH).await;
    let r = dave
        .post_form(
            BETA,
            RESEND_CONFIRMATION_PATH,
            &[("csrf", &csrf), ("ticket", &dave_ticket)],
        )
        .await;
    assert_eq!(heading(&page(r).await.1), "Check your email");
    let link = link_from(
        &s.smtp.expect_mail().await,
        "dave@beta.test",
        CONFIRM_EMAIL_PATH,
    );
    assert!(link.starts_with(BETA_URL), "{link}");
}

// ----- Phone confirmation --------------------------------------------------------------

/// A site whose text messages go to a Twilio stand-in.
fn phone_site(twilio: &HttpStub, host: &str) -> Site {
    let top = twilio.twilio_sms();
    site(Options {
        top: &top,
        host,
        ..Options::default()
    })
}

/// The code at the start of a text message ("123456 is your … code …").
fn sms_code(body: &str) -> String {
    let digits: String = body.chars().take_while(char::is_ascii_digit).collect();
    assert!(digits.len() >= 6, "no code at the start of {body:?}");
    digits
}

/// Posts the phone confirmation form, with a code or (empty) to ask for one.
async fn confirm_phone(b: &Browser, code: &str) -> Response {
    let csrf = b.csrf(ACME, ACCOUNT_PATH).await;
    let mut fields = vec![("csrf", csrf.as_str())];
    if !code.is_empty() {
        fields.push(("code", code));
    }
    b.post_form(ACME, ACCOUNT_CONFIRM_PHONE_PATH, &fields).await
}

#[tokio::test]
async fn phone_confirmation_sends_the_exact_twilio_request_and_only_the_right_code_confirms() {
    let twilio = HttpStub::answering(201, r#"{"sid":"SM0001","status":"queued"}"#);
    let s = phone_site(&twilio, "");
    add_user(&s.gw, "acme", ALICE, None, Some(ALICE_PHONE), false);
    let b = s.gw.browser();
    sign_in(&b, ALICE, PASSWORD).await;
    let html = account_page(&b).await;
    assert_eq!(account_state(&html, "Text message"), "Not confirmed");
    assert!(html.contains(&format!("action=\"{ACCOUNT_CONFIRM_PHONE_PATH}\"")));

    // The button sends a code and shows the form for it.
    let (status, html) = page(confirm_phone(&b, "").await).await;
    assert_eq!((status, heading(&html)), (200, "Confirm your phone number"));
    assert_eq!(info(&html), Some("We sent a code by text message."));
    assert!(html.contains("autocomplete=\"one-time-code\""));

    let requests = twilio.requests();
    let [req] = requests.as_slice() else {
        panic!("one request to Twilio, got {requests:#?}");
    };
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.target,
        format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
    );
    use base64::Engine;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}"));
    assert_eq!(
        req.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert!(req
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded")));
    let mut names: Vec<String> = req.form().into_iter().map(|(k, _)| k).collect();
    names.sort();
    assert_eq!(names, ["Body", "From", "To"]);
    assert_eq!(req.form_value("To"), ALICE_PHONE);
    assert_eq!(req.form_value("From"), TWILIO_SENDER);
    let body = req.form_value("Body");
    let code = sms_code(&body);
    assert_eq!(code.len(), 6);
    assert_eq!(
        body,
        format!(
            "{code} is your {ACME_NAME} code to confirm this phone number. \
             It expires in 5 minutes."
        )
    );

    // A wrong code is refused on the same form; the right one confirms.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, html) = page(confirm_phone(&b, wrong).await).await;
    assert_eq!(
        (status, alert(&html)),
        (200, Some("That code is not right. Check it and try again."))
    );
    assert_eq!(
        account_state(&account_page(&b).await, "Text message"),
        "Not confirmed"
    );
    let r = confirm_phone(&b, &code).await;
    assert_eq!(
        (r.status().as_u16(), location(&r)),
        (303, format!("{ACCOUNT_PATH}?done=phone-confirmed").as_str())
    );
    let html = account_page_at(&b, location(&r)).await;
    assert_eq!(account_state(&html, "Text message"), "Confirmed");
    assert_eq!(info(&html), Some("Your phone number is confirmed."));
    assert!(!html.contains(&format!("action=\"{ACCOUNT_CONFIRM_PHONE_PATH}\"")));
    assert!(
        !s.gw.log().contains(TWILIO_TOKEN),
        "the auth token is in the log"
    );
}

#[tokio::test]
async fn phone_confirmation_codes_are_single_use_limited_expiring_and_cooled_down() {
    let twilio = HttpStub::answering(201, r#"{"sid":"SM0001"}"#);
    let s = phone_site(
        &twilio,
        "code.max_attempts = 3\ncode.resend_after = \"2s\"\ncode.lifetime = \"2s\"",
    );
    add_user(&s.gw, "acme", ALICE, None, Some(ALICE_PHONE), false);
    let b = s.gw.browser();
    sign_in(&b, ALICE, PASSWORD).await;
    let sent = |n: usize| {
        let requests = twilio.requests();
        assert_eq!(requests.len(), n, "requests to Twilio: {requests:#?}");
        sms_code(&requests[n - 1].form_value("Body"))
    };
    let dead = Some("This code has expired or was already used. Send a new code.");
    let wrong_of = |code: &str| if code == "000000" { "111111" } else { "000000" }.to_owned();

    // Asked twice at once: the second waits for the cool-down and sends nothing.
    // (Times are kept in whole seconds: a 2 s cool-down is over 3 s later.)
    let first_sent = Instant::now();
    page(confirm_phone(&b, "").await).await;
    let first = sent(1);
    let (_, html) = page(confirm_phone(&b, "").await).await;
    assert_eq!(
        info(&html),
        Some("A code was sent a moment ago. Enter it, or ask again shortly.")
    );
    sent(1);

    // Three wrong tries use the code up: the right code no longer works.
    for _ in 0..3 {
        let (_, html) = page(confirm_phone(&b, &wrong_of(&first)).await).await;
        assert_eq!(
            alert(&html),
            Some("That code is not right. Check it and try again.")
        );
    }
    let (_, html) = page(confirm_phone(&b, &first).await).await;
    assert_eq!(alert(&html), dead, "after max_attempts");

    // Past its lifetime a code is dead too.
    let cooled_down = first_sent + Duration::from_millis(3100);
    tokio::time::sleep_until(cooled_down.into()).await;
    page(confirm_phone(&b, "").await).await;
    let second = sent(2);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, html) = page(confirm_phone(&b, &second).await).await;
    assert_eq!(alert(&html), dead, "after code.lifetime");

    // A fresh code confirms, once.
    page(confirm_phone(&b, "").await).await;
    let third = sent(3);
    let r = confirm_phone(&b, &third).await;
    assert_eq!(location(&r), format!("{ACCOUNT_PATH}?done=phone-confirmed"));
    assert_eq!(
        account_state(&account_page(&b).await, "Text message"),
        "Confirmed"
    );
    let (_, html) = page(confirm_phone(&b, &third).await).await;
    assert_eq!(alert(&html), dead, "the same code again");
}

// ----- CSRF and missing configuration ------------------------------------------------

/// A form post: host, path and the fields other than `csrf`.
type Post<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);

#[tokio::test]
async fn every_form_of_these_flows_refuses_a_post_without_a_valid_csrf_token() {
    let s = site(Options {
        top: "[sms]\nprovider = \"log\"\n",
        beta: "email_confirmation_required_for_login = true",
        ..Options::default()
    });
    add_user(
        &s.gw,
        "acme",
        ALICE,
        Some(ALICE_EMAIL),
        Some(ALICE_PHONE),
        false,
    );
    add_user(&s.gw, "acme", BOB, Some(BOB_EMAIL), None, true);
    add_user(&s.gw, "beta", "dave", Some("dave@beta.test"), None, false);
    let b = s.gw.browser();
    sign_in(&b, ALICE, PASSWORD).await;

    // A live reset link and a live confirmation link, and a login-page ticket.
    let reset = reset_link(&s, ALICE, ALICE_EMAIL).await;
    let r = account_post(&b, ACCOUNT_CONFIRM_EMAIL_PATH, &[]).await;
    assert_eq!(r.status(), 303);
    let confirm = link_from(&s.smtp.expect_mail().await, ALICE_EMAIL, CONFIRM_EMAIL_PATH);
    let dave = s.gw.browser();
    let csrf = dave.csrf(BETA, LOGIN_PATH).await;
    let html = page(dave.submit_login(BETA, &csrf, "dave", PASSWORD, "/").await)
        .await
        .1;
    let ticket = form_field(&html, "ticket").expect("a ticket on beta");

    // A token made for another browser's cookie, and one made by tenant beta for
    // this browser's very cookie value.
    let stranger = s.gw.browser();
    let foreign = stranger.csrf(ACME, FORGOT_PATH).await;
    let cookie = b.cookie(ACME, CSRF_COOKIE).expect("a CSRF cookie");
    b.add_cookie(BETA, &format!("{CSRF_COOKIE}={cookie}"));
    let other_tenant = b.csrf(BETA, FORGOT_PATH).await;
    let posts: [Post<'_>; 7] = [
        (ACME, FORGOT_PATH, vec![("username", BOB)]),
        (
            ACME,
            RESET_PATH,
            vec![
                ("token", token_of(&reset)),
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
            ],
        ),
        (
            ACME,
            CONFIRM_EMAIL_PATH,
            vec![("token", token_of(&confirm))],
        ),
        (
            BETA,
            RESEND_CONFIRMATION_PATH,
            vec![("ticket", ticket.as_str())],
        ),
        (ACME, ACCOUNT_CONFIRM_EMAIL_PATH, vec![]),
        (ACME, ACCOUNT_CONFIRM_PHONE_PATH, vec![]),
        (
            ACME,
            CHANGE_PASSWORD_PATH,
            vec![
                ("current_password", PASSWORD),
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
            ],
        ),
    ];
    for (host, path, fields) in &posts {
        let browser = if *host == BETA { &dave } else { &b };
        let tokens: [(&str, Option<&str>); 4] = [
            ("no csrf field", None),
            ("an empty csrf", Some("")),
            ("another browser's csrf", Some(&foreign)),
            ("another tenant's csrf", Some(&other_tenant)),
        ];
        for (what, token) in tokens {
            if *host == BETA && what == "another tenant's csrf" {
                continue;
            }
            let mut all = fields.clone();
            if let Some(t) = token {
                all.push(("csrf", t));
            }
            let (status, html) = page(browser.post_form(host, path, &all).await).await;
            assert_eq!(
                (status, heading(&html)),
                (403, FORM_EXPIRED),
                "POST {path} with {what}"
            );
        }
        // Without the CSRF cookie at all (the session cookie alone), with a token
        // that is valid for another browser's cookie.
        let bare = s.gw.browser();
        let session = b.cookie(ACME, SESSION_COOKIE).expect("signed in");
        bare.add_cookie(ACME, &format!("{SESSION_COOKIE}={session}"));
        let mut all = fields.clone();
        all.push(("csrf", &foreign));
        let (status, html) = page(bare.post_form(host, path, &all).await).await;
        assert_eq!(
            (status, heading(&html)),
            (403, FORM_EXPIRED),
            "POST {path} without the CSRF cookie"
        );
    }

    // Nothing happened: no mail, no text, the password and links unchanged.
    assert!(
        s.smtp.next_mail(QUIET).await.is_none(),
        "a refused POST sent mail"
    );
    assert!(
        !s.gw.log().contains("sms (log mode"),
        "a refused POST sent a text"
    );
    let (_, html) = open_reset(&b, ACME, token_of(&reset)).await;
    assert_eq!(
        heading(&html),
        "Choose a new password",
        "the reset link is used up"
    );
    let (_, html) = page(
        b.navigate(
            ACME,
            &format!("{CONFIRM_EMAIL_PATH}?token={}", token_of(&confirm)),
        )
        .await,
    )
    .await;
    assert_eq!(heading(&html), "Confirm your email address");
    let html = account_page(&b).await;
    assert_eq!(account_state(&html, "Email"), "Not confirmed");
    assert_eq!(account_state(&html, "Text message"), "Not confirmed");
    sign_in(&s.gw.browser(), ALICE, PASSWORD).await;
    assert_eq!(app_status(&b).await, 200);
}

#[tokio::test]
async fn without_a_public_url_no_link_is_sent_and_the_log_says_why() {
    let smtp = SmtpServer::start();
    let app = Upstream::start("app");
    let gw = Gateway::start(
        &GatewayConfig::new()
            .top(&smtp_email(smtp.port()))
            .tenant(
                Tenant::new("acme", ACME)
                    .display_name(ACME_NAME)
                    .route(Route::login("/", [app.addr()])),
            )
            .to_toml(),
    );
    add_user(&gw, "acme", ALICE, Some(ALICE_EMAIL), None, false);

    // Forgot password: the usual answer, no mail, the reason in the log.
    let b = gw.browser();
    let csrf = b.csrf(ACME, FORGOT_PATH).await;
    let r = b
        .post_form(ACME, FORGOT_PATH, &[("csrf", &csrf), ("username", ALICE)])
        .await;
    let (status, html) = page(r).await;
    assert_eq!((status, info(&html)), (200, Some(RESET_REQUESTED)));
    let log = gw.log_when(|l| l.contains("has no public_url")).await;
    assert!(
        log.contains("cannot send a password reset link: the tenant has no public_url"),
        "{log}"
    );

    // The account page's button: a page saying it could not, and no mail.
    sign_in(&b, ALICE, PASSWORD).await;
    let (status, html) = page(account_post(&b, ACCOUNT_CONFIRM_EMAIL_PATH, &[]).await).await;
    assert_eq!((status, heading(&html)), (200, COULD_NOT_SEND));

    // The command line says so too.
    let out = gw.cli(
        &[
            "user",
            "add",
            "--tenant",
            "acme",
            "--username",
            BOB,
            "--email",
            BOB_EMAIL,
            "--send-confirmation",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(!out.status.success(), "{out:#?}");
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("public_url"),
        "{out:#?}"
    );
    assert!(
        smtp.next_mail(QUIET).await.is_none(),
        "a mail without public_url"
    );
}

#[tokio::test]
async fn no_reset_link_goes_to_a_disabled_user_or_one_without_an_address() {
    let s = site(Options::default());
    add_user(&s.gw, "acme", ALICE, Some(ALICE_EMAIL), None, true);
    add_user(&s.gw, "acme", BOB, None, None, false);
    s.gw.user_command("disable", "acme", ALICE, &[]);
    for login in [ALICE, ALICE_EMAIL, BOB] {
        let (status, html) = page(forgot(&s.gw.browser(), ACME, login).await).await;
        assert_eq!(
            (status, info(&html)),
            (200, Some(RESET_REQUESTED)),
            "{login}"
        );
    }
    assert!(s.smtp.next_mail(QUIET).await.is_none(), "a link was sent");
}
