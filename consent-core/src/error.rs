//! Errors of this crate.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

/// A value that does not parse as the type it should be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// An id breaks the id grammar.
    #[error("invalid id: {0}")]
    Id(&'static str),
    /// A language code is not 2 or 3 lowercase letters.
    #[error("invalid language code: expected 2 or 3 lowercase letters")]
    Lang,
    /// A date is not `YYYY-MM-DD` or does not exist.
    #[error("invalid date: expected an existing date written YYYY-MM-DD, between 1970 and 9999")]
    Date,
    /// A policy version is not a date.
    #[error("invalid policy version: expected a date written YYYY-MM-DD")]
    Version,
    /// A country is not an ISO 3166-1 alpha-2 code or `*`.
    #[error("invalid country: expected an ISO 3166-1 alpha-2 code in upper case, or \"*\"")]
    Country,
    /// A cookie lifetime is not `session` or `<n> <unit>`.
    #[error("invalid lifetime: expected \"session\" or \"<n> hours|days|months|years\"")]
    Lifetime,
    /// Not strict base64url without padding.
    #[error("invalid base64url: expected the URL-safe alphabet without padding")]
    Base64,
    /// A receipt id is not a lower-case hyphenated UUID.
    #[error(
        "invalid receipt id: expected a lower-case UUID such as 0192f3a0-7c1e-7abc-8def-0123456789ab"
    )]
    ReceiptId,
    /// A subject id is not 16 bytes of base64url.
    #[error("invalid subject id: expected 22 base64url characters (128 bits)")]
    SubjectId,
    /// A key id breaks the key-id grammar.
    #[error("invalid key id: expected 1 to 16 characters from A-Z a-z 0-9 . _ -")]
    KeyId,
    /// A word outside a closed vocabulary.
    #[error("unknown {0}")]
    Unknown(&'static str),
    /// A banner build hash is not a SHA-256 in 64 lower-case hex digits.
    #[error("invalid build hash: expected a SHA-256 in 64 lower-case hex digits")]
    BuildHash,
    /// A page is not an http(s) URL of at most 2048 bytes of URL characters (RFC 3986).
    #[error(
        "invalid page: expected an http(s) URL of at most 2048 bytes of URL characters (RFC 3986)"
    )]
    PageUrl,
    /// A short text is empty after trimming, longer than its limit, or holds control characters.
    #[error("invalid text: expected 1 to {0} bytes without control characters")]
    Text(usize),
    /// A log hash is not 32 bytes in standard base64 with padding.
    #[cfg(feature = "tlog")]
    #[error("invalid hash: expected 32 bytes in standard base64 with padding (44 characters)")]
    Hash,
}

/// What is wrong at one place of a policy file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The file is not valid TOML.
    #[error("TOML syntax error: {0}")]
    Syntax(String),
    /// The file is over the size limit.
    #[error("file is {0} bytes, over the 1 MiB limit")]
    TooLarge(usize),
    /// A required field is absent.
    #[error("missing required field")]
    Missing,
    /// A field the format does not know (often a typo).
    #[error("unknown field")]
    UnknownField,
    /// A value of the wrong TOML type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What the format wants.
        expected: &'static str,
        /// What the file has.
        found: &'static str,
    },
    /// A value of the right type that breaks a rule.
    #[error("invalid value: {0}")]
    Invalid(String),
    /// Two entries of a list share an id.
    #[error("duplicate id `{id}` (first declared on line {first_line})")]
    DuplicateId {
        /// The id.
        id: String,
        /// Where it was first declared.
        first_line: usize,
    },
    /// Two purposes share a token code.
    #[error("duplicate purpose code {code} (also used by `{other}`)")]
    DuplicateCode {
        /// The code.
        code: u8,
        /// The other purpose.
        other: String,
    },
    /// A reference to an id that is not declared.
    #[error("unknown {what} `{id}`")]
    UnknownReference {
        /// What kind of thing was referenced.
        what: &'static str,
        /// The id.
        id: String,
    },
    /// A text lacks a declared language.
    #[error("missing translation for declared language `{0}`")]
    MissingTranslation(String),
    /// A text has a language the policy does not declare.
    #[error("language `{0}` is not declared in `languages`")]
    UndeclaredLanguage(String),
    /// A purpose claims to have changed after the policy's own version.
    #[error("changed_in {changed_in} is after the policy version {version}")]
    ChangedAfterVersion {
        /// The purpose's `changed_in`.
        changed_in: String,
        /// The policy's version.
        version: String,
    },
    /// A cookie lives longer than 13 months.
    #[error("cookie lifetime `{0}` is longer than 13 months (396 days)")]
    CookieLifetimeTooLong(String),
    /// A purpose that needs consent has no texts to show the subject.
    #[error("consent purpose has no texts: add `texts.title` and `texts.description`")]
    ConsentPurposeWithoutTexts,
    /// Choices would stay valid for too long or not at all.
    #[error("choice_validity_months is {0}, must be between 1 and 13")]
    ValidityOutOfRange(i64),
}

/// One problem in a policy file, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Path of the field at fault, e.g. `purposes[3].texts.title.ru` (empty for the whole file).
    pub path: String,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}:{}: {}", self.line, self.column, self.kind)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.line, self.column, self.path, self.kind
            )
        }
    }
}

/// A policy that could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file has problems; all of them are listed, in file order.
    #[error("invalid policy: {} problem(s)\n{}", .0.len(), ProblemList(.0))]
    Invalid(Vec<Problem>),
}

impl PolicyError {
    /// Every problem found, in file order.
    pub fn problems(&self) -> &[Problem] {
        match self {
            PolicyError::Invalid(p) => p,
        }
    }
}

struct ProblemList<'a>(&'a [Problem]);

/// Problems one per line, indented: what the errors of our TOML files display.
#[cfg(feature = "toml")]
pub(crate) fn problem_list(problems: &[Problem]) -> impl fmt::Display + '_ {
    ProblemList(problems)
}

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "  {p}")?;
        }
        Ok(())
    }
}
