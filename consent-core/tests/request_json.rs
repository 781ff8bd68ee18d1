//! The consent request's JSON form: what `to_json` writes is JSON, and reads back as the same request;
//! a typed request is checked as its JSON form is.
#![cfg(all(feature = "json", feature = "toml"))]

use std::sync::LazyLock;

use consent_core::{
    BuildHash, Caller, Choice, CollectionKind, CollectionPointRequest, ConsentRequest, Date,
    DecidedBy, Decisions, Lang, Method, Policy, PolicyVersion, PurposeId, Relation, RequestContext,
    RequestWriter, ServiceScope, SubjectId, SubjectSelector,
};
use proptest::prelude::*;

static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    Policy::from_toml(include_str!("../../examples/invisionu/policy.toml")).unwrap()
});

/// Text that parses as `T` (names and ids are trimmed, so only their trimmed forms come out).
fn text<T: std::str::FromStr + std::fmt::Debug>(pattern: &'static str) -> impl Strategy<Value = T> {
    proptest::string::string_regex(pattern)
        .unwrap()
        .prop_filter_map("not valid", |s| s.parse().ok())
}

fn version() -> impl Strategy<Value = PolicyVersion> {
    // 1970-01-01 to 9999-12-31.
    (0i32..2_932_897).prop_map(|d| PolicyVersion::from_date(Date::from_days(d).unwrap()))
}

fn purpose_id() -> impl Strategy<Value = PurposeId> {
    prop_oneof![
        proptest::sample::select(POLICY.purposes().iter().map(|p| p.id).collect::<Vec<_>>()),
        text("[a-z0-9][a-z0-9-]{0,30}"),
    ]
}

fn decisions() -> impl Strategy<Value = Decisions> {
    proptest::collection::vec((purpose_id(), proptest::sample::select(Choice::ALL)), 0..6)
        .prop_map(|d| d.into_iter().collect())
}

