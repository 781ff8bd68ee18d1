//! Signed consent receipts: the payload and how it is built from a policy; its typestate
//! (`UnverifiedReceipt::verify` gives a `VerifiedReceipt`) is in `verified`.

#[allow(unused_imports)]
use crate::prelude::*;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    Actor, Choice, CollectionKind, Country, Id, JwsError, KeySet, Lang, Method, ParseError,
    PersonalField, Policy, PolicyVersion, PurposeId, PurposeKind, ReceiptId, RecipientKind,
    SealedPersonal, Timestamp,
};

mod verified;
pub use verified::{UnverifiedReceipt, VerifiedReceipt};

/// The JWS `typ` of receipts: keeps receipts apart from anything else signed with the same keys.
pub const RECEIPT_TYP: &str = "consent-receipt+jwt";
/// Payload version 1: names in clear ([`ReceiptPayload::new`]). Still written and read.
pub const RECEIPT_VERSION: u8 = 1;
/// Payload version 2: every field that names a person sealed under the subject's data key, in
/// `personal` ([`ReceiptPayload::new_v2`]).
pub const RECEIPT_VERSION_SEALED: u8 = 2;

/// The policy a receipt binds: id, version, SHA-256 of its canonical form, URL.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    /// Policy id.
    pub id: Id,
    /// Version (date).
    pub version: PolicyVersion,
    /// SHA-256 of the canonical form, lower-case hex.
    pub sha256: String,
    /// Where this version is published.
    pub url: String,
}

/// Where and with what the choice was collected.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionPoint {
    /// Banner, form, API, e-mail or staff.
    pub kind: CollectionKind,
    /// SHA-256 of the banner build the person saw (lower-case hex), for banner choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// The page (URL without query) where the choice was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

/// The items a consent must contain under Kazakhstan's Law 94-V, Art. 8(4).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LawItems {
    /// (1) The operator's name.
    pub operator_name: String,
    /// (1) The operator's BIN.
    pub operator_bin: String,
    /// (2) The subject's full name, when known (forms); absent for anonymous visitors. Version 1 only:
    /// version 2 seals it in `personal.subject_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_name: Option<String>,
    /// (3) The term of the consent.
    pub term: String,
    /// (4) Third parties the data may go to (empty: none).
    pub third_parties: Vec<String>,
    /// (5) Countries of cross-border transfer (empty: none; `*` where the policy names none).
    pub cross_border: Vec<String>,
    /// (6) Public sources the data may be disseminated in (empty: none).
    pub public_dissemination: Vec<String>,
    /// (7) The data collected.
    pub data: Vec<String>,
}

/// What a receipt says. Field names follow JWT where one exists (`jti`, `iat`, `iss`, `sub`, `exp`).
///
/// Version 1 ([`RECEIPT_VERSION`]) carries names in clear (`representative`, `kz.subject_name`);
/// version 2 ([`RECEIPT_VERSION_SEALED`]) has neither and carries them sealed in `personal`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ReceiptPayload {
    /// Payload version, [`RECEIPT_VERSION`] or [`RECEIPT_VERSION_SEALED`].
    pub v: u8,
    /// Receipt id.
    pub jti: ReceiptId,
    /// Server time of the choice.
    pub iat: Timestamp,
    /// Who issued the receipt (the consent server's URL).
    pub iss: String,
    /// Pseudonymous subject (never a raw e-mail or name).
    pub sub: String,
    /// When the consents given here lapse.
    pub exp: Timestamp,
    /// The exact policy shown.
    pub policy: PolicyRef,
    /// Language the texts were shown in.
    pub lang: Lang,
    /// How the choice was made.
    pub method: Method,
    /// Where it was collected.
    pub collection: CollectionPoint,
    /// The choice for each purpose decided.
    pub decisions: BTreeMap<PurposeId, Choice>,
    /// Who decided: the subject or a legal representative.
    pub by: Actor,
    /// The representative's name, in clear, when a representative decided (version 1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative: Option<String>,
    /// Whether the browser sent Global Privacy Control.
    pub gpc: bool,
    /// Law 94-V Art. 8(4) items (in version 2 without `subject_name`, which is in `personal`).
    pub kz: LawItems,
    /// The fields that name a person, sealed under the subject's data key (version 2 only, and always
    /// there in version 2, empty when the receipt names nobody).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal: Option<SealedPersonal>,
}

