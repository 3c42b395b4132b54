//! Wires the gateway into a Pingora server: listeners, TLS, tuning, background
//! work (session sweeping, reload on SIGHUP), and runs it.

use crate::app::App;
use crate::config::Config;
use crate::proxy::Gateway;
use crate::store;
use pingora::listeners::tls::TlsSettings;
use pingora::server::configuration::ServerConf;
use pingora::server::Server;
use pingora::services::ServiceWithDependents;
use std::sync::Arc;
use std::time::Duration;

/// Pingora's own settings, from ours.
pub fn server_conf(config: &Config) -> ServerConf {
    ServerConf {
        threads: config.server.threads,
        work_stealing: config.server.work_stealing,
        upstream_keepalive_pool_size: config.server.upstream_keepalive_pool_size,
        grace_period_seconds: Some(config.server.grace_period.as_secs()),
        graceful_shutdown_timeout_seconds: Some(5),
        ..ServerConf::default()
    }
}

/// Builds the Pingora server for `app` with `extra` services beside the proxy
/// (the demo's upstream), ready to run.
pub fn build(app: Arc<App>, extra: Vec<Box<dyn ServiceWithDependents>>) -> Result<Server, String> {
    let config = app.config();
    let mut server = Server::new_with_opt_and_conf(None, server_conf(&config));
    server.bootstrap();
    let mut proxy = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        Gateway { app: app.clone() },
        "portcullis",
    );
    for l in &config.listeners {
        let addr = l.address.to_string();
        match &l.tls {
            None => proxy.add_tcp(&addr),
            Some(tls) => {
                let cert = tls.cert.to_string_lossy();
                let key = tls.key.to_string_lossy();
                let mut settings = TlsSettings::intermediate(&cert, &key)
                    .map_err(|e| format!("{}: TLS for {addr}: {e}", config.source.display()))?;
                settings.enable_h2();
                proxy.add_tls_with_settings(&addr, None, settings);
            }
        }
    }
    server.add_service(proxy);
    if let Some(addr) = config.metrics_address {
        let mut metrics = pingora::services::listening::Service::new(
            "metrics".to_owned(),
            crate::metrics::Endpoint,
        );
        metrics.add_tcp(&addr.to_string());
        server.add_service(metrics);
    }
    for s in extra {
        server.add_boxed_service(s);
    }
    spawn_background(app);
    Ok(server)
}

/// Runs `server` until SIGTERM, SIGINT or SIGQUIT has shut it down, then returns,
/// so that the caller can write out the last log lines before the process exits
/// (Pingora's `run_forever` exits the process itself).
pub fn run(server: Server) {
    server.run(pingora::server::RunArgs::default());
}

/// Periodic cleanup and reload on SIGHUP, on the store's runtime (which outlives
/// Pingora's).
fn spawn_background(app: Arc<App>) {
    let sweeper = app.clone();
    store::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let idle = sweeper.accounts.lifetimes.idle.as_secs() as i64;
            sweeper.accounts.sessions.sweep(store::now(), idle);
            if let Err(e) = sweeper.accounts.store.purge_sessions(idle).await {
                tracing::warn!(error = %e, "could not purge expired sessions");
            }
            if let Err(e) = sweeper.accounts.store.prune_revocations(3600).await {
                tracing::warn!(error = %e, "could not prune old revocations");
            }
        }
    });
    let follower = app.clone();
    store::spawn(async move {
        // Revocations made before this start concern sessions this process never saw.
        let mut last = follower.accounts.store.last_revocation().await.unwrap_or(0);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // Errors are logged on the transition inside; the next tick retries.
            let _ = follower.accounts.follow_revocations(&mut last).await;
        }
    });
    let grace = app.config().server.grace_period;
    store::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        // Pingora acts on SIGTERM itself; this only says so in the log.
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            if term.recv().await.is_some() {
                tracing::info!(grace = ?grace, "SIGTERM: no new connections; finishing in-flight requests, then exiting");
            }
        }
    });
    store::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; reload needs a restart");
            return;
        };
        while hup.recv().await.is_some() {
            match app.reload() {
                Ok(()) => tracing::info!("configuration reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "reload failed; keeping the running configuration")
                }
            }
        }
    });
}

/// Says at start-up what an operator must know: where it listens, and whether
/// codes are only being logged.
pub fn announce(config: &Config) {
    for l in &config.listeners {
        tracing::info!(address = %l.address, tls = l.tls.is_some(), "listening");
    }
    if let Some(a) = config.metrics_address {
        tracing::info!(address = %a, "metrics at /metrics");
    }
    if matches!(config.email.delivery, crate::config::EmailDelivery::Log) {
        tracing::warn!("email.mode is `log`: codes and links are written to the log, not sent (development mode)");
    }
    if matches!(config.sms.delivery, crate::config::SmsDelivery::Log) {
        tracing::warn!("sms.provider is `log`: text-message codes are written to the log, not sent (development mode)");
    }
}