fn point() -> impl Strategy<Value = CollectionPointRequest> {
    (
        proptest::sample::select(CollectionKind::ALL),
        proptest::option::of(any::<[u8; 32]>().prop_map(BuildHash::from_sha256)),
        // URL characters (the page has no others; names carry the text the writer must escape).
        proptest::option::of(text(r#"https?://[a-zA-Z0-9.:/%&=~!$'()*+,;@\[\]_-]{0,60}"#)),
    )
        .prop_map(|(kind, build, page)| CollectionPointRequest { kind, build, page })
}

fn subject() -> impl Strategy<Value = Option<SubjectSelector>> {
    proptest::option::of(prop_oneof![
        any::<[u8; 16]>().prop_map(|b| SubjectSelector::Device(SubjectId(b))),
        text(r#"[^\p{C}]{1,40}"#).prop_map(SubjectSelector::External),
    ])
}

fn by() -> impl Strategy<Value = DecidedBy> {
    prop_oneof![
        Just(DecidedBy::Subject),
        (
            proptest::sample::select(Relation::ALL),
            proptest::option::of(text(r#"[^\p{C}]{1,40}"#)),
        )
            .prop_map(|(relation, name)| DecidedBy::Representative { relation, name }),
    ]
}

fn request() -> impl Strategy<Value = ConsentRequest> {
    (
        version(),
        decisions(),
        proptest::sample::select(Method::ALL),
        prop_oneof![
            proptest::sample::select(POLICY.languages().to_vec()),
            text::<Lang>("[a-z]{2,3}"),
        ],
        point(),
        subject(),
        by(),
        proptest::option::of(text(r#"[^\p{C}]{1,40}"#)),
    )
        .prop_map(
            |(version, decisions, method, language, point, subject, by, name)| {
                let mut r = ConsentRequest::new(version, decisions, method, language, point);
                r.subject = subject;
                r.by = by;
                r.subject_name = name;
                r
            },
        )
}

/// The keys of a JSON object, in the order they come.
fn top_level_keys(json: &str) -> Vec<String> {
    struct Keys;
    impl<'de> serde::de::Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some((k, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                keys.push(k);
            }
            Ok(keys)
        }
    }
    serde::Deserializer::deserialize_map(&mut serde_json::Deserializer::from_str(json), Keys)
        .unwrap()
}

/// What [`RequestWriter`] promises its implementations (the banner's keeps one open object only):
/// objects are opened and closed in pairs, never inside one another, and hold strings.
#[derive(Default)]
struct Nesting {
    open: usize,
    deepest: usize,
    members: usize,
}

impl RequestWriter for Nesting {
    fn begin(&mut self, _: &str) {
        self.open += 1;
        self.deepest = self.deepest.max(self.open);
        self.members += 1;
    }
    fn string(&mut self, _: &str, _: &str) {
        self.members += 1;
    }
    fn end(&mut self) {
        self.open -= 1;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_walk_opens_objects_one_level_deep_and_closes_them(r in request()) {
        let mut w = Nesting::default();
        r.write(&mut w);
        prop_assert_eq!(w.open, 0);
        prop_assert!(w.deepest <= 1);
        // Every member of the JSON form, and every decision, was written.
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        let object = json.as_object().unwrap();
        let nested: usize = object.values().filter_map(|v| v.as_object()).map(|o| o.len()).sum();
        prop_assert_eq!(w.members, object.len() + nested);
    }

    #[test]
    fn writing_then_reading_gives_the_same_request(r in request()) {
        let json = r.to_json();
        prop_assert_eq!(ConsentRequest::from_json(json.as_bytes()), Ok(r.clone()), "{}", json);
        // It is JSON, with the members of the contract in its order, and nothing else.
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let members = top_level_keys(&json);
        let in_order: Vec<&str> = ConsentRequest::FIELDS
            .iter()
            .copied()
            .filter(|f| members.iter().any(|m| m == f))
            .collect();
        prop_assert_eq!(&members, &in_order);
        for required in ConsentRequest::REQUIRED {
            prop_assert!(members.iter().any(|m| m == required));
        }
        prop_assert_eq!(&value["policy_version"], &serde_json::json!(r.policy_version.to_string()));
        prop_assert_eq!(value["decisions"].as_object().unwrap().len(), r.decisions.len());
    }

    #[test]
    fn a_request_is_checked_as_its_json_is(
        r in request(),
        current in proptest::bool::weighted(0.9),
        caller in 0..4usize,
        gpc: bool,
    ) {
        let everything = ServiceScope::everything(&POLICY);
        let portal = ServiceScope::parse(&POLICY, &["application-review", "marketing"], &["form"]).unwrap();
        let caller = [
            Caller::Anonymous,
            Caller::Service(&everything),
            Caller::Service(&portal),
            Caller::Server,
        ][caller];
        let mut r = r;
        // Mostly the current version, so that the later checks are reached.
        if current {
            r.policy_version = POLICY.version();
        }
        let mut cx = RequestContext::new(&POLICY, caller);
        cx.gpc = gpc;
        prop_assert_eq!(r.check(&cx), cx.check_json(r.to_json().as_bytes()));
    }
}

#[test]
fn the_reader_takes_optional_members_as_null_and_the_writer_leaves_them_out() {
    let body = br#"{"policy_version":"2025-03-26","decisions":{"cookies-analytics":"given"},
        "method":"custom","language":"en",
        "collection_point":{"kind":"banner","build":null,"page":null},
        "subject":{"device":null,"id":null},"by":{"kind":"subject","relation":null,"name":null},
        "subject_name":null}"#;
    let r = ConsentRequest::from_json(body).unwrap();
    assert_eq!(r.subject, None);
    assert_eq!(r.by, DecidedBy::Subject);
    assert_eq!(
        r.to_json(),
        r#"{"policy_version":"2025-03-26","decisions":{"cookies-analytics":"given"},"method":"custom","language":"en","collection_point":{"kind":"banner"}}"#
    );
    // A representative's relation defaults to `other`, and is then written.
    let body = br#"{"policy_version":"2025-03-26","decisions":{},"method":"form","language":"en",
        "collection_point":{"kind":"form"},"by":{"kind":"representative"}}"#;
    let r = ConsentRequest::from_json(body).unwrap();
    assert_eq!(
        r.by,
        DecidedBy::Representative {
            relation: Relation::Other,
            name: None
        }
    );
    assert!(
        r.to_json()
            .ends_with(r#""by":{"kind":"representative","relation":"other"}}"#)
    );
}

#[test]
fn reading_reports_what_is_wrong_with_the_form_without_a_policy() {
    let read = |b: &str| {
        let e = ConsentRequest::from_json(b.as_bytes()).unwrap_err();
        (e.code.as_str().to_owned(), e.field, e.message)
    };
    let base =
        r#""policy_version":"2025-03-26","method":"custom","collection_point":{"kind":"banner"}"#;
    assert_eq!(
        read(&format!(
            r#"{{{base},"language":"English","decisions":{{}}}}"#
        )),
        (
            "invalid_field".into(),
            Some("language".into()),
            "must be a language code of 2 or 3 lower-case letters".into()
        )
    );
    assert_eq!(
        read(&format!(
            r#"{{{base},"language":"en","decisions":{{"Bad Id":"given"}}}}"#
        )),
        (
            "unknown_purpose".into(),
            Some("decisions.Bad Id".into()),
            "`Bad Id` is not a purpose id".into()
        )
    );
    assert_eq!(
        read(&format!(
            r#"{{{base},"language":"en","decisions":{{"x":"maybe"}}}}"#
        )),
        (
            "invalid_field".into(),
            Some("decisions.x".into()),
            "must be \"given\", \"refused\" or \"withdrawn\"".into()
        )
    );
    // Unknown members are named, with the members there are.
    let (code, field, message) = read(&format!(
        r#"{{{base},"language":"en","decisions":{{}},"extra":1}}"#
    ));
    assert_eq!(
        (code.as_str(), field),
        ("invalid_field", Some("extra".into()))
    );
    assert!(message.starts_with("unknown field `extra`, expected one of `policy_version`, `decisions`, `method`, `language`, `collection_point`, `subject`, `by`, `subject_name`"), "{message}");
}

#[test]
fn the_specs_example_is_what_the_writer_writes() {
    let spec = include_str!("../../spec/SPEC.md");
    let section = &spec[spec.find("## 4. Consent request").unwrap()..];
    let start = section.find("```json\n").unwrap() + "```json\n".len();
    let example = &section[start..start + section[start..].find('\n').unwrap()];
    let r = ConsentRequest::from_json(example.as_bytes()).unwrap();
    assert_eq!(r.to_json(), example);
}
