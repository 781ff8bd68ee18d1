//! Google Consent Mode.

use super::*;

#[wasm_bindgen_test]
async fn consent_mode_gets_the_default_before_anything_runs_and_an_update_after_the_choice() {
    reset("en");
    blocked_scripts();
    install_gtag_recorder();
    start(config(V2025));
    let calls = gtag_calls();
    assert_eq!(calls.len(), 1, "the default, at once");
    assert!(ran().is_empty());
    assert_eq!(calls[0].get(0).as_string().as_deref(), Some("consent"));
    assert_eq!(calls[0].get(1).as_string().as_deref(), Some("default"));
    assert_eq!(params(&calls[0].get(2)), consent_mode(&[], true));
    shown().await;
    assert_eq!(gtag_calls().len(), 1, "no update before a choice");
    click("accept-all");
    let calls = gtag_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].get(1).as_string().as_deref(), Some("update"));
    assert_eq!(
        params(&calls[1].get(2)),
        consent_mode(&logic::CONSENT_TYPES, false)
    );
}

#[wasm_bindgen_test]
async fn consent_mode_on_a_return_visit_updates_from_the_token_once_its_policy_arrived() {
    reset("en");
    install_gtag_recorder();
    set_token(&token(V2025, &[ANALYTICS]));
    start(config(V2025));
    assert_eq!(gtag_calls().len(), 1);
    until("the update", || gtag_calls().len() == 2).await;
    assert_eq!(gets(), ["/v1/policies/2025-03-26"]);
    let calls = gtag_calls();
    assert_eq!(calls[0].get(1).as_string().as_deref(), Some("default"));
    assert_eq!(params(&calls[0].get(2)), consent_mode(&[], true));
    assert_eq!(calls[1].get(1).as_string().as_deref(), Some("update"));
    assert_eq!(
        params(&calls[1].get(2)),
        consent_mode(&["analytics_storage"], false)
    );

    // A reject-all token: the update denies everything but security storage.
    reset("en");
    install_gtag_recorder();
    set_token(&token(V2025, &[]));
    start(config(V2025));
    until("the update", || gtag_calls().len() == 2).await;
    assert_eq!(params(&gtag_calls()[1].get(2)), consent_mode(&[], false));
}

#[wasm_bindgen_test]
async fn consent_mode_off_makes_no_gtag_calls() {
    reset("en");
    install_gtag_recorder();
    let mut cfg = config(V2025);
    cfg.consent_mode = None;
    start(cfg);
    shown().await;
    click("accept-all");
    until("the choice", || post_bodies().len() == 1).await;
    assert!(gtag_calls().is_empty());
}

#[wasm_bindgen_test]
async fn without_window_gtag_the_bootstraps_gtag_is_installed_and_fills_the_data_layer() {
    reset("en");
    let gtag = data_layer_gtag();
    let mut cfg = config(V2025);
    cfg.gtag = Some(gtag.clone());
    start(cfg);
    let installed = get(&window(), "gtag");
    assert_eq!(
        installed,
        JsValue::from(gtag),
        "window.gtag is the bootstrap's"
    );
    let layer: Array = get(&window(), "dataLayer").dyn_into().unwrap();
    assert_eq!(layer.length(), 1);
    // gtag pushes its `arguments` object, as Google's snippet does.
    let first = layer.get(0);
    assert!(!Array::is_array(&first), "an arguments object");
    assert_eq!(get(&first, "0").as_string().as_deref(), Some("consent"));
    assert_eq!(get(&first, "1").as_string().as_deref(), Some("default"));
    assert_eq!(params(&get(&first, "2")), consent_mode(&[], true));
    shown().await;
    click("reject-all");
    assert_eq!(layer.length(), 2);
    assert_eq!(
        get(&layer.get(1), "1").as_string().as_deref(),
        Some("update")
    );
}
