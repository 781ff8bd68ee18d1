//! Small DOM helpers, and [`Listener`]: an event listener that is removed when dropped.

use wasm_bindgen::prelude::*;
use web_sys::{Document, Element, Event, EventTarget, HtmlDocument, HtmlElement};

/// The page's document (the banner only runs in a window).
pub(crate) fn document() -> Document {
    web_sys::window()
        .and_then(|w| w.document())
        .expect_throw("consent banner: no document")
}

/// The document as an HTML document (for `document.cookie`).
pub(crate) fn html_document() -> HtmlDocument {
    document().unchecked_into()
}

/// A new element with `class`.
pub(crate) fn element(doc: &Document, tag: &str, class: &str) -> HtmlElement {
    let el: HtmlElement = doc.create_element(tag).unwrap_throw().unchecked_into();
    if !class.is_empty() {
        el.set_class_name(class);
    }
    el
}

/// Sets attributes, throwing on failure (only fails for invalid names, which are constants here).
pub(crate) fn set_attrs(el: &Element, attrs: &[(&str, &str)]) {
    for (name, value) in attrs {
        el.set_attribute(name, value).unwrap_throw();
    }
}

/// An event listener that lives as long as this value: dropping it removes the listener from its target
/// and frees the closure (nothing is leaked with `Closure::forget`).
pub struct Listener {
    target: EventTarget,
    kind: &'static str,
    callback: Closure<dyn FnMut(Event)>,
}

impl Listener {
    /// Calls `f` for every `kind` event on `target` until the returned value is dropped.
    pub fn new(target: &EventTarget, kind: &'static str, f: impl FnMut(Event) + 'static) -> Self {
        let callback = Closure::<dyn FnMut(Event)>::new(f);
        target
            .add_event_listener_with_callback(kind, callback.as_ref().unchecked_ref())
            .unwrap_throw();
        Listener {
            target: target.clone(),
            kind,
            callback,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Dropping a listener from inside its own callback is fine: wasm-bindgen frees the closure
        // after the call returns.
        let _ = self
            .target
            .remove_event_listener_with_callback(self.kind, self.callback.as_ref().unchecked_ref());
    }
}

impl core::fmt::Debug for Listener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Listener")
            .field("kind", &self.kind)
            .finish()
    }
}
