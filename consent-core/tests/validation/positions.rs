//! Positions, several problems, display.

use super::*;

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
