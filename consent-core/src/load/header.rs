//! The policy's header: format, id, version, languages, validity, controller and contact.

#[allow(unused_imports)]
use crate::prelude::*;
use toml::de::DeValue;

use crate::error::ProblemKind;
use crate::policy::{Contact, Controller, Policy};
use crate::toml_read::{Loader, Table};
use crate::{Country, Id, Lang, PolicyVersion, Texts};

/// What the header holds; `None` where a problem was reported.
pub(super) struct Header {
    pub(super) id: Option<Id>,
    pub(super) version: Option<PolicyVersion>,
    pub(super) url: Option<String>,
    pub(super) jurisdiction: Option<Country>,
    pub(super) languages: Option<Vec<Lang>>,
    pub(super) default_language: Option<Lang>,
    pub(super) choice_validity_months: Option<u8>,
    pub(super) title: Option<Texts>,
    pub(super) retention: Option<Texts>,
    pub(super) controller: Option<Controller>,
    pub(super) contact: Option<Contact>,
}

/// Reads the header's keys from the root table. The languages come first: every text is checked
/// against them.
pub(super) fn read(ld: &mut Loader, root: &mut Table) -> Header {
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
    Header {
        id,
        version,
        url,
        jurisdiction,
        languages,
        default_language,
        choice_validity_months,
        title,
        retention,
        controller,
        contact,
    }
}
