//! Unknown fields.

use super::*;

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
