//! Small DOM helpers, the few browser functions web-sys does not bind the way the banner needs them,
//! `fetch`'s options, and [`Listener`]: an event listener that is removed when dropped.

// The first visit's part alone (`--features first`) uses a handful of these helpers; the others are
// the full banner's and the return visit's, and never reach its wasm (the linker drops them).
#![cfg_attr(not(any(feature = "full", feature = "visit")), allow(dead_code))]

use alloc::string::String;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::{Document, Element, EventTarget, HtmlDocument, HtmlElement, Window};
#[cfg(feature = "full")]
use web_sys::{RequestInit, Response};

#[wasm_bindgen]
extern "C" {
    /// The global object, through which the page's `window` and `document` are read (cheaper than
    /// web-sys's `window()`, which probes every global object; and than a `thread_local_v2` static,
    /// which keeps each in a lazily initialised cell: about 200 B of wasm for the two).
    #[wasm_bindgen(js_name = globalThis)]
    type Global;
    /// `globalThis.window`.
    #[wasm_bindgen(static_method_of = Global, js_class = "globalThis", getter = window)]
    fn get_window() -> Window;
    /// `globalThis.document`.
    #[wasm_bindgen(static_method_of = Global, js_class = "globalThis", getter = document)]
    fn get_document() -> Document;
    // DOM calls that cannot throw with the banner's arguments (constant tag and attribute names, new
    // elements), bound without `catch`: no `Result` to check at each of the many call sites.
    /// A DOM node, seen through these bindings.
    type Dom;
    #[wasm_bindgen(method, js_name = createElement)]
    fn create(this: &Dom, tag: &str) -> HtmlElement;
    #[wasm_bindgen(method, js_name = setAttribute)]
    fn set_attr(this: &Dom, name: &str, value: &str);
    #[wasm_bindgen(method, js_name = appendChild)]
    fn append_node(this: &Dom, child: &Element);
    #[wasm_bindgen(method, js_name = getAttribute)]
    fn get_attr(this: &Dom, name: &str) -> JsValue;
    #[wasm_bindgen(method, setter = textContent)]
    fn set_text_content(this: &Dom, text: &JsValue);
    // Calls that never throw with the banner's arguments (a function, an attribute name, the options
    // object below), bound without web-sys's `catch`: no exception wrapper in the glue, no check in
    // the wasm.
    #[wasm_bindgen(method, js_name = removeAttribute)]
    fn remove_attr(this: &Dom, name: &str);
    #[wasm_bindgen(method, js_name = addEventListener)]
    fn listen(this: &Dom, kind: &str, callback: &Function);
    #[wasm_bindgen(method, js_name = removeEventListener)]
    fn unlisten(this: &Dom, kind: &str, callback: &Function);
    #[wasm_bindgen(method)]
    fn observe(this: &Dom, target: &Document, options: &JsValue);
    #[wasm_bindgen(method, js_name = dispatchEvent)]
    fn dispatch_event(this: &Dom, event: &JsValue);
    #[wasm_bindgen(method, js_name = replaceWith)]
    fn replace_with(this: &Dom, node: &Element);
    #[wasm_bindgen(method, js_name = setTimeout)]
    fn set_timeout(this: &Dom, callback: &Function, ms: u32);
    /// `new CustomEvent(…)`, seen through these bindings.
    #[wasm_bindgen(js_name = CustomEvent)]
    type NewEvent;
    #[wasm_bindgen(constructor, js_class = "CustomEvent")]
    fn new(kind: &str, init: &JsValue) -> NewEvent;
    /// `new MutationObserver(…)`, seen through these bindings.
    #[wasm_bindgen(js_name = MutationObserver)]
    type NewObserver;
    #[wasm_bindgen(constructor, js_class = "MutationObserver")]
    fn new(callback: &Function) -> NewObserver;
    // One binding for a document and an element alike (web-sys has one per type, and each is one more
    // import, with its JS function, in the build).
    #[wasm_bindgen(method, catch, js_name = querySelector)]
    fn query(this: &Dom, selector: &str) -> Result<Option<Element>, JsValue>;
    // `closest` and `matches` on any value (an event's target, an added node): with `catch`, what is
    // not an element throws and reads as no match, without an `instanceof Element` import to check.
    #[wasm_bindgen(method, catch, js_name = closest)]
    fn closest_el(this: &Dom, selector: &str) -> Result<Option<Element>, JsValue>;
    #[wasm_bindgen(method, catch, js_name = matches)]
    fn matches_el(this: &Dom, selector: &str) -> Result<bool, JsValue>;
    #[wasm_bindgen(method, catch, js_name = querySelectorAll)]
    // The `NodeList` is read through `Array`'s `length` and index getter, which it has too: one
    // import each for lists and arrays, instead of two.
    fn query_all(this: &Dom, selector: &str) -> Result<Array, JsValue>;
    /// An array, seen through these bindings.
    type Items;
    // js-sys's `splice` always inserts an item.
    #[wasm_bindgen(method)]
    fn splice(this: &Items, start: u32, count: u32);
    /// `JSON.parse`.
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    pub(crate) fn json_parse(text: &str) -> Result<JsValue, JsValue>;
    /// `JSON.stringify`.
    #[wasm_bindgen(js_namespace = JSON, js_name = stringify)]
    pub(crate) fn json_stringify(value: &JsValue) -> String;
    /// A promise, seen through the methods web-sys and js-sys bind with closures only.
    type Thenable;
    #[wasm_bindgen(method, js_name = then)]
    fn then_fn(this: &Thenable, resolved: &Function, rejected: &JsValue) -> Promise;
    /// A function, seen through an untyped `bind`.
    type Bindable;
    #[wasm_bindgen(method, js_name = bind)]
    fn bind_fn(this: &Bindable, context: &JsValue, a: &JsValue, b: &JsValue) -> Function;
    #[wasm_bindgen(method, js_name = bind)]
    fn bind_one(this: &Bindable, context: &JsValue, a: &JsValue) -> Function;
}

