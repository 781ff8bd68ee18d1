//! Global Privacy Control.

use super::*;

#[wasm_bindgen_test]
async fn global_privacy_control_leaves_marketing_out_of_accept_all() {
    reset("en");
    set_gpc();
    blocked_scripts();
    set_cookie("_fbp=1");
    start(config(V2025));
    shown().await;
    click("accept-all");
    until("the scripts", || ran().len() == 4).await;
    assert_eq!(
        ran(),
        [
            "necessary",
            "analytics-inline",
            "analytics-file",
            "preferences"
        ]
    );
    let request = posted();
    assert_eq!(field(&request, "method"), "accept-all");
    let mut given = expected("given", &[]);
    given.retain(|(id, _)| id != "marketing" && id != "cookies-marketing");
    assert_eq!(decisions(&request), given);
    sleep(50).await;
    assert_eq!(ran().len(), 4, "no marketing script");
    assert_eq!(cookie("_fbp"), None, "marketing cookies deleted");
    let state = api("get");
    assert_eq!(get(&state, "gpc").as_bool(), Some(true));
    assert!(!allows("cookies-marketing") && !allows("marketing"));
    assert!(strings(&get(&state, "refused")).contains(&"cookies-marketing".to_string()));
}

#[wasm_bindgen_test]
async fn global_privacy_control_refusals_are_in_the_change_event() {
    reset("en");
    set_gpc();
    start(config(V2025));
    shown().await;
    click("accept-all");
    until("the event", || events("change").len() == 1).await;
    let refused = strings(&get(&events("change")[0], "refused"));
    assert!(
        refused.contains(&"cookies-marketing".to_string()),
        "refused lists every purpose that is off: {refused:?}"
    );
    assert!(
        !refused.contains(&"marketing".to_string()),
        "the newsletter is not the banner's to decide: {refused:?}"
    );
}

#[wasm_bindgen_test]
async fn global_privacy_control_is_shown_on_the_marketing_switches() {
    reset("en");
    set_gpc();
    start(config(V2025));
    shown().await;
    click("choose");
    // The marketing cookies: the banner's only marketing purpose (the newsletter is asked in forms).
    let s = switch("cookies-marketing");
    assert!(!s.checked(), "off");
    let row = s.closest(".consent-banner__purpose").unwrap().unwrap();
    let note = one_in(&row, ".consent-banner__note");
    assert_eq!(text(&note), texts("en").gpc);
    // Read with the switch: the first of what describes it.
    let described_by = s.get_attribute("aria-describedby").unwrap();
    assert_eq!(described_by.split(' ').next(), Some(note.id().as_str()));
    assert_eq!(
        all_in(&dialog().unwrap(), ".consent-banner__note").len(),
        2,
        "a GPC note (marketing cookies) and an always-on note (necessary cookies)"
    );
}
