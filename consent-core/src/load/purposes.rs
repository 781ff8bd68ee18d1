//! The policy's purposes: each one's fields, its references into the vocabulary, and the checks
//! across purposes (unique codes, one governing purpose per cookie category, at most 64).

#[allow(unused_imports)]
use crate::prelude::*;
use std::collections::BTreeMap;

use crate::error::ProblemKind;
use crate::toml_read::{Loader, Span, Table};
use crate::{
    CollectionKind, CookieCategoryId, Country, Id, LegalBasis, PolicyVersion, Purpose, PurposeId,
    PurposeKind, PurposeTexts,
};

use super::values::{iri, strip};
use super::vocabulary::Vocabulary;

/// Most purposes a policy declares (codes are bits of a 64-bit set).
const MAX_PURPOSES: usize = 64;
/// The collection points a policy names in `collection_points`: where a choice is asked. `email` and
/// `staff` are the server's own and only withdraw.
const COLLECTED_KINDS: [CollectionKind; 3] = [
    CollectionKind::Banner,
    CollectionKind::Form,
    CollectionKind::Api,
];

/// Reads `purposes` from the root table; `version` is the policy's, when it parsed.
pub(super) fn read(
    src: &str,
    ld: &mut Loader,
    root: &mut Table,
    vocab: &Vocabulary,
    version: Option<PolicyVersion>,
) -> Vec<(Purpose, Span)> {
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
            ld.refs(a, &vocab.audience_ids, "audience", &path);
        }
        let path = t.child_path("data_categories");
        let dc_val = t.req(ld, "data_categories");
        let dc_empty = dc_val
            .as_ref()
            .filter(|v| Loader::is_empty_array(v))
            .map(|v| v.span.clone());
        let data_categories = ld.strings::<Id>(dc_val);
        if let Some(d) = &data_categories {
            ld.refs(d, &vocab.category_ids, "data category", &path);
        }
        let path = t.child_path("recipients");
        let recipients = match t.opt("recipients") {
            Some(v) => ld.strings::<Id>(Some(v)),
            None => Some(Vec::new()),
        };
        if let Some(r) = &recipients {
            ld.refs(r, &vocab.recipient_ids, "recipient", &path);
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
                if !vocab.cookie_ids.contains_key(&c) {
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
        for (id, cspan, cpath) in &vocab.category_tables {
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
    purposes
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
