//! The page's JS API, `window.consent`, and the `consent:*` events.
//!
//! `get()`, `allows(purpose)`, `on(name, f)` and the function `on` returns read and write only a JS
//! object shared with the banner ([`Api`]), never the banner's state, so a page may call them from
//! anywhere, even from inside a `consent:change` listener. The commands (`open()`, `acceptAll()`,
//! `rejectAll()`, `set({…})`) always run in a microtask of their own and return its promise: never
//! inside the banner's own work.

use js_sys::{Array, Function, Promise};
use wasm_bindgen::prelude::*;

#[cfg(feature = "full")]
use consent_core::Method;
use consent_core::TokenClaims;

use crate::dom::{get, object, set, set_str, window};
use crate::step::{Call, Deferral, Dispatch, Step};

/// The event dispatched on `document` when the visitor makes a choice.
pub const CHANGE_EVENT: &str = "consent:change";
/// The event dispatched on `document` once the page is in its consent state.
pub const READY_EVENT: &str = "consent:ready";

/// The JS object behind `window.consent`: `{s: snapshot, l: listeners, r: ready, d: dispatcher}`, and
/// in the return visit's part `a` (the token applied) and `w` (the script file it waits for, written
/// when it stops), which the full banner reads when it takes over.
#[derive(Clone)]
pub(crate) struct Api(JsValue);

/// The state `window.consent.get()` returns.
pub(crate) struct Snapshot<'a> {
    /// A choice exists (made here, in the cookie, or kept for the server).
    pub(crate) decided: bool,
    /// The purpose ids that may run now.
    pub(crate) granted: &'a Array,
    /// The purpose ids the current choice turned off.
    pub(crate) refused: &'a Array,
    /// `navigator.globalPrivacyControl`.
    pub(crate) gpc: bool,
    /// A choice waits for the server.
    pub(crate) pending: bool,
    /// The cookie's token, if any.
    pub(crate) token: Option<&'a TokenClaims>,
    /// The language the banner speaks.
    pub(crate) language: &'a str,
}

impl Api {
    /// A new shared object, without listeners; or, taking over from the return visit's first part, that
    /// part's (`handover`): its listeners stay subscribed, its published state stays readable until this
    /// banner publishes its own, and a page that kept the old `window.consent` reaches this banner
    /// through it (the object's dispatcher becomes this one's).
    pub(crate) fn new(handover: Option<&JsValue>) -> Api {
        if let Some(shared) = handover {
            return Api(shared.clone());
        }
        let shared = object();
        set(&shared, "l", &Array::new());
        Api(shared)
    }

    /// The shared object, which the return visit's part hands to the full banner.
    #[cfg(feature = "visit")]
    pub(crate) fn shared(&self) -> &JsValue {
        &self.0
    }

    /// Keeps the dispatcher, which the API's functions call (it is made after this object, which it
    /// holds).
    pub(crate) fn set_dispatch(&self, dispatch: &Dispatch) {
        set(&self.0, "d", &dispatch.0);
    }

    /// The dispatcher.
    // Inlined: smaller wasm than a call (opt-level "z" ignores `#[inline]`; see README, Size).
    #[inline(always)]
    pub(crate) fn dispatch(&self) -> Dispatch {
        Dispatch(get(&self.0, "d").unchecked_into())
    }

    /// `window.consent`: `get()`, `allows(purpose)`, `open()`, `acceptAll()`, `rejectAll()`,
    /// `set({purpose: bool})`, `on("change" | "ready", f)` (returns a function that removes `f`).
    pub(crate) fn install(dispatch: &Dispatch) {
        let api = object();
        for (name, step) in [
            ("get", Step::Get),
            ("allows", Step::Allows),
            ("open", Step::Open),
            ("acceptAll", Step::AcceptAll),
            ("rejectAll", Step::RejectAll),
            ("set", Step::Set),
            ("on", Step::On),
            // Not part of the API: lets a banner started later on this page replace this one.
            ("_stop", Step::Stop),
        ] {
            set(&api, name, &dispatch.callback(step));
        }
        set(&window(), "consent", &api);
    }

