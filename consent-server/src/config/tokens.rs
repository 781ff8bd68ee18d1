//! Bearer tokens in the configuration: who holds each, its role, the SHA-256 it is checked against, and
//! for a service token what it may record.

use consent_core::{Policy, ServiceScope};
use serde::Deserialize;

use super::ConfigError;

/// A staff or service bearer token, stored as the SHA-256 of the token (hex), never the token.
///
/// A `service` token also says what it may record (its scope: product rule 12, a service records only
/// the purposes and collection points it is allowed): `purposes` (ids of the current policy, purposes
/// that need consent) and `collection_points` (`banner`, `form`, `api`). Both are required for a
/// service token (empty lists for a service that records nothing) and refused for the other roles;
/// [`Config::service_scopes`](super::Config::service_scopes) checks the purposes against the policy when the server starts.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffToken {
    /// Who holds it (logged, e.g. "dpo", "mailing-service").
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// SHA-256 of the token, 64 lower-case hex digits (`consent-server token hash`).
    pub sha256: String,
    /// Service tokens: the purposes it may record (`decisions`, and the one-click unsubscribe links
    /// it may make), by id.
    #[serde(default)]
    pub purposes: Option<Vec<String>>,
    /// Service tokens: the kinds of collection point it may record (`banner`, `form`, `api`).
    #[serde(default)]
    pub collection_points: Option<Vec<String>>,
}

impl StaffToken {
    /// A token of `role` without a scope (an auditor's or an operator's) whose hash is `sha256`.
    pub fn new(name: impl Into<String>, role: Role, sha256: impl Into<String>) -> StaffToken {
        StaffToken {
            name: name.into(),
            role,
            sha256: sha256.into(),
            purposes: None,
            collection_points: None,
        }
    }

    /// A `service` token that may record `purposes` on `collection_points`.
    pub fn service(
        name: impl Into<String>,
        sha256: impl Into<String>,
        purposes: &[&str],
        collection_points: &[&str],
    ) -> StaffToken {
        let owned = |v: &[&str]| Some(v.iter().map(|s| (*s).to_owned()).collect());
        StaffToken {
            purposes: owned(purposes),
            collection_points: owned(collection_points),
            ..StaffToken::new(name, Role::Service, sha256)
        }
    }

    /// What the token may record under `policy`: its configured scope for a `service` token, nothing
    /// for the other roles.
    pub fn scope(&self, policy: &Policy) -> Result<ServiceScope, ConfigError> {
        let bad = |m: String| ConfigError::Parse("configuration".into(), m);
        match (self.role, &self.purposes, &self.collection_points) {
            (Role::Service, Some(purposes), Some(kinds)) => {
                ServiceScope::parse(policy, purposes, kinds)
                    .map_err(|e| bad(format!("token `{}`: {e}", self.name)))
            }
            (Role::Service, _, _) => Err(bad(format!(
                "token `{}`: a service token needs `purposes` and `collection_points`, what it may \
                 record (e.g. purposes = [\"marketing\"], collection_points = [\"form\", \"api\"]; \
                 empty lists for a service that records nothing)",
                self.name
            ))),
            (_, None, None) => Ok(ServiceScope::NOTHING),
            _ => Err(bad(format!(
                "token `{}`: `purposes` and `collection_points` are for service tokens only",
                self.name
            ))),
        }
    }
}

impl std::fmt::Debug for StaffToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffToken")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("sha256", &"<redacted>")
            .field("purposes", &self.purposes)
            .field("collection_points", &self.collection_points)
            .finish()
    }
}

/// Roles of bearer tokens.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read and export receipts and subject histories.
    Auditor,
    /// Rights requests: withdraw, restrict, unblock, erase, access export (and reads).
    Operator,
    /// Backend services: record consents for authenticated subjects, make unsubscribe links.
    Service,
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    #[test]
    fn unknown_keys_are_errors_and_tokens_are_redacted() {
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
        let t = StaffToken::new("dpo", Role::Auditor, "ab".repeat(32));
        assert!(!format!("{t:?}").contains("abab"));
    }

    #[test]
    fn service_tokens_carry_a_scope_checked_against_the_policy() {
        let policy =
            Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml")).unwrap();
        let hash = "ab".repeat(32);
        let config = |tokens: &str| -> Config {
            toml::from_str(&format!(
                "[[tokens]]\nname = \"t\"\nsha256 = \"{hash}\"\n{tokens}"
            ))
            .unwrap()
        };
        let c = config(
            "role = \"service\"\npurposes = [\"marketing\", \"events\"]\ncollection_points = [\"form\", \"api\"]",
        );
        let code = |id: &str| policy.purpose_by_str(id).unwrap().code;
        let scopes = c.service_scopes(&policy).unwrap();
        assert_eq!(
            scopes[0].purposes(),
            consent_core::PurposeSet::from_codes([code("marketing"), code("events")])
        );
        assert!(scopes[0].may_collect(consent_core::CollectionKind::Form));
        assert!(!scopes[0].may_collect(consent_core::CollectionKind::Banner));
        // A service that may record nothing says so.
        let c = config("role = \"service\"\npurposes = []\ncollection_points = []");
        assert_eq!(c.service_scopes(&policy).unwrap(), [ServiceScope::NOTHING]);
        // Staff tokens have no scope.
        let c = config("role = \"operator\"");
        assert_eq!(c.service_scopes(&policy).unwrap(), [ServiceScope::NOTHING]);
        for (tokens, message) in [
            (
                "role = \"service\"",
                "token `t`: a service token needs `purposes` and `collection_points`",
            ),
            (
                "role = \"service\"\npurposes = [\"marketing\"]",
                "token `t`: a service token needs",
            ),
            (
                "role = \"service\"\npurposes = [\"newsletter\"]\ncollection_points = [\"form\"]",
                "token `t`: purposes: the policy has no purpose `newsletter`",
            ),
            (
                "role = \"service\"\npurposes = [\"cookies-necessary\"]\ncollection_points = [\"form\"]",
                "token `t`: purposes: `cookies-necessary` needs no consent",
            ),
            (
                "role = \"service\"\npurposes = []\ncollection_points = [\"staff\"]",
                "token `t`: collection_points: `staff` is the server's own",
            ),
            (
                "role = \"auditor\"\npurposes = [\"marketing\"]",
                "token `t`: `purposes` and `collection_points` are for service tokens only",
            ),
        ] {
            let err = config(tokens)
                .service_scopes(&policy)
                .unwrap_err()
                .to_string();
            assert!(err.contains(message), "{tokens}: {err}");
        }
    }
}
