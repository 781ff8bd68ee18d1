//! Duplicates and references.

use super::*;

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
