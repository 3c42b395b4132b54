//! `bare-pingora`: the yardstick of the benchmark. A Pingora proxy that forwards
//! every request, unchanged, to one upstream, with the server settings Portcullis
//! exposes (threads, work stealing, upstream keep-alive pool) and the same peer
//! options as the gateway's `upstream_peer`. It does nothing else: no routing, no
//! session check, no header rewriting, no logging.

use async_trait::async_trait;
use clap::Parser;
use pingora::prelude::*;
use pingora::proxy::{ProxyHttp, Session};
use pingora::server::configuration::ServerConf;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "A minimal Pingora pass-through proxy to one upstream")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: String,
    /// The upstream every request goes to (plain HTTP/1.1).
    #[arg(long)]
    upstream: SocketAddr,
    /// Worker threads (Pingora `threads`).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Tokio work stealing between the workers (Pingora `work_stealing`).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    work_stealing: bool,
    /// Idle upstream connections kept (Pingora `upstream_keepalive_pool_size`).
    #[arg(long, default_value_t = 128)]
    keepalive_pool: usize,
}

/// Forwards everything to `upstream`.
struct PassThrough {
    upstream: SocketAddr,
}

#[async_trait]
impl ProxyHttp for PassThrough {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _s: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        // The same options as Portcullis's peers, so that pooling behaves alike.
        let mut peer = HttpPeer::new(self.upstream, false, String::new());
        peer.options.connection_timeout = Some(Duration::from_secs(5));
        peer.options.total_connection_timeout = Some(Duration::from_secs(10));
        peer.options.idle_timeout = Some(Duration::from_secs(60));
        Ok(Box::new(peer))
    }
}

fn main() {
    let args = Args::parse();
    let conf = ServerConf {
        threads: args.threads,
        work_stealing: args.work_stealing,
        upstream_keepalive_pool_size: args.keepalive_pool,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        PassThrough {
            upstream: args.upstream,
        },
        "bare-pingora",
    );
    proxy.add_tcp(&args.listen);
    server.add_service(proxy);
    server.run_forever();
}
