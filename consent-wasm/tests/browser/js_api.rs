//! The page's JS API.

use super::*;

#[wasm_bindgen_test]
async fn the_js_api_reports_the_state_and_tells_its_listeners() {
    reset("en");
    start(config(V2025));
    let on_change = recorder("__seen");
    let off = on("change", &on_change);
    assert!(
        off.is_function(),
        "on() returns a function that unsubscribes"
    );
    shown().await;
    let before = api("get");
    assert_eq!(get(&before, "decided").as_bool(), Some(false));
    assert_eq!(get(&before, "pending").as_bool(), Some(false));
    assert_eq!(field(&before, "language"), "en");
    assert!(!allows("cookies-analytics"));
    assert!(allows("cookies-necessary"));
    // What needs no consent and is not the banner's (a legal obligation): not the banner's to allow,
    // whether it read the banner view or a full policy.
    assert!(!allows("legal-compliance"));

    click("choose");
    switch("cookies-analytics").click();
    click("save");
    let seen: Array = get(&window(), "__seen").unchecked_into();
    assert_eq!(seen.length(), 1, "called at once, with the detail");
    let detail = seen.get(0);
    assert_eq!(field(&detail, "method"), "custom");
    assert_eq!(field(&detail, "language"), "en");
    assert_eq!(
        strings(&get(&detail, "granted")),
        ["cookies-necessary", "cookies-analytics"]
    );
    assert_eq!(strings(&get(&detail, "refused")).len(), 2);
    assert!(strings(&get(&detail, "withdrawn")).is_empty());
    let after = api("get");
    assert_eq!(get(&after, "decided").as_bool(), Some(true));
    assert_eq!(
        strings(&get(&after, "granted")),
        strings(&get(&detail, "granted"))
    );
    assert!(allows("cookies-analytics"));
    assert!(!allows("cookies-marketing"));
    JsFuture::from(api("rejectAll").unchecked_into::<Promise>())
        .await
        .unwrap();
    assert_eq!(seen.length(), 2);
    assert_eq!(events("ready").len(), 1, "consent:ready fires once");
    assert!(js_errors().is_empty(), "{:?}", js_errors());
}

#[wasm_bindgen_test]
async fn a_blocked_script_with_an_attribute_the_dom_cannot_copy_still_runs() {
    reset("en");
    // The HTML parser reads `=odd` as an attribute named "=odd", which `setAttribute` refuses: the
    // banner copies the attributes it can, and neither stops nor freezes.
    let holder = document().create_element("div").unwrap();
    holder.set_inner_html(&format!(
        "<script type=\"text/plain\" data-consent=\"cookies-analytics\" =odd>{}</script>",
        ran_js("odd-attribute")
    ));
    let odd = holder.first_element_child().unwrap();
    assert!(odd.has_attribute("=odd"), "the parser kept the attribute");
    document().body().unwrap().append_child(&odd).unwrap();
    blocked_inline("cookies-analytics", "after");
    start(config(V2025));
    shown().await;
    click("accept-all");
    until("both scripts", || ran().len() == 2).await;
    assert_eq!(ran(), ["odd-attribute", "after"]);
    JsFuture::from(api("rejectAll").unchecked_into::<Promise>())
        .await
        .unwrap();
    assert!(!allows("cookies-analytics"), "the banner still answers");
}

#[wasm_bindgen_test]
async fn a_policy_the_bootstrap_fetched_is_used_instead_of_a_second_request() {
    reset("en");
    let mut c = config(V2025);
    let mut url = c.endpoint.clone();
    url.push_str(VIEW_EN);
    c.policy = Some(prefetch_policy(&url));
    start(c);
    shown().await;
    assert_eq!(gets(), [VIEW_EN], "one request: the bootstrap's");
    click("accept-all");
    assert!(allows("cookies-analytics"));
}

#[wasm_bindgen_test]
async fn a_policy_the_bootstrap_could_not_fetch_means_no_dialog_until_the_way_back_in() {
    reset("en");
    blocked_scripts();
    let mut c = config(V2025);
    c.policy = Some(Promise::reject(&JsValue::from(503)));
    start(c);
    until("ready", || events("ready").len() == 1).await;
    sleep(50).await;
    assert!(dialog().is_none());
    assert!(!allows("cookies-analytics"));
    assert!(gets().is_empty(), "no second request on its own");
    reopen_button().expect("the way back in").click();
    shown().await;
    assert_eq!(gets(), [VIEW_EN]);
}

