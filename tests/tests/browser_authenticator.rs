//! The authenticator walk in headless Chromium (issue 4, "Tests"): set up the app
//! at sign-in, save the recovery codes, sign out, sign in with an app code, then
//! with a recovery code. `tests/browser/authenticator.mjs` drives the browser and
//! saves a screenshot of each page in `tests/browser/screenshots/authenticator/`.
//!
//! Needs Debian's Chromium and the browser test's npm packages: without them the
//! test fails and says to run `scripts/setup --browser`.

use portcullis_tests::chromium::Walk;
use portcullis_tests::{Gateway, GatewayConfig, Route, Tenant, Upstream};

const USER: &str = "demo";
const PASSWORD: &str = "k3qz-8v2m-r7tw-c9pa";
/// The screenshots the walk saves, in order.
const SHOTS: [&str; 15] = [
    "01-login.png",
    "02-set-up.png",
    "03-set-up-wrong-code.png",
    "04-recovery-codes.png",
    "05-upstream-after-set-up.png",
    "06-account.png",
    "07-send-code.png",
    "08-verify-app.png",
    "09-upstream-app-code.png",
    "10-send-code-again.png",
    "11-verify-recovery-code.png",
    "12-upstream-recovery-code.png",
    "13-account-after-recovery.png",
    "14-send-code-reuse.png",
    "15-verify-recovery-code-reused.png",
];

#[test]
fn set_up_the_app_save_the_codes_and_sign_in_with_a_code_and_a_recovery_code_in_chromium() {
    let app = Upstream::start("app");
    let config = GatewayConfig::new()
        .host_settings("two_factor.enabled = true")
        .tenant(
            Tenant::new("demo", "localhost")
                .display_name("Portcullis Demo")
                .settings("two_factor.when_no_provider = \"enrol\"")
                .route(Route::login("/", [app.addr()])),
        );
    let gw = Gateway::start(&config.to_toml());
    gw.add_user("demo", USER, None, PASSWORD);

    Walk {
        script: "authenticator.mjs",
        shots_dir: "authenticator",
        shots: &SHOTS,
        user: USER,
        password: PASSWORD,
        env: &[],
    }
    .run(&gw);
}
