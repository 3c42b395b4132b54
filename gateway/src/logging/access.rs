//! The access line: one per request, on the `portcullis::access` target.
//!
//! It is written here rather than through `tracing`'s formatter, which cost
//! about 15,000 instructions per request (callgrind) against 97,000 for all of
//! bare Pingora's forwarding. The line is the same, byte for byte, in both
//! formats, and `PORTCULLIS_LOG` still decides whether it is written. At a
//! terminal, where tracing adds colours, tracing still writes it.

use super::Batch;
use crate::config::LogFormat;
use std::cell::RefCell;
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::SystemTime;

/// The target of access lines, for `PORTCULLIS_LOG` filters.
pub const TARGET: &str = "portcullis::access";

/// What an access line says about one request.
pub struct AccessLine<'a> {
    /// The tenant's name, `-` when the host matched none.
    pub tenant: &'a str,
    /// The route's prefix, or `portcullis` for the gateway's own pages.
    pub route: &'a str,
    pub method: &'a str,
    /// The status sent, 0 when none was.
    pub status: u16,
    /// The signed-in user, `-` for none.
    pub user: &'a str,
    pub duration_ms: f64,
    pub client: Option<IpAddr>,
    /// Pingora's error kind when the request failed.
    pub error: Option<&'a str>,
}

/// Where access lines go, set with the `tracing` subscriber.
struct Sink {
    format: LogFormat,
    batch: Option<Batch>,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sends access lines to `batch` (or straight to stderr) in `format`.
pub(super) fn install(format: LogFormat, batch: Option<Batch>) {
    let _ = SINK.set(Sink { format, batch });
}

/// Writes the access line for one request, unless `PORTCULLIS_LOG` turns it off.
pub fn access(line: &AccessLine<'_>) {
    if !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        return;
    }
    let Some(sink) = SINK.get() else {
        // Colours for a terminal, or logging set up elsewhere: let tracing write it.
        through_tracing(line);
        return;
    };
    thread_local! {
        static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(256));
    }
    LINE.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        let now = SystemTime::now();
        // Writing into a Vec cannot fail.
        let _ = match sink.format {
            LogFormat::Human => human(&mut buf, line, now),
            LogFormat::Json => json(&mut buf, line, now),
        };
        let _ = match &sink.batch {
            Some(batch) => (&*batch).write_all(&buf),
            None => io::stderr().write_all(&buf),
        };
    });
}

/// The access line as a `tracing` event, formatted by the subscriber.
fn through_tracing(l: &AccessLine<'_>) {
    tracing::info!(
        target: TARGET,
        tenant = l.tenant,
        route = l.route,
        method = l.method,
        status = l.status,
        user = l.user,
        duration_ms = l.duration_ms,
        client = %l.client.map(|c| c.to_string()).unwrap_or_default(),
        error = l.error,
    );
}

/// `tracing`'s human format: `<time>  INFO portcullis::access: tenant="acme" …`.
fn human(out: &mut Vec<u8>, l: &AccessLine<'_>, now: SystemTime) -> io::Result<()> {
    write!(
        out,
        "{}  INFO {TARGET}: tenant={:?} route={:?} method={:?} status={} user={:?} duration_ms={:?} client=",
        humantime::format_rfc3339_micros(now),
        l.tenant,
        l.route,
        l.method,
        l.status,
        l.user,
        l.duration_ms,
    )?;
    if let Some(client) = l.client {
        write!(out, "{client}")?;
    }
    if let Some(error) = l.error {
        write!(out, " error={error:?}")?;
    }
    out.push(b'\n');
    Ok(())
}

