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

// The tests, one module per concern; this file holds the test page's harness and the helpers they share.
mod asking_again;
mod buttons;
mod consent_mode;
mod embeds;
mod first_visit;
mod gpc;
mod js_api;
mod never_lost;
mod return_visits;
mod server_faults;

const POLICY: &str =
    include_str!("../../../spec/vectors/policy-invisionu-2025-03-26.canonical.json");
const POLICY_2026: &str =
    include_str!("../../../spec/vectors/policy-invisionu-2026-06-01.canonical.json");
/// The banner views of the two policies (`GET /v1/policy/banner/{lang}`), by language.
const VIEWS_2025: [(&str, &str); 3] = [
    (
        "kk",
        include_str!("../../../spec/vectors/policy-invisionu-2025-03-26.banner-kk.json"),
    ),
    (
        "ru",
        include_str!("../../../spec/vectors/policy-invisionu-2025-03-26.banner-ru.json"),
    ),
    (
        "en",
        include_str!("../../../spec/vectors/policy-invisionu-2025-03-26.banner-en.json"),
    ),
];
const VIEWS_2026: [(&str, &str); 3] = [
    (
        "kk",
        include_str!("../../../spec/vectors/policy-invisionu-2026-06-01.banner-kk.json"),
    ),
    (
        "ru",
        include_str!("../../../spec/vectors/policy-invisionu-2026-06-01.banner-ru.json"),
    ),
    (
        "en",
        include_str!("../../../spec/vectors/policy-invisionu-2026-06-01.banner-en.json"),
    ),
];
/// Where the banner asks for the current policy on an English page.
const VIEW_EN: &str = "/v1/policy/banner/en";
/// The banner's own stylesheet, put into the page by the tests that look at the layout.
const BANNER_CSS: &str = include_str!("../../banner.css");
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

/// The placeholder shown in place of `embed`.
fn placeholder(embed: &HtmlElement) -> Option<HtmlElement> {
    embed
        .previous_element_sibling()
        .filter(|p| p.class_name() == "consent-embed")
        .map(|p| p.unchecked_into())
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
