//! The banner's flow: read the cookie, decide whether to ask, show the dialog, apply a choice at once,
//! send it to the server, store the token it returns (or keep the choice for later).

use std::cell::RefCell;
use std::rc::Rc;

use consent_core::{PolicyVersion, UnverifiedToken};
use js_sys::futures::spawn_local;
use js_sys::{Date, Function, JsString, Promise};
use wasm_bindgen::prelude::*;
use web_sys::{
    CustomEvent, CustomEventInit, Document, Element, Event, HtmlElement, HtmlInputElement,
    HtmlLinkElement, KeyboardEvent, Storage,
};

use crate::dom::{Listener, document, element, html_document, set_attrs};
use crate::logic::{self, COOKIE, Choice, Method, PENDING_KEY, Stored};
use crate::policy::{PolicyView, error, field, json_parse, string, strings};
use crate::scripts;
use crate::transport::Transport;

/// The dialog's element id.
pub const DIALOG_ID: &str = "consent-banner";
const TITLE_ID: &str = "consent-banner-title";
const DESCRIPTION_ID: &str = "consent-banner-description";
/// The event dispatched on `document` when the visitor makes a choice.
pub const CHANGE_EVENT: &str = "consent:change";
/// The class of the floating button that reopens the dialog after a choice.
pub const REOPEN_CLASS: &str = "consent-reopen";
/// What reopens the dialog when clicked: the floating button, or any element of the page with
/// `data-consent-open`.
const OPENERS: &str = "[data-consent-open],.consent-reopen";

thread_local! {
    /// The document's click listener for [`OPENERS`] (one per page; a new [`run`] replaces it).
    static OPENER: RefCell<Option<Listener>> = const { RefCell::new(None) };
    /// What the last choice made on this page granted (before the server has answered it).
    static CURRENT: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// What the embedding page says about the banner (its `<script>`'s data attributes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The consent server, without a trailing slash (`data-endpoint`).
    pub endpoint: String,
    /// The policy version the page is published under (`data-policy-version`): a choice made under an
    /// older version is asked again.
    pub policy_version: Option<PolicyVersion>,
    /// SHA-256 (hex) of the banner build, sent with each choice (written into the bootstrap by
    /// `scripts/build-banner`).
    pub build: Option<String>,
    /// The stylesheet to load before showing the dialog (`data-css`; by default `banner.css` next to
    /// `banner.js`; `data-css="none"` when the site bundles it itself).
    pub stylesheet: Option<String>,
}

impl Config {
    /// Reads the data attributes of the banner's `<script>` element, loaded from `script_url`.
    pub fn from_script(script: &Element, script_url: Option<&str>) -> Result<Config, JsValue> {
        let endpoint = script
            .get_attribute("data-endpoint")
            .map(|e| e.trim().trim_end_matches('/').to_owned())
            .filter(|e| !e.is_empty())
            .ok_or_else(|| error("consent banner: data-endpoint is missing"))?;
        let policy_version = match script.get_attribute("data-policy-version") {
            Some(v) => Some(v.trim().parse().map_err(|_| {
                error("consent banner: data-policy-version is not a date such as 2025-03-26")
            })?),
            None => None,
        };
        let stylesheet = match script.get_attribute("data-css") {
            Some(css) if css == "none" => None,
            Some(css) => Some(css),
            None => script_url.map(|url| logic::sibling(url, "banner.css")),
        };
        Ok(Config {
            endpoint,
            policy_version,
            build: None,
            stylesheet,
        })
    }
}

/// What the banner did on load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Showed the dialog: no current choice.
    Asked,
    /// A current token: activated what it grants, no dialog.
    FromToken,
    /// A choice the server has not acknowledged yet: activated what it grants, and sent it again.
    FromPending,
}

