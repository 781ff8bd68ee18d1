//! Loading a policy from TOML, reporting every problem with line, column and field path.

#[allow(unused_imports)]
use crate::prelude::*;
use core::str::FromStr;
use std::collections::BTreeMap;

use toml::de::DeValue;

use crate::error::{ParseError, ProblemKind};
use crate::policy::{
    Audience, Contact, Controller, Cookie, CookieCategory, DataCategory, Lifetime, Policy,
    PolicyHash, Recipient, Right,
};
use crate::toml_read::{Loader, Span, Table, Val, parse_document};
use crate::{
    BANNER_TEXTS, BannerTexts, CollectionKind, CookieCategoryId, Country, Id, Lang, LegalBasis,
    PolicyError, PolicyVersion, Purpose, PurposeId, PurposeKind, PurposeTexts, RecipientKind,
    Texts,
};

/// Largest policy file accepted.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;
const MAX_TEXT_BYTES: usize = 8192;
const MAX_PURPOSES: usize = 64;
/// The collection points a policy names in `collection_points`: where a choice is asked. `email` and
/// `staff` are the server's own and only withdraw.
const COLLECTED_KINDS: [CollectionKind; 3] = [
    CollectionKind::Banner,
    CollectionKind::Form,
    CollectionKind::Api,
];

impl Table<'_, '_> {
    /// A required text.
    fn text(&mut self, ld: &mut Loader, key: &str) -> Option<Texts> {
        let v = self.req(ld, key);
        ld.text(v)
    }
}

