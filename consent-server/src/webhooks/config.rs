//! The subscriptions (`[[webhooks]]`): as written in the configuration ([`WebhookConfig`]), and as
//! checked at start ([`Subscriptions`]): a known name once, an http(s) URL, a Standard Webhooks secret
//! (`whsec_` and base64, in the file or in a file of its own), known events, purposes of the policy.

use std::path::PathBuf;
use std::time::Duration;

use consent_core::{Policy, PurposeId, WebhookEvent};
use serde::Deserialize;

use crate::config::ConfigError;

/// One `[[webhooks]]` entry, as written.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The receiving system, as logged, listed and counted (e.g. `mailing-service`).
    pub name: String,
    /// Where deliveries are POSTed (`http://` or `https://`).
    pub url: String,
    /// The Standard Webhooks secret, `whsec_` and base64 of 24 to 64 random bytes; or `secret_file`.
    #[serde(default)]
    pub secret: Option<String>,
    /// A file holding the secret (its first line), instead of `secret`.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// The events sent: `consent.given`, `consent.withdrawn`, `consent.refused`, `consent.expired`,
    /// `consent.unsubscribed`, `subject.restricted`, `subject.unblocked`, `subject.erased`.
    pub events: Vec<String>,
    /// Only events about these purposes (ids of the current policy); default: every purpose.
    /// `subject.*` events concern every purpose and are always sent.
    #[serde(default)]
    pub purposes: Option<Vec<String>>,
    /// A delivery not acknowledged this many seconds after its event moves to dead-letter (default:
    /// 3 days).
    #[serde(default = "default_dead_after")]
    pub dead_after_secs: u64,
    /// Seconds an attempt may take (default 10).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// The first retry's delay in milliseconds (default 1000); doubled after each failure.
    #[serde(default = "default_retry_min")]
    pub retry_min_ms: u64,
    /// The longest delay between attempts, in seconds (default 3600).
    #[serde(default = "default_retry_max")]
    pub retry_max_secs: u64,
}

fn default_dead_after() -> u64 {
    3 * 86_400
}
fn default_timeout() -> u64 {
    10
}
fn default_retry_min() -> u64 {
    1000
}
fn default_retry_max() -> u64 {
    3600
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("secret_file", &self.secret_file)
            .field("events", &self.events)
            .field("purposes", &self.purposes)
            .finish_non_exhaustive()
    }
}

/// A Standard Webhooks secret: the key bytes (redacted in `Debug`).
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// Parses `whsec_` and base64 (standard alphabet) of 24 to 64 bytes.
    ///
    /// ```
    /// use consent_server::webhooks::WebhookSecret;
    /// assert!(WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
    /// assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
    /// assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<WebhookSecret, String> {
        use base64::Engine as _;
        let b64 = text
            .trim()
            .strip_prefix("whsec_")
            .ok_or("a secret is `whsec_` followed by base64")?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| "the secret after `whsec_` is not base64".to_owned())?;
        if !(24..=64).contains(&key.len()) {
            return Err(format!(
                "the secret is {} bytes; Standard Webhooks asks for 24 to 64 random bytes",
                key.len()
            ));
        }
        Ok(WebhookSecret(key))
    }

    /// The key, for `standardwebhooks::Webhook::from_bytes`.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// A checked subscription.
#[derive(Clone, Debug)]
pub struct Subscription {
    /// Its name.
    pub name: String,
    /// Where to POST.
    pub url: reqwest::Url,
    /// The signing secret.
    pub secret: WebhookSecret,
    /// The events sent.
    pub events: Vec<WebhookEvent>,
    /// The purposes it hears of (`None`: every purpose).
    pub purposes: Option<Vec<PurposeId>>,
    /// Dead-letter after this long.
    pub dead_after: Duration,
    /// One attempt's time limit.
    pub timeout: Duration,
    /// The first retry's delay.
    pub retry_min: Duration,
    /// The longest delay.
    pub retry_max: Duration,
}

/// Every subscription, checked against the policy.
#[derive(Clone, Debug, Default)]
pub struct Subscriptions {
    pub(super) list: Vec<Subscription>,
    /// The current policy's purposes (what `subject.*` events concern).
    pub(super) all_purposes: Vec<PurposeId>,
}

