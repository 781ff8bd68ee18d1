//! Fetching a policy from the consent server: the current one's banner view in the dialog's language
//! (`GET /v1/policy/banner/{lang}`, for a dialog or a choice: what the banner reads, in one language,
//! with the full policy's hash; `spec/POLICY.md`, "Banner view"), or an exact version in full
//! (`GET /v1/policies/{version}`, immutable): a token's own, to map its purpose codes to the page's
//! ids, or the current one a `409 policy_outdated` names (never a cached view of the old one). One
//! request at a time; the browser parses the JSON (`Response.json()`), and
//! [`crate::policy::PolicyView`] reads either.

use alloc::string::String;

use consent_core::PolicyVersion;
use js_sys::Promise;
use web_sys::Response;

use crate::dom::{request_init, status, then2, window};
use crate::step::{Dispatch, Step};

/// The current policy's banner view, on the consent server (followed by the language).
const CURRENT_VIEW: &str = "/v1/policy/banner/";

/// The policy request on its way, if any.
pub(crate) struct PolicyFetch {
    /// A policy is on its way: `Some(true)` the current one, `Some(false)` the token's version.
    fetching: Option<bool>,
    /// The current policy, fetched and parsed by the bootstrap ([`crate::Config::policy`]); used
    /// instead of the first request for it.
    prefetched: Option<Promise>,
}

impl PolicyFetch {
    pub(crate) fn new(prefetched: Option<Promise>) -> PolicyFetch {
        PolicyFetch {
            fetching: None,
            prefetched,
        }
    }

    /// Asks for the current policy's banner view in `lang`, unless a policy is on its way.
    pub(crate) fn current(&mut self, endpoint: &str, lang: &str, dispatch: &Dispatch) {
        let mut path = String::from(CURRENT_VIEW);
        path.push_str(lang);
        self.fetch(endpoint, &path, dispatch);
    }

    /// Asks for policy `version`, unless a policy is on its way.
    pub(crate) fn version(&mut self, endpoint: &str, version: PolicyVersion, dispatch: &Dispatch) {
        let mut path = String::from("/v1/policies/");
        path.push_str(&version.text());
        self.fetch(endpoint, &path, dispatch);
    }

    /// Asks for policy `version`, which the server named as its current one (`409 policy_outdated`):
    /// the immutable URL, never a cached copy of the old current policy; it arrives as the current
    /// policy. Unless a policy is on its way.
    pub(crate) fn current_version(
        &mut self,
        endpoint: &str,
        version: PolicyVersion,
        dispatch: &Dispatch,
    ) {
        let mut path = String::from("/v1/policies/");
        path.push_str(&version.text());
        self.fetch_as(endpoint, &path, true, dispatch);
    }

    /// Asks for a policy, unless one is on its way (whatever waits for a policy checks, when it comes,
    /// whether it is the one it needs). [`Step::Policy`] gets the response, [`Step::PolicyJson`] the
    /// parsed JSON, [`Step::PolicyFail`] a failure.
    fn fetch(&mut self, endpoint: &str, path: &str, dispatch: &Dispatch) {
        self.fetch_as(endpoint, path, path.starts_with(CURRENT_VIEW), dispatch);
    }

    /// [`PolicyFetch::fetch`], saying whether what arrives is the current policy.
    fn fetch_as(&mut self, endpoint: &str, path: &str, current: bool, dispatch: &Dispatch) {
        if self.fetching.is_some() {
            return;
        }
        self.fetching = Some(current);
        let mut url = String::from(endpoint);
        url.push_str(path);
        // The bootstrap's request comes parsed (the JSON is read while the wasm compiles).
        let (request, next) = match self.prefetched.take() {
            Some(prefetched) if path.starts_with(CURRENT_VIEW) => (prefetched, Step::PolicyJson),
            _ => (
                window().fetch_with_str_and_init(&url, &request_init("GET")),
                Step::Policy,
            ),
        };
        let _ = then2(
            &request,
            &dispatch.callback(next),
            &dispatch.callback(Step::PolicyFail),
        );
    }

    /// The response to a policy request ([`Step::Policy`]): its JSON is read (to
    /// [`Step::PolicyJson`]), or `false` if it failed.
    pub(crate) fn response(&self, response: &Response, dispatch: &Dispatch) -> bool {
        match (status(response), response.json()) {
            (200, Ok(json)) => {
                let _ = then2(
                    &json,
                    &dispatch.callback(Step::PolicyJson),
                    &dispatch.callback(Step::PolicyFail),
                );
                true
            }
            _ => false,
        }
    }

    /// A policy's JSON has arrived: the request is over; whether it was for the current policy.
    pub(crate) fn arrived(&mut self) -> bool {
        self.fetching.take() == Some(true)
    }

    /// The request failed: it is over.
    pub(crate) fn failed(&mut self) {
        self.fetching = None;
    }
}
