//! The banner's flow, as a small state machine.
//!
//! Everything the browser calls back (clicks, the dialog's `cancel` and `close`, fetch answers, a script
//! that has loaded, a retry timer, the page's JS API) goes through one dispatcher: a single long-lived
//! `Closure` that owns the [`Banner`], and that every callback reaches as `dispatcher.bind(null, step)`.
//! No futures executor, no closure per callback: that is most of what keeps the banner inside its
//! size budget (see DESIGN.md). Calls that arrive while the banner is busy (a page listener of
//! `consent:change` that clicks a button, say) are deferred to a microtask instead of re-entering.

use alloc::borrow::ToOwned;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use consent_core::{PolicyVersion, TokenClaims, UnverifiedToken};
use js_sys::{Array, Date, Function, Promise};
use wasm_bindgen::prelude::*;
use web_sys::{Element, Event, HtmlElement, Response, Storage};

use crate::dom::{
    Listener, all_in, append, attr, bind1, bind2, document, element, find, get, html_document,
    json_parse, json_stringify, object, set, set_str, string, then1, then2, window,
};
use crate::logic::{self, COOKIE, Method, PENDING_KEY, Purposes, Stored, bit};
use crate::policy::PolicyView;
use crate::{activate, dialog};

/// The dialog's element id.
pub const DIALOG_ID: &str = "consent-banner";
/// The event dispatched on `document` when the visitor makes a choice.
pub const CHANGE_EVENT: &str = "consent:change";
/// The event dispatched on `document` once the page is in its consent state.
pub const READY_EVENT: &str = "consent:ready";
/// The class of the floating button that reopens the dialog after a choice.
pub const REOPEN_CLASS: &str = "consent-reopen";

/// The current policy, on the consent server.
const CURRENT_POLICY: &str = "/v1/policy";

/// The steps of the flow: what a callback is about (the first argument of the dispatcher).
pub(crate) mod step {
    pub(crate) const CLICK: u32 = 1;
    pub(crate) const CANCEL: u32 = 2;
    pub(crate) const CLOSE: u32 = 3;
    pub(crate) const CSS: u32 = 4;
    pub(crate) const RETRY: u32 = 5;
    pub(crate) const SCRIPT_DONE: u32 = 6;
    /// A newer banner started on this page (tests do): this one lets go of the page.
    pub(crate) const STOP: u32 = 7;
    pub(crate) const POLICY: u32 = 10;
    pub(crate) const POLICY_JSON: u32 = 11;
    pub(crate) const POLICY_FAIL: u32 = 12;
    pub(crate) const POST: u32 = 20;
    pub(crate) const POST_JSON: u32 = 21;
    pub(crate) const POST_FAIL: u32 = 22;
    pub(crate) const RECEIPT: u32 = 30;
    pub(crate) const RECEIPT_BLOB: u32 = 31;
    // The page's JS API (`window.consent`); the first four are deferred to a microtask (`+ LATER`).
    pub(crate) const API_OPEN: u32 = 40;
    pub(crate) const API_ACCEPT: u32 = 41;
    pub(crate) const API_REJECT: u32 = 42;
    pub(crate) const API_SET: u32 = 43;
    pub(crate) const API_GET: u32 = 44;
    pub(crate) const API_ALLOWS: u32 = 45;
    pub(crate) const API_ON: u32 = 46;
    pub(crate) const API_OFF: u32 = 47;
    pub(crate) const LATER: u32 = 100;
    /// Added to a step deferred because the banner was busy (see the dispatcher).
    pub(crate) const AGAIN: u32 = 1 << 10;
}

/// What the embedding page says about the banner (its `<script>`'s data attributes).
#[derive(Clone, Debug)]
pub struct Config {
    /// The consent server, without a trailing slash (`data-endpoint`; `"/"` means this site, and
    /// becomes the empty string).
    pub endpoint: String,
    /// The policy version the page is published under (`data-policy-version`): a choice made under an
    /// older version is asked again.
    pub policy_version: Option<PolicyVersion>,
    /// SHA-256 (hex) of the banner build, sent with each choice (written into the bootstrap by
    /// `scripts/build-banner`).
    pub build: Option<String>,
    /// The stylesheet to load (`data-css`; by default `banner.css` next to `banner.js`;
    /// `data-css="none"` when the site bundles it itself).
    pub stylesheet: Option<String>,
    /// Google Consent Mode v2: consent type → purpose (`data-consent-mode`, default
    /// [`logic::CONSENT_MODE_DEFAULT`]; `"off"` turns it off).
    pub consent_mode: Option<logic::ConsentModeMap>,
    /// Defines `window.gtag` when the page has none (the bootstrap's
    /// `function(){dataLayer.push(arguments)}`; a JS function cannot be written in Rust without eval).
    pub gtag: Option<Function>,
    /// The first retry after the server could not be reached, in milliseconds (doubles up to
    /// five minutes).
    pub retry_ms: u32,
    /// The current policy (`{endpoint}/v1/policy`), fetched and parsed by the bootstrap while the wasm
    /// was loading (only when there is no consent cookie, so a dialog is likely): a promise of the parsed
    /// JSON, rejected if the answer was not a `200`. Used instead of a new request.
    pub policy: Option<Promise>,
}

impl Config {
    /// Reads the data attributes of the banner's `<script>` element, loaded from `script_url`.
    pub fn from_script(script: &Element, script_url: Option<&str>) -> Result<Config, JsValue> {
        let bad = |m: &str| JsValue::from_str(m);
        let endpoint = script
            .get_attribute("data-endpoint")
            .map(|e| e.trim_ascii().trim_end_matches('/').to_owned())
            .ok_or_else(|| bad("consent banner: data-endpoint is missing"))?;
        let policy_version = match script.get_attribute("data-policy-version") {
            Some(v) => Some(v.trim_ascii().parse().map_err(|_| {
                bad("consent banner: data-policy-version is not a date such as 2025-03-26")
            })?),
            None => None,
        };
        let stylesheet = match script.get_attribute("data-css") {
            Some(css) if css == "none" => None,
            Some(css) => Some(css),
            None => script_url.map(|url| logic::sibling(url, "banner.css")),
        };
        let consent_mode = match script.get_attribute("data-consent-mode") {
            Some(m) if m.trim_ascii() == "off" => None,
            Some(m) => Some(logic::ConsentModeMap::parse(&m).ok_or_else(|| {
                bad("consent banner: data-consent-mode is not a list of type=purpose pairs")
            })?),
            None => logic::ConsentModeMap::parse(logic::CONSENT_MODE_DEFAULT),
        };
        Ok(Config {
            endpoint,
            policy_version,
            build: None,
            stylesheet,
            consent_mode,
            gtag: None,
            retry_ms: 2_000,
            policy: None,
        })
    }
}

