//! The page: a clean one per test, its fixtures (blocked scripts and embeds), cookies, storage, timers.

use super::*;

pub(crate) fn window() -> Window {
    web_sys::window().unwrap()
}

pub(crate) fn document() -> Document {
    window().document().unwrap()
}

pub(crate) fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

pub(crate) fn strings(value: &JsValue) -> Vec<String> {
    value
        .dyn_ref::<Array>()
        .map(|a| a.iter().filter_map(|v| v.as_string()).collect())
        .unwrap_or_default()
}

pub(crate) fn s(items: &[&str]) -> Vec<String> {
    items.iter().map(|i| i.to_string()).collect()
}

thread_local! {
    static RUN: Cell<u32> = const { Cell::new(0) };
}

/// This test's consent server (see the module docs).
pub(crate) fn endpoint() -> String {
    format!("https://s{}.consent.test", RUN.with(Cell::get))
}

/// A clean page in language `lang`: no banner, fixture, cookie, `localStorage`, `window.consent`,
/// `gtag`, Global Privacy Control or listener of an earlier test; a fresh stub serving the 2025-03-26
/// policy as the current one.
pub(crate) fn reset(lang: &str) {
    RUN.with(|r| r.set(r.get() + 1));
    harness_reset(RUN.with(Cell::get), &endpoint(), lang);
    stub_current(&VIEWS_2025);
    stub_route("/v1/policies/2025-03-26", POLICY);
    stub_route("/v1/policies/2026-06-01", POLICY_2026);
}

/// Serves `views` as the current policy's banner views (`und`: the default language's, Kazakh).
pub(crate) fn stub_current(views: &[(&str, &str); 3]) {
    for (lang, view) in views {
        stub_route(&format!("/v1/policy/banner/{lang}"), view);
    }
    stub_route("/v1/policy/banner/und", views[0].1);
}

/// Clicks the language switcher's `lang` and waits for the dialog in that language (its banner view
/// is fetched).
pub(crate) async fn choose_language(lang: &str) {
    one_in(
        &dialog().unwrap(),
        &format!("[data-consent-lang=\"{lang}\"]"),
    )
    .click();
    until("the dialog in that language", || {
        dialog().and_then(|d| d.get_attribute("lang")).as_deref() == Some(lang)
    })
    .await;
}

pub(crate) fn config(version: &str) -> Config {
    Config {
        endpoint: endpoint(),
        policy_version: Some(version.parse().unwrap()),
        build: None,
        stylesheet: None,
        consent_mode: logic::ConsentModeMap::parse(logic::CONSENT_MODE_DEFAULT),
        gtag: None,
        retry_ms: 50,
        policy: None,
    }
}

pub(crate) fn fixture_root() -> Element {
    let doc = document();
    if let Ok(Some(root)) = doc.query_selector("div[data-test-fixture]") {
        return root;
    }
    let root = doc.create_element("div").unwrap();
    root.set_attribute("data-test-fixture", "").unwrap();
    doc.body().unwrap().append_child(&root).unwrap();
    root
}

/// Adds an element to the test fixture.
pub(crate) fn add(tag: &str, attrs: &[(&str, &str)], text: &str) -> HtmlElement {
    let el: HtmlElement = document().create_element(tag).unwrap().unchecked_into();
    for (name, value) in attrs {
        el.set_attribute(name, value).unwrap();
    }
    if !text.is_empty() {
        el.set_text_content(Some(text));
    }
    fixture_root().append_child(&el).unwrap();
    el
}

/// JS that records `name` in `window.__ran` when it runs (in this test only: a script file of an
/// earlier test that loads late records nothing).
pub(crate) fn ran_js(name: &str) -> String {
    let run = RUN.with(Cell::get);
    format!("window.__run==={run}&&window.__ran.push({name:?})")
}

/// A blocked inline script of `purpose` that records `name` when it runs.
pub(crate) fn blocked_inline(purpose: &str, name: &str) {
    add(
        "script",
        &[("type", "text/plain"), ("data-consent", purpose)],
        &ran_js(name),
    );
}

/// A blocked script file (a `data:` URL) of `purpose` that records `name` when it runs.
pub(crate) fn blocked_file(purpose: &str, name: &str) {
    let src = format!("data:text/javascript,{}", ran_js(name));
    add(
        "script",
        &[
            ("type", "text/plain"),
            ("data-consent", purpose),
            ("data-src", &src),
        ],
        "",
    );
}

/// The blocked scripts of a page, in document order: analytics (inline, file), marketing (file,
/// inline), preferences, strictly necessary.
pub(crate) fn blocked_scripts() {
    blocked_inline("cookies-analytics", "analytics-inline");
    blocked_file("cookies-analytics", "analytics-file");
    blocked_file("cookies-marketing", "marketing-file");
    blocked_inline("cookies-marketing", "marketing-inline");
    blocked_inline("cookies-preferences", "preferences");
    blocked_inline("cookies-necessary", "necessary");
}

/// Every blocked script of [`blocked_scripts`], in the order they run after "accept all".
pub(crate) const ALL_SCRIPTS: [&str; 6] = [
    "necessary",
    "analytics-inline",
    "analytics-file",
    "marketing-file",
    "marketing-inline",
    "preferences",
];

/// An iframe (marketing cookies, 320×180) and an image (analytics) waiting for consent.
pub(crate) fn blocked_embeds() -> (HtmlElement, HtmlElement) {
    let iframe = add(
        "iframe",
        &[
            ("data-consent", "cookies-marketing"),
            ("data-src", "about:blank#video"),
            ("width", "320"),
            ("height", "180"),
            ("style", "border:0"),
        ],
        "",
    );
    let img = add(
        "img",
        &[
            ("data-consent", "cookies-analytics"),
            ("data-src", GIF),
            ("alt", ""),
        ],
        "",
    );
    (iframe, img)
}

/// The banner's stylesheet, in the page.
pub(crate) fn banner_css() {
    add("style", &[], BANNER_CSS);
}

/// What the activated scripts recorded, in order.
pub(crate) fn ran() -> Vec<String> {
    strings(&get(&window(), "__ran"))
}

pub(crate) fn jar() -> String {
    document()
        .unchecked_into::<HtmlDocument>()
        .cookie()
        .unwrap()
}

pub(crate) fn cookie(name: &str) -> Option<String> {
    cookie_value(&jar(), name).map(str::to_owned)
}

pub(crate) fn set_cookie(pair: &str) {
    document()
        .unchecked_into::<HtmlDocument>()
        .set_cookie(&format!("{pair}; path=/"))
        .unwrap();
}

pub(crate) fn storage() -> web_sys::Storage {
    window().local_storage().unwrap().unwrap()
}

pub(crate) fn pending() -> Option<String> {
    storage().get_item(PENDING_KEY).unwrap()
}

pub(crate) fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

pub(crate) async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve: Function, _| {
        window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

/// Waits (at most 3 s) for `done`.
pub(crate) async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        sleep(10).await;
    }
    panic!("timed out waiting for {what}");
}

/// The placeholder shown in place of `embed`.
pub(crate) fn placeholder(embed: &HtmlElement) -> Option<HtmlElement> {
    embed
        .previous_element_sibling()
        .filter(|p| p.class_name() == "consent-embed")
        .map(|p| p.unchecked_into())
}
