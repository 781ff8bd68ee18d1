//! The server unreachable, refusing, or answering later.

use super::*;

#[wasm_bindgen_test]
async fn an_unreachable_server_keeps_the_choice_and_retries_with_backoff_until_it_is_recorded() {
    reset("en");
    blocked_scripts();
    stub_post("down");
    start(config(V2025));
    shown().await;
    click("accept-all");
    // The choice applies at once.
    until("the scripts", || ran().len() == ALL_SCRIPTS.len()).await;
    let entry = js_sys::JSON::parse(&pending().expect("kept in localStorage")).unwrap();
    let sent = post_bodies().remove(0);
    assert_eq!(
        js_sys::JSON::stringify(&get(&entry, "request"))
            .unwrap()
            .as_string()
            .unwrap(),
        sent,
        "the exact request is kept"
    );
    assert!(strings(&get(&entry, "granted")).contains(&"cookies-marketing".to_string()));
    assert!(get(&entry, "expires").as_f64().unwrap() > js_sys::Date::now() + 86_400_000.0);
    assert_eq!(cookie("consent"), None);
    assert_eq!(get(&api("get"), "pending").as_bool(), Some(true));

    // Sent again after 50 ms, then 100 ms, doubling.
    until("three attempts", || post_bodies().len() >= 3).await;
    let at: Vec<f64> = requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.at)
        .collect();
    assert!(at[1] - at[0] >= 48.0, "first retry after {}", at[1] - at[0]);
    assert!(
        at[2] - at[1] >= 98.0,
        "second retry after {}",
        at[2] - at[1]
    );
    let issued = token(V2025, &CONSENT_CODES);
    stub_token(&issued);
    stub_post("201");
    until("the cookie", || cookie("consent").is_some()).await;
    assert_eq!(cookie("consent"), Some(issued));
    assert_eq!(pending(), None);
    assert!(post_bodies().iter().all(|b| *b == sent), "the same request");
    let count = post_bodies().len();
    sleep(300).await;
    assert_eq!(post_bodies().len(), count, "not sent after it was recorded");
    assert_eq!(get(&api("get"), "pending").as_bool(), Some(false));
}

#[wasm_bindgen_test]
async fn a_server_error_is_retried_and_a_refused_request_is_dropped() {
    reset("en");
    stub_post("503");
    start(config(V2025));
    shown().await;
    click("reject-all");
    until("a retry", || post_bodies().len() >= 2).await;
    assert!(pending().is_some());
    stub_token(&token(V2025, &[]));
    stub_post("201");
    until("the pending entry to go", || pending().is_none()).await;
    assert!(cookie("consent").is_some());

    reset("en");
    stub_post("422");
    start(config(V2025));
    shown().await;
    click("reject-all");
    until("the request", || post_bodies().len() == 1).await;
    until("the pending entry to go", || pending().is_none()).await;
    sleep(200).await;
    assert_eq!(post_bodies().len(), 1, "a 4xx is not sent again");
    assert_eq!(cookie("consent"), None);
    assert_eq!(pending(), None);
}

/// A choice kept in `localStorage` by an earlier page whose server could not be reached (`{request,
/// granted, expires}`, as the banner writes it): a custom choice under `version` giving `given`.
/// Returns the request, as it must be sent again, and what it grants.
fn kept_choice(version: &str, given: &[&str]) -> (String, Vec<String>) {
    let decisions = Object::new();
    for p in CONSENT_PURPOSES {
        let d = if given.contains(&p) {
            "given"
        } else {
            "refused"
        };
        Reflect::set(&decisions, &p.into(), &d.into()).unwrap();
    }
    let point = Object::new();
    Reflect::set(&point, &"kind".into(), &"banner".into()).unwrap();
    Reflect::set(&point, &"page".into(), &page_url().into()).unwrap();
    let request = Object::new();
    for (k, v) in [
        ("policy_version", JsValue::from(version)),
        ("method", "custom".into()),
        ("language", "en".into()),
        ("decisions", decisions.into()),
        ("collection_point", point.into()),
    ] {
        Reflect::set(&request, &k.into(), &v).unwrap();
    }
    let mut granted = s(&["cookies-necessary"]);
    granted.extend(s(given));
    let entry = Object::new();
    Reflect::set(&entry, &"request".into(), &request).unwrap();
    let ids: Array = granted.iter().map(|g| JsValue::from(g.as_str())).collect();
    Reflect::set(&entry, &"granted".into(), &ids).unwrap();
    let expires = js_sys::Date::now() + 30.0 * 86_400_000.0;
    Reflect::set(&entry, &"expires".into(), &expires.into()).unwrap();
    let json = |v: &JsValue| js_sys::JSON::stringify(v).unwrap().as_string().unwrap();
    storage().set_item(PENDING_KEY, &json(&entry)).unwrap();
    (json(&request), granted)
}

