//! The gateway core against real processes on loopback: a `portcullis serve` with
//! echo upstreams behind it, reached by a real HTTP client (issue 2, "Tests").
//!
//! Each test starts its own gateway, so they run in parallel.

use portcullis_tests::pages::{location, set_cookie};
use portcullis_tests::{
    portcullis, unused_addr, Echo, Gateway, GatewayConfig, RawRequest, Route, Tenant, Upstream,
    CSRF_COOKIE, IDENTITY_HEADERS, LOGIN_PATH, LOGOUT_PATH, SESSION_COOKIE,
};
use reqwest::header::{ACCEPT, COOKIE, SET_COOKIE};
use reqwest::Method;
use std::collections::BTreeMap;

const ACME: &str = "acme.test";
const BETA: &str = "beta.test";
const ALICE: &str = "alice";
const ALICE_EMAIL: &str = "alice@acme.test";
const PASSWORD: &str = "correct-horse-42";
const INVALID: &str = "Invalid user name or password.";

/// A tenant `acme` on `acme.test`: `/` needs a login (upstream `app`), `/public` is
/// open (upstream `public`), `/secret` is denied; user `alice` exists.
struct Site {
    gw: Gateway,
    alice_id: i64,
    _app: Upstream,
    _public: Upstream,
}

fn acme(app: &Upstream, public: &Upstream) -> Tenant {
    Tenant::new("acme", ACME)
        .display_name("Acme Corp")
        .route(Route::login("/", [app.addr()]))
        .route(Route::bypass("/public", [public.addr()]))
        .route(Route::deny("/secret"))
}

fn site_with(config: impl FnOnce(GatewayConfig, Tenant) -> GatewayConfig) -> Site {
    let app = Upstream::start("app");
    let public = Upstream::start("public");
    let gw = Gateway::start(&config(GatewayConfig::new(), acme(&app, &public)).to_toml());
    let alice_id = gw.add_user("acme", ALICE, Some(ALICE_EMAIL), PASSWORD);
    Site {
        gw,
        alice_id,
        _app: app,
        _public: public,
    }
}

fn site() -> Site {
    site_with(|c, acme| c.tenant(acme))
}

fn login_url_for(target: &str) -> String {
    let encoded: String = target
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{LOGIN_PATH}?return={encoded}")
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

fn sets_session_cookie(r: &reqwest::Response) -> bool {
    set_cookie(r, SESSION_COOKIE).is_some()
}

async fn assert_unauthenticated(r: reqwest::Response, what: &str) {
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    assert_eq!(status, 401, "{what}: {body}");
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: not JSON: {body}"));
    assert_eq!(v["error"], "unauthenticated", "{what}: {body}");
}

// ----- Signed out ---------------------------------------------------------------------

#[tokio::test]
async fn signed_out_navigation_is_redirected_to_login_with_the_return_path() {
    let s = site();
    let b = s.gw.browser();

    let r = b.navigate(ACME, "/reports/q1?year=2024&view=full").await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        location(&r),
        "/.portcullis/login?return=%2Freports%2Fq1%3Fyear%3D2024%26view%3Dfull"
    );

    let head = b
        .request(Method::HEAD, ACME, "/x")
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 302);
    assert_eq!(location(&head), login_url_for("/x"));

    // The login page carries the return path into its form.
    let page = b
        .navigate(ACME, &login_url_for("/reports/q1?year=2024"))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert_eq!(
        portcullis_tests::form_field(&html, "return").as_deref(),
        Some("/reports/q1?year=2024")
    );
    assert!(html.contains("Acme Corp"), "the tenant's name is shown");
}

#[tokio::test]
async fn signed_out_api_request_gets_401_json_with_the_login_url() {
    let s = site();
    let b = s.gw.browser();

    let r = b.get(ACME, "/api/items?page=2").await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "error": "unauthenticated",
            "login_url": "/.portcullis/login?return=%2Fapi%2Fitems%3Fpage%3D2",
        })
    );

    // A POST is never a navigation, even when it accepts HTML.
    let r = b
        .request(Method::POST, ACME, "/api/items")
        .header(ACCEPT, "text/html")
        .body("x=1")
        .send()
        .await
        .unwrap();
    assert_unauthenticated(r, "POST accepting HTML").await;
}

// ----- Password sign-in and lockout -----------------------------------------------------

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_generic_answer_and_no_cookie() {
    let s = site();
    let b = s.gw.browser();

    for (user, password) in [(ALICE, "wrong-password"), ("nobody", PASSWORD)] {
        let r = b.login(ACME, user, password, "/app").await;
        assert_eq!(r.status(), 200, "{user}");
        assert!(!sets_session_cookie(&r), "{user}: no session cookie");
        let html = r.text().await.unwrap();
        assert!(html.contains(INVALID), "{user}: generic message in {html}");
        assert!(
            !html.contains("locked") && !html.contains("disabled"),
            "{user}: nothing more is said"
        );
    }
    assert_eq!(b.cookie(ACME, SESSION_COOKIE), None);
    assert_unauthenticated(b.get(ACME, "/app").await, "after failed sign-ins").await;
}

#[tokio::test]
async fn correct_password_signs_in_with_a_safe_cookie_and_reaches_the_upstream() {
    let s = site();
    let b = s.gw.browser();

    let r = b.login(ACME, ALICE, PASSWORD, "/app/page?x=1").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/app/page?x=1");
    let cookie = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .expect("a session cookie is set");
    let attributes: Vec<String> = cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["httponly", "samesite=lax", "path=/"] {
        assert!(
            attributes.contains(&wanted.to_owned()),
            "{wanted} in {cookie}"
        );
    }
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "host-only: {cookie}"
    );
    let id = b.cookie(ACME, SESSION_COOKIE).unwrap();
    assert!(id.len() >= 22, "at least 128 bits: {id}");

    let echo = Echo::from_response(b.get(ACME, "/app/page?x=1").await).await;
    assert_eq!(echo.upstream(), "app");
    assert_eq!(echo.path(), "/app/page");
    assert_eq!(echo.query(), Some("x=1"));
}

