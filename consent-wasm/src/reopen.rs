//! The way back in: a small floating button, shown after a choice (and on a return visit), that reopens
//! the dialog on its second layer.

use alloc::string::String;

use wasm_bindgen::prelude::*;

use crate::dom::{append, document, element, find, set_text};
use crate::policy::PolicyView;

/// The class of the floating button that reopens the dialog after a choice.
pub const REOPEN_CLASS: &str = "consent-reopen";

/// Adds the floating button in `language`, unless it is there already. Its label comes with the
/// `policy`; without one (a kept choice, or no server) it is the banner's own. A click on it reaches
/// the dispatcher's document listener (`data-consent-action="open"`).
pub(crate) fn show(policy: Option<&PolicyView>, language: &str) {
    let doc = document();
    let mut selector = String::from(".");
    selector.push_str(REOPEN_CLASS);
    let (None, Some(body)) = (find(&doc, &selector), doc.body()) else {
        return;
    };
    let label = match policy {
        Some(policy) => policy.ui("settings"),
        None => JsValue::from_str(crate::texts::settings_without_policy(language)),
    };
    let b = element(
        "button",
        REOPEN_CLASS,
        &[
            ("type", "button"),
            ("data-consent-action", "open"),
            ("lang", language),
        ],
    );
    set_text(&b, &label);
    append(&body, &b);
}
