//! What a backend service of the foundation (mailing, media team) writes to use consent-core: read the
//! consent cookie from a request, verify it with the server's token keys, and decide whether it may
//! send the newsletter or publish a photo, with the reason when it may not.
//!
//! ```text
//! cargo run -p backend-check                          # demo: the token vectors of spec/vectors
//! cargo run -p backend-check -- 'COOKIE HEADER' [UNIX_TIME]
//! ```
//! Keys come from `CONSENT_TOKEN_KEYS` (a JWK Set file of `oct` keys with `"use": "consent-token"`,
//! like `spec/vectors/hmac-keys.json`), the policy from `CONSENT_POLICY` (default: the invisionu policy).

use std::process::ExitCode;

use consent_core::{Decision, Policy, PurposeId, Timestamp, TokenKeys, UnverifiedToken};

/// Everything a service needs, in a few lines: `Ok` to go ahead, `Err` with the reason not to.
fn may(
    cookie_header: &str,
    purpose: &str,
    keys: &TokenKeys,
    policy: &Policy,
    now: Timestamp,
) -> Result<(), String> {
    let cookie = cookie_header
        .split(';')
        .find_map(|c| c.trim().strip_prefix("consent="))
        .ok_or("no consent cookie: the visitor has not chosen yet")?;
    let token = UnverifiedToken::decode(cookie)
        .and_then(|t| t.verify(keys))
        .map_err(|e| e.to_string())?;
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
    for (name, header, now) in requests {
        println!("{name} at {now}:");
        for (action, purpose) in [
            ("send the newsletter", "marketing"),
            ("publish a photo", "public-dissemination"),
        ] {
            match may(&header, purpose, &keys, &policy, now) {
                Ok(()) => println!("  may {action}"),
                Err(why) => println!("  may NOT {action}: {why}"),
            }
        }
    }
    Ok(())
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
        "every-purpose-decided",
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
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let requests = demo_requests(root).unwrap();
        let verdicts: Vec<(String, bool, bool)> = requests
            .iter()
            .map(|(name, header, at)| {
                (
                    name.clone(),
                    may(header, "marketing", &keys, &policy, *at).is_ok(),
                    may(header, "public-dissemination", &keys, &policy, *at).is_ok(),
                )
            })
            .collect();
        let expect = |n: &str| {
            verdicts
                .iter()
                .find(|v| v.0 == n)
                .map(|v| (v.1, v.2))
                .unwrap()
        };
        assert_eq!(expect("cookie `every-purpose-decided`"), (true, false));
        assert_eq!(expect("cookie `accept-all`"), (true, true));
        assert_eq!(expect("cookie `reject-all`"), (false, false));
        assert_eq!(expect("cookie `tampered-given-purposes`"), (false, false));
        assert_eq!(expect("cookie `expired`"), (false, false));
        assert_eq!(expect("no cookie"), (false, false));
    }

    #[test]
    fn reasons_are_given() {
        let keys = load_keys(KEYS).unwrap();
        let policy = Policy::from_toml(POLICY).unwrap();
        let err = may("a=b", "marketing", &keys, &policy, Timestamp::from_unix(0)).unwrap_err();
        assert!(err.contains("no consent cookie"), "{err}");
        let err = may(
            "consent=AAAA",
            "marketing",
            &keys,
            &policy,
            Timestamp::from_unix(0),
        )
        .unwrap_err();
        assert!(
            err.contains("unknown token version") || err.contains("truncated"),
            "{err}"
        );
    }
}