#[tokio::test]
async fn signing_in_again_replaces_the_session_id_and_ends_the_old_one() {
    let s = site();
    let b = s.gw.browser();
    // A login form opened before signing in (say, in another tab) is posted again.
    let csrf = b.csrf(ACME, LOGIN_PATH).await;

    let r = b.submit_login(ACME, &csrf, ALICE, PASSWORD, "/").await;
    assert_eq!(r.status(), 303);
    let first = b.cookie(ACME, SESSION_COOKIE).unwrap();
    let r = b.submit_login(ACME, &csrf, ALICE, PASSWORD, "/").await;
    assert_eq!(r.status(), 303);
    let second = b.cookie(ACME, SESSION_COOKIE).unwrap();
    assert_ne!(first, second);

    let old = b
        .get_with_cookie(ACME, "/app", &format!("{SESSION_COOKIE}={first}"))
        .await;
    assert_unauthenticated(old, "the replaced session").await;
    let new = b
        .get_with_cookie(ACME, "/app", &format!("{SESSION_COOKIE}={second}"))
        .await;
    assert_eq!(Echo::from_response(new).await.upstream(), "app");

    // A signed-in browser is sent on from the login page instead of seeing a form.
    let r = b.navigate(ACME, &login_url_for("/app/x")).await;
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "/app/x");
}

#[tokio::test]
async fn lockout_refuses_even_the_correct_password_after_the_limit() {
    let s = site_with(|c, acme| {
        c.host_settings("lockout.max_failed_attempts = 3\nlockout.duration = \"5m\"")
            .tenant(acme)
    });
    let b = s.gw.browser();

    for i in 1..=3 {
        let r = b.login(ACME, ALICE, "wrong-password", "/").await;
        assert_eq!(r.status(), 200, "attempt {i}");
        assert!(r.text().await.unwrap().contains(INVALID), "attempt {i}");
    }

    let r = b.login(ACME, ALICE, PASSWORD, "/").await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After is a number of seconds");
    assert!((1..=300).contains(&retry), "retry-after {retry}");
    assert!(!sets_session_cookie(&r));
    let html = r.text().await.unwrap();
    assert!(html.contains("Too many failed attempts"), "{html}");
    assert!(html.contains("minute"), "the time left is shown: {html}");

    // Signing in by email counts against the same account.
    let r = b.login(ACME, ALICE_EMAIL, PASSWORD, "/").await;
    assert_eq!(r.status(), 429, "by email");

    // `user unlock` lifts it.
    s.gw.cli(
        &["user", "unlock", "--tenant", "acme", "--username", ALICE],
        None,
    )
    .assert_success();
    let r = b.login(ACME, ALICE, PASSWORD, "/").await;
    assert_eq!(r.status(), 303, "after unlock");
}

#[tokio::test]
async fn unknown_user_names_are_locked_out_like_real_ones() {
    let s = site_with(|c, acme| {
        c.host_settings("lockout.max_failed_attempts = 3\nlockout.duration = \"5m\"")
            .tenant(acme)
    });
    let b = s.gw.browser();
    let csrf = b.csrf(ACME, LOGIN_PATH).await;
    let mut seen = Vec::new();
    for user in ["nobody", ALICE] {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let r = b
                .submit_login(ACME, &csrf, user, "wrong-password", "/")
                .await;
            statuses.push(r.status().as_u16());
        }
        seen.push(statuses);
    }
    assert_eq!(seen[0], vec![200, 200, 200, 429], "unknown user");
    assert_eq!(seen[0], seen[1], "the same answers for a real user");
}

#[tokio::test]
async fn a_successful_sign_in_below_the_limit_resets_the_failure_count() {
    let s = site_with(|c, acme| {
        c.host_settings("lockout.max_failed_attempts = 3\nlockout.duration = \"5m\"")
            .tenant(acme)
    });
    let b = s.gw.browser();
    let csrf = b.csrf(ACME, LOGIN_PATH).await;
    let mut statuses = Vec::new();
    for password in ["wrong-1", "wrong-2", PASSWORD, "wrong-3", "wrong-4"] {
        let r = b.submit_login(ACME, &csrf, ALICE, password, "/").await;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 303, 200, 200]);
}