/// What to do once the policy has arrived.
#[derive(Clone, Debug, PartialEq)]
enum Want {
    /// Nothing (yet).
    Nothing,
    /// Show the dialog; `reopened` through the way back in or the API.
    Ask { reopened: bool },
    /// Apply a choice made through the JS API.
    Apply(Method, JsValue),
}

/// The dialog on screen.
pub(crate) struct Dialog {
    pub(crate) root: HtmlElement,
    /// Opened through the way back in: Escape and the close button close it without a change.
    pub(crate) reopened: bool,
    /// The second layer (one switch per purpose) is shown.
    pub(crate) choices: bool,
    _listeners: [Listener; 2],
}

/// The banner's state on this page.
pub(crate) struct Banner {
    pub(crate) config: Config,
    /// The dispatcher (see the module docs).
    dispatch: Function,
    /// The JS object behind `window.consent`'s `get` and `on`: `{s: snapshot, l: listeners}`.
    shared: JsValue,
    /// `navigator.globalPrivacyControl`.
    pub(crate) gpc: bool,
    /// The cookie's token, when it could be read (whatever its state).
    pub(crate) token: Option<TokenClaims>,
    /// The token was made under an older policy version than the page's.
    pub(crate) outdated: bool,
    /// The current policy (`/v1/policy`), or the token's version when only that was needed.
    pub(crate) policy: Option<PolicyView>,
    /// `policy` is the current policy: dialogs and choices need it.
    policy_is_current: bool,
    /// A policy is on its way: `Some(true)` the current one, `Some(false)` the token's version.
    fetching: Option<bool>,
    /// What is granted comes from the cookie's token (no choice made on this page or kept for the
    /// server): its codes become purpose ids with each policy that arrives, and the first one activates.
    by_token: bool,
    want: Want,
    /// The page's and the browser's languages, best first.
    pub(crate) languages: Vec<String>,
    /// What may run now, by purpose id (a JS array: the activation, the API and a kept choice read
    /// it): purposes that need no consent, and those the choice grants.
    pub(crate) granted_ids: Array,
    /// The same as a set (known once the policy is there).
    granted: Purposes,
    /// Purpose ids the current choice turned off (for the API).
    refused_ids: Array,
    /// A choice exists (made here, in the cookie, or kept for the server).
    pub(crate) decided: bool,
    css_ready: bool,
    /// The floating button waits for the stylesheet.
    reopen_wanted: bool,
    pub(crate) dialog: Option<Dialog>,
    _click: Listener,
    /// The request kept for the server (also in `localStorage`), until it is answered.
    pending: Option<String>,
    /// When the pending entry in `localStorage` was written (its `at`, ms), if this page wrote or read
    /// it: another tab's choice, made since, has another.
    kept_at: f64,
    /// The request on its way to the server, if any.
    in_flight: Option<String>,
    /// The status of the answer being read.
    status: u16,
    /// The wait before the next retry, in milliseconds.
    retry_ms: u32,
    /// A blocked script is loading; the next waits for it.
    pub(crate) script_loading: bool,
    ready: bool,
}

/// Starts the banner on the current page: reads the cookie, decides whether to ask, and installs
/// `window.consent`. Everything else happens in callbacks; the page is never blocked. [`boot`](crate::boot)
/// calls it with the `<script>`'s data attributes; in a browser (it needs a `window`):
///
/// ```no_run
/// use consent_wasm::{Config, logic, start};
/// start(Config {
///     endpoint: "https://consent.invisionu.education".into(),
///     policy_version: Some("2025-03-26".parse().unwrap()),
///     build: None,
///     stylesheet: Some("/consent/banner.css".into()),
///     consent_mode: logic::ConsentModeMap::parse(logic::CONSENT_MODE_DEFAULT),
///     gtag: None,
///     retry_ms: 2_000,
///     policy: None,
/// });
/// ```
pub fn start(config: Config) {
    // One banner per page: a banner started again (the browser tests do) replaces the previous one,
    // whose listeners go with it.
    // (`window.consent` is read only when it is an object: `Reflect.get` on `undefined` throws, and the
    // exception, caught, cost 1-3 ms of every page load before the dialog.)
    let previous = get(&window(), "consent");
    if previous.is_object()
        && let Ok(stop) = get(&previous, "_stop").dyn_into::<Function>()
    {
        let _ = stop.call0(&JsValue::NULL);
    }
    let holder: Rc<RefCell<Option<Banner>>> = Rc::new(RefCell::new(None));
    let shared = object();
    set(&shared, "l", &Array::new());
    let cell = Rc::clone(&holder);
    let js_shared = shared.clone();
    let closure = Closure::<dyn Fn(u32, JsValue, JsValue) -> JsValue>::new(
        move |step: u32, a: JsValue, b: JsValue| -> JsValue {
            if let Some(answer) = api_read(&js_shared, step, &a, &b) {
                return answer;
            }
            let dispatch: Function = get(&js_shared, "d").unchecked_into();
            let later = |s: u32| -> JsValue {
                then1(
                    &Promise::resolve(&JsValue::UNDEFINED),
                    &bind2(&dispatch, &JsValue::from(s), &a),
                )
                .into()
            };
            if (step::API_OPEN..=step::API_SET).contains(&step) {
                if step == step::API_SET && !is_choice(&a) {
                    return Promise::reject(&js_sys::TypeError::new(
                        "consent.set: expected an object of purpose ids and true or false",
                    ))
                    .into();
                }
                // Commands of the JS API always run in a microtask: never inside the banner's own
                // work, and the page gets a promise.
                return later(step + step::LATER);
            }
            match cell.try_borrow_mut() {
                Ok(mut banner) if step & !step::AGAIN == step::STOP => {
                    // Dropping the state removes its listeners; late callbacks find nothing.
                    drop(banner.take());
                    JsValue::UNDEFINED
                }
                Ok(mut banner) => {
                    if let Some(banner) = banner.as_mut() {
                        banner.handle(step & !step::AGAIN, a);
                    }
                    JsValue::UNDEFINED
                }
                // Busy: called from inside the banner's own work (a page listener that clicks, say);
                // runs in a microtask, when the banner's work is done.
                Err(_) if step & step::AGAIN == 0 => later(step | step::AGAIN),
                // Still busy in a microtask, when no banner code is on the stack: the state was left
                // borrowed by a trap, and the banner is gone. Dropped, rather than retried forever
                // (a microtask loop would freeze the page).
                Err(_) => JsValue::UNDEFINED,
            }
        },
    );
    let dispatch: Function = closure.into_js_value().unchecked_into();
    set(&shared, "d", &dispatch);
    let banner = Banner::new(config, dispatch, shared);
    *holder.borrow_mut() = Some(banner);
    if let Some(banner) = holder.borrow_mut().as_mut() {
        banner.boot();
    }
}

