//! The steps of the banner's flow: what a callback is about, and how the dispatcher is bound to one.
//!
//! Every callback the browser makes into the banner (a click, the dialog's `cancel`, a fetch answer, a
//! timer, `window.consent`'s functions) is the one dispatcher (`dispatcher.rs`) bound with
//! `Function.prototype.bind` to a [`Call`]: a [`Step`] and its [`Deferral`], carried as one JS number
//! ([`Call::code`]) and decoded once, when the dispatcher is called ([`Call::decode`]). Nothing else
//! reads or computes with the number.

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;

use crate::dom::{bind1, bind2, then1};

/// What a callback is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Step {
    /// A click anywhere on the page (one listener on `document`).
    Click,
    /// The dialog's `cancel` (Escape).
    Cancel,
    /// The dialog's `close`, by the browser.
    Close,
    /// The stylesheet has loaded, failed, or 3 s have passed.
    Css,
    /// The retry timer of a choice the server has not recorded yet.
    Retry,
    /// A blocked script file that was activated has loaded or failed.
    ScriptDone,
    /// A newer banner started on this page (tests do): this one lets go of the page.
    Stop,
    /// The answer to a policy request.
    Policy,
    /// A policy's parsed JSON.
    PolicyJson,
    /// A policy request or its JSON failed.
    PolicyFail,
    /// The answer to a choice's `POST`.
    Post,
    /// The JSON of that answer.
    PostJson,
    /// The `POST` or its JSON failed (the server could not be reached).
    PostFail,
    /// The answer to a receipt request.
    Receipt,
    /// The receipt's body, to save.
    ReceiptBlob,
    /// `consent.open()`: a command (see [`Step::is_command`]).
    Open,
    /// `consent.acceptAll()`: a command.
    AcceptAll,
    /// `consent.rejectAll()`: a command.
    RejectAll,
    /// `consent.set({…})`: a command.
    Set,
    /// `consent.get()`.
    Get,
    /// `consent.allows(purpose)`.
    Allows,
    /// `consent.on(name, f)`.
    On,
    /// The function `on` returns, which unsubscribes.
    Off,
    /// Elements were added to the page (a `MutationObserver`'s records): blocked scripts and embeds
    /// among them are held back or activated as they appear.
    Mutation,
}

impl Step {
    /// Every step, in the order of their discriminants (which [`Call::decode`] relies on).
    const ALL: [Step; 24] = [
        Step::Click,
        Step::Cancel,
        Step::Close,
        Step::Css,
        Step::Retry,
        Step::ScriptDone,
        Step::Stop,
        Step::Policy,
        Step::PolicyJson,
        Step::PolicyFail,
        Step::Post,
        Step::PostJson,
        Step::PostFail,
        Step::Receipt,
        Step::ReceiptBlob,
        Step::Open,
        Step::AcceptAll,
        Step::RejectAll,
        Step::Set,
        Step::Get,
        Step::Allows,
        Step::On,
        Step::Off,
        Step::Mutation,
    ];

    /// The JS API's commands: they always run in a microtask of their own ([`Deferral::Command`]),
    /// never inside the page's call.
    pub(crate) fn is_command(self) -> bool {
        matches!(
            self,
            Step::Open | Step::AcceptAll | Step::RejectAll | Step::Set
        )
    }
}

/// Whether a call was put off to a microtask, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Deferral {
    /// Called by the browser or the page.
    Now,
    /// A command of the JS API, in the microtask it was queued to.
    Command,
    /// Queued once because the banner was busy (called from inside its own work); dropped if it still
    /// is (see the dispatcher).
    Busy,
}

/// What the dispatcher is bound to: a step, and how it was deferred.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Call {
    pub(crate) step: Step,
    pub(crate) deferral: Deferral,
}

impl Call {
    /// The number `bind` carries: the step in the low byte, the deferral in the next.
    // Inlined: smaller wasm than a call (opt-level "z" ignores `#[inline]`; see README, Size).
    #[inline(always)]
    pub(crate) fn code(self) -> u32 {
        self.step as u32 | (self.deferral as u32) << 8
    }

    /// The call a number made by [`Call::code`] stands for (`None` for any other number).
    pub(crate) fn decode(code: u32) -> Option<Call> {
        let deferral = match code >> 8 {
            0 => Deferral::Now,
            1 => Deferral::Command,
            2 => Deferral::Busy,
            _ => return None,
        };
        let step = *Step::ALL.get((code & 0xff) as usize)?;
        Some(Call { step, deferral })
    }
}

/// The dispatcher, as the JS function every callback binds (see the module docs).
#[derive(Clone)]
pub(crate) struct Dispatch(pub(crate) Function);

impl Dispatch {
    /// `dispatcher.bind(null, step)`: a callback for `step`, called now.
    pub(crate) fn callback(&self, step: Step) -> Function {
        bind1(&self.0, &code(step, Deferral::Now))
    }

    /// `dispatcher.bind(null, step, value)`: a callback for `step` with its first argument given.
    pub(crate) fn callback_with(&self, step: Step, value: &JsValue) -> Function {
        bind2(&self.0, &code(step, Deferral::Now), value)
    }

    /// Calls the dispatcher with `step` and `value` in a microtask; returns that microtask's promise.
    pub(crate) fn later(&self, step: Step, deferral: Deferral, value: &JsValue) -> JsValue {
        then1(
            &Promise::resolve(&JsValue::UNDEFINED),
            &bind2(&self.0, &code(step, deferral), value),
        )
        .into()
    }
}

/// The JS number of a call.
// Inlined: smaller wasm than a call (opt-level "z" ignores `#[inline]`; see README, Size).
#[inline(always)]
fn code(step: Step, deferral: Deferral) -> JsValue {
    JsValue::from(Call { step, deferral }.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    const DEFERRALS: [Deferral; 3] = [Deferral::Now, Deferral::Command, Deferral::Busy];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn every_call_decodes_to_itself() {
        for (i, step) in Step::ALL.into_iter().enumerate() {
            assert_eq!(step as usize, i, "Step::ALL is out of order at {step:?}");
            for deferral in DEFERRALS {
                let call = Call { step, deferral };
                assert_eq!(Call::decode(call.code()), Some(call));
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn other_numbers_are_no_call() {
        let steps = Step::ALL.len() as u32;
        for code in [steps, 0xff, 3 << 8, (3 << 8) | 1, u32::MAX] {
            assert_eq!(Call::decode(code), None, "{code}");
        }
        assert_eq!(
            Call::decode(2 << 8 | 18),
            Some(Call {
                step: Step::Set,
                deferral: Deferral::Busy
            })
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn the_commands_are_the_four_that_change_the_choice() {
        let commands: std::vec::Vec<Step> =
            Step::ALL.into_iter().filter(|s| s.is_command()).collect();
        assert_eq!(
            commands,
            [Step::Open, Step::AcceptAll, Step::RejectAll, Step::Set]
        );
    }
}
