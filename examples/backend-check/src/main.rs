//! What a backend service of the foundation (mailing, media team) writes to use consent-core: read the
//! consent cookie from a request, verify it with the server's token keys, check whose it is, and decide
//! whether it may send the newsletter or publish a photo, with the reason when it may not.
//!
//! ```text
//! cargo run -p backend-check                          # demo: the token vectors of spec/vectors
//! cargo run -p backend-check -- 'COOKIE HEADER' [UNIX_TIME [sub:PSEUDONYM]]
//! ```
//! Keys come from `CONSENT_TOKEN_KEYS` (a JWK Set file of `oct` keys with `"use": "consent-token"`,
//! like `spec/vectors/hmac-keys.json`), the policy from `CONSENT_POLICY` (default: the invisionu policy).

use std::process::ExitCode;

use consent_core::{
    ConsentToken, Decision, Policy, PurposeId, SubjectId, Timestamp, TokenKeys, TokenSubject,
    UnverifiedToken,
};

/// The person the demo's mailing and media services act for: the pseudonym of the vectors' `person`
/// token. The vectors' device tokens carry the same 128 bits, as anyone can make a device id equal to
/// a pseudonym (pseudonyms appear in unsubscribe links).
const DEMO_PERSON: &str = "sub:WlpaWlpaWlpaWlpaWlpaWg";

/// The consent token of a request's cookie, verified.
fn token(cookie_header: &str, keys: &TokenKeys) -> Result<ConsentToken, String> {
    let cookie = cookie_header
        .split(';')
        .find_map(|c| c.trim().strip_prefix("consent="))
        .ok_or("no consent cookie: the visitor has not chosen yet")?;
    UnverifiedToken::decode(cookie)
        .and_then(|t| t.verify(keys))
        .map_err(|e| e.to_string())
}

/// Whose choice a verified token carries, in words.
fn whose(token: &ConsentToken) -> String {
    match token.claims().subject {
        TokenSubject::Device(id) => format!("device dev:{id} (an anonymous visitor)"),
        TokenSubject::Person(id) => format!("person sub:{id}"),
        TokenSubject::Unbound(id) => {
            format!("{id}, kind unknown (a version 1 token: never taken for a person)")
        }
    }
}

/// Everything a service needs, in a few lines: `Ok` to go ahead, `Err` with the reason not to.
///
/// `person` is whom the service acts for: `None` for this visitor, whoever they are (the site itself,
/// deciding what to run on this page); `Some(pseudonym)` for one person (a newsletter goes to a person,
/// a photo shows one). Then the token must say it is that person's: a device's token, or a version 1
/// token that does not say, never speaks for a person, even when its 128 bits equal their pseudonym.
fn may(
    cookie_header: &str,
    person: Option<SubjectId>,
    purpose: &str,
    keys: &TokenKeys,
    policy: &Policy,
    now: Timestamp,
) -> Result<(), String> {
    let token = token(cookie_header, keys)?;
    if let Some(person) = person {
        match token.claims().subject {
            TokenSubject::Person(p) if p == person => {}
            TokenSubject::Person(_) => return Err("the cookie is another person's".into()),
            TokenSubject::Device(_) => {
                return Err("the cookie is an anonymous device's, not this person's".into());
            }
            TokenSubject::Unbound(_) => {
                return Err(
                    "the cookie is a version 1 token, which does not say whose it is".into(),
                );
            }
        }
    }
    let purpose: PurposeId = purpose.parse().map_err(|e| format!("{e}"))?;
    match token.decision(purpose, now, policy) {
        Decision::Allowed(_) => Ok(()),
        Decision::Denied(why) => Err(why.to_string()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let keys_path = std::env::var("CONSENT_TOKEN_KEYS")
        .unwrap_or_else(|_| format!("{root}/spec/vectors/hmac-keys.json"));
    let policy_path = std::env::var("CONSENT_POLICY")
        .unwrap_or_else(|_| format!("{root}/examples/invisionu/policy.toml"));
    let keys =
        load_keys(&std::fs::read_to_string(&keys_path).map_err(|e| format!("{keys_path}: {e}"))?)?;
    let policy = Policy::from_toml(
        &std::fs::read_to_string(&policy_path).map_err(|e| format!("{policy_path}: {e}"))?,
    )
    .map_err(|e| format!("{policy_path}: {e}"))?;

    let mut args = std::env::args().skip(1);
    let requests: Vec<(String, String, Timestamp)> = match args.next() {
        Some(header) => {
            let now = match args.next() {
                Some(t) => {
                    Timestamp::from_unix(t.parse().map_err(|_| format!("not a unix time: {t}"))?)
                }
                None => now(),
            };
            vec![("your cookie".into(), header, now)]
        }
        None => demo_requests(root)?,
    };
    let person = pseudonym(args.next().as_deref().unwrap_or(DEMO_PERSON))?;
    for (name, header, now) in requests {
        match token(&header, &keys) {
            Ok(t) => println!("{name} at {now}: {}", whose(&t)),
            Err(_) => println!("{name} at {now}:"),
        }
        for (action, acting_for, purpose) in [
            (
                "count the visit in analytics".to_string(),
                None,
                "cookies-analytics",
            ),
            (
                format!("send the newsletter to sub:{person}"),
                Some(person),
                "marketing",
            ),
            (
                format!("publish a photo of sub:{person}"),
                Some(person),
                "public-dissemination",
            ),
        ] {
            match may(&header, acting_for, purpose, &keys, &policy, now) {
                Ok(()) => println!("  may {action}"),
                Err(why) => println!("  may NOT {action}: {why}"),
            }
        }
    }
    Ok(())
}

/// A person's pseudonym as the consent server writes it (`sub:` and 22 base64url characters).
fn pseudonym(s: &str) -> Result<SubjectId, String> {
    s.strip_prefix("sub:")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| format!("not a pseudonym (sub:…): {s}"))
}

fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Timestamp::from_unix(secs)
}

