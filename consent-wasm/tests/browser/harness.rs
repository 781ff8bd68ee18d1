//! The test page's harness: the fetch stub, the document listener bookkeeping, recorders for the
//! banner's events, a gtag stub, Global Privacy Control, and calls into `window.consent`.

use super::*;

#[wasm_bindgen(inline_js = r##"
const S = { endpoint: "", routes: {}, post: "201", delay: 0, tokens: [], requests: [], getDown: false };
const tracked = [];
let installed = false;

function answer(status, value) {
  return new Response(typeof value === "string" ? value : JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function install() {
  if (installed) return;
  installed = true;
  // A guard against a runaway microtask loop (a banner whose state stayed borrowed after an exception
  // defers every callback to a microtask, forever): it would freeze the page and with it the whole
  // run, without a word. More than 20,000 `Promise.resolve` calls in 50 ms throw instead, so the test
  // at fault fails with a stack.
  const resolve = Promise.resolve.bind(Promise);
  let calls = 0;
  setInterval(() => { calls = 0; }, 50);
  Promise.resolve = function (value) {
    if (++calls > 20000) {
      calls = 0;
      const error = new Error("runaway microtask loop");
      window.__errors && window.__errors.push(String(error.stack));
      throw error;
    }
    return resolve(value);
  };
  window.fetch = function (input, init) {
    const url = typeof input === "string" ? input : input.url;
    const method = (init && init.method) || "GET";
    const body = init && typeof init.body === "string" ? init.body : null;
    const token = (init && init.headers && init.headers["x-consent-token"]) ?? null;
    const key = (init && init.headers && init.headers["idempotency-key"]) ?? null;
    if (!S.endpoint || !url.startsWith(S.endpoint + "/")) {
      // A banner left by an earlier test: never answered, so it can change nothing any more.
      return new Promise(() => {});
    }
    const path = url.slice(S.endpoint.length);
    S.requests.push({ path, method, body, token, key, at: performance.now() });
    const reply = () => {
      if (method !== "POST") {
        if (S.getDown) return Promise.reject(new TypeError("Failed to fetch"));
        return Promise.resolve(
          path in S.routes ? answer(200, S.routes[path]) : answer(404, { error: { code: "not_found" } }),
        );
      }
      if (S.post === "down") return Promise.reject(new TypeError("Failed to fetch"));
      if (S.post !== "201" && S.post !== "200") {
        return Promise.resolve(answer(Number(S.post), { error: S.postError }));
      }
      const token = S.tokens.length > 1 ? S.tokens.shift() : S.tokens[0] || "";
      return Promise.resolve(
        answer(Number(S.post), {
          receipt_id: "01a20ba4-8854-74c7-9853-5d16f915bd6e",
          receipt: "e30.e30.c2ln",
          subject: "dev:q3Jt7VbWm0Kx9ZsL2fYp4A",
          issued_at: "2026-11-24T03:41:01Z",
          expires_at: "2027-05-24T03:41:01Z",
          gpc: S.gpcAnswer,
          token,
        }),
      );
    };
    if (method === "POST" && S.delay > 0) {
      return new Promise((resolve) => setTimeout(resolve, S.delay)).then(reply);
    }
    return reply();
  };
  const add = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    if (this === document) tracked.push([type, listener, options]);
    return add.call(this, type, listener, options);
  };
}

export function harness_reset(run, endpoint, lang) {
  install();
  // The earlier test's banner lets go of the page (its MutationObserver would otherwise activate this
  // test's blocked scripts with that banner's choice).
  if (window.consent && typeof window.consent._stop === "function") window.consent._stop();
  for (const [type, listener, options] of tracked.splice(0)) {
    document.removeEventListener(type, listener, options);
  }
  Object.assign(S, {
    endpoint, routes: {}, post: "201", delay: 0, tokens: [], requests: [], getDown: false,
    postError: { code: "refused", message: "test" }, gpcAnswer: false,
  });
  // A script file an earlier banner activated may still be loading: its load must not reach that
  // banner (which would go on activating, in this test's page).
  for (const script of document.querySelectorAll("[data-test-fixture] script")) {
    script.onload = null;
    script.onerror = null;
  }
  // Removed without close(): an earlier banner would take its `close` event for the visitor's.
  for (const el of document.querySelectorAll(
    "#consent-banner, .consent-reopen, .consent-embed, link[data-consent-banner], [data-test-fixture]",
  )) {
    el.remove();
  }
  for (const pair of document.cookie.split(";")) {
    const name = pair.split("=")[0].trim();
    if (name) document.cookie = name + "=; path=/; max-age=0";
  }
  localStorage.clear();
  for (const key of ["__run", "consent", "gtag", "dataLayer", "__gtag", "__ran", "__events", "__errors", "__seen"]) {
    delete window[key];
  }
  delete navigator.globalPrivacyControl;
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  document.documentElement.setAttribute("lang", lang);
  window.__run = run;
  window.__ran = [];
  window.__events = [];
  window.__errors = [];
  document.addEventListener("consent:change", (e) => window.__events.push(["change", e.detail]));
  document.addEventListener("consent:ready", (e) => window.__events.push(["ready", e.detail]));
}

export function stub_route(path, json) { S.routes[path] = json; }
export function stub_post(mode) { S.post = mode; }
export function stub_post_delay(ms) { S.delay = ms; }
export function stub_post_error(json) { S.postError = JSON.parse(json); }
export function stub_gpc_answer(gpc) { S.gpcAnswer = gpc; }
export function stub_get_down(down) { S.getDown = down; }
export function prefetch_policy(url) { return fetch(url).then((r) => r.json()); }
export function stub_token(token) { S.tokens.push(token); }
export function stub_requests() { return S.requests.slice(); }

export function set_gpc() {
  Object.defineProperty(navigator, "globalPrivacyControl", { value: true, configurable: true });
}

export function install_gtag_recorder() {
  window.__gtag = [];
  window.gtag = function () { window.__gtag.push(Array.prototype.slice.call(arguments)); };
}

export function data_layer_gtag() {
  return function gtag() { window.dataLayer.push(arguments); };
}

export function consent_api(name, arg) { return window.consent[name](arg); }

export function recorder(into) {
  window[into] = [];
  return function (detail) { window[into].push(detail); };
}

export function accept_all_from_first_change() {
  let done = false;
  document.addEventListener("consent:change", () => {
    if (done) return;
    done = true;
    try {
      const p = window.consent.acceptAll();
      if (!(p instanceof Promise)) window.__errors.push("acceptAll() did not return a promise");
      p.catch((e) => window.__errors.push(String(e)));
    } catch (e) {
      window.__errors.push(String(e));
    }
  });
}

export function press_escape(dialog) {
  const event = new Event("cancel", { cancelable: true });
  dialog.dispatchEvent(event);
  return event.defaultPrevented;
}
"##)]
extern "C" {
    pub(crate) fn harness_reset(run: u32, endpoint: &str, lang: &str);
    pub(crate) fn stub_route(path: &str, json: &str);
    pub(crate) fn stub_post(mode: &str);
    pub(crate) fn stub_post_delay(ms: u32);
    /// The `error` object of a refused POST (default: `{"code": "refused", …}`).
    pub(crate) fn stub_post_error(json: &str);
    /// The `gpc` member of a recorded POST's answer.
    pub(crate) fn stub_gpc_answer(gpc: bool);
    pub(crate) fn stub_get_down(down: bool);
    /// What the bootstrap passes as `Config::policy`: the policy, fetched and parsed.
    pub(crate) fn prefetch_policy(url: &str) -> Promise;
    pub(crate) fn stub_token(token: &str);
    pub(crate) fn stub_requests() -> Array;
    pub(crate) fn set_gpc();
    pub(crate) fn install_gtag_recorder();
    pub(crate) fn data_layer_gtag() -> Function;
    pub(crate) fn consent_api(name: &str, arg: &JsValue) -> JsValue;
    pub(crate) fn recorder(into: &str) -> Function;
    pub(crate) fn accept_all_from_first_change();
    /// Dispatches the `cancel` event the browser fires on Escape; returns whether it was prevented.
    pub(crate) fn press_escape(dialog: &HtmlElement) -> bool;
}
