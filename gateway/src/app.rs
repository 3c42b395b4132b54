//! The gateway's shared state: the live configuration, the accounts service and
//! the page renderer. Built once at start; the configuration is swapped
//! atomically on reload, so a request sees one consistent snapshot.

use crate::auth::password::Hasher;
use crate::auth::signin::Accounts;
use crate::auth::SecretKey;
use crate::config::{Config, ConfigError};
use crate::store::{Store, StoreError};
use arc_swap::ArcSwap;
use portcullis_pages::{Pages, PagesError};
use std::sync::Arc;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("secret key: {0}")]
    SecretKey(String),
    #[error("store")]
    Store(#[from] StoreError),
    #[error("templates")]
    Pages(#[from] PagesError),
}

pub struct App {
    config: ArcSwap<Config>,
    pub accounts: Accounts,
    pub pages: Pages,
}

impl App {
    /// Opens the store (applying migrations), loads the secret key and the templates.
    pub async fn build(config: Config) -> Result<App, StartError> {
        let key =
            SecretKey::load_or_create(&config.secret_key_file).map_err(StartError::SecretKey)?;
        Self::build_with_key(config, key).await
    }

    pub async fn build_with_key(config: Config, key: SecretKey) -> Result<App, StartError> {
        let pages = Pages::new(config.server.templates_dir.as_deref())?;
        let store = Store::open(&config.database).await?;
        let hasher = Hasher::new(config.server.max_concurrent_hashes);
        let notifier = crate::notify::Notifier::new(&config);
        let accounts = Accounts::new(store, notifier, hasher, key, config.session);
        Ok(App {
            config: ArcSwap::from_pointee(config),
            accounts,
            pages,
        })
    }

    /// The configuration in force now.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Reads the file again and swaps it in; on error the running configuration
    /// stays and the error is returned for the log. Listeners, the store and the
    /// templates are read at start only.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let path = self.config.load().source.clone();
        let next = Config::load(&path)?;
        self.config.store(Arc::new(next));
        Ok(())
    }
}
