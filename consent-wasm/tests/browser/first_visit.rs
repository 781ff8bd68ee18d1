//! First visit.

use super::*;

/// Sets `<html>`'s `font-size` for as long as it lives.
struct RootFontSize;

impl RootFontSize {
    fn set(size: &str) -> Self {
        let root: HtmlElement = document().document_element().unwrap().unchecked_into();
        root.style().set_property("font-size", size).unwrap();
        RootFontSize
    }
}

impl Drop for RootFontSize {
    fn drop(&mut self) {
        let root: HtmlElement = document().document_element().unwrap().unchecked_into();
        root.style().remove_property("font-size").unwrap();
    }
}

#[wasm_bindgen_test]
async fn the_dialog_keeps_the_visitors_text_size_on_a_page_with_a_small_root_size() {
    reset("en");
    banner_css();
    // Sites that set `html { font-size: 62.5% }` (1rem = 10 px) must not shrink the banner.
    let _root = RootFontSize::set("62.5%");
    let medium = add("div", &[("style", "font-size: medium")], "");
    let px = |el: &HtmlElement| {
        let style = window().get_computed_style(el).unwrap().unwrap();
        style.get_property_value("font-size").unwrap()
    };
    assert_ne!(px(&medium), "10px");
    start(config(V2025));
    let d = shown().await;
    assert_eq!(px(&d), px(&medium), "the visitor's text size");
    for b in all_in(&d, "button") {
        assert!(b.offset_height() >= 44, "a 44 px target: {}", text(&b));
    }
    click("choose");
    for input in all_in(&d, "input[data-purpose]") {
        assert!(input.offset_height() >= 24, "a 24 px switch");
    }
}

