//! The hub's configuration: `hub.toml` plus `ORIGINHUB_*` environment variables and
//! `DATABASE_URL`, over the defaults in [`HubConfig::default`] — the one place every default is
//! written down. Relative paths in a config file are relative to the file's folder.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Provider, Source};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::registry::RegistryDirs;

/// The prefix of the environment variables that override `hub.toml`'s settings.
const ENV_PREFIX: &str = "ORIGINHUB_";

/// Why the configuration could not be read.
#[derive(Debug, Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

/// TLS files of the hub, relative to the data directory unless absolute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The CA that signs client certificates (and the hub's).
    pub ca: PathBuf,
    /// The hub's certificate.
    pub certificate: PathBuf,
    /// The hub's private key.
    pub key: PathBuf,
}

/// Where the declarative registry lives, relative to the config file's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryPaths {
    /// Member definitions, `*.toml`.
    pub members: PathBuf,
    /// Agreement definitions, `*.toml`.
    pub agreements: PathBuf,
    /// Profiles, `*.toml`.
    pub profiles: PathBuf,
}

/// Everything `originhub serve` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// Address of the gRPC listener (`ORIGINHUB_LISTEN`).
    pub listen: String,
    /// Where the SQLite database and certificates live (`ORIGINHUB_DATA_DIR`).
    pub data_dir: PathBuf,
    /// `postgres://...` or `sqlite:...` (`DATABASE_URL`); empty for `DATA_DIR/hub.db`.
    #[serde(default)]
    pub database_url: String,
    /// The hub's TLS files.
    pub tls: TlsFiles,
    /// The config directories.
    pub registry: RegistryPaths,
    /// Largest document accepted, in bytes (`ORIGINHUB_MAX_DOCUMENT_BYTES`).
    pub max_document_bytes: usize,
    /// Deepest nesting accepted (`ORIGINHUB_MAX_DEPTH`).
    pub max_depth: usize,
    /// Most submissions written in one transaction (`ORIGINHUB_MAX_BATCH`).
    pub max_batch: usize,
    /// Batch transactions in flight at once (`ORIGINHUB_PARALLEL_BATCHES`).
    pub parallel_batches: usize,
    /// How often a subscription looks for deliveries committed elsewhere (another replica), in
    /// milliseconds; deliveries committed by this process wake it at once.
    pub poll_interval_ms: u64,
    /// How long a client may take over its TLS handshake, in milliseconds, before the hub drops
    /// the connection (`ORIGINHUB_TLS_HANDSHAKE_TIMEOUT_MS`): a client that stalls mid-handshake
    /// holds a connection and its task until then.
    pub tls_handshake_timeout_ms: u64,
    /// The hub's signing key for checkpoints and attestations, relative to the data directory;
    /// made on first start if missing (`ORIGINHUB_SIGNING_KEY`).
    pub signing_key: PathBuf,
    /// The receipt log's origin: the first line of every checkpoint and the signing key's name
    /// (`ORIGINHUB_LOG_ORIGIN`).
    pub log_origin: String,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:7443".into(),
            data_dir: "data".into(),
            database_url: String::new(),
            tls: TlsFiles {
                ca: "certs/ca.pem".into(),
                certificate: "certs/hub.pem".into(),
                key: "certs/hub.key".into(),
            },
            registry: RegistryPaths {
                members: "members".into(),
                agreements: "agreements".into(),
                profiles: "profiles".into(),
            },
            max_document_bytes: originhub_core::limits::Limits::default().max_bytes,
            max_depth: originhub_core::limits::Limits::default().max_depth,
            max_batch: 256,
            parallel_batches: 2,
            poll_interval_ms: 1000,
            tls_handshake_timeout_ms: 10_000,
            signing_key: format!("certs/{}", crate::certs::SIGNING_KEY_FILE).into(),
            log_origin: "origin-hub.local/receipts".into(),
        }
    }
}

