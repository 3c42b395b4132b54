//! The `portcullis` command line. `anyhow` lives here only; the library returns
//! typed errors.

/// Prints a line of command output. Unlike `println!`, a closed pipe (`| head`)
/// ends the output quietly instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod demo;
pub mod echo;
mod user;

use crate::app::App;
use crate::config::Config;
use crate::{logging, server, store};
use anyhow::{anyhow, Context};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Login and two-factor verification in front of web applications"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
pub struct ConfigArg {
    /// The settings file.
    #[arg(
        long,
        short = 'c',
        env = "PORTCULLIS_CONFIG",
        default_value = "config/portcullis.toml"
    )]
    pub config: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(ConfigArg),
    /// Run the gateway with a demo upstream, tenant and user (nothing to set up).
    Demo {
        /// Where the gateway listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Apply database migrations.
    Migrate(ConfigArg),
    /// Check or show the settings file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// List sign-in attempts, newest first.
    Audit {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        tenant: Option<String>,
        /// A user name or email, as typed at sign-in.
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Run only the echo upstream (for tests and benchmarks).
    #[command(hide = true)]
    Echo {
        #[arg(long)]
        listen: String,
        #[arg(long, default_value = "echo")]
        name: String,
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a settings file; prints what is wrong, with file and key.
    Check(ConfigArg),
    /// Print a tenant's effective settings and where each value came from.
    Show {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long, default_value = "host")]
        tenant: String,
    },
}

/// Runs the command line; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    };
    crate::logging::flush();
    code
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(c) => serve(&c),
        Command::Demo { listen } => demo::run(&listen),
        Command::Migrate(c) => {
            let config = load(&c)?;
            store::block_on(async {
                let s = store::Store::open(&config.database).await?;
                s.migrate().await
            })?;
            let db = &config.database.url.0;
            let shown = if db.starts_with("sqlite:") {
                db.as_str()
            } else {
                "the PostgreSQL database"
            };
            out!("migrations applied to {shown}");
            Ok(())
        }
        Command::Config(ConfigCommand::Check(c)) => {
            let config = load(&c)?;
            let tenants = config.tenants.iter().count() - 1;
            let count = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
            let listeners = count(config.listeners.len(), "listener");
            out!(
                "{}: ok ({}, {listeners})",
                c.config.display(),
                count(tenants, "tenant")
            );
            // Valid, but perhaps not what was meant: a tenant asking for what the host forbids.
            for t in config.tenants.iter().filter(|t| !t.name.is_host()) {
                let (_, lines) =
                    crate::policy::settings::explain(&config.host_layer, Some(&t.layer));
                for l in lines
                    .iter()
                    .filter(|l| l.source == crate::policy::settings::Source::HostForbids)
                {
                    out!("note: tenant `{}` turns {} on, but the host does not allow it, so it is off", t.name, l.key);
                }
            }
            Ok(())
        }
        Command::Config(ConfigCommand::Show { config, tenant }) => show(&config, &tenant),
        Command::User(u) => user::run(u),
        Command::Audit {
            config,
            tenant,
            user,
            limit,
        } => {
            let config = load(&config)?;
            let login = user
                .as_deref()
                .map(|u| crate::auth::LoginName::parse(u).ok_or_else(|| anyhow!("bad user name")));
            let login = login.transpose()?;
            let rows = store::block_on(async {
                let s = store::Store::open(&config.database).await?;
                s.list_audit(tenant.as_deref(), login.as_ref().map(|l| l.as_str()), limit)
                    .await
            })?;
            out!(
                "{:<20} {:<12} {:<24} {:<24} client",
                "time (UTC)",
                "tenant",
                "login",
                "result"
            );
            for r in rows {
                out!(
                    "{:<20} {:<12} {:<24} {:<24} {}",
                    utc(r.at),
                    r.tenant,
                    r.login,
                    r.result,
                    r.client
                );
            }
            Ok(())
        }
        Command::Echo {
            listen,
            name,
            threads,
        } => {
            logging::init(crate::config::LogFormat::Human);
            let conf = pingora::server::configuration::ServerConf {
                threads,
                ..Default::default()
            };
            let mut s = pingora::server::Server::new_with_opt_and_conf(None, conf);
            s.bootstrap();
            s.add_service(echo::service(&name, &listen));
            s.run_forever();
        }
    }
}

/// Loads and validates the settings file.
pub fn load(c: &ConfigArg) -> anyhow::Result<Config> {
    Config::load(&c.config).map_err(|e| anyhow!(e))
}

fn serve(c: &ConfigArg) -> anyhow::Result<()> {
    let config = load(c)?;
    logging::init_server(config.server.log_format);
    server::announce(&config);
    let app = store::block_on(App::build(config)).context("cannot start")?;
    let server = server::build(Arc::new(app), Vec::new()).map_err(|e| anyhow!(e))?;
    tracing::info!("portcullis started");
    server::run(server);
    tracing::info!("portcullis stopped");
    Ok(())
}

fn show(c: &ConfigArg, tenant: &str) -> anyhow::Result<()> {
    let config = load(c)?;
    let t = config
        .tenants
        .by_name(tenant)
        .ok_or_else(|| anyhow!("no tenant `{tenant}` in {}", c.config.display()))?;
    out!(
        "effective settings for tenant `{}` ({})",
        t.name,
        t.display_name
    );
    let tenant_layer = if t.name.is_host() {
        None
    } else {
        Some(&t.layer)
    };
    let (_, lines) = crate::policy::settings::explain(&config.host_layer, tenant_layer);
    for l in lines {
        out!("  {:<42} {:<10} from {}", l.key, l.value, l.source);
    }
    Ok(())
}

/// `2026-12-04 15:04:05` for a Unix time.
pub fn utc(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn unix_times_print_as_utc() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc(1_796_396_645), "2026-12-04 15:04:05");
    }
}
