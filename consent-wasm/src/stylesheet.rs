//! The banner's stylesheet (`banner.css`, or `data-css`): the dialog, the floating button and the
//! placeholders wait for it, so that nothing shows unstyled.

use alloc::string::String;

use wasm_bindgen::prelude::*;
use web_sys::HtmlLinkElement;

use crate::dom::{append, attr, document, element, find, get, set};
use crate::step::{Dispatch, Step};

/// Adds the stylesheet at `href` (the bootstrap may have added it already, while the wasm was
/// loading). `true` when it is there already (or there is none to load: `data-css="none"`);
/// otherwise [`Step::Css`] comes when it has loaded, failed, or after 3 s.
pub(crate) fn load(href: Option<&String>, dispatch: &Dispatch) -> bool {
    let Some(href) = href else {
        return true;
    };
    let doc = document();
    let link: HtmlLinkElement = match find(&doc, "link[data-consent-banner]") {
        Some(link) if get(&link, "sheet").is_truthy() => return true,
        Some(link) => link.unchecked_into(),
        _ => {
            let link: HtmlLinkElement =
                element("link", "", &[("data-consent-banner", "")]).unchecked_into();
            attr(&link, "rel", "stylesheet");
            attr(&link, "href", href);
            if let Some(head) = doc.head() {
                append(&head, &link);
            }
            link
        }
    };
    let done = dispatch.callback(Step::Css);
    set(&link, "onload", &done);
    set(&link, "onerror", &done);
    crate::dom::timeout(&done, 3000);
    false
}