/// What `consent.set` takes: an object of one or more purpose ids, each `true` or `false`.
fn is_choice(value: &JsValue) -> bool {
    let values = match value.dyn_ref::<js_sys::Object>() {
        Some(object) if !Array::is_array(value) => js_sys::Object::values(object),
        _ => return false,
    };
    values.length() > 0 && values.iter().all(|v| v.as_bool().is_some())
}

/// The JS API calls answered without the banner's state: `get`, `allows`, `on` and `off` read and write
/// only the shared JS object, so a page may call them from anywhere, even from inside a
/// `consent:change` listener.
fn api_read(shared: &JsValue, step: u32, a: &JsValue, b: &JsValue) -> Option<JsValue> {
    let listeners: Array = get(shared, "l").unchecked_into();
    Some(match step {
        step::API_GET => get(shared, "s"),
        step::API_ALLOWS => {
            let granted: Array = get(&get(shared, "s"), "granted")
                .dyn_into()
                .unwrap_or_default();
            JsValue::from_bool(granted.includes(a, 0))
        }
        step::API_ON => {
            let entry = Array::of2(a, b);
            listeners.push(&entry);
            // Subscribing to "ready" after it happened: called at once (in a microtask).
            if a.as_string().as_deref() == Some("ready")
                && get(shared, "r").is_truthy()
                && let Ok(f) = b.clone().dyn_into::<Function>()
            {
                let _ = then1(&Promise::resolve(&get(shared, "s")), &f);
            }
            let dispatch: Function = get(shared, "d").unchecked_into();
            bind2(&dispatch, &JsValue::from(step::API_OFF), &entry).into()
        }
        step::API_OFF => {
            let i = listeners.index_of(a, 0);
            if i >= 0 {
                // `splice(i, 1)`: js-sys's `splice` always inserts an item, so copy around it.
                let rest = listeners.slice(i as u32 + 1, listeners.length());
                listeners.set_length(i as u32);
                for entry in rest.iter() {
                    listeners.push(&entry);
                }
            }
            JsValue::UNDEFINED
        }
        _ => return None,
    })
}

impl Banner {
    fn new(config: Config, dispatch: Function, shared: JsValue) -> Banner {
        let doc = document();
        let click = Listener::new(&doc, "click", bind1(&dispatch, &JsValue::from(step::CLICK)));
        let retry_ms = config.retry_ms.max(1);
        let navigator = window().navigator();
        let mut languages: Vec<String> = doc
            .document_element()
            .and_then(|html| html.get_attribute("lang"))
            .into_iter()
            .collect();
        languages.extend(navigator.languages().iter().filter_map(|l| l.as_string()));
        Banner {
            config,
            dispatch,
            shared,
            gpc: get(&navigator, "globalPrivacyControl").as_bool() == Some(true),
            token: None,
            outdated: false,
            policy: None,
            policy_is_current: false,
            fetching: None,
            by_token: false,
            want: Want::Nothing,
            languages,
            granted_ids: Array::new(),
            granted: 0,
            refused_ids: Array::new(),
            decided: false,
            css_ready: false,
            reopen_wanted: false,
            dialog: None,
            _click: click,
            pending: None,
            kept_at: 0.0,
            in_flight: None,
            status: 0,
            retry_ms,
            script_loading: false,
            ready: false,
        }
    }

    /// `dispatcher.bind(null, step)`: a JS function that calls back into [`Banner::handle`].
    pub(crate) fn callback(&self, step: u32) -> Function {
        bind1(&self.dispatch, &JsValue::from(step))
    }

    fn boot(&mut self) {
        self.install_api();
        self.consent_mode("default");
        self.load_stylesheet();
        let now_ms = Date::now();
        let cookies = html_document().cookie().unwrap_or_default();
        let stored = logic::read_token(
            logic::cookie_value(&cookies, COOKIE),
            self.config.policy_version,
            (now_ms / 1000.0) as i64,
        );
        if let Stored::Valid(claims) | Stored::Outdated(claims) | Stored::Expired(claims) = stored {
            // Whatever its state, the token names this browser (`subject.device` of the next choice).
            self.token = Some(claims);
        }
        if let Some((request, granted, at)) = read_pending(self.config.policy_version, now_ms) {
            self.decided = true;
            self.granted_ids = granted;
            self.pending = Some(request);
            self.kept_at = at;
            self.send();
            self.after_choice_known();
            return;
        }
        match stored {
            Stored::Valid(claims) => {
                self.decided = true;
                // The token holds purpose codes; the page names purposes by id. The token's own policy
                // version maps them, and is immutable: fetched on every page, from the browser's cache
                // after the first (activation, Consent Mode and the API's `get` and `allows` need ids).
                self.by_token = true;
                let mut path = String::from("/v1/policies/");
                path.push_str(&logic::version_text(claims.policy_version));
                self.fetch_policy(&path);
            }
            stored => {
                self.outdated = matches!(stored, Stored::Outdated(_));
                self.ask(false);
            }
        }
    }