#[wasm_bindgen_test]
async fn a_ready_listener_added_after_ready_is_called_once_with_the_state() {
    reset("en");
    start(config(V2025));
    shown().await;
    assert_eq!(events("ready").len(), 1);
    let on_ready = recorder("__ready");
    on("ready", &on_ready);
    let seen: Array = get(&window(), "__ready").unchecked_into();
    assert_eq!(seen.length(), 0, "not inside the call: in a microtask");
    sleep(0).await;
    assert_eq!(seen.length(), 1);
    assert_eq!(get(&seen.get(0), "decided").as_bool(), Some(false));
    click("reject-all");
    assert_eq!(
        seen.length(),
        1,
        "a ready listener is not a change listener"
    );
}

#[wasm_bindgen_test]
async fn what_a_page_does_with_the_event_does_not_change_what_is_allowed() {
    reset("en");
    blocked_scripts();
    start(config(V2025));
    let on_change = recorder("__seen");
    on("change", &on_change);
    shown().await;
    click("choose");
    switch("cookies-analytics").click();
    click("save");
    // The analytics file is still loading; the scripts after it wait for it.
    let seen: Array = get(&window(), "__seen").unchecked_into();
    let granted: Array = get(&seen.get(0), "granted").unchecked_into();
    granted.push(&"cookies-marketing".into());
    until("the analytics file", || {
        ran().contains(&"analytics-file".to_owned())
    })
    .await;
    sleep(50).await;
    assert!(
        !ran().iter().any(|r| r.starts_with("marketing")),
        "{:?}",
        ran()
    );
    assert!(!allows("cookies-marketing"));
}

#[wasm_bindgen_test]
async fn a_listener_that_unsubscribed_is_not_called_and_the_banner_goes_on() {
    reset("en");
    start(config(V2025));
    let on_change = recorder("__seen");
    let off: Function = on("change", &on_change).unchecked_into();
    shown().await;
    off.call0(&JsValue::NULL).unwrap();
    click("accept-all");
    assert!(dialog().is_none());
    let seen: Array = get(&window(), "__seen").unchecked_into();
    assert_eq!(seen.length(), 0, "not called after it unsubscribed");
    assert_eq!(events("change").len(), 1);
    assert!(allows("cookies-analytics"));
    JsFuture::from(api("rejectAll").unchecked_into::<Promise>())
        .await
        .unwrap();
    assert_eq!(events("change").len(), 2, "the banner still works");
    assert!(js_errors().is_empty(), "{:?}", js_errors());
}

#[wasm_bindgen_test]
async fn the_js_api_accept_all_reject_all_and_set_record_choices() {
    reset("en");
    blocked_scripts();
    start(config(V2025));
    shown().await;
    let promise = api("acceptAll");
    assert!(
        promise.is_instance_of::<Promise>(),
        "acceptAll() returns a promise"
    );
    JsFuture::from(promise.unchecked_into::<Promise>())
        .await
        .unwrap();
    assert!(
        dialog().is_none(),
        "a choice through the API closes the dialog"
    );
    until("the scripts", || ran().len() == ALL_SCRIPTS.len()).await;
    assert_eq!(field(&posts()[0], "method"), "accept-all");
    // Each choice waits for the previous one to be recorded (see
    // a_second_choice_made_while_the_first_is_being_sent_is_sent_too).
    recorded().await;

    JsFuture::from(api("rejectAll").unchecked_into::<Promise>())
        .await
        .unwrap();
    until("the second choice", || post_bodies().len() == 2).await;
    let request = posts().remove(1);
    assert_eq!(field(&request, "method"), "withdraw");
    assert_eq!(decisions(&request), expected("withdrawn", &[]));
    assert!(!allows("cookies-analytics"));
    recorded().await;

    let on = Object::new();
    Reflect::set(&on, &"cookies-analytics".into(), &true.into()).unwrap();
    JsFuture::from(api_with("set", &on).unchecked_into::<Promise>())
        .await
        .unwrap();
    until("the third choice", || post_bodies().len() == 3).await;
    let request = posts().remove(2);
    assert_eq!(field(&request, "method"), "custom");
    assert_eq!(
        decisions(&request),
        expected("refused", &[("cookies-analytics", "given")])
    );
    assert!(allows("cookies-analytics") && !allows("cookies-marketing"));
    recorded().await;

    // set() changes the purposes it names and keeps the others as they are.
    let more = Object::new();
    Reflect::set(&more, &"cookies-preferences".into(), &true.into()).unwrap();
    JsFuture::from(api_with("set", &more).unchecked_into::<Promise>())
        .await
        .unwrap();
    until("the fourth choice", || post_bodies().len() == 4).await;
    assert_eq!(
        decisions(&posts()[3]),
        expected(
            "refused",
            &[
                ("cookies-analytics", "given"),
                ("cookies-preferences", "given")
            ]
        )
    );
}