impl Subscriptions {
    /// Checks `configs` against `policy`: the first problem is the error, naming the subscription.
    pub fn new(configs: &[WebhookConfig], policy: &Policy) -> Result<Subscriptions, ConfigError> {
        let mut list: Vec<Subscription> = Vec::with_capacity(configs.len());
        for c in configs {
            let bad = |m: String| {
                ConfigError::Parse("configuration".into(), format!("webhook `{}`: {m}", c.name))
            };
            if c.name.is_empty()
                || !c
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(bad(
                    "name must be letters, digits, `-`, `_` or `.` (it is shown in /metrics)"
                        .into(),
                ));
            }
            if list.iter().any(|s| s.name == c.name) {
                return Err(bad("a second webhook with this name".into()));
            }
            let url = reqwest::Url::parse(&c.url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .ok_or_else(|| bad(format!("url `{}` is not an http(s) URL", c.url)))?;
            let text = match (&c.secret, &c.secret_file) {
                (Some(s), None) => s.clone(),
                (None, Some(path)) => std::fs::read_to_string(path)
                    .map_err(|e| bad(format!("cannot read secret_file {}: {e}", path.display())))?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                _ => {
                    return Err(bad(
                        "give exactly one of `secret` (whsec_…) and `secret_file`".into(),
                    ));
                }
            };
            let secret = WebhookSecret::parse(&text).map_err(bad)?;
            if c.events.is_empty() {
                return Err(bad(format!(
                    "events is empty; choose from {}",
                    WebhookEvent::ALL.map(WebhookEvent::as_str).join(", ")
                )));
            }
            let events = c
                .events
                .iter()
                .map(|e| {
                    e.parse::<WebhookEvent>().map_err(|m| {
                        bad(format!(
                            "{m}; choose from {}",
                            WebhookEvent::ALL.map(WebhookEvent::as_str).join(", ")
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let purposes = match &c.purposes {
                None => None,
                Some(ids) => Some(
                    ids.iter()
                        .map(|id| {
                            policy
                                .purposes()
                                .iter()
                                .find(|p| p.id.as_str() == id)
                                .map(|p| p.id)
                                .ok_or_else(|| {
                                    bad(format!("purpose `{id}` is not in the current policy"))
                                })
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
            if c.timeout_secs == 0 || c.retry_min_ms == 0 || c.dead_after_secs == 0 {
                return Err(bad(
                    "timeout_secs, retry_min_ms and dead_after_secs must be at least 1".into(),
                ));
            }
            if c.retry_max_secs.saturating_mul(1000) < c.retry_min_ms {
                return Err(bad("retry_max_secs is shorter than retry_min_ms".into()));
            }
            list.push(Subscription {
                name: c.name.clone(),
                url,
                secret,
                events,
                purposes,
                dead_after: Duration::from_secs(c.dead_after_secs),
                timeout: Duration::from_secs(c.timeout_secs),
                retry_min: Duration::from_millis(c.retry_min_ms),
                retry_max: Duration::from_secs(c.retry_max_secs),
            });
        }
        Ok(Subscriptions {
            list,
            all_purposes: policy.purposes().iter().map(|p| p.id).collect(),
        })
    }

    /// The subscriptions, in the configuration's order.
    pub fn list(&self) -> &[Subscription] {
        &self.list
    }

    /// The subscription named `name`.
    pub fn get(&self, name: &str) -> Option<&Subscription> {
        self.list.iter().find(|s| s.name == name)
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml")).unwrap()
    }

    fn one(extra: &str) -> Result<Subscriptions, ConfigError> {
        let text = format!(
            "name = \"mailing\"\nurl = \"http://127.0.0.1:9/hook\"\n\
             secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n{extra}"
        );
        let c: WebhookConfig = toml::from_str(&text).unwrap();
        Subscriptions::new(&[c], &policy())
    }

    #[test]
    fn a_good_subscription_is_taken() {
        let s = one("events = [\"consent.withdrawn\"]\npurposes = [\"marketing\"]").unwrap();
        assert_eq!(s.list()[0].events, vec![WebhookEvent::Withdrawn]);
        assert!(
            !format!("{s:?}").contains("MfKQ9r8"),
            "the secret is redacted"
        );
    }

    #[test]
    fn mistakes_are_named() {
        let err = |extra: &str| one(extra).unwrap_err().to_string();
        assert!(err("events = [\"consent.withdrawm\"]").contains("unknown webhook event"));
        assert!(err("events = []").contains("events is empty"));
        assert!(err("events = [\"consent.given\"]\npurposes = [\"nope\"]").contains("`nope`"));
        let c: WebhookConfig = toml::from_str(
            "name = \"m\"\nurl = \"ftp://x/\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nevents = [\"consent.given\"]",
        )
        .unwrap();
        let e = Subscriptions::new(&[c.clone(), c], &policy()).unwrap_err();
        assert!(e.to_string().contains("not an http(s) URL"), "{e}");
    }
}
