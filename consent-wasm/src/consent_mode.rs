//! Google Consent Mode v2: `gtag('consent', 'default' | 'update', {…})`. The map from purposes to the
//! seven consent types is [`crate::logic::ConsentModeMap`] (`data-consent-mode`).

use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;

use crate::dom::{get, includes, object, set, set_str, window};
use crate::logic::{CONSENT_TYPES, ConsentModeMap};

/// Consent Mode as the page configured it: the map (`data-consent-mode`; `None` when it is `off`) and
/// the bootstrap's `function(){dataLayer.push(arguments)}`, installed as `window.gtag` when the page
/// has none.
pub(crate) struct ConsentMode<'a> {
    pub(crate) map: Option<&'a ConsentModeMap>,
    pub(crate) gtag: Option<&'a Function>,
}

impl ConsentMode<'_> {
    /// `gtag('consent', 'default', {…})`, before any tag can run: everything denied but
    /// `security_storage`, waiting 500 ms for an update.
    pub(crate) fn default(&self) {
        self.call("default", None);
    }

    #[cfg(any(feature = "full", feature = "visit"))]
    /// `gtag('consent', 'update', {…})` with what the choice grants (`granted`: the purpose ids that
    /// may run now, from a token's policy, a choice, or a kept choice alike).
    pub(crate) fn update(&self, granted: &Array) {
        self.call("update", Some(granted));
    }

    /// Calls `gtag('consent', kind, {...})`: the page's `window.gtag`, else the bootstrap's; without
    /// either, or without a map (`data-consent-mode="off"`), nothing is called.
    fn call(&self, kind: &str, granted: Option<&Array>) {
        let Some(map) = self.map else {
            return;
        };
        let win = window();
        let gtag = match get(&win, "gtag").dyn_into::<Function>() {
            Ok(f) => f,
            Err(_) => match self.gtag {
                Some(f) => {
                    if !get(&win, "dataLayer").is_object() {
                        set(&win, "dataLayer", &Array::new());
                    }
                    set(&win, "gtag", f);
                    f.clone()
                }
                None => return,
            },
        };
        let allows = |id: &str| granted.is_some_and(|g| includes(g, id));
        let granted: Option<&dyn Fn(&str) -> bool> = granted.is_some().then_some(&allows);
        let params = object();
        for consent_type in CONSENT_TYPES {
            let on = map.granted(consent_type, granted);
            set_str(&params, consent_type, if on { "granted" } else { "denied" });
        }
        if granted.is_none() {
            set(&params, "wait_for_update", &JsValue::from_f64(500.0));
        }
        let _ = gtag.call3(
            &JsValue::NULL,
            &JsValue::from_str("consent"),
            &JsValue::from_str(kind),
            &params,
        );
    }
}
