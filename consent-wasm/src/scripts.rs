//! Blocked scripts: `<script type="text/plain" data-consent="<purpose id>">` (inline text, or `data-src`
//! for a file) stay inert until their purpose is granted; then each is replaced by a real `<script>`,
//! in document order.

use js_sys::{Function, Promise};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlScriptElement};

use crate::dom::document;

/// The blocked scripts still waiting on the page.
pub(crate) const SELECTOR: &str = "script[type=\"text/plain\"][data-consent]";

/// Whether the page has any blocked script left.
pub(crate) fn any_waiting() -> bool {
    document().query_selector(SELECTOR).ok().flatten().is_some()
}

/// A promise that settles when `script` has loaded or failed to.
fn settled(script: &HtmlScriptElement) -> Promise {
    Promise::new(&mut |resolve: Function, _reject: Function| {
        script.set_onload(Some(&resolve));
        script.set_onerror(Some(&resolve));
    })
}

/// Activates the blocked scripts whose purpose is in `granted`, one after the other in document order:
/// an inline script runs when it is inserted; for a file, the next script waits until it has loaded (or
/// failed), as the parser would. Other scripts stay blocked.
pub(crate) async fn activate(granted: &[String]) {
    let doc = document();
    let Ok(list) = doc.query_selector_all(SELECTOR) else {
        return;
    };
    for i in 0..list.length() {
        let Some(old) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
            continue;
        };
        let purpose = old.get_attribute("data-consent").unwrap_or_default();
        if !old.is_connected() || !granted.contains(&purpose) {
            continue;
        }
        let Ok(new) = doc.create_element("script") else {
            return;
        };
        let new: HtmlScriptElement = new.unchecked_into();
        // Same attributes (id, class, data-consent, integrity, crossorigin…), except the blocking
        // `type`; `data-type` (e.g. "module") becomes the real type, `data-src` the source.
        for name in old
            .get_attribute_names()
            .iter()
            .filter_map(|n| n.as_string())
        {
            if !matches!(name.as_str(), "type" | "data-type" | "data-src")
                && let Some(value) = old.get_attribute(&name)
            {
                let _ = new.set_attribute(&name, &value);
            }
        }
        if let Some(kind) = old.get_attribute("data-type") {
            new.set_type(&kind);
        }
        let loading = match old.get_attribute("data-src") {
            Some(src) => {
                let loading = settled(&new);
                new.set_async(false);
                new.set_src(&src);
                Some(loading)
            }
            None => {
                let _ = new.set_text(&old.text_content().unwrap_or_default());
                None
            }
        };
        if old.replace_with_with_node_1(&new).is_err() {
            continue;
        }
        if let Some(loading) = loading {
            let _ = loading.await;
        }
    }
}
