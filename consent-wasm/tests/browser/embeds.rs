//! Embeds.

use super::*;

/// Issue 18.6: a page that adds scripts and embeds after load (a single-page application, lazy HTML).
#[wasm_bindgen_test]
async fn scripts_and_embeds_added_later_are_held_back_or_activated_as_they_appear() {
    reset("en");
    start(config(V2025));
    shown().await;
    assert!(ran().is_empty());
    // Before a choice: what needs no consent runs as it appears; the rest is held back, an embed behind
    // its placeholder.
    blocked_inline("cookies-analytics", "late-analytics");
    blocked_inline("cookies-necessary", "late-necessary");
    let (iframe, img) = blocked_embeds();
    until("the necessary script", || ran() == ["late-necessary"]).await;
    until("the placeholders", || {
        placeholder(&iframe).is_some() && placeholder(&img).is_some()
    })
    .await;
    sleep(50).await;
    assert_eq!(ran(), ["late-necessary"], "analytics held back");
    assert!(iframe.get_attribute("src").is_none() && img.get_attribute("src").is_none());
    assert_eq!(
        page_all("script[type=\"text/plain\"][data-consent]").len(),
        1
    );

    click("accept-all");
    until("the analytics script", || ran().len() == 2).await;
    assert_eq!(ran(), ["late-necessary", "late-analytics"]);
    assert!(iframe.get_attribute("src").is_some() && placeholder(&iframe).is_none());

    // After the choice (sent in a task after the click's): a blocked script and embed inside HTML
    // added later (nested), and a script file, run and load as they appear, without another choice or
    // page load.
    until("the choice", || post_bodies().len() == 1).await;
    let posts = post_bodies().len();
    let lazy = add("div", &[], "");
    lazy.set_inner_html(&format!(
        "<p><script type=\"text/plain\" data-consent=\"cookies-marketing\">{}</script>\
         <iframe data-consent=\"cookies-marketing\" data-src=\"about:blank#lazy\"></iframe></p>",
        ran_js("lazy-marketing")
    ));
    blocked_file("cookies-preferences", "late-file");
    until("the lazy scripts", || ran().len() == 4).await;
    assert_eq!(
        ran(),
        [
            "late-necessary",
            "late-analytics",
            "lazy-marketing",
            "late-file"
        ]
    );
    let lazy_iframe = one_in(&lazy, "iframe");
    until("the lazy embed", || {
        lazy_iframe.get_attribute("src").as_deref() == Some("about:blank#lazy")
    })
    .await;
    assert_eq!(post_bodies().len(), posts, "nothing recorded again");
    // What activation adds (real scripts) does not wake it up again: each ran once.
    sleep(50).await;
    assert_eq!(ran().len(), 4);
}

#[wasm_bindgen_test]
async fn blocked_embeds_get_a_placeholder_of_their_size_and_load_once_records_nothing() {
    reset("en");
    let (iframe, img) = blocked_embeds();
    start(config(V2025));
    shown().await;
    assert!(iframe.get_attribute("src").is_none() && img.get_attribute("src").is_none());
    click("reject-all");
    until("the choice", || post_bodies().len() == 1).await;
    assert!(iframe.get_attribute("src").is_none() && img.get_attribute("src").is_none());
    let p = placeholder(&iframe).expect("a placeholder before the iframe");
    assert!(iframe.has_attribute("hidden"));
    // The embed's box, so that nothing moves; taller only if its text and buttons need it, which are
    // never cut off (the image has no size of its own).
    let style = p.style();
    assert_eq!(style.get_property_value("width").unwrap(), "320px");
    assert_eq!(style.get_property_value("min-height").unwrap(), "180px");
    assert_eq!(p.offset_width(), 320);
    assert!(p.offset_height() >= 180);
    for p in [p.clone(), placeholder(&img).unwrap()] {
        assert!(p.scroll_height() <= p.client_height(), "content fits");
        let buttons = all_in(&p, "button");
        let bottom = buttons.last().unwrap().get_bounding_client_rect().bottom();
        assert!(
            bottom <= p.get_bounding_client_rect().bottom(),
            "the buttons are inside"
        );
    }
    assert_eq!(p.get_attribute("lang").as_deref(), Some("en"));
    assert!(text(&p).starts_with(&texts("en").blocked));
    let buttons: Vec<(String, String)> = all_in(&p, "button")
        .iter()
        .map(|b| (b.get_attribute("data-consent-action").unwrap(), text(b)))
        .collect();
    assert_eq!(
        buttons,
        [
            ("load-once".into(), texts("en").load_once),
            ("always-allow".into(), texts("en").always_allow)
        ]
    );
    assert!(placeholder(&img).is_some());
    assert_eq!(page_all(".consent-embed").len(), 2);

    // Load once: this embed, now; nothing recorded, nothing else loaded.
    one_in(&p, "[data-consent-action=\"load-once\"]").click();
    assert_eq!(
        iframe.get_attribute("src").as_deref(),
        Some("about:blank#video")
    );
    assert!(!iframe.has_attribute("hidden"));
    assert!(placeholder(&iframe).is_none());
    assert!(img.get_attribute("src").is_none() && placeholder(&img).is_some());
    sleep(50).await;
    assert_eq!(post_bodies().len(), 1, "nothing recorded");
    assert!(!allows("cookies-marketing"));
}

