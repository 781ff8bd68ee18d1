//! [`AppState`]: what every handler shares (store, policies, keys, configuration, counters, clock).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use consent_core::{Lang, Policy, PolicyVersion, ServiceScope, Timestamp, WorkingDays};

use crate::clock::Clock;
use crate::config::Config;
use crate::encoding::{self, Encoded};
use crate::error::ApiError;
use crate::keys::ServerKeys;
use crate::log::Log;
use crate::metrics::Metrics;
use crate::rate_limit::ClientLimiter;
use crate::store::{Store, StoreError, Write, Written};

/// Shared state of the handlers: one allocation behind an [`Arc`], so that the clone every extractor
/// and layer takes per request is one counter, not one per field ([`StateParts`], read through
/// `Deref`).
#[derive(Clone)]
pub struct AppState(Arc<StateParts>);

/// What [`AppState`] shares.
#[derive(Clone)]
pub struct StateParts {
    /// Where receipts go.
    pub store: Arc<dyn Store>,
    /// The current policy.
    pub policy: Arc<Policy>,
    /// Every policy version served, including the current one.
    pub policies: Arc<BTreeMap<PolicyVersion, Arc<Policy>>>,
    /// Keys.
    pub keys: Arc<ServerKeys>,
    /// The consent log: its keys, witnesses, and the signal that it grew.
    pub log: Arc<Log>,
    /// Configuration.
    pub config: Arc<Config>,
    /// What each of `config.tokens` may record, in the same order ([`Config::service_scopes`]):
    /// nothing for staff tokens, and for all of them if the configuration does not fit the policy
    /// (`serve` refuses to start then; this only fails closed for states built otherwise).
    pub service_scopes: Arc<Vec<ServiceScope>>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Time source.
    pub clock: Clock,
    /// The working-day calendar of rights requests' due dates (`calendar` in the configuration; the
    /// bundled Kazakhstan calendar by default).
    pub calendar: Arc<WorkingDays>,
    /// The webhook subscriptions (issue 20.4): which deliveries a receipt or rights event makes.
    pub webhooks: Arc<crate::webhooks::Subscriptions>,
    /// Token buckets of the rate limit, by client (IPv4 address or IPv6 /64).
    pub(crate) limiter: Arc<ClientLimiter>,
    /// Compressed bodies kept by key (`policy/2025-03-26`, `consent/banner.js`), with the entity tag of
    /// what they were made from: a new tag replaces the entry.
    pub(crate) encoded: Arc<encoding::Cache>,
}

impl std::ops::Deref for AppState {
    type Target = StateParts;

    fn deref(&self) -> &StateParts {
        &self.0
    }
}

impl AppState {
    /// State for `policy` (current) and `previous` versions.
    pub fn new(
        store: Arc<dyn Store>,
        policy: Policy,
        previous: Vec<Policy>,
        keys: ServerKeys,
        config: Config,
        clock: Clock,
    ) -> AppState {
        let policy = Arc::new(policy);
        let mut policies: BTreeMap<PolicyVersion, Arc<Policy>> = previous
            .into_iter()
            .map(|p| (p.version(), Arc::new(p)))
            .collect();
        policies.insert(policy.version(), Arc::clone(&policy));
        let service_scopes = config.service_scopes(&policy).unwrap_or_else(|e| {
            tracing::error!(error = %e, "service tokens may record nothing");
            vec![ServiceScope::NOTHING; config.tokens.len()]
        });
        AppState(Arc::new(StateParts {
            store,
            policy,
            policies: Arc::new(policies),
            log: Arc::new(Log::new(&config.log, &keys)),
            keys: Arc::new(keys),
            limiter: Arc::new(ClientLimiter::new(config.rate_limit)),
            config: Arc::new(config),
            service_scopes: Arc::new(service_scopes),
            metrics: Arc::new(Metrics::default()),
            clock,
            calendar: Arc::new(crate::cases::bundled_calendar()),
            webhooks: Arc::new(crate::webhooks::Subscriptions::default()),
            encoded: Arc::new(Mutex::new(HashMap::new())),
        }))
    }

    /// The same state with `webhooks` as the subscriptions.
    pub fn with_webhooks(mut self, webhooks: crate::webhooks::Subscriptions) -> AppState {
        Arc::make_mut(&mut self.0).webhooks = Arc::new(webhooks);
        self
    }

