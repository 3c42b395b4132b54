//! The Pingora hooks. Thin by design: each phase gathers what it needs from the
//! request, asks the domain (tenancy, auth, pages), and writes the answer.
//!
//! Fail closed: a request reaches an upstream only from `request_filter`
//! returning `Ok(false)` after a route said `bypass` or a live, fully signed-in
//! session of this tenant was found. Every other path (unknown host, bad path,
//! store error, malformed cookie, a panic that ends the task) answers or drops
//! the connection without forwarding.

mod forward;
mod respond;

use crate::app::App;
use crate::auth::session::{Session as UserSession, Stage};
use crate::logging::AccessLine;
use crate::pages::{self, cookies, Form, Method, Reply, Request, MAX_FORM_BYTES, OWN_PREFIX};
use crate::tenancy::{normalise_host, NormalPath, RoutePolicy, Tenant, Upstream};
use async_trait::async_trait;
use bytes::BytesMut;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// The gateway as a Pingora proxy application.
pub struct Gateway {
    pub app: Arc<App>,
}

/// Per-request state, filled by `request_filter`.
pub struct Ctx {
    started: Instant,
    tenant: Option<Arc<Tenant>>,
    /// The route's prefix, for the access line (`-` for own pages).
    route: &'static str,
    route_prefix: Option<String>,
    upstream: Option<Upstream>,
    /// Normalised path plus the original query, as sent upstream.
    upstream_target: String,
    host: String,
    peer: Option<IpAddr>,
    client: Option<IpAddr>,
    trusted_peer: bool,
    secure: bool,
    user: Option<Arc<UserSession>>,
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx {
            started: Instant::now(),
            tenant: None,
            route: "-",
            route_prefix: None,
            upstream: None,
            upstream_target: String::new(),
            host: String::new(),
            peer: None,
            client: None,
            trusted_peer: false,
            secure: false,
            user: None,
        }
    }

    /// Runs first for every request; decides whether it is answered here (`Ok(true)`)
    /// or forwarded (`Ok(false)`, with `ctx.upstream` set).
    async fn request_filter(&self, s: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        let config = self.app.config();

        // Who is asking, and over what.
        ctx.peer = s.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip());
        let xff = forward::joined(s.req_header(), "x-forwarded-for");
        (ctx.client, ctx.trusted_peer) = forward::client_ip(ctx.peer, xff.as_deref(), &config);
        let tls = s.digest().is_some_and(|d| d.ssl_digest.is_some());
        // With several lines, the last was written by the nearest (trusted) proxy.
        let proto_https = forward::joined(s.req_header(), "x-forwarded-proto").is_some_and(|p| {
            p.rsplit(',')
                .next()
                .is_some_and(|l| l.trim().eq_ignore_ascii_case("https"))
        });
        ctx.secure = tls || (ctx.trusted_peer && proto_https);

        // Tenant, from the authority (HTTP/2) or the Host header.
        let raw_host = s
            .req_header()
            .uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .or_else(|| header_str(s, "host"));
        let Some(host) = raw_host.as_deref().and_then(normalise_host) else {
            return self.answer(s, ctx, unknown_host(&self.app)).await;
        };
        let Some(tenant) = config.tenants.by_host(&host).cloned() else {
            // The 421 page needs its stylesheet, which is the same for every host.
            if s.req_header().uri.path() == pages::STYLESHEET_PATH {
                let css = Reply::asset("text/css; charset=utf-8", portcullis_pages::STYLESHEET);
                return self.answer(s, ctx, css).await;
            }
            return self.answer(s, ctx, unknown_host(&self.app)).await;
        };
        ctx.host = raw_host.unwrap_or_default();
        ctx.tenant = Some(tenant.clone());

        // Path: normalised, or refused. Only origin form (`/path`) and absolute form
        // (`http://host/path`) name a path; Pingora reads a target such as `foo:/admin`
        // as `/` but would send its bytes upstream, so every other form is refused here
        // rather than routed as something it is not.
        let head = s.req_header();
        let path = names_its_path(head).then(|| NormalPath::parse(head.uri.path()).ok());
        let Some(path) = path.flatten() else {
            let reply = pages::error_page(
                &self.app,
                Some(&tenant),
                400,
                "Bad request",
                "This address is not valid.",
            );
            return self.answer(s, ctx, reply).await;
        };
        let query = s.req_header().uri.query().map(str::to_owned);

        // The gateway's own pages are never forwarded.
        if path.as_str().starts_with(OWN_PREFIX) || path.as_str() == "/.portcullis" {
            ctx.route = "portcullis";
            return self.own_page(s, ctx, tenant, &path, query.as_deref()).await;
        }

        // Route and policy.
        let Some(route) = tenant.route(&path) else {
            let reply = pages::error_page(
                &self.app,
                Some(&tenant),
                404,
                "Page not found",
                "There is nothing here.",
            );
            return self.answer(s, ctx, reply).await;
        };
        ctx.route_prefix = Some(route.prefix.clone());
        ctx.upstream_target = match &query {
            Some(q) => format!("{}?{q}", path.as_str()),
            None => path.as_str().to_owned(),
        };
        match route.policy {
            RoutePolicy::Deny => {
                let reply = pages::error_page(
                    &self.app,
                    Some(&tenant),
                    403,
                    "Access denied",
                    "This address is not available.",
                );
                return self.answer(s, ctx, reply).await;
            }
            RoutePolicy::Bypass => {}
            RoutePolicy::Login => {
                let jar =
                    cookies::Jar::parse(cookie_headers(s).iter().map(String::as_str), ctx.secure);
                let session = match jar.get(cookies::SESSION) {
                    Some(v) => self.app.accounts.session(&tenant, v).await,
                    None => Ok(None),
                };
                match session {
                    Ok(Some(user)) if user.stage == Stage::SignedIn => ctx.user = Some(user),
                    Ok(_) => {
                        let reply = sign_in_required(s, &ctx.upstream_target);
                        return self.answer(s, ctx, reply).await;
                    }
                    Err(e) => {
                        tracing::error!(tenant = %tenant.name, error = %e, "store unavailable; refusing a protected request");
                        let reply = pages::error_page(
                            &self.app,
                            Some(&tenant),
                            503,
                            "Temporarily unavailable",
                            "Sign-in cannot be checked right now. Please try again in a minute.",
                        );
                        return self.answer(s, ctx, reply).await;
                    }
                }
            }
        }

        // Forward.
        ctx.upstream = route.pick_upstream().cloned();
        if ctx.upstream.is_none() {
            let reply = pages::error_page(
                &self.app,
                Some(&tenant),
                502,
                "Bad gateway",
                "No application is configured here.",
            );
            return self.answer(s, ctx, reply).await;
        }
        if s.is_upgrade_req() {
            // A WebSocket may idle far longer than an HTTP request.
            s.set_read_timeout(None);
        }
        Ok(false)
    }

    async fn upstream_peer(&self, _s: &mut Session, ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        let Some(up) = &ctx.upstream else {
            return Err(Error::explain(
                ErrorType::InternalError,
                "no upstream chosen",
            ));
        };
        let mut peer = HttpPeer::new(up.addr, up.tls, up.sni.clone());
        peer.options.connection_timeout = Some(std::time::Duration::from_secs(5));
        peer.options.total_connection_timeout = Some(std::time::Duration::from_secs(10));
        peer.options.idle_timeout = Some(std::time::Duration::from_secs(60));
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _s: &mut Session,
        req: &mut RequestHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        let config = self.app.config();
        let tenant = ctx.tenant.as_ref().map(|t| t.name.as_str()).unwrap_or("");
        let user = ctx.user.as_deref().map(|u| (u, tenant));
        forward::prepare(
            req,
            &config,
            &ctx.upstream_target,
            ctx.peer,
            ctx.trusted_peer,
            ctx.secure,
            &ctx.host,
            user,
        )
    }

    /// Runs on every proxied response: an upstream may not set the gateway's own
    /// cookies (that would plant a session or CSRF value in the browser).
    async fn response_filter(
        &self,
        _s: &mut Session,
        resp: &mut ResponseHeader,
        _ctx: &mut Ctx,
    ) -> Result<()> {
        forward::strip_gateway_set_cookies(resp)
    }

    async fn fail_to_proxy(&self, s: &mut Session, e: &Error, ctx: &mut Ctx) -> FailToProxy {
        let code = match e.esource() {
            ErrorSource::Upstream => 502,
            ErrorSource::Downstream => match e.etype() {
                ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed => 0,
                _ => 400,
            },
            ErrorSource::Internal | ErrorSource::Unset => 500,
        };
        let code = match e.etype() {
            ErrorType::HTTPStatus(c) => *c,
            _ => code,
        };
        if code > 0 && s.response_written().is_none() {
            tracing::error!(
                tenant = ctx.tenant.as_ref().map(|t| t.name.as_str()).unwrap_or("-"),
                upstream = ?ctx.upstream.as_ref().map(|u| u.addr),
                error = %e,
                "request failed"
            );
            let (title, message) = match code {
                502 => (
                    "The application is not answering",
                    "Please try again in a moment.",
                ),
                400 => ("Bad request", "The request could not be read."),
                _ => ("Something went wrong", "Please try again in a moment."),
            };
            let reply = pages::error_page(&self.app, ctx.tenant.as_deref(), code, title, message);
            // The connection is not reused after a failed proxy: say so.
            s.set_keepalive(None);
            if let Err(e) = respond::send(s, reply).await {
                tracing::debug!(error = %e, "could not send the error page");
            }
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, s: &mut Session, e: Option<&Error>, ctx: &mut Ctx) {
        let status = s.response_written().map(|r| r.status.as_u16()).unwrap_or(0);
        let m = crate::metrics::global();
        m.request(ctx.tenant.as_ref().map(|t| &t.name), status);
        if ctx.upstream.is_some() {
            m.proxied(ctx.started.elapsed());
        }
        crate::logging::access(&AccessLine {
            tenant: ctx.tenant.as_ref().map(|t| t.name.as_str()).unwrap_or("-"),
            route: ctx.route_prefix.as_deref().unwrap_or(ctx.route),
            method: s.req_header().method.as_str(),
            status,
            user: ctx.user.as_ref().map(|u| &*u.username).unwrap_or("-"),
            // Microsecond precision, printed as the shortest decimal.
            duration_ms: (ctx.started.elapsed().as_micros() as f64) / 1000.0,
            client: ctx.client,
            error: e.map(|e| e.etype().as_str()),
        });
    }
}

