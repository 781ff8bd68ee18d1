//! The dispatcher: the one JS function through which the browser reaches the banner.
//!
//! Everything the browser calls back (clicks, the dialog's `cancel` and `close`, fetch answers, a script
//! that has loaded, a retry timer, the page's JS API) goes through one dispatcher: a single long-lived
//! `Closure` that owns the [`Banner`], and that every callback reaches as `dispatcher.bind(null, call)`
//! (a [`Step`] and its [`Deferral`], see `step.rs`). No futures executor, no closure per callback: that
//! is most of what keeps the banner inside its size budget (see DESIGN.md). Calls that arrive while the
//! banner is busy (a page listener of `consent:change` that clicks a button, say) are deferred to a
//! microtask instead of re-entering.

use alloc::rc::Rc;
use core::cell::RefCell;

use js_sys::Function;
use wasm_bindgen::prelude::*;

use crate::api::Api;
#[cfg(feature = "full")]
use crate::banner::Banner;
#[cfg(feature = "full")]
use crate::config::Config;
use crate::dom::{get, window};
use crate::step::{Call, Deferral, Dispatch, Step};

/// What a dispatcher drives: the full banner's state machine ([`Banner`]), or the return visit's first
/// part (`visit.rs`).
pub(crate) trait Handler: 'static {
    /// Takes the state one step further; what it returns goes back to the caller (a command's
    /// promise resolves to it).
    fn handle(&mut self, step: Step, value: JsValue) -> JsValue;
    /// A newer banner starts on this page: let go of it (dropping the state removes its listeners).
    fn stop(self);
}

/// Lets go of the banner already on this page, if any (`window.consent._stop()`), and makes the
/// dispatcher of a new one: the state starts empty (`None`) and is put in the returned cell once made.
pub(crate) fn dispatcher<H: Handler>(api: &Api) -> (Dispatch, Rc<RefCell<Option<H>>>) {
    // One banner per page: a banner started again (the browser tests do, and so does the full banner
    // taking over from the return visit's part) replaces the previous one, whose listeners go with it.
    // (`window.consent` is read only when it is an object: `Reflect.get` on `undefined` throws, and the
    // exception, caught, cost 1-3 ms of every page load before the dialog.)
    let previous = get(&window(), "consent");
    if previous.is_object()
        && let Ok(stop) = get(&previous, "_stop").dyn_into::<Function>()
    {
        // `call1` with nothing: one import less than `call0`, which nothing else needs.
        let _ = stop.call1(&JsValue::NULL, &JsValue::UNDEFINED);
    }
    let holder: Rc<RefCell<Option<H>>> = Rc::new(RefCell::new(None));
    let cell = Rc::clone(&holder);
    let js_api = api.clone();
    let closure = Closure::<dyn Fn(u32, JsValue, JsValue) -> JsValue>::new(
        move |code: u32, a: JsValue, b: JsValue| -> JsValue {
            // The one place where the number a callback is bound to becomes a step.
            let Some(call) = Call::decode(code) else {
                return JsValue::UNDEFINED;
            };
            if let Some(answer) = js_api.call(call, &a, &b) {
                return answer;
            }
            match cell.try_borrow_mut() {
                Ok(mut state) if call.step == Step::Stop => {
                    // Late callbacks find nothing.
                    if let Some(state) = state.take() {
                        state.stop();
                    }
                    JsValue::UNDEFINED
                }
                Ok(mut state) => match state.as_mut() {
                    Some(state) => state.handle(call.step, a),
                    None => JsValue::UNDEFINED,
                },
                // Busy: called from inside the banner's own work (a page listener that clicks, say);
                // runs in a microtask, when the banner's work is done.
                Err(_) if call.deferral != Deferral::Busy => {
                    js_api.dispatch().later(call.step, Deferral::Busy, &a)
                }
                // Still busy in a microtask, when no banner code is on the stack: the state was left
                // borrowed by a trap, and the banner is gone. Dropped, rather than retried forever
                // (a microtask loop would freeze the page).
                Err(_) => JsValue::UNDEFINED,
            }
        },
    );
    let dispatch = Dispatch(closure.into_js_value().unchecked_into());
    api.set_dispatch(&dispatch);
    (dispatch, holder)
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
#[cfg(feature = "full")]
pub fn start(config: Config) {
    start_after(config, None, None);
}

/// [`start`], taking over from the return visit's first part (`handover`: its state object, which the
/// bootstrap passes to [`boot`](crate::boot); see `visit.rs`): its `consent.on` listeners stay
/// subscribed, `consent:ready` is not fired again, Consent Mode's `default` is not sent again, and the
/// script file it was waiting for holds the next script back as if this banner had inserted it.
/// Taking over from the first visit's part instead (`painted`, see `first.rs`), it adopts the dialog that
/// part painted, and answers the click made on it before this banner arrived.
#[cfg(feature = "full")]
pub(crate) fn start_after(
    config: Config,
    handover: Option<JsValue>,
    painted: Option<js_sys::Object>,
) {
    let api = Api::new(handover.as_ref());
    let (dispatch, holder) = dispatcher::<Banner>(&api);
    *holder.borrow_mut() = Some(Banner::new(config, dispatch, api));
    if let Some(banner) = holder.borrow_mut().as_mut() {
        banner.boot(handover.as_ref(), painted);
    }
}

#[cfg(feature = "full")]
impl Handler for Banner {
    fn handle(&mut self, step: Step, value: JsValue) -> JsValue {
        Banner::handle(self, step, value);
        JsValue::UNDEFINED
    }

    fn stop(self) {}
}