#[cfg(feature = "full")]
/// `promise.then(resolved, rejected)` with plain JS functions (js-sys takes closures).
pub(crate) fn then2(promise: &Promise, resolved: &Function, rejected: &Function) -> Promise {
    promise
        .unchecked_ref::<Thenable>()
        .then_fn(resolved, rejected)
}

/// `promise.then(resolved)` with a plain JS function.
pub(crate) fn then1(promise: &Promise, resolved: &Function) -> Promise {
    promise
        .unchecked_ref::<Thenable>()
        .then_fn(resolved, &JsValue::UNDEFINED)
}

/// `f.bind(null, a)`: a function that calls `f(a, …its own arguments)`.
pub(crate) fn bind1(f: &Function, a: &JsValue) -> Function {
    f.unchecked_ref::<Bindable>().bind_one(&JsValue::NULL, a)
}

/// `f.bind(null, a, b)`.
pub(crate) fn bind2(f: &Function, a: &JsValue, b: &JsValue) -> Function {
    f.unchecked_ref::<Bindable>().bind_fn(&JsValue::NULL, a, b)
}

/// The window (the banner only runs in one).
pub(crate) fn window() -> Window {
    Global::get_window()
}

/// The page's `localStorage`, if it may be used (reading it throws where the browser blocks storage).
pub(crate) fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// The `localStorage` entry `key`, if storage may be used and the entry is there: one function for
/// every entry the banner reads (each read inlined was wasm bytes of its own).
pub(crate) fn stored(key: &str) -> Option<String> {
    storage()?.get_item(key).ok().flatten()
}

/// The page's document.
pub(crate) fn document() -> Document {
    Global::get_document()
}

/// The document as an HTML document (for `document.cookie`).
pub(crate) fn html_document() -> HtmlDocument {
    document().unchecked_into()
}

