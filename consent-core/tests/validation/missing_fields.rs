//! Missing fields.

use super::*;

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