/// Why a receipt could not be built, parsed or verified.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// The JWS is malformed or its signature does not verify.
    #[error(transparent)]
    Jws(#[from] JwsError),
    /// The payload is not a receipt.
    #[error("receipt payload is invalid: {0}")]
    Payload(String),
    /// A payload version this library does not know.
    #[error("unknown receipt version {0}")]
    UnknownVersion(u64),
    /// The consents it records have lapsed.
    #[error("receipt expired at {0}")]
    Expired(Timestamp),
    /// A decision names a purpose the policy does not have.
    #[error("the policy has no purpose `{0}`")]
    UnknownPurpose(PurposeId),
    /// The receipt was issued under another policy (hash mismatch).
    #[error("receipt binds policy {receipt}, not {policy}")]
    PolicyMismatch {
        /// Hash in the receipt.
        receipt: String,
        /// Hash of the policy given.
        policy: String,
    },
    /// A field breaks a rule.
    #[error("invalid receipt: {0}")]
    Invalid(String),
    /// A sealed personal field does not open with the data key given: the wrong key, or a ciphertext
    /// that was altered or moved from another receipt or field.
    #[error("the sealed {0} does not open with this data key")]
    Unseal(PersonalField),
}

impl From<ParseError> for ReceiptError {
    fn from(e: ParseError) -> Self {
        ReceiptError::Invalid(e.to_string())
    }
}

/// What the server knows when it records a choice; [`ReceiptPayload::new`] adds the rest from the policy.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReceiptRequest {
    /// Receipt id (drawn by the server).
    pub id: ReceiptId,
    /// Server time.
    pub issued_at: Timestamp,
    /// The server's URL.
    pub issuer: String,
    /// Pseudonymous subject.
    pub subject: String,
    /// Language shown.
    pub lang: Lang,
    /// How the choice was made.
    pub method: Method,
    /// Where.
    pub collection: CollectionPoint,
    /// The choices.
    pub decisions: BTreeMap<PurposeId, Choice>,
    /// Who decided.
    pub by: Actor,
    /// The representative's name, if one decided.
    pub representative: Option<String>,
    /// The subject's full name, when known (Art. 8(4)(2)).
    pub subject_name: Option<String>,
    /// Global Privacy Control was on.
    pub gpc: bool,
    /// Expiry; default: the policy's choice validity after `issued_at`.
    pub expires_at: Option<Timestamp>,
}

impl ReceiptRequest {
    /// A request with the required fields; optional ones empty, `by` the subject, no GPC.
    #[allow(
        clippy::too_many_arguments,
        reason = "each argument is a required field of the receipt"
    )]
    pub fn new(
        id: ReceiptId,
        issued_at: Timestamp,
        issuer: impl Into<String>,
        subject: impl Into<String>,
        lang: Lang,
        method: Method,
        collection: CollectionPoint,
        decisions: BTreeMap<PurposeId, Choice>,
    ) -> Self {
        ReceiptRequest {
            id,
            issued_at,
            issuer: issuer.into(),
            subject: subject.into(),
            lang,
            method,
            collection,
            decisions,
            by: Actor::Subject,
            representative: None,
            subject_name: None,
            gpc: false,
            expires_at: None,
        }
    }
}

fn push_unique(list: &mut Vec<String>, s: &str) {
    if !list.iter().any(|x| x == s) {
        list.push(s.to_owned());
    }
}

impl ReceiptPayload {
    /// Builds the payload of a version 1 receipt for `req` under `policy`, with the Law 94-V items
    /// computed from the purposes consented to: recipients, cross-border countries, public channels,
    /// data categories and terms, in the receipt's language. Names are written in clear; see
    /// [`ReceiptPayload::new_v2`] for receipts whose names can be erased.
    ///
    /// Every decided purpose must exist in the policy, and at least one must be decided.
    pub fn new(policy: &Policy, req: ReceiptRequest) -> Result<ReceiptPayload, ReceiptError> {
        Self::build(policy, req, RECEIPT_VERSION)
    }