#[wasm_bindgen_test]
async fn a_choice_kept_by_an_earlier_page_applies_without_a_dialog_and_is_sent_again() {
    reset("en");
    blocked_scripts();
    let (body, granted) = kept_choice(V2025, &["cookies-analytics"]);
    let issued = token(V2025, &[ANALYTICS]);
    stub_token(&issued);
    start(config(V2025));
    until("the scripts", || ran().len() == 3).await;
    assert_eq!(ran(), ["analytics-inline", "analytics-file", "necessary"]);
    assert!(dialog().is_none());
    assert_eq!(post_bodies(), [body]);
    assert!(gets().is_empty(), "no policy needed to apply a kept choice");
    until("the cookie", || cookie("consent").is_some()).await;
    assert_eq!(cookie("consent"), Some(issued));
    assert_eq!(pending(), None);
    assert!(reopen_button().is_some());
    assert_eq!(strings(&get(&api("get"), "granted")), granted);
    assert_eq!(events("ready").len(), 1);
}

#[wasm_bindgen_test]
async fn consent_mode_on_a_page_with_a_kept_choice_updates_from_that_choice() {
    reset("en");
    install_gtag_recorder();
    kept_choice(V2025, &["cookies-analytics"]);
    stub_token(&token(V2025, &[ANALYTICS]));
    start(config(V2025));
    let calls = gtag_calls();
    assert_eq!(
        calls.len(),
        2,
        "default, then update at once: no policy needed"
    );
    assert_eq!(params(&calls[0].get(2)), consent_mode(&[], true));
    assert_eq!(calls[1].get(1).as_string().as_deref(), Some("update"));
    assert_eq!(
        params(&calls[1].get(2)),
        consent_mode(&["analytics_storage"], false)
    );
}

#[wasm_bindgen_test]
async fn a_choice_kept_under_an_older_policy_version_is_dropped_and_asked_again() {
    reset("en");
    blocked_scripts();
    stub_current(&VIEWS_2026);
    kept_choice(V2025, &["cookies-analytics"]);
    start(config(V2026));
    shown().await;
    assert_eq!(pending(), None);
    assert!(post_bodies().is_empty());
    sleep(50).await;
    assert_eq!(ran(), ["necessary"]);
}

/// A language chosen in the dialog whose view does not come: the dialog stays, in its language; a later
/// choice of language works.
#[wasm_bindgen_test]
async fn a_language_whose_view_does_not_come_leaves_the_dialog_as_it_is() {
    reset("en");
    start(config(V2025));
    let d = shown().await;
    stub_get_down(true);
    one_in(&d, "[data-consent-lang=\"ru\"]").click();
    until("the request", || gets().len() == 2).await;
    sleep(50).await;
    let d = dialog().expect("still open");
    assert_eq!(d.get_attribute("lang").as_deref(), Some("en"));
    assert_eq!(text(&action("accept-all")), texts("en").accept_all);
    assert!(reopen_button().is_none());
    stub_get_down(false);
    choose_language("ru").await;
    assert_eq!(text(&action("accept-all")), texts("ru").accept_all);
    assert_eq!(
        gets(),
        [VIEW_EN, "/v1/policy/banner/ru", "/v1/policy/banner/ru"]
    );
}

#[wasm_bindgen_test]
async fn without_the_policy_there_is_no_dialog_nothing_optional_runs_and_the_way_back_in_tries_again()
 {
    reset("en");
    blocked_scripts();
    stub_get_down(true);
    start(config(V2025));
    until("ready", || events("ready").len() == 1).await;
    sleep(50).await;
    assert!(dialog().is_none());
    for optional in ["analytics-inline", "marketing-inline", "preferences"] {
        assert!(!ran().contains(&optional.to_string()));
    }
    assert!(!allows("cookies-analytics"));
    let b = reopen_button().expect("the way back in");
    stub_get_down(false);
    b.click();
    shown().await;
    assert_eq!(gets(), [VIEW_EN, VIEW_EN]);
}

