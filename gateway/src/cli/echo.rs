//! A small upstream application that answers with what it received: method,
//! path, query and headers (identity headers included). The demo puts it behind
//! the gateway, and the tests and benchmark use it as a real upstream.

use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use pingora::services::listening::Service;
use serde_json::json;

pub struct Echo {
    /// Names this upstream in its answers, to tell several apart.
    pub name: String,
}

#[async_trait]
impl ServeHttp for Echo {
    async fn response(&self, s: &mut ServerSession) -> http::Response<Vec<u8>> {
        // Drain any body so the connection stays reusable; count its bytes.
        let mut body_len = 0usize;
        while let Ok(Some(chunk)) = s.read_request_body().await {
            body_len += chunk.len();
        }
        // Tests of draining and latency ask for a slow answer.
        let delay = s
            .req_header()
            .headers
            .get("x-echo-delay-ms")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(|ms| ms.min(30_000));
        if let Some(ms) = delay {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        let req = s.req_header();
        let headers: serde_json::Map<String, serde_json::Value> = req
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    json!(String::from_utf8_lossy(v.as_bytes())),
                )
            })
            .fold(serde_json::Map::new(), |mut m, (k, v)| {
                // Repeated headers are listed together.
                match m.get_mut(&k) {
                    Some(serde_json::Value::Array(a)) => a.push(v),
                    Some(prev) => *prev = json!([prev.clone(), v]),
                    None => {
                        m.insert(k, v);
                    }
                }
                m
            });
        let wants_html = req
            .headers
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
        let doc = json!({
            "upstream": self.name,
            "method": req.method.as_str(),
            "path": req.uri.path(),
            "query": req.uri.query(),
            "headers": headers,
            "body_bytes": body_len,
        });
        let (content_type, body) = if wants_html {
            ("text/html; charset=utf-8", page(&doc).into_bytes())
        } else {
            ("application/json", doc.to_string().into_bytes())
        };
        // Tests of response filtering ask for cookies to be set.
        let mut response = http::Response::builder();
        for v in req.headers.get_all("x-echo-set-cookie") {
            response = response.header("set-cookie", v.clone());
        }
        response
            .status(200)
            .header("content-type", content_type)
            .header("content-length", body.len())
            .body(body)
            .expect("a response from fixed parts is valid")
    }
}

/// A readable page for a person browsing the demo.
fn page(doc: &serde_json::Value) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let headers = doc["headers"].as_object().cloned().unwrap_or_default();
    let signed_in = headers.get("x-auth-user").and_then(|v| v.as_str());
    let user = signed_in.unwrap_or("there");
    let (explain, action) = match signed_in {
        Some(_) => (
            "The highlighted <code>x-auth-*</code> headers were set by the gateway; \
             a client cannot forge them.",
            "<a href=\"/.portcullis/account\">Your account</a> \
             <a href=\"/.portcullis/logout\">Sign out</a>",
        ),
        None => (
            "This route needs no sign-in, so the gateway sent no <code>x-auth-*</code> \
             headers (and removed any a client sent).",
            "<a href=\"/.portcullis/login\">Sign in</a>",
        ),
    };
    let mut rows = String::new();
    for (k, v) in &headers {
        let v = v
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string());
        let class = if k.starts_with("x-auth-") {
            " class=\"id\""
        } else {
            ""
        };
        rows.push_str(&format!(
            "<tr{class}><th>{}</th><td>{}</td></tr>\n",
            esc(k),
            esc(&v)
        ));
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Echo upstream</title><style>{STYLE}</style></head>\
         <body><main><p class=\"eyebrow\">Upstream application</p>\
         <h1>Hello, {user}</h1><p>This page is the demo's upstream app. It shows the request \
         it received from Portcullis: <code>{method} {path}</code>. {explain}</p>\
         <table><thead><tr><th scope=\"col\">Header</th><th scope=\"col\">Value</th></tr></thead>\
         <tbody>{rows}</tbody></table>\
         <p class=\"actions\">{action}</p></main></body></html>",
        user = esc(user),
        method = esc(doc["method"].as_str().unwrap_or("")),
        path = esc(doc["path"].as_str().unwrap_or("")),
    )
}

const STYLE: &str = "body{margin:0;background:#f3f4f6;color:#111827;font:16px/1.5 system-ui,sans-serif}\
main{max-width:860px;margin:2rem auto;background:#fff;border-radius:12px;padding:2rem;\
box-shadow:0 1px 3px rgba(0,0,0,.1)}.eyebrow{text-transform:uppercase;letter-spacing:.08em;\
font-size:.75rem;color:#4b5563;margin:0}h1{margin:.25rem 0 1rem}table{width:100%;border-collapse:collapse;\
font-size:.9rem}th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #e5e7eb;\
vertical-align:top}td{word-break:break-all;font-family:ui-monospace,monospace}tr.id{background:#eff6ff}\
tr.id th{color:#1d4ed8}.actions a{display:inline-block;margin-top:1.5rem;background:#2563eb;color:#fff;\
padding:.6rem 1.2rem;border-radius:8px;text-decoration:none;font-weight:600;margin-right:.5rem}";

/// The echo app as a Pingora service listening on `addr`.
pub fn service(name: &str, addr: &str) -> Service<Echo> {
    let mut s = Service::new(
        format!("echo {name}"),
        Echo {
            name: name.to_owned(),
        },
    );
    s.add_tcp(addr);
    s
}
