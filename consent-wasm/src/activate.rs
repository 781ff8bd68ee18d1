//! What runs once its purpose is granted.
//!
//! Scripts: `<script type="text/plain" data-consent="<purpose id>">` (inline text, or `data-src` for a
//! file) become real scripts in document order: an inline one runs when inserted; after a file, the
//! next waits until it has loaded or failed, as the HTML parser would.
//!
//! Embeds: `<iframe data-consent="…" data-src="…">` and `<img data-consent="…" data-src="…">` get their
//! `src`. Until then each shows a placeholder of its size that offers "load once" (this embed, now,
//! nothing recorded) and "always allow" (a choice that grants its purpose).
//!
//! Both are found on every choice and page load, and as the page adds them ([`added_blocked`], from a
//! `MutationObserver`: single-page applications, lazy HTML).
//!
//! It sees only what may run (the granted purpose ids), the policy (for the placeholders' words) and
//! the dispatcher (a script file's `load` resumes it); its own state is whether a script file is
//! loading ([`Activation`]).

use alloc::string::String;

use js_sys::Array;
use wasm_bindgen::prelude::*;
use web_sys::{Element, HtmlScriptElement};

use crate::dom::{
    add, all, attr, attr_value, button, element, element_or_none, find, get, items, join, matches,
    set, set_str, string,
};
use crate::policy::PolicyView;
use crate::step::{Dispatch, Step};

const SCRIPTS: &str = "script[type=\"text/plain\"][data-consent]";
const EMBEDS: &str = "iframe[data-consent][data-src],img[data-consent][data-src]";
const PLACEHOLDER: &str = "consent-embed";
/// Either of the above.
const BLOCKED: &str = "script[type=\"text/plain\"][data-consent],iframe[data-consent][data-src],img[data-consent][data-src]";

/// Whether mutation `records` (a `MutationObserver`'s) added a blocked script or embed, or an element
/// holding one. What activation itself adds (real scripts, placeholders) is neither, and embeds lose
/// their `data-src` as they load: activation never wakes itself up.
pub(crate) fn added_blocked(records: &JsValue) -> bool {
    let Ok(records) = records.clone().dyn_into::<Array>() else {
        return false;
    };
    items(&records).any(|record| {
        // A `NodeList`, read as an array (`dom::all_in` says why); a text node matches nothing and
        // holds nothing (both calls throw on it, read as no).
        items(get(&record, "addedNodes").unchecked_ref())
            .any(|node| matches(&node, BLOCKED) || find(&node, BLOCKED).is_some())
    })
}

/// The activation's own state: the script file it inserted that is loading, if any.
#[derive(Default)]
pub(crate) struct Activation {
    /// A blocked script file that is loading; the next script waits for it.
    waiting: Option<Element>,
}

impl Activation {
    /// A script file has loaded or failed ([`Step::ScriptDone`]): the next may run.
    pub(crate) fn script_done(&mut self) {
        self.waiting = None;
    }

    /// The script file that is loading, if any (a banner taking over waits for it too).
    #[cfg(feature = "visit")]
    pub(crate) fn waiting(&self) -> Option<&Element> {
        self.waiting.as_ref()
    }

    /// Waits for `script`, a file that the banner this one takes over from inserted and that is
    /// loading: its `load` or `error` now reaches this banner ([`Step::ScriptDone`]).
    #[cfg(feature = "full")]
    pub(crate) fn adopt(&mut self, script: Element, dispatch: &Dispatch) {
        let done = dispatch.callback(Step::ScriptDone);
        set(&script, "onload", &done);
        set(&script, "onerror", &done);
        self.waiting = Some(script);
    }

    /// Activates what may run (`granted`: purpose ids): embeds at once, scripts in order (stopping at a
    /// file that is loading; [`Step::ScriptDone`] resumes). Puts placeholders on embeds that stay
    /// blocked, once the `policy` is there (for the purposes' titles and the placeholder's words);
    /// without it, `true` when an embed stays blocked without one (the return visit's part, which has
    /// no policy, leaves placeholders to the full banner).
    pub(crate) fn run(
        &mut self,
        granted: &Array,
        policy: Option<&PolicyView>,
        dispatch: &Dispatch,
    ) -> bool {
        let mut unplaced = false;
        for embed in all(EMBEDS) {
            // Compared as the JS string it is: no copy into Rust on the return visit's path.
            let purpose = attr_value(&embed, "data-consent");
            if granted.includes(&purpose, 0) {
                load(&embed);
            } else if let Some(policy) = policy {
                placeholder(policy, &embed, &purpose.as_string().unwrap_or_default());
            } else {
                unplaced |= !crate::dom::has_attr(&embed, "hidden");
            }
        }
        if self.waiting.is_none() {
            self.scripts(granted, dispatch);
        }
        unplaced
    }