#[wasm_bindgen_test]
async fn a_placeholder_over_an_absolutely_placed_embed_stays_in_its_box_and_scrolls() {
    reset("en");
    banner_css();
    // The responsive video pattern (the demo site's): a box of the page's own size (here 200×100,
    // too small for the placeholder's text and buttons), the iframe placed absolutely over all of it,
    // and text after the box.
    let video = add(
        "div",
        &[("style", "position:relative;width:200px;height:100px")],
        "",
    );
    let iframe: HtmlElement = document()
        .create_element("iframe")
        .unwrap()
        .unchecked_into();
    for (name, value) in [
        ("data-consent", "cookies-marketing"),
        ("data-src", "about:blank#video"),
        (
            "style",
            "position:absolute;top:0;left:0;width:100%;height:100%;border:0",
        ),
    ] {
        iframe.set_attribute(name, value).unwrap();
    }
    video.append_child(&iframe).unwrap();
    let after = add("p", &[], "after the video");
    start(config(V2025));
    shown().await;
    click("reject-all");
    let p = placeholder(&iframe).expect("a placeholder before the iframe");
    let (p_rect, box_rect) = (
        p.get_bounding_client_rect(),
        video.get_bounding_client_rect(),
    );
    assert_eq!(
        p.style().get_property_value("position").unwrap(),
        "absolute"
    );
    assert_eq!(
        (p_rect.top(), p_rect.height(), p.offset_width()),
        (box_rect.top(), 100.0, 200),
        "the embed's box"
    );
    assert!(
        p_rect.bottom() <= after.get_bounding_client_rect().top(),
        "nothing after the box is covered"
    );
    // What does not fit scrolls inside, from its top: the text first.
    assert!(p.scroll_height() > p.client_height(), "it needs to scroll");
    assert_eq!(p.scroll_top(), 0);
    let text_top = p
        .first_element_child()
        .unwrap()
        .get_bounding_client_rect()
        .top();
    assert!(text_top >= p_rect.top(), "the text's top is not cut off");
    p.set_scroll_top(p.scroll_height());
    let last = all_in(&p, "button").pop().unwrap();
    assert!(
        p.scroll_top() > 0
            && last.get_bounding_client_rect().bottom() <= p.get_bounding_client_rect().bottom(),
        "the last button is reached by scrolling"
    );
}

#[wasm_bindgen_test]
async fn always_allow_on_a_placeholder_records_a_choice_that_grants_its_purpose() {
    reset("en");
    let (iframe, img) = blocked_embeds();
    start(config(V2025));
    shown().await;
    stub_token(&token(V2025, &[]));
    stub_token(&token(V2025, &[MARKETING_COOKIES]));
    click("reject-all");
    until("the cookie", || cookie("consent").is_some()).await;
    let p = placeholder(&iframe).unwrap();
    one_in(&p, "[data-consent-action=\"always-allow\"]").click();
    assert_eq!(
        iframe.get_attribute("src").as_deref(),
        Some("about:blank#video")
    );
    assert!(placeholder(&iframe).is_none());
    assert!(
        img.get_attribute("src").is_none(),
        "the image stays blocked"
    );
    until("the second choice", || post_bodies().len() == 2).await;
    let request = posts().remove(1);
    assert_eq!(field(&request, "method"), "custom");
    assert_eq!(
        decisions(&request),
        expected("refused", &[("cookies-marketing", "given")])
    );
    assert!(allows("cookies-marketing"));
}

#[wasm_bindgen_test]
async fn accept_all_gives_embeds_their_source_without_placeholders() {
    reset("en");
    let (iframe, img) = blocked_embeds();
    start(config(V2025));
    shown().await;
    click("accept-all");
    assert_eq!(
        iframe.get_attribute("src").as_deref(),
        Some("about:blank#video")
    );
    assert_eq!(img.get_attribute("src").as_deref(), Some(GIF));
    assert!(!iframe.has_attribute("data-src") && !iframe.has_attribute("hidden"));
    assert!(page_all(".consent-embed").is_empty());
}
