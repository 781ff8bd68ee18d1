//! The dialog's element and its first layer, written once for both parts that show it: the first
//! visit's part (`first.rs`), which paints the first layer before the full banner has loaded, and the
//! full banner's dialog (`dialog.rs`), which writes the same layer around its second one and adopts the
//! dialog the first part painted. The same code for the same words in the same order, so that what the
//! first part painted is what the full banner would have written (the browser tests compare the two).

use wasm_bindgen::prelude::*;
use web_sys::{Element, HtmlDialogElement, HtmlElement};

use crate::dom::{add, append, attr, button, element, get, join, string};
use crate::policy::Texts;
use crate::texts::{LANGUAGES, language_name};

/// The dialog's element id.
pub const DIALOG_ID: &str = "consent-banner";
pub(crate) const TITLE_ID: &str = "consent-banner-title";
const DESCRIPTION_ID: &str = "consent-banner-description";

/// A new, empty dialog added to the page's `<body>` (`None` without one), not shown yet.
pub(crate) fn dialog() -> Option<HtmlElement> {
    let root = element(
        "dialog",
        "consent-banner",
        &[
            ("id", DIALOG_ID),
            ("role", "dialog"),
            ("aria-modal", "true"),
            ("aria-labelledby", TITLE_ID),
            ("aria-describedby", DESCRIPTION_ID),
            ("tabindex", "-1"),
        ],
    );
    let body = crate::dom::document().body()?;
    append(&body, &root);
    Some(root)
}

/// Shows the dialog as a modal (`showModal()`: the page behind it is inert) and focuses the dialog
/// itself, so that a screen reader reads its title and description first (then Tab reaches the
/// controls; `showModal` would focus the first control).
pub(crate) fn show(root: &HtmlElement) {
    let _ = root.unchecked_ref::<HtmlDialogElement>().show_modal();
    let _ = root.focus();
}

/// The top of the dialog, into the empty `root`: its language, the title (the close button beside it
/// when `close` names it), the description.
pub(crate) fn top(root: &Element, texts: &Texts, close: bool) {
    attr(root, "lang", &texts.language);
    let head = add(root, "div", "consent-banner__head", &JsValue::UNDEFINED);
    let title = add(&head, "h2", "consent-banner__title", &texts.ui("title"));
    attr(&title, "id", TITLE_ID);
    attr(&title, "elementtiming", "consent-banner");
    if close {
        let close = button(&head, "close", &JsValue::from_str("×"));
        if let Some(label) = texts.ui("close").as_string() {
            attr(&close, "aria-label", &label);
        }
        attr(&close, "class", "consent-banner__close");
    }
    let description = add(
        root,
        "p",
        "consent-banner__description",
        &texts.ui("description"),
    );
    attr(&description, "id", DESCRIPTION_ID);
}

/// The link to the policy, naming the exact version the choice is made under.
pub(crate) fn policy_link(root: &Element, texts: &Texts) {
    if let Some(url) = string(&texts.json, "url") {
        let label = join(
            &texts.text(&get(&texts.json, "title")),
            " (",
            &JsValue::from_str(&texts.version.text()),
        )
        .concat(&JsValue::from_str(")"));
        let p = add(root, "p", "", &JsValue::UNDEFINED);
        let link = add(&p, "a", "consent-banner__policy", &label);
        attr(&link, "href", &url);
        attr(&link, "target", "_blank");
        attr(&link, "rel", "noopener");
    }
}

/// The bottom: three buttons of equal weight in one row (accepting is no easier than rejecting), the
/// third `"choose"` (to the second layer) or `"save"` (on it); then the language switcher, after the
/// buttons (a keyboard reaches "Reject all" first, issue 18.5): the policy's languages the banner
/// speaks, each in its own name.
pub(crate) fn actions(root: &Element, texts: &Texts, third: &str) {
    let actions = add(root, "div", "consent-banner__actions", &JsValue::UNDEFINED);
    for action in ["accept-all", "reject-all", third] {
        button(&actions, action, &texts.ui(action));
    }
    let switcher = add(
        root,
        "div",
        "consent-banner__languages",
        &JsValue::UNDEFINED,
    );
    attr(&switcher, "role", "group");
    if let Some(label) = texts.ui("language").as_string() {
        attr(&switcher, "aria-label", &label);
    }
    for l in LANGUAGES {
        if texts.languages.iter().any(|p| p == l) {
            let lb = add(
                &switcher,
                "button",
                "consent-banner__language",
                &JsValue::from_str(language_name(l)),
            );
            attr(&lb, "type", "button");
            attr(&lb, "lang", l);
            attr(&lb, "data-consent-lang", l);
            attr(
                &lb,
                "aria-pressed",
                if *l == *texts.language {
                    "true"
                } else {
                    "false"
                },
            );
        }
    }
}