    /// Once the page knows what the choice grants: activate, update Consent Mode, show the way back in,
    /// tell the page.
    fn after_choice_known(&mut self) {
        self.consent_mode("update");
        activate::run(self);
        self.show_reopen();
        self.publish();
        self.fire_ready();
    }

    fn fire_ready(&mut self) {
        if !self.ready {
            self.ready = true;
            set(&self.shared, "r", &JsValue::TRUE);
            self.emit(READY_EVENT, "ready", &get(&self.shared, "s"));
        }
    }

    /// Handles one callback (see [`step`]).
    fn handle(&mut self, step: u32, value: JsValue) {
        match step {
            step::CLICK => self.on_click(&value.unchecked_into()),
            step::CANCEL => {
                let event: Event = value.unchecked_into();
                event.prevent_default();
                if self.dialog.as_ref().is_some_and(|d| d.reopened) {
                    self.close_dialog();
                }
            }
            step::CLOSE => {
                // Closed by the browser without a choice (a second Escape): nothing is granted; the
                // way back in stays.
                if let Some(dismissed) = self.dialog.take() {
                    dismissed.root.remove();
                    self.show_reopen();
                }
            }
            step::CSS if !self.css_ready => {
                self.css_ready = true;
                self.show_if_ready();
                if self.reopen_wanted {
                    self.show_reopen();
                }
                activate::run(self);
            }
            step::RETRY => {
                // The entry in `localStorage` is the latest choice of any tab: gone, another tab's
                // answer took it (or it lapsed); another one, another tab's newer choice, which
                // this tab sends instead of its own.
                if self.kept_at != 0.0 {
                    match read_pending(self.config.policy_version, Date::now()) {
                        Some((request, _, at)) if at != self.kept_at => {
                            self.pending = Some(request);
                            self.kept_at = at;
                        }
                        Some(_) => {}
                        None => {
                            self.pending = None;
                            self.publish();
                        }
                    }
                }
                self.send();
            }
            step::SCRIPT_DONE => {
                self.script_loading = false;
                activate::run(self);
            }
            step::POLICY => {
                let response: Response = value.unchecked_into();
                match (status(&response), response.json()) {
                    (200, Ok(json)) => {
                        let _ = then2(
                            &json,
                            &self.callback(step::POLICY_JSON),
                            &self.callback(step::POLICY_FAIL),
                        );
                    }
                    _ => self.policy_failed(),
                }
            }
            step::POLICY_JSON => {
                let current = self.fetching.take() == Some(true);
                match PolicyView::from_json(&value, &self.languages) {
                    Some(policy) => {
                        self.policy_is_current = current;
                        self.policy_arrived(policy);
                    }
                    None => self.policy_failed(),
                }
            }
            step::POLICY_FAIL => self.policy_failed(),
            step::POST => {
                let response: Response = value.unchecked_into();
                self.status = status(&response);
                match response.json() {
                    Ok(json) => {
                        let _ = then2(
                            &json,
                            &self.callback(step::POST_JSON),
                            &self.callback(step::POST_FAIL),
                        );
                    }
                    Err(_) => self.posted(&JsValue::UNDEFINED),
                }
            }
            step::POST_JSON => self.posted(&value),
            step::RECEIPT => {
                let response: Response = value.unchecked_into();
                if response.ok()
                    && let Ok(blob) = response.blob()
                {
                    let _ = then1(&blob, &self.callback(step::RECEIPT_BLOB));
                }
            }
            step::RECEIPT_BLOB => self.save_receipt(&value),
            step::POST_FAIL => self.posted(&JsValue::UNDEFINED),
            s if s == step::API_OPEN + step::LATER => self.ask(true),
            s if s == step::API_ACCEPT + step::LATER => self.apply(Method::AcceptAll, value),
            s if s == step::API_REJECT + step::LATER => self.apply(Method::RejectAll, value),
            s if s == step::API_SET + step::LATER => self.apply(Method::Custom, value),
            _ => {}
        }
    }

