//! The return visit's first part (issue 18.3): what a page loads when the visitor has a consent token,
//! instead of the full banner. Its own build (`--no-default-features --features visit`), its own entry
//! point ([`visit()`]) and state ([`Visit`]); the rest is the modules the full banner uses too (the
//! token's decoding, activation, Consent Mode, the JS API, the way back in), so a return visit runs the
//! same code for these, not a copy.
//!
//! With a valid token (the page's policy version or newer, not lapsed), no choice waiting for the
//! server, what the token's purpose codes mean kept for its version (`purpose_map.rs`), and no Global
//! Privacy Control withdrawal to record, it installs `window.consent` (the reads: `get`, `allows`,
//! `on`), tells Consent Mode its default and then its update, activates what the token grants (and, as
//! the page adds them, the scripts and embeds that appear), shows the way back in and fires
//! `consent:ready`, all before it returns. Otherwise it does nothing and [`visit()`] returns `false`:
//! the bootstrap starts the full banner, as on a first visit. Everything else is the full banner's,
//! which this part asks the bootstrap for (`full`) on demand: the way back in, the JS API's commands,
//! and an embed that stays blocked (its placeholder, with the policy's words and "always allow", is the
//! full banner's). The full banner takes this part's state object over (`dispatcher::start_after`):
//! the page's `consent.on` listeners, that `consent:ready` has fired and the token was applied, and the
//! script file this part was waiting for (`w`, written when it stops), so nothing runs twice and no
//! listener is lost.

use alloc::string::String;

use consent_core::{PurposeSet, TokenClaims};
use js_sys::{Array, Date, Function};
use wasm_bindgen::prelude::*;
use web_sys::{Element, Event};

use crate::activate::Activation;
use crate::api::{Api, Snapshot};
use crate::config::Config;
use crate::consent_mode::ConsentMode;
use crate::dispatcher::{Handler, dispatcher};
use crate::dom::{Listener, Observer, closest, document, get, set, stored};
use crate::logic::{self, PENDING_KEY, Stored};
use crate::purpose_map::{self, PurposeMap};
use crate::step::{Dispatch, Step};
use crate::{cookies, gpc, reopen, stylesheet};

/// The entry point of the return visit's build, called by the bootstrap (`banner.js`) when the page
/// has a consent cookie: `visit(stylesheet, script, gtag, language, full)`, where `stylesheet` is the
/// URL of `banner.css` beside `banner.js` (the default of `data-css`), `script` is the banner's
/// `<script>` (the one loaded from `import.meta.url`, else the first `<script
/// data-endpoint>`), `gtag` the bootstrap's `function(){dataLayer.push(arguments)}`, `language` the
/// first of the page's and the browser's languages the banner speaks (the bootstrap picks it as the banner does, for the policy it
/// prefetches on a first visit), and `full(state, command, argument)` starts the full banner
/// (once) with this part's state object, then calls `window.consent[command](argument)` if a command
/// is given, and returns a promise of that.
///
/// `false` when the page needs the full banner and this part has done nothing: no `<script>` or a bad
/// data attribute (the full banner reports it), no valid token, a choice waiting in `localStorage`, no
/// kept map of the token's version, or Global Privacy Control against a token that grants marketing
/// purposes (the full banner withdraws them and records it).
#[wasm_bindgen]
pub fn visit(
    stylesheet: Option<String>,
    script: Option<Element>,
    gtag: Option<Function>,
    language: String,
    full: Function,
) -> bool {
    // No `<script>`, or a bad attribute: the full banner reports it, as on a first visit.
    let Some(Ok(mut config)) = script.map(|s| Config::read(&s, stylesheet)) else {
        return false;
    };
    let jar = cookies::jar();
    let Stored::Valid(token) = logic::read_token(
        cookies::token(&jar),
        config.policy_version,
        (Date::now() / 1000.0) as i64,
    ) else {
        return false;
    };
    let pending = stored(PENDING_KEY);
    let kept = purpose_map::kept();
    let Some(map) = kept
        .as_deref()
        .and_then(PurposeMap::decode)
        .filter(|m| pending.is_none() && m.version == token.policy_version)
    else {
        return false;
    };
    // The token's own version: nothing in it changed since the choice.
    let granted = map.scope.granted_by_token(&token, PurposeSet::EMPTY);
    let gpc = gpc::signal();
    if gpc && map.scope.gpc_withdraws(granted) && !gpc::chosen_with(&token) {
        return false;
    }
    config.gtag = gtag;
    let api = Api::new(None);
    let (dispatch, holder) = dispatcher::<Visit>(&api);
    let doc = document();
    let part = Visit {
        _click: Listener::new(&doc, "click", dispatch.callback(Step::Click)),
        _observer: Observer::new(&dispatch.callback(Step::Mutation)),
        dispatch,
        api,
        full,
        granted_ids: map.ids(granted),
        activation: Activation::default(),
        css_ready: false,
        reopen_wanted: false,
        handed_over: false,
        // Else Kazakh, as the full banner speaks without a policy.
        language: match language.as_str() {
            "ru" => "ru",
            "en" => "en",
            _ => "kk",
        },
    };
    *holder.borrow_mut() = Some(part);
    if let Some(part) = holder.borrow_mut().as_mut() {
        part.boot(&config, &token, &map, granted, gpc);
    }
    true
}