#[tokio::test]
async fn a_lock_ends_when_its_duration_has_passed() {
    let s = site_with(|c, acme| {
        c.host_settings("lockout.max_failed_attempts = 2\nlockout.duration = \"2s\"")
            .tenant(acme)
    });
    let b = s.gw.browser();
    let csrf = b.csrf(ACME, LOGIN_PATH).await;
    for _ in 0..2 {
        b.submit_login(ACME, &csrf, ALICE, "wrong-password", "/")
            .await;
    }
    let r = b.submit_login(ACME, &csrf, ALICE, PASSWORD, "/").await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "retry-after {retry}");

    tokio::time::sleep(std::time::Duration::from_millis(retry * 1000 + 1100)).await;
    let r = b.submit_login(ACME, &csrf, ALICE, PASSWORD, "/").await;
    assert_eq!(r.status(), 303, "after the lock ran out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_parallel_wrong_guesses_check_at_most_the_limit_of_passwords() {
    const MAX: usize = 3;
    const GUESSES: usize = 20;
    let s = site_with(|c, acme| {
        c.host_settings("lockout.max_failed_attempts = 3\nlockout.duration = \"5m\"")
            .tenant(acme)
    });
    let b = s.gw.browser();
    let csrf = b.csrf(ACME, LOGIN_PATH).await;

    let tasks: Vec<_> = (0..GUESSES)
        .map(|i| {
            let (b, csrf) = (b.clone(), csrf.clone());
            tokio::spawn(async move {
                let guess = format!("wrong-guess-{i}");
                let fields = [
                    ("csrf", csrf.as_str()),
                    ("username", ALICE),
                    ("password", guess.as_str()),
                    ("return", "/"),
                ];
                b.post_form(ACME, LOGIN_PATH, &fields)
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = BTreeMap::new();
    for t in tasks {
        *statuses.entry(t.await.unwrap()).or_insert(0usize) += 1;
    }

    // Every attempt is charged before its password is checked, in one atomic
    // update, so exactly MAX passwords are checked in the window and the rest
    // are refused unchecked.
    assert_eq!(
        statuses,
        BTreeMap::from([(200, MAX), (429, GUESSES - MAX)]),
        "statuses of {GUESSES} parallel guesses"
    );

    let r = b.login(ACME, ALICE, PASSWORD, "/").await;
    assert_eq!(
        r.status(),
        429,
        "the correct password is refused while locked"
    );
    assert!(!sets_session_cookie(&r));

    let audit = s.gw.audit("acme", ALICE);
    let count = |result: &str| audit.iter().filter(|r| r.result == result).count();
    assert_eq!(count("invalid_credentials"), MAX, "{audit:#?}");
    assert_eq!(count("locked_out"), GUESSES - MAX + 1, "{audit:#?}");
    assert_eq!(count("success"), 0, "{audit:#?}");
}

// ----- Forwarding ------------------------------------------------------------------------

/// Spoofed identity headers in the spellings a client might try.
fn with_spoofed_identity(req: RawRequest) -> RawRequest {
    req.header("x-auth-user", "mallory")
        .header("X_Auth_User", "mallory")
        .header("X-AUTH-USER", "mallory")
        .header("x_auth_user_id", "0")
        .header("X-Auth-Email", "mallory@evil.test")
        .header("X-AUTH_TENANT", "other")
        .header("x-auth-methods", "pwd,totp")
}

#[tokio::test]
async fn signed_in_request_carries_identity_headers_and_no_spoofed_ones() {
    let s = site();
    let b = s.gw.browser();
    let session = b.sign_in(ACME, ALICE, PASSWORD).await;

    let req =
        RawRequest::get(ACME, "/app/me").header("Cookie", format!("{SESSION_COOKIE}={session}"));
    let echo = Echo::from_raw(&s.gw.raw(&with_spoofed_identity(req)).await);
    assert_eq!(echo.upstream(), "app");

    let alice_id = s.alice_id.to_string();
    let expected = [
        ("x-auth-user", ALICE),
        ("x-auth-user-id", alice_id.as_str()),
        ("x-auth-email", ALICE_EMAIL),
        ("x-auth-tenant", "acme"),
        ("x-auth-methods", "pwd"),
    ];
    for (name, value) in expected {
        assert_eq!(
            echo.headers_like(name),
            vec![(name.to_owned(), vec![value.to_owned()])],
            "{name}: only the gateway's value reaches the upstream"
        );
    }
}

#[tokio::test]
async fn bypass_route_forwards_no_identity_headers_even_when_spoofed() {
    let s = site();
    let b = s.gw.browser();
    let session = b.sign_in(ACME, ALICE, PASSWORD).await;

    let signed_out = with_spoofed_identity(RawRequest::get(ACME, "/public/page"));
    let signed_in = with_spoofed_identity(
        RawRequest::get(ACME, "/public/page")
            .header("Cookie", format!("{SESSION_COOKIE}={session}")),
    );
    for (what, req) in [("signed out", signed_out), ("signed in", signed_in)] {
        let echo = Echo::from_raw(&s.gw.raw(&req).await);
        assert_eq!(echo.upstream(), "public", "{what}");
        for name in IDENTITY_HEADERS {
            assert_eq!(echo.headers_like(name), vec![], "{what}: {name}");
        }
    }
}

#[tokio::test]
async fn gateway_cookies_are_not_forwarded_but_the_apps_own_are() {
    let s = site();
    let b = s.gw.browser();
    let session = b.sign_in(ACME, ALICE, PASSWORD).await;
    let csrf = b
        .cookie(ACME, CSRF_COOKIE)
        .expect("the login page set a CSRF cookie");
    b.add_cookie(ACME, "app_pref=dark");

    for path in ["/app/settings", "/public/page"] {
        let echo = Echo::from_response(b.get(ACME, path).await).await;
        let cookies: Vec<String> = echo
            .header("cookie")
            .iter()
            .flat_map(|h| h.split(';').map(|p| p.trim().to_owned()))
            .collect();
        assert_eq!(cookies, vec!["app_pref=dark".to_owned()], "{path}");
        let everything = echo.0.to_string();
        assert!(!everything.contains(&session), "{path}: session id leaked");
        assert!(!everything.contains(&csrf), "{path}: CSRF value leaked");
    }

    // Only gateway cookies: no Cookie header at all.
    let req = RawRequest::get(ACME, "/app/x").header(
        "Cookie",
        format!("{SESSION_COOKIE}={session}; {CSRF_COOKIE}={csrf}"),
    );
    let echo = Echo::from_raw(&s.gw.raw(&req).await);
    assert_eq!(echo.header("cookie"), Vec::<String>::new());

    // Gateway cookies in any spelling, spread over two Cookie headers.
    let req = RawRequest::get(ACME, "/app/x")
        .header("Cookie", format!("theme=blue; {SESSION_COOKIE}={session}"))
        .header(
            "Cookie",
            "Portcullis_Other=1; __Host-portcullis_session=x; lang=en",
        );
    let echo = Echo::from_raw(&s.gw.raw(&req).await);
    assert_eq!(
        echo.header("cookie"),
        vec!["theme=blue; lang=en".to_owned()]
    );
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_client_are_replaced() {
    let s = site();
    let req = RawRequest::get(ACME, "/public/ip")
        .header("X-Forwarded-For", "203.0.113.9")
        .header("X-Real-IP", "203.0.113.9")
        .header("Forwarded", "for=203.0.113.9;proto=https")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "evil.test");
    let echo = Echo::from_raw(&s.gw.raw(&req).await);
    assert_eq!(echo.header("x-forwarded-for"), vec!["127.0.0.1"]);
    assert_eq!(echo.header("x-forwarded-proto"), vec!["http"]);
    assert_eq!(echo.header("x-forwarded-host"), vec![ACME]);
    assert_eq!(echo.header("x-real-ip"), Vec::<String>::new());
    assert_eq!(echo.header("forwarded"), Vec::<String>::new());
}

#[tokio::test]
async fn a_trusted_proxys_forwarded_for_is_extended() {
    let s = site_with(|c, acme| c.top("trusted_proxies = [\"127.0.0.1\"]").tenant(acme));
    let req = RawRequest::get(ACME, "/public/ip")
        .header("X-Forwarded-For", "203.0.113.9")
        .header("X-Forwarded-Proto", "https");
    let echo = Echo::from_raw(&s.gw.raw(&req).await);
    assert_eq!(
        echo.header("x-forwarded-for"),
        vec!["203.0.113.9, 127.0.0.1"]
    );
    assert_eq!(echo.header("x-forwarded-proto"), vec!["https"]);
}

#[tokio::test]
async fn a_route_with_two_upstreams_alternates_between_them() {
    let one = Upstream::start("one");
    let two = Upstream::start("two");
    let config = GatewayConfig::new()
        .tenant(Tenant::new("acme", ACME).route(Route::bypass("/", [one.addr(), two.addr()])));
    let gw = Gateway::start(&config.to_toml());
    let b = gw.browser();

    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(
            Echo::from_response(b.get(ACME, "/lb").await)
                .await
                .upstream()
                .to_owned(),
        );
    }
    assert!(
        seen.contains(&"one".to_owned()) && seen.contains(&"two".to_owned()),
        "{seen:?}"
    );
    assert!(
        seen.windows(2).all(|w| w[0] != w[1]),
        "round robin: {seen:?}"
    );
}

// ----- Sessions across tenants, logout ---------------------------------------------------

#[tokio::test]
async fn session_cookie_of_one_tenant_is_refused_on_another() {
    let app = Upstream::start("app");
    let other = Upstream::start("beta-app");
    let config = GatewayConfig::new()
        .tenant(Tenant::new("acme", ACME).route(Route::login("/", [app.addr()])))
        .tenant(Tenant::new("beta", BETA).route(Route::login("/", [other.addr()])));
    let gw = Gateway::start(&config.to_toml());
    gw.add_user("acme", ALICE, None, PASSWORD);
    gw.add_user("beta", ALICE, None, PASSWORD);
    let b = gw.browser();
    let session = b.sign_in(ACME, ALICE, PASSWORD).await;
    let cookie = format!("{SESSION_COOKIE}={session}");

    let on_acme = b.get_with_cookie(ACME, "/", &cookie).await;
    assert_eq!(Echo::from_response(on_acme).await.upstream(), "app");
    let on_beta = b.get_with_cookie(BETA, "/", &cookie).await;
    assert_unauthenticated(on_beta, "acme's cookie on beta").await;

    // Acme's CSRF cookie and token do not make a form on beta.
    let csrf = b.cookie(ACME, CSRF_COOKIE).unwrap();
    let token = b.csrf(ACME, "/.portcullis/logout").await;
    let r = b
        .request(Method::POST, BETA, LOGIN_PATH)
        .header(COOKIE, format!("{CSRF_COOKIE}={csrf}"))
        .form(&[
            ("csrf", token.as_str()),
            ("username", ALICE),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "acme's CSRF token on beta");

    // Beta's login page does not take it as a sign-in either.
    let page = b
        .request(Method::GET, BETA, LOGIN_PATH)
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "beta shows its login form");
}

#[tokio::test]
async fn logout_ends_the_session() {
    let s = site();
    let b = s.gw.browser();
    let session = b.sign_in(ACME, ALICE, PASSWORD).await;
    assert_eq!(
        Echo::from_response(b.get(ACME, "/app").await)
            .await
            .upstream(),
        "app"
    );

    let r = b.logout(ACME).await;
    assert_eq!(r.status(), 200);
    assert!(
        set_cookies(&r)
            .iter()
            .any(|c| c.starts_with(&format!("{SESSION_COOKIE}=;")) && c.contains("Max-Age=0")),
        "the cookie is cleared: {:?}",
        set_cookies(&r)
    );

    let old = b
        .get_with_cookie(ACME, "/app", &format!("{SESSION_COOKIE}={session}"))
        .await;
    assert_unauthenticated(old, "the ended session's cookie").await;
    assert_unauthenticated(b.get(ACME, "/app").await, "the same browser").await;
}

#[tokio::test]
async fn sessions_end_after_their_idle_and_absolute_lifetimes() {
    use std::time::{Duration, Instant};
    let s = site_with(|c, acme| {
        c.top("[session]\nidle_timeout = \"2s\"\nabsolute_timeout = \"4s\"")
            .tenant(acme)
    });
    let busy = s.gw.browser();
    let idle = s.gw.browser();
    // Lifetimes count in whole seconds from the sign-in, which happens after `started`
    // and before `signed_in`.
    let started = Instant::now();
    busy.sign_in(ACME, ALICE, PASSWORD).await;
    let signed_in = Instant::now();
    idle.sign_in(ACME, ALICE, PASSWORD).await;
    let idle_since = Instant::now();

    // Used every 0.7 s, a session lives until its absolute lifetime (4 s) and not past it;
    // one left alone ends after its idle lifetime (2 s).
    let mut ended_at = None;
    let mut idle_checked = false;
    while signed_in.elapsed() < Duration::from_millis(5500) {
        let status = busy.get(ACME, "/app").await.status();
        if status == 401 {
            ended_at = Some(started.elapsed());
            break;
        }
        assert_eq!(status, 200, "at {:?}", started.elapsed());
        if !idle_checked && idle_since.elapsed() > Duration::from_millis(3100) {
            let r = idle.get(ACME, "/app").await;
            assert_unauthenticated(r, "a session idle for over 3 s").await;
            idle_checked = true;
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    if !idle_checked {
        let wait = Duration::from_millis(3100).saturating_sub(idle_since.elapsed());
        tokio::time::sleep(wait).await;
        let r = idle.get(ACME, "/app").await;
        assert_unauthenticated(r, "a session idle for over 3 s").await;
    }
    let ended_at = ended_at.expect("the busy session ended by its absolute lifetime");
    assert!(
        ended_at > Duration::from_secs(3),
        "ended early, at {ended_at:?}"
    );
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_within_a_second() {
    // SPEC 7 and 8: deactivation ends a user's sessions, and a revoked session stops
    // working on every instance within one second. The CLI changes the store; the
    // gateway keeps serving the session from its in-memory table.
    let s = site();
    let b = s.gw.browser();
    b.sign_in(ACME, ALICE, PASSWORD).await;
    assert_eq!(b.get(ACME, "/app").await.status(), 200);

    s.gw.cli(
        &["user", "disable", "--tenant", "acme", "--username", ALICE],
        None,
    )
    .assert_success();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_unauthenticated(b.get(ACME, "/app").await, "a disabled user's session").await;

    let r = s.gw.browser().login(ACME, ALICE, PASSWORD, "/").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("disabled"));
}

#[tokio::test]
async fn a_password_change_ends_the_users_sessions_within_a_second() {
    let s = site();
    let b = s.gw.browser();
    b.sign_in(ACME, ALICE, PASSWORD).await;
    assert_eq!(b.get(ACME, "/app").await.status(), 200);

    let new_password = "another-horse-43";
    s.gw.cli(
        &[
            "user",
            "set-password",
            "--tenant",
            "acme",
            "--username",
            ALICE,
            "--password-stdin",
        ],
        Some(&format!("{new_password}\n")),
    )
    .assert_success();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_unauthenticated(b.get(ACME, "/app").await, "a session from the old password").await;

    let r = s.gw.browser().login(ACME, ALICE, PASSWORD, "/").await;
    assert_eq!(r.status(), 200, "the old password");
    let r = s.gw.browser().login(ACME, ALICE, new_password, "/").await;
    assert_eq!(r.status(), 303, "the new password");
}

// ----- Hosts, paths and return targets ---------------------------------------------------

#[tokio::test]
async fn unknown_host_gets_421_and_is_never_proxied() {
    let s = site();
    let b = s.gw.browser();

    for host in ["other.test", "acme.test.evil.test", "127.0.0.1"] {
        let r = b.navigate(host, "/public/x").await;
        assert_eq!(r.status(), 421, "{host}");
        let html = r.text().await.unwrap();
        assert!(html.contains("Unknown site"), "{host}: {html}");
        assert!(!html.contains("\"upstream\""), "{host}: not proxied");
    }
    let r =
        s.gw.raw(&RawRequest::without_host("GET", "/public/x"))
            .await;
    assert!(
        r.status == 421 || r.status == 400,
        "no Host header: {} {}",
        r.status,
        r.text()
    );
}

#[tokio::test]
async fn host_names_are_matched_without_case_port_or_trailing_dot() {
    let s = site();
    for host in ["ACME.Test", "acme.test.", "acme.test:8443", "Acme.TEST.:80"] {
        let echo = Echo::from_raw(&s.gw.raw(&RawRequest::get(host, "/public/x")).await);
        assert_eq!(echo.upstream(), "public", "{host}");
    }
}

#[tokio::test]
async fn hostile_return_paths_end_at_root_after_login() {
    let s = site();

    for hostile in [
        "//x",
        "/\\x",
        "/%09/x",
        "https://other",
        "javascript:alert(1)",
    ] {
        let b = s.gw.browser();
        // The login page does not carry it into its form…
        let encoded = login_url_for(hostile);
        let page = b.navigate(ACME, &encoded).await;
        let html = page.text().await.unwrap();
        assert_eq!(
            portcullis_tests::form_field(&html, "return").as_deref(),
            Some("/"),
            "{hostile} in the form"
        );
        // …and a form posted with it anyway ends at the root.
        let csrf = portcullis_tests::form_field(&html, "csrf").unwrap();
        let r = b.submit_login(ACME, &csrf, ALICE, PASSWORD, hostile).await;
        assert_eq!(r.status(), 303, "{hostile}");
        assert_eq!(location(&r), "/", "{hostile}");
        // Signed in, the login page sends the browser on, to the root as well.
        let r = b.navigate(ACME, &encoded).await;
        assert_eq!(r.status(), 302, "{hostile}, signed in");
        assert_eq!(location(&r), "/", "{hostile}, signed in");
    }

    // A local path survives, so the checks above can fail.
    let r =
        s.gw.browser()
            .login(ACME, ALICE, PASSWORD, "/app/x?y=1")
            .await;
    assert_eq!(location(&r), "/app/x?y=1");
}

#[tokio::test]
async fn encoded_slashes_and_backslashes_in_paths_get_400() {
    let s = site();
    for path in [
        "/public/..%2Fadmin",
        "/public/..%2fadmin",
        "/public/..%5Cadmin",
        "/public/%00/x",
        "/public/a%zz",
    ] {
        let r = s.gw.raw(&RawRequest::get(ACME, path)).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(!r.text().contains("\"upstream\""), "{path}: not proxied");
    }
}

#[tokio::test]
async fn encoded_dot_segments_are_routed_as_the_normalised_path() {
    let s = site();

    // Signed out, `/public/%2e%2e/admin` is `/admin` on the login route.
    let path = "/public/%2e%2e/admin";
    let r =
        s.gw.raw(&RawRequest::get(ACME, path).header("Accept", "application/json"))
            .await;
    assert_eq!(r.status, 401, "{path}: {}", r.text());
    assert_eq!(r.json()["login_url"], login_url_for("/admin"));
    let r =
        s.gw.raw(&RawRequest::get(ACME, path).header("Accept", "text/html"))
            .await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some(login_url_for("/admin").as_str()));
    for other in [
        "/public/.%2E/admin",
        "/public/%2E./admin",
        "/public/../admin",
        "//public/../admin",
    ] {
        let r = s.gw.raw(&RawRequest::get(ACME, other)).await;
        assert_eq!(r.status, 401, "{other}: {}", r.text());
    }

    // Signed in, the upstream receives the path the policy saw.
    let session = s.gw.browser().sign_in(ACME, ALICE, PASSWORD).await;
    let req = RawRequest::get(ACME, "/public/%2e%2e/admin/./%7Eusers?q=%2e%2e")
        .header("Cookie", format!("{SESSION_COOKIE}={session}"));
    let echo = Echo::from_raw(&s.gw.raw(&req).await);
    assert_eq!(echo.upstream(), "app");
    assert_eq!(echo.path(), "/admin/~users");
    assert_eq!(echo.query(), Some("q=%2e%2e"));
}

#[tokio::test]
async fn request_targets_that_name_no_path_get_400_and_are_never_forwarded() {
    // Fault pinned: Pingora reads a target such as `foo:/secret` as `/` but sends its
    // bytes upstream unless the URI is replaced, so it was routed as `/` and an upstream
    // that parsed it reached the denied `/secret`.
    let s = site();
    let session = s.gw.browser().sign_in(ACME, ALICE, PASSWORD).await;
    for target in [
        "foo:/secret/plans",
        "1:/secret",
        "secret/plans",
        "*",
        "acme.test:80",
    ] {
        for signed_in in [false, true] {
            let mut req = RawRequest::get(ACME, target);
            if signed_in {
                req = req.header("Cookie", format!("{SESSION_COOKIE}={session}"));
            }
            let r = s.gw.raw(&req).await;
            assert_eq!(
                r.status,
                400,
                "{target} (signed in: {signed_in}): {}",
                r.text()
            );
            assert!(!r.text().contains("\"upstream\""), "{target}: not proxied");
        }
    }

    // Absolute form names a path: it is routed, and forwarded, as that path.
    let r =
        s.gw.raw(&RawRequest::get(ACME, "http://acme.test/public/../secret"))
            .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let req = RawRequest::get(ACME, "http://acme.test/public/%7Ex?q=1");
    let echo = Echo::from_raw(&s.gw.raw(&req).await);
    assert_eq!(echo.upstream(), "public");
    assert_eq!(echo.path(), "/public/~x");
    assert_eq!(echo.query(), Some("q=1"));
}

#[tokio::test]
async fn deny_route_answers_403_signed_in_or_not() {
    let s = site();
    let b = s.gw.browser();

    let r = b.navigate(ACME, "/secret/plans").await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("Access denied"));

    let r = s.gw.raw(&RawRequest::get(ACME, "/public/../secret")).await;
    assert_eq!(r.status, 403, "reached through a dot segment");

    b.sign_in(ACME, ALICE, PASSWORD).await;
    assert_eq!(b.get(ACME, "/secret").await.status(), 403, "signed in");
}

// ----- Malformed input and failures ------------------------------------------------------

#[tokio::test]
async fn malformed_session_cookies_never_pass_and_never_crash_the_gateway() {
    let mut s = site();
    let b = s.gw.browser();
    let valid = b.sign_in(ACME, ALICE, PASSWORD).await;
    let c = |v: &str| format!("{SESSION_COOKIE}={v}");

    let cases: Vec<(&str, Vec<String>)> = vec![
        ("garbage", vec![c("garbage")]),
        ("empty", vec![c("")]),
        ("too long", vec![c(&"A".repeat(4096))]),
        ("one character short", vec![c(&valid[..valid.len() - 1])]),
        ("one character long", vec![c(&format!("{valid}A"))]),
        ("not base64", vec![c(&"!".repeat(valid.len()))]),
        ("unknown id", vec![c(&"A".repeat(valid.len()))]),
        (
            "duplicated in one header",
            vec![format!("{}; {}", c(&valid), c(&valid))],
        ),
        ("duplicated over two headers", vec![c(&valid), c(&valid)]),
        (
            "valid beside a forgery",
            vec![format!("{}; {}", c("forged"), c(&valid))],
        ),
        ("no value", vec![SESSION_COOKIE.to_owned()]),
        ("semicolons only", vec![";;;;".to_owned()]),
    ];
    for (what, headers) in &cases {
        let mut req = RawRequest::get(ACME, "/app").header("Accept", "application/json");
        for h in headers {
            req = req.header("Cookie", h.as_str());
        }
        let r = s.gw.raw(&req).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text());
        assert_eq!(r.json()["error"], "unauthenticated", "{what}");
    }

    // Bytes that are not UTF-8.
    let mut raw_cookie = format!("{SESSION_COOKIE}=").into_bytes();
    raw_cookie.extend_from_slice(&[0xff, 0xfe, 0x80]);
    raw_cookie.extend_from_slice(&valid.as_bytes()[3..]);
    let r =
        s.gw.raw(&RawRequest::get(ACME, "/app").header("Cookie", raw_cookie))
            .await;
    assert_eq!(r.status, 401, "non-UTF-8: {}", r.text());

    // Still serving, and the genuine cookie still works.
    assert!(s.gw.is_running(), "the gateway is still running");
    let echo = Echo::from_response(b.get_with_cookie(ACME, "/app", &c(&valid)).await).await;
    assert_eq!(echo.header("x-auth-user"), vec![ALICE]);
}

#[tokio::test]
async fn a_dead_upstream_gives_a_502_page() {
    let live = Upstream::start("live");
    let config = GatewayConfig::new().tenant(
        Tenant::new("acme", ACME)
            .route(Route::bypass("/", [live.addr()]))
            .route(Route::bypass("/down", [unused_addr()])),
    );
    let gw = Gateway::start(&config.to_toml());
    let b = gw.browser();

    let r = b.navigate(ACME, "/down/x").await;
    assert_eq!(r.status(), 502);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("The application is not answering"), "{html}");

    // The gateway goes on serving (on a new connection: see the next test).
    let fresh = gw.browser();
    assert_eq!(
        Echo::from_response(fresh.get(ACME, "/up").await)
            .await
            .upstream(),
        "live"
    );
}

#[tokio::test]
async fn a_502_answer_keeps_its_connection_usable_or_says_it_closes_it() {
    // Regression: fail_to_proxy answers with `can_reuse_downstream: false` but the
    // page goes out with `Connection: keep-alive`, so a client that reuses the
    // connection for its next request gets a reset or an empty answer.
    let live = Upstream::start("live");
    let config = GatewayConfig::new().tenant(
        Tenant::new("acme", ACME)
            .route(Route::bypass("/", [live.addr()]))
            .route(Route::bypass("/down", [unused_addr()])),
    );
    let gw = Gateway::start(&config.to_toml());
    let mut conn = gw.connect().await;

    let r = conn
        .exchange(&RawRequest::get(ACME, "/down/x").keep_alive())
        .await
        .unwrap();
    assert_eq!(r.status, 502);
    if r.header("connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    {
        return;
    }
    let next = conn
        .exchange(&RawRequest::get(ACME, "/up").keep_alive())
        .await;
    let next = next.unwrap_or_else(|e| panic!("announced keep-alive, then dropped: {e}"));
    assert_eq!(next.status, 200);
}

#[tokio::test]
async fn posts_without_a_valid_csrf_token_are_refused() {
    fn login(token: Option<&str>) -> Vec<(&str, &str)> {
        let mut fields = vec![("username", ALICE), ("password", PASSWORD), ("return", "/")];
        if let Some(t) = token {
            fields.push(("csrf", t));
        }
        fields
    }
    let s = site();
    let b = s.gw.browser();
    let csrf = b.csrf(ACME, LOGIN_PATH).await;

    let r = b.post_form(ACME, LOGIN_PATH, &login(None)).await;
    assert_eq!(r.status(), 403, "no token");
    assert!(!sets_session_cookie(&r));
    let r = b
        .post_form(ACME, LOGIN_PATH, &login(Some("forged-token")))
        .await;
    assert_eq!(r.status(), 403, "a wrong token");
    let r =
        s.gw.browser()
            .post_form(ACME, LOGIN_PATH, &login(Some(&csrf)))
            .await;
    assert_eq!(r.status(), 403, "a token without its cookie");
    assert!(!sets_session_cookie(&r));
    // The genuine token works, so the refusals above are about the token.
    let r = b.post_form(ACME, LOGIN_PATH, &login(Some(&csrf))).await;
    assert_eq!(r.status(), 303, "the genuine token");
    let session = b.cookie(ACME, SESSION_COOKIE).unwrap();

    // Logout too: the session survives a forged sign-out.
    let r = b.post_form(ACME, LOGOUT_PATH, &[]).await;
    assert_eq!(r.status(), 403, "logout without a token");
    let r = b
        .post_form(ACME, LOGOUT_PATH, &[("csrf", "forged-token")])
        .await;
    assert_eq!(r.status(), 403, "logout with a wrong token");
    let still = b
        .get_with_cookie(ACME, "/app", &format!("{SESSION_COOKIE}={session}"))
        .await;
    assert_eq!(Echo::from_response(still).await.upstream(), "app");
}

#[tokio::test]
async fn the_gateways_own_paths_are_never_forwarded() {
    let up = Upstream::start("open");
    let config = GatewayConfig::new()
        .tenant(Tenant::new("acme", ACME).route(Route::bypass("/", [up.addr()])));
    let gw = Gateway::start(&config.to_toml());

    for path in [
        "/.portcullis/nothing-here",
        "/.portcullis",
        "/%2Eportcullis/nothing-here",
        "/app/../.portcullis/nothing-here",
    ] {
        let r = gw.raw(&RawRequest::get(ACME, path)).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert!(!r.text().contains("\"upstream\""), "{path}: not proxied");
    }
    let r = gw.raw(&RawRequest::get(ACME, "/.portcullis/health")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!({"status": "ok", "store": "up"}));
    // Everything else on the bypass route is forwarded.
    assert_eq!(
        Echo::from_raw(&gw.raw(&RawRequest::get(ACME, "/x")).await).upstream(),
        "open"
    );
}

#[tokio::test]
async fn custom_identity_header_names_are_set_and_protected() {
    let s = site_with(|c, acme| {
        c.top("[identity_headers]\nuser = \"Remote-User\"\ntenant = \"X-Org\"")
            .tenant(acme)
    });
    let session = s.gw.browser().sign_in(ACME, ALICE, PASSWORD).await;
    let req = RawRequest::get(ACME, "/app")
        .header("Cookie", format!("{SESSION_COOKIE}={session}"))
        .header("REMOTE_USER", "mallory")
        .header("remote-user", "mallory")
        .header("x_org", "other");
    let echo = Echo::from_raw(&s.gw.raw(&req).await);
    assert_eq!(
        echo.headers_like("remote-user"),
        vec![("remote-user".to_owned(), vec![ALICE.to_owned()])]
    );
    assert_eq!(
        echo.headers_like("x-org"),
        vec![("x-org".to_owned(), vec!["acme".to_owned()])]
    );
    assert_eq!(echo.header("x-auth-user-id"), vec![s.alice_id.to_string()]);
}

#[tokio::test]
async fn logs_carry_access_and_audit_lines_but_no_secrets() {
    let s = site_with(|c, acme| c.top("[server]\nlog_format = \"json\"").tenant(acme));
    let b = s.gw.browser();
    let r = b.login(ACME, ALICE, "wrong-password-77", "/").await;
    assert_eq!(r.status(), 200);
    let session = b.sign_in(ACME, ALICE, PASSWORD).await;
    let csrf = b.cookie(ACME, CSRF_COOKIE).unwrap();
    assert_eq!(b.get(ACME, "/app/report").await.status(), 200);

    let is_alices_request = |l: &serde_json::Value| {
        l["target"] == "portcullis::access" && l["status"] == 200 && l["user"] == ALICE
    };
    let log =
        s.gw.log_when(|log| {
            log.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .any(|l| is_alices_request(&l))
        })
        .await;
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let access = lines.iter().find(|l| is_alices_request(l));
    let access = access.unwrap_or_else(|| panic!("no access line for alice's request:\n{log}"));
    assert_eq!(access["tenant"], "acme");
    assert_eq!(access["route"], "/");
    assert!(access["duration_ms"].is_number(), "{access}");
    let results: Vec<&str> = lines
        .iter()
        .filter(|l| l["target"] == "portcullis::audit")
        .filter_map(|l| l["result"].as_str())
        .collect();
    assert_eq!(results, vec!["invalid_credentials", "success"], "{log}");

    for (what, secret) in [
        ("the wrong password", "wrong-password-77"),
        ("the password", PASSWORD),
        ("the session id", session.as_str()),
        ("the CSRF cookie", csrf.as_str()),
    ] {
        assert!(!log.contains(secret), "{what} is in the log:\n{log}");
    }
}

// ----- Settings files ---------------------------------------------------------------------

/// A settings file with one faulty line, and what the error must name.
struct BadConfig {
    what: &'static str,
    text: String,
    key: &'static str,
    reason: &'static str,
}

fn bad_configs() -> Vec<BadConfig> {
    let tenant = |extra: &str| {
        format!(
            "[[tenants]]\nname = \"acme\"\nhostnames = [\"acme.test\"]\n{extra}\
             [[tenants.routes]]\npath = \"/\"\nupstreams = [\"127.0.0.1:9\"]\n"
        )
    };
    vec![
        BadConfig {
            what: "unknown key",
            text: format!(
                "[host.settings.lockout]\nmax_failed_attempt = 3\n{}",
                tenant("")
            ),
            key: "host.settings.lockout.max_failed_attempt",
            reason: "unknown field `max_failed_attempt`",
        },
        BadConfig {
            what: "bad policy value",
            text: tenant("").replace("path = \"/\"", "path = \"/\"\npolicy = \"allow\""),
            key: "tenants[0].routes[0].policy",
            reason: "`allow` is not one of `login`, `bypass`, `deny`",
        },
        BadConfig {
            what: "tenant setting a host-only key",
            text: tenant("[tenants.settings.two_factor]\nsms = false\n"),
            key: "tenants[0].settings.two_factor.sms",
            reason: "only the host may set this",
        },
        BadConfig {
            what: "bad duration",
            text: format!(
                "[host.settings.lockout]\nduration = \"soon\"\n{}",
                tenant("")
            ),
            key: "host.settings.lockout.duration",
            reason: "`soon` is not a duration",
        },
    ]
}

#[test]
fn config_check_names_file_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    for bad in bad_configs() {
        let path = dir
            .path()
            .join(format!("{}.toml", bad.what.replace(' ', "-")));
        std::fs::write(&path, &bad.text).unwrap();
        let out = portcullis(
            &["config", "check", "--config", path.to_str().unwrap()],
            None,
        );
        assert!(!out.status.success(), "{}: accepted: {out:?}", bad.what);
        let expected = format!("{}: {}: {}", path.display(), bad.key, bad.reason);
        assert!(
            out.stderr.contains(&expected),
            "{}: wanted {expected:?} in {:?}",
            bad.what,
            out.stderr
        );
    }

    // The same file without the fault passes, so the checks above can fail.
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[[tenants]]\nname = \"acme\"\nhostnames = [\"acme.test\"]\n\
         [[tenants.routes]]\npath = \"/\"\nupstreams = [\"127.0.0.1:9\"]\n",
    )
    .unwrap();
    let out = portcullis(
        &["config", "check", "--config", good.to_str().unwrap()],
        None,
    );
    out.assert_success();
    assert!(out.stdout.contains("ok"), "{out:?}");
}

