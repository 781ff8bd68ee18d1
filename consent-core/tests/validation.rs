//! Validation of policy files by `Policy::from_toml`.
//!
//! Every test starts from the reference policy (`examples/invisionu/policy.toml`, which loads) and makes
//! a small textual edit, then checks the exact problem the loader reports: its kind, field path, and
//! 1-based line and column (in characters). Expected positions are computed from the edited text, never
//! hard-coded, so the tests survive edits of the reference policy. The last tests feed the loader
//! random mutations and truncations of the policy and check that it never panics.
#![cfg(feature = "toml")]

use std::sync::OnceLock;

use consent_core::{BANNER_TEXTS, Lang, MAX_POLICY_BYTES, Policy, Problem, ProblemKind};
use proptest::prelude::*;

/// The reference policy text.
const POLICY: &str = include_str!("../../examples/invisionu/policy.toml");

/// A text in the three languages of the reference policy, as an inline table.
const T3: &str = r#"{ kk = "Мәтін", ru = "Текст", en = "Text" }"#;

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

/// The reference policy, loaded once.
fn reference() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| Policy::from_toml(POLICY).unwrap_or_else(|e| panic!("{e}")))
}

/// Index of purpose `id` in the reference policy.
fn purpose_ix(id: &str) -> usize {
    reference()
        .purposes()
        .iter()
        .position(|p| p.id.as_str() == id)
        .unwrap_or_else(|| panic!("no purpose {id}"))
}

/// Index of data category `id` in the reference policy.
fn category_ix(id: &str) -> usize {
    reference()
        .data_categories()
        .iter()
        .position(|d| d.id.as_str() == id)
        .unwrap_or_else(|| panic!("no data category {id}"))
}

/// Index of recipient `id` in the reference policy.
fn recipient_ix(id: &str) -> usize {
    reference()
        .recipients()
        .iter()
        .position(|r| r.id.as_str() == id)
        .unwrap_or_else(|| panic!("no recipient {id}"))
}

/// Index of cookie category `id` in the reference policy.
fn cookie_category_ix(id: &str) -> usize {
    reference()
        .cookie_categories()
        .iter()
        .position(|c| c.id.to_string() == id)
        .unwrap_or_else(|| panic!("no cookie category {id}"))
}

/// Path of the declaration of cookie `name` in the reference policy, e.g. `cookie_categories[3].cookies[0]`.
fn cookie_path(name: &str) -> String {
    for (i, c) in reference().cookie_categories().iter().enumerate() {
        if let Some(j) = c.cookies.iter().position(|k| k.name == name) {
            return format!("cookie_categories[{i}].cookies[{j}]");
        }
    }
    panic!("no cookie {name}")
}

/// The byte offset of the only occurrence of `needle` in `text`.
#[track_caller]
fn unique_offset(text: &str, needle: &str) -> usize {
    let n = text.matches(needle).count();
    assert_eq!(n, 1, "{needle:?} occurs {n} times, expected once");
    text.find(needle).unwrap_or_default()
}

/// `src` with the only occurrence of `from` replaced by `to`.
#[track_caller]
fn edit(src: &str, from: &str, to: &str) -> String {
    unique_offset(src, from);
    src.replacen(from, to, 1)
}

/// The reference policy with the only occurrence of `from` replaced by `to`.
#[track_caller]
fn with(from: &str, to: &str) -> String {
    edit(POLICY, from, to)
}

/// `src` with the first `from` at or after the only occurrence of `anchor` replaced by `to`.
#[track_caller]
fn edit_after(src: &str, anchor: &str, from: &str, to: &str) -> String {
    let a = unique_offset(src, anchor);
    let at = a + src[a..]
        .find(from)
        .unwrap_or_else(|| panic!("{from:?} not found after {anchor:?}"));
    format!("{}{to}{}", &src[..at], &src[at + from.len()..])
}

/// `src` with the text from the only occurrence of `start` up to (not including) the first `end`
/// after it removed.
#[track_caller]
fn cut(src: &str, start: &str, end: &str) -> String {
    let a = unique_offset(src, start);
    let b = a + src[a..]
        .find(end)
        .unwrap_or_else(|| panic!("{end:?} not found after {start:?}"));
    format!("{}{}", &src[..a], &src[b..])
}

/// The reference policy with `extra` appended on new lines.
fn appended(extra: &str) -> String {
    format!("{POLICY}\n{extra}\n")
}

/// 1-based line and column (in characters) of byte offset `at` of `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// Where the only occurrence of `needle` in `text` starts.
#[track_caller]
fn pos(text: &str, needle: &str) -> (usize, usize) {
    line_col(text, unique_offset(text, needle))
}

/// Where the first `value` inside the only occurrence of `snippet` starts (e.g. the value of a key).
#[track_caller]
fn pos_in(text: &str, snippet: &str, value: &str) -> (usize, usize) {
    let a = unique_offset(text, snippet);
    let rel = snippet
        .find(value)
        .unwrap_or_else(|| panic!("{value:?} is not in {snippet:?}"));
    line_col(text, a + rel)
}

/// Where the first `needle` after the only occurrence of `anchor` starts.
#[track_caller]
fn pos_after(text: &str, anchor: &str, needle: &str) -> (usize, usize) {
    let a = unique_offset(text, anchor);
    let rel = text[a..]
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not found after {anchor:?}"));
    line_col(text, a + rel)
}

/// Where the last `needle` before the only occurrence of `anchor` starts (e.g. a purpose's
/// `[[purposes]]` header).
#[track_caller]
fn pos_before(text: &str, anchor: &str, needle: &str) -> (usize, usize) {
    let a = unique_offset(text, anchor);
    let at = text[..a]
        .rfind(needle)
        .unwrap_or_else(|| panic!("{needle:?} not found before {anchor:?}"));
    line_col(text, at)
}

/// The problems of a file that must not load.
#[track_caller]
fn problems(src: &str) -> Vec<Problem> {
    match Policy::from_toml(src) {
        Ok(_) => panic!("the policy loaded, but a problem was expected"),
        Err(e) => e.problems().to_vec(),
    }
}

/// One problem per line, for assertion messages.
fn listing(ps: &[Problem]) -> String {
    ps.iter().map(|p| format!("  {p}\n")).collect()
}

/// The only problem of a file that must fail with exactly one.
#[track_caller]
fn single(src: &str) -> Problem {
    let ps = problems(src);
    assert_eq!(
        ps.len(),
        1,
        "expected exactly one problem, got:\n{}",
        listing(&ps)
    );
    ps.into_iter().next().unwrap_or_else(|| unreachable!())
}

/// A file that must load.
#[track_caller]
fn loads(src: &str) -> Policy {
    Policy::from_toml(src).unwrap_or_else(|e| panic!("expected the policy to load:\n{e}"))
}

/// Asserts a problem's position, path and kind.
#[track_caller]
fn check(p: &Problem, at: (usize, usize), path: &str, kind: &ProblemKind) {
    assert_eq!(
        ((p.line, p.column), p.path.as_str(), &p.kind),
        (at, path, kind),
        "problem was: {p}"
    );
}

/// Asserts a problem's position and path, and that it is `Invalid` with a message containing `msg`.
#[track_caller]
fn check_invalid(p: &Problem, at: (usize, usize), path: &str, msg: &str) {
    assert_eq!(
        ((p.line, p.column), p.path.as_str()),
        (at, path),
        "problem was: {p}"
    );
    match &p.kind {
        ProblemKind::Invalid(m) => assert!(m.contains(msg), "{m:?} lacks {msg:?}"),
        other => panic!("expected Invalid({msg:?}..), got {other:?}"),
    }
}

/// A legal-obligation purpose that loads when appended to the reference policy.
fn extra_purpose(id: &str, code: i64) -> String {
    format!(
        r#"[[purposes]]
id = "{id}"
code = {code}
kind = "processing"
legal_basis = "legal-obligation"
audiences = ["applicants-students"]
data_categories = ["contact"]
kantara_purpose = 12
dpv = "https://w3id.org/dpv#LegalCompliance"
changed_in = 2025-03-26
term = {T3}
"#
    )
}

/// Snippets of the reference policy used by several tests.
const MARKETING: &str = "[[purposes]]\nid = \"marketing\"\n";
const LEGAL: &str = "[[purposes]]\nid = \"legal-compliance\"\n";
const NECESSARY: &str = "[[purposes]]\nid = \"cookies-necessary\"\n";
const PREFERENCES: &str = "[[purposes]]\nid = \"cookies-preferences\"\n";

// ---------------------------------------------------------------------------------------------------------
// The reference policy and the helpers
// ---------------------------------------------------------------------------------------------------------

#[test]
fn reference_policy_loads() {
    let p = reference();
    assert_eq!(p.default_language().to_string(), "kk");
    assert_eq!(p.choice_validity_months(), 6);
    assert_eq!(p.purposes().len(), 14);
}

#[test]
fn appended_helpers_produce_valid_files() {
    let p = loads(&appended(&extra_purpose("extra", 14)));
    assert_eq!(p.purposes().len(), reference().purposes().len() + 1);
    // A string date is accepted as well as a TOML local date.
    loads(&with("version = 2025-03-26", "version = \"2025-03-26\""));
    // CRLF line endings load too.
    loads(&POLICY.replace('\n', "\r\n"));
}

// ---------------------------------------------------------------------------------------------------------
// Syntax and size
// ---------------------------------------------------------------------------------------------------------

#[test]
fn syntax_error_has_its_line_and_stops_further_checks() {
    // `format = 2` is also wrong, but is not reported: a file that does not parse is not checked.
    let src = edit(
        &with("code = 4\n", "code = = 4\n"),
        "format = 1",
        "format = 2",
    );
    let ps = problems(&src);
    assert!(!ps.is_empty());
    let line = pos(&src, "code = = 4").0;
    for p in &ps {
        assert!(matches!(p.kind, ProblemKind::Syntax(_)), "{p}");
        assert_eq!(p.path, "");
        assert_eq!(p.line, line, "{p}");
    }
}

#[test]
fn several_syntax_errors_are_all_reported() {
    let src = edit(
        &with("code = 4\n", "code = = 4\n"),
        "en = \"Privacy Policy\"\n",
        "en = \"Privacy Policy\n",
    );
    let ps = problems(&src);
    let lines: Vec<usize> = ps.iter().map(|p| p.line).collect();
    assert!(
        lines.contains(&pos(&src, "en = \"Privacy Policy\n").0),
        "{}",
        listing(&ps)
    );
    assert!(
        lines.contains(&pos(&src, "code = = 4").0),
        "{}",
        listing(&ps)
    );
    assert!(ps.iter().all(|p| matches!(p.kind, ProblemKind::Syntax(_))));
}

