//! What the server and the offline staff commands share: the configuration's policies and keys, the
//! store, and the `AppState` built from them.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use consent_core::{Policy, ServiceScope, UnverifiedReceipt};
use consent_server::AppState;
use consent_server::clock::system_clock;
use consent_server::config::{Config, Role, StaffToken};
use consent_server::keys::{ServerKeys, random32};
use consent_server::privacy::token_hash;
use consent_server::store::{Store, StoreError, Write};

use super::{base64_token, now};

/// The invisionu.education policy, used when no policy file is configured.
const BUNDLED_POLICY: &str = include_str!("../../../examples/invisionu/policy.toml");

/// The current policy (the configured file, or the bundled one) and the previous versions.
pub(crate) fn load_policies(config: &Config) -> Result<(Policy, Vec<Policy>)> {
    let load = |path: &Path| -> Result<Policy> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read policy {}", path.display()))?;
        Policy::from_toml(&text).with_context(|| format!("policy {}", path.display()))
    };
    let current = match &config.policy {
        Some(p) => load(p)?,
        None => Policy::from_toml(BUNDLED_POLICY).context("bundled policy")?,
    };
    let previous = config
        .previous_policies
        .iter()
        .map(|p| load(p))
        .collect::<Result<Vec<_>>>()?;
    Ok((current, previous))
}

/// The key file; development keys are generated when it is missing and `development_keys` is on,
/// never on PostgreSQL: instances that share a database must share one key file.
pub(crate) fn load_keys(config: &Config) -> Result<ServerKeys> {
    if config.keys.exists() {
        return Ok(ServerKeys::load(&config.keys)?);
    }
    if config.database.is_postgres() {
        bail!(
            "key file {} does not exist: on PostgreSQL every instance signs with the same keys, so the \
             server never generates them; create the key file once with `consent-server keygen --out \
             {}` and give each instance a copy",
            config.keys.display(),
            config.keys.display()
        );
    }
    if !config.development_keys {
        bail!(
            "key file {} does not exist: create it with `consent-server keygen --out {}`",
            config.keys.display(),
            config.keys.display()
        );
    }
    let keys = ServerKeys::generate(&config.keys, now(), true)?;
    tracing::warn!("************************************************************************");
    tracing::warn!(
        "GENERATED DEVELOPMENT KEYS in {} (mode 0600).",
        config.keys.display()
    );
    tracing::warn!("Fine for trying things out; for production run `consent-server keygen`,");
    tracing::warn!("set `development_keys = false` and keep the key file secret and backed up.");
    tracing::warn!("************************************************************************");
    Ok(keys)
}

/// Builds the state the server and the offline staff commands share.
pub(crate) async fn state(mut config: Config) -> Result<AppState> {
    let (policy, previous) = load_policies(&config)?;
    let calendar = load_calendar(&config)?;
    let keys = load_keys(&config)?;
    if config.tokens.is_empty() && keys.development && config.development_keys {
        // Development convenience: one token per role, printed once, never stored in clear.
        // The service may record every purpose that needs consent, on every collection point a
        // service may name.
        let purposes: Vec<&str> = policy
            .purposes()
            .iter()
            .filter(|p| p.needs_consent())
            .map(|p| p.id.as_str())
            .collect();
        let kinds: Vec<&str> = ServiceScope::KINDS.iter().map(|k| k.as_str()).collect();
        for (role, name) in [
            (Role::Auditor, "dev-auditor"),
            (Role::Operator, "dev-operator"),
            (Role::Service, "dev-service"),
        ] {
            let token = format!("{name}-{}", base64_token(&random32()?[..12]));
            tracing::warn!("development bearer token for role {role:?}: {token}");
            let hash = token_hash(&token);
            config.tokens.push(match role {
                Role::Service => StaffToken::service(name, hash, &purposes, &kinds),
                _ => StaffToken::new(name, role, hash),
            });
        }
    }
    // A service token's scope must fit the policy: refuse to start otherwise, naming the token.
    config.service_scopes(&policy)?;
    // Webhook subscriptions: a mistake (an unknown event or purpose, a bad secret) stops the start.
    let webhooks = consent_server::webhooks::Subscriptions::new(&config.webhooks, &policy)?;
    let store: Arc<dyn Store> = config
        .database
        .open(config.storage.store_options())
        .with_context(|| format!("cannot open database {}", config.database))?;
    check_keys_match(store.as_ref(), &keys, &config)?;
    for p in std::iter::once(&policy).chain(previous.iter()) {
        let stored = store
            .submit(Write::Policy {
                version: p.version(),
                sha256: p.hash(),
                canonical: p.canonical_json(),
            })?
            .await?;
        if let Err(e @ StoreError::Unavailable { .. }) = stored {
            bail!(
                "cannot store policy {} in database {}: {e} (free space on its disk, or lower \
                 storage.min_free_mib)",
                p.version(),
                config.database
            );
        }
        stored.with_context(|| {
                format!(
                    "cannot use policy {} with database {}: a published policy version never changes \
                     (receipts cite its hash); publish the edited policy under a new version date (its \
                     \"last updated\" date), or start a new database",
                    p.version(),
                    config.database
                )
            })?;
    }
    let state = AppState::new(store, policy, previous, keys, config, system_clock())
        .with_webhooks(webhooks);
    for warning in consent_server::cases::calendar_warnings(&calendar, now()) {
        tracing::warn!("{warning}");
    }
    Ok(state.with_calendar(calendar))
}

/// The working-day calendar: the configured file, or the bundled Kazakhstan calendar.
pub(crate) fn load_calendar(config: &Config) -> Result<consent_core::WorkingDays> {
    match &config.calendar {
        None => Ok(consent_server::cases::bundled_calendar()),
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "cannot read the working-day calendar {} (`calendar` in the configuration, or \
                     CONSENT_CALENDAR; format in spec/SPEC.md section 7)",
                    path.display()
                )
            })?;
            consent_core::WorkingDays::from_toml(&text)
                .with_context(|| format!("working-day calendar {}", path.display()))
        }
    }
}

/// Refuses keys that do not verify the receipt stored last: another instance (or an earlier run) signed
/// with a key this key file does not hold, so the instances do not share one key file.
pub(crate) fn check_keys_match(
    store: &dyn Store,
    keys: &ServerKeys,
    config: &Config,
) -> Result<()> {
    let Some(last) = store
        .last_receipt()
        .with_context(|| format!("cannot read database {}", config.database))?
    else {
        return Ok(());
    };
    let signed = UnverifiedReceipt::parse(&last.jws)
        .with_context(|| format!("receipt {} in database {}", last.id, config.database))?;
    let kid = signed.kid().to_owned();
    if let Err(e) = signed.verify(&keys.receipts) {
        bail!(
            "the key file {} does not verify the last receipt in database {} (receipt {}, key `{kid}`: \
             {e}): every instance on a database must use the same key file (a copy of the one that \
             signed its receipts; after `keygen --rotate`, the rotated file)",
            config.keys.display(),
            config.database,
            last.id
        );
    }
    Ok(())
}

/// Offline commands work on an existing installation: they never create a SQLite database or keys.
pub(crate) fn require_installation(config: &Config) -> Result<()> {
    let sqlite = config.database.sqlite_file().map(|p| ("database", p));
    for (what, path) in sqlite
        .into_iter()
        .chain([("key file", config.keys.as_path())])
    {
        if !path.exists() {
            bail!(
                "{what} {} does not exist: run this in the server's directory, or pass --config",
                path.display()
            );
        }
    }
    Ok(())
}
