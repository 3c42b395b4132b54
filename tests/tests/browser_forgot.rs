//! The forgot-password walk in headless Chromium (issue 6, "Tests"): the login
//! page's link, the forgot-password form, the link from the mail (email in `log`
//! mode, read from the gateway's log), the reset form, and a sign-in with the new
//! password. `tests/browser/forgot.mjs` drives the browser and saves a screenshot
//! of each page in `tests/browser/screenshots/forgot/`.
//!
//! Needs Debian's Chromium and the browser test's npm packages: without them the
//! test fails and says to run `scripts/setup --browser`.

use portcullis_tests::chromium::Walk;
use portcullis_tests::{Gateway, GatewayConfig, Route, Tenant, Upstream};
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

/// The settings of the walk: `localhost` (which Chromium resolves to loopback by
/// itself), `/` behind a login, and, once the port is known, a public URL on it.
fn config(app: &Upstream, public_url: Option<&str>) -> String {
    let mut demo = Tenant::new("demo", "localhost")
        .display_name("Portcullis Browser Test")
        .route(Route::login("/", [app.addr()]));
    if let Some(url) = public_url {
        demo = demo.public_url(url);
    }
    GatewayConfig::new().tenant(demo).to_toml()
}

#[test]
fn chromium_resets_a_forgotten_password_through_the_mailed_link_and_signs_in_with_the_new_one() {
    let app = Upstream::start("app");

    // The public URL names the gateway's port, known once it runs: set it and reload.
    let mut gw = Gateway::start(&config(&app, None));
    gw.rewrite_config(&config(&app, Some(&gw.url("localhost", ""))));
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

    Walk {
        script: "forgot.mjs",
        shots_dir: "forgot",
        shots: &SHOTS,
        user: USER,
        password: PASSWORD,
        env: &[("PORTCULLIS_NEW_PASSWORD", NEW_PASSWORD)],
    }
    .run(&gw);
}