/// Runs the banner on the current page, talking to the server through `transport`.
///
/// Resolves once the page is in its consent state: the dialog shown (the choice is then handled by the
/// dialog), or the scripts that the stored choice grants activated.
pub async fn run<T: Transport + 'static>(config: Config, transport: T) -> Result<Outcome, JsValue> {
    let now_ms = Date::now();
    let config = Rc::new(config);
    let transport = Rc::new(transport);
    CURRENT.with(|c| c.take());
    listen_for_openers(&config, &transport);
    if let Some(pending) = read_pending(&config, now_ms) {
        let (t, c) = (Rc::clone(&transport), Rc::clone(&config));
        spawn_local(async move {
            if send(&*t, &c, &pending.request).await != Sent::Retry {
                remove_pending();
            }
        });
        scripts::activate(&pending.granted).await;
        show_reopen(&config, &guess_language()).await;
        return Ok(Outcome::FromPending);
    }
    let cookies = html_document().cookie().unwrap_or_default();
    let now = (now_ms / 1000.0) as i64;
    match logic::read_token(
        logic::cookie_value(&cookies, COOKIE),
        config.policy_version,
        now,
    ) {
        Stored::Valid(claims) => {
            // The token holds purpose codes; the page names purposes by id. Any version of the policy
            // maps them (codes are never reused); the token's own version is immutable, so the browser
            // caches it for a year. Only fetched when the page has something to activate.
            if scripts::any_waiting() {
                let mut url = config.endpoint.clone();
                url.push_str("/v1/policies/");
                url.push_str(&logic::version_text(claims.policy_version));
                let policy = fetch_policy(&*transport, &url, &[]).await?;
                scripts::activate(&logic::granted_by_token(&policy.purposes, &claims)).await;
            }
            show_reopen(&config, &guess_language()).await;
            Ok(Outcome::FromToken)
        }
        Stored::Missing | Stored::Invalid | Stored::Outdated(_) | Stored::Expired(_) => {
            ask(config, transport, false).await?;
            Ok(Outcome::Asked)
        }
    }
}

async fn fetch_policy<T: Transport>(
    transport: &T,
    url: &str,
    languages: &[String],
) -> Result<PolicyView, JsValue> {
    let response = transport.get(url).await?;
    if response.status != 200 {
        return Err(error("consent banner: the policy could not be loaded"));
    }
    PolicyView::from_json(&json_parse(&response.body)?, languages)
}

/// The page's `<html lang>`, then the browser's languages.
fn language_candidates(doc: &Document) -> Vec<String> {
    let mut out: Vec<String> = doc
        .document_element()
        .and_then(|html| html.get_attribute("lang"))
        .into_iter()
        .collect();
    if let Some(window) = web_sys::window() {
        out.extend(
            window
                .navigator()
                .languages()
                .iter()
                .filter_map(|l| l.as_string()),
        );
    }
    out
}

/// The language of the floating button when no policy has been fetched: the page's or the browser's,
/// else Kazakh (the policy's default).
fn guess_language() -> String {
    let candidates = language_candidates(&document());
    let ours = logic::UI_LANGUAGES.map(String::from);
    logic::pick_language(candidates.iter().map(String::as_str), &ours, "kk")
}

/// Listens on `document` for clicks on [`OPENERS`] (event delegation: elements added later work too),
/// which reopen the dialog on its second layer.
fn listen_for_openers<T: Transport + 'static>(config: &Rc<Config>, transport: &Rc<T>) {
    let (config, transport) = (Rc::clone(config), Rc::clone(transport));
    let listener = Listener::new(&document(), "click", move |event| {
        let Some(target) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
            return;
        };
        if !matches!(target.closest(OPENERS), Ok(Some(_))) {
            return;
        }
        event.prevent_default();
        let (c, t) = (Rc::clone(&config), Rc::clone(&transport));
        spawn_local(async move {
            let _ = ask(c, t, true).await;
        });
    });
    OPENER.with(|o| o.replace(Some(listener)));
}

/// Adds the floating button that reopens the dialog, once (with the stylesheet it needs).
async fn show_reopen(config: &Config, language: &str) {
    let doc = document();
    if let Some(href) = &config.stylesheet {
        load_stylesheet(&doc, href).await;
    }
    let mut selector = String::from(".");
    selector.push_str(REOPEN_CLASS);
    let (Ok(None), Some(body)) = (doc.query_selector(&selector), doc.body()) else {
        return;
    };
    let label = logic::ui(language).settings;
    let b = element(&doc, "button", REOPEN_CLASS);
    set_attrs(
        &b,
        &[
            ("type", "button"),
            ("data-consent-action", "open"),
            ("aria-label", label),
            ("lang", language),
        ],
    );
    b.set_text_content(Some(label));
    let _ = body.append_child(&b);
}

