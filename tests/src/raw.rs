//! Requests written byte for byte, for what an HTTP client would tidy up: encoded
//! dot segments it would resolve, header names in exact spellings, repeated headers,
//! bytes that are not UTF-8. [`RawConnection`] sends several requests on one
//! connection, to see what the server does with it between them.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An HTTP/1.1 request as written on the wire; `Connection: close` is added last
/// unless [`RawRequest::keep_alive`] is called.
#[derive(Debug, Clone)]
pub struct RawRequest {
    method: String,
    target: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    keep_alive: bool,
}

impl RawRequest {
    /// `METHOD TARGET HTTP/1.1` with a `Host` header.
    pub fn new(method: &str, host: &str, target: impl Into<Vec<u8>>) -> RawRequest {
        RawRequest {
            method: method.to_owned(),
            target: target.into(),
            headers: vec![("Host".to_owned(), host.as_bytes().to_vec())],
            body: Vec::new(),
            keep_alive: false,
        }
    }

    pub fn get(host: &str, target: impl Into<Vec<u8>>) -> RawRequest {
        RawRequest::new("GET", host, target)
    }

    /// A request with no `Host` header at all.
    pub fn without_host(method: &str, target: impl Into<Vec<u8>>) -> RawRequest {
        RawRequest {
            method: method.to_owned(),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
            keep_alive: false,
        }
    }

    /// Adds a header with this exact name; repeated names are sent repeatedly.
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> RawRequest {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// A body, with its `Content-Length`.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> RawRequest {
        self.body = body.into();
        let len = self.body.len().to_string();
        self.header("Content-Length", len)
    }

    /// Leaves out `Connection: close`, for use on a [`RawConnection`].
    pub fn keep_alive(mut self) -> RawRequest {
        self.keep_alive = true;
        self
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.target);
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if !self.keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// A response read to the end of the connection.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// Names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.text()))
    }
}

/// Sends `request` to `addr` and reads the response until the server closes.
pub(crate) async fn send(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(request).await?;
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .expect("the server answers and closes within 30 s")
        .unwrap_or_else(|e| panic!("raw request to {addr} failed: {e}"));
    parse(&buf)
}

/// One connection for several requests in turn.
pub struct RawConnection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConnection {
    pub(crate) async fn open(addr: SocketAddr) -> RawConnection {
        let stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
        RawConnection {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends `request` and reads one response, delimited by `Content-Length` (a
    /// response without one is read to the end of the connection). An `Err` means the
    /// server closed or reset the connection instead of answering.
    pub async fn exchange(&mut self, request: &RawRequest) -> std::io::Result<RawResponse> {
        let step = async {
            self.stream.write_all(&request.to_bytes()).await?;
            loop {
                if let Some(len) = complete_response_len(&self.buf) {
                    let rest = self.buf.split_off(len);
                    let whole = std::mem::replace(&mut self.buf, rest);
                    return Ok(parse(&whole));
                }
                let mut chunk = [0u8; 8192];
                let n = self.stream.read(&mut chunk).await?;
                if n == 0 {
                    if self.buf.is_empty() {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    let whole = std::mem::take(&mut self.buf);
                    return Ok(parse(&whole));
                }
                self.buf.extend_from_slice(&chunk[..n]);
            }
        };
        tokio::time::timeout(Duration::from_secs(30), step)
            .await
            .expect("the server answers within 30 s")
    }
}

/// The length of the first response in `buf` when it is complete and delimited by
/// `Content-Length`.
fn complete_response_len(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let len: usize = head.split("\r\n").find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())
            .flatten()
    })?;
    (buf.len() >= head_end + len).then_some(head_end + len)
}

fn parse(buf: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(buf);
    let Some(split) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        panic!("no complete response head in {text:?}");
    };
    let head = String::from_utf8_lossy(&buf[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let raw_body = &buf[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(raw_body)
    } else {
        raw_body.to_vec()
    };
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut buf: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&buf[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return out;
        };
        if size == 0 || buf.len() < eol + 2 + size {
            return out;
        }
        out.extend_from_slice(&buf[eol + 2..eol + 2 + size]);
        buf = &buf[(eol + 4 + size).min(buf.len())..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_parsed_and_dechunked() {
        let r = parse(
            concat!(
                "HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
            )
            .as_bytes(),
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-a"), Some("1"));
        assert_eq!(r.body, b"abcde");
    }

    #[test]
    fn requests_keep_header_spellings_and_order() {
        let r = RawRequest::get("a.test", "/%2e%2e/x").header("X_Auth_User", "m");
        assert_eq!(
            r.to_bytes(),
            b"GET /%2e%2e/x HTTP/1.1\r\nHost: a.test\r\nX_Auth_User: m\r\nConnection: close\r\n\r\n"
        );
    }
}
