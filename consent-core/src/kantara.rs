//! Export of a receipt as a Kantara Initiative Consent Receipt v1.1 (`KI-CR-v1.1.0`).

#[allow(unused_imports)]
use crate::prelude::*;
use serde_json::{Value, json};

use crate::{Choice, Personal, PersonalFields, Policy, ReceiptError, VerifiedReceipt};

const PURPOSE_CATEGORIES: [&str; 16] = [
    "Core Function",
    "Contracted Service",
    "Delivery",
    "Contact Requested",
    "Personalized Experience",
    "Marketing",
    "Marketing Third Parties",
    "Sharing for Delivery",
    "Sharing for Marketing",
    "3rd Party Sharing for Core Function",
    "3rd Party Sharing for Others",
    "Legally Required Data Retention",
    "Required by Law Enforcement or Government",
    "Protecting Your Health",
    "Protecting Our Interests",
    "Improve Performance",
];

const PII_CATEGORIES: [&str; 16] = [
    "Biographical",
    "Contact",
    "Biometric",
    "Social Contact",
    "Network/Service",
    "Health",
    "Financial",
    "Official ID",
    "Social Benefit Data",
    "Judicial Data",
    "Asset Data",
    "HR Data",
    "Mental Health",
    "Membership",
    "Behavioral",
    "Profiling",
];

/// `"6 - Marketing"` for 6.
fn category(names: &[&str; 16], n: u8) -> String {
    let name = names
        .get(usize::from(n).wrapping_sub(1))
        .copied()
        .unwrap_or("Unknown");
    format!("{n} - {name}")
}

/// A personal field in the export: the name, or `{"sealed": true}` / `{"erased": true}`.
fn personal_json(p: &Personal) -> Value {
    match p {
        Personal::Name(n) => Value::String(n.clone()),
        Personal::Sealed => json!({ "sealed": true }),
        Personal::Erased => json!({ "erased": true }),
    }
}

impl VerifiedReceipt {
    /// The receipt as a Kantara Consent Receipt v1.1 JSON object, with `policy` the exact version the
    /// receipt binds (its hash must match), and the personal fields as anyone reads them
    /// ([`VerifiedReceipt::personal`]: version 2 names `{"sealed": true}`). See
    /// [`VerifiedReceipt::to_kantara_with`] to show them opened, or erased.
    ///
    /// `services[0].purposes` lists the purposes consented to (`consentType: "EXPLICIT"`) and those that
    /// need no consent (`"N/A"`); refusals and withdrawals are in the extension field `decisions`. The
    /// Kazakh Law 94-V Art. 8(4) items are in the extension field `kzLaw94V`. Texts are in the receipt's
    /// language.
    pub fn to_kantara(&self, policy: &Policy) -> Result<Value, ReceiptError> {
        self.to_kantara_with(policy, &self.personal())
    }

