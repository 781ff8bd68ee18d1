//! The receipt download, from the way back in: the banner fetches `GET {endpoint}/v1/receipts/{id}` with
//! the token in `X-Consent-Token` (the server gives a receipt to the holder of its token; the cookie
//! would not reach a consent server on another origin) and saves the answer (the JWS, its payload, and
//! with `?include=proof` its log index and tlog-proof: the person can show it was logged) as
//! `consent-receipt-<id>.json`.

use alloc::string::String;

use consent_core::ReceiptId;
use js_sys::Function;
use wasm_bindgen::prelude::*;
use web_sys::{Element, Response};

use crate::cookies;
use crate::dom::{append, bind1, element, get, object, request_init, set, set_str, then1, window};
use crate::step::{Dispatch, Step};

/// Fetches the receipt the dialog's link (`href`) points to, with the cookie's token, as JSON
/// ([`Step::Receipt`] gets the response).
pub(crate) fn download(link: &Element, dispatch: &Dispatch) {
    let jar = cookies::jar();
    let (Some(token), Some(href)) = (cookies::token(&jar), crate::dom::attr_string(link, "href"))
    else {
        return;
    };
    // With its proof of logging (issue 21.5).
    let mut url = href;
    url.push_str(if url.contains('?') { "&" } else { "?" });
    url.push_str("include=proof");
    let init = request_init("GET");
    let headers = object();
    set_str(&headers, "x-consent-token", token);
    set_str(&headers, "accept", "application/json");
    set(&init, "headers", &headers);
    let _ = then1(
        &window().fetch_with_str_and_init(&url, &init),
        &dispatch.callback(Step::Receipt),
    );
}

/// The response ([`Step::Receipt`]): when it is a success, its body is read ([`Step::ReceiptBlob`]).
pub(crate) fn response(response: &Response, dispatch: &Dispatch) {
    if response.ok()
        && let Ok(blob) = response.blob()
    {
        let _ = then1(&blob, &dispatch.callback(Step::ReceiptBlob));
    }
}

/// Saves a fetched receipt (`blob`) of receipt `id` as `consent-receipt-<id>.json`, through a temporary
/// object URL and a link clicked inside `parent` (the dialog).
pub(crate) fn save(blob: &JsValue, id: &ReceiptId, parent: &Element) {
    let url_api = get(&window(), "URL");
    let Ok(url) = get(&url_api, "createObjectURL")
        .dyn_into::<Function>()
        .and_then(|f| f.call1(&url_api, blob))
    else {
        return;
    };
    let Some(href) = url.as_string() else {
        return;
    };
    let mut name = String::from("consent-receipt-");
    name.push_str(&id.hyphenated());
    name.push_str(".json");
    let a = element(
        "a",
        "",
        &[("href", &href), ("download", &name), ("hidden", "")],
    );
    append(parent, &a);
    a.click();
    a.remove();
    if let Ok(revoke) = get(&url_api, "revokeObjectURL").dyn_into::<Function>() {
        crate::dom::timeout(&bind1(&revoke, &url), 10_000);
    }
}
