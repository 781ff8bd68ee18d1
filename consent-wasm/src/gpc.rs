//! Global Privacy Control on a return visit (issue 18.7): which choices were made with the signal on.
//!
//! A browser that sends Global Privacy Control has its marketing purposes refused, also when the
//! consent token, from a choice made before the signal was on, grants them: the banner withdraws them
//! and records it ([`consent_core::PurposeScope::gpc_withdrawal`]). A choice made with the signal on
//! stands as made (the visitor switched marketing on in the second layer, where it showed off), or the
//! banner would undo it on every page. The token does not say whether its choice was made with the
//! signal; the server's answer does (`gpc`), and the banner keeps the receipt id of such a choice in
//! `localStorage` (`consent-gpc`, the consent record's own storage, written only after a choice). Lost
//! (storage cleared), the marketing purposes are withdrawn again: the safe side.

use consent_core::TokenClaims;
use wasm_bindgen::JsValue;

use crate::dom::{get, stored, window};

/// The `localStorage` key of the receipt id of the last choice made with the signal on.
const GPC_KEY: &str = "consent-gpc";

/// `navigator.globalPrivacyControl`: the visitor's browser sends the signal.
pub(crate) fn signal() -> bool {
    // `=== true` through `==` (an import the banner has anyway), not `as_bool` (one more).
    get(&get(&window(), "navigator"), "globalPrivacyControl") == JsValue::TRUE
}

/// Whether the choice of `token` was made with Global Privacy Control on.
pub(crate) fn chosen_with(token: &TokenClaims) -> bool {
    stored(GPC_KEY).is_some_and(|id| id == token.receipt.hyphenated())
}

#[cfg(feature = "full")]
/// Remembers that the choice of `token` was made with Global Privacy Control on.
pub(crate) fn remember(token: &TokenClaims) {
    if let Some(s) = crate::dom::storage() {
        let _ = s.set_item(GPC_KEY, &token.receipt.hyphenated());
    }
}
