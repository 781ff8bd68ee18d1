//! Return visits and the way back in.

use super::*;

#[wasm_bindgen_test]
async fn a_current_token_runs_what_it_grants_without_a_dialog_and_leaves_the_way_back_in() {
    reset("kk");
    blocked_scripts();
    set_token(&token(V2025, &[ANALYTICS]));
    start(config(V2025));
    until("the scripts", || ran().len() == 3).await;
    assert_eq!(ran(), ["analytics-inline", "analytics-file", "necessary"]);
    sleep(50).await;
    assert_eq!(ran().len(), 3, "marketing and preferences stay blocked");
    assert!(dialog().is_none());
    // The token's own (immutable, cacheable) policy version maps purpose ids to codes.
    assert_eq!(gets(), ["/v1/policies/2025-03-26"]);
    // Read from the full policy, the banner allows what it does from a banner view: its own purposes.
    assert!(allows("cookies-necessary") && allows("cookies-analytics"));
    assert!(!allows("legal-compliance") && !allows("marketing"));
    assert!(post_bodies().is_empty());
    let b = reopen_button().expect("the way back in on a return visit");
    assert_eq!(b.tag_name(), "BUTTON");
    assert_eq!(
        b.get_attribute("data-consent-action").as_deref(),
        Some("open")
    );
    assert_eq!(accessible_name(&b), texts("kk").settings);
    assert_eq!(events("ready").len(), 1);
    assert!(allows("cookies-analytics"));
    assert!(!allows("cookies-marketing"));
    assert_eq!(get(&api("get"), "decided").as_bool(), Some(true));
}

#[wasm_bindgen_test]
async fn the_way_back_in_opens_the_second_layer_with_the_current_choice_and_the_consent_id() {
    reset("en");
    blocked_scripts();
    let current = claims(V2025, &[PREFERENCES, ANALYTICS], &[MARKETING_COOKIES]);
    set_token(&sign(current));
    start(config(V2025));
    until("the way back in", || reopen_button().is_some()).await;
    reopen_button().unwrap().click();
    let d = shown().await;
    assert!(d.matches(":modal").unwrap());
    assert_eq!(
        actions(),
        ["close", "receipt", "accept-all", "reject-all", "save"]
    );
    assert_eq!(switched_on(), ["cookies-preferences", "cookies-analytics"]);
    assert!(switch("cookies-necessary").checked() && switch("cookies-necessary").disabled());
    assert_eq!(
        one_in(&d, "[data-consent-action=\"close\"]")
            .get_attribute("aria-label")
            .as_deref(),
        Some(texts("en").close.as_str())
    );
    // The visitor's consent ID, date and receipt.
    let id = current.receipt.hyphenated();
    assert_eq!(id, "2a2a2a2a-2a2a-2a2a-2a2a-2a2a2a2a2a2a");
    let receipt = one_in(&d, ".consent-banner__receipt");
    let values: Vec<String> = all_in(&receipt, ".consent-banner__value")
        .iter()
        .map(|v| text(v))
        .collect();
    assert_eq!(values[0], id);
    assert!(text(&receipt).contains(&texts("en").consent_id));
    let link = one_in(&receipt, "a");
    assert_eq!(
        link.get_attribute("href"),
        Some(format!("{}/v1/receipts/{id}", endpoint()))
    );
    assert_eq!(text(&link), texts("en").receipt);
    // The current policy is fetched to reopen; opening records nothing.
    assert_eq!(gets(), ["/v1/policies/2025-03-26", VIEW_EN]);
    assert!(post_bodies().is_empty());
    assert_eq!(page_all(&format!(".{REOPEN_CLASS}")).len(), 1);
    // The date of the choice in the dialog's language; Kazakh in digits (Chromium's ICU data has no
    // Kazakh months).
    let (y, m, day) =
        consent_core::Date::from_days(current.issued_at.as_unix().div_euclid(86_400) as i32)
            .unwrap()
            .ymd();
    choose_language("kk").await;
    let values: Vec<String> = all_in(&d, ".consent-banner__receipt .consent-banner__value")
        .iter()
        .map(|v| text(v))
        .collect();
    assert_eq!(values[1], format!("{day:02}.{m:02}.{y}"));
    choose_language("en").await;

    // The close button changes nothing.
    click("close");
    assert!(dialog().is_none());

    // Any element with data-consent-open, even one added after the banner started, opens it too.
    let link = add("a", &[("href", "#settings"), ("data-consent-open", "")], "");
    let inner = document().create_element("span").unwrap();
    inner.set_text_content(Some("Cookie settings"));
    link.append_child(&inner).unwrap();
    inner.unchecked_ref::<HtmlElement>().click();
    shown().await;
    assert_eq!(
        window().location().hash().unwrap(),
        "",
        "the link is not followed"
    );
    assert_eq!(switched_on(), ["cookies-preferences", "cookies-analytics"]);
    sleep(50).await;
    assert!(post_bodies().is_empty());
    assert!(events("change").is_empty());
}