    /// The same state with `calendar` for due dates.
    pub fn with_calendar(mut self, calendar: WorkingDays) -> AppState {
        Arc::make_mut(&mut self.0).calendar = Arc::new(calendar);
        self
    }

    /// Forgets, every few seconds, the rate-limit state of clients whose buckets are full again (they are
    /// the same as new clients), so that the limiter's table holds recent clients only. `serve` runs it
    /// beside the server; it never returns.
    pub async fn forget_idle_clients(&self) {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let limiter = Arc::clone(&self.limiter);
            // The pass locks each shard of the table in turn: a blocking thread, not a runtime worker.
            if let Ok(clients) = tokio::task::spawn_blocking(move || {
                limiter.forget_idle();
                limiter.clients()
            })
            .await
            {
                self.metrics
                    .rate_limit_clients
                    .store(clients as u64, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// The canonical JSON of `policy` with its compressed forms (made once per version), and its entity
    /// tag (the policy's hash).
    pub(crate) async fn policy_body(
        &self,
        policy: &Arc<Policy>,
    ) -> Result<(Arc<Encoded>, String), ApiError> {
        let etag = format!("\"{}\"", policy.hash());
        let json = Arc::clone(policy);
        let body = self
            .encoded(format!("policy/{}", policy.version()), &etag, move || {
                Ok(json.canonical_json().into_bytes())
            })
            .await
            .map_err(ApiError::internal)?;
        Ok((body, etag))
    }

    /// The banner view of a policy in a language (`Policy::banner_view`), compressed as
    /// [`AppState::policy_body`] is, with the policy's hash and the view's language as entity tag.
    pub(crate) async fn banner_view_body(
        &self,
        policy: &Arc<Policy>,
        lang: Lang,
    ) -> Result<(Arc<Encoded>, String), ApiError> {
        let lang = policy.banner_view_language(lang);
        let etag = format!("\"{}-{lang}\"", policy.hash());
        let json = Arc::clone(policy);
        let body = self
            .encoded(
                format!("policy/{}/banner/{lang}", policy.version()),
                &etag,
                move || Ok(json.banner_view(lang).into_bytes()),
            )
            .await
            .map_err(ApiError::internal)?;
        Ok((body, etag))
    }

    /// Compresses the current policy's JSON now rather than on its first request (brotli at quality 11
    /// takes a few hundred milliseconds on a small machine): `serve` does it as it starts.
    pub async fn prepare(&self) {
        let _ = self.policy_body(&self.policy).await;
        for &lang in self.policy.languages() {
            let _ = self.banner_view_body(&self.policy, lang).await;
        }
    }

    /// The compressed forms of the body that `key` names and `etag` tags, made by `body` (read and
    /// compressed on a blocking thread) the first time, then kept.
    pub(crate) async fn encoded(
        &self,
        key: String,
        etag: &str,
        body: impl FnOnce() -> std::io::Result<Vec<u8>> + Send + 'static,
    ) -> std::io::Result<Arc<Encoded>> {
        if let Some(e) = encoding::cached(&self.encoded, &key, etag) {
            return Ok(e);
        }
        let e = Arc::new(
            tokio::task::spawn_blocking(move || body().map(Encoded::new))
                .await
                .map_err(std::io::Error::other)??,
        );
        encoding::keep(&self.encoded, key, etag, &e);
        Ok(e)
    }

    /// The time now, from the state's clock: seconds and milliseconds.
    pub(crate) fn now(&self) -> (Timestamp, u32) {
        (self.clock)()
    }

    /// Runs blocking reads of the store on a blocking thread.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = Arc::clone(&self.store);
        Ok(tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(ApiError::internal)??)
    }

    /// Submits a write and waits until it is committed durably; a write that logged an entry wakes the
    /// checkpoint signer.
    pub(crate) async fn write(&self, write: Write) -> Result<Written, ApiError> {
        let written = self
            .store
            .submit(write)?
            .await
            .map_err(ApiError::internal)??;
        if matches!(written, Written::Logged(_)) {
            self.log.grown.notify_one();
        }
        Ok(written)
    }
}
