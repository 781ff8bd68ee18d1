//! Version 1 receipts as the server before payload version 2 wrote them (names in clear), and the forms a
//! name takes in stored bytes: for the erasure tests and the copy of a deployment with erasures.

use std::collections::BTreeMap;
use std::path::Path;

use consent_core::{
    Actor, Choice, CollectionKind, CollectionPoint, Lang, Method, Policy, ReceiptId,
    ReceiptPayload, ReceiptRequest, Relation, Timestamp,
};
use consent_server::keys::ServerKeys;

/// What a name looks like in a file: its UTF-8 bytes, and the base64url text it becomes inside a JWS
/// payload at each of the three byte alignments (the full groups that hold only the name's bytes).
pub fn forms(name: &str) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let mut out = vec![name.as_bytes().to_vec()];
    for pad in 0..3usize {
        let mut bytes = vec![b'x'; pad];
        bytes.extend_from_slice(name.as_bytes());
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        let start = if pad == 0 { 0 } else { 4 };
        let end = bytes.len() / 3 * 4;
        out.push(text.as_bytes()[start..end].to_vec());
    }
    out
}

/// The statements that insert, as the server before version 2 did, a signed version 1 receipt for
/// `subject` naming `name` and its `representative` in clear, with id bytes `id`, in its redacted form if
/// `redacted` (a receipt erased before the log numbered it): (SQLite, PostgreSQL). On PostgreSQL the
/// receipt also takes the next number of `log_head`, as the server's writer would.
pub fn old_receipt_sql(
    dir: &Path,
    subject: &str,
    id: u8,
    redacted: bool,
    name: &str,
    representative: &str,
) -> (String, String) {
    let keys = ServerKeys::load(&dir.join("keys.json")).unwrap();
    let policy =
        Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml")).unwrap();
    let collection = CollectionPoint {
        kind: CollectionKind::Form,
        build: None,
        page: None,
    };
    let decisions = BTreeMap::from([("application-review".parse().unwrap(), Choice::Given)]);
    let mut req = ReceiptRequest::new(
        ReceiptId([id; 16]),
        Timestamp::from_unix(1_750_000_000),
        "http://127.0.0.1",
        subject,
        Lang::KK,
        Method::Form,
        collection,
        decisions,
    );
    req.subject_name = Some(name.into());
    req.by = Actor::Representative(Relation::Parent);
    req.representative = Some(representative.into());
    let receipt = ReceiptPayload::new(&policy, req)
        .unwrap()
        .sign_verified(&keys.receipts)
        .unwrap();
    let p = receipt.payload();
    let jws = if redacted {
        consent_server::personal::redact(receipt.jws()).unwrap()
    } else {
        receipt.jws().to_owned()
    };
    // The next log index: the receipts are the only entries yet (no rights event before these).
    // Every value is a UUID, a pseudonym, a number, a key id or a JWS: no quote to escape.
    let values = format!(
        "'{}', '{subject}', {}, '2025-03-26', 'form', '{}', 'application-review=given', {}, \
         'representative:parent', '{}', (SELECT COUNT(*) FROM receipts)",
        p.jti,
        p.iat.as_unix(),
        receipt.header().kid,
        p.exp.as_unix(),
        jws
    );
    let columns = "id, subject, issued_at, policy_version, method, kid, decisions, expires_at, actor, jws, log_index";
    (
        format!("INSERT INTO receipts ({columns}) VALUES ({values});"),
        format!(
            "UPDATE log_head SET receipts = receipts + 1;
             INSERT INTO receipts (seq, {columns}) VALUES ((SELECT receipts FROM log_head), {values});"
        ),
    )
}
