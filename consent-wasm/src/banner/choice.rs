//! A choice, from the click (or the JS API's command) to the server's answer: what it decides and
//! grants (core's `PurposeScope`), applied at once, kept and posted by the outbox, and the answer's
//! token stored; a choice the server refused as made under a replaced policy version asked again.
//! The rest of [`Banner`]'s steps are in `banner.rs`.

use consent_core::{Method, PurposeSet};
use wasm_bindgen::prelude::*;

use super::{Banner, Want};
use crate::dom::{get, string};
use crate::outbox::{self, Answer};
use crate::step::Step;
use crate::{api, cookies, gpc, purpose_map};

impl Banner {
    /// A choice made through the JS API (or a placeholder's "always allow"), made under the current
    /// policy (fetched first if needed): `set({purpose: true|false, …})` changes the purposes it names
    /// and keeps the others as they are. A `set` that names a purpose the policy does not have records
    /// nothing.
    pub(super) fn apply(&mut self, method: Method, value: JsValue) {
        let (Some(policy), true) = (&self.policy, self.policy_is_current) else {
            self.want = Want::Apply(method, value);
            self.fetch_current_policy();
            return;
        };
        let mut selected = self.previous();
        let mut named = 0;
        for p in &policy.purposes {
            match get(&value, &p.id_text).as_bool() {
                Some(true) => selected.insert(p.code),
                Some(false) => selected.remove(p.code),
                None => continue,
            }
            named += 1;
        }
        if method == Method::Custom
            && js_sys::Object::values::<JsValue>(value.unchecked_ref()).length() != named
        {
            return;
        }
        self.decide(method, selected);
    }

    /// Applies a choice at once (granted scripts run, the dialog closes, `consent:change` fires, declared
    /// cookies of what is off are deleted, Consent Mode is updated), then sends it in a task of its own;
    /// the answer's token goes into the cookie, or the choice is kept and sent again with backoff.
    pub(super) fn decide(&mut self, method: Method, selected: PurposeSet) {
        let previous = self.previous();
        let Some(policy) = &self.policy else {
            return;
        };
        let decided = policy.scope.decide(method, self.gpc, selected, previous);
        let granted = decided.granted(&policy.scope);
        cookies::delete_declared(&policy.cookies, decided.off());
        let request = outbox::request(policy, &decided, self.config.build);
        let granted_ids = policy.ids(granted);
        let refused_ids = policy.ids(decided.off());
        let detail = api::change_detail(
            decided.method,
            &granted_ids,
            &refused_ids,
            &policy.ids(decided.withdrawn),
            &policy.language,
        );
        let validity = policy.validity_months;
        self.refused_ids = refused_ids;
        self.granted = granted;
        self.granted_ids = granted_ids;
        self.decided = true;
        self.by_token = false;
        // What is granted runs first (Consent Mode told before), then the dialog closes and the choice is
        // kept: the scripts start within a few milliseconds of the click (issue 18.4). The `POST` goes in
        // a task of its own (the retry step, at once), which Chromium runs after the next frame when a
        // click is being handled: `fetch` itself costs the click 2-5 ms before the page can paint (INP).
        self.consent_mode().update(&self.granted_ids);
        self.activate();
        self.close_dialog();
        if self.post_due {
            // A choice made in the same turn whose `POST` has not gone yet: it goes now, before this
            // one replaces it as the pending choice, so that each is recorded (this one follows its
            // answer).
            self.send();
        }
        self.outbox.keep(&request, &self.granted_ids, validity);
        self.post_due = true;
        crate::dom::timeout(&self.dispatch.callback(Step::Retry), 0);
        self.show_reopen();
        self.publish();
        self.api.change(&detail);
    }

    /// Posts the pending choice, unless one is on its way.
    pub(super) fn send(&mut self) {
        self.outbox.send(
            &self.config.endpoint,
            self.token.as_ref(),
            &self.token_text,
            &self.dispatch,
        );
    }

    /// The server's answer to a choice (`body`: its JSON).
    pub(super) fn posted(&mut self, body: &JsValue) {
        match self.outbox.answered(&self.dispatch) {
            Answer::Recorded => {
                if let Some(token) = string(body, "token")
                    && let Some(claims) = cookies::store_token(&token)
                {
                    if get(body, "gpc").as_bool() == Some(true) {
                        gpc::remember(&claims);
                    }
                    self.token = Some(claims);
                    self.token_text = token;
                    self.outdated = false;
                    self.keep_map();
                }
                // A choice made meanwhile goes now (with the device id of the token just stored).
                self.send();
            }
            Answer::Refused => {
                self.ask_again_if_outdated(body);
                self.send();
            }
            Answer::Later => {}
        }
        self.publish();
    }

    /// A choice the server refused as made under a policy version it replaced while the visitor
    /// decided (`409 policy_outdated`, with the current version): that version is fetched and the
    /// dialog shows again at once, "updated on <date>", with the choice as made except what changed
    /// (issue 18.7). Any other refusal drops the choice.
    fn ask_again_if_outdated(&mut self, body: &JsValue) {
        let error = get(body, "error");
        let current = string(&error, "policy_version").and_then(|v| v.parse().ok());
        let (Some(policy), Some(current), Some("policy_outdated")) =
            (&self.policy, current, string(&error, "code").as_deref())
        else {
            return;
        };
        self.renew_since = Some(policy.version);
        self.outdated = true;
        self.policy_is_current = false;
        self.want = Want::Ask { reopened: false };
        self.fetch
            .current_version(&self.config.endpoint, current, &self.dispatch);
    }

    /// Keeps what the token's purpose codes mean, for the return visit's part (`purpose_map.rs`), when
    /// the policy is the token's version.
    pub(super) fn keep_map(&self) {
        if let (Some(token), Some(policy)) = (&self.token, &self.policy)
            && token.policy_version == policy.version
        {
            purpose_map::keep(policy);
        }
    }
}