    pub(crate) fn build(
        policy: &Policy,
        req: ReceiptRequest,
        version: u8,
    ) -> Result<ReceiptPayload, ReceiptError> {
        if req.decisions.is_empty() {
            return Err(ReceiptError::Invalid("no decisions".into()));
        }
        let lang = if policy.languages().contains(&req.lang) {
            req.lang
        } else {
            policy.default_language()
        };
        let text = |t: &crate::Texts| t.get_or(lang, policy.default_language()).to_owned();
        let mut items = LawItems {
            operator_name: text(&policy.controller().name),
            operator_bin: policy.controller().bin.clone(),
            subject_name: req.subject_name,
            term: String::new(),
            third_parties: Vec::new(),
            cross_border: Vec::new(),
            public_dissemination: Vec::new(),
            data: Vec::new(),
        };
        let mut terms = Vec::new();
        for (id, choice) in &req.decisions {
            let p = policy
                .purpose(*id)
                .ok_or(ReceiptError::UnknownPurpose(*id))?;
            if *choice != Choice::Given {
                continue;
            }
            push_unique(&mut terms, &text(&p.term));
            for r in p.recipients.iter().filter_map(|r| policy.recipient(r)) {
                let name = text(&r.name);
                if r.kind == RecipientKind::Public {
                    if p.kind == PurposeKind::PublicDissemination {
                        push_unique(&mut items.public_dissemination, &name);
                    }
                } else {
                    push_unique(&mut items.third_parties, &name);
                }
            }
            for c in &p.cross_border {
                if *c != policy.jurisdiction() || *c == Country::Unspecified {
                    push_unique(&mut items.cross_border, c.as_str());
                }
            }
            for d in p
                .data_categories
                .iter()
                .filter_map(|d| policy.data_category(d))
            {
                push_unique(&mut items.data, &text(&d.name));
            }
        }
        items.term = terms.join("; ");
        let exp = req.expires_at.unwrap_or_else(|| {
            req.issued_at
                .add_months(u32::from(policy.choice_validity_months()))
        });
        if exp <= req.issued_at {
            return Err(ReceiptError::Invalid("expires before it is issued".into()));
        }
        if req.by == Actor::Subject && req.representative.is_some() {
            return Err(ReceiptError::Invalid(
                "a representative's name without a representative".into(),
            ));
        }
        Ok(ReceiptPayload {
            v: version,
            jti: req.id,
            iat: req.issued_at,
            iss: req.issuer,
            sub: req.subject,
            exp,
            policy: PolicyRef {
                id: policy.id().clone(),
                version: policy.version(),
                sha256: policy.hash().to_string(),
                url: policy.url().to_owned(),
            },
            lang,
            method: req.method,
            collection: req.collection,
            decisions: req.decisions,
            by: req.by,
            representative: req.representative,
            gpc: req.gpc,
            kz: items,
            personal: None,
        })
    }

    /// The payload as compact JSON (the bytes that get signed).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Signs the receipt with the key set's active key: a JWS compact string.
    pub fn sign(&self, keys: &KeySet) -> Result<String, ReceiptError> {
        Ok(keys.sign(RECEIPT_TYP, self.to_json().as_bytes())?)
    }

