//! The order of a consent request's checks (spec/SPEC.md §4.2) and how the reader treats repeated
//! members: a client sees which problem is reported first, so for each step a body with that problem
//! and a problem of a later step gets the earlier one.
#![cfg(all(feature = "json", feature = "toml"))]

use std::sync::LazyLock;

use consent_core::{Caller, ConsentRequest, Policy, PolicyVersion, RequestContext, ServiceScope};
use serde_json::{Value, json};

static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    Policy::from_toml(include_str!("../../examples/invisionu/policy.toml")).unwrap()
});

/// A service that may record every purpose that needs consent, on every kind a service may name.
static EVERYTHING: LazyLock<ServiceScope> = LazyLock::new(|| ServiceScope::everything(&POLICY));

/// A service that may record application reviews on forms only.
static PORTAL: LazyLock<ServiceScope> =
    LazyLock::new(|| ServiceScope::parse(&POLICY, &["application-review"], &["form"]).unwrap());

/// An earlier version the server still serves (a request under it is `policy_outdated`).
const SERVED: &str = "2024-09-01";

fn good() -> Value {
    json!({
        "policy_version": "2025-03-26",
        "decisions": {"cookies-analytics": "given"},
        "method": "custom",
        "language": "en",
        "collection_point": {"kind": "banner"},
    })
}

/// `good()` with `changes` applied (`null` removes a member; a path of `a.b` reaches into `a`).
fn body(changes: &[(&str, Value)]) -> String {
    let mut b = good();
    for (path, value) in changes {
        let (parent, key) = match path.split_once('.') {
            Some((outer, inner)) => (&mut b[outer], inner),
            None => (&mut b, *path),
        };
        if value.is_null() {
            parent.as_object_mut().unwrap().remove(key);
        } else {
            parent[key] = value.clone();
        }
    }
    b.to_string()
}

/// The answer as `(code, field)`, or `("ok", None)`.
fn answer(body: &str, caller: Caller<'_>, gpc: bool) -> (String, Option<String>) {
    let served = |v: PolicyVersion| v == SERVED.parse().unwrap();
    let mut cx = RequestContext::new(&POLICY, caller);
    cx.served = &served;
    cx.gpc = gpc;
    match cx.check_json(body.as_bytes()) {
        Ok(_) => ("ok".into(), None),
        Err(e) => (e.code.as_str().into(), e.field),
    }
}

