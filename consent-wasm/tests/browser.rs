//! The banner in a real browser (headless Chromium through chromedriver, run by
//! `wasm-bindgen-test-runner`; see `scripts/test`).
//!
//! Everything runs for real (the DOM, the native modal `<dialog>`, `document.cookie`, `localStorage`,
//! script and embed activation, `Response.json()` of the real policy, token decoding, timers) except the
//! network: the test page's `window.fetch` is replaced by a stub (the `inline_js` below) that answers
//! from a table (the canonical invisionu policies of `spec/vectors`), records every request, and answers
//! `POST /v1/consents` with `201` and a real token signed here with `consent-core` (HMAC), with another
//! status, or not at all ("server down": a rejected promise, as `fetch` does).
//!
//! All tests run in one page, one after the other, and each [`consent_wasm::start`] leaves a banner
//! behind that the page keeps alive (its document click listener and pending callbacks hold it). So
//! that an earlier test's banner never acts in a later test, [`reset`] (which does not rely on the
//! banner's own replacement of an earlier banner, tested in
//! `starting_the_banner_twice_on_one_page_shows_one_dialog_and_records_one_choice`):
//! - gives every test its own endpoint (`https://s<n>.consent.test`): the stub never answers a request
//!   to an earlier one, so an old banner can neither store a token nor drop a pending choice;
//! - removes the document listeners added since the previous reset (the banners' click listeners and
//!   the tests' event recorders);
//! - detaches the load callbacks of script files still loading, removes an open dialog without
//!   `close()` (whose `close` event an old banner would take for the visitor's), and scripts record
//!   that they ran only in the test that made them.
//!
//! The stub also guards against a runaway microtask loop (see the `inline_js`), which would otherwise
//! freeze the page and end the whole run with a WebDriver timeout and no word on the test at fault.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;

use consent_core::{
    HmacKey, PurposeSet, ReceiptId, SubjectId, Timestamp, TokenClaims, TokenKeys, TokenSubject,
};
use consent_wasm::logic::{self, PENDING_KEY, cookie_value};
use consent_wasm::{Config, DIALOG_ID, REOPEN_CLASS, start};
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{
    Document, Element, HtmlDialogElement, HtmlDocument, HtmlElement, HtmlInputElement, Window,
};

wasm_bindgen_test_configure!(run_in_browser);

const POLICY: &str = include_str!("../../spec/vectors/policy-invisionu-2025-03-26.canonical.json");
const POLICY_2026: &str =
    include_str!("../../spec/vectors/policy-invisionu-2026-06-01.canonical.json");
/// The banner views of the two policies (`GET /v1/policy/banner/{lang}`), by language.
const VIEWS_2025: [(&str, &str); 3] = [
    (
        "kk",
        include_str!("../../spec/vectors/policy-invisionu-2025-03-26.banner-kk.json"),
    ),
    (
        "ru",
        include_str!("../../spec/vectors/policy-invisionu-2025-03-26.banner-ru.json"),
    ),
    (
        "en",
        include_str!("../../spec/vectors/policy-invisionu-2025-03-26.banner-en.json"),
    ),
];
const VIEWS_2026: [(&str, &str); 3] = [
    (
        "kk",
        include_str!("../../spec/vectors/policy-invisionu-2026-06-01.banner-kk.json"),
    ),
    (
        "ru",
        include_str!("../../spec/vectors/policy-invisionu-2026-06-01.banner-ru.json"),
    ),
    (
        "en",
        include_str!("../../spec/vectors/policy-invisionu-2026-06-01.banner-en.json"),
    ),
];
/// Where the banner asks for the current policy on an English page.
const VIEW_EN: &str = "/v1/policy/banner/en";
/// The banner's own stylesheet, put into the page by the tests that look at the layout.
const BANNER_CSS: &str = include_str!("../banner.css");
const V2025: &str = "2025-03-26";
const V2026: &str = "2026-06-01";
/// The banner's texts in one language, as the policy the stub serves has them (its `banner` table).
struct Texts {
    title: String,
    description: String,
    accept_all: String,
    reject_all: String,
    choose: String,
    save: String,
    purposes: String,
    close: String,
    always_on: String,
    settings: String,
    updated: String,
    consent_id: String,
    receipt: String,
    blocked: String,
    load_once: String,
    always_allow: String,
    gpc: String,
}