#[wasm_bindgen_test]
async fn first_visit_opens_a_modal_dialog_with_three_equal_buttons_and_the_exact_policy_version() {
    reset("en");
    banner_css();
    blocked_scripts();
    start(config(V2025));
    let d = shown().await;
    let doc = document();

    assert!(d.matches(":modal").unwrap(), "opened with showModal()");
    assert_eq!(d.id(), DIALOG_ID);
    assert_eq!(d.tag_name(), "DIALOG");
    assert_eq!(d.get_attribute("role").as_deref(), Some("dialog"));
    assert_eq!(d.get_attribute("aria-modal").as_deref(), Some("true"));
    assert_eq!(d.get_attribute("lang").as_deref(), Some("en"));
    let title = doc
        .get_element_by_id(&d.get_attribute("aria-labelledby").unwrap())
        .expect("aria-labelledby names an element");
    assert!(d.contains(Some(&title)));
    assert_eq!(text(&title), texts("en").title);
    let description = doc
        .get_element_by_id(&d.get_attribute("aria-describedby").unwrap())
        .expect("aria-describedby names an element");
    assert!(d.contains(Some(&description)));
    assert_eq!(text(&description), texts("en").description);

    // Three buttons of equal weight: same element, class and size, in one row.
    assert_eq!(actions(), ["accept-all", "reject-all", "choose"]);
    let buttons = all_in(&d, "[data-consent-action]");
    let labels: Vec<String> = buttons.iter().map(|b| text(b)).collect();
    assert_eq!(labels, ["Accept all", "Reject all", "Choose"]);
    for b in &buttons {
        assert_eq!(b.tag_name(), "BUTTON");
        assert_eq!(b.get_attribute("type").as_deref(), Some("button"));
        assert_eq!(b.class_name(), buttons[0].class_name());
        assert!(b.offset_height() > 0);
        assert_eq!(b.offset_height(), buttons[0].offset_height(), "same height");
        assert!(
            (b.offset_width() - buttons[0].offset_width()).abs() <= 1,
            "same width"
        );
        assert_eq!(b.offset_top(), buttons[0].offset_top(), "one row");
    }

    // The language switcher: each language in its own name, the current one pressed.
    let languages = all_in(&d, "[data-consent-lang]");
    let names: Vec<(String, String, String)> = languages
        .iter()
        .map(|b| {
            (
                b.get_attribute("data-consent-lang").unwrap(),
                text(b),
                b.get_attribute("aria-pressed").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("kk".into(), "Қазақша".into(), "false".into()),
            ("ru".into(), "Русский".into(), "false".into()),
            ("en".into(), "English".into(), "true".into()),
        ]
    );

    // The exact policy version the choice is made under.
    let link = one_in(&d, "a[href]");
    assert_eq!(link.get_attribute("href").as_deref(), Some(POLICY_URL));
    assert_eq!(text(&link), "Privacy Policy (2025-03-26)");

    // Focus is inside the dialog; no way back in and no close button on a first visit.
    let active = doc.active_element().expect("something has focus");
    assert!(d.contains(Some(&active)), "focus is in the dialog");
    assert!(all_in(&d, "[data-consent-action=\"close\"]").is_empty());
    assert!(reopen_button().is_none());

    // Only what needs no consent ran; nothing is stored or sent before a choice.
    sleep(50).await;
    assert_eq!(ran(), ["necessary"]);
    assert_eq!(
        page_all("script[type=\"text/plain\"][data-consent]").len(),
        5
    );
    assert_eq!(jar(), "");
    assert_eq!(storage().length().unwrap(), 0);
    assert_eq!(gets(), [VIEW_EN]);
    assert!(post_bodies().is_empty());
    assert_eq!(events("ready").len(), 1, "consent:ready, once");
    assert!(events("change").is_empty());
    let state = api("get");
    assert_eq!(get(&state, "decided").as_bool(), Some(false));
    assert_eq!(strings(&get(&state, "granted")), ["cookies-necessary"]);
}

/// The banner's `<script>`, in the fixture (an inert one: what the first visit's part and `boot` read).
#[cfg(feature = "first")]
fn banner_script() -> HtmlElement {
    add(
        "script",
        &[
            ("type", "text/plain"),
            ("data-endpoint", &endpoint()),
            ("data-policy-version", V2025),
        ],
        "",
    )
}

/// The current policy's banner view in English, parsed (what the bootstrap hands the first visit's part).
#[cfg(feature = "first")]
fn view_en() -> JsValue {
    js_sys::JSON::parse(VIEWS_2025[2].1).unwrap()
}

/// Starts the full banner as the bootstrap does once the first visit's part has painted `painted`: with
/// the view's promise and what the part's glue remembered (the dialog, and the button clicked meanwhile).
#[cfg(feature = "first")]
fn boot_after_first(painted: &HtmlElement, clicked: Option<&HtmlElement>) {
    let remembered = Object::new();
    Reflect::set(&remembered, &"d".into(), painted).unwrap();
    if let Some(clicked) = clicked {
        Reflect::set(&remembered, &"c".into(), clicked).unwrap();
    }
    consent_wasm::boot(
        None,
        None,
        None,
        Some(Promise::resolve(&view_en())),
        None,
        Some(remembered),
    )
    .unwrap();
}

/// Issue 18.2: the first visit's part paints exactly the first layer the full banner writes (the same
/// code, `first_layer.rs`, from the same view), sends Consent Mode's default and nothing else; the full
/// banner, started with what the bootstrap remembered (the dialog, a click on it), adopts that dialog
/// instead of writing a second one, does not send the default again, and answers the click.
#[cfg(feature = "first")]
#[wasm_bindgen_test]
async fn the_first_visits_part_paints_the_full_banners_first_layer_which_adopts_it_and_the_click_made_meanwhile()
 {
    // What the full banner writes on a first visit, in English.
    reset("en");
    start(config(V2025));
    let written = shown().await.outer_html();

    reset("en");
    blocked_scripts();
    install_gtag_recorder();
    let painted = consent_wasm::first(view_en(), Some(banner_script().into()), None)
        .expect("the first layer painted");
    assert_eq!(
        painted.outer_html(),
        written,
        "the full banner's first layer"
    );
    assert!(painted.matches(":modal").unwrap());
    assert_eq!(
        document().active_element(),
        Some(painted.clone().into()),
        "focused on the dialog itself"
    );
    let calls = gtag_calls();
    assert_eq!(calls.len(), 1, "Consent Mode's default");
    assert_eq!(calls[0].get(1).as_string().as_deref(), Some("default"));
    assert_eq!(params(&calls[0].get(2)), consent_mode(&[], true));
    assert!(ran().is_empty() && gets().is_empty());
    assert!(
        get(&window(), "consent").is_undefined(),
        "no JS API before the full banner"
    );

    // "Reject all" clicked before the full banner arrived, as the bootstrap remembers it.
    boot_after_first(&painted, Some(&action("reject-all")));
    recorded().await;
    assert_eq!(decisions(&posted()), expected("refused", &[]));
    assert!(dialog().is_none() && !painted.is_connected(), "closed");
    assert!(
        gets().is_empty(),
        "the view the part painted from: no second request"
    );
    assert_eq!(ran(), ["necessary"]);
    let calls = gtag_calls();
    assert_eq!(calls.len(), 2, "no second default: {calls:?}");
    assert_eq!(calls[1].get(1).as_string().as_deref(), Some("update"));
}

/// The full banner adopts a painted dialog only for what it would have shown: with a choice waiting
/// for the server (the part paints nothing then), or one closed by the browser before it arrived, it
/// removes it.
#[cfg(feature = "first")]
#[wasm_bindgen_test]
async fn a_painted_dialog_the_browser_closed_before_the_full_banner_arrived_leaves_the_way_back_in()
{
    reset("en");
    banner_css();
    let painted = consent_wasm::first(view_en(), Some(banner_script().into()), None).unwrap();
    painted.unchecked_ref::<HtmlDialogElement>().close();
    boot_after_first(&painted, None);
    until("the way back in", || reopen_button().is_some()).await;
    assert!(dialog().is_none() && !painted.is_connected());
    assert!(post_bodies().is_empty());
    assert_eq!(get(&api("get"), "decided").as_bool(), Some(false));

    // A choice waiting for the server: nothing painted, nothing sent to Consent Mode.
    reset("en");
    install_gtag_recorder();
    storage().set_item(PENDING_KEY, "{}").unwrap();
    assert!(consent_wasm::first(view_en(), Some(banner_script().into()), None).is_none());
    assert!(dialog().is_none() && gtag_calls().is_empty());
}

#[wasm_bindgen_test]
async fn the_dialog_speaks_the_page_language_kazakh_russian_or_english() {
    let policy = js_sys::JSON::parse(POLICY).unwrap();
    let purpose_title = |i: u32, lang: &str| {
        let p = get(&policy, "purposes").unchecked_into::<Array>().get(i);
        field(&get(&get(&p, "texts"), "title"), lang)
    };
    for (html_lang, lang) in [("kk", "kk"), ("ru-RU", "ru"), ("en", "en")] {
        reset(html_lang);
        start(config(V2025));
        let d = shown().await;
        let t = texts(lang);
        assert_eq!(d.get_attribute("lang").as_deref(), Some(lang));
        assert_eq!(text(&one_in(&d, "h2")), t.title);
        assert_eq!(
            text(&one_in(&d, ".consent-banner__description")),
            t.description
        );
        let labels: Vec<String> = all_in(&d, "[data-consent-action]")
            .iter()
            .map(|b| text(b))
            .collect();
        assert_eq!(labels, [t.accept_all, t.reject_all, t.choose]);
        let pressed: Vec<String> = all_in(&d, "[data-consent-lang][aria-pressed=\"true\"]")
            .iter()
            .map(|b| b.get_attribute("data-consent-lang").unwrap())
            .collect();
        assert_eq!(pressed, [lang]);
        let policy_title = field(&get(&policy, "title"), lang);
        assert_eq!(
            text(&one_in(&d, "a[href]")),
            format!("{policy_title} (2025-03-26)")
        );
        // The second layer: the policy's own texts, in the same language.
        click("choose");
        assert_eq!(actions(), ["accept-all", "reject-all", "save"]);
        assert_eq!(
            text(&all_in(&d, ".consent-banner__purpose-title")[0]),
            purpose_title(10, lang),
            "the first purpose the banner presents: the necessary cookies"
        );
        assert_eq!(text(&one_in(&d, "legend")), t.purposes);
        click("reject-all");
        until("the choice", || post_bodies().len() == 1).await;
        assert_eq!(field(&posted(), "language"), lang);
        until("the way back in", || reopen_button().is_some()).await;
        assert_eq!(accessible_name(&reopen_button().unwrap()), t.settings);
    }
}

#[wasm_bindgen_test]
async fn the_page_behind_the_dialog_cannot_take_focus_and_focus_returns_after_the_choice() {
    reset("en");
    let before = add("button", &[("id", "before")], "before");
    let outside = add("button", &[("id", "outside")], "outside");
    before.focus().unwrap();
    start(config(V2025));
    let d = shown().await;
    let active = || document().active_element().unwrap();
    assert!(d.contains(Some(&active())));
    // The page behind a modal dialog is inert: it cannot be focused.
    outside.focus().unwrap();
    assert!(d.contains(Some(&active())), "focus stays in the dialog");
    // The second layer focuses the first switch that can change.
    click("choose");
    let first_free = all_in(&d, "input[data-purpose]:not([disabled])").remove(0);
    assert_eq!(active(), first_free.clone().unchecked_into::<Element>());
    click("accept-all");
    assert!(dialog().is_none(), "the dialog closes at once");
    assert_eq!(
        active(),
        before.unchecked_into::<Element>(),
        "focus returns where it was"
    );
}