#[test]
fn duplicate_key_is_a_syntax_error_at_the_second_key() {
    let src = with("format = 1\n", "format = 1\n# again\nformat = 1\n");
    let p = single(&src);
    let line = pos(&src, "# again\n").0 + 1;
    assert_eq!((p.line, p.column, p.path.as_str()), (line, 1, ""));
    assert!(matches!(p.kind, ProblemKind::Syntax(_)), "{p}");
}

#[test]
fn file_over_one_mib_is_too_large() {
    let mut src = format!("{POLICY}\n#");
    src.push_str(&"x".repeat(MAX_POLICY_BYTES + 1 - src.len()));
    assert_eq!(src.len(), MAX_POLICY_BYTES + 1);
    let p = single(&src);
    check(&p, (1, 1), "", &ProblemKind::TooLarge(MAX_POLICY_BYTES + 1));
}

#[test]
fn file_of_exactly_one_mib_loads() {
    let mut src = format!("{POLICY}\n#");
    src.push_str(&"x".repeat(MAX_POLICY_BYTES - src.len()));
    assert_eq!(src.len(), MAX_POLICY_BYTES);
    loads(&src);
}

// ---------------------------------------------------------------------------------------------------------
// Missing fields
// ---------------------------------------------------------------------------------------------------------

#[test]
fn missing_top_level_fields() {
    // A key missing at the top level is reported at the start of the file.
    let p = single(&with("jurisdiction = \"KZ\"\n", ""));
    check(&p, (1, 1), "jurisdiction", &ProblemKind::Missing);

    let src = cut(POLICY, "[title]\n", "\n\n");
    check(&single(&src), (1, 1), "title", &ProblemKind::Missing);

    // Several at once, all reported.
    let src = edit(
        &with(
            "url = \"https://invisionu.education/privacy",
            "xurl = \"https://invisionu.education/privacy",
        ),
        "format = 1\n",
        "",
    );
    let ps = problems(&src);
    assert_eq!(ps.len(), 3, "{}", listing(&ps));
    check(&ps[0], (1, 1), "format", &ProblemKind::Missing);
    check(&ps[1], (1, 1), "url", &ProblemKind::Missing);
    check(
        &ps[2],
        pos(&src, "xurl"),
        "xurl",
        &ProblemKind::UnknownField,
    );
}

#[test]
fn missing_fields_in_controller_and_contact() {
    let src = with("bin = \"220740042362\"\n", "");
    check(
        &single(&src),
        pos(&src, "[controller]\n"),
        "controller.bin",
        &ProblemKind::Missing,
    );

    let src = with(
        "country = \"KZ\"\nemail = \"info@invisionu.education\"\n",
        "country = \"KZ\"\n",
    );
    check(
        &single(&src),
        pos(&src, "[controller]\n"),
        "controller.email",
        &ProblemKind::Missing,
    );

    let src = cut(POLICY, "[controller.address]\n", "\n\n");
    check(
        &single(&src),
        pos(&src, "[controller]\n"),
        "controller.address",
        &ProblemKind::Missing,
    );

    let src = with(
        "[contact]\nemail = \"info@invisionu.education\"\n",
        "[contact]\n",
    );
    check(
        &single(&src),
        pos(&src, "[contact]\n"),
        "contact.email",
        &ProblemKind::Missing,
    );
}

#[test]
fn missing_fields_in_a_purpose() {
    let i = purpose_ix("public-dissemination");
    let src = with("dpv = \"https://w3id.org/dpv#PublicRelations\"\n", "");
    let header = pos_before(&src, "id = \"public-dissemination\"", "[[purposes]]");
    check(
        &single(&src),
        header,
        &format!("purposes[{i}].dpv"),
        &ProblemKind::Missing,
    );

    let i = purpose_ix("marketing");
    let src = edit_after(POLICY, MARKETING, "code = 8\n", "");
    check(
        &single(&src),
        pos(&src, MARKETING),
        &format!("purposes[{i}].code"),
        &ProblemKind::Missing,
    );

    let src = edit_after(
        POLICY,
        MARKETING,
        "[purposes.term]\n",
        "[purposes.term-x]\n",
    );
    let ps = problems(&src);
    assert_eq!(ps.len(), 2, "{}", listing(&ps));
    check(
        &ps[0],
        pos(&src, MARKETING),
        &format!("purposes[{i}].term"),
        &ProblemKind::Missing,
    );
    check(
        &ps[1],
        pos_in(&src, "[purposes.term-x]", "term-x"),
        &format!("purposes[{i}].term-x"),
        &ProblemKind::UnknownField,
    );

    // Without `texts.title`, `texts` exists only through the `[purposes.texts.description]` header, and the
    // problem is reported where that header names it.
    let i = purpose_ix("events");
    let anchor = "[purposes.texts.title]\nkk = \"Бағдарламаның іс-шараларын";
    let src = cut(POLICY, anchor, "[purposes.texts.description]");
    let at = pos_after(&src, "id = \"events\"", "[purposes.texts.description]");
    check(
        &single(&src),
        (at.0, at.1 + "[purposes.".len()),
        &format!("purposes[{i}].texts.title"),
        &ProblemKind::Missing,
    );
}

#[test]
fn missing_cookie_category_on_a_cookies_purpose() {
    let i = purpose_ix("cookies-preferences");
    let src = with("cookie_category = \"preferences\"\n", "");
    let ps = problems(&src);
    assert_eq!(ps.len(), 2, "{}", listing(&ps));
    check(
        &ps[0],
        pos(&src, PREFERENCES),
        &format!("purposes[{i}].cookie_category"),
        &ProblemKind::Missing,
    );
    // And then the category has no governing purpose.
    let c = cookie_category_ix("preferences");
    let header = pos_before(
        &src,
        "id = \"preferences\"\n\n[cookie_categories.name]",
        "[[cookie_categories]]",
    );
    check_invalid(
        &ps[1],
        header,
        &format!("cookie_categories[{c}]"),
        "found 0",
    );
}

#[test]
fn missing_fields_in_a_cookie_declaration() {
    let path = cookie_path("_fbp");
    let header = |src: &str| pos_before(src, "\"_fbp\"", "[[cookie_categories.cookies]]");

    let src = with("provider = \"Meta\"\n", "");
    check(
        &single(&src),
        header(&src),
        &format!("{path}.provider"),
        &ProblemKind::Missing,
    );

    let src = with(
        "name = \"_fbp\"\nprovider = \"Meta\"\nlifetime = \"3 months\"\n",
        "provider = \"Meta\"\nname_ = \"_fbp\"\n",
    );
    let ps = problems(&src);
    assert_eq!(ps.len(), 3, "{}", listing(&ps));
    let header = pos_before(&src, "name_ = \"_fbp\"", "[[cookie_categories.cookies]]");
    check(
        &ps[0],
        header,
        &format!("{path}.lifetime"),
        &ProblemKind::Missing,
    );
    check(
        &ps[1],
        header,
        &format!("{path}.name"),
        &ProblemKind::Missing,
    );
    check(
        &ps[2],
        pos(&src, "name_ = "),
        &format!("{path}.name_"),
        &ProblemKind::UnknownField,
    );

    let src = cut(
        POLICY,
        "[cookie_categories.cookies.purpose]\nkk = \"Жарнаманы көрсету",
        "\n\n",
    );
    let header = pos_before(&src, "\"_fbp\"", "[[cookie_categories.cookies]]");
    check(
        &single(&src),
        header,
        &format!("{path}.purpose"),
        &ProblemKind::Missing,
    );
}

#[test]
fn missing_fields_in_list_entries() {
    // Audience without id.
    let src = with(
        "[[audiences]]\nid = \"teachers-mentors-volunteers\"\n",
        "[[audiences]]\n",
    );
    let ps = problems(&src);
    let missing: Vec<&Problem> = ps
        .iter()
        .filter(|p| p.kind == ProblemKind::Missing)
        .collect();
    assert_eq!(missing.len(), 1, "{}", listing(&ps));
    let header = pos_after(&src, "id = \"applicants-students\"", "[[audiences]]");
    check(missing[0], header, "audiences[1].id", &ProblemKind::Missing);

    // Data category without kantara_pii.
    let i = category_ix("family-income-bank");
    let src = with("kantara_pii = 7\n", "");
    let header = pos_before(&src, "id = \"family-income-bank\"", "[[data_categories]]");
    check(
        &single(&src),
        header,
        &format!("data_categories[{i}].kantara_pii"),
        &ProblemKind::Missing,
    );

    // Recipient without kind.
    let i = recipient_ix("authorities");
    let src = with("kind = \"authority\"\n", "");
    let header = pos_before(&src, "id = \"authorities\"", "[[recipients]]");
    check(
        &single(&src),
        header,
        &format!("recipients[{i}].kind"),
        &ProblemKind::Missing,
    );

    // Cookie category without description.
    let i = cookie_category_ix("marketing");
    let src = cut(
        POLICY,
        "[cookie_categories.description]\nkk = \"Үшінші тарап",
        "\n\n",
    );
    let header = pos_before(
        &src,
        "id = \"marketing\"\n\n[cookie_categories.name]",
        "[[cookie_categories]]",
    );
    check(
        &single(&src),
        header,
        &format!("cookie_categories[{i}].description"),
        &ProblemKind::Missing,
    );

    // Right without title.
    let src = cut(POLICY, "[rights.title]\nkk = \"Өңдеуді шектеу\"", "\n\n");
    let header = pos_before(&src, "id = \"restriction\"", "[[rights]]");
    check(
        &single(&src),
        header,
        "rights[3].title",
        &ProblemKind::Missing,
    );
}

// ---------------------------------------------------------------------------------------------------------
// Unknown fields
// ---------------------------------------------------------------------------------------------------------

#[test]
fn typo_in_an_optional_top_level_key_is_an_unknown_field() {
    // The misspelt key is reported; the default is then used for the real one, which is optional.
    let src = with("default_language = \"kk\"", "default_languge = \"kk\"");
    check(
        &single(&src),
        pos(&src, "default_languge"),
        "default_languge",
        &ProblemKind::UnknownField,
    );
}