#[test]
fn serve_does_not_start_with_a_bad_config_file() {
    for bad in bad_configs() {
        let failure = match Gateway::try_start(&bad.text) {
            Ok(_) => panic!("{}: the gateway started", bad.what),
            Err(f) => f,
        };
        assert!(
            !failure.status.success(),
            "{}: {:?}",
            bad.what,
            failure.status
        );
        assert!(
            failure.log.contains(bad.key) && failure.log.contains(bad.reason),
            "{}: wanted {} and {} in {}",
            bad.what,
            bad.key,
            bad.reason,
            failure.log
        );
    }
}

/// Found in review: an upstream answer could set the gateway's own cookies, which
/// plants a session id or a known CSRF value in the browser.
#[tokio::test]
async fn an_upstream_cannot_set_the_gateways_cookies() {
    let s = site();
    let req = RawRequest::get(ACME, "/public/cookies")
        .header("x-echo-set-cookie", "portcullis_session=planted; Path=/")
        .header(
            "x-echo-set-cookie",
            "__Host-portcullis_csrf=AAAA; Path=/; Secure",
        )
        .header("x-echo-set-cookie", "__Secure-Portcullis_Remember=x")
        .header("x-echo-set-cookie", "app_pref=dark; Path=/");
    let r = s.gw.raw(&req).await;
    assert_eq!(r.status, 200);
    let set: Vec<String> = r
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(set, vec!["app_pref=dark; Path=/".to_owned()]);
}

