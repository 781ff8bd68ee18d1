//! Syntax and size.

use super::*;

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
