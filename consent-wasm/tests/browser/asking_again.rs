//! Asking again.

use super::*;

#[wasm_bindgen_test]
async fn a_choice_under_an_older_policy_version_is_asked_again_with_the_update_date() {
    reset("en");
    blocked_scripts();
    stub_current(&VIEWS_2026);
    set_token(&token(V2025, &[ANALYTICS, MARKETING_COOKIES]));
    start(config(V2026));
    let d = shown().await;
    assert_eq!(gets(), [VIEW_EN]);
    assert_eq!(
        text(&one_in(&d, ".consent-banner__updated")),
        format!("{} June 1, 2026", texts("en").updated)
    );
    assert_eq!(
        one_in(&d, "a[href]").get_attribute("href").as_deref(),
        Some("https://invisionu.education/privacy/2026-06-01")
    );
    sleep(50).await;
    assert_eq!(ran(), ["necessary"], "the old choice grants nothing now");
    stub_token(&token(V2026, &[]));
    click("reject-all");
    until("the choice", || post_bodies().len() == 1).await;
    assert_eq!(field(&posted(), "policy_version"), V2026);

    // In Kazakh and Russian too, with the date written the way the language writes it.
    // (Kazakh in digits: Chromium's ICU data has no Kazakh, and would write "2026 M06 1".)
    for (lang, date) in [("kk", "01.06.2026"), ("ru", "1 июня 2026 г.")] {
        reset(lang);
        stub_current(&VIEWS_2026);
        set_token(&token(V2025, &[ANALYTICS]));
        start(config(V2026));
        let d = shown().await;
        let updated = text(&one_in(&d, ".consent-banner__updated"));
        assert_eq!(updated, format!("{} {date}", texts(lang).updated));
    }
}

#[wasm_bindgen_test]
async fn an_expired_or_unreadable_choice_is_asked_again() {
    reset("en");
    blocked_scripts();
    let mut lapsed = claims(V2025, &[ANALYTICS], &[]);
    lapsed.issued_at = Timestamp::from_unix(now() - 200 * 86_400);
    lapsed.expires_at = Timestamp::from_unix(now() - 1);
    set_token(&sign(lapsed));
    start(config(V2025));
    let d = shown().await;
    assert!(
        all_in(&d, ".consent-banner__updated").is_empty(),
        "not an update"
    );
    sleep(50).await;
    assert_eq!(ran(), ["necessary"]);

    reset("en");
    set_token("AQN0MjVOzWfrqxBo3O2Q-not-a-token");
    start(config(V2025));
    shown().await;
    assert_eq!(gets(), [VIEW_EN]);
}

#[wasm_bindgen_test]
async fn the_device_id_of_an_earlier_token_is_sent_with_the_next_choice() {
    reset("en");
    stub_current(&VIEWS_2026);
    let mut outdated = claims(V2025, &[ANALYTICS], &[]);
    outdated.subject = TokenSubject::Device(SubjectId([9; 16]));
    let cookie = sign(outdated);
    set_token(&cookie);
    start(config(V2026));
    shown().await;
    click("accept-all");
    until("the choice", || post_bodies().len() == 1).await;
    let subject = get(&posted(), "subject");
    assert_eq!(field(&subject, "device"), SubjectId([9; 16]).encoded());
    assert_eq!(field(&subject, "device"), "CQkJCQkJCQkJCQkJCQkJCQ");
    // With the device's token, which alone may change the device's choice on the server.
    assert_eq!(post_tokens(), [Some(cookie)]);
}

#[wasm_bindgen_test]
async fn the_subject_of_a_version_1_token_is_still_taken_for_the_device() {
    reset("en");
    // spec/vectors/tokens.json `v1-every-purpose-decided` (expired by now: the banner asks again).
    let v1 = "AQN0MjVOzWfrqxBo3O2QWlpaWlpaWlpaWlpaWlpaWgEBAQEBAQEBAQEBAQEBAQEAAAAAAAAZPwAAAAAAACDAEMlUBIQ4yUXonuB9KUa5zg";
    set_token(v1);
    start(config(V2025));
    shown().await;
    click("accept-all");
    until("the choice", || post_bodies().len() == 1).await;
    let subject = get(&posted(), "subject");
    assert_eq!(field(&subject, "device"), SubjectId([0x5a; 16]).encoded());
    assert_eq!(post_tokens(), [Some(v1.to_owned())]);
}

#[wasm_bindgen_test]
async fn a_persons_token_is_never_sent_as_the_device() {
    reset("en");
    stub_current(&VIEWS_2026);
    let mut outdated = claims(V2025, &[ANALYTICS], &[]);
    outdated.subject = TokenSubject::Person(SubjectId([9; 16]));
    set_token(&sign(outdated));
    start(config(V2026));
    shown().await;
    click("accept-all");
    until("the choice", || post_bodies().len() == 1).await;
    // No device: the server draws one. The person's pseudonym is not this browser's device id, and
    // the person's token is not sent.
    assert!(get(&posted(), "subject").is_undefined());
    assert_eq!(post_tokens(), [None]);
}