impl HubConfig {
    /// Defaults, then `file` (if given), then the environment. Relative paths are resolved
    /// against the file's folder (or the working directory without a file).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError(format!("{} does not exist", file.display())));
            }
            figment = figment.merge(Toml::file(file));
        }
        let environment = Env::prefixed(ENV_PREFIX).only(&[
            "listen",
            "data_dir",
            "max_document_bytes",
            "max_depth",
            "max_batch",
            "parallel_batches",
            "poll_interval_ms",
            "tls_handshake_timeout_ms",
            "signing_key",
            "log_origin",
        ]);
        let environment_source = environment.metadata().name;
        let figment = figment
            .merge(environment)
            .merge(Env::raw().only(&["database_url"]));
        let mut config: Self = figment.extract().map_err(|e| ConfigError(e.to_string()))?;
        let zeros: Vec<String> = config
            .zero_settings()
            .into_iter()
            .map(|(name, why)| {
                // Where the 0 came from: the file, or an environment variable over it.
                let from = match figment.find_metadata(name) {
                    Some(found) if found.name == environment_source => {
                        format!(" (set by {ENV_PREFIX}{})", name.to_ascii_uppercase())
                    }
                    Some(found) => match &found.source {
                        Some(Source::File(path)) => format!(" (set in {})", path.display()),
                        _ => String::new(),
                    },
                    None => String::new(),
                };
                format!("{name} must be at least 1: with 0 {why}{from}")
            })
            .collect();
        if !zeros.is_empty() {
            return Err(ConfigError(zeros.join("; ")));
        }
        let base = file
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        config.resolve(&base);
        Ok(config)
    }

    /// Every setting that counts or times something and is 0, with what the 0 would do: no hub
    /// runs with one, and several would fail quietly later (a subscription polling without
    /// pause, every document refused) instead of at start.
    fn zero_settings(&self) -> Vec<(&'static str, &'static str)> {
        let zeros = [
            (
                "max_document_bytes",
                self.max_document_bytes == 0,
                "every document would be refused",
            ),
            (
                "max_depth",
                self.max_depth == 0,
                "every document would be refused",
            ),
            (
                "max_batch",
                self.max_batch == 0,
                "no transaction could hold a submission",
            ),
            (
                "parallel_batches",
                self.parallel_batches == 0,
                "no batch could be written",
            ),
            (
                "poll_interval_ms",
                self.poll_interval_ms == 0,
                "every subscription would query the database without pause",
            ),
            (
                "tls_handshake_timeout_ms",
                self.tls_handshake_timeout_ms == 0,
                "every connection would be closed before its handshake",
            ),
        ];
        zeros
            .into_iter()
            .filter(|(_, zero, _)| *zero)
            .map(|(name, _, why)| (name, why))
            .collect()
    }

    fn resolve(&mut self, base: &Path) {
        let join = |base: &Path, path: &mut PathBuf| {
            if path.as_os_str() == "." {
                *path = base.to_path_buf();
            } else if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        join(base, &mut self.data_dir);
        let data = self.data_dir.clone();
        join(&data, &mut self.tls.ca);
        join(&data, &mut self.tls.certificate);
        join(&data, &mut self.tls.key);
        join(&data, &mut self.signing_key);
        join(base, &mut self.registry.members);
        join(base, &mut self.registry.agreements);
        join(base, &mut self.registry.profiles);
    }

    /// The database to use: `database_url`, or the SQLite file in the data directory.
    pub fn database(&self) -> Database {
        if self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://")
        {
            Database::Postgres(self.database_url.clone())
        } else if self.database_url.is_empty() {
            Database::SqliteFile(self.data_dir.join("hub.db"))
        } else {
            Database::SqliteUrl(self.database_url.clone())
        }
    }

    /// The registry directories.
    pub fn registry_dirs(&self) -> RegistryDirs {
        RegistryDirs {
            members: self.registry.members.clone(),
            agreements: self.registry.agreements.clone(),
            profiles: self.registry.profiles.clone(),
        }
    }
}

/// Which backend a configuration selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// `DATA_DIR/hub.db`.
    SqliteFile(PathBuf),
    /// A `sqlite:` URL.
    SqliteUrl(String),
    /// A Postgres URL.
    Postgres(String),
}

impl Database {
    /// For messages: the file, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Database::SqliteFile(path) => format!("SQLite {}", path.display()),
            Database::SqliteUrl(url) => format!("SQLite {url}"),
            Database::Postgres(url) => {
                let redacted = match (url.find("://"), url.rfind('@')) {
                    (Some(scheme), Some(at)) if at > scheme => {
                        let userinfo = &url[scheme + 3..at];
                        let user = userinfo.split(':').next().unwrap_or("");
                        format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
                    }
                    _ => url.clone(),
                };
                format!("Postgres {redacted}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_count_or_time_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hub.toml");
        for name in [
            "max_document_bytes",
            "max_depth",
            "max_batch",
            "parallel_batches",
            "poll_interval_ms",
            "tls_handshake_timeout_ms",
        ] {
            std::fs::write(&file, format!("{name} = 0\n")).unwrap();
            let error = HubConfig::load(Some(&file)).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!(
                    "configuration: {name} must be at least 1: with 0 "
                )),
                "{name}: {error}"
            );
            assert!(
                error.ends_with(&format!(" (set in {})", file.display())),
                "{name}: {error}"
            );
            std::fs::write(&file, format!("{name} = 1\n")).unwrap();
            assert!(HubConfig::load(Some(&file)).is_ok(), "{name} = 1");
        }
        // Every 0 is named at once, in one message, so one edit fixes them all.
        std::fs::write(&file, "max_batch = 0\npoll_interval_ms = 0\n").unwrap();
        let error = HubConfig::load(Some(&file)).unwrap_err().to_string();
        let set_in = format!(" (set in {})", file.display());
        assert!(
            error.contains(&format!("max_batch must be at least 1: with 0 no transaction could hold a submission{set_in}; poll_interval_ms must be at least 1: ")),
            "{error}"
        );
        std::fs::write(&file, "tls_handshake_timeout_ms = 2500\n").unwrap();
        assert_eq!(
            HubConfig::load(Some(&file))
                .unwrap()
                .tls_handshake_timeout_ms,
            2500
        );
    }
}