    fn from_json(bytes: &[u8]) -> Result<ReceiptPayload, ReceiptError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| ReceiptError::Payload(e.to_string()))?;
        let version = match value.get("v").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(RECEIPT_VERSION) => RECEIPT_VERSION,
            Some(v) if v == u64::from(RECEIPT_VERSION_SEALED) => RECEIPT_VERSION_SEALED,
            Some(v) => return Err(ReceiptError::UnknownVersion(v)),
            None => return Err(ReceiptError::Payload("missing version `v`".into())),
        };
        let p: ReceiptPayload =
            serde_json::from_value(value).map_err(|e| ReceiptError::Payload(e.to_string()))?;
        if version == RECEIPT_VERSION_SEALED {
            if p.personal.is_none() {
                return Err(ReceiptError::Payload(
                    "version 2 requires `personal`".into(),
                ));
            }
            if p.representative.is_some() || p.kz.subject_name.is_some() {
                return Err(ReceiptError::Payload(
                    "version 2 carries names only sealed, in `personal`".into(),
                ));
            }
        } else if p.personal.is_some() {
            return Err(ReceiptError::Payload(
                "unknown field `personal` in version 1".into(),
            ));
        }
        if p.exp <= p.iat {
            return Err(ReceiptError::Payload("expires before it is issued".into()));
        }
        if p.policy.sha256.len() != 64
            || !p
                .policy
                .sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(ReceiptError::Payload(
                "policy.sha256 is not 64 lower-case hex digits".into(),
            ));
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HmacKey, Relation};

    const V1: &str = include_str!("../../examples/invisionu/policy.toml");

    pub(crate) fn request(decisions: &[(&str, Choice)]) -> ReceiptRequest {
        ReceiptRequest::new(
            ReceiptId([7; 16]),
            Timestamp::from_unix(1_750_000_000),
            "https://consent.invisionu.education",
            "dev:AAAAAAAAAAAAAAAAAAAAAA",
            Lang::RU,
            Method::Custom,
            CollectionPoint {
                kind: CollectionKind::Banner,
                build: Some("ab".repeat(32)),
                page: Some("https://invisionu.education/".into()),
            },
            decisions
                .iter()
                .map(|(p, c)| (p.parse().unwrap(), *c))
                .collect(),
        )
    }

    fn keys() -> KeySet {
        KeySet::new()
            .with_ed25519("ed1".parse().unwrap(), [1; 32])
            .with_hs256("hs1".parse().unwrap(), HmacKey::from_bytes([2; 32]))
            .activate("ed1".parse().unwrap())
            .unwrap()
    }

    #[test]
    fn law_items_come_from_the_given_purposes() {
        let policy = Policy::from_toml(V1).unwrap();
        let mut req = request(&[
            ("transfer-abroad", Choice::Given),
            ("public-dissemination", Choice::Given),
            ("marketing", Choice::Refused),
        ]);
        req.by = Actor::Representative(Relation::Parent);
        req.representative = Some("Айгүл Серікова".into());
        req.subject_name = Some("Нұрлан Серіков".into());
        let p = ReceiptPayload::new(&policy, req).unwrap();
        assert_eq!(p.kz.operator_bin, "220740042362");
        assert!(p.kz.operator_name.contains("Spark Programs"));
        assert_eq!(p.kz.cross_border, ["*"]);
        assert_eq!(
            p.kz.public_dissemination.len(),
            4,
            "{:?}",
            p.kz.public_dissemination
        );
        assert!(!p.kz.third_parties.is_empty());
        assert!(!p.kz.data.is_empty());
        assert!(!p.kz.term.is_empty());
        assert_eq!(p.policy.sha256, policy.hash().to_string());
        assert_eq!(p.exp, p.iat.add_months(6));
        // Refused purposes add nothing.
        let only_refused =
            ReceiptPayload::new(&policy, request(&[("marketing", Choice::Refused)])).unwrap();
        assert!(only_refused.kz.third_parties.is_empty() && only_refused.kz.data.is_empty());
    }

    #[test]
    fn sign_parse_verify_round_trip() {
        let policy = Policy::from_toml(V1).unwrap();
        let p = ReceiptPayload::new(&policy, request(&[("marketing", Choice::Given)])).unwrap();
        for kid in ["ed1", "hs1"] {
            let k = keys().activate(kid.parse().unwrap()).unwrap();
            let jws = p.sign(&k).unwrap();
            let r = UnverifiedReceipt::parse(&jws).unwrap().verify(&k).unwrap();
            assert_eq!(r.payload(), &p);
            assert_eq!(r.jws(), jws);
            let direct = p.clone().sign_verified(&k).unwrap();
            assert_eq!(
                direct, r,
                "signing gives what verifying the signature gives"
            );
            assert_eq!(
                UnverifiedReceipt::parse(&jws).unwrap().verify_at(&k, p.exp),
                Err(ReceiptError::Expired(p.exp))
            );
        }
    }

    #[test]
    fn rejects_unknown_purposes_versions_and_fields() {
        let policy = Policy::from_toml(V1).unwrap();
        assert!(matches!(
            ReceiptPayload::new(&policy, request(&[("nope", Choice::Given)])),
            Err(ReceiptError::UnknownPurpose(_))
        ));
        let p = ReceiptPayload::new(&policy, request(&[("marketing", Choice::Given)])).unwrap();
        let v3 = p.to_json().replacen("\"v\":1", "\"v\":3", 1);
        let jws = keys().sign(RECEIPT_TYP, v3.as_bytes()).unwrap();
        assert_eq!(
            UnverifiedReceipt::parse(&jws).unwrap().verify(&keys()),
            Err(ReceiptError::UnknownVersion(3))
        );
        // Version 2 is known, but a version 1 payload relabelled lacks `personal`.
        let v2 = p.to_json().replacen("\"v\":1", "\"v\":2", 1);
        let jws = keys().sign(RECEIPT_TYP, v2.as_bytes()).unwrap();
        assert!(matches!(
            UnverifiedReceipt::parse(&jws).unwrap().verify(&keys()),
            Err(ReceiptError::Payload(m)) if m.contains("personal")
        ));
        let extra = p.to_json().replacen("{", "{\"x\":1,", 1);
        let jws = keys().sign(RECEIPT_TYP, extra.as_bytes()).unwrap();
        assert!(matches!(
            UnverifiedReceipt::parse(&jws).unwrap().verify(&keys()),
            Err(ReceiptError::Payload(_))
        ));
        let trailing = format!("{} x", p.to_json());
        let jws = keys().sign(RECEIPT_TYP, trailing.as_bytes()).unwrap();
        assert!(matches!(
            UnverifiedReceipt::parse(&jws).unwrap().verify(&keys()),
            Err(ReceiptError::Payload(_))
        ));
        // A JWS of another type signed with the same key is not a receipt.
        let other = keys().sign("other+jwt", p.to_json().as_bytes()).unwrap();
        assert!(matches!(
            UnverifiedReceipt::parse(&other).unwrap().verify(&keys()),
            Err(ReceiptError::Jws(JwsError::WrongType { .. }))
        ));
    }
}
