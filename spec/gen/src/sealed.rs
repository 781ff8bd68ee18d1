//! Sealed receipt vectors (payload version 2, `sealed-receipts.json`): receipts whose names are sealed
//! under a subject's data key; the same receipts read after erasure (no key) and with the wrong key;
//! tampered ciphertexts (with the original signature, and re-signed); ciphertexts moved to another
//! receipt or field (re-signed); and payloads that break version 2's rules.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use consent_core::{
    Actor, Choice, CollectionKind, CollectionPoint, KeySet, Lang, Method, Policy, RECEIPT_TYP,
    ReceiptId, ReceiptPayload, ReceiptRequest, Relation, Seal, SealNonces, Sealed, Timestamp,
};
use serde_json::{Value, json};

use crate::keys::{
    DATA_OTHER, DATA_SUBJECT_1, DATA_SUBJECT_2, ED_ACTIVE, HS, data_key, receipt_keys, secret,
};
use crate::receipts::{ISSUED, VERIFY_AT, b64, parts, sign};

/// The subject's full name and their parent's, in Kazakh (27 bytes each: one block once padded).
const SUBJECT_1: &str = "Нұрлан Серіков";
const PARENT_1: &str = "Айгүл Серікова";
/// An adult applicant who decides for herself (48 bytes: two blocks once padded).
const SUBJECT_2: &str = "Әсел Жұмабекқызы Төлеуова";

/// The nonces of vector receipt `name`: the first 24 bytes of `secret("nonce/<name>/<field>")`.
fn nonces(name: &str) -> SealNonces {
    let n = |field: &str| {
        let s = secret(&format!("nonce/{name}/{field}"));
        let mut out = [0u8; 24];
        out.copy_from_slice(&s[..24]);
        out
    };
    SealNonces {
        subject_name: n("subject_name"),
        representative: n("representative"),
    }
}

fn pseudonym(n: u8) -> String {
    format!("sub:{}", URL_SAFE_NO_PAD.encode([n; 16]))
}

fn request(
    id: u8,
    subject: String,
    lang: Lang,
    method: Method,
    kind: CollectionKind,
    decisions: &[(&str, Choice)],
) -> ReceiptRequest {
    let decisions: BTreeMap<_, _> = decisions
        .iter()
        .map(|(p, c)| (p.parse().unwrap_or_else(|e| panic!("{p}: {e}")), *c))
        .collect();
    let collection = match kind {
        CollectionKind::Banner => CollectionPoint {
            kind,
            build: Some("9f2b".repeat(16)),
            page: Some("https://invisionu.education/".into()),
        },
        _ => CollectionPoint {
            kind,
            build: None,
            page: Some("https://invisionu.education/apply".into()),
        },
    };
    ReceiptRequest::new(
        ReceiptId([id; 16]),
        Timestamp::from_unix(ISSUED),
        "https://consent.invisionu.education",
        subject,
        lang,
        method,
        collection,
        decisions,
    )
}

