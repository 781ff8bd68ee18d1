//! Which cookies to delete when a purpose is off: the declared ones the jar holds, on every path and
//! domain they may have been set for.

use alloc::string::String;

use consent_core::PurposeSet;

use super::parts;

/// Whether a cookie `name` matches a declared name or pattern (`*` stands for any run of characters):
/// [`consent_core::cookie_pattern_matches`], the matcher the policy's own `Cookie::matches` uses.
///
/// ```
/// use consent_wasm::logic::cookie_matches;
/// assert!(cookie_matches("_ga_*", "_ga_DEMO"));
/// assert!(!cookie_matches("_ga", "_gat"));
/// ```
pub fn cookie_matches(pattern: &str, name: &str) -> bool {
    consent_core::cookie_pattern_matches(pattern, name)
}

/// The cookies of `jar` (a `document.cookie` string) that the policy declares (`declared`: purpose code,
/// cookie name or pattern) for a purpose in `off`: the ones to delete, in the jar's order (a name the jar
/// holds twice, set for two paths, comes twice; deleting it again does no harm).
pub fn cookies_to_delete<'a>(
    declared: &'a [(u8, String)],
    off: PurposeSet,
    jar: &'a str,
) -> impl Iterator<Item = &'a str> {
    parts(jar, b';')
        .filter_map(|pair| Some(parts(pair, b'=').next()?.trim_ascii()))
        .filter(move |name| {
            !name.is_empty()
                && declared
                    .iter()
                    .any(|(code, pattern)| off.contains(*code) && cookie_matches(pattern, name))
        })
}

/// A `document.cookie` assignment that deletes cookie `name` set for `path`, and `domain=.<domain>`
/// when given; `secure` on an HTTPS page (a `__Secure-` or `__Host-` cookie is deleted only so).
///
/// ```
/// use consent_wasm::logic::expired_cookie;
/// assert_eq!(expired_cookie("_ga", None, "/", false), "_ga=; max-age=0; path=/");
/// assert_eq!(
///     expired_cookie("__Host-x", Some("invisionu.education"), "/apply", true),
///     "__Host-x=; max-age=0; path=/apply; domain=.invisionu.education; secure"
/// );
/// ```
pub fn expired_cookie(name: &str, domain: Option<&str>, path: &str, secure: bool) -> String {
    let mut out = String::from(name);
    out.push_str("=; max-age=0; path=");
    out.push_str(path);
    if let Some(domain) = domain {
        out.push_str("; domain=.");
        out.push_str(domain);
    }
    if secure {
        out.push_str("; secure");
    }
    out
}

/// The paths a cookie the page at `pathname` can see may have been set for, to delete it on each (a
/// cookie is deleted only with its own path): `/`, and each directory above the page, with and without
/// its trailing slash (a script's cookie without a `path` gets the page's directory), and the page.
///
/// ```
/// use consent_wasm::logic::cookie_paths;
/// let all: Vec<&str> = cookie_paths("/apply/form").collect();
/// assert_eq!(all, ["/", "/apply", "/apply/", "/apply/form"]);
/// assert_eq!(cookie_paths("/").collect::<Vec<_>>(), ["/"]);
/// ```
pub fn cookie_paths(pathname: &str) -> impl Iterator<Item = &str> {
    let path = if pathname.starts_with('/') {
        pathname
    } else {
        "/"
    };
    let bytes = path.as_bytes();
    // Each prefix that ends at a slash, just before one, or at the end.
    (1..=bytes.len())
        .filter(move |&i| {
            i == bytes.len() || bytes.get(i - 1) == Some(&b'/') || bytes.get(i) == Some(&b'/')
        })
        .filter_map(move |i| path.get(..i))
}

