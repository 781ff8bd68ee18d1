//! The banner's configuration: what the embedding page says about it, in its `<script>`'s data
//! attributes ([`Config::from_script`]), and what the bootstrap passes to [`boot`](crate::boot).

#[cfg(feature = "full")]
use alloc::borrow::ToOwned;
use alloc::string::String;

#[cfg(feature = "full")]
use consent_core::BuildHash;
use consent_core::PolicyVersion;
use js_sys::Function;
#[cfg(feature = "full")]
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use web_sys::Element;

use crate::{dom, logic};

/// What the embedding page says about the banner (its `<script>`'s data attributes). The fields only
/// the full banner uses (the server, the build, retries, the prefetched policy) are compiled into it
/// only: the return visit's part neither reads nor carries them.
#[derive(Clone, Debug)]
pub struct Config {
    /// The consent server, without a trailing slash (`data-endpoint`; `"/"` means this site, and
    /// becomes the empty string). Only the full banner talks to it: the return visit's part does not
    /// read it (the bootstrap found the `<script>` by it).
    #[cfg(feature = "full")]
    pub endpoint: String,
    /// The policy version the page is published under (`data-policy-version`): a choice made under an
    /// older version is asked again.
    pub policy_version: Option<PolicyVersion>,
    /// SHA-256 of the banner build, sent with each choice (written into the bootstrap by
    /// `scripts/build-banner`).
    #[cfg(feature = "full")]
    pub build: Option<BuildHash>,
    /// The stylesheet to load (`data-css`; by default `banner.css` next to `banner.js`;
    /// `data-css="none"` when the site bundles it itself).
    pub stylesheet: Option<String>,
    /// Google Consent Mode v2: consent type → purpose (`data-consent-mode`, default
    /// [`logic::CONSENT_MODE_DEFAULT`]; `"off"` turns it off).
    pub consent_mode: Option<logic::ConsentModeMap>,
    /// Defines `window.gtag` when the page has none (the bootstrap's
    /// `function(){dataLayer.push(arguments)}`; a JS function cannot be written in Rust without eval).
    pub gtag: Option<Function>,
    /// The first retry after the server could not be reached, in milliseconds (doubles up to
    /// five minutes).
    #[cfg(feature = "full")]
    pub retry_ms: u32,
    /// The current policy (`{endpoint}/v1/policy`), fetched and parsed by the bootstrap while the wasm
    /// was loading (only when there is no consent cookie, so a dialog is likely): a promise of the parsed
    /// JSON, rejected if the answer was not a `200`. Used instead of a new request.
    #[cfg(feature = "full")]
    pub policy: Option<Promise>,
}

/// Which of the `<script>`'s data attributes is bad ([`Config::read`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Bad {
    /// `data-endpoint` is missing.
    #[cfg(feature = "full")]
    Endpoint,
    /// `data-policy-version` is not a date.
    PolicyVersion,
    /// `data-consent-mode` is not a list of `type=purpose` pairs.
    ConsentMode,
}

impl Config {
    /// Finds the banner's `<script data-endpoint>` (the one loaded from `script_url`, else the first)
    /// and reads its data attributes. A page without one, or with a bad attribute, gets an exception
    /// in the console; the page itself is never blocked.
    pub fn find(script_url: Option<&str>) -> Result<Config, JsValue> {
        let mut found: Option<Element> = None;
        for script in dom::all("script[data-endpoint]") {
            let is_ours =
                script_url.is_some() && dom::string(&script, "src").as_deref() == script_url;
            if is_ours || found.is_none() {
                found = Some(script);
            }
            if is_ours {
                break;
            }
        }
        let script =
            found.ok_or_else(|| JsValue::from_str("consent banner: no <script data-endpoint>"))?;
        Config::from_script(&script, script_url)
    }

    /// Reads the data attributes of the banner's `<script>` element, loaded from `script_url`.
    pub fn from_script(script: &Element, script_url: Option<&str>) -> Result<Config, JsValue> {
        let stylesheet = script_url.map(|url| logic::sibling(url, "banner.css"));
        Config::read(script, stylesheet).map_err(|bad| {
            JsValue::from_str(match bad {
                #[cfg(feature = "full")]
                Bad::Endpoint => "consent banner: data-endpoint is missing",
                Bad::PolicyVersion => {
                    "consent banner: data-policy-version is not a date such as 2025-03-26"
                }
                Bad::ConsentMode => {
                    "consent banner: data-consent-mode is not a list of type=purpose pairs"
                }
            })
        })
    }

    /// [`Config::from_script`], given the default stylesheet's URL (`banner.css` beside the script:
    /// the return visit's bootstrap passes it resolved) and saying which attribute is bad without the
    /// words: the return visit's part leaves a bad configuration to the full banner, which reports it
    /// (so the messages are not in the part's wasm).
    pub(crate) fn read(script: &Element, stylesheet: Option<String>) -> Result<Config, Bad> {
        #[cfg(feature = "full")]
        let endpoint = crate::dom::attr_string(script, "data-endpoint")
            .map(|e| logic::endpoint(&e).to_owned())
            .ok_or(Bad::Endpoint)?;
        let policy_version = match crate::dom::attr_string(script, "data-policy-version") {
            Some(v) => Some(v.trim_ascii().parse().map_err(|_| Bad::PolicyVersion)?),
            None => None,
        };
        let stylesheet = match crate::dom::attr_string(script, "data-css") {
            Some(css) if css == "none" => None,
            Some(css) => Some(css),
            None => stylesheet,
        };
        let consent_mode = match crate::dom::attr_string(script, "data-consent-mode") {
            Some(m) if m.trim_ascii() == "off" => None,
            Some(m) => Some(logic::ConsentModeMap::parse(&m).ok_or(Bad::ConsentMode)?),
            None => logic::ConsentModeMap::parse(logic::CONSENT_MODE_DEFAULT),
        };
        Ok(Config {
            #[cfg(feature = "full")]
            endpoint,
            policy_version,
            #[cfg(feature = "full")]
            build: None,
            stylesheet,
            consent_mode,
            gtag: None,
            #[cfg(feature = "full")]
            retry_ms: 2_000,
            #[cfg(feature = "full")]
            policy: None,
        })
    }
}