fn texts(lang: &str) -> Texts {
    let banner = get(&js_sys::JSON::parse(POLICY).unwrap(), "banner");
    let t = |key: &str| {
        get(&get(&banner, key), lang)
            .as_string()
            .unwrap_or_else(|| panic!("the policy's banner.{key}.{lang}"))
    };
    Texts {
        title: t("title"),
        description: t("description"),
        accept_all: t("accept-all"),
        reject_all: t("reject-all"),
        choose: t("choose"),
        save: t("save"),
        purposes: t("purposes"),
        close: t("close"),
        always_on: t("always-on"),
        settings: t("settings"),
        updated: t("updated"),
        consent_id: t("consent-id"),
        receipt: t("receipt"),
        blocked: t("blocked"),
        load_once: t("load-once"),
        always_allow: t("always-allow"),
        gpc: t("gpc"),
    }
}

const POLICY_URL: &str = "https://invisionu.education/privacy/2025-03-26";

// Purpose codes of the invisionu policy.
const MARKETING: u8 = 8;
const PREFERENCES: u8 = 11;
const ANALYTICS: u8 = 12;
const MARKETING_COOKIES: u8 = 13;
/// Every purpose code the banner asks for: the cookie purposes that need consent (the policy's
/// `collection_points`; the newsletter and the other purposes are asked in forms).
const CONSENT_CODES: [u8; 3] = [11, 12, 13];
/// Every purpose the banner asks for.
const CONSENT_PURPOSES: [&str; 3] = [
    "cookies-preferences",
    "cookies-analytics",
    "cookies-marketing",
];

/// A 1×1 transparent GIF.
const GIF: &str = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";

// The test page's harness: the fetch stub, the document listener bookkeeping, recorders for the
// banner's events, a gtag stub, Global Privacy Control, and calls into `window.consent`.
#[wasm_bindgen(inline_js = r##"
const S = { endpoint: "", routes: {}, post: "201", delay: 0, tokens: [], requests: [], getDown: false };
const tracked = [];
let installed = false;

