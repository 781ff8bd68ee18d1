//! Invalid values.

use super::*;

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
