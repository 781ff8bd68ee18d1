//! The banner in a real browser (headless Chromium through chromedriver, run by
//! `wasm-bindgen-test-runner`; see `scripts/test`).
//!
//! Everything runs for real (the DOM, `document.cookie`, `localStorage`, script activation, `JSON.parse`
//! of the real policy, token decoding) except the network: the tests hand [`consent_wasm::run`] a
//! recording [`Transport`] instead of the browser's `fetch`. That boundary is the only thing replaced; the
//! `fetch` path itself is left to the end-to-end test against the real consent-server (a later slice).
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use consent_core::{
    HmacKey, PurposeSet, ReceiptId, SubjectId, Timestamp, TokenClaims, TokenKeys, UnverifiedToken,
};
use consent_wasm::logic::{PENDING_KEY, cookie_value};
use consent_wasm::transport::{HttpResponse, Transport};
use consent_wasm::{CHANGE_EVENT, Config, DIALOG_ID, Outcome, REOPEN_CLASS, run};
use js_sys::{Array, Function, JsString, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;
use web_sys::{
    CustomEvent, Document, Element, HtmlDocument, HtmlElement, HtmlInputElement, KeyboardEvent,
    KeyboardEventInit, Window,
};

wasm_bindgen_test_configure!(run_in_browser);

const POLICY: &str = include_str!("../../spec/vectors/policy-invisionu-2025-03-26.canonical.json");
const POLICY_2026: &str =
    include_str!("../../spec/vectors/policy-invisionu-2026-06-01.canonical.json");
const ENDPOINT: &str = "https://consent.test";

// Purpose codes in the invisionu policy.
const ANALYTICS: u8 = 12;
const MARKETING_COOKIES: u8 = 13;

/// The blocked scripts of a page: two analytics (inline, then a file), marketing, strictly necessary.
const PAGE: &str = r#"
<button id="before">before</button>
<script type="text/plain" data-consent="cookies-analytics">(window.__order = window.__order || []).push('analytics-inline');</script>
<script type="text/plain" data-consent="cookies-analytics" data-src="data:text/javascript,(window.__order=window.__order||[]).push('analytics-file')"></script>
<script type="text/plain" data-consent="cookies-marketing">(window.__order = window.__order || []).push('marketing');</script>
<script type="text/plain" data-consent="cookies-necessary">(window.__order = window.__order || []).push('necessary');</script>
"#;

fn window() -> Window {
    web_sys::window().unwrap()
}

fn document() -> Document {
    window().document().unwrap()
}

fn cookie() -> Option<String> {
    let jar = document()
        .unchecked_into::<HtmlDocument>()
        .cookie()
        .unwrap();
    cookie_value(&jar, "consent").map(str::to_owned)
}

fn set_cookie(value: &str) {
    let mut c = String::from("consent=");
    c.push_str(value);
    c.push_str("; path=/");
    document()
        .unchecked_into::<HtmlDocument>()
        .set_cookie(&c)
        .unwrap();
}

fn pending() -> Option<String> {
    window()
        .local_storage()
        .unwrap()
        .unwrap()
        .get_item(PENDING_KEY)
        .unwrap()
}

/// What the page's activated scripts pushed, in order.
fn order() -> Vec<String> {
    Reflect::get(&window(), &"__order".into())
        .ok()
        .and_then(|v| v.dyn_into::<Array>().ok())
        .map(|a| a.iter().filter_map(|v| v.as_string()).collect())
        .unwrap_or_default()
}

fn dialog() -> Option<HtmlElement> {
    document()
        .get_element_by_id(DIALOG_ID)
        .map(|e| e.unchecked_into())
}

fn by_selector(root: &Element, selector: &str) -> Vec<HtmlElement> {
    let list = root.query_selector_all(selector).unwrap();
    (0..list.length())
        .map(|i| list.item(i).unwrap().unchecked_into())
        .collect()
}

fn actions() -> Vec<String> {
    by_selector(&dialog().unwrap(), "[data-consent-action]")
        .iter()
        .map(|b| b.get_attribute("data-consent-action").unwrap())
        .collect()
}

fn click(action: &str) {
    let mut selector = String::from("[data-consent-action=\"");
    selector.push_str(action);
    selector.push_str("\"]");
    by_selector(&dialog().unwrap(), &selector)[0].click();
}

async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve: Function, _| {
        window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    p.await.unwrap();
}

/// Waits (at most 4 s) for `done`.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        sleep(20).await;
    }
    panic!("timed out waiting for {what}");
}

/// A clean page: no banner, no fixture, no cookie, no pending choice, no script side effects.
fn reset(html_lang: &str) {
    let doc = document();
    for id in [DIALOG_ID, "fixture"] {
        if let Some(el) = doc.get_element_by_id(id) {
            el.remove();
        }
    }
    for el in by_selector(&doc.document_element().unwrap(), ".consent-reopen") {
        el.remove();
    }
    for name in ["consent", "_ga", "_ga_ABC", "_fbp", "lang", "theme"] {
        let mut c = String::from(name);
        c.push_str("=; path=/; max-age=0");
        doc.unchecked_ref::<HtmlDocument>().set_cookie(&c).unwrap();
    }
    window()
        .local_storage()
        .unwrap()
        .unwrap()
        .remove_item(PENDING_KEY)
        .unwrap();
    Reflect::delete_property(&window(), &"__order".into()).unwrap();
    doc.document_element()
        .unwrap()
        .set_attribute("lang", html_lang)
        .unwrap();
}