    /// Answers the calls that need no banner state: `get`, `allows`, `on` and `off`, and a command
    /// called by the page, which is queued to a microtask ([`Deferral::Command`]; `set` with anything
    /// but an object of `true`/`false` values is a rejected promise instead). `None` for every other
    /// call, which the banner handles.
    pub(crate) fn call(&self, call: Call, a: &JsValue, b: &JsValue) -> Option<JsValue> {
        let shared = &self.0;
        Some(match call.step {
            Step::Get => get(shared, "s"),
            Step::Allows => {
                let granted: Array = get(&get(shared, "s"), "granted")
                    .dyn_into()
                    .unwrap_or_default();
                JsValue::from_bool(granted.includes(a, 0))
            }
            Step::On => {
                // `[a, b]` through `push` (imported anyway), not `Array.of` (one more import).
                let entry = Array::new();
                entry.push(a);
                entry.push(b);
                self.listeners().push(&entry);
                // Subscribing to "ready" after it happened: called at once (in a microtask).
                if *a == JsValue::from_str("ready")
                    && get(shared, "r").is_truthy()
                    && let Ok(f) = b.clone().dyn_into::<Function>()
                {
                    let _ = crate::dom::then1(&Promise::resolve(&get(shared, "s")), &f);
                }
                self.dispatch().callback_with(Step::Off, &entry).into()
            }
            Step::Off => {
                let listeners = self.listeners();
                let i = listeners.index_of(a, 0);
                if i >= 0 {
                    crate::dom::remove_items(&listeners, i as u32, 1);
                }
                JsValue::UNDEFINED
            }
            step if step.is_command() && call.deferral == Deferral::Now => {
                // The full banner checks `set`'s argument; the return visit's part hands the call to it
                // (the promise it returns is rejected all the same).
                #[cfg(feature = "full")]
                if step == Step::Set && !is_choice(a) {
                    return Some(
                        Promise::reject(&js_sys::TypeError::new(
                            "consent.set: expected an object of purpose ids and true or false",
                        ))
                        .into(),
                    );
                }
                self.dispatch().later(step, Deferral::Command, a)
            }
            _ => return None,
        })
    }

    /// The `on(name, f)` listeners, as `[name, f]` pairs.
    // Inlined: smaller wasm than a call (opt-level "z" ignores `#[inline]`; see README, Size).
    #[inline(always)]
    fn listeners(&self) -> Array {
        get(&self.0, "l").unchecked_into()
    }

    /// Publishes the state that `window.consent.get()` returns.
    pub(crate) fn publish(&self, state: &Snapshot<'_>) {
        let s = object();
        set(&s, "decided", &JsValue::from_bool(state.decided));
        set(
            &s,
            "granted",
            &state.granted.slice(0, state.granted.length()),
        );
        set(
            &s,
            "refused",
            &state.refused.slice(0, state.refused.length()),
        );
        set(&s, "gpc", &JsValue::from_bool(state.gpc));
        set(&s, "pending", &JsValue::from_bool(state.pending));
        if let Some(t) = state.token {
            set_str(&s, "consent_id", &t.receipt.hyphenated());
            set_str(&s, "policy_version", &t.policy_version.text());
            set(
                &s,
                "issued_at",
                &JsValue::from_f64(t.issued_at.as_unix() as f64 * 1000.0),
            );
        }
        set_str(&s, "language", state.language);
        set(&self.0, "s", &s);
    }

    /// The page is in its consent state: `consent:ready` with the published state (once; the
    /// banner's state machine knows when).
    pub(crate) fn ready(&self) {
        set(&self.0, "r", &JsValue::TRUE);
        self.emit(READY_EVENT, "ready", &get(&self.0, "s"));
    }

    /// A choice: `consent:change` with `detail`.
    #[cfg(feature = "full")]
    pub(crate) fn change(&self, detail: &JsValue) {
        self.emit(CHANGE_EVENT, "change", detail);
    }

    /// Fires `consent:<name>` on `document` and calls the `on(name, f)` listeners with `detail`.
    fn emit(&self, event: &str, name: &str, detail: &JsValue) {
        let init = object();
        set(&init, "detail", detail);
        crate::dom::fire(event, &init);
        let listeners = self.listeners();
        // A copy: a listener may subscribe or unsubscribe while being called. Every cast is checked: a
        // JS exception inside the banner's own call would leave its state borrowed for good.
        for entry in listeners.slice(0, listeners.length()).iter() {
            let Ok(entry) = entry.dyn_into::<Array>() else {
                continue;
            };
            if entry.get(0) == JsValue::from_str(name)
                && let Ok(f) = entry.get(1).dyn_into::<Function>()
            {
                // A listener that throws is the page's problem, not the banner's.
                let _ = f.call1(&JsValue::NULL, detail);
            }
        }
    }
}

/// The `detail` of `consent:change`: `{method, granted, refused, withdrawn, language}`, purpose ids.
/// `granted` and `refused` are copied: what a page does with the event's arrays must not change what
/// the banner allows.
#[cfg(feature = "full")]
pub(crate) fn change_detail(
    method: Method,
    granted: &Array,
    refused: &Array,
    withdrawn: &Array,
    language: &str,
) -> JsValue {
    let detail = object();
    set_str(&detail, "method", method.as_str());
    set(&detail, "granted", &granted.slice(0, granted.length()));
    set(&detail, "refused", &refused.slice(0, refused.length()));
    set(&detail, "withdrawn", withdrawn);
    set_str(&detail, "language", language);
    detail
}

/// What `consent.set` takes: an object of one or more purpose ids, each `true` or `false`.
#[cfg(feature = "full")]
fn is_choice(value: &JsValue) -> bool {
    let values = match value.dyn_ref::<js_sys::Object>() {
        Some(object) if !Array::is_array(value) => js_sys::Object::values(object),
        _ => return false,
    };
    values.length() > 0 && values.iter().all(|v| v.as_bool().is_some())
}
