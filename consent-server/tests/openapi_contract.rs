//! `openapi.json` describes the consent request as consent-core defines it: the same members, the same
//! required ones, the same values of every closed vocabulary, the same length limits, and every error
//! code the request's checks can give. The document is written by hand; this test keeps it true to the
//! one definition (`consent_core::ConsentRequest`, spec/SPEC.md §4).

use std::collections::BTreeSet;

use consent_core::{
    Choice, CollectionKind, CollectionPointRequest, ConsentRequest, DecidedBy, ExternalId, Method,
    PersonName, Relation, RequestErrorCode, SubjectSelector,
};
use serde_json::Value;

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
    assert!(
        page["description"]
            .as_str()
            .unwrap()
            .contains(&format!("at most {} bytes", consent_core::PageUrl::MAX_LEN)),
        "collection_point.page"
    );
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
