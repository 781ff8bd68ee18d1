//! The outbox: a choice on its way to the server (`POST /v1/consents`), kept until it is answered.
//!
//! The request is consent-core's [`ConsentRequest`] ([`request`]), whose members core walks into JS
//! objects here ([`ConsentRequest::write`]); the browser's `JSON.stringify` writes them, so the banner
//! needs no JSON library and the member names live in core only.
//!
//! A choice applies at once; its request is kept in `localStorage` (`consent-pending`, with what it
//! grants and when it lapses) before it is sent, and removed on the answer. If the server cannot be
//! reached (network error, 408, 429, 5xx), it is sent again after `retry_ms`, then twice that, up to
//! every five minutes, and on the next page load, which applies it without a dialog. A refusal (4xx)
//! drops it. One request at a time: a choice made while another is on its way goes after it. Tabs share
//! the entry, which holds the latest choice of any of them: before a retry a tab reads it again.
//!
//! Each choice gets an idempotency key (a random UUID, kept in the entry with it) that goes with every
//! sending of it in `Idempotency-Key`, from any tab: the server records it once and answers a repeat
//! (a retry after a lost answer, another tab sending the kept choice) with the first receipt (`200`).
//!
//! A choice names the device of the token the banner holds (from the cookie or the last answer) and
//! carries that token in `X-Consent-Token`: the server lets only a device's own token change a device
//! that already has a choice. Without a device token the request names no subject and the server
//! draws a device id.

use alloc::string::String;

use consent_core::{
    BuildHash, CollectionKind, CollectionPointRequest, ConsentRequest, Decided, PageUrl,
    PolicyVersion, RequestWriter, SubjectSelector, TokenClaims,
};
use js_sys::{Array, Date};
use wasm_bindgen::prelude::*;
use web_sys::Response;

use crate::dom::{
    get, json_parse, json_stringify, object, request_init, set, set_str, status, storage, stored,
    string, then2, window,
};
use crate::logic::{self, PENDING_KEY};
use crate::policy::PolicyView;
use crate::step::{Dispatch, Step};

/// The request for a choice the banner `decided` under `policy` on this page, with banner build
/// `build`: consent-core's [`ConsentRequest`], the one definition of the request the server reads. No
/// subject: the device id is added when it is sent ([`Outbox::send`]).
///
/// The page is where the choice is made: the page's origin and path, read now (a single-page
/// application may have changed its path since it loaded), without query and fragment; none on a page
/// that is not http(s).
pub(crate) fn request(
    policy: &PolicyView,
    decided: &Decided,
    build: Option<BuildHash>,
) -> ConsentRequest {
    let mut point = CollectionPointRequest::new(CollectionKind::Banner);
    point.build = build;
    let location = window().location();
    let mut page = string(&location, "origin").unwrap_or_default();
    page.push_str(&string(&location, "pathname").unwrap_or_default());
    point.page = PageUrl::from_ascii(page).ok();
    ConsentRequest::new(
        policy.version,
        decided.decisions(policy.purposes.iter().map(|p| (p.id, p.code))),
        decided.method,
        policy.lang,
        point,
    )
}

/// Consent-core's walk over a request's members ([`ConsentRequest::write`]) received as JS objects,
/// which `JSON.stringify` writes: the banner's JSON writer is the browser's.
struct JsObjects {
    /// The object members go into.
    root: JsValue,
    /// The object member open, if any (the request's objects hold only strings).
    inner: Option<JsValue>,
}

impl JsObjects {
    /// Members written go into `object`.
    fn new(object: &JsValue) -> JsObjects {
        JsObjects {
            root: object.clone(),
            inner: None,
        }
    }
}

impl RequestWriter for JsObjects {
    fn begin(&mut self, name: &str) {
        let inner = object();
        set(self.inner.as_ref().unwrap_or(&self.root), name, &inner);
        self.inner = Some(inner);
    }

    fn string(&mut self, name: &str, value: &str) {
        set_str(self.inner.as_ref().unwrap_or(&self.root), name, value);
    }

