//! The banner's flow, as a small state machine: [`Banner`] holds the state of the banner on this page,
//! and [`Banner::handle`] takes it one [`Step`] further each time the browser calls back (the dispatcher,
//! `dispatcher.rs`, calls it).
//!
//! A choice, from the click to the server's answer, is in `banner/choice.rs` (the same `impl Banner`).
//!
//! The state machine decides what happens and when; each concern it drives lives in its own module,
//! with only the state it needs: the policy fetch (`policy_fetch.rs`), the dialog (`dialog.rs`), the
//! activation of scripts and embeds (`activate.rs`), the outbox (`outbox.rs`: posting choices, with
//! retry), Consent Mode, the receipt download, the cookies, the stylesheet, the way back in, and the JS
//! API (`api.rs`).

use alloc::string::String;
use alloc::vec::Vec;

use consent_core::{Method, PolicyVersion, PurposeSet, TokenClaims};
use js_sys::{Array, Date};
use wasm_bindgen::prelude::*;
use web_sys::{Element, Event, HtmlElement, Response};

use crate::activate::{self, Activation};
use crate::api::{Api, Snapshot};
use crate::config::Config;
use crate::consent_mode::ConsentMode;
use crate::dialog::{Dialog, View};
use crate::dom::{self, Listener, Observer, document, get, includes, object, set};
use crate::logic::{self, Stored};
use crate::outbox::Outbox;
use crate::policy::PolicyView;
use crate::policy_fetch::PolicyFetch;
use crate::step::{Dispatch, Step};
use crate::{cookies, gpc, receipt, reopen, stylesheet};

mod choice;

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

/// The banner's state on this page.
pub(crate) struct Banner {
    config: Config,
    /// The dispatcher (see the module docs).
    dispatch: Dispatch,
    /// The JS object behind `window.consent`.
    api: Api,
    /// `navigator.globalPrivacyControl`.
    gpc: bool,
    /// The page's and the browser's languages, best first.
    languages: Vec<String>,
    /// The cookie's token, when it could be read (whatever its state), or the last answer's.
    token: Option<TokenClaims>,
    /// That token's text: sent in `X-Consent-Token` with a choice naming its device (only the device
    /// may change its state on the server).
    token_text: String,
    /// The token was made under an older policy version than the page's, or the server refused a choice
    /// as made under a version it has replaced: the dialog says "updated on".
    outdated: bool,
    /// The version of a choice the server refused as outdated (`409 policy_outdated`): what changed
    /// since is off when the current policy arrives and the dialog shows again.
    renew_since: Option<PolicyVersion>,
    /// The current policy (`/v1/policy`), or the token's version when only that was needed.
    policy: Option<PolicyView>,
    /// `policy` is the current policy: dialogs and choices need it.
    policy_is_current: bool,
    fetch: PolicyFetch,
    want: Want,
    /// What is granted comes from the cookie's token (no choice made on this page or kept for the
    /// server): its codes become purpose ids with each policy that arrives, and the first one activates.
    by_token: bool,
    /// What may run now, by purpose id (a JS array: the activation, the API and a kept choice read
    /// it): purposes that need no consent, and those the choice grants.
    granted_ids: Array,
    /// The same as a set (known once the policy is there).
    granted: PurposeSet,
    /// Purpose ids the current choice turned off (for the API).
    refused_ids: Array,
    /// A choice exists (made here, in the cookie, or kept for the server).
    decided: bool,
    css_ready: bool,
    /// The floating button waits for the stylesheet.
    reopen_wanted: bool,
    dialog: Option<Dialog>,
    _click: Listener,
    /// Blocked scripts and embeds the page adds later.
    _observer: Observer,
    outbox: Outbox,
    /// A choice's `POST` waits for its own task (see [`Banner::decide`]).
    post_due: bool,
    activation: Activation,
    /// `consent:ready` has fired.
    ready: bool,
    /// Taking over from the return visit's first part, until the token's policy arrives: whether that
    /// part had applied the token (Consent Mode told, what it grants activated).
    took_over: Option<bool>,
    /// The dialog the first visit's part painted before this banner arrived (`first.rs`), and the
    /// element of it clicked meanwhile (`undefined` if none): adopted when the first dialog shows.
    painted: Option<(HtmlElement, JsValue)>,
}

