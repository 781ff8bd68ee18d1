//! # consent-wasm: the invisionu.education cookie banner
//!
//! WebAssembly with wasm-bindgen and web-sys, no UI framework, no JSON library (the browser parses the
//! policy), no cryptography (the banner reads the consent token but never verifies it: backends do), and
//! no `std`: the banner build aborts on a panic without formatting anything, which keeps the formatting
//! machinery out of the wasm. `scripts/build-banner` builds it into a bootstrap (`banner.js`), the
//! return visit's part (`visit.js`, `visit_bg.wasm`), the full banner (`full.js`, `banner_bg.wasm`)
//! and `banner.css`; a page embeds it with one tag:
//!
//! ```html
//! <script type="module" src="/consent/banner.js"
//!         data-endpoint="https://consent.invisionu.education" data-policy-version="2025-03-26"></script>
//! ```
//!
//! On load the banner sends Google Consent Mode's `default`, then reads the `consent` cookie
//! ([`logic::read_token`]). With no current choice (no token, an unreadable one, one made under an older
//! policy version than `data-policy-version`, or a lapsed one) it fetches the policy and shows the
//! dialog; otherwise it activates the blocked scripts and embeds that the choice grants, without a
//! dialog. A choice applies at once, is posted to the server, and the signed token the server returns
//! becomes the cookie; if the server cannot be reached, the choice is kept in `localStorage`
//! (`consent-pending`) and sent again with backoff, and on the next page load.
//!
//! A first visit (no consent cookie) runs a part built for what it waits for first (the feature
//! `first`, entry point `first`): it paints the dialog's first layer from the policy's banner view,
//! and the full banner, loaded once the dialog is on screen, adopts that dialog (see `first.rs`).
//!
//! A return visit with a valid token runs a part built for it instead (the feature `visit`, its own
//! wasm-bindgen module, entry point `visit`): the token's grants, activation, Consent Mode, the JS API's
//! reads and the way back in; it starts the full banner when a dialog, a choice or a recording is needed,
//! and the full banner takes its state over (see `visit.rs` and `consent-wasm/README.md`).
//!
//! The page's JS API is `window.consent` (`get`, `allows`, `open`, `acceptAll`, `rejectAll`, `set`,
//! `on`); the DOM events are `consent:ready` and `consent:change`. See `consent-wasm/README.md`.
#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

#[cfg(any(feature = "full", feature = "visit"))]
mod activate;
#[cfg(any(feature = "full", feature = "visit"))]
mod api;
#[cfg(feature = "full")]
mod banner;
mod config;
mod consent_mode;
#[cfg(any(feature = "full", feature = "visit"))]
mod cookies;
#[cfg(feature = "full")]
mod dialog;
#[cfg(any(feature = "full", feature = "visit"))]
mod dispatcher;
mod dom;
#[cfg(feature = "first")]
mod first;
#[cfg(any(feature = "first", feature = "full"))]
mod first_layer;
#[cfg(any(feature = "full", feature = "visit"))]
mod gpc;
pub mod logic;
#[cfg(feature = "full")]
mod outbox;
pub mod policy;
#[cfg(feature = "full")]
mod policy_fetch;
pub mod purpose_map;
#[cfg(feature = "full")]
mod receipt;
#[cfg(any(feature = "full", feature = "visit"))]
mod reopen;
#[cfg(any(feature = "full", feature = "visit"))]
mod step;
#[cfg(any(feature = "full", feature = "visit"))]
mod stylesheet;
pub mod texts;
#[cfg(feature = "visit")]
mod visit;

#[cfg(any(feature = "full", feature = "visit"))]
pub use api::{CHANGE_EVENT, READY_EVENT};
pub use config::Config;
#[cfg(feature = "full")]
pub use dispatcher::start;
#[cfg(feature = "first")]
pub use first::first;
#[cfg(any(feature = "first", feature = "full"))]
pub use first_layer::DIALOG_ID;
#[cfg(any(feature = "full", feature = "visit"))]
pub use reopen::REOPEN_CLASS;
#[cfg(feature = "visit")]
pub use visit::visit;

#[cfg(feature = "full")]
use alloc::string::String;
#[cfg(feature = "full")]
use wasm_bindgen::prelude::*;

/// The banner build aborts on a panic, without formatting a message: no input reaches a panic (the
/// banner's code is written not to), and the formatting machinery would cost a third of the budget.
#[cfg(all(feature = "bundle", target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// A small free-list allocator (sorted, coalescing) in place of dlmalloc: about 8 KB less wasm, and the
/// banner allocates little (the policy's texts in one language, a few strings per choice).
#[cfg(all(feature = "bundle", target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// The entry point called by the bootstrap at the end of `banner.js` once the wasm module is
/// instantiated: `boot(import.meta.url, "<sha-256 of banner_bg.wasm>", gtag, policy, handover, painted)`, where `gtag` is
/// `function(){dataLayer.push(arguments)}` (Consent Mode needs a real `arguments` object, which only
/// JS can make) and `policy` the `fetch` of the current policy that the bootstrap started while the wasm
/// was loading (when the page has no consent cookie; see [`Config::policy`]), and `handover` the state
/// of the return visit's first part (`visit` in its own build) when the full banner
/// takes over from it: its `consent.on` listeners, whether `consent:ready` has fired, and the script
/// file it was waiting for (see `dispatcher::start_after`); `painted` what the first visit's part
/// (`first` in its own build) left when it painted the first layer: `d`, the dialog on screen, and
/// `c`, the element of it clicked before the full banner arrived, if any (see `first.rs`).
///
/// Finds the banner's `<script data-endpoint>` (the one loaded from `script_url`, else the first), reads
/// its data attributes and starts the banner. A page without one, or with a bad attribute, gets an
/// exception in the console; the page itself is never blocked.
#[cfg(feature = "full")]
#[wasm_bindgen]
pub fn boot(
    script_url: Option<String>,
    build: Option<String>,
    gtag: Option<js_sys::Function>,
    policy: Option<js_sys::Promise>,
    handover: Option<js_sys::Object>,
    painted: Option<js_sys::Object>,
) -> Result<(), JsValue> {
    let mut config = Config::find(script_url.as_deref())?;
    config.build = build.and_then(|b| b.parse().ok());
    config.gtag = gtag;
    config.policy = policy;
    dispatcher::start_after(config, handover.map(JsValue::from), painted);
    Ok(())
}
