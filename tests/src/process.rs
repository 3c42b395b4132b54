//! Child processes of the `portcullis` binary: finding it, starting it with a clean
//! environment, waiting for its port, and killing it on drop.

use std::fs::File;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a process may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The `portcullis` binary under test: `$CARGO_TARGET_DIR/debug/portcullis`, or
/// `<workspace>/target/debug/portcullis`. Panics, saying how to build it, when absent.
pub fn binary() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
    };
    let bin = target.join("debug").join("portcullis");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p portcullis` before `cargo test`",
        bin.display()
    );
    bin
}

/// A loopback port that was free a moment ago. Pingora cannot report the port it
/// bound, so the port is chosen here and handed over; another process could take it
/// in between, which is rare enough on a test machine.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("a loopback port is free");
    l.local_addr()
        .expect("a bound socket has an address")
        .port()
}

/// A loopback address where nothing listens (for "upstream down").
pub fn unused_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// A `portcullis` command with an environment that cannot change its settings:
/// `PORTCULLIS_*` overrides of the caller are removed (except the log filter).
pub(crate) fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(binary());
    cmd.args(args);
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("PORTCULLIS_") && key != "PORTCULLIS_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// A running `portcullis` process, killed when dropped. Its output goes to a log
/// file, so a chatty process never blocks on a full pipe.
pub(crate) struct Child {
    child: std::process::Child,
    log: PathBuf,
    what: String,
}

impl Child {
    /// Starts `portcullis ARGS` with stdout and stderr appended to `log`.
    pub(crate) fn spawn(what: &str, args: &[&str], log: &Path) -> Child {
        let out = File::create(log).expect("the log file can be created");
        let err = out.try_clone().expect("the log file handle can be cloned");
        let child = command(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Child {
            child,
            log: log.to_path_buf(),
            what: what.to_owned(),
        }
    }

    /// Waits until `addr` accepts connections, or the process exits (its status).
    /// Panics after [`START_TIMEOUT`].
    pub(crate) fn wait_for_port(&mut self, addr: SocketAddr) -> Result<(), ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be polled") {
                return Err(status);
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "{} did not listen on {addr} within {START_TIMEOUT:?}; its log:\n{}",
                self.what,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the process has written so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The file the process writes its output to.
    pub(crate) fn log_path(&self) -> &Path {
        &self.log
    }

    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends a Unix signal by name (`TERM`, `HUP`, …).
    pub(crate) fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -s {name} failed");
    }

    /// Waits up to `limit` for the process to exit.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("----- log of {} -----\n{}", self.what, self.log());
        }
    }
}

/// What a finished CLI command printed, and how it ended.
#[derive(Debug)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// Panics with the command's output unless it succeeded.
    pub fn assert_success(&self) -> &CliOutput {
        assert!(self.status.success(), "command failed: {self:#?}");
        self
    }
}

/// Runs `portcullis ARGS` to completion, with `stdin` written to its standard input.
pub fn portcullis(args: &[&str], stdin: Option<&str>) -> CliOutput {
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run portcullis {args:?}: {e}"));
    let mut input = child.stdin.take().expect("stdin is piped");
    if let Some(text) = stdin {
        input
            .write_all(text.as_bytes())
            .expect("the command reads its standard input");
    }
    drop(input);
    let out = child
        .wait_with_output()
        .expect("the command's output can be read");
    CliOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