/// A body (as changes to `good()`), the caller, whether GPC is on, and the answer: code and field.
type Case = (
    Vec<(&'static str, Value)>,
    Caller<'static>,
    bool,
    &'static str,
    Option<&'static str>,
);

#[test]
fn the_first_problem_in_the_check_order_is_reported() {
    use Caller::Anonymous;
    let (service, portal) = (Caller::Service(&EVERYTHING), Caller::Service(&PORTAL));
    let bad_kind = ("collection_point", json!({"kind": "kiosk"}));
    let long_page = format!("https://a/{}", "p".repeat(503));
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        // 1. The JSON itself, before everything: an unknown member, a member of the wrong type.
        (vec![("policy_version", json!(SERVED)), ("extra", json!(1))], Anonymous, false, "invalid_field", Some("extra")),
        (vec![("policy_version", json!(SERVED)), ("subject_name", json!(5))], Anonymous, false, "invalid_field", Some("subject_name")),
        (vec![("policy_version", json!(SERVED)), ("method", Value::Null)], Anonymous, false, "invalid_field", Some("method")),
        // 2. The policy version: outdated (409 for the banner to fetch the policy) or unknown.
        (vec![("policy_version", json!(SERVED)), ("method", json!("maybe")), ("language", json!("de"))], Anonymous, false, "policy_outdated", Some("policy_version")),
        (vec![("policy_version", json!("2024-01-01")), ("method", json!("maybe"))], Anonymous, false, "unknown_policy_version", Some("policy_version")),
        (vec![("policy_version", json!("soon")), ("method", json!("maybe"))], Anonymous, false, "invalid_field", Some("policy_version")),
        // 3. The method, and whether the caller may use it.
        (vec![("method", json!("maybe")), ("language", json!("de"))], Anonymous, false, "invalid_field", Some("method")),
        (vec![("method", json!("api")), ("language", json!("de"))], Anonymous, false, "forbidden", Some("method")),
        (vec![("method", json!("form")), ("language", json!("de"))], Anonymous, false, "forbidden", Some("method")),
        (vec![("method", json!("form")), ("language", json!("de"))], service, false, "invalid_field", Some("language")),
        // 4. The language.
        (vec![("language", json!("de")), ("decisions", json!({}))], service, false, "invalid_field", Some("language")),
        // 5. The decisions: how many, then in purpose-id order each purpose, whether it needs consent,
        //    its choice.
        (vec![("decisions", json!({})), bad_kind.clone()], Anonymous, false, "invalid_field", Some("decisions")),
        (vec![("decisions", json!({"nope": "given", "marketing": "yes"}))], Anonymous, false, "invalid_field", Some("decisions.marketing")),
        (vec![("decisions", json!({"marketing": "given", "cookies-nope": "yes"}))], Anonymous, false, "unknown_purpose", Some("decisions.cookies-nope")),
        (vec![("decisions", json!({"cookies-necessary": "yes"}))], Anonymous, false, "consent_not_required", Some("decisions.cookies-necessary")),
        (vec![("decisions", json!({"marketing": "yes"})), bad_kind.clone()], Anonymous, false, "invalid_field", Some("decisions.marketing")),
        //    A purpose outside a service's scope, after its id and whether it needs consent, before its
        //    choice.
        (vec![("decisions", json!({"application-review": "yes", "marketing": "yes"})), bad_kind.clone()], portal, false, "invalid_field", Some("decisions.application-review")),
        (vec![("decisions", json!({"application-review": "given", "marketing": "yes"})), bad_kind.clone()], portal, false, "forbidden", Some("decisions.marketing")),
        (vec![("decisions", json!({"legal-compliance": "given"}))], portal, false, "consent_not_required", Some("decisions.legal-compliance")),
        // 6. The method agrees with the decisions; method `gpc` only with the signal.
        (vec![("method", json!("accept-all")), ("decisions", json!({"marketing": "refused"})), bad_kind.clone()], Anonymous, false, "inconsistent_method", Some("method")),
        (vec![("method", json!("gpc")), bad_kind.clone()], Anonymous, false, "inconsistent_method", Some("method")),
        (vec![("method", json!("gpc")), bad_kind.clone()], Anonymous, true, "invalid_field", Some("collection_point.kind")),
        // 7. The collection point: its kind (and whether the caller may use it), build, page (and
        //    whether it is short enough for the caller).
        (vec![("collection_point", json!({"kind": "staff", "build": "ABC"}))], service, false, "forbidden", Some("collection_point.kind")),
        (vec![("collection_point", json!({"kind": "api", "build": "ABC"}))], Anonymous, false, "forbidden", Some("collection_point.kind")),
        (vec![("collection_point", json!({"kind": "form", "build": "ABC"}))], Anonymous, false, "forbidden", Some("collection_point.kind")),
        (vec![("decisions", json!({"application-review": "given"})), ("collection_point", json!({"kind": "api", "build": "ABC"}))], portal, false, "forbidden", Some("collection_point.kind")),
        (vec![("decisions", json!({"application-review": "given"})), ("collection_point", json!({"kind": "form", "build": "ABC"}))], portal, false, "invalid_field", Some("collection_point.build")),
        (vec![("collection_point", json!({"kind": "banner", "build": "ABC", "page": "ftp://x"}))], Anonymous, false, "invalid_field", Some("collection_point.build")),
        (vec![("collection_point", json!({"kind": "banner", "page": "ftp://x"})), ("by", json!({"kind": "robot"}))], Anonymous, false, "invalid_field", Some("collection_point.page")),
        (vec![("collection_point", json!({"kind": "banner", "page": "https://a/\"x\""})), ("by", json!({"kind": "robot"}))], service, false, "invalid_field", Some("collection_point.page")),
        (vec![("collection_point", json!({"kind": "banner", "page": long_page})), ("by", json!({"kind": "robot"}))], Anonymous, false, "invalid_field", Some("collection_point.page")),
        (vec![("collection_point", json!({"kind": "banner", "page": long_page})), ("by", json!({"kind": "robot"}))], service, false, "invalid_field", Some("by.kind")),
        // 8. Who decided: a subject with a relation or name, the kind (and whether the caller may
        //    name a representative), the relation, the name.
        (vec![("by", json!({"kind": "subject", "name": "x"})), ("subject_name", json!(" "))], service, false, "invalid_field", Some("by")),
        (vec![("by", json!({"kind": "subject", "name": "x"})), ("subject_name", json!(" "))], Anonymous, false, "invalid_field", Some("by")),
        (vec![("by", json!({"kind": "representative", "relation": "uncle", "name": " "}))], Anonymous, false, "forbidden", Some("by.kind")),
        (vec![("by", json!({"kind": "representative", "relation": "uncle", "name": " "}))], service, false, "invalid_field", Some("by.relation")),
        (vec![("by", json!({"kind": "representative", "name": " "})), ("subject_name", json!("x"))], service, false, "invalid_field", Some("by.name")),
        // 9. The subject's name: only callers that may name subjects, then its form.
        (vec![("subject_name", json!(" ")), ("subject", json!({"device": "short"}))], Anonymous, false, "forbidden", Some("subject_name")),
        (vec![("subject_name", json!(" ")), ("subject", json!({"device": "short"}))], service, false, "invalid_field", Some("subject_name")),
        // 10. The subject: not both, an id only for callers that may name subjects, then its form.
        (vec![("subject", json!({"device": "short", "id": " "}))], Anonymous, false, "invalid_field", Some("subject")),
        (vec![("subject", json!({"id": " "}))], Anonymous, false, "forbidden", Some("subject.id")),
        (vec![("subject", json!({"id": " "}))], service, false, "invalid_field", Some("subject.id")),
        // A device id is strict base64url of 16 bytes: the last of its 22 characters carries 2 bits.
        (vec![("subject", json!({"device": "AAECAwQFBgcICQoLDA0ODx"}))], Anonymous, false, "invalid_field", Some("subject.device")),
        (vec![("subject", json!({"device": "AAECAwQFBgcICQoLDA0ODw"}))], Anonymous, false, "ok", None),
    ];
    for (changes, caller, gpc, code, field) in cases {
        let body = body(&changes);
        assert_eq!(
            answer(&body, caller, gpc),
            (code.to_owned(), field.map(str::to_owned)),
            "{body} ({caller:?}, gpc {gpc})"
        );
    }
}

