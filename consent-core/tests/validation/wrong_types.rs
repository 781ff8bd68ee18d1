//! Wrong types.

use super::*;

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