function answer(status, value) {
  return new Response(typeof value === "string" ? value : JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function install() {
  if (installed) return;
  installed = true;
  // A guard against a runaway microtask loop (a banner whose state stayed borrowed after an exception
  // defers every callback to a microtask, forever): it would freeze the page and with it the whole
  // run, without a word. More than 20,000 `Promise.resolve` calls in 50 ms throw instead, so the test
  // at fault fails with a stack.
  const resolve = Promise.resolve.bind(Promise);
  let calls = 0;
  setInterval(() => { calls = 0; }, 50);
  Promise.resolve = function (value) {
    if (++calls > 20000) {
      calls = 0;
      const error = new Error("runaway microtask loop");
      window.__errors && window.__errors.push(String(error.stack));
      throw error;
    }
    return resolve(value);
  };
  window.fetch = function (input, init) {
    const url = typeof input === "string" ? input : input.url;
    const method = (init && init.method) || "GET";
    const body = init && typeof init.body === "string" ? init.body : null;
    const token = (init && init.headers && init.headers["x-consent-token"]) ?? null;
    const key = (init && init.headers && init.headers["idempotency-key"]) ?? null;
    if (!S.endpoint || !url.startsWith(S.endpoint + "/")) {
      // A banner left by an earlier test: never answered, so it can change nothing any more.
      return new Promise(() => {});
    }
    const path = url.slice(S.endpoint.length);
    S.requests.push({ path, method, body, token, key, at: performance.now() });
    const reply = () => {
      if (method !== "POST") {
        if (S.getDown) return Promise.reject(new TypeError("Failed to fetch"));
        return Promise.resolve(
          path in S.routes ? answer(200, S.routes[path]) : answer(404, { error: { code: "not_found" } }),
        );
      }
      if (S.post === "down") return Promise.reject(new TypeError("Failed to fetch"));
      if (S.post !== "201" && S.post !== "200") {
        return Promise.resolve(answer(Number(S.post), { error: S.postError }));
      }
      const token = S.tokens.length > 1 ? S.tokens.shift() : S.tokens[0] || "";
      return Promise.resolve(
        answer(Number(S.post), {
          receipt_id: "01a20ba4-8854-74c7-9853-5d16f915bd6e",
          receipt: "e30.e30.c2ln",
          subject: "dev:q3Jt7VbWm0Kx9ZsL2fYp4A",
          issued_at: "2026-11-24T03:41:01Z",
          expires_at: "2027-05-24T03:41:01Z",
          gpc: S.gpcAnswer,
          token,
        }),
      );
    };
    if (method === "POST" && S.delay > 0) {
      return new Promise((resolve) => setTimeout(resolve, S.delay)).then(reply);
    }
    return reply();
  };
  const add = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    if (this === document) tracked.push([type, listener, options]);
    return add.call(this, type, listener, options);
  };
}

export function harness_reset(run, endpoint, lang) {
  install();
  // The earlier test's banner lets go of the page (its MutationObserver would otherwise activate this
  // test's blocked scripts with that banner's choice).
  if (window.consent && typeof window.consent._stop === "function") window.consent._stop();
  for (const [type, listener, options] of tracked.splice(0)) {
    document.removeEventListener(type, listener, options);
  }
  Object.assign(S, {
    endpoint, routes: {}, post: "201", delay: 0, tokens: [], requests: [], getDown: false,
    postError: { code: "refused", message: "test" }, gpcAnswer: false,
  });
  // A script file an earlier banner activated may still be loading: its load must not reach that
  // banner (which would go on activating, in this test's page).
  for (const script of document.querySelectorAll("[data-test-fixture] script")) {
    script.onload = null;
    script.onerror = null;
  }
  // Removed without close(): an earlier banner would take its `close` event for the visitor's.
  for (const el of document.querySelectorAll(
    "#consent-banner, .consent-reopen, .consent-embed, link[data-consent-banner], [data-test-fixture]",
  )) {
    el.remove();
  }
  for (const pair of document.cookie.split(";")) {
    const name = pair.split("=")[0].trim();
    if (name) document.cookie = name + "=; path=/; max-age=0";
  }
  localStorage.clear();
  for (const key of ["__run", "consent", "gtag", "dataLayer", "__gtag", "__ran", "__events", "__errors", "__seen"]) {
    delete window[key];
  }
  delete navigator.globalPrivacyControl;
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  document.documentElement.setAttribute("lang", lang);
  window.__run = run;
  window.__ran = [];
  window.__events = [];
  window.__errors = [];
  document.addEventListener("consent:change", (e) => window.__events.push(["change", e.detail]));
  document.addEventListener("consent:ready", (e) => window.__events.push(["ready", e.detail]));
}

export function stub_route(path, json) { S.routes[path] = json; }
export function stub_post(mode) { S.post = mode; }
export function stub_post_delay(ms) { S.delay = ms; }
export function stub_post_error(json) { S.postError = JSON.parse(json); }
export function stub_gpc_answer(gpc) { S.gpcAnswer = gpc; }
export function stub_get_down(down) { S.getDown = down; }
export function prefetch_policy(url) { return fetch(url).then((r) => r.json()); }
export function stub_token(token) { S.tokens.push(token); }
export function stub_requests() { return S.requests.slice(); }

export function set_gpc() {
  Object.defineProperty(navigator, "globalPrivacyControl", { value: true, configurable: true });
}

export function install_gtag_recorder() {
  window.__gtag = [];
  window.gtag = function () { window.__gtag.push(Array.prototype.slice.call(arguments)); };
}

export function data_layer_gtag() {
  return function gtag() { window.dataLayer.push(arguments); };
}

export function consent_api(name, arg) { return window.consent[name](arg); }

export function recorder(into) {
  window[into] = [];
  return function (detail) { window[into].push(detail); };
}

export function accept_all_from_first_change() {
  let done = false;
  document.addEventListener("consent:change", () => {
    if (done) return;
    done = true;
    try {
      const p = window.consent.acceptAll();
      if (!(p instanceof Promise)) window.__errors.push("acceptAll() did not return a promise");
      p.catch((e) => window.__errors.push(String(e)));
    } catch (e) {
      window.__errors.push(String(e));
    }
  });
}

export function press_escape(dialog) {
  const event = new Event("cancel", { cancelable: true });
  dialog.dispatchEvent(event);
  return event.defaultPrevented;
}
"##)]
extern "C" {
    fn harness_reset(run: u32, endpoint: &str, lang: &str);
    fn stub_route(path: &str, json: &str);
    fn stub_post(mode: &str);
    fn stub_post_delay(ms: u32);
    /// The `error` object of a refused POST (default: `{"code": "refused", …}`).
    fn stub_post_error(json: &str);
    /// The `gpc` member of a recorded POST's answer.
    fn stub_gpc_answer(gpc: bool);
    fn stub_get_down(down: bool);
    /// What the bootstrap passes as `Config::policy`: the policy, fetched and parsed.
    fn prefetch_policy(url: &str) -> Promise;
    fn stub_token(token: &str);
    fn stub_requests() -> Array;
    fn set_gpc();
    fn install_gtag_recorder();
    fn data_layer_gtag() -> Function;
    fn consent_api(name: &str, arg: &JsValue) -> JsValue;
    fn recorder(into: &str) -> Function;
    fn accept_all_from_first_change();
    /// Dispatches the `cancel` event the browser fires on Escape; returns whether it was prevented.
    fn press_escape(dialog: &HtmlElement) -> bool;
}

// ---------------------------------------------------------------------------------------------------
// The page

fn window() -> Window {
    web_sys::window().unwrap()
}

fn document() -> Document {
    window().document().unwrap()
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn strings(value: &JsValue) -> Vec<String> {
    value
        .dyn_ref::<Array>()
        .map(|a| a.iter().filter_map(|v| v.as_string()).collect())
        .unwrap_or_default()
}

fn s(items: &[&str]) -> Vec<String> {
    items.iter().map(|i| i.to_string()).collect()
}

thread_local! {
    static RUN: Cell<u32> = const { Cell::new(0) };
}

/// This test's consent server (see the module docs).
fn endpoint() -> String {
    format!("https://s{}.consent.test", RUN.with(Cell::get))
}

/// A clean page in language `lang`: no banner, fixture, cookie, `localStorage`, `window.consent`,
/// `gtag`, Global Privacy Control or listener of an earlier test; a fresh stub serving the 2025-03-26
/// policy as the current one.
fn reset(lang: &str) {
    RUN.with(|r| r.set(r.get() + 1));
    harness_reset(RUN.with(Cell::get), &endpoint(), lang);
    stub_current(&VIEWS_2025);
    stub_route("/v1/policies/2025-03-26", POLICY);
    stub_route("/v1/policies/2026-06-01", POLICY_2026);
}

/// Serves `views` as the current policy's banner views (`und`: the default language's, Kazakh).
fn stub_current(views: &[(&str, &str); 3]) {
    for (lang, view) in views {
        stub_route(&format!("/v1/policy/banner/{lang}"), view);
    }
    stub_route("/v1/policy/banner/und", views[0].1);
}

/// Clicks the language switcher's `lang` and waits for the dialog in that language (its banner view
/// is fetched).
async fn choose_language(lang: &str) {
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

fn config(version: &str) -> Config {
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

fn fixture_root() -> Element {
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
fn add(tag: &str, attrs: &[(&str, &str)], text: &str) -> HtmlElement {
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
fn ran_js(name: &str) -> String {
    let run = RUN.with(Cell::get);
    format!("window.__run==={run}&&window.__ran.push({name:?})")
}

/// A blocked inline script of `purpose` that records `name` when it runs.
fn blocked_inline(purpose: &str, name: &str) {
    add(
        "script",
        &[("type", "text/plain"), ("data-consent", purpose)],
        &ran_js(name),
    );
}

/// A blocked script file (a `data:` URL) of `purpose` that records `name` when it runs.
fn blocked_file(purpose: &str, name: &str) {
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
fn blocked_scripts() {
    blocked_inline("cookies-analytics", "analytics-inline");
    blocked_file("cookies-analytics", "analytics-file");
    blocked_file("cookies-marketing", "marketing-file");
    blocked_inline("cookies-marketing", "marketing-inline");
    blocked_inline("cookies-preferences", "preferences");
    blocked_inline("cookies-necessary", "necessary");
}

/// Every blocked script of [`blocked_scripts`], in the order they run after "accept all".
const ALL_SCRIPTS: [&str; 6] = [
    "necessary",
    "analytics-inline",
    "analytics-file",
    "marketing-file",
    "marketing-inline",
    "preferences",
];

/// An iframe (marketing cookies, 320×180) and an image (analytics) waiting for consent.
fn blocked_embeds() -> (HtmlElement, HtmlElement) {
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
fn banner_css() {
    add("style", &[], BANNER_CSS);
}

/// What the activated scripts recorded, in order.
fn ran() -> Vec<String> {
    strings(&get(&window(), "__ran"))
}

fn jar() -> String {
    document()
        .unchecked_into::<HtmlDocument>()
        .cookie()
        .unwrap()
}

fn cookie(name: &str) -> Option<String> {
    cookie_value(&jar(), name).map(str::to_owned)
}

fn set_cookie(pair: &str) {
    document()
        .unchecked_into::<HtmlDocument>()
        .set_cookie(&format!("{pair}; path=/"))
        .unwrap();
}

fn storage() -> web_sys::Storage {
    window().local_storage().unwrap().unwrap()
}

fn pending() -> Option<String> {
    storage().get_item(PENDING_KEY).unwrap()
}

fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve: Function, _| {
        window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

/// Waits (at most 3 s) for `done`.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        sleep(10).await;
    }
    panic!("timed out waiting for {what}");
}

// ---------------------------------------------------------------------------------------------------
// The dialog

/// The dialog, if it is in the page (the newest, should there be several).
fn dialog() -> Option<HtmlElement> {
    let all = document()
        .query_selector_all(&format!("#{DIALOG_ID}"))
        .unwrap();
    all.item(all.length().checked_sub(1)?)
        .map(|n| n.unchecked_into())
}

/// Waits for the dialog to be open.
async fn shown() -> HtmlElement {
    until("the dialog", || {
        dialog().is_some_and(|d| d.unchecked_ref::<HtmlDialogElement>().open())
    })
    .await;
    dialog().unwrap()
}

fn all_in(root: &Element, selector: &str) -> Vec<HtmlElement> {
    let list = root.query_selector_all(selector).unwrap();
    (0..list.length())
        .map(|i| list.item(i).unwrap().unchecked_into())
        .collect()
}

fn one_in(root: &Element, selector: &str) -> HtmlElement {
    let found = all_in(root, selector);
    assert_eq!(found.len(), 1, "exactly one {selector}");
    found.into_iter().next().unwrap()
}

fn page_all(selector: &str) -> Vec<HtmlElement> {
    all_in(&document().document_element().unwrap(), selector)
}

fn text(el: &Element) -> String {
    el.text_content().unwrap_or_default()
}

/// The `data-consent-action`s of the dialog's buttons, in order.
fn actions() -> Vec<String> {
    all_in(&dialog().unwrap(), "[data-consent-action]")
        .iter()
        .map(|b| b.get_attribute("data-consent-action").unwrap())
        .collect()
}

/// The dialog's button for `action`.
fn action(name: &str) -> HtmlElement {
    one_in(
        &dialog().unwrap(),
        &format!("[data-consent-action=\"{name}\"]"),
    )
}

fn click(name: &str) {
    action(name).click();
}

fn switch(id: &str) -> HtmlInputElement {
    one_in(&dialog().unwrap(), &format!("input[data-purpose=\"{id}\"]")).unchecked_into()
}

/// The purposes that need consent switched on in the dialog.
fn switched_on() -> Vec<String> {
    all_in(
        &dialog().unwrap(),
        "input[data-purpose]:checked:not([disabled])",
    )
    .iter()
    .map(|s| s.get_attribute("data-purpose").unwrap())
    .collect()
}

fn reopen_button() -> Option<HtmlElement> {
    page_all(&format!(".{REOPEN_CLASS}")).into_iter().next()
}

/// What a screen reader announces for a button: its `aria-label`, else its text.
fn accessible_name(el: &Element) -> String {
    el.get_attribute("aria-label")
        .unwrap_or_else(|| text(el).trim().to_string())
}

// ---------------------------------------------------------------------------------------------------
// The server

struct Request {
    path: String,
    method: String,
    body: Option<String>,
    /// The `X-Consent-Token` header, if sent.
    token: Option<String>,
    /// The `Idempotency-Key` header, if sent.
    key: Option<String>,
    at: f64,
}

fn requests() -> Vec<Request> {
    stub_requests()
        .iter()
        .map(|r| Request {
            path: get(&r, "path").as_string().unwrap(),
            method: get(&r, "method").as_string().unwrap(),
            body: get(&r, "body").as_string(),
            token: get(&r, "token").as_string(),
            key: get(&r, "key").as_string(),
            at: get(&r, "at").as_f64().unwrap(),
        })
        .collect()
}

/// The paths of the GET requests.
fn gets() -> Vec<String> {
    requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.path)
        .collect()
}

/// The POST requests (each to `/v1/consents`), with their bodies as sent.
fn post_bodies() -> Vec<String> {
    requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| {
            assert_eq!(r.path, "/v1/consents");
            r.body.expect("a POST has a body")
        })
        .collect()
}

/// The `X-Consent-Token` of each POST, in order.
fn post_tokens() -> Vec<Option<String>> {
    requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.token)
        .collect()
}

/// The POST bodies, parsed.
fn posts() -> Vec<JsValue> {
    post_bodies()
        .iter()
        .map(|b| js_sys::JSON::parse(b).unwrap())
        .collect()
}

/// The only POST body, parsed.
fn posted() -> JsValue {
    let posts = posts();
    assert_eq!(posts.len(), 1, "one POST expected");
    posts.into_iter().next().unwrap()
}

fn field(value: &JsValue, key: &str) -> String {
    get(value, key)
        .as_string()
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

/// A request's decisions, sorted by purpose.
fn decisions(request: &JsValue) -> Vec<(String, String)> {
    let d = get(request, "decisions");
    let mut out: Vec<(String, String)> = Object::keys(d.unchecked_ref::<Object>())
        .iter()
        .map(|k| {
            let k = k.as_string().unwrap();
            let v = field(&d, &k);
            (k, v)
        })
        .collect();
    out.sort();
    out
}

/// A decision for every purpose that needs consent: `rest`, except for those named in `except`.
fn expected(rest: &str, except: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = CONSENT_PURPOSES
        .iter()
        .map(|p| {
            let d = except
                .iter()
                .find(|(id, _)| id == p)
                .map_or(rest, |(_, d)| d);
            (p.to_string(), d.to_string())
        })
        .collect();
    out.sort();
    out
}

fn set_of(codes: &[u8]) -> PurposeSet {
    let mut set = PurposeSet::EMPTY;
    for c in codes {
        set.insert(*c);
    }
    set
}

fn keys() -> TokenKeys {
    TokenKeys::new("t26".parse().unwrap(), HmacKey::from_bytes([7; 32]))
}

/// A consent token as the server signs it.
fn sign(claims: TokenClaims) -> String {
    keys().sign(&claims).unwrap()
}

fn claims(version: &str, given: &[u8], refused: &[u8]) -> TokenClaims {
    TokenClaims {
        policy_version: version.parse().unwrap(),
        issued_at: Timestamp::from_unix(now() - 60),
        expires_at: Timestamp::from_unix(now() + 183 * 86_400),
        subject: TokenSubject::Device(SubjectId([1; 16])),
        receipt: ReceiptId([0x2a; 16]),
        given: set_of(given),
        refused: set_of(refused),
    }
}

/// A current token under `version` giving `given` and refusing every other purpose that needs consent.
fn token(version: &str, given: &[u8]) -> String {
    let refused: Vec<u8> = CONSENT_CODES
        .iter()
        .copied()
        .filter(|c| !given.contains(c))
        .collect();
    sign(claims(version, given, &refused))
}

/// Puts a token in the `consent` cookie, as an earlier page would have.
fn set_token(token: &str) {
    set_cookie(&format!("consent={token}"));
}

/// Waits until the server has answered the last choice (nothing pending any more).
async fn recorded() {
    until("the server's answer", || {
        pending().is_none() && get(&api("get"), "pending").as_bool() == Some(false)
    })
    .await;
}

// ---------------------------------------------------------------------------------------------------
// The banner's events and API

/// The `detail`s of the `consent:<kind>` events since the reset.
fn events(kind: &str) -> Vec<JsValue> {
    get(&window(), "__events")
        .unchecked_into::<Array>()
        .iter()
        .filter_map(|e| {
            let e: Array = e.unchecked_into();
            (e.get(0).as_string().as_deref() == Some(kind)).then(|| e.get(1))
        })
        .collect()
}

fn api(name: &str) -> JsValue {
    consent_api(name, &JsValue::UNDEFINED)
}

fn api_with(name: &str, arg: &JsValue) -> JsValue {
    consent_api(name, arg)
}

/// `window.consent.on(name, f)`: returns what `on` returns.
fn on(name: &str, f: &Function) -> JsValue {
    let consent = get(&window(), "consent");
    let on: Function = get(&consent, "on").unchecked_into();
    on.call2(&consent, &name.into(), f).unwrap()
}

fn allows(purpose: &str) -> bool {
    api_with("allows", &purpose.into()).as_bool().unwrap()
}

fn js_errors() -> Vec<String> {
    strings(&get(&window(), "__errors"))
}

/// The gtag calls recorded by [`install_gtag_recorder`].
fn gtag_calls() -> Vec<Array> {
    get(&window(), "__gtag")
        .dyn_into::<Array>()
        .map(|a| a.iter().map(|c| c.unchecked_into()).collect())
        .unwrap_or_default()
}

/// A Consent Mode parameter object, as sorted `key=value` strings.
fn params(value: &JsValue) -> Vec<String> {
    let mut out: Vec<String> = Object::entries(value.unchecked_ref::<Object>())
        .iter()
        .map(|e| {
            let e: Array = e.unchecked_into();
            let v = e.get(1);
            let v = v.as_string().or_else(|| v.as_f64().map(|n| n.to_string()));
            format!("{}={}", e.get(0).as_string().unwrap(), v.unwrap())
        })
        .collect();
    out.sort();
    out
}

/// The Consent Mode state with the types in `granted` granted (and `security_storage`, which follows
/// the strictly necessary cookies), sorted as [`params`] writes it.
fn consent_mode(granted: &[&str], wait: bool) -> Vec<String> {
    let mut out: Vec<String> = logic::CONSENT_TYPES
        .iter()
        .map(|t| {
            let on = *t == "security_storage" || granted.contains(t);
            format!("{t}={}", if on { "granted" } else { "denied" })
        })
        .collect();
    if wait {
        out.push("wait_for_update=500".into());
    }
    out.sort();
    out
}

fn page_url() -> String {
    let location = window().location();
    let mut url = location.origin().unwrap();
    url.push_str(&location.pathname().unwrap());
    url
}

// ---------------------------------------------------------------------------------------------------
// First visit

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

// ---------------------------------------------------------------------------------------------------
// The buttons

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

// ---------------------------------------------------------------------------------------------------
// Return visits and the way back in

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

// ---------------------------------------------------------------------------------------------------
// Asking again

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

// ---------------------------------------------------------------------------------------------------
// Global Privacy Control

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

// ---------------------------------------------------------------------------------------------------
// Google Consent Mode

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

// ---------------------------------------------------------------------------------------------------
// Embeds

/// The placeholder shown in place of `embed`.
fn placeholder(embed: &HtmlElement) -> Option<HtmlElement> {
    embed
        .previous_element_sibling()
        .filter(|p| p.class_name() == "consent-embed")
        .map(|p| p.unchecked_into())
}

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

// ---------------------------------------------------------------------------------------------------
// The page's JS API

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

// ---------------------------------------------------------------------------------------------------
// The server unreachable, refusing, or answering later

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

// ---------------------------------------------------------------------------------------------------
// Choices never lost or doubled (issue 18.7)

/// The `Idempotency-Key` of each POST, in order.
fn post_keys() -> Vec<Option<String>> {
    requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.key)
        .collect()
}

#[wasm_bindgen_test]
async fn a_choice_sent_again_carries_its_idempotency_key_and_the_first_answer_is_recorded() {
    reset("en");
    start(config(V2025));
    shown().await;
    // The answer to the first sending is lost (the server may have recorded it).
    stub_post("down");
    click("accept-all");
    until("the first sending", || post_bodies().len() == 1).await;
    let kept = js_sys::JSON::parse(&pending().unwrap()).unwrap();
    let key = field(&kept, "key");
    let is_uuid_v4 = key.len() == 36
        && key.as_bytes()[14] == b'4'
        && matches!(key.as_bytes()[19], b'8' | b'9' | b'a' | b'b')
        && key.bytes().enumerate().all(|(i, b)| {
            matches!(i, 8 | 13 | 18 | 23) == (b == b'-') && (b == b'-' || b.is_ascii_hexdigit())
        });
    assert!(is_uuid_v4, "{key}");
    // The retry: the same key; the server answers with the first receipt (200), which is recorded.
    stub_token(&token(V2025, &CONSENT_CODES));
    stub_post("200");
    until("the pending entry to go", || pending().is_none()).await;
    assert!(cookie("consent").is_some(), "the 200's token is stored");
    let keys = post_keys();
    assert!(keys.len() >= 2, "{keys:?}");
    assert!(
        keys.iter().all(|k| k.as_deref() == Some(key.as_str())),
        "{keys:?}"
    );
    assert_eq!(post_bodies()[0], post_bodies()[1], "the same request");
    // A new choice is a new key.
    stub_post("201");
    stub_token(&token(V2025, &[]));
    JsFuture::from(api("rejectAll").unchecked_into::<Promise>())
        .await
        .unwrap();
    until("the new choice", || post_bodies().len() == keys.len() + 1).await;
    let last = post_keys().pop().unwrap().unwrap();
    assert_ne!(last, key);
    assert_eq!(last.len(), 36);
}

#[wasm_bindgen_test]
async fn a_choice_under_a_version_replaced_meanwhile_is_asked_again_at_once() {
    reset("en");
    blocked_scripts();
    stub_route("/v1/policies/2026-06-01", POLICY_2026);
    start(config(V2025));
    shown().await;
    // The server replaced 2025-03-26 by 2026-06-01 while the visitor decided.
    stub_post("409");
    stub_post_error(
        r#"{"code": "policy_outdated", "message": "policy 2025-03-26 is not the current one: 2026-06-01; fetch /v1/policy and ask again", "field": "policy_version", "policy_version": "2026-06-01"}"#,
    );
    click("choose");
    switch("cookies-analytics").click();
    click("save");
    until("the first sending", || post_bodies().len() == 1).await;
    // Shown again at once, under the new version, "updated on" its date; nothing lost: the choice as
    // made is what the second layer shows (nothing the banner asks for changed in 2026-06-01).
    let d = shown().await;
    assert!(
        gets().contains(&"/v1/policies/2026-06-01".to_string()),
        "the current version, by its immutable URL: {:?}",
        gets()
    );
    assert!(text(&d).contains(&texts("en").updated), "{}", text(&d));
    assert!(text(&d).contains("2026"), "{}", text(&d));
    assert_eq!(actions(), ["accept-all", "reject-all", "choose"]);
    click("choose");
    assert_eq!(switched_on(), ["cookies-analytics"]);
    assert_eq!(pending(), None, "the refused request is not sent again");
    stub_post("201");
    stub_token(&token(V2026, &[ANALYTICS]));
    click("save");
    until("the second sending", || post_bodies().len() == 2).await;
    let request = posts().remove(1);
    assert_eq!(field(&request, "policy_version"), V2026);
    assert_eq!(
        decisions(&request),
        expected("refused", &[("cookies-analytics", "given")])
    );
    recorded().await;
}

#[wasm_bindgen_test]
async fn global_privacy_control_withdraws_marketing_an_older_token_granted_and_records_it() {
    reset("en");
    set_gpc();
    blocked_scripts();
    set_cookie("_fbp=1");
    set_token(&token(V2025, &[ANALYTICS, MARKETING_COOKIES]));
    stub_token(&token(V2025, &[ANALYTICS]));
    stub_gpc_answer(true);
    start(config(V2025));
    until("the recorded withdrawal", || post_bodies().len() == 1).await;
    let request = posted();
    assert_eq!(field(&request, "method"), "custom");
    assert_eq!(
        decisions(&request),
        expected(
            "refused",
            &[
                ("cookies-analytics", "given"),
                ("cookies-marketing", "withdrawn")
            ]
        )
    );
    until("the scripts", || ran().len() == 3).await;
    sleep(100).await;
    assert!(
        !ran().iter().any(|r| r.starts_with("marketing")),
        "{:?}",
        ran()
    );
    assert_eq!(cookie("_fbp"), None, "marketing cookies deleted");
    assert!(allows("cookies-analytics") && !allows("cookies-marketing"));
    assert!(
        dialog().is_none(),
        "no dialog: the choice stands, less marketing"
    );
    recorded().await;
    assert_eq!(events("ready").len(), 1);

    // A choice made with the signal on (the server's answer says so) stands as made on the next pages:
    // the visitor switched marketing on themselves.
    reset("en");
    set_gpc();
    blocked_scripts();
    let chosen = claims(V2025, &[ANALYTICS, MARKETING_COOKIES], &[PREFERENCES]);
    storage()
        .set_item("consent-gpc", &chosen.receipt.hyphenated())
        .unwrap();
    set_token(&sign(chosen));
    start(config(V2025));
    until("ready", || events("ready").len() == 1).await;
    sleep(100).await;
    assert!(post_bodies().is_empty(), "nothing to record");
    assert!(allows("cookies-marketing"));
}
