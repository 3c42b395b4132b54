//! Log set-up: human-readable or JSON lines through `tracing`.
//!
//! Targets with fixed meanings: `portcullis::access` (one line per request),
//! `portcullis::audit` (sign-in results). The level comes from `PORTCULLIS_LOG`
//! (an env-filter expression, default `info`). No secret is ever logged, except
//! codes and links in the `log` delivery modes, which exist for development.
//!
//! The server writes through a background thread, so a request never waits on
//! stderr; commands that exit soon after logging write directly, so no line is
//! lost at exit.

use crate::config::LogFormat;
use std::sync::Mutex;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Keeps the writer thread alive until [`flush`].
static WRITER: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// Logging for short commands: written at once.
pub fn init(format: LogFormat) {
    install(format, None);
}

/// Logging for the long-running server: handed to a writer thread. The queue
/// blocks rather than drops when full, so no access or audit line is lost.
pub fn init_server(format: LogFormat) {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let mut slot = WRITER.lock().unwrap_or_else(|e| e.into_inner());
    if slot.is_none() {
        *slot = Some(guard);
        install(format, Some(writer));
    }
}

/// Writes out what the writer thread still holds; call before exiting.
pub fn flush() {
    let guard = WRITER.lock().unwrap_or_else(|e| e.into_inner()).take();
    drop(guard);
}

fn install(format: LogFormat, writer: Option<tracing_appender::non_blocking::NonBlocking>) {
    let filter = EnvFilter::try_from_env("PORTCULLIS_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,pingora_core=warn,pingora_proxy=warn,sqlx=warn"));
    // Colour codes only for a person at a terminal, never into files or journald.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    let _ = match (format, writer) {
        (LogFormat::Human, Some(w)) => builder.with_writer(w).try_init(),
        (LogFormat::Json, Some(w)) => builder.json().flatten_event(true).with_writer(w).try_init(),
        (LogFormat::Human, None) => builder.with_writer(std::io::stderr).try_init(),
        (LogFormat::Json, None) => builder
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .try_init(),
    };
}