    fn on_click(&mut self, event: &Event) {
        let Some(target) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
            return;
        };
        let Ok(Some(el)) =
            target.closest("[data-consent-action],[data-consent-open],[data-consent-lang]")
        else {
            return;
        };
        let action = el.get_attribute("data-consent-action").unwrap_or_default();
        let in_dialog = matches!(el.closest("#consent-banner"), Ok(Some(_)));
        if in_dialog {
            match action.as_str() {
                "accept-all" => self.decide_in_dialog(Method::AcceptAll),
                "reject-all" => self.decide_in_dialog(Method::RejectAll),
                "save" => self.decide_in_dialog(Method::Custom),
                "choose" => {
                    if let Some(d) = self.dialog.as_mut() {
                        d.choices = true;
                    }
                    dialog::render(self, Some("input:not([disabled])"));
                }
                "close" => self.close_dialog(),
                "receipt" => self.download_receipt(&el),
                _ if el.has_attribute("data-consent-lang") => {
                    if let (Some(lang), Some(policy)) =
                        (el.get_attribute("data-consent-lang"), &self.policy)
                    {
                        let mut languages = self.languages.clone();
                        languages.insert(0, lang);
                        if let Some(p) = PolicyView::from_json(&policy.json, &languages) {
                            self.policy = Some(p);
                            dialog::render(self, Some("[aria-pressed=\"true\"]"));
                        }
                    }
                }
                _ => return,
            }
        } else if action == "load-once" || action == "always-allow" {
            activate::placeholder_click(self, &el, action == "always-allow");
        } else if el.has_attribute("data-consent-open") || action == "open" {
            self.ask(true);
        } else {
            return;
        }
        event.prevent_default();
    }

    /// Shows the dialog (on its second layer when `reopened`), fetching the current policy first.
    pub(crate) fn ask(&mut self, reopened: bool) {
        if self.dialog.is_some() {
            return;
        }
        self.want = Want::Ask { reopened };
        if self.policy_is_current {
            self.show_if_ready();
        } else {
            self.fetch_policy(CURRENT_POLICY);
        }
    }

    /// Asks for a policy, unless one is on its way (whatever waits for a policy checks, when it comes,
    /// whether it is the one it needs).
    fn fetch_policy(&mut self, path: &str) {
        if self.fetching.is_some() {
            return;
        }
        let current = path == CURRENT_POLICY;
        self.fetching = Some(current);
        let mut url = self.config.endpoint.clone();
        url.push_str(path);
        // The bootstrap's request comes parsed (the JSON is read while the wasm compiles).
        let (request, next) = match self.config.policy.take() {
            Some(prefetched) if current => (prefetched, step::POLICY_JSON),
            _ => (
                window().fetch_with_str_and_init(&url, &request_init("GET")),
                step::POLICY,
            ),
        };
        let _ = then2(
            &request,
            &self.callback(next),
            &self.callback(step::POLICY_FAIL),
        );
    }

    fn policy_failed(&mut self) {
        self.fetching = None;
        // Without the policy nothing is granted beyond what already runs; the dialog cannot be shown.
        // The way back in stays (a click tries again).
        self.want = Want::Nothing;
        self.show_reopen();
        self.publish();
        self.fire_ready();
    }

    fn policy_arrived(&mut self, policy: PolicyView) {
        self.granted = match &self.token {
            // No choice yet: what needs no consent runs.
            _ if !self.decided => logic::set_of(&policy.purposes, |p| !p.needs_consent),
            // A valid token: what it grants under this policy (not what changed since).
            Some(claims) if self.by_token => logic::granted_by_token(&policy.purposes, claims),
            // A choice kept for the server, or made on this page: its ids.
            _ => logic::set_of(&policy.purposes, |p| {
                self.granted_ids.includes(&JsValue::from_str(&p.id), 0)
            }),
        };
        self.granted_ids = ids(&policy.purposes, self.granted);
        if self.decided {
            let asked = logic::set_of(&policy.purposes, |p| p.needs_consent);
            self.refused_ids = ids(&policy.purposes, asked & !self.granted);
        }
        self.policy = Some(policy);
        if self.by_token && !self.ready {
            // The first policy of a page with a valid token, whatever else waits for a policy.
            self.after_choice_known();
        }
        // Both fetch the current policy if this is the token's.
        match core::mem::replace(&mut self.want, Want::Nothing) {
            Want::Ask { reopened } => self.ask(reopened),
            Want::Apply(method, value) => self.apply(method, value),
            Want::Nothing => {}
        }
    }

    /// Shows the dialog once both the policy and the stylesheet are there (so it never shows unstyled).
    fn show_if_ready(&mut self) {
        let Want::Ask { reopened } = self.want else {
            return;
        };
        if !self.css_ready || self.policy.is_none() || !self.policy_is_current {
            return;
        }
        self.want = Want::Nothing;
        dialog::show(self, reopened);
        if !reopened {
            activate::run(self);
            self.publish();
            self.fire_ready();
        }
    }

    fn close_dialog(&mut self) {
        if let Some(d) = self.dialog.take() {
            let dialog: web_sys::HtmlDialogElement = d.root.clone().unchecked_into();
            dialog.close();
            d.root.remove();
        }
    }

    /// The purposes that need consent which the current choice grants.
    pub(crate) fn previous(&self) -> Purposes {
        match &self.policy {
            Some(policy) if self.decided => {
                self.granted & logic::set_of(&policy.purposes, |p| p.needs_consent)
            }
            _ => 0,
        }
    }

    /// Whether purpose `id` may run now.
    pub(crate) fn allows(&self, id: &str) -> bool {
        self.granted_ids.includes(&JsValue::from_str(id), 0)
    }

    /// The code of purpose `id` as a set (empty when the policy does not have it).
    pub(crate) fn bit_of(&self, id: &str) -> Purposes {
        self.policy
            .as_ref()
            .and_then(|p| p.purpose(id))
            .map_or(0, |p| bit(p.code))
    }

    fn decide_in_dialog(&mut self, method: Method) {
        let mut selected: Purposes = 0;
        if let Some(d) = &self.dialog {
            for input in all_in(&d.root, "input[data-purpose]:checked") {
                if let Some(id) = input.get_attribute("data-purpose") {
                    selected |= self.bit_of(&id);
                }
            }
        }
        self.close_dialog();
        self.decide(method, selected);
    }

    /// A choice made through the JS API (or a placeholder's "always allow"), made under the current
    /// policy (fetched first if needed): `set({purpose: true|false, …})` changes the purposes it names
    /// and keeps the others as they are. A `set` that names a purpose the policy does not have records
    /// nothing.
    pub(crate) fn apply(&mut self, method: Method, value: JsValue) {
        let (Some(policy), true) = (&self.policy, self.policy_is_current) else {
            self.want = Want::Apply(method, value);
            self.fetch_policy(CURRENT_POLICY);
            return;
        };
        let mut selected = self.previous();
        let mut named = 0;
        for p in &policy.purposes {
            match get(&value, &p.id).as_bool() {
                Some(true) => selected |= bit(p.code),
                Some(false) => selected &= !bit(p.code),
                None => continue,
            }
            named += 1;
        }
        if method == Method::Custom
            && js_sys::Object::values::<JsValue>(value.unchecked_ref()).length() != named
        {
            return;
        }
        self.close_dialog();
        self.decide(method, selected);
    }

    /// Applies a choice at once (granted scripts run, `consent:change` fires, declared cookies of what is
    /// off are deleted, Consent Mode is updated), then sends it; the answer's token goes into the cookie,
    /// or the choice is kept and sent again with backoff.
    pub(crate) fn decide(&mut self, method: Method, selected: Purposes) {
        let previous = self.previous();
        let Some(policy) = &self.policy else {
            return;
        };
        let choice = logic::choice(&policy.purposes, method, self.gpc, selected, previous);
        let granted = logic::granted(&policy.purposes, &choice);
        delete_cookies(&policy.cookies, choice.off());
        // The request (`ConsentRequest` in consent-server/openapi.json), built as a JS object and
        // written by `JSON.stringify`.
        let request = object();
        set_str(&request, "policy_version", &policy.version_text);
        set_str(&request, "method", choice.method.as_str());
        set_str(&request, "language", &policy.language);
        let decisions = object();
        for p in &policy.purposes {
            let b = bit(p.code);
            let decision = if choice.given & b != 0 {
                "given"
            } else if choice.refused & b != 0 {
                "refused"
            } else if choice.withdrawn & b != 0 {
                "withdrawn"
            } else {
                continue;
            };
            set_str(&decisions, &p.id, decision);
        }
        set(&request, "decisions", &decisions);
        let point = object();
        set_str(&point, "kind", "banner");
        let location = window().location();
        let mut page = string(&location, "origin").unwrap_or_default();
        if page.starts_with("http") {
            page.push_str(&string(&location, "pathname").unwrap_or_default());
            set_str(&point, "page", &page);
        }
        if let Some(build) = &self.config.build {
            set_str(&point, "build", build);
        }
        set(&request, "collection_point", &point);
        let body = json_stringify(&request);
        let granted_ids = ids(&policy.purposes, granted);
        let detail = object();
        set_str(&detail, "method", choice.method.as_str());
        // Copies: what a page does with the event's arrays must not change what the banner allows.
        set(
            &detail,
            "granted",
            &granted_ids.slice(0, granted_ids.length()),
        );
        let refused_ids = ids(&policy.purposes, choice.off());
        set(
            &detail,
            "refused",
            &refused_ids.slice(0, refused_ids.length()),
        );
        set(
            &detail,
            "withdrawn",
            &ids(&policy.purposes, choice.withdrawn),
        );
        set_str(&detail, "language", &policy.language);
        let now_ms = Date::now();
        let lapses = logic::lapses_at((now_ms / 1000.0) as i64, policy.validity_months);
        self.kept_at = 0.0;
        if let Some(storage) = local_storage() {
            // Kept until the server has answered: a page closed meanwhile sends it next time.
            let entry = object();
            set(&entry, "request", &request);
            set(&entry, "granted", &granted_ids);
            set(
                &entry,
                "expires",
                &JsValue::from_f64(lapses as f64 * 1000.0),
            );
            set(&entry, "at", &JsValue::from_f64(now_ms));
            if storage
                .set_item(PENDING_KEY, &json_stringify(&entry))
                .is_ok()
            {
                self.kept_at = now_ms;
            }
        }
        self.refused_ids = refused_ids;
        self.granted = granted;
        self.granted_ids = granted_ids;
        self.decided = true;
        self.by_token = false;
        self.pending = Some(body);
        self.retry_ms = self.config.retry_ms.max(1);
        self.send();
        self.consent_mode("update");
        activate::run(self);
        self.show_reopen();
        self.publish();
        self.emit(CHANGE_EVENT, "change", &detail);
    }

    /// Posts the pending choice, unless it is already on its way.
    fn send(&mut self) {
        let Some(body) = &self.pending else {
            return;
        };
        if self.in_flight.is_some() {
            // One request at a time; a newer choice goes when this one is answered.
            return;
        }
        // The same device as before: one browser stays one subject, also for a choice made before
        // the answer to an earlier one brought the first token.
        if let (Some(token), Ok(request)) = (&self.token, json_parse(body))
            && get(&request, "subject").is_undefined()
        {
            let subject = object();
            set_str(&subject, "device", &token.subject.encoded());
            set(&request, "subject", &subject);
            self.pending = Some(json_stringify(&request));
        }
        let Some(body) = &self.pending else {
            return;
        };
        self.in_flight = Some(body.clone());
        let mut url = self.config.endpoint.clone();
        url.push_str("/v1/consents");
        let init = request_init("POST");
        let headers = object();
        set_str(&headers, "content-type", "application/json");
        set(&init, "headers", &headers);
        set_str(&init, "body", body);
        let _ = then2(
            &window().fetch_with_str_and_init(&url, &init),
            &self.callback(step::POST),
            &self.callback(step::POST_FAIL),
        );
    }

    /// The server's answer to a choice (`status` 0: unreachable).
    fn posted(&mut self, body: &JsValue) {
        let sent = self.in_flight.take();
        let status = core::mem::replace(&mut self.status, 0);
        let newer = self.pending.is_some() && self.pending != sent;
        match status {
            // A 201 is durable on the server: never sent again, even if its token cannot be stored.
            201 => {
                if let Some(token) = string(body, "token") {
                    self.store_token(&token);
                }
                if newer {
                    // A choice made meanwhile: it goes now (its pending entry is already stored).
                    self.send();
                } else {
                    self.pending = None;
                    self.remove_pending();
                }
            }
            0 | 408 | 429 | 500..=599 => {
                // Not recorded: try again later, doubling the wait up to five minutes.
                let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(
                    &self.callback(step::RETRY),
                    self.retry_ms.min(i32::MAX as u32) as i32,
                );
                self.retry_ms = self.retry_ms.saturating_mul(2).min(300_000);
            }
            // Refused (4xx): sending it again would not help; a newer choice still goes.
            _ if newer => self.send(),
            _ => {
                self.pending = None;
                self.remove_pending();
            }
        }
        self.publish();
    }

    /// Removes the pending entry of the choice just answered, unless another tab has kept a newer one
    /// since (which that tab sends).
    fn remove_pending(&mut self) {
        let ours = match local_storage().and_then(|s| s.get_item(PENDING_KEY).ok().flatten()) {
            Some(text) => json_parse(&text)
                .map(|entry| get(&entry, "at").as_f64().unwrap_or(0.0) == self.kept_at)
                .unwrap_or(true),
            None => false,
        };
        if ours {
            remove_pending();
        }
        self.kept_at = 0.0;
    }

    /// Stores the token of a `201` answer in the `consent` cookie.
    fn store_token(&mut self, token: &str) {
        let Ok(decoded) = UnverifiedToken::decode(token) else {
            return;
        };
        let claims = *decoded.unverified_claims();
        let secure = string(&window().location(), "protocol").as_deref() == Some("https:");
        let _ = html_document().set_cookie(&logic::cookie_string(token, &claims, secure));
        self.token = Some(claims);
        self.outdated = false;
    }

    /// Fetches the receipt of the current choice with its token (`X-Consent-Token`), as JSON (the JWS and
    /// its payload), to save it.
    fn download_receipt(&mut self, link: &Element) {
        let cookies = html_document().cookie().unwrap_or_default();
        let (Some(token), Some(href)) = (
            logic::cookie_value(&cookies, COOKIE),
            link.get_attribute("href"),
        ) else {
            return;
        };
        let init = request_init("GET");
        let headers = object();
        set_str(&headers, "x-consent-token", token);
        set_str(&headers, "accept", "application/json");
        set(&init, "headers", &headers);
        let _ = then1(
            &window().fetch_with_str_and_init(&href, &init),
            &self.callback(step::RECEIPT),
        );
    }

    /// Saves a fetched receipt as `consent-receipt-<id>.json` through a temporary object URL.
    fn save_receipt(&self, blob: &JsValue) {
        let (Some(token), Some(d)) = (&self.token, &self.dialog) else {
            return;
        };
        let url_api = get(&window(), "URL");
        let Ok(url) = get(&url_api, "createObjectURL")
            .dyn_into::<Function>()
            .and_then(|f| f.call1(&url_api, blob))
        else {
            return;
        };
        let Some(href) = url.as_string() else {
            return;
        };
        let mut name = String::from("consent-receipt-");
        name.push_str(&token.receipt.hyphenated());
        name.push_str(".json");
        let a = element(
            "a",
            "",
            &[("href", &href), ("download", &name), ("hidden", "")],
        );
        append(&d.root, &a);
        a.click();
        a.remove();
        if let Ok(revoke) = get(&url_api, "revokeObjectURL").dyn_into::<Function>() {
            let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(
                &crate::dom::bind1(&revoke, &url),
                10_000,
            );
        }
    }

    /// Adds the floating button that reopens the dialog, once, when a choice exists (or the dialog was
    /// dismissed), and once the stylesheet is there.
    fn show_reopen(&mut self) {
        let doc = document();
        let mut selector = String::from(".");
        selector.push_str(REOPEN_CLASS);
        if !self.css_ready {
            self.reopen_wanted = true;
            return;
        }
        let (None, Some(body)) = (find(&doc, &selector), doc.body()) else {
            return;
        };
        let language = self.language();
        // Its label comes with the policy; without it (a kept choice, or no server) the banner's own.
        let label = match &self.policy {
            Some(policy) => policy.ui("settings"),
            None => JsValue::from_str(crate::texts::settings_without_policy(&language)),
        };
        let b = element(
            "button",
            REOPEN_CLASS,
            &[
                ("type", "button"),
                ("data-consent-action", "open"),
                ("lang", &language),
            ],
        );
        crate::dom::set_text(&b, &label);
        append(&body, &b);
    }

    /// The language to speak: the policy's choice, else the page's or the browser's, else Kazakh.
    pub(crate) fn language(&self) -> String {
        match &self.policy {
            Some(p) => p.language.clone(),
            None => {
                let ours = crate::texts::LANGUAGES.map(String::from);
                logic::pick_language(self.languages.iter().map(String::as_str), &ours, "kk")
            }
        }
    }

    /// Adds the banner's stylesheet (the bootstrap may have added it already, while the wasm was
    /// loading); [`step::CSS`] comes when it has loaded, failed, or after 3 s.
    fn load_stylesheet(&mut self) {
        let Some(href) = &self.config.stylesheet else {
            self.css_ready = true;
            return;
        };
        let doc = document();
        let link: web_sys::HtmlLinkElement = match find(&doc, "link[data-consent-banner]") {
            Some(link) if get(&link, "sheet").is_truthy() => {
                self.css_ready = true;
                return;
            }
            Some(link) => link.unchecked_into(),
            _ => {
                let link: web_sys::HtmlLinkElement =
                    element("link", "", &[("data-consent-banner", "")]).unchecked_into();
                attr(&link, "rel", "stylesheet");
                attr(&link, "href", href);
                if let Some(head) = doc.head() {
                    append(&head, &link);
                }
                link
            }
        };
        let done = self.callback(step::CSS);
        set(&link, "onload", &done);
        set(&link, "onerror", &done);
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&done, 3000);
    }

    /// Calls `gtag('consent', kind, {...})` for Google Consent Mode v2: `default` (everything denied
    /// but `security_storage`, waiting 500 ms for an update) before any tag can run, `update` with what
    /// the choice grants.
    fn consent_mode(&mut self, kind: &str) {
        let Some(map) = &self.config.consent_mode else {
            return;
        };
        let win = window();
        let gtag = match get(&win, "gtag").dyn_into::<Function>() {
            Ok(f) => f,
            Err(_) => match &self.config.gtag {
                Some(f) => {
                    if !get(&win, "dataLayer").is_object() {
                        set(&win, "dataLayer", &Array::new());
                    }
                    set(&win, "gtag", f);
                    f.clone()
                }
                None => return,
            },
        };
        // What may run now, by id: known from a token's policy, a choice, or a kept choice alike.
        let allows = |id: &str| self.allows(id);
        let granted: Option<&dyn Fn(&str) -> bool> = (kind == "update").then_some(&allows);
        let params = object();
        for consent_type in logic::CONSENT_TYPES {
            let on = map.granted(consent_type, granted);
            set_str(&params, consent_type, if on { "granted" } else { "denied" });
        }
        if granted.is_none() {
            set(&params, "wait_for_update", &JsValue::from_f64(500.0));
        }
        let _ = gtag.call3(
            &JsValue::NULL,
            &JsValue::from_str("consent"),
            &JsValue::from_str(kind),
            &params,
        );
    }

    /// Publishes the state that `window.consent.get()` returns.
    fn publish(&self) {
        let s = object();
        set(&s, "decided", &JsValue::from_bool(self.decided));
        set(
            &s,
            "granted",
            &self.granted_ids.slice(0, self.granted_ids.length()),
        );
        set(
            &s,
            "refused",
            &self.refused_ids.slice(0, self.refused_ids.length()),
        );
        set(&s, "gpc", &JsValue::from_bool(self.gpc));
        set(&s, "pending", &JsValue::from_bool(self.pending.is_some()));
        if let Some(t) = &self.token {
            set_str(&s, "consent_id", &t.receipt.hyphenated());
            set_str(&s, "policy_version", &logic::version_text(t.policy_version));
            set(
                &s,
                "issued_at",
                &JsValue::from_f64(t.issued_at.as_unix() as f64 * 1000.0),
            );
        }
        set_str(&s, "language", &self.language());
        set(&self.shared, "s", &s);
    }

    /// Fires `consent:<name>` on `document` and calls the `on(name, f)` listeners with `detail`.
    fn emit(&self, event: &str, name: &str, detail: &JsValue) {
        let init = object();
        set(&init, "detail", detail);
        if let Ok(e) = web_sys::CustomEvent::new_with_event_init_dict(event, init.unchecked_ref()) {
            let _ = document().dispatch_event(&e);
        }
        let listeners: Array = get(&self.shared, "l").unchecked_into();
        // A copy: a listener may subscribe or unsubscribe while being called. Every cast is checked: a
        // JS exception inside the banner's own call would leave its state borrowed for good.
        for entry in listeners.slice(0, listeners.length()).iter() {
            let Ok(entry) = entry.dyn_into::<Array>() else {
                continue;
            };
            if entry.get(0).as_string().as_deref() == Some(name)
                && let Ok(f) = entry.get(1).dyn_into::<Function>()
            {
                // A listener that throws is the page's problem, not the banner's.
                let _ = f.call1(&JsValue::NULL, detail);
            }
        }
    }

    /// `window.consent`: `get()`, `allows(purpose)`, `open()`, `acceptAll()`, `rejectAll()`,
    /// `set({purpose: bool})`, `on("change" | "ready", f)` (returns a function that removes `f`).
    fn install_api(&self) {
        let api = object();
        for (name, s) in [
            ("get", step::API_GET),
            ("allows", step::API_ALLOWS),
            ("open", step::API_OPEN),
            ("acceptAll", step::API_ACCEPT),
            ("rejectAll", step::API_REJECT),
            ("set", step::API_SET),
            ("on", step::API_ON),
            // Not part of the API: lets a banner started later on this page replace this one.
            ("_stop", step::STOP),
        ] {
            set(&api, name, &self.callback(s));
        }
        set(&window(), "consent", &api);
    }

    pub(crate) fn register_dialog(&mut self, root: HtmlElement, reopened: bool) {
        let listeners = [
            Listener::new(&root, "cancel", self.callback(step::CANCEL)),
            Listener::new(&root, "close", self.callback(step::CLOSE)),
        ];
        self.dialog = Some(Dialog {
            root,
            reopened,
            choices: reopened,
            _listeners: listeners,
        });
    }
}

