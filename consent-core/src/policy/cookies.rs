//! What a policy says about cookies: each cookie (its name or pattern, provider and lifetime) and the
//! categories the banner asks about.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use crate::{CookieCategoryId, ParseError, Texts};

/// How long a cookie lives.
///
/// ```
/// use consent_core::Lifetime;
/// let l: Lifetime = "13 months".parse()?;
/// assert_eq!(l.days(), 396);
/// assert!(l.days() <= Lifetime::MAX_DAYS);
/// assert_eq!("session".parse::<Lifetime>()?, Lifetime::Session);
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Lifetime {
    /// Until the browser closes.
    Session,
    /// A number of hours.
    Hours(u32),
    /// A number of days.
    Days(u32),
    /// A number of months.
    Months(u32),
    /// A number of years.
    Years(u32),
}

impl Lifetime {
    /// The longest lifetime allowed: 13 months, counted as 396 days.
    pub const MAX_DAYS: u64 = 396;

    /// The lifetime in days, rounded up (a month counts as 30.4375 days, a year as 365.25).
    pub fn days(self) -> u64 {
        match self {
            Lifetime::Session => 0,
            Lifetime::Hours(h) => u64::from(h).div_ceil(24),
            Lifetime::Days(d) => u64::from(d),
            Lifetime::Months(m) => (u64::from(m) * 487).div_ceil(16),
            Lifetime::Years(y) => (u64::from(y) * 1461).div_ceil(4),
        }
    }
}

impl core::str::FromStr for Lifetime {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        if s == "session" {
            return Ok(Lifetime::Session);
        }
        let (n, unit) = s.split_once(' ').ok_or(ParseError::Lifetime)?;
        if n.is_empty() || n.len() > 6 || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::Lifetime);
        }
        let n: u32 = n.parse().map_err(|_| ParseError::Lifetime)?;
        match unit {
            "hour" | "hours" => Ok(Lifetime::Hours(n)),
            "day" | "days" => Ok(Lifetime::Days(n)),
            "month" | "months" => Ok(Lifetime::Months(n)),
            "year" | "years" => Ok(Lifetime::Years(n)),
            _ => Err(ParseError::Lifetime),
        }
    }
}

impl fmt::Display for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lifetime::Session => f.write_str("session"),
            Lifetime::Hours(n) => write!(f, "{n} hours"),
            Lifetime::Days(n) => write!(f, "{n} days"),
            Lifetime::Months(n) => write!(f, "{n} months"),
            Lifetime::Years(n) => write!(f, "{n} years"),
        }
    }
}

/// A declared cookie.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct Cookie {
    /// The exact name, or a pattern with `*` wildcards.
    pub name: String,
    /// Whether `name` is a pattern.
    pub is_pattern: bool,
    /// Who sets it.
    pub provider: String,
    /// How long it lives.
    pub lifetime: Lifetime,
    /// What it is for.
    pub purpose: Texts,
}

impl Cookie {
    /// Whether a cookie called `name` is covered by this declaration.
    ///
    /// ```
    /// # use consent_core::Policy;
    /// # let policy = Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml")).unwrap();
    /// let analytics = policy.cookie_category(consent_core::CookieCategoryId::Analytics).unwrap();
    /// assert!(analytics.cookies.iter().any(|c| c.matches("_ga_ABC123")));
    /// ```
    pub fn matches(&self, name: &str) -> bool {
        if self.is_pattern {
            wildcard_match(self.name.as_bytes(), name.as_bytes())
        } else {
            self.name == name
        }
    }
}

/// Whether a cookie called `name` matches `pattern`, a cookie name in which `*` stands for any run of
/// characters (how policies declare cookies such as `_ga_*`). Byte by byte, without allocating; the
/// banner uses it to find the cookies to delete.
///
/// ```
/// use consent_core::cookie_pattern_matches;
/// assert!(cookie_pattern_matches("_ga_*", "_ga_ABC123"));
/// assert!(!cookie_pattern_matches("_ga", "_gat"));
/// ```
pub fn cookie_pattern_matches(pattern: &str, name: &str) -> bool {
    wildcard_match(pattern.as_bytes(), name.as_bytes())
}

/// `*` matches any run of bytes; everything else matches itself.
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(c) if Some(c) == text.get(t) => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((bp, bt)) => {
                    p = bp + 1;
                    t = bt + 1;
                    backtrack = Some((bp, bt + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|c| *c == b'*'))
}

/// A cookie category with its declarations.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub struct CookieCategory {
    /// Which category.
    pub id: CookieCategoryId,
    /// Name.
    pub name: Texts,
    /// Description.
    pub description: Texts,
    /// Declared cookies.
    pub cookies: Vec<Cookie>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let m = |p: &str, t: &str| wildcard_match(p.as_bytes(), t.as_bytes());
        assert!(m("_ga_*", "_ga_ABC"));
        assert!(m("_ga_*", "_ga_"));
        assert!(!m("_ga_*", "_ga"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("exact", "exact"));
        assert!(!m("exact", "exactly"));
    }

    #[test]
    fn lifetimes() {
        assert_eq!("13 months".parse::<Lifetime>().unwrap().days(), 396);
        assert!("13 months".parse::<Lifetime>().unwrap().days() <= Lifetime::MAX_DAYS);
        assert!("14 months".parse::<Lifetime>().unwrap().days() > Lifetime::MAX_DAYS);
        assert!("396 days".parse::<Lifetime>().unwrap().days() <= Lifetime::MAX_DAYS);
        assert!("2 years".parse::<Lifetime>().unwrap().days() > Lifetime::MAX_DAYS);
        assert_eq!("1 year".parse::<Lifetime>().unwrap(), Lifetime::Years(1));
        for bad in [
            "",
            "13",
            "months",
            "-1 days",
            "1 fortnight",
            "1  days",
            "9999999 days",
        ] {
            assert!(bad.parse::<Lifetime>().is_err(), "{bad:?}");
        }
    }
}
