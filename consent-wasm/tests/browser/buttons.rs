//! The buttons.

use super::*;

/// Issue 18.4: within the click, the granted inline scripts run and the dialog closes; the `POST`
/// (whose `fetch` costs the click milliseconds before the page can paint) goes in a task of its own.
#[wasm_bindgen_test]
async fn a_choice_runs_its_scripts_in_the_click_and_posts_in_a_task_of_its_own() {
    reset("en");
    blocked_scripts();
    start(config(V2025));
    shown().await;
    stub_token(&token(V2025, &CONSENT_CODES));
    click("accept-all");
    assert!(dialog().is_none(), "the dialog closes in the click");
    assert_eq!(
        ran()[..2],
        ["necessary", "analytics-inline"],
        "inline scripts run in the click"
    );
    assert!(post_bodies().is_empty(), "the POST waits for its own task");
    until("the choice", || post_bodies().len() == 1).await;
    assert_eq!(field(&posted(), "method"), "accept-all");
}

#[wasm_bindgen_test]
async fn accept_all_runs_every_blocked_script_in_document_order_and_stores_the_servers_token() {
    reset("en");
    blocked_scripts();
    let mut cfg = config(V2025);
    let build = "ab".repeat(32);
    cfg.build = Some(build.parse().unwrap());
    start(cfg);
    shown().await;
    let issued = token(V2025, &CONSENT_CODES);
    stub_token(&issued);
    click("accept-all");
    assert!(dialog().is_none(), "the dialog closes at once");
    until("the scripts", || ran().len() == ALL_SCRIPTS.len()).await;
    assert_eq!(ran(), ALL_SCRIPTS);
    assert!(page_all("script[type=\"text/plain\"][data-consent]").is_empty());

    let request = posted();
    assert_eq!(field(&request, "method"), "accept-all");
    assert_eq!(field(&request, "policy_version"), V2025);
    assert_eq!(field(&request, "language"), "en");
    assert_eq!(decisions(&request), expected("given", &[]));
    assert!(get(&request, "subject").is_undefined(), "no device id yet");
    let point = get(&request, "collection_point");
    assert_eq!(field(&point, "kind"), "banner");
    assert_eq!(field(&point, "page"), page_url());
    assert_eq!(field(&point, "build"), build);

    // The server's token becomes the cookie; the pending entry goes.
    until("the cookie", || cookie("consent").is_some()).await;
    assert_eq!(cookie("consent"), Some(issued));
    until("the pending entry to go", || pending().is_none()).await;
    assert!(reopen_button().is_some(), "the way back in");

    let changes = events("change");
    assert_eq!(changes.len(), 1);
    assert_eq!(field(&changes[0], "method"), "accept-all");
    assert_eq!(field(&changes[0], "language"), "en");
    let granted = strings(&get(&changes[0], "granted"));
    for p in CONSENT_PURPOSES.iter().chain(&["cookies-necessary"]) {
        assert!(granted.contains(&p.to_string()), "{p} granted");
    }
    assert!(strings(&get(&changes[0], "refused")).is_empty());
    let state = api("get");
    assert_eq!(get(&state, "decided").as_bool(), Some(true));
    assert_eq!(get(&state, "pending").as_bool(), Some(false));
    assert_eq!(strings(&get(&state, "granted")), granted);
    assert_eq!(
        field(&state, "consent_id"),
        "2a2a2a2a-2a2a-2a2a-2a2a-2a2a2a2a2a2a"
    );
    assert!(allows("cookies-marketing"));
}

