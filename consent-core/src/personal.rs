//! The fields of a receipt that name a person: sealed when a version 2 receipt is built, and read back
//! opened with the subject's data key, or as erased once that key is destroyed.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::{
    Actor, DataKey, PersonalField, Policy, RECEIPT_VERSION_SEALED, ReceiptError, ReceiptId,
    ReceiptPayload, ReceiptRequest, Seal, Sealed, VerifiedReceipt,
};

/// The `personal` member of a version 2 payload: every field that names a person, sealed.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SealedPersonal {
    /// The subject's full name (Law 94-V Art. 8(4)(2)), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_name: Option<Sealed>,
    /// The name of the representative who decided, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative: Option<Sealed>,
}

impl SealedPersonal {
    /// The sealed field `field`, if the receipt has it.
    pub fn get(&self, field: PersonalField) -> Option<&Sealed> {
        match field {
            PersonalField::SubjectName => self.subject_name.as_ref(),
            PersonalField::Representative => self.representative.as_ref(),
        }
    }

    fn slot(&mut self, field: PersonalField) -> &mut Option<Sealed> {
        match field {
            PersonalField::SubjectName => &mut self.subject_name,
            PersonalField::Representative => &mut self.representative,
        }
    }
}

impl ReceiptPayload {
    /// Builds the payload of a version 2 receipt: as [`ReceiptPayload::new`], except that the names
    /// in `req` (`subject_name`, `representative`) are sealed with `seal` (the subject's data key and
    /// fresh nonces) into `personal`, bound to this receipt and field. A request without names needs
    /// no seal (`None`); one with names and no seal is refused.
    ///
    /// ```
    /// # use std::collections::BTreeMap;
    /// # use consent_core::*;
    /// let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
    /// let keys = KeySet::new().with_ed25519("ed1".parse()?, [1; 32]).activate("ed1".parse()?)?;
    /// let decisions = BTreeMap::from([("application-review".parse()?, Choice::Given)]);
    /// let collection = CollectionPoint { kind: CollectionKind::Form, build: None, page: None };
    /// let mut req = ReceiptRequest::new(ReceiptId([1; 16]), Timestamp::from_unix(1_750_000_000),
    ///     "https://consent.invisionu.education", "sub:AAAAAAAAAAAAAAAAAAAAAA", Lang::KK,
    ///     Method::Form, collection, decisions);
    /// req.subject_name = Some("Айгерім Серікова".into());
    ///
    /// // The server: the subject's data key (from its key store) and 48 fresh random bytes.
    /// let data_key = DataKey::from_bytes([9; 32]);
    /// let nonces = SealNonces { subject_name: [0x11; 24], representative: [0x22; 24] };
    /// let seal = Seal::new(&data_key, nonces);
    /// let jws = ReceiptPayload::new_v2(&policy, req, Some(seal))?.sign(&keys)?;
    /// assert!(!jws.contains("Айгерім"));
    ///
    /// let receipt = UnverifiedReceipt::parse(&jws)?.verify(&keys)?;
    /// let names = receipt.open_personal(&data_key)?;
    /// assert_eq!(names.subject_name().and_then(Personal::name), Some("Айгерім Серікова"));
    /// // After erasure (the key destroyed), the receipt still verifies; the name is gone.
    /// assert_eq!(receipt.erased_personal().subject_name(), Some(&Personal::Erased));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new_v2(
        policy: &Policy,
        mut req: ReceiptRequest,
        seal: Option<Seal<'_>>,
    ) -> Result<ReceiptPayload, ReceiptError> {
        let names = [
            (PersonalField::SubjectName, req.subject_name.take()),
            (PersonalField::Representative, req.representative.take()),
        ];
        if req.by == Actor::Subject
            && names
                .iter()
                .any(|(f, n)| *f == PersonalField::Representative && n.is_some())
        {
            return Err(ReceiptError::Invalid(
                "a representative's name without a representative".into(),
            ));
        }
        let mut payload = ReceiptPayload::build(policy, req, RECEIPT_VERSION_SEALED)?;
        let mut personal = SealedPersonal::default();
        for (field, name) in names {
            let Some(name) = name else { continue };
            let seal = seal.ok_or_else(|| {
                ReceiptError::Invalid(format!("{field} needs the subject's data key to be sealed"))
            })?;
            *personal.slot(field) = Some(seal.seal(payload.jti, field, &name)?);
        }
        payload.personal = Some(personal);
        Ok(payload)
    }
}