/// Puts `html` into the page (test fixture only; the banner itself never uses innerHTML).
fn page(html: &str) {
    let doc = document();
    let fixture = doc.create_element("div").unwrap();
    fixture.set_id("fixture");
    fixture.set_inner_html(html);
    doc.body().unwrap().append_child(&fixture).unwrap();
}

fn config(version: &str) -> Config {
    Config {
        endpoint: ENDPOINT.into(),
        policy_version: Some(version.parse().unwrap()),
        build: None,
        stylesheet: None,
    }
}

fn token(version: &str, given: &[u8], refused: &[u8], issued: i64, expires: i64) -> String {
    let set = |codes: &[u8]| {
        let mut s = PurposeSet::EMPTY;
        for c in codes {
            s.insert(*c);
        }
        s
    };
    TokenKeys::new("t26".parse().unwrap(), HmacKey::from_bytes([7; 32]))
        .sign(&TokenClaims {
            policy_version: version.parse().unwrap(),
            issued_at: Timestamp::from_unix(issued),
            expires_at: Timestamp::from_unix(expires),
            subject: SubjectId([1; 16]),
            receipt: ReceiptId([2; 16]),
            given: set(given),
            refused: set(refused),
        })
        .unwrap()
}

fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap()
}

/// How the fake server answers `POST /v1/consents`.
#[derive(Clone, Copy)]
enum Reply {
    /// 201 with a token signed for exactly the decisions received (as the real server does).
    Created,
    /// The network fails (as `fetch` does when the server is down).
    Unreachable,
    /// Another status, e.g. 422.
    Status(u16),
}

/// The test transport: serves the policy, answers choices, records every request.
#[derive(Clone)]
struct Mock(Rc<MockState>);

struct MockState {
    policy: &'static str,
    reply: Reply,
    gets: RefCell<Vec<String>>,
    posts: RefCell<Vec<(String, String)>>,
    issued: RefCell<Vec<String>>,
}

impl Mock {
    fn new(policy: &'static str, reply: Reply) -> Mock {
        Mock(Rc::new(MockState {
            policy,
            reply,
            gets: RefCell::default(),
            posts: RefCell::default(),
            issued: RefCell::default(),
        }))
    }

    fn gets(&self) -> Vec<String> {
        self.0.gets.borrow().clone()
    }

    fn posts(&self) -> Vec<(String, String)> {
        self.0.posts.borrow().clone()
    }

    /// The only request body posted, parsed.
    fn posted(&self) -> JsValue {
        let posts = self.posts();
        assert_eq!(posts.len(), 1, "one POST expected");
        assert_eq!(posts[0].0, "https://consent.test/v1/consents");
        js_sys::JSON::parse(&posts[0].1).unwrap()
    }

    /// A token for the decisions in `body`, as the server would sign it.
    fn token_for(&self, body: &str) -> String {
        let request = js_sys::JSON::parse(body).unwrap();
        let policy = js_sys::JSON::parse(self.0.policy).unwrap();
        let code = |id: &str| {
            get(&policy, "purposes")
                .unchecked_into::<Array>()
                .iter()
                .find(|p| get(p, "id").as_string().as_deref() == Some(id))
                .and_then(|p| get(&p, "code").as_f64())
                .unwrap() as u8
        };
        let decisions = get(&request, "decisions");
        let (mut given, mut refused) = (Vec::new(), Vec::new());
        for key in js_sys::Object::keys(decisions.unchecked_ref::<js_sys::Object>()).iter() {
            let id = key.as_string().unwrap();
            match get(&decisions, &id).as_string().unwrap().as_str() {
                "given" => given.push(code(&id)),
                _ => refused.push(code(&id)),
            }
        }
        let version = get(&request, "policy_version").as_string().unwrap();
        token(&version, &given, &refused, now(), now() + 183 * 86_400)
    }
}

impl Transport for Mock {
    async fn get(&self, url: &str) -> Result<HttpResponse, JsValue> {
        self.0.gets.borrow_mut().push(url.to_owned());
        Ok(HttpResponse {
            status: 200,
            body: JsString::from(self.0.policy),
        })
    }