#[wasm_bindgen_test]
async fn starting_the_banner_twice_on_one_page_shows_one_dialog_and_records_one_choice() {
    reset("en");
    start(config(V2025));
    start(config(V2025));
    shown().await;
    sleep(50).await;
    assert_eq!(
        document()
            .query_selector_all(&format!("#{DIALOG_ID}"))
            .unwrap()
            .length(),
        1,
        "one dialog"
    );
    click("accept-all");
    sleep(100).await;
    assert_eq!(post_bodies().len(), 1, "one choice recorded");
}

#[wasm_bindgen_test]
async fn an_earlier_tests_banner_does_not_act_in_this_one() {
    // The harness check: every test starts a banner, and each stays alive in the page.
    reset("en");
    start(config(V2025));
    shown().await;
    click("accept-all");
    until("the choice", || post_bodies().len() == 1).await;
    reset("en");
    start(config(V2025));
    shown().await;
    click("reject-all");
    until("the choice", || post_bodies().len() == 1).await;
    sleep(100).await;
    assert_eq!(post_bodies().len(), 1);
    assert_eq!(page_all(&format!(".{REOPEN_CLASS}")).len(), 1);
    assert_eq!(events("change").len(), 1);
}

#[wasm_bindgen_test]
async fn open_while_a_return_visits_policy_loads_still_runs_what_the_token_grants() {
    reset("en");
    blocked_scripts();
    set_token(&token(V2025, &[ANALYTICS]));
    start(config(V2025));
    // At once, while the token's policy is on its way (a page that opens the choices on load).
    let _ = api("open");
    until("the scripts", || ran().len() == 3).await;
    assert_eq!(ran(), ["analytics-inline", "analytics-file", "necessary"]);
    let d = shown().await;
    assert!(d.matches(":modal").unwrap());
    assert_eq!(switched_on(), ["cookies-analytics"]);
    assert_eq!(gets(), ["/v1/policies/2025-03-26", VIEW_EN]);
    assert_eq!(events("ready").len(), 1);
    assert!(reopen_button().is_some());
}

#[wasm_bindgen_test]
async fn a_choice_through_the_api_on_a_return_visit_is_made_under_the_current_policy() {
    // The page still says 2025-03-26 (its token is current for it), but the server has 2026-06-01 (in
    // which only the newsletter changed, a purpose the banner does not ask for): a choice goes under
    // the server's policy, and keeps what the token gave.
    reset("en");
    stub_current(&VIEWS_2026);
    set_token(&token(V2025, &[PREFERENCES, ANALYTICS, MARKETING]));
    start(config(V2025));
    until("ready", || events("ready").len() == 1).await;
    assert!(
        allows("cookies-preferences"),
        "under the token's own policy"
    );
    assert!(
        !allows("marketing"),
        "the newsletter is never the banner's to grant"
    );
    let off = Object::new();
    Reflect::set(&off, &"cookies-analytics".into(), &false.into()).unwrap();
    stub_token(&token(V2026, &[PREFERENCES]));
    JsFuture::from(api_with("set", &off).unchecked_into::<Promise>())
        .await
        .unwrap();
    until("the choice", || post_bodies().len() == 1).await;
    let request = posted();
    assert_eq!(field(&request, "policy_version"), V2026);
    assert_eq!(
        decisions(&request),
        expected(
            "refused",
            &[
                ("cookies-analytics", "withdrawn"),
                ("cookies-preferences", "given")
            ]
        )
    );
    assert_eq!(gets(), ["/v1/policies/2025-03-26", VIEW_EN]);
    recorded().await;
}

#[wasm_bindgen_test]
async fn the_js_api_set_refuses_what_is_not_a_choice_and_records_nothing() {
    reset("en");
    start(config(V2025));
    shown().await;
    let wrong_value = Object::new();
    Reflect::set(&wrong_value, &"cookies-analytics".into(), &"yes".into()).unwrap();
    for bad in [
        JsValue::UNDEFINED,
        JsValue::NULL,
        "cookies-analytics".into(),
        Array::of1(&JsValue::TRUE).into(),
        Object::new().into(),
        wrong_value.into(),
    ] {
        let error = JsFuture::from(api_with("set", &bad).unchecked_into::<Promise>())
            .await
            .expect_err("set() with something that is not a choice is refused");
        assert!(error.is_instance_of::<js_sys::TypeError>(), "{bad:?}");
    }
    // A purpose the policy does not have (a typo): nothing recorded, the dialog stays.
    let unknown = Object::new();
    Reflect::set(&unknown, &"cookies-analytcs".into(), &true.into()).unwrap();
    Reflect::set(&unknown, &"cookies-marketing".into(), &true.into()).unwrap();
    JsFuture::from(api_with("set", &unknown).unchecked_into::<Promise>())
        .await
        .unwrap();
    sleep(50).await;
    assert!(post_bodies().is_empty(), "nothing recorded");
    assert!(dialog().is_some());
    assert!(!allows("cookies-marketing"));
    assert!(js_errors().is_empty(), "{:?}", js_errors());
}

