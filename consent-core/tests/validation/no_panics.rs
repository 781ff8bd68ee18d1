//! No input panics.

use super::*;

/// Checks what must hold of any result: a failure lists problems in file order, at positions inside
/// the file.
fn check_any(src: &str) {
    let Err(e) = Policy::from_toml(src) else {
        return;
    };
    let ps = e.problems();
    assert!(!ps.is_empty());
    assert!(
        ps.windows(2)
            .all(|w| (w[0].line, w[0].column) <= (w[1].line, w[1].column))
    );
    let lines: Vec<&str> = src.split('\n').collect();
    for p in ps {
        assert!(p.line >= 1 && p.column >= 1, "{p}");
        let line = lines
            .get(p.line - 1)
            .unwrap_or_else(|| panic!("line out of the file: {p}"));
        assert!(
            p.column <= line.chars().count() + 1,
            "column out of the line: {p}"
        );
    }
}

/// One random edit of the policy text, positions in characters.
#[derive(Clone, Debug)]
enum Mutation {
    /// Removes `len` characters at `at`.
    Delete(prop::sample::Index, usize),
    /// Inserts a copy of the `len` characters at `from` at `to`.
    Duplicate(prop::sample::Index, usize, prop::sample::Index),
    /// Replaces `len` characters at `at` with a string.
    Replace(prop::sample::Index, usize, String),
    /// Inserts a string at `at`.
    Insert(prop::sample::Index, String),
}

/// Random short strings: arbitrary characters, TOML punctuation, or random bytes made valid UTF-8.
fn junk() -> impl Strategy<Value = String> {
    let toml_char = prop::sample::select(vec![
        '[', ']', '{', '}', '=', '"', '\'', '\n', '#', '.', ',', ' ', '\\', '-', ':', '0', '9',
        'a', 'я', 'ә',
    ]);
    prop_oneof![
        prop::collection::vec(any::<char>(), 1..8).prop_map(|v| v.into_iter().collect()),
        prop::collection::vec(toml_char, 1..12).prop_map(|v| v.into_iter().collect()),
        prop::collection::vec(any::<u8>(), 1..16)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// A random mutation.
fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 1..400usize).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (
            any::<prop::sample::Index>(),
            1..400usize,
            any::<prop::sample::Index>()
        )
            .prop_map(|(a, n, b)| Mutation::Duplicate(a, n, b)),
        (any::<prop::sample::Index>(), 1..40usize, junk())
            .prop_map(|(a, n, s)| Mutation::Replace(a, n, s)),
        (any::<prop::sample::Index>(), junk()).prop_map(|(a, s)| Mutation::Insert(a, s)),
    ]
}

/// Applies `m` to `text`, on character boundaries.
fn apply(text: &str, m: &Mutation) -> String {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let at = |i: &prop::sample::Index| bounds[i.index(bounds.len())];
    let after = |start: usize, n: usize| {
        let k = bounds.partition_point(|&b| b < start);
        bounds[(k + n).min(bounds.len() - 1)]
    };
    match m {
        Mutation::Delete(a, n) => {
            let s = at(a);
            format!("{}{}", &text[..s], &text[after(s, *n)..])
        }
        Mutation::Duplicate(a, n, b) => {
            let s = at(a);
            let piece = &text[s..after(s, *n)];
            let t = at(b);
            format!("{}{piece}{}", &text[..t], &text[t..])
        }
        Mutation::Replace(a, n, with) => {
            let s = at(a);
            format!("{}{with}{}", &text[..s], &text[after(s, *n)..])
        }
        Mutation::Insert(a, with) => {
            let s = at(a);
            format!("{}{with}{}", &text[..s], &text[s..])
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random edits of the reference policy never make the loader panic.
    #[test]
    fn mutated_policies_never_panic(ms in prop::collection::vec(mutation(), 1..5)) {
        let mut src = POLICY.to_owned();
        for m in &ms {
            src = apply(&src, m);
        }
        check_any(&src);
    }
}

#[test]
fn truncated_policies_never_panic() {
    let ends = POLICY
        .char_indices()
        .map(|(i, _)| i)
        .step_by(97)
        .chain([POLICY.len()]);
    for end in ends {
        let src = &POLICY[..end];
        if end == POLICY.len() {
            loads(src);
        } else {
            check_any(src);
        }
    }
}