impl Gateway {
    async fn answer(&self, s: &mut Session, _ctx: &mut Ctx, reply: Reply) -> Result<bool> {
        respond::send(s, reply).await?;
        Ok(true)
    }

    /// Serves a page under `/.portcullis/`, reading a form body first for POSTs.
    async fn own_page(
        &self,
        s: &mut Session,
        ctx: &mut Ctx,
        tenant: Arc<Tenant>,
        path: &NormalPath,
        query: Option<&str>,
    ) -> Result<bool> {
        let method = match s.req_header().method {
            http::Method::GET => Method::Get,
            http::Method::HEAD => Method::Head,
            http::Method::POST => Method::Post,
            _ => Method::Other,
        };
        let form = if method == Method::Post {
            match read_form(s).await? {
                Ok(f) => Some(f),
                Err(reply) => return self.answer(s, ctx, reply(&self.app, &tenant)).await,
            }
        } else {
            None
        };
        let req = Request {
            method,
            path: path.as_str(),
            query,
            cookies: cookies::Jar::parse(cookie_headers(s).iter().map(String::as_str), ctx.secure),
            form,
            tenant,
            client: ctx.client.map(|c| c.to_string()).unwrap_or_default(),
            secure: ctx.secure,
        };
        let reply = pages::handle(&self.app, &req).await;
        self.answer(s, ctx, reply).await
    }
}

