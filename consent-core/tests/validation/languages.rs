//! Languages.

use super::*;

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
