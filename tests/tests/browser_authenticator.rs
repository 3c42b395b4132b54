//! The authenticator walk in headless Chromium (issue 4, "Tests"): set up the app
//! at sign-in, save the recovery codes, sign out, sign in with an app code, then
//! with a recovery code. `tests/browser/authenticator.mjs` drives the browser and
//! saves a screenshot of each page in `tests/browser/screenshots/authenticator/`.
//!
//! Needs Debian's Chromium and the browser test's npm packages: without them the
//! test fails and says to run `scripts/setup --browser`.

use portcullis_tests::{Gateway, GatewayConfig, Route, Tenant, Upstream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The longest the walk may take.
const WALK_TIMEOUT: Duration = Duration::from_secs(90);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Chromium and playwright-core, or a failure saying how to get them.
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

#[test]
fn set_up_the_app_save_the_codes_and_sign_in_with_a_code_and_a_recovery_code_in_chromium() {
    let chromium = require_browser();
    let app = Upstream::start("app");
    // `localhost`, which Chromium resolves to loopback by itself.
    let config = GatewayConfig::new()
        .host_settings("two_factor.enabled = true")
        .tenant(
            Tenant::new("demo", "localhost")
                .display_name("Portcullis Demo")
                .settings("two_factor.when_no_provider = \"enrol\"")
                .route(Route::login("/", [app.addr()])),
        );
    let gw = Gateway::start(&config.to_toml());
    let password = "k3qz-8v2m-r7tw-c9pa";
    gw.add_user("demo", "demo", None, password);

    let shots = browser_dir().join("screenshots/authenticator");
    let _ = std::fs::remove_dir_all(&shots);
    // Output to files, so a chatty failure never blocks on a full pipe.
    let out_dir = tempfile::tempdir().expect("a temporary directory");
    let (out_path, err_path) = (out_dir.path().join("stdout"), out_dir.path().join("stderr"));
    let file = |p: &Path| std::fs::File::create(p).expect("an output file");
    let mut child = Command::new("node")
        .arg("authenticator.mjs")
        .current_dir(browser_dir())
        .env("PORTCULLIS_URL", gw.url("localhost", ""))
        .env("PORTCULLIS_USER", "demo")
        .env("PORTCULLIS_PASSWORD", password)
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
        status.success(),
        "the browser walk failed ({status}):\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("\"ok\":true"), "{stdout}");
    let saved = std::fs::read_dir(&shots)
        .expect("the screenshots directory exists")
        .count();
    assert!(
        saved >= 12,
        "a screenshot of each page: {saved} in {}",
        shots.display()
    );
}
