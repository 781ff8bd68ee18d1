//! The reference policy and the helpers.

use super::*;

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