impl Banner {
    /// The state of a banner starting on this page, with its dispatcher and `window.consent`'s object.
    pub(crate) fn new(mut config: Config, dispatch: Dispatch, api: Api) -> Banner {
        let doc = document();
        let click = Listener::new(&doc, "click", dispatch.callback(Step::Click));
        let observer = Observer::new(&dispatch.callback(Step::Mutation));
        Banner {
            fetch: PolicyFetch::new(config.policy.take()),
            outbox: Outbox::new(config.retry_ms),
            post_due: false,
            config,
            dispatch,
            api,
            gpc: gpc::signal(),
            languages: dom::languages(),
            token: None,
            token_text: String::new(),
            outdated: false,
            renew_since: None,
            policy: None,
            policy_is_current: false,
            want: Want::Nothing,
            by_token: false,
            granted_ids: Array::new(),
            granted: PurposeSet::EMPTY,
            refused_ids: Array::new(),
            decided: false,
            css_ready: false,
            reopen_wanted: false,
            dialog: None,
            _click: click,
            _observer: observer,
            activation: Activation::default(),
            ready: false,
            took_over: None,
            painted: None,
        }
    }

    /// Starts: installs `window.consent`, tells Consent Mode its default, loads the stylesheet, reads the
    /// cookie and a kept choice, and then asks, or applies what the token grants once its policy is in.
    /// Taking over from the return visit's first part (`handover`, its state object), Consent Mode's
    /// `default` was sent already, `consent:ready` may have fired, and a script file it inserted may be
    /// loading: the next script waits for it here too.
    /// Taking over from the first visit's part (`painted`, see `first.rs`), the dialog it painted is
    /// adopted when the dialog shows, and removed if this banner finds it should not ask after all (a
    /// choice waiting for the server, a token that arrived meanwhile).
    pub(crate) fn boot(&mut self, handover: Option<&JsValue>, painted: Option<js_sys::Object>) {
        let painted = painted.and_then(|p| {
            let dialog = get(&p, "d").dyn_into::<HtmlElement>().ok()?;
            Some((dialog, get(&p, "c")))
        });
        Api::install(&self.dispatch);
        match handover {
            // The first visit's part sent Consent Mode's default when it painted.
            None if painted.is_some() => {}
            Some(part) => {
                self.ready = get(part, "r").is_truthy();
                self.took_over = Some(get(part, "a").is_truthy());
                if let Ok(script) = get(part, "w").dyn_into::<Element>() {
                    self.activation.adopt(script, &self.dispatch);
                }
            }
            None => self.consent_mode().default(),
        }
        self.css_ready = stylesheet::load(self.config.stylesheet.as_ref(), &self.dispatch);
        let now_ms = Date::now();
        let jar = cookies::jar();
        let cookie = cookies::token(&jar);
        let stored =
            logic::read_token(cookie, self.config.policy_version, (now_ms / 1000.0) as i64);
        if let Stored::Valid(claims) | Stored::Outdated(claims) | Stored::Expired(claims) = stored {
            // Whatever its state, the token names this browser (`subject.device` of the next choice,
            // which it goes with).
            self.token = Some(claims);
            self.token_text = cookie.unwrap_or_default().into();
        }
        if let Some(granted) = self.outbox.resume(self.config.policy_version, now_ms) {
            remove_painted(painted);
            self.decided = true;
            self.granted_ids = granted;
            self.send();
            self.after_choice_known();
            return;
        }
        match stored {
            Stored::Valid(claims) => {
                remove_painted(painted);
                self.decided = true;
                // The token holds purpose codes; the page names purposes by id. The token's own policy
                // version maps them, and is immutable: fetched on every page, from the browser's cache
                // after the first (activation, Consent Mode and the API's `get` and `allows` need ids).
                self.by_token = true;
                self.fetch
                    .version(&self.config.endpoint, claims.policy_version, &self.dispatch);
            }
            stored => {
                self.outdated = matches!(stored, Stored::Outdated(_));
                // The first visit's part painted the first layer without an "updated on" line.
                if self.outdated {
                    remove_painted(painted);
                } else {
                    self.painted = painted;
                }
                self.ask(false);
            }
        }
    }

