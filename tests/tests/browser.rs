//! The end-to-end walk in headless Chromium (issue 3): `tests/browser/signin.mjs`
//! signs in through the login, send-code and verify pages to the echo upstream,
//! reading the code from the gateway's log, and saves a screenshot of each page
//! in `tests/browser/screenshots/`.
//!
//! It needs Debian's `chromium` and the npm packages of `tests/browser`; without
//! them the test fails, saying how to install them, because a skipped browser test
//! would hide a regression in CI.

use portcullis_tests::{Gateway, GatewayConfig, Route, Tenant, Upstream};
use std::path::{Path, PathBuf};
use std::time::Duration;

const USER: &str = "walker";
const PASSWORD: &str = "correct-horse-42";
/// The screenshots the walk saves, in order.
const SHOTS: [&str; 7] = [
    "1-login.png",
    "2-send-code.png",
    "3-verify.png",
    "4-verify-wrong.png",
    "5-upstream.png",
    "6-logout.png",
    "7-signed-out.png",
];
/// Starting Chromium on a busy two-core machine can take a while.
const WALK_TIMEOUT: Duration = Duration::from_secs(120);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Fails, saying what to install, unless Chromium, Node and playwright-core are there.
fn check_prerequisites(dir: &Path) -> PathBuf {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.is_file(),
        "{} is missing: run `scripts/setup --browser` to install Chromium for the browser test",
        chromium.display()
    );
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "{} is missing: run `scripts/setup --browser` to install the browser test's npm packages",
        dir.join("node_modules/playwright-core").display()
    );
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "`node` does not run: run `scripts/setup --browser` to install Node.js"
    );
    chromium
}

#[tokio::test]
async fn chromium_signs_in_through_login_send_code_and_verify_to_the_upstream() {
    let dir = browser_dir();
    let chromium = check_prerequisites(&dir);
    let shots = dir.join("screenshots");
    for shot in SHOTS {
        let _ = std::fs::remove_file(shots.join(shot));
    }

    // Two-factor on, email in log mode (the walk reads the code from the log), and
    // a login route on /app backed by the echo upstream, on `localhost`.
    let app = Upstream::start("app");
    let gw = Gateway::start(
        &GatewayConfig::new()
            .host_settings("two_factor.enabled = true")
            .tenant(
                Tenant::new("demo", "localhost")
                    .display_name("Portcullis Browser Test")
                    .route(Route::login("/app", [app.addr()])),
            )
            .to_toml(),
    );
    gw.cli(
        &[
            "user",
            "add",
            "--tenant",
            "demo",
            "--username",
            USER,
            "--email",
            "walker@example.test",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    )
    .assert_success();
    gw.cli(
        &[
            "user",
            "confirm",
            "--tenant",
            "demo",
            "--username",
            USER,
            "--email",
        ],
        None,
    )
    .assert_success();

    let walk = tokio::process::Command::new("node")
        .arg("signin.mjs")
        .current_dir(&dir)
        .env("PORTCULLIS_URL", format!("http://localhost:{}", gw.port()))
        .env("PORTCULLIS_USER", USER)
        .env("PORTCULLIS_PASSWORD", PASSWORD)
        .env("PORTCULLIS_LOG", gw.log_path())
        .env("SHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(WALK_TIMEOUT, walk)
        .await
        .unwrap_or_else(|_| panic!("the browser walk took more than {WALK_TIMEOUT:?}"))
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("\"ok\":true"),
        "the browser walk failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}\ngateway log:\n{}",
        out.status,
        gw.log()
    );
    for shot in SHOTS {
        let path = shots.join(shot);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "{} was not saved", path.display());
    }
}
