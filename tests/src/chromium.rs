//! The end-to-end walks in headless Chromium: a script of `tests/browser` drives
//! Debian's `chromium` through playwright-core against a test gateway on
//! `localhost` (which Chromium resolves to loopback by itself) and saves a
//! screenshot of each page in `tests/browser/screenshots/`.
//!
//! Without Chromium, Node or the npm packages a walk fails, saying how to install
//! them, because a skipped browser test would hide a regression in CI.

use crate::Gateway;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The longest a walk may take: starting Chromium on a busy two-core machine can
/// take a while.
const WALK_TIMEOUT: Duration = Duration::from_secs(120);

/// A screenshot smaller than this is not a saved page.
const MIN_SCREENSHOT_BYTES: u64 = 1000;

/// One script of `tests/browser` and the screenshots it must save.
pub struct Walk<'a> {
    /// The script's file name in `tests/browser`, e.g. `signin.mjs`.
    pub script: &'a str,
    /// Where the script saves its screenshots, below `tests/browser/screenshots`
    /// (empty for that directory itself).
    pub shots_dir: &'a str,
    /// The screenshots the walk saves; each must be there afterwards.
    pub shots: &'a [&'a str],
    /// The user the script signs in as (`PORTCULLIS_USER`, `PORTCULLIS_PASSWORD`).
    pub user: &'a str,
    pub password: &'a str,
    /// Further environment variables the script reads.
    pub env: &'a [(&'a str, &'a str)],
}

impl Walk<'_> {
    /// Runs the script against `gateway` and asserts that it succeeded, printed
    /// `"ok":true` and saved every screenshot. The script gets the gateway's URL
    /// on `localhost` and its log file (`PORTCULLIS_URL`, `PORTCULLIS_LOG`), the
    /// user, the screenshot directory (`SHOTS`) and Chromium (`CHROMIUM`).
    pub fn run(&self, gateway: &Gateway) {
        let chromium = require_browser();
        let shots = browser_dir().join("screenshots").join(self.shots_dir);
        for shot in self.shots {
            let _ = std::fs::remove_file(shots.join(shot));
        }

        let mut node = Command::new("node");
        node.arg(self.script)
            .current_dir(browser_dir())
            .env("PORTCULLIS_URL", gateway.url("localhost", ""))
            .env("PORTCULLIS_LOG", gateway.log_path())
            .env("PORTCULLIS_USER", self.user)
            .env("PORTCULLIS_PASSWORD", self.password)
            .env("SHOTS", &shots)
            .env("CHROMIUM", &chromium)
            .envs(self.env.iter().map(|(k, v)| (k, OsStr::new(v))));
        let out = run_to_completion(node);
        assert!(
            out.status.success() && out.stdout.contains("\"ok\":true"),
            "the browser walk {} failed ({}):\nstdout:\n{}\nstderr:\n{}\ngateway log:\n{}",
            self.script,
            out.status,
            out.stdout,
            out.stderr,
            gateway.log()
        );

        for shot in self.shots {
            let path = shots.join(shot);
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            assert!(
                size > MIN_SCREENSHOT_BYTES,
                "{} was not saved",
                path.display()
            );
        }
    }
}

/// `tests/browser`: the scripts, their npm packages and the screenshots.
fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Chromium's path; fails, saying what to install, unless Chromium, Node and
/// playwright-core are there.
fn require_browser() -> PathBuf {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.is_file(),
        "{} is missing: run `scripts/setup --browser` to install Chromium for the browser test",
        chromium.display()
    );
    let playwright = browser_dir().join("node_modules/playwright-core");
    assert!(
        playwright.is_dir(),
        "{} is missing: run `scripts/setup --browser` to install the browser test's npm packages",
        playwright.display()
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "`node` does not run: run `scripts/setup --browser` to install Node.js"
    );
    chromium
}

/// What a finished walk printed.
struct WalkOutput {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `command` to its end, killing it after [`WALK_TIMEOUT`]. Its output goes to
/// files, so a chatty failure never blocks on a full pipe.
fn run_to_completion(mut command: Command) -> WalkOutput {
    let out_dir = tempfile::tempdir().expect("a temporary directory");
    let (out_path, err_path) = (out_dir.path().join("stdout"), out_dir.path().join("stderr"));
    let file = |p: &Path| std::fs::File::create(p).expect("an output file");
    let mut child = command
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
    WalkOutput {
        status,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}
