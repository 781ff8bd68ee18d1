//! The way back in: a small floating button, shown after a choice (and on a return visit), that reopens
//! the dialog on its second layer.

use wasm_bindgen::prelude::*;

use crate::dom::{append, document, element, find, set_text};
use crate::policy::PolicyView;

/// The class of the floating button that reopens the dialog after a choice.
pub const REOPEN_CLASS: &str = "consent-reopen";
/// [`REOPEN_CLASS`] as a selector.
const REOPEN_SELECTOR: &str = ".consent-reopen";

/// Adds the floating button in `language`, unless it is there already. Its label comes with the
/// `policy`; without one (a kept choice, or no server) it is the banner's own. A click on it reaches
/// the dispatcher's document listener (`data-consent-action="open"`).
pub(crate) fn show(policy: Option<&PolicyView>, language: &str) {
    let doc = document();
    let (None, Some(body)) = (find(&doc, REOPEN_SELECTOR), doc.body()) else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn the_selector_names_the_class() {
        assert_eq!(REOPEN_SELECTOR.strip_prefix('.'), Some(REOPEN_CLASS));
    }
}