fn sealed(policy: &Policy, name: &str, req: ReceiptRequest, key: &str) -> ReceiptPayload {
    let key = data_key(key);
    ReceiptPayload::new_v2(policy, req, Some(Seal::new(&key, nonces(name))))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Signs raw payload bytes with the active Ed25519 key (for payloads the library would not build).
fn sign_raw(keys: &KeySet, payload: &str) -> String {
    keys.sign(RECEIPT_TYP, payload.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `s` with its first byte flipped.
fn flip_first(s: &Sealed) -> Sealed {
    let mut c = s.ciphertext().to_vec();
    if let Some(b) = c.first_mut() {
        *b ^= 0x01;
    }
    Sealed::from_parts(*s.nonce(), c).unwrap_or_else(|e| panic!("{e}"))
}

fn personal_of(p: &ReceiptPayload) -> consent_core::SealedPersonal {
    p.personal
        .clone()
        .unwrap_or_else(|| panic!("not version 2"))
}

pub(crate) fn vectors(policy: &Policy) -> Vec<Value> {
    let keys = receipt_keys();

    let mut form_req = request(
        0x21,
        pseudonym(0x51),
        Lang::KK,
        Method::Form,
        CollectionKind::Form,
        &[
            ("application-review", Choice::Given),
            ("scholarships", Choice::Given),
            ("transfer-abroad", Choice::Given),
            ("public-dissemination", Choice::Refused),
        ],
    );
    form_req.by = Actor::Representative(Relation::Parent);
    form_req.subject_name = Some(SUBJECT_1.into());
    form_req.representative = Some(PARENT_1.into());
    form_req.expires_at = Some(Timestamp::from_unix(ISSUED).add_months(24));
    let form = sealed(
        policy,
        "v2-form-by-representative",
        form_req,
        DATA_SUBJECT_1,
    );

    let mut withdraw_req = request(
        0x22,
        pseudonym(0x51),
        Lang::KK,
        Method::Withdraw,
        CollectionKind::Staff,
        &[("transfer-abroad", Choice::Withdrawn)],
    );
    withdraw_req.by = Actor::Representative(Relation::Parent);
    withdraw_req.subject_name = Some(SUBJECT_1.into());
    withdraw_req.representative = Some(PARENT_1.into());
    let withdrawal = sealed(
        policy,
        "v2-withdrawal-by-representative",
        withdraw_req,
        DATA_SUBJECT_1,
    );

    let mut adult_req = request(
        0x23,
        pseudonym(0x52),
        Lang::RU,
        Method::Form,
        CollectionKind::Form,
        &[
            ("application-review", Choice::Given),
            ("marketing", Choice::Refused),
        ],
    );
    adult_req.subject_name = Some(SUBJECT_2.into());
    let adult = sealed(
        policy,
        "v2-form-by-subject-hs256",
        adult_req,
        DATA_SUBJECT_2,
    );

    let device_req = request(
        0x24,
        format!("dev:{}", URL_SAFE_NO_PAD.encode([0x24; 16])),
        Lang::EN,
        Method::RejectAll,
        CollectionKind::Banner,
        &[("marketing", Choice::Refused)],
    );
    let device = ReceiptPayload::new_v2(policy, device_req, None).unwrap_or_else(|e| panic!("{e}"));

    let mut out = Vec::new();
    let names = |subject: &str, representative: Option<&str>| {
        let mut m = json!({ "subject_name": subject });
        if let (Some(o), Some(r)) = (m.as_object_mut(), representative) {
            o.insert("representative".into(), json!(r));
        }
        m
    };
    let mut valid =
        |name: &str, alg: &str, jws: &str, key: Option<&str>, personal: Option<Value>| {
            let mut v = json!({
                "name": name, "alg": alg, "jws": jws, "valid": true, "verify_at": VERIFY_AT,
                "data_key": key,
            });
            if let Some(o) = v.as_object_mut() {
                if key.is_some() {
                    o.insert("opens".into(), json!(personal.is_some()));
                }
                if let Some(p) = personal {
                    o.insert("personal".into(), p);
                }
            }
            out.push(v);
        };

    let form_jws = sign(&keys, ED_ACTIVE, &form);
    valid(
        "v2-form-by-representative",
        "EdDSA",
        &form_jws,
        Some(DATA_SUBJECT_1),
        Some(names(SUBJECT_1, Some(PARENT_1))),
    );
    valid(
        "v2-withdrawal-by-representative",
        "EdDSA",
        &sign(&keys, ED_ACTIVE, &withdrawal),
        Some(DATA_SUBJECT_1),
        Some(names(SUBJECT_1, Some(PARENT_1))),
    );
    valid(
        "v2-form-by-subject-hs256",
        "HS256",
        &sign(&keys, HS, &adult),
        Some(DATA_SUBJECT_2),
        Some(names(SUBJECT_2, None)),
    );
    valid(
        "v2-device-without-names",
        "EdDSA",
        &sign(&keys, ED_ACTIVE, &device),
        None,
        Some(json!({})),
    );
    // The subject's key destroyed: the receipt verifies, its names read as erased.
    let erased = json!({ "subject_name": {"erased": true}, "representative": {"erased": true} });
    valid("v2-after-erasure", "EdDSA", &form_jws, None, Some(erased));
    valid("v2-wrong-key", "EdDSA", &form_jws, Some(DATA_OTHER), None);
    // Another subject's key: the same failure.
    valid(
        "v2-another-subjects-key",
        "EdDSA",
        &form_jws,
        Some(DATA_SUBJECT_2),
        None,
    );

    let mut tampered = form.clone();
    let mut personal = personal_of(&tampered);
    personal.subject_name = personal.subject_name.as_ref().map(flip_first);
    tampered.personal = Some(personal);
    let resigned = sign(&keys, ED_ACTIVE, &tampered);
    // Re-signed with the receipt key: the signature verifies, the AEAD tag does not.
    valid(
        "v2-tampered-ciphertext-resigned",
        "EdDSA",
        &resigned,
        Some(DATA_SUBJECT_1),
        None,
    );
    let mut moved = withdrawal.clone();
    let mut personal = personal_of(&moved);
    personal.subject_name = personal_of(&form).subject_name;
    moved.personal = Some(personal);
    valid(
        "v2-ciphertext-moved-to-another-receipt",
        "EdDSA",
        &sign(&keys, ED_ACTIVE, &moved),
        Some(DATA_SUBJECT_1),
        None,
    );
    let mut swapped = form.clone();
    let mut personal = personal_of(&swapped);
    std::mem::swap(&mut personal.subject_name, &mut personal.representative);
    swapped.personal = Some(personal);
    valid(
        "v2-ciphertexts-swapped-between-fields",
        "EdDSA",
        &sign(&keys, ED_ACTIVE, &swapped),
        Some(DATA_SUBJECT_1),
        None,
    );

    let mut invalid = |name: &str, jws: String, reason: &str| {
        out.push(json!({
            "name": name, "alg": "EdDSA", "jws": jws, "valid": false, "reason": reason,
            "verify_at": VERIFY_AT,
        }));
    };
    let (h, _, s) = parts(&form_jws);
    invalid(
        "v2-tampered-ciphertext",
        format!("{h}.{}.{s}", b64(tampered.to_json().as_bytes())),
        "signature does not verify (a ciphertext byte flipped)",
    );
    let mut clear = form.clone();
    let mut personal = personal_of(&clear);
    personal.representative = None;
    clear.personal = Some(personal);
    clear.representative = Some(PARENT_1.into());
    invalid(
        "v2-name-in-clear",
        sign(&keys, ED_ACTIVE, &clear),
        "version 2 with the representative's name in clear",
    );
    let mut clear_subject = form.clone();
    let mut personal = personal_of(&clear_subject);
    personal.subject_name = None;
    clear_subject.personal = Some(personal);
    clear_subject.kz.subject_name = Some(SUBJECT_1.into());
    invalid(
        "v2-subject-name-in-clear",
        sign(&keys, ED_ACTIVE, &clear_subject),
        "version 2 with kz.subject_name in clear",
    );
    let mut no_personal = device.clone();
    no_personal.personal = None;
    invalid(
        "v2-without-personal",
        sign(&keys, ED_ACTIVE, &no_personal),
        "version 2 without personal",
    );
    let mut v1_personal = device.clone();
    v1_personal.v = 1;
    invalid(
        "v1-with-personal",
        sign(&keys, ED_ACTIVE, &v1_personal),
        "version 1 with personal",
    );
    let form_json = form.to_json();
    invalid(
        "v2-unknown-sealing",
        sign_raw(&keys, &form_json.replacen("\"xc20p1\"", "\"xc20p2\"", 1)),
        "enc is not xc20p1",
    );
    let c = personal_of(&form)
        .subject_name
        .map(|s| s.ciphertext().to_vec())
        .unwrap_or_default();
    let short = form_json.replacen(&b64(&c), &b64(&c[..c.len() - 3]), 1);
    invalid(
        "v2-ciphertext-not-whole-blocks",
        sign_raw(&keys, &short),
        "ciphertext is not 16 plus a multiple of 32 bytes",
    );
    let nonce = personal_of(&form)
        .subject_name
        .map(|s| *s.nonce())
        .unwrap_or_default();
    invalid(
        "v2-short-nonce",
        sign_raw(
            &keys,
            &form_json.replacen(&b64(&nonce), &b64(&nonce[..22]), 1),
        ),
        "nonce is not 24 bytes",
    );
    invalid(
        "v2-unknown-personal-field",
        sign_raw(
            &keys,
            &device.to_json().replacen(
                "\"personal\":{",
                "\"personal\":{\"email\":\"a@example.kz\"",
                1,
            ),
        ),
        "personal has a member besides subject_name and representative",
    );
    invalid(
        "unknown-version-3",
        sign_raw(&keys, &device.to_json().replacen("\"v\":2", "\"v\":3", 1)),
        "payload version 3",
    );
    out
}