    fn end(&mut self) {
        self.inner = None;
    }
}

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues(bytes)`.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(bytes: &mut [u8]);
}

/// A new idempotency key: a random UUID (version 4, RFC 9562) from `crypto.getRandomValues`, written
/// as core writes receipt ids.
fn new_key() -> String {
    let mut b = [0u8; 16];
    get_random_values(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    consent_core::ReceiptId(b).hyphenated()
}

/// What the server's answer means.
pub(crate) enum Answer {
    /// Recorded (`201`, or `200`: the first answer to this choice, sent again): the token the answer brought is to be stored before anything else is sent (a
    /// newer choice then goes with its device id).
    Recorded,
    /// Not recorded (unreachable, 408, 429, 5xx): sent again when the retry timer fires.
    Later,
    /// Refused (any other status): dropped.
    Refused,
}

/// The choice kept for the server, and the request on its way.
pub(crate) struct Outbox {
    /// The request kept for the server (also in `localStorage`), until it is answered.
    pending: Option<String>,
    /// Its idempotency key (kept with it in `localStorage`).
    key: String,
    /// When the pending entry in `localStorage` was written (its `at`, ms), if this page wrote or read
    /// it: another tab's choice, made since, has another.
    kept_at: f64,
    /// The request on its way to the server, if any.
    in_flight: Option<String>,
    /// The status of the answer being read.
    status: u16,
    /// The first wait before a retry, in milliseconds ([`crate::Config::retry_ms`]).
    first_retry_ms: u32,
    /// The wait before the next retry, in milliseconds.
    retry_ms: u32,
}

impl Outbox {
    pub(crate) fn new(retry_ms: u32) -> Outbox {
        let retry_ms = retry_ms.max(1);
        Outbox {
            pending: None,
            key: String::new(),
            kept_at: 0.0,
            in_flight: None,
            status: 0,
            first_retry_ms: retry_ms,
            retry_ms,
        }
    }

    /// A choice waits for the server.
    pub(crate) fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// On page load: the choice an earlier page kept, if it still applies (see [`read_entry`]); what it
    /// grants (purpose ids). It is then pending, to send.
    // Inlined: smaller wasm than a call (opt-level "z" ignores `#[inline]`; see README, Size).
    #[inline(always)]
    pub(crate) fn resume(&mut self, page: Option<PolicyVersion>, now_ms: f64) -> Option<Array> {
        let (request, granted, at, key) = read_entry(page, now_ms)?;
        self.pending = Some(request);
        self.kept_at = at;
        self.key = key;
        Some(granted)
    }

    /// Keeps a new choice: its `request`, with the purpose ids it `granted` and when it lapses (after
    /// `validity_months`), in `localStorage` (a page closed before the answer sends it next time), and
    /// as the pending request, to send. The retry wait starts again.
    pub(crate) fn keep(&mut self, request: &ConsentRequest, granted: &Array, validity_months: u32) {
        let js = object();
        request.write(&mut JsObjects::new(&js));
        let body = json_stringify(&js);
        let now_ms = Date::now();
        let lapses = logic::lapses_at((now_ms / 1000.0) as i64, validity_months);
        self.kept_at = 0.0;
        self.key = new_key();
        if let Some(storage) = storage() {
            let entry = object();
            set(&entry, "request", &js);
            set_str(&entry, "key", &self.key);
            set(&entry, "granted", granted);
            set(
                &entry,
                "expires",
                &JsValue::from_f64(lapses as f64 * 1000.0),
            );
            set(&entry, "at", &JsValue::from_f64(now_ms));
            if storage
                .set_item(PENDING_KEY, &json_stringify(&entry))
                .is_ok()
            {
                self.kept_at = now_ms;
            }
        }
        self.pending = Some(body);
        self.retry_ms = self.first_retry_ms;
    }

    /// Before a retry: the entry in `localStorage` is the latest choice of any tab. Gone, another tab's
    /// answer took it (or it lapsed): nothing is pending any more, and `true` is returned. Another one,
    /// another tab's newer choice, which this tab sends instead of its own.
    pub(crate) fn reread(&mut self, page: Option<PolicyVersion>) -> bool {
        if self.kept_at == 0.0 {
            return false;
        }
        match read_entry(page, Date::now()) {
            Some((request, _, at, key)) if at != self.kept_at => {
                self.pending = Some(request);
                self.kept_at = at;
                self.key = key;
                false
            }
            Some(_) => false,
            None => {
                self.pending = None;
                true
            }
        }
    }

    /// Posts the pending choice to `endpoint`, unless a request is already on its way. The device of
    /// `token` (the latest one; [`logic::device_of`]: never a person's) becomes its subject: one browser
    /// stays one subject, also for a choice made before the answer to an earlier one brought the first
    /// token. The token itself (`token_text`) goes with it in `X-Consent-Token`: once a device has a
    /// choice, the server lets only the holder of its token change it. [`Step::Post`] gets the
    /// response, [`Step::PostFail`] a failure.
    pub(crate) fn send(
        &mut self,
        endpoint: &str,
        token: Option<&TokenClaims>,
        token_text: &str,
        dispatch: &Dispatch,
    ) {
        let Some(body) = &self.pending else {
            return;
        };
        if self.in_flight.is_some() {
            // One request at a time; a newer choice goes when this one is answered.
            return;
        }
        let device = token.and_then(logic::device_of);
        if let (Some(device), Ok(request)) = (device, json_parse(body))
            && get(&request, "subject").is_undefined()
        {
            SubjectSelector::Device(device).write(&mut JsObjects::new(&request));
            self.pending = Some(json_stringify(&request));
        }
        let Some(body) = &self.pending else {
            return;
        };
        self.in_flight = Some(body.clone());
        let mut url = String::from(endpoint);
        url.push_str("/v1/consents");
        let init = request_init("POST");
        let headers = object();
        set_str(&headers, "content-type", "application/json");
        if device.is_some() {
            set_str(&headers, "x-consent-token", token_text);
        }
        set_str(&headers, "idempotency-key", &self.key);
        set(&init, "headers", &headers);
        set_str(&init, "body", body);
        let _ = then2(
            &window().fetch_with_str_and_init(&url, &init),
            &dispatch.callback(Step::Post),
            &dispatch.callback(Step::PostFail),
        );
    }

    /// The response to the `POST` ([`Step::Post`]): its status is kept and its JSON read (to
    /// [`Step::PostJson`]), or `false` if it has none to read.
    pub(crate) fn response(&mut self, response: &Response, dispatch: &Dispatch) -> bool {
        self.status = status(response);
        match response.json() {
            Ok(json) => {
                let _ = then2(
                    &json,
                    &dispatch.callback(Step::PostJson),
                    &dispatch.callback(Step::PostFail),
                );
                true
            }
            Err(_) => false,
        }
    }

    /// The server has answered the request on its way (status 0: unreachable). What was recorded or
    /// refused is no longer pending, unless a newer choice was made meanwhile (which the caller sends
    /// next, after storing the token of a `201`, read from the answer's JSON); what was not recorded
    /// waits for the retry timer, whose wait doubles up to five minutes.
    pub(crate) fn answered(&mut self, dispatch: &Dispatch) -> Answer {
        let sent = self.in_flight.take();
        let status = core::mem::replace(&mut self.status, 0);
        let newer = self.pending.is_some() && self.pending != sent;
        match status {
            // A 201 is durable on the server: never sent again, even if its token cannot be stored. A 200
            // is the first answer to this choice, which another tab or an earlier try sent.
            200 | 201 => {
                if !newer {
                    self.done();
                }
                Answer::Recorded
            }
            0 | 408 | 429 | 500..=599 => {
                // Not recorded: try again later, doubling the wait up to five minutes.
                crate::dom::timeout(
                    &dispatch.callback(Step::Retry),
                    self.retry_ms.min(i32::MAX as u32),
                );
                self.retry_ms = self.retry_ms.saturating_mul(2).min(300_000);
                Answer::Later
            }
            // Refused (4xx): sending it again would not help; a newer choice still goes.
            _ => {
                if !newer {
                    self.done();
                }
                Answer::Refused
            }
        }
    }

    /// The pending choice is answered: it and its entry go, unless another tab has kept a newer entry
    /// since (which that tab sends).
    fn done(&mut self) {
        self.pending = None;
        let ours = match stored(PENDING_KEY) {
            Some(text) => json_parse(&text)
                .map(|entry| get(&entry, "at").as_f64().unwrap_or(0.0) == self.kept_at)
                .unwrap_or(true),
            None => false,
        };
        if ours {
            remove_entry();
        }
        self.kept_at = 0.0;
    }
}