/// Found in review: behind a proxy that adds its own `X-Forwarded-For` line, only
/// the first line was read, so a client's line chose the logged address.
#[tokio::test]
async fn several_forwarded_for_lines_from_a_trusted_proxy_are_read_as_one_list() {
    let s = site_with(|c, acme| c.top("trusted_proxies = [\"127.0.0.1\"]").tenant(acme));
    let req = RawRequest::get(ACME, "/public/ip")
        .header("X-Forwarded-For", "6.6.6.6")
        .header("X-Forwarded-For", "10.0.0.9")
        .header("X_Forwarded_For", "7.7.7.7")
        .header("X-Forwarded-Proto", "http")
        .header("X-Forwarded-Proto", "https");
    let echo = Echo::from_raw(&s.gw.raw(&req).await);
    assert_eq!(
        echo.header("x-forwarded-for"),
        vec!["6.6.6.6, 10.0.0.9, 127.0.0.1"]
    );
    assert!(echo
        .headers_like("x-forwarded-for")
        .iter()
        .all(|(name, _)| name == "x-forwarded-for"));
    let log =
        s.gw.log_when(|l| l.contains("/public") || l.contains("route="))
            .await;
    assert!(
        log.contains("client=10.0.0.9"),
        "the right-most untrusted address is the client:\n{log}"
    );
}