type FormError = fn(&App, &Tenant) -> Reply;

/// Reads a urlencoded form of at most [`MAX_FORM_BYTES`]; the inner `Err` is the
/// page to answer instead (400, 413 or 415).
async fn read_form(s: &mut Session) -> Result<std::result::Result<Form, FormError>> {
    let content_type = header_str(s, "content-type").unwrap_or_default();
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Ok(Err(|app, t| {
            pages::error_page(
                app,
                Some(t),
                415,
                "Unsupported form",
                "Send the form as a web browser does.",
            )
        }));
    }
    let declared = header_str(s, "content-length").and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_FORM_BYTES) {
        return Ok(Err(too_large));
    }
    if header_str(s, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        s.write_continue_response().await?;
    }
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    let mut body = BytesMut::new();
    while let Some(chunk) = s.read_request_body().await? {
        if body.len() + chunk.len() > MAX_FORM_BYTES {
            return Ok(Err(too_large));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Form::parse(&body).ok_or(bad_form as FormError))
}

fn too_large(app: &App, t: &Tenant) -> Reply {
    pages::error_page(
        app,
        Some(t),
        413,
        "Form too large",
        "The form you sent is larger than this page accepts.",
    )
}

fn bad_form(app: &App, t: &Tenant) -> Reply {
    pages::error_page(
        app,
        Some(t),
        400,
        "Bad request",
        "The form could not be read.",
    )
}

fn unknown_host(app: &App) -> Reply {
    pages::error_page(
        app,
        None,
        421,
        "Unknown site",
        "This server does not serve that address.",
    )
}

/// A browser navigation is sent to the login page; anything else gets 401 JSON.
fn sign_in_required(s: &Session, target: &str) -> Reply {
    let login = format!(
        "{}?return={}",
        pages::LOGIN_PATH,
        percent_encoding::utf8_percent_encode(target, percent_encoding::NON_ALPHANUMERIC)
    );
    let req = s.req_header();
    let navigation = matches!(req.method, http::Method::GET | http::Method::HEAD)
        && req
            .headers
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if navigation {
        Reply::redirect(302, &login)
    } else {
        Reply::json(
            401,
            &serde_json::json!({ "error": "unauthenticated", "login_url": login }),
        )
        .with_header("www-authenticate", "Portcullis".to_owned())
    }
}

fn header_str(s: &Session, name: &str) -> Option<String> {
    s.req_header()
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Whether the request target is in origin form (`/path?q`) or absolute form
/// (`http://host/path?q`) and Pingora's URI holds the path the target names. Any
/// other form (`foo:/admin`, `admin`, `*`, `host:port`) names no path here:
/// Pingora reads some as `/` yet would send their bytes upstream.
fn names_its_path(head: &RequestHeader) -> bool {
    let raw = head.raw_path();
    if raw.starts_with(b"/") {
        return true;
    }
    let scheme_end = raw.iter().position(|&b| b == b':').unwrap_or(0);
    let scheme = &raw[..scheme_end];
    if !(scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https")) {
        return false;
    }
    http::Uri::try_from(raw).is_ok_and(|u| u.authority().is_some() && u.path() == head.uri.path())
}

fn cookie_headers(s: &Session) -> Vec<String> {
    s.req_header()
        .headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}
