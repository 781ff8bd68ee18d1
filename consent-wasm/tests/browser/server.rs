//! The server: the requests the stub recorded, and tokens signed here.

use super::*;

pub(crate) struct Request {
    pub(crate) path: String,
    pub(crate) method: String,
    pub(crate) body: Option<String>,
    /// The `X-Consent-Token` header, if sent.
    pub(crate) token: Option<String>,
    /// The `Idempotency-Key` header, if sent.
    pub(crate) key: Option<String>,
    pub(crate) at: f64,
}

pub(crate) fn requests() -> Vec<Request> {
    stub_requests()
        .iter()
        .map(|r| Request {
            path: get(&r, "path").as_string().unwrap(),
            method: get(&r, "method").as_string().unwrap(),
            body: get(&r, "body").as_string(),
            token: get(&r, "token").as_string(),
            key: get(&r, "key").as_string(),
            at: get(&r, "at").as_f64().unwrap(),
        })
        .collect()
}

/// The paths of the GET requests.
pub(crate) fn gets() -> Vec<String> {
    requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.path)
        .collect()
}

/// The POST requests (each to `/v1/consents`), with their bodies as sent.
pub(crate) fn post_bodies() -> Vec<String> {
    requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| {
            assert_eq!(r.path, "/v1/consents");
            r.body.expect("a POST has a body")
        })
        .collect()
}

/// The `X-Consent-Token` of each POST, in order.
pub(crate) fn post_tokens() -> Vec<Option<String>> {
    requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.token)
        .collect()
}

/// The POST bodies, parsed.
pub(crate) fn posts() -> Vec<JsValue> {
    post_bodies()
        .iter()
        .map(|b| js_sys::JSON::parse(b).unwrap())
        .collect()
}

/// The only POST body, parsed.
pub(crate) fn posted() -> JsValue {
    let posts = posts();
    assert_eq!(posts.len(), 1, "one POST expected");
    posts.into_iter().next().unwrap()
}

pub(crate) fn field(value: &JsValue, key: &str) -> String {
    get(value, key)
        .as_string()
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

/// A request's decisions, sorted by purpose.
pub(crate) fn decisions(request: &JsValue) -> Vec<(String, String)> {
    let d = get(request, "decisions");
    let mut out: Vec<(String, String)> = Object::keys(d.unchecked_ref::<Object>())
        .iter()
        .map(|k| {
            let k = k.as_string().unwrap();
            let v = field(&d, &k);
            (k, v)
        })
        .collect();
    out.sort();
    out
}

/// A decision for every purpose that needs consent: `rest`, except for those named in `except`.
pub(crate) fn expected(rest: &str, except: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = CONSENT_PURPOSES
        .iter()
        .map(|p| {
            let d = except
                .iter()
                .find(|(id, _)| id == p)
                .map_or(rest, |(_, d)| d);
            (p.to_string(), d.to_string())
        })
        .collect();
    out.sort();
    out
}

pub(crate) fn set_of(codes: &[u8]) -> PurposeSet {
    let mut set = PurposeSet::EMPTY;
    for c in codes {
        set.insert(*c);
    }
    set
}

pub(crate) fn keys() -> TokenKeys {
    TokenKeys::new("t26".parse().unwrap(), HmacKey::from_bytes([7; 32]))
}

/// A consent token as the server signs it.
pub(crate) fn sign(claims: TokenClaims) -> String {
    keys().sign(&claims).unwrap()
}

pub(crate) fn claims(version: &str, given: &[u8], refused: &[u8]) -> TokenClaims {
    TokenClaims {
        policy_version: version.parse().unwrap(),
        issued_at: Timestamp::from_unix(now() - 60),
        expires_at: Timestamp::from_unix(now() + 183 * 86_400),
        subject: TokenSubject::Device(SubjectId([1; 16])),
        receipt: ReceiptId([0x2a; 16]),
        given: set_of(given),
        refused: set_of(refused),
    }
}

/// A current token under `version` giving `given` and refusing every other purpose that needs consent.
pub(crate) fn token(version: &str, given: &[u8]) -> String {
    let refused: Vec<u8> = CONSENT_CODES
        .iter()
        .copied()
        .filter(|c| !given.contains(c))
        .collect();
    sign(claims(version, given, &refused))
}

/// Puts a token in the `consent` cookie, as an earlier page would have.
pub(crate) fn set_token(token: &str) {
    set_cookie(&format!("consent={token}"));
}

/// Waits until the server has answered the last choice (nothing pending any more).
pub(crate) async fn recorded() {
    until("the server's answer", || {
        pending().is_none() && get(&api("get"), "pending").as_bool() == Some(false)
    })
    .await;
}