#[test]
fn typo_in_a_required_key_is_unknown_and_missing() {
    let i = purpose_ix("marketing");
    let src = edit_after(
        POLICY,
        MARKETING,
        "kantara_purpose = 6\n",
        "kantara_purpse = 6\n",
    );
    let ps = problems(&src);
    assert_eq!(ps.len(), 2, "{}", listing(&ps));
    check(
        &ps[0],
        pos(&src, MARKETING),
        &format!("purposes[{i}].kantara_purpose"),
        &ProblemKind::Missing,
    );
    check(
        &ps[1],
        pos(&src, "kantara_purpse"),
        &format!("purposes[{i}].kantara_purpse"),
        &ProblemKind::UnknownField,
    );
}

#[test]
fn unknown_fields_at_every_depth_are_all_reported() {
    let mut src = with(
        "choice_validity_months = 6\n",
        "choice_validity_months = 6\nlicense = \"MIT\"\n",
    );
    src = edit(
        &src,
        "bin = \"220740042362\"\n",
        "bin = \"220740042362\"\nphone = \"+7 700 000 00 00\"\n",
    );
    src = edit(&src, "[contact]\n", "[contact]\nfax = \"none\"\n");
    src = edit(
        &src,
        "kantara_pii = 7\n",
        "kantara_pii = 7\nsensitiv = true\n",
    );
    src = edit(
        &src,
        "kind = \"authority\"\n",
        "kind = \"authority\"\nurl = \"https://gov.kz\"\n",
    );
    src = edit_after(
        &src,
        MARKETING,
        "[purposes.texts.title]\n",
        "[purposes.texts]\nsubtitle = 1\n\n[purposes.texts.title]\n",
    );
    src = edit(
        &src,
        "lifetime = \"6 months\"\n",
        "lifetime = \"6 months\"\nsecure = true\n",
    );
    src = edit(
        &src,
        "[[rights]]\nid = \"access\"\n",
        "[[rights]]\nid = \"access\"\narticle = 24\n",
    );
    let ps = problems(&src);
    let expected = [
        ("license = ", "license".to_owned()),
        ("phone = ", "controller.phone".to_owned()),
        ("fax = ", "contact.fax".to_owned()),
        (
            "sensitiv = ",
            format!(
                "data_categories[{}].sensitiv",
                category_ix("family-income-bank")
            ),
        ),
        (
            "url = \"https://gov.kz\"",
            format!("recipients[{}].url", recipient_ix("authorities")),
        ),
        (
            "subtitle = ",
            format!("purposes[{}].texts.subtitle", purpose_ix("marketing")),
        ),
        ("secure = ", format!("{}.secure", cookie_path("consent"))),
        ("article = ", "rights[0].article".to_owned()),
    ];
    assert_eq!(ps.len(), expected.len(), "{}", listing(&ps));
    for (p, (needle, path)) in ps.iter().zip(&expected) {
        check(p, pos(&src, needle), path, &ProblemKind::UnknownField);
    }
}

#[test]
fn unknown_key_in_a_text_is_an_undeclared_language() {
    let src = with(
        "en = \"Privacy Policy\"\n",
        "en = \"Privacy Policy\"\nsummary = \"Policy\"\n",
    );
    let p = single(&src);
    check(
        &p,
        pos(&src, "summary"),
        "title.summary",
        &ProblemKind::UndeclaredLanguage("summary".into()),
    );
}

// ---------------------------------------------------------------------------------------------------------
// Wrong types
// ---------------------------------------------------------------------------------------------------------

#[test]
fn wrong_types() {
    let dc = category_ix("family-income-bank");
    let sch = purpose_ix("scholarships");
    let lang = cookie_path("lang");
    // (from, to, value in `to` where the problem is, path, expected, found)
    let cases: Vec<(&str, &str, &str, String, &str, &str)> = vec![
        (
            "format = 1\n",
            "format = \"1\"\n",
            "\"1\"",
            "format".into(),
            "integer",
            "string",
        ),
        (
            "version = 2025-03-26\n",
            "version = 20250326\n",
            "2025",
            "version".into(),
            "date",
            "integer",
        ),
        (
            "jurisdiction = \"KZ\"",
            "jurisdiction = true",
            "true",
            "jurisdiction".into(),
            "string",
            "boolean",
        ),
        (
            "choice_validity_months = 6",
            "choice_validity_months = 6.0",
            "6.0",
            "choice_validity_months".into(),
            "integer",
            "float",
        ),
        (
            "en = \"Privacy Policy\"",
            "en = 42",
            "42",
            "title.en".into(),
            "string",
            "integer",
        ),
        (
            "bin = \"220740042362\"",
            "bin = 220740042362",
            "2207",
            "controller.bin".into(),
            "string",
            "integer",
        ),
        (
            "sensitive = true",
            "sensitive = \"yes\"",
            "\"yes\"",
            format!("data_categories[{dc}].sensitive"),
            "boolean",
            "string",
        ),
        (
            "kantara_pii = 7\n",
            "kantara_pii = [7]\n",
            "[7]",
            format!("data_categories[{dc}].kantara_pii"),
            "integer",
            "array",
        ),
        (
            "audiences = [\"applicants-students\"]\ndata_categories = [\"application-contact\", \"family-income-bank\"]",
            "audiences = \"applicants-students\"\ndata_categories = [\"application-contact\", \"family-income-bank\"]",
            "\"applicants-students\"",
            format!("purposes[{sch}].audiences"),
            "array",
            "string",
        ),
        (
            "lifetime = \"12 months\"",
            "lifetime = 12",
            "12",
            format!("{lang}.lifetime"),
            "string",
            "integer",
        ),
        (
            "id = \"invisionu-privacy\"",
            "id = 2025-03-26T00:00:00Z",
            "2025",
            "id".into(),
            "string",
            "datetime",
        ),
        (
            "\n[title]\nkk = \"Құпиялылық саясаты\"\nru = \"Политика конфиденциальности\"\nen = \"Privacy Policy\"\n",
            "\ntitle = \"Privacy Policy\"\n",
            "\"Privacy",
            "title".into(),
            "table",
            "string",
        ),
    ];
    for (from, to, value, path, expected, found) in cases {
        let src = with(from, to);
        let p = single(&src);
        check(
            &p,
            pos_in(&src, to, value),
            &path,
            &ProblemKind::WrongType { expected, found },
        );
    }
}

#[test]
fn wrong_type_of_a_list_item() {
    let src = with(
        "languages = [\"kk\", \"ru\", \"en\"]",
        "languages = [\"kk\", \"ru\", \"en\", 4]",
    );
    let p = single(&src);
    let at = pos_in(&src, "\"en\", 4]", "4");
    check(
        &p,
        at,
        "languages[3]",
        &ProblemKind::WrongType {
            expected: "string",
            found: "integer",
        },
    );

    let src = with(
        "choice_validity_months = 6\n",
        "choice_validity_months = 6\nrights = [\"complaint\"]\n",
    );
    // A static array and an array of tables of the same name do not mix in TOML.
    assert!(
        problems(&src)
            .iter()
            .all(|p| matches!(p.kind, ProblemKind::Syntax(_)))
    );
}

// ---------------------------------------------------------------------------------------------------------
// Invalid values
// ---------------------------------------------------------------------------------------------------------