#[wasm_bindgen_test]
async fn reject_all_runs_nothing_optional_and_deletes_the_declared_cookies() {
    reset("en");
    blocked_scripts();
    for c in [
        "_ga=1",
        "_ga_X=1",
        "_fbp=1",
        "_gcl_au=1",
        "lang=kk",
        "theme=dark",
    ] {
        set_cookie(c);
    }
    start(config(V2025));
    shown().await;
    stub_token(&token(V2025, &[]));
    click("reject-all");
    assert!(dialog().is_none());
    until("the cookie", || cookie("consent").is_some()).await;
    sleep(100).await;
    assert_eq!(ran(), ["necessary"]);
    assert_eq!(
        page_all("script[type=\"text/plain\"][data-consent]").len(),
        5
    );
    let request = posted();
    assert_eq!(field(&request, "method"), "reject-all");
    assert_eq!(decisions(&request), expected("refused", &[]));
    // Declared cookies of the refused categories, by name and by pattern, are gone; an undeclared
    // one stays.
    for gone in ["_ga", "_ga_X", "_fbp", "_gcl_au", "lang"] {
        assert_eq!(cookie(gone), None, "{gone} deleted");
    }
    assert_eq!(cookie("theme").as_deref(), Some("dark"));
    let change = events("change").remove(0);
    assert_eq!(strings(&get(&change, "granted")), ["cookies-necessary"]);
    assert_eq!(strings(&get(&change, "refused")).len(), 3);
    assert!(!allows("cookies-analytics"));
    assert!(allows("cookies-necessary"));
}

#[wasm_bindgen_test]
async fn choose_shows_a_switch_per_purpose_with_cookie_tables_and_saves_a_custom_choice() {
    reset("en");
    blocked_scripts();
    start(config(V2025));
    let d = shown().await;
    click("choose");
    assert_eq!(actions(), ["accept-all", "reject-all", "save"]);
    let switches: Vec<HtmlInputElement> = all_in(&d, "input[data-purpose]")
        .into_iter()
        .map(|e| e.unchecked_into())
        .collect();
    assert_eq!(
        switches.len(),
        4,
        "one per purpose of the banner's collection point: the cookie purposes"
    );
    for s in &switches {
        let id = s.get_attribute("data-purpose").unwrap();
        assert_eq!(s.type_(), "checkbox");
        assert_eq!(s.get_attribute("role").as_deref(), Some("switch"));
        assert!(id.starts_with("cookies-"), "{id}");
        let locked = id == "cookies-necessary";
        assert_eq!(
            s.checked(),
            locked,
            "{id}: only what needs no consent is on"
        );
        assert_eq!(s.disabled(), locked, "{id}: and locked");
        let row = s.closest(".consent-banner__purpose").unwrap().unwrap();
        let notes: Vec<String> = all_in(&row, ".consent-banner__note")
            .iter()
            .map(|n| text(n))
            .collect();
        if locked {
            assert_eq!(notes, [texts("en").always_on], "{id}");
        } else {
            assert!(notes.is_empty(), "{id}");
        }
        let label = s.parent_element().unwrap();
        assert_eq!(label.tag_name(), "LABEL");
        assert!(!text(&label).is_empty());
        // Described by its note, if any, then its description.
        let described_by = s.get_attribute("aria-describedby").unwrap();
        let by: Vec<String> = described_by
            .split(' ')
            .map(|id| text(&document().get_element_by_id(id).expect(id)))
            .collect();
        let mut expected_by = notes.clone();
        expected_by.push(by.last().cloned().unwrap_or_default());
        assert_eq!(by, expected_by, "{id}");
        assert!(!by.last().unwrap().is_empty());
    }
    // A cookie table for each cookie purpose, with a row per declared cookie.
    let tables: Vec<(String, usize)> = all_in(&d, "details.consent-banner__cookies")
        .iter()
        .map(|t| {
            let row = t.closest(".consent-banner__purpose").unwrap().unwrap();
            let purpose = one_in(&row, "input[data-purpose]")
                .get_attribute("data-purpose")
                .unwrap();
            (purpose, all_in(t, "tr").len() - 1)
        })
        .collect();
    assert_eq!(
        tables,
        [
            ("cookies-necessary".into(), 1),
            ("cookies-preferences".into(), 1),
            ("cookies-analytics".into(), 2),
            ("cookies-marketing".into(), 2),
        ]
    );
    let analytics = switch("cookies-analytics")
        .closest(".consent-banner__purpose")
        .unwrap()
        .unwrap();
    assert_eq!(text(&one_in(&analytics, "summary")), "Cookies (2)");
    let cells: Vec<String> = all_in(&analytics, "td").iter().map(|c| text(c)).collect();
    assert!(cells.contains(&"_ga".to_string()) && cells.contains(&"_ga_*".to_string()));

    sleep(50).await;
    assert_eq!(ran(), ["necessary"], "opening the choices grants nothing");
    switch("cookies-analytics").click();
    click("save");
    assert!(dialog().is_none());
    until("the scripts", || ran().len() == 3).await;
    assert_eq!(ran(), ["necessary", "analytics-inline", "analytics-file"]);
    let request = posted();
    assert_eq!(field(&request, "method"), "custom");
    assert_eq!(
        decisions(&request),
        expected("refused", &[("cookies-analytics", "given")])
    );
    sleep(50).await;
    assert_eq!(ran().len(), 3, "marketing and preferences stay blocked");
}

