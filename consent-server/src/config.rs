//! Configuration: a TOML file, then `CONSENT_*` environment variables over it. Every field has a default,
//! so `consent-server serve` with nothing at all runs a development server.

use std::net::SocketAddr;
use std::path::PathBuf;

use consent_core::{Policy, ServiceScope};
use serde::Deserialize;

mod tokens;

pub use tokens::{Role, StaffToken};

/// Requests per client (an IPv4 address or an IPv6 /64; never stored).
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Burst allowance.
    pub burst: u32,
    /// Clients with a bucket of their own, at most; past it, new clients share one bucket until idle
    /// ones are forgotten (a few seconds after their bucket is full again).
    #[serde(default = "default_max_clients")]
    pub max_clients: usize,
}

fn default_max_clients() -> usize {
    1_000_000
}

/// The consent log (`[log]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// The log's origin: the first line of its checkpoints, and the name of its note key.
    pub origin: String,
    /// Witnesses whose cosignatures the server takes and serves, as vkeys (C2SP signed-note).
    pub witnesses: Vec<String>,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            origin: consent_core::tlog::DEFAULT_ORIGIN.into(),
            witnesses: Vec::new(),
        }
    }
}

/// Storage failures and the free-space floor (`[storage]`).
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// Below this many MiB free on the database's file system, writes that add data (receipts, new
    /// pseudonym links, policy versions) are refused with 503 `storage_unavailable`, so that reads,
    /// exports and rights requests keep working; 0 turns the floor off.
    pub min_free_mib: u64,
    /// While the storage fails, at most one log line per this many seconds (besides the first failure
    /// and the recovery).
    pub log_interval_secs: u64,
}

impl Default for Storage {
    fn default() -> Self {
        let defaults = crate::store::StoreOptions::default();
        Storage {
            min_free_mib: defaults.min_free_bytes / MIB,
            log_interval_secs: defaults.log_interval.as_secs(),
        }
    }
}

const MIB: u64 = 1024 * 1024;

impl Storage {
    /// As the store's options.
    ///
    /// ```
    /// let s = consent_server::config::Storage { min_free_mib: 512, log_interval_secs: 30 };
    /// assert_eq!(s.store_options().min_free_bytes, 512 * 1024 * 1024);
    /// ```
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            min_free_bytes: self.min_free_mib.saturating_mul(MIB),
            log_interval: std::time::Duration::from_secs(self.log_interval_secs.max(1)),
        }
    }
}

/// Server configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where receipts are kept: a SQLite file, or a `postgres://` URL (several instances share it).
    pub database: crate::store::Database,
    /// Key file (created with development keys if missing and `development_keys` is on).
    pub keys: PathBuf,
    /// Generate development keys when the key file is missing.
    pub development_keys: bool,
    /// Policy file; default: the bundled invisionu.education policy.
    pub policy: Option<PathBuf>,
    /// Older policy versions still served at `/v1/policies/{version}`.
    pub previous_policies: Vec<PathBuf>,
    /// Working-day calendar for rights requests' due dates (`spec/SPEC.md` §7); default: the bundled
    /// `examples/invisionu/calendar-kz.toml`.
    pub calendar: Option<PathBuf>,
    /// The server's public URL (receipt issuer, unsubscribe links).
    pub issuer: String,
    /// Origins allowed by CORS (the website).
    pub cors_origins: Vec<String>,
    /// Per-client rate limit.
    pub rate_limit: RateLimit,
    /// Request timeout in seconds.
    pub request_timeout_secs: u64,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Open connections at most; `None`: derived from the open-file limit (see `serve::Limits`).
    pub max_connections: Option<usize>,
    /// Seconds a client has to send a request's head: from the connection's opening, or on a kept-alive
    /// connection from the head's first byte.
    pub header_read_timeout_secs: u64,
    /// Seconds a kept-alive connection may wait for the next request's first byte; 0 turns keep-alive off.
    pub keep_alive_timeout_secs: u64,
    /// Seconds in-flight requests get to finish after SIGTERM or Ctrl-C, before every connection is closed.
    pub shutdown_grace_secs: u64,
    /// Bearer tokens.
    pub tokens: Vec<StaffToken>,
    /// Serve the demo website (`examples/invisionu-site`, embedded in the binary) at `/`.
    /// A real deployment turns it off.
    pub site: bool,
    /// Directory of the built banner (`scripts/build-banner`), served at `/consent/`.
    pub banner_dir: PathBuf,
    /// Storage failures and the free-space floor.
    pub storage: Storage,
    /// The consent log: origin and witnesses.
    pub log: LogSettings,
    /// Systems told of consent events (`[[webhooks]]`, issue 20.4), checked against the policy at
    /// start ([`crate::webhooks::Subscriptions::new`]).
    pub webhooks: Vec<crate::webhooks::WebhookConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: crate::store::Database::default(),
            keys: PathBuf::from("consent-keys.json"),
            development_keys: true,
            policy: None,
            previous_policies: Vec::new(),
            calendar: None,
            issuer: "http://127.0.0.1:8080".into(),
            cors_origins: Vec::new(),
            rate_limit: RateLimit {
                per_second: 20,
                burst: 100,
                max_clients: default_max_clients(),
            },
            request_timeout_secs: 10,
            trust_forwarded_for: false,
            max_connections: None,
            header_read_timeout_secs: 10,
            keep_alive_timeout_secs: 75,
            shutdown_grace_secs: 15,
            tokens: Vec::new(),
            site: true,
            banner_dir: PathBuf::from("target/banner"),
            storage: Storage::default(),
            log: LogSettings::default(),
            webhooks: Vec::new(),
        }
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    /// The file is not valid.
    #[error("{0}: {1}")]
    Parse(String, String),
    /// An environment variable is not valid.
    #[error("environment variable {0}: {1}")]
    Env(&'static str, String),
}