#[test]
fn invalid_values() {
    let lang = cookie_path("lang");
    let mk = purpose_ix("marketing");
    // (edited file, snippet of the edit, value in the snippet where the problem is, path, part of the message)
    let cases: Vec<(String, &str, &str, String, &str)> = vec![
        (
            with("id = \"invisionu-privacy\"", "id = \"InVisionU\""),
            "\"InVisionU\"",
            "\"",
            "id".into(),
            "invalid id",
        ),
        (
            with("id = \"invisionu-privacy\"", "id = \"\""),
            "id = \"\"",
            "\"",
            "id".into(),
            "empty",
        ),
        (
            with(
                "id = \"events\"",
                "id = \"events-and-open-days-for-applicants\"",
            ),
            "\"events-and-open-days-for-applicants\"",
            "\"",
            format!("purposes[{}].id", purpose_ix("events")),
            "too long",
        ),
        (
            with("bin = \"220740042362\"", "bin = \"22074004236\""),
            "\"22074004236\"",
            "\"",
            "controller.bin".into(),
            "12 digits",
        ),
        (
            with("bin = \"220740042362\"", "bin = \"22074004236X\""),
            "\"22074004236X\"",
            "\"",
            "controller.bin".into(),
            "12 digits",
        ),
        (
            with(
                "bin = \"220740042362\"",
                "bin = \"２２０７４００４２３６２\"",
            ),
            "\"２",
            "\"",
            "controller.bin".into(),
            "12 digits",
        ),
        (
            with(
                "email = \"info@invisionu.education\"\nurl",
                "email = \"info.invisionu.education\"\nurl",
            ),
            "\"info.invisionu.education\"",
            "\"",
            "controller.email".into(),
            "e-mail",
        ),
        (
            with(
                "email = \"info@invisionu.education\"\n\n[contact.texts]",
                "email = \"info@\"\n\n[contact.texts]",
            ),
            "\"info@\"",
            "\"",
            "contact.email".into(),
            "e-mail",
        ),
        (
            with(
                "url = \"https://invisionu.education/privacy/",
                "url = \"http://invisionu.education/privacy/",
            ),
            "\"http://",
            "\"",
            "url".into(),
            "https://",
        ),
        (
            with(
                "url = \"https://invisionu.education\"\n",
                "url = \"https://\"\n",
            ),
            "\"https://\"\n",
            "\"",
            "controller.url".into(),
            "host",
        ),
        (
            with("jurisdiction = \"KZ\"", "jurisdiction = \"kz\""),
            "\"kz\"",
            "\"",
            "jurisdiction".into(),
            "country",
        ),
        (
            with("country = \"KZ\"\nemail", "country = \"KAZ\"\nemail"),
            "\"KAZ\"",
            "\"",
            "controller.country".into(),
            "country",
        ),
        (
            with(
                "kind = \"partner\"\ncountry = \"*\"",
                "kind = \"partner\"\ncountry = \"abroad\"",
            ),
            "\"abroad\"",
            "\"",
            format!("recipients[{}].country", recipient_ix("partners-abroad")),
            "country",
        ),
        (
            with(
                "recipients = [\"partners-abroad\"]\ncross_border = [\"*\"]",
                "recipients = [\"partners-abroad\"]\ncross_border = [\"*\", \"Kazakhstan\"]",
            ),
            "\"Kazakhstan\"",
            "\"",
            format!(
                "purposes[{}].cross_border[1]",
                purpose_ix("transfer-abroad")
            ),
            "country",
        ),
        (
            with("lifetime = \"12 months\"", "lifetime = \"twelve months\""),
            "\"twelve",
            "\"",
            format!("{lang}.lifetime"),
            "lifetime",
        ),
        (
            with("lifetime = \"12 months\"", "lifetime = \"12 monts\""),
            "\"12 monts\"",
            "\"",
            format!("{lang}.lifetime"),
            "lifetime",
        ),
        (
            with("lifetime = \"12 months\"", "lifetime = \"12months\""),
            "\"12months\"",
            "\"",
            format!("{lang}.lifetime"),
            "lifetime",
        ),
        (
            with("lifetime = \"12 months\"", "lifetime = \"-1 days\""),
            "\"-1 days\"",
            "\"",
            format!("{lang}.lifetime"),
            "lifetime",
        ),
        (
            with("lifetime = \"12 months\"", "lifetime = \"forever\""),
            "\"forever\"",
            "\"",
            format!("{lang}.lifetime"),
            "lifetime",
        ),
        (
            with("format = 1\n", "format = 2\n"),
            "format = 2",
            "2",
            "format".into(),
            "unsupported format 2",
        ),
        (
            with("format = 1\n", "format = -1\n"),
            "format = -1",
            "-1",
            "format".into(),
            "integer",
        ),
        (
            with("kantara_pii = 7\n", "kantara_pii = 17\n"),
            "kantara_pii = 17",
            "17",
            format!(
                "data_categories[{}].kantara_pii",
                category_ix("family-income-bank")
            ),
            "1 to 16",
        ),
        (
            edit_after(
                POLICY,
                MARKETING,
                "kantara_purpose = 6",
                "kantara_purpose = 0",
            ),
            "kantara_purpose = 0",
            "0",
            format!("purposes[{mk}].kantara_purpose"),
            "1 to 16",
        ),
        (
            with("code = 13\n", "code = 64\n"),
            "code = 64",
            "64",
            format!("purposes[{}].code", purpose_ix("cookies-marketing")),
            "0 to 63",
        ),
        (
            with("code = 12\n", "code = -1\n"),
            "code = -1",
            "-1",
            format!("purposes[{}].code", purpose_ix("cookies-analytics")),
            "0 to 63",
        ),
        (
            with(
                "dpv = [\"https://w3id.org/dpv/pd#Picture\"]",
                "dpv = [\"http://w3id.org/dpv/pd#Picture\"]",
            ),
            "\"http://w3id.org/dpv/pd#Picture\"",
            "\"",
            format!("data_categories[{}].dpv[0]", category_ix("photo-video")),
            "https://",
        ),
        (
            with(
                "dpv = \"https://w3id.org/dpv#PublicRelations\"",
                "dpv = \"dpv:PublicRelations\"",
            ),
            "\"dpv:PublicRelations\"",
            "\"",
            format!("purposes[{}].dpv", purpose_ix("public-dissemination")),
            "https://",
        ),
        (
            with("kind = \"authority\"", "kind = \"government\""),
            "\"government\"",
            "\"",
            format!("recipients[{}].kind", recipient_ix("authorities")),
            "unknown",
        ),
        (
            with("kind = \"public-dissemination\"", "kind = \"publication\""),
            "\"publication\"",
            "\"",
            format!("purposes[{}].kind", purpose_ix("public-dissemination")),
            "unknown",
        ),
        (
            with(
                "legal_basis = \"legal-obligation\"",
                "legal_basis = \"law\"",
            ),
            "\"law\"",
            "\"",
            format!("purposes[{}].legal_basis", purpose_ix("legal-compliance")),
            "unknown",
        ),
        (
            with("version = 2025-03-26", "version = \"2025-13-01\""),
            "\"2025-13-01\"",
            "\"",
            "version".into(),
            "invalid date",
        ),
        (
            with("version = 2025-03-26", "version = \"2025-02-30\""),
            "\"2025-02-30\"",
            "\"",
            "version".into(),
            "date",
        ),
        (
            edit_after(
                POLICY,
                MARKETING,
                "changed_in = 2025-03-26",
                "changed_in = 2025-03-26T10:00:00",
            ),
            "2025-03-26T10:00:00",
            "2",
            format!("purposes[{mk}].changed_in"),
            "without time",
        ),
        (
            with("default_language = \"kk\"", "default_language = \"KK\""),
            "\"KK\"",
            "\"",
            "default_language".into(),
            "language",
        ),
    ];
    for (src, snippet, value, path, msg) in &cases {
        let p = single(src);
        check_invalid(&p, pos_in(src, snippet, value), path, msg);
    }
}

#[test]
fn cookie_with_both_name_and_pattern() {
    let src = with("name = \"_fbp\"\n", "name = \"_fbp\"\npattern = \"_fb*\"\n");
    check_invalid(
        &single(&src),
        pos_in(&src, "name = \"_fbp\"", "\""),
        &format!("{}.name", cookie_path("_fbp")),
        "not both",
    );
}

#[test]
fn cookie_category_on_a_purpose_that_is_not_about_cookies() {
    let src = edit_after(
        POLICY,
        LEGAL,
        "changed_in = ",
        "cookie_category = \"analytics\"\nchanged_in = ",
    );
    let p = single(&src);
    let at = pos_after(&src, LEGAL, "\"analytics\"");
    check_invalid(
        &p,
        at,
        &format!(
            "purposes[{}].cookie_category",
            purpose_ix("legal-compliance")
        ),
        "only `cookies` purposes",
    );
}

#[test]
fn necessary_cookies_must_not_rest_on_consent() {
    let src = with(
        "legal_basis = \"legitimate-interest\"",
        "legal_basis = \"consent\"",
    );
    let p = single(&src);
    let at = pos_in(&src, "cookie_category = \"necessary\"", "\"");
    check_invalid(
        &p,
        at,
        &format!(
            "purposes[{}].cookie_category",
            purpose_ix("cookies-necessary")
        ),
        "need no consent",
    );
}

#[test]
fn cookie_category_governed_by_zero_or_two_purposes() {
    // The preferences purpose now governs analytics: analytics has two purposes, preferences none.
    let src = edit_after(
        POLICY,
        PREFERENCES,
        "cookie_category = \"preferences\"",
        "cookie_category = \"analytics\"",
    );
    let ps = problems(&src);
    assert_eq!(ps.len(), 2, "{}", listing(&ps));
    let header = |id: &str| {
        pos_before(
            &src,
            &format!("id = \"{id}\"\n\n[cookie_categories.name]"),
            "[[cookie_categories]]",
        )
    };
    check_invalid(
        &ps[0],
        header("preferences"),
        &format!("cookie_categories[{}]", cookie_category_ix("preferences")),
        "found 0",
    );
    check_invalid(
        &ps[1],
        header("analytics"),
        &format!("cookie_categories[{}]", cookie_category_ix("analytics")),
        "found 2",
    );
}

#[test]
fn empty_texts_are_invalid() {
    let src = with("en = \"Privacy Policy\"", "en = \"\"");
    check_invalid(
        &single(&src),
        pos_in(&src, "en = \"\"", "\""),
        "title.en",
        "empty",
    );

    let src = with("en = \"Privacy Policy\"", "en = \"  \\n \"");
    check_invalid(
        &single(&src),
        pos_in(&src, "en = \"  \\n \"", "\""),
        "title.en",
        "empty",
    );

    let long = "я".repeat(4097); // 8,194 bytes
    let src = with(
        "ru = \"Политика конфиденциальности\"",
        &format!("ru = \"{long}\""),
    );
    check_invalid(
        &single(&src),
        pos_in(&src, &format!("ru = \"{long}\""), "\""),
        "title.ru",
        "8194 bytes",
    );
    let ok = "я".repeat(4096); // 8,192 bytes: the limit
    loads(&with(
        "ru = \"Политика конфиденциальности\"",
        &format!("ru = \"{ok}\""),
    ));
}

#[test]
fn languages_must_be_non_empty_and_distinct() {
    let src = with("languages = [\"kk\", \"ru\", \"en\"]", "languages = []");
    let ps = problems(&src);
    // With no language declared, every text's keys are undeclared too.
    assert!(
        ps.iter()
            .all(|p| matches!(p.kind, ProblemKind::UndeclaredLanguage(_)) || p.path == "languages")
    );
    let p = ps
        .iter()
        .find(|p| p.path == "languages")
        .unwrap_or_else(|| panic!("{}", listing(&ps)));
    check_invalid(
        p,
        pos_in(&src, "languages = []", "["),
        "languages",
        "at least one language",
    );

    let src = with(
        "languages = [\"kk\", \"ru\", \"en\"]",
        "languages = [\"kk\", \"ru\", \"en\", \"ru\"]",
    );
    check_invalid(
        &single(&src),
        pos_in(&src, "\"en\", \"ru\"]", "\"ru\""),
        "languages[3]",
        "listed twice",
    );
}

#[test]
fn non_cookies_purpose_needs_data_categories() {
    let i = purpose_ix("marketing");
    let src = with(
        "data_categories = [\"application-contact\", \"contact\"]",
        "data_categories = []",
    );
    check_invalid(
        &single(&src),
        pos_after(&src, MARKETING, "[]"),
        &format!("purposes[{i}].data_categories"),
        "list the data categories",
    );
    // A list whose only item is invalid is not also reported as empty.
    let src = with(
        "data_categories = [\"application-contact\", \"contact\"]",
        "data_categories = [\"Contact\"]",
    );
    let at = pos_after(&src, MARKETING, "\"Contact\"");
    let path = format!("purposes[{i}].data_categories[0]");
    check_invalid(&single(&src), at, &path, "invalid id");
    // Cookies purposes may have none (the reference policy's do not).
    assert!(
        reference()
            .purposes()
            .iter()
            .any(|p| p.data_categories.is_empty())
    );
}

#[test]
fn purpose_needs_an_audience() {
    let i = purpose_ix("scholarships");
    let src = with(
        "audiences = [\"applicants-students\"]\ndata_categories = [\"application-contact\", \"family-income-bank\"]",
        "audiences = []\ndata_categories = [\"application-contact\", \"family-income-bank\"]",
    );
    check_invalid(
        &single(&src),
        pos_in(&src, "audiences = []", "["),
        &format!("purposes[{i}].audiences"),
        "at least one audience",
    );
}

#[test]
fn data_category_needs_an_audience() {
    let i = category_ix("mentor-feedback");
    let src = with(
        "id = \"mentor-feedback\"\naudiences = [\"applicants-students\"]",
        "id = \"mentor-feedback\"\naudiences = []",
    );
    check_invalid(
        &single(&src),
        pos_in(&src, "audiences = []", "["),
        &format!("data_categories[{i}].audiences"),
        "at least one audience",
    );
}