#[wasm_bindgen_test]
async fn turning_off_what_was_granted_sends_withdrawn_and_deletes_its_cookies() {
    reset("en");
    blocked_scripts();
    set_token(&token(V2025, &[ANALYTICS, MARKETING_COOKIES]));
    for c in ["_ga=1", "_ga_X=2", "_fbp=3", "lang=kk", "theme=dark"] {
        set_cookie(c);
    }
    start(config(V2025));
    until("the scripts", || ran().len() == 5).await;
    reopen_button().unwrap().click();
    shown().await;
    assert_eq!(switched_on(), ["cookies-analytics", "cookies-marketing"]);
    let second = token(V2025, &[MARKETING_COOKIES]);
    stub_token(&second);
    stub_token(&token(V2025, &[]));
    switch("cookies-analytics").click();
    click("save");
    assert!(dialog().is_none());
    until("the request", || post_bodies().len() == 1).await;
    let request = posted();
    assert_eq!(field(&request, "method"), "custom");
    assert_eq!(
        field(&get(&request, "subject"), "device"),
        SubjectId([1; 16]).encoded(),
        "the same device as the token's"
    );
    assert_eq!(
        decisions(&request),
        expected(
            "refused",
            &[
                ("cookies-analytics", "withdrawn"),
                ("cookies-marketing", "given")
            ]
        )
    );
    for gone in ["_ga", "_ga_X", "lang"] {
        assert_eq!(cookie(gone), None, "{gone} deleted");
    }
    assert!(cookie("_fbp").is_some() && cookie("theme").is_some());
    let change = events("change").remove(0);
    assert_eq!(strings(&get(&change, "withdrawn")), ["cookies-analytics"]);
    assert!(strings(&get(&change, "refused")).contains(&"cookies-analytics".to_string()));
    assert!(!allows("cookies-analytics"));
    // Scripts that ran cannot be un-run; nothing runs twice.
    assert_eq!(ran().len(), 5);

    // Turning off the last purpose granted: a withdrawal.
    until("the new token", || {
        cookie("consent") == Some(second.clone())
    })
    .await;
    reopen_button().unwrap().click();
    shown().await;
    assert_eq!(switched_on(), ["cookies-marketing"]);
    switch("cookies-marketing").click();
    click("save");
    until("the second request", || post_bodies().len() == 2).await;
    let request = posts().remove(1);
    assert_eq!(field(&request, "method"), "withdraw");
    assert_eq!(
        decisions(&request),
        expected("refused", &[("cookies-marketing", "withdrawn")])
    );
    assert_eq!(cookie("_fbp"), None);
    assert!(cookie("theme").is_some());
}

#[wasm_bindgen_test]
async fn escape_closes_a_reopened_dialog_without_a_change_but_not_a_first_visit_dialog() {
    reset("en");
    blocked_scripts();
    let granted = token(V2025, &[ANALYTICS]);
    set_token(&granted);
    start(config(V2025));
    until("the scripts", || ran().len() == 3).await;
    let b = reopen_button().unwrap();
    b.focus().unwrap();
    b.click();
    let d = shown().await;
    switch("cookies-marketing").click();
    switch("cookies-analytics").click();
    assert!(press_escape(&d));
    assert!(dialog().is_none(), "Escape closes it");
    assert_eq!(
        document().active_element().unwrap(),
        b.clone().unchecked_into::<Element>(),
        "focus returns to the way back in"
    );
    sleep(100).await;
    assert!(post_bodies().is_empty(), "nothing recorded");
    assert!(events("change").is_empty(), "nothing changed");
    assert_eq!(cookie("consent"), Some(granted));
    assert_eq!(ran().len(), 3, "marketing stays blocked");
    assert!(allows("cookies-analytics") && !allows("cookies-marketing"));
    b.click();
    shown().await;
    assert_eq!(switched_on(), ["cookies-analytics"], "still the old choice");

    // On a first visit Escape does not dismiss the dialog: a choice is needed.
    reset("en");
    start(config(V2025));
    let d = shown().await;
    assert!(press_escape(&d), "the cancel event is prevented");
    sleep(50).await;
    assert!(dialog().is_some_and(|d| d.unchecked_ref::<HtmlDialogElement>().open()));
    assert!(post_bodies().is_empty());
}

#[wasm_bindgen_test]
async fn a_first_visit_dialog_the_browser_closes_grants_nothing_and_leaves_the_way_back_in() {
    reset("en");
    blocked_scripts();
    start(config(V2025));
    let d = shown().await;
    // What the browser does on a second Escape: it closes the dialog itself, without a choice.
    d.unchecked_ref::<HtmlDialogElement>().close();
    until("the way back in", || reopen_button().is_some()).await;
    sleep(50).await;
    assert_eq!(ran(), ["necessary"], "closing grants nothing");
    assert!(post_bodies().is_empty());
    assert!(events("change").is_empty());
    assert_eq!(jar(), "");
    assert_eq!(get(&api("get"), "decided").as_bool(), Some(false));
    reopen_button().unwrap().click();
    let d = shown().await;
    assert_eq!(actions(), ["close", "accept-all", "reject-all", "save"]);
    assert!(switched_on().is_empty());
    assert!(d.matches(":modal").unwrap());
}

#[wasm_bindgen_test]
async fn a_dialog_the_browser_closed_leaves_no_element_behind() {
    reset("en");
    start(config(V2025));
    let d = shown().await;
    d.unchecked_ref::<HtmlDialogElement>().close();
    until("the way back in", || reopen_button().is_some()).await;
    reopen_button().unwrap().click();
    let d = shown().await;
    assert_eq!(
        document()
            .query_selector_all(&format!("#{DIALOG_ID}"))
            .unwrap()
            .length(),
        1,
        "one dialog element"
    );
    for attribute in ["aria-labelledby", "aria-describedby"] {
        let target = document()
            .get_element_by_id(&d.get_attribute(attribute).unwrap())
            .unwrap();
        assert!(
            d.contains(Some(&target)),
            "{attribute} names the open dialog's own element"
        );
    }
}
