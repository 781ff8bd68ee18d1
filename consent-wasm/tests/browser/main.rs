//! The banner in a real browser (headless Chromium through chromedriver, run by
//! `wasm-bindgen-test-runner`; see `scripts/test`).
//!
//! Everything runs for real (the DOM, the native modal `<dialog>`, `document.cookie`, `localStorage`,
//! script and embed activation, `Response.json()` of the real policy, token decoding, timers) except the
//! network: the test page's `window.fetch` is replaced by a stub (the `inline_js` below) that answers
//! from a table (the canonical invisionu policies of `spec/vectors`), records every request, and answers
//! `POST /v1/consents` with `201` and a real token signed here with `consent-core` (HMAC), with another
//! status, or not at all ("server down": a rejected promise, as `fetch` does).
//!
//! All tests run in one page, one after the other, and each [`consent_wasm::start`] leaves a banner
//! behind that the page keeps alive (its document click listener and pending callbacks hold it). So
//! that an earlier test's banner never acts in a later test, [`reset`] (which does not rely on the
//! banner's own replacement of an earlier banner, tested in
//! `starting_the_banner_twice_on_one_page_shows_one_dialog_and_records_one_choice`):
//! - gives every test its own endpoint (`https://s<n>.consent.test`): the stub never answers a request
//!   to an earlier one, so an old banner can neither store a token nor drop a pending choice;
//! - removes the document listeners added since the previous reset (the banners' click listeners and
//!   the tests' event recorders);
//! - detaches the load callbacks of script files still loading, removes an open dialog without
//!   `close()` (whose `close` event an old banner would take for the visitor's), and scripts record
//!   that they ran only in the test that made them.
//!
//! The stub also guards against a runaway microtask loop (see the `inline_js`), which would otherwise
//! freeze the page and end the whole run with a WebDriver timeout and no word on the test at fault.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;

use consent_core::{
    HmacKey, PurposeSet, ReceiptId, SubjectId, Timestamp, TokenClaims, TokenKeys, TokenSubject,
};
use consent_wasm::logic::{self, PENDING_KEY, cookie_value};
use consent_wasm::{Config, DIALOG_ID, REOPEN_CLASS, start};
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{
    Document, Element, HtmlDialogElement, HtmlDocument, HtmlElement, HtmlInputElement, Window,
};

wasm_bindgen_test_configure!(run_in_browser);

// The tests, one module per concern; this file holds what they share: the policies, the banner's texts,
// the purpose codes.
mod asking_again;
mod buttons;
mod consent_mode;
mod embeds;
mod first_visit;
mod gpc;
mod js_api;
mod never_lost;
mod return_visits;
mod server_faults;

const POLICY: &str =
    include_str!("../../../spec/vectors/policy-invisionu-2025-03-26.canonical.json");
const POLICY_2026: &str =
    include_str!("../../../spec/vectors/policy-invisionu-2026-06-01.canonical.json");
/// The banner views of the two policies (`GET /v1/policy/banner/{lang}`), by language.
const VIEWS_2025: [(&str, &str); 3] = [
    (
        "kk",
        include_str!("../../../spec/vectors/policy-invisionu-2025-03-26.banner-kk.json"),
    ),
    (
        "ru",
        include_str!("../../../spec/vectors/policy-invisionu-2025-03-26.banner-ru.json"),
    ),
    (
        "en",
        include_str!("../../../spec/vectors/policy-invisionu-2025-03-26.banner-en.json"),
    ),
];
const VIEWS_2026: [(&str, &str); 3] = [
    (
        "kk",
        include_str!("../../../spec/vectors/policy-invisionu-2026-06-01.banner-kk.json"),
    ),
    (
        "ru",
        include_str!("../../../spec/vectors/policy-invisionu-2026-06-01.banner-ru.json"),
    ),
    (
        "en",
        include_str!("../../../spec/vectors/policy-invisionu-2026-06-01.banner-en.json"),
    ),
];
/// Where the banner asks for the current policy on an English page.
const VIEW_EN: &str = "/v1/policy/banner/en";
/// The banner's own stylesheet, put into the page by the tests that look at the layout.
const BANNER_CSS: &str = include_str!("../../banner.css");
const V2025: &str = "2025-03-26";
const V2026: &str = "2026-06-01";
/// The banner's texts in one language, as the policy the stub serves has them (its `banner` table).
struct Texts {
    title: String,
    description: String,
    accept_all: String,
    reject_all: String,
    choose: String,
    save: String,
    purposes: String,
    close: String,
    always_on: String,
    settings: String,
    updated: String,
    consent_id: String,
    receipt: String,
    blocked: String,
    load_once: String,
    always_allow: String,
    gpc: String,
}

fn texts(lang: &str) -> Texts {
    let banner = get(&js_sys::JSON::parse(POLICY).unwrap(), "banner");
    let t = |key: &str| {
        get(&get(&banner, key), lang)
            .as_string()
            .unwrap_or_else(|| panic!("the policy's banner.{key}.{lang}"))
    };
    Texts {
        title: t("title"),
        description: t("description"),
        accept_all: t("accept-all"),
        reject_all: t("reject-all"),
        choose: t("choose"),
        save: t("save"),
        purposes: t("purposes"),
        close: t("close"),
        always_on: t("always-on"),
        settings: t("settings"),
        updated: t("updated"),
        consent_id: t("consent-id"),
        receipt: t("receipt"),
        blocked: t("blocked"),
        load_once: t("load-once"),
        always_allow: t("always-allow"),
        gpc: t("gpc"),
    }
}

const POLICY_URL: &str = "https://invisionu.education/privacy/2025-03-26";

// Purpose codes of the invisionu policy.
const MARKETING: u8 = 8;
const PREFERENCES: u8 = 11;
const ANALYTICS: u8 = 12;
const MARKETING_COOKIES: u8 = 13;
/// Every purpose code the banner asks for: the cookie purposes that need consent (the policy's
/// `collection_points`; the newsletter and the other purposes are asked in forms).
const CONSENT_CODES: [u8; 3] = [11, 12, 13];
/// Every purpose the banner asks for.
const CONSENT_PURPOSES: [&str; 3] = [
    "cookies-preferences",
    "cookies-analytics",
    "cookies-marketing",
];

/// A 1×1 transparent GIF.
const GIF: &str = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";

// The test page's harness and the helpers the tests share, one module per part of the page.
mod dialog;
mod events;
mod harness;
mod page;
mod server;

use dialog::*;
use events::*;
use harness::*;
use page::*;
use server::*;