#[wasm_bindgen_test]
async fn an_embed_the_page_hid_itself_stays_hidden_when_its_purpose_is_granted() {
    reset("en");
    let tab = add(
        "iframe",
        &[
            ("data-consent", "cookies-marketing"),
            ("data-src", "about:blank#tab"),
            ("hidden", ""),
        ],
        "",
    );
    start(config(V2025));
    shown().await;
    assert!(
        placeholder(&tab).is_none(),
        "no placeholder for what is hidden"
    );
    click("accept-all");
    until("the source", || tab.get_attribute("src").is_some()).await;
    assert!(tab.has_attribute("hidden"), "the page's own hidden stays");
}

#[wasm_bindgen_test]
async fn a_blocked_script_keeps_its_nonce_and_a_nomodule_file_holds_nothing_up() {
    reset("en");
    // The nonce as a page with its CSP in a header has it: in the property, the attribute emptied.
    let with_nonce = add(
        "script",
        &[
            ("type", "text/plain"),
            ("data-consent", "cookies-analytics"),
            ("nonce", ""),
            ("id", "with-nonce"),
        ],
        &ran_js("with-nonce"),
    );
    Reflect::set(&with_nonce, &"nonce".into(), &"n0nce".into()).unwrap();
    let nomodule = format!("data:text/javascript,{}", ran_js("nomodule"));
    add(
        "script",
        &[
            ("type", "text/plain"),
            ("data-consent", "cookies-analytics"),
            ("data-src", &nomodule),
            ("nomodule", ""),
        ],
        "",
    );
    blocked_inline("cookies-analytics", "after");
    start(config(V2025));
    shown().await;
    click("accept-all");
    until("the scripts", || ran().len() == 2).await;
    assert_eq!(ran(), ["with-nonce", "after"]);
    let activated = document().get_element_by_id("with-nonce").unwrap();
    assert_eq!(
        get(&activated, "nonce").as_string().as_deref(),
        Some("n0nce")
    );
}

#[wasm_bindgen_test]
async fn a_retry_sends_the_newer_choice_another_tab_kept_and_nothing_once_another_tab_sent_it() {
    reset("en");
    start(config(V2025));
    shown().await;
    stub_post("down");
    click("accept-all");
    until("the pending entry", || pending().is_some()).await;
    // Another tab (same storage) rejects all meanwhile, also without the server.
    let entry = js_sys::JSON::parse(&pending().unwrap()).unwrap();
    let request = get(&entry, "request");
    Reflect::set(&request, &"method".into(), &"reject-all".into()).unwrap();
    Reflect::set(&entry, &"at".into(), &(js_sys::Date::now() + 1.0).into()).unwrap();
    storage()
        .set_item(
            PENDING_KEY,
            &String::from(js_sys::JSON::stringify(&entry).unwrap()),
        )
        .unwrap();
    stub_token(&token(V2025, &[]));
    stub_post("201");
    recorded().await;
    let methods: Vec<String> = posts().iter().map(|p| field(p, "method")).collect();
    assert_eq!(
        methods.last().map(String::as_str),
        Some("reject-all"),
        "{methods:?}"
    );

    // This tab's choice, kept again; another tab's answer takes the entry: nothing more is sent.
    stub_post("down");
    JsFuture::from(api("acceptAll").unchecked_into::<Promise>())
        .await
        .unwrap();
    until("the pending entry", || pending().is_some()).await;
    let sent = post_bodies().len();
    storage().remove_item(PENDING_KEY).unwrap();
    stub_post("201");
    until("nothing pending", || {
        get(&api("get"), "pending").as_bool() == Some(false)
    })
    .await;
    sleep(200).await;
    assert_eq!(post_bodies().len(), sent, "not sent again");
}