#[test]
fn empty_top_level_lists_are_reported_at_the_list() {
    // The file without any `[[rights]]`, and `rights = []` at the top level.
    let start = unique_offset(POLICY, "[[rights]]\nid = \"access\"");
    let src = format!("{}\n", &POLICY[..start]);
    let src = edit(
        &src,
        "choice_validity_months = 6\n",
        "choice_validity_months = 6\nrights = []\n",
    );
    check_invalid(
        &single(&src),
        pos_in(&src, "rights = []", "["),
        "rights",
        "at least one entry",
    );

    // No purposes (and so no cookie categories, which need governing purposes): `purposes = []`.
    let src = cut(
        POLICY,
        "[[purposes]]\nid = \"application-review\"",
        "[[rights]]\nid = \"access\"",
    );
    let src = edit(
        &src,
        "choice_validity_months = 6\n",
        "choice_validity_months = 6\npurposes = []\n",
    );
    check_invalid(
        &single(&src),
        pos_in(&src, "purposes = []", "["),
        "purposes",
        "at least one purpose",
    );
}

#[test]
fn dates_before_2000_are_invalid() {
    let i = purpose_ix("marketing");
    let src = edit_after(
        POLICY,
        MARKETING,
        "changed_in = 2025-03-26",
        "changed_in = 1999-12-31",
    );
    check_invalid(
        &single(&src),
        pos_in(&src, "changed_in = 1999-12-31", "1999"),
        &format!("purposes[{i}].changed_in"),
        "2000",
    );
    let src = edit_after(
        POLICY,
        MARKETING,
        "changed_in = 2025-03-26",
        "changed_in = \"1970-01-01\"",
    );
    check_invalid(
        &single(&src),
        pos_in(&src, "changed_in = \"1970-01-01\"", "\""),
        &format!("purposes[{i}].changed_in"),
        "2000",
    );
    let src = edit_after(
        POLICY,
        MARKETING,
        "changed_in = 2025-03-26",
        "changed_in = 2000-01-01",
    );
    loads(&src);
}

// ---------------------------------------------------------------------------------------------------------
// Duplicates and references
// ---------------------------------------------------------------------------------------------------------

#[test]
fn duplicate_ids_in_every_list() {
    let r = reference();
    // (appended entry, duplicated id, path of the appended id, the first declaration); the appended entry
    // is the last of its list.
    let cases: Vec<(String, &str, String, &str)> = vec![
        (
            format!("[[audiences]]\nid = \"applicants-students\" # dup\nname = {T3}"),
            "applicants-students",
            format!("audiences[{}].id", r.audiences().len()),
            "[[audiences]]\nid = \"applicants-students\"\n",
        ),
        (
            format!(
                "[[data_categories]]\nid = \"contact\" # dup\naudiences = [\"applicants-students\"]\nkantara_pii = 2\nname = {T3}"
            ),
            "contact",
            format!("data_categories[{}].id", r.data_categories().len()),
            "[[data_categories]]\nid = \"contact\"\n",
        ),
        (
            format!(
                "[[recipients]]\nid = \"website\" # dup\nkind = \"public\"\ncountry = \"KZ\"\nname = {T3}"
            ),
            "website",
            format!("recipients[{}].id", r.recipients().len()),
            "[[recipients]]\nid = \"website\"\n",
        ),
        (
            extra_purpose("marketing", 14)
                .replace("id = \"marketing\"", "id = \"marketing\" # dup"),
            "marketing",
            format!("purposes[{}].id", r.purposes().len()),
            "[[purposes]]\nid = \"marketing\"\n",
        ),
        (
            format!("[[rights]]\nid = \"access\" # dup\ntitle = {T3}\ntext = {T3}"),
            "access",
            format!("rights[{}].id", r.rights().len()),
            "[[rights]]\nid = \"access\"\n",
        ),
        (
            format!(
                "[[cookie_categories]]\nid = \"analytics\" # dup\nname = {T3}\ndescription = {T3}"
            ),
            "analytics",
            format!("cookie_categories[{}].id", r.cookie_categories().len()),
            "[[cookie_categories]]\nid = \"analytics\"\n",
        ),
    ];
    for (extra, id, path, first) in &cases {
        let src = appended(extra);
        let p = single(&src);
        let first_line = pos(&src, first).0 + 1;
        let at = pos_in(&src, &format!("id = \"{id}\" # dup"), "\"");
        check(
            &p,
            at,
            path,
            &ProblemKind::DuplicateId {
                id: (*id).to_owned(),
                first_line,
            },
        );
    }
}

#[test]
fn duplicate_purpose_code() {
    let src = appended(&extra_purpose("extra", 8));
    let p = single(&src);
    let at = pos_in(&src, "id = \"extra\"\ncode = 8", "8");
    let path = format!("purposes[{}].code", reference().purposes().len());
    check(
        &p,
        at,
        &path,
        &ProblemKind::DuplicateCode {
            code: 8,
            other: "marketing".into(),
        },
    );
}

#[test]
fn duplicates_after_a_broken_entry_have_the_right_index() {
    // purposes[0] lacks `dpv`; the appended purpose is still purposes[14], not the 14th that loaded.
    let src = appended(&extra_purpose("extra", 8));
    let src = edit(
        &src,
        "dpv = \"https://w3id.org/dpv/sector/education#StudentAdmissionManagement\"\n",
        "",
    );
    let ps = problems(&src);
    assert_eq!(ps.len(), 2, "{}", listing(&ps));
    check(
        &ps[0],
        pos(&src, "[[purposes]]\nid = \"application-review\""),
        "purposes[0].dpv",
        &ProblemKind::Missing,
    );
    let path = format!("purposes[{}].code", reference().purposes().len());
    check(
        &ps[1],
        pos_in(&src, "id = \"extra\"\ncode = 8", "8"),
        &path,
        &ProblemKind::DuplicateCode {
            code: 8,
            other: "marketing".into(),
        },
    );

    // The same for ids: audiences[0] has a broken name, the duplicate is audiences[2].
    let src = appended(&format!(
        "[[audiences]]\nid = \"teachers-mentors-volunteers\" # dup\nname = {T3}"
    ));
    let src = edit(&src, "en = \"Applicants and students\"\n", "");
    let ps = problems(&src);
    assert_eq!(ps.len(), 2, "{}", listing(&ps));
    check(
        &ps[0],
        pos_before(
            &src,
            "kk = \"Талапкерлер мен студенттер\"",
            "[audiences.name]",
        ),
        "audiences[0].name.en",
        &ProblemKind::MissingTranslation("en".into()),
    );
    let first_line = pos(&src, "id = \"teachers-mentors-volunteers\"\n").0;
    check(
        &ps[1],
        pos_in(&src, "id = \"teachers-mentors-volunteers\" # dup", "\""),
        "audiences[2].id",
        &ProblemKind::DuplicateId {
            id: "teachers-mentors-volunteers".into(),
            first_line,
        },
    );
}

#[test]
fn a_broken_declaration_does_not_make_its_references_unknown() {
    // The audience is declared, only its name lacks a translation: references to it are fine.
    let src = with("en = \"Applicants and students\"\n", "");
    let p = single(&src);
    check(
        &p,
        pos(&src, "[audiences.name]\nkk = \"Талапкерлер"),
        "audiences[0].name.en",
        &ProblemKind::MissingTranslation("en".into()),
    );

    // The same for a data category, a recipient and a cookie category.
    let src = with(
        "en = \"Family income statements and bank details for offering scholarship programmes\"\n",
        "",
    );
    assert_eq!(
        single(&src).kind,
        ProblemKind::MissingTranslation("en".into())
    );
    let src = with("kind = \"authority\"", "kind = \"police\"");
    assert!(matches!(single(&src).kind, ProblemKind::Invalid(_)));
    let src = with(
        "en = \"Analytics cookies\"\n\n[cookie_categories.description]",
        "\n[cookie_categories.description]",
    );
    assert_eq!(
        single(&src).kind,
        ProblemKind::MissingTranslation("en".into())
    );

    // A cookies purpose with an unrelated problem still governs its category.
    let src = with(
        "dpv = \"https://w3id.org/dpv#ServiceUsageAnalytics\"",
        "dpv = \"ServiceUsageAnalytics\"",
    );
    assert!(matches!(single(&src).kind, ProblemKind::Invalid(_)));
}

#[test]
fn unknown_references() {
    let sch = purpose_ix("scholarships");
    let unknown = |what: &'static str, id: &str| ProblemKind::UnknownReference {
        what,
        id: id.to_owned(),
    };

    let src = with(
        "audiences = [\"applicants-students\"]\ndata_categories = [\"application-contact\", \"family-income-bank\"]",
        "audiences = [\"applicants-students\", \"alumni\"]\ndata_categories = [\"application-contact\", \"family-income-bank\"]",
    );
    check(
        &single(&src),
        pos(&src, "\"alumni\""),
        &format!("purposes[{sch}].audiences[1]"),
        &unknown("audience", "alumni"),
    );

    let src = with(
        "id = \"mentor-feedback\"\naudiences = [\"applicants-students\"]",
        "id = \"mentor-feedback\"\naudiences = [\"parents\"]",
    );
    let i = category_ix("mentor-feedback");
    check(
        &single(&src),
        pos(&src, "\"parents\""),
        &format!("data_categories[{i}].audiences[0]"),
        &unknown("audience", "parents"),
    );

    let src = with(
        "data_categories = [\"application-contact\", \"family-income-bank\"]",
        "data_categories = [\"application-contact\", \"grades\", \"family-income-bank\"]",
    );
    check(
        &single(&src),
        pos(&src, "\"grades\""),
        &format!("purposes[{sch}].data_categories[1]"),
        &unknown("data category", "grades"),
    );

    let src = with(
        "recipients = [\"service-providers\"]",
        "recipients = [\"service-providers\", \"banks\"]",
    );
    let i = purpose_ix("transfer-service-providers");
    check(
        &single(&src),
        pos(&src, "\"banks\""),
        &format!("purposes[{i}].recipients[1]"),
        &unknown("recipient", "banks"),
    );

    // Without the marketing cookie category, the purpose that governs it points at nothing.
    let src = cut(
        POLICY,
        "[[cookie_categories]]\nid = \"marketing\"",
        "# ----------",
    );
    let i = purpose_ix("cookies-marketing");
    let at = pos_in(&src, "cookie_category = \"marketing\"", "\"");
    check(
        &single(&src),
        at,
        &format!("purposes[{i}].cookie_category"),
        &unknown("cookie category", "marketing"),
    );

    // A word outside the vocabulary of cookie categories is an invalid value, not a reference.
    let src = with(
        "cookie_category = \"analytics\"",
        "cookie_category = \"statistics\"",
    );
    let ps = problems(&src);
    let i = purpose_ix("cookies-analytics");
    check_invalid(
        &ps[0],
        pos(&src, "\"statistics\""),
        &format!("purposes[{i}].cookie_category"),
        "unknown cookie category",
    );
}

