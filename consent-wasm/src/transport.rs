//! The network boundary. The banner talks to the consent server only through [`Transport`]: the page
//! uses [`Fetch`] (the browser's `fetch`); the browser tests substitute a recording implementation here,
//! and only here, so everything above the transport (reading the policy, the dialog, the request body,
//! the cookie, the pending entry) runs for real in the tests.

use js_sys::{JsString, Object, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, RequestInit, RequestMode, Response};

/// An HTTP answer: status and body text.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body, as a JS string (parsed with `JSON.parse` without copying it through Rust).
    pub body: JsString,
}

/// How the banner reaches the consent server.
///
/// `Err` means the server could not be reached (network error, timeout, CORS refusal); any answer,
/// whatever its status, is `Ok`.
#[allow(async_fn_in_trait)] // The banner is single-threaded: futures need not be `Send`.
pub trait Transport {
    /// `GET url`.
    async fn get(&self, url: &str) -> Result<HttpResponse, JsValue>;
    /// `POST url` with a JSON body (`Content-Type: application/json`).
    async fn post_json(&self, url: &str, body: &str) -> Result<HttpResponse, JsValue>;
}

/// The browser's `fetch`: CORS, no credentials (the consent server needs no cookies, and gets none),
/// and a time limit so that a hanging server cannot keep a choice from being kept for later.
#[derive(Clone, Copy, Debug)]
pub struct Fetch {
    /// Give up after this many milliseconds.
    pub timeout_ms: u32,
}

impl Default for Fetch {
    fn default() -> Self {
        Fetch { timeout_ms: 10_000 }
    }
}

impl Fetch {
    async fn send(&self, url: &str, init: RequestInit) -> Result<HttpResponse, JsValue> {
        init.set_mode(RequestMode::Cors);
        init.set_credentials(web_sys::RequestCredentials::Omit);
        init.set_signal(Some(&AbortSignal::timeout_with_u32(self.timeout_ms)));
        let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
        let response: Response = window
            .fetch_with_str_and_init(url, &init)
            .await?
            .dyn_into()?;
        let body: JsString = response.text()?.await?.unchecked_into();
        Ok(HttpResponse {
            status: response.status(),
            body,
        })
    }
}

impl Transport for Fetch {
    async fn get(&self, url: &str) -> Result<HttpResponse, JsValue> {
        let init = RequestInit::new();
        init.set_method("GET");
        self.send(url, init).await
    }

    async fn post_json(&self, url: &str, body: &str) -> Result<HttpResponse, JsValue> {
        let init = RequestInit::new();
        init.set_method("POST");
        let headers = Object::new();
        Reflect::set(
            &headers,
            &JsValue::from_str("content-type"),
            &JsValue::from_str("application/json"),
        )?;
        init.set_headers(&headers);
        init.set_body(&JsValue::from_str(body));
        self.send(url, init).await
    }
}