impl Loader {
    fn url(&mut self, v: &Val) -> Option<String> {
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

    fn email(&mut self, v: &Val) -> Option<String> {
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
    fn text(&mut self, v: Option<Val>) -> Option<Texts> {
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
    fn declare<K: FromStr<Err = ParseError> + Clone>(
        &mut self,
        v: &Val,
        declared: &mut Vec<(K, Span, String)>,
    ) -> Option<K> {
        let id = self.parse::<K>(v)?;
        declared.push((id.clone(), v.span.clone(), v.path.clone()));
        Some(id)
    }

    /// Whether `v` is an empty array (judged on the file, not on the items that parsed).
    fn is_empty_array(v: &Val) -> bool {
        matches!(v.v, DeValue::Array(a) if a.is_empty())
    }

    /// Reports duplicates among `declared` ids; returns the set of ids with their declaration line.
    fn unique<K: Ord + Clone + core::fmt::Display>(
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
    fn refs(
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

fn strip<T>(v: Option<Vec<(T, Span)>>) -> Option<Vec<T>> {
    v.map(|v| v.into_iter().map(|(x, _)| x).collect())
}

pub(crate) fn load(src: &str) -> Result<Policy, PolicyError> {
    let mut ld = Loader::new(src);
    let Some(doc) = parse_document(src, MAX_POLICY_BYTES, &mut ld) else {
        return Err(finish_problems(src, ld));
    };
    let root_span = doc.span();
    let mut root = Table::new(doc.get_ref(), root_span, String::new());
    let policy = read_policy(src, &mut ld, &mut root);
    root.finish(&mut ld);
    match policy {
        Some(mut p) if ld.problems.is_empty() => {
            p.hash = p.compute_hash();
            Ok(p)
        }
        _ => Err(finish_problems(src, ld)),
    }
}

fn finish_problems(src: &str, ld: Loader) -> PolicyError {
    PolicyError::Invalid(ld.into_problems(src, "incomplete policy"))
}

fn read_policy(src: &str, ld: &mut Loader, root: &mut Table) -> Option<Policy> {
    if let Some(v) = root.req(ld, "format")
        && let Some(f) = ld.int(&v, 0..=i64::MAX)
        && f != Policy::FORMAT
    {
        ld.invalid(
            &v,
            format!(
                "unsupported format {f}; this library reads format {}",
                Policy::FORMAT
            ),
        );
    }
    let id = root.req(ld, "id").and_then(|v| ld.parse::<Id>(&v));
    let version = root
        .req(ld, "version")
        .and_then(|v| ld.date(&v))
        .map(PolicyVersion::from_date);
    let url = root.req(ld, "url").and_then(|v| ld.url(&v));
    let jurisdiction = root
        .req(ld, "jurisdiction")
        .and_then(|v| ld.parse::<Country>(&v));

    // Languages come first: every text is checked against them.
    let languages = {
        let v = root.req(ld, "languages");
        let span = v.as_ref().map(|v| (v.span.clone(), v.path.clone()));
        let langs = ld.strings::<Lang>(v);
        if let (Some(langs), Some((span, path))) = (&langs, span) {
            if langs.is_empty() {
                ld.report(
                    &span,
                    path,
                    ProblemKind::Invalid("declare at least one language".into()),
                );
            }
            let mut seen = Vec::new();
            for (i, (l, s)) in langs.iter().enumerate() {
                if seen.contains(l) {
                    ld.report(
                        s,
                        format!("languages[{i}]"),
                        ProblemKind::Invalid(format!("language `{l}` is listed twice")),
                    );
                } else {
                    seen.push(*l);
                }
            }
            ld.langs = seen;
        }
        langs.map(|_| ld.langs.clone())
    };
    let default_language = match root.opt("default_language") {
        Some(v) => ld.parse::<Lang>(&v).and_then(|l| {
            if ld.langs.contains(&l) {
                Some(l)
            } else {
                ld.report(
                    &v.span,
                    v.path.clone(),
                    ProblemKind::UndeclaredLanguage(l.to_string()),
                );
                None
            }
        }),
        None => ld.langs.first().copied(),
    };
    let choice_validity_months = match root.opt("choice_validity_months") {
        Some(v) => match v.v {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) if (1..=i64::from(Policy::MAX_VALIDITY_MONTHS)).contains(&n) => {
                    u8::try_from(n).ok()
                }
                Ok(n) => {
                    ld.report(&v.span, v.path.clone(), ProblemKind::ValidityOutOfRange(n));
                    None
                }
                Err(_) => {
                    ld.report(
                        &v.span,
                        v.path.clone(),
                        ProblemKind::ValidityOutOfRange(i64::MAX),
                    );
                    None
                }
            },
            _ => {
                ld.wrong_type(&v, "integer");
                None
            }
        },
        None => Some(Policy::DEFAULT_VALIDITY_MONTHS),
    };
    let title = root.text(ld, "title");
    let retention = root.text(ld, "retention");
    let controller = root
        .req(ld, "controller")
        .and_then(|v| ld.table(&v))
        .and_then(|mut t| {
            let name = t.text(ld, "name");
            let bin = t.req(ld, "bin").and_then(|v| {
                let s = ld.str(&v)?;
                if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
                    Some(s.to_owned())
                } else {
                    ld.invalid(&v, "a BIN is exactly 12 digits");
                    None
                }
            });
            let address = t.text(ld, "address");
            let country = t.req(ld, "country").and_then(|v| ld.parse::<Country>(&v));
            let email = t.req(ld, "email").and_then(|v| ld.email(&v));
            let url = t.req(ld, "url").and_then(|v| ld.url(&v));
            let responsible_person = t.text(ld, "responsible_person");
            t.finish(ld);
            Some(Controller {
                name: name?,
                bin: bin?,
                address: address?,
                country: country?,
                email: email?,
                url: url?,
                responsible_person: responsible_person?,
            })
        });
    let contact = root
        .req(ld, "contact")
        .and_then(|v| ld.table(&v))
        .and_then(|mut t| {
            let email = t.req(ld, "email").and_then(|v| ld.email(&v));
            let texts = t.text(ld, "texts");
            t.finish(ld);
            Some(Contact {
                email: email?,
                texts: texts?,
            })
        });

    let audiences_v = root.req(ld, "audiences");
    let audiences_empty = audiences_v
        .as_ref()
        .filter(|v| Loader::is_empty_array(v))
        .map(|v| v.span.clone());
    let mut declared = Vec::new();
    let audiences = ld.tables(audiences_v, |ld, mut t| {
        let id = t
            .req(ld, "id")
            .and_then(|v| ld.declare::<Id>(&v, &mut declared));
        let name = t.text(ld, "name");
        t.finish(ld);
        Some(Audience {
            id: id?,
            name: name?,
        })
    });
    let audience_ids = ld.unique(src, declared);

    let dc_v = root.req(ld, "data_categories");
    let categories_empty = dc_v
        .as_ref()
        .filter(|v| Loader::is_empty_array(v))
        .map(|v| v.span.clone());
    let mut declared = Vec::new();
    let data_categories = ld.tables(dc_v, |ld, mut t| {
        let id = t
            .req(ld, "id")
            .and_then(|v| ld.declare::<Id>(&v, &mut declared));
        let name = t.text(ld, "name");
        let aud_path = t.child_path("audiences");
        let aud_v = t.req(ld, "audiences");
        if let Some(v) = aud_v.as_ref().filter(|v| Loader::is_empty_array(v)) {
            ld.invalid(v, "a data category belongs to at least one audience");
        }
        let audiences = ld.strings::<Id>(aud_v);
        if let Some(a) = &audiences {
            ld.refs(a, &audience_ids, "audience", &aud_path);
        }
        let sensitive = match t.opt("sensitive") {
            Some(v) => ld.bool(&v),
            None => Some(false),
        };
        let kantara_pii = t.req(ld, "kantara_pii").and_then(|v| ld.int(&v, 1..=16));
        let dpv = match t.opt("dpv") {
            Some(v) => iris(ld, &v),
            None => Some(Vec::new()),
        };
        t.finish(ld);
        Some(DataCategory {
            id: id?,
            name: name?,
            audiences: strip(audiences)?,
            sensitive: sensitive?,
            kantara_pii: u8::try_from(kantara_pii?).ok()?,
            dpv: dpv?,
        })
    });
    let category_ids = ld.unique(src, declared);

    let rec_v = root.opt("recipients");
    let mut declared = Vec::new();
    let recipients = ld.tables(rec_v, |ld, mut t| {
        let id = t
            .req(ld, "id")
            .and_then(|v| ld.declare::<Id>(&v, &mut declared));
        let kind = t
            .req(ld, "kind")
            .and_then(|v| ld.parse::<RecipientKind>(&v));
        let name = t.text(ld, "name");
        let country = t.req(ld, "country").and_then(|v| ld.parse::<Country>(&v));
        t.finish(ld);
        Some(Recipient {
            id: id?,
            kind: kind?,
            name: name?,
            country: country?,
        })
    });
    let recipient_ids = ld.unique(src, declared);

    let cc_v = root.opt("cookie_categories");
    let mut declared = Vec::new();
    // Each declared cookie category with the span and path of its table, for the governing check.
    let mut category_tables = Vec::new();
    let cookie_categories = ld.tables(cc_v, |ld, mut t| {
        let id = t
            .req(ld, "id")
            .and_then(|v| ld.declare::<CookieCategoryId>(&v, &mut declared));
        if let Some(id) = id {
            category_tables.push((id, t.span.clone(), t.path.clone()));
        }
        let name = t.text(ld, "name");
        let description = t.text(ld, "description");
        let cookies_v = t.opt("cookies");
        let cookies = ld.tables(cookies_v, |ld, mut c| {
            let name = c.opt("name");
            let pattern = c.opt("pattern");
            let (name, is_pattern) = match (name, pattern) {
                (Some(n), None) => (ld.str(&n).map(str::to_owned), false),
                (None, Some(p)) => (ld.str(&p).map(str::to_owned), true),
                (Some(n), Some(_)) => {
                    ld.invalid(&n, "give either `name` or `pattern`, not both");
                    (None, false)
                }
                (None, None) => {
                    ld.report(&c.span, c.child_path("name"), ProblemKind::Missing);
                    (None, false)
                }
            };
            let provider = c
                .req(ld, "provider")
                .and_then(|v| ld.str(&v).map(str::to_owned));
            let lifetime = c.req(ld, "lifetime").and_then(|v| {
                let l = ld.parse::<Lifetime>(&v)?;
                if l.days() > Lifetime::MAX_DAYS {
                    ld.report(
                        &v.span,
                        v.path.clone(),
                        ProblemKind::CookieLifetimeTooLong(l.to_string()),
                    );
                    return None;
                }
                Some(l)
            });
            let purpose = c.text(ld, "purpose");
            c.finish(ld);
            Some(Cookie {
                name: name?,
                is_pattern,
                provider: provider?,
                lifetime: lifetime?,
                purpose: purpose?,
            })
        });
        t.finish(ld);
        Some(CookieCategory {
            id: id?,
            name: name?,
            description: description?,
            cookies: cookies.into_iter().map(|(c, _)| c).collect(),
        })
    });
    let cookie_ids = ld.unique(src, declared);

    let purposes_v = root.req(ld, "purposes");
    let purposes_span = purposes_v
        .as_ref()
        .map(|v| (v.span.clone(), v.path.clone(), Loader::is_empty_array(v)));
    let mut declared = Vec::new();
    // (code, span, path, purpose) of every purpose whose id and code are valid.
    let mut codes = Vec::new();
    // The cookie category named by each `cookies` purpose, valid or not otherwise.
    let mut governed = Vec::new();
    let purposes = ld.tables(purposes_v, |ld, mut t| {
        let id = t
            .req(ld, "id")
            .and_then(|v| ld.declare::<PurposeId>(&v, &mut declared));
        let code = t.req(ld, "code").and_then(|v| {
            let code = u8::try_from(ld.int(&v, 0..=63)?).ok()?;
            if let Some(id) = id {
                codes.push((code, v.span.clone(), v.path.clone(), id));
            }
            Some(code)
        });
        let kind = t.req(ld, "kind").and_then(|v| ld.parse::<PurposeKind>(&v));
        let legal_basis = t
            .req(ld, "legal_basis")
            .and_then(|v| ld.parse::<LegalBasis>(&v));
        let path = t.child_path("audiences");
        let aud_v = t.req(ld, "audiences");
        if let Some(v) = aud_v.as_ref().filter(|v| Loader::is_empty_array(v)) {
            ld.invalid(v, "a purpose applies to at least one audience");
        }
        let audiences = ld.strings::<Id>(aud_v);
        if let Some(a) = &audiences {
            ld.refs(a, &audience_ids, "audience", &path);
        }
        let path = t.child_path("data_categories");
        let dc_val = t.req(ld, "data_categories");
        let dc_empty = dc_val
            .as_ref()
            .filter(|v| Loader::is_empty_array(v))
            .map(|v| v.span.clone());
        let data_categories = ld.strings::<Id>(dc_val);
        if let Some(d) = &data_categories {
            ld.refs(d, &category_ids, "data category", &path);
        }
        let path = t.child_path("recipients");
        let recipients = match t.opt("recipients") {
            Some(v) => ld.strings::<Id>(Some(v)),
            None => Some(Vec::new()),
        };
        if let Some(r) = &recipients {
            ld.refs(r, &recipient_ids, "recipient", &path);
        }
        let cross_border = match t.opt("cross_border") {
            Some(v) => ld.strings::<Country>(Some(v)),
            None => Some(Vec::new()),
        };
        let term = t.text(ld, "term");
        let changed_in = t.req(ld, "changed_in").and_then(|v| {
            let d = PolicyVersion::from_date(ld.date(&v)?);
            if let Some(version) = version
                && d > version
            {
                let kind = ProblemKind::ChangedAfterVersion {
                    changed_in: d.to_string(),
                    version: version.to_string(),
                };
                ld.report(&v.span, v.path.clone(), kind);
                return None;
            }
            Some(d)
        });
        let dpv = t.req(ld, "dpv").and_then(|v| iri(ld, &v));
        let kantara_purpose = t
            .req(ld, "kantara_purpose")
            .and_then(|v| ld.int(&v, 1..=16));
        let cookie_category = match t.opt("cookie_category") {
            Some(v) => ld.parse::<CookieCategoryId>(&v).and_then(|c| {
                if !cookie_ids.contains_key(&c) {
                    ld.report(
                        &v.span,
                        v.path.clone(),
                        ProblemKind::UnknownReference {
                            what: "cookie category",
                            id: c.to_string(),
                        },
                    );
                    return None;
                }
                if kind.is_some_and(|k| k != PurposeKind::Cookies) {
                    ld.invalid(&v, "only `cookies` purposes have a cookie_category");
                    return None;
                }
                governed.push(c);
                if c == CookieCategoryId::Necessary && legal_basis == Some(LegalBasis::Consent) {
                    ld.invalid(
                        &v,
                        "strictly necessary cookies need no consent: use another legal_basis",
                    );
                    return None;
                }
                Some(Some(c))
            }),
            None => {
                if kind == Some(PurposeKind::Cookies) {
                    ld.report(
                        &t.span,
                        t.child_path("cookie_category"),
                        ProblemKind::Missing,
                    );
                    None
                } else {
                    Some(None)
                }
            }
        };
        if let Some(span) = dc_empty.filter(|_| kind.is_some_and(|k| k != PurposeKind::Cookies)) {
            ld.report(
                &span,
                t.child_path("data_categories"),
                ProblemKind::Invalid("list the data categories this purpose processes".into()),
            );
        }
        let required_for = match t.opt("required_for") {
            Some(v) => ld.text(Some(v)).map(Some),
            None => Some(None),
        };
        let texts = match t.opt("texts") {
            Some(v) => ld.table(&v).and_then(|mut tt| {
                let title = tt.text(ld, "title");
                let description = tt.text(ld, "description");
                tt.finish(ld);
                Some(Some(PurposeTexts {
                    title: title?,
                    description: description?,
                }))
            }),
            None => {
                let needs = legal_basis == Some(LegalBasis::Consent)
                    && cookie_category != Some(Some(CookieCategoryId::Necessary));
                if needs {
                    ld.report(
                        &t.span,
                        t.child_path("texts"),
                        ProblemKind::ConsentPurposeWithoutTexts,
                    );
                    None
                } else {
                    Some(None)
                }
            }
        };
        let collection_points = collection_points(ld, &mut t, kind, legal_basis, cookie_category);
        t.finish(ld);
        Some(Purpose {
            id: id?,
            code: code?,
            kind: kind?,
            legal_basis: legal_basis?,
            audiences: strip(audiences)?,
            data_categories: strip(data_categories)?,
            recipients: strip(recipients)?,
            cross_border: strip(cross_border)?,
            term: term?,
            changed_in: changed_in?,
            dpv: dpv?,
            kantara_purpose: u8::try_from(kantara_purpose?).ok()?,
            cookie_category: cookie_category?,
            required_for: required_for?,
            texts: texts?,
            collection_points: collection_points?,
        })
    });
    ld.unique(src, declared);
    let mut first_of_code: BTreeMap<u8, PurposeId> = BTreeMap::new();
    for (code, span, path, id) in codes {
        if let Some(other) = first_of_code.get(&code) {
            let kind = ProblemKind::DuplicateCode {
                code,
                other: other.to_string(),
            };
            ld.report(&span, path, kind);
        } else {
            first_of_code.insert(code, id);
        }
    }
    if let Some((span, path, empty)) = purposes_span {
        if purposes.len() > MAX_PURPOSES {
            ld.report(
                &span,
                path.clone(),
                ProblemKind::Invalid(format!("at most {MAX_PURPOSES} purposes")),
            );
        }
        for (id, cspan, cpath) in &category_tables {
            let governing = governed.iter().filter(|g| *g == id).count();
            if governing != 1 {
                let msg = format!(
                    "cookie category `{id}` must be governed by exactly one `cookies` purpose, found {governing}"
                );
                ld.report(cspan, cpath.clone(), ProblemKind::Invalid(msg));
            }
        }
        if empty {
            ld.report(
                &span,
                path,
                ProblemKind::Invalid("declare at least one purpose".into()),
            );
        }
    }

    let rights_v = root.req(ld, "rights");
    let rights_empty = rights_v
        .as_ref()
        .filter(|v| Loader::is_empty_array(v))
        .map(|v| v.span.clone());
    let mut declared = Vec::new();
    let rights = ld.tables(rights_v, |ld, mut t| {
        let id = t
            .req(ld, "id")
            .and_then(|v| ld.declare::<Id>(&v, &mut declared));
        let title = t.text(ld, "title");
        let text = t.text(ld, "text");
        t.finish(ld);
        Some(Right {
            id: id?,
            title: title?,
            text: text?,
        })
    });
    ld.unique(src, declared);
    for (list, span) in [
        ("audiences", audiences_empty),
        ("data_categories", categories_empty),
        ("rights", rights_empty),
    ] {
        if let Some(span) = span {
            ld.report(
                &span,
                list.to_owned(),
                ProblemKind::Invalid(format!("declare at least one entry in `{list}`")),
            );
        }
    }

    // The banner's own texts: optional, but all of them when present.
    let banner = match root.opt("banner") {
        Some(v) => ld.table(&v).and_then(|mut t| {
            let texts: Vec<Option<Texts>> = BANNER_TEXTS.iter().map(|k| t.text(ld, k)).collect();
            t.finish(ld);
            let texts: Option<Vec<Texts>> = texts.into_iter().collect();
            BannerTexts::new(texts?).map(Some)
        }),
        None => Some(None),
    };

    Some(Policy {
        id: id?,
        version: version?,
        url: url?,
        jurisdiction: jurisdiction?,
        languages: languages?,
        default_language: default_language?,
        choice_validity_months: choice_validity_months?,
        title: title?,
        retention: retention?,
        controller: controller?,
        contact: contact?,
        audiences: audiences.into_iter().map(|(x, _)| x).collect(),
        data_categories: data_categories.into_iter().map(|(x, _)| x).collect(),
        recipients: recipients.into_iter().map(|(x, _)| x).collect(),
        purposes: purposes.into_iter().map(|(x, _)| x).collect(),
        cookie_categories: cookie_categories.into_iter().map(|(x, _)| x).collect(),
        rights: rights.into_iter().map(|(x, _)| x).collect(),
        banner: banner?,
        hash: PolicyHash([0; 32]),
    })
}

/// A purpose's `collection_points`: kinds among [`COLLECTED_KINDS`], each once. Required (and non-empty)
/// when the purpose needs consent: it must be asked somewhere; optional (empty by default) otherwise,
/// where it only says where the purpose is shown as always on. `banner` only on `cookies` purposes: an
/// anonymous banner click never consents to anything but the website's cookies (Law 94-V Art. 7(6):
/// transfers and publication are consented separately, by a person who identifies themselves).
/// `kind`, `legal_basis` and `cookie_category` are the purpose's, as far as they parsed.
fn collection_points(
    ld: &mut Loader,
    t: &mut Table,
    kind: Option<PurposeKind>,
    legal_basis: Option<LegalBasis>,
    cookie_category: Option<Option<CookieCategoryId>>,
) -> Option<Vec<CollectionKind>> {
    let needs_consent = legal_basis == Some(LegalBasis::Consent)
        && cookie_category != Some(Some(CookieCategoryId::Necessary));
    let Some(v) = t.opt("collection_points") else {
        if !needs_consent {
            return Some(Vec::new());
        }
        ld.report(
            &t.span,
            t.child_path("collection_points"),
            ProblemKind::Invalid(
                "a purpose that needs consent lists where it is asked: `banner` (cookies only), `form`, `api`".into(),
            ),
        );
        return None;
    };
    if needs_consent && Loader::is_empty_array(&v) {
        ld.invalid(
            &v,
            "a purpose that needs consent is asked at one collection point at least",
        );
        return None;
    }
    let items = ld.array(&v)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in &items {
        let Some(point) = ld.str(item).map(str::to_owned) else {
            ok = false;
            continue;
        };
        let parsed = point
            .parse::<CollectionKind>()
            .ok()
            .filter(|k| COLLECTED_KINDS.contains(k));
        let Some(point) = parsed else {
            ld.invalid(
                item,
                format!("`{point}` is not a collection point a policy names: banner, form or api"),
            );
            ok = false;
            continue;
        };
        if out.contains(&point) {
            ld.invalid(item, format!("`{point}` is listed twice"));
            ok = false;
        } else if point == CollectionKind::Banner && kind.is_some_and(|k| k != PurposeKind::Cookies)
        {
            ld.invalid(
                item,
                "the banner asks about the website's cookies only: `banner` is for `cookies` purposes",
            );
            ok = false;
        } else {
            out.push(point);
        }
    }
    ok.then_some(out)
}

fn iri(ld: &mut Loader, v: &Val) -> Option<String> {
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

fn iris(ld: &mut Loader, v: &Val) -> Option<Vec<String>> {
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
