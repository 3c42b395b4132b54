//! Log set-up: human-readable or JSON lines through `tracing`.
//!
//! Targets with fixed meanings: `portcullis::access` (one line per request),
//! `portcullis::audit` (sign-in results). The level comes from `PORTCULLIS_LOG`
//! (an env-filter expression, default `info`). No secret is ever logged, except
//! codes and links in the `log` delivery modes, which exist for development.
//!
//! The server writes through a [`Batch`]: a request never waits on stderr and
//! never wakes another thread; commands that exit soon after logging write
//! directly, so no line is lost at exit.

mod access;
mod batch;

pub use access::{access, AccessLine};
pub use batch::{Batch, Guard};

use crate::config::LogFormat;
use std::io;
use std::sync::Mutex;
use tracing_subscriber::EnvFilter;

/// Keeps the writer thread alive until [`flush`].
static WRITER: Mutex<Option<Guard>> = Mutex::new(None);

/// Logging for short commands: written at once.
pub fn init(format: LogFormat) {
    install(format, None);
}

/// Logging for the long-running server: lines are gathered and written by a
/// background thread. When that thread falls behind, a request blocks rather than
/// drops its line, so no access or audit line is lost.
pub fn init_server(format: LogFormat) {
    let mut slot = WRITER.lock().unwrap_or_else(|e| e.into_inner());
    if slot.is_some() {
        return;
    }
    match Batch::start(io::stderr()) {
        Ok((batch, guard)) => {
            *slot = Some(guard);
            install(format, Some(batch));
        }
        // Without the thread, write directly: slower, but nothing is lost.
        Err(_) => install(format, None),
    }
}

/// Writes out what the writer thread still holds; call before exiting.
pub fn flush() {
    let guard = WRITER.lock().unwrap_or_else(|e| e.into_inner()).take();
    drop(guard);
}

fn install(format: LogFormat, writer: Option<Batch>) {
    let filter = EnvFilter::try_from_env("PORTCULLIS_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,pingora_core=warn,pingora_proxy=warn,sqlx=warn"));
    // Colour codes only for a person at a terminal, never into files or journald.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    let installed = match (format, writer.clone()) {
        (LogFormat::Human, Some(w)) => builder.with_writer(w).try_init(),
        (LogFormat::Json, Some(w)) => builder.json().flatten_event(true).with_writer(w).try_init(),
        (LogFormat::Human, None) => builder.with_writer(std::io::stderr).try_init(),
        (LogFormat::Json, None) => builder
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .try_init(),
    };
    // Access lines go where the subscriber writes, unless another one was there first.
    // At a terminal they keep tracing's colours, and its formatter: speed matters
    // there less than a log that reads alike.
    if installed.is_ok() && !ansi {
        access::install(format, writer);
    }
}
