//! `portcullis user …`: accounts of a tenant, or of the host with `--tenant host`.

use super::{load, ConfigArg};
use crate::auth::password::{check_policy, Hasher, Password};
use crate::auth::LoginName;
use crate::config::Config;
use crate::store::{self, NewUser, Store, User};
use crate::tenancy::Tenant;
use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use std::io::BufRead;
use std::sync::Arc;

#[derive(Args)]
pub struct Target {
    #[command(flatten)]
    config: ConfigArg,
    /// The tenant's name, or `host` for the operator's own users.
    #[arg(long)]
    tenant: String,
    #[arg(long)]
    username: String,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input, never from arguments.
    Add {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Email a link that confirms the address (uses the [email] settings and
        /// the tenant's public_url).
        #[arg(long, requires = "email")]
        send_confirmation: bool,
    },
    /// List a tenant's users.
    List {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        tenant: String,
    },
    /// Set a new password (from standard input); ends the user's sessions.
    SetPassword {
        #[command(flatten)]
        target: Target,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Deactivate a user; ends the user's sessions.
    Disable(Target),
    /// Reactivate a user.
    Enable(Target),
    /// Clear the failed sign-in counter.
    Unlock(Target),
    /// Remove the authenticator and recovery codes; ends the user's sessions and
    /// remembered browsers.
    ResetTwoFactor(Target),
    /// Set the email address (unconfirmed until `confirm --email`); `--email ""` clears it.
    SetEmail {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        email: String,
    },
    /// Set the phone number (unconfirmed until `confirm --phone`); `--phone ""` clears it.
    SetPhone {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        phone: String,
    },
    /// Mark the email address and/or phone number as confirmed.
    Confirm {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        email: bool,
        #[arg(long)]
        phone: bool,
    },
    /// Turn the user's own two-factor flag on or off (the tenant's settings still decide).
    SetTwoFactor {
        #[command(flatten)]
        target: Target,
        #[arg(long, action = clap::ArgAction::Set)]
        enabled: bool,
    },
}

pub fn run(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            target,
            email,
            phone,
            password_stdin: _,
            send_confirmation,
        } => {
            let (config, tenant, name) = resolve(&target)?;
            if name.as_str().contains('@') {
                bail!(
                    "a user name cannot contain @ (sign-in with an @ looks up the email address)"
                );
            }
            if let Some(e) = &email {
                valid_email(e)?;
            }
            if let Some(p) = &phone {
                valid_phone(p)?;
            }
            let password = read_password()?;
            check_policy(&password, &tenant.settings.password)
                .map_err(|m| anyhow!("password refused: {m}"))?;
            store::block_on(async {
                let store = Store::open(&config.database).await?;
                let hash = Hasher::new(1).hash(&password).await?;
                let id = store
                    .add_user(NewUser {
                        tenant: tenant.name.as_str(),
                        username: &name,
                        email: email.as_deref(),
                        phone: phone.as_deref(),
                        password_hash: &hash,
                        two_factor_enabled: true,
                    })
                    .await?;
                out!("added user {name} (id {id}) to tenant {}", tenant.name);
                if send_confirmation {
                    crate::logging::init(config.server.log_format);
                    let user = store
                        .user_by_id(id)
                        .await?
                        .ok_or_else(|| anyhow!("the new user vanished"))?;
                    let notifier = crate::notify::Notifier::new(&config);
                    let sent = crate::auth::links::send_confirmation_from_cli(
                        &store, &notifier, &tenant, &user,
                    )
                    .await?;
                    match sent {
                        crate::auth::links::Sent::Sent { to } if notifier.email.is_log_mode() => {
                            out!("email.mode is `log`: the confirmation link for {to} is in the log above, not sent")
                        }
                        crate::auth::links::Sent::Sent { to } => {
                            out!("sent a confirmation link to {to}")
                        }
                        other => bail!(
                            "could not send a confirmation link ({other:?}); see the log above"
                        ),
                    }
                }
                Ok(())
            })
        }
        UserCommand::List { config, tenant } => {
            let config = load(&config)?;
            let tenant = tenant_of(&config, &tenant)?;
            let users = store::block_on(async {
                Store::open(&config.database)
                    .await?
                    .list_users(tenant.name.as_str())
                    .await
            })?;
            if users.is_empty() {
                out!("no users in tenant `{}`", tenant.name);
                return Ok(());
            }
            out!(
                "{:<6} {:<24} {:<34} {:<18} {:<7} two-factor",
                "id",
                "username",
                "email",
                "phone",
                "active"
            );
            // A `*` marks an address not confirmed yet: no code is sent to it.
            let shown = |v: &Option<String>, confirmed: bool| match v {
                Some(v) if confirmed => v.clone(),
                Some(v) => format!("{v} *"),
                None => "-".to_owned(),
            };
            for u in users {
                out!(
                    "{:<6} {:<24} {:<34} {:<18} {:<7} {}",
                    u.id,
                    u.username,
                    shown(&u.email, u.email_confirmed),
                    shown(&u.phone, u.phone_confirmed),
                    yes(u.active),
                    yes(u.two_factor_enabled)
                );
            }
            out!("(* = not confirmed)");
            Ok(())
        }
        UserCommand::SetPassword {
            target,
            password_stdin: _,
        } => {
            let (config, tenant, name) = resolve(&target)?;
            let password = read_password()?;
            check_policy(&password, &tenant.settings.password)
                .map_err(|m| anyhow!("password refused: {m}"))?;
            with_user(&config, &tenant, &name, |store, user| async move {
                let hash = Hasher::new(1).hash(&password).await?;
                store.set_password(user.id, &hash, None).await?;
                Ok(format!(
                    "password set for {}; their sessions have ended",
                    user.username
                ))
            })
        }
        UserCommand::Disable(target) => {
            let (config, tenant, name) = resolve(&target)?;
            with_user(&config, &tenant, &name, |store, user| async move {
                store.set_active(user.id, false).await?;
                Ok(format!(
                    "disabled {}; their sessions have ended",
                    user.username
                ))
            })
        }
        UserCommand::Enable(target) => {
            let (config, tenant, name) = resolve(&target)?;
            with_user(&config, &tenant, &name, |store, user| async move {
                store.set_active(user.id, true).await?;
                Ok(format!("enabled {}", user.username))
            })
        }
        UserCommand::SetEmail { target, email } => {
            let (config, tenant, name) = resolve(&target)?;
            let email = Some(email.trim())
                .filter(|e| !e.is_empty())
                .map(str::to_owned);
            if let Some(e) = &email {
                valid_email(e)?;
            }
            with_user(&config, &tenant, &name, |store, user| async move {
                store.set_email(user.id, email.as_deref()).await?;
                Ok(format!("email of {} set; it is unconfirmed", user.username))
            })
        }
        UserCommand::SetPhone { target, phone } => {
            let (config, tenant, name) = resolve(&target)?;
            let phone = Some(phone.trim())
                .filter(|p| !p.is_empty())
                .map(str::to_owned);
            if let Some(p) = &phone {
                valid_phone(p)?;
            }
            with_user(&config, &tenant, &name, |store, user| async move {
                store.set_phone(user.id, phone.as_deref()).await?;
                Ok(format!("phone of {} set; it is unconfirmed", user.username))
            })
        }
        UserCommand::Confirm {
            target,
            email,
            phone,
        } => {
            if !email && !phone {
                bail!("say what to confirm: --email, --phone or both");
            }
            let (config, tenant, name) = resolve(&target)?;
            with_user(&config, &tenant, &name, |store, user| async move {
                if email && user.email.is_none() {
                    bail!("{} has no email address to confirm", user.username);
                }
                if phone && user.phone.is_none() {
                    bail!("{} has no phone number to confirm", user.username);
                }
                store.confirm(user.id, email, phone).await?;
                Ok(format!("confirmed for {}", user.username))
            })
        }
        UserCommand::SetTwoFactor { target, enabled } => {
            let (config, tenant, name) = resolve(&target)?;
            with_user(&config, &tenant, &name, |store, user| async move {
                store.set_two_factor(user.id, enabled).await?;
                Ok(format!(
                    "two-factor for {} is {}",
                    user.username,
                    if enabled { "on" } else { "off" }
                ))
            })
        }
        UserCommand::ResetTwoFactor(target) => {
            let (config, tenant, name) = resolve(&target)?;
            with_user(&config, &tenant, &name, |store, user| async move {
                store.remove_two_factor(user.id, None).await?;
                Ok(format!(
                    "two-factor reset for {}: authenticator and recovery codes removed, sessions ended",
                    user.username
                ))
            })
        }
        UserCommand::Unlock(target) => {
            let (config, tenant, name) = resolve(&target)?;
            with_user(&config, &tenant, &name, |store, user| async move {
                store.clear_failures(&user.tenant, &user.username).await?;
                Ok(format!("unlocked {}", user.username))
            })
        }
    }
}