/// `object[key]`, or `undefined`.
pub(crate) fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `object[key] = value` (ignores frozen objects).
pub(crate) fn set(object: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

/// `object[key] = value`, a string.
pub(crate) fn set_str(object: &JsValue, key: &str, value: &str) {
    set(object, key, &JsValue::from_str(value));
}

/// `object[key]` when it is a string.
pub(crate) fn string(object: &JsValue, key: &str) -> Option<String> {
    get(object, key).as_string()
}

/// A new, empty object.
pub(crate) fn object() -> JsValue {
    Object::new().into()
}

/// Whether `array` holds the string `s` (`array.includes(s)`).
pub(crate) fn includes(array: &Array, s: &str) -> bool {
    array.includes(&JsValue::from_str(s), 0)
}

/// A new element with `class` (none when empty) and attributes.
pub(crate) fn element(tag: &str, class: &str, attrs: &[(&str, &str)]) -> HtmlElement {
    let el = document().unchecked_ref::<Dom>().create(tag);
    if !class.is_empty() {
        attr(&el, "class", class);
    }
    for (name, value) in attrs {
        attr(&el, name, value);
    }
    el
}

/// Appends a new element to `parent`: `tag`, with `class` (none when empty), holding `text` (a JS string,
/// set as text, never parsed as HTML; `undefined` for none).
pub(crate) fn add(parent: &Element, tag: &str, class: &str, text: &JsValue) -> HtmlElement {
    let el = element(tag, class, &[]);
    set_text(&el, text);
    append(parent, &el);
    el
}

/// `a` and `b` (JS strings) joined by `between`.
pub(crate) fn join(a: &JsValue, between: &str, b: &JsValue) -> js_sys::JsString {
    a.unchecked_ref::<js_sys::JsString>()
        .concat(&JsValue::from_str(between))
        .concat(b)
}

/// `node.textContent = text` (a JS string; `undefined` or `null` for none).
pub(crate) fn set_text(node: &Element, text: &JsValue) {
    node.unchecked_ref::<Dom>().set_text_content(text);
}

/// Appends `child` to `parent`.
pub(crate) fn append(parent: &Element, child: &Element) {
    parent.unchecked_ref::<Dom>().append_node(child);
}

/// Appends one of the banner's buttons, for `action` (`data-consent-action`), labelled `label`.
pub(crate) fn button(parent: &Element, action: &str, label: &JsValue) -> HtmlElement {
    let b = add(parent, "button", "consent-banner__button", label);
    attr(&b, "type", "button");
    attr(&b, "data-consent-action", action);
    b
}

/// `el.getAttribute(name)` as the JS value (a string, or `null`), without a copy into Rust.
pub(crate) fn attr_value(el: &Element, name: &str) -> JsValue {
    el.unchecked_ref::<Dom>().get_attr(name)
}

/// `el.getAttribute(name)`, if it has the attribute (through the same import as [`attr_value`]).
pub(crate) fn attr_string(el: &Element, name: &str) -> Option<String> {
    attr_value(el, name).as_string()
}

/// `el.hasAttribute(name)` (through the same import as [`attr_value`]: `getAttribute` is `null` for
/// an attribute the element does not have).
pub(crate) fn has_attr(el: &Element, name: &str) -> bool {
    // `!=` (an import the banner has anyway) rather than `is_null` (one more).
    attr_value(el, name) != JsValue::NULL
}

/// `el.setAttribute(name, value)`.
pub(crate) fn attr(el: &Element, name: &str, value: &str) {
    el.unchecked_ref::<Dom>().set_attr(name, value);
}

/// Fires `new CustomEvent(kind, init)` on `document` (a new event never makes `dispatchEvent` throw,
/// and a listener's exception is reported, not thrown).
pub(crate) fn fire(kind: &str, init: &JsValue) {
    document()
        .unchecked_ref::<Dom>()
        .dispatch_event(&NewEvent::new(kind, init));
}

/// `old.replaceWith(new)` (`new` a new element, `old` in the document: nothing to throw).
pub(crate) fn replace(old: &Element, new: &Element) {
    old.unchecked_ref::<Dom>().replace_with(new);
}

/// `setTimeout(callback, ms)`.
pub(crate) fn timeout(callback: &Function, ms: u32) {
    window().unchecked_ref::<Dom>().set_timeout(callback, ms);
}

/// `el.removeAttribute(name)`.
pub(crate) fn remove_attr(el: &Element, name: &str) {
    el.unchecked_ref::<Dom>().remove_attr(name);
}

/// `node.closest(selector)`, for any value: `None` for what is not an element (a text node, the
/// document, `null`) as for an element with no match.
pub(crate) fn closest(node: &JsValue, selector: &str) -> Option<Element> {
    node.unchecked_ref::<Dom>()
        .closest_el(selector)
        .ok()
        .flatten()
}

/// `node.matches(selector)`, for any value: `false` for what is not an element.
pub(crate) fn matches(node: &JsValue, selector: &str) -> bool {
    node.unchecked_ref::<Dom>()
        .matches_el(selector)
        .unwrap_or(false)
}

/// An element property that is an element or `null` (`previousElementSibling`…), as an `Option`.
pub(crate) fn element_or_none(value: JsValue) -> Option<Element> {
    value.is_object().then(|| value.unchecked_into())
}

/// The items of an array (or a `NodeList`, read as one), through its `length` and index getter: the
/// same two imports everywhere (js-sys's iterator is a third, `get_unchecked`).
pub(crate) fn items(array: &Array) -> impl Iterator<Item = JsValue> + use<> {
    let array = array.clone();
    (0..array.length()).map(move |i| array.get(i))
}

/// `array.splice(start, count)`: removes `count` items from `start`.
pub(crate) fn remove_items(array: &Array, start: u32, count: u32) {
    array.unchecked_ref::<Items>().splice(start, count);
}

/// Every element of the page matching `selector`, in document order.
pub(crate) fn all(selector: &str) -> impl Iterator<Item = Element> + use<> {
    all_in(&document(), selector)
}

/// Every element inside `root` (a document or an element) matching `selector`, in document order.
pub(crate) fn all_in(root: &JsValue, selector: &str) -> impl Iterator<Item = Element> + use<> {
    let list = root
        .unchecked_ref::<Dom>()
        .query_all(selector)
        .unwrap_or_default();
    // A selector matches elements only.
    items(&list).map(JsCast::unchecked_into)
}

/// The first element inside `root` (a document or an element) matching `selector`.
pub(crate) fn find(root: &JsValue, selector: &str) -> Option<Element> {
    root.unchecked_ref::<Dom>().query(selector).ok().flatten()
}

#[cfg(feature = "full")]
/// The page's and the browser's languages, best first: `<html lang>`, then `navigator.languages`.
pub(crate) fn languages() -> alloc::vec::Vec<String> {
    let mut languages: alloc::vec::Vec<String> = document()
        .document_element()
        .and_then(|html| attr_string(&html, "lang"))
        .into_iter()
        .collect();
    languages.extend(
        window()
            .navigator()
            .languages()
            .iter()
            .filter_map(|l| l.as_string()),
    );
    languages
}

#[cfg(feature = "full")]
/// The `fetch` options: `method`, and no credentials (the consent server needs no cookies, and gets
/// none).
pub(crate) fn request_init(method: &str) -> RequestInit {
    let init = object();
    set_str(&init, "method", method);
    set_str(&init, "credentials", "omit");
    init.unchecked_into()
}

#[cfg(feature = "full")]
/// `response.status`.
pub(crate) fn status(response: &Response) -> u16 {
    get(response, "status").as_f64().unwrap_or(0.0) as u16
}

/// An event listener that lives as long as this value: dropping it removes the listener from its target
/// (nothing is leaked with `Closure::forget`). The callback is a JS function: the banner's dispatcher
/// bound to a step (see `step.rs`).
pub(crate) struct Listener {
    target: EventTarget,
    kind: &'static str,
    callback: Function,
}

impl Listener {
    /// Calls `callback` for every `kind` event on `target` until the returned value is dropped.
    pub(crate) fn new(target: &EventTarget, kind: &'static str, callback: Function) -> Self {
        target.unchecked_ref::<Dom>().listen(kind, &callback);
        Listener {
            target: target.clone(),
            kind,
            callback,
        }
    }
}

/// A `MutationObserver` of the elements added anywhere in the document, that lives as long as this value
/// (dropping it disconnects the observer). The callback is the dispatcher bound to a step.
pub(crate) struct Observer(web_sys::MutationObserver);

impl Observer {
    /// Calls `callback` with the mutation records after elements are added to the document.
    pub(crate) fn new(callback: &Function) -> Self {
        let observer: web_sys::MutationObserver = NewObserver::new(callback).unchecked_into();
        // `{childList: true, subtree: true}` (a plain object: web-sys's setters are one import each).
        let init = object();
        set(&init, "childList", &JsValue::TRUE);
        set(&init, "subtree", &JsValue::TRUE);
        observer.unchecked_ref::<Dom>().observe(&document(), &init);
        Observer(observer)
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.0.disconnect();
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.target
            .unchecked_ref::<Dom>()
            .unlisten(self.kind, &self.callback);
    }
}
