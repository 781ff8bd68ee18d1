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
const POLICY: &str = include_str!("../../../examples/invisionu/policy.toml");

/// A text in the three languages of the reference policy, as an inline table.
const T3: &str = r#"{ kk = "Мәтін", ru = "Текст", en = "Text" }"#;

// The tests, one module per concern; this file holds the helpers they share.
mod banner_texts;
mod collection_points;
mod invalid_values;
mod languages;
mod missing_fields;
mod no_panics;
mod positions;
mod purposes;
mod reference;
mod references;
mod syntax;
mod unknown_fields;
mod wrong_types;

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