/// The domains a cookie of the page on `host` may have been set for, to delete it on each (a cookie
/// goes only with the domain it was set for): the host and every parent domain of two labels or more,
/// longest first. Analytics scripts usually set theirs on the site's registrable domain
/// (`.invisionu.education` from `www.invisionu.education`). The browser ignores a deletion on a domain
/// it would not have accepted (a public suffix, or any domain for an IP address).
///
/// ```
/// use consent_wasm::logic::cookie_domains;
/// let all: Vec<&str> = cookie_domains("www.invisionu.education").collect();
/// assert_eq!(all, ["www.invisionu.education", "invisionu.education"]);
/// assert_eq!(cookie_domains("localhost").count(), 0); // host-only cookies: no domain
/// ```
pub fn cookie_domains(host: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(host);
    core::iter::from_fn(move || {
        let current = rest?;
        let dot = current.bytes().position(|c| c == b'.')?;
        rest = current.get(dot + 1..);
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use alloc::borrow::ToOwned;
    use alloc::string::String;
    use alloc::vec::Vec;
    use alloc::{format, vec};

    use super::*;

    // On wasm32 these run in the browser too (`scripts/test`), compiled as the banner is.
    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn declared_cookies_of_what_is_off_are_deleted() {
        assert!(cookie_matches("_ga", "_ga"));
        assert!(!cookie_matches("_ga", "_ga_X"));
        assert!(cookie_matches("_ga_*", "_ga_X1"));
        assert!(cookie_matches("_ga_*", "_ga_"));
        assert!(!cookie_matches("_ga_*", "_gat"));
        assert!(cookie_matches("a*b*c", "axxbyyc"));
        assert!(!cookie_matches("a*b*c", "axxcyyb"));
        let declared = [
            (12, "_ga".to_owned()),
            (12, "_ga_*".to_owned()),
            (13, "_fbp".to_owned()),
        ];
        let jar = "consent=x; _ga=1; theme=dark; _ga_ABC=2; _fbp=3; _ga=4";
        assert_eq!(
            cookies_to_delete(&declared, PurposeSet::of(12), jar).collect::<Vec<_>>(),
            ["_ga", "_ga_ABC", "_ga"]
        );
        assert_eq!(
            cookies_to_delete(&declared, PurposeSet::EMPTY, jar).count(),
            0
        );
        assert_eq!(
            expired_cookie("_ga", None, "/", false),
            "_ga=; max-age=0; path=/"
        );
        assert_eq!(
            expired_cookie("_ga", Some("invisionu.education"), "/", false),
            "_ga=; max-age=0; path=/; domain=.invisionu.education"
        );
        let paths = |p| cookie_paths(p).collect::<Vec<_>>();
        assert_eq!(paths("/"), ["/"]);
        assert_eq!(paths(""), ["/"]);
        assert_eq!(paths("/index.html"), ["/", "/index.html"]);
        assert_eq!(paths("/a/"), ["/", "/a", "/a/"]);
        assert_eq!(
            paths("/a/b/c"),
            ["/", "/a", "/a/", "/a/b", "/a/b/", "/a/b/c"]
        );
        assert_eq!(paths("/a//"), ["/", "/a", "/a/", "/a//"]);
        assert_eq!(paths("x"), ["/"]);
        let domains = |host| cookie_domains(host).collect::<Vec<_>>();
        assert_eq!(domains("invisionu.education"), ["invisionu.education"]);
        assert_eq!(
            domains("a.b.invisionu.education"),
            [
                "a.b.invisionu.education",
                "b.invisionu.education",
                "invisionu.education"
            ]
        );
        assert!(domains("localhost").is_empty());
        assert!(domains("").is_empty());
        assert_eq!(domains("site."), ["site."]);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn cookie_patterns_agree_with_a_plain_recursive_matcher() {
        fn reference(p: &[u8], n: &[u8]) -> bool {
            match (p.first(), n.first()) {
                (None, None) => true,
                (Some(b'*'), _) => {
                    reference(&p[1..], n) || (!n.is_empty() && reference(p, &n[1..]))
                }
                (Some(a), Some(b)) if a == b => reference(&p[1..], &n[1..]),
                _ => false,
            }
        }
        // Every pattern over {a, b, *} and every name over {a, b}, up to four characters.
        fn words(alphabet: &[u8], max: usize) -> Vec<String> {
            let mut out = vec![String::new()];
            let mut last = vec![String::new()];
            for _ in 0..max {
                last = last
                    .iter()
                    .flat_map(|w| {
                        alphabet
                            .iter()
                            .map(move |&c| format!("{w}{}", char::from(c)))
                    })
                    .collect();
                out.extend(last.iter().cloned());
            }
            out
        }
        for p in words(b"ab*", 4) {
            for n in words(b"ab", 4) {
                assert_eq!(
                    cookie_matches(&p, &n),
                    reference(p.as_bytes(), n.as_bytes()),
                    "{p:?} {n:?}"
                );
            }
        }
    }
}