    /// Turns the blocked scripts that may run into real ones, in document order, up to the first file.
    fn scripts(&mut self, granted: &Array, dispatch: &Dispatch) {
        for old in all(SCRIPTS) {
            if !get(&old, "isConnected").is_truthy()
                || !granted.includes(&attr_value(&old, "data-consent"), 0)
            {
                continue;
            }
            let new: HtmlScriptElement = element("script", "", &[]).unchecked_into();
            // Same attributes (id, class, data-consent, integrity, crossorigin…), except the blocking
            // `type`; `data-type` (e.g. "module") becomes the real type, `data-src` the source.
            for name in items(&old.get_attribute_names()).filter_map(|n| n.as_string()) {
                if !matches!(name.as_str(), "type" | "data-type" | "data-src")
                    && let Some(value) = crate::dom::attr_string(&old, &name)
                {
                    // The page's own attribute names: one the parser accepted may be one `setAttribute`
                    // refuses (`=x`), so this call checks (the others are the banner's own names).
                    let _ = new.set_attribute(&name, &value);
                }
            }
            // The nonce from the property: a page whose CSP comes in a header has its `nonce` attributes
            // emptied once parsed (so that no CSS selector can read them).
            let nonce = get(&old, "nonce");
            if nonce.is_truthy() {
                set(&new, "nonce", &nonce);
            }
            if let Some(kind) = crate::dom::attr_string(&old, "data-type") {
                set_str(&new, "type", &kind);
            }
            let src = crate::dom::attr_string(&old, "data-src");
            match &src {
                Some(src) => {
                    let done = dispatch.callback(Step::ScriptDone);
                    set(&new, "onload", &done);
                    set(&new, "onerror", &done);
                    // Inserted scripts are async by default: this one runs in order.
                    set(&new, "async", &JsValue::FALSE);
                    set_str(&new, "src", src);
                }
                None => {
                    set(&new, "text", &get(&old, "textContent"));
                }
            }
            // A `nomodule` file never loads (nor fails) where modules run: nothing waits for it.
            crate::dom::replace(&old, &new);
            if src.is_some() && !crate::dom::has_attr(&new, "nomodule") {
                self.waiting = Some(new.into());
                return;
            }
        }
    }
}

/// Gives an embed its source, and removes its placeholder (and the `hidden` that the placeholder put
/// on it; one the page put on an embed without a placeholder stays).
fn load(embed: &Element) {
    if let Some(p) = element_or_none(get(embed, "previousElementSibling"))
        && string(&p, "className").as_deref() == Some(PLACEHOLDER)
    {
        p.remove();
        crate::dom::remove_attr(embed, "hidden");
    }
    if let Some(src) = crate::dom::attr_string(embed, "data-src") {
        crate::dom::remove_attr(embed, "data-src");
        attr(embed, "src", &src);
    }
}

/// Hides a blocked embed behind a placeholder of the same size (once; needs the stylesheet).
fn placeholder(policy: &PolicyView, embed: &Element, purpose: &str) {
    if crate::dom::has_attr(embed, "hidden") {
        return;
    }
    let title = match policy.purpose_json(purpose) {
        Some(json) => policy.purpose_text(&json, "title"),
        None => JsValue::from_str(purpose),
    };
    let p = element("div", PLACEHOLDER, &[("lang", &policy.language)]);
    // The embed's box (measured before it is hidden; an embed without `src` is laid out all the same),
    // in its place: nothing moves when the placeholder comes, nor when the embed loads. In the page's
    // flow it is taller only when its text and buttons need more (a small embed, large text): never cut
    // off. Placed absolutely like the embed (over a box of the page's own size), it cannot push what
    // follows down, so it keeps the embed's height and what does not fit scrolls inside it.
    let style = p.style();
    let rect = embed.get_bounding_client_rect();
    // The embed's computed style when it is placed absolutely.
    let absolute = crate::dom::window()
        .get_computed_style(embed)
        .ok()
        .flatten()
        .filter(|c| c.get_property_value("position").ok().as_deref() == Some("absolute"));
    let height = if absolute.is_some() {
        "height"
    } else {
        "min-height"
    };
    for (name, value) in [("width", rect.width()), (height, rect.height())] {
        let mut px = String::new();
        crate::logic::push_u64(&mut px, value.max(0.0) as u64, 1);
        px.push_str("px");
        let _ = style.set_property(name, &px);
    }
    if let Some(computed) = absolute {
        for name in ["position", "top", "left"] {
            if let Ok(value) = computed.get_property_value(name) {
                let _ = style.set_property(name, &value);
            }
        }
    }
    add(&p, "p", "", &join(&policy.ui("blocked"), " ", &title));
    for action in ["load-once", "always-allow"] {
        button(&p, action, &policy.ui(action));
    }
    let _ = embed.before_with_node_1(&p);
    attr(embed, "hidden", "");
}

/// A click on a placeholder's button: load this embed only ("load once"), or, when `always`, the
/// purpose to grant ("always allow": a choice, recorded like any other, that keeps everything else as it
/// is; the caller makes it).
#[cfg(feature = "full")]
pub(crate) fn placeholder_click(button: &Element, always: bool) -> Option<String> {
    let embed = crate::dom::closest(button, ".consent-embed")
        .and_then(|p| element_or_none(get(&p, "nextElementSibling")))?;
    if !always {
        load(&embed);
        return None;
    }
    crate::dom::attr_string(&embed, "data-consent")
}