/// How a personal field of a receipt reads.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Personal {
    /// The name: in clear in a version 1 receipt, or opened with the subject's data key.
    Name(String),
    /// Sealed, and not opened: the subject's data key was not used.
    Sealed,
    /// Sealed, and the subject's data key is destroyed: nobody can read it any more.
    Erased,
}

impl Personal {
    /// The name, if it could be read.
    pub fn name(&self) -> Option<&str> {
        match self {
            Personal::Name(n) => Some(n),
            Personal::Sealed | Personal::Erased => None,
        }
    }
}

/// Names are personal data: `Debug` shows their length only, so they stay out of logs.
impl fmt::Debug for Personal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Personal::Name(n) => write!(f, "Name(<{} bytes>)", n.len()),
            Personal::Sealed => f.write_str("Sealed"),
            Personal::Erased => f.write_str("Erased"),
        }
    }
}

/// The personal fields of one receipt, as read by [`VerifiedReceipt::personal`],
/// [`VerifiedReceipt::open_personal`] or [`VerifiedReceipt::erased_personal`]; what
/// [`VerifiedReceipt::to_kantara_with`] shows. Only those build it, and it remembers its receipt.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PersonalFields {
    receipt: ReceiptId,
    subject_name: Option<Personal>,
    representative: Option<Personal>,
}

impl PersonalFields {
    /// The receipt these fields were read from.
    pub fn receipt(&self) -> ReceiptId {
        self.receipt
    }

    /// The subject's full name, if the receipt has one.
    pub fn subject_name(&self) -> Option<&Personal> {
        self.subject_name.as_ref()
    }

    /// The representative's name, if the receipt has one.
    pub fn representative(&self) -> Option<&Personal> {
        self.representative.as_ref()
    }

    /// The field `field`, if the receipt has it.
    pub fn get(&self, field: PersonalField) -> Option<&Personal> {
        match field {
            PersonalField::SubjectName => self.subject_name(),
            PersonalField::Representative => self.representative(),
        }
    }
}

impl VerifiedReceipt {
    /// Reads the personal fields, with `sealed` deciding what each sealed one becomes.
    fn read_personal(
        &self,
        mut sealed: impl FnMut(PersonalField, &Sealed) -> Result<Personal, ReceiptError>,
    ) -> Result<PersonalFields, ReceiptError> {
        let p = self.payload();
        let mut read = |field: PersonalField, clear: Option<&String>| match clear {
            Some(name) => Ok(Some(Personal::Name(name.clone()))),
            None => p
                .personal
                .as_ref()
                .and_then(|s| s.get(field))
                .map(|s| sealed(field, s))
                .transpose(),
        };
        Ok(PersonalFields {
            receipt: p.jti,
            subject_name: read(PersonalField::SubjectName, p.kz.subject_name.as_ref())?,
            representative: read(PersonalField::Representative, p.representative.as_ref())?,
        })
    }

    /// The personal fields without a key, each sealed one read as `sealed_as`.
    fn unopened(&self, sealed_as: Personal) -> PersonalFields {
        let id = self.payload().jti;
        self.read_personal(|_, _| Ok(sealed_as.clone()))
            .unwrap_or(PersonalFields {
                receipt: id,
                subject_name: None,
                representative: None,
            })
    }

    /// The personal fields as anyone can read them, without a key: version 1 names in clear, version 2
    /// ones [`Personal::Sealed`].
    pub fn personal(&self) -> PersonalFields {
        self.unopened(Personal::Sealed)
    }

    /// The personal fields opened with the subject's data key (an access request, the operator's own
    /// proof of consent). Version 1 names are in clear and need no key. Fails with
    /// [`ReceiptError::Unseal`] when a sealed field does not open: the wrong key, or a ciphertext
    /// altered, or moved from another receipt or field and re-signed (without a new signature, the
    /// signature check catches any change first).
    pub fn open_personal(&self, key: &DataKey) -> Result<PersonalFields, ReceiptError> {
        let id = self.payload().jti;
        self.read_personal(|field, s| s.open(key, id, field).map(Personal::Name))
    }

