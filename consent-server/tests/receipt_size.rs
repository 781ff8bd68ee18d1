//! The largest receipt an anonymous caller can make the server keep forever (issue 22.2): receipts are
//! append-only, so this is what one client can add per request. Found by search, not assumed: every
//! purpose that needs consent given or withdrawn (given adds the Law 94-V items of the purpose, withdrawn
//! is the longer word), in every language, with the longest page and build an anonymous caller may send;
//! the largest is then recorded through the API and must be what the search signed, and at most the
//! figure `consent-server/README.md` states ("What one client can add").

mod common;

use axum::http::StatusCode;
use common::*;
use consent_core::{
    Caller, Choice, CollectionKind, CollectionPointRequest, ConsentRequest, Decisions, Method,
    PageUrl, ReceiptId, ReceiptPayload, RequestContext, Timestamp,
};
use serde_json::json;

/// The README's figure for the invisionu policy, the test server's issuer and key id.
const DOCUMENTED: usize = 2_211;

#[tokio::test]
async fn the_largest_anonymous_receipt_is_the_documented_size() {
    let s = server("receipt-size").await;
    let policy = &s.state.policy;
    let purposes: Vec<_> = policy
        .purposes()
        .iter()
        .filter(|p| p.needs_consent() && p.collected_at(CollectionKind::Banner))
        .map(|p| p.id)
        .collect();
    let head = "https://invisionu.education/";
    let page = format!(
        "{head}{}",
        "a".repeat(PageUrl::ANONYMOUS_MAX_LEN - head.len())
    );
    let build = "ab".repeat(32);
    let subject = "dev:AAECAwQFBgcICQoLDA0ODw";
    let (mut longest, mut best) = (0, None);
    for lang in policy.languages() {
        for mask in 0u32..1 << purposes.len() {
            let decisions: Decisions = purposes
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let given = mask & (1 << i) != 0;
                    (
                        *p,
                        if given {
                            Choice::Given
                        } else {
                            Choice::Withdrawn
                        },
                    )
                })
                .collect();
            // The longest method the decisions allow.
            let method = match mask.count_ones() as usize {
                0 => Method::RejectAll,
                n if n == purposes.len() => Method::AcceptAll,
                _ => Method::Custom,
            };
            let mut point = CollectionPointRequest::new(CollectionKind::Banner);
            point.build = Some(build.parse().unwrap());
            point.page = Some(page.parse().unwrap());
            let checked = ConsentRequest::new(policy.version(), decisions, method, *lang, point)
                .check(&RequestContext::new(policy, Caller::Anonymous))
                .unwrap();
            let req = checked.into_receipt_request(
                ReceiptId([0x5a; 16]),
                Timestamp::from_unix(NOW),
                s.state.config.issuer.clone(),
                subject,
            );
            // The JWS's header and signature have fixed lengths: the longest payload makes the
            // longest receipt.
            // Payload version 2, as the server writes: an anonymous caller names nobody, so no seal.
            let payload = ReceiptPayload::new_v2(policy, req, None).unwrap();
            let length = payload.to_json().len();
            if length > longest {
                longest = length;
                best = Some((*lang, mask, method, payload));
            }
        }
    }
    let (lang, mask, method, payload) = best.unwrap();
    let largest = payload.sign(&s.state.keys.receipts).unwrap().len();
    let decisions: serde_json::Map<String, serde_json::Value> = purposes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let choice = if mask & (1 << i) != 0 {
                "given"
            } else {
                "withdrawn"
            };
            (p.to_string(), json!(choice))
        })
        .collect();
    let body = json!({
        "policy_version": policy.version().to_string(),
        "decisions": decisions,
        "method": method.as_str(),
        "language": lang.as_str(),
        "collection_point": {"kind": "banner", "build": build, "page": page},
        "subject": {"device": subject.strip_prefix("dev:").unwrap()},
    });
    let r = call(&s, post_json("/v1/consents", &body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let recorded = r.json()["receipt"].as_str().unwrap().len();
    eprintln!(
        "largest anonymous receipt: {recorded} bytes of JWS ({lang}, {method}, {} of {} purposes given)",
        mask.count_ones(),
        purposes.len()
    );
    assert_eq!(recorded, largest, "the API signs what the search signed");
    assert!(
        largest <= DOCUMENTED,
        "{largest} bytes: more than the README's {DOCUMENTED}; update its figures"
    );
}