/// The purposes (that need consent) the visitor's current choice grants: the choice made on this page,
/// else the token in the cookie, else a choice kept for the server.
fn current_grants(config: &Config, policy: &PolicyView) -> Vec<String> {
    let now_ms = Date::now();
    let granted = CURRENT.with(|c| c.borrow().clone()).unwrap_or_else(|| {
        let cookies = html_document().cookie().unwrap_or_default();
        match logic::read_token(
            logic::cookie_value(&cookies, COOKIE),
            config.policy_version,
            (now_ms / 1000.0) as i64,
        ) {
            Stored::Valid(claims) => logic::granted_by_token(&policy.purposes, &claims),
            _ => read_pending(config, now_ms)
                .map(|p| p.granted)
                .unwrap_or_default(),
        }
    });
    policy
        .purposes
        .iter()
        .filter(|p| p.needs_consent && granted.contains(&p.id))
        .map(|p| p.id.clone())
        .collect()
}

/// Shows the dialog: on a first visit (or when asking again), or `reopened` through the way back in,
/// then on its second layer with the switches set to the current choice.
async fn ask<T: Transport + 'static>(
    config: Rc<Config>,
    transport: Rc<T>,
    reopened: bool,
) -> Result<(), JsValue> {
    let doc = document();
    if reopened && doc.get_element_by_id(DIALOG_ID).is_some() {
        return Ok(());
    }
    let candidates = language_candidates(&doc);
    let mut url = config.endpoint.clone();
    url.push_str("/v1/policy");
    let policy = fetch_policy(&*transport, &url, &candidates).await?;
    if let Some(href) = &config.stylesheet {
        load_stylesheet(&doc, href).await;
    }
    if doc.get_element_by_id(DIALOG_ID).is_some() {
        return Ok(());
    }
    let previous = if reopened {
        current_grants(&config, &policy)
    } else {
        Vec::new()
    };
    let session = Rc::new(Session {
        config,
        transport,
        policy,
        previous,
        reopened,
        dialog: RefCell::new(None),
    });
    let dialog = Dialog::show(&session, &doc)?;
    *session.dialog.borrow_mut() = Some(dialog);
    if reopened {
        session.open_choices();
        return Ok(());
    }
    // Purposes that need no consent (strictly necessary cookies, legal obligations) run without one.
    let unconditional: Vec<String> = session
        .policy
        .purposes
        .iter()
        .filter(|p| !p.needs_consent)
        .map(|p| p.id.clone())
        .collect();
    scripts::activate(&unconditional).await;
    Ok(())
}

/// Adds the banner's stylesheet and waits (at most 3 s) for it, so the dialog never shows unstyled.
async fn load_stylesheet(doc: &Document, href: &str) {
    if doc
        .query_selector("link[data-consent-banner]")
        .ok()
        .flatten()
        .is_some()
    {
        return;
    }
    let (Some(head), Some(window)) = (doc.head(), web_sys::window()) else {
        return;
    };
    let link: HtmlLinkElement = element(doc, "link", "").unchecked_into();
    link.set_rel("stylesheet");
    link.set_href(href);
    set_attrs(&link, &[("data-consent-banner", "")]);
    let loaded = Promise::new(&mut |resolve: Function, _reject: Function| {
        link.set_onload(Some(&resolve));
        link.set_onerror(Some(&resolve));
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 3000);
    });
    if head.append_child(&link).is_ok() {
        let _ = loaded.await;
    }
}

/// A dialog on screen, with what it needs to decide.
struct Session<T> {
    config: Rc<Config>,
    transport: Rc<T>,
    policy: PolicyView,
    /// What the current choice grants (purposes that need consent), when reopened.
    previous: Vec<String>,
    /// Opened through the way back in: Escape closes it without a change.
    reopened: bool,
    /// `None` once the visitor has decided.
    dialog: RefCell<Option<Dialog>>,
}

struct Dialog {
    root: HtmlElement,
    actions: HtmlElement,
    /// Where focus was before the dialog took it.
    restore_focus: Option<HtmlElement>,
    _listeners: [Listener; 2],
}

fn button(doc: &Document, action: &str, label: &str) -> HtmlElement {
    let b = element(doc, "button", "consent-banner__button");
    set_attrs(&b, &[("type", "button"), ("data-consent-action", action)]);
    b.set_text_content(Some(label));
    b
}

