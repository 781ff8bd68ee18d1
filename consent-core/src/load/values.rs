//! The loader's readers of values: texts in every declared language, URLs, e-mail addresses, ids
//! declared once and referenced elsewhere, IRIs.

#[allow(unused_imports)]
use crate::prelude::*;
use core::str::FromStr;
use std::collections::BTreeMap;

use toml::de::DeValue;

use crate::error::{ParseError, ProblemKind};
use crate::toml_read::{Loader, Span, Table, Val};
use crate::{Id, Lang, Texts};

/// Longest text accepted, in bytes, in any language.
const MAX_TEXT_BYTES: usize = 8192;

impl Table<'_, '_> {
    /// A required text.
    pub(super) fn text(&mut self, ld: &mut Loader, key: &str) -> Option<Texts> {
        let v = self.req(ld, key);
        ld.text(v)
    }
}

impl Loader {
    pub(super) fn url(&mut self, v: &Val) -> Option<String> {
        let s = self.str(v)?;
        let host = s.strip_prefix("https://").unwrap_or_default();
        if host.is_empty()
            || host.starts_with('/')
            || s.len() > 2048
            || s.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            self.invalid(
                v,
                "expected an https:// URL with a host, without spaces, at most 2048 bytes",
            );
            return None;
        }
        Some(s.to_owned())
    }

    pub(super) fn email(&mut self, v: &Val) -> Option<String> {
        let s = self.str(v)?;
        let ok = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.contains('@')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
        if !ok || s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            self.invalid(v, "expected an e-mail address such as info@example.org");
            return None;
        }
        Some(s.to_owned())
    }

    /// A text: one string per declared language, no other keys.
    pub(super) fn text(&mut self, v: Option<Val>) -> Option<Texts> {
        let v = v?;
        let t = self.table(&v)?;
        let mut out = Vec::with_capacity(self.langs.len());
        let mut seen = Vec::with_capacity(self.langs.len());
        let mut ok = true;
        for (key, key_span, value, _) in &t.entries {
            let path = format!("{}.{key}", t.path);
            let lang = match key.parse::<Lang>() {
                Ok(l) if self.langs.contains(&l) => l,
                _ => {
                    self.report(
                        key_span,
                        path,
                        ProblemKind::UndeclaredLanguage((*key).to_owned()),
                    );
                    ok = false;
                    continue;
                }
            };
            seen.push(lang);
            let item = Val {
                v: value.get_ref(),
                span: value.span(),
                path,
            };
            match self.str(&item) {
                Some(s) if s.trim().is_empty() => {
                    self.invalid(&item, "text is empty");
                    ok = false;
                }
                Some(s) if s.len() > MAX_TEXT_BYTES => {
                    self.invalid(
                        &item,
                        format!("text is {} bytes, over the {MAX_TEXT_BYTES} limit", s.len()),
                    );
                    ok = false;
                }
                Some(s) => out.push((lang, s.to_owned())),
                None => ok = false,
            }
        }
        let missing: Vec<Lang> = self
            .langs
            .iter()
            .copied()
            .filter(|l| !seen.contains(l))
            .collect();
        for lang in missing {
            self.report(
                &t.span,
                format!("{}.{lang}", t.path),
                ProblemKind::MissingTranslation(lang.to_string()),
            );
            ok = false;
        }
        ok.then(|| Texts::new(out))
    }

    /// Parses an id and records it in `declared` with its span and path, whether or not the rest of its
    /// entry is valid: a declared id resolves references and counts for duplicates either way.
    pub(super) fn declare<K: FromStr<Err = ParseError> + Clone>(
        &mut self,
        v: &Val,
        declared: &mut Vec<(K, Span, String)>,
    ) -> Option<K> {
        let id = self.parse::<K>(v)?;
        declared.push((id.clone(), v.span.clone(), v.path.clone()));
        Some(id)
    }

    /// Whether `v` is an empty array (judged on the file, not on the items that parsed).
    pub(super) fn is_empty_array(v: &Val) -> bool {
        matches!(v.v, DeValue::Array(a) if a.is_empty())
    }

    /// Reports duplicates among `declared` ids; returns the set of ids with their declaration line.
    pub(super) fn unique<K: Ord + Clone + core::fmt::Display>(
        &mut self,
        src: &str,
        declared: Vec<(K, Span, String)>,
    ) -> BTreeMap<K, usize> {
        let mut seen = BTreeMap::new();
        for (id, span, path) in declared {
            let line = self.line_col(src, span.start).0;
            if let Some(first_line) = seen.get(&id) {
                let first_line = *first_line;
                self.report(
                    &span,
                    path,
                    ProblemKind::DuplicateId {
                        id: id.to_string(),
                        first_line,
                    },
                );
            } else {
                seen.insert(id, line);
            }
        }
        seen
    }

    /// Checks that every id in `refs` is in `known`.
    pub(super) fn refs(
        &mut self,
        refs: &[(Id, Span)],
        known: &BTreeMap<Id, usize>,
        what: &'static str,
        path: &str,
    ) {
        for (i, (id, span)) in refs.iter().enumerate() {
            if !known.contains_key(id) {
                self.report(
                    span,
                    format!("{path}[{i}]"),
                    ProblemKind::UnknownReference {
                        what,
                        id: id.to_string(),
                    },
                );
            }
        }
    }
}

pub(super) fn strip<T>(v: Option<Vec<(T, Span)>>) -> Option<Vec<T>> {
    v.map(|v| v.into_iter().map(|(x, _)| x).collect())
}

pub(super) fn iri(ld: &mut Loader, v: &Val) -> Option<String> {
    let s = ld.str(v)?;
    if !s.starts_with("https://")
        || s.len() > 2048
        || s.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        ld.invalid(
            v,
            "expected an https:// IRI such as https://w3id.org/dpv#Consent",
        );
        return None;
    }
    Some(s.to_owned())
}

pub(super) fn iris(ld: &mut Loader, v: &Val) -> Option<Vec<String>> {
    let items = ld.array(v)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in &items {
        match iri(ld, item) {
            Some(s) => out.push(s),
            None => ok = false,
        }
    }
    ok.then_some(out)
}
