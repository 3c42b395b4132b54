//! The forgot-password walk in headless Chromium (issue 6, "Tests"): the login
//! page's link, the forgot-password form, the link from the mail (email in `log`
//! mode, read from the gateway's log), the reset form, and a sign-in with the new
//! password. `tests/browser/forgot.mjs` drives the browser and saves a screenshot
//! of each page in `tests/browser/screenshots/forgot/`.
//!
//! Needs Debian's Chromium and the browser test's npm packages: without them the
//! test fails and says to run `scripts/setup --browser`.

use portcullis_tests::{Gateway, GatewayConfig, Route, Tenant, Upstream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const USER: &str = "walker";
const PASSWORD: &str = "correct-horse-42";
const NEW_PASSWORD: &str = "battery-staple-97";
/// The screenshots the walk saves, in order.
const SHOTS: [&str; 9] = [
    "01-login.png",
    "02-forgot.png",
    "03-forgot-sent.png",
    "04-reset.png",
    "05-reset-mismatch.png",
    "06-password-changed.png",
    "07-login-old-password.png",
    "08-upstream.png",
    "09-link-used.png",
];
/// Starting Chromium on a busy two-core machine can take a while.
const WALK_TIMEOUT: Duration = Duration::from_secs(90);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Chromium, Node and playwright-core, or a failure saying how to get them.
fn require_browser() -> PathBuf {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let playwright = browser_dir().join("node_modules/playwright-core");
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        chromium.is_file() && playwright.is_dir() && node,
        "the browser test needs node, Chromium at {} and {}: run `scripts/setup --browser`",
        chromium.display(),
        playwright.display()
    );
    chromium
}

/// The settings of the walk: `localhost` (which Chromium resolves to loopback by
/// itself), `/` behind a login, and, once the port is known, a public URL on it.
fn config(app: &Upstream, public_url: Option<&str>) -> String {
    let text = GatewayConfig::new()
        .tenant(
            Tenant::new("demo", "localhost")
                .display_name("Portcullis Browser Test")
                .route(Route::login("/", [app.addr()])),
        )
        .to_toml();
    let Some(url) = public_url else {
        return text;
    };
    let mut file: toml::Table = text.parse().expect("the settings are TOML");
    let tenant = file
        .get_mut("tenants")
        .and_then(|t| t.as_array_mut())
        .and_then(|t| t.first_mut())
        .and_then(|t| t.as_table_mut())
        .expect("one tenant");
    tenant.insert("public_url".into(), url.into());
    toml::to_string(&file).expect("a TOML table serialises")
}

#[test]
fn chromium_resets_a_forgotten_password_through_the_mailed_link_and_signs_in_with_the_new_one() {
    let chromium = require_browser();
    let app = Upstream::start("app");

    // The public URL names the gateway's port, known once it runs: set it and reload.
    let mut gw = Gateway::start(&config(&app, None));
    let public_url = gw.url("localhost", "");
    gw.rewrite_config(&config(&app, Some(&public_url)));
    gw.signal("HUP");
    let started = Instant::now();
    while !gw.log().contains("configuration reloaded") {
        assert!(
            started.elapsed() < Duration::from_secs(10) && gw.is_running(),
            "the gateway did not reload:\n{}",
            gw.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    gw.add_user("demo", USER, Some("walker@example.test"), PASSWORD);

    let shots = browser_dir().join("screenshots/forgot");
    let _ = std::fs::remove_dir_all(&shots);
    // Output to files, so a chatty failure never blocks on a full pipe.
    let out_dir = tempfile::tempdir().expect("a temporary directory");
    let (out_path, err_path) = (out_dir.path().join("stdout"), out_dir.path().join("stderr"));
    let file = |p: &Path| std::fs::File::create(p).expect("an output file");
    let mut child = Command::new("node")
        .arg("forgot.mjs")
        .current_dir(browser_dir())
        .env("PORTCULLIS_URL", &public_url)
        .env("PORTCULLIS_USER", USER)
        .env("PORTCULLIS_PASSWORD", PASSWORD)
        .env("PORTCULLIS_NEW_PASSWORD", NEW_PASSWORD)
        .env("PORTCULLIS_LOG", gw.log_path())
        .env("SHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .stdout(file(&out_path))
        .stderr(file(&err_path))
        .spawn()
        .expect("node starts");

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the walk can be polled") {
            break status;
        }
        if started.elapsed() > WALK_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
            panic!("the browser walk took longer than {WALK_TIMEOUT:?}:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(
        status.success() && stdout.contains("\"ok\":true"),
        "the browser walk failed ({status}):\nstdout:\n{stdout}\nstderr:\n{stderr}\n\
         gateway log:\n{}",
        gw.log()
    );
    for shot in SHOTS {
        let path = shots.join(shot);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "{} was not saved", path.display());
    }
}
