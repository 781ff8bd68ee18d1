//! Choices never lost or doubled (issue 18.7).

use super::*;

/// The `Idempotency-Key` of each POST, in order.
fn post_keys() -> Vec<Option<String>> {
    requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.key)
        .collect()
}

#[wasm_bindgen_test]
async fn a_choice_sent_again_carries_its_idempotency_key_and_the_first_answer_is_recorded() {
    reset("en");
    start(config(V2025));
    shown().await;
    // The answer to the first sending is lost (the server may have recorded it).
    stub_post("down");
    click("accept-all");
    until("the first sending", || post_bodies().len() == 1).await;
    let kept = js_sys::JSON::parse(&pending().unwrap()).unwrap();
    let key = field(&kept, "key");
    let is_uuid_v4 = key.len() == 36
        && key.as_bytes()[14] == b'4'
        && matches!(key.as_bytes()[19], b'8' | b'9' | b'a' | b'b')
        && key.bytes().enumerate().all(|(i, b)| {
            matches!(i, 8 | 13 | 18 | 23) == (b == b'-') && (b == b'-' || b.is_ascii_hexdigit())
        });
    assert!(is_uuid_v4, "{key}");
    // The retry: the same key; the server answers with the first receipt (200), which is recorded.
    stub_token(&token(V2025, &CONSENT_CODES));
    stub_post("200");
    until("the pending entry to go", || pending().is_none()).await;
    assert!(cookie("consent").is_some(), "the 200's token is stored");
    let keys = post_keys();
    assert!(keys.len() >= 2, "{keys:?}");
    assert!(
        keys.iter().all(|k| k.as_deref() == Some(key.as_str())),
        "{keys:?}"
    );
    assert_eq!(post_bodies()[0], post_bodies()[1], "the same request");
    // A new choice is a new key.
    stub_post("201");
    stub_token(&token(V2025, &[]));
    JsFuture::from(api("rejectAll").unchecked_into::<Promise>())
        .await
        .unwrap();
    until("the new choice", || post_bodies().len() == keys.len() + 1).await;
    let last = post_keys().pop().unwrap().unwrap();
    assert_ne!(last, key);
    assert_eq!(last.len(), 36);
}

#[wasm_bindgen_test]
async fn a_choice_under_a_version_replaced_meanwhile_is_asked_again_at_once() {
    reset("en");
    blocked_scripts();
    stub_route("/v1/policies/2026-06-01", POLICY_2026);
    start(config(V2025));
    shown().await;
    // The server replaced 2025-03-26 by 2026-06-01 while the visitor decided.
    stub_post("409");
    stub_post_error(
        r#"{"code": "policy_outdated", "message": "policy 2025-03-26 is not the current one: 2026-06-01; fetch /v1/policy and ask again", "field": "policy_version", "policy_version": "2026-06-01"}"#,
    );
    click("choose");
    switch("cookies-analytics").click();
    click("save");
    until("the first sending", || post_bodies().len() == 1).await;
    // Shown again at once, under the new version, "updated on" its date; nothing lost: the choice as
    // made is what the second layer shows (nothing the banner asks for changed in 2026-06-01).
    let d = shown().await;
    assert!(
        gets().contains(&"/v1/policies/2026-06-01".to_string()),
        "the current version, by its immutable URL: {:?}",
        gets()
    );
    assert!(text(&d).contains(&texts("en").updated), "{}", text(&d));
    assert!(text(&d).contains("2026"), "{}", text(&d));
    assert_eq!(actions(), ["accept-all", "reject-all", "choose"]);
    click("choose");
    assert_eq!(switched_on(), ["cookies-analytics"]);
    assert_eq!(pending(), None, "the refused request is not sent again");
    stub_post("201");
    stub_token(&token(V2026, &[ANALYTICS]));
    click("save");
    until("the second sending", || post_bodies().len() == 2).await;
    let request = posts().remove(1);
    assert_eq!(field(&request, "policy_version"), V2026);
    assert_eq!(
        decisions(&request),
        expected("refused", &[("cookies-analytics", "given")])
    );
    recorded().await;
}

#[wasm_bindgen_test]
async fn global_privacy_control_withdraws_marketing_an_older_token_granted_and_records_it() {
    reset("en");
    set_gpc();
    blocked_scripts();
    set_cookie("_fbp=1");
    set_token(&token(V2025, &[ANALYTICS, MARKETING_COOKIES]));
    stub_token(&token(V2025, &[ANALYTICS]));
    stub_gpc_answer(true);
    start(config(V2025));
    until("the recorded withdrawal", || post_bodies().len() == 1).await;
    let request = posted();
    assert_eq!(field(&request, "method"), "custom");
    assert_eq!(
        decisions(&request),
        expected(
            "refused",
            &[
                ("cookies-analytics", "given"),
                ("cookies-marketing", "withdrawn")
            ]
        )
    );
    until("the scripts", || ran().len() == 3).await;
    sleep(100).await;
    assert!(
        !ran().iter().any(|r| r.starts_with("marketing")),
        "{:?}",
        ran()
    );
    assert_eq!(cookie("_fbp"), None, "marketing cookies deleted");
    assert!(allows("cookies-analytics") && !allows("cookies-marketing"));
    assert!(
        dialog().is_none(),
        "no dialog: the choice stands, less marketing"
    );
    recorded().await;
    assert_eq!(events("ready").len(), 1);

    // A choice made with the signal on (the server's answer says so) stands as made on the next pages:
    // the visitor switched marketing on themselves.
    reset("en");
    set_gpc();
    blocked_scripts();
    let chosen = claims(V2025, &[ANALYTICS, MARKETING_COOKIES], &[PREFERENCES]);
    storage()
        .set_item("consent-gpc", &chosen.receipt.hyphenated())
        .unwrap();
    set_token(&sign(chosen));
    start(config(V2025));
    until("ready", || events("ready").len() == 1).await;
    sleep(100).await;
    assert!(post_bodies().is_empty(), "nothing to record");
    assert!(allows("cookies-marketing"));
}
