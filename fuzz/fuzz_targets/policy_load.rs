//! Policies: any text loads or reports problems, never panics; problems are in file order and inside
//! the file; a policy that loads has a stable hash.
#![no_main]

use consent_core::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::from_toml(text) {
        Ok(p) => {
            let again = Policy::from_toml(text).map(|q| q.hash());
            assert_eq!(again, Ok(p.hash()));
            let _ = p.canonical_json();
        }
        Err(e) => {
            let problems = e.problems();
            assert!(!problems.is_empty());
            let lines = text.split('\n').count().max(1);
            for w in problems.windows(2) {
                assert!(
                    (w[0].line, w[0].column) <= (w[1].line, w[1].column),
                    "problems out of order"
                );
            }
            for p in problems {
                assert!(
                    p.line >= 1 && p.line <= lines,
                    "line {} outside the file",
                    p.line
                );
            }
        }
    }
});
