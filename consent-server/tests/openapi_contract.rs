//! `openapi.json` describes the consent request as consent-core defines it: the same members, the same
//! required ones, the same values of every closed vocabulary, the same length limits, and every error
//! code the request's checks can give. The document is written by hand; this test keeps it true to the
//! one definition (`consent_core::ConsentRequest`, spec/SPEC.md §4), and to the server where the server
//! is the definition: its error codes (`ErrorCode`), the ids it accepts, the entity tags it sends.
//! `scripts/test` also runs schemathesis against the real binary with this document.

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use consent_core::{
    Choice, CollectionKind, CollectionPointRequest, ConsentRequest, DecidedBy, ExternalId, Method,
    PageUrl, PersonName, Relation, RequestErrorCode, SubjectId, SubjectSelector,
};
use consent_server::error::ErrorCode;
use consent_server::privacy::SubjectRef;
use serde_json::{Value, json};

fn doc() -> Value {
    serde_json::from_str(include_str!("../openapi.json")).unwrap()
}

/// The schema a `$ref` names, or the schema itself.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "{r} does not resolve");
            resolve(doc, target)
        }
        None => schema,
    }
}

/// The non-null alternative of a schema that may also be `null` (`anyOf: [X, {type: null}]`), or the
/// schema itself.
fn non_null<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["anyOf"].as_array() {
        Some(alternatives) => {
            let rest: Vec<&Value> = alternatives
                .iter()
                .filter(|a| a["type"] != "null")
                .collect();
            assert_eq!(rest.len(), 1, "{schema}");
            resolve(doc, rest[0])
        }
        None => resolve(doc, schema),
    }
}

/// Whether the schema accepts `null`.
fn nullable(schema: &Value) -> bool {
    let in_type = match &schema["type"] {
        Value::String(t) => t == "null",
        Value::Array(types) => types.iter().any(|t| t == "null"),
        _ => false,
    };
    let in_any_of = schema["anyOf"]
        .as_array()
        .is_some_and(|a| a.iter().any(|s| s["type"] == "null"));
    in_type || in_any_of
}

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

/// The string values of a JSON array (`enum`, `required`); `null` entries left out.
fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| set(a.iter().filter_map(Value::as_str)))
        .unwrap_or_default()
}

/// An object schema: no other members; exactly `fields`, of which exactly `required` are required, and
/// every other one may be `null` (the reader takes `null` as absent) while the required ones may not.
fn check_object(doc: &Value, name: &str, schema: &Value, fields: &[&str], required: &[&str]) {
    assert_eq!(schema["type"], "object", "{name}");
    assert_eq!(schema["additionalProperties"], false, "{name}");
    let properties = schema["properties"].as_object().unwrap();
    assert_eq!(
        set(properties.keys().map(String::as_str)),
        set(fields.iter().copied()),
        "{name}: members"
    );
    assert_eq!(
        strings(&schema["required"]),
        set(required.iter().copied()),
        "{name}: required members"
    );
    for (field, property) in properties {
        let optional = !required.contains(&field.as_str());
        assert_eq!(
            nullable(property),
            optional,
            "{name}.{field}: may be null exactly when optional"
        );
        // Every member is described.
        let described = resolve(doc, non_null(doc, property));
        assert!(
            described.is_object() && !described.as_object().unwrap().is_empty(),
            "{name}.{field}"
        );
    }
}

fn vocabulary<T: Copy>(all: &[T], as_str: impl Fn(T) -> &'static str) -> BTreeSet<String> {
    set(all.iter().map(|v| as_str(*v)))
}