// ---------------------------------------------------------------------------------------------------------
// Languages
// ---------------------------------------------------------------------------------------------------------

#[test]
fn missing_translation() {
    let src = with("ru = \"Политика конфиденциальности\"\n", "");
    check(
        &single(&src),
        pos(&src, "[title]"),
        "title.ru",
        &ProblemKind::MissingTranslation("ru".into()),
    );

    // The description of the marketing cookies purpose lacks Russian.
    let ru = "ru = \"Файлы cookie, которые позволяют сторонним";
    let src = cut(POLICY, ru, "en = ");
    let at = pos_before(
        &src,
        "kk = \"Үшінші тарап маркетингтік платформаларына (Meta",
        "[purposes.texts.description]",
    );
    let i = purpose_ix("cookies-marketing");
    check(
        &single(&src),
        at,
        &format!("purposes[{i}].texts.description.ru"),
        &ProblemKind::MissingTranslation("ru".into()),
    );

    // Two languages missing: both reported, in the order of `languages`.
    let src = cut(POLICY, "kk = \"Құпиялылық саясаты\"\n", "en = ");
    let ps = problems(&src);
    assert_eq!(ps.len(), 2, "{}", listing(&ps));
    check(
        &ps[0],
        pos(&src, "[title]"),
        "title.kk",
        &ProblemKind::MissingTranslation("kk".into()),
    );
    check(
        &ps[1],
        pos(&src, "[title]"),
        "title.ru",
        &ProblemKind::MissingTranslation("ru".into()),
    );
}

#[test]
fn undeclared_language() {
    let src = with(
        "en = \"Privacy Policy\"\n",
        "en = \"Privacy Policy\"\nde = \"Datenschutzerklärung\"\n",
    );
    check(
        &single(&src),
        pos_in(&src, "\nde = \"", "de"),
        "title.de",
        &ProblemKind::UndeclaredLanguage("de".into()),
    );

    let path = format!("{}.purpose.de", cookie_path("lang"));
    let src = with(
        "en = \"Remembers the chosen language.\"\n",
        "en = \"Remembers the chosen language.\"\nde = \"Speichert die Sprache.\"\n",
    );
    check(
        &single(&src),
        pos_in(&src, "\nde = \"", "de"),
        &path,
        &ProblemKind::UndeclaredLanguage("de".into()),
    );
}

#[test]
fn default_language_must_be_declared() {
    let src = with("default_language = \"kk\"", "default_language = \"de\"");
    let at = pos_in(&src, "default_language = \"de\"", "\"");
    check(
        &single(&src),
        at,
        "default_language",
        &ProblemKind::UndeclaredLanguage("de".into()),
    );

    // Absent, it defaults to the first language.
    let p = loads(&with("default_language = \"kk\"\n", ""));
    assert_eq!(p.default_language().to_string(), "kk");
    let p = loads(&with(
        "default_language = \"kk\"\n",
        "default_language = \"en\"\n",
    ));
    assert_eq!(p.default_language().to_string(), "en");
}

// ---------------------------------------------------------------------------------------------------------
// Purposes: versions, texts; cookies; validity
// ---------------------------------------------------------------------------------------------------------

#[test]
fn changed_in_after_version() {
    let i = purpose_ix("marketing");
    let src = edit_after(
        POLICY,
        MARKETING,
        "changed_in = 2025-03-26",
        "changed_in = 2025-03-27",
    );
    let at = pos_in(&src, "changed_in = 2025-03-27", "2");
    let kind = ProblemKind::ChangedAfterVersion {
        changed_in: "2025-03-27".into(),
        version: "2025-03-26".into(),
    };
    check(
        &single(&src),
        at,
        &format!("purposes[{i}].changed_in"),
        &kind,
    );
    // Earlier than the version is fine.
    loads(&edit_after(
        POLICY,
        MARKETING,
        "changed_in = 2025-03-26",
        "changed_in = 2024-09-01",
    ));
}

#[test]
fn cookie_lifetime_limits() {
    let path = format!("{}.lifetime", cookie_path("lang"));
    for (too_long, shown) in [
        ("14 months", "14 months"),
        ("2 years", "2 years"),
        ("397 days", "397 days"),
        ("9505 hours", "9505 hours"),
        ("2 year", "2 years"),
    ] {
        let src = with(
            "lifetime = \"12 months\"",
            &format!("lifetime = \"{too_long}\""),
        );
        let at = pos_in(&src, &format!("\"{too_long}\""), "\"");
        check(
            &single(&src),
            at,
            &path,
            &ProblemKind::CookieLifetimeTooLong(shown.into()),
        );
    }
    for ok in [
        "13 months",
        "396 days",
        "9504 hours",
        "1 year",
        "1 month",
        "1 day",
        "1 hour",
        "session",
    ] {
        loads(&with(
            "lifetime = \"12 months\"",
            &format!("lifetime = \"{ok}\""),
        ));
    }
}

#[test]
fn consent_purpose_needs_texts() {
    let i = purpose_ix("marketing");
    // Renaming the tables removes `texts` (and adds an unknown field).
    let src = edit_after(
        POLICY,
        MARKETING,
        "[purposes.texts.title]",
        "[purposes.texts-gone.title]",
    );
    let src = edit_after(
        &src,
        MARKETING,
        "[purposes.texts.description]",
        "[purposes.texts-gone.description]",
    );
    let ps = problems(&src);
    assert_eq!(ps.len(), 2, "{}", listing(&ps));
    check(
        &ps[0],
        pos(&src, MARKETING),
        &format!("purposes[{i}].texts"),
        &ProblemKind::ConsentPurposeWithoutTexts,
    );
    assert_eq!(ps[1].kind, ProblemKind::UnknownField);
}

#[test]
fn purposes_without_consent_need_no_texts() {
    for anchor in [LEGAL, NECESSARY] {
        let src = edit_after(
            POLICY,
            anchor,
            "[purposes.texts.title]",
            "[purposes.ignored-a]",
        );
        let src = edit_after(
            &src,
            anchor,
            "[purposes.texts.description]",
            "[purposes.ignored-b]",
        );
        // Only the renamed tables are reported, not the absence of texts.
        let ps = problems(&src);
        assert_eq!(ps.len(), 2, "{}", listing(&ps));
        assert!(
            ps.iter().all(|p| p.kind == ProblemKind::UnknownField),
            "{}",
            listing(&ps)
        );
    }
    // Removed outright, the file loads and the purpose has no texts.
    let src = cut_texts(POLICY, LEGAL);
    let p = loads(&src);
    assert!(
        p.purpose_by_str("legal-compliance")
            .is_some_and(|p| p.texts.is_none())
    );
    let src = cut_texts(POLICY, NECESSARY);
    let p = loads(&src);
    assert!(
        p.purpose_by_str("cookies-necessary")
            .is_some_and(|p| p.texts.is_none())
    );
}

/// `src` without the `texts` tables of the purpose that starts at the only occurrence of `anchor`.
fn cut_texts(src: &str, anchor: &str) -> String {
    let a = unique_offset(src, anchor);
    let start = a + src[a..]
        .find("[purposes.texts.title]")
        .unwrap_or_else(|| panic!("no texts"));
    let desc = start
        + src[start..]
            .find("[purposes.texts.description]")
            .unwrap_or_else(|| panic!("no description"));
    let end = desc + src[desc..].find("\n\n").unwrap_or(src.len() - desc);
    format!("{}{}", &src[..start], &src[end..])
}

#[test]
fn choice_validity_range_and_default() {
    for (v, shown) in [
        ("0", 0),
        ("14", 14),
        ("-3", -3),
        ("99999999999999999999", i64::MAX),
    ] {
        let src = with(
            "choice_validity_months = 6",
            &format!("choice_validity_months = {v}"),
        );
        let at = pos_in(&src, &format!("choice_validity_months = {v}"), v);
        check(
            &single(&src),
            at,
            "choice_validity_months",
            &ProblemKind::ValidityOutOfRange(shown),
        );
    }
    for (v, n) in [("1", 1), ("13", 13), ("0x0c", 12), ("1_0", 10)] {
        let p = loads(&with(
            "choice_validity_months = 6",
            &format!("choice_validity_months = {v}"),
        ));
        assert_eq!(p.choice_validity_months(), n);
    }
    let p = loads(&with("choice_validity_months = 6\n", ""));
    assert_eq!(p.choice_validity_months(), 6);
}

// ---------------------------------------------------------------------------------------------------------
// The banner's texts
// ---------------------------------------------------------------------------------------------------------

/// `src` without its `[banner.*]` sections (the last of the reference policy) and their comment.
fn without_banner(src: &str) -> String {
    let comment = unique_offset(src, "\n# Banner: ");
    let at = src[..comment]
        .rfind("\n\n")
        .unwrap_or_else(|| unreachable!());
    format!("{}\n", &src[..at])
}

#[test]
fn reference_banner_has_every_text() {
    let p = reference();
    let banner = p.banner().unwrap_or_else(|| panic!("no banner texts"));
    assert_eq!(banner.iter().count(), BANNER_TEXTS.len());
    for name in BANNER_TEXTS {
        let t = p.banner_text(name).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(t.iter().count(), p.languages().len(), "{name}");
    }
    let reject = p
        .banner_text("reject-all")
        .unwrap_or_else(|| unreachable!());
    assert_eq!(reject.get(Lang::EN), Some("Reject all"));
    assert_eq!(reject.get(Lang::RU), Some("Отклонить все"));
    assert_eq!(reject.get(Lang::KK), Some("Барлығынан бас тарту"));
    assert_eq!(p.banner_text("reject_all"), None);
    assert_eq!(p.banner_text("name"), None);
    // The description is one line of text, joined with single spaces.
    let d = p
        .banner_text("description")
        .unwrap_or_else(|| unreachable!());
    assert!(
        d.get(Lang::EN)
            .is_some_and(|s| s.starts_with("We use cookies and process")
                && s.ends_with("Nothing optional runs until you choose.")
                && !s.contains("  ")
                && !s.contains('\n'))
    );
}

