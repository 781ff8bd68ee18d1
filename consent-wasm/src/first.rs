//! The first visit's part (issue 18.2): what a page without a consent cookie loads before the dialog is
//! on screen, instead of the full banner. Its own build (`--no-default-features --features first`) and
//! entry point ([`first()`]): it tells Google Consent Mode its default, paints the dialog's first layer
//! from the current policy's banner view (`first_layer.rs`, the code the full banner writes that layer
//! with), shows it, and returns. Nothing else: no state, no listener, no request.
//!
//! The bootstrap (`banner.js`) calls it once the view, the stylesheet and the part are there, then
//! remembers a click on the dialog and holds Escape back (the first layer must be answered), and asks
//! for the full banner once the dialog is painted. The full banner adopts the dialog as it is
//! (`Dialog::adopt`): it reads the same view, installs `window.consent`, activates what needs no consent,
//! and answers the click made before it arrived, if any. So a first visit waits for this part's bytes
//! before the dialog is visible, and for the full banner's only when it answers.

use js_sys::Function;
use wasm_bindgen::prelude::*;
use web_sys::{Element, HtmlElement};

use crate::config::Config;
use crate::consent_mode::ConsentMode;
use crate::dom::stored;
use crate::first_layer;
use crate::logic::PENDING_KEY;
use crate::policy::Texts;

/// The entry point of the first visit's build, called by the bootstrap with the parsed banner view of
/// the current policy in the dialog's language (`GET /v1/policy/banner/{lang}`), the banner's
/// `<script>` and the bootstrap's `gtag` (as the return visit's part gets them): tells Google Consent Mode its
/// default (everything denied but security storage; `data-consent-mode`), paints the dialog's first
/// layer, shows it as a modal and returns it. `None`, having done nothing, when there is nothing to
/// paint: a choice is waiting in `localStorage` for the server (the full banner sends it; no dialog),
/// no `<script>` or a bad data attribute (the full banner reports it), the view does not read, or the
/// page has no `<body>`. The full banner then starts as it would without this part; otherwise it
/// does not send Consent Mode's default again.
#[wasm_bindgen]
pub fn first(
    view: JsValue,
    script: Option<Element>,
    gtag: Option<Function>,
) -> Option<HtmlElement> {
    if stored(PENDING_KEY).is_some() {
        return None;
    }
    let config = Config::read(&script?, None).ok()?;
    // A view carries its language: no page or browser languages to pick from.
    let texts = Texts::from_json(&view, &[])?;
    let root = first_layer::dialog()?;
    ConsentMode {
        map: config.consent_mode.as_ref(),
        gtag: gtag.as_ref(),
    }
    .default();
    first_layer::top(&root, &texts, false);
    first_layer::policy_link(&root, &texts);
    first_layer::actions(&root, &texts, "choose");
    first_layer::show(&root);
    Some(root)
}
