//! An HTTP/1.1 server on loopback that records every request and answers with a
//! status and body the test chooses: the stand-in for the Twilio API and for an
//! SMS webhook.
//!
//! It reads bodies sent with `Content-Length` or chunked, keeps connections alive
//! and runs on a thread of its own, stopping when its handle is dropped.

use crate::server::{lock, LoopbackServer};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The Twilio account the tests configure: its SID, auth token and sender number.
pub const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TWILIO_TOKEN: &str = "twilio-token-93be51";
pub const TWILIO_SENDER: &str = "+15550100000";

/// The largest request head or body read; a bigger one ends the connection.
const MAX_SIZE: usize = 1024 * 1024;

/// One request as the stub received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target: path and query, as sent.
    pub target: String,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as `application/x-www-form-urlencoded` fields, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    /// The one value of form field `name`; panics when it is missing or repeated.
    pub fn form_value(&self, name: &str) -> String {
        let values: Vec<String> = self
            .form()
            .into_iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect();
        match values.as_slice() {
            [one] => one.clone(),
            _ => panic!(
                "form field {name} occurs {} times in {:?}",
                values.len(),
                self.body_text()
            ),
        }
    }

    /// The body as JSON; panics when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body_text()))
    }
}

/// What the stub answers.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    answer: Mutex<Option<Answer>>,
}

/// A running HTTP stub on 127.0.0.1.
pub struct HttpStub {
    server: LoopbackServer,
    shared: Arc<Shared>,
}

impl HttpStub {
    /// Starts a stub answering `200` with `{}`.
    pub fn start() -> HttpStub {
        let stub = HttpStub::spawn();
        stub.answer(200, "application/json", "{}");
        stub
    }

    /// Starts a stub answering `status` with a JSON `body`.
    pub fn answering(status: u16, body: &str) -> HttpStub {
        let stub = HttpStub::spawn();
        stub.answer(status, "application/json", body);
        stub
    }

    fn spawn() -> HttpStub {
        let shared = Arc::new(Shared::default());
        let serving = shared.clone();
        let server = LoopbackServer::start("http-stub", move |stream| {
            let shared = serving.clone();
            async move {
                // A client that goes away mid-request is no concern of the test.
                let _ = connection(stream, shared).await;
            }
        });
        HttpStub { server, shared }
    }

    /// From now on, answers `status` with `body` of `content_type`.
    pub fn answer(&self, status: u16, content_type: &str, body: &str) {
        *lock(&self.shared.answer) = Some(Answer {
            status,
            content_type: content_type.to_owned(),
            body: body.to_owned(),
        });
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// The `[sms]` settings table for Twilio's API at this stub, with the account
    /// [`TWILIO_SID`], [`TWILIO_TOKEN`] and [`TWILIO_SENDER`].
    pub fn twilio_sms(&self) -> String {
        format!(
            "[sms]\nprovider = \"twilio\"\ntwilio_account_sid = \"{TWILIO_SID}\"\n\
             twilio_auth_token = \"{TWILIO_TOKEN}\"\ntwilio_sender_number = \"{TWILIO_SENDER}\"\n\
             twilio_api_base = \"{}\"\ntimeout = \"3s\"\n",
            self.url("")
        )
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Waits up to `timeout` until more than `seen` requests have come, and returns
    /// request number `seen` (counting from zero).
    pub async fn request_after(&self, seen: usize, timeout: Duration) -> Option<RecordedRequest> {
        let started = Instant::now();
        loop {
            if let Some(r) = lock(&self.shared.requests).get(seen) {
                return Some(r.clone());
            }
            if started.elapsed() >= timeout {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Serves requests on one connection until the client closes it.
async fn connection(stream: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    while let Some(request) = read_request(&mut stream).await? {
        lock(&shared.requests).push(request);
        let answer = lock(&shared.answer).clone().unwrap_or(Answer {
            status: 200,
            content_type: "application/json".into(),
            body: "{}".into(),
        });
        let head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\n\r\n",
            answer.status,
            reason(answer.status),
            answer.content_type,
            answer.body.len()
        );
        let out = stream.get_mut();
        out.write_all(head.as_bytes()).await?;
        out.write_all(answer.body.as_bytes()).await?;
        out.flush().await?;
    }
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// One line without CRLF; `None` at a clean end of stream.
async fn read_line(stream: &mut BufReader<TcpStream>) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = (&mut *stream)
        .take(MAX_SIZE as u64)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if !buf.ends_with(b"\n") {
        return Err(invalid("line too long or cut off"));
    }
    let line = String::from_utf8_lossy(&buf);
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

/// Reads one request; `None` when the client closed the connection between requests.
async fn read_request(
    stream: &mut BufReader<TcpStream>,
) -> std::io::Result<Option<RecordedRequest>> {
    let Some(start) = read_line(stream).await? else {
        return Ok(None);
    };
    let mut parts = start.split(' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(invalid("bad request line"));
    };
    let (method, target) = (method.to_owned(), target.to_owned());

    let mut headers = Vec::new();
    loop {
        let line = read_line(stream).await?.ok_or_else(|| invalid("cut off"))?;
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').ok_or_else(|| invalid("bad header"))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let value = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };

    let body = if value("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(stream).await?
    } else {
        let length: usize = value("content-length")
            .map(|v| v.parse().map_err(|_| invalid("bad content-length")))
            .transpose()?
            .unwrap_or(0);
        if length > MAX_SIZE {
            return Err(invalid("body too large"));
        }
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await?;
        body
    };
    Ok(Some(RecordedRequest {
        method,
        target,
        headers,
        body,
    }))
}

async fn read_chunked(stream: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let size_line = read_line(stream).await?.ok_or_else(|| invalid("cut off"))?;
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while read_line(stream)
                .await?
                .is_some_and(|line| !line.is_empty())
            {}
            return Ok(body);
        }
        if body.len() + size > MAX_SIZE {
            return Err(invalid("body too large"));
        }
        let mut chunk = vec![0; size + 2];
        stream.read_exact(&mut chunk).await?;
        chunk.truncate(size);
        body.extend_from_slice(&chunk);
    }
}
