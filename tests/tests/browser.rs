//! The end-to-end walk in headless Chromium (issue 3): `tests/browser/signin.mjs`
//! signs in through the login, send-code and verify pages to the echo upstream,
//! reading the code from the gateway's log, and saves a screenshot of each page
//! in `tests/browser/screenshots/`.
//!
//! It needs Debian's `chromium` and the npm packages of `tests/browser`; without
//! them the test fails, saying how to install them, because a skipped browser test
//! would hide a regression in CI.

use portcullis_tests::chromium::Walk;
use portcullis_tests::{Gateway, GatewayConfig, Route, Tenant, Upstream};

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

#[test]
fn chromium_signs_in_through_login_send_code_and_verify_to_the_upstream() {
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
    gw.add_user("demo", USER, Some("walker@example.test"), PASSWORD);
    gw.confirm_addresses("demo", USER, true, false);

    Walk {
        script: "signin.mjs",
        shots_dir: "",
        shots: &SHOTS,
        user: USER,
        password: PASSWORD,
        env: &[],
    }
    .run(&gw);
}