#[test]
fn a_purpose_decided_twice_is_refused_naming_it() {
    let head = r#"{"policy_version":"2025-03-26","method":"custom","language":"en","collection_point":{"kind":"banner"},"decisions":"#;
    for decisions in [
        r#"{"marketing":"refused","marketing":"given"}"#,
        r#"{"marketing":"given","marketing":"refused"}"#,
        r#"{"marketing":"given","cookies-analytics":"given","marketing":"given"}"#,
        // Before the checks that need the policy: an unknown purpose twice is the same problem.
        r#"{"nope":"given","nope":"yes"}"#,
    ] {
        let body = format!("{head}{decisions}}}");
        let id = if decisions.contains("nope") {
            "nope"
        } else {
            "marketing"
        };
        for err in [
            ConsentRequest::from_json(body.as_bytes()).unwrap_err(),
            RequestContext::new(&POLICY, Caller::Service(&EVERYTHING))
                .check_json(body.as_bytes())
                .unwrap_err(),
        ] {
            assert_eq!(err.code.as_str(), "invalid_field", "{body}");
            assert_eq!(err.field, Some(format!("decisions.{id}")), "{body}");
            assert!(
                err.message
                    .starts_with(&format!("purpose `{id}` is decided twice")),
                "{}",
                err.message
            );
        }
    }
    // The same purpose once, and two purposes, are fine.
    let body = format!(r#"{head}{{"marketing":"given","cookies-analytics":"refused"}}}}"#);
    assert!(ConsentRequest::from_json(body.as_bytes()).is_ok());
}

#[test]
fn a_member_twice_is_refused_naming_it_at_every_level() {
    let good = r#""policy_version":"2025-03-26","decisions":{"cookies-analytics":"given"},"method":"custom","language":"en""#;
    let point = r#""collection_point":{"kind":"banner"}"#;
    for (body, field) in [
        (format!(r#"{{{good},{point},"method":"custom"}}"#), "method"),
        (
            format!(r#"{{{good},{point},"subject":null,"subject":null}}"#),
            "subject",
        ),
        (
            format!(r#"{{{good},"collection_point":{{"kind":"banner","kind":"form"}}}}"#),
            "collection_point.kind",
        ),
        (
            format!(r#"{{{good},{point},"by":{{"kind":"subject","kind":"subject"}}}}"#),
            "by.kind",
        ),
        (
            format!(
                r#"{{{good},{point},"subject":{{"device":"AAECAwQFBgcICQoLDA0ODw","device":null}}}}"#
            ),
            "subject.device",
        ),
    ] {
        let err = ConsentRequest::from_json(body.as_bytes()).unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.field.as_deref()),
            ("invalid_field", Some(field)),
            "{body}"
        );
        let name = field.rsplit('.').next().unwrap();
        assert!(
            err.message
                .starts_with(&format!("duplicate field `{name}`")),
            "{}",
            err.message
        );
    }
}