/// Token keys from a JWK Set file: the first `consent-token` key signs, all of them verify.
fn load_keys(jwks: &str) -> Result<TokenKeys, String> {
    TokenKeys::from_jwks_json(jwks).map_err(|e| e.to_string())
}

/// The demo: valid and invalid cookies of `spec/vectors/tokens.json`, at their verification time.
fn demo_requests(root: &str) -> Result<Vec<(String, String, Timestamp)>, String> {
    let path = format!("{root}/spec/vectors/tokens.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let vectors: Vec<serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let shown = [
        "person",
        "every-purpose-decided",
        "v1-every-purpose-decided",
        "kind-flipped-to-person",
        "accept-all",
        "reject-all",
        "tampered-given-purposes",
        "expired",
    ];
    let mut out: Vec<(String, String, Timestamp)> = vectors
        .iter()
        .filter(|v| v["name"].as_str().is_some_and(|n| shown.contains(&n)))
        .map(|v| {
            let name = v["name"].as_str().unwrap_or_default();
            let token = v["token"].as_str().unwrap_or_default();
            let at = Timestamp::from_unix(v["verify_at"].as_i64().unwrap_or_default());
            (
                format!("cookie `{name}`"),
                format!("lang=kk; consent={token}"),
                at,
            )
        })
        .collect();
    out.push(("no cookie".into(), "lang=ru".into(), now()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &str = include_str!("../../../spec/vectors/hmac-keys.json");
    const POLICY: &str = include_str!("../../invisionu/policy.toml");

    #[test]
    fn the_demo_cookies_decide_as_expected() {
        let keys = load_keys(KEYS).unwrap();
        let policy = Policy::from_toml(POLICY).unwrap();
        let person = pseudonym(DEMO_PERSON).unwrap();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let requests = demo_requests(root).unwrap();
        assert_eq!(requests.len(), 9);
        // (count the visit, send the newsletter, publish a photo)
        let verdicts: Vec<(String, [bool; 3])> = requests
            .iter()
            .map(|(name, header, at)| {
                let ok = |p: Option<SubjectId>, purpose| {
                    may(header, p, purpose, &keys, &policy, *at).is_ok()
                };
                (
                    name.clone(),
                    [
                        ok(None, "cookies-analytics"),
                        ok(Some(person), "marketing"),
                        ok(Some(person), "public-dissemination"),
                    ],
                )
            })
            .collect();
        let expect = |n: &str| verdicts.iter().find(|v| v.0 == n).map(|v| v.1).unwrap();
        assert_eq!(expect("cookie `person`"), [true, true, false]);
        // The same 128 bits and the same choice, as a device or from a version 1 token: the visitor's
        // choice counts on the page, but it never speaks for the person.
        assert_eq!(
            expect("cookie `every-purpose-decided`"),
            [true, false, false]
        );
        assert_eq!(
            expect("cookie `v1-every-purpose-decided`"),
            [true, false, false]
        );
        assert_eq!(expect("cookie `kind-flipped-to-person`"), [false; 3]);
        assert_eq!(expect("cookie `accept-all`"), [true, false, false]);
        assert_eq!(expect("cookie `reject-all`"), [false; 3]);
        assert_eq!(expect("cookie `tampered-given-purposes`"), [false; 3]);
        assert_eq!(expect("cookie `expired`"), [false; 3]);
        assert_eq!(expect("no cookie"), [false; 3]);
    }

    #[test]
    fn reasons_are_given() {
        let keys = load_keys(KEYS).unwrap();
        let policy = Policy::from_toml(POLICY).unwrap();
        let at = Timestamp::from_unix(0);
        let err = may("a=b", None, "marketing", &keys, &policy, at).unwrap_err();
        assert!(err.contains("no consent cookie"), "{err}");
        let err = may("consent=AAAA", None, "marketing", &keys, &policy, at).unwrap_err();
        assert!(
            err.contains("unknown token version") || err.contains("truncated"),
            "{err}"
        );
        let vectors: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../../../spec/vectors/tokens.json")).unwrap();
        let cookie = |name: &str| {
            let v = vectors.iter().find(|v| v["name"] == name).unwrap();
            let at = Timestamp::from_unix(v["verify_at"].as_i64().unwrap());
            (format!("consent={}", v["token"].as_str().unwrap()), at)
        };
        let person = pseudonym(DEMO_PERSON).unwrap();
        let (device, at) = cookie("every-purpose-decided");
        let err = may(&device, Some(person), "marketing", &keys, &policy, at).unwrap_err();
        assert!(err.contains("device's, not this person's"), "{err}");
        let (v1, at) = cookie("v1-every-purpose-decided");
        let err = may(&v1, Some(person), "marketing", &keys, &policy, at).unwrap_err();
        assert!(err.contains("does not say whose"), "{err}");
        let (theirs, at) = cookie("person");
        let someone_else = SubjectId([1; 16]);
        let err = may(&theirs, Some(someone_else), "marketing", &keys, &policy, at).unwrap_err();
        assert!(err.contains("another person's"), "{err}");
    }
}