impl Dialog {
    fn show<T: Transport + 'static>(
        session: &Rc<Session<T>>,
        doc: &Document,
    ) -> Result<Dialog, JsValue> {
        let ui = logic::ui(&session.policy.language);
        let root = element(doc, "div", "consent-banner");
        set_attrs(
            &root,
            &[
                ("id", DIALOG_ID),
                ("role", "dialog"),
                ("aria-modal", "true"),
                ("aria-labelledby", TITLE_ID),
                ("aria-describedby", DESCRIPTION_ID),
                ("lang", &session.policy.language),
                ("tabindex", "-1"),
            ],
        );
        let title = element(doc, "h2", "consent-banner__title");
        set_attrs(&title, &[("id", TITLE_ID)]);
        title.set_text_content(Some(ui.title));
        let description = element(doc, "p", "consent-banner__description");
        set_attrs(&description, &[("id", DESCRIPTION_ID)]);
        description.set_text_content(Some(ui.description));
        // Three buttons of equal weight, in one row: accepting is no easier than rejecting.
        let actions = element(doc, "div", "consent-banner__actions");
        for (action, label) in [
            ("accept-all", ui.accept_all),
            ("reject-all", ui.reject_all),
            ("choose", ui.choose),
        ] {
            actions.append_child(&button(doc, action, label))?;
        }
        root.append_with_node_3(&title, &description, &actions)?;
        let body = doc
            .body()
            .ok_or_else(|| error("consent banner: no <body>"))?;
        let restore_focus = doc
            .active_element()
            .and_then(|e| e.dyn_into::<HtmlElement>().ok());
        body.append_child(&root)?;
        root.focus()?;
        let on_click = {
            let session = Rc::clone(session);
            Listener::new(&root, "click", move |event| session.on_click(&event))
        };
        let on_key = {
            let session = Rc::clone(session);
            Listener::new(&root, "keydown", move |event| session.on_key(&event))
        };
        Ok(Dialog {
            root,
            actions,
            restore_focus,
            _listeners: [on_click, on_key],
        })
    }

    /// Removes the dialog, gives focus back, and (by dropping) removes its listeners.
    fn close(self) {
        self.root.remove();
        if let Some(el) = &self.restore_focus
            && el.is_connected()
        {
            let _ = el.focus();
        }
    }
}

/// Keeps Tab and Shift+Tab inside the dialog while it is open.
fn trap_focus(root: &HtmlElement, event: &Event) {
    let Some(key) = event.dyn_ref::<KeyboardEvent>() else {
        return;
    };
    if key.key() != "Tab" {
        return;
    }
    let Ok(list) = root.query_selector_all("button, input:not([disabled])") else {
        return;
    };
    let (Some(first), Some(last)) = (list.item(0), list.item(list.length().saturating_sub(1)))
    else {
        return;
    };
    let active = document().active_element();
    let is = |node: &web_sys::Node| active.as_ref().is_some_and(|a| a.is_same_node(Some(node)));
    let to = if key.shift_key() {
        (is(&first) || is(root)).then_some(last)
    } else {
        is(&last).then_some(first)
    };
    if let Some(to) = to {
        event.prevent_default();
        let _ = to.unchecked_into::<HtmlElement>().focus();
    }
}

