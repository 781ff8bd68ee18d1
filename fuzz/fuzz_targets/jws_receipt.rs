//! Receipts: any string is parsed and verified without panicking; whatever verifies re-exports. Any bytes
//! are also signed as a payload and verified, so the payload reader (versions 1 and 2, sealed personal
//! fields) sees them all: the personal fields read without a key, erased, and opened with a data key never
//! panic, never show a sealed name without the key, and export. Rights records (the log's other entries)
//! likewise: any string verified, any bytes signed as a record's payload; whatever verifies signs again
//! into the same record.
#![no_main]

use std::sync::LazyLock;

use consent_core::{
    DataKey, HmacKey, KeySet, Personal, PersonalField, PersonalFields, Policy, RECEIPT_TYP,
    RECEIPT_VERSION_SEALED, RIGHTS_TYP, RightsRecord, Timestamp, UnverifiedReceipt,
    VerifiedReceipt,
};
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<KeySet> = LazyLock::new(|| {
    KeySet::new()
        .with_ed25519("ed-2025".parse().unwrap(), [1; 32])
        .with_hs256("hs-2025".parse().unwrap(), HmacKey::from_bytes([2; 32]))
        .activate("ed-2025".parse().unwrap())
        .unwrap()
});
static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    Policy::from_toml(include_str!("../../examples/invisionu/policy.toml")).unwrap()
});
/// The vectors' data key `data-sub-1` (SHA-256 of `consent-vectors/v1/data-sub-1`): the sealed fields of
/// the seed payloads (`scripts/fuzz`: every receipt vector's payload) open with it.
static DATA_KEY: DataKey = DataKey::from_bytes([
    0x2b, 0x57, 0x12, 0xf3, 0x5c, 0xa6, 0xbc, 0x46, 0x04, 0x37, 0xa5, 0x4c, 0x65, 0xae, 0x3c, 0x96,
    0x5a, 0xb7, 0xb3, 0x29, 0x6c, 0x3b, 0x34, 0xc3, 0xe2, 0x5b, 0xc8, 0xb6, 0x93, 0x91, 0xfa, 0xb7,
]);

fn names(fields: &PersonalFields) -> usize {
    PersonalField::ALL
        .iter()
        .filter(|f| matches!(fields.get(**f), Some(Personal::Name(_))))
        .count()
}

fn check(v: &VerifiedReceipt) {
    let _ = v.to_kantara(&POLICY);
    let sealed = v.payload().v == RECEIPT_VERSION_SEALED;
    let (anyone, erased) = (v.personal(), v.erased_personal());
    if sealed {
        assert_eq!(names(&anyone), 0, "a sealed name read without a key");
        assert_eq!(names(&erased), 0, "a sealed name read after erasure");
    } else {
        assert!(!v.has_sealed_fields());
        assert_eq!(
            anyone, erased,
            "erasure changes nothing in a version 1 receipt"
        );
    }
    if let Ok(export) = v.to_kantara_with(&POLICY, &erased)
        && sealed
        && erased.subject_name().is_some()
    {
        assert_eq!(export["kzLaw94V"]["subject_name"]["erased"], true);
    }
    if let Ok(open) = v.open_personal(&DATA_KEY) {
        let present = PersonalField::ALL
            .iter()
            .filter(|f| open.get(**f).is_some())
            .count();
        assert_eq!(names(&open), present, "an opened field that is not a name");
        let _ = v.to_kantara_with(&POLICY, &open);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(jws) = KEYS.sign(RECEIPT_TYP, data)
        && let Ok(r) = UnverifiedReceipt::parse(&jws)
        && let Ok(v) = r.verify(&KEYS)
    {
        check(&v);
    }
    if let Ok(jws) = KEYS.sign(RIGHTS_TYP, data)
        && let Ok(r) = RightsRecord::verify(&jws, &KEYS)
    {
        let again = r.sign(&KEYS).expect("a verified rights record signs");
        assert_eq!(RightsRecord::verify(&again, &KEYS).as_ref(), Ok(&r));
        for x in &r.redacted {
            let _ = r.check_served(x.index, data);
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = RightsRecord::verify(text, &KEYS);
    if let Ok(r) = UnverifiedReceipt::parse(text) {
        let _ = r.kid();
        if let Ok(v) = r.verify_at(&KEYS, Timestamp::from_unix(1_750_000_000)) {
            check(&v);
        }
    }
    let _ = KeySet::from_jwks_json(text);
});
