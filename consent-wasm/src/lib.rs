//! # consent-wasm: the invisionu.education cookie banner
//!
//! WebAssembly with wasm-bindgen and web-sys, no UI framework, no JSON library (the browser's
//! `JSON.parse` reads the policy), no cryptography (the banner reads the consent token but never
//! verifies it: backends do). `scripts/build-banner` builds it into `banner.js`, `banner_bg.wasm` and
//! `banner.css`; a page embeds it with one tag:
//!
//! ```html
//! <script type="module" src="/consent/banner.js"
//!         data-endpoint="https://consent.invisionu.education" data-policy-version="2025-03-26"></script>
//! ```
//!
//! On load the banner reads the `consent` cookie ([`logic::read_token`]). With no current choice (no
//! token, an unreadable one, one made under an older policy version than `data-policy-version`, or a
//! lapsed one) it fetches the policy and shows the dialog; otherwise it activates the blocked scripts
//! (`<script type="text/plain" data-consent="<purpose id>">`) that the choice grants, without a dialog.
//! A choice applies at once, is posted to the server, and the signed token the server returns becomes
//! the cookie; if the server cannot be reached, the choice is kept in `localStorage` (`consent-pending`)
//! and sent again on the next page load.
//!
//! The network is behind [`transport::Transport`]; [`transport::Fetch`] is the browser's `fetch`.
//! [`run`] takes any transport: the browser tests (`tests/browser.rs`) pass a recording one.
//!
//! See `consent-wasm/README.md` for embedding, the Content-Security-Policy and what is not done yet.

pub mod dom;
pub mod logic;
pub mod policy;
mod scripts;
pub mod transport;

mod banner;

pub use banner::{CHANGE_EVENT, Config, DIALOG_ID, Outcome, REOPEN_CLASS, run};

use wasm_bindgen::prelude::*;
use web_sys::HtmlScriptElement;

/// A small free-list allocator (sorted, coalescing) in place of dlmalloc: about 8 KB less wasm, and the
/// banner allocates little (the policy's texts in one language, a few strings per choice).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// The entry point called by the bootstrap at the end of `banner.js` once the wasm module is
/// instantiated: `boot(import.meta.url, "<sha-256 of banner_bg.wasm>")`.
///
/// Finds the banner's `<script data-endpoint>` (the one loaded from `script_url`, else the first), reads
/// its data attributes and runs the banner with the browser's `fetch`. A rejected promise (a missing
/// `data-endpoint`, an unreachable server when the dialog must be shown) shows in the console; the page
/// itself is never blocked.
#[wasm_bindgen]
pub fn boot(script_url: Option<String>, build: Option<String>) -> js_sys::Promise {
    js_sys::futures::future_to_promise(async move {
        start(script_url, build).await?;
        Ok(JsValue::UNDEFINED)
    })
}

async fn start(script_url: Option<String>, build: Option<String>) -> Result<(), JsValue> {
    let doc = dom::document();
    let scripts = doc.query_selector_all("script[data-endpoint]")?;
    let mut found: Option<HtmlScriptElement> = None;
    for i in 0..scripts.length() {
        let Some(script) = scripts
            .item(i)
            .and_then(|n| n.dyn_into::<HtmlScriptElement>().ok())
        else {
            continue;
        };
        let is_ours = script_url.as_deref() == Some(script.src().as_str());
        if is_ours || found.is_none() {
            found = Some(script);
        }
        if is_ours {
            break;
        }
    }
    let script = found
        .ok_or_else(|| policy::error("consent banner: no <script data-endpoint> on the page"))?;
    let mut config = Config::from_script(&script, script_url.as_deref())?;
    config.build = build.filter(|b| b.len() == 64 && b.bytes().all(|c| c.is_ascii_hexdigit()));
    run(config, transport::Fetch::default()).await.map(|_| ())
}