impl<T: Transport + 'static> Session<T> {
    /// Tab stays inside the dialog; Escape closes a reopened one without changing anything (closing
    /// grants nothing, and takes nothing back).
    fn on_key(&self, event: &Event) {
        if self.reopened
            && event.dyn_ref::<KeyboardEvent>().map(|k| k.key()).as_deref() == Some("Escape")
        {
            event.prevent_default();
            if let Some(dialog) = self.dialog.borrow_mut().take() {
                dialog.close();
            }
            return;
        }
        let root = self.dialog.borrow().as_ref().map(|d| d.root.clone());
        if let Some(root) = root {
            trap_focus(&root, event);
        }
    }

    fn on_click(self: &Rc<Self>, event: &Event) {
        let Some(target) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
            return;
        };
        let Ok(Some(button)) = target.closest("[data-consent-action]") else {
            return;
        };
        match button.get_attribute("data-consent-action").as_deref() {
            Some("accept-all") => self.decide(Method::AcceptAll),
            Some("reject-all") => self.decide(Method::RejectAll),
            Some("save") => self.decide(Method::Custom),
            Some("choose") => self.open_choices(),
            _ => {}
        }
    }

    /// The second layer: one switch per purpose (those that need no consent shown on and locked, all
    /// others off), and "save" in place of "choose".
    fn open_choices(&self) {
        let dialog = self.dialog.borrow();
        let Some(d) = dialog.as_ref() else {
            return;
        };
        let doc = document();
        let ui = logic::ui(&self.policy.language);
        let list = element(&doc, "fieldset", "consent-banner__purposes");
        let legend = element(&doc, "legend", "");
        legend.set_text_content(Some(ui.purposes));
        let _ = list.append_child(&legend);
        for p in &self.policy.purposes {
            let row = element(&doc, "div", "consent-banner__purpose");
            let label = element(&doc, "label", "consent-banner__switch");
            let input: HtmlInputElement = element(&doc, "input", "").unchecked_into();
            input.set_type("checkbox");
            let mut description_id = String::from("consent-purpose-");
            description_id.push_str(&p.id);
            set_attrs(
                &input,
                &[
                    ("role", "switch"),
                    ("data-purpose", &p.id),
                    ("aria-describedby", &description_id),
                ],
            );
            if !p.needs_consent {
                input.set_checked(true);
                input.set_disabled(true);
            } else if self.previous.contains(&p.id) {
                input.set_checked(true);
            }
            let name = element(&doc, "span", "consent-banner__purpose-title");
            name.set_text_content(Some(&p.title));
            let _ = label.append_with_node_2(&input, &name);
            let _ = row.append_child(&label);
            if !p.needs_consent {
                let on = element(&doc, "span", "consent-banner__always-on");
                on.set_text_content(Some(ui.always_on));
                let _ = row.append_child(&on);
            }
            let description = element(&doc, "p", "consent-banner__purpose-description");
            set_attrs(&description, &[("id", &description_id)]);
            description.set_text_content(Some(&p.description));
            let _ = row.append_child(&description);
            let _ = list.append_child(&row);
        }
        let _ = d.root.insert_before(&list, Some(&d.actions));
        if let Ok(Some(choose)) = d.root.query_selector("[data-consent-action=\"choose\"]") {
            choose.remove();
        }
        let _ = d.actions.append_child(&button(&doc, "save", ui.save));
        if let Ok(Some(first)) = d.root.query_selector("input:not([disabled])") {
            let _ = first.unchecked_into::<HtmlElement>().focus();
        }
    }

    /// Applies a choice at once (the dialog closes, granted scripts run, `consent:change` fires), then
    /// sends it; the answer's token goes into the cookie, or the choice is kept for later.
    fn decide(self: &Rc<Self>, method: Method) {
        let Some(dialog) = self.dialog.borrow_mut().take() else {
            return;
        };
        let mut selected = Vec::new();
        if method == Method::Custom
            && let Ok(inputs) = dialog
                .root
                .query_selector_all("input[data-purpose]:checked")
        {
            for i in 0..inputs.length() {
                if let Some(id) = inputs
                    .item(i)
                    .and_then(|n| n.dyn_into::<Element>().ok())
                    .and_then(|e| e.get_attribute("data-purpose"))
                {
                    selected.push(id);
                }
            }
        }
        dialog.close();
        let policy = &self.policy;
        let choice = logic::withdraw(
            logic::choice(&policy.purposes, method, |id| {
                selected.iter().any(|s| s == id)
            }),
            &self.previous,
        );
        let granted = logic::granted(&policy.purposes, &choice);
        CURRENT.with(|c| c.replace(Some(granted.clone())));
        delete_cookies(&policy.cookies, &choice);
        let (config, language) = (Rc::clone(&self.config), policy.language.clone());
        spawn_local(async move { show_reopen(&config, &language).await });
        dispatch_change(&choice, &granted, &policy.language);
        let activate = granted.clone();
        spawn_local(async move { scripts::activate(&activate).await });

        let location = web_sys::window().map(|w| w.location());
        let mut page = String::new();
        if let Some(l) = &location {
            page.push_str(&l.origin().unwrap_or_default());
            page.push_str(&l.pathname().unwrap_or_default());
        }
        let body = logic::request_body(
            &policy.version_text,
            &choice,
            &policy.language,
            &page,
            self.config.build.as_deref(),
        );
        let now = (Date::now() / 1000.0) as i64;
        let expires_ms = logic::lapses_at(now, policy.validity_months)
            .max(0)
            .unsigned_abs()
            * 1000;
        let session = Rc::clone(self);
        spawn_local(async move {
            match send(&*session.transport, &session.config, &body).await {
                Sent::Stored | Sent::Refused => remove_pending(),
                Sent::Retry => {
                    if let Some(storage) = local_storage() {
                        let entry = logic::pending_entry(&body, &granted, expires_ms);
                        let _ = storage.set_item(PENDING_KEY, &entry);
                    }
                }
            }
        });
    }
}

