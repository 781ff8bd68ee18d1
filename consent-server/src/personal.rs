//! The names in stored receipts, as the server shows them (issue 20.1): opened with the subject's
//! data key while it exists, "erased" once it is destroyed; and the redacted form of a version 1
//! receipt that named a person in clear, which replaces it on erasure.

use base64::Engine as _;
use consent_core::{
    KeySet, Personal, PersonalFields, ReceiptError, ReceiptPayload, UnverifiedReceipt,
    VerifiedReceipt,
};

use crate::store::{REDACTED_PREFIX, Store, StoreError, StoredReceipt};

/// Why a stored receipt's names could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NamesError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored receipt does not verify, or a sealed name does not open with the subject's current
    /// key although it was sealed under it.
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
}

/// A stored receipt as the server reads it.
#[derive(Debug)]
pub enum Read {
    /// The receipt, verified, with its names: in clear (version 1), opened with the subject's data key,
    /// or erased (the key destroyed).
    Verified(Box<VerifiedReceipt>, PersonalFields),
    /// A version 1 receipt redacted on erasure: its payload without the names (it no longer verifies).
    Redacted(Box<ReceiptPayload>),
}

/// Verifies `r` and reads its names with the subject's data key from `store`, if it has one.
///
/// A receipt stored before the subject's current key was created (the subject was erased, then came
/// back under the same pseudonym) was sealed under a destroyed key: its names are erased.
pub fn read(store: &dyn Store, keys: &KeySet, r: &StoredReceipt) -> Result<Read, NamesError> {
    if r.is_redacted() {
        return redacted_payload(&r.jws)
            .map(|p| Read::Redacted(Box::new(p)))
            .ok_or_else(|| StoreError::Corrupt(format!("receipt {}: redacted form", r.id)).into());
    }
    let v = UnverifiedReceipt::parse(&r.jws)?.verify(keys)?;
    let names = if v.has_sealed_fields() {
        match store.data_key(r.subject)? {
            Some((key, since)) if r.seq >= since => v.open_personal(&key)?,
            _ => v.erased_personal(),
        }
    } else {
        v.personal()
    };
    Ok(Read::Verified(Box::new(v), names))
}

/// Whether the receipt may name a person (a cheap look at its payload, no signature check): exports
/// verify and open only those.
pub fn may_name(jws: &str) -> bool {
    let Some(payload) = jws.split('.').nth(1) else {
        return false;
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return true;
    };
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    has(br#""subject_name""#) || has(br#""representative""#)
}

/// One line of the export (`GET /v1/export`, `consent-server export`): `seq`, `receipt_id`, `subject`,
/// `issued_at` (Unix seconds), `receipt` (the JWS), and `personal`, the names it holds
/// ([`names_json`]) when it names anyone. A version 1 receipt redacted on erasure has `receipt: null`
/// and `redacted`, its redacted form. Names that cannot be read (a receipt that does not verify) are
/// left out, and logged.
pub fn export_line(store: &dyn Store, keys: &KeySet, r: &StoredReceipt) -> serde_json::Value {
    let mut line = serde_json::json!({
        "seq": r.seq.0,
        "receipt_id": r.id.to_string(),
        "subject": r.subject.to_string(),
        "issued_at": r.issued_at.as_unix(),
        "receipt": r.jws,
    });
    if r.is_redacted() {
        line["receipt"] = serde_json::Value::Null;
        line["redacted"] = serde_json::Value::String(r.jws.clone());
    } else if may_name(&r.jws) {
        match read(store, keys, r) {
            Ok(Read::Verified(_, names)) => {
                if let Some(names) = names_json(&names) {
                    line["personal"] = names;
                }
            }
            Ok(Read::Redacted(_)) => {}
            Err(e) => tracing::warn!(receipt = %r.id, error = %e, "names of a receipt not read"),
        }
    }
    line
}

/// The names as JSON: `{"subject_name": "…", "representative": "…"}`, each `{"erased": true}` once
/// erased (`{"sealed": true}` unopened); `None` when the receipt names nobody.
pub fn names_json(names: &PersonalFields) -> Option<serde_json::Value> {
    let mut out = serde_json::Map::new();
    for (field, value) in [
        ("subject_name", names.subject_name()),
        ("representative", names.representative()),
    ] {
        if let Some(p) = value {
            out.insert(field.into(), personal_json(p));
        }
    }
    (!out.is_empty()).then_some(serde_json::Value::Object(out))
}

fn personal_json(p: &Personal) -> serde_json::Value {
    match p.name() {
        Some(n) => serde_json::Value::String(n.to_owned()),
        None if *p == Personal::Erased => serde_json::json!({ "erased": true }),
        None => serde_json::json!({ "sealed": true }),
    }
}

/// The redacted form of a version 1 receipt that names a person in clear (`representative`,
/// `kz.subject_name`): `erased:` + its header, its payload without those members, and its signature,
/// as base64url segments joined by `.`. The signature is kept so that whoever holds the original
/// receipt can match it to the row; the redacted form itself no longer verifies. `None` for every
/// other receipt (version 2 names are sealed, and erasure destroys their key instead).
///
/// ```
/// use consent_server::personal::redact;
/// assert_eq!(redact("not a jws"), None);
/// ```
pub fn redact(jws: &str) -> Option<String> {
    let mut parts = jws.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut value: serde_json::Value = serde_json::from_slice(&b64.decode(payload).ok()?).ok()?;
    if value.get("v")?.as_u64()? != 1 {
        return None;
    }
    let object = value.as_object_mut()?;
    let mut named = object.remove("representative").is_some();
    if let Some(kz) = object.get_mut("kz").and_then(|k| k.as_object_mut()) {
        named |= kz.remove("subject_name").is_some();
    }
    if !named {
        return None;
    }
    let payload = b64.encode(serde_json::to_vec(&value).ok()?);
    Some(format!("{REDACTED_PREFIX}{header}.{payload}.{signature}"))
}

/// The payload of a redacted receipt ([`redact`]).
pub fn redacted_payload(stored: &str) -> Option<ReceiptPayload> {
    let rest = stored.strip_prefix(REDACTED_PREFIX)?;
    let payload = rest.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}