#[test]
fn the_consent_request_has_the_contracts_members() {
    let doc = doc();
    let schemas = &doc["components"]["schemas"];
    let request = &schemas["ConsentRequest"];
    check_object(
        &doc,
        "ConsentRequest",
        request,
        ConsentRequest::FIELDS,
        ConsentRequest::REQUIRED,
    );
    let p = &request["properties"];
    let point = non_null(&doc, &p["collection_point"]);
    check_object(
        &doc,
        "ConsentRequest.collection_point",
        point,
        CollectionPointRequest::FIELDS,
        CollectionPointRequest::REQUIRED,
    );
    let subject = non_null(&doc, &p["subject"]);
    check_object(
        &doc,
        "ConsentRequest.subject",
        subject,
        SubjectSelector::FIELDS,
        SubjectSelector::REQUIRED,
    );
    let by = non_null(&doc, &p["by"]);
    check_object(
        &doc,
        "ConsentRequest.by",
        by,
        DecidedBy::FIELDS,
        DecidedBy::REQUIRED,
    );
    // `POST /v1/consents` takes it.
    let body = &doc["paths"]["/v1/consents"]["post"]["requestBody"];
    assert_eq!(body["required"], true);
    assert_eq!(
        body["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ConsentRequest"
    );
}

#[test]
fn the_consent_requests_vocabularies_are_the_contracts() {
    let doc = doc();
    let p = &doc["components"]["schemas"]["ConsentRequest"]["properties"];
    assert_eq!(
        strings(&resolve(&doc, &p["method"])["enum"]),
        vocabulary(Method::ALL, Method::as_str),
        "method"
    );
    let decisions = &p["decisions"];
    assert_eq!(decisions["type"], "object");
    assert_eq!(decisions["minProperties"], 1);
    assert_eq!(
        strings(&resolve(&doc, &decisions["additionalProperties"])["enum"]),
        vocabulary(Choice::ALL, Choice::as_str),
        "decisions.*"
    );
    let point = &non_null(&doc, &p["collection_point"])["properties"];
    assert_eq!(
        strings(&point["kind"]["enum"]),
        vocabulary(CollectionKind::ALL, CollectionKind::as_str),
        "collection_point.kind"
    );
    assert_eq!(point["build"]["pattern"], "^[0-9a-f]{64}$");
    let by = &non_null(&doc, &p["by"])["properties"];
    assert_eq!(
        strings(&by["kind"]["enum"]),
        set(DecidedBy::KINDS.iter().copied()),
        "by.kind"
    );
    assert_eq!(
        strings(&by["relation"]["enum"]),
        vocabulary(Relation::ALL, Relation::as_str),
        "by.relation"
    );
    // The receipt's collection point has the same kinds.
    assert_eq!(
        strings(&doc["components"]["schemas"]["CollectionPoint"]["properties"]["kind"]["enum"]),
        vocabulary(CollectionKind::ALL, CollectionKind::as_str),
        "CollectionPoint.kind"
    );
}

#[test]
fn the_consent_requests_limits_are_the_contracts() {
    let doc = doc();
    let p = &doc["components"]["schemas"]["ConsentRequest"]["properties"];
    let limits = |schema: &Value| (schema["minLength"].as_u64(), schema["maxLength"].as_u64());
    let name = Some(PersonName::MAX_LEN as u64);
    assert_eq!(limits(&p["subject_name"]), (Some(1), name), "subject_name");
    assert_eq!(
        limits(&non_null(&doc, &p["by"])["properties"]["name"]),
        (Some(1), name),
        "by.name"
    );
    assert_eq!(
        limits(&non_null(&doc, &p["subject"])["properties"]["id"]),
        (Some(1), Some(ExternalId::MAX_LEN as u64)),
        "subject.id"
    );
    let page = &non_null(&doc, &p["collection_point"])["properties"]["page"];
    let description = page["description"].as_str().unwrap();
    for limit in [
        format!("at most {} bytes", PageUrl::MAX_LEN),
        format!(
            "at most {} bytes from an anonymous caller",
            PageUrl::ANONYMOUS_MAX_LEN
        ),
    ] {
        assert!(
            description.contains(&limit),
            "collection_point.page: {limit}"
        );
    }
}

#[test]
fn pages_are_described_as_the_server_reads_them() {
    let doc = doc();
    let point = &doc["components"]["schemas"]["CollectionPointRequest"];
    let mut page = point["properties"]["page"].clone();
    // The schema of a present page: a string.
    page["type"] = json!("string");
    let candidates = (0..=127u8)
        .map(char::from)
        .chain("é ж😀\u{a0}".chars())
        .flat_map(|c| {
            [
                format!("https://invisionu.education/a{c}b"),
                format!("http://a/{c}"),
                format!("https://a/?q={c}"),
                format!("https://a/#{c}"),
                format!("ftp://a/{c}"),
            ]
        });
    for url in candidates {
        assert_eq!(
            valid(&page, &url),
            url.parse::<PageUrl>().is_ok(),
            "collection_point.page {url:?}"
        );
    }
}

#[test]
fn every_error_the_request_can_get_is_documented() {
    let doc = doc();
    let codes = strings(
        &doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"],
    );
    let ours = vocabulary(RequestErrorCode::ALL, RequestErrorCode::as_str);
    assert!(
        ours.is_subset(&codes),
        "not in Error.code: {:?}",
        ours.difference(&codes).collect::<Vec<_>>()
    );
}

#[test]
fn the_error_codes_are_exactly_the_servers() {
    let doc = doc();
    let listed = strings(
        &doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"],
    );
    let ours = vocabulary(ErrorCode::ALL, ErrorCode::as_str);
    assert_eq!(
        listed.difference(&ours).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "documented, but not an ErrorCode"
    );
    assert_eq!(
        ours.difference(&listed).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "sent by the server, but not in Error.code"
    );
}

/// Whether `instance` is valid against `schema` (a schema without `$ref`s), as a client's JSON Schema
/// validator sees it.
fn valid(schema: &Value, instance: &str) -> bool {
    jsonschema::validator_for(schema)
        .unwrap()
        .is_valid(&json!(instance))
}

/// Strings of 21 to 23 characters ending in every base64url character and a few others.
fn device_id_candidates() -> Vec<String> {
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let head = "q3Jt7VbWm0Kx9ZsL2fYp4";
    let mut out: Vec<String> = alphabet
        .chars()
        .chain("=+/ .é".chars())
        .map(|c| format!("{head}{c}"))
        .collect();
    out.extend([head.to_owned(), format!("{head}AA"), format!("{head}A=")]);
    out
}

#[test]
fn device_ids_and_pseudonyms_are_described_as_the_server_reads_them() {
    let doc = doc();
    let schemas = &doc["components"]["schemas"];
    let device = &schemas["SubjectSelector"]["properties"]["device"];
    let subject = &schemas["Subject"];
    let mut accepted = 0;
    for id in device_id_candidates() {
        let server = id.parse::<SubjectId>().is_ok();
        accepted += usize::from(server);
        assert_eq!(valid(device, &id), server, "subject.device {id:?}");
        for prefix in ["dev:", "sub:", "usr:"] {
            let s = format!("{prefix}{id}");
            assert_eq!(
                valid(subject, &s),
                s.parse::<SubjectRef>().is_ok(),
                "Subject {s:?}"
            );
        }
    }
    // 16 bytes leave 2 bits in the last character: 4 of the 64 endings are strict base64url.
    assert_eq!(accepted, 4);
}

#[tokio::test]
async fn the_banner_views_the_server_sends_are_described() {
    let mut schema = doc();
    schema["$ref"] = json!("#/components/schemas/BannerView");
    let validator = jsonschema::validator_for(&schema).unwrap();
    let s = common::server("openapi-banner-views").await;
    for lang in ["kk", "ru", "en"] {
        let r = common::call(
            &s,
            common::get(&format!("/v1/policy/banner/{lang}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 200, "{lang}");
        let view: Value = serde_json::from_slice(&r.body).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&view)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{lang}: {errors:?}");
        // And a member the schema does not describe is caught.
        let mut extra = view.clone();
        extra["purposes"][0]["audiences"] = json!([]);
        assert!(!validator.is_valid(&extra), "{lang}");
    }
}

#[tokio::test]
async fn the_entity_tags_the_server_sends_are_described() {
    let doc = doc();
    let etag = &doc["components"]["headers"]["ETag"]["schema"];
    let s = common::server("openapi-etags").await;
    let mut seen = BTreeSet::new();
    for uri in [
        "/v1/policy",
        "/v1/policy/banner/kk",
        "/v1/policies/2025-03-26",
    ] {
        for coding in ["br", "gzip", "identity"] {
            let req = common::get(uri)
                .header("accept-encoding", coding)
                .body(Body::empty())
                .unwrap();
            let r = common::call(&s, req).await;
            assert_eq!(r.status, 200, "{uri} {coding}");
            let tag = r.headers["etag"].to_str().unwrap().to_owned();
            assert!(valid(etag, &tag), "{uri} {coding}: {tag}");
            // A revalidation answers 304 with the same tag.
            let again = common::call(
                &s,
                common::get(uri)
                    .header("accept-encoding", coding)
                    .header("if-none-match", &tag)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            assert_eq!(again.status, 304, "{uri} {coding}");
            assert_eq!(again.headers["etag"], tag.as_str());
            seen.insert(tag);
        }
    }
    // One tag per form: the JSON as is, brotli and gzip (the same for both policy URIs, one version),
    // and as many for the banner view.
    assert_eq!(seen.len(), 6, "{seen:?}");
}

#[test]
fn text_limits_are_stated_in_utf8_bytes_after_trimming() {
    let doc = doc();
    let schemas = &doc["components"]["schemas"];
    for (name, schema, max) in [
        (
            "subject_name",
            &schemas["ConsentRequest"]["properties"]["subject_name"],
            PersonName::MAX_LEN,
        ),
        (
            "by.name",
            &schemas["ActorRequest"]["properties"]["name"],
            PersonName::MAX_LEN,
        ),
        (
            "subject.id",
            &schemas["SubjectSelector"]["properties"]["id"],
            ExternalId::MAX_LEN,
        ),
    ] {
        assert_eq!(schema["x-max-utf8-bytes"], max, "{name}");
        let description = schema["description"].as_str().unwrap();
        assert!(
            description.contains(&format!("at most {max} bytes of UTF-8 after trimming")),
            "{name}: {description}"
        );
    }
    // Why `maxLength` alone would mislead: as many Cyrillic letters as it allows are twice the bytes.
    let max = PersonName::MAX_LEN;
    assert!("ж".repeat(max / 2).parse::<PersonName>().is_ok());
    assert!("ж".repeat(max / 2 + 1).parse::<PersonName>().is_err());
    assert!(
        format!("  {}  ", "a".repeat(max))
            .parse::<PersonName>()
            .is_ok()
    );
}

#[test]
fn json_bodies_may_be_refused_as_415_and_rights_for_unknown_subjects_as_404() {
    let doc = doc();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let takes_json = op["requestBody"]["content"]
                .as_object()
                .is_some_and(|c| c.contains_key("application/json"));
            assert_eq!(
                op["responses"].get("415").is_some(),
                takes_json,
                "{method} {path}: 415 exactly where the body is JSON"
            );
        }
    }
    for action in ["withdraw", "restrict", "unblock", "erase"] {
        let op = &doc["paths"][format!("/v1/subjects/{{subject}}/{action}")]["post"];
        assert!(op["responses"].get("404").is_some(), "{action}");
    }
    // The order of the checks includes method `gpc` without the signal.
    let order = doc["components"]["schemas"]["ConsentRequest"]["description"]
        .as_str()
        .unwrap();
    assert!(order.contains("`gpc` only with the request header `Sec-GPC: 1`"));
}