fn valid_email(e: &str) -> anyhow::Result<()> {
    match e.split_once('@') {
        Some((l, d))
            if !l.is_empty()
                && d.contains('.')
                && !e.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(())
        }
        _ => bail!("`{e}` is not an email address"),
    }
}

/// E.164: a `+`, then 8 to 15 digits.
fn valid_phone(p: &str) -> anyhow::Result<()> {
    let digits = p
        .strip_prefix('+')
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
    match digits {
        Some(d) if (8..=15).contains(&d.len()) => Ok(()),
        _ => bail!("`{p}` is not a phone number in international form, e.g. +15550100123"),
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn tenant_of(config: &Config, name: &str) -> anyhow::Result<Arc<Tenant>> {
    config
        .tenants
        .by_name(name)
        .cloned()
        .ok_or_else(|| anyhow!("no tenant `{name}` in {}", config.source.display()))
}

fn resolve(t: &Target) -> anyhow::Result<(Config, Arc<Tenant>, LoginName)> {
    let config = load(&t.config)?;
    let tenant = tenant_of(&config, &t.tenant)?;
    let name = LoginName::parse(&t.username)
        .ok_or_else(|| anyhow!("`{}` is not a valid user name", t.username))?;
    Ok((config, tenant, name))
}

/// Finds the user and runs `f` with it on the store runtime.
fn with_user<F, Fut>(config: &Config, tenant: &Tenant, name: &LoginName, f: F) -> anyhow::Result<()>
where
    F: FnOnce(Store, User) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<String>>,
{
    store::block_on(async {
        let store = Store::open(&config.database).await?;
        let user = store
            .find_user(tenant.name.as_str(), name)
            .await?
            .ok_or_else(|| anyhow!("no user `{name}` in tenant `{}`", tenant.name))?;
        out!("{}", f(store, user).await?);
        Ok(())
    })
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<Password> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    Password::new(line).ok_or_else(|| {
        anyhow!(
            "the password on standard input is empty or longer than {} bytes",
            crate::auth::password::MAX_PASSWORD_BYTES
        )
    })
}