#[wasm_bindgen_test]
async fn the_js_api_open_opens_the_second_layer_after_a_choice() {
    reset("en");
    start(config(V2025));
    shown().await;
    // While the first-visit dialog is open, open() changes nothing.
    JsFuture::from(api("open").unchecked_into::<Promise>())
        .await
        .unwrap();
    assert_eq!(document().query_selector_all("dialog").unwrap().length(), 1);
    assert_eq!(actions(), ["accept-all", "reject-all", "choose"]);
    click("accept-all");
    assert!(dialog().is_none());
    JsFuture::from(api("open").unchecked_into::<Promise>())
        .await
        .unwrap();
    shown().await;
    assert_eq!(actions(), ["close", "accept-all", "reject-all", "save"]);
    assert_eq!(
        switched_on().len(),
        3,
        "the current choice: every purpose the banner asks for"
    );
}

#[wasm_bindgen_test]
async fn accept_all_called_from_a_change_listener_is_deferred_and_works() {
    reset("en");
    blocked_scripts();
    start(config(V2025));
    shown().await;
    accept_all_from_first_change();
    click("reject-all");
    until("both choices", || events("change").len() == 2).await;
    assert!(js_errors().is_empty(), "{:?}", js_errors());
    assert_eq!(field(&events("change")[0], "method"), "reject-all");
    assert_eq!(field(&events("change")[1], "method"), "accept-all");
    until("the scripts", || ran().len() == ALL_SCRIPTS.len()).await;
    assert!(allows("cookies-marketing"));
}

#[wasm_bindgen_test]
async fn a_second_choice_made_while_the_first_is_being_sent_is_sent_too() {
    reset("en");
    start(config(V2025));
    shown().await;
    stub_post_delay(100);
    let rejected = token(V2025, &[]);
    stub_token(&rejected);
    let accepted = token(V2025, &CONSENT_CODES);
    stub_token(&accepted);
    click("reject-all");
    JsFuture::from(api("acceptAll").unchecked_into::<Promise>())
        .await
        .unwrap();
    sleep(400).await;
    let posts = posts();
    assert_eq!(posts.len(), 2, "both choices are sent");
    assert_eq!(field(&posts[1], "method"), "accept-all");
    // Made before the first answer brought a token, sent after it: the same subject, with the token
    // that answer brought (the device's, which the server asks for once the device has a choice).
    assert!(get(&posts[0], "subject").is_undefined());
    let first = claims(V2025, &[], &CONSENT_CODES);
    assert_eq!(
        field(&get(&posts[1], "subject"), "device"),
        first.device().unwrap().encoded()
    );
    assert_eq!(post_tokens(), [None, Some(rejected)]);
    assert_eq!(
        cookie("consent"),
        Some(accepted),
        "the cookie holds the last choice"
    );
    assert_eq!(pending(), None);
}

#[wasm_bindgen_test]
async fn a_current_token_with_nothing_to_activate_still_answers_allows() {
    reset("en");
    set_token(&token(V2025, &[ANALYTICS]));
    let mut cfg = config(V2025);
    cfg.consent_mode = None;
    start(cfg);
    until("ready", || events("ready").len() == 1).await;
    assert_eq!(get(&api("get"), "decided").as_bool(), Some(true));
    assert!(allows("cookies-analytics"), "the token grants it");
    assert!(allows("cookies-necessary"));
}

#[wasm_bindgen_test]
async fn the_js_api_lists_what_a_current_token_refuses() {
    reset("en");
    set_token(&token(V2025, &[ANALYTICS]));
    start(config(V2025));
    until("ready", || events("ready").len() == 1).await;
    let refused = strings(&get(&api("get"), "refused"));
    assert!(
        refused.contains(&"cookies-marketing".to_string()),
        "{refused:?}"
    );
}
