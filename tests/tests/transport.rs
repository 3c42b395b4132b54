//! What rides on the connection: TLS listeners (cookies become `Secure` and
//! `__Host-` prefixed, HTTP/2 works) and WebSocket upgrades (passed through once
//! authorised, refused before any upstream connection otherwise).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use portcullis_tests::{form_field, Gateway, GatewayConfig, Route, Tenant, Upstream, LOGIN_PATH};
use sha1::{Digest, Sha1};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ACME: &str = "acme.test";
const PASSWORD: &str = "correct-horse-42";

/// A client for `https://acme.test:PORT` that trusts the test's self-signed
/// certificate and keeps cookies.
fn tls_client(http2: bool) -> reqwest::Client {
    let b = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .resolve(ACME, SocketAddr::from(([127, 0, 0, 1], 0)))
        .no_proxy();
    // With HTTP/2 allowed, ALPN picks it when the listener offers it.
    let b = if http2 { b } else { b.http1_only() };
    b.build().expect("a TLS client builds")
}

#[tokio::test]
async fn under_tls_cookies_are_secure_and_host_prefixed_and_only_those_are_read() {
    let app = Upstream::start("app");
    let config = GatewayConfig::new()
        .tenant(Tenant::new("acme", ACME).route(Route::login("/", [app.addr()])));
    let gw = Gateway::start_tls(&config.to_toml(), ACME);
    gw.add_user("acme", "alice", None, PASSWORD);
    let base = format!("https://{ACME}:{}", gw.port());
    let c = tls_client(false);

    let page = c
        .get(format!("{base}{LOGIN_PATH}"))
        .send()
        .await
        .expect("the TLS login page answers");
    let csrf_cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        csrf_cookie.starts_with("__Host-portcullis_csrf="),
        "{csrf_cookie}"
    );
    assert!(
        csrf_cookie.contains("Secure")
            && csrf_cookie.contains("HttpOnly")
            && csrf_cookie.contains("Path=/")
    );
    assert!(!csrf_cookie.to_ascii_lowercase().contains("domain="));
    let csrf = form_field(&page.text().await.unwrap(), "csrf").expect("a csrf field");

    let form = [
        ("csrf", csrf.as_str()),
        ("username", "alice"),
        ("password", PASSWORD),
        ("return", "/app"),
    ];
    let r = c
        .post(format!("{base}{LOGIN_PATH}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        session.starts_with("__Host-portcullis_session="),
        "{session}"
    );
    assert!(session.contains("Secure") && session.contains("SameSite=Lax"));
    let value = session
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();

    let r = c.get(format!("{base}/app")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let echo: serde_json::Value = r.json().await.unwrap();
    assert_eq!(echo["headers"]["x-auth-user"], "alice");
    assert_eq!(echo["headers"]["x-forwarded-proto"], "https");

    // The same id under the unprefixed name (as a cookie planted over plain HTTP or
    // by a sibling domain would be) is not read.
    let plain = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .resolve(ACME, SocketAddr::from(([127, 0, 0, 1], 0)))
        .no_proxy()
        .build()
        .unwrap();
    let r = plain
        .get(format!("{base}/app"))
        .header("cookie", format!("portcullis_session={value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn http2_over_tls_reaches_the_upstream_with_identity() {
    let app = Upstream::start("app");
    let config = GatewayConfig::new()
        .tenant(Tenant::new("acme", ACME).route(Route::bypass("/", [app.addr()])));
    let gw = Gateway::start_tls(&config.to_toml(), ACME);
    let r = tls_client(true)
        .get(format!("https://{ACME}:{}/x", gw.port()))
        .header("x_auth_user", "mallory")
        .send()
        .await
        .expect("an HTTP/2 request through TLS");
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    let echo: serde_json::Value = r.json().await.unwrap();
    assert_eq!(echo["upstream"], "app");
    assert!(
        echo["headers"].get("x-auth-user").is_none()
            && echo["headers"].get("x_auth_user").is_none()
    );
}

/// A WebSocket upstream: answers the handshake with 101, greets `delay_ms` later,
/// and echoes what it gets. Counts the connections it accepted.
async fn websocket_upstream(delay_ms: u64) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let head = read_head(&mut s).await;
                let key = head
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("sec-websocket-key:")
                            .or_else(|| l.strip_prefix("Sec-WebSocket-Key:"))
                    })
                    .map(str::trim)
                    .unwrap_or_default()
                    .to_owned();
                let accept = STANDARD.encode(Sha1::digest(format!(
                    "{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
                )));
                let user = head
                    .lines()
                    .find_map(|l| l.strip_prefix("x-auth-user:"))
                    .map(str::trim)
                    .unwrap_or("-")
                    .to_owned();
                let reply = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                     Sec-WebSocket-Accept: {accept}\r\n\r\n"
                );
                let greeting = format!("hello {user}\n");
                // With no delay, the greeting goes out in the same write as the 101.
                let first = if delay_ms == 0 {
                    format!("{reply}{greeting}")
                } else {
                    reply
                };
                if s.write_all(first.as_bytes()).await.is_err() {
                    return;
                }
                if delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    if s.write_all(greeting.as_bytes()).await.is_err() {
                        return;
                    }
                }
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

async fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn upgrade_request(cookie: Option<&str>) -> String {
    let cookie = cookie
        .map(|c| format!("Cookie: portcullis_session={c}\r\n"))
        .unwrap_or_default();
    format!(
        "GET /ws HTTP/1.1\r\nHost: {ACME}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         X-Auth-User: mallory\r\n{cookie}\r\n"
    )
}

#[tokio::test]
async fn websocket_upgrades_pass_once_signed_in_and_never_before() {
    websocket_round_trip(100).await;
}

/// Pins a Pingora fault: data an upstream sends in the same write as its 101 can
/// tear the tunnel down (cloudflare/pingora#946, present in 0.9.1). It is a race:
/// seen once here under load, then passing in repeated runs; run it with --ignored.
#[tokio::test]
#[ignore = "Pingora 0.9.1 #946: upstream data sent with the 101 sometimes closes the tunnel"]
async fn websocket_data_sent_together_with_the_101_reaches_the_client() {
    websocket_round_trip(0).await;
}

async fn websocket_round_trip(greeting_delay_ms: u64) {
    let (ws, accepted) = websocket_upstream(greeting_delay_ms).await;
    let config =
        GatewayConfig::new().tenant(Tenant::new("acme", ACME).route(Route::login("/", [ws])));
    let gw = Gateway::start(&config.to_toml());
    gw.add_user("acme", "alice", None, PASSWORD);

    // Signed out: refused by the gateway, and the upstream never sees a connection.
    let mut s = TcpStream::connect(gw.addr()).await.unwrap();
    s.write_all(upgrade_request(None).as_bytes()).await.unwrap();
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert_eq!(accepted.load(Ordering::SeqCst), 0);

    // Signed in: 101, the identity header is the gateway's, and frames flow both ways.
    let session = gw.browser().sign_in(ACME, "alice", PASSWORD).await;
    let mut s = TcpStream::connect(gw.addr()).await.unwrap();
    s.write_all(upgrade_request(Some(&session)).as_bytes())
        .await
        .unwrap();
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut greeting = vec![0u8; "hello alice\n".len()];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut greeting))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&greeting), "hello alice\n");
    for message in ["ping 1", "ping 2 after a pause"] {
        s.write_all(message.as_bytes()).await.unwrap();
        let mut back = vec![0u8; message.len()];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut back))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&back), message);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
