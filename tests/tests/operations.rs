//! Operations (issue 5): several gateway processes on one PostgreSQL, a store that
//! goes away and comes back, restarts, SIGTERM, SIGHUP reloads under load, health
//! and metrics. Real processes throughout; the store is cut with a TCP relay.
//!
//! Tests that need PostgreSQL say SKIPPED and return when
//! `PORTCULLIS_TEST_POSTGRES_URL` is unset.

use portcullis_tests::database::{postgres_url, skip, TestDatabase};
use portcullis_tests::pages::location;
use portcullis_tests::relay::Relay;
use portcullis_tests::{
    Browser, Echo, Gateway, GatewayConfig, Route, Tenant, Upstream, SESSION_COOKIE,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ACME: &str = "acme.test";
const PASSWORD: &str = "correct-horse-42";

fn acme(app: &Upstream, public: &Upstream) -> Tenant {
    Tenant::new("acme", ACME)
        .display_name("Acme Corp")
        .route(Route::login("/", [app.addr()]))
        .route(Route::bypass("/public", [public.addr()]))
}

/// Two gateways on one fresh PostgreSQL database, with one secret key file, as the
/// README's several-instance set-up says.
struct Pair {
    a: Gateway,
    b: Gateway,
    _app: Upstream,
    _public: Upstream,
    _key_dir: tempfile::TempDir,
}

fn pair(url: &str, extra: &str) -> Pair {
    let app = Upstream::start("app");
    let public = Upstream::start("public");
    let key_dir = tempfile::tempdir().expect("a temporary directory");
    let key = key_dir.path().join("shared.key");
    let config = GatewayConfig::new()
        .top(&format!("secret_key_file = \"{}\"\n{extra}", key.display()))
        .host_settings("lockout.max_failed_attempts = 3")
        .tenant(acme(&app, &public))
        .to_toml();
    let db = Arc::new(TestDatabase::create(url));
    let a =
        Gateway::try_start_on(&config, Some(db.clone())).unwrap_or_else(|f| panic!("{}", f.log));
    let b = Gateway::try_start_on(&config, Some(db)).unwrap_or_else(|f| panic!("{}", f.log));
    Pair {
        a,
        b,
        _app: app,
        _public: public,
        _key_dir: key_dir,
    }
}

/// The same browser (cookies) pointed at another instance.
fn same_browser_on(from: &Browser, host: &str, to: &Gateway) -> Browser {
    let other = to.browser();
    for name in [SESSION_COOKIE, "portcullis_csrf"] {
        if let Some(v) = from.cookie(host, name) {
            other.add_cookie(host, &format!("{name}={v}"));
        }
    }
    other
}

async fn wait_for(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

#[tokio::test]
async fn a_sign_in_on_one_instance_is_honoured_by_the_other() {
    let Some(url) = postgres_url() else {
        return skip("a_sign_in_on_one_instance_is_honoured_by_the_other");
    };
    let p = pair(&url, "");
    p.a.add_user("acme", "alice", None, PASSWORD);
    let on_a = p.a.browser();
    on_a.sign_in(ACME, "alice", PASSWORD).await;
    let on_b = same_browser_on(&on_a, ACME, &p.b);
    let r = on_b.get(ACME, "/app").await;
    assert_eq!(r.status(), 200);
    let echo = Echo::from_response(r).await;
    assert_eq!(echo.header("x-auth-user"), vec!["alice"]);
}

#[tokio::test]
async fn a_code_sent_by_one_instance_is_verified_on_the_other_and_only_once() {
    let Some(url) = postgres_url() else {
        return skip("a_code_sent_by_one_instance_is_verified_on_the_other_and_only_once");
    };
    let p = pair(&url, "[host.settings.two_factor]\nenabled = true\n");
    p.a.add_user("acme", "alice", Some("alice@acme.test"), PASSWORD);
    p.a.confirm_addresses("acme", "alice", true, false);

    // Password and code request on A.
    let on_a = p.a.browser();
    let r = on_a.login(ACME, "alice", PASSWORD, "/app").await;
    assert_eq!(r.headers()["location"], "/.portcullis/send-code");
    let csrf = on_a.csrf(ACME, "/.portcullis/send-code").await;
    let r = on_a
        .post_form(
            ACME,
            "/.portcullis/send-code",
            &[("csrf", &csrf), ("provider", "email")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let log = p.a.log_when(|l| l.contains("sign-in code is")).await;
    let code = code_in(&log);

    // The code typed on B.
    let on_b = same_browser_on(&on_a, ACME, &p.b);
    let verify = "/.portcullis/verify-code?provider=email";
    let r = on_b
        .post_form(ACME, verify, &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    assert_eq!(r.headers()["location"], "/app");

    // A second pending sign-in cannot reuse it, on either instance.
    let again = p.b.browser();
    let r = again.login(ACME, "alice", PASSWORD, "/").await;
    assert_eq!(r.headers()["location"], "/.portcullis/send-code");
    let csrf2 = again.csrf(ACME, verify).await;
    let r = again
        .post_form(ACME, verify, &[("csrf", &csrf2), ("code", &code)])
        .await;
    assert_eq!(r.status(), 200, "a used code must not sign in again");
}

fn code_in(log: &str) -> String {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("sign-in code is"))
        .expect("a code line");
    let after = line
        .split("sign-in code is ")
        .nth(1)
        .expect("the code follows");
    after.chars().take_while(char::is_ascii_digit).collect()
}

#[tokio::test]
async fn parallel_wrong_guesses_split_across_instances_stop_at_the_limit() {
    let Some(url) = postgres_url() else {
        return skip("parallel_wrong_guesses_split_across_instances_stop_at_the_limit");
    };
    let p = pair(&url, "");
    p.a.add_user("acme", "alice", None, PASSWORD);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let b = if i % 2 == 0 {
            p.a.browser()
        } else {
            p.b.browser()
        };
        tasks.push(tokio::spawn(async move {
            b.login(ACME, "alice", &format!("wrong-{i}"), "/")
                .await
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("the task finishes"));
    }
    let checked = statuses.iter().filter(|&&s| s == 200).count();
    let locked = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!((checked, locked), (3, 17), "{statuses:?}");
    let r = p.b.browser().login(ACME, "alice", PASSWORD, "/").await;
    assert_eq!(
        r.status(),
        429,
        "the right password is refused while locked"
    );
}

#[tokio::test]
async fn signing_out_on_one_instance_ends_the_session_on_the_other_within_a_second() {
    let Some(url) = postgres_url() else {
        return skip("signing_out_on_one_instance_ends_the_session_on_the_other_within_a_second");
    };
    let p = pair(&url, "");
    p.a.add_user("acme", "alice", None, PASSWORD);
    let on_a = p.a.browser();
    on_a.sign_in(ACME, "alice", PASSWORD).await;
    let on_b = same_browser_on(&on_a, ACME, &p.b);
    // B now holds the session in memory.
    assert_eq!(on_b.get(ACME, "/app").await.status(), 200);
    assert_eq!(on_b.get(ACME, "/app").await.status(), 200);

    assert_eq!(on_a.logout(ACME).await.status(), 200);
    let took = wait_for(Duration::from_secs(3), async || {
        on_b.get(ACME, "/app").await.status() == 401
    })
    .await;
    let took = took.expect("B still accepted the signed-out session after 3 s");
    assert!(
        took <= Duration::from_secs(1),
        "B took {took:?} to drop the session"
    );
}

/// A gateway whose PostgreSQL connection goes through a relay the test can cut.
async fn behind_relay(url: &str) -> (Gateway, Relay, Arc<TestDatabase>, Upstream, Upstream) {
    let db = Arc::new(TestDatabase::create(url));
    let target = db_addr(db.url());
    let relay = Relay::start(target);
    let relayed = db
        .url()
        .replacen(&target.to_string(), &relay.addr().to_string(), 1);
    let (app, public) = (Upstream::start("app"), Upstream::start("public"));
    let config = GatewayConfig::new()
        .top(&format!(
            "[database]\nurl = \"{relayed}\"\nmax_connections = 4\n"
        ))
        .tenant(acme(&app, &public))
        .to_toml();
    let gw =
        Gateway::try_start_on(&config, Some(db.clone())).unwrap_or_else(|f| panic!("{}", f.log));
    (gw, relay, db, app, public)
}

fn db_addr(url: &str) -> SocketAddr {
    let host_port = url
        .split('@')
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("host:port in the URL");
    host_port
        .parse()
        .unwrap_or_else(|_| panic!("{host_port} is not an address"))
}

#[tokio::test]
async fn with_the_store_down_protected_routes_fail_closed_and_recover_by_themselves() {
    let Some(url) = postgres_url() else {
        return skip("with_the_store_down_protected_routes_fail_closed_and_recover_by_themselves");
    };
    let (gw, relay, _db, _app, _public) = behind_relay(&url).await;
    gw.add_user("acme", "alice", None, PASSWORD);
    let b = gw.browser();
    b.sign_in(ACME, "alice", PASSWORD).await;
    assert_eq!(b.get(ACME, "/app").await.status(), 200);
    let health = b.get(ACME, "/.portcullis/health").await;
    assert_eq!(health.status(), 200);

    relay.cut();
    let down = wait_for(Duration::from_secs(5), async || {
        b.get(ACME, "/app").await.status() == 503
    })
    .await;
    assert!(
        down.is_some(),
        "a signed-in request was still forwarded with the store cut"
    );
    // Nothing protected is forwarded while it is down; the page says why.
    let r = b.navigate(ACME, "/app/page").await;
    assert_eq!(r.status(), 503);
    assert!(r
        .text()
        .await
        .unwrap_or_default()
        .contains("Temporarily unavailable"));
    assert_eq!(b.get(ACME, "/.portcullis/health").await.status(), 503);
    // Bypass routes do not need the store.
    let r = b.get(ACME, "/public/x").await;
    assert_eq!(r.status(), 200);
    assert_eq!(Echo::from_response(r).await.upstream(), "public");

    relay.restore();
    let up = wait_for(Duration::from_secs(10), async || {
        b.get(ACME, "/app").await.status() == 200
    })
    .await;
    assert!(
        up.is_some(),
        "the gateway did not recover after the store came back:\n{}",
        gw.log()
    );
    let log = gw
        .log_when(|l| l.contains("the store is reachable again"))
        .await;
    assert!(log.contains("the store is reachable again"), "{log}");
}

#[tokio::test]
async fn a_restart_loses_no_session() {
    let (app, public) = (Upstream::start("app"), Upstream::start("public"));
    let mut gw = Gateway::start(&GatewayConfig::new().tenant(acme(&app, &public)).to_toml());
    gw.add_user("acme", "alice", None, PASSWORD);
    let b = gw.browser();
    b.sign_in(ACME, "alice", PASSWORD).await;
    gw.restart();
    // A fresh connection (the old one died with the process), same cookies.
    let b = same_browser_on(&b, ACME, &gw);
    let r = b.get(ACME, "/app").await;
    assert_eq!(r.status(), 200, "the session did not survive the restart");
    assert_eq!(
        Echo::from_response(r).await.header("x-auth-user"),
        vec!["alice"]
    );
}

#[tokio::test]
async fn a_session_loaded_after_a_restart_keeps_its_return_path() {
    // Fault pinned: signed-in sessions loaded from the store dropped their return
    // path, and the sign-in pages then redirected to an empty `Location`.
    let (app, public) = (Upstream::start("app"), Upstream::start("public"));
    let mut gw = Gateway::start(&GatewayConfig::new().tenant(acme(&app, &public)).to_toml());
    gw.add_user("acme", "alice", None, PASSWORD);
    let b = gw.browser();
    let r = b.login(ACME, "alice", PASSWORD, "/app/page?x=1").await;
    assert_eq!((r.status().as_u16(), location(&r)), (303, "/app/page?x=1"));
    gw.restart();
    let b = same_browser_on(&b, ACME, &gw);
    for page in ["/.portcullis/send-code", "/.portcullis/verify-code"] {
        let r = b.navigate(ACME, page).await;
        assert_eq!(
            (r.status().as_u16(), location(&r)),
            (303, "/app/page?x=1"),
            "{page}"
        );
    }
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    let (app, public) = (Upstream::start("app"), Upstream::start("public"));
    let config = GatewayConfig::new()
        .top("[server]\ngrace_period = \"3s\"\n")
        .tenant(acme(&app, &public));
    let mut gw = Gateway::start(&config.to_toml());
    let b = gw.browser();
    let slow = b
        .request(reqwest::Method::GET, ACME, "/public/slow")
        .header("x-echo-delay-ms", "1500");
    let in_flight = tokio::spawn(async move { slow.send().await.map(|r| r.status().as_u16()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    gw.signal("TERM");
    let status = in_flight
        .await
        .expect("the task finishes")
        .expect("the in-flight request was answered");
    assert_eq!(status, 200);
    let (exit, gw) =
        tokio::task::spawn_blocking(move || (gw.wait_exit(Duration::from_secs(15)), gw))
            .await
            .expect("the wait finishes");
    assert!(exit.is_some(), "the gateway did not exit after SIGTERM");
    // Lines written while stopping are not lost with the process.
    let log = gw.log();
    assert!(
        log.lines().any(|l| l.contains("portcullis::access")
            && l.contains("route=\"/public\"")
            && l.contains("status=200")),
        "no access line for the in-flight request:\n{log}"
    );
    assert!(
        log.contains("portcullis stopped"),
        "the last line was lost:\n{log}"
    );
}

#[tokio::test]
async fn sighup_reloads_settings_without_failing_a_request_and_keeps_them_on_a_bad_file() {
    let (app, public) = (Upstream::start("app"), Upstream::start("public"));
    let base = GatewayConfig::new().tenant(acme(&app, &public));
    let gw = Gateway::start(&base.to_toml());
    gw.add_user("acme", "alice", None, PASSWORD);
    let b = gw.browser();
    b.sign_in(ACME, "alice", PASSWORD).await;

    // A steady load of signed-in requests, four at a time.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (b, stop) = (b.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match b.request(reqwest::Method::GET, ACME, "/app").send().await {
                    Ok(r) if r.status() == 200 => ok += 1,
                    Ok(r) => failed.push(r.status().to_string()),
                    Err(e) => failed.push(e.to_string()),
                }
            }
            (ok, failed)
        }));
    }

    // Reload with a new display name and a new denied route, twice, under load.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let renamed = GatewayConfig::new().tenant(
        acme(&app, &public)
            .display_name("Acme Renamed")
            .route(Route::deny("/closed")),
    );
    gw.rewrite_config(&renamed.to_toml());
    gw.signal("HUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    gw.signal("HUP");
    let applied = wait_for(Duration::from_secs(3), async || {
        b.get(ACME, "/closed").await.status() == 403
    })
    .await;
    assert!(
        applied.is_some(),
        "the reloaded route is not in force:\n{}",
        gw.log()
    );

    // A bad file keeps the running configuration, with an error in the log.
    gw.write_config_text("[[tenants]]\nname = \"acme\"\nbogus_key = 1\n");
    gw.signal("HUP");
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);

    let (mut ok, mut failed) = (0, Vec::new());
    for t in load {
        let (o, f) = t.await.expect("the load task finishes");
        ok += o;
        failed.extend(f);
    }
    assert!(
        failed.is_empty(),
        "requests failed during the reloads: {failed:?}"
    );
    assert!(ok > 20, "too little load to mean anything: {ok} requests");
    let log = gw.log_when(|l| l.contains("reload failed")).await;
    assert!(
        log.contains("bogus_key"),
        "the log does not name the bad key:\n{log}"
    );
    assert_eq!(
        b.get(ACME, "/closed").await.status(),
        403,
        "the good configuration stayed"
    );
    let page = b
        .navigate(ACME, "/.portcullis/logout")
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(page.contains("Acme Renamed"));
}

#[tokio::test]
async fn health_and_metrics_report_store_requests_sign_ins_and_latency() {
    let (app, public) = (Upstream::start("app"), Upstream::start("public"));
    let metrics: SocketAddr = format!("127.0.0.1:{}", portcullis_tests::free_port())
        .parse()
        .expect("an address");
    let config = GatewayConfig::new()
        .top(&format!("[metrics]\naddress = \"{metrics}\"\n"))
        .tenant(acme(&app, &public));
    let gw = Gateway::start(&config.to_toml());
    gw.add_user("acme", "alice", None, PASSWORD);
    let b = gw.browser();
    let health = b.get(ACME, "/.portcullis/health").await;
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.expect("JSON health");
    assert_eq!(body["store"], "up");

    assert_eq!(b.login(ACME, "alice", "wrong", "/").await.status(), 200);
    b.sign_in(ACME, "alice", PASSWORD).await;
    for _ in 0..3 {
        assert_eq!(b.get(ACME, "/app").await.status(), 200);
    }
    assert_eq!(b.get(ACME, "/public/x").await.status(), 200);

    // The access line is written after the answer; give the counters a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .unwrap();
    let value = |line: &str| -> f64 {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(line)
                    .map(|v| v.trim().parse::<f64>().unwrap_or(-1.0))
            })
            .unwrap_or_else(|| panic!("no `{line}` in\n{text}"))
    };
    assert!(value("portcullis_requests_total{tenant=\"acme\",status=\"200\"}") >= 5.0);
    assert_eq!(
        value("portcullis_sign_ins_total{result=\"invalid_credentials\"}"),
        1.0
    );
    assert_eq!(value("portcullis_sign_ins_total{result=\"success\"}"), 1.0);
    assert_eq!(value("portcullis_proxied_seconds_count"), 4.0);
    assert_eq!(value("portcullis_proxied_seconds_bucket{le=\"+Inf\"}"), 4.0);
    // Metrics are not on the public listener: there /metrics is an ordinary path.
    assert_eq!(gw.browser().get(ACME, "/metrics").await.status(), 401);
}