/// The return visit's state on this page.
struct Visit {
    dispatch: Dispatch,
    api: Api,
    /// The bootstrap's function that starts the full banner (see [`visit()`]).
    full: Function,
    /// What may run now, by purpose id.
    granted_ids: Array,
    activation: Activation,
    css_ready: bool,
    /// The floating button waits for the stylesheet.
    reopen_wanted: bool,
    /// The full banner has been asked for (it takes over when it has loaded).
    handed_over: bool,
    /// The language to speak (the way back in's label, the API's `language`).
    language: &'static str,
    _click: Listener,
    /// Blocked scripts and embeds the page adds later.
    _observer: Observer,
}

impl Visit {
    /// Installs `window.consent`, tells Consent Mode its default and what the token grants, activates
    /// that, shows the way back in (once the stylesheet is there) and fires `consent:ready`.
    fn boot(
        &mut self,
        config: &Config,
        token: &TokenClaims,
        map: &PurposeMap<'_>,
        granted: PurposeSet,
        gpc: bool,
    ) {
        Api::install(&self.dispatch);
        let consent_mode = ConsentMode {
            map: config.consent_mode.as_ref(),
            gtag: config.gtag.as_ref(),
        };
        consent_mode.default();
        consent_mode.update(&self.granted_ids);
        set(self.api.shared(), "a", &JsValue::TRUE);
        self.css_ready = stylesheet::load(config.stylesheet.as_ref(), &self.dispatch);
        self.activate();
        self.show_reopen();
        self.api.publish(&Snapshot {
            decided: true,
            granted: &self.granted_ids,
            refused: &map.ids(map.scope.asked - granted),
            gpc,
            pending: false,
            token: Some(token),
            language: self.language,
        });
        self.api.ready();
    }

    /// Starts the full banner with this part's state, then runs `command` (a `window.consent`
    /// function, or none when empty) with `argument` there; the promise of that.
    fn full(&mut self, command: &str, argument: &JsValue) -> JsValue {
        self.handed_over = true;
        self.full
            .call3(
                &JsValue::NULL,
                self.api.shared(),
                &JsValue::from_str(command),
                argument,
            )
            .unwrap_or(JsValue::UNDEFINED)
    }

    /// Activates what may run; an embed that stays blocked gets its placeholder from the full banner.
    fn activate(&mut self) {
        if self.activation.run(&self.granted_ids, None, &self.dispatch) && !self.handed_over {
            self.full("", &JsValue::UNDEFINED);
        }
    }

    fn show_reopen(&mut self) {
        if !self.css_ready {
            self.reopen_wanted = true;
            return;
        }
        reopen::show(None, self.language);
    }
}

impl Handler for Visit {
    fn handle(&mut self, step: Step, value: JsValue) -> JsValue {
        match step {
            Step::Click => {
                // The way back in (the floating button, or an element of the page's) opens the full
                // banner's dialog.
                let event: Event = value.unchecked_into();
                let open = closest(
                    &get(&event, "target"),
                    "[data-consent-action=\"open\"],[data-consent-open]",
                );
                if open.is_some() {
                    event.prevent_default();
                    return self.full("open", &JsValue::UNDEFINED);
                }
            }
            Step::Css if !self.css_ready => {
                self.css_ready = true;
                if self.reopen_wanted {
                    self.show_reopen();
                }
            }
            Step::ScriptDone => {
                self.activation.script_done();
                self.activate();
            }
            Step::Mutation if crate::activate::added_blocked(&value) => self.activate(),
            // The JS API's commands, in their own microtask: the full banner's (the promise the page
            // got resolves once it has run the command).
            Step::Open => return self.full("open", &value),
            Step::AcceptAll => return self.full("acceptAll", &value),
            Step::RejectAll => return self.full("rejectAll", &value),
            Step::Set => return self.full("set", &value),
            _ => {}
        }
        JsValue::UNDEFINED
    }

    /// The full banner takes over: the script file this part waits for is named in the state object it
    /// hands over (`w`), and its listeners and observer go.
    fn stop(self) {
        if let Some(script) = self.activation.waiting() {
            set(self.api.shared(), "w", script);
        }
    }
}