#[test]
fn banner_is_optional() {
    let p = loads(&without_banner(POLICY));
    assert_eq!(p.banner(), None);
    assert_eq!(p.banner_text("accept-all"), None);
}

#[test]
fn banner_text_missing_a_language() {
    let src = edit_after(
        POLICY,
        "[banner.accept-all]\n",
        "ru = \"Принять все\"\n",
        "",
    );
    check(
        &single(&src),
        pos(&src, "[banner.accept-all]"),
        "banner.accept-all.ru",
        &ProblemKind::MissingTranslation("ru".into()),
    );

    // An undeclared language, an empty text and a wrong type are reported as in every other text.
    let src = edit_after(
        POLICY,
        "[banner.close]\n",
        "en = \"Close\"\n",
        "en = \"Close\"\nde = \"Schließen\"\n",
    );
    check(
        &single(&src),
        pos_in(&src, "\nde = \"Schließen\"", "de"),
        "banner.close.de",
        &ProblemKind::UndeclaredLanguage("de".into()),
    );
    let src = edit_after(
        POLICY,
        "[banner.save]\n",
        "en = \"Save my choice\"",
        "en = \" \"",
    );
    check_invalid(
        &single(&src),
        pos_in(&src, "en = \" \"", "\" \""),
        "banner.save.en",
        "text is empty",
    );
    let src = edit_after(
        POLICY,
        "[banner.save]\n",
        "en = \"Save my choice\"",
        "en = 1",
    );
    check(
        &single(&src),
        pos_after(&src, "[banner.save]\n", "1"),
        "banner.save.en",
        &ProblemKind::WrongType {
            expected: "string",
            found: "integer",
        },
    );
}

#[test]
fn banner_missing_a_text() {
    // `banner` exists only through the `[banner.*]` headers: a missing text is reported where the first
    // of them names it.
    let src = POLICY[..unique_offset(POLICY, "[banner.gpc]\n")].to_owned();
    let banner_at = pos_in(&src, "[banner.title]", "banner");
    check(
        &single(&src),
        banner_at,
        "banner.gpc",
        &ProblemKind::Missing,
    );

    // Every missing text is reported, each with its own path.
    let src = cut(POLICY, "[banner.title]\n", "[banner.description]");
    let src = cut(&src, "[banner.lifetime]\n", "[banner.cookie-purpose]");
    let ps = problems(&src);
    assert_eq!(ps.len(), 2, "{}", listing(&ps));
    let at = pos_in(&src, "[banner.description]", "banner");
    check(&ps[0], at, "banner.lifetime", &ProblemKind::Missing);
    check(&ps[1], at, "banner.title", &ProblemKind::Missing);

    // With an explicit `[banner]` header, at the header.
    let src = edit(
        &cut(POLICY, "[banner.choose]\n", "[banner.save]"),
        "[banner.title]\n",
        "[banner]\n\n[banner.title]\n",
    );
    check(
        &single(&src),
        pos(&src, "[banner]\n"),
        "banner.choose",
        &ProblemKind::Missing,
    );
}

#[test]
fn banner_unknown_text() {
    let src = appended("[banner.decline]\nkk = \"Жоқ\"\nru = \"Нет\"\nen = \"No\"\n");
    check(
        &single(&src),
        pos_in(&src, "[banner.decline]", "decline"),
        "banner.decline",
        &ProblemKind::UnknownField,
    );

    // A misspelt name is unknown, and the real one missing.
    let src = with("[banner.accept-all]\n", "[banner.accept_all]\n");
    let ps = problems(&src);
    assert_eq!(ps.len(), 2, "{}", listing(&ps));
    check(
        &ps[0],
        pos_in(&src, "[banner.title]", "banner"),
        "banner.accept-all",
        &ProblemKind::Missing,
    );
    check(
        &ps[1],
        pos_in(&src, "[banner.accept_all]", "accept_all"),
        "banner.accept_all",
        &ProblemKind::UnknownField,
    );

    // The language's own name is not one of the texts.
    let src = edit(
        &without_banner(POLICY),
        "choice_validity_months = 6\n",
        &format!("choice_validity_months = 6\nbanner = {{ name = {T3} }}\n"),
    );
    let ps = problems(&src);
    assert_eq!(ps.len(), BANNER_TEXTS.len() + 1, "{}", listing(&ps));
    let unknown: Vec<&Problem> = ps
        .iter()
        .filter(|p| p.kind == ProblemKind::UnknownField)
        .collect();
    assert_eq!(unknown.len(), 1, "{}", listing(&ps));
    check(
        unknown[0],
        pos(&src, "name = {"),
        "banner.name",
        &ProblemKind::UnknownField,
    );
    let banner_at = pos_in(&src, "banner = {", "{");
    for name in BANNER_TEXTS {
        let path = format!("banner.{name}");
        let p = ps
            .iter()
            .find(|p| p.path == path)
            .unwrap_or_else(|| panic!("{path} not reported"));
        check(p, banner_at, &path, &ProblemKind::Missing);
    }
}

#[test]
fn banner_must_be_a_table() {
    for (value, found) in [
        ("\"texts\"", "string"),
        ("[]", "array"),
        ("true", "boolean"),
    ] {
        let src = edit(
            &without_banner(POLICY),
            "choice_validity_months = 6\n",
            &format!("choice_validity_months = 6\nbanner = {value}\n"),
        );
        check(
            &single(&src),
            pos_in(&src, &format!("banner = {value}"), value),
            "banner",
            &ProblemKind::WrongType {
                expected: "table",
                found,
            },
        );
    }

    // A text that is not a table.
    let names: Vec<String> = BANNER_TEXTS
        .iter()
        .map(|n| {
            if *n == "save" {
                format!("{n} = \"Save\"")
            } else {
                format!("{n} = {T3}")
            }
        })
        .collect();
    let src = format!(
        "{}\n[banner]\n{}\n",
        without_banner(POLICY),
        names.join("\n")
    );
    check(
        &single(&src),
        pos_in(&src, "save = \"Save\"", "\"Save\""),
        "banner.save",
        &ProblemKind::WrongType {
            expected: "table",
            found: "string",
        },
    );
    // Written that way with texts everywhere, the banner loads.
    let src = src.replace("save = \"Save\"", &format!("save = {T3}"));
    assert_eq!(
        loads(&src)
            .banner_text("save")
            .and_then(|t| t.get(Lang::EN)),
        Some("Text")
    );
}

// ---------------------------------------------------------------------------------------------------------
// Positions, several problems, display
// ---------------------------------------------------------------------------------------------------------

#[test]
fn columns_count_characters_not_bytes() {
    // One line with Kazakh and Russian text before the problem.
    let inline =
        "title = { kk = \"Құпиялылық саясаты\", ru = \"Политика конфиденциальности\", en = \"\" }";
    let src = with(
        "\n[title]\nkk = \"Құпиялылық саясаты\"\nru = \"Политика конфиденциальности\"\nen = \"Privacy Policy\"\n",
        &format!("\n{inline}\n"),
    );
    let p = single(&src);
    let chars = inline
        .find("en = \"\"")
        .map(|b| inline[..b].chars().count())
        .unwrap_or_default()
        + "en = ".len()
        + 1;
    let bytes = inline.find("en = \"\"").unwrap_or_default() + "en = ".len() + 1;
    assert!(bytes > chars);
    assert_eq!(p.column, chars, "{p}");
    check_invalid(&p, pos_in(&src, inline, "\"\" }"), "title.en", "empty");

    // An undeclared language after Cyrillic text, and an unknown reference after a Kazakh comment.
    let src = with(
        "en = \"Applicants and students\"\n",
        "en = \"Applicants and students\"\nrux = \"Абитуриенты\"; de = \"Bewerber\"\n",
    );
    let ps = problems(&src);
    assert!(
        ps.iter().all(|p| matches!(p.kind, ProblemKind::Syntax(_))),
        "a `;` is not TOML"
    );
    let name = "name = { kk = \"Талапкерлер\", ru = \"Абитуриенты\", en = \"Applicants\", de = \"Bewerber\" }";
    let src = appended(&format!("[[audiences]]\nid = \"parents\"\n{name}"));
    check(
        &single(&src),
        pos(&src, "de = \"Bewerber\""),
        "audiences[2].name.de",
        &ProblemKind::UndeclaredLanguage("de".into()),
    );
    let line = "audiences = [\"applicants-students\", \"ата-аналар\"]";
    let src = with(
        "id = \"mentor-feedback\"\naudiences = [\"applicants-students\"]",
        &format!("id = \"mentor-feedback\"\n{line}"),
    );
    let i = category_ix("mentor-feedback");
    check_invalid(
        &single(&src),
        pos(&src, "\"ата-аналар\""),
        &format!("data_categories[{i}].audiences[1]"),
        "invalid id",
    );
    let line = "audiences = [\"applicants-students\", \"parents\"] # ата-аналар, кейін қосылады";
    let src = with(
        "id = \"mentor-feedback\"\naudiences = [\"applicants-students\"]",
        &format!("id = \"mentor-feedback\"\n{line}\n# «Ата-аналар» жоқ\nsensitive = \"иә\""),
    );
    let ps = problems(&src);
    assert_eq!(ps.len(), 2, "{}", listing(&ps));
    check(
        &ps[0],
        pos(&src, "\"parents\""),
        &format!("data_categories[{i}].audiences[1]"),
        &ProblemKind::UnknownReference {
            what: "audience",
            id: "parents".into(),
        },
    );
    check(
        &ps[1],
        pos(&src, "\"иә\""),
        &format!("data_categories[{i}].sensitive"),
        &ProblemKind::WrongType {
            expected: "boolean",
            found: "string",
        },
    );
}