/// `tracing`'s flattened JSON format, with the same keys in the same order.
fn json(out: &mut Vec<u8>, l: &AccessLine<'_>, now: SystemTime) -> io::Result<()> {
    write!(
        out,
        "{{\"timestamp\":\"{}\",\"level\":\"INFO\"",
        humantime::format_rfc3339_micros(now)
    )?;
    let strings = [
        ("tenant", l.tenant),
        ("route", l.route),
        ("method", l.method),
    ];
    for (key, value) in strings {
        write!(out, ",\"{key}\":")?;
        serde_json::to_writer(&mut *out, value)?;
    }
    write!(out, ",\"status\":{},\"user\":", l.status)?;
    serde_json::to_writer(&mut *out, l.user)?;
    out.extend_from_slice(b",\"duration_ms\":");
    serde_json::to_writer(&mut *out, &l.duration_ms)?;
    out.extend_from_slice(b",\"client\":\"");
    if let Some(client) = l.client {
        write!(out, "{client}")?;
    }
    out.push(b'"');
    if let Some(error) = l.error {
        out.extend_from_slice(b",\"error\":");
        serde_json::to_writer(&mut *out, error)?;
    }
    writeln!(out, ",\"target\":\"{TARGET}\"}}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, UNIX_EPOCH};
    use tracing_subscriber::fmt::MakeWriter;

    /// Captures what a `tracing` subscriber writes.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    fn lines() -> Vec<AccessLine<'static>> {
        vec![
            AccessLine {
                tenant: "acme",
                route: "/",
                method: "GET",
                status: 200,
                user: "alice",
                duration_ms: 1.234,
                client: Some("127.0.0.1".parse().unwrap()),
                error: None,
            },
            AccessLine {
                tenant: "-",
                route: "portcullis",
                method: "POST",
                status: 0,
                user: "\"quoted\" \\ name\tü\u{1}",
                duration_ms: 20.0,
                client: Some("2001:db8::1".parse().unwrap()),
                error: Some("ConnectionClosed"),
            },
            AccessLine {
                tenant: "t",
                route: "/x",
                method: "PUT",
                status: 502,
                user: "-",
                duration_ms: 0.001,
                client: None,
                error: None,
            },
        ]
    }

    /// What `tracing`'s own formatter writes for the same line, without the time.
    fn from_tracing(format: LogFormat, l: &AccessLine<'_>) -> String {
        let capture = Capture::default();
        let builder = tracing_subscriber::fmt().with_ansi(false).without_time();
        let dispatch = match format {
            LogFormat::Human => {
                tracing::Dispatch::new(builder.with_writer(capture.clone()).finish())
            }
            LogFormat::Json => tracing::Dispatch::new(
                builder
                    .json()
                    .flatten_event(true)
                    .with_writer(capture.clone())
                    .finish(),
            ),
        };
        tracing::dispatcher::with_default(&dispatch, || through_tracing(l));
        let out = capture.0.lock().unwrap().clone();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_human_line_is_the_one_tracing_writes() {
        let at = UNIX_EPOCH + Duration::from_micros(1_764_851_234_567_890);
        for l in lines() {
            let mut ours = Vec::new();
            human(&mut ours, &l, at).unwrap();
            let ours = String::from_utf8(ours).unwrap();
            let time = "2025-12-04T12:27:14.567890Z";
            assert_eq!(
                ours,
                format!("{time} {}", from_tracing(LogFormat::Human, &l))
            );
        }
    }

    #[test]
    fn the_json_line_is_the_one_tracing_writes() {
        let at = UNIX_EPOCH + Duration::from_micros(1_764_851_234_567_890);
        for l in lines() {
            let mut ours = Vec::new();
            json(&mut ours, &l, at).unwrap();
            let ours = String::from_utf8(ours).unwrap();
            let theirs = from_tracing(LogFormat::Json, &l);
            let time = "{\"timestamp\":\"2025-12-04T12:27:14.567890Z\",";
            assert_eq!(ours, theirs.replacen('{', time, 1));
            let parsed: serde_json::Value = serde_json::from_str(&ours).unwrap();
            assert_eq!(parsed["user"], l.user);
        }
    }
}