/// The lifetime column of the dialog's cookie tables, in order.
fn lifetimes() -> Vec<String> {
    all_in(
        &dialog().unwrap(),
        "details.consent-banner__cookies tr td:nth-child(3)",
    )
    .iter()
    .map(|c| text(c))
    .collect()
}

#[wasm_bindgen_test]
async fn a_session_cookie_is_written_in_the_dialogs_language() {
    reset("en");
    // The `lang` cookie (the second of the tables, "12 months") made a session cookie.
    let first = "\"lifetime\":\"12 months\"";
    for (lang, view) in VIEWS_2025 {
        assert_eq!(view.matches(first).count(), 1);
        stub_route(
            &format!("/v1/policy/banner/{lang}"),
            &view.replacen(first, "\"lifetime\":\"session\"", 1),
        );
    }
    start(config(V2025));
    shown().await;
    click("choose");
    assert_eq!(lifetimes()[..3], ["6 months", "session", "13 months"]);
    choose_language("ru").await;
    assert_eq!(lifetimes()[..3], ["6 месяцев", "сеанс", "13 месяцев"]);
    choose_language("kk").await;
    assert_eq!(lifetimes()[..3], ["6 ай", "сеанс", "13 ай"]);
}

#[wasm_bindgen_test]
async fn the_language_switcher_changes_every_text_and_keeps_the_switches() {
    reset("en");
    start(config(V2025));
    shown().await;
    click("choose");
    // Cookie lifetimes in the dialog's language, by the browser's Intl (the policy says "13 months"),
    // in Kazakh by the banner.
    let in_english = [
        "6 months",
        "12 months",
        "13 months",
        "13 months",
        "3 months",
        "3 months",
    ];
    assert_eq!(lifetimes(), in_english);
    switch("cookies-analytics").click();
    switch("cookies-preferences").click();
    choose_language("ru").await;
    let d = dialog().unwrap();
    assert_eq!(
        lifetimes(),
        [
            "6 месяцев",
            "12 месяцев",
            "13 месяцев",
            "13 месяцев",
            "3 месяца",
            "3 месяца"
        ]
    );
    choose_language("kk").await;
    assert_eq!(
        lifetimes(),
        ["6 ай", "12 ай", "13 ай", "13 ай", "3 ай", "3 ай"]
    );
    choose_language("ru").await;
    let ru = texts("ru");
    assert_eq!(d.get_attribute("lang").as_deref(), Some("ru"));
    assert_eq!(text(&one_in(&d, "h2")), ru.title);
    assert_eq!(text(&action("accept-all")), ru.accept_all);
    assert_eq!(text(&action("reject-all")), ru.reject_all);
    assert_eq!(text(&action("save")), ru.save);
    assert_eq!(
        one_in(&d, "[data-consent-lang][aria-pressed=\"true\"]")
            .get_attribute("data-consent-lang")
            .as_deref(),
        Some("ru")
    );
    let policy = js_sys::JSON::parse(POLICY).unwrap();
    // The purposes the banner presents: the cookie purposes (10 to 13).
    let expected_titles: Vec<String> = get(&policy, "purposes")
        .unchecked_into::<Array>()
        .iter()
        .skip(10)
        .map(|p| field(&get(&get(&p, "texts"), "title"), "ru"))
        .collect();
    let titles: Vec<String> = all_in(&d, ".consent-banner__purpose-title")
        .iter()
        .map(|t| text(t))
        .collect();
    assert_eq!(titles, expected_titles);
    assert_eq!(
        switched_on(),
        ["cookies-preferences", "cookies-analytics"],
        "kept"
    );
    assert!(d.contains(Some(&document().active_element().unwrap())));
    click("save");
    until("the choice", || post_bodies().len() == 1).await;
    assert_eq!(field(&posted(), "language"), "ru");
}