#[test]
fn several_unrelated_problems_are_all_reported_in_file_order() {
    let mut src = with("format = 1\n", "format = 2\n");
    src = edit(&src, "bin = \"220740042362\"", "bin = \"2207400423\"");
    src = edit(&src, "lifetime = \"12 months\"", "lifetime = \"2 years\"");
    src = edit(
        &src,
        "[[rights]]\nid = \"access\"\n",
        "[[rights]]\nid = \"access\"\narticle = 24\n",
    );
    src = edit(&src, "en = \"Privacy Policy\"\n", "");
    src = edit(
        &src,
        "recipients = [\"service-providers\"]",
        "recipients = [\"service-provider\"]",
    );
    src = edit_after(
        &src,
        MARKETING,
        "changed_in = 2025-03-26",
        "changed_in = 2026-01-01",
    );
    let ps = problems(&src);
    assert_eq!(ps.len(), 7, "{}", listing(&ps));
    assert!(
        ps.windows(2)
            .all(|w| (w[0].line, w[0].column) <= (w[1].line, w[1].column)),
        "{}",
        listing(&ps)
    );
    let paths: Vec<&str> = ps.iter().map(|p| p.path.as_str()).collect();
    let lang = cookie_path("lang");
    assert_eq!(
        paths,
        [
            "format",
            "title.en",
            "controller.bin",
            &format!(
                "purposes[{}].recipients[0]",
                purpose_ix("transfer-service-providers")
            ),
            &format!("purposes[{}].changed_in", purpose_ix("marketing")),
            &format!("{lang}.lifetime"),
            "rights[0].article",
        ]
    );
    assert_eq!(ps[0].line, pos(&src, "format = 2").0);
    assert_eq!(ps[1].line, pos(&src, "[title]").0);
    assert_eq!(ps[2].line, pos(&src, "\"2207400423\"").0);
    assert_eq!(ps[6].line, pos(&src, "article = 24").0);
}

#[test]
fn display_lists_every_problem_with_position_and_path() {
    let mut src = with("bin = \"220740042362\"", "bin = \"2207400423\"");
    src = edit(&src, "lifetime = \"12 months\"", "lifetime = \"2 years\"");
    src = edit(&src, "jurisdiction = \"KZ\"\n", "");
    let err = Policy::from_toml(&src)
        .err()
        .unwrap_or_else(|| panic!("should fail"));
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "invalid policy: 3 problem(s)");
    assert_eq!(lines.len(), 1 + err.problems().len());
    for (line, p) in lines[1..].iter().zip(err.problems()) {
        assert_eq!(
            *line,
            format!("  {}:{}: {}: {}", p.line, p.column, p.path, p.kind)
        );
    }
    let (l, c) = pos_in(&src, "bin = \"2207400423\"", "\"");
    assert_eq!(lines[1], "  1:1: jurisdiction: missing required field");
    assert_eq!(
        lines[2],
        format!("  {l}:{c}: controller.bin: invalid value: a BIN is exactly 12 digits")
    );
    let (l, c) = pos(&src, "\"2 years\"");
    assert_eq!(
        lines[3],
        format!(
            "  {l}:{c}: {}.lifetime: cookie lifetime `2 years` is longer than 13 months (396 days)",
            cookie_path("lang")
        )
    );

    // A problem of the whole file has no path.
    let src = with("code = 4\n", "code = = 4\n");
    let err = Policy::from_toml(&src)
        .err()
        .unwrap_or_else(|| panic!("should fail"));
    let p = &err.problems()[0];
    assert!(
        err.to_string()
            .contains(&format!("\n  {}:{}: TOML syntax error: ", p.line, p.column)),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------------------
// No input panics
// ---------------------------------------------------------------------------------------------------------

/// Checks what must hold of any result: a failure lists problems in file order, at positions inside
/// the file.
fn check_any(src: &str) {
    let Err(e) = Policy::from_toml(src) else {
        return;
    };
    let ps = e.problems();
    assert!(!ps.is_empty());
    assert!(
        ps.windows(2)
            .all(|w| (w[0].line, w[0].column) <= (w[1].line, w[1].column))
    );
    let lines: Vec<&str> = src.split('\n').collect();
    for p in ps {
        assert!(p.line >= 1 && p.column >= 1, "{p}");
        let line = lines
            .get(p.line - 1)
            .unwrap_or_else(|| panic!("line out of the file: {p}"));
        assert!(
            p.column <= line.chars().count() + 1,
            "column out of the line: {p}"
        );
    }
}

/// One random edit of the policy text, positions in characters.
#[derive(Clone, Debug)]
enum Mutation {
    /// Removes `len` characters at `at`.
    Delete(prop::sample::Index, usize),
    /// Inserts a copy of the `len` characters at `from` at `to`.
    Duplicate(prop::sample::Index, usize, prop::sample::Index),
    /// Replaces `len` characters at `at` with a string.
    Replace(prop::sample::Index, usize, String),
    /// Inserts a string at `at`.
    Insert(prop::sample::Index, String),
}

/// Random short strings: arbitrary characters, TOML punctuation, or random bytes made valid UTF-8.
fn junk() -> impl Strategy<Value = String> {
    let toml_char = prop::sample::select(vec![
        '[', ']', '{', '}', '=', '"', '\'', '\n', '#', '.', ',', ' ', '\\', '-', ':', '0', '9',
        'a', 'я', 'ә',
    ]);
    prop_oneof![
        prop::collection::vec(any::<char>(), 1..8).prop_map(|v| v.into_iter().collect()),
        prop::collection::vec(toml_char, 1..12).prop_map(|v| v.into_iter().collect()),
        prop::collection::vec(any::<u8>(), 1..16)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// A random mutation.
fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 1..400usize).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (
            any::<prop::sample::Index>(),
            1..400usize,
            any::<prop::sample::Index>()
        )
            .prop_map(|(a, n, b)| Mutation::Duplicate(a, n, b)),
        (any::<prop::sample::Index>(), 1..40usize, junk())
            .prop_map(|(a, n, s)| Mutation::Replace(a, n, s)),
        (any::<prop::sample::Index>(), junk()).prop_map(|(a, s)| Mutation::Insert(a, s)),
    ]
}

/// Applies `m` to `text`, on character boundaries.
fn apply(text: &str, m: &Mutation) -> String {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let at = |i: &prop::sample::Index| bounds[i.index(bounds.len())];
    let after = |start: usize, n: usize| {
        let k = bounds.partition_point(|&b| b < start);
        bounds[(k + n).min(bounds.len() - 1)]
    };
    match m {
        Mutation::Delete(a, n) => {
            let s = at(a);
            format!("{}{}", &text[..s], &text[after(s, *n)..])
        }
        Mutation::Duplicate(a, n, b) => {
            let s = at(a);
            let piece = &text[s..after(s, *n)];
            let t = at(b);
            format!("{}{piece}{}", &text[..t], &text[t..])
        }
        Mutation::Replace(a, n, with) => {
            let s = at(a);
            format!("{}{with}{}", &text[..s], &text[after(s, *n)..])
        }
        Mutation::Insert(a, with) => {
            let s = at(a);
            format!("{}{with}{}", &text[..s], &text[s..])
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random edits of the reference policy never make the loader panic.
    #[test]
    fn mutated_policies_never_panic(ms in prop::collection::vec(mutation(), 1..5)) {
        let mut src = POLICY.to_owned();
        for m in &ms {
            src = apply(&src, m);
        }
        check_any(&src);
    }
}

#[test]
fn truncated_policies_never_panic() {
    let ends = POLICY
        .char_indices()
        .map(|(i, _)| i)
        .step_by(97)
        .chain([POLICY.len()]);
    for end in ends {
        let src = &POLICY[..end];
        if end == POLICY.len() {
            loads(src);
        } else {
            check_any(src);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Collection points (issue 18): where each purpose is asked
// ---------------------------------------------------------------------------------------------------------

/// The reference policy's `collection_points` line of the newsletter purpose.
const NEWSLETTER_POINTS: &str = "collection_points = [\"form\", \"api\"]";

#[test]
fn the_banner_asks_for_cookie_purposes_only() {
    let src = edit_after(
        POLICY,
        MARKETING,
        NEWSLETTER_POINTS,
        "collection_points = [\"form\", \"banner\"]",
    );
    let p = single(&src);
    let at = pos_after(&src, MARKETING, "\"banner\"");
    check_invalid(
        &p,
        at,
        &format!("purposes[{}].collection_points[1]", purpose_ix("marketing")),
        "the banner asks about the website's cookies only",
    );
    // The reference policy: the banner presents the four cookie purposes, a form none of them.
    let policy = reference();
    let banner = policy.purposes_at(consent_core::CollectionKind::Banner);
    let ids: Vec<&str> = banner
        .codes()
        .map(|c| policy.purpose_by_code(c).unwrap().id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "cookies-necessary",
            "cookies-preferences",
            "cookies-analytics",
            "cookies-marketing"
        ]
    );
    let form = policy.purposes_at(consent_core::CollectionKind::Form);
    assert!((form & banner).is_empty());
    assert_eq!(form.len(), 9);
}

#[test]
fn a_consent_purpose_says_where_it_is_asked() {
    let i = purpose_ix("marketing");
    // Missing: reported at the purpose's table.
    let src = edit_after(POLICY, MARKETING, &format!("{NEWSLETTER_POINTS}\n"), "");
    let p = single(&src);
    check_invalid(
        &p,
        pos(&src, MARKETING),
        &format!("purposes[{i}].collection_points"),
        "lists where it is asked",
    );
    // Empty.
    let src = edit_after(
        POLICY,
        MARKETING,
        NEWSLETTER_POINTS,
        "collection_points = []",
    );
    let p = single(&src);
    check_invalid(
        &p,
        pos_after(&src, MARKETING, "[]"),
        &format!("purposes[{i}].collection_points"),
        "at one collection point at least",
    );
    // Not a kind a policy names (the server's own `email`), a typo, and a kind twice.
    for (points, bad, msg) in [
        (
            "[\"form\", \"email\"]",
            "\"email\"",
            "not a collection point a policy names",
        ),
        (
            "[\"forms\"]",
            "\"forms\"",
            "not a collection point a policy names",
        ),
        ("[\"api\", \"api\"]", "\"api\"]", "listed twice"),
    ] {
        let src = edit_after(
            POLICY,
            MARKETING,
            NEWSLETTER_POINTS,
            &format!("collection_points = {points}"),
        );
        let p = single(&src);
        let j = points.matches(',').count();
        check_invalid(
            &p,
            pos_after(&src, MARKETING, bad),
            &format!("purposes[{i}].collection_points[{j}]"),
            msg,
        );
    }
    // A purpose that needs no consent may omit them (legal compliance, in the reference policy) or
    // list where it is shown as always on (the necessary cookies, in the banner).
    let policy = reference();
    let legal = policy.purpose_by_str("legal-compliance").unwrap();
    assert!(legal.collection_points.is_empty());
    let necessary = policy.purpose_by_str("cookies-necessary").unwrap();
    assert!(necessary.collected_at(consent_core::CollectionKind::Banner));
}