impl Config {
    /// Reads `path` (if given), then applies `CONSENT_*` environment variables.
    pub fn load(path: Option<&std::path::Path>) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(p) => {
                let name = p.display().to_string();
                let text =
                    std::fs::read_to_string(p).map_err(|e| ConfigError::Read(name.clone(), e))?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse(name, e.to_string()))?
            }
            None => Config::default(),
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        config.check()?;
        Ok(config)
    }

    /// Applies `CONSENT_LISTEN`, `CONSENT_DATABASE`, `CONSENT_KEYS`, `CONSENT_POLICY`, `CONSENT_ISSUER`,
    /// `CONSENT_CORS_ORIGINS` (comma-separated), `CONSENT_RATE_PER_SECOND`, `CONSENT_RATE_BURST`,
    /// `CONSENT_RATE_MAX_CLIENTS`, `CONSENT_DEVELOPMENT_KEYS` (`true`/`false`), `CONSENT_SITE`
    /// (`on`/`off`, `true`/`false`), `CONSENT_BANNER_DIR`, `CONSENT_STORAGE_MIN_FREE_MIB`,
    /// `CONSENT_STORAGE_LOG_INTERVAL_SECS`, `CONSENT_MAX_CONNECTIONS`, `CONSENT_HEADER_READ_TIMEOUT_SECS`,
    /// `CONSENT_KEEP_ALIVE_TIMEOUT_SECS`, `CONSENT_SHUTDOWN_GRACE_SECS`, `CONSENT_LOG_ORIGIN`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &'static str, v: &str) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            v.parse()
                .map_err(|e: T::Err| ConfigError::Env(name, e.to_string()))
        }
        if let Some(v) = var("CONSENT_LISTEN") {
            self.listen = parse("CONSENT_LISTEN", &v)?;
        }
        if let Some(v) = var("CONSENT_DATABASE") {
            self.database = crate::store::Database::parse(&v)
                .map_err(|e| ConfigError::Env("CONSENT_DATABASE", e))?;
        }
        if let Some(v) = var("CONSENT_KEYS") {
            self.keys = v.into();
        }
        if let Some(v) = var("CONSENT_POLICY") {
            self.policy = Some(v.into());
        }
        if let Some(v) = var("CONSENT_CALENDAR") {
            self.calendar = Some(v.into());
        }
        if let Some(v) = var("CONSENT_ISSUER") {
            self.issuer = v;
        }
        if let Some(v) = var("CONSENT_CORS_ORIGINS") {
            self.cors_origins = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(v) = var("CONSENT_RATE_PER_SECOND") {
            self.rate_limit.per_second = parse("CONSENT_RATE_PER_SECOND", &v)?;
        }
        if let Some(v) = var("CONSENT_RATE_BURST") {
            self.rate_limit.burst = parse("CONSENT_RATE_BURST", &v)?;
        }
        if let Some(v) = var("CONSENT_RATE_MAX_CLIENTS") {
            self.rate_limit.max_clients = parse("CONSENT_RATE_MAX_CLIENTS", &v)?;
        }
        if let Some(v) = var("CONSENT_DEVELOPMENT_KEYS") {
            self.development_keys = parse("CONSENT_DEVELOPMENT_KEYS", &v)?;
        }
        if let Some(v) = var("CONSENT_SITE") {
            self.site = match v.as_str() {
                "on" | "true" => true,
                "off" | "false" => false,
                _ => {
                    return Err(ConfigError::Env(
                        "CONSENT_SITE",
                        format!("expected on, off, true or false, got `{v}`"),
                    ));
                }
            };
        }
        if let Some(v) = var("CONSENT_BANNER_DIR") {
            self.banner_dir = v.into();
        }
        if let Some(v) = var("CONSENT_STORAGE_MIN_FREE_MIB") {
            self.storage.min_free_mib = parse("CONSENT_STORAGE_MIN_FREE_MIB", &v)?;
        }
        if let Some(v) = var("CONSENT_STORAGE_LOG_INTERVAL_SECS") {
            self.storage.log_interval_secs = parse("CONSENT_STORAGE_LOG_INTERVAL_SECS", &v)?;
        }
        if let Some(v) = var("CONSENT_MAX_CONNECTIONS") {
            self.max_connections = Some(parse("CONSENT_MAX_CONNECTIONS", &v)?);
        }
        if let Some(v) = var("CONSENT_HEADER_READ_TIMEOUT_SECS") {
            self.header_read_timeout_secs = parse("CONSENT_HEADER_READ_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = var("CONSENT_KEEP_ALIVE_TIMEOUT_SECS") {
            self.keep_alive_timeout_secs = parse("CONSENT_KEEP_ALIVE_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = var("CONSENT_LOG_ORIGIN") {
            self.log.origin = v;
        }
        if let Some(v) = var("CONSENT_SHUTDOWN_GRACE_SECS") {
            self.shutdown_grace_secs = parse("CONSENT_SHUTDOWN_GRACE_SECS", &v)?;
        }
        Ok(())
    }

    /// The scope of each token ([`StaffToken::scope`]), in the order of `tokens`: the first token whose
    /// scope does not fit `policy` (an unknown purpose, a purpose that needs no consent, a collection
    /// point a service may not name, a service token without a scope) is the error.
    pub fn service_scopes(&self, policy: &Policy) -> Result<Vec<ServiceScope>, ConfigError> {
        self.tokens.iter().map(|t| t.scope(policy)).collect()
    }

    fn check(&self) -> Result<(), ConfigError> {
        let bad = |m: String| ConfigError::Parse("configuration".into(), m);
        for t in &self.tokens {
            if t.sha256.len() != 64
                || !t
                    .sha256
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            {
                return Err(bad(format!(
                    "token `{}`: sha256 must be 64 lower-case hex digits",
                    t.name
                )));
            }
        }
        if self.rate_limit.per_second == 0
            || self.rate_limit.burst == 0
            || self.rate_limit.max_clients == 0
        {
            return Err(bad("rate_limit values must be at least 1".into()));
        }
        if self.max_connections == Some(0) {
            return Err(bad("max_connections must be at least 1".into()));
        }
        if self.header_read_timeout_secs == 0 {
            return Err(bad("header_read_timeout_secs must be at least 1".into()));
        }
        if !(self.issuer.starts_with("https://") || self.issuer.starts_with("http://")) {
            return Err(bad("issuer must be an http(s) URL".into()));
        }
        if let Err(e) = self.log.origin.parse::<consent_core::tlog::KeyName>() {
            return Err(bad(format!("log.origin: {e}")));
        }
        for w in &self.log.witnesses {
            if let Err(e) = w.parse::<consent_core::tlog::NoteVerifier>() {
                return Err(bad(format!("log.witnesses: `{w}`: {e}")));
            }
        }
        if self.storage.log_interval_secs == 0 {
            return Err(bad("storage.log_interval_secs must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_values() {
        let mut c: Config = toml::from_str(
            "listen = \"127.0.0.1:9000\"\n[rate_limit]\nper_second = 5\nburst = 9\n",
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        c.apply_env(|k| match k {
            "CONSENT_LISTEN" => Some("0.0.0.0:7000".into()),
            "CONSENT_CORS_ORIGINS" => Some("https://a.example, https://b.example".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.listen.port(), 7000);
        assert_eq!(c.cors_origins.len(), 2);
        assert_eq!(c.rate_limit.burst, 9);
        assert!(
            c.apply_env(|k| (k == "CONSENT_RATE_BURST").then(|| "lots".into()))
                .is_err()
        );
    }

    #[test]
    fn database_is_a_file_or_a_postgres_url() {
        use crate::store::Database;
        assert_eq!(Config::default().database.to_string(), "consent.db");
        let mut c: Config = toml::from_str("database = \"/srv/consent.db\"\n").unwrap();
        assert_eq!(
            c.database.sqlite_file(),
            Some(std::path::Path::new("/srv/consent.db"))
        );
        c.apply_env(|k| {
            (k == "CONSENT_DATABASE")
                .then(|| "postgres://app:pw@db:5432/consent?sslmode=require".into())
        })
        .unwrap();
        assert!(matches!(c.database, Database::Postgres(_)));
        assert!(!format!("{c:?}").contains("pw"));
        assert!(
            c.apply_env(
                |k| (k == "CONSENT_DATABASE").then(|| "postgres://db/x?sslmode=maybe".into())
            )
            .is_err()
        );
        assert!(
            toml::from_str::<Config>("database = \"postgresql://db/x?sslmode=verify-full\"")
                .is_err()
        );
    }

    #[test]
    fn site_and_banner_dir_from_file_and_env() {
        let c = Config::default();
        assert!(c.site);
        assert_eq!(c.banner_dir, PathBuf::from("target/banner"));
        let mut c: Config = toml::from_str("site = false\nbanner_dir = \"/srv/banner\"\n").unwrap();
        assert!(!c.site);
        assert_eq!(c.banner_dir, PathBuf::from("/srv/banner"));
        c.apply_env(|k| match k {
            "CONSENT_SITE" => Some("on".into()),
            "CONSENT_BANNER_DIR" => Some("/tmp/b".into()),
            _ => None,
        })
        .unwrap();
        assert!(c.site);
        assert_eq!(c.banner_dir, PathBuf::from("/tmp/b"));
        c.apply_env(|k| (k == "CONSENT_SITE").then(|| "off".into()))
            .unwrap();
        assert!(!c.site);
        assert!(
            c.apply_env(|k| (k == "CONSENT_SITE").then(|| "no".into()))
                .is_err()
        );
    }

    #[test]
    fn storage_floor_from_file_and_env() {
        let c = Config::default();
        assert_eq!(
            (c.storage.min_free_mib, c.storage.log_interval_secs),
            (256, 60)
        );
        assert_eq!(c.storage.store_options().min_free_bytes, 256 << 20);
        // A partial table keeps the other default.
        let mut c: Config = toml::from_str("[storage]\nmin_free_mib = 1024\n").unwrap();
        assert_eq!(
            (c.storage.min_free_mib, c.storage.log_interval_secs),
            (1024, 60)
        );
        c.apply_env(|k| match k {
            "CONSENT_STORAGE_MIN_FREE_MIB" => Some("0".into()),
            "CONSENT_STORAGE_LOG_INTERVAL_SECS" => Some("5".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            (c.storage.min_free_mib, c.storage.log_interval_secs),
            (0, 5)
        );
        assert_eq!(
            c.storage.store_options().log_interval,
            std::time::Duration::from_secs(5)
        );
        assert!(
            c.apply_env(|k| (k == "CONSENT_STORAGE_MIN_FREE_MIB").then(|| "256MB".into()))
                .is_err()
        );
        assert!(toml::from_str::<Config>("[storage]\nmin_free = 1\n").is_err());
        c.storage.log_interval_secs = 0;
        assert!(c.check().is_err());
    }

    #[test]
    fn connection_limits_from_file_and_env() {
        let c = Config::default();
        assert_eq!(
            (
                c.max_connections,
                c.header_read_timeout_secs,
                c.keep_alive_timeout_secs,
                c.shutdown_grace_secs,
                c.rate_limit.max_clients
            ),
            (None, 10, 75, 15, 1_000_000)
        );
        let mut c: Config = toml::from_str(
            "max_connections = 500\nheader_read_timeout_secs = 5\nkeep_alive_timeout_secs = 0\n\
             shutdown_grace_secs = 3\n[rate_limit]\nper_second = 1\nburst = 2\nmax_clients = 10\n",
        )
        .unwrap();
        assert_eq!(c.max_connections, Some(500));
        assert_eq!(c.keep_alive_timeout_secs, 0);
        assert_eq!(c.rate_limit.max_clients, 10);
        c.apply_env(|k| match k {
            "CONSENT_MAX_CONNECTIONS" => Some("100".into()),
            "CONSENT_HEADER_READ_TIMEOUT_SECS" => Some("7".into()),
            "CONSENT_KEEP_ALIVE_TIMEOUT_SECS" => Some("30".into()),
            "CONSENT_SHUTDOWN_GRACE_SECS" => Some("20".into()),
            "CONSENT_RATE_MAX_CLIENTS" => Some("5000".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            (
                c.max_connections,
                c.header_read_timeout_secs,
                c.keep_alive_timeout_secs,
                c.shutdown_grace_secs,
                c.rate_limit.max_clients
            ),
            (Some(100), 7, 30, 20, 5000)
        );
        c.check().unwrap();
        c.max_connections = Some(0);
        assert!(c.check().is_err());
        c.max_connections = None;
        c.header_read_timeout_secs = 0;
        assert!(c.check().is_err());
    }
}
