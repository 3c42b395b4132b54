//! Log set-up: human-readable or JSON lines through `tracing`.
//!
//! Targets with fixed meanings: `portcullis::access` (one line per request),
//! `portcullis::audit` (sign-in results). The level comes from `PORTCULLIS_LOG`
//! (an env-filter expression, default `info`). No secret is ever logged, except
//! codes and links in the `log` delivery modes, which exist for development.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("PORTCULLIS_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,pingora_core=warn,pingora_proxy=warn,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