fn remove_entry() {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(PENDING_KEY);
    }
}

/// The choice kept in `localStorage`, if it still applies (not lapsed, made under the page's policy
/// version or a later one; otherwise it is removed): the request to send again, what it grants, and
/// when it was kept, and its idempotency key (a new one for an entry kept before keys existed).
fn read_entry(page: Option<PolicyVersion>, now_ms: f64) -> Option<(String, Array, f64, String)> {
    let text = stored(PENDING_KEY)?;
    let entry = json_parse(&text).ok()?;
    let request = get(&entry, "request");
    let expires = get(&entry, "expires").as_f64().unwrap_or(0.0);
    let version: Option<PolicyVersion> =
        string(&request, "policy_version").and_then(|v| v.parse().ok());
    let current = match (version, page) {
        (Some(v), Some(page)) => v >= page,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if !current || expires <= now_ms {
        remove_entry();
        return None;
    }
    Some((
        json_stringify(&request),
        crate::policy::array(&entry, "granted"),
        get(&entry, "at").as_f64().unwrap_or(0.0),
        string(&entry, "key").unwrap_or_else(new_key),
    ))
}

// JS objects exist only in a browser: these run in Chromium (`scripts/test`).
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use consent_core::{
        Choice, DecidedBy, Lang, Method, PersonName, Relation, SubjectId, SubjectSelector,
    };

    use super::*;

    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    /// What the banner sends is what core's JSON writer writes, byte for byte: the same walk, written
    /// by `JSON.stringify` (which escapes quotes and backslashes as core does, and leaves other
    /// characters as they are) from the JS objects.
    #[wasm_bindgen_test::wasm_bindgen_test]
    fn the_browser_writes_the_request_as_core_does() {
        let mut point = CollectionPointRequest::new(CollectionKind::Banner);
        point.build = Some("ab".repeat(32).parse().unwrap());
        // A page is URL characters only (no quotes or backslashes to escape: the names below have them).
        point.page = Some(
            PageUrl::from_ascii("https://invisionu.education/a'b(c)%22[d]@e;f=g".into()).unwrap(),
        );
        let mut request = ConsentRequest::new(
            "2025-03-26".parse().unwrap(),
            [
                ("cookies-marketing", Choice::Refused),
                ("cookies-analytics", Choice::Given),
                ("marketing", Choice::Withdrawn),
            ]
            .into_iter()
            .map(|(id, c)| (id.parse().unwrap(), c))
            .collect(),
            Method::Custom,
            Lang::KK,
            point,
        );
        let written = |request: &ConsentRequest| {
            let js = object();
            request.write(&mut JsObjects::new(&js));
            json_stringify(&js)
        };
        assert_eq!(written(&request), request.to_json());
        // Every member, with text the browser must escape the same way.
        request.subject = Some(SubjectSelector::Device(SubjectId([7; 16])));
        request.by = DecidedBy::Representative {
            relation: Relation::Guardian,
            name: Some("Асель \"А\" \\ 😀".parse::<PersonName>().unwrap()),
        };
        request.subject_name = Some("Айгерим".parse().unwrap());
        assert_eq!(written(&request), request.to_json());
        // The device id added to a kept request, after its other members.
        let kept = json_parse(&written(&ConsentRequest::new(
            request.policy_version,
            request.decisions.clone(),
            request.method,
            request.language,
            request.collection_point.clone(),
        )))
        .unwrap();
        SubjectSelector::Device(SubjectId([7; 16])).write(&mut JsObjects::new(&kept));
        let mut expected = request.clone();
        expected.by = DecidedBy::Subject;
        expected.subject_name = None;
        assert_eq!(json_stringify(&kept), expected.to_json());
        assert!(
            expected
                .to_json()
                .contains("\"subject\":{\"device\":\"BwcHBwcHBwcHBwcHBwcHBw\"}")
        );
    }
}