    /// Once the page knows what the choice grants: activate, update Consent Mode, show the way back in,
    /// tell the page.
    fn after_choice_known(&mut self) {
        self.consent_mode().update(&self.granted_ids);
        self.activate();
        self.show_reopen();
        self.publish();
        self.fire_ready();
    }

    fn fire_ready(&mut self) {
        if !self.ready {
            self.ready = true;
            self.api.ready();
        }
    }

    /// Handles one callback (see [`Step`]).
    pub(crate) fn handle(&mut self, step: Step, value: JsValue) {
        match step {
            Step::Click => self.on_click(&value.unchecked_into()),
            Step::Cancel => {
                let event: Event = value.unchecked_into();
                event.prevent_default();
                if self.dialog.as_ref().is_some_and(Dialog::reopened) {
                    self.close_dialog();
                }
            }
            Step::Close => {
                // Closed by the browser without a choice (a second Escape): nothing is granted; the
                // way back in stays.
                if let Some(dismissed) = self.dialog.take() {
                    dismissed.remove();
                    self.show_reopen();
                }
            }
            Step::Css if !self.css_ready => {
                self.css_ready = true;
                self.show_if_ready();
                if self.reopen_wanted {
                    self.show_reopen();
                }
                self.activate();
            }
            Step::Retry => {
                self.post_due = false;
                if self.outbox.reread(self.config.policy_version) {
                    self.publish();
                }
                self.send();
            }
            Step::ScriptDone => {
                self.activation.script_done();
                self.activate();
            }
            Step::Policy => {
                if !self.fetch.response(&value.unchecked_into(), &self.dispatch) {
                    self.policy_failed();
                }
            }
            Step::PolicyJson => {
                let current = self.fetch.arrived();
                match PolicyView::from_json(&value, &self.languages) {
                    Some(policy) => {
                        self.policy_is_current = current;
                        self.policy_arrived(policy);
                    }
                    None => self.policy_failed(),
                }
            }
            Step::PolicyFail => self.policy_failed(),
            Step::Post => {
                let response: Response = value.unchecked_into();
                if !self.outbox.response(&response, &self.dispatch) {
                    self.posted(&JsValue::UNDEFINED);
                }
            }
            Step::PostJson => self.posted(&value),
            Step::PostFail => self.posted(&JsValue::UNDEFINED),
            Step::Receipt => receipt::response(&value.unchecked_into(), &self.dispatch),
            Step::ReceiptBlob => {
                if let (Some(token), Some(d)) = (&self.token, &self.dialog) {
                    receipt::save(&value, &token.receipt, d.root());
                }
            }
            // The JS API's commands, in their own microtask (see `api.rs`).
            Step::Open => self.ask(true),
            Step::AcceptAll => self.apply(Method::AcceptAll, value),
            Step::RejectAll => self.apply(Method::RejectAll, value),
            Step::Set => self.apply(Method::Custom, value),
            // `Stop` is the dispatcher's; the API's reads never reach the state.
            Step::Mutation => {
                if activate::added_blocked(&value) {
                    self.activate();
                }
            }
            Step::Css | Step::Stop | Step::Get | Step::Allows | Step::On | Step::Off => {}
        }
    }

    fn on_click(&mut self, event: &Event) {
        let Some(el) = crate::dom::closest(
            &get(event, "target"),
            "[data-consent-action],[data-consent-open],[data-consent-lang]",
        ) else {
            return;
        };
        let action = crate::dom::attr_string(&el, "data-consent-action").unwrap_or_default();
        let in_dialog = crate::dom::closest(&el, "#consent-banner").is_some();
        if in_dialog {
            match action.as_str() {
                "accept-all" => self.decide_in_dialog(Method::AcceptAll),
                "reject-all" => self.decide_in_dialog(Method::RejectAll),
                "save" => self.decide_in_dialog(Method::Custom),
                "choose" => {
                    if let Some(d) = self.dialog.as_mut() {
                        d.choose();
                    }
                    self.render(Some("input:not([disabled])"));
                }
                "close" => self.close_dialog(),
                "receipt" => receipt::download(&el, &self.dispatch),
                _ if crate::dom::has_attr(&el, "data-consent-lang") => {
                    // The view of that language replaces the dialog's content when it comes.
                    if let Some(lang) = crate::dom::attr_string(&el, "data-consent-lang") {
                        self.languages.insert(0, lang);
                        self.fetch_current_policy();
                    }
                }
                _ => return,
            }
        } else if action == "load-once" || action == "always-allow" {
            if let Some(purpose) = activate::placeholder_click(&el, action == "always-allow") {
                let choice = object();
                set(&choice, &purpose, &JsValue::TRUE);
                self.apply(Method::Custom, choice);
            }
        } else if crate::dom::has_attr(&el, "data-consent-open") || action == "open" {
            self.ask(true);
        } else {
            return;
        }
        event.prevent_default();
    }