    /// The personal fields once the subject's data key is destroyed: version 2 names are
    /// [`Personal::Erased`]. Version 1 names were signed in clear and stay readable in the receipt:
    /// destroying a key cannot change a version 1 receipt (`DESIGN.md`, "Pseudonyms and erasure").
    pub fn erased_personal(&self) -> PersonalFields {
        self.unopened(Personal::Erased)
    }

    /// Whether the receipt has sealed fields (version 2 with a name): reading them needs the subject's
    /// data key.
    pub fn has_sealed_fields(&self) -> bool {
        self.payload()
            .personal
            .as_ref()
            .is_some_and(|s| PersonalField::ALL.iter().any(|f| s.get(*f).is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Choice, CollectionKind, CollectionPoint, KeySet, Lang, Method, RECEIPT_TYP, Relation,
        SealNonces, Timestamp, UnverifiedReceipt,
    };
    use std::collections::BTreeMap;

    const POLICY: &str = include_str!("../../examples/invisionu/policy.toml");
    const SUBJECT: &str = "Нұрлан Серіков";
    const PARENT: &str = "Айгүл Серікова";

    fn keys() -> KeySet {
        KeySet::new()
            .with_ed25519("ed1".parse().unwrap(), [1; 32])
            .activate("ed1".parse().unwrap())
            .unwrap()
    }

    fn request(id: u8, names: bool) -> ReceiptRequest {
        let mut req = ReceiptRequest::new(
            ReceiptId([id; 16]),
            Timestamp::from_unix(1_750_000_000),
            "https://consent.invisionu.education",
            "sub:AAAAAAAAAAAAAAAAAAAAAA",
            Lang::KK,
            Method::Form,
            CollectionPoint {
                kind: CollectionKind::Form,
                build: None,
                page: Some("https://invisionu.education/apply".into()),
            },
            BTreeMap::from([("application-review".parse().unwrap(), Choice::Given)]),
        );
        if names {
            req.by = Actor::Representative(Relation::Parent);
            req.subject_name = Some(SUBJECT.into());
            req.representative = Some(PARENT.into());
        }
        req
    }

    fn nonces(n: u8) -> SealNonces {
        // Distinct for every receipt: a nonce is never used twice with one key.
        SealNonces {
            subject_name: [2 * n; 24],
            representative: [2 * n + 1; 24],
        }
    }

    fn signed(id: u8, key: &DataKey) -> VerifiedReceipt {
        let policy = Policy::from_toml(POLICY).unwrap();
        let p =
            ReceiptPayload::new_v2(&policy, request(id, true), Some(Seal::new(key, nonces(id))))
                .unwrap();
        let jws = p.sign(&keys()).unwrap();
        UnverifiedReceipt::parse(&jws)
            .unwrap()
            .verify(&keys())
            .unwrap()
    }

    fn resign(mut p: ReceiptPayload) -> Result<VerifiedReceipt, ReceiptError> {
        p.v = RECEIPT_VERSION_SEALED;
        let jws = keys().sign(RECEIPT_TYP, p.to_json().as_bytes()).unwrap();
        UnverifiedReceipt::parse(&jws).unwrap().verify(&keys())
    }

    #[test]
    fn sealed_names_open_with_the_key_and_read_erased_without_it() {
        let key = DataKey::from_bytes([9; 32]);
        let r = signed(1, &key);
        assert_eq!(r.payload().v, 2);
        assert!(r.payload().representative.is_none() && r.payload().kz.subject_name.is_none());
        assert!(r.has_sealed_fields());
        for name in [SUBJECT, PARENT] {
            assert!(!r.jws().contains(name) && !r.payload().to_json().contains(name));
        }
        let open = r.open_personal(&key).unwrap();
        assert_eq!(open.receipt(), ReceiptId([1; 16]));
        assert_eq!(open.subject_name().and_then(Personal::name), Some(SUBJECT));
        assert_eq!(open.representative().and_then(Personal::name), Some(PARENT));
        assert_eq!(
            r.open_personal(&DataKey::from_bytes([8; 32])),
            Err(ReceiptError::Unseal(PersonalField::SubjectName))
        );
        let erased = r.erased_personal();
        assert_eq!(
            erased.get(PersonalField::SubjectName),
            Some(&Personal::Erased)
        );
        assert_eq!(
            erased.get(PersonalField::Representative),
            Some(&Personal::Erased)
        );
        assert_eq!(r.personal().subject_name(), Some(&Personal::Sealed));
        assert!(!format!("{open:?}").contains("Нұрлан"), "Debug hides names");
    }

    #[test]
    fn version_1_names_stay_what_they_are() {
        let policy = Policy::from_toml(POLICY).unwrap();
        let r = ReceiptPayload::new(&policy, request(2, true))
            .unwrap()
            .sign_verified(&keys())
            .unwrap();
        assert!(!r.has_sealed_fields());
        let any_key = DataKey::from_bytes([9; 32]);
        for fields in [
            r.personal(),
            r.erased_personal(),
            r.open_personal(&any_key).unwrap(),
        ] {
            assert_eq!(
                fields.subject_name().and_then(Personal::name),
                Some(SUBJECT)
            );
            assert_eq!(
                fields.representative().and_then(Personal::name),
                Some(PARENT)
            );
        }
    }

    #[test]
    fn a_receipt_without_names_needs_no_key_and_names_need_one() {
        let policy = Policy::from_toml(POLICY).unwrap();
        let p = ReceiptPayload::new_v2(&policy, request(3, false), None).unwrap();
        assert_eq!(p.personal, Some(SealedPersonal::default()));
        assert!(
            p.to_json().ends_with(r#""personal":{}}"#),
            "{}",
            p.to_json()
        );
        let r = p.sign_verified(&keys()).unwrap();
        assert_eq!(r.erased_personal().subject_name(), None);
        assert!(matches!(
            ReceiptPayload::new_v2(&policy, request(3, true), None),
            Err(ReceiptError::Invalid(m)) if m.contains("data key")
        ));
        let mut by_subject = request(3, true);
        by_subject.by = Actor::Subject;
        let key = DataKey::from_bytes([9; 32]);
        assert!(
            ReceiptPayload::new_v2(&policy, by_subject, Some(Seal::new(&key, nonces(3)))).is_err()
        );
    }

    #[test]
    fn moved_ciphertexts_verify_but_do_not_open() {
        let key = DataKey::from_bytes([9; 32]);
        let a = signed(4, &key);
        let b = signed(5, &key);
        // Into another receipt, re-signed: the signature is good, the receipt id is not the one sealed.
        let mut moved = b.payload().clone();
        moved.personal = a.payload().personal.clone();
        let moved = resign(moved).unwrap();
        assert_eq!(
            moved.open_personal(&key),
            Err(ReceiptError::Unseal(PersonalField::SubjectName))
        );
        // Into the other field of the same receipt.
        let mut swapped = a.payload().clone();
        let personal = swapped.personal.as_mut().unwrap();
        core::mem::swap(&mut personal.subject_name, &mut personal.representative);
        let swapped = resign(swapped).unwrap();
        assert!(matches!(
            swapped.open_personal(&key),
            Err(ReceiptError::Unseal(_))
        ));
        // Exporting with another receipt's fields is refused.
        let policy = Policy::from_toml(POLICY).unwrap();
        assert!(
            b.to_kantara_with(&policy, &a.open_personal(&key).unwrap())
                .is_err()
        );
    }

    #[test]
    fn versions_keep_their_fields_apart() {
        let key = DataKey::from_bytes([9; 32]);
        let v2 = signed(6, &key).payload().clone();
        let mut no_personal = v2.clone();
        no_personal.personal = None;
        let mut clear_name = v2.clone();
        clear_name.representative = Some(PARENT.into());
        let mut clear_subject = v2.clone();
        clear_subject.kz.subject_name = Some(SUBJECT.into());
        for bad in [no_personal, clear_name, clear_subject] {
            assert!(matches!(resign(bad), Err(ReceiptError::Payload(_))));
        }
        // A version 1 payload with `personal`.
        let mut v1 = v2;
        v1.v = 1;
        let jws = keys().sign(RECEIPT_TYP, v1.to_json().as_bytes()).unwrap();
        assert!(matches!(
            UnverifiedReceipt::parse(&jws).unwrap().verify(&keys()),
            Err(ReceiptError::Payload(_))
        ));
    }
}