/// Deletes the cookies the policy declares for the purposes a choice leaves off (refused or withdrawn)
/// from `path=/` on the page's host and on `.<host>`. Scripts that already ran keep running until the
/// page is reloaded.
fn delete_cookies(declared: &[(String, String)], choice: &Choice) {
    let doc = html_document();
    let mut off = choice.refused.clone();
    off.extend(choice.withdrawn.iter().cloned());
    let names = logic::cookies_to_delete(declared, &off, &doc.cookie().unwrap_or_default());
    let host = web_sys::window()
        .and_then(|w| w.location().hostname().ok())
        .unwrap_or_default();
    for name in names {
        let _ = doc.set_cookie(&logic::expired_cookie(&name, None));
        if !host.is_empty() {
            let _ = doc.set_cookie(&logic::expired_cookie(&name, Some(&host)));
        }
    }
}

/// Fires `consent:change` on `document`, with `detail` = `{method, granted, refused, language}`.
fn dispatch_change(choice: &Choice, granted: &[String], language: &str) {
    let detail = logic::change_detail(choice, granted, language);
    let init = CustomEventInit::new();
    init.set_detail(&json_parse(&JsString::from(detail)).unwrap_or(JsValue::NULL));
    if let Ok(event) = CustomEvent::new_with_event_init_dict(CHANGE_EVENT, &init) {
        let _ = document().dispatch_event(&event);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sent {
    /// Recorded; the token is in the cookie.
    Stored,
    /// The server refused the choice (4xx): sending it again would not help.
    Refused,
    /// Not recorded (unreachable, timeout, overloaded): keep it for later.
    Retry,
}

async fn send<T: Transport>(transport: &T, config: &Config, body: &str) -> Sent {
    let mut url = config.endpoint.clone();
    url.push_str("/v1/consents");
    let Ok(response) = transport.post_json(&url, body).await else {
        return Sent::Retry;
    };
    match response.status {
        // A 201 is durable on the server: never sent again, even if its token cannot be stored.
        201 => {
            store_token(&response.body);
            Sent::Stored
        }
        408 | 429 | 500..=599 => Sent::Retry,
        _ => Sent::Refused,
    }
}

/// Stores the token of a `201` answer in the `consent` cookie.
fn store_token(body: &JsString) {
    let Some(token) = json_parse(body)
        .ok()
        .and_then(|json| string(&json, "token"))
    else {
        return;
    };
    let Ok(decoded) = UnverifiedToken::decode(&token) else {
        return;
    };
    let secure = web_sys::window()
        .and_then(|w| w.location().protocol().ok())
        .is_some_and(|p| p == "https:");
    let cookie = logic::cookie_string(&token, decoded.unverified_claims(), secure);
    let _ = html_document().set_cookie(&cookie);
}

fn local_storage() -> Option<Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn remove_pending() {
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(PENDING_KEY);
    }
}

struct Pending {
    request: String,
    granted: Vec<String>,
}

/// The choice kept by an earlier page when the server was unreachable, if it still applies: not lapsed,
/// and made under the page's policy version or a later one.
fn read_pending(config: &Config, now_ms: f64) -> Option<Pending> {
    let text = local_storage()?.get_item(PENDING_KEY).ok()??;
    let entry = json_parse(&JsString::from(text)).ok()?;
    let request = field(&entry, "request");
    let expires = field(&entry, "expires").as_f64().unwrap_or(0.0);
    let version: Option<PolicyVersion> =
        string(&request, "policy_version").and_then(|v| v.parse().ok());
    let current = match (version, config.policy_version) {
        (Some(v), Some(page)) => v >= page,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if !current || expires <= now_ms {
        remove_pending();
        return None;
    }
    Some(Pending {
        request: js_sys::JSON::stringify(&request).ok()?.into(),
        granted: strings(&entry, "granted"),
    })
}
