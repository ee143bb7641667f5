//! Starting a hub from a [`HubConfig`]: open the configured backend, import the config folders,
//! and serve until shutdown. Shared by `originhub serve`, `originhub demo` and the load test.

use std::future::Future;
use std::path::Path;

use thiserror::Error;
use tokio::net::TcpListener;

use crate::config::{Database, HubConfig};
use crate::hub::{Hub, HubSettings};
use crate::receipts::keys::{KeyError, NoteKey};
use crate::registry::RegistryError;
use crate::server::{ServeError, ServerTls, run};
use crate::store::{PostgresStore, SqliteStore, Store, StoreError};

/// Why a hub did not start or stopped with an error.
#[derive(Debug, Error)]
pub enum LaunchError {
    /// A TLS file is missing or unreadable.
    #[error("cannot read {path}: {message} (make certificates with `originhub dev-certs`)")]
    TlsFile {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The data directory cannot be created.
    #[error("cannot create data directory {path}: {message}")]
    DataDir {
        /// The folder.
        path: String,
        /// Why.
        message: String,
    },
    /// The database could not be opened or migrated.
    #[error("{database}: {source}")]
    Store {
        /// Which database.
        database: String,
        /// Why.
        source: StoreError,
    },
    /// The registry did not load.
    #[error("registry: {0}")]
    Registry(#[from] RegistryError),
    /// The signing key could not be read or made.
    #[error(transparent)]
    SigningKey(#[from] KeyError),
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

fn read(path: &Path) -> Result<Vec<u8>, LaunchError> {
    std::fs::read(path).map_err(|e| LaunchError::TlsFile {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

impl HubConfig {
    /// The hub's TLS material.
    pub fn server_tls(&self) -> Result<ServerTls, LaunchError> {
        Ok(ServerTls {
            client_ca: read(&self.tls.ca)?,
            certificate: read(&self.tls.certificate)?,
            key: read(&self.tls.key)?,
        })
    }

    /// The hub's tunables and its signing key (made on first start if missing).
    pub fn settings(&self) -> Result<HubSettings, LaunchError> {
        let key = NoteKey::load_or_create(&self.signing_key, &self.log_origin)?;
        Ok(HubSettings::from_config(self, key))
    }
}

async fn serve_with<S: Store>(
    store: S,
    config: &HubConfig,
    tls: ServerTls,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), LaunchError> {
    let hub = Hub::start(store, Some(&config.registry_dirs()), config.settings()?).await?;
    let registry = hub.registry();
    tracing::info!(
        backend = hub.store.backend(),
        members = registry.members.len(),
        agreements = registry.agreements.len(),
        profiles = registry.profiles.len(),
        "registry loaded"
    );
    // A hub started in the wrong folder, or with no config, would otherwise run empty in
    // silence and refuse every submission as naming an unknown agreement.
    let dirs = config.registry_dirs();
    let stored = hub.store.registry().await.map_err(RegistryError::from)?;
    for (kind, count, stored, folder) in [
        (
            "profiles",
            registry.profiles.len(),
            stored.profiles.len(),
            &dirs.profiles,
        ),
        (
            "members",
            registry.members.len(),
            stored.members.len(),
            &dirs.members,
        ),
        (
            "agreements",
            registry.agreements.len(),
            stored.agreements.len(),
            &dirs.agreements,
        ),
    ] {
        if count == 0 && stored > 0 {
            tracing::warn!(
                "the hub has no {kind} to route by: the {stored} the database holds are all \
                 left out (the errors above say why); no certificate can be routed until they \
                 are put right"
            );
        } else if count == 0 {
            let state = if folder.is_dir() {
                "holds no *.toml"
            } else {
                "does not exist"
            };
            let folder = std::path::absolute(folder).unwrap_or_else(|_| folder.clone());
            tracing::warn!(
                "the hub has no {kind}: the database holds none and the folder {} {state}; no \
                 certificate can be routed until some are added there (read at start) or with \
                 `originhub operator put`",
                folder.display()
            );
        }
    }
    run(hub, listener, tls, shutdown).await?;
    Ok(())
}

/// Opens the configured database and serves on `listener` until `shutdown` resolves.
pub async fn serve(
    config: &HubConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), LaunchError> {
    let tls = config.server_tls()?;
    let database = config.database();
    let store_error = |source| LaunchError::Store {
        database: database.describe(),
        source,
    };
    match &database {
        Database::SqliteFile(path) => {
            std::fs::create_dir_all(&config.data_dir).map_err(|e| LaunchError::DataDir {
                path: config.data_dir.display().to_string(),
                message: e.to_string(),
            })?;
            let store = SqliteStore::open(path).await.map_err(store_error)?;
            serve_with(store, config, tls, listener, shutdown).await
        }
        Database::SqliteUrl(url) => {
            let store = SqliteStore::connect(url).await.map_err(store_error)?;
            serve_with(store, config, tls, listener, shutdown).await
        }
        Database::Postgres(url) => {
            let store = PostgresStore::connect(url).await.map_err(store_error)?;
            serve_with(store, config, tls, listener, shutdown).await
        }
    }
}