    async fn post_json(&self, url: &str, body: &str) -> Result<HttpResponse, JsValue> {
        self.0
            .posts
            .borrow_mut()
            .push((url.to_owned(), body.to_owned()));
        match self.0.reply {
            Reply::Unreachable => Err(JsValue::from_str("TypeError: Failed to fetch")),
            Reply::Status(status) => Ok(HttpResponse {
                status,
                body: JsString::from(r#"{"error":{"code":"invalid_field"}}"#),
            }),
            Reply::Created => {
                let token = self.token_for(body);
                self.0.issued.borrow_mut().push(token.clone());
                let mut answer = String::from(
                    r#"{"receipt_id":"01a20ba4-8854-74c7-9853-5d16f915bd6e","receipt":"e30.e30.sig","subject":"dev:q3Jt7VbWm0Kx9ZsL2fYp4A","issued_at":"2026-11-24T03:41:01Z","expires_at":"2027-05-24T03:41:01Z","gpc":false,"token":""#,
                );
                answer.push_str(&token);
                answer.push_str("\"}");
                Ok(HttpResponse {
                    status: 201,
                    body: JsString::from(answer),
                })
            }
        }
    }
}

/// Records the `detail` of every `consent:change` event while alive.
struct Changes {
    seen: Rc<RefCell<Vec<JsValue>>>,
    _listener: consent_wasm::dom::Listener,
}

impl Changes {
    fn listen() -> Changes {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let sink = Rc::clone(&seen);
        let listener = consent_wasm::dom::Listener::new(&document(), CHANGE_EVENT, move |e| {
            sink.borrow_mut()
                .push(e.unchecked_into::<CustomEvent>().detail());
        });
        Changes {
            seen,
            _listener: listener,
        }
    }
}

fn strings(value: JsValue) -> Vec<String> {
    value
        .unchecked_into::<Array>()
        .iter()
        .map(|v| v.as_string().unwrap())
        .collect()
}

/// Every purpose of the 2025-03-26 policy that needs consent.
const CONSENT_PURPOSES: [&str; 12] = [
    "application-review",
    "events",
    "scholarships",
    "contact",
    "improvement",
    "transfer-service-providers",
    "transfer-abroad",
    "public-dissemination",
    "marketing",
    "cookies-preferences",
    "cookies-analytics",
    "cookies-marketing",
];

fn decisions(request: &JsValue) -> Vec<(String, String)> {
    let d = get(request, "decisions");
    let mut out: Vec<(String, String)> = js_sys::Object::keys(d.unchecked_ref::<js_sys::Object>())
        .iter()
        .map(|k| {
            let k = k.as_string().unwrap();
            let v = get(&d, &k).as_string().unwrap();
            (k, v)
        })
        .collect();
    out.sort();
    out
}

fn all(choice: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = CONSENT_PURPOSES
        .iter()
        .map(|p| (p.to_string(), choice.to_owned()))
        .collect();
    out.sort();
    out
}

#[wasm_bindgen_test]
async fn first_visit_shows_an_accessible_dialog() {
    reset("en");
    let mock = Mock::new(POLICY, Reply::Created);
    assert_eq!(
        run(config("2025-03-26"), mock.clone()).await.unwrap(),
        Outcome::Asked
    );
    assert_eq!(mock.gets(), ["https://consent.test/v1/policy"]);
    let d = dialog().expect("the dialog is shown");
    assert_eq!(d.get_attribute("role").as_deref(), Some("dialog"));
    assert_eq!(d.get_attribute("aria-modal").as_deref(), Some("true"));
    assert_eq!(d.get_attribute("lang").as_deref(), Some("en"));
    let doc = document();
    let title = doc
        .get_element_by_id(&d.get_attribute("aria-labelledby").unwrap())
        .expect("aria-labelledby names an element");
    assert_eq!(title.text_content().unwrap(), "Cookies and personal data");
    assert!(d.contains(Some(&title)));
    let description = doc
        .get_element_by_id(&d.get_attribute("aria-describedby").unwrap())
        .expect("aria-describedby names an element");
    assert!(
        description
            .text_content()
            .unwrap()
            .contains("Nothing optional runs until you choose")
    );
    // Three buttons of equal weight: same element, same class, same row.
    assert_eq!(actions(), ["accept-all", "reject-all", "choose"]);
    let buttons = by_selector(&d, "[data-consent-action]");
    let texts: Vec<String> = buttons.iter().map(|b| b.text_content().unwrap()).collect();
    assert_eq!(texts, ["Accept all", "Reject all", "Choose"]);
    for b in &buttons {
        assert_eq!(b.tag_name(), "BUTTON");
        assert_eq!(b.class_name(), buttons[0].class_name());
        assert_eq!(b.parent_element(), buttons[0].parent_element());
        assert_eq!(b.get_attribute("type").as_deref(), Some("button"));
    }
    // Focus moved into the dialog.
    let active = doc.active_element().unwrap();
    assert!(d.contains(Some(&active)), "focus is in the dialog");
    // Nothing was stored, nothing was sent.
    assert_eq!(cookie(), None);
    assert_eq!(pending(), None);
    assert!(mock.posts().is_empty());
    reset("en");
}

#[wasm_bindgen_test]
async fn nothing_optional_runs_before_a_choice() {
    reset("en");
    page(PAGE);
    let mock = Mock::new(POLICY, Reply::Created);
    run(config("2025-03-26"), mock.clone()).await.unwrap();
    assert!(dialog().is_some());
    sleep(50).await;
    // Only the strictly necessary script (no consent needed) ran; the others are still inert.
    assert_eq!(order(), ["necessary"]);
    assert_eq!(
        by_selector(
            &document().document_element().unwrap(),
            "script[type=\"text/plain\"][data-consent]"
        )
        .len(),
        3
    );
    assert_eq!(cookie(), None);
    assert_eq!(pending(), None);
    assert!(mock.posts().is_empty());
    reset("en");
}

#[wasm_bindgen_test]
async fn accept_all_activates_scripts_in_document_order_and_stores_the_token() {
    reset("en");
    page(PAGE);
    let before: HtmlElement = document()
        .get_element_by_id("before")
        .unwrap()
        .unchecked_into();
    before.focus().unwrap();
    let changes = Changes::listen();
    let mock = Mock::new(POLICY, Reply::Created);
    run(config("2025-03-26"), mock.clone()).await.unwrap();
    click("accept-all");
    assert!(dialog().is_none(), "the dialog closes at once");
    assert_eq!(
        document().active_element().unwrap(),
        before.clone().unchecked_into::<Element>(),
        "focus returns where it was"
    );
    until("the scripts", || order().len() == 4).await;
    assert_eq!(
        order(),
        [
            "necessary",
            "analytics-inline",
            "analytics-file",
            "marketing"
        ]
    );
    until("the cookie", || cookie().is_some()).await;
    assert_eq!(cookie(), mock.0.issued.borrow().first().cloned());
    let request = mock.posted();
    assert_eq!(get(&request, "method").as_string().unwrap(), "accept-all");
    assert_eq!(
        get(&request, "policy_version").as_string().unwrap(),
        "2025-03-26"
    );
    assert_eq!(get(&request, "language").as_string().unwrap(), "en");
    assert_eq!(decisions(&request), all("given"));
    let point = get(&request, "collection_point");
    assert_eq!(get(&point, "kind").as_string().unwrap(), "banner");
    let location = window().location();
    let mut page_url = location.origin().unwrap();
    page_url.push_str(&location.pathname().unwrap());
    assert_eq!(get(&point, "page").as_string().unwrap(), page_url);
    // The token in the cookie is the server's, for exactly this choice.
    let claims = *UnverifiedToken::decode(&cookie().unwrap())
        .unwrap()
        .unverified_claims();
    assert!(claims.given.contains(ANALYTICS) && claims.refused == PurposeSet::EMPTY);
    // One consent:change event, with what is granted now.
    let seen = changes.seen.borrow();
    assert_eq!(seen.len(), 1);
    assert_eq!(get(&seen[0], "method").as_string().unwrap(), "accept-all");
    let granted = strings(get(&seen[0], "granted"));
    assert!(granted.contains(&"cookies-analytics".to_owned()));
    assert!(granted.contains(&"cookies-necessary".to_owned()));
    assert_eq!(pending(), None);
    drop(seen);
    reset("en");
}

#[wasm_bindgen_test]
async fn reject_all_runs_nothing_optional() {
    reset("en");
    page(PAGE);
    let changes = Changes::listen();
    let mock = Mock::new(POLICY, Reply::Created);
    run(config("2025-03-26"), mock.clone()).await.unwrap();
    click("reject-all");
    assert!(dialog().is_none());
    until("the cookie", || cookie().is_some()).await;
    sleep(100).await;
    assert_eq!(order(), ["necessary"]);
    let request = mock.posted();
    assert_eq!(get(&request, "method").as_string().unwrap(), "reject-all");
    assert_eq!(decisions(&request), all("refused"));
    let claims = *UnverifiedToken::decode(&cookie().unwrap())
        .unwrap()
        .unverified_claims();
    assert_eq!(claims.given, PurposeSet::EMPTY);
    let seen = changes.seen.borrow();
    assert_eq!(
        strings(get(&seen[0], "granted")),
        ["legal-compliance", "cookies-necessary"]
    );
    assert_eq!(strings(get(&seen[0], "refused")).len(), 12);
    drop(seen);
    reset("en");
}

#[wasm_bindgen_test]
async fn choose_shows_one_switch_per_purpose_and_saves_a_custom_choice() {
    reset("en");
    page(PAGE);
    let mock = Mock::new(POLICY, Reply::Created);
    run(config("2025-03-26"), mock.clone()).await.unwrap();
    click("choose");
    let d = dialog().unwrap();
    let switches: Vec<HtmlInputElement> = by_selector(&d, "input[data-purpose]")
        .into_iter()
        .map(|e| e.unchecked_into())
        .collect();
    assert_eq!(switches.len(), 14, "one per purpose");
    for s in &switches {
        let id = s.get_attribute("data-purpose").unwrap();
        assert_eq!(s.type_(), "checkbox");
        assert_eq!(s.get_attribute("role").as_deref(), Some("switch"));
        let locked = id == "cookies-necessary" || id == "legal-compliance";
        assert_eq!(
            s.checked(),
            locked,
            "{id}: only what needs no consent is on"
        );
        assert_eq!(s.disabled(), locked, "{id}: and locked");
        // Each switch is labelled by the purpose's title and described by its description.
        let label = s.parent_element().unwrap();
        assert_eq!(label.tag_name(), "LABEL");
        assert!(!label.text_content().unwrap().is_empty());
        let description = document()
            .get_element_by_id(&s.get_attribute("aria-describedby").unwrap())
            .unwrap();
        assert!(!description.text_content().unwrap().is_empty());
    }
    // "Choose" gives way to "save"; still three buttons, focus on the first switch that can change.
    assert_eq!(actions(), ["accept-all", "reject-all", "save"]);
    let first_free = switches.iter().find(|s| !s.disabled()).unwrap();
    assert_eq!(
        document().active_element().unwrap(),
        first_free.clone().unchecked_into::<Element>()
    );
    sleep(50).await;
    assert_eq!(order(), ["necessary"], "opening the choices grants nothing");
    switches
        .iter()
        .find(|s| s.get_attribute("data-purpose").as_deref() == Some("cookies-analytics"))
        .unwrap()
        .click();
    click("save");
    assert!(dialog().is_none());
    until("the scripts", || order().len() == 3).await;
    assert_eq!(order(), ["necessary", "analytics-inline", "analytics-file"]);
    until("the cookie", || cookie().is_some()).await;
    let request = mock.posted();
    assert_eq!(get(&request, "method").as_string().unwrap(), "custom");
    let mut expected = all("refused");
    for (id, choice) in &mut expected {
        if id == "cookies-analytics" {
            *choice = "given".into();
        }
    }
    assert_eq!(decisions(&request), expected);
    reset("en");
}

#[wasm_bindgen_test]
async fn a_current_token_runs_granted_scripts_without_a_dialog() {
    reset("en");
    page(PAGE);
    set_cookie(&token(
        "2025-03-26",
        &[ANALYTICS],
        &[MARKETING_COOKIES],
        now() - 60,
        now() + 86_400,
    ));
    let mock = Mock::new(POLICY, Reply::Created);
    assert_eq!(
        run(config("2025-03-26"), mock.clone()).await.unwrap(),
        Outcome::FromToken
    );
    assert!(dialog().is_none());
    assert_eq!(
        order(),
        ["analytics-inline", "analytics-file", "necessary"],
        "granted and necessary scripts, in document order; marketing stays blocked"
    );
    // The token's own (immutable, cacheable) policy version maps purpose ids to codes.
    assert_eq!(mock.gets(), ["https://consent.test/v1/policies/2025-03-26"]);
    assert!(mock.posts().is_empty());
    reset("en");
}

#[wasm_bindgen_test]
async fn a_current_token_and_nothing_to_activate_costs_no_request() {
    reset("en");
    set_cookie(&token(
        "2025-03-26",
        &[ANALYTICS],
        &[],
        now() - 60,
        now() + 86_400,
    ));
    let mock = Mock::new(POLICY, Reply::Created);
    assert_eq!(
        run(config("2025-03-26"), mock.clone()).await.unwrap(),
        Outcome::FromToken
    );
    assert!(mock.gets().is_empty() && mock.posts().is_empty());
    assert!(dialog().is_none());
    reset("en");
}

#[wasm_bindgen_test]
async fn a_choice_under_an_older_policy_version_is_asked_again() {
    reset("en");
    page(PAGE);
    set_cookie(&token(
        "2025-03-26",
        &[ANALYTICS, MARKETING_COOKIES],
        &[],
        now() - 60,
        now() + 86_400,
    ));
    let mock = Mock::new(POLICY_2026, Reply::Created);
    assert_eq!(
        run(config("2026-06-01"), mock.clone()).await.unwrap(),
        Outcome::Asked
    );
    assert!(dialog().is_some());
    assert_eq!(mock.gets(), ["https://consent.test/v1/policy"]);
    sleep(50).await;
    assert_eq!(order(), ["necessary"], "the old choice grants nothing now");
    click("reject-all");
    until("the cookie", || {
        cookie().is_some_and(|c| {
            UnverifiedToken::decode(&c).is_ok_and(|t| {
                t.unverified_claims().policy_version == "2026-06-01".parse().unwrap()
            })
        })
    })
    .await;
    assert_eq!(
        get(&mock.posted(), "policy_version").as_string().unwrap(),
        "2026-06-01"
    );
    reset("en");
}

#[wasm_bindgen_test]
async fn a_lapsed_or_unreadable_choice_is_asked_again() {
    reset("en");
    page(PAGE);
    set_cookie(&token(
        "2025-03-26",
        &[ANALYTICS],
        &[],
        now() - 200 * 86_400,
        now() - 1,
    ));
    let mock = Mock::new(POLICY, Reply::Created);
    assert_eq!(
        run(config("2025-03-26"), mock.clone()).await.unwrap(),
        Outcome::Asked
    );
    assert!(dialog().is_some());
    sleep(50).await;
    assert_eq!(order(), ["necessary"]);
    reset("en");
    set_cookie("AQN0MjVOzWfrqxBo3O2Q-not-a-token");
    let mock = Mock::new(POLICY, Reply::Created);
    assert_eq!(
        run(config("2025-03-26"), mock).await.unwrap(),
        Outcome::Asked
    );
    assert!(dialog().is_some());
    reset("en");
}

#[wasm_bindgen_test]
async fn an_unreachable_server_still_applies_the_choice_and_it_is_sent_later() {
    reset("en");
    page(PAGE);
    let offline = Mock::new(POLICY, Reply::Unreachable);
    run(config("2025-03-26"), offline.clone()).await.unwrap();
    click("accept-all");
    until("the scripts", || order().len() == 4).await;
    until("the pending choice", || pending().is_some()).await;
    assert_eq!(cookie(), None);
    let sent = offline.posts()[0].1.clone();
    let entry = js_sys::JSON::parse(&pending().unwrap()).unwrap();
    assert_eq!(
        js_sys::JSON::stringify(&get(&entry, "request"))
            .unwrap()
            .as_string()
            .unwrap(),
        sent,
        "the exact request is kept"
    );
    assert!(get(&entry, "expires").as_f64().unwrap() > js_sys::Date::now());

    // The next page load: the kept choice applies without a dialog, and is sent again.
    for id in [DIALOG_ID, "fixture"] {
        if let Some(el) = document().get_element_by_id(id) {
            el.remove();
        }
    }
    Reflect::delete_property(&window(), &"__order".into()).unwrap();
    page(PAGE);
    let online = Mock::new(POLICY, Reply::Created);
    assert_eq!(
        run(config("2025-03-26"), online.clone()).await.unwrap(),
        Outcome::FromPending
    );
    assert!(dialog().is_none());
    assert_eq!(
        order(),
        [
            "analytics-inline",
            "analytics-file",
            "marketing",
            "necessary"
        ]
    );
    assert!(
        online.gets().is_empty(),
        "no policy needed to apply a kept choice"
    );
    until("the cookie", || cookie().is_some()).await;
    until("the pending choice to go", || pending().is_none()).await;
    assert_eq!(online.posts()[0].1, sent);
    reset("en");
}

#[wasm_bindgen_test]
async fn a_refused_request_is_not_kept() {
    reset("en");
    let mock = Mock::new(POLICY, Reply::Status(422));
    run(config("2025-03-26"), mock.clone()).await.unwrap();
    click("reject-all");
    until("the request", || !mock.posts().is_empty()).await;
    sleep(50).await;
    assert_eq!(cookie(), None);
    assert_eq!(
        pending(),
        None,
        "a 4xx will not succeed later: nothing kept"
    );
    reset("en");
}

#[wasm_bindgen_test]
async fn the_dialog_speaks_the_page_language() {
    for (lang, title, accept) in [
        (
            "kk",
            "Cookie файлдары және жеке деректер",
            "Барлығын қабылдау",
        ),
        ("ru-RU", "Файлы cookie и персональные данные", "Принять все"),
    ] {
        reset(lang);
        let mock = Mock::new(POLICY, Reply::Created);
        run(config("2025-03-26"), mock.clone()).await.unwrap();
        let d = dialog().unwrap();
        assert_eq!(d.get_attribute("lang").unwrap(), &lang[..2]);
        assert_eq!(by_selector(&d, "h2")[0].text_content().unwrap(), title);
        assert_eq!(
            by_selector(&d, "[data-consent-action=\"accept-all\"]")[0]
                .text_content()
                .unwrap(),
            accept
        );
        click("choose");
        // Purpose texts come from the policy, in the same language.
        let policy = js_sys::JSON::parse(POLICY).unwrap();
        let first = get(&get(&policy, "purposes"), "0");
        let expected = get(&get(&get(&first, "texts"), "title"), &lang[..2]);
        assert_eq!(
            by_selector(&d, ".consent-banner__purpose-title")[0]
                .text_content()
                .unwrap(),
            expected.as_string().unwrap()
        );
        click("reject-all");
        until("the cookie", || cookie().is_some()).await;
        assert_eq!(
            get(&mock.posted(), "language").as_string().unwrap(),
            &lang[..2]
        );
    }
    // A language the banner does not speak: the browser's languages, then the policy's default.
    reset("de");
    run(config("2025-03-26"), Mock::new(POLICY, Reply::Created))
        .await
        .unwrap();
    let browser: Vec<String> = window()
        .navigator()
        .languages()
        .iter()
        .filter_map(|l| l.as_string())
        .collect();
    let expected = consent_wasm::logic::pick_language(
        browser.iter().map(String::as_str),
        &["kk".into(), "ru".into(), "en".into()],
        "kk",
    );
    assert_eq!(dialog().unwrap().get_attribute("lang").unwrap(), expected);
    reset("en");
}

fn press_tab(target: &HtmlElement, shift: bool) {
    let init = KeyboardEventInit::new();
    init.set_key("Tab");
    init.set_shift_key(shift);
    init.set_bubbles(true);
    init.set_cancelable(true);
    let event = KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    target.dispatch_event(&event).unwrap();
}

#[wasm_bindgen_test]
async fn tab_keeps_focus_inside_the_dialog() {
    reset("en");
    run(config("2025-03-26"), Mock::new(POLICY, Reply::Created))
        .await
        .unwrap();
    let d = dialog().unwrap();
    let buttons = by_selector(&d, "[data-consent-action]");
    let (first, last) = (&buttons[0], &buttons[2]);
    let active = || document().active_element().unwrap();
    last.focus().unwrap();
    press_tab(last, false);
    assert_eq!(active(), first.clone().unchecked_into::<Element>());
    press_tab(first, true);
    assert_eq!(active(), last.clone().unchecked_into::<Element>());
    // From the dialog itself (where focus lands first), Shift+Tab goes to the last control too.
    d.focus().unwrap();
    press_tab(&d, true);
    assert_eq!(active(), last.clone().unchecked_into::<Element>());
    reset("en");
}

fn press(target: &HtmlElement, key: &str) {
    let init = KeyboardEventInit::new();
    init.set_key(key);
    init.set_bubbles(true);
    init.set_cancelable(true);
    let event = KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    target.dispatch_event(&event).unwrap();
}

fn reopen_button() -> Option<HtmlElement> {
    by_selector(&document().document_element().unwrap(), ".consent-reopen")
        .into_iter()
        .next()
}

fn switch(id: &str) -> HtmlInputElement {
    let mut selector = String::from("input[data-purpose=\"");
    selector.push_str(id);
    selector.push_str("\"]");
    by_selector(&dialog().unwrap(), &selector)
        .remove(0)
        .unchecked_into()
}

/// The purposes switched on in the dialog (those that need consent).
fn switched_on() -> Vec<String> {
    by_selector(
        &dialog().unwrap(),
        "input[data-purpose]:checked:not([disabled])",
    )
    .iter()
    .map(|s| s.get_attribute("data-purpose").unwrap())
    .collect()
}

fn jar() -> String {
    document()
        .unchecked_into::<HtmlDocument>()
        .cookie()
        .unwrap()
}

fn has_cookie(name: &str) -> bool {
    cookie_value(&jar(), name).is_some()
}

fn set_raw_cookie(pair: &str) {
    let mut c = String::from(pair);
    c.push_str("; path=/");
    document()
        .unchecked_into::<HtmlDocument>()
        .set_cookie(&c)
        .unwrap();
}

#[wasm_bindgen_test]
async fn a_choice_leaves_a_way_back_in_that_reopens_the_second_layer() {
    reset("en");
    page(PAGE);
    let mock = Mock::new(POLICY, Reply::Created);
    run(config("2025-03-26"), mock.clone()).await.unwrap();
    assert!(reopen_button().is_none(), "no way back in before a choice");
    click("choose");
    switch("cookies-analytics").click();
    switch("marketing").click();
    click("save");
    until("the cookie", || cookie().is_some()).await;
    until("the way back in", || reopen_button().is_some()).await;
    let b = reopen_button().unwrap();
    assert_eq!(b.tag_name(), "BUTTON");
    assert_eq!(b.class_name(), REOPEN_CLASS);
    assert_eq!(
        b.get_attribute("aria-label").as_deref(),
        Some("Cookie settings")
    );
    assert_eq!(
        b.get_attribute("data-consent-action").as_deref(),
        Some("open")
    );
    assert!(dialog().is_none());
    b.click();
    until("the dialog again", || dialog().is_some()).await;
    // Straight on the second layer, switches set to the current choice.
    assert_eq!(actions(), ["accept-all", "reject-all", "save"]);
    assert_eq!(switched_on(), ["marketing", "cookies-analytics"]);
    assert!(switch("cookies-necessary").checked() && switch("cookies-necessary").disabled());
    assert_eq!(
        mock.gets().len(),
        2,
        "the policy is fetched again to reopen"
    );
    assert_eq!(mock.posts().len(), 1, "opening records nothing");
    // Still one way back in.
    assert_eq!(
        by_selector(&document().document_element().unwrap(), ".consent-reopen").len(),
        1
    );
    reset("en");
}

#[wasm_bindgen_test]
async fn a_return_visit_has_the_way_back_in_and_any_data_consent_open_element_reopens() {
    for (lang, label) in [("kk", "Cookie баптаулары"), ("ru", "Настройки cookie")]
    {
        reset(lang);
        set_cookie(&token(
            "2025-03-26",
            &[ANALYTICS],
            &[MARKETING_COOKIES],
            now() - 60,
            now() + 86_400,
        ));
        let mock = Mock::new(POLICY, Reply::Created);
        assert_eq!(
            run(config("2025-03-26"), mock.clone()).await.unwrap(),
            Outcome::FromToken
        );
        assert!(dialog().is_none());
        let b = reopen_button().expect("the way back in on a return visit");
        assert_eq!(b.get_attribute("aria-label").as_deref(), Some(label));
        assert!(mock.gets().is_empty(), "nothing fetched until it is used");
        // A link the page adds after the banner ran (event delegation on document).
        page(
            r##"<p><a id="settings-link" href="#" data-consent-open><span id="inner">Cookies</span></a></p>"##,
        );
        by_selector(&document().document_element().unwrap(), "#inner")[0].click();
        until("the dialog", || dialog().is_some()).await;
        assert_eq!(
            dialog().unwrap().get_attribute("lang").as_deref(),
            Some(lang)
        );
        assert_eq!(switched_on(), ["cookies-analytics"], "from the token");
        assert!(!switch("cookies-marketing").checked());
        assert_eq!(mock.gets(), ["https://consent.test/v1/policy"]);
        assert!(mock.posts().is_empty());
    }
    reset("en");
}

#[wasm_bindgen_test]
async fn turning_off_what_was_granted_withdraws_it_and_deletes_its_cookies() {
    reset("en");
    page(PAGE);
    set_cookie(&token(
        "2025-03-26",
        &[ANALYTICS, MARKETING_COOKIES],
        &[],
        now() - 60,
        now() + 86_400,
    ));
    for c in ["_ga=1", "_ga_ABC=2", "_fbp=3", "lang=kk", "theme=dark"] {
        set_raw_cookie(c);
    }
    let changes = Changes::listen();
    let mock = Mock::new(POLICY, Reply::Created);
    run(config("2025-03-26"), mock.clone()).await.unwrap();
    until("the scripts", || order().len() == 4).await;
    reopen_button().unwrap().click();
    until("the dialog", || dialog().is_some()).await;
    assert_eq!(switched_on(), ["cookies-analytics", "cookies-marketing"]);
    switch("cookies-analytics").click();
    click("save");
    assert!(dialog().is_none());
    until("the request", || mock.posts().len() == 1).await;
    let request = js_sys::JSON::parse(&mock.posts()[0].1).unwrap();
    assert_eq!(get(&request, "method").as_string().unwrap(), "custom");
    let mut expected = all("refused");
    for (id, choice) in &mut expected {
        match id.as_str() {
            "cookies-analytics" => *choice = "withdrawn".into(),
            "cookies-marketing" => *choice = "given".into(),
            _ => {}
        }
    }
    assert_eq!(decisions(&request), expected);
    // The analytics cookies (a name and a `_ga_*` pattern) and the refused preferences cookie are gone;
    // the marketing cookie and an undeclared one stay.
    assert!(!has_cookie("_ga") && !has_cookie("_ga_ABC") && !has_cookie("lang"));
    assert!(has_cookie("_fbp") && has_cookie("theme"));
    {
        let seen = changes.seen.borrow();
        assert_eq!(strings(get(&seen[0], "withdrawn")), ["cookies-analytics"]);
        assert!(!strings(get(&seen[0], "granted")).contains(&"cookies-analytics".to_owned()));
    }
    // Scripts that ran cannot be un-run (a reload stops them); nothing runs twice.
    assert_eq!(order().len(), 4);

    // Turning off the last purpose granted: a withdrawal.
    until("the new token", || {
        cookie() == mock.0.issued.borrow().first().cloned()
    })
    .await;
    reopen_button().unwrap().click();
    until("the dialog", || dialog().is_some()).await;
    assert_eq!(switched_on(), ["cookies-marketing"]);
    switch("cookies-marketing").click();
    click("save");
    until("the second request", || mock.posts().len() == 2).await;
    let request = js_sys::JSON::parse(&mock.posts()[1].1).unwrap();
    assert_eq!(get(&request, "method").as_string().unwrap(), "withdraw");
    let mut expected = all("refused");
    for (id, choice) in &mut expected {
        if id == "cookies-marketing" {
            *choice = "withdrawn".into();
        }
    }
    assert_eq!(decisions(&request), expected);
    assert!(!has_cookie("_fbp") && has_cookie("theme"));
    until("the withdrawal token", || {
        cookie().is_some_and(|c| {
            UnverifiedToken::decode(&c)
                .is_ok_and(|t| t.unverified_claims().given == PurposeSet::EMPTY)
        })
    })
    .await;
    drop(changes);
    reset("en");
}

#[wasm_bindgen_test]
async fn escape_closes_the_reopened_dialog_without_a_change() {
    reset("en");
    page(PAGE);
    let granted = token("2025-03-26", &[ANALYTICS], &[], now() - 60, now() + 86_400);
    set_cookie(&granted);
    let changes = Changes::listen();
    let mock = Mock::new(POLICY, Reply::Created);
    run(config("2025-03-26"), mock.clone()).await.unwrap();
    until("the scripts", || order().len() == 3).await;
    let b = reopen_button().unwrap();
    b.focus().unwrap();
    b.click();
    until("the dialog", || dialog().is_some()).await;
    switch("cookies-marketing").click();
    switch("cookies-analytics").click();
    press(&switch("cookies-analytics").unchecked_into(), "Escape");
    assert!(dialog().is_none(), "Escape closes it");
    assert_eq!(
        document().active_element().unwrap(),
        b.clone().unchecked_into::<Element>(),
        "focus returns to the way back in"
    );
    sleep(100).await;
    assert!(mock.posts().is_empty(), "nothing recorded");
    assert!(changes.seen.borrow().is_empty(), "nothing changed");
    assert_eq!(cookie().as_deref(), Some(granted.as_str()));
    assert_eq!(order().len(), 3, "nothing granted: marketing stays blocked");
    // Reopened again: still the unchanged choice.
    b.click();
    until("the dialog", || dialog().is_some()).await;
    assert_eq!(switched_on(), ["cookies-analytics"]);
    drop(changes);
    reset("en");

    // On a first visit Escape does not dismiss the dialog: a choice is needed.
    run(config("2025-03-26"), Mock::new(POLICY, Reply::Created))
        .await
        .unwrap();
    press(&dialog().unwrap(), "Escape");
    assert!(dialog().is_some());
    reset("en");
}