    /// The Kantara export with the personal fields as `personal` reads them: opened with the subject's
    /// data key ([`VerifiedReceipt::open_personal`]) for an access request, or erased
    /// ([`VerifiedReceipt::erased_personal`]) once the key is destroyed. The subject's name is
    /// `kzLaw94V.subject_name` and the representative's the extension member `representative`: a string,
    /// or `{"erased": true}` / `{"sealed": true}`. `personal` must have been read from this receipt.
    ///
    /// ```
    /// # use std::collections::BTreeMap;
    /// # use consent_core::*;
    /// # let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
    /// # let keys = KeySet::new().with_ed25519("ed1".parse()?, [1; 32]).activate("ed1".parse()?)?;
    /// # let decisions = BTreeMap::from([("application-review".parse()?, Choice::Given)]);
    /// # let collection = CollectionPoint { kind: CollectionKind::Form, build: None, page: None };
    /// # let mut req = ReceiptRequest::new(ReceiptId([1; 16]), Timestamp::from_unix(1_750_000_000),
    /// #     "https://consent.invisionu.education", "sub:AAAAAAAAAAAAAAAAAAAAAA", Lang::EN,
    /// #     Method::Form, collection, decisions);
    /// req.subject_name = Some("Aigerim Serikova".into());
    /// let key = DataKey::from_bytes([9; 32]);
    /// let nonces = SealNonces { subject_name: [1; 24], representative: [2; 24] };
    /// let receipt = ReceiptPayload::new_v2(&policy, req, Some(Seal::new(&key, nonces)))?
    ///     .sign_verified(&keys)?;
    ///
    /// let opened = receipt.to_kantara_with(&policy, &receipt.open_personal(&key)?)?;
    /// assert_eq!(opened["kzLaw94V"]["subject_name"], "Aigerim Serikova");
    /// let erased = receipt.to_kantara_with(&policy, &receipt.erased_personal())?;
    /// assert_eq!(erased["kzLaw94V"]["subject_name"], serde_json::json!({"erased": true}));
    /// assert!(!erased.to_string().contains("Aigerim"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_kantara_with(
        &self,
        policy: &Policy,
        personal: &PersonalFields,
    ) -> Result<Value, ReceiptError> {
        let r = self.payload();
        if personal.receipt() != r.jti {
            return Err(ReceiptError::Invalid(format!(
                "the personal fields are those of receipt {}, not {}",
                personal.receipt(),
                r.jti
            )));
        }
        if r.policy.sha256 != policy.hash().to_string() {
            return Err(ReceiptError::PolicyMismatch {
                receipt: r.policy.sha256.clone(),
                policy: policy.hash().to_string(),
            });
        }
        let lang = r.lang;
        let dl = policy.default_language();
        let c = policy.controller();
        let mut purposes = Vec::new();
        let mut spi: Vec<String> = Vec::new();
        for p in policy.purposes() {
            let consented = r.decisions.get(&p.id) == Some(&Choice::Given);
            if !consented && p.needs_consent() {
                continue;
            }
            let mut pii: Vec<String> = Vec::new();
            for d in p
                .data_categories
                .iter()
                .filter_map(|d| policy.data_category(d))
            {
                let cat = category(&PII_CATEGORIES, d.kantara_pii);
                if d.sensitive && !spi.contains(&cat) {
                    spi.push(cat.clone());
                }
                if !pii.contains(&cat) {
                    pii.push(cat);
                }
            }
            if p.data_categories.is_empty() {
                // Cookie purposes process identifiers of the browser.
                pii.push(category(&PII_CATEGORIES, 5));
            }
            let recipients: Vec<&str> = p
                .recipients
                .iter()
                .filter_map(|id| policy.recipient(id))
                .map(|rc| rc.name.get_or(lang, dl))
                .collect();
            let title = p
                .texts
                .as_ref()
                .map_or(p.id.as_str(), |t| t.title.get_or(lang, dl));
            let mut entry = json!({
                "purpose": title,
                "purposeCategory": [category(&PURPOSE_CATEGORIES, p.kantara_purpose)],
                "consentType": if p.needs_consent() { "EXPLICIT" } else { "N/A" },
                "piiCategory": pii,
                "primaryPurpose": p.required_for.is_some(),
                "termination": p.term.get_or(lang, dl),
                "thirdPartyDisclosure": !recipients.is_empty(),
                "purposeId": p.id.as_str(),
                "dpvPurpose": p.dpv,
                "legalBasis": p.legal_basis.dpv_iri(),
                "crossBorderTransfer": p.cross_border.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            });
            if !recipients.is_empty()
                && let Some(o) = entry.as_object_mut()
            {
                {
                    o.insert(
                        "thirdPartyName".into(),
                        Value::String(recipients.join("; ")),
                    );
                }
            }
            purposes.push(entry);
        }
        let method = format!("{} ({})", r.collection.kind, r.method);
        let mut kz =
            serde_json::to_value(&r.kz).map_err(|e| ReceiptError::Invalid(e.to_string()))?;
        if let (Some(o), Some(name)) = (kz.as_object_mut(), personal.subject_name()) {
            o.insert("subject_name".into(), personal_json(name));
        }
        let mut out = json!({
            "version": "KI-CR-v1.1.0",
            "jurisdiction": policy.jurisdiction().as_str(),
            "consentTimestamp": r.iat.as_unix().max(0),
            "collectionMethod": method,
            "consentReceiptID": r.jti.to_string(),
            "language": lang.as_str(),
            "piiPrincipalId": r.sub,
            "piiControllers": [{
                "piiController": c.name.get_or(lang, dl),
                "onBehalf": false,
                "contact": c.responsible_person.get_or(lang, dl),
                "address": { "streetAddress": c.address.get_or(lang, dl), "addressCountry": c.country.as_str() },
                "email": c.email,
                "phone": "",
                "piiControllerUrl": c.url,
            }],
            "policyUrl": r.policy.url,
            "services": [{ "service": c.url, "purposes": purposes }],
            "sensitive": !spi.is_empty(),
            "spiCat": spi,
            "decisions": r.decisions,
            "expires": r.exp.as_unix(),
            "policyVersion": r.policy.version,
            "policySha256": r.policy.sha256,
            "decidedBy": r.by,
            "gpc": r.gpc,
            "kzLaw94V": kz,
            "jws": self.jws(),
        });
        if let (Some(o), Some(name)) = (out.as_object_mut(), personal.representative()) {
            o.insert("representative".into(), personal_json(name));
        }
        Ok(out)
    }
}
