//! The policy's vocabulary: audiences, data categories, recipients and cookie categories, which the
//! purposes refer to by id.

#[allow(unused_imports)]
use crate::prelude::*;
use std::collections::BTreeMap;

use crate::error::ProblemKind;
use crate::policy::{Audience, Cookie, CookieCategory, DataCategory, Lifetime, Recipient};
use crate::toml_read::{Loader, Span, Table};
use crate::{CookieCategoryId, Country, Id, RecipientKind};

use super::values::{iris, strip};

/// The vocabulary as read, with what the purposes and the final checks need of it.
pub(super) struct Vocabulary {
    pub(super) audiences: Vec<(Audience, Span)>,
    pub(super) audience_ids: BTreeMap<Id, usize>,
    /// Where `audiences` is an empty array.
    pub(super) audiences_empty: Option<Span>,
    pub(super) data_categories: Vec<(DataCategory, Span)>,
    pub(super) category_ids: BTreeMap<Id, usize>,
    /// Where `data_categories` is an empty array.
    pub(super) categories_empty: Option<Span>,
    pub(super) recipients: Vec<(Recipient, Span)>,
    pub(super) recipient_ids: BTreeMap<Id, usize>,
    pub(super) cookie_categories: Vec<(CookieCategory, Span)>,
    pub(super) cookie_ids: BTreeMap<CookieCategoryId, usize>,
    /// Each declared cookie category with the span and path of its table, for the governing check.
    pub(super) category_tables: Vec<(CookieCategoryId, Span, String)>,
}

/// Reads the vocabulary's four lists from the root table.
pub(super) fn read(src: &str, ld: &mut Loader, root: &mut Table) -> Vocabulary {
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
    Vocabulary {
        audiences,
        audience_ids,
        audiences_empty,
        data_categories,
        category_ids,
        categories_empty,
        recipients,
        recipient_ids,
        cookie_categories,
        cookie_ids,
        category_tables,
    }
}