    /// Shows the dialog (on its second layer when `reopened`), fetching the current policy first.
    fn ask(&mut self, reopened: bool) {
        if self.dialog.is_some() {
            return;
        }
        self.want = Want::Ask { reopened };
        if self.policy_is_current {
            self.show_if_ready();
        } else {
            self.fetch_current_policy();
        }
    }

    /// Consent Mode, as configured.
    fn consent_mode(&self) -> ConsentMode<'_> {
        ConsentMode {
            map: self.config.consent_mode.as_ref(),
            gtag: self.config.gtag.as_ref(),
        }
    }

    /// Asks for the current policy, unless a policy is on its way.
    fn fetch_current_policy(&mut self) {
        // `und` (undetermined): the server answers in the policy's default language.
        let lang = logic::pick_language(
            self.languages.iter().map(String::as_str),
            &crate::texts::LANGUAGES.map(String::from),
            "und",
        );
        self.fetch
            .current(&self.config.endpoint, &lang, &self.dispatch);
    }

    fn policy_failed(&mut self) {
        self.fetch.failed();
        if self.dialog.is_some() {
            // The view of a language chosen in the open dialog did not come: the dialog stays as it
            // is, in its language.
            self.want = Want::Nothing;
            return;
        }
        // Without the policy nothing is granted beyond what already runs; the dialog cannot be shown.
        // The way back in stays (a click tries again).
        self.want = Want::Nothing;
        self.show_reopen();
        self.publish();
        self.fire_ready();
    }

    fn policy_arrived(&mut self, policy: PolicyView) {
        let scope = policy.scope;
        self.granted = match &self.token {
            // No choice yet: what needs no consent runs.
            _ if !self.decided => scope.unconditional,
            // A valid token: what it grants under this policy (not what changed since).
            Some(claims) if self.by_token => {
                scope.granted_by_token(claims, policy.changed_since(claims.policy_version))
            }
            // A choice kept for the server, or made on this page: its ids, of the banner's purposes.
            _ => {
                let mut set = PurposeSet::EMPTY;
                for p in &policy.purposes {
                    if includes(&self.granted_ids, &p.id_text) {
                        set.insert(p.code);
                    }
                }
                set & (scope.unconditional | scope.asked)
            }
        };
        if let Some(since) = self.renew_since.take() {
            // A choice refused as outdated: asked again at once; what changed since is off until then.
            self.granted -= policy.changed_since(since) & scope.asked;
        }
        // Global Privacy Control on a return visit, with a token from a choice made without it that
        // grants marketing purposes: they are withdrawn, and it is recorded (issue 18.7).
        let gpc_withdrawal = match &self.token {
            Some(claims) if self.by_token && self.gpc && !gpc::chosen_with(claims) => {
                scope.gpc_withdrawal(self.granted)
            }
            _ => None,
        };
        self.granted_ids = policy.ids(self.granted);
        if self.decided {
            self.refused_ids = policy.ids(scope.asked - self.granted);
        }
        self.policy = Some(policy);
        self.keep_map();
        if self.policy_is_current {
            // With the dialog open, this is the view of a language chosen in it (no-op otherwise).
            self.render(Some("[aria-pressed=\"true\"]"));
        }
        if let Some(d) = gpc_withdrawal {
            // Applied (nothing of marketing runs) and sent like a choice the visitor made.
            self.decide(Method::Custom, d.given);
            self.fire_ready();
        } else if self.by_token && !self.ready {
            // The first policy of a page with a valid token, whatever else waits for a policy.
            self.after_choice_known();
        } else if let (true, Some(applied)) = (self.by_token, self.took_over.take()) {
            // Taking over from the return visit's part, which fired `consent:ready`: the same grants
            // (activation finds nothing it already ran), Consent Mode told once.
            if !applied {
                self.consent_mode().update(&self.granted_ids);
            }
            self.activate();
            self.show_reopen();
            self.publish();
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
        let mut clicked = JsValue::UNDEFINED;
        match self.painted.take() {
            // The first layer the first visit's part painted from the same view, as it is.
            Some((root, click)) if !reopened => {
                if get(&root, "open").is_truthy() {
                    self.dialog = Some(Dialog::adopt(root, &self.dispatch));
                    clicked = click;
                } else {
                    // Closed by the browser before this banner arrived (a second Escape): as
                    // `Step::Close`, nothing granted, the way back in.
                    root.remove();
                    self.show_reopen();
                }
            }
            painted => {
                remove_painted(painted);
                self.dialog = Dialog::new(reopened, &self.dispatch);
                self.render(None);
                if let Some(d) = &self.dialog {
                    d.open();
                }
            }
        }
        if !reopened {
            self.activate();
            self.publish();
            self.fire_ready();
        }
        // A click on the painted dialog before this banner arrived, made again now that it can answer
        // (in a microtask: the banner is busy here).
        if let Ok(el) = clicked.dyn_into::<HtmlElement>() {
            el.click();
        }
    }

    /// (Re)builds the dialog's content (after a language change), focusing what `focus_on` selects.
    fn render(&self, focus_on: Option<&str>) {
        if let (Some(d), Some(view)) = (&self.dialog, self.view()) {
            d.render(&view, focus_on);
        }
    }

    fn close_dialog(&mut self) {
        if let Some(d) = self.dialog.take() {
            d.close();
        }
    }

    /// The purposes that need consent which the current choice grants.
    fn previous(&self) -> PurposeSet {
        match &self.policy {
            Some(policy) if self.decided => self.granted & policy.scope.asked,
            _ => PurposeSet::EMPTY,
        }
    }

    /// What the dialog needs to show: the current policy and the visitor's side (none without a
    /// policy).
    // Inlined: smaller wasm than a call (opt-level "z" ignores `#[inline]`; see README, Size).
    #[inline(always)]
    fn view(&self) -> Option<View<'_>> {
        Some(View {
            policy: self.policy.as_ref()?,
            on: self.previous(),
            outdated: self.outdated,
            gpc: self.gpc,
            token: self.token.as_ref(),
            endpoint: &self.config.endpoint,
        })
    }

    fn decide_in_dialog(&mut self, method: Method) {
        let selected = match (&self.dialog, &self.policy) {
            (Some(d), Some(policy)) => d.selected(policy),
            _ => PurposeSet::EMPTY,
        };
        self.decide(method, selected);
    }

    /// Activates what may run now ([`Activation::run`]).
    fn activate(&mut self) {
        self.activation
            .run(&self.granted_ids, self.policy.as_ref(), &self.dispatch);
    }

    /// Adds the floating button that reopens the dialog, once, when a choice exists (or the dialog was
    /// dismissed), and once the stylesheet is there.
    fn show_reopen(&mut self) {
        if !self.css_ready {
            self.reopen_wanted = true;
            return;
        }
        reopen::show(self.policy.as_ref(), &self.language());
    }

    /// The language to speak: the policy's choice, else the page's or the browser's, else Kazakh.
    fn language(&self) -> String {
        match &self.policy {
            Some(p) => p.language.clone(),
            None => {
                let ours = crate::texts::LANGUAGES.map(String::from);
                logic::pick_language(self.languages.iter().map(String::as_str), &ours, "kk")
            }
        }
    }

    /// Publishes the state that `window.consent.get()` returns.
    fn publish(&self) {
        self.api.publish(&Snapshot {
            decided: self.decided,
            granted: &self.granted_ids,
            refused: &self.refused_ids,
            gpc: self.gpc,
            pending: self.outbox.is_pending(),
            token: self.token.as_ref(),
            language: &self.language(),
        });
    }
}

/// Removes the dialog the first visit's part painted, if any, when this banner does not adopt it.
fn remove_painted(painted: Option<(HtmlElement, JsValue)>) {
    if let Some((root, _)) = painted {
        root.remove();
    }
}
