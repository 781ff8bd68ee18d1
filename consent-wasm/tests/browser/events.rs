//! The banner's events and its JS API.

use super::*;

/// The `detail`s of the `consent:<kind>` events since the reset.
pub(crate) fn events(kind: &str) -> Vec<JsValue> {
    get(&window(), "__events")
        .unchecked_into::<Array>()
        .iter()
        .filter_map(|e| {
            let e: Array = e.unchecked_into();
            (e.get(0).as_string().as_deref() == Some(kind)).then(|| e.get(1))
        })
        .collect()
}

pub(crate) fn api(name: &str) -> JsValue {
    consent_api(name, &JsValue::UNDEFINED)
}

pub(crate) fn api_with(name: &str, arg: &JsValue) -> JsValue {
    consent_api(name, arg)
}

/// `window.consent.on(name, f)`: returns what `on` returns.
pub(crate) fn on(name: &str, f: &Function) -> JsValue {
    let consent = get(&window(), "consent");
    let on: Function = get(&consent, "on").unchecked_into();
    on.call2(&consent, &name.into(), f).unwrap()
}

pub(crate) fn allows(purpose: &str) -> bool {
    api_with("allows", &purpose.into()).as_bool().unwrap()
}

pub(crate) fn js_errors() -> Vec<String> {
    strings(&get(&window(), "__errors"))
}

/// The gtag calls recorded by [`install_gtag_recorder`].
pub(crate) fn gtag_calls() -> Vec<Array> {
    get(&window(), "__gtag")
        .dyn_into::<Array>()
        .map(|a| a.iter().map(|c| c.unchecked_into()).collect())
        .unwrap_or_default()
}

/// A Consent Mode parameter object, as sorted `key=value` strings.
pub(crate) fn params(value: &JsValue) -> Vec<String> {
    let mut out: Vec<String> = Object::entries(value.unchecked_ref::<Object>())
        .iter()
        .map(|e| {
            let e: Array = e.unchecked_into();
            let v = e.get(1);
            let v = v.as_string().or_else(|| v.as_f64().map(|n| n.to_string()));
            format!("{}={}", e.get(0).as_string().unwrap(), v.unwrap())
        })
        .collect();
    out.sort();
    out
}

/// The Consent Mode state with the types in `granted` granted (and `security_storage`, which follows
/// the strictly necessary cookies), sorted as [`params`] writes it.
pub(crate) fn consent_mode(granted: &[&str], wait: bool) -> Vec<String> {
    let mut out: Vec<String> = logic::CONSENT_TYPES
        .iter()
        .map(|t| {
            let on = *t == "security_storage" || granted.contains(t);
            format!("{t}={}", if on { "granted" } else { "denied" })
        })
        .collect();
    if wait {
        out.push("wait_for_update=500".into());
    }
    out.sort();
    out
}

pub(crate) fn page_url() -> String {
    let location = window().location();
    let mut url = location.origin().unwrap();
    url.push_str(&location.pathname().unwrap());
    url
}