/// Deletes the cookies the policy declares for the purposes in `off`, on every path the page can see
/// ([`logic::cookie_paths`]), on the page's host and on the host's domain and each parent domain
/// ([`logic::cookie_domains`]), `secure` on HTTPS. Scripts that already ran keep running until the
/// page is reloaded.
fn delete_cookies(declared: &[(u8, String)], off: Purposes) {
    let doc = html_document();
    let jar = doc.cookie().unwrap_or_default();
    let location = window().location();
    let host = string(&location, "hostname").unwrap_or_default();
    let pathname = string(&location, "pathname").unwrap_or_default();
    let secure = string(&location, "protocol").as_deref() == Some("https:");
    for name in logic::cookies_to_delete(declared, off, &jar) {
        for path in logic::cookie_paths(&pathname) {
            for domain in core::iter::once(None).chain(logic::cookie_domains(&host).map(Some)) {
                let _ = doc.set_cookie(&logic::expired_cookie(name, domain, path, secure));
            }
        }
    }
}

fn local_storage() -> Option<Storage> {
    window().local_storage().ok().flatten()
}

fn remove_pending() {
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(PENDING_KEY);
    }
}

/// The choice kept by an earlier page when the server was unreachable, if it still applies (not lapsed,
/// made under the page's policy version or a later one): the request to send again, what it grants,
/// and when it was kept.
fn read_pending(page: Option<PolicyVersion>, now_ms: f64) -> Option<(String, Array, f64)> {
    let text = local_storage()?.get_item(PENDING_KEY).ok()??;
    let entry = json_parse(&text).ok()?;
    let request = get(&entry, "request");
    let expires = get(&entry, "expires").as_f64().unwrap_or(0.0);
    let version: Option<PolicyVersion> =
        string(&request, "policy_version").and_then(|v| v.parse().ok());
    let current = match (version, page) {
        (Some(v), Some(page)) => v >= page,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if !current || expires <= now_ms {
        remove_pending();
        return None;
    }
    Some((
        json_stringify(&request),
        crate::policy::array(&entry, "granted"),
        get(&entry, "at").as_f64().unwrap_or(0.0),
    ))
}

/// The ids of the purposes in `set`, in the policy's order, as a JS array.
fn ids(purposes: &[crate::logic::Purpose], set: Purposes) -> Array {
    let out = Array::new();
    for p in purposes {
        if set & bit(p.code) != 0 {
            out.push(&JsValue::from_str(&p.id));
        }
    }
    out
}

/// `response.status`.
fn status(response: &Response) -> u16 {
    get(response, "status").as_f64().unwrap_or(0.0) as u16
}

/// The `fetch` options: `method`, and no credentials (the consent server needs no cookies, and gets
/// none).
fn request_init(method: &str) -> web_sys::RequestInit {
    let init = object();
    set_str(&init, "method", method);
    set_str(&init, "credentials", "omit");
    init.unchecked_into()
}