/// Headers that name a user for other authentication set-ups, or a path for
/// servers that route on them, never pass from a client, on any route.
#[tokio::test]
async fn well_known_identity_and_path_override_headers_never_reach_the_upstream() {
    let s = site();
    let mut req = RawRequest::get(ACME, "/public/x");
    let spoofs = [
        "Remote-User",
        "X-Remote-User",
        "X_Forwarded_User",
        "X-Forwarded-Email",
        "X-Auth-Request-User",
        "X-WEBAUTH-USER",
        "X-Original-URL",
        "X-Rewrite-URL",
        "X-Forwarded-Prefix",
        "X-Forwarded-Port",
        "True-Client-IP",
    ];
    for h in spoofs {
        req = req.header(h, "/admin");
    }
    let echo = Echo::from_raw(&s.gw.raw(&req).await);
    for h in spoofs {
        assert!(
            echo.headers_like(h).is_empty(),
            "{h} reached the upstream: {:?}",
            echo.headers_like(h)
        );
    }
    assert_eq!(echo.path(), "/public/x");
}

/// The account page's "sign out other browsers" keeps this one; "sign out
/// everywhere" ends this one too (SPEC 6).
#[tokio::test]
async fn signing_out_other_browsers_and_everywhere_from_the_account_page() {
    let s = site();
    let (a, b) = (s.gw.browser(), s.gw.browser());
    a.sign_in(ACME, ALICE, PASSWORD).await;
    b.sign_in(ACME, ALICE, PASSWORD).await;
    assert_eq!(b.get(ACME, "/app").await.status(), 200);

    let csrf = a.csrf(ACME, "/.portcullis/account").await;
    let r = a
        .post_form(
            ACME,
            "/.portcullis/account/sign-out-others",
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/.portcullis/account?done=others-signed-out");
    assert_eq!(
        a.get(ACME, "/app").await.status(),
        200,
        "this browser stays signed in"
    );
    assert_eq!(
        b.get(ACME, "/app").await.status(),
        401,
        "the other browser is signed out"
    );

    // Without a CSRF token nothing happens.
    let r = a
        .post_form(ACME, "/.portcullis/account/sign-out-everywhere", &[])
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(a.get(ACME, "/app").await.status(), 200);

    let r = a
        .post_form(
            ACME,
            "/.portcullis/account/sign-out-everywhere",
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        a.get(ACME, "/app").await.status(),
        401,
        "sign out everywhere ends this browser too"
    );
}
